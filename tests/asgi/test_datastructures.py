from __future__ import annotations

import copy
import pickle
import time
from typing import Any

import pytest

from stellate_asgi.datastructures import (
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
from stellate_asgi.types import Scope

# --- URL ---------------------------------------------------------------------------


def test_url_properties() -> None:
    url = URL("https://example.org:123/path/to/somewhere?abc=123#anchor")
    assert url.scheme == "https"
    assert url.hostname == "example.org"
    assert url.port == 123
    assert url.netloc == "example.org:123"
    assert url.username is None
    assert url.password is None
    assert url.path == "/path/to/somewhere"
    assert url.query == "abc=123"
    assert url.fragment == "anchor"
    assert url.is_secure
    assert url.components.geturl() == str(url)


def test_url_with_credentials() -> None:
    url = URL("https://user:pass@example.org/")
    assert url.username == "user"
    assert url.password == "pass"
    assert url.hostname == "example.org"
    assert url.port is None


@pytest.mark.parametrize(
    ("url", "secure"),
    [("http://a", False), ("https://a", True), ("ws://a", False), ("wss://a", True), ("/p", False)],
)
def test_url_is_secure(url: str, secure: bool) -> None:
    assert URL(url).is_secure is secure


def test_url_invalid_port_reads_as_none() -> None:
    assert URL("http://example.org:notaport/").port is None
    assert URL("http://example.org:99999/").port is None


def test_url_replace_components() -> None:
    url = URL("https://example.org:123/path/to/somewhere?abc=123#anchor")
    assert url.replace(scheme="http") == "http://example.org:123/path/to/somewhere?abc=123#anchor"
    assert url.replace(path="/new") == "https://example.org:123/new?abc=123#anchor"
    assert url.replace(query="x=1") == "https://example.org:123/path/to/somewhere?x=1#anchor"
    assert url.replace(fragment="") == "https://example.org:123/path/to/somewhere?abc=123"
    assert url.replace(port=None) == "https://example.org/path/to/somewhere?abc=123#anchor"
    assert url.replace(port=8000) == "https://example.org:8000/path/to/somewhere?abc=123#anchor"
    assert url.replace(hostname="example.com") == (
        "https://example.com:123/path/to/somewhere?abc=123#anchor"
    )
    assert url.replace(netloc="other:1") == "https://other:1/path/to/somewhere?abc=123#anchor"


def test_url_replace_rejects_unknown_components() -> None:
    with pytest.raises(ValueError):
        URL("http://a/").replace(nonsense="x")


def test_url_replace_credentials() -> None:
    url = URL("http://u:p@host:80/")
    assert url.replace(port=88) == "http://u:p@host:88/"
    assert url.replace(hostname="bar") == "http://u:p@bar:80/"
    assert url.replace(username="v") == "http://v:p@host:80/"
    assert url.replace(password="q") == "http://u:q@host:80/"
    assert url.replace(username=None) == "http://host:80/"
    assert URL("http://host/").replace(username="u") == "http://u@host/"
    assert URL("http://host/").replace(username="u", password="p") == "http://u:p@host/"


def test_url_replace_ipv6() -> None:
    url = URL("https://[fe::2]:12345")
    assert url.hostname == "fe::2"
    assert url.replace(port=8080) == "https://[fe::2]:8080"
    new = url.replace(username="username", password="password")
    assert new == "https://username:password@[fe::2]:12345"
    assert new.netloc == "username:password@[fe::2]:12345"
    assert URL("https://[fe::2]").replace(port=123) == "https://[fe::2]:123"
    assert URL("http://host:80/").replace(hostname="::1") == "http://[::1]:80/"
    assert URL("http://host:80/").replace(hostname="[::1]") == "http://[::1]:80/"


def test_url_replace_keeps_host_case() -> None:
    assert URL("http://Example.COM:80/").replace(port=81) == "http://Example.COM:81/"


def test_url_replace_on_relative_url() -> None:
    assert URL("/path").replace(hostname="example.com") == "//example.com/path"


def test_url_from_components() -> None:
    url = URL(scheme="https", netloc="example.org", path="/path", query="a=1", fragment="f")
    assert url == "https://example.org/path?a=1#f"
    assert URL(scheme="http", hostname="example.org", port=8080, path="/") == (
        "http://example.org:8080/"
    )
    assert URL(path="/only") == "/only"


def test_url_argument_conflicts() -> None:
    scope: Scope = {"type": "http", "path": "/", "headers": []}
    with pytest.raises(AssertionError):
        URL("http://a/", scope=scope)
    with pytest.raises(AssertionError):
        URL(scope=scope, path="/x")
    with pytest.raises(AssertionError):
        URL("http://a/", path="/x")


def test_url_query_params() -> None:
    url = URL("https://example.org/path/?page=3")
    assert url.query == "page=3"
    url = url.include_query_params(page=4)
    assert str(url) == "https://example.org/path/?page=4"
    url = url.include_query_params(search="testing")
    assert str(url) == "https://example.org/path/?page=4&search=testing"
    url = url.replace_query_params(order="name")
    assert str(url) == "https://example.org/path/?order=name"
    url = url.remove_query_params("order")
    assert str(url) == "https://example.org/path/"


def test_url_query_params_keep_duplicates_and_blanks() -> None:
    url = URL("http://a/?x=1&x=2&empty=&y=3")
    assert url.include_query_params(z=4) == "http://a/?x=1&x=2&empty=&y=3&z=4"
    assert url.include_query_params(x=9) == "http://a/?empty=&y=3&x=9"
    assert url.remove_query_params(["x", "y"]) == "http://a/?empty="
    assert url.remove_query_params("missing") == "http://a/?x=1&x=2&empty=&y=3"
    assert url.replace_query_params(q="a b&c") == "http://a/?q=a+b%26c"
    assert url.replace_query_params(n=1, flag=True) == "http://a/?n=1&flag=True"


def test_url_blank_query_params() -> None:
    url = URL("https://example.org/path/?a=&b=2")
    assert url.include_query_params(c="") == "https://example.org/path/?a=&b=2&c="


def test_url_equality_and_hash() -> None:
    url = URL("https://example.org/")
    assert url == "https://example.org/"
    assert url == URL("https://example.org/")
    assert url != "https://example.org"
    assert url != URL("http://example.org/")
    assert hash(url) == hash(URL("https://example.org/"))
    assert len({url, URL("https://example.org/")}) == 1


def test_url_str_and_repr() -> None:
    url = URL("https://example.org/path")
    assert str(url) == "https://example.org/path"
    assert repr(url) == "URL('https://example.org/path')"


def test_url_repr_hides_password() -> None:
    url = URL("https://username:password@example.org/path/to/somewhere")
    assert repr(url) == "URL('https://username:********@example.org/path/to/somewhere')"
    assert str(url) == "https://username:password@example.org/path/to/somewhere"


def http_scope(**overrides: Any) -> Scope:
    scope: Scope = {
        "type": "http",
        "scheme": "http",
        "server": ("example.org", 80),
        "path": "/path/to/somewhere",
        "root_path": "",
        "query_string": b"",
        "headers": [],
    }
    scope.update(overrides)
    return scope


def test_url_from_scope_without_server() -> None:
    scope: Scope = {"path": "/path/to/somewhere", "query_string": b"abc=123", "headers": []}
    assert URL(scope=scope) == "/path/to/somewhere?abc=123"


def test_url_from_scope_server() -> None:
    assert URL(scope=http_scope()) == "http://example.org/path/to/somewhere"
    assert URL(scope=http_scope(server=("example.org", 8000))) == (
        "http://example.org:8000/path/to/somewhere"
    )
    assert URL(scope=http_scope(scheme="https", server=("example.org", 443))) == (
        "https://example.org/path/to/somewhere"
    )
    assert URL(scope=http_scope(scheme="https", server=("example.org", 80))) == (
        "https://example.org:80/path/to/somewhere"
    )
    assert URL(scope=http_scope(scheme="ws", server=("example.org", 80))) == (
        "ws://example.org/path/to/somewhere"
    )
    assert URL(scope=http_scope(scheme="wss", server=("example.org", 443))) == (
        "wss://example.org/path/to/somewhere"
    )
    assert URL(scope=http_scope(server=("example.org", None))) == (
        "http://example.org/path/to/somewhere"
    )


def test_url_from_scope_server_port_given_as_a_string() -> None:
    # granian puts the port in `scope["server"]` as a string; the default is still implied.
    assert URL(scope=http_scope(server=("example.org", "80"))) == (
        "http://example.org/path/to/somewhere"
    )
    assert URL(scope=http_scope(server=("example.org", "8000"))) == (
        "http://example.org:8000/path/to/somewhere"
    )


def test_url_from_scope_ipv6_server_is_bracketed() -> None:
    url = URL(scope=http_scope(server=("::1", 8000)))
    assert url == "http://[::1]:8000/path/to/somewhere"
    assert url.hostname == "::1"
    assert url.port == 8000


def test_url_from_scope_host_header_wins() -> None:
    scope = http_scope(
        query_string=b"query=string",
        headers=[
            (b"content-type", b"text/html"),
            (b"host", b"example.com:8000"),
            (b"accept", b"text/html"),
        ],
    )
    assert URL(scope=scope) == "http://example.com:8000/path/to/somewhere?query=string"


def test_url_from_scope_ipv6_host_header() -> None:
    url = URL(scope=http_scope(headers=[(b"host", b"[::1]:8000")]))
    assert url == "http://[::1]:8000/path/to/somewhere"
    assert url.hostname == "::1"


@pytest.mark.parametrize(
    "host",
    [
        b"evil.com/other",
        b"user@evil.com",
        b"evil.com?x=1",
        b"a b",
        b"example.com:notaport",
        b"[::1",
        b"x" * 10_000,
    ],
)
def test_url_from_scope_ignores_malformed_host_header(host: bytes) -> None:
    url = URL(scope=http_scope(headers=[(b"host", host)]))
    assert url == "http://example.org/path/to/somewhere"


def test_url_from_scope_path_already_includes_root_path() -> None:
    url = URL(scope=http_scope(root_path="/api", path="/api/users"))
    assert url == "http://example.org/api/users"


def test_url_from_scope_non_utf8_query_string() -> None:
    url = URL(scope=http_scope(query_string=b"a=\xff"))
    assert url.query == "a=\xff"
    url = URL(scope=http_scope(query_string="a=é".encode()))
    assert url.query == "a=é"


def test_url_from_scope_accepts_header_tuples() -> None:
    scope = http_scope(headers=((b"host", b"example.com"),))
    assert URL(scope=scope) == "http://example.com/path/to/somewhere"


# --- URLPath -----------------------------------------------------------------------


def test_url_path_is_a_string() -> None:
    path = URLPath("/users/1")
    assert path == "/users/1"
    assert isinstance(path, str)
    assert path.protocol == ""
    assert path.host == ""


def test_url_path_rejects_unknown_protocol() -> None:
    with pytest.raises(AssertionError):
        URLPath("/x", protocol="ftp")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("protocol", "base", "expected"),
    [
        ("http", "http://example.org", "http://example.org/x"),
        ("http", "https://example.org", "https://example.org/x"),
        ("http", "ws://example.org", "http://example.org/x"),
        ("websocket", "http://example.org", "ws://example.org/x"),
        ("websocket", "https://example.org", "wss://example.org/x"),
        ("websocket", "wss://example.org", "wss://example.org/x"),
        ("", "https://example.org", "https://example.org/x"),
        ("", "ws://example.org", "ws://example.org/x"),
    ],
)
def test_url_path_make_absolute_url_scheme(protocol: Any, base: str, expected: str) -> None:
    assert URLPath("/x", protocol=protocol).make_absolute_url(base) == expected


