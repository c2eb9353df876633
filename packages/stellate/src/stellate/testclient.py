"""`stellate.testclient`: re-exports from the Stellate parts."""

from typing import TYPE_CHECKING

from stellate_asgi.exceptions import StellateDeprecationWarning
from stellate_asgi.utils import is_async_callable
from stellate_testclient.testclient import (
    ASGI2App,
    ASGI3App,
    ASGIInstance,
    TestClient,
    WebSocketDenialResponse,
    WebSocketTestSession,
)
from stellate_websockets.websockets import WebSocketDisconnect

__all__ = [
    "ASGI2App",
    "ASGI3App",
    "ASGIInstance",
    "StellateDeprecationWarning",
    "TYPE_CHECKING",
    "TestClient",
    "WebSocketDenialResponse",
    "WebSocketDisconnect",
    "WebSocketTestSession",
    "is_async_callable",
]
