"""Authentication: the primitives (users, credentials, backends, `requires`) and the
middleware that runs a backend for every HTTP request and WebSocket connection.

`AuthenticationMiddleware` asks its `AuthenticationBackend` who is calling and stores
the answer in `scope["auth"]` (an `AuthCredentials`) and `scope["user"]` (a `BaseUser`),
which `request.auth` and `request.user` read. `requires` guards an endpoint by the
scopes of those credentials.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec
from urllib.parse import urlencode

from stellate_asgi.connection import HTTPConnection
from stellate_asgi.exceptions import HTTPException
from stellate_asgi.types import ASGIApp, Receive, Scope, Send
from stellate_asgi.utils import is_async_callable
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, RedirectResponse, Response
from stellate_websockets.websockets import WebSocket

__all__ = [
    "AuthCredentials",
    "AuthenticationBackend",
    "AuthenticationError",
    "AuthenticationMiddleware",
    "BaseUser",
    "SimpleUser",
    "UnauthenticatedUser",
    "has_required_scope",
    "requires",
]

_P = ParamSpec("_P")

# The parameter names `requires` looks for, in the order of the decorated signature.
_CONNECTION_PARAMETERS = ("request", "websocket")


class AuthenticationError(Exception):
    """Raised by a backend for credentials that are present but invalid.

    The middleware answers it with `on_error` (a 400 with the message by default) for
    HTTP, and closes a WebSocket with code 1000.
    """


class AuthCredentials:
    """What an authenticated connection may do: a list of scope names."""

    def __init__(self, scopes: Sequence[str] | None = None):
        self.scopes: list[str] = [] if scopes is None else list(scopes)


class BaseUser:
    """The interface of `request.user`; subclass it for your own user model."""

    @property
    def is_authenticated(self) -> bool:
        raise NotImplementedError()

    @property
    def display_name(self) -> str:
        raise NotImplementedError()

    @property
    def identity(self) -> str:
        raise NotImplementedError()


class SimpleUser(BaseUser):
    """An authenticated user known only by `username`."""

    def __init__(self, username: str) -> None:
        self.username = username

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username


class UnauthenticatedUser(BaseUser):
    """The user of a connection that the backend did not authenticate."""

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return ""


class AuthenticationBackend:
    """Decides who is calling; subclass it and implement `authenticate`."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        """Return `(credentials, user)`, None for an anonymous connection, or raise
        `AuthenticationError` for invalid credentials."""
        raise NotImplementedError()


def has_required_scope(conn: HTTPConnection, scopes: Sequence[str]) -> bool:
    """Whether `conn.auth` grants every one of `scopes`."""
    granted = conn.auth.scopes
    return all(scope in granted for scope in scopes)


def requires(
    scopes: str | Sequence[str],
    status_code: int = 403,
    redirect: str | None = None,
) -> Callable[[Callable[_P, Any]], Callable[_P, Any]]:
    """Guard an endpoint: its connection must hold every one of `scopes`.

    Works on sync and async functions and on endpoint methods that take a parameter
    named `request`, and on WebSocket endpoints that take one named `websocket`.
    A request without the scopes gets `HTTPException(status_code)`, or, with
    `redirect`, a 303 to `url_for(redirect)` with the original URL in a `next` query
    parameter; a WebSocket is closed.
    """
    scopes_list = [scopes] if isinstance(scopes, str) else list(scopes)

    def decorator(func: Callable[_P, Any]) -> Callable[_P, Any]:
        index, kind = _connection_parameter(func)

        if kind == "websocket":

            @functools.wraps(func)
            async def websocket_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> None:
                websocket = _connection_argument(args, kwargs, index, kind, WebSocket)
                if not has_required_scope(websocket, scopes_list):
                    await websocket.close()
                    return
                result = func(*args, **kwargs)
                # A plain function that returns an awaitable is awaited as well.
                if inspect.isawaitable(result):
                    await result

            return websocket_wrapper

        if is_async_callable(func):

            @functools.wraps(func)
            async def async_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                request = _connection_argument(args, kwargs, index, kind, Request)
                if not has_required_scope(request, scopes_list):
                    return _deny(request, status_code, redirect)
                return await func(*args, **kwargs)

            return async_wrapper

        @functools.wraps(func)
        def sync_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
            request = _connection_argument(args, kwargs, index, kind, Request)
            if not has_required_scope(request, scopes_list):
                return _deny(request, status_code, redirect)
            return func(*args, **kwargs)

        return sync_wrapper

    return decorator


class AuthenticationMiddleware:
    """Authenticate every HTTP request and WebSocket connection with `backend`.

    Sets `scope["auth"]` and `scope["user"]` from the backend's answer, or to
    `AuthCredentials()` and `UnauthenticatedUser()` when it returns None. When the
    backend raises `AuthenticationError`, HTTP requests get `on_error(conn, exc)`
    (`default_on_error`: a 400 with the message) and WebSockets are closed with code
    1000. Other scope types pass straight through.
    """

    def __init__(
        self,
        app: ASGIApp,
        backend: AuthenticationBackend,
        on_error: Callable[[HTTPConnection, AuthenticationError], Response] | None = None,
    ) -> None:
        self.app = app
        self.backend = backend
        self.on_error: Callable[[HTTPConnection, AuthenticationError], Response] = (
            on_error if on_error is not None else self.default_on_error
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        conn = HTTPConnection(scope)
        try:
            auth_result = await self.backend.authenticate(conn)
        except AuthenticationError as exc:
            response: Any = self.on_error(conn, exc)
            # Tolerate an `async def` handler rather than failing on its coroutine.
            if inspect.isawaitable(response):
                response = await response
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1000})
            else:
                await response(scope, receive, send)
            return

        if auth_result is None:
            auth_result = AuthCredentials(), UnauthenticatedUser()
        scope["auth"], scope["user"] = auth_result
        await self.app(scope, receive, send)

    @staticmethod
    def default_on_error(conn: HTTPConnection, exc: Exception) -> Response:
        """A plain-text 400 carrying the error message."""
        return PlainTextResponse(str(exc), status_code=400)


class _ConnectionTypeError(AssertionError, TypeError):
    """The `request`/`websocket` argument of a guarded endpoint has the wrong type.

    An `AssertionError` as in Starlette, and a `TypeError` that survives `python -O`.
    """


def _connection_parameter(func: Callable[..., Any]) -> tuple[int, str]:
    """The position and name of the first `request` or `websocket` parameter."""
    for index, parameter in enumerate(inspect.signature(func).parameters.values()):
        if parameter.name in _CONNECTION_PARAMETERS:
            return index, parameter.name
    raise ValueError(f'No "request" or "websocket" argument on function "{func}"')


def _connection_argument(
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    index: int,
    name: str,
    expected: type[HTTPConnection],
) -> Any:
    conn = kwargs[name] if name in kwargs else args[index] if index < len(args) else None
    if not isinstance(conn, expected):
        raise _ConnectionTypeError(
            f"Parameter with name '{name}' is required to be of type "
            f"'{expected.__name__}' not '{type(conn).__name__}'"
        )
    return conn


def _deny(request: Request, status_code: int, redirect: str | None) -> Response:
    if redirect is None:
        raise HTTPException(status_code=status_code)
    next_query = urlencode({"next": str(request.url)})
    return RedirectResponse(url=f"{request.url_for(redirect)}?{next_query}", status_code=303)
