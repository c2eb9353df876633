"""The leaf routes: `Route` (HTTP) and `WebSocketRoute`, their base class, and the
adapters that turn a request or websocket function into an ASGI app."""

from __future__ import annotations

import functools
import inspect
import re
import sys
from collections.abc import Awaitable, Callable, Collection, Sequence
from enum import Enum
from typing import Any, Literal, cast

from stellate_asgi.datastructures import URLPath
from stellate_asgi.exceptions import HTTPException
from stellate_asgi.types import ASGIApp, Receive, Scope, Send
from stellate_asgi.utils import get_route_path, is_async_callable
from stellate_http.concurrency import run_in_threadpool
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_middleware import Middleware
from stellate_middleware._tracking import tracking
from stellate_middleware.body_limit import RequestBodyLimitMiddleware
from stellate_middleware.exceptions import (
    EXCEPTION_HANDLERS_SCOPE_KEY,
    answer_exception,
)
from stellate_routing._index import store_regex
from stellate_routing._linear import LinearMatcher
from stellate_routing._paths import compile_template, match_template, replace_params
from stellate_routing.convertors import Convertor
from stellate_websockets.websockets import WebSocket, WebSocketClose

__all__ = [
    "BaseRoute",
    "Match",
    "NoMatchFound",
    "Route",
    "WebSocketRoute",
    "endpoint_caller",
    "get_name",
    "is_plain_function",
    "matched_path_params",
    "request_response",
    "websocket_session",
    "wrap_route_app",
]


class NoMatchFound(Exception):
    """Raised by `url_path_for` when no route has that name and those parameters."""

    def __init__(self, name: str, path_params: dict[str, Any]) -> None:
        params = ", ".join(list(path_params.keys()))
        super().__init__(f'No route exists for name "{name}" and params "{params}".')


class Match(Enum):
    """How a route matches a scope: not at all, by path only (method differs), fully."""

    NONE = 0
    PARTIAL = 1
    FULL = 2


# Module-level aliases: `matches` runs for every candidate of every request.
_NONE, _PARTIAL, _FULL = Match.NONE, Match.PARTIAL, Match.FULL

_NO_METHODS: frozenset[str] = frozenset()


def request_response(
    func: Callable[[Request], Awaitable[Response] | Response],
) -> ASGIApp:
    """Turn `func(request) -> response` into an ASGI app.

    A sync `func` runs in a worker thread. Exceptions go to the handlers registered
    with `ExceptionMiddleware` (as `wrap_app_handling_exceptions` would).
    """
    return _endpoint_app(endpoint_caller(func))


def endpoint_caller(
    func: Callable[[Request], Awaitable[Response] | Response],
) -> Callable[[Request], Awaitable[Response]]:
    """`func` as a coroutine function: itself if async, else run in a worker thread.

    Decided once, when a route is made, rather than on every request.
    """
    if is_async_callable(func):
        return cast(Callable[[Request], Awaitable[Response]], func)
    sync_func = cast(Callable[[Request], Response], func)

    async def call(request: Request) -> Response:
        return await run_in_threadpool(sync_func, request)

    return call


def websocket_session(func: Callable[[WebSocket], Awaitable[None]]) -> ASGIApp:
    """Turn `async func(websocket)` into an ASGI app."""

    # `wrap_app_handling_exceptions` inlined, as in `request_response`.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        session = WebSocket(scope, receive=receive, send=send)
        handlers = scope.get(EXCEPTION_HANDLERS_SCOPE_KEY)
        if handlers is None:
            await func(session)
            return
        # Inside an application `send` is already the tracker that `ExceptionMiddleware`
        # made, so what the session sends through it counts as started.
        tracker = tracking(send)
        try:
            await func(session)
        except Exception as exc:
            if not await answer_exception(exc, handlers, session, scope, receive, tracker):
                raise

    return app


def get_name(endpoint: Callable[..., Any]) -> str:
    """The default route name of `endpoint`: its `__name__`, else its class name."""
    return getattr(endpoint, "__name__", endpoint.__class__.__name__)


class BaseRoute:
    """A route: decides whether it `matches` a scope, and `handle`s it if so."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """How this route matches `scope`, and the scope updates to apply if it does."""
        raise NotImplementedError()

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of the route called `name` with `path_params` (or `NoMatchFound`)."""
        raise NotImplementedError()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a scope this route matched."""
        raise NotImplementedError()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Use the route on its own as an ASGI app: 404 (or a closed socket) if unmatched."""
        match, child_scope = self.matches(scope)
        if match is _NONE:
            if scope["type"] == "http":
                response = PlainTextResponse("Not Found", status_code=404)
                await response(scope, receive, send)
            elif scope["type"] == "websocket":
                websocket_close = WebSocketClose()
                await websocket_close(scope, receive, send)
            return
        # Only a `Router` records `scope["route"]`, as in Starlette: a route used as a
        # mounted app leaves the `Mount` that the router matched in place.
        scope.update(child_scope)
        await self.handle(scope, receive, send)


