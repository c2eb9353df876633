"""A WebSocket echo: connect, accept, receive one text frame, send it back, close."""

from __future__ import annotations

import starlette.applications
import starlette.routing
import starlette.websockets

import stellate.applications
import stellate.routing
import stellate.websockets
from tests.benchmarks.harness import (
    WEBSOCKET_ACCEPTED,
    Receive,
    Request,
    Scenario,
    Scope,
    Send,
    websocket_scope,
)

__all__ = ["scenarios"]

MESSAGE = "Hello, WebSocket!"


async def _raw_echo(scope: Scope, receive: Receive, send: Send) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    message = await receive()
    if message["type"] == "websocket.receive":
        await send({"type": "websocket.send", "text": message["text"]})
        await send({"type": "websocket.close", "code": 1000})


async def _stellate_echo(websocket: stellate.websockets.WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


async def _starlette_echo(websocket: starlette.websockets.WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


def scenarios() -> list[Scenario]:
    """One echo over `/ws`; `check` counts an accepted handshake as 101."""
    return [
        Scenario(
            "WebSocket echo",
            {
                "raw": _raw_echo,
                "stellate": stellate.applications.Stellate(
                    routes=[stellate.routing.WebSocketRoute("/ws", _stellate_echo)]
                ),
                "starlette": starlette.applications.Starlette(
                    routes=[starlette.routing.WebSocketRoute("/ws", _starlette_echo)]
                ),
            },
            [Request(websocket_scope("/ws"), MESSAGE.encode())],
            WEBSOCKET_ACCEPTED,
            body=MESSAGE.encode(),
        )
    ]
