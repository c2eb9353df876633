"""An application's default middleware stack, fused into one call for HTTP and WebSockets.

Without user middleware, a `Stellate` application serves every request through
`ServerErrorMiddleware(ExceptionMiddleware(Router))`. Taken layer by layer, a plain
request passes through the application, both middleware, the router, the route, its
endpoint adapter and two send wrappers: about ten coroutine frames before and around
the endpoint, which cost more than the endpoint and its response together.

`FusedStack` does what those layers do, in order, in a single coroutine: it records
the exception handlers and the router in the scope, matches the route, and for a plain
`Route` calls the endpoint and its response itself; through a `Mount` of a plain
`Router` it goes on matching inside, as the mount and that router would. Whatever the
layers would have done with an exception, it does too, through the same code
(`answer_exception`, the `ServerErrorMiddleware`'s own answer), in the same order.
Anything else that matches (another mount, a host, an endpoint class, a route with its
own middleware) goes to the route's `handle`, as the router would send it; a request
that matches nothing gets the innermost router's redirect or default. A WebSocket is
matched the same way, and a plain `WebSocketRoute`'s endpoint gets its session directly.
Lifespan scopes take the stack itself.

`fuse` builds one only for a stack of exactly those classes, none of whose methods it
stands in for has been patched; any other stack is served as it is. The coroutine is
`FusedCall.__call__`, which the application's class inherits too: a request goes from
the server into the fused work without a coroutine of the application's in between.
"""

from __future__ import annotations

from typing import Any, cast

from stellate_asgi.exceptions import HTTPException
from stellate_asgi.types import ASGIApp, Receive, Scope, Send
from stellate_http._sending import spec_version
from stellate_http.requests import Request
from stellate_http.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from stellate_middleware._tracking import SendTracker, tracking
from stellate_middleware.errors import ServerErrorMiddleware
from stellate_middleware.exceptions import (
    EXCEPTION_HANDLERS_SCOPE_KEY,
    ExceptionMiddleware,
    answer_exception,
    http_exception_response,
)
from stellate_routing._index import RouteIndex
from stellate_routing._routes import BaseRoute, Route, WebSocketRoute
from stellate_routing.routing import Mount, RedirectResponse, Router
from stellate_websockets.websockets import WebSocket

__all__ = ["FusedCall", "FusedStack", "fuse"]

# The key of `_paths` in a router's `RouteList.built`, beside the indexes ("http").
_PATHS_KEY = "fused-paths"

# What `__call__` matches a path by (see `_paths`): plain routes by static path, and the
# index for the rest.
_Paths = tuple[dict[str, Route], RouteIndex[BaseRoute] | None]

# How deep `fuse` looks for the `ExceptionMiddleware` under the user's middleware.
_MAX_LAYERS = 64

# Responses whose `__call__` is `Response.__call__` and whose headers `__init__` set: the
# first thing they do is send the start message, so once they raise, the response has
# started (a `SendTracker` would say so too). Any other response goes through a tracker.
_RESPONSE_CALL = Response.__call__
_STARTS_FIRST = frozenset(
    cls
    for cls in (Response, PlainTextResponse, HTMLResponse, JSONResponse, RedirectResponse)
    if cls.__call__ is _RESPONSE_CALL
)

# The default handler's answers to the router's 404 and to 405s, by `Allow` value (see
# `_refusal`), and how many are kept.
_REFUSALS: dict[str | None, tuple[int, tuple[tuple[bytes, bytes], ...], bytes]] = {}
_MAX_REFUSALS = 64

# How the fused stack makes a `Request`: `__new__`, then what `__init__` sets.
_new_request = object.__new__

