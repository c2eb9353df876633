"""`stellate.routing`: re-exports from the Stellate parts."""

from stellate_asgi.datastructures import (
    URL,
    Headers,
    URLPath,
)
from stellate_asgi.exceptions import HTTPException, StellateDeprecationWarning
from stellate_asgi.utils import (
    get_route_path,
    is_async_callable,
    parse_host_header,
)
from stellate_http.concurrency import run_in_threadpool
from stellate_http.requests import Request
from stellate_http.responses import (
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from stellate_middleware import Middleware
from stellate_middleware.body_limit import RequestBodyLimitMiddleware
from stellate_middleware.exceptions import wrap_app_handling_exceptions
from stellate_routing.convertors import Convertor
from stellate_routing.routing import (
    CONVERTOR_TYPES,
    PARAM_FORMAT_REGEX,
    PARAM_REGEX,
    BaseRoute,
    Host,
    Match,
    Mount,
    NoMatchFound,
    Route,
    Router,
    WebSocketRoute,
    compile_path,
    get_name,
    replace_params,
    request_response,
    websocket_session,
)
from stellate_websockets.websockets import WebSocket, WebSocketClose

__all__ = [
    "BaseRoute",
    "CONVERTOR_TYPES",
    "Convertor",
    "HTTPException",
    "Headers",
    "Host",
    "Match",
    "Middleware",
    "Mount",
    "NoMatchFound",
    "PARAM_FORMAT_REGEX",
    "PARAM_REGEX",
    "PlainTextResponse",
    "RedirectResponse",
    "Request",
    "RequestBodyLimitMiddleware",
    "Response",
    "Route",
    "Router",
    "StellateDeprecationWarning",
    "URL",
    "URLPath",
    "WebSocket",
    "WebSocketClose",
    "WebSocketRoute",
    "compile_path",
    "get_name",
    "get_route_path",
    "is_async_callable",
    "parse_host_header",
    "replace_params",
    "request_response",
    "run_in_threadpool",
    "websocket_session",
    "wrap_app_handling_exceptions",
]
