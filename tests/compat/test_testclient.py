"""Starlette-compatible behaviour of `stellate.testclient.TestClient`, through the umbrella.

Each test is a scenario an application ported from Starlette relies on: the portal per
request or per `with` block, lifespan, the scope the app sees, redirects, cookies,
warnings and the "http.response.debug" extension.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
import sniffio
import trio.lowlevel

from stellate.applications import Stellate
from stellate.background import BackgroundTask
from stellate.exceptions import StellateDeprecationWarning
from stellate.middleware import Middleware
from stellate.requests import Request
from stellate.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from stellate.routing import Route
from stellate.testclient import TestClient
from stellate.types import ASGIApp, Message, Receive, Scope, Send
from stellate.websockets import WebSocket, WebSocketDisconnect
from tests.conftest import TestClientFactory


def _service_endpoint(request: Request) -> Response:
    return JSONResponse({"service": "mocked"})


service_app = Stellate(routes=[Route("/", _service_endpoint)])


def _native_task() -> object:
    # The event loop's own task object: anyio's TaskInfo ids can be reused once a task
    # is gone, the native objects are kept alive by the test.
    if sniffio.current_async_library() == "trio":
        return trio.lowlevel.current_task()
    task = asyncio.current_task()
    assert task is not None
    return task


def _fail(message: str) -> None:
    # A function, so that the code after the call stays reachable for the type checker.
    raise RuntimeError(message)


async def _raw_text(send: Send, text: str, status: int = 200) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": text.encode()})


# --- using the client ---------------------------------------------------------------


def test_client_used_inside_an_endpoint(test_client_factory: TestClientFactory) -> None:
    def proxy(request: Request) -> Response:
        inner = test_client_factory(service_app)
        return JSONResponse(inner.get("/").json())

    client = test_client_factory(Stellate(routes=[Route("/", proxy)]))
    assert client.get("/").json() == {"service": "mocked"}


def test_default_and_custom_headers() -> None:
    assert TestClient(service_app).headers["user-agent"] == "testclient"
    client = TestClient(service_app, headers={"user-agent": "custom-agent"})
    assert client.headers["user-agent"] == "custom-agent"
    client = TestClient(service_app, headers={"Authorization": "Bearer 123"})
    assert client.headers["user-agent"] == "testclient"
    assert client.headers["authorization"] == "Bearer 123"


def test_headers_argument_is_not_mutated() -> None:
    headers = {"x-token": "abc"}
    TestClient(service_app, headers=headers)
    assert headers == {"x-token": "abc"}


def test_one_event_loop_per_block_and_per_request_outside(
    test_client_factory: TestClientFactory,
) -> None:
    counter = itertools.count()
    loop_identity = anyio.lowlevel.RunVar[int]("loop_identity")

    def identity() -> int:
        try:
            return loop_identity.get()
        except LookupError:
            value = next(counter)
            loop_identity.set(value)
            return value

    seen: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[None]:
        seen["startup_task"] = _native_task()
        seen["startup_loop"] = identity()
        # A task group opened at startup must be closed by the very same task.
        async with anyio.create_task_group():
            yield
        seen["shutdown_task"] = _native_task()
        seen["shutdown_loop"] = identity()

    async def loop_id(request: Request) -> Response:
        return JSONResponse(identity())

    client = test_client_factory(Stellate(lifespan=lifespan, routes=[Route("/loop_id", loop_id)]))
    with client:
        assert client.get("/loop_id").json() == 0
        assert client.get("/loop_id").json() == 0
    assert seen["startup_loop"] == seen["shutdown_loop"] == 0
    assert seen["startup_task"] is seen["shutdown_task"]
    first_task = seen["startup_task"]

    # Outside a block every request gets a fresh event loop.
    assert client.get("/loop_id").json() == 1
    assert client.get("/loop_id").json() == 2

    with client:
        assert client.get("/loop_id").json() == 3
        assert client.get("/loop_id").json() == 3
    assert seen["startup_loop"] == seen["shutdown_loop"] == 3
    assert seen["startup_task"] is seen["shutdown_task"]
    assert seen["startup_task"] is not first_task


def test_lifespan_startup_error_raises_from_the_block(
    test_client_factory: TestClientFactory,
) -> None:
    @asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[None]:
        _fail("Startup error")
        yield  # pragma: no cover

    with (
        pytest.raises(RuntimeError, match="Startup error"),
        test_client_factory(Stellate(lifespan=lifespan)),
    ):
        pass  # pragma: no cover


def test_lifespan_shutdown_error_raises_from_the_block(
    test_client_factory: TestClientFactory,
) -> None:
    @asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[None]:
        yield
        raise RuntimeError("Shutdown error")

    client = test_client_factory(Stellate(lifespan=lifespan))
    with pytest.raises(RuntimeError, match="Shutdown error"), client:
        pass


def test_exception_in_middleware_raises_from_the_block(
    test_client_factory: TestClientFactory,
) -> None:
    class BrokenError(Exception):
        pass

    class BrokenMiddleware:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            raise BrokenError()

    app = Stellate(middleware=[Middleware(BrokenMiddleware)])
    with pytest.raises(BrokenError), test_client_factory(app):
        pass  # pragma: no cover


def test_lifespan_state_is_copied_into_each_request(
    test_client_factory: TestClientFactory,
) -> None:
    @asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[dict[str, Any]]:
        yield {"count": 0, "items": []}

    async def endpoint(request: Request) -> Response:
        # Rebinding a key stays in this request; mutating a shared object does not.
        request.state.count += 1
        request.state.items.append("x")
        return JSONResponse({"count": request.state.count, "items": request.state.items})

    client = test_client_factory(Stellate(lifespan=lifespan, routes=[Route("/", endpoint)]))
    with client:
        assert client.get("/").json() == {"count": 1, "items": ["x"]}
        assert client.get("/").json() == {"count": 1, "items": ["x", "x"]}


# --- the kind of app -----------------------------------------------------------------


def test_asgi2_app(test_client_factory: TestClientFactory) -> None:
    def app(scope: Scope) -> Any:
        async def instance(receive: Receive, send: Send) -> None:
            await _raw_text(send, "Hello, world!")

        return instance

    assert test_client_factory(app).get("/").text == "Hello, world!"


def test_asgi3_function_and_instance(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _raw_text(send, "Hello, world!")

    class App:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await _raw_text(send, "instance")

    assert test_client_factory(app).get("/").text == "Hello, world!"
    assert test_client_factory(App()).get("/").text == "instance"


# --- the "http.response.debug" extension ------------------------------------------


def test_debug_info_in_response_extensions(test_client_factory: TestClientFactory) -> None:
    info = {"fragment": "header", "blocks": ["nav", "title"]}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert "http.response.debug" in scope["extensions"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.debug", "info": info})
        await send({"type": "http.response.body", "body": b"Hello"})

    response = test_client_factory(app).get("/")
    assert response.extensions["http.response.debug"] == info
    assert not hasattr(response, "template")
    assert not hasattr(response, "context")


def test_debug_info_with_template_and_context(test_client_factory: TestClientFactory) -> None:
    info = {"template": "index.html", "context": {"name": "world"}, "blocks": ["nav"]}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.debug", "info": info})
        await send({"type": "http.response.body", "body": b"Hello"})

    response = test_client_factory(app).get("/")
    assert response.extensions["http.response.debug"] == info
    assert getattr(response, "template") == "index.html"  # noqa: B009
    assert getattr(response, "context") == {"name": "world"}  # noqa: B009


# --- the scope ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [({}, ["testclient", 50000]), ({"client": ("192.168.0.1", 3000)}, ["192.168.0.1", 3000])],
)
def test_client_address(
    test_client_factory: TestClientFactory, kwargs: dict[str, Any], expected: list[Any]
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        host, port = scope["client"]
        await JSONResponse([host, port])(scope, receive, send)

    assert test_client_factory(app, **kwargs).get("/").json() == expected


@pytest.mark.parametrize("value", ["2020-07-14T00:00:00+00:00", "España", "voilà", "a&b=c"])
def test_query_params_round_trip(test_client_factory: TestClientFactory, value: str) -> None:
    def endpoint(request: Request) -> Response:
        return Response(request.query_params["param"])

    client = test_client_factory(Stellate(routes=[Route("/", endpoint)]))
    assert client.get("/", params={"param": value}).text == value


def test_duplicate_request_headers(test_client_factory: TestClientFactory) -> None:
    def endpoint(request: Request) -> Response:
        return JSONResponse(request.headers.getlist("x-token"))

    client = test_client_factory(Stellate(routes=[Route("/", endpoint)]))
    response = client.get("/", headers=[("x-token", "foo"), ("x-token", "bar")])
    assert response.json() == ["foo", "bar"]


def test_base_url_path_is_merged(test_client_factory: TestClientFactory) -> None:
    def endpoint(request: Request) -> Response:
        return Response(request.url.path)

    app = Stellate(routes=[Route("/api/v1/bar", endpoint)])
    client = test_client_factory(app, base_url="http://testserver/api/v1/")
    assert client.get("/bar").text == "/api/v1/bar"


def test_raw_path_leaves_out_the_query(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await Response(scope["raw_path"])(scope, receive, send)

    response = test_client_factory(app).get("/hello-world", params={"foo": "bar"})
    assert response.content == b"/hello-world"


def test_percent_encoded_path(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse([scope["path"], scope["raw_path"].decode()])(scope, receive, send)

    response = test_client_factory(app).get("/caf%C3%A9/a%20b")
    assert response.json() == ["/café/a b", "/caf%C3%A9/a%20b"]


@pytest.mark.parametrize(
    ("base_url", "server", "host"),
    [
        ("http://[::1]", ["::1", 80], "[::1]"),
        ("http://[::1]:8000", ["::1", 8000], "[::1]:8000"),
        ("http://[::1]:0", ["::1", 0], "[::1]:0"),
        ("https://example.org", ["example.org", 443], "example.org"),
        ("http://example.org:8080", ["example.org", 8080], "example.org:8080"),
    ],
)
def test_server_and_host_from_base_url(
    test_client_factory: TestClientFactory, base_url: str, server: list[Any], host: str
) -> None:
    def endpoint(request: Request) -> Response:
        return JSONResponse({"server": request.scope["server"], "host": request.headers["host"]})

    client = test_client_factory(Stellate(routes=[Route("/", endpoint)]), base_url=base_url)
    assert client.get("/").json() == {"server": server, "host": host}


def test_root_path(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        data = {"root_path": scope["root_path"], "path": scope["path"]}
        await JSONResponse(data)(scope, receive, send)

    client = test_client_factory(app, root_path="/prefix")
    assert client.get("/prefix/items").json() == {"root_path": "/prefix", "path": "/prefix/items"}


def test_scope_basics(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        data = {
            "type": scope["type"],
            "http_version": scope["http_version"],
            "method": scope["method"],
            "scheme": scope["scheme"],
            "query_string": scope["query_string"].decode(),
            "asgi": scope["asgi"]["version"],
        }
        await JSONResponse(data)(scope, receive, send)

    response = test_client_factory(app).post("/?a=1&b=2")
    assert response.json() == {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "query_string": "a=1&b=2",
        "asgi": "3.0",
    }


# --- redirects and cookies ----------------------------------------------------------


async def _redirecting_app(scope: Scope, receive: Receive, send: Send) -> None:
    response: Response
    response = PlainTextResponse("ok") if scope["path"] == "/ok" else RedirectResponse("/ok")
    await response(scope, receive, send)


def test_redirects_followed_by_default(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(_redirecting_app).get("/")
    assert response.status_code == 200
    assert response.text == "ok"
    assert response.url == "http://testserver/ok"


def test_redirects_not_followed(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(_redirecting_app, follow_redirects=False)
    response = client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/ok"
    # A single request can still ask for them to be followed.
    assert client.get("/", follow_redirects=True).status_code == 200


@pytest.mark.parametrize(
    ("domain", "kept"),
    [
        ("testserver", True),
        ("testserver.local", True),
        ("localhost", False),
        ("example.com", False),
    ],
)
def test_domain_restricted_cookies(
    test_client_factory: TestClientFactory, domain: str, kept: bool
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = PlainTextResponse("Hello, world!")
        response.set_cookie("mycookie", "myvalue", path="/", domain=domain)
        await response(scope, receive, send)

    response = test_client_factory(app).get("/")
    assert (len(response.cookies) == 1) is kept


def test_cookies_set_on_the_client(test_client_factory: TestClientFactory) -> None:
    def endpoint(request: Request) -> Response:
        return JSONResponse(request.cookies)

    app = Stellate(routes=[Route("/", endpoint)])
    client = test_client_factory(app, cookies={"session": "abc"})
    assert client.get("/").json() == {"session": "abc"}
    client.cookies.set("theme", "dark")
    assert client.get("/").json() == {"session": "abc", "theme": "dark"}


def test_cookies_set_by_the_app_are_sent_back(test_client_factory: TestClientFactory) -> None:
    def set_cookie(request: Request) -> Response:
        response = PlainTextResponse("set")
        response.set_cookie("visited", "yes")
        return response

    def read_cookie(request: Request) -> Response:
        return JSONResponse(request.cookies)

    app = Stellate(routes=[Route("/set", set_cookie), Route("/read", read_cookie)])
    client = test_client_factory(app)
    client.get("/set")
    assert client.get("/read").json() == {"visited": "yes"}


# --- warnings and failures ----------------------------------------------------------


def test_timeout_argument_warns() -> None:
    client = TestClient(service_app)
    with pytest.warns(
        StellateDeprecationWarning,
        match="You should not use the 'timeout' argument with the TestClient.",
    ):
        response = client.get("/", timeout=1)
    assert response.status_code == 200


def test_deprecation_warning_is_a_user_warning() -> None:
    # Shown by default, unlike DeprecationWarning, as in Starlette.
    assert issubclass(StellateDeprecationWarning, UserWarning)


def test_server_exception_is_raised(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        test_client_factory(app).get("/")


def test_server_exception_as_empty_500(test_client_factory: TestClientFactory) -> None:
    called = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal called
        called = True
        raise RuntimeError()

    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert called
    assert response.status_code == 500
    assert response.text == ""


def test_no_response_is_an_assertion_error(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        pass

    with pytest.raises(AssertionError, match="TestClient did not receive any response"):
        test_client_factory(app).get("/")


def test_context_variables_reach_the_sync_endpoint(
    test_client_factory: TestClientFactory,
) -> None:
    request_id = contextvars.ContextVar[str]("request_id", default="unset")

    class SetVariable:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                request_id.set("from-middleware")
            await self.app(scope, receive, send)

    def endpoint(request: Request) -> Response:
        return PlainTextResponse(request_id.get())

    app = Stellate(routes=[Route("/", endpoint)], middleware=[Middleware(SetVariable)])
    assert test_client_factory(app).get("/").text == "from-middleware"


# --- backends -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "options"),
    [("asyncio", {"debug": True}), ("trio", {"restrict_keyboard_interrupt_to_checkpoints": True})],
)
def test_backend_and_backend_options(backend: Any, options: dict[str, Any]) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            assert message["type"] == "lifespan.startup"
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await _raw_text(send, sniffio.current_async_library())

    client = TestClient(app, backend=backend, backend_options=options)
    assert client.get("/").text == backend
    with client:
        assert client.get("/").text == backend


# --- websockets through the client ------------------------------------------------


def test_websocket_blocking_receive_does_not_block_sends(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()

        async def respond() -> None:
            await websocket.send_json({"message": "test"})

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(respond)
            with contextlib.suppress(WebSocketDisconnect):
                await websocket.receive_json()

    with test_client_factory(app).websocket_connect("/") as session:
        assert session.receive_json() == {"message": "test"}


def test_websocket_app_waiting_forever_is_cancelled_on_exit(
    test_client_factory: TestClientFactory,
) -> None:
    cancelled = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal cancelled
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled = True
            raise

    with test_client_factory(app).websocket_connect("/"):
        pass
    assert cancelled


def test_websocket_raw_path_and_params(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        await websocket.send_bytes(scope["raw_path"])
        await websocket.send_text(scope["query_string"].decode())
        await websocket.close()

    client = test_client_factory(app)
    with client.websocket_connect("/hello-world", params={"foo": "bar"}) as session:
        assert session.receive_bytes() == b"/hello-world"
        assert session.receive_text() == "foo=bar"


def test_websocket_headers_argument_is_not_mutated(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        await websocket.send_text(websocket.headers["x-token"])
        await websocket.close()

    headers = {"x-token": "abc"}
    with test_client_factory(app).websocket_connect("/", headers=headers) as session:
        assert session.receive_text() == "abc"
    assert headers == {"x-token": "abc"}


def test_websocket_root_path_and_state(test_client_factory: TestClientFactory) -> None:
    @asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[dict[str, Any]]:
        yield {"name": "lifespan"}

    async def app_ws(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        await websocket.send_json({"root_path": scope["root_path"], "state": scope["state"]})
        await websocket.close()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await app_ws(scope, receive, send)
        else:
            await Stellate(lifespan=lifespan)(scope, receive, send)

    client = test_client_factory(app, root_path="/root")
    with client, client.websocket_connect("/root/ws") as session:
        assert session.receive_json() == {"root_path": "/root", "state": {"name": "lifespan"}}


# --- streamed responses -------------------------------------------------------------


def test_stream_returns_before_the_app_finishes(test_client_factory: TestClientFactory) -> None:
    release = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await anyio.to_thread.run_sync(release.wait)
        await send({"type": "http.response.body", "body": b"second"})

    client = test_client_factory(app)
    with client.stream("GET", "/") as response:
        assert response.status_code == 200
        chunks = response.iter_raw()
        assert next(chunks) == b"first"
        release.set()
        assert list(chunks) == [b"second"]


@pytest.mark.parametrize("streaming", [True, False])
@pytest.mark.parametrize("lifespan", [True, False])
def test_mutable_chunks_are_copied(
    test_client_factory: TestClientFactory, streaming: bool, lifespan: bool
) -> None:
    async def chunks() -> AsyncIterator[memoryview]:
        buffer = bytearray(b"one")
        yield memoryview(buffer)
        buffer[:] = b"two"
        yield memoryview(buffer)

    async def endpoint(request: Request) -> Response:
        return StreamingResponse(chunks())

    client = test_client_factory(Stellate(routes=[Route("/", endpoint)]))
    with client if lifespan else contextlib.nullcontext():
        if streaming:
            with client.stream("GET", "/") as response:
                assert list(response.iter_raw()) == [b"one", b"two"]
        else:
            assert client.get("/").content == b"onetwo"


@pytest.mark.parametrize("lifespan", [True, False])
def test_closing_an_unfinished_stream_cancels_the_app(
    test_client_factory: TestClientFactory, lifespan: bool
) -> None:
    cancelled = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal cancelled
        if scope["type"] == "lifespan":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
        except anyio.get_cancelled_exc_class():
            cancelled = True
            raise

    client = test_client_factory(app)
    with client if lifespan else contextlib.nullcontext():
        with client.stream("GET", "/") as response:
            assert next(response.iter_raw()) == b"x"
        assert cancelled


def test_exception_after_the_stream_started(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("late failure")

    with test_client_factory(app).stream("GET", "/") as response:
        chunks = response.iter_raw()
        assert next(chunks) == b"partial"
        with pytest.raises(ValueError, match="late failure"):
            next(chunks)

    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert (response.status_code, response.content) == (200, b"partial")


def test_background_task_done_when_the_request_returns(
    test_client_factory: TestClientFactory,
) -> None:
    done: list[str] = []

    async def task() -> None:
        await anyio.sleep(0.01)
        done.append("task")

    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("ok", background=BackgroundTask(task))

    response = test_client_factory(Stellate(routes=[Route("/", endpoint)])).get("/")
    assert response.text == "ok"
    assert done == ["task"]


def test_head_response_has_no_body(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _raw_text(send, "not sent for HEAD")

    response = test_client_factory(app).head("/")
    assert response.status_code == 200
    assert response.content == b""


_INTERRUPT_SCRIPT = """
import os, signal, sys, threading
from contextlib import nullcontext