# The methods the fused stack stands in for, as defined: a tool that patches one of
# them (to trace requests, say) keeps the layers, so that its patch runs.
_LAYER_METHODS = (
    *((cls, "__call__", _RESPONSE_CALL) for cls in _STARTS_FIRST),
    (Request, "__init__", Request.__init__),
    (ServerErrorMiddleware, "__call__", ServerErrorMiddleware.__call__),
    (ExceptionMiddleware, "__call__", ExceptionMiddleware.__call__),
    (StreamingResponse, "__call__", StreamingResponse.__call__),
    (StreamingResponse, "stream_response", StreamingResponse.stream_response),
    (Router, "__call__", Router.__call__),
    (Router, "app", Router.app),
    (Mount, "handle", Mount.handle),
    (Route, "handle", Route.handle),
    (WebSocketRoute, "handle", WebSocketRoute.handle),
)


def fuse(stack: ASGIApp) -> FusedStack | None:
    """A `FusedStack` for `stack` if it is the plain default one, else None.

    For a stack with middleware of the user's between `ServerErrorMiddleware` and
    `ExceptionMiddleware`, the part under that middleware is fused instead: the
    `ExceptionMiddleware` found down the chain of `.app` attributes hands its HTTP
    requests and WebSockets to a `FusedStack` without the server-error layer (and None
    is returned: the stack itself is called).
    """
    if not _layers_unpatched():
        return None
    if type(stack) is ServerErrorMiddleware and type(stack.app) is ExceptionMiddleware:
        router = _plain_router(stack.app.app)
        return None if router is None else FusedStack(stack, stack.app, router)
    exceptions = _find_exceptions(stack)
    if exceptions is not None:
        router = _plain_router(exceptions.app)
        exceptions._fused = None if router is None else FusedStack(None, exceptions, router)
    return None


