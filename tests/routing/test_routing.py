from __future__ import annotations

import functools
import re
import threading
import uuid
from typing import Any

import pytest

from stellate_asgi.datastructures import URLPath
from stellate_asgi.exceptions import HTTPException, WebSocketDisconnect
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, PlainTextResponse, Response
from stellate_middleware import Middleware
from stellate_middleware.exceptions import ExceptionMiddleware
from stellate_routing.convertors import IntegerConvertor, StringConvertor
from stellate_routing.routing import (
    PARAM_FORMAT_REGEX,
    PARAM_REGEX,
    BaseRoute,
    Host,
    Match,
    Mount,
    NoMatchFound,
    Route,
    Router,
    WebSocketRoute,
    compile_path,
    get_name,
    replace_params,
    request_response,
    websocket_session,
)
from stellate_websockets.websockets import WebSocket
from tests.conftest import TestClientFactory


def homepage(request: Request) -> Response:
    return PlainTextResponse("Hello, world")


def users(request: Request) -> Response:
    return PlainTextResponse("All users")


def user(request: Request) -> Response:
    return PlainTextResponse("User " + request.path_params["username"])


def user_me(request: Request) -> Response:
    return PlainTextResponse("User fixed me")


async def echo_scope(request: Request) -> Response:
    return JSONResponse(
        {
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "path_params": {k: str(v) for k, v in request.path_params.items()},
            "url": str(request.url),
        }
    )


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("raw")(scope, receive, send)


async def websocket_endpoint(session: WebSocket) -> None:
    await session.accept()
    await session.send_text("Hello, world!")
    await session.close()


async def websocket_params(session: WebSocket) -> None:
    await session.accept()
    await session.send_text(f"Hello, {session.path_params['room']}!")
    await session.close()


users_router = Router(
    routes=[
        Route("/", endpoint=users),
        Route("/me", endpoint=user_me),
        Route("/{username}", endpoint=user),
    ]
)

app = Router(
    routes=[
        Route("/", endpoint=homepage, methods=["GET"]),
        Mount("/users", app=users_router),
        Route("/contact", endpoint=homepage, methods=["POST"]),
        Route("/int/{param:int}", endpoint=echo_scope, name="int-convertor"),
        WebSocketRoute("/ws", endpoint=websocket_endpoint),
        WebSocketRoute("/ws/{room}", endpoint=websocket_params),
    ]
)


async def call(asgi_app: ASGIApp, scope: Scope, body: bytes = b"") -> list[Message]:
    """Drive `asgi_app` with a raw ASGI call and return what it sent."""
    sent: list[Message] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await asgi_app(scope, receive, send)
    return sent


def http_scope(path: str, method: str = "GET", **extra: Any) -> Scope:
    scope: Scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
    }
    scope.update(extra)
    return scope


# --- dispatch ---------------------------------------------------------------------


