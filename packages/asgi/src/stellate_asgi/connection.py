"""`HTTPConnection`: the read-only view of an HTTP or WebSocket scope that `Request` and
`WebSocket` build on."""

from __future__ import annotations

import sys
import typing
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, cast

from stellate_asgi.datastructures import URL, Address, Headers, QueryParams, State, URLPath
from stellate_asgi.types import Receive, Scope

__all__ = ["HTTPConnection", "StateT", "cookie_parser"]

# The type of `conn.state`: `State` unless the application declares a typed mapping
# (`Request[MyState]`), as Starlette allows. The PEP 696 default (which lets a bare
# `Request` mean `Request[State]`) reaches `typing.TypeVar` only in Python 3.13, so the
# type checker reads it from its bundled `typing_extensions` stubs; this package keeps
# no runtime dependency.
if TYPE_CHECKING:
    import typing_extensions

    StateT = typing_extensions.TypeVar("StateT", bound=State | Mapping[str, Any], default=State)
elif sys.version_info >= (3, 13):  # pragma: no cover
    StateT = typing.TypeVar("StateT", bound=State | Mapping[str, Any], default=State)
else:  # pragma: no cover
    StateT = typing.TypeVar("StateT", bound=State | Mapping[str, Any])


class _ScopeTypeError(AssertionError, ValueError):
    """A connection built on a scope of the wrong type.

    Starlette has signalled this with `assert` and with `ValueError`; this error is
    both, so code written against either catches it, and unlike an `assert` it
    survives `python -O`.
    """


class _MissingMiddlewareError(AssertionError, RuntimeError):
    """`session`, `auth` or `user` read without the middleware that sets it.

    Both an `AssertionError` and a `RuntimeError` (Starlette has used each), and
    raised even under `python -O`, where an `assert` would give a bare `KeyError`.
    """


class _URLPathProvider(Protocol):
    # What a Router (or the application) offers `url_for`; declared here so that this
    # package never imports the routing package above it.
    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath: ...


