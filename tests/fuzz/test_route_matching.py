"""Fuzz tests of route matching: the router's segment index and the compiled path
regexes of `Route` and `Mount`.

Properties: for random route tables and random paths, the indexed router picks the
same route with the same parameters (or the same redirect or 404) as a plain
first-match scan over every route; any path reaching an application with every
convertor gets 200, 307 or 404, never a 5xx, and the parameters of a 200 are the
path's text converted; matching a hostile path costs linear time, also for
templates with several parameters in one segment.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stellate_asgi.types import Scope
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, Response
from stellate_routing.convertors import CONVERTOR_TYPES
from stellate_routing.routing import BaseRoute, Match, Mount, Route, Router, compile_path
from tests.fuzz._asgi import call
from tests.fuzz._timing import assert_linear

# Template segments; "P" stands for a parameter name, made unique per table.
SEGMENTS = ["a", "b", "ab", "{P}", "{P:int}", "{P:float}", "v{P:int}.{P:int}", "{P}-{P}", "{P}.{P}"]
# Path segments that fit each template segment, or nearly do; any of them may stand
# in for any other, and for the empty segment.
FITTING = {
    "a": ["a", "A"],
    "b": ["b"],
    "ab": ["ab", "a"],
    "{P}": ["x", "x-y", "a.b", "é"],
    "{P:int}": ["1", "12", "01", "1x"],
    "{P:float}": ["1.5", "2", "1.", ".5"],
    "v{P:int}.{P:int}": ["v1.2", "v12.34", "v1", "v1.2.3"],
    "{P}-{P}": ["x-y", "x-y-z", "-x", "x-", "-"],
    "{P}.{P}": ["a.b", "a.b.c", ".a", "a."],
    "": [""],
}
PATH_SEGMENTS = sorted({text for texts in FITTING.values() for text in texts})

# A template: its segments, and whether a `{P:path}` parameter ends it.
Template = tuple[list[str], bool]
# A table entry: ("route", template, []) or ("mount", template, child templates).
Entry = tuple[str, Template, list[Template]]

templates: st.SearchStrategy[Template] = st.tuples(
    st.lists(st.sampled_from(SEGMENTS), max_size=3),
    # A trailing `{P:path}` parameter, which the index treats as a prefix.
    st.booleans(),
)
entries: st.SearchStrategy[Entry] = st.one_of(
    st.tuples(st.just("route"), templates, st.just([])),
    st.tuples(st.just("mount"), templates, st.lists(templates, min_size=1, max_size=2)),
)
paths = st.builds(
    lambda segments, end: "/" + "/".join(segments) + end,
    st.lists(st.sampled_from(PATH_SEGMENTS), max_size=5),
    st.sampled_from(["", "/", "\n"]),
)


@st.composite
def paths_like(draw: st.DrawFn, segments: list[str]) -> str:
    """A path shaped like the template `segments`: each segment something that fits
    it or nearly does, sometimes with a segment more or less, and a random ending."""
    texts = [draw(st.sampled_from(FITTING[segment])) for segment in segments]
    if draw(st.booleans()):
        texts.insert(draw(st.integers(0, len(texts))), draw(st.sampled_from(PATH_SEGMENTS)))
    if draw(st.booleans()) and texts:
        texts.pop(draw(st.integers(0, len(texts) - 1)))
    return "/" + "/".join(texts) + draw(st.sampled_from(["", "/", "\n", "/x/y"]))


@pytest.mark.anyio
@given(st.lists(entries, min_size=1, max_size=6), st.data())
async def test_the_index_picks_what_a_plain_scan_picks(
    table: list[Entry],
    data: st.DataObject,
) -> None:
    indexed = _build(table, Route, Mount)
    plain = _build(table, _UnindexedRoute, _UnindexedMount)
    # Paths shaped like the table's templates (a mount's followed by a child's), and
    # paths of random segments.
    shapes = [
        spec[0] + child[0] for _, spec, children in table for child in children or [([], False)]
    ]
    request_paths = data.draw(
        st.lists(
            st.one_of(st.sampled_from(shapes).flatmap(paths_like), paths), min_size=1, max_size=6
        )
    )
    for path in request_paths:
        expected = await call(plain, path=path)
        answer = await call(indexed, path=path)
        assert (answer.status, answer.body) == (expected.status, expected.body), path
        assert answer.header(b"location") == expected.header(b"location")


@given(templates, st.data())
def test_compiled_paths_match_as_the_plain_template_regex_does(
    spec: Template, data: st.DataObject
) -> None:
    # `compile_path` makes segments with several parameters atomic, to stay linear;
    # that must never change what matches, nor how the parameters are split.
    names = (f"p{index}" for index in range(100))
    template = re.sub("P", lambda _: next(names), "/" + "/".join(spec[0]))
    if spec[1]:
        template = template.rstrip("/") + "/{P:path}".replace("P", next(names))
    compiled = compile_path(template)[0]
    plain = re.compile("^" + _plain_regex(template) + "$")
    request_paths = data.draw(st.lists(paths_like(spec[0]), min_size=1, max_size=8))
    for path in request_paths:
        match, expected = compiled.match(path), plain.match(path)
        assert (match and match.groupdict()) == (expected and expected.groupdict()), path


@given(
    st.lists(st.sampled_from(["a", "b", "ab", "a.b", "", "é", "%20", "(", "$"]), max_size=3),
    st.lists(st.sampled_from(["a", "b", "ab", "a.b", "", "é", "%20", "(", "$", "A"]), max_size=4),
    st.sampled_from(["", "/", "\n", "\n\n", "/\n", "x"]),
    st.sampled_from(["", "/a", "/b"]),
)
def test_a_route_without_parameters_matches_what_its_regex_matches(
    template: list[str], segments: list[str], end: str, root_path: str
) -> None:
    # Such a route compares the path with its template instead of running the regex;
    # the outcome must be the regex's, "$" before a final newline included.
    route = Route("/" + "/".join(template), Response, methods=["GET"])
    path = root_path + "/" + "/".join(segments) + end
    scope: Scope = {"type": "http", "method": "GET", "path": path, "root_path": root_path}
    match, child_scope = route.matches(scope)
    route_path = path[len(root_path) :]
    assert (match is Match.FULL) == bool(route.path_regex.match(route_path)), path
    if match is Match.FULL:
        assert child_scope["path_params"] == {}


@pytest.mark.anyio
@given(
    st.sampled_from(["s", "i", "f", "u", "p", "m", "mount/t", "mount/t/x"]),
    st.one_of(st.text(max_size=40), st.text(st.sampled_from("0123456789abcdef.-/\n%"))),
)
async def test_any_path_gets_200_307_or_404_with_converted_parameters(
    prefix: str, rest: str
) -> None:
    path = f"/{prefix}/{rest}"
    answer = await call(_convertor_app(), path=path)
    assert answer.status in (200, 307, 404)
    if answer.status != 200:
        return
    seen = json.loads(answer.body)
    # "$" also matches before a final newline, as in Starlette: that newline is
    # not part of a number.
    text = rest.removesuffix("\n")
    if prefix == "s":
        assert seen == {"v": rest}
    elif prefix == "i":
        assert re.fullmatch("[0-9]+", text)
        assert seen == {"v": int(text)}
    elif prefix == "f":
        assert re.fullmatch(r"[0-9]+(\.[0-9]+)?", text)
        assert seen == {"v": float(text)}
    elif prefix == "u":
        assert seen["v"].replace("-", "") == text.replace("-", "").lower()
    elif prefix == "p":
        assert seen == {"v": text}
        assert "\n" not in text
    elif prefix == "m":
        first, _, number = text.partition("/")
        assert re.fullmatch("[0-9]+", number)
        assert seen["c"] == int(number)
        assert f"{seen['a']}-{seen['b']}" == first
    else:
        assert seen["t"] == "t"


@pytest.mark.parametrize(
    ("route", "make_path"),
    [
        # Two parameters in one segment, then more path: the split of the segment
        # must not be retried for every way the rest could fail.
        pytest.param(
            Route("/{slug}-{lang}/{page:int}", Response),
            lambda n: "/" + "-" * n + "/x",
            id="route-two-params-in-a-segment",
        ),
        pytest.param(
            Route("/{name}.{ext}/{page:int}/raw", Response),
            lambda n: "/" + "." * n + "/1/x",
            id="route-name-dot-ext",
        ),
        pytest.param(
            Mount("/{tenant}-{region}", routes=[]),
            lambda n: "/" + "-" * n,
            id="mount-two-params-in-a-segment",
        ),
        pytest.param(
            Route("/v{major:int}.{minor:int}/{page:int}", Response),
            lambda n: "/v" + "1" * n + "." + "2" * n + "/x",
            id="version-segment",
        ),
        pytest.param(
            Route("/{a}/{b}/{c}/end", Response),
            lambda n: "/x" * n,
            id="many-segments",
        ),
        pytest.param(
            Route("/files/{rest:path}/raw", Response),
            lambda n: "/files" + "/x" * n,
            id="path-then-suffix",
        ),
        pytest.param(
            Route("/{id:float}/x", Response),
            lambda n: "/" + "1" * n + "." + "1" * n + "/y",
            id="float-then-more",
        ),
    ],
)
def test_matching_a_hostile_path_takes_linear_time(
    route: BaseRoute, make_path: Callable[[int], str]
) -> None:
    def match(path: str) -> Match:
        scope: Scope = {"type": "http", "method": "GET", "path": path, "root_path": ""}
        return route.matches(scope)[0]

    assert match(make_path(10)) is Match.NONE
    assert_linear(match, make_path, 200)


class _UnindexedRoute(Route):
    """A `Route` the index cannot read (it overrides `matches`): always a candidate,
    so a router of these scans every route in order."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return super().matches(scope)


