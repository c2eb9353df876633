"""`stellate.middleware.exceptions`: re-exports from the Stellate parts."""

from stellate_asgi.exceptions import HTTPException, WebSocketException
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_middleware.exceptions import ExceptionMiddleware, wrap_app_handling_exceptions
from stellate_websockets.websockets import WebSocket

__all__ = [
    "ExceptionMiddleware",
    "HTTPException",
    "PlainTextResponse",
    "Request",
    "Response",
    "WebSocket",
    "WebSocketException",
    "wrap_app_handling_exceptions",
]
