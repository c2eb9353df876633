"""Starlette-compatibility checks for the scope views, through the umbrella.

`URL`, `URLPath`, `Headers`, `MutableHeaders`, `QueryParams`, the multidicts and the
small value types: each test pins a behaviour a ported Starlette test relies on
(string forms, reprs, equality, error types).
"""

from __future__ import annotations

import pytest

from stellate.datastructures import (
    URL,
    Address,
    CommaSeparatedStrings,
    Headers,
    ImmutableMultiDict,
    MultiDict,
    MutableHeaders,
    QueryParams,
    Secret,
    State,
    URLPath,
)
from stellate.types import Scope


def http_scope(**overrides: object) -> Scope:
    scope: Scope = {"type": "http", "scheme": "http", "query_string": b"", "headers": []}
    scope.update(overrides)
    return scope


# URL


def test_url_components() -> None:
    url = URL("https://shop.example:8443/cart/items?sort=asc#top")
    assert url.scheme == "https"
    assert url.netloc == "shop.example:8443"
    assert url.hostname == "shop.example"
    assert url.port == 8443
    assert url.path == "/cart/items"
    assert url.query == "sort=asc"
    assert url.fragment == "top"
    assert url.username is None
    assert url.password is None
    assert url.is_secure
    assert not URL("ws://shop.example/").is_secure
    assert URL("wss://shop.example/").is_secure


def test_url_replace_components() -> None:
    url = URL("https://shop.example:8443/cart?sort=asc#top")
    assert url.replace(scheme="http") == "http://shop.example:8443/cart?sort=asc#top"
    assert url.replace(port=None) == "https://shop.example/cart?sort=asc#top"
    assert url.replace(port=None).port is None
    replaced = url.replace(hostname="store.example")
    assert replaced == "https://store.example:8443/cart?sort=asc#top"
    assert replaced.hostname == "store.example"
    assert url.replace(path="/other", query="", fragment="") == "https://shop.example:8443/other"


def test_url_replace_keeps_userinfo_and_ipv6_brackets() -> None:
    ipv6 = URL("http://[2001:db8::7]:9000")
    assert ipv6.replace(port=9100) == "http://[2001:db8::7]:9100"
    with_user = ipv6.replace(username="alice", password="s3cret")
    assert with_user == "http://alice:s3cret@[2001:db8::7]:9000"
    assert with_user.netloc == "alice:s3cret@[2001:db8::7]:9000"
    assert URL("http://[2001:db8::7]").replace(port=81) == "http://[2001:db8::7]:81"

    assert URL("http://bob:pw@old.example/").replace(hostname="new.example") == URL(
        "http://bob:pw@new.example/"
    )
    assert URL("http://bob:pw@old.example:80").replace(port=8080) == URL(
        "http://bob:pw@old.example:8080"
    )
    assert URL("http://old.example:80").replace(username="bob") == URL("http://bob@old.example:80")


def test_url_replace_authority_of_a_relative_url() -> None:
    url = URL("/files?page=2")
    assert url.replace(port=7000) == URL("//:7000/files?page=2")
    assert url.replace(port=7000).port == 7000
    assert url.replace(username="bob") == URL("//bob@/files?page=2")


def test_url_query_param_helpers() -> None:
    url = URL("https://shop.example/list/?page=1")
    url = url.include_query_params(page=2)
    assert str(url) == "https://shop.example/list/?page=2"
    url = url.include_query_params(q="red shoes")
    assert str(url) == "https://shop.example/list/?page=2&q=red+shoes"
    url = url.replace_query_params(sort="price")
    assert str(url) == "https://shop.example/list/?sort=price"
    url = url.remove_query_params("sort")
    assert str(url) == "https://shop.example/list/"
    url = url.include_query_params(page=3, q="hats")
    assert str(url) == "https://shop.example/list/?page=3&q=hats"
    url = url.remove_query_params(["page", "q"])
    assert str(url) == "https://shop.example/list/"


def test_url_repr_hides_the_password_only() -> None:
    assert repr(URL("https://shop.example/a")) == "URL('https://shop.example/a')"
    assert repr(URL("https://bob@shop.example/a")) == "URL('https://bob@shop.example/a')"
    assert (
        repr(URL("https://bob:pw@shop.example/a")) == "URL('https://bob:********@shop.example/a')"
    )