def test_url_path_make_absolute_url_base_path_and_host() -> None:
    path = URLPath("/users")
    assert path.make_absolute_url("https://example.org/root/") == "https://example.org/root/users"
    assert path.make_absolute_url(URL("https://example.org/root")) == (
        "https://example.org/root/users"
    )
    hosted = URLPath("/users", protocol="http", host="api.example.org:8000")
    assert hosted.make_absolute_url("https://example.org/") == "https://api.example.org:8000/users"
    assert isinstance(hosted.make_absolute_url("http://a/"), URL)


# --- Secret, Address, CommaSeparatedStrings ------------------------------------------


def test_secret() -> None:
    secret = Secret("s3cr3t")
    assert repr(secret) == "Secret('**********')"
    assert str(secret) == "s3cr3t"
    assert "s3cr3t" not in repr([secret])
    assert bool(secret)
    assert not Secret("")


def test_address() -> None:
    address = Address("127.0.0.1", 8000)
    assert address.host == "127.0.0.1"
    assert address.port == 8000
    host, port = address
    assert (host, port) == ("127.0.0.1", 8000)
    assert address == ("127.0.0.1", 8000)
    assert repr(address) == "Address(host='127.0.0.1', port=8000)"


def test_comma_separated_strings_from_string() -> None:
    csv = CommaSeparatedStrings('"localhost", "127.0.0.1", 0.0.0.0')
    assert list(csv) == ["localhost", "127.0.0.1", "0.0.0.0"]
    assert repr(csv) == "CommaSeparatedStrings(['localhost', '127.0.0.1', '0.0.0.0'])"
    assert str(csv) == "'localhost', '127.0.0.1', '0.0.0.0'"
    assert csv[0] == "localhost"
    assert csv[1:] == ["127.0.0.1", "0.0.0.0"]
    assert len(csv) == 3


