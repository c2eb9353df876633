"""`stellate.staticfiles`: re-exports from the Stellate parts."""

# A module rather than a re-exported name, as Starlette's module has it: code written for
# Starlette patches `stellate.staticfiles.anyio.to_thread.run_sync` (anyio's own attribute,
# which `StaticFiles` reads at each call).
import anyio.to_thread  # noqa: F401

from stellate_asgi.datastructures import URL, Headers
from stellate_asgi.exceptions import HTTPException
from stellate_asgi.utils import get_route_path
from stellate_http.responses import FileResponse, RedirectResponse, Response
from stellate_staticfiles.staticfiles import NotModifiedResponse, StaticFiles
from stellate_websockets.websockets import WebSocketClose

__all__ = [
    "FileResponse",
    "HTTPException",
    "Headers",
    "NotModifiedResponse",
    "RedirectResponse",
    "Response",
    "StaticFiles",
    "URL",
    "WebSocketClose",
    "get_route_path",
]