def test_url_equals_its_string() -> None:
    assert URL("http://a.example/x") == "http://a.example/x"
    assert URL("http://a.example/x") == URL("http://a.example/x")
    assert URL("http://a.example/x") != "http://a.example/y"


def test_url_from_components() -> None:
    url = URL(scheme="https", netloc="a.example", path="/p", query="x=1")
    assert url == "https://a.example/p?x=1"


def test_url_from_scope_without_host() -> None:
    url = URL(scope=http_scope(path="/orders/7", query_string=b"full=1"))
    assert url == "/orders/7?full=1"
    assert repr(url) == "URL('/orders/7?full=1')"
    assert URL(scope=http_scope(path="/orders/7")) == "/orders/7"


def test_url_from_scope_server_and_default_ports() -> None:
    url = URL(scope=http_scope(scheme="https", server=("api.example", 8443), path="/v1"))
    assert url == "https://api.example:8443/v1"
    url = URL(scope=http_scope(scheme="https", server=("api.example", 443), path="/v1"))
    assert url == "https://api.example/v1"
    url = URL(scope=http_scope(scheme="ws", server=("api.example", 80), path="/ws"))
    assert url == "ws://api.example/ws"


def test_url_from_scope_host_header_wins() -> None:
    scope = http_scope(
        server=("10.0.0.1", 8000),
        path="/v1",
        query_string=b"a=1",
        headers=[(b"accept", b"*/*"), (b"host", b"api.example:9000"), (b"x-b", b"2")],
    )
    url = URL(scope=scope)
    assert url == "http://api.example:9000/v1?a=1"
    assert repr(url) == "URL('http://api.example:9000/v1?a=1')"


def test_url_from_scope_keeps_the_port_as_written() -> None:
    url = URL(scope=http_scope(path="/x", headers=[(b"host", b"api.example:0008080")]))
    assert url == "http://api.example:0008080/x"
    assert url.port == 8080


@pytest.mark.parametrize(
    "host",
    [
        b"evil.example/?q=",
        b"evil.example/#",
        b"evil.example/path",
        b"user@evil.example",
        b"evil\\example",
        b"evil example",
        b"evil.example:70000",
        b"evil.example:1000000",
        b"[::::]",
        b"[::ffff:300.1.1.1]",
        b"[V2.future]",
    ],
)
def test_url_from_scope_ignores_an_invalid_host_header(host: bytes) -> None:
    scope = http_scope(server=("api.example", 80), path="/private", headers=[(b"host", host)])
    url = URL(scope=scope)
    assert url.netloc == "api.example"
    assert url.path == "/private"


@pytest.mark.parametrize(
    ("server", "netloc"), [(("::1", 80), "[::1]"), (("fe80::2", 8080), "[fe80::2]:8080")]
)
def test_url_from_scope_brackets_an_ipv6_server(server: tuple[str, int], netloc: str) -> None:
    scope = http_scope(server=server, path="/", headers=[(b"host", b"[bad")])
    url = URL(scope=scope)
    assert url.netloc == netloc
    assert url.hostname == server[0]


def test_url_from_scope_accepts_an_ipvfuture_host() -> None:
    url = URL(scope=http_scope(path="/", headers=[(b"host", b"[v7.node]")]))
    assert url.netloc == "[v7.node]"
    assert url.hostname == "v7.node"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("@attacker.example", "/@attacker.example"),
        ("me:pw@attacker.example", "/me:pw@attacker.example"),
        ("//attacker.example/p", "//attacker.example/p"),
        ("https://attacker.example/p", "/https://attacker.example/p"),
    ],
)
@pytest.mark.parametrize("host_header", [True, False], ids=["host-header", "server"])
def test_url_from_scope_path_never_becomes_the_authority(
    path: str, expected: str, host_header: bool
) -> None:
    headers = [(b"host", b"site.example")] if host_header else []
    scope = http_scope(server=("site.example", 80), path=path, query_string=b"k=v", headers=headers)
    url = URL(scope=scope)
    assert url.hostname == "site.example"
    assert url.path == expected
    assert url.query == "k=v"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("@attacker.example", "/@attacker.example"),
        ("me:pw@attacker.example", "/me:pw@attacker.example"),
        ("//attacker.example/p", "/%2Fattacker.example/p"),
        ("https://attacker.example/p", "/https://attacker.example/p"),
    ],
)
def test_url_from_scope_without_any_origin(path: str, expected: str) -> None:
    url = URL(scope=http_scope(server=None, path=path, query_string=b"k=v"))
    assert url.hostname is None
    assert url.netloc == ""
    assert url.path == expected
    assert url.query == "k=v"