def test_router(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(app)

    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "Hello, world"

    response = client.post("/")
    assert response.status_code == 405
    assert response.text == "Method Not Allowed"
    assert response.headers["allow"] == "GET, HEAD"

    response = client.get("/foo")
    assert response.status_code == 404
    assert response.text == "Not Found"

    assert client.get("/users").text == "All users"
    assert client.get("/users/tomchristie").text == "User tomchristie"
    assert client.get("/users/me").text == "User fixed me"

    response = client.get("/users/tomchristie/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/users/tomchristie"

    assert client.get("/users/nomatch").text == "User nomatch"
    assert client.post("/contact").text == "Hello, world"

    response = client.get("/contact")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_head_is_served_by_get_routes(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(app)
    response = client.head("/")
    assert response.status_code == 200
    assert response.text == ""


def test_route_converters_and_path_params(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(app)
    response = client.get("/int/5")
    assert response.json()["path_params"] == {"param": "5"}
    assert client.get("/int/five").status_code == 404


def test_unknown_method_gets_405(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(app)
    response = client.request("BREW", "/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_405_is_raised_inside_an_application() -> None:
    # With "app" in the scope the exception handlers render the 405.
    route = Route("/", homepage, methods=["GET"])
    scope = http_scope("/", method="POST", app=object())

    async def run() -> None:
        await Router(routes=[route])(scope, _never_receive, _never_send)

    import anyio

    with pytest.raises(HTTPException) as info:
        anyio.run(run)
    assert info.value.status_code == 405
    assert info.value.headers == {"Allow": "GET, HEAD"}


def test_404_is_raised_inside_an_application() -> None:
    import anyio

    async def run() -> None:
        await Router()(http_scope("/", app=object()), _never_receive, _never_send)

    with pytest.raises(HTTPException) as info:
        anyio.run(run)
    assert info.value.status_code == 404


async def _never_receive() -> Message:
    raise AssertionError("not expected to receive")


async def _never_send(message: Message) -> None:
    raise AssertionError("not expected to send")


@pytest.mark.anyio
async def test_raw_asgi_call_sets_scope_keys() -> None:
    seen: dict[str, Any] = {}

    async def endpoint(request: Request) -> Response:
        seen.update(request.scope)
        return PlainTextResponse("ok")

    route = Route("/items/{id:int}", endpoint)
    router = Router(routes=[route])
    scope = http_scope("/items/3")
    sent = await call(router, scope)
    assert sent[0]["status"] == 200
    assert seen["route"] is route
    assert seen["router"] is router
    assert seen["endpoint"] is endpoint
    assert seen["path_params"] == {"id": 3}


@pytest.mark.anyio
async def test_scope_route_is_the_innermost_route() -> None:
    seen: dict[str, Any] = {}

    async def endpoint(request: Request) -> Response:
        seen.update(request.scope)
        return PlainTextResponse("ok")

    inner = Route("/{name}", endpoint)
    outer_router = Router(routes=[Mount("/org/{org}", routes=[inner])])
    sent = await call(outer_router, http_scope("/org/acme/widgets"))
    assert sent[0]["status"] == 200
    assert seen["route"] is inner
    assert seen["router"] is outer_router
    # Parameters of the mount and of the route are merged.
    assert seen["path_params"] == {"org": "acme", "name": "widgets"}


@pytest.mark.anyio
async def test_first_declared_route_wins() -> None:
    def first(request: Request) -> Response:
        return PlainTextResponse("first")

    def second(request: Request) -> Response:
        return PlainTextResponse("second")

    router = Router(routes=[Route("/{name}", first), Route("/me", second)])
    sent = await call(router, http_scope("/me"))
    assert sent[1]["body"] == b"first"

    # A full match later in the list beats an earlier partial (method) match.
    router = Router(
        routes=[Route("/me", first, methods=["POST"]), Route("/{name}", second, methods=["GET"])]
    )
    sent = await call(router, http_scope("/me"))
    assert sent[1]["body"] == b"second"


@pytest.mark.anyio
async def test_partial_match_uses_the_first_partial_route() -> None:
    router = Router(
        routes=[
            Route("/thing", homepage, methods=["PUT"]),
            Route("/thing", homepage, methods=["DELETE"]),
        ]
    )
    sent = await call(router, http_scope("/thing"))
    assert sent[0]["status"] == 405
    assert (b"allow", b"PUT") in sent[0]["headers"]


def test_sync_endpoint_runs_in_a_worker_thread(test_client_factory: TestClientFactory) -> None:
    threads: dict[str, int] = {}

    class RecordLoopThread:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            threads["loop"] = threading.get_ident()
            await self.app(scope, receive, send)

    def sync_endpoint(request: Request) -> Response:
        threads["endpoint"] = threading.get_ident()
        return PlainTextResponse("sync")

    router = Router(
        routes=[Route("/sync", sync_endpoint)], middleware=[Middleware(RecordLoopThread)]
    )
    assert test_client_factory(router).get("/sync").text == "sync"
    assert threads["endpoint"] != threads["loop"]


def test_partial_and_method_endpoints(test_client_factory: TestClientFactory) -> None:
    def greet(request: Request, greeting: str) -> Response:
        return PlainTextResponse(greeting)

    class Handlers:
        def hello(self, request: Request) -> Response:
            return PlainTextResponse("method")

    route = Route("/partial", functools.partial(greet, greeting="hi"))
    assert route.methods == {"GET", "HEAD"}
    router = Router(routes=[route, Route("/method", Handlers().hello)])
    client = test_client_factory(router)
    assert client.get("/partial").text == "hi"
    assert client.get("/method").text == "method"
    assert route.name == "partial"


def test_asgi_app_endpoints_serve_every_method(test_client_factory: TestClientFactory) -> None:
    class Echo:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            response = PlainTextResponse(scope["method"])
            await response(scope, receive, send)

    route = Route("/", Echo())
    assert route.methods is None
    assert route.name == "Echo"
    client = test_client_factory(Router(routes=[route]))
    assert client.get("/").text == "GET"
    assert client.request("PATCH", "/").text == "PATCH"


def test_exceptions_reach_the_registered_handlers(test_client_factory: TestClientFactory) -> None:
    def boom(request: Request) -> Response:
        raise ValueError("bad value")

    def handle(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"handled {exc} at {request.url.path}", status_code=400)

    router = Router(routes=[Route("/boom", boom)])
    client = test_client_factory(ExceptionMiddleware(router, handlers={ValueError: handle}))
    response = client.get("/boom")
    assert response.status_code == 400
    assert response.text == "handled bad value at /boom"


def test_request_response_and_websocket_session(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(request_response(homepage))
    assert client.get("/anything").text == "Hello, world"
    client = test_client_factory(websocket_session(websocket_endpoint))
    with client.websocket_connect("/anything") as session:
        assert session.receive_text() == "Hello, world!"


def test_router_default_app(test_client_factory: TestClientFactory) -> None:
    router = Router(routes=[Route("/", homepage)], default=PlainTextResponse("fallback", 418))
    client = test_client_factory(router)
    response = client.get("/missing")
    assert response.status_code == 418
    assert response.text == "fallback"


# --- websockets -------------------------------------------------------------------


def test_websocket_routes(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(app)
    with client.websocket_connect("/ws") as session:
        assert session.receive_text() == "Hello, world!"
    with client.websocket_connect("/ws/lobby") as session:
        assert session.receive_text() == "Hello, lobby!"


def test_websocket_not_found_closes(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(app)
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/missing"):
        pass  # pragma: no cover
    assert info.value.code == 1000


def test_websocket_is_not_served_by_http_routes(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(Router(routes=[Route("/", homepage)]))
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/"):
        pass  # pragma: no cover


def test_websocket_route_middleware(test_client_factory: TestClientFactory) -> None:
    class Tag:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            scope["path_params"] = {"room": "tagged"}
            await self.app(scope, receive, send)

    router = Router(routes=[WebSocketRoute("/ws", websocket_params, middleware=[Middleware(Tag)])])
    with test_client_factory(router).websocket_connect("/ws") as session:
        assert session.receive_text() == "Hello, tagged!"


# --- a route used on its own ------------------------------------------------------


def test_route_as_an_app(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(Route("/", homepage))
    assert client.get("/").text == "Hello, world"
    assert client.get("/other").status_code == 404
    response = client.post("/")
    assert response.status_code == 405
    assert response.text == "Method Not Allowed"


def test_websocket_route_as_an_app(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(WebSocketRoute("/ws", websocket_endpoint))
    with client.websocket_connect("/ws") as session:
        assert session.receive_text() == "Hello, world!"
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/other"):
        pass  # pragma: no cover


def test_base_route_is_abstract() -> None:
    route = BaseRoute()
    with pytest.raises(NotImplementedError):
        route.matches(http_scope("/"))
    with pytest.raises(NotImplementedError):
        route.url_path_for("x")


# --- redirect_slashes --------------------------------------------------------------


def test_redirect_slashes(test_client_factory: TestClientFactory) -> None:
    router = Router(routes=[Route("/users", users), Route("/posts/", homepage)])
    client = test_client_factory(router)
    response = client.get("/users/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/users"
    response = client.get("/posts", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/posts/"
    response = client.get("/users/?page=2", follow_redirects=False)
    assert response.headers["location"] == "http://testserver/users?page=2"
    assert client.get("/users/").text == "All users"


def test_redirect_slashes_to_a_mount(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(app)
    response = client.get("/users", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/users/"


def test_redirect_slashes_disabled(test_client_factory: TestClientFactory) -> None:
    router = Router(routes=[Route("/users", users)], redirect_slashes=False)
    client = test_client_factory(router)
    assert client.get("/users/", follow_redirects=False).status_code == 404


def test_redirect_slashes_for_partial_matches(test_client_factory: TestClientFactory) -> None:
    # Starlette redirects when the other path matches at all, even by path only.
    router = Router(routes=[Route("/submit", homepage, methods=["POST"])])
    response = test_client_factory(router).get("/submit/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/submit"


def test_redirect_slashes_with_root_path(test_client_factory: TestClientFactory) -> None:
    router = Router(routes=[Route("/users", users)])
    client = test_client_factory(router, root_path="/api")
    response = client.get("/api/users/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/api/users"


def test_redirect_slashes_inside_a_mount(test_client_factory: TestClientFactory) -> None:
    router = Router(routes=[Mount("/api", routes=[Route("/items", users)])])
    response = test_client_factory(router).get("/api/items/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/api/items"


def test_no_redirect_for_websockets(test_client_factory: TestClientFactory) -> None:
    router = Router(routes=[WebSocketRoute("/ws", websocket_endpoint)])
    with pytest.raises(WebSocketDisconnect), test_client_factory(router).websocket_connect("/ws/"):
        pass  # pragma: no cover


@pytest.mark.anyio
async def test_redirect_without_host_never_points_to_another_host() -> None:
    router = Router(routes=[Route("//evil.example", homepage)])
    scope = http_scope("//evil.example/", headers=[])
    del scope["server"]
    sent = await call(router, scope)
    assert sent[0]["status"] == 307
    location = dict(sent[0]["headers"])[b"location"]
    # Either form stays on this host; "//evil.example" would not.
    assert location in (b"/evil.example", b"/%2Fevil.example")


# --- mounts ------------------------------------------------------------------------


def test_mount_sets_root_path_and_keeps_path(test_client_factory: TestClientFactory) -> None:
    router = Router(routes=[Mount("/mount", routes=[Route("/inner/{x}", echo_scope)])])
    client = test_client_factory(router)
    data = client.get("/mount/inner/1").json()
    assert data == {
        "path": "/mount/inner/1",
        "root_path": "/mount",
        "path_params": {"x": "1"},
        "url": "http://testserver/mount/inner/1",
    }


def test_mount_under_a_server_root_path(test_client_factory: TestClientFactory) -> None:
    router = Router(routes=[Mount("/mount", routes=[Route("/inner", echo_scope)])])
    client = test_client_factory(router, root_path="/app")
    data = client.get("/app/mount/inner").json()
    assert data["path"] == "/app/mount/inner"
    assert data["root_path"] == "/app/mount"


def test_nested_mounts(test_client_factory: TestClientFactory) -> None:
    router = Router(
        routes=[
            Mount(
                "/a/{first}",
                routes=[Mount("/b/{second:int}", routes=[Route("/c", echo_scope, name="c")])],
                name="a",
            )
        ]
    )
    data = test_client_factory(router).get("/a/x/b/2/c").json()
    assert data["root_path"] == "/a/x/b/2"
    assert data["path_params"] == {"first": "x", "second": "2"}
    assert router.url_path_for("a:c", first="x", second=2) == "/a/x/b/2/c"
    # Stricter than Starlette, which would leave "{second}" in the path.
    with pytest.raises(NoMatchFound):
        router.url_path_for("a:c", first="x")


def test_mount_at_root(test_client_factory: TestClientFactory) -> None:
    mount = Mount("/", routes=[Route("/", homepage, name="home")], name="root")
    assert mount.path == ""
    client = test_client_factory(Router(routes=[mount]))
    assert client.get("/").text == "Hello, world"
    assert mount.url_path_for("root:home") == "/"


def test_mount_with_an_app(test_client_factory: TestClientFactory) -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        response = PlainTextResponse(f"{scope['root_path']} {scope['path']}")
        await response(scope, receive, send)

    router = Router()
    router.mount("/static", raw, name="static")
    client = test_client_factory(router)
    assert client.get("/static/css/site.css").text == "/static /static/css/site.css"
    assert router.url_path_for("static", path="/css/site.css") == "/static/css/site.css"
    mount = router.routes[0]
    assert isinstance(mount, Mount)
    assert mount.routes == []


def test_mount_requires_an_app_or_routes() -> None:
    with pytest.raises(
        AssertionError, match=re.escape("Either 'app=...', or 'routes=' must be specified")
    ):
        Mount("/x")
    with pytest.raises(AssertionError, match="Routed paths must start with '/'"):
        Mount("x", app=raw_app)


def test_mount_middleware(test_client_factory: TestClientFactory) -> None:
    class AddHeader:
        def __init__(self, app: ASGIApp, value: str) -> None:
            self.app = app
            self.value = value

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            async def send_with_header(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], (b"x-mount", self.value.encode())]
                await send(message)

            await self.app(scope, receive, send_with_header)

    router = Router(
        routes=[
            Mount(
                "/m",
                routes=[Route("/", homepage)],
                middleware=[Middleware(AddHeader, "yes")],
            ),
            Route("/", homepage),
        ]
    )
    client = test_client_factory(router)
    assert client.get("/m/").headers["x-mount"] == "yes"
    assert "x-mount" not in client.get("/").headers


# --- url reversal ------------------------------------------------------------------


def test_url_path_for() -> None:
    assert app.url_path_for("homepage") == "/"
    assert app.url_path_for("user", username="tomchristie") == "/users/tomchristie"
    assert app.url_path_for("websocket_endpoint") == "/ws"
    assert app.url_path_for("int-convertor", param=3) == "/int/3"
    with pytest.raises(
        NoMatchFound, match=re.escape('No route exists for name "broken" and params "".')
    ):
        app.url_path_for("broken")
    with pytest.raises(
        NoMatchFound,
        match=re.escape('No route exists for name "homepage" and params "extra, more".'),
    ):
        app.url_path_for("homepage", extra=1, more=2)


def test_url_path_for_protocols() -> None:
    http_path = app.url_path_for("homepage")
    assert isinstance(http_path, URLPath)
    assert http_path.protocol == "http"
    ws_path = app.url_path_for("websocket_params", room="lobby")
    assert ws_path == "/ws/lobby"
    assert ws_path.protocol == "websocket"


def test_url_path_for_mounts() -> None:
    router = Router(
        routes=[
            Mount("/users", routes=[Route("/{username}", user, name="detail")], name="users"),
            Mount("/static", app=raw_app, name="static"),
            Mount("/anonymous", routes=[Route("/page", homepage, name="page")]),
        ]
    )
    assert router.url_path_for("users:detail", username="ann") == "/users/ann"
    assert router.url_path_for("static", path="/a/b.css") == "/static/a/b.css"
    assert router.url_path_for("static", path="a.css") == "/static/a.css"
    assert router.url_path_for("page") == "/anonymous/page"
    with pytest.raises(NoMatchFound):
        router.url_path_for("users:missing")
    with pytest.raises(NoMatchFound):
        router.url_path_for("users:detail")
    with pytest.raises(NoMatchFound):
        router.url_path_for("users")


def test_url_path_for_mounts_with_params() -> None:
    mount = Mount("/org/{org}", app=raw_app, name="org")
    assert mount.url_path_for("org", org="acme", path="/x") == "/org/acme/x"
    with pytest.raises(NoMatchFound):
        mount.url_path_for("org", path="/x")
    with pytest.raises(NoMatchFound):
        mount.url_path_for("org", org="acme", path="/x", extra=1)


def test_url_path_for_a_mount_with_a_path_param_named_path() -> None:
    # A child route's own `path` parameter passes through the mount.
    router = Router(
        routes=[Mount("/files", routes=[Route("/{path:path}", homepage, name="f")], name="m")]
    )
    assert router.url_path_for("m:f", path="a/b") == "/files/a/b"


def test_url_for_in_a_request(test_client_factory: TestClientFactory) -> None:
    async def links(request: Request) -> Response:
        return JSONResponse(
            {
                "home": str(request.url_for("home")),
                "user": str(request.url_for("users:user", username="ann")),
                "ws": str(request.url_for("ws")),
            }
        )

    router = Router(
        routes=[
            Route("/", homepage, name="home"),
            Mount("/users", routes=[Route("/{username}", links, name="user")], name="users"),
            WebSocketRoute("/ws", websocket_endpoint, name="ws"),
        ]
    )
    data = test_client_factory(router).get("/users/bob").json()
    assert data == {
        "home": "http://testserver/",
        "user": "http://testserver/users/ann",
        "ws": "ws://testserver/ws",
    }


def test_url_for_under_a_root_path(test_client_factory: TestClientFactory) -> None:
    async def links(request: Request) -> Response:
        return PlainTextResponse(str(request.url_for("inner")))

    router = Router(routes=[Mount("/m", routes=[Route("/inner", links, name="inner")])])
    client = test_client_factory(router, root_path="/app")
    assert client.get("/app/m/inner").text == "http://testserver/app/m/inner"


# --- hosts -------------------------------------------------------------------------


def test_host_routing(test_client_factory: TestClientFactory) -> None:
    api = Router(routes=[Route("/users", echo_scope, name="users")])
    router = Router(
        routes=[
            Host("api.example.org", api, name="api"),
            Host("{subdomain}.example.org", Router(routes=[Route("/", echo_scope)])),
            Route("/", homepage),
        ]
    )
    client = test_client_factory(router, base_url="https://api.example.org")
    assert client.get("/users").json()["url"] == "https://api.example.org/users"

    client = test_client_factory(router, base_url="https://shop.example.org:8443")
    assert client.get("/").json()["path_params"] == {"subdomain": "shop"}

    client = test_client_factory(router, base_url="https://example.org")
    assert client.get("/").text == "Hello, world"
    assert client.get("/users").status_code == 404


def test_host_url_path_for() -> None:
    api = Router(routes=[Route("/users", homepage, name="users")])
    router = Router(
        routes=[
            Host("{subdomain}.example.org", api, name="tenant"),
            Host("static.example.org", raw_app, name="static"),
        ]
    )
    url = router.url_path_for("tenant:users", subdomain="acme")
    assert url == "/users"
    assert url.host == "acme.example.org"
    assert url.protocol == "http"
    assert url.make_absolute_url("https://example.org") == "https://acme.example.org/users"
    url = router.url_path_for("static", path="/logo.png")
    assert url == "/logo.png"
    assert url.host == "static.example.org"
    with pytest.raises(NoMatchFound):
        router.url_path_for("static", path="/logo.png", extra=1)
    ported = Host("port.example.org:3600", raw_app, name="port")
    url = ported.url_path_for("port", path="/")
    assert url.make_absolute_url("https://whatever") == "https://port.example.org:3600/"
    with pytest.raises(NoMatchFound):
        router.url_path_for("tenant:missing", subdomain="acme")
    # Stricter than Starlette, which would return the host "{subdomain}.example.org".
    with pytest.raises(NoMatchFound):
        router.url_path_for("tenant:users")


def test_host_ignores_the_port_and_handles_ipv6() -> None:
    host = Host("example.org:8000", app=raw_app)
    assert host.host_regex.pattern == "^example\\.org$"
    scope = http_scope("/", headers=[(b"host", b"example.org:1234")])
    assert host.matches(scope)[0] == Match.FULL
    ipv6 = Host("[::1]", app=raw_app)
    assert ipv6.matches(http_scope("/", headers=[(b"host", b"[::1]:8000")]))[0] == Match.FULL
    assert ipv6.matches(http_scope("/", headers=[]))[0] == Match.NONE
    assert host.matches({"type": "lifespan"})[0] == Match.NONE


def test_host_routes_property() -> None:
    inner = Router(routes=[Route("/", homepage)])
    assert Host("a.org", inner).routes == inner.routes
    assert Host("a.org", raw_app).routes == []
    with pytest.raises(AssertionError, match="Host must not start with '/'"):
        Host("/a.org", raw_app)


# --- route-level middleware and body limits -----------------------------------------


class CountingMiddleware:
    calls = 0

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        CountingMiddleware.calls += 1
        await self.app(scope, receive, send)


def test_route_middleware(test_client_factory: TestClientFactory) -> None:
    CountingMiddleware.calls = 0
    router = Router(
        routes=[
            Route("/counted", homepage, middleware=[Middleware(CountingMiddleware)]),
            Route("/plain", homepage),
        ]
    )
    client = test_client_factory(router)
    client.get("/counted")
    client.get("/plain")
    assert CountingMiddleware.calls == 1
    # The method check happens before the route's middleware.
    assert client.post("/counted").status_code == 405
    assert CountingMiddleware.calls == 1


def test_router_middleware(test_client_factory: TestClientFactory) -> None:
    CountingMiddleware.calls = 0
    router = Router(routes=[Route("/", homepage)], middleware=[Middleware(CountingMiddleware)])
    client = test_client_factory(router)
    client.get("/")
    client.get("/missing")
    assert CountingMiddleware.calls == 2


async def read_body(request: Request) -> Response:
    body = await request.body()
    return PlainTextResponse(f"{len(body)} bytes")


def test_route_max_body_size(test_client_factory: TestClientFactory) -> None:
    router = Router(
        routes=[
            Route("/small", read_body, methods=["POST"], max_body_size=4),
            Route("/large", read_body, methods=["POST"]),
        ]
    )
    client = test_client_factory(router)
    assert client.post("/small", content=b"1234").text == "4 bytes"
    response = client.post("/small", content=b"12345")
    assert response.status_code == 413
    assert client.post("/large", content=b"x" * 1000).text == "1000 bytes"


def test_innermost_body_limit_wins(test_client_factory: TestClientFactory) -> None:
    router = Router(
        routes=[
            Mount(
                "/api",
                routes=[
                    Route("/upload", read_body, methods=["POST"], max_body_size=100),
                    Route("/note", read_body, methods=["POST"]),
                ],
                max_body_size=10,
            )
        ],
        max_body_size=2,
    )
    client = test_client_factory(router)
    assert client.post("/api/upload", content=b"x" * 50).text == "50 bytes"
    assert client.post("/api/upload", content=b"x" * 101).status_code == 413
    assert client.post("/api/note", content=b"x" * 10).text == "10 bytes"
    assert client.post("/api/note", content=b"x" * 11).status_code == 413


# --- compile_path, replace_params, names --------------------------------------------


def test_compile_path() -> None:
    regex, path_format, convertors = compile_path("/users/{id:int}/{name}")
    assert regex.pattern == "^/users/(?P<id>[0-9]+)/(?P<name>[^/]+)$"
    assert path_format == "/users/{id}/{name}"
    assert isinstance(convertors["id"], IntegerConvertor)
    assert isinstance(convertors["name"], StringConvertor)
    # Regex metacharacters in the static parts are matched literally.
    regex, _, _ = compile_path("/escaped-brackets({param:int})")
    assert regex.match("/escaped-brackets(5)")
    assert not regex.match("/escaped-brackets5")


def test_compile_host_path() -> None:
    regex, path_format, convertors = compile_path("{subdomain}.example.org:8080")
    assert regex.pattern == "^(?P<subdomain>[^/]+)\\.example\\.org$"
    assert path_format == "{subdomain}.example.org:8080"
    assert set(convertors) == {"subdomain"}


def test_compile_path_rejects_duplicated_params() -> None:
    with pytest.raises(ValueError, match=re.escape("Duplicated param name id at path /{id}/{id}")):
        compile_path("/{id}/{id}")
    with pytest.raises(
        ValueError, match=re.escape("Duplicated param names a, b at path /{a}/{b}/{a}/{b:int}")
    ):
        compile_path("/{a}/{b}/{a}/{b:int}")
    with pytest.raises(ValueError, match="Duplicated param name id"):
        Route("/{id}/{id}", homepage)


def test_compile_path_rejects_unknown_convertors() -> None:
    with pytest.raises(AssertionError, match="Unknown path convertor 'nope'"):
        compile_path("/{x:nope}")


def test_route_paths_must_start_with_a_slash() -> None:
    with pytest.raises(AssertionError, match="Routed paths must start with '/'"):
        Route("users", homepage)
    with pytest.raises(AssertionError, match="Routed paths must start with '/'"):
        WebSocketRoute("ws", websocket_endpoint)


def test_param_regexes() -> None:
    assert PARAM_REGEX.findall("/{a}/{b:int}/{1c}") == [("a", ""), ("b", ":int")]
    assert PARAM_FORMAT_REGEX.findall("/{a}/{b}/{c:int}") == ["a", "b"]


def test_replace_params() -> None:
    convertors = compile_path("/{a}/{b:int}")[2]
    params: dict[str, Any] = {"a": "x", "b": 2, "extra": "e"}
    path, remaining = replace_params("/{a}/{b}", convertors, params)
    assert path == "/x/2"
    assert remaining == {"extra": "e"}


def test_replace_params_leaves_unknown_placeholders() -> None:
    path, remaining = replace_params("/{a}/{b}", {}, {"a": "x"})
    assert path == "/{a}/{b}"
    assert remaining == {"a": "x"}


def test_routes_do_not_match_lifespan_scopes() -> None:
    scope = {"type": "lifespan"}
    assert Mount("/m", app=raw_app).matches(scope) == (Match.NONE, {})
    assert Route("/", homepage).matches(scope) == (Match.NONE, {})
    assert WebSocketRoute("/", websocket_endpoint).matches(scope) == (Match.NONE, {})


def test_replace_params_does_not_reinterpret_values() -> None:
    # A value that looks like another placeholder is kept as it is.
    convertors = compile_path("/{a}/{b}")[2]
    path, _ = replace_params("/{a}/{b}", convertors, {"a": "{b}", "b": "real"})
    assert path == "/{b}/real"
    route = Route("/{a}/{b}", homepage, name="pair")
    assert route.url_path_for("pair", a="{b}", b="x") == "/{b}/x"


def test_get_name() -> None:
    class Endpoint:
        def method(self) -> None:
            pass

        def __call__(self) -> None:
            pass

    assert get_name(homepage) == "homepage"
    assert get_name(Endpoint) == "Endpoint"
    assert get_name(Endpoint().method) == "method"
    assert get_name(Endpoint()) == "Endpoint"


# --- equality and repr ---------------------------------------------------------------


def test_route_equality_and_repr() -> None:
    assert Route("/", homepage) == Route("/", homepage)
    assert Route("/", homepage) != Route("/", homepage, methods=["POST"])
    assert Route("/", homepage) != Route("/x", homepage)
    assert repr(Route("/", homepage, methods=["GET"])) == (
        "Route(path='/', name='homepage', methods=['GET', 'HEAD'])"
    )
    assert WebSocketRoute("/ws", websocket_endpoint) == WebSocketRoute("/ws", websocket_endpoint)
    assert repr(WebSocketRoute("/ws", websocket_endpoint, name="w")) == (
        "WebSocketRoute(path='/ws', name='w')"
    )
    assert Mount("/m", app=raw_app) == Mount("/m", app=raw_app)
    assert Mount("/m", app=raw_app) != Mount("/n", app=raw_app)
    assert repr(Mount("/m", app=users_router, name="m")).startswith(
        "Mount(path='/m', name='m', app="
    )
    assert Host("a.org", raw_app) == Host("a.org", raw_app)
    assert repr(Host("a.org", raw_app)).startswith("Host(host='a.org', name='', app=")
    assert Router(routes=[Route("/", homepage)]) == Router(routes=[Route("/", homepage)])
    assert Router(routes=[Route("/", homepage)]) != Router()


def test_router_helpers_append_routes(test_client_factory: TestClientFactory) -> None:
    router = Router()
    router.add_route("/page", homepage, methods=["GET"], name="page")
    router.add_websocket_route("/ws", websocket_endpoint, name="socket")
    router.host("sub.example.org", users_router, name="sub")
    router.mount("/users", users_router, name="users")
    assert [type(route).__name__ for route in router.routes] == [
        "Route",
        "WebSocketRoute",
        "Host",
        "Mount",
    ]
    client = test_client_factory(router)
    assert client.get("/page").text == "Hello, world"
    assert client.get("/users/ann").text == "User ann"
    assert router.url_path_for("socket") == "/ws"


def test_mutating_routes_after_the_first_request(test_client_factory: TestClientFactory) -> None:
    router = Router(routes=[Route("/a", homepage)])
    client = test_client_factory(router)
    assert client.get("/a").status_code == 200
    assert client.get("/b").status_code == 404
    router.routes.append(Route("/b", users))
    assert client.get("/b").text == "All users"
    router.routes.insert(0, Route("/b", user_me))
    assert client.get("/b").text == "User fixed me"
    del router.routes[0]
    assert client.get("/b").text == "All users"
    router.routes = [Route("/c", homepage)]
    assert client.get("/b").status_code == 404
    assert client.get("/c").status_code == 200


# --- hostile input -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/users/%2F",
        "/users/a%2Fb",
        "/../../etc/passwd",
        "/users/..%2F..%2Fetc%2Fpasswd",
        "/%00",
        "/users/%0A",
        "/" + "a/" * 5000,
        "/" + "x" * 60_000,
        "//",
        "/users//",
        "/%E2%82%AC",
        "/%ff",
    ],
)
def test_hostile_paths_get_a_clean_answer(
    test_client_factory: TestClientFactory, path: str
) -> None:
    client = test_client_factory(app)
    response = client.get(path, follow_redirects=False)
    assert response.status_code in (200, 307, 404)


@pytest.mark.anyio
async def test_megabyte_path_over_raw_asgi() -> None:
    sent = await call(app, http_scope("/users/" + "a" * 1_000_000))
    assert sent[0]["status"] == 200
    sent = await call(app, http_scope("/" + "a/" * 500_000, method="FOO"))
    assert sent[0]["status"] == 404


def test_long_path_params(test_client_factory: TestClientFactory) -> None:
    router = Router(routes=[Route("/files/{path:path}", echo_scope)])
    value = "a/" * 10_000
    data = test_client_factory(router).get("/files/" + value).json()
    assert data["path_params"] == {"path": value}


def test_many_routes_dispatch(test_client_factory: TestClientFactory) -> None:
    routes: list[BaseRoute] = [Route(f"/r{i}/{{x:int}}", echo_scope) for i in range(3000)]
    client = test_client_factory(Router(routes=routes))
    assert client.get("/r2999/7").json()["path_params"] == {"x": "7"}
    assert client.get("/r3000/7").status_code == 404


def test_uuid_path_params(test_client_factory: TestClientFactory) -> None:
    async def endpoint(request: Request) -> Response:
        value = request.path_params["id"]
        assert isinstance(value, uuid.UUID)
        return PlainTextResponse(value.hex)

    value = uuid.uuid4()
    client = test_client_factory(Router(routes=[Route("/items/{id:uuid}", endpoint)]))
    assert client.get(f"/items/{value}").text == value.hex
