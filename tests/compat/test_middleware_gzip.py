"""Starlette-compatible behaviour of `GZipMiddleware`, through the umbrella."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from stellate.applications import Stellate
from stellate.background import BackgroundTask
from stellate.middleware import Middleware
from stellate.middleware.gzip import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    GZipMiddleware,
    GZipResponder,
    IdentityResponder,
)
from stellate.requests import Request
from stellate.responses import (
    FileResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from stellate.routing import Route
from stellate.types import Message, Receive, Scope, Send
from tests.conftest import TestClientFactory


def gzip_app(*routes: Route, **options: Any) -> Stellate:
    return Stellate(routes=list(routes), middleware=[Middleware(GZipMiddleware, **options)])


def test_gzip_responses(test_client_factory: TestClientFactory) -> None:
    def homepage(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x" * 4000, status_code=200)

    client = test_client_factory(gzip_app(Route("/", homepage)))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.text == "x" * 4000
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert int(response.headers["Content-Length"]) < 4000


def test_gzip_not_in_accept_encoding(test_client_factory: TestClientFactory) -> None:
    def homepage(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x" * 4000, status_code=200)

    client = test_client_factory(gzip_app(Route("/", homepage)))
    response = client.get("/", headers={"accept-encoding": "identity"})
    assert response.status_code == 200
    assert response.text == "x" * 4000
    assert "Content-Encoding" not in response.headers
    assert response.headers["Vary"] == "Accept-Encoding"
    assert int(response.headers["Content-Length"]) == 4000


def test_gzip_ignored_for_small_responses(test_client_factory: TestClientFactory) -> None:
    def homepage(request: Request) -> PlainTextResponse:
        return PlainTextResponse("OK", status_code=200)

    client = test_client_factory(gzip_app(Route("/", homepage)))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.text == "OK"
    assert "Content-Encoding" not in response.headers
    assert "Vary" not in response.headers
    assert int(response.headers["Content-Length"]) == 2


def test_gzip_streaming_response(test_client_factory: TestClientFactory) -> None:
    def homepage(request: Request) -> StreamingResponse:
        async def generator(bytes: bytes, count: int) -> AsyncIterator[bytes]:
            for _ in range(count):
                yield bytes

        streaming = generator(bytes=b"x" * 400, count=10)
        return StreamingResponse(streaming, status_code=200)

    client = test_client_factory(gzip_app(Route("/", homepage)))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.text == "x" * 4000
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert "Content-Length" not in response.headers


def test_gzip_streaming_response_identity(test_client_factory: TestClientFactory) -> None:
    def homepage(request: Request) -> StreamingResponse:
        async def generator(bytes: bytes, count: int) -> AsyncIterator[bytes]:
            for _ in range(count):
                yield bytes

        streaming = generator(bytes=b"x" * 400, count=10)
        return StreamingResponse(streaming, status_code=200)

    client = test_client_factory(gzip_app(Route("/", homepage)))
    response = client.get("/", headers={"accept-encoding": "identity"})
    assert response.status_code == 200
    assert response.text == "x" * 4000
    assert "Content-Encoding" not in response.headers
    assert response.headers["Vary"] == "Accept-Encoding"
    assert "Content-Length" not in response.headers


def test_gzip_ignored_for_responses_with_encoding_set(
    test_client_factory: TestClientFactory,
) -> None:
    def homepage(request: Request) -> StreamingResponse:
        async def generator(bytes: bytes, count: int) -> AsyncIterator[bytes]:
            for _ in range(count):
                yield bytes

        streaming = generator(bytes=b"x" * 400, count=10)
        return StreamingResponse(streaming, status_code=200, headers={"Content-Encoding": "text"})

    client = test_client_factory(gzip_app(Route("/", homepage)))
    response = client.get("/", headers={"accept-encoding": "gzip, text"})
    assert response.status_code == 200
    assert response.text == "x" * 4000
    assert response.headers["Content-Encoding"] == "text"
    assert "Vary" not in response.headers
    assert "Content-Length" not in response.headers


def test_gzip_ignored_on_server_sent_events(test_client_factory: TestClientFactory) -> None:
    def homepage(request: Request) -> StreamingResponse:
        async def generator(bytes: bytes, count: int) -> AsyncIterator[bytes]:
            for _ in range(count):
                yield bytes

        streaming = generator(bytes=b"x" * 400, count=10)
        return StreamingResponse(streaming, status_code=200, media_type="text/event-stream")

    client = test_client_factory(gzip_app(Route("/", homepage)))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.text == "x" * 4000
    assert "Content-Encoding" not in response.headers
    assert "Content-Length" not in response.headers


@pytest.mark.parametrize(
    "media_type", ["image/png", "video/mp4", "audio/mpeg", "application/zip", "font/woff2"]
)
def test_gzip_ignored_for_default_excluded_content_types(
    test_client_factory: TestClientFactory, media_type: str
) -> None:
    def homepage(request: Request) -> Response:
        return Response(b"x" * 4000, media_type=media_type)

    client = test_client_factory(gzip_app(Route("/", homepage)))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.content == b"x" * 4000
    assert "Content-Encoding" not in response.headers
    assert response.headers["Content-Length"] == "4000"


def test_gzip_exclude_content_types(test_client_factory: TestClientFactory) -> None:
    def homepage(request: Request) -> Response:
        return Response(b"x" * 4000, media_type="application/json")

    def events(request: Request) -> Response:
        return Response(b"x" * 4000, media_type="text/event-stream")

    app = gzip_app(
        Route("/", homepage),
        Route("/events", events),
        exclude_content_types=("application/json",),
    )
    client = test_client_factory(app)
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert "Content-Encoding" not in response.headers
    response = client.get("/events", headers={"accept-encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.content == b"x" * 4000


def test_gzip_ignored_for_partial_responses(test_client_factory: TestClientFactory) -> None:
    def homepage(request: Request) -> Response:
        return Response(b"x" * 4000, status_code=206, headers={"Content-Range": "bytes 0-3999/*"})

    client = test_client_factory(gzip_app(Route("/", homepage)))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.status_code == 206
    assert "Content-Encoding" not in response.headers
    assert response.headers["Content-Length"] == "4000"


def test_gzip_ignored_for_file_range_requests(
    test_client_factory: TestClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "example.txt"
    path.write_bytes(b"0123456789" * 100)

    def homepage(request: Request) -> FileResponse:
        return FileResponse(path)

    client = test_client_factory(gzip_app(Route("/", homepage)))
    response = client.get("/", headers={"accept-encoding": "gzip", "range": "bytes=0-599"})
    assert response.status_code == 206
    assert "Content-Encoding" not in response.headers
    assert response.content == (b"0123456789" * 100)[:600]
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.content == b"0123456789" * 100


@pytest.mark.anyio
async def test_gzip_ignored_for_pathsend_responses(tmp_path: Path) -> None:
    path = tmp_path / "example.txt"
    path.write_bytes(b"<file content>" * 100)
    events: list[Message] = []

    async def endpoint_with_pathsend(request: Request) -> FileResponse:
        return FileResponse(path)

    app = gzip_app(Route("/", endpoint_with_pathsend))
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"accept-encoding", b"gzip, text")],
        "extensions": {"http.response.pathsend": {}},
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("testserver", 80),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        events.append(message)

    await app(scope, receive, send)
    assert len(events) == 2
    assert events[0]["type"] == "http.response.start"
    assert events[1]["type"] == "http.response.pathsend"
    assert (b"content-encoding", b"gzip") not in events[0]["headers"]


def test_gzip_background_task(test_client_factory: TestClientFactory) -> None:
    tasks: list[str] = []

    def homepage(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x" * 4000, background=BackgroundTask(tasks.append, "ran"))

    client = test_client_factory(gzip_app(Route("/", homepage)))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert tasks == ["ran"]


def test_gzip_minimum_size_and_compresslevel(test_client_factory: TestClientFactory) -> None:
    def homepage(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x" * 100)

    app = gzip_app(Route("/", homepage), minimum_size=50, compresslevel=1)
    client = test_client_factory(app)
    with client.stream("GET", "/", headers={"accept-encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw) == b"x" * 100


def test_gzip_around_a_bare_asgi_app(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("x" * 4000)(scope, receive, send)

    client = test_client_factory(GZipMiddleware(app, thread_minimum_size=1024))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.text == "x" * 4000


def test_gzip_websockets_pass_through(test_client_factory: TestClientFactory) -> None:
    from stellate.routing import WebSocketRoute
    from stellate.websockets import WebSocket

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("x" * 4000)
        await websocket.close()

    client = test_client_factory(
        Stellate(routes=[WebSocketRoute("/ws", echo)], middleware=[Middleware(GZipMiddleware)])
    )
    with client.websocket_connect("/ws", headers={"accept-encoding": "gzip"}) as websocket:
        assert websocket.receive_text() == "x" * 4000


@pytest.mark.anyio
async def test_responders() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        pass  # pragma: no cover

    assert await IdentityResponder(app, 500).apply_compression(b"x", more_body=False) == b"x"
    responder = GZipResponder(app, 500, compresslevel=6)
    data = await responder.apply_compression(b"x" * 1000, more_body=False)
    assert gzip.decompress(data) == b"x" * 1000
    assert "text/event-stream" in DEFAULT_EXCLUDED_CONTENT_TYPES
