"""`stellate.middleware.errors`: re-exports from the Stellate parts."""

from stellate_asgi.utils import is_async_callable
from stellate_http.concurrency import run_in_threadpool
from stellate_http.requests import Request
from stellate_http.responses import (
    HTMLResponse,
    PlainTextResponse,
    Response,
)
from stellate_middleware.errors import (
    CENTER_LINE,
    FRAME_TEMPLATE,
    JS,
    LINE,
    STYLES,
    TEMPLATE,
    ServerErrorMiddleware,
)

__all__ = [
    "CENTER_LINE",
    "FRAME_TEMPLATE",
    "HTMLResponse",
    "JS",
    "LINE",
    "PlainTextResponse",
    "Request",
    "Response",
    "STYLES",
    "ServerErrorMiddleware",
    "TEMPLATE",
    "is_async_callable",
    "run_in_threadpool",
]