def test_comma_separated_strings_quoting_and_blanks() -> None:
    assert list(CommaSeparatedStrings("a, 'b, c',d")) == ["a", "b, c", "d"]
    assert list(CommaSeparatedStrings("")) == []
    assert list(CommaSeparatedStrings("a,,b")) == ["a", "b"]


def test_comma_separated_strings_unbalanced_quote() -> None:
    with pytest.raises(ValueError):
        CommaSeparatedStrings('"unterminated')


def test_comma_separated_strings_from_sequence() -> None:
    csv = CommaSeparatedStrings(["localhost", "127.0.0.1"])
    assert list(csv) == ["localhost", "127.0.0.1"]
    assert "localhost" in csv


# --- ImmutableMultiDict, MultiDict ---------------------------------------------------


def test_immutable_multidict() -> None:
    d = ImmutableMultiDict([("a", "123"), ("a", "456"), ("b", "789")])
    assert "a" in d
    assert "A" not in d
    assert "c" not in d
    assert d["a"] == "456"
    assert d.get("a") == "456"
    assert d.get("nope") is None
    assert d.getlist("a") == ["123", "456"]
    assert d.getlist("nope") == []
    assert list(d.keys()) == ["a", "b"]
    assert list(d.values()) == ["456", "789"]
    assert list(d.items()) == [("a", "456"), ("b", "789")]
    assert list(d) == ["a", "b"]
    assert len(d) == 2
    assert d.multi_items() == [("a", "123"), ("a", "456"), ("b", "789")]
    assert dict(d) == {"a": "456", "b": "789"}
    assert str(d) == "ImmutableMultiDict([('a', '123'), ('a', '456'), ('b', '789')])"
    assert repr(d) == "ImmutableMultiDict([('a', '123'), ('a', '456'), ('b', '789')])"
    with pytest.raises(KeyError):
        d["nope"]


