"""Exception handling: turn exceptions raised by an app into responses (or closed sockets).

`ExceptionMiddleware` holds the handlers, keyed by exception class or by status code, and
publishes them in `scope["stellate.exception_handlers"]`; `wrap_app_handling_exceptions`
reads them there, so routing can catch errors next to the endpoint, where the very
`Request` the endpoint used is at hand.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

from stellate_asgi.exceptions import HTTPException, WebSocketException
from stellate_asgi.types import ASGIApp, Receive, Scope, Send
from stellate_asgi.utils import is_async_callable
from stellate_http.concurrency import run_in_threadpool
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_middleware._tracking import SendTracker, tracking
from stellate_websockets.websockets import WebSocket

__all__ = [
    "ExceptionHandler",
    "ExceptionMiddleware",
    "HTTPExceptionHandler",
    "WebSocketExceptionHandler",
    "wrap_app_handling_exceptions",
]

HTTPExceptionHandler: TypeAlias = Callable[[Request, Exception], Response | Awaitable[Response]]
WebSocketExceptionHandler: TypeAlias = Callable[[WebSocket, Exception], Awaitable[None]]
ExceptionHandler: TypeAlias = HTTPExceptionHandler | WebSocketExceptionHandler

# Where `ExceptionMiddleware` publishes `(exception_handlers, status_handlers)`.
_EXCEPTION_HANDLERS_SCOPE_KEY = "stellate.exception_handlers"
# The same, for the Stellate packages that answer errors next to the endpoint (routing).
EXCEPTION_HANDLERS_SCOPE_KEY = _EXCEPTION_HANDLERS_SCOPE_KEY

# Status codes whose responses must not carry a body (RFC 9110, 15.3.5 and 15.4.5).
_BODILESS_STATUS_CODES = frozenset({204, 304})

_ExceptionHandlers: TypeAlias = dict[Any, ExceptionHandler]
_StatusHandlers: TypeAlias = dict[int, ExceptionHandler]


def wrap_app_handling_exceptions(app: ASGIApp, conn: Request | WebSocket) -> ASGIApp:
    """Wrap `app` so that exceptions with a registered handler are answered by it.

    The handlers come from `conn.scope["stellate.exception_handlers"]` (none when the
    key is absent). An `HTTPException` is looked up by status code first, then every
    exception by its class and its bases in MRO order. An exception without a handler
    propagates unchanged; a handled one raised after the response started becomes a
    `RuntimeError`, since the client already has a status line.
    """
    handlers = conn.scope.get(_EXCEPTION_HANDLERS_SCOPE_KEY)

    async def wrapped_app(scope: Scope, receive: Receive, send: Send) -> None:
        await call_handling_exceptions(app, scope, receive, send, handlers, conn)

    return wrapped_app


class ExceptionMiddleware:
    """Answer `HTTPException` and `WebSocketException` (and any registered type or status).

    By default an `HTTPException` becomes a plain-text response with its status, detail
    and headers, and a `WebSocketException` closes the socket with its code and reason.
    `handlers` maps exception classes or integer status codes to handlers. Other exceptions
    propagate to the server (or to `ServerErrorMiddleware`).
    """

    # Set by an application whose router sits right under this middleware: one call
    # that does what this middleware and that router do for an HTTP request or a
    # WebSocket (`stellate_routing._fused`), used in their place.
    _fused: ASGIApp | None = None

    def __init__(
        self,
        app: ASGIApp,
        handlers: Mapping[Any, ExceptionHandler] | None = None,
        debug: bool = False,
    ) -> None:
        self.app = app
        self.debug = debug  # Kept for API compatibility: handlers decide what to reveal.
        self._status_handlers: _StatusHandlers = {}
        self._exception_handlers: _ExceptionHandlers = {
            HTTPException: self.http_exception,
            WebSocketException: self.websocket_exception,
        }
        if handlers is not None:
            for key, value in handlers.items():
                self.add_exception_handler(key, value)
        # Published as they are in every scope; `add_exception_handler` updates them in place.
        self._handlers = (self._exception_handlers, self._status_handlers)

    def add_exception_handler(
        self,
        exc_class_or_status_code: int | type[Exception],
        handler: ExceptionHandler,
    ) -> None:
        """Register `handler` for a status code (of `HTTPException`s) or an exception class."""
        if isinstance(exc_class_or_status_code, int):
            self._status_handlers[exc_class_or_status_code] = handler
            return
        if not (
            isinstance(exc_class_or_status_code, type)
            and issubclass(exc_class_or_status_code, Exception)
        ):
            raise TypeError(
                "An exception handler is registered for an int status code or an Exception "
                f"subclass, not {exc_class_or_status_code!r}."
            )
        self._exception_handlers[exc_class_or_status_code] = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fused = self._fused
        if fused is not None and scope["type"] in ("http", "websocket"):
            await fused(scope, receive, send)
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        handlers = self._handlers
        scope[_EXCEPTION_HANDLERS_SCOPE_KEY] = handlers
        # `call_handling_exceptions`, inlined on this hot path. The connection is built
        # only if a handler runs (conn None), not for every request.
        tracker = tracking(send)
        try:
            await self.app(scope, receive, tracker)
        except Exception as exc:
            if not await answer_exception(exc, handlers, None, scope, receive, tracker):
                raise

    async def http_exception(self, request: Request, exc: Exception) -> Response:
        """The default `HTTPException` handler: a plain-text response of its `detail`."""
        if not isinstance(exc, HTTPException):
            raise TypeError(f"http_exception handles HTTPException, not {type(exc).__name__}")
        return http_exception_response(exc)

    async def websocket_exception(self, websocket: WebSocket, exc: Exception) -> None:
        """The default `WebSocketException` handler: close with its `code` and `reason`."""
        if not isinstance(exc, WebSocketException):
            raise TypeError(
                f"websocket_exception handles WebSocketException, not {type(exc).__name__}"
            )
        await websocket.close(code=exc.code, reason=exc.reason)


def http_exception_response(exc: HTTPException) -> Response:
    """The response of the default `HTTPException` handler: its status, detail and headers.

    Internal to the Stellate packages; an application's fused stack sends it directly.
    """
    if exc.status_code in _BODILESS_STATUS_CODES:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


async def call_handling_exceptions(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    handlers: tuple[_ExceptionHandlers, _StatusHandlers] | None,
    conn: Request | WebSocket | None,
) -> None:
    """Run `app`, answering an exception that has a registered handler.

    `handlers` is `(exception_handlers, status_handlers)`, or None when none are
    registered: then `app` runs as it is and every exception propagates. `conn` is
    the connection handed to a handler; None builds one from the scope, and only when
    a handler runs. Internal to the Stellate packages: `wrap_app_handling_exceptions`,
    `ExceptionMiddleware` and routing's endpoints all go through it.
    """
    if handlers is None:
        await app(scope, receive, send)
        return
    tracker = tracking(send)
    try:
        await app(scope, receive, tracker)
    except Exception as exc:
        if not await answer_exception(exc, handlers, conn, scope, receive, tracker):
            raise


async def answer_exception(
    exc: Exception,
    handlers: tuple[_ExceptionHandlers, _StatusHandlers],
    conn: Request | WebSocket | None,
    scope: Scope,
    receive: Receive,
    tracker: SendTracker,
) -> bool:
    """Answer `exc` with its registered handler; False when it has none (re-raise it).

    For callers that inline `call_handling_exceptions` on a hot path; `tracker` is the
    send the app under them used. `conn` None builds the connection from the scope.
    """
    handler = _find_exception_handler(handlers[0], handlers[1], exc)
    if handler is None:
        return False
    if tracker.started:
        raise RuntimeError("Caught handled exception, but response already started.") from exc
    if conn is None:
        conn = (
            Request(scope, receive, tracker.send)
            if scope["type"] == "http"
            else WebSocket(scope, receive, tracker.send)
        )
    await _respond_with_handler(handler, conn, exc, scope, receive, tracker)
    return True


def _find_exception_handler(
    exception_handlers: _ExceptionHandlers, status_handlers: _StatusHandlers, exc: Exception
) -> ExceptionHandler | None:
    """The handler registered for `exc`: by status code for an `HTTPException`, then by class."""
    handler: ExceptionHandler | None = None
    if isinstance(exc, HTTPException):
        handler = status_handlers.get(exc.status_code)
    if handler is None:
        handler = _lookup_exception_handler(exception_handlers, exc)
    return handler


async def _respond_with_handler(
    handler: ExceptionHandler,
    conn: Request | WebSocket,
    exc: Exception,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """Call `handler(conn, exc)` (a sync one in a thread) and send the response it returns."""
    call: Callable[..., Any] = handler
    if is_async_callable(call):
        response = await call(conn, exc)
    else:
        response = await run_in_threadpool(call, conn, exc)
    # WebSocket handlers act on the socket themselves and return None.
    if response is not None:
        await response(scope, receive, send)


def _lookup_exception_handler(
    exception_handlers: _ExceptionHandlers, exc: Exception
) -> ExceptionHandler | None:
    # The most specific registered class wins: walk the MRO from the exception's own type.
    for cls in type(exc).__mro__:
        if cls in exception_handlers:
            handler: ExceptionHandler = exception_handlers[cls]
            return handler
    return None
