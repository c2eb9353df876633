"""Templates with several parameters in one segment (or host) match in linear time.

`/{a}-{b}-{c}.html`, `{a}-{b}.example.com`, `/{a:int}{b:int}` and templates with two
`path` parameters compile to regexes that a backtracking engine matches in polynomial
time on a hostile segment. Routes match them with `LinearMatcher` instead, which must
give exactly the regex's answer (same match, same parameter texts, `$` before a final
newline included) at linear cost; every other template stays on its regex.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from stellate_asgi.types import Scope
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, Response
from stellate_routing._paths import compile_template, match_template
from stellate_routing.convertors import CONVERTOR_TYPES, Convertor
from stellate_routing.routing import (
    BaseRoute,
    Host,
    Match,
    Mount,
    Route,
    Router,
    WebSocketRoute,
    compile_path,
)
from stellate_websockets.websockets import WebSocket
from tests.conftest import TestClientFactory
from tests.fuzz._timing import assert_linear

UUID_TEXT = "12345678-1234-1234-1234-123456789abc"
# Literal texts between parameters, and path text: a small alphabet full of the
# literals' characters, so that a parameter's text often contains them too.
LITERALS = ["", "-", ".", "_", "a", "1", "-.", ".-", "_a", "-1-"]
SOUP = ["-", ".", "_", "a", "1", "/", "\n", "-a", "1.5", UUID_TEXT]
# Texts that fit each convertor, or nearly do.
FITTING = {
    "str": ["a", "a-b", "-", "a.b", "1", "é"],
    "int": ["1", "12", "0"],
    "float": ["1.5", "2", "1.", "0.25"],
    "uuid": [UUID_TEXT, UUID_TEXT.replace("-", "").upper(), UUID_TEXT + "d"],
    "path": ["", "a/b", "-/", "/", "x"],
}
# Hypothesis settings for a test module outside `tests/fuzz` (whose conftest sets
# them there): no example database, no per-example deadline on a loaded machine, and
# caches kept out of the repository, in the directory `tests/fuzz` uses.
EQUIVALENCE = settings(max_examples=300, deadline=None, database=None)
if "HYPOTHESIS_STORAGE_DIRECTORY" not in os.environ:
    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "stellate-hypothesis"))

# A template: its head, then (convertor, literal after it) per parameter.
Template = tuple[str, list[tuple[str, str]]]

path_templates: st.SearchStrategy[Template] = st.tuples(
    st.sampled_from(["/", "/x", "/1", "/a/"]),
    st.lists(
        st.tuples(
            st.sampled_from(["str", "int", "float", "uuid", "path"]),
            # "/" now and then, so that some parameters share a segment and some do not.
            st.one_of(st.sampled_from(LITERALS), st.sampled_from(["/", "-/", "/a"])),
        ),
        min_size=2,
        max_size=4,
    ),
)
host_templates: st.SearchStrategy[Template] = st.tuples(
    st.sampled_from(["", "x", "1"]),
    st.lists(
        st.tuples(st.sampled_from(["str", "int", "float", "uuid"]), st.sampled_from(LITERALS)),
        min_size=2,
        max_size=4,
    ),
)


@EQUIVALENCE
@given(st.one_of(path_templates, host_templates), st.data())
def test_the_linear_matcher_finds_what_the_regex_finds(spec: Template, data: st.DataObject) -> None:
    template = _template(spec)
    pattern, _, _, linear = compile_template(template)
    plain = re.compile("^" + _plain_regex(template) + "$")
    texts = data.draw(st.lists(st.one_of(_texts_like(spec), _soup(spec)), min_size=1, max_size=8))
    for text in texts:
        expected = pattern.match(text)
        answer = match_template(pattern, linear, text)
        assert answer == (expected and expected.groupdict()), (template, text)
        # The compiled regex is itself the textbook one, made atomic where that
        # changes nothing: the plain regex agrees too, on these short texts.
        plain_match = plain.match(text)
        assert answer == (plain_match and plain_match.groupdict()), (template, text)


@pytest.mark.parametrize(
    ("template", "text", "params"),
    [
        # The first parameter takes as much as the rest allows, then the second...
        ("/{a}-{b}-{c}.html", "/x-y-z-w.html", {"a": "x-y", "b": "z", "c": "w"}),
        ("/r/{name}.{ext}", "/r/archive.tar.gz", {"name": "archive.tar", "ext": "gz"}),
        ("/{a:int}{b:int}", "/12345", {"a": "1234", "b": "5"}),
        ("/{a:float}{b:int}", "/1.25", {"a": "1.2", "b": "5"}),
        ("/{a:float}.{b:int}", "/1.5.7", {"a": "1.5", "b": "7"}),
        ("/{a:float}.{b:int}", "/1.5", {"a": "1", "b": "5"}),
        ("/{id:uuid}-{n:int}", f"/{UUID_TEXT}-7", {"id": UUID_TEXT, "n": "7"}),
        ("/{a:path}/{b:path}", "/x/y/z", {"a": "x/y", "b": "z"}),
        ("/{a:path}/{b:path}", "/x/y\nz", None),
        ("{a}-{b}.example.com", "api-eu-1.example.com", {"a": "api-eu", "b": "1"}),
        ("{a}-{b}.example.com:8000", "api-eu.example.com", {"a": "api", "b": "eu"}),
        # `$` also matches before a final newline, which `[^/]+` may take in.
        ("/{a}-{b}", "/x-y\n", {"a": "x", "b": "y\n"}),
        ("/{a:int}-{b:int}", "/1-2\n", {"a": "1", "b": "2"}),
        ("/{a:int}-{b:int}", "/1-2\n\n", None),
        ("/{a}.{b}/{path:path}", "/x.y/\n", {"a": "x", "b": "y", "path": ""}),
        ("/{a}-{b}.html", "/-.html", None),
        ("/{a}-{b}.html", "/x-y/.html", None),
    ],
)
def test_known_templates_split_as_the_regex_does(
    template: str, text: str, params: dict[str, str] | None
) -> None:
    pattern, _, _, linear = compile_template(template)
    assert linear is not None
    assert linear.match(text) == params
    expected = pattern.match(text)
    assert (expected and expected.groupdict()) == params


@pytest.mark.parametrize(
    ("template", "linear"),
    [
        ("/{a}-{b}", True),
        ("/{a:int}{b:int}", True),
        ("/x/{a}.{b}/{c}", True),
        ("/{a:path}/x/{b:path}", True),
        ("{a}-{b}.example.com", True),
        # One parameter per segment (or host) at most one `path`: the regex is linear,
        # and fast, so it stays.
        ("/", False),
        ("/users/{id:int}", False),
        ("/{a}/{b}/{c:float}/{d:uuid}", False),
        ("/files/{rest:path}", False),
        ("/{a}/{rest:path}", False),
        ("{sub}.example.com", False),
        # A custom convertor's regex cannot be reasoned about: it keeps its regex.
        ("/{a:hex}-{b}", False),
    ],
)
def test_only_templates_whose_regex_could_backtrack_get_a_matcher(
    template: str, linear: bool, hex_convertor: None
) -> None:
    assert (compile_template(template)[3] is not None) is linear
    # Whatever the matcher, the public `compile_path` is unchanged.
    assert compile_template(template)[:3] == compile_path(template)


def test_a_replaced_path_regex_is_used_instead_of_the_matcher() -> None:
    # A subclass or a user may compile its own `path_regex`: it must then decide.
    route = Route("/{a}-{b}", Response)
    assert route.matches(_scope("/x-y"))[0] is Match.FULL
    route.path_regex = re.compile("^/only$")
    assert route.matches(_scope("/x-y"))[0] is Match.NONE
    assert route.matches(_scope("/only"))[0] is Match.FULL


@pytest.mark.parametrize(
    ("path", "status", "params"),
    [
        ("/post/hello-world-en.html", 200, {"slug": "hello-world", "lang": "en"}),
        ("/r/report.2024.pdf", 200, {"name": "report.2024", "ext": "pdf"}),
        ("/v2.10/items", 200, {"major": 2, "minor": 10}),
        ("/pair/1234", 200, {"a": 123, "b": 4}),
        (f"/thing/{UUID_TEXT}-1.5", 200, {"id": UUID_TEXT, "n": 1.5}),
        ("/acme-eu/users/7", 200, {"tenant": "acme", "region": "eu", "id": 7}),
        ("/post/hello.html", 404, None),
        ("/v2/items", 404, None),
        ("/pair/1", 404, None),
    ],
)
def test_requests_route_with_the_right_path_params(
    test_client_factory: TestClientFactory,
    path: str,
    status: int,
    params: dict[str, Any] | None,
) -> None:
    client = test_client_factory(_app())
    response = client.get(path)
    assert response.status_code == status
    if params is not None:
        assert response.json() == params


def test_a_host_with_several_parameters_routes_by_its_split(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(_app())
    response = client.get("/where", headers={"host": "api-eu-west.example.com:8080"})
    assert response.status_code == 200
    assert response.json() == {"service": "api-eu", "region": "west"}
    assert client.get("/where", headers={"host": "api.example.com"}).status_code == 404


def test_a_websocket_route_with_several_parameters_gets_them(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(_app())
    with client.websocket_connect("/ws/lobby-ann") as session:
        assert session.receive_json() == {"room": "lobby", "user": "ann"}


DASHES = "-" * 20_000


@pytest.mark.parametrize(
    ("path", "host", "status", "body"),
    [
        # The regex takes O(n^3) steps on these (42 s for 3,200 dashes): each is
        # answered at once, with a 404 or with the split the regex would have given.
        ("/" + DASHES, "testserver", 404, None),
        ("/" + DASHES + ".html", "testserver", 200, {"a": DASHES[4:], "b": "-", "c": "-"}),
        ("/" + DASHES + "/users/x", "testserver", 404, None),
        ("/" + DASHES + "/users/7", "testserver", 200, {"a": DASHES[2:], "b": "-", "id": 7}),
        ("/where", "-" * 1_000 + ".example.org", 404, None),
        ("/where", "-" * 1_000 + ".example.com", 200, {"a": "-" * 996, "b": "-", "c": "-"}),
    ],
)
def test_hostile_paths_and_hosts_are_answered_at_once(
    test_client_factory: TestClientFactory,
    path: str,
    host: str,
    status: int,
    body: dict[str, Any] | None,
) -> None:
    client = test_client_factory(_hostile_app())
    started = time.perf_counter()
    response = client.get(path, headers={"host": host})
    elapsed = time.perf_counter() - started
    assert response.status_code == status
    if body is not None:
        assert response.json() == body
    # A generous bound, for a loaded machine.
    assert elapsed < 2


@pytest.mark.parametrize(
    ("route", "make_text"),
    [
        # Polynomial for the regex:
        pytest.param(
            Route("/{a}-{b}-{c}.html", Response), lambda n: "/" + "-" * n, id="three-in-a-segment"
        ),
        pytest.param(
            Route("/{a}-{b}.html", Response),
            lambda n: "/" + "-" * n + ".htm",
            id="two-and-a-suffix",
        ),
        pytest.param(Route("/{a:int}{b:int}", Response), lambda n: "/" + "1" * n + "x", id="ints"),
        pytest.param(
            Route("/{a:float}{b:float}{c:int}", Response),
            lambda n: "/" + "1" * n + "." + "1" * n + "x",
            id="floats",
        ),
        pytest.param(
            Route("/{a:path}/{b:path}", Response), lambda n: "/" * n + "\nx", id="two-paths"
        ),
        pytest.param(
            # Host headers are capped at 1,024 characters: 50 and 800 here.
            Host("{a}-{b}-{c}.example.com", Router()),
            lambda n: "-" * (n // 2) + ".example.org",
            id="host",
        ),
        # Linear for the regex already, and so for the matcher: its other code paths.
        pytest.param(Mount("/{a}-{b}", routes=[]), lambda n: "/" + "-" * n, id="mount"),
        pytest.param(
            Mount("/{a}-{b}", routes=[]), lambda n: "/" + "-/" * n + "\n", id="mount-many-slashes"
        ),
        pytest.param(
            Route("/{a}{b:uuid}{c}", Response), lambda n: "/" + "a" * n + "/", id="uuid-in-hex"
        ),
    ],
)
def test_matching_costs_linear_time(route: BaseRoute, make_text: Callable[[int], str]) -> None:
    def match(text: str) -> Match:
        return route.matches(_scope(text) if text.startswith("/") else _host_scope(text))[0]

    assert match(make_text(50)) is Match.NONE
    assert_linear(match, make_text, 100)


# Helpers


@pytest.fixture
def hex_convertor() -> Iterator[None]:
    # A custom convertor, registered for one test and removed after it.
    class HexConvertor(Convertor[int]):
        regex = "[0-9a-f]+"

        def convert(self, value: str) -> int:
            return int(value, 16)

        def to_string(self, value: int) -> str:
            return format(value, "x")

    CONVERTOR_TYPES["hex"] = HexConvertor()
    yield None
    del CONVERTOR_TYPES["hex"]


def _template(spec: Template) -> str:
    head, params = spec
    parts = [head]
    for index, (kind, literal) in enumerate(params):
        parts.append(f"{{p{index}:{kind}}}{literal}")
    return "".join(parts)


@st.composite
def _texts_like(draw: st.DrawFn, spec: Template) -> str:
    """A text shaped like the template: each parameter something that fits it or
    nearly does, each piece sometimes altered, sometimes a final newline."""
    head, params = spec
    pieces = [head]
    for kind, literal in params:
        pieces += [draw(st.sampled_from(FITTING[kind])), literal]
    for _ in range(draw(st.integers(0, 2))):
        position = draw(st.integers(0, len(pieces) - 1))
        pieces[position] = draw(st.sampled_from(["", "-", "1", "/", "\n", ".", "a"]))
    return "".join(pieces) + draw(st.sampled_from(["", "", "\n", "/"]))


def _soup(spec: Template) -> st.SearchStrategy[str]:
    # Short texts of separators and fragments, under the template's head.
    return st.lists(st.sampled_from(SOUP), max_size=6).map(lambda parts: spec[0] + "".join(parts))


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


def _scope(path: str) -> Scope:
    return {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}


def _host_scope(host: str) -> Scope:
    scope = _scope("/")
    scope["headers"] = [(b"host", host.encode("latin-1"))]
    return scope


def _params(request: Request) -> Response:
    return JSONResponse(
        {
            key: str(value) if isinstance(value, uuid.UUID) else value
            for key, value in request.path_params.items()
        }
    )


async def _websocket_params(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(websocket.path_params)
    await websocket.close()


def _app() -> Router:
    return Router(
        routes=[
            Route("/post/{slug}-{lang}.html", _params),
            Route("/r/{name}.{ext}", _params),
            Route("/v{major:int}.{minor:int}/items", _params),
            Route("/pair/{a:int}{b:int}", _params),
            Route("/thing/{id:uuid}-{n:float}", _params),
            Host(
                "{service}-{region}.example.com",
                Router(routes=[Route("/where", _params)]),
            ),
            Mount("/{tenant}-{region}", routes=[Route("/users/{id:int}", _params)]),
            WebSocketRoute("/ws/{room}-{user}", _websocket_params),
        ]
    )


def _hostile_app() -> Router:
    # The templates of the issue, behind the Host header a hostile request may send.
    return Router(
        routes=[
            Host("{a}-{b}-{c}.example.com", Router(routes=[Route("/where", _params)])),
            Route("/{a}-{b}-{c}.html", _params),
            Mount("/{a}-{b}", routes=[Route("/users/{id:int}", _params)]),
        ]
    )