def test_immutable_multidict_equality() -> None:
    d = ImmutableMultiDict([("a", "123"), ("a", "456"), ("b", "789")])
    assert d == ImmutableMultiDict([("b", "789"), ("a", "123"), ("a", "456")])
    assert d != ImmutableMultiDict([("a", "456"), ("b", "789")])
    assert d != ImmutableMultiDict([("a", "123"), ("b", "789")])
    assert d != {"a": "456", "b": "789"}
    assert ImmutableMultiDict() == ImmutableMultiDict([])


def test_immutable_multidict_equality_with_unorderable_values() -> None:
    a, b = object(), object()
    assert ImmutableMultiDict([("x", a), ("x", b)]) == ImmutableMultiDict([("x", b), ("x", a)])
    c = object()
    assert ImmutableMultiDict([("x", a), ("x", b)]) != ImmutableMultiDict([("x", a), ("x", c)])


def test_immutable_multidict_constructors() -> None:
    d = ImmutableMultiDict({"a": "123", "b": "456"})
    assert d.multi_items() == [("a", "123"), ("b", "456")]
    d = ImmutableMultiDict(a="123", b="456")
    assert d.multi_items() == [("a", "123"), ("b", "456")]
    d = ImmutableMultiDict([("a", "1")], a="2")
    assert d.getlist("a") == ["1", "2"]
    source = ImmutableMultiDict([("a", "1"), ("a", "2")])
    assert ImmutableMultiDict(source).multi_items() == [("a", "1"), ("a", "2")]
    assert ImmutableMultiDict(iter([("k", "v")])) == ImmutableMultiDict([("k", "v")])
    with pytest.raises(AssertionError):
        ImmutableMultiDict([], [])


