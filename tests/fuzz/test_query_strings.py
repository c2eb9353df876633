"""Fuzz tests of query-string parsing: `QueryParams` and the query helpers of `URL`.

Properties: `QueryParams` of an urlencoded list of pairs gives back exactly those
pairs (duplicates and order kept), from text and from bytes; any text or bytes at
all parse without raising; `URL`'s query helpers keep what they are given; a query
string reaching an application (any bytes, or pairs sent by the test client) gives a
200 with the parameters as parsed; parsing is linear in the query's length.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stellate.applications import Stellate
from stellate.requests import Request
from stellate.responses import JSONResponse, Response
from stellate.routing import Route
from stellate_asgi.datastructures import URL, QueryParams
from tests.conftest import TestClientFactory
from tests.fuzz._asgi import call
from tests.fuzz._timing import assert_linear

# Any text a form or link could carry (hypothesis' default alphabet has no surrogates).
texts = st.text(max_size=20)
pair_lists = st.lists(st.tuples(texts, texts), max_size=10)


@given(pair_lists)
def test_urlencoded_pairs_parse_back_to_the_same_pairs(pairs: list[tuple[str, str]]) -> None:
    query = urlencode(pairs)
    assert QueryParams(query).multi_items() == pairs
    assert QueryParams(query.encode("ascii")).multi_items() == pairs
    params = QueryParams(pairs)
    assert str(params) == query
    assert QueryParams(str(params)) == params
    for key, _ in pairs:
        values = [value for name, value in pairs if name == key]
        assert params.getlist(key) == values
        # The mapping view holds the last value of a repeated key.
        assert params[key] == values[-1]


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_any_query_string_parses_without_raising(query: str | bytes) -> None:
    params = QueryParams(query)
    for key, value in params.multi_items():
        assert isinstance(key, str)
        assert isinstance(value, str)
    assert len(params.multi_items()) <= len(query) + 1
    str(params)
    repr(params)


@given(st.text(st.sampled_from("%&=+;a0Fé\x00"), max_size=80))
def test_escape_and_separator_soup_parses_without_raising(query: str) -> None:
    # A denser search of the characters the parser treats specially.
    params = QueryParams(query)
    assert QueryParams(str(params)) == params


@given(st.dictionaries(texts, texts, max_size=6), st.dictionaries(texts, texts, max_size=6))
def test_url_query_helpers_keep_what_they_are_given(
    existing: dict[str, str], new: dict[str, str]
) -> None:
    url = URL("https://example.org/path").replace(query=urlencode(existing))

    replaced = url.replace_query_params(**new)
    assert QueryParams(replaced.query).multi_items() == list(new.items())

    included = url.include_query_params(**new)
    assert dict(QueryParams(included.query)) == {**existing, **new}

    removed = url.remove_query_params(list(new))
    assert dict(QueryParams(removed.query)) == {
        key: value for key, value in existing.items() if key not in new
    }
    for result in (replaced, included, removed):
        assert (result.scheme, result.hostname, result.path) == ("https", "example.org", "/path")


@pytest.mark.anyio
@given(st.binary(max_size=300))
async def test_any_raw_query_string_reaches_the_app_as_a_200(query: bytes) -> None:
    answer = await call(_query_app(), query_string=query)
    assert answer.status == 200
    assert json.loads(answer.body) == [list(pair) for pair in QueryParams(query).multi_items()]


# Each example is a real request through the test client: fewer of them.
@settings(max_examples=50)
@given(pair_lists)
def test_pairs_sent_by_the_test_client_arrive_unchanged(
    test_client_factory: TestClientFactory, pairs: list[tuple[str, str]]
) -> None:
    client = test_client_factory(_query_app())
    # Encoded here: httpx's own `params=` groups repeated keys, changing the order.
    response = client.get("/?" + urlencode(pairs))
    assert response.status_code == 200
    assert response.json() == [list(pair) for pair in pairs]


@pytest.mark.parametrize(
    "make_query",
    [
        pytest.param(lambda n: "%" * n, id="percents"),
        pytest.param(lambda n: "&" * n, id="ampersands"),
        pytest.param(lambda n: "=" * n, id="equals"),
        pytest.param(lambda n: "+" * n, id="pluses"),
        pytest.param(lambda n: "a=%25&" * n, id="escaped-pairs"),
        pytest.param(lambda n: "a=" + "%e2%82" * n, id="broken-utf8-escapes"),
        pytest.param(lambda n: b"\xff%" * n, id="raw-bytes"),
    ],
)
def test_query_parsing_takes_linear_time(make_query: Callable[[int], Any]) -> None:
    assert_linear(QueryParams, make_query, 500)


@functools.cache
def _query_app() -> Stellate:
    def endpoint(request: Request) -> Response:
        return JSONResponse(request.query_params.multi_items())

    return Stellate(routes=[Route("/", endpoint)])
