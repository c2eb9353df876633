"""`stellate.endpoints`: re-exports from the Stellate parts."""

from stellate_asgi.exceptions import HTTPException
from stellate_asgi.utils import is_async_callable
from stellate_http.concurrency import run_in_threadpool
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_routing.endpoints import HTTPEndpoint, WebSocketEndpoint
from stellate_websockets.websockets import WebSocket

__all__ = [
    "HTTPEndpoint",
    "HTTPException",
    "PlainTextResponse",
    "Request",
    "Response",
    "WebSocket",
    "WebSocketEndpoint",
    "is_async_callable",
    "run_in_threadpool",
]
