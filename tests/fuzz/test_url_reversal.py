"""Fuzz tests of url reversal: `url_path_for` on routes, mounts and hosts, and the
`replace_params` it fills templates with.

Properties: the path `url_path_for` builds from any parameters in the convertors'
domains routes back to the same route with the same parameters (through a mount and
a host too); any name with any parameters gives a path or a clear error
(`NoMatchFound`, or `AssertionError` / `ValueError` for a value its convertor
refuses); a parameter value that looks like a placeholder is never filled in
again; reversal takes linear time in the number of parameters.
"""

from __future__ import annotations

import functools
import json
import math
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, Response
from stellate_routing.convertors import CONVERTOR_TYPES
from stellate_routing.routing import Host, Mount, NoMatchFound, Route, Router, replace_params
from tests.fuzz._asgi import call
from tests.fuzz._timing import assert_linear

# Text a `str` parameter can hold: anything but "/" (a newline too: `[^/]` takes it).
segment_texts = st.text(min_size=1, max_size=20).filter(lambda text: "/" not in text)
# Text a `path` parameter can hold: anything but a newline, which "." does not match.
path_texts = st.text(max_size=30).filter(lambda text: "\n" not in text)
# A host label a Host header can carry (RFC 3986 reg-name characters, no ".").
label_texts = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~!$&'()*+,;=",
    min_size=1,
    max_size=12,
)
non_negative_floats = st.floats(min_value=0, max_value=1e15, allow_nan=False)

# Which route each parameter kind is reversed through, and its values.
DOMAINS: dict[str, st.SearchStrategy[Any]] = {
    "str": segment_texts,
    "path": path_texts,
    "int": st.integers(min_value=0, max_value=10**30),
    "float": non_negative_floats,
    "uuid": st.uuids(),
}


@pytest.mark.anyio
@pytest.mark.parametrize("kind", sorted(DOMAINS))
@given(data=st.data())
async def test_a_reversed_path_routes_back_to_its_parameters(
    kind: str, data: st.DataObject
) -> None:
    value = data.draw(DOMAINS[kind], label="value")
    path = _router().url_path_for(kind, v=value)
    answer = await call(_router(), path=path)
    assert answer.status == 200
    _assert_same(kind, json.loads(answer.body)["v"], value)


@pytest.mark.anyio
@given(segment_texts, st.integers(min_value=0), path_texts)
async def test_a_path_reversed_through_a_mount_routes_back(
    tenant: str, item: int, rest: str
) -> None:
    path = _router().url_path_for("tenants:item", tenant=tenant, id=item, rest=rest)
    answer = await call(_router(), path=path)
    assert answer.status == 200
    assert json.loads(answer.body) == {"tenant": tenant, "id": item, "rest": rest}


@pytest.mark.anyio
@given(label_texts, st.integers(min_value=0))
async def test_a_url_reversed_through_a_host_routes_back(sub: str, item: int) -> None:
    url = _router().url_path_for("sites:item", sub=sub, id=item)
    assert url.host == f"{sub}.example.org"
    headers = [(b"host", url.host.encode())]
    answer = await call(_router(), path=str(url), headers=headers)
    assert answer.status == 200
    assert json.loads(answer.body) == {"sub": sub, "id": item}


values = st.one_of(
    st.text(max_size=10),
    st.integers(),
    st.floats(),
    st.uuids(),
)


@given(
    st.sampled_from([*DOMAINS, "tenants:item", "sites:item", "tenants", "nope", ""]),
    st.dictionaries(st.sampled_from(["v", "id", "tenant", "rest", "sub", "path", "x"]), values),
)
# A mount's own `path` that is not a string once raised AttributeError.
@example(name="tenants", params={"tenant": "t", "path": 0})
def test_any_reversal_gives_a_path_or_a_clear_error(name: str, params: dict[str, Any]) -> None:
    try:
        path = _router().url_path_for(name, **params)
    except NoMatchFound:
        return
    except (AssertionError, ValueError, OverflowError, TypeError):
        # A value its convertor refuses: negative, NaN or infinite, "/" in a `str`,
        # text that is no number (ValueError), an infinite float for an `int`
        # (OverflowError), a value of a type it cannot write, a UUID for a `float`
        # (TypeError).
        return
    assert path.startswith("/")


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]),
        st.one_of(segment_texts, st.sampled_from(["{a}", "{b}", "{c}", "{a}{b}"])),
    )
)
def test_placeholder_lookalike_values_are_not_filled_in_again(params: dict[str, str]) -> None:
    convertors = dict.fromkeys(("a", "b", "c"), CONVERTOR_TYPES["str"])
    path, remaining = replace_params("/{a}/{b}/{c}", convertors, dict(params))
    expected = "/".join(["", *(params.get(name, "{" + name + "}") for name in "abc")])
    assert path == expected
    assert remaining == {}


@pytest.mark.parametrize(
    "make_route",
    [
        pytest.param(
            lambda n: Route("".join(f"/{{p{i}}}" for i in range(n)), Response, name="r"),
            id="many-segments",
        ),
        pytest.param(
            lambda n: Route("/" + "-".join(f"{{p{i}:int}}" for i in range(n)), Response, name="r"),
            id="many-params-in-one-segment",
        ),
    ],
)
def test_reversal_takes_linear_time(make_route: Callable[[int], Route]) -> None:
    def reverse(route: Route) -> str:
        return route.url_path_for("r", **dict.fromkeys(route.param_convertors, 7))

    assert_linear(reverse, make_route, 200)


def _assert_same(kind: str, seen: Any, value: Any) -> None:
    if kind == "uuid":
        assert seen == str(value)
    elif kind == "float" and value < 1e-3:
        # The path keeps 20 decimals: values below that round to zero.
        assert math.isclose(seen, value, abs_tol=1e-20)
    else:
        assert seen == value


def _params(request: Request) -> Response:
    params = {
        key: str(value) if isinstance(value, uuid.UUID) else value
        for key, value in request.path_params.items()
    }
    return JSONResponse(params)


@functools.cache
def _router() -> Router:
    by_kind = [Route(f"/{kind}/{{v:{kind}}}", _params, name=kind) for kind in DOMAINS]
    tenant_routes = [Route("/items/{id:int}/{rest:path}", _params, name="item")]
    site_routes = [Route("/items/{id:int}", _params, name="item")]
    return Router(
        routes=[
            *by_kind,
            Mount("/tenants/{tenant}", routes=tenant_routes, name="tenants"),
            Host("{sub}.example.org", app=Router(routes=site_routes), name="sites"),
        ]
    )
