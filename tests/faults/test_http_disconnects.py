"""A client that vanishes mid-upload or mid-download: the request ends, nothing leaks.

Servers report a vanished client in two ways: `receive` returns `http.disconnect`
(every ASGI version), and from ASGI 2.4 on `send` raises an `OSError`. Each test
plays one of them mid-request, then checks that no file descriptor or task is left
behind, that cleanup code ran, and that the same app answers the next request.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from stellate.background import BackgroundTask
from stellate.requests import ClientDisconnect, Request
from stellate.responses import FileResponse, PlainTextResponse, StreamingResponse
from stellate.routing import Route
from stellate_asgi.types import Message
from tests.faults._asgi import (
    ClientGone,
    Recorder,
    ScriptedClient,
    app_with,
    assert_serves,
    call,
    chunked,
    end,
    http_scope,
    more,
    multipart_body,
    no_leaks,
    open_fds,
    opened_since,
)

CHUNK = b"x" * 64 * 1024
# Bigger than the spool of `MultiPartParser` (1 MiB), so the upload is on disk.
BIG_UPLOAD = 2 * 1024 * 1024


@pytest.mark.anyio
async def test_disconnect_mid_body_raises_client_disconnect() -> None:
    read: list[int] = []

    async def endpoint(request: Request) -> PlainTextResponse:
        async for chunk in request.stream():
            # Recorded as each chunk arrives: the stream ends in an exception.
            read.append(len(chunk))  # noqa: PERF401
        return PlainTextResponse("unreachable")

    app = app_with(Route("/upload", endpoint, methods=["POST"]))
    client = ScriptedClient([more(CHUNK), more(CHUNK), {"type": "http.disconnect"}])
    scope = http_scope("/upload", "POST", [(b"content-length", b"10000000")])

    async with no_leaks():
        with pytest.raises(ClientDisconnect):
            await call(app, scope, client, Recorder())

    assert read == [len(CHUNK), len(CHUNK)]
    await assert_serves(app)


@pytest.mark.anyio
async def test_disconnect_mid_multipart_upload_closes_its_temporary_files() -> None:
    boundary = "faultboundary"
    body = multipart_body(
        boundary, [("note", None, b"hello"), ("upload", "big.bin", b"\0" * BIG_UPLOAD)]
    )
    # The client leaves after sending all but the last 100 KiB.
    cut = len(body) - 100 * 1024
    files_when_leaving: list[str] = []

    async def endpoint(request: Request) -> PlainTextResponse:
        async with request.form():
            return PlainTextResponse("unreachable")

    async def leave() -> Message:
        files_when_leaving.extend(opened_since(fds_before).values())
        return {"type": "http.disconnect"}

    app = app_with(Route("/upload", endpoint, methods=["POST"]))
    client = ScriptedClient([*chunked(body[:cut], 256 * 1024), leave])
    headers = [
        (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
        (b"content-length", str(len(body)).encode()),
    ]

    fds_before = open_fds()
    async with no_leaks():
        with pytest.raises(ClientDisconnect):
            await call(app, http_scope("/upload", "POST", headers), client, Recorder())

    # The spooled file had rolled over to a temporary file when the client left.
    assert any(path.startswith(tempfile.gettempdir()) for path in files_when_leaving)
    await assert_serves(app)


@pytest.mark.anyio
async def test_disconnect_mid_urlencoded_form_raises_client_disconnect() -> None:
    async def endpoint(request: Request) -> PlainTextResponse:
        await request.form()
        return PlainTextResponse("unreachable")

    app = app_with(Route("/form", endpoint, methods=["POST"]))
    client = ScriptedClient([more(b"a=1&b=2&c="), {"type": "http.disconnect"}])
    headers = [(b"content-type", b"application/x-www-form-urlencoded")]

    async with no_leaks():
        with pytest.raises(ClientDisconnect):
            await call(app, http_scope("/form", "POST", headers), client, Recorder())
    await assert_serves(app)


@pytest.mark.anyio
async def test_send_failing_mid_stream_stops_and_closes_the_generator() -> None:
    events: list[str] = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield CHUNK
        finally:
            events.append("generator closed")

    async def endpoint(request: Request) -> StreamingResponse:
        return StreamingResponse(endless())

    app = app_with(Route("/stream", endpoint))
    send = Recorder(fail_after_bodies=3)

    async with no_leaks():
        # ASGI 2.4: the server's `send` raises, which the response reports as a disconnect.
        with pytest.raises(ClientDisconnect):
            await call(app, http_scope("/stream"), ScriptedClient([end()]), send)

    assert send.status == 200
    assert send.body == CHUNK * 3
    assert not send.complete
    assert events == ["generator closed"]
    await assert_serves(app)


@pytest.mark.anyio
async def test_disconnect_message_mid_stream_stops_it_and_runs_the_background_task() -> None:
    events: list[str] = []
    streamed = anyio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            for count in range(1_000_000):
                if count == 3:
                    streamed.set()
                yield CHUNK
                # A checkpoint per chunk, as a real server's flow control gives.
                await anyio.lowlevel.checkpoint()
        finally:
            events.append("generator closed")

    async def record_background() -> None:
        events.append("background ran")

    async def endpoint(request: Request) -> StreamingResponse:
        return StreamingResponse(endless(), background=BackgroundTask(record_background))

    async def leave_after_three_chunks() -> Message:
        await streamed.wait()
        return {"type": "http.disconnect"}

    app = app_with(Route("/stream", endpoint))
    client = ScriptedClient([end(), leave_after_three_chunks])
    send = Recorder()

    async with no_leaks():
        # Before ASGI 2.4 the response listens for `http.disconnect` while it streams.
        await call(app, http_scope("/stream", spec_version="2.3"), client, send)

    assert send.status == 200
    assert len(send.body) >= 3 * len(CHUNK)
    assert not send.complete
    assert events == ["generator closed", "background ran"]
    await assert_serves(app)


@pytest.mark.anyio
async def test_send_failing_mid_file_closes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(CHUNK * 16)

    async def endpoint(request: Request) -> FileResponse:
        return FileResponse(path)

    app = app_with(Route("/file", endpoint))
    send = Recorder(fail_after_bodies=2)

    async with no_leaks():
        # The server's own error goes up as it is, as Starlette's FileResponse does.
        with pytest.raises(ClientGone):
            await call(app, http_scope("/file"), ScriptedClient([end()]), send)

    assert send.status == 200
    assert send.body == CHUNK * 2
    await assert_serves(app)


@pytest.mark.anyio
async def test_disconnect_message_mid_file_stops_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    # Large enough that the whole file cannot go out before the disconnect is seen.
    path.write_bytes(CHUNK * 256)
    two_chunks_out = anyio.Event()
    events: list[str] = []

    async def record_background() -> None:
        events.append("background ran")

    async def endpoint(request: Request) -> FileResponse:
        return FileResponse(path, background=BackgroundTask(record_background))

    async def watch(message: Message) -> None:
        if send.body and len(send.body) >= 2 * len(CHUNK):
            two_chunks_out.set()
        # A checkpoint per message, as a real server's flow control gives.
        await anyio.lowlevel.checkpoint()

    async def leave_after_two_chunks() -> Message:
        await two_chunks_out.wait()
        return {"type": "http.disconnect"}

    send = _WatchedRecorder(watch)
    client = ScriptedClient([end(), leave_after_two_chunks])
    app = app_with(Route("/file", endpoint))

    async with no_leaks():
        await call(app, http_scope("/file", spec_version="2.3"), client, send)

    assert send.status == 200
    assert 2 * len(CHUNK) <= len(send.body) < 256 * len(CHUNK)
    assert not send.complete
    assert events == ["background ran"]
    await assert_serves(app)


# Helpers


class _WatchedRecorder(Recorder):
    """A `Recorder` that calls `watch` after recording each message."""

    def __init__(self, watch: Callable[[Message], Awaitable[None]]) -> None:
        super().__init__()
        self.watch = watch

    async def __call__(self, message: Message) -> None:
        await super().__call__(message)
        await self.watch(message)
