"""Long, deep and odd request paths against the router: a 404 (or the match), fast.

The router looks routes up through a segment index and converts parameters with
bounded work; a parameter its convertor refuses (`{id:int}` of 5,000 digits, which
`int()` rejects) is a 404, where Starlette answered 500.
"""

from __future__ import annotations

import time

import pytest

from stellate.applications import Stellate
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, PlainTextResponse, Response
from stellate_routing.routing import Mount, NoMatchFound, Route, Router
from tests.security._asgi import Exchange, http_scope, request

pytestmark = pytest.mark.anyio

TIME_BOUND = 2.0


async def params(request: Request) -> Response:
    return JSONResponse({key: str(value) for key, value in request.path_params.items()})


def many_routes() -> Stellate:
    """Two hundred routes of every kind, as a large application has."""
    routes: list[Route | Mount] = []
    for i in range(40):
        routes += [
            Route(f"/static{i}/page", params),
            Route(f"/users{i}/{{id:int}}", params),
            Route(f"/posts{i}/{{slug}}/comments/{{n:int}}", params),
            Route(f"/prices{i}/{{value:float}}", params),
            Mount(f"/mount{i}", routes=[Route("/{name}", params)]),
        ]
    routes += [
        Route("/files/{path:path}", params, name="files"),
        Route("/items/{id:uuid}", params),
        Route("/{a}-{b}", params),
    ]
    return Stellate(routes=routes)


async def timed(app: Stellate, path: str) -> tuple[Exchange, float]:
    started = time.perf_counter()
    exchange = await request(app, http_scope(path))
    return exchange, time.perf_counter() - started


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/" + "a" * 1_000_000, id="one-megabyte-segment"),
        pytest.param("/a" * 100_000, id="100k-segments"),
        pytest.param("/" * 100_000, id="100k-slashes"),
        pytest.param("/users1/" + "a/" * 50_000, id="deep-below-a-param"),
        pytest.param("/mount1/" + "x/" * 50_000, id="deep-below-a-mount"),
        pytest.param("/" + "%" * 100_000, id="percent-run"),
        pytest.param("/" + "\x00" * 10_000, id="nul-bytes"),
        pytest.param("/" + "\u00e9\u4e2d" * 50_000, id="unicode"),
        pytest.param("/posts1/" + "a" * 100_000 + "/comments/x", id="long-param-bad-int"),
        pytest.param("/items/" + "0" * 100_000, id="long-not-a-uuid"),
        pytest.param("/" + "-" * 100_000 + "/x", id="separator-run"),
    ],
)
async def test_hostile_paths_are_404_in_bounded_time(path: str) -> None:
    exchange, elapsed = await timed(many_routes(), path)

    assert exchange.status == 404
    assert exchange.body == b"Not Found"
    assert elapsed < TIME_BOUND


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/users1/" + "9" * 5000, id="int-of-5000-digits"),
        pytest.param("/posts1/x/comments/" + "9" * 5000, id="nested-int-of-5000-digits"),
    ],
)
async def test_a_parameter_its_convertor_refuses_is_404(path: str) -> None:
    exchange, elapsed = await timed(many_routes(), path)

    assert exchange.status == 404
    assert elapsed < TIME_BOUND


async def test_a_long_float_parameter_converts_in_bounded_time() -> None:
    exchange, elapsed = await timed(many_routes(), "/prices1/" + "9" * 100_000 + ".5")

    assert exchange.status == 200
    assert exchange.body == b'{"value":"inf"}'
    assert elapsed < TIME_BOUND


async def test_a_huge_path_parameter_is_passed_whole() -> None:
    tail = "a/" * 100_000
    exchange, elapsed = await timed(many_routes(), "/files/" + tail)

    assert exchange.status == 200
    assert exchange.body == b'{"path":"' + tail.encode() + b'"}'
    assert elapsed < TIME_BOUND


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/static1/page/", id="redirect-to-no-slash"),
        pytest.param("/" + "a" * 1_000_000 + "/", id="long-no-match"),
    ],
)
async def test_slash_redirects_stay_bounded(path: str) -> None:
    exchange, elapsed = await timed(many_routes(), path)

    if path == "/static1/page/":
        assert exchange.status == 307
        assert exchange.header("location") == "http://testserver/static1/page"
    else:
        assert exchange.status == 404
    assert elapsed < TIME_BOUND


@pytest.mark.parametrize(
    ("path", "status"),
    [
        # Every split of the segment fits the template, but the "/" the mount needs
        # after it never comes: a backtracking regex would retry every split (cubic
        # time). Without the slash the router offers the slashed URL instead.
        pytest.param("/m/" + "-" * 4000, 307, id="mount-without-its-slash"),
        pytest.param("/m/" + "-" * 4000 + "/", 404, id="mount-then-nothing"),
        pytest.param("/m/" + "-" * 4000 + "/a/b", 404, id="mount-then-no-route"),
        # Two parameters in one segment whose literal tail never comes.
        pytest.param("/pair/" + "-" * 8000 + "y", 404, id="two-params-no-tail"),
    ],
)
async def test_several_parameters_in_one_segment_stay_bounded(path: str, status: int) -> None:
    app = Stellate(
        routes=[
            Mount("/m/{a}-{b}-{c}", routes=[Route("/x", params)]),
            Route("/pair/{a}-{b}x", params),
        ]
    )

    exchange, elapsed = await timed(app, path)

    assert exchange.status == status
    assert elapsed < TIME_BOUND


async def test_deeply_nested_mounts() -> None:
    # Thirty mounts deep: routing and url reversal both walk the nest.
    app: Router = Router([Route("/leaf/{name}", params, name="leaf")])
    for depth in range(30):
        app = Router([Mount(f"/m{depth}", app=app, name=f"m{depth}")])
    prefix = "".join(f"/m{depth}" for depth in reversed(range(30)))
    name = ":".join(f"m{depth}" for depth in reversed(range(30))) + ":leaf"

    found, found_time = await timed_router(app, prefix + "/leaf/x")
    missing, missing_time = await timed_router(app, prefix + "/leaf/x" + "/y" * 50_000)

    assert (found.status, found.body) == (200, b'{"name":"x"}')
    assert (missing.status, missing.body) == (404, b"Not Found")
    assert found_time < TIME_BOUND
    assert missing_time < TIME_BOUND
    assert app.url_path_for(name, name="x") == prefix + "/leaf/x"


async def timed_router(app: Router, path: str) -> tuple[Exchange, float]:
    started = time.perf_counter()
    exchange = await request(app, http_scope(path))
    return exchange, time.perf_counter() - started


@pytest.mark.parametrize("value", ["../admin", "a/b", ""])
async def test_url_reversal_refuses_separators_in_a_segment(value: str) -> None:
    # A value taken from user input cannot climb out of its segment in a built URL.
    router = Router([Route("/users/{name}", PlainTextResponse("user"), name="user")])

    with pytest.raises(AssertionError, match=r"path separators|empty"):
        router.url_path_for("user", name=value)


async def test_url_reversal_of_unknown_names_is_no_match() -> None:
    router = Router([Route("/users/{name}", PlainTextResponse("user"), name="user")])

    with pytest.raises(NoMatchFound):
        router.url_path_for("user" * 10_000, name="x")
