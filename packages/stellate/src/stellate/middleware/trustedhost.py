"""`stellate.middleware.trustedhost`: re-exports from the Stellate parts."""

from stellate_asgi.datastructures import URL, Headers
from stellate_asgi.utils import parse_host_header
from stellate_http.responses import (
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from stellate_middleware.trustedhost import ENFORCE_DOMAIN_WILDCARD, TrustedHostMiddleware

__all__ = [
    "ENFORCE_DOMAIN_WILDCARD",
    "Headers",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "TrustedHostMiddleware",
    "URL",
    "parse_host_header",
]
