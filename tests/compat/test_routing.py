"""Starlette-compatible routing behaviour, driven through the `stellate.*` umbrella.

Each test pins one documented Starlette behaviour: status codes, bodies, headers,
scope contents, url reversal, reprs and error messages.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from typing import Any

import pytest

from stellate.applications import Stellate
from stellate.exceptions import HTTPException
from stellate.middleware import Middleware
from stellate.requests import Request
from stellate.responses import JSONResponse, PlainTextResponse, Response
from stellate.routing import (
    BaseRoute,
    Host,
    Match,
    Mount,
    NoMatchFound,
    Route,
    Router,
    WebSocketRoute,
    get_name,
)
from stellate.testclient import TestClient
from stellate.types import ASGIApp, Message, Receive, Scope, Send
from stellate.websockets import WebSocket, WebSocketDisconnect
from tests.conftest import TestClientFactory


def text(body: str) -> Response:
    return Response(body, media_type="text/plain")


def front(request: Request) -> Response:
    return text("front page")


def people(request: Request) -> Response:
    return text("everyone")


def person(request: Request) -> Response:
    return text("person " + request.path_params["name"])


def person_self(request: Request) -> Response:
    return text("the current person")


def person_action(request: Request) -> Response:
    return text(f"person {request.path_params['name']} does {request.path_params['verb']}")


def person_suspend(request: Request) -> Response:
    return text("suspended " + request.path_params["name"])


def person_literal(request: Request) -> Response:  # pragma: no cover - shadowed on purpose
    return text("literal route")


def read_item(request: Request) -> Response:
    return text("GET item")


def write_item(request: Request) -> Response:
    return text("POST item")


def query_items(request: Request) -> Response:
    return text("QUERY items")


def echo_param(request: Request) -> JSONResponse:
    value = request.path_params["value"]
    return JSONResponse({"type": type(value).__name__, "value": str(value)})


async def bound_arg(tag: str, request: Request) -> JSONResponse:
    return JSONResponse({"tag": tag})


async def ws_url(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"url": str(websocket.url)})
    await websocket.close()


class ClassBound:
    @classmethod
    async def endpoint(cls, tag: str, request: Request) -> JSONResponse:
        return JSONResponse({"tag": tag, "cls": cls.__name__})

    @classmethod
    async def ws_endpoint(cls, websocket: WebSocket) -> None:
        await ws_url(websocket)


async def ws_greeting(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("greetings")
    await websocket.close()


async def ws_room(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("room " + websocket.path_params["room"])
    await websocket.close()


site = Router(
    [
        Route("/", endpoint=front, methods=["GET"]),
        Mount(
            "/people",
            routes=[
                Route("/", endpoint=people),
                Route("/self", endpoint=person_self),
                Route("/{name}", endpoint=person),
                Route("/{name}/{verb}", endpoint=person_action),
                Route("/{name}:suspend", endpoint=person_suspend, methods=["PUT"]),
                Route("/literal", endpoint=person_literal),
            ],
        ),
        Mount(
            "/bound",
            routes=[
                Route("/", endpoint=functools.partial(bound_arg, "plain")),
                Route("/cls", endpoint=functools.partial(ClassBound.endpoint, "classy")),
                WebSocketRoute("/ws", endpoint=functools.partial(ws_url)),
                WebSocketRoute("/ws/cls", endpoint=functools.partial(ClassBound.ws_endpoint)),
            ],
        ),
        Mount("/blob", app=Response("blob-bytes", media_type="image/png")),
        Route("/item", endpoint=read_item, methods=["GET"]),
        Route("/item", endpoint=write_item, methods=["POST"]),
        Route("/items", endpoint=query_items, methods=["QUERY"]),
        Route("/int/{value:int}", endpoint=echo_param, name="by-int"),
        Route("/float/{value:float}", endpoint=echo_param, name="by-float"),
        Route("/path/{value:path}", endpoint=echo_param, name="by-path"),
        Route("/uuid/{value:uuid}", endpoint=echo_param, name="by-uuid"),
        Route("/paren({value:int})", endpoint=echo_param, name="by-paren"),
        WebSocketRoute("/ws", endpoint=ws_greeting),
        WebSocketRoute("/ws/{room}", endpoint=ws_room),
    ]
)


@pytest.fixture
def client(test_client_factory: TestClientFactory) -> TestClient:
    return test_client_factory(site)


# --- dispatch ------------------------------------------------------------------------


def test_router_dispatch(client: TestClient) -> None:
    response = client.get("/")
    assert (response.status_code, response.text) == (200, "front page")

    response = client.post("/")
    assert (response.status_code, response.text) == (405, "Method Not Allowed")
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}

    response = client.get("/nowhere")
    assert (response.status_code, response.text) == (404, "Not Found")

    assert client.get("/people").text == "everyone"
    assert client.get("/people").url == "http://testserver/people/"
    assert client.get("/people/ada").text == "person ada"
    assert client.get("/people/self").text == "the current person"
    # First declared match wins: "/{name}" is declared before "/literal".
    assert client.get("/people/literal").text == "person literal"
    assert client.get("/people/ada/sings").text == "person ada does sings"

    response = client.get("/people/ada/")
    assert response.status_code == 200
    assert response.url == "http://testserver/people/ada"
    assert response.text == "person ada"

    response = client.put("/people/ada:suspend")
    assert response.status_code == 200
    assert response.url == "http://testserver/people/ada:suspend"
    assert response.text == "suspended ada"

    response = client.get("/blob/anything")
    assert (response.status_code, response.text) == (200, "blob-bytes")
    assert response.headers["content-type"] == "image/png"


def test_same_path_different_methods(client: TestClient) -> None:
    assert client.get("/item").text == "GET item"
    assert client.post("/item").text == "POST item"
    response = client.put("/item")
    assert response.status_code == 405
    # The first partial match answers the 405.
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}


def test_non_standard_method(client: TestClient) -> None:
    response = client.request("QUERY", "/items")
    assert (response.status_code, response.text) == (200, "QUERY items")
    response = client.get("/items")
    assert (response.status_code, response.text) == (405, "Method Not Allowed")
    assert response.headers["allow"] == "QUERY"


def test_head_is_served_by_get_routes(client: TestClient) -> None:
    response = client.head("/")
    assert response.status_code == 200
    assert response.text == ""
    assert response.headers["content-length"] == str(len("front page"))


def test_convertors_in_routes(client: TestClient) -> None:
    assert client.get("/int/5").json() == {"type": "int", "value": "5"}
    assert client.get("/int/-5").status_code == 404
    assert client.get("/float/25.5").json() == {"type": "float", "value": "25.5"}
    assert client.get("/path/some/example").json() == {"type": "str", "value": "some/example"}
    value = "ec38df32-ceda-4cfa-9b4a-1aeb94ad551a"
    assert client.get(f"/uuid/{value}").json() == {"type": "UUID", "value": value}
    assert client.get("/paren(7)").json() == {"type": "int", "value": "7"}

    assert site.url_path_for("by-int", value=5) == "/int/5"
    assert site.url_path_for("by-float", value=25.5) == "/float/25.5"
    assert site.url_path_for("by-path", value="some/example") == "/path/some/example"
    assert site.url_path_for("by-uuid", value=uuid.UUID(value)) == f"/uuid/{value}"
    assert site.url_path_for("by-paren", value=7) == "/paren(7)"


def test_websocket_routes(client: TestClient) -> None:
    with client.websocket_connect("/ws") as session:
        assert session.receive_text() == "greetings"
    with client.websocket_connect("/ws/lobby") as session:
        assert session.receive_text() == "room lobby"


def test_partial_and_classmethod_endpoints(client: TestClient) -> None:
    assert client.get("/bound").json() == {"tag": "plain"}
    assert client.get("/bound/cls").json() == {"tag": "classy", "cls": "ClassBound"}
    with client.websocket_connect("/bound/ws") as session:
        assert session.receive_json() == {"url": "ws://testserver/bound/ws"}
    with client.websocket_connect("/bound/ws/cls") as session:
        assert session.receive_json() == {"url": "ws://testserver/bound/ws/cls"}


def test_protocol_switch_and_url_for(test_client_factory: TestClientFactory) -> None:
    def http_view(request: Request) -> Response:
        return text(f"URL: {request.url_for('http_view')}")

    class SocketApp:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            websocket = WebSocket(scope=scope, receive=receive, send=send)
            await websocket.accept()
            await websocket.send_json({"URL": str(websocket.url_for("socket"))})
            await websocket.close()

    app = Router(
        routes=[Route("/", endpoint=http_view), WebSocketRoute("/", SocketApp(), name="socket")]
    )
    client = test_client_factory(app)
    assert client.get("/").text == "URL: http://testserver/"
    with client.websocket_connect("/") as session:
        assert session.receive_json() == {"URL": "ws://testserver/"}
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/missing"):
        pass  # pragma: no cover


def test_router_middleware_wraps_everything(test_client_factory: TestClientFactory) -> None:
    class ShortCircuit:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await PlainTextResponse("intercepted")(scope, receive, send)

    app = Router(routes=[Route("/", front)], middleware=[Middleware(ShortCircuit)])
    response = test_client_factory(app).get("/")
    assert (response.status_code, response.text) == (200, "intercepted")


def test_router_default_app(test_client_factory: TestClientFactory) -> None:
    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("fallback " + scope["path"], status_code=418)(scope, receive, send)

    client = test_client_factory(Router(routes=[Route("/", front)], default=fallback))
    assert client.get("/").text == "front page"
    response = client.get("/other")
    assert (response.status_code, response.text) == (418, "fallback /other")


# --- mounts --------------------------------------------------------------------------

ok = PlainTextResponse("OK")


def test_mount_urls(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(Router([Mount("/users", ok, name="users")]))
    assert client.get("/users").status_code == 200
    assert client.get("/users").url == "http://testserver/users/"
    assert client.get("/users/").status_code == 200
    assert client.get("/users/a").status_code == 200
    assert client.get("/usersa").status_code == 404


def test_mount_at_root(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(Router([Mount("/", ok, name="users")]))
    assert client.get("/").status_code == 200
    assert client.get("/anything/below").status_code == 200


def test_reverse_mount_urls() -> None:
    mounted = Router([Mount("/users", ok, name="users")])
    assert mounted.url_path_for("users", path="/a") == "/users/a"

    inner = Router([Route("/{username}", ok, name="user")])
    mounted = Router([Mount("/{subpath}/users", inner, name="users")])
    assert mounted.url_path_for("users:user", subpath="test", username="tom") == "/test/users/tom"
    assert mounted.url_path_for("users", subpath="test", path="/tom") == "/test/users/tom"

    mounted = Router([Mount("/users", ok, name="users")])
    with pytest.raises(NoMatchFound):
        mounted.url_path_for("users", path="/a", foo="bar")
    with pytest.raises(NoMatchFound):
        mounted.url_path_for("users")


def test_url_path_for_through_a_double_mount() -> None:
    async def stub(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover
        pass

    app = Stellate(
        routes=[Mount("/mount", name="mount", routes=[Mount("/static", stub, name="static")])]
    )
    assert app.url_path_for("mount:static", path="123") == "/mount/static/123"


def test_url_path_for_route_in_unnamed_mount() -> None:
    app = Router([Mount("/api", routes=[Route("/users", people, name="users")])])
    assert app.url_path_for("users") == "/api/users"


def test_add_route_after_mounting(test_client_factory: TestClientFactory) -> None:
    inner = Router()
    app = Mount("/http", app=inner)
    inner.add_route("/inner", endpoint=front, methods=["GET"])
    response = test_client_factory(app).get("/http/inner")
    assert (response.status_code, response.text) == (200, "front page")


def test_mount_requires_app_or_routes() -> None:
    with pytest.raises(
        AssertionError, match=re.escape("Either 'app=...', or 'routes=' must be specified")
    ):
        Mount("/x")


def test_paths_must_start_with_slash() -> None:
    with pytest.raises(AssertionError, match="Routed paths must start with '/'"):
        Route("x", front)
    with pytest.raises(AssertionError, match="Routed paths must start with '/'"):
        WebSocketRoute("x", ws_greeting)
    with pytest.raises(AssertionError, match="Routed paths must start with '/'"):
        Mount("x", app=ok)
    with pytest.raises(AssertionError, match="Host must not start with '/'"):
        Host("/x", app=ok)


def test_mounted_app_exceptions_propagate(test_client_factory: TestClientFactory) -> None:
    def boom(request: Request) -> Response:
        raise Exception("Exc")

    app = Stellate(routes=[Mount("/sub", app=Stellate(routes=[Route("/", boom)]))])
    with pytest.raises(Exception) as info:
        test_client_factory(app).get("/sub/")
    assert str(info.value) == "Exc"


# --- root_path -----------------------------------------------------------------------


async def echo_paths(request: Request, name: str) -> JSONResponse:
    return JSONResponse(
        {"name": name, "path": request.scope["path"], "root_path": request.scope["root_path"]}
    )


async def raw_echo_paths(scope: Scope, receive: Receive, send: Send, name: str) -> None:
    data = {"name": name, "path": scope["path"], "root_path": scope["root_path"]}
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(data).encode()})


def test_paths_seen_under_a_root_path(test_client_factory: TestClientFactory) -> None:
    app = Stellate(
        routes=[
            Route("/path", functools.partial(echo_paths, name="path"), name="path"),
            Route(
                "/root-queue/path",
                functools.partial(echo_paths, name="queue"),
                methods=["POST"],
            ),
            Mount("/asgipath", app=functools.partial(raw_echo_paths, name="asgipath")),
            Mount(
                "/sub",
                name="mount",
                routes=[Route("/path", functools.partial(echo_paths, name="subpath"))],
            ),
        ]
    )
    client = test_client_factory(app, base_url="https://www.example.org/", root_path="/root")

    assert client.get("/root/path").json() == {
        "name": "path",
        "path": "/root/path",
        "root_path": "/root",
    }
    # A mounted ASGI app learns where it lives from root_path; path stays whole.
    assert client.get("/root/asgipath/").json() == {
        "name": "asgipath",
        "path": "/root/asgipath/",
        "root_path": "/root/asgipath",
    }
    assert client.get("/root/sub/path").json() == {
        "name": "subpath",
        "path": "/root/sub/path",
        "root_path": "/root/sub",
    }
    assert client.post("/root/root-queue/path").json() == {
        "name": "queue",
        "path": "/root/root-queue/path",
        "root_path": "/root",
    }


def test_app_root_path_is_kept_through_mounts(test_client_factory: TestClientFactory) -> None:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        data = {"root_path": scope["root_path"], "app_root_path": scope["app_root_path"]}
        await JSONResponse(data)(scope, receive, send)

    app = Router([Mount("/outer", routes=[Mount("/inner", app=inner)])])
    client = test_client_factory(app, root_path="/base")
    assert client.get("/base/outer/inner/x").json() == {
        "root_path": "/base/outer/inner",
        "app_root_path": "/base",
    }


def test_url_for_under_a_root_path(test_client_factory: TestClientFactory) -> None:
    async def echo_urls(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "index": str(request.url_for("index")),
                "submount": str(request.url_for("mount:submount")),
            }
        )

    app = Stellate(
        routes=[
            Route("/", echo_urls, name="index", methods=["GET"]),
            Mount(
                "/submount",
                name="mount",
                routes=[Route("/", echo_urls, name="submount", methods=["GET"])],
            ),
        ]
    )
    client = test_client_factory(app, base_url="https://www.example.org/", root_path="/sub_path")
    expected = {
        "index": "https://www.example.org/sub_path/",
        "submount": "https://www.example.org/sub_path/submount/",
    }
    assert client.get("/sub_path/").json() == expected
    assert client.get("/sub_path/submount/").json() == expected


def test_url_for_with_root_path_ending_in_a_slash(test_client_factory: TestClientFactory) -> None:
    def index(request: Request) -> JSONResponse:
        return JSONResponse({"index": str(request.url_for("index"))})

    app = Stellate(routes=[Route("/", index, name="index")])
    client = test_client_factory(app, base_url="https://www.example.org/", root_path="/sub_path/")
    assert client.get("/sub_path/").json() == {"index": "https://www.example.org/sub_path/"}


def test_redirect_slashes_keeps_the_root_path(test_client_factory: TestClientFactory) -> None:
    app = Router([Route("/items/", front)])
    client = test_client_factory(app, root_path="/api")
    response = client.get("/api/items", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/api/items/"
    assert client.get("/api/items").text == "front page"


def test_redirect_slashes_keeps_the_query_string(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(Router([Route("/items", front)]))
    response = client.get("/items/?a=1", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/items?a=1"


def test_redirect_slashes_disabled(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(Router([Route("/items", front)], redirect_slashes=False))
    assert client.get("/items/").status_code == 404


# --- url reversal --------------------------------------------------------------------


def test_url_path_for_errors() -> None:
    assert site.url_path_for("front") == "/"
    assert site.url_path_for("person", name="ada") == "/people/ada"
    assert site.url_path_for("ws_greeting") == "/ws"
    with pytest.raises(
        NoMatchFound, match=re.escape('No route exists for name "broken" and params "".')
    ):
        site.url_path_for("broken")
    with pytest.raises(
        NoMatchFound, match=re.escape('No route exists for name "broken" and params "key, key2".')
    ):
        site.url_path_for("broken", key="value", key2="value2")
    with pytest.raises(AssertionError):
        site.url_path_for("person", name="ada/lovelace")
    with pytest.raises(AssertionError):
        site.url_path_for("person", name="")


def test_url_path_for_absolute_urls() -> None:
    assert site.url_path_for("front").make_absolute_url(base_url="https://example.org") == (
        "https://example.org/"
    )
    assert site.url_path_for("front").make_absolute_url(
        base_url="https://example.org/root_path/"
    ) == ("https://example.org/root_path/")
    assert site.url_path_for("person", name="ada").make_absolute_url(
        base_url="https://example.org/root_path/"
    ) == ("https://example.org/root_path/people/ada")
    assert site.url_path_for("ws_greeting").make_absolute_url(base_url="https://example.org") == (
        "wss://example.org/ws"
    )


def test_url_path_for_with_route_middleware() -> None:
    class Passthrough:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await self.app(scope, receive, send)  # pragma: no cover

    with_routes = Stellate(
        routes=[
            Mount(
                "/http",
                routes=[Route("/", front, name="route")],
                middleware=[Middleware(Passthrough)],
            )
        ]
    )
    assert with_routes.url_path_for("route") == "/http/"

    # A mounted plain ASGI app has no routes to reverse.
    with_app = Stellate(
        routes=[
            Mount(
                "/http",
                app=Route("/", front, name="route"),
                middleware=[Middleware(Passthrough)],
            )
        ]
    )
    with pytest.raises(NoMatchFound):
        with_app.url_path_for("route")


# --- hosts ---------------------------------------------------------------------------


def api_people(request: Request) -> JSONResponse:
    return JSONResponse({"people": ["ada"]})


hosts = Router(
    routes=[
        Host(
            "www.example.org",
            app=Router([Route("/", front, name="front"), Route("/people", people, name="people")]),
        ),
        Host(
            "api.example.org", name="api", app=Router([Route("/people", api_people, name="people")])
        ),
        Host("port.example.org:3600", name="port", app=Router([Route("/", front, name="front")])),
    ]
)


def test_host_routing(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(hosts, base_url="https://api.example.org/")
    assert client.get("/people").json() == {"people": ["ada"]}
    assert client.get("/").status_code == 404

    client = test_client_factory(hosts, base_url="https://www.example.org/")
    assert client.get("/people").text == "everyone"
    assert client.get("/").status_code == 200

    client = test_client_factory(hosts, base_url="https://port.example.org:3600/")
    assert client.get("/people").status_code == 404
    assert client.get("/").status_code == 200

    # The port of the request is irrelevant.
    for base_url in ("https://port.example.org/", "https://port.example.org:5600/"):
        assert test_client_factory(hosts, base_url=base_url).get("/").status_code == 200


@pytest.mark.parametrize("host", ["api.example.org:evil", "[:::]", "api.example.org:80:80"])
def test_host_routing_rejects_malformed_hosts(
    test_client_factory: TestClientFactory, host: str
) -> None:
    client = test_client_factory(hosts, base_url="https://api.example.org/")
    assert client.get("/people", headers={"host": host}).status_code == 404


@pytest.mark.parametrize(
    "host", ["api.example.org:000080", "api.example.org:65536", "api.example.org:100000"]
)
def test_host_routing_ignores_any_numeric_port(
    test_client_factory: TestClientFactory, host: str
) -> None:
    client = test_client_factory(hosts, base_url="https://api.example.org/")
    assert client.get("/people", headers={"host": host}).status_code == 200


def test_host_routing_ip_literals(test_client_factory: TestClientFactory) -> None:
    app = Router(
        routes=[
            Host("[::1]", app=PlainTextResponse("loopback")),
            Host("[2001:db8::1]", app=PlainTextResponse("documentation")),
            Host("[v1.foo]", app=PlainTextResponse("future")),
        ]
    )
    assert test_client_factory(app, base_url="https://[::1]/").get("/").text == "loopback"
    assert test_client_factory(app, base_url="https://[::1]:8000/").get("/").text == "loopback"
    client = test_client_factory(app, base_url="https://[2001:db8::1]/")
    assert client.get("/").text == "documentation"
    client = test_client_factory(app)
    assert client.get("/", headers={"host": "[v1.foo]"}).text == "future"


def test_host_reverse_urls() -> None:
    assert hosts.url_path_for("front").make_absolute_url("https://whatever") == (
        "https://www.example.org/"
    )
    assert hosts.url_path_for("people").make_absolute_url("https://whatever") == (
        "https://www.example.org/people"
    )
    assert hosts.url_path_for("api:people").make_absolute_url("https://whatever") == (
        "https://api.example.org/people"
    )
    assert hosts.url_path_for("port:front").make_absolute_url("https://whatever") == (
        "https://port.example.org:3600/"
    )
    with pytest.raises(NoMatchFound):
        hosts.url_path_for("api", path="whatever", foo="bar")


async def subdomain_app(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"subdomain": scope["path_params"]["subdomain"]})(scope, receive, send)


subdomains = Router(routes=[Host("{subdomain}.example.org", app=subdomain_app, name="subdomains")])


def test_subdomain_routing(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(subdomains, base_url="https://foo.example.org/")
    assert client.get("/").json() == {"subdomain": "foo"}


def test_subdomain_reverse_urls() -> None:
    url = subdomains.url_path_for("subdomains", subdomain="foo", path="/homepage")
    assert url.make_absolute_url("https://whatever") == "https://foo.example.org/homepage"


# --- standalone routes ---------------------------------------------------------------


def test_standalone_route(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(Route("/", PlainTextResponse("Hello, World!")))
    assert client.get("/").text == "Hello, World!"
    response = client.get("/invalid")
    assert (response.status_code, response.text) == (404, "Not Found")


def test_standalone_websocket_route(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(WebSocketRoute("/", ws_greeting))
    with client.websocket_connect("/") as session:
        assert session.receive_text() == "greetings"
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/invalid"):
        pass  # pragma: no cover


# --- route middleware ----------------------------------------------------------------


class TagMiddleware:
    def __init__(self, app: ASGIApp, name: str = "Test") -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["tagged"] = True

        async def tagged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"].append((f"X-{self.name}".encode(), b"Set by middleware"))
            await send(message)

        await self.app(scope, receive, tagged_send)


def needs_tag(request: Request) -> Response:
    assert request.scope["tagged"] is True
    return Response()


@pytest.mark.parametrize(
    "app",
    [
        Stellate(
            routes=[
                Route("/http", needs_tag, methods=["GET"], middleware=[Middleware(TagMiddleware)]),
                Route("/home", front),
            ]
        ),
        Stellate(
            routes=[
                Mount(
                    "/http",
                    routes=[Route("/", needs_tag, methods=["GET"])],
                    middleware=[Middleware(TagMiddleware)],
                ),
                Route("/home", front),
            ]
        ),
        Stellate(
            routes=[
                Mount(
                    "/http",
                    app=Route("/", needs_tag, methods=["GET"]),
                    middleware=[Middleware(TagMiddleware)],
                ),
                Route("/home", front),
            ]
        ),
    ],
)
def test_route_and_mount_middleware(test_client_factory: TestClientFactory, app: Stellate) -> None:
    client = test_client_factory(app)
    response = client.get("/home")
    assert response.status_code == 200
    assert "X-Test" not in response.headers
    response = client.get("/http")
    assert response.status_code == 200
    assert response.headers["X-Test"] == "Set by middleware"


def test_mount_middleware_does_not_catch_handled_exceptions(
    test_client_factory: TestClientFactory,
) -> None:
    def forbidden(request: Request) -> Response:
        raise HTTPException(status_code=403, detail="auth")

    app = Stellate(
        routes=[
            Mount(
                "/mount",
                routes=[Route("/err", forbidden), Route("/home", front)],
                middleware=[Middleware(TagMiddleware, name="Mounted")],
            ),
            Route("/err", forbidden),
            Route("/home", front),
        ],
        middleware=[Middleware(TagMiddleware, name="Outer")],
    )
    client = test_client_factory(app)
    for path, header in [
        ("/home", "X-Outer"),
        ("/err", "X-Outer"),
        ("/mount/home", "X-Mounted"),
        ("/mount/err", "X-Mounted"),
    ]:
        response = client.get(path)
        assert response.status_code == (403 if path.endswith("err") else 200)
        assert header in response.headers


def test_websocket_route_middleware(test_client_factory: TestClientFactory) -> None:
    class AcceptHeader:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            async def patched(message: Message) -> None:
                if message["type"] == "websocket.accept":
                    message["headers"].append((b"X-Test", b"Set by middleware"))
                await send(message)

            await self.app(scope, receive, patched)

    app = Stellate(
        routes=[WebSocketRoute("/ws", ws_greeting, middleware=[Middleware(AcceptHeader)])]
    )
    with test_client_factory(app).websocket_connect("/ws") as session:
        assert session.receive_text() == "greetings"
        assert session.extra_headers == [(b"X-Test", b"Set by middleware")]


# --- scope keys ----------------------------------------------------------------------


def test_scope_route_endpoint_and_router(test_client_factory: TestClientFactory) -> None:
    seen: dict[str, Any] = {}

    async def view(request: Request) -> Response:
        seen.update(request.scope)
        return text("ok")

    route = Route("/items/{item_id:int}", view)
    mount = Mount("/api", routes=[route])
    app = Stellate(routes=[mount])
    test_client_factory(app).get("/api/items/3")
    assert seen["route"] is route
    assert seen["endpoint"] is view
    assert seen["path_params"] == {"item_id": 3}
    assert seen["router"] is app.router
    assert seen["app"] is app


def test_partial_match_sets_scope_route(test_client_factory: TestClientFactory) -> None:
    route = Route("/", front, methods=["GET"])
    seen: dict[str, Any] = {}

    async def handler(request: Request, exc: Exception) -> Response:
        seen["route"] = request.scope.get("route")
        return text("custom 405")

    app = Stellate(routes=[route], exception_handlers={405: handler})
    assert test_client_factory(app).post("/").text == "custom 405"
    assert seen["route"] is route


# --- names, equality and reprs -------------------------------------------------------


class Callable_:
    async def method(self, request: Request) -> None: ...  # pragma: no cover

    @classmethod
    async def class_method(cls, request: Request) -> None: ...  # pragma: no cover

    @staticmethod
    async def static_method(request: Request) -> None: ...  # pragma: no cover

    def __call__(self, request: Request) -> None: ...  # pragma: no cover


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        pytest.param(front, "front", id="function"),
        pytest.param(Callable_().method, "method", id="method"),
        pytest.param(Callable_.class_method, "class_method", id="classmethod"),
        pytest.param(Callable_.static_method, "static_method", id="staticmethod"),
        pytest.param(Callable_(), "Callable_", id="object"),
        pytest.param(lambda request: ..., "<lambda>", id="lambda"),
    ],
)
def test_route_names(endpoint: Any, expected: str) -> None:
    assert Route(path="/", endpoint=endpoint).name == expected
    assert get_name(endpoint) == expected


def test_reprs() -> None:
    assert repr(Route("/welcome", endpoint=front)) == (
        "Route(path='/welcome', name='front', methods=['GET', 'HEAD'])"
    )
    assert repr(Route("/welcome", endpoint=Callable_, methods=None)) == (
        "Route(path='/welcome', name='Callable_', methods=[])"
    )
    assert repr(WebSocketRoute("/ws", endpoint=ws_greeting)) == (
        "WebSocketRoute(path='/ws', name='ws_greeting')"
    )
    assert repr(Mount("/app", routes=[Route("/", front)])).startswith(
        "Mount(path='/app', name='', app="
    )
    assert repr(Mount("/app", name="app", routes=[Route("/", front)])).startswith(
        "Mount(path='/app', name='app', app="
    )
    assert repr(Host("example.com", app=Router([Route("/", front)]))).startswith(
        "Host(host='example.com', name='', app="
    )
    assert repr(Host("example.com", name="app", app=Router([]))).startswith(
        "Host(host='example.com', name='app', app="
    )


def test_route_equality() -> None:
    assert Route("/", front) == Route("/", front, methods=["GET"])
    assert Route("/", front) != Route("/", front, methods=["POST"])
    assert Route("/", front) != Route("/x", front)
    assert WebSocketRoute("/ws", ws_greeting) == WebSocketRoute("/ws", ws_greeting)
    assert WebSocketRoute("/ws", ws_greeting) != WebSocketRoute("/ws", ws_room)
    assert Mount("/a", routes=[Route("/", front)]) == Mount("/a", routes=[Route("/", front)])
    assert Mount("/a", routes=[Route("/", front)]) != Mount("/a", routes=[Route("/", people)])
    assert Host("x.org", app=Router([])) == Host("x.org", app=Router([]))
    assert Router([Route("/", front)]) == Router([Route("/", front)])
    assert Route("/", front) != object()


def test_include_in_schema() -> None:
    assert Route("/", front).include_in_schema is True
    assert Route("/", front, include_in_schema=False).include_in_schema is False


def test_duplicated_param_names() -> None:
    with pytest.raises(ValueError, match=re.escape("Duplicated param name id at path /{id}/{id}")):
        Route("/{id}/{id}", person)
    with pytest.raises(
        ValueError,
        match=re.escape("Duplicated param names id, name at path /{id}/{name}/{id}/{name}"),
    ):
        Route("/{id}/{name}/{id}/{name}", person)


def test_unknown_convertor() -> None:
    with pytest.raises(AssertionError, match="Unknown path convertor 'nope'"):
        Route("/{x:nope}", person)


def test_match_enum_and_matches() -> None:
    assert [m.value for m in Match] == [0, 1, 2]
    route = Route("/items/{x:int}", front)
    scope: Scope = {"type": "http", "path": "/items/3", "method": "POST", "root_path": ""}
    match, child = route.matches(scope)
    assert match is Match.PARTIAL
    assert child == {"endpoint": front, "path_params": {"x": 3}}
    assert route.matches({**scope, "method": "GET"})[0] is Match.FULL
    assert route.matches({**scope, "path": "/items/x"}) == (Match.NONE, {})
    assert route.matches({"type": "websocket", "path": "/items/3"}) == (Match.NONE, {})


def test_base_route_is_abstract() -> None:
    route = BaseRoute()
    with pytest.raises(NotImplementedError):
        route.matches({"type": "http"})
    with pytest.raises(NotImplementedError):
        route.url_path_for("x")


# --- the application -----------------------------------------------------------------


def test_application_routes_and_helpers(test_client_factory: TestClientFactory) -> None:
    inner = Router(routes=[Route("/", people), Route("/{name}", person)])
    app = Stellate(routes=[Route("/", front), WebSocketRoute("/ws", ws_greeting)])
    app.mount("/people", inner, name="people")
    app.host("{sub}.example.org", Router([Route("/", front, name="sub_front")]), name="sub")
    app.add_route("/added", people, methods=["GET"], name="added")

    assert app.routes == [
        Route("/", front, methods=["GET"]),
        WebSocketRoute("/ws", ws_greeting),
        Mount("/people", app=Router(routes=[Route("/", people), Route("/{name}", person)])),
        Host("{sub}.example.org", app=Router([Route("/", front, name="sub_front")])),
        Route("/added", people, methods=["GET"]),
    ]
    assert app.url_path_for("people:person", name="ada") == "/people/ada"
    assert app.url_path_for("people", path="/x") == "/people/x"
    assert app.url_path_for("added") == "/added"
    url = app.url_path_for("sub:sub_front", sub="docs")
    assert url.make_absolute_url("https://x") == "https://docs.example.org/"

    client = test_client_factory(app)
    assert client.get("/").text == "front page"
    assert client.head("/").status_code == 200
    assert client.get("/people/").text == "everyone"
    assert client.get("/people/ada").text == "person ada"
    assert client.get("/added").text == "everyone"
    assert client.get("/", headers={"host": "docs.example.org"}).text == "front page"


def test_application_404_and_405_go_through_handlers(
    test_client_factory: TestClientFactory,
) -> None:
    async def http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    app = Stellate(
        routes=[Route("/func", front)], exception_handlers={HTTPException: http_exception}
    )
    client = test_client_factory(app)
    response = client.get("/missing")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    response = client.post("/func")
    assert (response.status_code, response.json()) == (405, {"detail": "Method Not Allowed"})
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}

    plain = test_client_factory(Stellate(routes=[Route("/func", front)]))
    response = plain.get("/missing")
    assert (response.status_code, response.text) == (404, "Not Found")
    response = plain.post("/func")
    assert (response.status_code, response.text) == (405, "Method Not Allowed")


def test_many_routes_use_the_index(test_client_factory: TestClientFactory) -> None:
    routes: list[BaseRoute] = [Route(f"/n{i}/{{value:int}}", echo_param) for i in range(10_000)]
    client = test_client_factory(Router(routes=routes))
    assert client.get("/n9999/7").json() == {"type": "int", "value": "7"}
    assert client.get("/n10000/7").status_code == 404


def test_scope_route_of_a_route_mounted_as_an_app(test_client_factory: TestClientFactory) -> None:
    seen: dict[str, Any] = {}

    async def view(request: Request) -> Response:
        seen.update(request.scope)
        return text("ok")

    mount = Mount("/http", app=Route("/", view))
    test_client_factory(Router([mount])).get("/http/")
    assert seen["route"] is mount
    assert seen["root_path"] == "/http"

    seen.clear()
    test_client_factory(Route("/", view)).get("/")
    assert "route" not in seen
