from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, TypedDict

import pytest

from stellate_asgi.connection import HTTPConnection, cookie_parser
from stellate_asgi.datastructures import URL, Address, Headers, QueryParams, State, URLPath
from stellate_asgi.types import Scope


def make_scope(**overrides: Any) -> Scope:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("203.0.113.7", 51234),
        "root_path": "",
        "path": "/users/42",
        "query_string": b"a=1&a=2&b=x+y",
        "headers": [(b"host", b"example.org"), (b"cookie", b"session=abc; theme=dark")],
    }
    scope.update(overrides)
    return scope


class FakeRouter:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        self.calls.append((name, path_params))
        if name == "ws":
            return URLPath("/ws", protocol="websocket")
        return URLPath(f"/users/{path_params['user_id']}", protocol="http")


def test_connection_is_a_read_only_mapping_over_the_scope() -> None:
    scope = make_scope()
    conn: HTTPConnection = HTTPConnection(scope)
    assert isinstance(conn, Mapping)
    assert conn.scope is scope
    assert conn["path"] == "/users/42"
    assert conn.get("missing") is None
    assert set(conn) == set(scope)
    assert len(conn) == len(scope)
    assert "method" in conn


def test_connection_equality_is_identity_and_hashable() -> None:
    scope = make_scope()
    first: HTTPConnection = HTTPConnection(scope)
    second: HTTPConnection = HTTPConnection(scope)
    assert first == first
    assert first != second
    assert len({first, second}) == 2


def test_connection_accepts_websocket_scopes_only_besides_http() -> None:
    conn: HTTPConnection = HTTPConnection(make_scope(type="websocket", scheme="ws"))
    assert conn.url == "ws://example.org/users/42?a=1&a=2&b=x+y"
    with pytest.raises(AssertionError):
        HTTPConnection({"type": "lifespan"})


def test_connection_app() -> None:
    app = object()
    assert HTTPConnection(make_scope(app=app)).app is app
    with pytest.raises(KeyError):
        HTTPConnection(make_scope()).app  # noqa: B018


def test_connection_url_is_built_once() -> None:
    conn: HTTPConnection = HTTPConnection(make_scope())
    url = conn.url
    assert isinstance(url, URL)
    assert url == "http://example.org/users/42?a=1&a=2&b=x+y"
    assert conn.url is url
    assert url.path == "/users/42"


def test_connection_url_without_host_header_uses_server() -> None:
    conn: HTTPConnection = HTTPConnection(
        make_scope(headers=[], server=("10.0.0.1", 8000), query_string=b"")
    )
    assert conn.url == "http://10.0.0.1:8000/users/42"


def test_connection_base_url() -> None:
    conn: HTTPConnection = HTTPConnection(make_scope())
    assert conn.base_url == "http://example.org/"
    assert conn.base_url is conn.base_url


def test_connection_base_url_with_root_path() -> None:
    conn: HTTPConnection = HTTPConnection(make_scope(root_path="/api", path="/api/users/42"))
    assert conn.base_url == "http://example.org/api/"
    assert conn.url == "http://example.org/api/users/42?a=1&a=2&b=x+y"
    conn = HTTPConnection(make_scope(root_path="/api/", path="/api/users/42"))
    assert conn.base_url == "http://example.org/api/"


def test_connection_base_url_prefers_app_root_path_inside_a_mount() -> None:
    scope = make_scope(root_path="/api/mounted", app_root_path="/api", path="/api/mounted/x")
    conn: HTTPConnection = HTTPConnection(scope)
    assert conn.base_url == "http://example.org/api/"


def test_connection_base_url_does_not_touch_the_scope() -> None:
    scope = make_scope(root_path="/api", path="/api/users")
    HTTPConnection(scope).base_url  # noqa: B018
    assert scope["path"] == "/api/users"
    assert scope["query_string"] == b"a=1&a=2&b=x+y"


def test_connection_headers_share_the_scope_list() -> None:
    scope = make_scope()
    conn: HTTPConnection = HTTPConnection(scope)
    assert isinstance(conn.headers, Headers)
    assert conn.headers["Host"] == "example.org"
    assert conn.headers is conn.headers
    # A live view of the scope's list; `raw` hands out a copy, as in Starlette.
    scope["headers"].append((b"x-late", b"1"))
    assert conn.headers["x-late"] == "1"
    assert conn.headers.raw == scope["headers"]
    assert conn.headers.raw is not scope["headers"]


