"""`stellate.middleware.body_limit`: re-exports from the Stellate parts."""

from stellate_asgi.datastructures import Headers
from stellate_asgi.exceptions import HTTPException
from stellate_http.responses import PlainTextResponse
from stellate_middleware.body_limit import (
    MAX_BODY_SIZE_SCOPE_KEY,
    RequestBodyLimitMiddleware,
    RequestBodyLimitResponder,
)

__all__ = [
    "HTTPException",
    "Headers",
    "MAX_BODY_SIZE_SCOPE_KEY",
    "PlainTextResponse",
    "RequestBodyLimitMiddleware",
    "RequestBodyLimitResponder",
]