class _UnindexedMount(Mount):
    """A `Mount` the index cannot read, for the same reason."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return super().matches(scope)


def _build(
    table: list[Entry],
    route_class: type[Route],
    mount_class: type[Mount],
) -> Router:
    # Parameter names are unique across the whole table, mounts included.
    names = (f"p{index}" for index in range(1000))

    def template(spec: Template) -> str:
        segments, tail = spec
        text = "/" + "/".join(segments) if segments else ""
        if tail:
            text += "/{P:path}"
        return re.sub("P", lambda _: next(names), text) or "/"

    routes: list[BaseRoute] = []
    for position, (kind, spec, children) in enumerate(table):
        if kind == "route":
            routes.append(route_class(template(spec), _endpoint(f"r{position}")))
        else:
            inner = [
                route_class(template(child), _endpoint(f"m{position}.{index}"))
                for index, child in enumerate(children)
            ]
            routes.append(mount_class(template(spec).rstrip("/"), routes=inner))
    return Router(routes=routes)


def _plain_regex(template: str) -> str:
    # The textbook translation of a template: each parameter its convertor's regex,
    # everything else literal.
    regex, position = "", 0
    for match in re.finditer(r"{(\w+)(?::(\w+))?}", template):
        convertor = CONVERTOR_TYPES[match.group(2) or "str"]
        regex += re.escape(template[position : match.start()])
        regex += f"(?P<{match.group(1)}>{convertor.regex})"
        position = match.end()
    return regex + re.escape(template[position:])


def _endpoint(label: str) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        return JSONResponse({"route": label, "params": request.path_params})

    return endpoint


def _params(request: Request) -> Response:
    params: dict[str, Any] = {
        key: str(value) if isinstance(value, uuid.UUID) else value
        for key, value in request.path_params.items()
    }
    return JSONResponse(params)


@functools.cache
def _convertor_app() -> Router:
    return Router(
        routes=[
            Route("/s/{v}", _params),
            Route("/i/{v:int}", _params),
            Route("/f/{v:float}", _params),
            Route("/u/{v:uuid}", _params),
            Route("/p/{v:path}", _params),
            Route("/m/{a}-{b}/{c:int}", _params),
            Mount("/mount/{t}", routes=[Route("/x", _params)]),
        ]
    )