import anyio

from stellate.applications import Stellate
from stellate.routing import Mount
from stellate.testclient import TestClient

started = threading.Event()
finished = threading.Event()


async def app(scope, receive, send):
    try:
        started.set()
        await anyio.sleep_forever()
    finally:
        finished.set()


def interrupt():
    assert started.wait(5)
    os.kill(os.getpid(), signal.SIGINT)


client = TestClient(Stellate(routes=[Mount("/", app=app)]), backend=sys.argv[1])
with client if sys.argv[2] == "True" else nullcontext():
    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    try:
        client.get("/")
    except KeyboardInterrupt:
        pass
    else:
        raise SystemExit("no KeyboardInterrupt")
    thread.join(5)
    assert finished.is_set(), "the app was not stopped"
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT through os.kill ends the process")
@pytest.mark.parametrize("lifespan", [True, False])
def test_interrupted_request_stops_the_app(anyio_backend_name: str, lifespan: bool) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_SCRIPT, anyio_backend_name, str(lifespan)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- trailers -----------------------------------------------------------------------


@pytest.mark.parametrize("empty", [True, False])
def test_trailers_are_captured(test_client_factory: TestClientFactory, empty: bool) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert "http.response.trailers" in scope["extensions"]
        await send({"type": "http.response.start", "status": 200, "trailers": True})
        await send({"type": "http.response.body", "body": b"hello"})
        await anyio.lowlevel.checkpoint()
        first = [] if empty else [(b"x-item", b"one")]
        await send({"type": "http.response.trailers", "headers": first, "more_trailers": True})
        second = [] if empty else [(b"x-item", b"two")]
        await send({"type": "http.response.trailers", "headers": second})

    response = test_client_factory(app).get("/", headers={"te": "trailers"})
    assert response.content == b"hello"
    expected = [] if empty else [(b"x-item", b"one"), (b"x-item", b"two")]
    assert response.extensions["http.response.trailers"] == expected
    assert "x-item" not in response.headers