class _Templated(BaseRoute):
    """What `Route` and `WebSocketRoute` share: a path template compiled to `path_regex`.

    `path_regex` may be replaced (a subclass may compile its own); the regex `__init__`
    compiled is kept as `_template_regex`, and `_indexed` tells whether `path_regex` is
    still that one: only then does the router's index decide a match itself. A flag
    rather than an identity test per request: with many routes, a lookup that reads
    it does not fetch each route's regex object from memory. `app` is kept the same
    way: replacing it clears `_direct`, the endpoint the fused stack calls itself.
    """

    # An application's fused stack (`stellate_routing._fused`) calls the endpoint itself,
    # through this, while `app` is still the bare adapter `__init__` made (no route
    # middleware or body limit around it): replacing `app` clears it.
    _direct: Callable[..., Awaitable[Any]] | None = None
    # Set by `__init__` for a template whose regex could backtrack (`compile_template`),
    # and for one without parameters (matched by comparing strings).
    _linear: LinearMatcher | None = None
    _static_regex: re.Pattern[str] | None = None
    _template_regex: re.Pattern[str] | None = None
    _indexed = False
    # What `path_regex` reads, stored by `store_regex` (declared here, never set here).
    _path_regex: re.Pattern[str]

    @property
    def path_regex(self) -> re.Pattern[str]:
        return self._path_regex

    @path_regex.setter
    def path_regex(self, regex: re.Pattern[str]) -> None:
        self._indexed = regex is self._template_regex
        store_regex(self, "_path_regex", regex)

    @property
    def app(self) -> ASGIApp:
        """The ASGI app that serves the route's connections."""
        return self._app

    @app.setter
    def app(self, app: ASGIApp) -> None:
        self._app = app
        self._direct = None

    def _serve(
        self,
        app: ASGIApp,
        direct: Callable[..., Awaitable[Any]] | None,
        middleware: Sequence[Middleware] | None,
        max_body_size: int | None,
    ) -> None:
        # For `__init__`: `app` inside the route's middleware (and body limit); `direct`
        # (the endpoint `app` adapts) is kept only if nothing wraps `app`.
        self.app = wrapped = wrap_route_app(app, middleware, max_body_size)
        if wrapped is app:
            self._direct = direct

    def _compile(self, path: str) -> None:
        # The template's regex, format, convertors and matcher, for `__init__`.
        regex, self.path_format, self.param_convertors, self._linear = compile_template(path)
        self._template_regex = regex
        self._static_regex = None if self.param_convertors else regex
        self.path_regex = regex


class Route(_Templated):
    """An HTTP route: `path` served by `endpoint`.

    A function (or method, or a `functools.partial` of one) is called with the
    `Request` and returns a `Response`; it serves `methods` (GET by default, HEAD
    added wherever GET is). Anything else, such as an `HTTPEndpoint` class, is an ASGI
    app that serves every method.
    """

    # The methods `_allow` last worked out the `Allow` value for, and that value.
    _allowed: tuple[frozenset[str], str] | None = None
    _direct: Callable[[Request], Awaitable[Response]] | None

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Collection[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise AssertionError("Routed paths must start with '/'")
        self.path = path
        self.endpoint = endpoint
        self.name = get_name(endpoint) if name is None else name
        self.include_in_schema = include_in_schema

        if is_plain_function(endpoint):
            direct = endpoint_caller(endpoint)
            self._serve(_endpoint_app(direct), direct, middleware, max_body_size)
            if methods is None:
                methods = ["GET"]
        else:
            self._serve(endpoint, None, middleware, max_body_size)

        self.methods: set[str] | None
        if methods is None:
            self.methods = None
        else:
            self.methods = {_method_name(method) for method in methods}
            if "GET" in self.methods:
                self.methods.add("HEAD")

        self._compile(path)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            path_params = _path_params(self, scope)
            if path_params is not None:
                child_scope = {"endpoint": self.endpoint, "path_params": path_params}
                methods = self.methods
                if methods and scope["method"] not in methods:
                    return _PARTIAL, child_scope
                return _FULL, child_scope
        return _NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return _reverse(self, name, path_params, "http")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            # Inside an application the exception handlers render the 405; a bare
            # route answers it itself.
            error = self._method_not_allowed()
            if "app" in scope:
                raise error
            response = PlainTextResponse(
                "Method Not Allowed", status_code=405, headers=error.headers
            )
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _method_not_allowed(self) -> HTTPException:
        # The 405 for a method outside `methods`, naming those in `Allow`.
        return HTTPException(status_code=405, headers={"Allow": self._allow()})

    def _allow(self) -> str:
        # The `Allow` value of the 405, made once and kept until `methods` changes.
        methods = self.methods or _NO_METHODS
        known = self._allowed
        if known is None or known[0] != methods:
            known = self._allowed = (frozenset(methods), ", ".join(sorted(methods)))
        return known[1]

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, Route)
            and self.path == other.path
            and self.endpoint == other.endpoint
            and self.methods == other.methods
        )

    def __repr__(self) -> str:
        methods = sorted(self.methods or [])
        return f"{type(self).__name__}(path={self.path!r}, name={self.name!r}, methods={methods!r})"