def test_url_conflicting_arguments() -> None:
    with pytest.raises(AssertionError):
        URL("http://a.example", scope=http_scope(path="/"))
    with pytest.raises(AssertionError):
        URL("http://a.example", path="/")
    with pytest.raises(AssertionError):
        URL(scope=http_scope(path="/"), path="/")


# URLPath


@pytest.mark.parametrize(
    ("protocol", "base", "expected"),
    [
        ("http", "http://app.example/", "http://app.example/items/1"),
        ("http", "https://app.example/", "https://app.example/items/1"),
        ("websocket", "http://app.example/", "ws://app.example/items/1"),
        ("websocket", "https://app.example/", "wss://app.example/items/1"),
        ("", "https://app.example/", "https://app.example/items/1"),
        ("http", "http://app.example/mounted/", "http://app.example/mounted/items/1"),
    ],
)
def test_url_path_make_absolute_url(protocol: str, base: str, expected: str) -> None:
    path = URLPath("/items/1", protocol)  # type: ignore[arg-type]
    assert path == "/items/1"
    assert path.make_absolute_url(base) == expected
    assert path.make_absolute_url(URL(base)) == expected


def test_url_path_with_a_host() -> None:
    path = URLPath("/dash", "http", host="admin.example")
    assert path.make_absolute_url("https://www.example/") == "https://admin.example/dash"


def test_url_path_rejects_unknown_protocol() -> None:
    with pytest.raises(AssertionError):
        URLPath("/", "gopher")  # type: ignore[arg-type]


# Headers


def test_headers_from_raw_pairs() -> None:
    headers = Headers(raw=[(b"x-tag", b"red"), (b"x-tag", b"blue"), (b"accept", b"*/*")])
    assert "x-tag" in headers
    assert "X-Tag" in headers
    assert "ACCEPT" in headers
    assert "x-missing" not in headers
    assert headers["X-TAG"] == "red"
    assert headers.get("x-tag") == "red"
    assert headers.get("x-missing", None) is None
    assert headers.getlist("x-tag") == ["red", "blue"]
    assert headers.keys() == ["x-tag", "x-tag", "accept"]
    assert headers.values() == ["red", "blue", "*/*"]
    assert headers.items() == [("x-tag", "red"), ("x-tag", "blue"), ("accept", "*/*")]
    assert list(headers) == ["x-tag", "x-tag", "accept"]
    assert len(headers) == 3
    assert dict(headers) == {"x-tag": "red", "accept": "*/*"}
    assert repr(headers) == (
        "Headers(raw=[(b'x-tag', b'red'), (b'x-tag', b'blue'), (b'accept', b'*/*')])"
    )
    with pytest.raises(KeyError):
        headers["x-missing"]


def test_headers_equality_ignores_order_only() -> None:
    headers = Headers(raw=[(b"a", b"1"), (b"a", b"2"), (b"b", b"3")])
    assert headers == Headers(raw=[(b"b", b"3"), (b"a", b"2"), (b"a", b"1")])
    assert headers != Headers(raw=[(b"a", b"1"), (b"b", b"3")])
    assert headers != [(b"a", b"1"), (b"a", b"2"), (b"b", b"3")]


def test_headers_from_a_mapping_lowercases_names() -> None:
    headers = Headers({"Content-Type": "text/csv", "X-Id": "9"})
    assert headers["content-type"] == "text/csv"
    assert headers["X-ID"] == "9"
    assert headers.raw == [(b"content-type", b"text/csv"), (b"x-id", b"9")]
    assert repr(headers) == "Headers({'content-type': 'text/csv', 'x-id': '9'})"