class FusedCall:
    """The ASGI call of a `FusedStack`, and of an application (`Stellate` subclasses
    this): one coroutine for a plain request from the server to the endpoint.

    `_serving` names what serves a scope: a `FusedStack`, whose work is done here, or
    any other ASGI app, which is called. (An application calling its fused stack would
    cost a coroutine more on every request.) An application keeps the `_fused_stack`
    that `_serving` made for its `middleware_stack` as `_fused_for`: while that stack is
    still the one in place, a request goes in without the call.
    """

    __slots__ = ()

    # Set by an application's `_serving` only: a `FusedStack` keeps these defaults, and
    # has no `middleware_stack` (an application's), which is read only once they are set.
    _fused_stack: FusedStack | None = None
    _fused_for: ASGIApp | None = None
    middleware_stack: ASGIApp | None

    def _serving(self, scope: Scope) -> FusedStack | ASGIApp:
        """What serves `scope`: the fused stack, or an app to call instead."""
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fused = self._fused_stack
        if fused is not None and self.middleware_stack is self._fused_for:
            # An application whose stack is fused, as `_serving` would find it.
            scope["app"] = self
        else:
            serving = self._serving(scope)
            if type(serving) is not FusedStack:
                await serving(scope, receive, send)
                return
            fused = serving
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await fused._websocket(scope, receive, send)
            else:
                await fused.layered(scope, receive, send)
            return
        scope[EXCEPTION_HANDLERS_SCOPE_KEY] = fused.handlers
        router = fused.router
        if "router" not in scope:
            scope["router"] = router
        try:
            # (A subscript, cheaper than `get`: the index is built but once.)
            paths: _Paths = router._routes.built[_PATHS_KEY]
        except KeyError:
            try:
                paths = _paths(router)
            except Exception as exc:
                # Building the index failed, as `router._match` would have.
                await fused._recover(exc, None, scope, receive, tracking(send))
                return
        route: Route | None = None
        path_params: dict[str, Any] | None = None
        if not scope.get("root_path") and "path_params" not in scope:
            # The common cases of `router._match` (see there), without its call: with no
            # host or mount above to have a say, the path alone decides.
            statics, index = paths
            path = scope["path"]
            if path in statics:
                route = statics[path]
                path_params = {}
            elif index is not None:
                try:
                    candidates, path_params = index.find(path)
                except Exception as exc:
                    await fused._recover(exc, None, scope, receive, tracking(send))
                    return
                if path_params is not None:
                    # A plain route (`_is_plain`), of an HTTP index: a `Route`.
                    route = candidates[0]  # type: ignore[assignment]
                elif not candidates:
                    # What `_match` gives when no route can match.
                    await fused._elsewhere(router, None, {}, scope, receive, send)
                    return
        if route is not None and (direct := route._direct) is not None:
            scope["endpoint"] = route.endpoint
            scope["path_params"] = path_params
        else:
            try:
                router, matched, child_scope = _match_through_mounts(router, scope)
            except Exception as exc:
                await fused._recover(exc, None, scope, receive, tracking(send))
                return
            if type(matched) is not Route or (direct := matched._direct) is None:
                await fused._elsewhere(router, matched, child_scope, scope, receive, send)
                return
            route = matched
            scope.update(child_scope)

        # A plain `Route`: what `Route.handle` and its endpoint adapter do.
        scope["route"] = route
        methods = route.methods
        if methods and scope["method"] not in methods:
            if "app" not in scope:
                # Outside an application `Route.handle` answers the 405 itself.
                await fused._elsewhere(router, route, {}, scope, receive, send)
                return
            # What `Route.handle` raises, answered without the raise.
            await fused._refuse(route, scope, receive, send)
            return
        # What `Request(scope, receive, send)` makes of an HTTP scope, without the class
        # call (`Request.__init__`, if patched, keeps the layers: `_LAYER_METHODS`).
        request = _new_request(Request)
        request.scope = scope
        request._receive = receive
        request._send = send
        try:
            response = await direct(request)
        except Exception as exc:
            # The endpoint has sent nothing (it has no way to start a response).
            await fused._recover(exc, request, scope, receive, tracking(send))
            return
        if type(response) in _STARTS_FIRST:
            try:
                # What `Response.__call__` does for an HTTP scope, without its frame.
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status_code,
                        "headers": response.raw_headers,
                    }
                )
                await send({"type": "http.response.body", "body": response.body})
                if response.background is not None:
                    await response.background()
            except Exception as exc:
                await fused._recover(exc, request, scope, receive, _started(send))
            return
        if type(response) is StreamingResponse and spec_version(scope) >= (2, 4):
            # On ASGI 2.4+ it sends its start message before anything else that can fail,
            # so once it raises it has started: its chunks are spared a tracker.
            try:
                await response(scope, receive, send)
            except Exception as exc:
                await fused._recover(exc, request, scope, receive, _started(send))
            return
        tracker = tracking(send)
        try:
            await response(scope, receive, tracker)
        except Exception as exc:
            await fused._recover(exc, request, scope, receive, tracker)


