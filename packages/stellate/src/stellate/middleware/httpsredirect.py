"""`stellate.middleware.httpsredirect`: re-exports from the Stellate parts."""

from stellate_asgi.datastructures import URL
from stellate_http.responses import PlainTextResponse, RedirectResponse
from stellate_middleware.httpsredirect import HTTPSRedirectMiddleware

__all__ = [
    "HTTPSRedirectMiddleware",
    "PlainTextResponse",
    "RedirectResponse",
    "URL",
]
