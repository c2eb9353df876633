"""Routing: `Route`, `WebSocketRoute`, `Mount`, `Host` and the `Router` that picks one.

The router keeps Starlette's semantics (the first route in declaration order that
matches fully wins; else the first partial match; else a trailing-slash redirect; else
404), but looks routes up through a segment index (`stellate_routing._index`), so the
cost of a request does not grow with the number of routes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Literal, cast

from stellate_asgi.datastructures import URL, Headers, URLPath
from stellate_asgi.exceptions import HTTPException, StellateDeprecationWarning
from stellate_asgi.types import ASGIApp, Lifespan, Receive, Scope, Send
from stellate_asgi.utils import get_route_path, is_async_callable, parse_host_header
from stellate_http.concurrency import run_in_threadpool
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, RedirectResponse, Response
from stellate_middleware import Middleware
from stellate_middleware.body_limit import RequestBodyLimitMiddleware
from stellate_middleware.exceptions import wrap_app_handling_exceptions
from stellate_routing._index import RouteIndex, RouteList, store_regex
from stellate_routing._lifespan import lifespan_context, run_lifespan
from stellate_routing._linear import LinearMatcher
from stellate_routing._paths import (
    PARAM_FORMAT_REGEX,
    PARAM_REGEX,
    compile_path,
    compile_template,
    match_template,
    replace_params,
)
from stellate_routing._routes import (
    _FULL,
    _NONE,
    _PARTIAL,
    BaseRoute,
    Match,
    NoMatchFound,
    Route,
    WebSocketRoute,
    get_name,
    matched_path_params,
    request_response,
    websocket_session,
    wrap_route_app,
)
from stellate_routing.convertors import CONVERTOR_TYPES, Convertor
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

# The host names of the Host header values seen (`_host_name`), and how many are kept:
# a server sees few, and parsing one costs more than the rest of a `Host` lookup.
_HOST_NAMES: dict[str, str | None] = {}
_MAX_HOST_NAMES = 64


class Mount(BaseRoute):
    """Serve everything under `path` with `app` (or a `Router` of `routes`).

    The child app sees the mount point appended to `root_path` and the full `path`,
    so `get_route_path` gives it the remainder. `url_path_for("name", path=...)`
    reverses the mount itself, `url_path_for("name:child", ...)` a route inside it.
    """

    # Set by `__init__` for a template whose regex could backtrack (`compile_template`).
    _linear: LinearMatcher | None = None
    # The regex `__init__` compiled: while `path_regex` is still that one, the router's
    # index places the mount by its template.
    _template_regex: re.Pattern[str] | None = None
    # What `path_regex` reads, stored by `store_regex` (declared here, never set here).
    _path_regex: re.Pattern[str]

    def __init__(
        self,
        path: str,
        app: ASGIApp | None = None,
        routes: Sequence[BaseRoute] | None = None,
        name: str | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
    ) -> None:
        if path != "" and not path.startswith("/"):
            raise AssertionError("Routed paths must start with '/'")
        if app is None and routes is None:
            raise AssertionError("Either 'app=...', or 'routes=' must be specified")
        self.path = path.rstrip("/")
        self._base_app: ASGIApp = app if app is not None else Router(routes=routes)
        self.app = wrap_route_app(self._base_app, middleware, max_body_size)
        self.name = name
        self.path_regex, self.path_format, self.param_convertors, self._linear = compile_template(
            self.path + "/{path:path}"
        )
        self._template_regex = self.path_regex
        # The template of the mount point alone (`/t/{tenant}`), without the `/{path}`.
        self._prefix_format = self.path_format.removesuffix("/{path}")

    @property
    def path_regex(self) -> re.Pattern[str]:
        return self._path_regex

    @path_regex.setter
    def path_regex(self, regex: re.Pattern[str]) -> None:
        store_regex(self, "_path_regex", regex)

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes of the mounted app (empty if it has none)."""
        return getattr(self._base_app, "routes", [])

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket"):
            root_path = scope.get("root_path", "")
            route_path = get_route_path(scope)
            matched = match_template(self.path_regex, self._linear, route_path)
            path_params = None
            if matched is not None:
                remaining_path = "/" + matched.pop("path")
                path_params = matched_path_params(scope, matched, self.param_convertors)
            if path_params is not None:
                matched_path = route_path[: -len(remaining_path)]
                child_scope = {
                    "path_params": path_params,
                    # The application's own root path, kept through every mount for
                    # `url_for`, which builds URLs from the top.
                    "app_root_path": scope.get("app_root_path", root_path),
                    "root_path": root_path + matched_path,
                    # `root_path` with each mount's template for what it matched:
                    # telemetry reports routes by template (`http.route`), never by
                    # their parameters' values.
                    "root_path_template": scope.get("root_path_template", root_path)
                    + self._prefix_format,
                    "endpoint": self.app,
                }
                return _FULL, child_scope
        return _NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if (
            self.name is not None
            and name == self.name
            and "path" in path_params
            and _fills(self.param_convertors, path_params)
        ):
            # The mount itself: `path` is the path inside it. Any value is written as
            # its `str`, as the `path` convertor does (not an AttributeError).
            path_params["path"] = str(path_params["path"]).lstrip("/")
            path, remaining_params = replace_params(
                self.path_format, self.param_convertors, path_params
            )
            if not remaining_params:
                return URLPath(path=path)
        elif (self.name is None or name.startswith(self.name + ":")) and _fills(
            self.param_convertors, path_params, "path"
        ):
            remaining_name = name if self.name is None else name[len(self.name) + 1 :]
            path_kwarg = path_params.get("path")
            path_params["path"] = ""
            path_prefix, remaining_params = replace_params(
                self.path_format, self.param_convertors, path_params
            )
            if path_kwarg is not None:
                remaining_params["path"] = path_kwarg
            url = _reverse_child(self.routes or [], remaining_name, remaining_params)
            if url is not None:
                return URLPath(path=path_prefix.rstrip("/") + str(url), protocol=_protocol(url))
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Mount) and self.path == other.path and self.app == other.app

    def __repr__(self) -> str:
        name = self.name or ""
        return f"{type(self).__name__}(path={self.path!r}, name={name!r}, app={self.app!r})"


