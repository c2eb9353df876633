"""The smallest requests: a plaintext and a JSON response from a one-route app."""

from __future__ import annotations

import json

import starlette.applications
import starlette.requests
import starlette.responses
import starlette.routing

import stellate.applications
import stellate.requests
import stellate.responses
import stellate.routing
from tests.benchmarks import peers
from tests.benchmarks.harness import (
    Receive,
    Request,
    Scenario,
    Scope,
    Send,
    http_scope,
    send_response,
)

__all__ = ["scenarios"]

PLAINTEXT = "Hello, world!"
DOCUMENT = {"message": "Hello, world!"}


async def _raw_plaintext(scope: Scope, receive: Receive, send: Send) -> None:
    await send_response(send, 200, PLAINTEXT.encode(), b"text/plain; charset=utf-8")


async def _raw_json(scope: Scope, receive: Receive, send: Send) -> None:
    body = json.dumps(DOCUMENT, separators=(",", ":")).encode()
    await send_response(send, 200, body, b"application/json")


async def _stellate_plaintext(request: stellate.requests.Request) -> stellate.responses.Response:
    return stellate.responses.PlainTextResponse(PLAINTEXT)


async def _stellate_json(request: stellate.requests.Request) -> stellate.responses.Response:
    return stellate.responses.JSONResponse(DOCUMENT)


async def _starlette_plaintext(
    request: starlette.requests.Request,
) -> starlette.responses.Response:
    return starlette.responses.PlainTextResponse(PLAINTEXT)


async def _starlette_json(request: starlette.requests.Request) -> starlette.responses.Response:
    return starlette.responses.JSONResponse(DOCUMENT)


def scenarios() -> list[Scenario]:
    """Plaintext and JSON, each a single `GET /`; installed peers join in (see `peers`)."""
    request = Request(http_scope("GET", "/"))
    return [
        Scenario(
            "plaintext",
            {
                "raw": _raw_plaintext,
                "stellate": stellate.applications.Stellate(
                    routes=[stellate.routing.Route("/", _stellate_plaintext)]
                ),
                "starlette": starlette.applications.Starlette(
                    routes=[starlette.routing.Route("/", _starlette_plaintext)]
                ),
                **peers.apps("plaintext"),
            },
            [request],
            200,
        ),
        Scenario(
            "json",
            {
                "raw": _raw_json,
                "stellate": stellate.applications.Stellate(
                    routes=[stellate.routing.Route("/", _stellate_json)]
                ),
                "starlette": starlette.applications.Starlette(
                    routes=[starlette.routing.Route("/", _starlette_json)]
                ),
                **peers.apps("json"),
            },
            [request],
            200,
        ),
    ]