def test_immutable_multidict_multi_items_is_a_copy() -> None:
    d = ImmutableMultiDict([("a", "1")])
    d.multi_items().append(("b", "2"))
    assert d.multi_items() == [("a", "1")]


def test_multidict_setitem_and_delitem() -> None:
    q = MultiDict([("a", "123"), ("a", "456"), ("b", "789")])
    q["a"] = "999"
    assert q.multi_items() == [("b", "789"), ("a", "999")]
    assert q["a"] == "999"
    del q["a"]
    assert q.multi_items() == [("b", "789")]
    assert "a" not in q
    with pytest.raises(KeyError):
        del q["a"]


def test_multidict_pop_popitem_poplist() -> None:
    q = MultiDict([("a", "123"), ("a", "456"), ("b", "789")])
    assert q.pop("a") == "456"
    assert q.multi_items() == [("b", "789")]
    assert q.pop("a") is None
    assert q.pop("a", "default") == "default"
    q = MultiDict([("a", "123"), ("a", "456"), ("b", "789")])
    key, value = q.popitem()
    assert (key, value) == ("b", "789")
    assert q.multi_items() == [("a", "123"), ("a", "456")]
    assert q.poplist("a") == ["123", "456"]
    assert len(q) == 0
    assert q.poplist("a") == []
    with pytest.raises(KeyError):
        q.popitem()


def test_multidict_setdefault_setlist_append_clear() -> None:
    q = MultiDict([("a", "123")])
    assert q.setdefault("a", "x") == "123"
    assert q.setdefault("b", "456") == "456"
    assert q.setdefault("c") is None
    assert q.multi_items() == [("a", "123"), ("b", "456"), ("c", None)]
    q.setlist("a", ["1", "2"])
    assert q.getlist("a") == ["1", "2"]
    assert q["a"] == "2"
    q.setlist("a", [])
    assert "a" not in q
    q.append("b", "789")
    assert q.getlist("b") == ["456", "789"]
    assert q["b"] == "789"
    q.clear()
    assert q.multi_items() == []
    assert len(q) == 0


def test_multidict_update() -> None:
    q = MultiDict([("a", "123"), ("a", "456"), ("b", "0")])
    q.update([("a", "123")])
    assert q.getlist("a") == ["123"]
    q.update([("a", "456")], a="789", b="123")
    assert q == MultiDict([("a", "456"), ("a", "789"), ("b", "123")])
    q.update({"c": "1"})
    assert q["c"] == "1"
    q.update(MultiDict([("c", "2"), ("c", "3")]))
    assert q.getlist("c") == ["2", "3"]


def test_multidict_repr() -> None:
    assert repr(MultiDict([("a", "1")])) == "MultiDict([('a', '1')])"


def test_multidict_and_immutable_are_not_equal() -> None:
    assert MultiDict([("a", "1")]) != ImmutableMultiDict([("a", "1")])


# --- QueryParams -------------------------------------------------------------------


def test_query_params() -> None:
    q = QueryParams("a=123&a=456&b=789")
    assert "a" in q
    assert "A" not in q
    assert q["a"] == "456"
    assert q.getlist("a") == ["123", "456"]
    assert list(q.keys()) == ["a", "b"]
    assert list(q.values()) == ["456", "789"]
    assert list(q.items()) == [("a", "456"), ("b", "789")]
    assert len(q) == 2
    assert list(q) == ["a", "b"]
    assert dict(q) == {"a": "456", "b": "789"}
    assert str(q) == "a=123&a=456&b=789"
    assert repr(q) == "QueryParams('a=123&a=456&b=789')"


def test_query_params_equality_across_constructors() -> None:
    assert QueryParams({"a": "123", "b": "456"}) == QueryParams([("a", "123"), ("b", "456")])
    assert QueryParams({"a": "123", "b": "456"}) == QueryParams("a=123&b=456")
    assert QueryParams({"a": "123", "b": "456"}) == QueryParams({"b": "456", "a": "123"})
    assert QueryParams() == QueryParams({})
    assert QueryParams([("a", "123"), ("a", "456")]) == QueryParams("a=123&a=456")
    assert QueryParams({"a": "123", "b": "456"}) != "invalid"
    q = QueryParams([("a", "123"), ("a", "456")])
    assert QueryParams(q) == q


