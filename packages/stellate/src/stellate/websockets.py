"""`stellate.websockets`: re-exports from the Stellate parts."""

from stellate_asgi.connection import HTTPConnection, StateT
from stellate_http.responses import Response
from stellate_websockets.websockets import (
    WebSocket,
    WebSocketClose,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)

__all__ = [
    "HTTPConnection",
    "Response",
    "StateT",
    "WebSocket",
    "WebSocketClose",
    "WebSocketDisconnect",
    "WebSocketDisconnected",
    "WebSocketState",
]