class FusedStack(FusedCall):
    """`ServerErrorMiddleware(ExceptionMiddleware(router))` in one coroutine.

    Without `server_errors`, `ExceptionMiddleware(router)`: what it does not answer
    propagates, to the user's middleware and the `ServerErrorMiddleware` above.
    """

    __slots__ = ("default_handler", "handlers", "layered", "router", "server_errors")

    def __init__(
        self,
        server_errors: ServerErrorMiddleware | None,
        exceptions: ExceptionMiddleware,
        router: Router,
    ) -> None:
        self.server_errors = server_errors
        # What the layers themselves serve: the scopes other than HTTP.
        self.layered: ASGIApp = exceptions if server_errors is None else server_errors
        self.router = router
        # The very tuple `ExceptionMiddleware` publishes; `add_exception_handler` updates
        # its dicts in place, so it stays current.
        self.handlers = exceptions._handlers
        # Equal to (not the same object as) what `exceptions` registered by default.
        self.default_handler = exceptions.http_exception

    def _serving(self, scope: Scope) -> FusedStack:
        return self

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        # What the layers do for a WebSocket: `ServerErrorMiddleware` passes it on and
        # `ExceptionMiddleware` answers exceptions, as for HTTP; a plain `WebSocketRoute`
        # gets its session here, as its adapter (`websocket_session`) would make it.
        scope[EXCEPTION_HANDLERS_SCOPE_KEY] = self.handlers
        router = self.router
        if "router" not in scope:
            scope["router"] = router
        try:
            router, route, child_scope = _match_through_mounts(router, scope)
        except Exception as exc:
            await self._recover(exc, None, scope, receive, tracking(send))
            return
        if type(route) is not WebSocketRoute or (direct := route._direct) is None:
            await self._elsewhere(router, route, child_scope, scope, receive, send)
            return
        scope.update(child_scope)
        scope["route"] = route
        # The session is given the server's `send`: every message goes through it, and
        # it records whether a denial response began, which is all a tracker is for.
        websocket = WebSocket(scope, receive, send)
        try:
            await direct(websocket)
        except Exception as exc:
            tracker = _started(send) if websocket._denial_started else tracking(send)
            await self._recover(exc, websocket, scope, receive, tracker)

    async def _elsewhere(
        self,
        router: Router,
        route: BaseRoute | None,
        child_scope: Scope,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        # Any other match goes to the route's `handle`, no match to the (innermost)
        # router's redirect or default, as `Router.app` sends them; the error handling
        # is the same.
        redirect: RedirectResponse | None = None
        if route is None:
            try:
                redirect = router._redirect(scope)
            except Exception as exc:
                await self._recover(exc, None, scope, receive, tracking(send))
                return
            if (
                redirect is None
                and router.default == router.not_found
                and "app" in scope
                and scope["type"] == "http"
            ):
                # What `Router.not_found` raises inside an application, answered
                # without the raise. (Outside one it answers the 404 itself.)
                await self._refuse(None, scope, receive, send)
                return
        tracker = tracking(send)
        try:
            if route is not None:
                scope.update(child_scope)
                scope["route"] = route
                await route.handle(scope, receive, tracker)
            elif redirect is not None:
                await redirect(scope, receive, tracker)
            else:
                await router.default(scope, receive, tracker)
        except Exception as exc:
            await self._recover(exc, None, scope, receive, tracker)

    async def _refuse(
        self, route: Route | None, scope: Scope, receive: Receive, send: Send
    ) -> None:
        # The router's 404 (no `route`) or `route`'s 405, answered as `_recover` would
        # answer it raised. When the handler it finds is `ExceptionMiddleware`'s default
        # one, that handler's response is sent here, as made once (`_refusal`).
        exception_handlers, status_handlers = self.handlers
        status_code = 404 if route is None else 405
        if (
            status_code in status_handlers
            or exception_handlers.get(HTTPException) != self.default_handler
        ):
            await self._recover(_refusal_error(route), None, scope, receive, tracking(send))
            return
        status, headers, body = _refusal(route)
        try:
            # (A new list of headers each time: a middleware may change it in place.)
            await send({"type": "http.response.start", "status": status, "headers": list(headers)})
            await send({"type": "http.response.body", "body": body})
        except Exception as exc:
            # As a failure of the handler's response: it had started (`_STARTS_FIRST`).
            if self.server_errors is not None:
                await self.server_errors._answer(exc, scope, receive, _started(send))
            raise

    async def _recover(
        self,
        exc: Exception,
        request: Request | WebSocket | None,
        scope: Scope,
        receive: Receive,
        tracker: SendTracker,
    ) -> None:
        """Answer `exc` as the fused layers would, innermost first; else re-raise it.

        With the endpoint's `request`, the endpoint adapter tries first; a failure of its
        handler (or a handled exception after the response started) goes on to
        `ExceptionMiddleware`. Whatever remains goes to `ServerErrorMiddleware`, which
        sends a 500 if nothing was sent, and is raised for the server to log.
        """
        handlers = self.handlers
        try:
            try:
                if await answer_exception(exc, handlers, request, scope, receive, tracker):
                    return
            except Exception as error:
                # `ExceptionMiddleware` gets what the adapter's answer raised. (An
                # unanswered `exc` it would not answer either: the handlers are the same.)
                if request is None or not await answer_exception(
                    error, handlers, None, scope, receive, tracker
                ):
                    raise
                return
            raise exc
        except Exception as error:
            # (`ServerErrorMiddleware` answers only HTTP requests.)
            if self.server_errors is not None and scope["type"] == "http":
                await self.server_errors._answer(error, scope, receive, tracker)
            raise


def _paths(router: Router) -> _Paths:
    # What `__call__` matches a path by, when no host or mount above has a say: the
    # static paths whose one candidate is a plain `Route` (`index.sole`, as
    # `router._match` reads it), and the index, for the rest. With `Host` routes of a
    # known name, the host has a say: neither. Kept with the index (`RouteList.cached`),
    # so it is made again whenever the index is.
    paths: _Paths = router._routes.cached(
        _PATHS_KEY, lambda routes: _paths_of(router._index("http"))
    )
    return paths


def _paths_of(index: RouteIndex[BaseRoute]) -> _Paths:
    if index.hosts:
        return {}, None
    # Plain routes only (`_is_plain`), which in an HTTP index are `Route`s.
    return cast(dict[str, Route], index.sole), index


def _refusal(route: Route | None) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes]:
    # What `http_exception_response` makes of `_refusal_error(route)`: the status,
    # headers and body it sends. Made once per `Allow` value (None for the 404); the
    # values are the applications' method sets, a bounded few.
    allow = None if route is None else route._allow()
    known = _REFUSALS.get(allow)
    if known is None:
        response = http_exception_response(_refusal_error(route))
        known = (response.status_code, tuple(response.raw_headers), bytes(response.body))
        if len(_REFUSALS) < _MAX_REFUSALS:
            _REFUSALS[allow] = known
    return known


