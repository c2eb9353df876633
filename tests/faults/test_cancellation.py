"""Cancelling a whole app call mid-request, as a server does when it shuts down or
times a request out: cleanup runs, files close, no task is left, the app serves on."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from stellate.background import BackgroundTask
from stellate.middleware import Middleware
from stellate.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from stellate.requests import Request
from stellate.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from stellate.routing import Route, WebSocketRoute
from stellate.websockets import WebSocket
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from tests.faults._asgi import (
    Recorder,
    ScriptedClient,
    app_with,
    assert_serves,
    chunked,
    end,
    http_scope,
    more,
    multipart_body,
    no_leaks,
    open_fds,
    opened_since,
    websocket_scope,
)

CHUNK = b"x" * 64 * 1024


@pytest.mark.anyio
async def test_cancel_while_reading_the_body() -> None:
    events: list[str] = []

    async def endpoint(request: Request) -> Response:
        try:
            return PlainTextResponse(str(len(await request.body())))
        finally:
            events.append("endpoint left")

    app = app_with(Route("/upload", endpoint, methods=["POST"]))
    # The client sends one chunk and then nothing more.
    client = ScriptedClient([more(CHUNK)])

    async with no_leaks():
        await _cancel_when(
            app, http_scope("/upload", "POST"), client, Recorder(), client.exhausted.wait
        )

    assert events == ["endpoint left"]
    await assert_serves(app)


@pytest.mark.anyio
async def test_cancel_mid_multipart_upload_closes_its_temporary_files() -> None:
    boundary = "cancelboundary"
    body = multipart_body(boundary, [("upload", "big.bin", b"\0" * (2 * 1024 * 1024))])
    sent_most = anyio.Event()
    files_when_stalled: list[str] = []

    async def endpoint(request: Request) -> Response:
        async with request.form():
            return PlainTextResponse("unreachable")

    async def stall() -> Message:
        # All but the end of the body is in: the upload has rolled over to disk.
        files_when_stalled.extend(opened_since(fds_before).values())
        sent_most.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    app = app_with(Route("/upload", endpoint, methods=["POST"]))
    # The client sends all but the last KiB, then stalls.
    chunks = chunked(body[: len(body) - 1024], 256 * 1024)
    headers = [(b"content-type", f"multipart/form-data; boundary={boundary}".encode())]

    fds_before = open_fds()
    async with no_leaks():
        await _cancel_when(
            app,
            http_scope("/upload", "POST", headers),
            ScriptedClient([*chunks, stall]),
            Recorder(),
            sent_most.wait,
        )

    assert any(path.startswith(tempfile.gettempdir()) for path in files_when_stalled)
    await assert_serves(app)


@pytest.mark.anyio
async def test_cancel_mid_stream_closes_the_generator() -> None:
    events: list[str] = []
    streaming = anyio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        try:
            while True:
                yield CHUNK
                streaming.set()
                await anyio.sleep(0.001)
        finally:
            events.append("generator closed")

    async def endpoint(request: Request) -> Response:
        return StreamingResponse(slow_body())

    app = app_with(Route("/stream", endpoint))
    send = Recorder()

    async with no_leaks():
        await _cancel_when(app, http_scope("/stream"), _end(), send, streaming.wait)

    assert send.status == 200
    assert not send.complete
    assert events == ["generator closed"]
    await assert_serves(app)


@pytest.mark.anyio
async def test_cancel_while_a_slow_client_takes_a_file(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(CHUNK * 16)
    first_chunk_out = anyio.Event()

    async def endpoint(request: Request) -> Response:
        return FileResponse(path)

    async def slow_client(message: Message) -> None:
        # The client takes the headers and one chunk, then its window stays shut.
        if message["type"] == "http.response.body":
            first_chunk_out.set()
            await anyio.sleep_forever()

    app = app_with(Route("/file", endpoint))

    async with no_leaks():
        await _cancel_when(app, http_scope("/file"), _end(), slow_client, first_chunk_out.wait)

    await assert_serves(app)


@pytest.mark.anyio
async def test_cancel_inside_base_http_middleware_stops_the_app_task() -> None:
    events: list[str] = []
    endpoint_waiting = anyio.Event()

    async def endpoint(request: Request) -> Response:
        try:
            endpoint_waiting.set()
            await anyio.sleep_forever()
        finally:
            events.append("endpoint cancelled")
        raise AssertionError("unreachable")  # pragma: no cover

    class PassThrough(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            return await call_next(request)

    app = app_with(Route("/slow", endpoint), middleware=[Middleware(PassThrough)])

    async with no_leaks():
        await _cancel_when(app, http_scope("/slow"), _end(), Recorder(), endpoint_waiting.wait)

    assert events == ["endpoint cancelled"]
    await assert_serves(app)


@pytest.mark.anyio
async def test_cancel_during_a_background_task() -> None:
    events: list[str] = []
    task_running = anyio.Event()

    async def slow_task() -> None:
        try:
            task_running.set()
            await anyio.sleep_forever()
        finally:
            events.append("task cancelled")

    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("sent", background=BackgroundTask(slow_task))

    app = app_with(Route("/background", endpoint))
    send = Recorder()

    async with no_leaks():
        await _cancel_when(app, http_scope("/background"), _end(), send, task_running.wait)

    assert (send.status, send.body) == (200, b"sent")
    assert send.complete
    assert events == ["task cancelled"]
    await assert_serves(app)


@pytest.mark.anyio
async def test_cancel_mid_websocket_conversation() -> None:
    events: list[str] = []
    answered = anyio.Event()

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            async for text in websocket.iter_text():
                await websocket.send_text(text)
                answered.set()
        finally:
            events.append("endpoint left")

    async def send(message: Message) -> None:
        pass

    app = app_with(WebSocketRoute("/ws", endpoint))
    client = ScriptedClient(
        [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "hi"}]
    )

    async with no_leaks():
        await _cancel_when(app, websocket_scope("/ws"), client, send, answered.wait)

    assert events == ["endpoint left"]
    await assert_serves(app)


# Helpers


async def _cancel_when(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    moment: Callable[[], Awaitable[object]],
) -> None:
    """Run the app call until `moment()` returns, then cancel it; fail if it ends first
    or does not end promptly once cancelled."""
    finished: list[bool] = []

    async def run() -> None:
        await app(scope, receive, send)
        finished.append(True)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(run)
            await moment()
            # Let the app reach its next await, so the cancel lands mid-request.
            await anyio.sleep(0.01)
            task_group.cancel_scope.cancel()
    assert finished == [], "the app call ended before it was cancelled"


def _end() -> ScriptedClient:
    return ScriptedClient([end()])
