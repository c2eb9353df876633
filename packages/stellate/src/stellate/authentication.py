"""`stellate.authentication`: re-exports from the Stellate parts."""

from stellate_asgi.connection import HTTPConnection
from stellate_asgi.exceptions import HTTPException
from stellate_asgi.utils import is_async_callable
from stellate_http.requests import Request
from stellate_http.responses import RedirectResponse
from stellate_middleware.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
    has_required_scope,
    requires,
)
from stellate_websockets.websockets import WebSocket

__all__ = [
    "AuthCredentials",
    "AuthenticationBackend",
    "AuthenticationError",
    "BaseUser",
    "HTTPConnection",
    "HTTPException",
    "RedirectResponse",
    "Request",
    "SimpleUser",
    "UnauthenticatedUser",
    "WebSocket",
    "has_required_scope",
    "is_async_callable",
    "requires",
]
