"""`stellate.middleware.gzip`: re-exports from the Stellate parts."""

from stellate_asgi.datastructures import Headers, MutableHeaders
from stellate_middleware.gzip import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    GZipMiddleware,
    GZipResponder,
    IdentityResponder,
    unattached_send,
)

__all__ = [
    "DEFAULT_EXCLUDED_CONTENT_TYPES",
    "GZipMiddleware",
    "GZipResponder",
    "Headers",
    "IdentityResponder",
    "MutableHeaders",
    "unattached_send",
]
