"""`URL` and `URLPath`: a URL parsed on first use, and the path a route reverses to.

Internal to `stellate_asgi.datastructures`, which re-exports both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from stellate_asgi._multidict import MultiDict
from stellate_asgi.types import Scope
from stellate_asgi.utils import parse_host_header

__all__ = ["URL", "URLPath"]

# Ports that a URL built from a scope leaves out, per scheme.
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class URL:
    """An immutable URL, built from a string, from an ASGI `scope`, or from components.

    `URL("https://example.org/a?b=c")`, `URL(scope=scope)` (the full URL of a
    request) or `URL(scheme="https", netloc="example.org", path="/a")`.
    """

    def __init__(self, url: str = "", scope: Scope | None = None, **components: Any) -> None:
        if scope is not None:
            assert not url, 'Cannot set both "url" and "scope".'
            assert not components, 'Cannot set both "scope" and "**components".'
            url = _url_from_scope(scope)
        elif components:
            assert not url, 'Cannot set both "url" and "**components".'
            url = URL("").replace(**components).components.geturl()
        self._url = url
        self._components: SplitResult | None = None

    @property
    def components(self) -> SplitResult:
        if self._components is None:
            self._components = urlsplit(self._url)
        return self._components

    @property
    def scheme(self) -> str:
        return self.components.scheme

    @property
    def netloc(self) -> str:
        return self.components.netloc

    @property
    def path(self) -> str:
        return self.components.path

    @property
    def query(self) -> str:
        return self.components.query

    @property
    def fragment(self) -> str:
        return self.components.fragment

    @property
    def username(self) -> str | None:
        return self.components.username

    @property
    def password(self) -> str | None:
        return self.components.password

    @property
    def hostname(self) -> str | None:
        return self.components.hostname

    @property
    def port(self) -> int | None:
        # urllib raises on a non-numeric or out-of-range port; a URL taken from user
        # input must not turn into a 500 just because its port is nonsense.
        try:
            return self.components.port
        except ValueError:
            return None

    @property
    def is_secure(self) -> bool:
        return self.scheme in ("https", "wss")

    def replace(self, **kwargs: Any) -> URL:
        """A copy with some components replaced.

        Takes `scheme`, `netloc`, `path`, `query`, `fragment`, and also `hostname`,
        `port`, `username` and `password`, which rebuild the netloc (an IPv6 hostname
        is bracketed; `port=None` drops the port).
        """
        if any(key in kwargs for key in ("username", "password", "hostname", "port")):
            hostname = kwargs.pop("hostname", None)
            port = kwargs.pop("port", self.port)
            username = kwargs.pop("username", self.username)
            password = kwargs.pop("password", self.password)

            if hostname is None:
                # Keep the host exactly as written (case, IPv6 brackets), minus the port.
                hostname = self.netloc.rpartition("@")[2]
                if hostname and not hostname.endswith("]"):
                    hostname = hostname.rpartition(":")[0] if ":" in hostname else hostname
            elif ":" in hostname and not hostname.startswith("["):
                hostname = f"[{hostname}]"

            netloc = hostname
            if port is not None:
                netloc += f":{port}"
            if username is not None:
                userinfo = username
                if password is not None:
                    userinfo += f":{password}"
                netloc = f"{userinfo}@{netloc}"
            kwargs["netloc"] = netloc

        components = self.components._replace(**kwargs)
        return self.__class__(components.geturl())

    def include_query_params(self, **kwargs: Any) -> URL:
        """A copy with the given query parameters set (existing ones replaced)."""
        params = MultiDict(parse_qsl(self.query, keep_blank_values=True))
        params.update({str(key): str(value) for key, value in kwargs.items()})
        return self.replace(query=urlencode(params.multi_items()))

    def replace_query_params(self, **kwargs: Any) -> URL:
        """A copy whose query string holds exactly the given parameters."""
        query = urlencode([(str(key), str(value)) for key, value in kwargs.items()])
        return self.replace(query=query)

    def remove_query_params(self, keys: str | Sequence[str]) -> URL:
        """A copy without the query parameters named by `keys`."""
        if isinstance(keys, str):
            keys = [keys]
        removed = set(keys)
        params = [
            (key, value)
            for key, value in parse_qsl(self.query, keep_blank_values=True)
            if key not in removed
        ]
        return self.replace(query=urlencode(params))

    def __eq__(self, other: Any) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        # Consistent with equality against plain strings.
        return hash(self._url)

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        url = str(self)
        if self.password:
            url = str(self.replace(password="********"))
        return f"{self.__class__.__name__}({url!r})"


class URLPath(str):
    """A path produced by `url_path_for`: a `str` that also knows its `protocol`
    ("http", "websocket" or "") and `host` ("" for the current host)."""

    protocol: str
    host: str

    def __new__(
        cls, path: str, protocol: Literal["http", "websocket", ""] = "", host: str = ""
    ) -> URLPath:
        assert protocol in ("http", "websocket", ""), f"Invalid protocol: {protocol!r}"
        return str.__new__(cls, path)

    def __init__(
        self, path: str, protocol: Literal["http", "websocket", ""] = "", host: str = ""
    ) -> None:
        self.protocol = protocol
        self.host = host

    def make_absolute_url(self, base_url: str | URL) -> URL:
        """The absolute `URL` of this path under `base_url`.

        The scheme follows `protocol` (ws/wss for websocket routes, http/https for
        http routes, secure when `base_url` is) and the host is `host` if set.
        """
        if isinstance(base_url, str):
            base_url = URL(base_url)
        if self.protocol == "websocket":
            scheme = "wss" if base_url.is_secure else "ws"
        elif self.protocol == "http":
            scheme = "https" if base_url.is_secure else "http"
        else:
            scheme = base_url.scheme
        netloc = self.host or base_url.netloc
        path = base_url.path.rstrip("/") + str(self)
        return URL(scheme=scheme, netloc=netloc, path=path)


def _url_from_scope(scope: Scope) -> str:
    scheme: str = scope.get("scheme", "http")
    server = scope.get("server")
    # Per the ASGI spec `path` already includes `root_path`.
    path: str = scope["path"]
    query_string: bytes = scope.get("query_string", b"")

    host_header: str | None = None
    for key, value in scope.get("headers", ()):
        if key == b"host":
            host_header = value.decode("latin-1")
            break

    # A Host header is used only if it is a well-formed `host[:port]`: a malformed one
    # (a path, userinfo, spaces, kilobytes of junk) falls back to the server address
    # instead of corrupting every URL built from this request.
    parsed = parse_host_header(host_header)
    if parsed is not None:
        netloc: str | None = parsed.authority
    elif server is not None:
        host, port = server
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        # `str`: some servers (granian) give the port as a string, not the spec's int.
        default_port = port is None or str(port) == str(_DEFAULT_PORTS.get(scheme))
        netloc = host if default_port else f"{host}:{port}"
    else:
        netloc = None

    # The path must never bleed into the authority: "@evil.com" or "//evil.com/x"
    # would otherwise read as a host once the URL is parsed again.
    if netloc is not None:
        if path and not path.startswith("/"):
            path = "/" + path
        url = f"{scheme}://{netloc}{path}"
    elif path.startswith("//"):
        url = "/%2F" + path[2:]
    elif path and not path.startswith("/"):
        url = "/" + path
    else:
        url = path

    if query_string:
        try:
            query = query_string.decode()
        except UnicodeDecodeError:
            query = query_string.decode("latin-1")
        url += "?" + query
    return url