def test_connection_query_params() -> None:
    conn: HTTPConnection = HTTPConnection(make_scope())
    assert isinstance(conn.query_params, QueryParams)
    assert conn.query_params.getlist("a") == ["1", "2"]
    assert conn.query_params["b"] == "x y"
    assert conn.query_params is conn.query_params
    assert HTTPConnection(make_scope(query_string=b"")).query_params == QueryParams()


def test_connection_query_params_missing_from_scope() -> None:
    scope = make_scope()
    del scope["query_string"]
    assert HTTPConnection(scope).query_params == QueryParams()


def test_connection_path_params() -> None:
    assert HTTPConnection(make_scope()).path_params == {}
    conn: HTTPConnection = HTTPConnection(make_scope(path_params={"user_id": 42}))
    assert conn.path_params == {"user_id": 42}


def test_connection_cookies() -> None:
    conn: HTTPConnection = HTTPConnection(make_scope())
    assert conn.cookies == {"session": "abc", "theme": "dark"}
    assert conn.cookies is conn.cookies


def test_connection_cookies_from_several_headers() -> None:
    headers = [(b"cookie", b"a=1; b=2"), (b"cookie", b"b=3; c=4")]
    conn: HTTPConnection = HTTPConnection(make_scope(headers=headers))
    assert conn.cookies == {"a": "1", "b": "3", "c": "4"}


def test_connection_cookies_malformed_never_raise() -> None:
    headers = [(b"cookie", b'=; ;;; bad"; x="\\"; \xff\xfe=\x00; ok=1; "quoted"="v"')]
    conn: HTTPConnection = HTTPConnection(make_scope(headers=headers))
    cookies = conn.cookies
    assert cookies["ok"] == "1"
    assert cookies["x"] == "\\"
    assert cookies["ÿþ"] == "\x00"


def test_connection_no_cookies() -> None:
    assert HTTPConnection(make_scope(headers=[])).cookies == {}


def test_connection_client() -> None:
    client = HTTPConnection(make_scope()).client
    assert client == Address("203.0.113.7", 51234)
    assert isinstance(client, Address)
    assert client.host == "203.0.113.7"
    assert client.port == 51234
    assert HTTPConnection(make_scope(client=None)).client is None
    scope = make_scope()
    del scope["client"]
    assert HTTPConnection(scope).client is None
    assert HTTPConnection(make_scope(client=["::1", 1])).client == ("::1", 1)


def test_connection_session() -> None:
    session: dict[str, Any] = {"user": "alice"}
    assert HTTPConnection(make_scope(session=session)).session is session
    with pytest.raises(
        AssertionError, match=r"SessionMiddleware must be installed to access request\.session"
    ):
        HTTPConnection(make_scope()).session  # noqa: B018


def test_connection_auth_and_user() -> None:
    conn: HTTPConnection = HTTPConnection(make_scope(auth=["authenticated"], user="alice"))
    assert conn.auth == ["authenticated"]
    assert conn.user == "alice"
    conn = HTTPConnection(make_scope())
    with pytest.raises(
        AssertionError, match=r"AuthenticationMiddleware must be installed to access request\.auth"
    ):
        conn.auth  # noqa: B018
    with pytest.raises(
        AssertionError, match=r"AuthenticationMiddleware must be installed to access request\.user"
    ):
        conn.user  # noqa: B018


def test_connection_state_writes_through_to_the_scope() -> None:
    scope = make_scope()
    conn: HTTPConnection = HTTPConnection(scope)
    state = conn.state
    assert isinstance(state, State)
    state.counter = 1
    assert scope["state"] == {"counter": 1}
    assert conn.state is state
    # A second view of the same scope sees the same values.
    other: HTTPConnection = HTTPConnection(scope)
    assert other.state.counter == 1


def test_connection_state_starts_from_lifespan_state() -> None:
    lifespan_state = {"db": "connection"}
    conn: HTTPConnection = HTTPConnection(make_scope(state=lifespan_state))
    assert conn.state.db == "connection"
    conn.state.extra = True
    assert lifespan_state == {"db": "connection", "extra": True}


def test_connection_state_type_parameter() -> None:
    class AppState(TypedDict):
        db: str

    conn: HTTPConnection[AppState] = HTTPConnection(make_scope(state={"db": "x"}))
    # At runtime the value is a State either way; the parameter only informs typing.
    assert conn.state["db"] == "x"


