"""Request bodies: JSON echoed, urlencoded forms and multipart uploads.

A 1 KiB JSON document and a 20-field form are echoed back; a 1,000-field form
answers its number of fields, and the uploads (64 KiB, and 10 MiB arriving in
64 KiB chunks) answer the size of the file received.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import starlette.applications
import starlette.datastructures
import starlette.requests
import starlette.responses
import starlette.routing
from python_multipart.multipart import MultipartParser, parse_options_header

import stellate.applications
import stellate.datastructures
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
MANY_FIELDS = 1000
SMALL_UPLOAD = 64 * 1024
LARGE_UPLOAD = 10 * 1024 * 1024
# How a server hands out a large body: in pieces of this size, each with `more_body`.
CHUNK_SIZE = 64 * 1024
BOUNDARY = b"----benchmark-boundary-7MA4YWxkTrZu0gW"
TEXT = b"text/plain; charset=utf-8"


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


async def _raw_field_count(scope: Scope, receive: Receive, send: Send) -> None:
    fields = parse_qsl((await _read_body(receive)).decode("latin-1"), keep_blank_values=True)
    await send_response(send, 200, str(len(fields)).encode(), TEXT)


async def _raw_upload_size(scope: Scope, receive: Receive, send: Send) -> None:
    """Stream the body through python-multipart, counting the bytes of the file part."""
    content_type = dict(scope["headers"])[b"content-type"]
    boundary = parse_options_header(content_type)[1][b"boundary"]
    size = 0
    # A header's name and value may arrive in pieces, split across body chunks.
    header_field = bytearray()
    header_value = bytearray()
    is_file = False

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        nonlocal is_file
        if header_field.lower() == b"content-disposition":
            is_file = b"filename" in parse_options_header(bytes(header_value))[1]
        header_field.clear()
        header_value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal size
        if is_file:
            size += end - start

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
        },
    )
    while True:
        message = await receive()
        parser.write(message.get("body", b""))
        if not message.get("more_body", False):
            break
    parser.finalize()
    await send_response(send, 200, str(size).encode(), TEXT)


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


async def _stellate_field_count(
    request: stellate.requests.Request,
) -> stellate.responses.Response:
    async with request.form() as form:
        return stellate.responses.PlainTextResponse(str(len(form)))


async def _starlette_field_count(
    request: starlette.requests.Request,
) -> starlette.responses.Response:
    async with request.form() as form:
        return starlette.responses.PlainTextResponse(str(len(form)))


async def _stellate_upload_size(
    request: stellate.requests.Request,
) -> stellate.responses.Response:
    async with request.form() as form:
        upload = form["file"]
        assert isinstance(upload, stellate.datastructures.UploadFile)
        return stellate.responses.PlainTextResponse(str(upload.size))


async def _starlette_upload_size(
    request: starlette.requests.Request,
) -> starlette.responses.Response:
    async with request.form() as form:
        upload = form["file"]
        assert isinstance(upload, starlette.datastructures.UploadFile)
        return starlette.responses.PlainTextResponse(str(upload.size))


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


def _post(body: bytes, content_type: bytes, chunk_size: int = 0) -> Request:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    return Request(http_scope("POST", "/", headers), body, chunk_size)


def _multipart(size: int) -> bytes:
    """A form of one text field and one file of `size` bytes."""
    head = (
        b"--" + BOUNDARY + b"\r\n"
        b'Content-Disposition: form-data; name="title"\r\n\r\n'
        b"holiday pictures\r\n"
        b"--" + BOUNDARY + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="pictures.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    # Bytes that never spell the boundary, as any real file's would not.
    content = bytes(range(256)) * (size // 256) + bytes(size % 256)
    return head + content + b"\r\n--" + BOUNDARY + b"--\r\n"


def scenarios() -> list[Scenario]:
    """The JSON echo, the forms and the uploads, each a `POST /`."""
    form = urlencode({f"field{index}": f"value {index}" for index in range(FORM_FIELDS)}).encode()
    many = urlencode({f"field{index}": f"value {index}" for index in range(MANY_FIELDS)}).encode()
    multipart = b"multipart/form-data; boundary=" + BOUNDARY
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
        Scenario(
            f"form, {MANY_FIELDS:,} fields",
            _apps(_raw_field_count, _stellate_field_count, _starlette_field_count),
            [_post(many, b"application/x-www-form-urlencoded")],
            200,
            body=str(MANY_FIELDS).encode(),
            scale=0.1,
        ),
        Scenario(
            "multipart, 64 KiB file",
            _apps(_raw_upload_size, _stellate_upload_size, _starlette_upload_size),
            [_post(_multipart(SMALL_UPLOAD), multipart)],
            200,
            body=str(SMALL_UPLOAD).encode(),
            scale=0.1,
        ),
        Scenario(
            "multipart, 10 MiB file",
            _apps(_raw_upload_size, _stellate_upload_size, _starlette_upload_size),
            [_post(_multipart(LARGE_UPLOAD), multipart, CHUNK_SIZE)],
            200,
            body=str(LARGE_UPLOAD).encode(),
            scale=0.01,
            memory=True,
        ),
    ]