def test_query_params_from_bytes_and_blanks() -> None:
    q = QueryParams(b"a=1&b=&c&d=%C3%A9&e=x+y&f=%2B")
    assert q["a"] == "1"
    assert q["b"] == ""
    assert q["c"] == ""
    assert q["d"] == "é"
    assert q["e"] == "x y"
    assert q["f"] == "+"


def test_query_params_from_hostile_bytes() -> None:
    q = QueryParams(b"a=\xff\xfe&b=%ff&%=%%")
    assert q["a"] == "ÿþ"
    assert q["b"] == "\ufffd"
    assert "%" in q


def test_query_params_stringify_values_and_kwargs() -> None:
    q = QueryParams({"n": 1}, flag=True)
    assert q.multi_items() == [("n", "1"), ("flag", "True")]
    assert str(q) == "n=1&flag=True"
    assert str(QueryParams("q=a b&x=é")) == "q=a+b&x=%C3%A9"


def test_query_params_many_params_is_linear() -> None:
    query = "&".join(f"k{i}=v{i}" for i in range(100_000)) + "&k0=last"
    start = time.perf_counter()
    q = QueryParams(query)
    assert len(q) == 100_000
    assert q["k0"] == "last"
    assert q.getlist("k0") == ["v0", "last"]
    assert len(str(q)) > 0
    assert time.perf_counter() - start < 5.0


# --- Headers -----------------------------------------------------------------------


def test_headers_from_raw() -> None:
    h = Headers(raw=[(b"a", b"123"), (b"a", b"456"), (b"b", b"789")])
    assert "a" in h
    assert "A" in h
    assert "b" in h
    assert "B" in h
    assert "c" not in h
    assert h["a"] == "123"
    assert h.get("a") == "123"
    assert h.get("nope") is None
    assert h.get("A", "default") == "123"
    assert h.get("nope", "default") == "default"
    assert h.getlist("a") == ["123", "456"]
    assert h.keys() == ["a", "a", "b"]
    assert h.values() == ["123", "456", "789"]
    assert h.items() == [("a", "123"), ("a", "456"), ("b", "789")]
    assert list(h) == ["a", "a", "b"]
    assert dict(h) == {"a": "123", "b": "789"}
    assert len(h) == 3
    assert repr(h) == "Headers(raw=[(b'a', b'123'), (b'a', b'456'), (b'b', b'789')])"
    with pytest.raises(KeyError):
        h["nope"]


def test_headers_equality_ignores_order() -> None:
    h = Headers(raw=[(b"a", b"123"), (b"a", b"456"), (b"b", b"789")])
    assert h == Headers(raw=[(b"a", b"123"), (b"b", b"789"), (b"a", b"456")])
    assert h != Headers(raw=[(b"a", b"123"), (b"b", b"789")])
    assert h != [(b"a", b"123"), (b"a", b"456"), (b"b", b"789")]
    assert Headers({"a": "1"}) == MutableHeaders({"A": "1"})


def test_headers_from_mapping() -> None:
    h = Headers({"a": "123", "B": "789"})
    assert h["A"] == "123"
    assert h["b"] == "789"
    assert h.raw == [(b"a", b"123"), (b"b", b"789")]
    assert repr(h) == "Headers({'a': '123', 'b': '789'})"


def test_headers_latin1_values() -> None:
    h = Headers(raw=[(b"x-name", "café".encode("latin-1"))])
    assert h["x-name"] == "café"
    assert Headers({"x-name": "café"}).raw == [(b"x-name", b"caf\xe9")]
    with pytest.raises(UnicodeEncodeError):
        Headers({"x-name": "snow ☃"})


def test_headers_lookup_of_non_latin1_or_non_str_key() -> None:
    h = Headers({"a": "1"})
    assert "☃" not in h
    assert h.get("☃") is None
    assert h.getlist("☃") == []
    assert 1 not in h  # type: ignore[comparison-overlap]
    with pytest.raises(KeyError):
        h["☃"]


def test_headers_from_scope_shares_the_list() -> None:
    scope: Scope = {"type": "http", "headers": [(b"a", b"1")]}
    h = Headers(scope=scope)
    scope["headers"].append((b"b", b"2"))
    assert h["b"] == "2"
    # `raw` is a copy: the immutable view cannot be used to edit the scope.
    h.raw.append((b"c", b"3"))
    assert "c" not in h
    assert scope["headers"] == [(b"a", b"1"), (b"b", b"2")]


