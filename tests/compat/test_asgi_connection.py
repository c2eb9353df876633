"""Starlette-compatibility checks for `HTTPConnection`, `cookie_parser` and `_utils`,
through the umbrella."""

from __future__ import annotations

import functools
import re
from typing import Any
from unittest.mock import AsyncMock

import pytest

from stellate._utils import get_route_path, is_async_callable, parse_host_header
from stellate.datastructures import URL, Address, State, URLPath
from stellate.requests import HTTPConnection, Request, cookie_parser
from stellate.types import Scope


def http_scope(**overrides: Any) -> Scope:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("testserver", 80),
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
    }
    scope.update(overrides)
    return scope


# HTTPConnection


def test_connection_is_a_mapping_over_the_scope() -> None:
    request = Request({"type": "http", "method": "PATCH", "path": "/items/"})
    assert request["method"] == "PATCH"
    assert dict(request) == {"type": "http", "method": "PATCH", "path": "/items/"}
    assert len(request) == 3
    assert request.method == "PATCH"


def test_connections_compare_by_identity() -> None:
    scope = http_scope()
    first, second = HTTPConnection(scope), HTTPConnection(scope)
    assert first == first
    assert first != second
    assert len({first, second}) == 2


@pytest.mark.parametrize(
    ("client", "expected"),
    [(["198.51.100.4", 4711], Address("198.51.100.4", 4711)), (None, None), ("absent", None)],
)
def test_connection_client(client: Any, expected: Address | None) -> None:
    scope = http_scope()
    if client != "absent":
        scope["client"] = client
    assert Request(scope).client == expected


def test_connection_url_base_url_and_params() -> None:
    scope = http_scope(
        path="/shop/items/7",
        root_path="/shop",
        query_string=b"a=1&a=2",
        path_params={"id": 7},
    )
    request = Request(scope)
    assert request.url == "http://testserver/shop/items/7?a=1&a=2"
    assert request.base_url == "http://testserver/shop/"
    assert request.query_params.getlist("a") == ["1", "2"]
    assert request.path_params == {"id": 7}
    assert Request(http_scope()).path_params == {}


@pytest.mark.parametrize(
    ("key", "middleware"),
    [
        ("session", "SessionMiddleware"),
        ("auth", "AuthenticationMiddleware"),
        ("user", "AuthenticationMiddleware"),
    ],
)
def test_connection_properties_need_their_middleware(key: str, middleware: str) -> None:
    request = Request(http_scope())
    message = f"{middleware} must be installed to access request.{key}"
    # Starlette raised AssertionError for years and RuntimeError in later code:
    # both are caught.
    with pytest.raises(AssertionError, match=message):
        getattr(request, key)
    with pytest.raises(RuntimeError, match=message):
        getattr(request, key)


def test_connection_properties_read_the_scope() -> None:
    request = Request(http_scope(session={"n": 1}, auth="creds", user="alice"))
    assert request.session == {"n": 1}
    assert request.auth == "creds"
    assert request.user == "alice"


def test_connection_rejects_other_scope_types() -> None:
    with pytest.raises(AssertionError):
        HTTPConnection({"type": "lifespan"})
    with pytest.raises(ValueError):
        HTTPConnection({"type": "lifespan"})
    with pytest.raises(AssertionError):
        Request({"type": "websocket"})
    with pytest.raises(ValueError):
        Request({"type": "websocket"})


def test_connection_state_writes_through_to_the_scope() -> None:
    scope = http_scope(state={"lifespan_value": 1})
    request = Request(scope)
    assert isinstance(request.state, State)
    assert request.state.lifespan_value == 1
    request.state.per_request = "x"
    assert scope["state"] == {"lifespan_value": 1, "per_request": "x"}
    assert request.state is request.state


def test_connection_state_is_created_when_absent() -> None:
    scope = http_scope()
    request = Request(scope)
    request.state.flag = True
    assert scope["state"] == {"flag": True}


def test_connection_url_for_needs_a_router() -> None:
    request = Request(http_scope())
    with pytest.raises(
        RuntimeError,
        match=re.escape(
            "The `url_for` method can only be used inside a Stellate application or with a router."
        ),
    ):
        request.url_for("index")


def test_connection_url_for_uses_the_router_and_app_root() -> None:
    class Router:
        def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
            return URLPath(f"/{name}/{path_params['pk']}", "http")

    scope = http_scope(router=Router(), path="/api/v1/x", root_path="/api/v1", app_root_path="/api")
    assert Request(scope).url_for("things", pk=3) == URL("http://testserver/api/things/3")


