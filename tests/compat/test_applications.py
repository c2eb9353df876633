"""The `Stellate` application, end to end through the test client (asyncio and trio)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any

import pytest

from stellate.applications import Stellate
from stellate.datastructures import State, URLPath
from stellate.endpoints import HTTPEndpoint, WebSocketEndpoint
from stellate.exceptions import HTTPException, StellateDeprecationWarning, WebSocketException
from stellate.middleware import Middleware
from stellate.middleware.body_limit import RequestBodyLimitMiddleware
from stellate.middleware.errors import ServerErrorMiddleware
from stellate.middleware.exceptions import ExceptionMiddleware
from stellate.requests import Request
from stellate.responses import JSONResponse, PlainTextResponse, Response
from stellate.routing import Host, Mount, NoMatchFound, Route, Router, WebSocketRoute
from stellate.testclient import WebSocketDenialResponse
from stellate.types import ASGIApp, Message, Receive, Scope, Send
from stellate.websockets import WebSocket, WebSocketDisconnect
from tests.conftest import TestClientFactory

# --- endpoints shared by the tests ------------------------------------------------------


def sync_homepage(request: Request) -> Response:
    return PlainTextResponse("Hello, world!")


async def async_user(request: Request) -> Response:
    return JSONResponse({"user": request.path_params["username"]})


class Items(HTTPEndpoint):
    def get(self, request: Request) -> Response:
        return PlainTextResponse("items")

    async def post(self, request: Request) -> Response:
        body = await request.body()
        return PlainTextResponse(f"created {body.decode()}", status_code=201)


async def websocket_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    text = await websocket.receive_text()
    await websocket.send_text(f"echo: {text}")
    await websocket.close()


class JSONEcho(WebSocketEndpoint):
    encoding = "json"

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_json({"got": data})


async def upload(request: Request) -> Response:
    body = await request.body()
    return PlainTextResponse(f"{len(body)} bytes")


class Recorder:
    """A pure ASGI middleware that logs entering and leaving, to show the stack order."""

    def __init__(self, app: ASGIApp, name: str, log: list[str]) -> None:
        self.app = app
        self.name = name
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.log.append(f"enter {self.name}")

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-middleware", self.name.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)
        self.log.append(f"leave {self.name}")


class Boom(Exception):
    pass


class SmallBoom(Boom):
    pass


def boom(request: Request) -> Response:
    raise RuntimeError("Something went wrong")


def fail(message: str) -> None:
    # Raises, but typed to return: code after a call stays reachable for mypy.
    raise ZeroDivisionError(message)


# --- routes and endpoints ---------------------------------------------------------------


def test_function_and_class_endpoints(test_client_factory: TestClientFactory) -> None:
    app = Stellate(
        routes=[
            Route("/", sync_homepage),
            Route("/users/{username}", async_user),
            Route("/items", Items),
        ]
    )
    client = test_client_factory(app)

    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "Hello, world!"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"

    response = client.get("/users/tomchristie")
    assert response.json() == {"user": "tomchristie"}

    assert client.get("/items").text == "items"
    response = client.post("/items", content=b"spoon")
    assert response.status_code == 201
    assert response.text == "created spoon"

    # HEAD is served wherever GET is, without a body.
    response = client.head("/")
    assert response.status_code == 200
    assert response.content == b""

    # An endpoint class answers methods it lacks with 405 and an Allow header.
    response = client.delete("/items")
    assert response.status_code == 405
    assert response.text == "Method Not Allowed"
    # Starlette lists the methods the class defines (HEAD is served by `get`).
    assert response.headers["allow"] == "GET, POST"


def test_websocket_routes(test_client_factory: TestClientFactory) -> None:
    app = Stellate(
        routes=[
            WebSocketRoute("/ws", websocket_echo),
            WebSocketRoute("/json", JSONEcho),
        ]
    )
    client = test_client_factory(app)

    with client.websocket_connect("/ws") as session:
        session.send_text("hello")
        assert session.receive_text() == "echo: hello"

    with client.websocket_connect("/json") as session:
        session.send_json({"hello": "world"})
        assert session.receive_json() == {"got": {"hello": "world"}}

    # An unknown websocket path closes the connection before accepting it.
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/missing"):
        pass  # pragma: no cover
    assert info.value.code == 1000


def test_mount_host_and_add_route(test_client_factory: TestClientFactory) -> None:
    users = Router(routes=[Route("/{username}", async_user, name="user")])
    api = Stellate(routes=[Route("/status", lambda request: PlainTextResponse("api ok"))])

    def other(request: Request) -> Response:
        return PlainTextResponse(f"other {request.method}")

    app = Stellate(routes=[Route("/", sync_homepage, name="home")])
    app.mount("/users", users, name="users")
    app.host("api.example.org", api, name="api")
    app.add_route("/other", other, methods=["GET", "POST"], name="other")
    client = test_client_factory(app)

    assert client.get("/users/anna").json() == {"user": "anna"}
    assert client.get("/other").text == "other GET"
    assert client.post("/other").text == "other POST"
    response = client.get("/status", headers={"host": "api.example.org"})
    assert response.text == "api ok"
    assert client.get("/status").status_code == 404

    assert [type(route) for route in app.routes] == [Route, Mount, Host, Route]
    assert app.routes is app.router.routes

    assert app.url_path_for("home") == "/"
    assert app.url_path_for("users:user", username="bob") == "/users/bob"
    assert app.url_path_for("users", path="/x") == "/users/x"
    assert app.url_path_for("other") == "/other"
    url = app.url_path_for("api", path="/status")
    assert isinstance(url, URLPath)
    assert url.host == "api.example.org"
    assert url == "/status"


def test_routes_added_after_start_are_served(test_client_factory: TestClientFactory) -> None:
    app = Stellate()
    client = test_client_factory(app)
    assert client.get("/late").status_code == 404
    app.add_route("/late", sync_homepage)
    assert client.get("/late").text == "Hello, world!"
    app.routes.append(Route("/later", sync_homepage))
    assert client.get("/later").status_code == 200


def test_url_path_for_unknown_name_raises_no_match_found() -> None:
    app = Stellate(routes=[Route("/users/{id:int}", async_user, name="user")])
    assert app.url_path_for("user", id=3) == "/users/3"
    with pytest.raises(NoMatchFound, match=r'No route exists for name "nope" and params "id"\.'):
        app.url_path_for("nope", id=3)
    with pytest.raises(NoMatchFound):
        app.url_path_for("user")
    with pytest.raises(NoMatchFound):
        app.url_path_for("user", id=3, extra=4)


def test_url_path_for_takes_name_positionally() -> None:
    # `name` is positional-only, so a path parameter may be called "name" too.
    app = Stellate(routes=[Route("/hello/{name}", sync_homepage, name="hello")])
    assert app.url_path_for("hello", name="world") == "/hello/world"


def test_state_request_app_and_scope_app(test_client_factory: TestClientFactory) -> None:
    async def show(request: Request) -> Response:
        assert request.scope["app"] is request.app
        assert request.scope["router"] is request.app.router
        return JSONResponse(
            {"config": request.app.state.config, "is_app": request.app is request.scope["app"]}
        )

    app = Stellate(routes=[Route("/", show)])
    assert isinstance(app.state, State)
    app.state.config = "production"
    client = test_client_factory(app)
    assert client.get("/").json() == {"config": "production", "is_app": True}


def test_mounted_application_is_scope_app_inside_the_mount(
    test_client_factory: TestClientFactory,
) -> None:
    inner = Stellate()

    async def which(request: Request) -> Response:
        return JSONResponse(
            {
                "inner": request.app is inner,
                # `url_for` reverses from the top router, so the mount's name is needed.
                "url": str(request.url_for("sub:inner_route")),
                "root_path": request.scope["root_path"],
            }
        )

    inner.add_route("/which", which, name="inner_route")
    outer = Stellate(routes=[Mount("/sub", app=inner, name="sub")])
    client = test_client_factory(outer)
    assert client.get("/sub/which").json() == {
        "inner": True,
        "url": "http://testserver/sub/which",
        "root_path": "/sub",
    }


def test_host_route_with_subdomain_parameter(test_client_factory: TestClientFactory) -> None:
    async def subdomain(request: Request) -> Response:
        return PlainTextResponse(f"Subdomain: {request.path_params['subdomain']}")

    app = Stellate(
        routes=[
            Host(
                "{subdomain}.example.org",
                app=Router(routes=[Route("/", subdomain, name="sub_home")]),
                name="sub",
            )
        ]
    )
    client = test_client_factory(app, base_url="https://foo.example.org/")
    response = client.get("/")
    assert response.text == "Subdomain: foo"
    url = app.url_path_for("sub:sub_home", subdomain="bar")
    assert url.make_absolute_url("https://example.org") == "https://bar.example.org/"


def test_routes_compare_equal(test_client_factory: TestClientFactory) -> None:
    users = Router(routes=[Route("/{username}", async_user)])
    app = Stellate(
        routes=[
            Route("/", sync_homepage, methods=["GET"]),
            Route("/items", Items),
            WebSocketRoute("/ws", websocket_echo),
            Mount("/users", app=users),
            Host("api.example.org", app=users),
        ]
    )
    assert app.routes == [
        Route("/", endpoint=sync_homepage, methods=["GET"]),
        Route("/items", endpoint=Items),
        WebSocketRoute("/ws", endpoint=websocket_echo),
        Mount("/users", app=users),
        Host("api.example.org", app=users),
    ]


# --- middleware -------------------------------------------------------------------------


def test_middleware_order_first_is_outermost(test_client_factory: TestClientFactory) -> None:
    log: list[str] = []
    app = Stellate(
        routes=[Route("/", sync_homepage)],
        middleware=[
            Middleware(Recorder, name="outer", log=log),
            Middleware(Recorder, "inner", log),
        ],
    )
    client = test_client_factory(app)
    response = client.get("/")
    assert response.text == "Hello, world!"
    assert log == ["enter outer", "enter inner", "leave inner", "leave outer"]
    # The outer middleware sees the headers the inner one added.
    assert response.headers.get_list("x-middleware") == ["inner", "outer"]


def test_add_middleware_inserts_outermost(test_client_factory: TestClientFactory) -> None:
    log: list[str] = []
    app = Stellate(
        routes=[Route("/", sync_homepage)],
        middleware=[Middleware(Recorder, name="given", log=log)],
    )
    app.add_middleware(Recorder, name="added first", log=log)
    app.add_middleware(Recorder, name="added last", log=log)
    client = test_client_factory(app)
    client.get("/")
    assert log == [
        "enter added last",
        "enter added first",
        "enter given",
        "leave given",
        "leave added first",
        "leave added last",
    ]


def test_add_middleware_after_start_raises(test_client_factory: TestClientFactory) -> None:
    log: list[str] = []
    app = Stellate(routes=[Route("/", sync_homepage)])
    client = test_client_factory(app)
    assert client.get("/").status_code == 200
    with pytest.raises(
        RuntimeError, match="Cannot add middleware after an application has started"
    ):
        app.add_middleware(Recorder, name="late", log=log)
    # The stack is unchanged.
    assert client.get("/").status_code == 200
    assert log == []


def test_add_middleware_after_lifespan_start_raises(test_client_factory: TestClientFactory) -> None:
    app = Stellate()
    with test_client_factory(app), pytest.raises(RuntimeError, match="Cannot add middleware"):
        app.add_middleware(Recorder, name="late", log=[])


def test_middleware_sees_exception_handler_responses(
    test_client_factory: TestClientFactory,
) -> None:
    # User middleware sits outside ExceptionMiddleware: it sees the 404 response.
    log: list[str] = []
    app = Stellate(middleware=[Middleware(Recorder, name="m", log=log)])
    client = test_client_factory(app)
    response = client.get("/missing")
    assert response.status_code == 404
    assert response.headers["x-middleware"] == "m"
    assert log == ["enter m", "leave m"]


def test_middleware_factory_function(test_client_factory: TestClientFactory) -> None:
    calls: list[str] = []

    def factory(app: ASGIApp, arg: str) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            calls.append(arg)
            await app(scope, receive, send)

        return wrapped

    app = Stellate()
    app.add_middleware(factory, "foo")
    app.add_middleware(factory, arg="bar")
    with test_client_factory(app):
        pass
    # The lifespan runs through the stack too; the last one added is outermost.
    assert calls == ["bar", "foo"]


def test_build_middleware_stack() -> None:
    log: list[str] = []
    app = Stellate(middleware=[Middleware(Recorder, name="user", log=log)])
    stack = app.build_middleware_stack()
    assert isinstance(stack, ServerErrorMiddleware)
    assert isinstance(stack.app, Recorder)
    assert isinstance(stack.app.app, ExceptionMiddleware)
    assert stack.app.app.app is app.router
    # Building the stack by hand does not mark the application as started.
    assert app.middleware_stack is None
    app.add_middleware(Recorder, name="still allowed", log=log)

    limited = Stellate(max_body_size=10)
    stack = limited.build_middleware_stack()
    assert isinstance(stack, ServerErrorMiddleware)
    assert isinstance(stack.app, RequestBodyLimitMiddleware)
    assert stack.app.max_body_size == 10
    assert isinstance(stack.app.app, ExceptionMiddleware)


def test_debug_flag_reaches_the_stack() -> None:
    app = Stellate(debug=True)
    assert app.debug is True
    stack = app.build_middleware_stack()
    assert isinstance(stack, ServerErrorMiddleware)
    assert stack.debug is True
    app.debug = False
    stack = app.build_middleware_stack()
    assert isinstance(stack, ServerErrorMiddleware)
    assert stack.debug is False


def test_debug_set_after_init_is_honoured(test_client_factory: TestClientFactory) -> None:
    app = Stellate(routes=[Route("/", boom)])
    app.debug = True
    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/")
    assert response.status_code == 500
    assert "RuntimeError" in response.text
    assert app.debug


def test_middleware_stack_is_built_once(test_client_factory: TestClientFactory) -> None:
    app = Stellate(routes=[Route("/", sync_homepage)])
    client = test_client_factory(app)
    client.get("/")
    stack = app.middleware_stack
    assert stack is not None
    client.get("/")
    assert app.middleware_stack is stack


# --- exception handlers -----------------------------------------------------------------


def test_exception_handlers_by_status_code_and_class(
    test_client_factory: TestClientFactory,
) -> None:
    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"detail": exc.detail, "path": request.url.path}, status_code=404)

    def boom_handler(request: Request, exc: Exception) -> Response:
        # Sync handlers run in a worker thread.
        return JSONResponse({"boom": type(exc).__name__}, status_code=418)

    async def raise_boom(request: Request) -> Response:
        raise SmallBoom()

    async def raise_404(request: Request) -> Response:
        raise HTTPException(status_code=404, detail="No such thing")

    app = Stellate(
        routes=[Route("/boom", raise_boom), Route("/gone", raise_404)],
        exception_handlers={404: not_found, Boom: boom_handler},
    )
    client = test_client_factory(app)

    response = client.get("/missing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "path": "/missing"}

    response = client.get("/gone")
    assert response.json() == {"detail": "No such thing", "path": "/gone"}

    # Looked up along the MRO: a handler for the base class handles the subclass.
    response = client.get("/boom")
    assert response.status_code == 418
    assert response.json() == {"boom": "SmallBoom"}


def test_add_exception_handler(test_client_factory: TestClientFactory) -> None:
    async def teapot(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("short and stout", status_code=418)

    async def raise_boom(request: Request) -> Response:
        raise Boom()

    app = Stellate(routes=[Route("/", raise_boom), Route("/class", Items)])
    app.add_exception_handler(Boom, teapot)
    app.add_exception_handler(405, teapot)
    client = test_client_factory(app)
    assert client.get("/").text == "short and stout"
    assert client.post("/").status_code == 418
    # The 405 of an endpoint class goes through the same handler.
    assert client.delete("/class").text == "short and stout"
    assert app.exception_handlers == {Boom: teapot, 405: teapot}


def test_http_exception_handler_by_class_overrides_default(
    test_client_factory: TestClientFactory,
) -> None:
    async def http_handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"status": exc.status_code}, status_code=exc.status_code)

    app = Stellate(exception_handlers={HTTPException: http_handler})
    client = test_client_factory(app)
    response = client.get("/missing")
    assert response.status_code == 404
    assert response.json() == {"status": 404}


def test_http_exception_with_headers(test_client_factory: TestClientFactory) -> None:
    async def protected(request: Request) -> Response:
        raise HTTPException(
            status_code=401, detail="Login required", headers={"WWW-Authenticate": "Bearer"}
        )

    async def empty(request: Request) -> Response:
        raise HTTPException(status_code=304)

    app = Stellate(routes=[Route("/protected", protected), Route("/empty", empty)])
    client = test_client_factory(app)
    response = client.get("/protected")
    assert response.status_code == 401
    assert response.text == "Login required"
    assert response.headers["www-authenticate"] == "Bearer"

    response = client.get("/empty")
    assert response.status_code == 304
    assert response.content == b""


def test_http_exception_default_detail(test_client_factory: TestClientFactory) -> None:
    async def forbidden(request: Request) -> Response:
        raise HTTPException(status_code=403)

    async def internal(request: Request) -> Response:
        raise HTTPException(status_code=500)

    app = Stellate(
        routes=[Route("/forbidden", forbidden), Route("/internal", internal)],
        exception_handlers={500: lambda request, exc: PlainTextResponse("custom", 500)},
    )
    client = test_client_factory(app)
    response = client.get("/forbidden")
    assert response.status_code == 403
    assert response.text == "Forbidden"
    # A 500 status handler goes to ServerErrorMiddleware, so an HTTPException(500)
    # still gets the default HTTPException rendering (as in Starlette).
    response = client.get("/internal")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


def test_websocket_exception(test_client_factory: TestClientFactory) -> None:
    async def reject(websocket: WebSocket) -> None:
        raise WebSocketException(code=1008, reason="Policy")

    async def reject_after_accept(websocket: WebSocket) -> None:
        await websocket.accept()
        raise WebSocketException(code=1011, reason="Oops")

    app = Stellate(
        routes=[WebSocketRoute("/reject", reject), WebSocketRoute("/late", reject_after_accept)]
    )
    client = test_client_factory(app)
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/reject"):
        pass  # pragma: no cover
    assert info.value.code == 1008
    assert info.value.reason == "Policy"

    with client.websocket_connect("/late") as session, pytest.raises(WebSocketDisconnect) as info:
        session.receive_text()
    assert info.value.code == 1011
    assert info.value.reason == "Oops"


def test_handler_gets_the_request_the_endpoint_used(
    test_client_factory: TestClientFactory,
) -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        # The body was read by the endpoint; only the same Request object still has it.
        body = await request.body()
        return JSONResponse({"body": body.decode(), "mark": request.state.mark})

    async def endpoint(request: Request) -> Response:
        await request.body()
        request.state.mark = "set by endpoint"
        raise Boom()

    app = Stellate(
        routes=[Route("/", endpoint, methods=["POST"])], exception_handlers={Boom: handler}
    )
    client = test_client_factory(app)
    response = client.post("/", content=b"Hello!")
    assert response.json() == {"body": "Hello!", "mark": "set by endpoint"}


def test_http_exception_in_websocket_is_a_denial_response(
    test_client_factory: TestClientFactory,
) -> None:
    async def http_handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    async def endpoint(websocket: WebSocket) -> None:
        raise HTTPException(status_code=401)

    app = Stellate(
        routes=[WebSocketRoute("/ws", endpoint)], exception_handlers={HTTPException: http_handler}
    )
    client = test_client_factory(app)
    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect("/ws"):
        pass  # pragma: no cover
    assert info.value.status_code == 401
    assert info.value.content == b'{"detail":"Unauthorized"}'

    # Without a handler of its own, the default HTTPException rendering is sent.
    plain_client = test_client_factory(Stellate(routes=[WebSocketRoute("/ws", endpoint)]))
    with pytest.raises(WebSocketDenialResponse) as info, plain_client.websocket_connect("/ws"):
        pass  # pragma: no cover
    assert info.value.status_code == 401
    assert info.value.text == "Unauthorized"


def test_websocket_custom_exception_handler_accepts_and_closes(
    test_client_factory: TestClientFactory,
) -> None:
    async def handler(websocket: WebSocket, exc: Exception) -> None:
        await websocket.accept()
        await websocket.close(code=1013, reason="Whoops!")

    async def endpoint(websocket: WebSocket) -> None:
        raise Boom()

    app = Stellate(routes=[WebSocketRoute("/ws", endpoint)], exception_handlers={Boom: handler})
    client = test_client_factory(app)
    with client.websocket_connect("/ws") as session:
        message = session.receive()
    assert message == {"type": "websocket.close", "code": 1013, "reason": "Whoops!"}


def test_unhandled_websocket_error_reaches_the_client(
    test_client_factory: TestClientFactory,
) -> None:
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        raise RuntimeError("socket broke")

    app = Stellate(debug=True, routes=[WebSocketRoute("/ws", endpoint)])
    client = test_client_factory(app)
    with pytest.raises(RuntimeError, match="socket broke"), client.websocket_connect("/ws") as ws:
        ws.receive_text()


def test_websocket_exception_handler(test_client_factory: TestClientFactory) -> None:
    async def on_boom(websocket: WebSocket, exc: Exception) -> None:
        await websocket.close(code=4001, reason=type(exc).__name__)

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        raise Boom()

    app = Stellate(routes=[WebSocketRoute("/ws", endpoint)], exception_handlers={Boom: on_boom})
    client = test_client_factory(app)
    with client.websocket_connect("/ws") as session, pytest.raises(WebSocketDisconnect) as info:
        session.receive_text()
    assert info.value.code == 4001
    assert info.value.reason == "Boom"


def test_unhandled_error_debug_off(test_client_factory: TestClientFactory) -> None:
    app = Stellate(routes=[Route("/", boom)])
    client = test_client_factory(app)
    with pytest.raises(RuntimeError, match="Something went wrong"):
        client.get("/")

    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_unhandled_error_debug_html_page(test_client_factory: TestClientFactory) -> None:
    app = Stellate(debug=True, routes=[Route("/", boom)])
    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/", headers={"accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "500 Server Error" in response.text
    assert "RuntimeError: Something went wrong" in response.text
    assert "boom" in response.text  # the frame of the failing endpoint


def test_unhandled_error_debug_plain_text(test_client_factory: TestClientFactory) -> None:
    app = Stellate(debug=True, routes=[Route("/", boom)])
    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/", headers={"accept": "application/json"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.startswith("Traceback (most recent call last):")
    assert "RuntimeError: Something went wrong" in response.text


def test_debug_page_escapes_the_error(test_client_factory: TestClientFactory) -> None:
    async def xss(request: Request) -> Response:
        raise RuntimeError("<script>alert(1)</script>")

    app = Stellate(debug=True, routes=[Route("/", xss)])
    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_errors_in_user_middleware_skip_exception_handlers(
    test_client_factory: TestClientFactory,
) -> None:
    # User middleware sits outside ExceptionMiddleware (as in Starlette): what it raises
    # reaches ServerErrorMiddleware, even an HTTPException.
    class Denies:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                raise HTTPException(status_code=401)
            await self.app(scope, receive, send)  # pragma: no cover

    async def on_error(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"server error: {exc!r}", status_code=500)

    app = Stellate(
        routes=[Route("/", sync_homepage)],
        middleware=[Middleware(Denies)],
        exception_handlers={Exception: on_error},
    )
    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/")
    assert response.status_code == 500
    assert response.text.startswith("server error: HTTPException(status_code=401")


def test_sync_server_error_handler(test_client_factory: TestClientFactory) -> None:
    def error_500(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"sync handler: {exc}", status_code=500)

    app = Stellate(routes=[Route("/", boom)], exception_handlers={500: error_500})
    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/")
    assert response.status_code == 500
    assert response.text == "sync handler: Something went wrong"


def test_failing_exception_handler_is_a_500(test_client_factory: TestClientFactory) -> None:
    async def broken_handler(request: Request, exc: Exception) -> Response:
        raise KeyError("handler broke")

    async def raise_boom(request: Request) -> Response:
        raise Boom()

    app = Stellate(routes=[Route("/", raise_boom)], exception_handlers={Boom: broken_handler})
    with pytest.raises(KeyError, match="handler broke"):
        test_client_factory(app).get("/")
    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


@pytest.mark.parametrize("key", [500, Exception])
def test_server_error_handler(test_client_factory: TestClientFactory, key: Any) -> None:
    async def error_500(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=500)

    app = Stellate(routes=[Route("/", boom)], exception_handlers={key: error_500})
    stack = app.build_middleware_stack()
    assert isinstance(stack, ServerErrorMiddleware)
    assert stack.handler is error_500

    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/")
    assert response.status_code == 500
    assert response.json() == {"error": "Something went wrong"}

    # The exception is still raised to the server once the response is out.
    with pytest.raises(RuntimeError, match="Something went wrong"):
        test_client_factory(app).get("/")


def test_server_error_handler_is_bypassed_in_debug(test_client_factory: TestClientFactory) -> None:
    async def error_500(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("custom", status_code=500)  # pragma: no cover

    app = Stellate(debug=True, routes=[Route("/", boom)], exception_handlers={500: error_500})
    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/")
    assert response.status_code == 500
    assert "RuntimeError: Something went wrong" in response.text


def test_exception_after_response_started_is_raised(test_client_factory: TestClientFactory) -> None:
    class Half:
        # An ASGI app (not a function, which Route would call with a Request).
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise RuntimeError("mid-response")

    app = Stellate(routes=[Route("/", Half())])
    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/")
    assert response.status_code == 200
    with pytest.raises(RuntimeError, match="mid-response"):
        test_client_factory(app).get("/")


# --- lifespan ---------------------------------------------------------------------------


def test_lifespan_async_context_manager(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []
    received: list[Stellate] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[None]:
        received.append(app)
        events.append("startup")
        yield
        events.append("shutdown")

    app = Stellate(routes=[Route("/", sync_homepage)], lifespan=lifespan)
    assert events == []
    with test_client_factory(app) as client:
        assert events == ["startup"]
        assert client.get("/").status_code == 200
    assert events == ["startup", "shutdown"]
    assert received == [app]


def test_lifespan_state_is_a_shallow_copy_per_request(
    test_client_factory: TestClientFactory,
) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[dict[str, Any]]:
        yield {"count": 0, "items": []}

    async def touch(request: Request) -> Response:
        count = request.state.count
        request.state.count = count + 1
        request.state.items.append(count)
        return JSONResponse({"count": count, "items": request.state.items})

    app = Stellate(routes=[Route("/", touch)], lifespan=lifespan)
    with test_client_factory(app) as client:
        # Rebinding a key does not leak into the next request; mutating a value does.
        assert client.get("/").json() == {"count": 0, "items": [0]}
        assert client.get("/").json() == {"count": 0, "items": [0, 0]}


def test_lifespan_state_reaches_websockets(test_client_factory: TestClientFactory) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[dict[str, Any]]:
        yield {"greeting": "hello"}

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.state.greeting)
        websocket.state.greeting = "changed"
        await websocket.close()

    app = Stellate(routes=[WebSocketRoute("/ws", endpoint)], lifespan=lifespan)
    with test_client_factory(app) as client:
        for _ in range(2):
            with client.websocket_connect("/ws") as session:
                assert session.receive_text() == "hello"


def test_lifespan_state_is_absent_without_lifespan_run(
    test_client_factory: TestClientFactory,
) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[dict[str, Any]]:
        yield {"db": "connected"}  # pragma: no cover

    async def read(request: Request) -> Response:
        return PlainTextResponse(str(getattr(request.state, "db", None)))

    app = Stellate(routes=[Route("/", read)], lifespan=lifespan)
    client = test_client_factory(app)
    assert client.get("/").text == "None"


def test_lifespan_startup_failure_raises_from_the_client(
    test_client_factory: TestClientFactory,
) -> None:
    shutdown = False

    @contextlib.asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[None]:
        nonlocal shutdown
        fail("startup broke")
        yield  # pragma: no cover
        shutdown = True  # pragma: no cover

    app = Stellate(lifespan=lifespan)
    with pytest.raises(ZeroDivisionError, match="startup broke"), test_client_factory(app):
        pass  # pragma: no cover
    assert not shutdown


def test_lifespan_shutdown_failure_raises_from_the_client(
    test_client_factory: TestClientFactory,
) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[None]:
        yield
        raise ZeroDivisionError("shutdown broke")

    app = Stellate(routes=[Route("/", sync_homepage)], lifespan=lifespan)
    client = test_client_factory(app)
    with pytest.raises(ZeroDivisionError, match="shutdown broke"), client:
        assert client.get("/").status_code == 200


def test_lifespan_state_needs_server_support(test_client_factory: TestClientFactory) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[dict[str, Any]]:
        yield {"key": "value"}

    app = Stellate(lifespan=lifespan)

    async def no_state(scope: Scope, receive: Receive, send: Send) -> None:
        scope.pop("state", None)
        await app(scope, receive, send)

    with (
        pytest.raises(
            RuntimeError, match='The server does not support "state" in the lifespan scope'
        ),
        test_client_factory(no_state),
    ):
        pass  # pragma: no cover


def test_async_generator_lifespan_is_deprecated(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []

    async def lifespan(app: Stellate) -> AsyncGenerator[None, None]:
        events.append("startup")
        yield
        events.append("shutdown")

    with pytest.warns(StellateDeprecationWarning, match="async generator function lifespans"):
        # Not a context manager factory, so outside the `Lifespan` type (as in Starlette).
        app = Stellate(lifespan=lifespan)  # type: ignore[arg-type]
    with test_client_factory(app):
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


@pytest.mark.anyio
async def test_lifespan_protocol_messages() -> None:
    @contextlib.asynccontextmanager
    async def failing(app: Stellate) -> AsyncIterator[None]:
        fail("no database")
        yield  # pragma: no cover

    @contextlib.asynccontextmanager
    async def stateful(app: Stellate) -> AsyncIterator[dict[str, Any]]:
        yield {"db": app}

    async def run(app: Stellate, state: dict[str, Any]) -> list[Message]:
        incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        sent: list[Message] = []

        async def receive() -> Message:
            return next(incoming)

        async def send(message: Message) -> None:
            sent.append(message)

        scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}
        with contextlib.suppress(ZeroDivisionError):
            await app(scope, receive, send)
        return sent

    state: dict[str, Any] = {}
    app = Stellate(lifespan=stateful)
    assert await run(app, state) == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]
    assert state == {"db": app}

    messages = await run(Stellate(lifespan=failing), {})
    assert [message["type"] for message in messages] == ["lifespan.startup.failed"]
    assert "ZeroDivisionError: no database" in messages[0]["message"]


def test_lifespan_typed_for_an_application_subclass(
    test_client_factory: TestClientFactory,
) -> None:
    class App(Stellate):
        pass

    seen: list[App] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        seen.append(app)
        yield

    app = App(lifespan=lifespan)
    with test_client_factory(app):
        pass
    assert seen == [app]


def test_lifespan_goes_through_user_middleware(test_client_factory: TestClientFactory) -> None:
    seen: list[str] = []

    class ScopeTypes:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(scope["type"])
            await self.app(scope, receive, send)

    app = Stellate(routes=[Route("/", sync_homepage)], middleware=[Middleware(ScopeTypes)])
    with test_client_factory(app) as client:
        client.get("/")
    assert seen == ["lifespan", "http"]


# --- max_body_size ----------------------------------------------------------------------


def test_max_body_size_app_wide(test_client_factory: TestClientFactory) -> None:
    app = Stellate(routes=[Route("/upload", upload, methods=["POST"])], max_body_size=10)
    client = test_client_factory(app)

    response = client.post("/upload", content=b"x" * 10)
    assert response.status_code == 200
    assert response.text == "10 bytes"

    response = client.post("/upload", content=b"x" * 11)
    assert response.status_code == 413
    assert response.text == "Content Too Large"

    # Without a Content-Length (a streamed body), the bytes are counted as they arrive.
    def chunks() -> Iterator[bytes]:
        yield b"x" * 6
        yield b"x" * 6

    response = client.post("/upload", content=chunks())
    assert response.status_code == 413
    assert response.text == "Content Too Large"


def test_max_body_size_route_and_mount_override(test_client_factory: TestClientFactory) -> None:
    app = Stellate(
        routes=[
            Route("/small", upload, methods=["POST"]),
            Route("/big", upload, methods=["POST"], max_body_size=100),
            Route("/tiny", upload, methods=["POST"], max_body_size=2),
            Mount(
                "/files",
                routes=[Route("/upload", upload, methods=["POST"])],
                max_body_size=50,
            ),
        ],
        max_body_size=10,
    )
    client = test_client_factory(app)
    assert client.post("/small", content=b"x" * 20).status_code == 413
    response = client.post("/big", content=b"x" * 20)
    assert response.status_code == 200
    assert response.text == "20 bytes"
    assert client.post("/big", content=b"x" * 101).status_code == 413
    assert client.post("/tiny", content=b"xxx").status_code == 413
    assert client.post("/files/upload", content=b"x" * 40).text == "40 bytes"
    assert client.post("/files/upload", content=b"x" * 51).status_code == 413


def test_max_body_size_reaches_exception_handlers(test_client_factory: TestClientFactory) -> None:
    async def too_large(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "too large"}, status_code=413)

    app = Stellate(
        routes=[Route("/upload", upload, methods=["POST"])],
        exception_handlers={413: too_large},
        max_body_size=4,
    )
    client = test_client_factory(app)
    response = client.post("/upload", content=b"x" * 5)
    assert response.status_code == 413
    assert response.json() == {"error": "too large"}


@pytest.mark.parametrize(
    ("value", "error"),
    [(-1, ValueError), ("10", TypeError), (1.5, TypeError), (True, TypeError)],
)
def test_max_body_size_is_checked_at_init(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_body_size must be"):
        Stellate(max_body_size=value)


def test_max_body_size_zero_allows_only_empty_bodies(
    test_client_factory: TestClientFactory,
) -> None:
    app = Stellate(routes=[Route("/upload", upload, methods=["POST"])], max_body_size=0)
    client = test_client_factory(app)
    assert client.post("/upload").text == "0 bytes"
    assert client.post("/upload", content=b"x").status_code == 413


def test_max_body_size_limits_user_middleware_and_forms(
    test_client_factory: TestClientFactory,
) -> None:
    class ReadsBody:
        # A middleware that reads the whole body before the app does.
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"] == "/peek":
                await Request(scope, receive).body()
            await self.app(scope, receive, send)

    async def form(request: Request) -> Response:
        data = await request.form()
        return PlainTextResponse(str(len(data)))

    app = Stellate(
        routes=[
            Route("/peek", upload, methods=["POST"]),
            Route("/form", form, methods=["POST"]),
        ],
        middleware=[Middleware(ReadsBody)],
        max_body_size=100,
    )
    client = test_client_factory(app)
    response = client.post("/peek", content=b"x" * 101)
    assert response.status_code == 413
    assert response.text == "Content Too Large"

    response = client.post("/form", files={"f": ("a.txt", b"x" * 200, "text/plain")})
    assert response.status_code == 413
    assert client.post("/form", data={"a": "1"}).text == "1"


def test_max_body_size_does_not_touch_websockets(test_client_factory: TestClientFactory) -> None:
    app = Stellate(routes=[WebSocketRoute("/ws", websocket_echo)], max_body_size=1)
    client = test_client_factory(app)
    with client.websocket_connect("/ws") as session:
        session.send_text("a long message, well over one byte")
        assert session.receive_text() == "echo: a long message, well over one byte"


def test_max_body_size_in_scope(test_client_factory: TestClientFactory) -> None:
    async def show(request: Request) -> Response:
        return PlainTextResponse(str(request.scope.get("stellate.max_body_size")))

    app = Stellate(
        routes=[Route("/", show), Route("/big", show, max_body_size=99)], max_body_size=5
    )
    client = test_client_factory(app)
    assert client.get("/").text == "5"
    assert client.get("/big").text == "99"
    assert test_client_factory(Stellate(routes=[Route("/", show)])).get("/").text == "None"


# --- routing errors ---------------------------------------------------------------------


def test_not_found_and_method_not_allowed(test_client_factory: TestClientFactory) -> None:
    app = Stellate(routes=[Route("/", sync_homepage), Route("/post", upload, methods=["POST"])])
    client = test_client_factory(app)

    response = client.get("/missing")
    assert response.status_code == 404
    assert response.text == "Not Found"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"

    response = client.post("/")
    assert response.status_code == 405
    assert response.text == "Method Not Allowed"
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "HEAD"}

    response = client.get("/post")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_redirect_slashes(test_client_factory: TestClientFactory) -> None:
    app = Stellate(routes=[Route("/about", sync_homepage), Route("/dir/", sync_homepage)])
    client = test_client_factory(app, follow_redirects=False)

    response = client.get("/about/")
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/about"

    response = client.get("/dir?x=1")
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/dir/?x=1"

    assert test_client_factory(app).get("/about/").text == "Hello, world!"


def test_redirect_slashes_can_be_turned_off(test_client_factory: TestClientFactory) -> None:
    app = Stellate()
    app.router.redirect_slashes = False
    app.add_route("/about", sync_homepage)
    client = test_client_factory(app, follow_redirects=False)
    assert client.get("/about/").status_code == 404


def test_exports_are_the_parts() -> None:
    import stellate.applications as applications
    import stellate_middleware
    import stellate_routing.routing

    assert applications.Middleware is stellate_middleware.Middleware
    assert applications.Router is stellate_routing.routing.Router
    assert applications.ServerErrorMiddleware is ServerErrorMiddleware
    assert applications.RequestBodyLimitMiddleware is RequestBodyLimitMiddleware
    assert applications.ExceptionMiddleware is ExceptionMiddleware