def test_headers_conflicting_arguments() -> None:
    with pytest.raises(AssertionError):
        Headers({"a": "1"}, raw=[])
    with pytest.raises(AssertionError):
        Headers({"a": "1"}, scope={"headers": []})
    with pytest.raises(AssertionError):
        Headers(raw=[], scope={"headers": []})


def test_headers_mutablecopy_is_independent() -> None:
    headers = Headers(raw=[(b"a", b"1"), (b"a", b"2"), (b"b", b"3")])
    copy = headers.mutablecopy()
    assert isinstance(copy, MutableHeaders)
    assert copy.items() == [("a", "1"), ("a", "2"), ("b", "3")]
    copy["a"] = "new"
    assert copy.items() == [("a", "new"), ("b", "3")]
    assert headers.getlist("a") == ["1", "2"]


def test_mutable_headers_editing() -> None:
    headers = MutableHeaders()
    assert dict(headers) == {}
    headers["X-Mode"] = "fast"
    assert dict(headers) == {"x-mode": "fast"}
    headers["x-mode"] = "slow"
    assert dict(headers) == {"x-mode": "slow"}
    assert headers.setdefault("x-mode", "other") == "slow"
    assert headers.setdefault("x-extra", "yes") == "yes"
    assert dict(headers) == {"x-mode": "slow", "x-extra": "yes"}
    headers.append("x-extra", "again")
    assert headers.getlist("x-extra") == ["yes", "again"]
    del headers["x-mode"]
    del headers["x-not-there"]
    assert headers.raw == [(b"x-extra", b"yes"), (b"x-extra", b"again")]
    headers.update({"x-extra": "once"})
    assert headers.raw == [(b"x-extra", b"once")]


def test_mutable_headers_add_vary_header() -> None:
    headers = MutableHeaders()
    headers.add_vary_header("Origin")
    assert headers["vary"] == "Origin"
    headers.add_vary_header("Accept-Encoding")
    assert headers["vary"] == "Origin, Accept-Encoding"


@pytest.mark.parametrize("other", [MutableHeaders({"x-a": "1"}), {"x-a": "1"}])
def test_mutable_headers_or_makes_a_new_object(other: MutableHeaders | dict[str, str]) -> None:
    headers = MutableHeaders({"x-b": "2"})
    merged = headers | other
    assert isinstance(merged, MutableHeaders)
    assert merged.items() == [("x-b", "2"), ("x-a", "1")]
    assert merged.raw == [(b"x-b", b"2"), (b"x-a", b"1")]
    assert headers.items() == [("x-b", "2")]


@pytest.mark.parametrize("other", [MutableHeaders({"x-a": "1"}), {"x-a": "1"}])
def test_mutable_headers_ior_updates_in_place(other: MutableHeaders | dict[str, str]) -> None:
    headers = MutableHeaders()
    same = headers
    headers |= other
    assert headers is same
    assert isinstance(headers, MutableHeaders)
    assert dict(headers) == {"x-a": "1"}
    assert headers.raw == [(b"x-a", b"1")]


def test_mutable_headers_merge_with_a_non_mapping_is_a_type_error() -> None:
    headers = MutableHeaders()
    with pytest.raises(TypeError):
        headers |= {"x-a"}  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        headers | {"x-a"}  # type: ignore[operator]


def test_mutable_headers_from_a_scope_with_a_tuple() -> None:
    scope: Scope = {"type": "http", "headers": ((b"x-a", b"1"),)}
    headers = MutableHeaders(scope=scope)
    assert dict(headers) == {"x-a": "1"}
    headers.update({"x-b": "2"})
    assert list(headers.items()) == [("x-a", "1"), ("x-b", "2")]
    assert list(headers.raw) == [(b"x-a", b"1"), (b"x-b", b"2")]
    # The edits are the scope's.
    assert list(scope["headers"]) == [(b"x-a", b"1"), (b"x-b", b"2")]


