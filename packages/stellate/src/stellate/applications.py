"""The `Stellate` application: a router wrapped in the standard middleware stack."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

from stellate_asgi.datastructures import State, URLPath
from stellate_asgi.types import ASGIApp, Lifespan, Scope
from stellate_http.requests import Request
from stellate_http.responses import Response
from stellate_middleware import Middleware, _MiddlewareFactory
from stellate_middleware.body_limit import RequestBodyLimitMiddleware
from stellate_middleware.errors import ServerErrorMiddleware
from stellate_middleware.exceptions import ExceptionHandler, ExceptionMiddleware
from stellate_routing import _fused
from stellate_routing.routing import BaseRoute, Router

__all__ = [
    "AppType",
    "BaseRoute",
    "ExceptionMiddleware",
    "Middleware",
    "P",
    "Request",
    "RequestBodyLimitMiddleware",
    "Response",
    "Router",
    "ServerErrorMiddleware",
    "Stellate",
    "State",
    "URLPath",
]

AppType = TypeVar("AppType", bound="Stellate")
P = ParamSpec("P")


class Stellate(_fused.FusedCall):
    """Create an application instance.

    `debug` turns on tracebacks in 500 responses; `routes` are served by the
    application's `Router`; `middleware` wraps them, outermost first;
    `exception_handlers` maps status codes or exception classes to handlers
    (a handler for `500` or `Exception` goes to `ServerErrorMiddleware`);
    `lifespan` is an async context manager factory run at startup and
    shutdown; `max_body_size` limits every request body, in bytes, unless a
    router, mount or route sets its own limit.
    """

    # `_fused_stack` (the default stack fused into one call) and `_fused_for` (the stack
    # it was made for) are `FusedCall`'s: on the class, so that a subclass whose
    # `__init__` skips this one's still works.

    def __init__(
        self: AppType,
        debug: bool = False,
        routes: Sequence[BaseRoute] | None = None,
        middleware: Sequence[Middleware] | None = None,
        exception_handlers: Mapping[Any, ExceptionHandler] | None = None,
        lifespan: Lifespan[AppType] | None = None,
        *,
        max_body_size: int | None = None,
    ) -> None:
        self.debug = debug
        self.state = State()
        self.router = Router(routes, lifespan=lifespan)
        self.exception_handlers: dict[Any, ExceptionHandler] = (
            {} if exception_handlers is None else dict(exception_handlers)
        )
        self.user_middleware = [] if middleware is None else list(middleware)
        if max_body_size is not None:
            # Reject a bad limit now, as Router, Mount and Route do, not at the first request.
            RequestBodyLimitMiddleware(self.router, max_body_size)
        self.max_body_size = max_body_size
        self.middleware_stack: ASGIApp | None = None

    def build_middleware_stack(self) -> ASGIApp:
        """Wrap the router: server errors, body limit, user middleware, exceptions."""
        error_handler = None
        exception_handlers: dict[Any, ExceptionHandler] = {}
        for key, value in self.exception_handlers.items():
            if key in (500, Exception):
                error_handler = value
            else:
                exception_handlers[key] = value

        middleware = [Middleware(ServerErrorMiddleware, handler=error_handler, debug=self.debug)]
        if self.max_body_size is not None:
            # Outside the user's middleware, so a middleware that reads the body
            # is limited too; routes and mounts may still set their own limit.
            middleware.append(
                Middleware(RequestBodyLimitMiddleware, max_body_size=self.max_body_size)
            )
        middleware += self.user_middleware
        middleware.append(
            Middleware(ExceptionMiddleware, handlers=exception_handlers, debug=self.debug)
        )

        app: ASGIApp = self.router
        for cls, args, kwargs in reversed(middleware):
            app = cls(app, *args, **kwargs)
        return app

    @property
    def routes(self) -> list[BaseRoute]:
        return self.router.routes

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return self.router.url_path_for(name, **path_params)

    def _serving(self, scope: Scope) -> _fused.FusedStack | ASGIApp:
        # What serves `scope` for `__call__` (`FusedCall`'s, which runs a fused stack in
        # its own coroutine): the fused stack, or the middleware stack when it cannot be
        # fused. The stack is built on the first call.
        scope["app"] = self
        stack = self.middleware_stack
        if stack is None:
            stack = self.middleware_stack = self.build_middleware_stack()
        if self._fused_for is not stack:
            # Worked out again whenever the stack is (re)built or replaced.
            self._fused_for = stack
            self._fused_stack = _fused.fuse(stack)
        fused = self._fused_stack
        return stack if fused is None else fused

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        self.router.mount(path, app=app, name=name)

    def host(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        self.router.host(host, app=app, name=name)

    def add_middleware(
        self,
        middleware_class: _MiddlewareFactory[P],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        if self.middleware_stack is not None:
            raise RuntimeError("Cannot add middleware after an application has started")
        self.user_middleware.insert(0, Middleware(middleware_class, *args, **kwargs))

    def add_exception_handler(
        self,
        exc_class_or_status_code: int | type[Exception],
        handler: ExceptionHandler,
    ) -> None:
        self.exception_handlers[exc_class_or_status_code] = handler

    def add_route(
        self,
        path: str,
        route: Callable[[Request], Awaitable[Response] | Response],
        methods: list[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        self.router.add_route(
            path, route, methods=methods, name=name, include_in_schema=include_in_schema
        )
