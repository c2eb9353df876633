"""Views of an ASGI scope and the small containers built on them.

`URL`, `Headers`, `QueryParams` and the multidicts read the raw ASGI values lazily
and never copy more than they must; `MutableHeaders` edits a header list in place, so
a view over `message["headers"]` changes the message itself.
"""

from __future__ import annotations

from collections.abc import (
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
    Sequence,
    ValuesView,
)
from shlex import shlex
from typing import Any, Literal, NamedTuple, TypeVar, cast
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from stellate_asgi.types import Scope
from stellate_asgi.utils import parse_host_header

__all__ = [
    "Address",
    "URL",
    "URLPath",
    "Secret",
    "CommaSeparatedStrings",
    "ImmutableMultiDict",
    "MultiDict",
    "QueryParams",
    "Headers",
    "MutableHeaders",
    "State",
    "parse_host_header",
]

_KeyType = TypeVar("_KeyType")
# Values only come out of an ImmutableMultiDict, so it is covariant in them: an
# ImmutableMultiDict[str, str] is usable where an ImmutableMultiDict[str, object] is.
_CovariantValueType = TypeVar("_CovariantValueType", covariant=True)

# Ports that a URL built from a scope leaves out, per scheme.
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# Header injection guard (an improvement over Starlette, which accepts them): a CR or
# LF in a header name or value would let a value taken from user input end the header
# early and smuggle in extra headers or a body; NUL is refused by every HTTP parser.
_FORBIDDEN_HEADER_CHARS = ("\r", "\n", "\0")


class Address(NamedTuple):
    """A network address: `host` and `port` (`request.client`)."""

    host: str
    port: int


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


class Secret:
    """A string that keeps itself out of logs and tracebacks: `repr()` hides it,
    `str()` reveals it."""

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}('**********')"

    def __str__(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)


class CommaSeparatedStrings(Sequence[str]):
    """A sequence parsed from a comma-separated string (`"a, b, 'c, d'"`); quotes
    group a value that contains a comma."""

    def __init__(self, value: str | Sequence[str]) -> None:
        if isinstance(value, str):
            splitter = shlex(value, posix=True)
            splitter.whitespace = ","
            splitter.whitespace_split = True
            self._items = [item.strip() for item in splitter]
        else:
            self._items = list(value)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int | slice) -> Any:
        return self._items[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({list(self)!r})"

    def __str__(self) -> str:
        return ", ".join(repr(item) for item in self)


class ImmutableMultiDict(Mapping[_KeyType, _CovariantValueType]):
    """A read-only mapping that may hold several values per key.

    `d[key]` and `d.get(key)` give the last value, `d.getlist(key)` all of them in
    order, `d.multi_items()` every pair.
    """

    _dict: dict[_KeyType, _CovariantValueType]
    _list: list[tuple[_KeyType, _CovariantValueType]]

    def __init__(
        self,
        *args: ImmutableMultiDict[_KeyType, _CovariantValueType]
        | Mapping[_KeyType, _CovariantValueType]
        | Iterable[tuple[_KeyType, _CovariantValueType]],
        **kwargs: Any,
    ) -> None:
        assert len(args) < 2, "Too many arguments."
        value: Any = args[0] if args else []
        if kwargs:
            value = (
                ImmutableMultiDict(value).multi_items() + ImmutableMultiDict(kwargs).multi_items()
            )
        items: list[tuple[Any, Any]]
        if not value:
            items = []
        elif hasattr(value, "multi_items"):
            items = list(value.multi_items())
        elif hasattr(value, "keys"):
            items = list(cast(Mapping[Any, Any], value).items())
        else:
            items = list(value)
        self._dict = dict(items)
        self._list = items

    def getlist(self, key: Any) -> list[_CovariantValueType]:
        """Every value of `key`, in order (empty if absent)."""
        return [item_value for item_key, item_value in self._list if item_key == key]

    def keys(self) -> KeysView[_KeyType]:
        return self._dict.keys()

    def values(self) -> ValuesView[_CovariantValueType]:
        return self._dict.values()

    def items(self) -> ItemsView[_KeyType, _CovariantValueType]:
        return self._dict.items()

    def multi_items(self) -> list[tuple[_KeyType, _CovariantValueType]]:
        """Every `(key, value)` pair, duplicates included, in insertion order."""
        return list(self._list)

    def __getitem__(self, key: _KeyType) -> _CovariantValueType:
        return self._dict[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[_KeyType]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, self.__class__):
            return False
        return _same_pairs(self._list, other._list)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.multi_items()!r})"