def test_headers_from_scope_with_a_tuple() -> None:
    scope: Scope = {"type": "http", "headers": ((b"a", b"1"),)}
    h = Headers(scope=scope)
    assert dict(h) == {"a": "1"}
    assert isinstance(scope["headers"], list)
    scope["headers"].append((b"b", b"2"))
    assert h["b"] == "2"


def test_headers_empty_and_conflicting_arguments() -> None:
    assert Headers().raw == []
    assert len(Headers()) == 0
    with pytest.raises(AssertionError):
        Headers({"a": "1"}, raw=[])
    with pytest.raises(AssertionError):
        Headers({"a": "1"}, scope={"headers": []})
    with pytest.raises(AssertionError):
        Headers(raw=[], scope={"headers": []})


def test_headers_mutablecopy() -> None:
    h = Headers(raw=[(b"a", b"123"), (b"a", b"456")])
    copy_ = h.mutablecopy()
    assert isinstance(copy_, MutableHeaders)
    assert copy_.items() == [("a", "123"), ("a", "456")]
    copy_["a"] = "789"
    assert copy_.getlist("a") == ["789"]
    assert h.getlist("a") == ["123", "456"]


def test_mutable_headers() -> None:
    h = MutableHeaders()
    assert dict(h) == {}
    h["a"] = "1"
    assert dict(h) == {"a": "1"}
    h["a"] = "2"
    assert dict(h) == {"a": "2"}
    assert h.setdefault("a", "3") == "2"
    assert dict(h) == {"a": "2"}
    assert h.setdefault("b", "4") == "4"
    assert dict(h) == {"a": "2", "b": "4"}
    del h["a"]
    assert dict(h) == {"b": "4"}
    assert h.raw == [(b"b", b"4")]
    h.update({"a": "5", "C": "6"})
    assert h.raw == [(b"b", b"4"), (b"a", b"5"), (b"c", b"6")]
    h.append("c", "7")
    assert h.getlist("C") == ["6", "7"]
    assert repr(h) == "MutableHeaders(raw=[(b'b', b'4'), (b'a', b'5'), (b'c', b'6'), (b'c', b'7')])"


def test_mutable_headers_setitem_replaces_all_keeping_first_position() -> None:
    h = MutableHeaders(raw=[(b"a", b"1"), (b"b", b"2"), (b"a", b"3"), (b"c", b"4"), (b"a", b"5")])
    h["A"] = "9"
    assert h.raw == [(b"a", b"9"), (b"b", b"2"), (b"c", b"4")]


def test_mutable_headers_delitem_removes_all_and_tolerates_missing() -> None:
    h = MutableHeaders(raw=[(b"a", b"1"), (b"b", b"2"), (b"a", b"3")])
    del h["A"]
    assert h.raw == [(b"b", b"2")]
    del h["missing"]
    assert h.raw == [(b"b", b"2")]


def test_mutable_headers_edit_the_scope_list_in_place() -> None:
    message: dict[str, Any] = {"type": "http.response.start", "headers": [(b"a", b"1")]}
    headers_list = message["headers"]
    h = MutableHeaders(scope=message)
    h["b"] = "2"
    h["a"] = "3"
    del h["b"]
    h.append("c", "4")
    h.update({"d": "5"})
    h.add_vary_header("Accept")
    assert message["headers"] is headers_list
    assert message["headers"] == [(b"a", b"3"), (b"c", b"4"), (b"d", b"5"), (b"vary", b"Accept")]


def test_mutable_headers_from_scope_tuple() -> None:
    h = MutableHeaders(scope={"headers": ((b"a", b"1"),)})
    assert dict(h) == {"a": "1"}
    h.update({"b": "2"})
    assert dict(h) == {"a": "1", "b": "2"}
    assert list(h.items()) == [("a", "1"), ("b", "2")]
    assert list(h.raw) == [(b"a", b"1"), (b"b", b"2")]


def test_mutable_headers_add_vary_header() -> None:
    h = MutableHeaders()
    h.add_vary_header("Origin")
    assert h["vary"] == "Origin"
    h.add_vary_header("Accept-Encoding")
    assert h["vary"] == "Origin, Accept-Encoding"
    assert h.getlist("vary") == ["Origin, Accept-Encoding"]