class Host(BaseRoute):
    """Serve requests whose `Host` header matches `host` (`{sub}.example.org`) with `app`.

    The port is ignored. `url_path_for` gives a `URLPath` that carries the host.
    """

    _linear: LinearMatcher | None = None
    # What `host_regex` reads, stored by `store_regex` (declared here, never set here).
    _host_regex: re.Pattern[str]

    def __init__(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        if host.startswith("/"):
            raise AssertionError("Host must not start with '/'")
        self.host = host
        self.app = app
        self.name = name
        self.host_regex, self.host_format, self.param_convertors, self._linear = compile_template(
            host
        )

    @property
    def host_regex(self) -> re.Pattern[str]:
        return self._host_regex

    @host_regex.setter
    def host_regex(self, regex: re.Pattern[str]) -> None:
        store_regex(self, "_host_regex", regex)

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes of the app (empty if it has none)."""
        return getattr(self.app, "routes", [])

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket"):
            host = _host_name(scope)
            matched = None if host is None else match_template(self.host_regex, self._linear, host)
            path_params = None
            if matched is not None:
                path_params = matched_path_params(scope, matched, self.param_convertors)
            if path_params is not None:
                child_scope = {"path_params": path_params, "endpoint": self.app}
                return _FULL, child_scope
        return _NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if (
            self.name is not None
            and name == self.name
            and "path" in path_params
            and _fills(self.param_convertors, path_params)
        ):
            path = path_params.pop("path")
            host, remaining_params = replace_params(
                self.host_format, self.param_convertors, path_params
            )
            if not remaining_params:
                return URLPath(path=path, host=host)
        elif (self.name is None or name.startswith(self.name + ":")) and _fills(
            self.param_convertors, path_params
        ):
            remaining_name = name if self.name is None else name[len(self.name) + 1 :]
            host, remaining_params = replace_params(
                self.host_format, self.param_convertors, path_params
            )
            url = _reverse_child(self.routes or [], remaining_name, remaining_params)
            if url is not None:
                return URLPath(path=str(url), protocol=_protocol(url), host=host)
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Host) and self.host == other.host and self.app == other.app

    def __repr__(self) -> str:
        name = self.name or ""
        return f"{type(self).__name__}(host={self.host!r}, name={name!r}, app={self.app!r})"


class Router:
    """An ASGI app that dispatches to the first matching route of `routes`.

    Unmatched requests are redirected to the same path with or without a trailing
    slash when that one matches (`redirect_slashes`), else go to `default` (a 404).
    `lifespan` is an async context manager factory, called with the app; the mapping
    it yields (if any) is merged into the server's lifespan `state`.

    `routes` is a live list: append to it, insert, assign a new one; the route index
    follows, as it does a route's `path_regex` (a host's `host_regex`) replaced.
    (Changing a route's `path` or `path_format` in place is not seen: replace the route.)
    """

    def __init__(
        self,
        routes: Sequence[BaseRoute] | None = None,
        redirect_slashes: bool = True,
        default: ASGIApp | None = None,
        lifespan: Lifespan[Any] | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
    ) -> None:
        self.routes = [] if routes is None else list(routes)
        self.redirect_slashes = redirect_slashes
        self.default: ASGIApp = self.not_found if default is None else default
        self.lifespan_context: Lifespan[Any] = lifespan_context(lifespan)
        self.middleware_stack: ASGIApp = wrap_route_app(self.app, middleware, max_body_size)

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes, in the order they are tried."""
        return self._routes

    @routes.setter
    def routes(self, routes: Iterable[BaseRoute]) -> None:
        # Keep a `RouteList` as it is (shared, as Starlette shares the list assigned);
        # copy anything else into one, since only a `RouteList` reports its changes.
        self._routes: RouteList[BaseRoute] = (
            routes if isinstance(routes, RouteList) else RouteList(routes)
        )

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The default `default`: 404, or close the WebSocket."""
        if scope["type"] == "websocket":
            websocket_close = WebSocketClose()
            await websocket_close(scope, receive, send)
            return
        # Inside an application the exception handlers render the 404.
        if "app" in scope:
            raise HTTPException(status_code=404)
        response = PlainTextResponse("Not Found", status_code=404)
        await response(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of the route called `name` (`mount:child` inside mounts)."""
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the ASGI lifespan protocol around `lifespan_context`."""
        await run_lifespan(self.lifespan_context, scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.middleware_stack(scope, receive, send)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The router itself, inside its `middleware`."""
        scope_type = scope["type"]
        assert scope_type in ("http", "websocket", "lifespan")
        if "router" not in scope:
            scope["router"] = self
        if scope_type == "lifespan":
            await self.lifespan(scope, receive, send)
            return

        route, child_scope = self._match(scope)
        if route is not None:
            scope.update(child_scope)
            scope["route"] = route
            await route.handle(scope, receive, send)
            return

        redirect = self._redirect(scope)
        if redirect is not None:
            await redirect(scope, receive, send)
            return
        await self.default(scope, receive, send)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Router) and self.routes == other.routes

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        """Append a `Mount`."""
        self.routes.append(Mount(path, app=app, name=name))

    def host(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        """Append a `Host`."""
        self.routes.append(Host(host, app=app, name=name))

    def add_route(
        self,
        path: str,
        endpoint: Callable[[Request], Awaitable[Response] | Response],
        methods: Collection[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        """Append a `Route`."""
        route = Route(
            path,
            endpoint=endpoint,
            methods=methods,
            name=name,
            include_in_schema=include_in_schema,
        )
        self.routes.append(route)

    def add_websocket_route(
        self,
        path: str,
        endpoint: Callable[[WebSocket], Awaitable[None]],
        name: str | None = None,
    ) -> None:
        """Append a `WebSocketRoute`."""
        self.routes.append(WebSocketRoute(path, endpoint=endpoint, name=name))

    def _index(self, scope_type: str) -> RouteIndex[BaseRoute]:
        # The index of the routes as they are now, for `http` or `websocket` scopes.
        index: RouteIndex[BaseRoute] = self._routes.cached(scope_type, _INDEX_BUILDERS[scope_type])
        return index

    def _candidates(self, scope: Scope, route_path: str | None = None) -> Sequence[BaseRoute]:
        # Every route that could match `scope` (at `route_path`, when given), in
        # declaration order (a superset).
        scope_type = scope["type"]
        index = self._routes.built.get(scope_type) or self._index(scope_type)
        if route_path is None:
            route_path = get_route_path(scope)
        on_host = index.lookup_on_host(route_path, _host_name(scope)) if index.hosts else None
        return index.lookup(route_path) if on_host is None else on_host

    def _match(self, scope: Scope) -> tuple[BaseRoute | None, Scope]:
        # First full match in declaration order, else the first partial one.
        scope_type = scope["type"]
        # (`_index` and `get_route_path`, inlined for the common case: an index already
        # built, and nothing mounted above.)
        index = self._routes.built.get(scope_type) or self._index(scope_type)
        route_path = get_route_path(scope) if scope.get("root_path") else scope["path"]
        on_host = index.lookup_on_host(route_path, _host_name(scope)) if index.hosts else None
        if on_host is not None:
            # `Host` routes for this very host name: the general way, with those routes.
            candidates = on_host
        else:
            # The index lets only plain routes in (`_is_plain`): a `Route` or
            # `WebSocketRoute` with its template's regex. (Annotated rather than `cast`: a
            # call, on every request.)
            sole: Route | WebSocketRoute | None = index.sole.get(route_path)  # type: ignore[assignment]
            if sole is not None:
                # The one route that can match this path, one without parameters: what its
                # `matches` gives, whether FULL or PARTIAL (the caller tells them apart).
                outer = scope.get("path_params")
                path_params = dict(outer) if outer else {}
                return sole, {"endpoint": sole.endpoint, "path_params": path_params}
            candidates, params = index.find(route_path)
            if params is not None:
                # One plain route, whose regex would match with these groups: what its
                # `matches` gives, without running that regex.
                only: Route | WebSocketRoute = candidates[0]  # type: ignore[assignment]
                outer = scope.get("path_params")
                path_params = {**outer, **params} if outer else params
                return only, {"endpoint": only.endpoint, "path_params": path_params}
        partial: tuple[BaseRoute, Scope] | None = None
        for route in candidates:
            match, child_scope = route.matches(scope)
            if match is _FULL:
                return route, child_scope
            if match is _PARTIAL and partial is None:
                partial = (route, child_scope)
        if partial is not None:
            return partial
        return None, {}

    def _redirect(self, scope: Scope) -> RedirectResponse | None:
        # For an unmatched HTTP request: the redirect to the path with the trailing
        # slash toggled, when `redirect_slashes` is on and a route matches that path.
        if scope["type"] != "http" or not self.redirect_slashes:
            return None
        redirect_url = self._slash_redirect(scope)
        return None if redirect_url is None else RedirectResponse(url=redirect_url)

    def _slash_redirect(self, scope: Scope) -> str | None:
        # The URL with the trailing slash toggled, if a route matches that path.
        # (Without a root path, which is the common case, the route paths are the paths.)
        path: str = scope["path"]
        root_path = scope.get("root_path")
        route_path = get_route_path(scope) if root_path else path
        if route_path == "/":
            return None
        redirect_path = path.rstrip("/") if route_path.endswith("/") else path + "/"
        redirect_route_path = (
            get_route_path({"path": redirect_path, "root_path": root_path})
            if root_path
            else redirect_path
        )
        # Most 404s end here, without copying the scope.
        candidates = self._candidates(scope, redirect_route_path)
        if not candidates:
            return None
        redirect_scope = {**scope, "path": redirect_path}
        for route in candidates:
            match, _ = route.matches(redirect_scope)
            if match is not _NONE:
                return _safe_location(str(URL(scope=redirect_scope)))
        return None


def _fills(
    convertors: dict[str, Convertor[Any]], path_params: dict[str, Any], *exempt: str
) -> bool:
    # Whether `path_params` has a value for each of a mount's or host's own parameters.
    # (Starlette would go on and leave "{name}" in the URL; a NoMatchFound is clearer.)
    return all(key in path_params for key in convertors if key not in exempt)


def _reverse_child(
    routes: Sequence[BaseRoute], name: str, path_params: dict[str, Any]
) -> URLPath | None:
    # The URL of the first route inside a mount or host that reverses `name`.
    for route in routes:
        try:
            return route.url_path_for(name, **path_params)
        except NoMatchFound:
            continue
    return None


def _protocol(url: URLPath) -> Literal["http", "websocket", ""]:
    # `URLPath.protocol` is typed `str`; its constructor only ever accepts these three.
    return cast(Literal["http", "websocket", ""], url.protocol)


def _host_name(scope: Scope) -> str | None:
    # The host of the Host header without its port (an IP literal keeps its brackets),
    # or None when the header is missing or malformed, which matches no `Host` route.
    # (A scope without headers, which tests build, has no Host header either.)
    header = Headers(scope=scope).get("host", "") if "headers" in scope else ""
    try:
        return _HOST_NAMES[header]
    except KeyError:
        name = _parse_host_name(header)
        if len(_HOST_NAMES) < _MAX_HOST_NAMES:
            _HOST_NAMES[header] = name
        return name


def _parse_host_name(header: str) -> str | None:
    # `_host_name`'s answer for the Host header `header`.
    parsed = parse_host_header(header)
    if parsed is None:
        # Host routing ignores the port, so any run of digits is one (":70000" too), as
        # in Starlette; `URL` stays strict and falls back to the server address instead.
        name, colon, port = header.rpartition(":")
        if colon and port.isascii() and port.isdigit():
            bare = parse_host_header(name)
            # "host:80:80" stays malformed: what precedes the port must not have one.
            parsed = bare if bare is not None and bare.port is None else None
    return None if parsed is None else parsed.host


def _safe_location(url: str) -> str:
    # Without a Host header the redirect URL is a bare path; one starting with "//"
    # (or "/\") would be read by browsers as another host.
    if url.startswith("/"):
        return "/" + url.lstrip("/\\")
    return url


def _build_index(scope_type: str, routes: Sequence[BaseRoute]) -> RouteIndex[BaseRoute]:
    index: RouteIndex[BaseRoute] = RouteIndex(routes)
    for position, route in enumerate(routes):
        route_type = type(route)
        if isinstance(route, Route) and route_type.matches is Route.matches:
            if scope_type == "http":
                _add(index, position, route, route._indexed, getattr(route, "path", None))
        elif isinstance(route, WebSocketRoute) and route_type.matches is WebSocketRoute.matches:
            if scope_type == "websocket":
                _add(index, position, route, route._indexed, getattr(route, "path", None))
        elif isinstance(route, Mount) and route_type.matches is Mount.matches:
            path = getattr(route, "path", None)
            template = path + "/{path:path}" if isinstance(path, str) else None
            _add(index, position, route, route.path_regex is route._template_regex, template)
        elif isinstance(route, Host) and route_type is Host and (name := _host_key(route)):
            index.add_host(position, name)
        else:
            # A Host with parameters, a route that matches its own way, or anything else:
            # always tried.
            index.add_always(position)
    index.freeze(plain=_is_plain)
    return index


def _add(
    index: RouteIndex[BaseRoute],
    position: int,
    route: Route | WebSocketRoute | Mount,
    compiled_here: bool,
    template: str | None,
) -> None:
    # Index `route` by its template, which is what it matches unless its regex was
    # replaced (not `compiled_here`): then only if the new regex is the one its template
    # compiles to (a subclass compiling its own), else it is tried on every path.
    if compiled_here or _compiles_to(route, template):
        index.add(position, route.path_format, route.param_convertors)
    else:
        index.add_always(position)


def _compiles_to(route: Route | WebSocketRoute | Mount, template: str | None) -> bool:
    # Whether `template` compiles to `route`'s regex, format and convertors.
    if template is None:
        return False
    try:
        regex, path_format, convertors, _ = _compiled_template(template)
    except Exception:
        # Not a template this module compiles: the route matches its own way.
        return False
    ours = route.path_regex
    return (
        getattr(ours, "pattern", None) == regex.pattern
        and getattr(ours, "flags", None) == regex.flags
        and route.path_format == path_format
        and _regexes(route.param_convertors) == _regexes(convertors)
    )


def _regexes(convertors: Mapping[str, Convertor[Any]]) -> dict[str, str]:
    return {name: convertor.regex for name, convertor in convertors.items()}


# Compiled once per template, for `_compiles_to`: an index is rebuilt on every change of
# its routes.
_compiled_template = functools.lru_cache(maxsize=4096)(compile_template)


def _host_key(route: Host) -> str | None:
    # The one host name a `Host` route matches, when its regex is that name spelled out
    # (no parameters; the port of its template is dropped, as the regex drops it).
    host = route.host
    name = host[: host.find("]") + 1] if host.startswith("[") else host.partition(":")[0]
    return name if route.host_regex.pattern == "^" + re.escape(name) + "$" else None


def _is_plain(route: BaseRoute) -> bool:
    # A `Route` or `WebSocketRoute` itself, which matches by its own `matches`, with the
    # regex its template compiled to (`_indexed`): what the index can decide for it. (A
    # regex replaced later drops the index, through `store_regex`.)
    return (type(route) is Route or type(route) is WebSocketRoute) and route._indexed


# One index per scope type: an HTTP request never even considers a WebSocketRoute.
_INDEX_BUILDERS = {
    scope_type: functools.partial(_build_index, scope_type) for scope_type in ("http", "websocket")
}
