"""Fuzz tests of `cookie_parser`, which reads the `Cookie` request header.

Properties: a well-formed header (RFC 6265 names and values, plain or quoted) parses
to its pairs, the last duplicate winning; any value set with `Response.set_cookie`
comes back unchanged when the browser returns it; any text at all parses to a dict
without raising (the parser is lenient by design); hostile Cookie headers reaching an
application, with or without sessions, get a 200; the parse is linear in the header.
"""

from __future__ import annotations

import functools
import http.cookies
import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stellate.applications import Stellate
from stellate.middleware import Middleware
from stellate.middleware.sessions import SessionMiddleware
from stellate.requests import Request
from stellate.responses import JSONResponse, Response
from stellate.routing import Route
from stellate_asgi.connection import cookie_parser
from tests.fuzz._asgi import call
from tests.fuzz._timing import assert_linear

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# RFC 6265 cookie-octet: visible ASCII except DQUOTE, comma, semicolon and backslash.
COOKIE_OCTETS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '",;\\')
cookie_names = st.text(TOKEN_CHARS, min_size=1, max_size=12)
cookie_values = st.text(COOKIE_OCTETS, max_size=24)
pairs = st.lists(st.tuples(cookie_names, cookie_values, st.booleans()), max_size=10)


@given(pairs)
def test_a_well_formed_cookie_header_parses_to_its_pairs(
    cookies: list[tuple[str, str, bool]],
) -> None:
    header = "; ".join(
        f'{name}="{value}"' if quoted else f"{name}={value}" for name, value, quoted in cookies
    )
    # A later duplicate replaces an earlier one, as a dict built in order does.
    expected = {name: value for name, value, _ in cookies}
    assert cookie_parser(header) == expected


# `http.cookies` refuses attribute names ("Path", "HttpOnly", ...) as cookie names.
settable_names = cookie_names.filter(lambda name: not http.cookies.Morsel().isReservedKey(name))


@given(settable_names, st.text(st.characters(max_codepoint=255), max_size=40))
def test_a_value_set_by_set_cookie_comes_back_unchanged(name: str, value: str) -> None:
    response = Response()
    response.set_cookie(name, value)
    set_cookie = response.headers["set-cookie"]
    # What a browser sends back: the `name=value` pair, up to the first attribute.
    returned = set_cookie.split(";", 1)[0]
    assert cookie_parser(returned) == {name: value}
    assert cookie_parser(f"other=1; {returned}; last=2") == {"other": "1", name: value, "last": "2"}


@given(st.text(max_size=200))
def test_any_cookie_header_parses_to_a_dict_without_raising(header: str) -> None:
    cookies = cookie_parser(header)
    for key, value in cookies.items():
        assert "=" not in key
        assert ";" not in key
        assert key == key.strip()
        assert key or value
    # A header without a single ";" or "=" is at most one nameless cookie.
    if ";" not in header and "=" not in header:
        assert set(cookies) <= {""}


@given(st.text(st.sampled_from(';= "\\0137a\t'), max_size=60))
def test_separator_and_escape_soup_parses_without_raising(header: str) -> None:
    # A denser search of the characters the parser treats specially.
    cookies = cookie_parser(header)
    assert all(isinstance(value, str) for value in cookies.values())


@pytest.mark.anyio
@given(st.lists(st.binary(max_size=120), min_size=1, max_size=3))
async def test_hostile_cookie_headers_reach_the_app_as_a_200(headers: list[bytes]) -> None:
    raw = [(b"cookie", value) for value in headers]
    answer = await call(_cookie_app(), headers=raw)
    assert answer.status == 200
    expected: dict[str, str] = {}
    for value in headers:
        expected.update(cookie_parser(value.decode("latin-1")))
    assert json.loads(answer.body) == expected


@pytest.mark.anyio
@given(st.binary(max_size=300))
async def test_a_garbage_session_cookie_gives_an_empty_session(value: bytes) -> None:
    answer = await call(_session_app(), headers=[(b"cookie", b"session=" + value)])
    assert answer.status == 200
    assert json.loads(answer.body) == {}


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda n: ";" * n, id="semicolons"),
        pytest.param(lambda n: "=" * n, id="equals"),
        pytest.param(lambda n: " " * n + "a=b", id="spaces"),
        pytest.param(lambda n: "a=b; " * n, id="many-pairs"),
        pytest.param(lambda n: 'a="' + "\\" * n + '"', id="backslashes"),
        pytest.param(lambda n: 'a="' + "\\101" * n + '"', id="octal-escapes"),
        pytest.param(lambda n: '"' * n, id="quotes"),
    ],
)
def test_cookie_parsing_takes_linear_time(make_header: Callable[[int], str]) -> None:
    assert_linear(cookie_parser, make_header, 1000)


@functools.cache
def _cookie_app() -> Stellate:
    def endpoint(request: Request) -> Response:
        return JSONResponse(request.cookies)

    return Stellate(routes=[Route("/", endpoint)])


@functools.cache
def _session_app() -> Stellate:
    def endpoint(request: Request) -> Response:
        return JSONResponse(dict(request.session))

    middleware = [Middleware(SessionMiddleware, secret_key="fuzz-secret")]
    return Stellate(routes=[Route("/", endpoint)], middleware=middleware)