def test_mutable_headers_merge() -> None:
    h = MutableHeaders({"a": "1", "b": "2"})
    other = {"b": "3", "c": "4"}
    merged = h | other
    assert isinstance(merged, MutableHeaders)
    assert dict(merged) == {"a": "1", "b": "3", "c": "4"}
    assert dict(h) == {"a": "1", "b": "2"}
    original = h
    h |= other
    assert h is original
    assert dict(h) == {"a": "1", "b": "3", "c": "4"}
    h |= Headers({"d": "5"})
    assert h["d"] == "5"


def test_mutable_headers_merge_not_mapping() -> None:
    h = MutableHeaders()
    with pytest.raises(TypeError, match="Expected a mapping but got set"):
        h |= {"not_mapping"}  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Expected a mapping but got set"):
        h | {"not_mapping"}  # type: ignore[operator]


@pytest.mark.parametrize(
    "value",
    ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "a\0b", "\r\n"],
)
def test_mutable_headers_reject_injection_in_values(value: str) -> None:
    h = MutableHeaders({"a": "1"})
    with pytest.raises(ValueError, match="must not contain CR, LF or NUL"):
        h["x"] = value
    with pytest.raises(ValueError, match="must not contain CR, LF or NUL"):
        h.append("x", value)
    with pytest.raises(ValueError, match="must not contain CR, LF or NUL"):
        h.setdefault("x", value)
    with pytest.raises(ValueError, match="must not contain CR, LF or NUL"):
        h.update({"x": value})
    with pytest.raises(ValueError, match="must not contain CR, LF or NUL"):
        h.add_vary_header(value)
    with pytest.raises(ValueError, match="must not contain CR, LF or NUL"):
        Headers({"x": value})
    assert h.raw == [(b"a", b"1")]


def test_mutable_headers_reject_injection_in_names() -> None:
    h = MutableHeaders()
    with pytest.raises(ValueError, match="must not contain CR, LF or NUL"):
        h["x\r\ny"] = "1"
    with pytest.raises(ValueError, match="must not contain CR, LF or NUL"):
        h.append("x\0", "1")
    assert h.raw == []


def test_mutable_headers_setdefault_on_existing_does_not_validate_ignored_value() -> None:
    # The default is only validated because it might be stored; an existing header is
    # returned untouched either way.
    h = MutableHeaders({"a": "1"})
    assert h.setdefault("a", "2") == "1"


def test_headers_many_duplicates_stay_fast() -> None:
    raw = [(b"x", b"v")] * 50_000 + [(b"y", b"1")]
    start = time.perf_counter()
    h = MutableHeaders(raw=list(raw))
    h["x"] = "only"
    assert h.raw == [(b"x", b"only"), (b"y", b"1")]
    h = MutableHeaders(raw=list(raw))
    del h["x"]
    assert h.raw == [(b"y", b"1")]
    assert time.perf_counter() - start < 2.0


# --- State -------------------------------------------------------------------------


def test_state_attribute_access() -> None:
    state = State({"old": "value"})
    assert state.old == "value"
    state.new = "value2"
    assert state.new == "value2"
    del state.new
    with pytest.raises(AttributeError, match="'State' object has no attribute 'new'"):
        state.new  # noqa: B018
    with pytest.raises(AttributeError, match="'State' object has no attribute 'nope'"):
        del state.nope


def test_state_item_access_and_iteration() -> None:
    backing: dict[str, Any] = {}
    state = State(backing)
    state["a"] = 1
    state.b = 2
    assert backing == {"a": 1, "b": 2}
    assert state["b"] == 2
    assert "a" in state
    assert "z" not in state
    assert list(state) == ["a", "b"]
    assert len(state) == 2
    del state["a"]
    assert backing == {"b": 2}
    with pytest.raises(KeyError):
        state["a"]


def test_state_defaults_to_a_fresh_dict() -> None:
    first, second = State(), State()
    first.x = 1
    assert len(second) == 0
    assert getattr(second, "x", None) is None


def test_state_subclass_error_names_the_subclass() -> None:
    class MyState(State):
        pass

    with pytest.raises(AttributeError, match="'MyState' object has no attribute 'x'"):
        MyState().x  # noqa: B018


def test_state_copy_and_pickle() -> None:
    state = State({"a": 1})
    clone = copy.copy(state)
    assert clone.a == 1
    deep = copy.deepcopy(state)
    deep.a = 2
    assert state.a == 1
    restored = pickle.loads(pickle.dumps(state))
    assert restored.a == 1