# cookie_parser


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("flavour=oat; size=big", {"flavour": "oat", "size": "big"}),
        # Every semicolon separates, even inside quotes.
        (
            'recipe="flour=1; S=\\"Sugar\\"; salt=\\041;"',
            {"recipe": '"flour=1', "S": '\\"Sugar\\"', "salt": "\\041", "": '"'},
        ),
        ("expr=x=y+1", {"expr": "x=y+1"}),
        ("ns:key=val:ue", {"ns:key": "val:ue"}),
        ("p=q; r=]; s=t", {"p": "q", "r": "]", "s": "t"}),
        ("id=5; Path=/docs", {"id": "5", "Path": "/docs"}),
        ("k=1; other=2; k=3", {"k": "3", "other": "2"}),
    ],
)
def test_cookie_parser_edge_cases(header: str, expected: dict[str, str]) -> None:
    assert cookie_parser(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("lang=fr; lonely; theme=dark", {"": "lonely", "lang": "fr", "theme": "dark"}),
        ('x=1; "; y=2', {"x": "1", "": '"', "y": "2"}),
        ("my name=my value = 1; ok=2", {"my name": "my value = 1", "ok": "2"}),
        ('k  l,m<>@:/[]?{}=v  "  =w,x y', {"k  l,m<>@:/[]?{}": 'v  "  =w,x y'}),
        ("city=Zürich Nord", {"city": "Zürich Nord"}),
        ("  =  v  ;  ;  =  ;   w  =  ;  ", {"": "v", "w": ""}),
    ],
)
def test_cookie_parser_accepts_what_browsers_send(header: str, expected: dict[str, str]) -> None:
    assert cookie_parser(header) == expected


def test_cookie_parser_unquotes_like_python() -> None:
    assert cookie_parser('q="a\\"b"; o="\\101\\102"; plain="x"') == {
        "q": 'a"b',
        "o": "AB",
        "plain": "x",
    }


def test_connection_cookies_from_several_headers() -> None:
    scope = http_scope(headers=[(b"cookie", b"a=1; b=2"), (b"cookie", b"c=3"), (b"cookie", b"a=4")])
    assert Request(scope).cookies == {"a": "4", "b": "2", "c": "3"}


# _utils


def test_is_async_callable_functions_and_methods() -> None:
    async def coroutine_function() -> None: ...  # pragma: no cover

    def plain_function() -> None: ...  # pragma: no cover

    class Methods:
        async def async_method(self) -> None: ...  # pragma: no cover

        def sync_method(self) -> None: ...  # pragma: no cover

    assert is_async_callable(coroutine_function)
    assert not is_async_callable(plain_function)
    assert is_async_callable(Methods().async_method)
    assert not is_async_callable(Methods().sync_method)
    assert is_async_callable(AsyncMock())


def test_is_async_callable_partials_and_callable_objects() -> None:
    async def coroutine_function(a: int, b: int) -> None: ...  # pragma: no cover

    def plain_function(a: int, b: int) -> None: ...  # pragma: no cover

    class AsyncCall:
        async def __call__(self, a: int, b: int) -> None: ...  # pragma: no cover

    class SyncCall:
        def __call__(self, a: int, b: int) -> None: ...  # pragma: no cover

    assert is_async_callable(functools.partial(coroutine_function, 1))
    assert not is_async_callable(functools.partial(plain_function, 1))
    assert is_async_callable(AsyncCall())
    assert not is_async_callable(SyncCall())
    assert is_async_callable(functools.partial(AsyncCall(), 1))
    assert not is_async_callable(functools.partial(SyncCall(), 1))
    nested = functools.partial(functools.partial(coroutine_function, b=2), a=1)
    assert is_async_callable(nested)


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/docs-v2/intro", "/docs", "/docs-v2/intro"),
        ("/docs/intro", "/docs", "/intro"),
        ("/docs", "/docs", ""),
        ("/intro", "", "/intro"),
    ],
)
def test_get_route_path(path: str, root_path: str, expected: str) -> None:
    assert get_route_path({"type": "http", "path": path, "root_path": root_path}) == expected


def test_parse_host_header_through_the_umbrella() -> None:
    parsed = parse_host_header("api.example:08080")
    assert parsed is not None
    assert parsed.hostname == "api.example"
    assert parsed.port == 8080
    assert parsed.authority == "api.example:08080"
    assert parse_host_header("api.example/x") is None
