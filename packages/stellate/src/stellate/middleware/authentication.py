"""`stellate.middleware.authentication`: re-exports from the Stellate parts."""

from stellate_asgi.connection import HTTPConnection
from stellate_http.responses import PlainTextResponse, Response
from stellate_middleware.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    AuthenticationMiddleware,
    UnauthenticatedUser,
)

__all__ = [
    "AuthCredentials",
    "AuthenticationBackend",
    "AuthenticationError",
    "AuthenticationMiddleware",
    "HTTPConnection",
    "PlainTextResponse",
    "Response",
    "UnauthenticatedUser",
]
