"""The WebSocket connection class of Stellate, with its states and close/disconnect types."""

from stellate_websockets.websockets import (
    WebSocket,
    WebSocketClose,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "WebSocket",
    "WebSocketClose",
    "WebSocketDisconnect",
    "WebSocketDisconnected",
    "WebSocketState",
]
