"""Fuzz tests of `Headers` and `MutableHeaders`, the views of the ASGI header list.

Properties: any raw header list (any bytes) reads back without an error and as its
latin-1 text; lookups are case-insensitive and find every value in order; writing a
header either stores exactly what was written or raises `ValueError` (CR, LF or NUL:
the header injection guard; characters outside latin-1) and leaves the headers as
they were; an application reading hostile request headers answers 200; lookups cost
linear time in the number of headers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stellate.applications import Stellate
from stellate.requests import Request
from stellate.responses import JSONResponse, Response
from stellate.routing import Route
from stellate_asgi.datastructures import Headers, MutableHeaders
from tests.fuzz._asgi import call
from tests.fuzz._timing import assert_linear

# RFC 9110 token characters: what a well-formed header name is made of.
TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
names = st.text(TOKEN_CHARS, min_size=1, max_size=20)
# Field values as a server hands them over: any latin-1 text without CR, LF or NUL.
latin1_values = st.text(
    st.characters(min_codepoint=1, max_codepoint=255, blacklist_characters="\r\n"),
    max_size=40,
)
raw_lists = st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=40)), max_size=12)


@given(raw_lists)
def test_any_raw_header_list_reads_back_as_latin1_text(raw: list[tuple[bytes, bytes]]) -> None:
    headers = Headers(raw=raw)
    expected = [(key.decode("latin-1"), value.decode("latin-1")) for key, value in raw]
    assert headers.items() == expected
    assert headers.keys() == [key for key, _ in expected]
    assert headers.values() == [value for _, value in expected]
    assert len(headers) == len(raw)
    assert headers.raw == raw
    assert headers.mutablecopy().raw == raw
    repr(headers)
    for key, value in expected:
        # Raw names keep their case; a lowercase ASCII one is found under any spelling.
        if key.isascii() and key == key.lower():
            assert key.upper() in headers
            assert value in headers.getlist(key.upper())


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "set-cookie"]), latin1_values)))
def test_getlist_gives_every_value_in_order(pairs: list[tuple[str, str]]) -> None:
    headers = Headers(raw=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs])
    for name in ("a", "b", "set-cookie"):
        values = [value for key, value in pairs if key == name]
        assert headers.getlist(name) == values
        assert headers.getlist(name.upper()) == values
        assert headers.get(name) == (values[0] if values else None)
        assert (name in headers) == bool(values)


@given(names, latin1_values)
def test_a_written_header_reads_back_exactly(name: str, value: str) -> None:
    headers = MutableHeaders()
    headers[name] = value
    assert headers[name.upper()] == value
    assert headers[name.lower()] == value
    assert headers.raw == [(name.lower().encode("latin-1"), value.encode("latin-1"))]
    assert Headers(headers={name: value}) == headers


@given(st.text(max_size=20), st.text(max_size=40))
def test_writing_any_header_stores_it_or_raises_value_error(name: str, value: str) -> None:
    before = [(b"x-existing", b"1")]
    for write in ("set", "append", "setdefault", "constructor"):
        headers = MutableHeaders(raw=list(before))
        try:
            if write == "set":
                headers[name] = value
            elif write == "append":
                headers.append(name, value)
            elif write == "setdefault":
                headers.setdefault(name, value)
            else:
                headers = MutableHeaders(headers={name: value})
        except ValueError:
            # The guard: CR, LF, NUL or a character latin-1 cannot carry.
            assert not _storable(name + value)
            if write != "constructor":
                assert headers.raw == before
        else:
            assert _storable(name + value)
            if not (write == "setdefault" and name.lower() == "x-existing"):
                assert value in headers.getlist(name)


@given(
    names,
    st.text(st.characters(max_codepoint=255), max_size=10),
    st.sampled_from(["\r", "\n", "\0", "\r\n"]),
    st.text(st.characters(max_codepoint=255), max_size=10),
)
def test_header_injection_is_refused(name: str, head: str, breaker: str, tail: str) -> None:
    headers = MutableHeaders()
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        headers[name] = head + breaker + tail
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        headers.append(name + breaker, tail)
    assert headers.raw == []


@pytest.mark.anyio
@given(raw_lists)
async def test_an_app_reading_hostile_request_headers_answers_200(
    raw: list[tuple[bytes, bytes]],
) -> None:
    answer = await call(_echo_app(), headers=raw)
    assert answer.status == 200
    expected = [[key.decode("latin-1"), value.decode("latin-1")] for key, value in raw]
    assert json.loads(answer.body)["headers"] == expected


@pytest.mark.parametrize(
    ("operation", "make_input"),
    [
        pytest.param(
            lambda h: h.getlist("missing"),
            lambda n: Headers(raw=[(b"x", b"y")] * n),
            id="getlist-missing",
        ),
        pytest.param(
            lambda h: "X-Missing" in h,
            lambda n: Headers(raw=[(b"x-missing-not", b"y")] * n),
            id="contains-near-miss",
        ),
        pytest.param(
            lambda h: h.items(),
            lambda n: Headers(raw=[(b"a" * 8, b"b" * 8)] * n),
            id="items",
        ),
        pytest.param(
            lambda h: h.mutablecopy().__setitem__("x", "z"),
            lambda n: Headers(raw=[(b"x", b"y")] * n),
            id="set-replaces-many",
        ),
        pytest.param(
            lambda v: MutableHeaders().__setitem__("x", v),
            lambda n: "a" * (64 * n),
            id="set-long-value",
        ),
    ],
)
def test_header_operations_take_linear_time(
    operation: Callable[[Any], object], make_input: Callable[[int], Any]
) -> None:
    assert_linear(operation, make_input, 200)


def _storable(text: str) -> bool:
    return not any(c in text for c in "\r\n\0") and all(ord(c) <= 255 for c in text)


@functools.cache
def _echo_app() -> Stellate:
    # Touches every view built from the headers, so any of them raising shows up.
    def endpoint(request: Request) -> Response:
        summary = {
            "headers": [list(item) for item in request.headers.items()],
            "url": str(request.url),
            "base_url": str(request.base_url),
            "cookies": request.cookies,
            "host": request.headers.get("host"),
            "hostname": request.url.hostname,
            "port": request.url.port,
        }
        return JSONResponse(summary)

    return Stellate(routes=[Route("/", endpoint)])