class MultiDict(ImmutableMultiDict[Any, Any]):
    """A mutable `ImmutableMultiDict`."""

    def __setitem__(self, key: Any, value: Any) -> None:
        self.setlist(key, [value])

    def __delitem__(self, key: Any) -> None:
        self._list = [(k, v) for k, v in self._list if k != key]
        del self._dict[key]

    def pop(self, key: Any, default: Any = None) -> Any:
        self._list = [(k, v) for k, v in self._list if k != key]
        return self._dict.pop(key, default)

    def popitem(self) -> tuple[Any, Any]:
        key, value = self._dict.popitem()
        self._list = [(k, v) for k, v in self._list if k != key]
        return key, value

    def poplist(self, key: Any) -> list[Any]:
        values = [v for k, v in self._list if k == key]
        self.pop(key)
        return values

    def clear(self) -> None:
        self._dict.clear()
        self._list.clear()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self._dict[key] = default
            self._list.append((key, default))
        return self[key]

    def setlist(self, key: Any, values: list[Any]) -> None:
        """Replace every value of `key` by `values` (an empty list removes the key)."""
        if not values:
            self.pop(key, None)
            return
        kept = [(k, v) for k, v in self._list if k != key]
        self._list = kept + [(key, value) for value in values]
        self._dict[key] = values[-1]

    def append(self, key: Any, value: Any) -> None:
        """Add a value for `key`, keeping the existing ones."""
        self._list.append((key, value))
        self._dict[key] = value

    def update(
        self,
        *args: MultiDict | Mapping[Any, Any] | list[tuple[Any, Any]],
        **kwargs: Any,
    ) -> None:
        """Replace the values of every key present in the arguments."""
        value = MultiDict(*args, **kwargs)
        kept = [(k, v) for k, v in self._list if k not in value._dict]
        self._list = kept + value.multi_items()
        self._dict.update(value._dict)


class QueryParams(ImmutableMultiDict[str, str]):
    """An immutable multidict of query parameters, parsed from a query string."""

    def __init__(
        self,
        *args: ImmutableMultiDict[Any, Any]
        | Mapping[Any, Any]
        | list[tuple[Any, Any]]
        | str
        | bytes,
        **kwargs: Any,
    ) -> None:
        assert len(args) < 2, "Too many arguments."
        value = args[0] if args else []
        if isinstance(value, str):
            super().__init__(parse_qsl(value, keep_blank_values=True), **kwargs)
        elif isinstance(value, bytes):
            # latin-1 maps every byte, so hostile bytes cannot raise here; parse_qsl
            # then decodes the percent-escapes as UTF-8.
            query = value.decode("latin-1")
            super().__init__(parse_qsl(query, keep_blank_values=True), **kwargs)
        else:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._list = [(str(k), str(v)) for k, v in self._list]
        self._dict = {str(k): str(v) for k, v in self._dict.items()}

    def __str__(self) -> str:
        return urlencode(self._list)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({str(self)!r})"


class Headers(Mapping[str, str]):
    """An immutable, case-insensitive multidict of HTTP headers.

    Built from a `headers` mapping, from `raw` latin-1 byte pairs, or from an ASGI
    `scope` (whose header list it shares). `h[key]` gives the first value,
    `h.getlist(key)` all of them.
    """

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        raw: list[tuple[bytes, bytes]] | None = None,
        scope: MutableMapping[str, Any] | None = None,
    ) -> None:
        self._list: list[tuple[bytes, bytes]] = []
        if headers is not None:
            assert raw is None, 'Cannot set both "headers" and "raw".'
            assert scope is None, 'Cannot set both "headers" and "scope".'
            self._list = [_encode_header(key, value) for key, value in headers.items()]
        elif raw is not None:
            assert scope is None, 'Cannot set both "raw" and "scope".'
            self._list = raw
        elif scope is not None:
            # The ASGI spec allows any iterable here; make it a list once and store it
            # back so this view and the scope keep sharing one list.
            headers_list = scope["headers"]
            if not isinstance(headers_list, list):
                headers_list = scope["headers"] = list(headers_list)
            self._list = headers_list

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """A copy of the `(name, value)` byte pairs (names lowercase)."""
        return list(self._list)

    def keys(self) -> list[str]:  # type: ignore[override]
        return [key.decode("latin-1") for key, _ in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        return [value.decode("latin-1") for _, value in self._list]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(key.decode("latin-1"), value.decode("latin-1")) for key, value in self._list]

    def getlist(self, key: str) -> list[str]:
        """Every value of the header `key`, in order."""
        name = _lookup_key(key)
        return [value.decode("latin-1") for item_key, value in self._list if item_key == name]

    def mutablecopy(self) -> MutableHeaders:
        return MutableHeaders(raw=self._list[:])

    def __getitem__(self, key: str) -> str:
        name = _lookup_key(key)
        for item_key, value in self._list:
            if item_key == name:
                return value.decode("latin-1")
        raise KeyError(key)

    def __contains__(self, key: Any) -> bool:
        if not isinstance(key, str):
            return False
        name = _lookup_key(key)
        return any(item_key == name for item_key, _ in self._list)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Headers):
            return False
        return sorted(self._list) == sorted(other._list)

    def __repr__(self) -> str:
        name = self.__class__.__name__
        as_dict = dict(self.items())
        if len(as_dict) == len(self):
            return f"{name}({as_dict!r})"
        return f"{name}(raw={self.raw!r})"


