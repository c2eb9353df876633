"""Request bodies: a 1 KiB JSON document echoed, and an urlencoded form of 20 fields."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import starlette.applications
import starlette.requests
import starlette.responses
import starlette.routing

import stellate.applications
import stellate.requests
import stellate.responses
import stellate.routing
from tests.benchmarks.harness import (
    ASGIApp,
    Receive,
    Request,
    Scenario,
    Scope,
    Send,
    http_scope,
    send_response,
)

__all__ = ["scenarios"]

JSON_SIZE = 1024
FORM_FIELDS = 20


def _document() -> bytes:
    """A JSON object of exactly `JSON_SIZE` bytes: a few records padded by a note."""
    records = [{"id": index, "name": f"item {index}", "tags": ["a", "b"]} for index in range(8)]
    document: dict[str, Any] = {"records": records, "note": ""}
    padding = JSON_SIZE - len(json.dumps(document, separators=(",", ":")))
    document["note"] = "x" * padding
    return json.dumps(document, separators=(",", ":")).encode()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _raw_echo(scope: Scope, receive: Receive, send: Send) -> None:
    document = json.loads(await _read_body(receive))
    body = json.dumps(document, separators=(",", ":")).encode()
    await send_response(send, 200, body, b"application/json")


async def _raw_form(scope: Scope, receive: Receive, send: Send) -> None:
    fields = dict(parse_qsl((await _read_body(receive)).decode("latin-1"), keep_blank_values=True))
    body = json.dumps(fields, separators=(",", ":")).encode()
    await send_response(send, 200, body, b"application/json")


async def _stellate_echo(request: stellate.requests.Request) -> stellate.responses.Response:
    return stellate.responses.JSONResponse(await request.json())


async def _starlette_echo(request: starlette.requests.Request) -> starlette.responses.Response:
    return starlette.responses.JSONResponse(await request.json())


async def _stellate_form(request: stellate.requests.Request) -> stellate.responses.Response:
    async with request.form() as form:
        return stellate.responses.JSONResponse(dict(form.items()))


async def _starlette_form(request: starlette.requests.Request) -> starlette.responses.Response:
    async with request.form() as form:
        return starlette.responses.JSONResponse(dict(form.items()))


StellateEndpoint = Callable[[stellate.requests.Request], Awaitable[stellate.responses.Response]]
StarletteEndpoint = Callable[[starlette.requests.Request], Awaitable[starlette.responses.Response]]


def _apps(
    raw: ASGIApp,
    stellate_endpoint: StellateEndpoint,
    starlette_endpoint: StarletteEndpoint,
) -> dict[str, ASGIApp]:
    return {
        "raw": raw,
        "stellate": stellate.applications.Stellate(
            routes=[stellate.routing.Route("/", stellate_endpoint, methods=["POST"])]
        ),
        "starlette": starlette.applications.Starlette(
            routes=[starlette.routing.Route("/", starlette_endpoint, methods=["POST"])]
        ),
    }


def _post(body: bytes, content_type: bytes) -> Request:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    return Request(http_scope("POST", "/", headers), body)


def scenarios() -> list[Scenario]:
    """The JSON echo and the 20-field form, each a `POST /`."""
    form = urlencode({f"field{index}": f"value {index}" for index in range(FORM_FIELDS)}).encode()
    return [
        Scenario(
            "JSON 1 KiB echo",
            _apps(_raw_echo, _stellate_echo, _starlette_echo),
            [_post(_document(), b"application/json")],
            200,
        ),
        Scenario(
            f"form, {FORM_FIELDS} fields",
            _apps(_raw_form, _stellate_form, _starlette_form),
            [_post(form, b"application/x-www-form-urlencoded")],
            200,
        ),
    ]