class HTTPConnection(Mapping[str, Any], Generic[StateT]):
    """The common base of `Request` and `WebSocket`: a read-only mapping over the ASGI
    `scope` with typed views of its parts (`url`, `headers`, `cookies`, ...)."""

    def __init__(self, scope: Scope, receive: Receive | None = None) -> None:
        if scope["type"] not in ("http", "websocket"):
            raise _ScopeTypeError(
                f"Expected scope type 'http' or 'websocket', got {scope['type']!r}"
            )
        self.scope = scope

    def __getitem__(self, key: str) -> Any:
        return self.scope[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scope)

    def __len__(self) -> int:
        return len(self.scope)

    # Two connections are equal only if they are the same object (a Mapping would
    # otherwise compare scopes), and connections stay hashable.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def app(self) -> Any:
        """The application (`scope["app"]`)."""
        return self.scope["app"]

    @property
    def url(self) -> URL:
        """The full URL of the request."""
        if not hasattr(self, "_url"):
            self._url = URL(scope=self.scope)
        return self._url

    @property
    def base_url(self) -> URL:
        """The URL of the application root (its `root_path`, with a trailing slash)."""
        if not hasattr(self, "_base_url"):
            base_scope = dict(self.scope)
            # Inside a Mount `root_path` names the mount point; `app_root_path` keeps
            # the application's own root, which is what `url_for` must build on.
            app_root_path: str = base_scope.get("app_root_path", base_scope.get("root_path", ""))
            path = app_root_path if app_root_path.endswith("/") else app_root_path + "/"
            base_scope["path"] = path
            base_scope["query_string"] = b""
            base_scope["root_path"] = app_root_path
            self._base_url = URL(scope=base_scope)
        return self._base_url

    @property
    def headers(self) -> Headers:
        """The request headers (case-insensitive)."""
        if not hasattr(self, "_headers"):
            self._headers = Headers(scope=self.scope)
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        """The parsed query string."""
        if not hasattr(self, "_query_params"):
            self._query_params = QueryParams(self.scope.get("query_string", b""))
        return self._query_params

    @property
    def path_params(self) -> dict[str, Any]:
        """The parameters captured from the path by the matched route."""
        path_params: dict[str, Any] = self.scope.get("path_params", {})
        return path_params

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies sent by the client (malformed ones skipped)."""
        if not hasattr(self, "_cookies"):
            cookies: dict[str, str] = {}
            for header in self.headers.getlist("cookie"):
                cookies.update(cookie_parser(header))
            self._cookies = cookies
        return self._cookies

    @property
    def client(self) -> Address | None:
        """The client's `Address(host, port)`, or None if the server does not say."""
        host_port = self.scope.get("client")
        if host_port is not None:
            return Address(*host_port)
        return None

    @property
    def session(self) -> dict[str, Any]:
        """The session (set by `SessionMiddleware`)."""
        if "session" not in self.scope:
            raise _MissingMiddlewareError(
                "SessionMiddleware must be installed to access request.session"
            )
        session: dict[str, Any] = self.scope["session"]
        # Reading the session is what makes a response vary by cookie, even when it is
        # empty: sessions that track access (stellate_sessions.Session) are told.
        mark_accessed = getattr(session, "mark_accessed", None)
        if callable(mark_accessed):
            mark_accessed()
        return session

    @property
    def auth(self) -> Any:
        """The credentials (set by `AuthenticationMiddleware`)."""
        if "auth" not in self.scope:
            raise _MissingMiddlewareError(
                "AuthenticationMiddleware must be installed to access request.auth"
            )
        return self.scope["auth"]

    @property
    def user(self) -> Any:
        """The user (set by `AuthenticationMiddleware`)."""
        if "user" not in self.scope:
            raise _MissingMiddlewareError(
                "AuthenticationMiddleware must be installed to access request.user"
            )
        return self.scope["user"]

    @property
    def state(self) -> StateT:
        """Per-request state; starts from the lifespan state in `scope["state"]`."""
        if not hasattr(self, "_state"):
            # The State writes through to the scope's dict, so middleware and the
            # endpoint see the same values.
            self.scope.setdefault("state", {})
            self._state = State(self.scope["state"])
        return cast(StateT, self._state)

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        """The absolute URL of the route called `name`, filled with `path_params`."""
        provider: _URLPathProvider | None = self.scope.get("router") or self.scope.get("app")
        if provider is None:
            raise RuntimeError(
                "The `url_for` method can only be used inside a Stellate application "
                "or with a router."
            )
        url_path = provider.url_path_for(name, **path_params)
        return url_path.make_absolute_url(base_url=self.base_url)


def cookie_parser(cookie_string: str) -> dict[str, str]:
    """Parse a `Cookie` header into a dict, as browsers send it.

    Lenient and never raising: chunks are split on `;`, a chunk without `=` counts as
    a value with an empty name (as browsers do), and a double-quoted value is unquoted
    (backslash escapes and octal `\\ooo` sequences decoded). Later duplicates win.
    """
    cookies: dict[str, str] = {}
    for chunk in cookie_string.split(";"):
        key, sep, value = chunk.partition("=")
        if not sep:
            key, value = "", chunk
        key, value = key.strip(), value.strip()
        if key or value:
            cookies[key] = _unquote(value)
    return cookies


def _unquote(value: str) -> str:
    # The cookie-value quoting of RFC 2109 as Python's http.cookies writes it.
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    value = value[1:-1]
    if "\\" not in value:
        return value
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        char = value[i]
        if char != "\\" or i + 1 >= n:
            out.append(char)
            i += 1
            continue
        octal = value[i + 1 : i + 4]
        # Octal escapes stop at \377 (one byte), as Python's http.cookies writes them.
        if len(octal) == 3 and octal[0] in "0123" and all(c in "01234567" for c in octal[1:]):
            out.append(chr(int(octal, 8)))
            i += 4
        else:
            out.append(value[i + 1])
            i += 2
    return "".join(out)