def test_mutable_headers_over_a_message_edit_the_message() -> None:
    message = {"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]}
    headers = MutableHeaders(scope=message)
    headers["x-a"] = "2"
    headers.append("set-cookie", "a=1")
    assert message["headers"] == [(b"x-a", b"2"), (b"set-cookie", b"a=1")]


# QueryParams and multidicts


def test_query_params_parsing() -> None:
    params = QueryParams("color=red&color=blue&size=9")
    assert "color" in params
    assert "Color" not in params
    assert "weight" not in params
    assert params["color"] == "blue"
    assert params.get("color") == "blue"
    assert params.get("weight", None) is None
    assert params.getlist("color") == ["red", "blue"]
    assert list(params.keys()) == ["color", "size"]
    assert list(params.values()) == ["blue", "9"]
    assert list(params.items()) == [("color", "blue"), ("size", "9")]
    assert params.multi_items() == [("color", "red"), ("color", "blue"), ("size", "9")]
    assert len(params) == 2
    assert list(params) == ["color", "size"]
    assert dict(params) == {"color": "blue", "size": "9"}
    assert str(params) == "color=red&color=blue&size=9"
    assert repr(params) == "QueryParams('color=red&color=blue&size=9')"


def test_query_params_blank_values() -> None:
    params = QueryParams("q=shoes&debug&verbose&page=2")
    assert list(params.keys()) == ["q", "debug", "verbose", "page"]
    assert params["debug"] == ""
    assert params.get("verbose") == ""
    assert params["q"] == "shoes"


def test_query_params_equality_and_sources() -> None:
    assert QueryParams({"x": "1", "y": "2"}) == QueryParams([("x", "1"), ("y", "2")])
    assert QueryParams({"x": "1", "y": "2"}) == QueryParams("x=1&y=2")
    assert QueryParams({"x": "1", "y": "2"}) == QueryParams({"y": "2", "x": "1"})
    assert QueryParams(b"x=1&y=2") == QueryParams("x=1&y=2")
    assert QueryParams() == QueryParams({})
    assert QueryParams([("x", "1"), ("x", "2")]) == QueryParams("x=1&x=2")
    assert QueryParams({"x": "1"}) != "x=1"
    params = QueryParams([("x", "1"), ("x", "2")])
    assert QueryParams(params) == params
    assert QueryParams("x=1", y="2") == QueryParams("x=1&y=2")


def test_query_params_values_become_strings() -> None:
    params = QueryParams({"n": 5, "flag": True})
    assert params["n"] == "5"
    assert str(params) == "n=5&flag=True"


def test_query_params_percent_decoding() -> None:
    params = QueryParams("name=J%C3%BCrgen&msg=a+b%26c")
    assert params["name"] == "Jürgen"
    assert params["msg"] == "a b&c"
    assert str(params) == "name=J%C3%BCrgen&msg=a+b%26c"


def test_immutable_multidict() -> None:
    data = ImmutableMultiDict([("k", "1"), ("k", "2")], extra="3")
    assert data.multi_items() == [("k", "1"), ("k", "2"), ("extra", "3")]
    assert data["k"] == "2"
    assert repr(data) == "ImmutableMultiDict([('k', '1'), ('k', '2'), ('extra', '3')])"
    assert not hasattr(data, "__setitem__")
    with pytest.raises(AssertionError):
        ImmutableMultiDict([], [])


def test_multidict_reading() -> None:
    data = MultiDict([("k", "1"), ("k", "2"), ("j", "3")])
    assert "k" in data
    assert "K" not in data
    assert data["k"] == "2"
    assert data.getlist("k") == ["1", "2"]
    assert list(data.keys()) == ["k", "j"]
    assert list(data.values()) == ["2", "3"]
    assert list(data.items()) == [("k", "2"), ("j", "3")]
    assert len(data) == 2
    assert str(data) == "MultiDict([('k', '1'), ('k', '2'), ('j', '3')])"
    assert repr(data) == "MultiDict([('k', '1'), ('k', '2'), ('j', '3')])"
    assert MultiDict({"k": "1", "j": "2"}) == MultiDict([("j", "2"), ("k", "1")])
    assert MultiDict() == MultiDict({})
    assert MultiDict({"k": "1"}) != "invalid"
    assert MultiDict(data) == data


def test_multidict_editing() -> None:
    data = MultiDict([("k", "1"), ("k", "2")])
    data["k"] = "3"
    assert data.getlist("k") == ["3"]

    data = MultiDict([("k", "1"), ("k", "2")])
    del data["k"]
    assert data.get("k") is None
    assert repr(data) == "MultiDict([])"

    data = MultiDict([("k", "1"), ("k", "2"), ("j", "3")])
    assert data.pop("k") == "2"
    assert data.pop("missing", "default") == "default"
    assert repr(data) == "MultiDict([('j', '3')])"

    data = MultiDict([("k", "1"), ("k", "2"), ("j", "3")])
    key, _ = data.popitem()
    assert data.get(key) is None
    assert key not in [k for k, _ in data.multi_items()]

    data = MultiDict([("k", "1"), ("k", "2"), ("j", "3")])
    assert data.poplist("k") == ["1", "2"]
    assert repr(data) == "MultiDict([('j', '3')])"

    data.clear()
    assert repr(data) == "MultiDict([])"

    data = MultiDict([("k", "1")])
    data.setlist("k", ["2", "3"])
    assert data.getlist("k") == ["2", "3"]
    assert data["k"] == "3"
    data.setlist("j", [])
    assert "j" not in data

    data = MultiDict([("k", "1")])
    assert data.setdefault("k", "9") == "1"
    assert data.setdefault("j", "9") == "9"
    assert repr(data) == "MultiDict([('k', '1'), ('j', '9')])"

    data = MultiDict([("k", "1")])
    data.append("k", "2")
    assert repr(data) == "MultiDict([('k', '1'), ('k', '2')])"


def test_multidict_update() -> None:
    data = MultiDict([("k", "1"), ("j", "2")])
    data.update({"k": "3"})
    assert data.getlist("k") == ["3"]
    assert data == MultiDict([("k", "3"), ("j", "2")])

    data = MultiDict([("k", "1"), ("j", "2")])
    data.update(data)
    assert repr(data) == "MultiDict([('k', '1'), ('j', '2')])"

    data = MultiDict([("k", "1"), ("k", "2")])
    data.update([("k", "1")])
    assert data.getlist("k") == ["1"]
    data.update([("k", "4")], k="5", j="6")
    assert data == MultiDict([("k", "4"), ("k", "5"), ("j", "6")])


# Small value types


def test_comma_separated_strings() -> None:
    for value in (
        '"alpha", "beta.example", 10.0.0.1',
        "'alpha', 'beta.example', 10.0.0.1",
        "alpha, beta.example, 10.0.0.1",
        ["alpha", "beta.example", "10.0.0.1"],
    ):
        csv = CommaSeparatedStrings(value)
        assert list(csv) == ["alpha", "beta.example", "10.0.0.1"]
        assert repr(csv) == "CommaSeparatedStrings(['alpha', 'beta.example', '10.0.0.1'])"
        assert str(csv) == "'alpha', 'beta.example', '10.0.0.1'"
        assert csv[0] == "alpha"
        assert csv[1:] == ["beta.example", "10.0.0.1"]
        assert len(csv) == 3


def test_comma_separated_strings_keep_quoted_commas() -> None:
    assert list(CommaSeparatedStrings("'a, b', c")) == ["a, b", "c"]
    assert list(CommaSeparatedStrings("")) == []


def test_secret() -> None:
    secret = Secret("hunter2")
    assert repr(secret) == "Secret('**********')"
    assert str(secret) == "hunter2"
    assert "hunter2" not in repr([secret])
    assert secret
    assert not Secret("")


def test_address() -> None:
    address = Address("10.1.2.3", 5000)
    assert address.host == "10.1.2.3"
    assert address.port == 5000
    assert address == ("10.1.2.3", 5000)
    assert repr(address) == "Address(host='10.1.2.3', port=5000)"


def test_state_attributes_and_items() -> None:
    backing: dict[str, object] = {"existing": 1}
    state = State(backing)
    state.added = "value"
    assert state.added == "value"
    assert backing["added"] == "value"
    del state.added
    with pytest.raises(AttributeError, match="'State' object has no attribute 'added'"):
        state.added  # noqa: B018

    state["item"] = 2
    assert state["item"] == 2
    assert state.item == 2
    assert set(state) == {"existing", "item"}
    assert len(state) == 2
    del state["item"]
    assert len(state) == 1
    with pytest.raises(KeyError):
        state["item"]


def test_state_defaults_to_a_fresh_dict() -> None:
    first, second = State(), State()
    first.value = 1
    assert "value" not in second
    assert len(second) == 0
