"""`stellate.middleware.cors`: re-exports from the Stellate parts."""

from stellate_asgi.datastructures import Headers, MutableHeaders
from stellate_http.responses import PlainTextResponse, Response
from stellate_middleware.cors import (
    ALL_METHODS,
    SAFELISTED_HEADERS,
    CORSMiddleware,
)

__all__ = [
    "ALL_METHODS",
    "CORSMiddleware",
    "Headers",
    "MutableHeaders",
    "PlainTextResponse",
    "Response",
    "SAFELISTED_HEADERS",
]
