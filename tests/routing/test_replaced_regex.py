"""A route's regex is a public attribute: replaced, before or after serving, it decides.

Starlette tries each route's `path_regex` (a `Host`'s `host_regex`) on every request,
so code that replaces one (an optional trailing slash, a path of its own) sees the new
one at once. Stellate's index places routes by their templates: these tests hold it to
the same outcome, for an application (its fused stack) and a bare router alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from stellate.applications import Stellate
from stellate_asgi.types import ASGIApp
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_routing.routing import (
    BaseRoute,
    Host,
    Mount,
    Route,
    Router,
    WebSocketRoute,
    compile_path,
)
from stellate_websockets.websockets import WebSocket
from tests.conftest import TestClientFactory


async def named(request: Request) -> Response:
    return PlainTextResponse(request.scope["route"].name)


async def item(request: Request) -> Response:
    return PlainTextResponse(f"item {request.path_params['n']!r}")


async def greet(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


def _inner() -> Router:
    return Router(routes=[Route("/", named, name="inner")])


def _application(routes: list[BaseRoute]) -> ASGIApp:
    return Stellate(routes=routes)


def _router(routes: list[BaseRoute]) -> ASGIApp:
    return Router(routes=routes)


SERVERS = pytest.mark.parametrize("serve", [_application, _router], ids=["app", "router"])


@SERVERS
@pytest.mark.parametrize("served_first", [False, True], ids=["before", "after-serving"])
def test_a_replaced_route_regex_decides_where_the_route_matches(
    test_client_factory: TestClientFactory,
    serve: Callable[[list[BaseRoute]], ASGIApp],
    served_first: bool,
) -> None:
    plain = Route("/a", named, name="a")
    params = Route("/items/{n:int}", item, name="items")
    client = test_client_factory(serve([plain, params]))
    if served_first:
        # The router's index is built by these requests.
        assert client.get("/a").text == "a"
        assert client.get("/items/3").text == "item 3"
    plain.path_regex = re.compile("^/a/?$")
    params.path_regex = re.compile("^/things/(?P<n>[0-9]+)$")

    # A trailing slash is now the route's own, not a redirect to "/a".
    response = client.get("/a/", follow_redirects=False)
    assert (response.status_code, response.text) == (200, "a")
    assert client.get("/a").text == "a"
    # The convertor still converts what the new regex captured.
    assert client.get("/things/7").text == "item 7"
    assert client.get("/items/7").status_code == 404


@SERVERS
@pytest.mark.parametrize("served_first", [False, True], ids=["before", "after-serving"])
def test_a_replaced_mount_or_host_regex_decides_where_it_matches(
    test_client_factory: TestClientFactory,
    serve: Callable[[list[BaseRoute]], ASGIApp],
    served_first: bool,
) -> None:
    mount = Mount("/old", app=_inner())
    host = Host("old.example.org", app=_inner())
    client = test_client_factory(serve([mount, host]))
    if served_first:
        assert client.get("/old/").text == "inner"
        assert client.get("/", headers={"host": "old.example.org"}).text == "inner"
    mount.path_regex = re.compile("^/new/(?P<path>.*)$")
    host.host_regex = re.compile("^new\\.example\\.org$")

    assert client.get("/new/").text == "inner"
    assert client.get("/old/").status_code == 404
    assert client.get("/", headers={"host": "new.example.org"}).text == "inner"
    assert client.get("/", headers={"host": "old.example.org"}).status_code == 404


@pytest.mark.parametrize("served_first", [False, True], ids=["before", "after-serving"])
def test_a_replaced_websocket_route_regex_decides_where_it_matches(
    test_client_factory: TestClientFactory, served_first: bool
) -> None:
    route = WebSocketRoute("/ws", greet)
    client = test_client_factory(Stellate(routes=[route]))
    if served_first:
        with client.websocket_connect("/ws") as session:
            assert session.receive_text() == "hello"
    route.path_regex = re.compile("^/socket$")
    with client.websocket_connect("/socket") as session:
        assert session.receive_text() == "hello"


def test_a_route_in_two_routers_is_seen_anew_by_both(
    test_client_factory: TestClientFactory,
) -> None:
    shared = Route("/a", named, name="shared")
    first = test_client_factory(Stellate(routes=[shared]))
    second = test_client_factory(Router(routes=[Route("/z", named, name="z"), shared]))
    assert first.get("/a").text == second.get("/a").text == "shared"
    shared.path_regex = re.compile("^/b$")
    assert first.get("/b").text == second.get("/b").text == "shared"
    assert first.get("/a").status_code == second.get("/a").status_code == 404


def test_a_subclass_compiling_its_own_regex_is_matched_by_it(
    test_client_factory: TestClientFactory,
) -> None:
    # Frameworks built on Starlette compile the template again in a subclass: that
    # regex has the template's pattern, so the route is still placed by its template.
    class Compiling(Route):
        def __init__(self, path: str, endpoint: Callable[[Request], object]) -> None:
            super().__init__(path, endpoint, name="compiling")
            self.path_regex, self.path_format, self.param_convertors = compile_path(path)

    routes: list[BaseRoute] = [Route(f"/r{i}/{{n:int}}", item) for i in range(50)]
    client = test_client_factory(Stellate(routes=[*routes, Compiling("/c/{n:int}", item)]))
    assert client.get("/c/5").text == "item 5"
    assert client.get("/c/x").status_code == 404
    assert client.get("/r49/1").text == "item 1"