def _refusal_error(route: Route | None) -> HTTPException:
    # What the router raises for a path without a route (404), or `route` for a method
    # outside its `methods` (405).
    return HTTPException(status_code=404) if route is None else route._method_not_allowed()


def _started(send: Send) -> SendTracker:
    # A tracker for a response known to have started (one that raised after its start).
    tracker = tracking(send)
    tracker.started = True
    return tracker


def _match_through_mounts(router: Router, scope: Scope) -> tuple[Router, BaseRoute | None, Scope]:
    # `router._match`, going on inside a mount of a plain router as `Mount.handle` and
    # that router would, so that its routes are served the same direct way. The
    # innermost router, what matched in it, and the scope updates of that match.
    matched, child_scope = router._match(scope)
    while type(matched) is Mount and (inner := _mounted_router(matched)) is not None:
        scope.update(child_scope)
        scope["route"] = matched
        router = inner
        matched, child_scope = router._match(scope)
    return router, matched, child_scope


def _mounted_router(mount: Mount) -> Router | None:
    # The router a mount serves, when nothing wraps it and it has no middleware of its own.
    return _plain_router(mount.app) if mount.app is mount._base_app else None


def _plain_router(app: ASGIApp) -> Router | None:
    # `app` if it is a `Router` without middleware of its own (which would run around
    # `Router.app`).
    if type(app) is Router and app.middleware_stack == app.app:
        return app
    return None


def _find_exceptions(stack: ASGIApp) -> ExceptionMiddleware | None:
    # The `ExceptionMiddleware` down the chain of `.app` attributes of the middleware,
    # if each one names the next so (most do); a bounded walk.
    app: object = stack
    for _ in range(_MAX_LAYERS):
        if type(app) is ExceptionMiddleware:
            return app
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


def _layers_unpatched() -> bool:
    # Whether each method the fused stack stands in for is still the class's own.
    return all(getattr(cls, name) is method for cls, name, method in _LAYER_METHODS)
