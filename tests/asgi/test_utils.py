from __future__ import annotations

import functools
import time
from typing import Any

import pytest

from stellate_asgi.utils import ParsedHost, get_route_path, is_async_callable, parse_host_header


async def async_function() -> None:
    pass


def sync_function() -> None:
    pass


class AsyncCallable:
    async def __call__(self) -> None:
        pass


class SyncCallable:
    def __call__(self) -> None:
        pass


class WithAsyncMethod:
    async def method(self) -> None:
        pass

    def sync_method(self) -> None:
        pass


def test_is_async_callable_functions() -> None:
    assert is_async_callable(async_function)
    assert not is_async_callable(sync_function)
    assert is_async_callable(lambda: None) is False


def test_is_async_callable_callable_objects() -> None:
    assert is_async_callable(AsyncCallable())
    assert not is_async_callable(SyncCallable())
    # The class itself is callable, but calling it builds an instance, not a coroutine.
    assert not is_async_callable(AsyncCallable)


def test_is_async_callable_methods() -> None:
    obj = WithAsyncMethod()
    assert is_async_callable(obj.method)
    assert not is_async_callable(obj.sync_method)


def test_is_async_callable_sees_through_partials() -> None:
    assert is_async_callable(functools.partial(async_function))
    assert is_async_callable(functools.partial(functools.partial(async_function)))
    assert is_async_callable(functools.partial(AsyncCallable()))
    assert not is_async_callable(functools.partial(sync_function))
    assert not is_async_callable(functools.partial(SyncCallable()))


@pytest.mark.parametrize("value", [None, 1, "text", object()])
def test_is_async_callable_non_callables(value: Any) -> None:
    assert not is_async_callable(value)


@pytest.mark.parametrize(
    ("header", "host", "port"),
    [
        ("example.com", "example.com", None),
        ("example.com:8000", "example.com", 8000),
        ("Example.COM:443", "Example.COM", 443),
        ("example.com:", "example.com", None),
        ("127.0.0.1", "127.0.0.1", None),
        ("127.0.0.1:80", "127.0.0.1", 80),
        ("[::1]", "[::1]", None),
        ("[::1]:8000", "[::1]", 8000),
        ("[2001:db8::1]:65535", "[2001:db8::1]", 65535),
        ("[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]", None),
        ("localhost:0", "localhost", 0),
        ("xn--bcher-kva.example", "xn--bcher-kva.example", None),
        ("under_score.local", "under_score.local", None),
    ],
)
def test_parse_host_header_valid(header: str, host: str, port: int | None) -> None:
    assert parse_host_header(header) == ParsedHost(host, port)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        ":80",
        "example.com:http",
        "example.com:99999",
        "example.com:123456",
        "example.com:-1",
        "example.com:+80",
        "example.com:8 0",
        "example.com:٣",  # a non-ASCII digit
        "a:b:c",
        "::1",
        "[::1",
        "[::1]x",
        "[::1]]",
        "[::1]:80:80",
        "[not-ip]",
        "[1:2:3:4:5:6:7:8:9]",
        "[fe80::1%eth0]",
        "[]",
        "example.com/path",
        "user@example.com",
        "example.com?q",
        "example.com#f",
        "exa mple.com",
        "example.com\r\nX-Injected: 1",
        "bücher.example",
    ],
)
def test_parse_host_header_invalid(header: str | None) -> None:
    assert parse_host_header(header) is None


def test_parse_host_header_empty_port_of_ipv6() -> None:
    # RFC 3986 allows an empty port after the closing bracket too.
    assert parse_host_header("[::1]:") == ParsedHost("[::1]", None)


def test_parsed_host_properties() -> None:
    parsed = parse_host_header("[2001:DB8::1]:8080")
    assert parsed is not None
    assert parsed.hostname == "2001:db8::1"
    assert parsed.authority == "[2001:DB8::1]:8080"
    parsed = parse_host_header("Example.com")
    assert parsed is not None
    assert parsed.hostname == "example.com"
    assert parsed.authority == "Example.com"


def test_parse_host_header_rejects_huge_values_quickly() -> None:
    start = time.perf_counter()
    for header in ("a" * 10_000, "a" * 10_000 + ":80", "[" + ":" * 10_000 + "]", "1" * 1_000_000):
        assert parse_host_header(header) is None
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/users", "", "/users"),
        ("/api/users", "/api", "/users"),
        ("/api/", "/api", "/"),
        ("/api", "/api", ""),
        ("/apiv2/users", "/api", "/apiv2/users"),
        ("/users", "/api", "/users"),
        ("/a/b/c", "/a/b", "/c"),
        ("/", "/", ""),
    ],
)
def test_get_route_path(path: str, root_path: str, expected: str) -> None:
    assert get_route_path({"type": "http", "path": path, "root_path": root_path}) == expected


def test_get_route_path_without_root_path_key() -> None:
    assert get_route_path({"type": "http", "path": "/x"}) == "/x"
