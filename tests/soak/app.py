"""The application the soak serves under uvicorn: one route per kind of traffic.

Static files are served from the directory named by `SOAK_STATIC_DIR`, which the soak
fills before it starts the server. Every answer is checkable by the client: echoes,
sizes and digests rather than fixed strings, so a wrong byte shows up as a failure.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import anyio.lowlevel

from stellate.applications import Stellate
from stellate.datastructures import UploadFile
from stellate.middleware import Middleware
from stellate.middleware.sessions import SessionMiddleware
from stellate.requests import Request
from stellate.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from stellate.routing import Mount, Route, WebSocketRoute
from stellate.staticfiles import StaticFiles
from stellate.websockets import WebSocket

__all__ = ["STREAM_CHUNK", "app"]

# The size of each chunk of `/stream`.
STREAM_CHUNK = 4096


async def plaintext(request: Request) -> Response:
    return PlainTextResponse("Hello, soak!")


async def json(request: Request) -> Response:
    return JSONResponse({"message": "Hello, soak!", "numbers": list(range(10))})


async def item(request: Request) -> Response:
    """Path and query parameters, echoed."""
    return JSONResponse(
        {
            "id": request.path_params["item_id"],
            "q": request.query_params.get("q"),
            "tags": request.query_params.getlist("tag"),
        }
    )


async def form(request: Request) -> Response:
    """An urlencoded form, echoed."""
    async with request.form() as data:
        return JSONResponse({key: value for key, value in data.items() if isinstance(value, str)})


async def upload(request: Request) -> Response:
    """A multipart upload: each file's size and SHA-256."""
    files: dict[str, dict[str, int | str]] = {}
    async with request.form() as data:
        for name, value in data.multi_items():
            if isinstance(value, UploadFile):
                content = await value.read()
                files[name] = {"size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    return JSONResponse(files)


async def stream(request: Request) -> Response:
    """`chunks` chunks of `STREAM_CHUNK` bytes, produced one at a time."""
    count = int(request.query_params.get("chunks", "16"))

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(count):
            yield bytes([index % 256]) * STREAM_CHUNK
            await anyio.lowlevel.checkpoint()

    return StreamingResponse(chunks(), media_type="application/octet-stream")


async def session_counter(request: Request) -> Response:
    """Counts the requests of one session (a signed cookie)."""
    count = int(request.session.get("count", 0)) + 1
    request.session["count"] = count
    return JSONResponse({"count": count})


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


app = Stellate(
    routes=[
        Route("/plaintext", plaintext),
        Route("/json", json),
        Route("/items/{item_id:int}", item),
        Route("/form", form, methods=["POST"]),
        Route("/upload", upload, methods=["POST"]),
        Route("/stream", stream),
        Route("/session", session_counter, methods=["POST"]),
        WebSocketRoute("/ws", echo),
        Mount(
            "/static",
            StaticFiles(directory=os.environ.get("SOAK_STATIC_DIR", "."), check_dir=False),
        ),
        # Not a route of the soak: the readiness probe of `tests.faults.realserver`.
        Route("/ok", plaintext),
    ],
    middleware=[Middleware(SessionMiddleware, secret_key="soak-secret-not-for-production")],
)