def test_no_trailers_extension_without_declared_trailers(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _raw_text(send, "plain")

    assert "http.response.trailers" not in test_client_factory(app).get("/").extensions


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([], "TestClient did not receive any response"),
        ([{"type": "http.response.trailers"}], "without declaring trailers"),
        (
            [
                {"type": "http.response.start", "status": 200, "trailers": True},
                {"type": "http.response.trailers"},
            ],
            "before body completed",
        ),
        (
            [
                {"type": "http.response.start", "status": 200, "trailers": True},
                {"type": "http.response.body"},
                {"type": "http.response.body"},
            ],
            "after body completed",
        ),
        (
            [
                {"type": "http.response.start", "status": 200, "trailers": True},
                {"type": "http.response.body"},
                {"type": "http.response.trailers"},
                {"type": "http.response.trailers"},
            ],
            "after response completed",
        ),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.start", "status": 200},
            ],
            'Received multiple "http.response.start" messages.',
        ),
        (
            [{"type": "http.response.body"}],
            'Received "http.response.body" without "http.response.start".',
        ),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body"},
                {"type": "http.response.body"},
            ],
            'Received "http.response.body" after response completed.',
        ),
    ],
)
def test_invalid_message_sequences(
    test_client_factory: TestClientFactory, messages: list[Message], error: str
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    with pytest.raises(AssertionError, match=re.escape(error)):
        test_client_factory(app).get("/")


@pytest.mark.parametrize("partial", [True, False])
@pytest.mark.parametrize("raises", [True, False])
@pytest.mark.parametrize("raise_server_exceptions", [True, False])
def test_incomplete_trailers(
    test_client_factory: TestClientFactory,
    partial: bool,
    raises: bool,
    raise_server_exceptions: bool,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "trailers": True})
        await send({"type": "http.response.body", "body": b"hello"})
        if partial:
            trailers = [(b"x-item", b"partial")]
            await send(
                {"type": "http.response.trailers", "headers": trailers, "more_trailers": True}
            )
        if raises:
            raise ValueError("trailer production failed")

    client = test_client_factory(app, raise_server_exceptions=raise_server_exceptions)
    if raises and raise_server_exceptions:
        with pytest.raises(ValueError, match="trailer production failed"):
            client.get("/")
        return
    response = client.get("/")
    assert response.content == b"hello"
    expected = [(b"x-item", b"partial")] if partial else []
    assert response.extensions["http.response.trailers"] == expected