class WebSocketRoute(_Templated):
    """A WebSocket route: `path` served by `endpoint`.

    A function is called with the `WebSocket`; anything else (such as a
    `WebSocketEndpoint` class) is an ASGI app.
    """

    _direct: Callable[[WebSocket], Awaitable[None]] | None

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        middleware: Sequence[Middleware] | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise AssertionError("Routed paths must start with '/'")
        self.path = path
        self.endpoint = endpoint
        self.name = get_name(endpoint) if name is None else name

        if is_plain_function(endpoint):
            self._serve(websocket_session(endpoint), endpoint, middleware, None)
        else:
            self._serve(endpoint, None, middleware, None)
        self._compile(path)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "websocket":
            path_params = _path_params(self, scope)
            if path_params is not None:
                return _FULL, {"endpoint": self.endpoint, "path_params": path_params}
        return _NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return _reverse(self, name, path_params, "websocket")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, WebSocketRoute)
            and self.path == other.path
            and self.endpoint == other.endpoint
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, name={self.name!r})"


def is_plain_function(endpoint: Callable[..., Any]) -> bool:
    """Whether `endpoint` is a function or method (behind any `functools.partial`).

    Those take a request or a websocket; anything else is taken to be an ASGI app.
    """
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    return inspect.isfunction(endpoint) or inspect.ismethod(endpoint)


def wrap_route_app(
    app: ASGIApp, middleware: Sequence[Middleware] | None, max_body_size: int | None
) -> ASGIApp:
    """`app` inside `middleware` (first one outermost), inside a body limit if given."""
    # The body limit goes outside the middleware, so they too read the limited body.
    if middleware is not None:
        for cls, args, kwargs in reversed(middleware):
            app = cls(app, *args, **kwargs)
    if max_body_size is not None:
        app = RequestBodyLimitMiddleware(app, max_body_size)
    return app


def matched_path_params(
    scope: Scope, matched: dict[str, str], convertors: dict[str, Convertor[Any]]
) -> dict[str, Any] | None:
    """The outer routes' `path_params`, updated with the converted `matched` groups.

    `matched` is a dict of its own (a match's groups), converted in place. None when a
    convertor rejects its text with `ValueError`: the route does not match. (Starlette
    lets that error become a 500; a path is client input, so here it is a 404, e.g.
    for an `{id:int}` of more digits than `int()` accepts.)
    """
    converted: dict[str, Any] = matched
    try:
        for key, value in matched.items():
            converted[key] = convertors[key].convert(value)
    except ValueError:
        return None
    outer = scope.get("path_params")
    return {**outer, **converted} if outer else converted


def _method_name(method: str) -> str:
    # `method` in capitals, as one string shared by every route (interned): with many
    # routes, the names a request's method is compared with then stay in the CPU cache.
    return sys.intern(method.upper())


def _endpoint_app(call: Callable[[Request], Awaitable[Response]]) -> ASGIApp:
    # `request_response` around an endpoint already made a coroutine function, with
    # `wrap_app_handling_exceptions` inlined: this runs for every request.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        handlers = scope.get(EXCEPTION_HANDLERS_SCOPE_KEY)
        if handlers is None:
            response = await call(request)
            await response(scope, receive, send)
            return
        tracker = tracking(send)
        try:
            response = await call(request)
            await response(scope, receive, tracker)
        except Exception as exc:
            if not await answer_exception(exc, handlers, request, scope, receive, tracker):
                raise

    return app


def _path_params(route: Route | WebSocketRoute, scope: Scope) -> dict[str, Any] | None:
    # The route's path parameters (merged with the mounts' ones) when its path matches.
    if route.path_regex is route._static_regex:
        # A template without parameters: its regex is the escaped path between "^"
        # and "$", and "$" also matches before a final newline.
        route_path = get_route_path(scope)
        if route_path != route.path and route_path != route.path + "\n":
            return None
        outer = scope.get("path_params")
        return dict(outer) if outer else {}
    matched = match_template(route.path_regex, route._linear, get_route_path(scope))
    if matched is None:
        return None
    return matched_path_params(scope, matched, route.param_convertors)


def _reverse(
    route: Route | WebSocketRoute,
    name: str,
    path_params: dict[str, Any],
    protocol: Literal["http", "websocket"],
) -> URLPath:
    # `url_path_for` of a route: its name, and exactly its own parameters.
    if name != route.name or set(path_params) != set(route.param_convertors):
        raise NoMatchFound(name, path_params)
    path, remaining_params = replace_params(route.path_format, route.param_convertors, path_params)
    assert not remaining_params
    return URLPath(path=path, protocol=protocol)
