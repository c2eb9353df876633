"""The app that `test_uvicorn_faults` serves under a real uvicorn.

Besides the faulty routes it counts what it saw: uploads cut off by a disconnect,
streams and WebSocket sessions still running, which `GET /stats` reports, so the test
can tell that the server noticed every vanished client and ended every stream. At shutdown, the
lifespan writes the same counts to the file named by `FAULTS_SHUTDOWN_REPORT`.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel

from stellate.applications import Stellate
from stellate.requests import ClientDisconnect, Request
from stellate.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from stellate.routing import Route, WebSocketRoute
from stellate.websockets import WebSocket

__all__ = ["app"]

# What the app has seen so far (one server process per test module).
_stats = {
    "uploads_cut_off": 0,
    "streams_running": 0,
    "streams_stopped": 0,
    "websockets_open": 0,
    "websockets_ended": 0,
}


async def ok(request: Request) -> Response:
    return PlainTextResponse("ok")


async def upload(request: Request) -> Response:
    """A multipart upload: the sizes of its files."""
    try:
        async with request.form() as form:
            sizes = {
                name: len(await value.read())
                for name, value in form.multi_items()
                if not isinstance(value, str)
            }
    except ClientDisconnect:
        _stats["uploads_cut_off"] += 1
        raise
    return JSONResponse(sizes)


async def stream(request: Request) -> Response:
    """A body that never ends: only the client's leaving stops it."""

    async def endless() -> AsyncIterator[bytes]:
        _stats["streams_running"] += 1
        try:
            while True:
                yield b"x" * 16384
                await anyio.lowlevel.checkpoint()
        finally:
            _stats["streams_running"] -= 1
            _stats["streams_stopped"] += 1

    return StreamingResponse(endless(), media_type="application/octet-stream")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    _stats["websockets_open"] += 1
    try:
        async for text in websocket.iter_text():
            await websocket.send_text(text)
    finally:
        _stats["websockets_open"] -= 1
        _stats["websockets_ended"] += 1


async def boom(request: Request) -> Response:
    raise RuntimeError("endpoint failure (expected by the fault tests)")


async def stats(request: Request) -> Response:
    return JSONResponse(_stats)


@asynccontextmanager
async def lifespan(app: Stellate) -> AsyncIterator[None]:
    yield
    report = os.environ.get("FAULTS_SHUTDOWN_REPORT")
    if report:
        await anyio.Path(report).write_text(json.dumps(_stats))


app = Stellate(
    lifespan=lifespan,
    routes=[
        Route("/ok", ok),
        Route("/upload", upload, methods=["POST"]),
        Route("/stream", stream),
        Route("/boom", boom),
        WebSocketRoute("/ws", echo),
        Route("/stats", stats),
    ],
)
