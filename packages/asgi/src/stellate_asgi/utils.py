"""Small helpers shared by the Stellate packages (re-exported as `stellate._utils`)."""

from __future__ import annotations

import functools
import inspect
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import CodeType
from typing import Any, TypeGuard, TypeVar, overload

from stellate_asgi.types import Scope

__all__ = [
    "AwaitableCallable",
    "ParsedHost",
    "is_async_callable",
    "parse_digits",
    "parse_host_header",
    "get_route_path",
]

T = TypeVar("T")
AwaitableCallable = Callable[..., Awaitable[T]]

# A Host header longer than this is rejected outright: no DNS name (253 characters)
# plus a port comes close, and it bounds the work done on hostile input.
MAX_HOST_LENGTH = 1024

# RFC 3986 `reg-name` characters (unreserved, pct-encoded and sub-delims), which also
# cover IPv4 literals. Anything else (spaces, "/", "@", "?", "#", a second ":") is
# refused so a Host header can never smuggle a path, userinfo or query into a URL.
_REG_NAME_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;="
)
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# What may follow the "." of an RFC 3986 IPvFuture literal (`[v1.foo]`).
_IPVFUTURE_CHARS = _REG_NAME_CHARS - {"%"} | {":"}


@overload
def is_async_callable(obj: AwaitableCallable[T]) -> TypeGuard[AwaitableCallable[T]]: ...


@overload
def is_async_callable(obj: Any) -> TypeGuard[AwaitableCallable[Any]]: ...


def is_async_callable(obj: Any) -> Any:
    """Whether calling `obj` returns a coroutine.

    Sees through `functools.partial` (nested too) and through objects whose
    `__call__` is an `async def`.
    """
    # An `async def` function or method, the usual case, is told by its code's flags
    # without the general (and much slower) inspection below.
    code = getattr(getattr(obj, "__func__", obj), "__code__", None)
    if type(code) is CodeType and code.co_flags & inspect.CO_COROUTINE:
        return True
    while isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    return callable(obj) and inspect.iscoroutinefunction(type(obj).__call__)


@dataclass(frozen=True, slots=True)
class ParsedHost:
    """A valid `Host` header split into `host` and `port`.

    `host` is as sent (an IP literal keeps its brackets: `[::1]`); `port` is an int
    in 0..65535 or None when the header names none.
    """

    host: str
    port: int | None
    # The port as written ("000080" for port 80), which `authority` keeps, as
    # Starlette does when it builds `request.url` from the Host header.
    port_text: str = field(default="", compare=False, repr=False)

    @property
    def hostname(self) -> str:
        """The host without IPv6 brackets, lowercased (hostnames are case-insensitive)."""
        host = self.host
        if host.startswith("["):
            host = host[1:-1]
        return host.lower()

    @property
    def authority(self) -> str:
        """`host[:port]`, suitable for a URL's netloc."""
        if self.port is None:
            return self.host
        return f"{self.host}:{self.port_text or self.port}"


def parse_host_header(host: str | None) -> ParsedHost | None:
    """Parse a `Host` header value (`host[:port]`); None if it is absent or malformed.

    Accepts a registered name or IPv4 address, or a bracketed IPv6 or IPvFuture
    literal, with an optional decimal port (leading zeros allowed, at most 65535).
    Runs in linear time and refuses values over `MAX_HOST_LENGTH` characters.
    """
    if not host or len(host) > MAX_HOST_LENGTH:
        return None
    if host.startswith("["):
        end = host.find("]")
        if end == -1:
            return None
        name, rest = host[: end + 1], host[end + 1 :]
        if not _is_ipv6_literal(name[1:-1]) and not _is_ipvfuture_literal(name[1:-1]):
            return None
    else:
        name, colon, port_text = host.partition(":")
        rest = colon + port_text
        if not name or not _REG_NAME_CHARS.issuperset(name):
            return None
    if rest in ("", ":"):
        # RFC 3986 allows an empty port ("host:"); it means the default port.
        return ParsedHost(name, None)
    if rest[0] != ":":
        return None
    port = _parse_port(rest[1:])
    if port is None:
        return None
    return ParsedHost(name, port, rest[1:])


def parse_digits(text: str, max_digits: int, too_long: int) -> int | None:
    """The number an ASCII run of digits spells (leading zeros allowed); None otherwise.

    For client input (lengths, positions, ports, indices): a run of more than
    `max_digits` significant digits gives `too_long` without being converted, since
    `int()` of thousands of digits costs quadratic time and raises past 4300.
    """
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0")
    if len(digits) > max_digits:
        return too_long
    return int(digits or "0")


def get_route_path(scope: Scope) -> str:
    """The request path relative to the mount point: `path` minus `root_path`.

    `root_path` is removed only when it is a whole-segment prefix of `path`; a server
    that leaves `path` un-prefixed (not ASGI-conformant, but seen in the wild) gets its
    path back unchanged.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if len(path) == len(root_path):
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path


def _is_ipv6_literal(text: str) -> bool:
    # Checked with the stdlib parser; the character screen and length bound keep it
    # cheap on hostile input. Zone ids (`%eth0`) are not allowed in a Host header.
    if not text or len(text) > 45 or not _IPV6_CHARS.issuperset(text) or ":" not in text:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _is_ipvfuture_literal(text: str) -> bool:
    # RFC 3986 `IPvFuture`: "v", hex digits, ".", then unreserved, sub-delims or ":".
    # Only a lowercase "v", the form Python's `urlsplit` accepts in a URL.
    version, dot, rest = text[1:].partition(".")
    return (
        text.startswith("v")
        and bool(version)
        and _HEX_DIGITS.issuperset(version)
        and bool(dot)
        and bool(rest)
        and _IPVFUTURE_CHARS.issuperset(rest)
    )


def _parse_port(text: str) -> int | None:
    # Leading zeros are allowed ("000080" is port 80).
    port = parse_digits(text, 5, -1)
    return port if port is not None and 0 <= port <= 65535 else None