def test_connection_url_for_uses_the_router() -> None:
    router = FakeRouter()
    conn: HTTPConnection = HTTPConnection(make_scope(router=router, app=object()))
    url = conn.url_for("user", user_id=7)
    assert isinstance(url, URL)
    assert url == "http://example.org/users/7"
    assert router.calls == [("user", {"user_id": 7})]


def test_connection_url_for_falls_back_to_the_app() -> None:
    app = FakeRouter()
    conn: HTTPConnection = HTTPConnection(make_scope(app=app))
    assert conn.url_for("user", user_id=1) == "http://example.org/users/1"
    assert app.calls == [("user", {"user_id": 1})]


def test_connection_url_for_name_is_positional_only() -> None:
    router = FakeRouter()
    conn: HTTPConnection = HTTPConnection(make_scope(router=router))
    # A path parameter called "name" does not clash with the route name.
    router.url_path_for = lambda name, /, **params: URLPath(f"/{name}/{params['name']}")  # type: ignore[method-assign]
    assert conn.url_for("tag", name="python") == "http://example.org/tag/python"


def test_connection_url_for_builds_on_the_base_url() -> None:
    scope = make_scope(
        router=FakeRouter(),
        scheme="https",
        root_path="/api/sub",
        app_root_path="/api",
        path="/api/sub/x",
    )
    conn: HTTPConnection = HTTPConnection(scope)
    assert conn.url_for("user", user_id=3) == "https://example.org/api/users/3"
    assert conn.url_for("ws") == "wss://example.org/api/ws"


def test_connection_url_for_without_router_or_app() -> None:
    with pytest.raises(RuntimeError, match="can only be used inside a Stellate application"):
        HTTPConnection(make_scope()).url_for("user", user_id=1)


def test_cookie_parser_simple() -> None:
    assert cookie_parser("chips=ahoy; vienna=finger") == {"chips": "ahoy", "vienna": "finger"}
    assert cookie_parser("keebler=E=mc2") == {"keebler": "E=mc2"}
    assert cookie_parser("key:term=value:term") == {"key:term": "value:term"}
    assert cookie_parser("a=b; c=[d]; e=f") == {"a": "b", "c": "[d]", "e": "f"}
    assert cookie_parser("") == {}
    assert cookie_parser("   ") == {}


def test_cookie_parser_chunk_without_equals_has_an_empty_name() -> None:
    assert cookie_parser("abc") == {"": "abc"}
    assert cookie_parser("a=1; flag") == {"a": "1", "": "flag"}
    assert cookie_parser("a=b; =c") == {"a": "b", "": "c"}


def test_cookie_parser_blank_values_and_whitespace() -> None:
    assert cookie_parser("  a = 1 ;b=  ; =  ;;") == {"a": "1", "b": ""}


def test_cookie_parser_quoted_values() -> None:
    assert cookie_parser('foo="bar"') == {"foo": "bar"}
    assert cookie_parser('foo="a\\"b"') == {"foo": 'a"b'}
    assert cookie_parser('foo="a\\\\b"') == {"foo": "a\\b"}
    assert cookie_parser('foo="\\012"') == {"foo": "\n"}
    assert cookie_parser('foo="\\101\\102"') == {"foo": "AB"}
    assert cookie_parser('foo="\\9"') == {"foo": "9"}
    assert cookie_parser('foo="\\777"') == {"foo": "777"}
    assert cookie_parser('foo="end\\"') == {"foo": "end\\"}
    assert cookie_parser('foo=""') == {"foo": ""}
    assert cookie_parser('foo="') == {"foo": '"'}


def test_cookie_parser_does_not_unquote_partially_quoted_values() -> None:
    cookies = cookie_parser('keebler="E=mc2; L=\\"Loves\\"; fudge=\\012;"')
    assert cookies == {"keebler": '"E=mc2', "L": '\\"Loves\\"', "fudge": "\\012", "": '"'}


def test_cookie_parser_last_duplicate_wins() -> None:
    assert cookie_parser("a=1; a=2") == {"a": "2"}


def test_cookie_parser_hostile_input_is_linear() -> None:
    start = time.perf_counter()
    cookies = cookie_parser("; ".join(f"c{i}=v{i}" for i in range(100_000)))
    assert len(cookies) == 100_000
    assert cookie_parser('x="' + "\\" * 200_001 + '"')["x"].startswith("\\")
    assert cookie_parser(";" * 1_000_000) == {}
    assert time.perf_counter() - start < 5.0