class MutableHeaders(Headers):
    """Headers that can be edited in place (`response.headers`).

    Setting a header replaces all its values; names and values containing CR, LF or
    NUL are refused with `ValueError` (header injection guard).
    """

    def __setitem__(self, key: str, value: str) -> None:
        """Set `key` to `value`, replacing every existing value; the header keeps the
        position of its first occurrence."""
        name, encoded = _encode_header(key, value)
        new_list: list[tuple[bytes, bytes]] = []
        found = False
        for item in self._list:
            if item[0] != name:
                new_list.append(item)
            elif not found:
                new_list.append((name, encoded))
                found = True
        if not found:
            new_list.append((name, encoded))
        # In place: this list may be the very one inside a scope or message.
        self._list[:] = new_list

    def __delitem__(self, key: str) -> None:
        """Remove every value of `key` (nothing happens if there is none, as in
        Starlette, so `del headers["content-length"]` needs no guard)."""
        name = _lookup_key(key)
        self._list[:] = [item for item in self._list if item[0] != name]

    def __ior__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        self.update(other)
        return self

    def __or__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        new = self.mutablecopy()
        new.update(other)
        return new

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """The underlying `(name, value)` byte pairs, editable in place."""
        return self._list

    def setdefault(self, key: str, value: str) -> str:
        """The first value of `key`, after setting it to `value` if it was absent."""
        name, encoded = _encode_header(key, value)
        for item_key, item_value in self._list:
            if item_key == name:
                return item_value.decode("latin-1")
        self._list.append((name, encoded))
        return value

    def update(self, other: Mapping[str, str]) -> None:
        """Set every header of `other` (each replaces existing values)."""
        for key, value in other.items():
            self[key] = value

    def append(self, key: str, value: str) -> None:
        """Add a value for `key`, keeping the existing ones (e.g. `set-cookie`)."""
        self._list.append(_encode_header(key, value))

    def add_vary_header(self, vary: str) -> None:
        """Add `vary` to the `Vary` header."""
        existing = self.get("vary")
        if existing is not None:
            vary = ", ".join([existing, vary])
        self["vary"] = vary


class State:
    """An object whose attributes (and items) live in a dict.

    `request.state` and `app.state`; the lifespan state of `scope["state"]`.
    """

    _state: dict[str, Any]

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        if state is None:
            state = {}
        super().__setattr__("_state", state)

    def __setattr__(self, key: Any, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: Any) -> Any:
        # `_state` itself is missing only on an instance made without __init__ (copy,
        # pickle); looking it up in the dict would recurse forever.
        if key == "_state":
            raise AttributeError(key)
        try:
            return self._state[key]
        except KeyError:
            raise AttributeError(
                f"'{self.__class__.__name__}' object has no attribute '{key}'"
            ) from None

    def __delattr__(self, key: Any) -> None:
        try:
            del self._state[key]
        except KeyError:
            raise AttributeError(
                f"'{self.__class__.__name__}' object has no attribute '{key}'"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: str) -> None:
        del self._state[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._state

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)


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
        default_port = port is None or port == _DEFAULT_PORTS.get(scheme)
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


def _encode_header(key: str, value: str) -> tuple[bytes, bytes]:
    for char in _FORBIDDEN_HEADER_CHARS:
        if char in key or char in value:
            raise ValueError(
                f"Invalid header {key!r}: names and values must not contain "
                "CR, LF or NUL characters"
            )
    return key.lower().encode("latin-1"), value.encode("latin-1")


def _lookup_key(key: str) -> bytes:
    # A name that is not latin-1 cannot be present; map it to a value no header has
    # rather than letting a lookup raise UnicodeEncodeError.
    try:
        return key.lower().encode("latin-1")
    except UnicodeEncodeError:
        return b"\0"


def _same_pairs(left: list[tuple[Any, Any]], right: list[tuple[Any, Any]]) -> bool:
    if len(left) != len(right):
        return False
    try:
        return sorted(left) == sorted(right)
    except TypeError:
        # Unorderable values (files in a form): compare as multisets by equality.
        remaining = list(right)
        for item in left:
            try:
                remaining.remove(item)
            except ValueError:
                return False
        return True
