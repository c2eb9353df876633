"""A synchronous test client for any ASGI app, over httpx: HTTP, WebSockets and lifespan."""

from stellate_testclient.testclient import (
    TestClient,
    WebSocketDenialResponse,
    WebSocketDisconnect,
    WebSocketTestSession,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "TestClient",
    "WebSocketDenialResponse",
    "WebSocketDisconnect",
    "WebSocketTestSession",
]
