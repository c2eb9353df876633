"""`stellate.types`: the ASGI type aliases and the handler types of Starlette's module."""

from typing import TYPE_CHECKING

from stellate_asgi.types import (
    AppType,
    ASGIApp,
    Lifespan,
    Message,
    Receive,
    Scope,
    Send,
    StatefulLifespan,
    StatelessLifespan,
)
from stellate_middleware.exceptions import (
    ExceptionHandler,
    HTTPExceptionHandler,
    WebSocketExceptionHandler,
)

__all__ = [
    "ASGIApp",
    "AppType",
    "ExceptionHandler",
    "HTTPExceptionHandler",
    "Lifespan",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "StatefulLifespan",
    "StatelessLifespan",
    "TYPE_CHECKING",
    "WebSocketExceptionHandler",
]
