"""The application's default stack is fused into one call, with unchanged behaviour.

Without user middleware, `Stellate` serves HTTP requests through one coroutine that
does what `ServerErrorMiddleware`, `ExceptionMiddleware`, the router, the route and
its endpoint adapter do; with middleware of the user's, the part under it
(`ExceptionMiddleware` and the router) is fused the same way. Every test here runs the
same application three ways: as it is (fused), with a pass-through middleware of the
user's (fused under it), and with an opaque one that hides what it wraps (layered).
All must answer alike: status, body, headers, the exception the server sees, and what
endpoints and handlers were given.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest

from stellate.applications import Stellate
from stellate.background import BackgroundTask
from stellate.convertors import Convertor, register_url_convertor
from stellate.endpoints import HTTPEndpoint
from stellate.exceptions import HTTPException
from stellate.middleware import Middleware
from stellate.requests import Request
from stellate.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from stellate.routing import BaseRoute, Host, Match, Mount, Route, Router
from stellate.types import ASGIApp, Message, Receive, Scope, Send
from tests.conftest import TestClientFactory

Outcome = tuple[int | None, bytes, dict[str, str], str | None]


class PassThrough:
    """A user middleware that changes nothing; what it wraps is its `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class Opaque:
    """A user middleware that changes nothing and does not say what it wraps: the
    layers under it cannot be found, so they serve as layers."""

    def __init__(self, app: ASGIApp) -> None:
        self.inner = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.inner(scope, receive, send)


def variants(build: Callable[[list[Middleware]], Stellate]) -> tuple[Stellate, ...]:
    """The application fused, fused under a middleware, and layered."""
    return build([]), build([Middleware(PassThrough)]), build([Middleware(Opaque)])


def outcome(
    client_factory: TestClientFactory,
    app: Stellate,
    method: str,
    path: str,
    header_names: tuple[str, ...] = (),
) -> Outcome:
    """Status, body, the named headers, and the exception the server saw (if any)."""
    client = client_factory(app, raise_server_exceptions=False)
    raised: str | None = None
    try:
        with client_factory(app) as strict:
            strict.request(method, path)
    except Exception as exc:  # any exception is part of the outcome
        raised = f"{type(exc).__name__}: {exc}"
    response = client.request(method, path)
    headers = {name: response.headers[name] for name in header_names if name in response.headers}
    return response.status_code, response.content, headers, raised


def assert_alike(
    client_factory: TestClientFactory,
    build: Callable[[list[Middleware]], Stellate],
    method: str,
    path: str,
    header_names: tuple[str, ...] = (),
) -> Outcome:
    answers = [outcome(client_factory, app, method, path, header_names) for app in variants(build)]
    assert answers[0] == answers[1] == answers[2]
    return answers[0]


# --- endpoints ------------------------------------------------------------------------


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


def hello_sync(request: Request) -> Response:
    return PlainTextResponse("hello from a thread")


async def echo_scope(request: Request) -> Response:
    scope = request.scope
    return JSONResponse(
        {
            "app": scope["app"] is request.app,
            "router": type(scope["router"]).__name__,
            "route": scope["route"].path,
            "endpoint": scope["endpoint"].__name__,
            "path_params": scope["path_params"],
            "handlers": "stellate.exception_handlers" in scope,
        }
    )


async def teapot(request: Request) -> Response:
    raise HTTPException(status_code=418, headers={"x-tea": "earl grey"})


async def fails(request: Request) -> Response:
    request.state.seen_by_endpoint = True
    raise ValueError("the endpoint failed")


async def returns_nothing(request: Request) -> Any:
    return None


async def fails_in_background(request: Request) -> Response:
    def task() -> None:
        raise KeyError("the task failed")

    return PlainTextResponse("sent first", background=BackgroundTask(task))


async def fails_mid_stream(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"a first chunk"
        raise ValueError("the stream failed")

    return StreamingResponse(body())


async def fails_before_stream(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        chunks: list[bytes] = []  # none: the stream fails before its first
        for chunk in chunks:  # pragma: no cover
            yield chunk
        raise ValueError("no chunk at all")

    return StreamingResponse(body())


class Things(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("an endpoint class")


ROUTES: list[BaseRoute] = [
    Route("/", hello),
    Route("/sync", hello_sync),
    Route("/scope/{name}", echo_scope, methods=["GET", "POST"]),
    Route("/teapot", teapot),
    Route("/fails", fails),
    Route("/nothing", returns_nothing),
    Route("/background", fails_in_background),
    Route("/mid-stream", fails_mid_stream),
    Route("/before-stream", fails_before_stream),
    Route("/things", Things),
    Route("/slash/", hello),
    Mount("/mounted", routes=[Route("/{name}", echo_scope)]),
]


def application(
    exception_handlers: dict[Any, Callable[..., Any]] | None = None,
    routes: list[BaseRoute] | None = None,
    debug: bool = False,
) -> Callable[[list[Middleware]], Stellate]:
    def build(middleware: list[Middleware]) -> Stellate:
        return Stellate(
            debug=debug,
            routes=ROUTES if routes is None else routes,
            middleware=middleware,
            exception_handlers=exception_handlers,
        )

    return build


# --- the plain paths --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/", 200, b"hello"),
        ("HEAD", "/", 200, b""),
        ("GET", "/sync", 200, b"hello from a thread"),
        ("GET", "/things", 200, b"an endpoint class"),
        ("POST", "/", 405, b"Method Not Allowed"),
        ("GET", "/missing", 404, b"Not Found"),
        ("GET", "/teapot", 418, b"I'm a Teapot"),
        ("GET", "/fails", 500, b"Internal Server Error"),
        ("GET", "/nothing", 500, b"Internal Server Error"),
        ("GET", "/background", 200, b"sent first"),
        ("GET", "/mid-stream", 200, b"a first chunk"),
        # A streaming response starts before its first chunk: too late for a 500.
        ("GET", "/before-stream", 200, b""),
    ],
)
def test_answers_as_the_layers_do(
    test_client_factory: TestClientFactory, method: str, path: str, status: int, body: bytes
) -> None:
    answer = assert_alike(
        test_client_factory, application(), method, path, ("allow", "x-tea", "content-type")
    )
    assert answer[:2] == (status, body)


def test_the_server_sees_the_same_exceptions(test_client_factory: TestClientFactory) -> None:
    raised = {
        path: assert_alike(test_client_factory, application(), "GET", path)[3]
        for path in (
            "/",
            "/fails",
            "/nothing",
            "/background",
            "/mid-stream",
            "/before-stream",
            "/teapot",
        )
    }
    assert raised == {
        "/": None,
        "/fails": "ValueError: the endpoint failed",
        "/nothing": "TypeError: 'NoneType' object is not callable",
        "/background": "KeyError: 'the task failed'",
        "/mid-stream": "ValueError: the stream failed",
        "/before-stream": "ValueError: no chunk at all",
        "/teapot": None,
    }


def test_a_405_names_the_allowed_methods(test_client_factory: TestClientFactory) -> None:
    answer = assert_alike(test_client_factory, application(), "DELETE", "/scope/x", ("allow",))
    assert answer[:3] == (405, b"Method Not Allowed", {"allow": "GET, HEAD, POST"})


def test_a_405_follows_a_change_to_the_methods(test_client_factory: TestClientFactory) -> None:
    route = Route("/only", hello)
    for app in variants(application(routes=[route])):
        route.methods = {"GET", "HEAD"}
        client = test_client_factory(app)
        assert client.put("/only").headers["allow"] == "GET, HEAD"
        route.methods.add("DELETE")
        assert client.put("/only").headers["allow"] == "DELETE, GET, HEAD"
        route.methods = {"POST"}
        assert client.put("/only").headers["allow"] == "POST"


class Tag:
    """A middleware that adds `x-tag: yes` to the start message's own header list, in
    place (as middleware may)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"].append((b"x-tag", b"yes"))
            await send(message)

        await self.app(scope, receive, tagged)


def test_a_refusal_sends_its_own_headers_each_time(
    test_client_factory: TestClientFactory,
) -> None:
    # The 404 and 405 are made once, but a middleware's change to one response's headers
    # must not show in the next.
    app = Stellate(routes=[Route("/only", hello)], middleware=[Middleware(Tag)])
    client = test_client_factory(app)
    for _ in range(3):
        for method, path, status in (("GET", "/missing", 404), ("PUT", "/only", 405)):
            response = client.request(method, path)
            assert response.status_code == status
            assert response.headers.get_list("x-tag") == ["yes"]
            assert int(response.headers["content-length"]) == len(response.content)


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/slash", "http://testserver/slash/"),
        ("/sync/", "http://testserver/sync"),
        ("/missing/", None),
    ],
)
def test_slash_redirects(
    test_client_factory: TestClientFactory, path: str, location: str | None
) -> None:
    answers = []
    for app in variants(application()):
        client = test_client_factory(app)
        response = client.get(path, follow_redirects=False)
        answers.append((response.status_code, response.headers.get("location")))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0] == ((307, location) if location else (404, None))


def test_the_endpoint_sees_the_same_scope(test_client_factory: TestClientFactory) -> None:
    for path in ("/scope/ada", "/mounted/ada"):
        answer = assert_alike(test_client_factory, application(), "GET", path)
        assert answer[0] == 200
    fused = test_client_factory(application()([]))
    assert fused.get("/scope/ada").json() == {
        "app": True,
        "router": "Router",
        "route": "/scope/{name}",
        "endpoint": "echo_scope",
        "path_params": {"name": "ada"},
        "handlers": True,
    }


class FailingConvertor(Convertor[str]):
    """Converts a segment, and fails with something other than a `ValueError` on "boom"."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        if value == "boom":
            raise RuntimeError("the convertor failed")
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("test_fused_failing", FailingConvertor())


def test_a_path_is_matched_directly_only_where_the_router_would_agree(
    test_client_factory: TestClientFactory,
) -> None:
    # The fused stack matches by the path itself (a route without parameters, or the
    # one route a path with parameters can reach, or none) where nothing else can have
    # a say: a `Host` route, a root path, outer path parameters, routes changed since, a
    # replaced regex all make it match as the router does.
    async def on_api(request: Request) -> Response:
        return PlainTextResponse("api")

    async def params(request: Request) -> Response:
        return JSONResponse(request.path_params)

    def build(middleware: list[Middleware]) -> Stellate:
        api = Router([Route("/", on_api), Route("/items/{n}", on_api)])
        routes = [Host("api.example.org", app=api), Route("/", hello), Route("/items/{n}", params)]
        return Stellate(routes=routes, middleware=middleware)

    def build_tenants(middleware: list[Middleware]) -> Stellate:
        # The inner application gets the tenant among its scope's path parameters.
        inner = Stellate(
            routes=[Route("/", params), Route("/items/{n}", params)], middleware=middleware
        )
        return Stellate(routes=[Host("{tenant}.example.com", app=inner)], middleware=middleware)

    build_rooted = application(
        routes=[
            Route("/", hello),
            Route("/items/{n}", params),
            Route("/app/", on_api),
            Route("/app/items/{n}", on_api),
        ]
    )

    answers = []
    for app, tenants, rooted in zip(
        variants(build), variants(build_tenants), variants(build_rooted), strict=True
    ):
        client = test_client_factory(app)
        under_root = test_client_factory(rooted, root_path="/app")
        tenant = test_client_factory(tenants, headers={"host": "acme.example.com"})
        api = {"host": "api.example.org"}
        # Twice: the first request of each router builds its index.
        answers.append(
            [
                (
                    client.get("/", headers=api).text,
                    client.get("/items/1", headers=api).text,
                    client.get("/").text,
                    client.get("/items/1").text,
                    under_root.get("/app/").text,
                    under_root.get("/app/items/2").text,
                    tenant.get("/").text,
                    tenant.get("/items/3").text,
                )
                for _ in range(2)
            ]
        )
    expected = (
        "api",
        "api",
        "hello",
        '{"n":"1"}',
        "hello",
        '{"n":"2"}',
        '{"tenant":"acme"}',
        '{"tenant":"acme","n":"3"}',
    )
    assert answers[0] == answers[1] == answers[2] == [expected, expected]

    def build_changing(middleware: list[Middleware]) -> Stellate:
        # Routes of its own for each variant: the test changes them.
        routes = [Route("/", hello), Route("/b", hello), Route("/c/{n}", params)]
        return Stellate(routes=routes, middleware=middleware)

    for app in variants(build_changing):
        client = test_client_factory(app)
        assert [client.get("/").text, client.get("/c/1").text] == ["hello", '{"n":"1"}']
        app.router.routes.insert(0, Route("/", on_api))
        app.router.routes.insert(0, Route("/c/{n}", on_api))
        assert [client.get("/").text, client.get("/c/1").text] == ["api", "api"]
        del app.router.routes[:2]
        for route in app.router.routes[1:]:
            assert isinstance(route, Route)
            route.path_regex = re.compile("^/never$")
        assert [client.get("/b").status_code, client.get("/c/1").status_code] == [404, 404]
        # A `Host` route of the very host, added first, has its say over "/" too.
        app.router.routes.insert(0, Host("testserver", app=Router([Route("/", on_api)])))
        assert [client.get("/").text, client.get("/c/1").status_code] == ["api", 404]

    # A convertor's failure other than a `ValueError` is a 500, whichever way it matched.
    build_failing = application(routes=[Route("/f/{v:test_fused_failing}", params)])
    assert assert_alike(test_client_factory, build_failing, "GET", "/f/ok")[:2] == (
        200,
        b'{"v":"ok"}',
    )
    assert assert_alike(test_client_factory, build_failing, "GET", "/f/boom")[::3] == (
        500,
        "RuntimeError: the convertor failed",
    )


# --- exception handlers -----------------------------------------------------------------


def test_status_and_class_handlers(test_client_factory: TestClientFactory) -> None:
    async def for_404(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"no {request.url.path}", status_code=404)

    def for_405(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"allow": (exc.headers or {}).get("Allow")}, status_code=405)

    async def for_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return PlainTextResponse(f"http {exc.status_code}", status_code=exc.status_code)

    build = application({404: for_404, 405: for_405, HTTPException: for_http})
    assert assert_alike(test_client_factory, build, "GET", "/nowhere")[:2] == (404, b"no /nowhere")
    assert assert_alike(test_client_factory, build, "PUT", "/")[:2] == (
        405,
        b'{"allow":"GET, HEAD"}',
    )
    assert assert_alike(test_client_factory, build, "GET", "/teapot")[:2] == (418, b"http 418")


def test_a_handler_gets_the_endpoints_own_request(test_client_factory: TestClientFactory) -> None:
    async def on_value_error(request: Request, exc: Exception) -> Response:
        seen = getattr(request.state, "seen_by_endpoint", False)
        return PlainTextResponse(f"handled, same request: {seen}", status_code=400)

    answer = assert_alike(
        test_client_factory, application({ValueError: on_value_error}), "GET", "/fails"
    )
    assert answer[:2] == (400, b"handled, same request: True")


def test_a_failing_handler_goes_to_the_next_handler(test_client_factory: TestClientFactory) -> None:
    # The endpoint adapter's handler raises; `ExceptionMiddleware` answers that error.
    async def on_value_error(request: Request, exc: Exception) -> Response:
        raise LookupError("the handler failed")

    async def on_lookup_error(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"second: {exc}", status_code=409)

    handlers = {ValueError: on_value_error, LookupError: on_lookup_error}
    answer = assert_alike(test_client_factory, application(handlers), "GET", "/fails")
    assert answer[:2] == (409, b"second: the handler failed")


def test_a_failing_handler_without_a_next_one_is_a_500(
    test_client_factory: TestClientFactory,
) -> None:
    async def on_value_error(request: Request, exc: Exception) -> Response:
        raise LookupError("the handler failed")

    answer = assert_alike(
        test_client_factory, application({ValueError: on_value_error}), "GET", "/fails"
    )
    assert answer[0] == 500
    assert answer[3] == "LookupError: the handler failed"


def test_a_handled_exception_after_the_start(test_client_factory: TestClientFactory) -> None:
    async def on_value_error(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("too late", status_code=400)  # pragma: no cover - never sent

    build = application({ValueError: on_value_error, KeyError: on_value_error})
    for path in ("/mid-stream", "/background"):
        answer = assert_alike(test_client_factory, build, "GET", path)
        assert answer[0] == 200
        assert answer[3] == "RuntimeError: Caught handled exception, but response already started."


@pytest.mark.parametrize("debug", [False, True])
def test_server_error_handlers_and_debug(
    test_client_factory: TestClientFactory, debug: bool
) -> None:
    def on_server_error(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"500 for {exc}", status_code=500)

    handlers = None if debug else {Exception: on_server_error}
    build = application(handlers, debug=debug)
    if not debug:
        answer = assert_alike(test_client_factory, build, "GET", "/fails")
        assert answer[:2] == (500, b"500 for the endpoint failed")
        return
    # The debug page lists the frames, which differ; the error it names does not.
    pages = [outcome(test_client_factory, app, "GET", "/fails") for app in variants(build)]
    for status, body, _, raised in pages:
        assert (status, raised) == (500, "ValueError: the endpoint failed")
        assert body.startswith(b"Traceback (most recent call last):")
        assert body.endswith(b"ValueError: the endpoint failed\n")


# --- what may not be fused --------------------------------------------------------------


def test_routes_the_fused_stack_hands_on(test_client_factory: TestClientFactory) -> None:
    # Route middleware, a replaced `app`, a custom `default`: the route's or router's
    # own code runs, inside the same error handling.
    replaced = Route("/replaced", hello)
    replaced.app = Tag(replaced.app)
    routes: list[BaseRoute] = [
        Route("/wrapped", hello, middleware=[Middleware(Tag)]),
        Route("/limited", hello, methods=["POST"], max_body_size=4),
        replaced,
    ]
    build = application(routes=routes)
    for path in ("/wrapped", "/replaced"):
        answer = assert_alike(test_client_factory, build, "GET", path, ("x-tag",))
        assert answer[:3] == (200, b"hello", {"x-tag": "yes"})
    assert assert_alike(test_client_factory, build, "POST", "/limited")[:2] == (200, b"hello")

    async def teapot_default(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("default", status_code=418)(scope, receive, send)

    def with_default(middleware: list[Middleware]) -> Stellate:
        app = application(routes=routes)(middleware)
        app.router.default = teapot_default
        return app

    assert assert_alike(test_client_factory, with_default, "GET", "/x")[:2] == (418, b"default")


def test_an_app_replaced_after_serving_is_used(test_client_factory: TestClientFactory) -> None:
    async def other(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("replaced")(scope, receive, send)

    for app in variants(application(routes=[Route("/", hello)])):
        client = test_client_factory(app)
        assert client.get("/").text == "hello"
        route = app.routes[0]
        assert isinstance(route, Route)
        original = route.app
        route.app = other
        assert client.get("/").text == "replaced"
        # Putting the adapter back is still serving through it, as the layers would.
        route.app = original
        assert client.get("/").text == "hello"


def test_a_route_that_fails_to_match_is_a_500(test_client_factory: TestClientFactory) -> None:
    class Broken(BaseRoute):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            raise ZeroDivisionError("no match today")

    answer = assert_alike(test_client_factory, application(routes=[Broken()]), "GET", "/")
    assert answer[:2] == (500, b"Internal Server Error")
    assert answer[3] == "ZeroDivisionError: no match today"

    async def on_zero(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("no routes today", status_code=503)

    build = application({ZeroDivisionError: on_zero}, routes=[Broken()])
    assert assert_alike(test_client_factory, build, "GET", "/")[:2] == (503, b"no routes today")


def test_a_route_the_index_cannot_read_is_a_500(test_client_factory: TestClientFactory) -> None:
    def build(middleware: list[Middleware]) -> Stellate:
        route = Route("/{n}", hello)
        # A convertor without a regex: building the router's index fails.
        route.param_convertors = {"n": object()}  # type: ignore[dict-item]
        return Stellate(routes=[route], middleware=middleware)

    answer = assert_alike(test_client_factory, build, "GET", "/1")
    assert answer[:2] == (500, b"Internal Server Error")
    assert answer[3] == "AttributeError: 'object' object has no attribute 'regex'"


def test_the_exception_layer_is_looked_for_only_so_deep(
    test_client_factory: TestClientFactory,
) -> None:
    # Under 70 middleware the layers are not looked for, and serve as layers.
    def build(middleware: list[Middleware]) -> Stellate:
        return application()(middleware + [Middleware(PassThrough)] * 70)

    assert assert_alike(test_client_factory, build, "GET", "/")[:2] == (200, b"hello")


def test_middleware_of_the_router_is_kept(test_client_factory: TestClientFactory) -> None:
    seen: list[str] = []

    class Record:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(scope["path"])
            await self.app(scope, receive, send)

    app = Stellate(routes=[Route("/", hello)])
    app.router = Router([Route("/", hello)], middleware=[Middleware(Record)])
    client = test_client_factory(app)
    assert client.get("/").text == "hello"
    assert seen == ["/"]


def test_a_rebuilt_or_replaced_stack_is_used(test_client_factory: TestClientFactory) -> None:
    app = Stellate(routes=[Route("/", hello)])
    client = test_client_factory(app)
    assert client.get("/").text == "hello"

    async def replacement(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("replaced")(scope, receive, send)

    app.middleware_stack = replacement
    assert client.get("/").text == "replaced"
    app.middleware_stack = None
    assert client.get("/").text == "hello"


def test_a_subclass_can_wrap_the_applications_call(
    test_client_factory: TestClientFactory,
) -> None:
    # The application's call is inherited (it is the fused stack's coroutine): a
    # subclass that wraps it still serves, and servers still see a coroutine function.
    class Counting(Stellate):
        calls = 0

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            Counting.calls += 1
            await super().__call__(scope, receive, send)

    app = Counting(routes=[Route("/", hello)])
    client = test_client_factory(app)
    assert [client.get("/").text, client.get("/missing").status_code] == ["hello", 404]
    assert Counting.calls == 2
    assert inspect.iscoroutinefunction(Stellate(routes=[]).__call__)
    assert list(inspect.signature(Stellate.__call__).parameters) == [
        "self",
        "scope",
        "receive",
        "send",
    ]


def test_handlers_added_to_the_middleware_later_apply(
    test_client_factory: TestClientFactory,
) -> None:
    app = Stellate(routes=ROUTES)
    client = test_client_factory(app)
    assert client.get("/teapot").status_code == 418
    exceptions = app.middleware_stack.app  # type: ignore[union-attr]

    async def on_teapot(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("short and stout", status_code=418)

    exceptions.add_exception_handler(418, on_teapot)
    assert client.get("/teapot").text == "short and stout"


def test_lifespan_takes_the_layers(test_client_factory: TestClientFactory) -> None:
    # (WebSockets are fused too: see `test_fused_websockets`.)
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    for app in variants(
        lambda middleware: Stellate(
            routes=[Route("/", hello)], middleware=middleware, lifespan=lifespan
        )
    ):
        with test_client_factory(app) as client:
            assert client.get("/").text == "hello"
    assert events == ["startup", "shutdown"] * 3


def test_the_fused_stack_is_shorter(test_client_factory: TestClientFactory) -> None:
    depths: list[int] = []

    async def measure(request: Request) -> Response:
        depths.append(len(inspect.stack(context=0)))
        return PlainTextResponse("measured")

    routes: list[BaseRoute] = [
        Route("/", measure),
        Mount("/a", routes=[Mount("/b", routes=[Route("/c", measure)])]),
    ]
    for app in variants(application(routes=routes)):
        client = test_client_factory(app)
        assert client.get("/").text == client.get("/a/b/c").text == "measured"
    assert_fewer_frames(depths)


def server_scope(method: str, path: str, spec_version: str | None = None) -> Scope:
    """A server's scope for a request (speaking ASGI `spec_version`, when given)."""
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"example.org")],
    }
    if spec_version is not None:
        scope["asgi"] = {"version": "3.0", "spec_version": spec_version}
    return scope


def assert_fewer_frames(depths: list[int]) -> None:
    """Check the stack depths an endpoint saw, at a route and at one under two mounts,
    in each of `variants`' applications (six in all)."""
    fused, fused_mounted, under, under_mounted, layered, layered_mounted = depths
    # The user's middleware and the two layers around it add frames; the router, the
    # route and the adapter add more.
    assert fused < under < layered
    # Mounted routers are matched through, not called: no frame per mount.
    assert fused_mounted == fused
    assert under_mounted == under
    assert layered_mounted > layered


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("GET", "/missing"), ("PUT", "/")])
async def test_a_send_that_fails_reaches_the_server_alike(method: str, path: str) -> None:
    # The server's `send` fails on the start: the error propagates, and neither stack
    # tries a second response (a 500) after it.
    outcomes: list[list[str]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        outcomes[-1].append(message["type"])
        raise OSError("connection lost")

    for app in variants(application()):
        outcomes.append([])

        with pytest.raises(OSError, match="connection lost"):
            await app(server_scope(method, path), receive, send)
    assert outcomes[0] == outcomes[1] == outcomes[2] == ["http.response.start"]


# --- streams --------------------------------------------------------------------------


async def streams(request: Request) -> Response:
    async def body() -> AsyncIterator[str | bytes]:
        yield b"one, "
        yield "two"

    return StreamingResponse(body())


STREAM_ROUTES: list[BaseRoute] = [
    Route("/stream", streams),
    Route("/mid-stream", fails_mid_stream),
    Route("/before-stream", fails_before_stream),
]


def request_then_wait() -> Receive:
    """A server's `receive`: an empty request, then nothing until the client leaves
    (which it does not: a response on ASGI < 2.4 listens for that meanwhile)."""
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if requested:
            await anyio.sleep_forever()
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive


@pytest.mark.anyio
@pytest.mark.parametrize("spec_version", ["2.0", "2.3", "2.4", "2.5"])
@pytest.mark.parametrize("path", ["/stream", "/mid-stream", "/before-stream"])
@pytest.mark.parametrize("failing_send", [None, "http.response.start", "http.response.body"])
async def test_a_stream_reaches_the_server_alike(
    spec_version: str, path: str, failing_send: str | None
) -> None:
    # From ASGI 2.4 on the fused stack streams without a tracker; what the server gets
    # and sees raised must not change, whatever fails and wherever.
    outcomes: list[tuple[list[Message], str | None]] = []

    receive = request_then_wait()

    async def send(message: Message) -> None:
        outcomes[-1][0].append(message)
        if message["type"] == failing_send:
            raise OSError("connection lost")

    for app in variants(application(routes=STREAM_ROUTES)):
        outcomes.append(([], None))
        try:
            await app(server_scope("GET", path, spec_version), receive, send)
        except Exception as exc:  # part of the outcome
            outcomes[-1] = (outcomes[-1][0], f"{type(exc).__name__}: {exc}")
    assert outcomes[0] == outcomes[1] == outcomes[2]
    sent, raised = outcomes[0]
    assert sent[0]["type"] == "http.response.start"
    if failing_send is None:
        bodies = b"".join(message.get("body", b"") for message in sent[1:])
        assert bodies == {"/stream": b"one, two", "/mid-stream": b"a first chunk"}.get(path, b"")
        assert (
            raised
            == {
                "/stream": None,
                "/mid-stream": "ValueError: the stream failed",
                "/before-stream": "ValueError: no chunk at all",
            }[path]
        )
    else:
        # Nothing after a failed send, and no 500 after a start.
        types = [message["type"] for message in sent]
        assert failing_send not in types[:-1]
        assert "http.response.start" not in types[1:]
        assert raised is not None


@pytest.mark.anyio
@pytest.mark.parametrize(("spec_version", "tracked"), [("2.3", True), ("2.4", False)])
async def test_a_fused_stream_on_asgi_2_4_sends_untracked(spec_version: str, tracked: bool) -> None:
    # Each chunk goes from the response straight to the server's `send`.
    callers: list[str] = []

    receive = request_then_wait()

    async def send(message: Message) -> None:
        callers.append(inspect.stack(context=0)[1].function)

    app = application(routes=STREAM_ROUTES)([])
    await app(server_scope("GET", "/stream", spec_version), receive, send)
    assert len(callers) == 4
    assert all((caller == "__call__") is tracked for caller in callers)


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["__call__", "stream_response"])
async def test_a_patched_stream_that_fails_first_is_a_500(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # Streaming untracked relies on the stream sending its start first: a patch that
    # does not is served by the layers, which see that nothing was sent.
    async def patched(self: StreamingResponse, *args: Any) -> None:
        raise RuntimeError("failed before the start")

    monkeypatch.setattr(StreamingResponse, name, patched)
    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for app in variants(application(routes=STREAM_ROUTES)):
        with pytest.raises(RuntimeError, match="failed before the start"):
            await app(server_scope("GET", "/stream", "2.4"), request_then_wait(), send)
    assert statuses == [500, 500, 500]


# --- mounts ---------------------------------------------------------------------------


async def where(request: Request) -> Response:
    scope = request.scope
    return JSONResponse(
        {
            "route": scope["route"].path,
            "root_path": scope["root_path"],
            "app_root_path": scope.get("app_root_path"),
            "path_params": scope["path_params"],
            "url": str(request.url_for("region:deep", region="eu", item="x")),
        }
    )


def mounted_application(middleware: list[Middleware]) -> Stellate:
    async def teapot_default(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("inner default", status_code=418)(scope, receive, send)

    with_default = Router([Route("/known", hello)], default=teapot_default)
    return Stellate(
        routes=[
            Mount(
                "/api",
                routes=[
                    Route("/hello", hello, methods=["GET"]),
                    Route("/slash/", hello),
                    Mount(
                        "/wrapped",
                        routes=[Route("/x", hello)],
                        middleware=[Middleware(PassThrough)],
                    ),
                    Mount("/raw", app=PlainTextResponse("a raw app")),
                    Mount("/default", app=with_default),
                    # Last: it would take "/wrapped/x" too (region "wrapped").
                    Mount(
                        "/{region}",
                        routes=[Route("/items/{item}", where, name="deep")],
                        name="region",
                    ),
                ],
            )
        ],
        middleware=middleware,
    )


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/hello", 200),
        ("POST", "/api/hello", 405),
        ("GET", "/api/missing", 404),
        ("GET", "/api/eu/items/42", 200),
        ("GET", "/api/eu/items/42/", 200),  # after the redirect to the path without "/"
        ("GET", "/api/eu/nothing", 404),
        ("GET", "/api/wrapped/x", 200),
        ("GET", "/api/raw/anything", 200),
        ("GET", "/api/default/known", 200),
        ("GET", "/api/default/unknown", 418),
        ("GET", "/api", 404),
    ],
)
def test_mounted_routers_answer_as_layered(
    test_client_factory: TestClientFactory, method: str, path: str, status: int
) -> None:
    answer = assert_alike(
        test_client_factory, mounted_application, method, path, ("allow", "location")
    )
    assert answer[0] == status
    assert answer[3] is None


def test_a_route_inside_mounts_sees_the_same_scope(test_client_factory: TestClientFactory) -> None:
    answers = [
        test_client_factory(app).get("/api/eu/items/42").json()
        for app in variants(mounted_application)
    ]
    assert (
        answers[0]
        == answers[1]
        == answers[2]
        == {
            "route": "/items/{item}",
            "root_path": "/api/eu",
            "app_root_path": "",
            "path_params": {"region": "eu", "item": "42"},
            "url": "http://testserver/api/eu/items/x",
        }
    )


def test_slash_redirects_inside_a_mount(test_client_factory: TestClientFactory) -> None:
    for app in variants(mounted_application):
        response = test_client_factory(app).get("/api/slash", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (
            307,
            "http://testserver/api/slash/",
        )


def test_a_scope_without_the_app_is_answered_as_the_router_would(
    test_client_factory: TestClientFactory,
) -> None:
    # A middleware that hands on a scope without "app": the router and route answer
    # 404 and 405 themselves then, not through the handlers.
    class DropApp:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            inner = {key: value for key, value in scope.items() if key != "app"}
            await self.app(inner, receive, send)

    class HiddenDropApp(DropApp):
        def __init__(self, app: ASGIApp) -> None:
            self.hidden = DropApp(app)

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await self.hidden(scope, receive, send)

    async def on_404(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("handled 404", status_code=404)  # pragma: no cover

    answers = []
    for middleware in (DropApp, HiddenDropApp):
        app = Stellate(
            routes=[Route("/", hello)],
            middleware=[Middleware(middleware)],
            exception_handlers={404: on_404},
        )
        client = test_client_factory(app)
        answers.append(
            [
                (response.status_code, response.text, response.headers.get("allow"))
                for response in (client.get("/"), client.get("/nowhere"), client.post("/"))
            ]
        )
    assert (
        answers[0]
        == answers[1]
        == [
            (200, "hello", None),
            (404, "Not Found", None),
            (405, "Method Not Allowed", "GET, HEAD"),
        ]
    )


@pytest.mark.parametrize(
    ("cls", "name", "attribute", "expected"),
    [
        # A tool that wraps `Route.handle` (to trace requests, say) sees every request.
        (Route, "handle", "path", "/"),
        # The fused stack sends a plain response itself; a patched `__call__` still runs.
        (PlainTextResponse, "__call__", "status_code", 200),
    ],
)
def test_a_patched_layer_keeps_the_layers(
    test_client_factory: TestClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    cls: type[Any],
    name: str,
    attribute: str,
    expected: object,
) -> None:
    seen: list[object] = []
    original = getattr(cls, name)

    async def patched(self: Any, scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(getattr(self, attribute))
        await original(self, scope, receive, send)

    monkeypatch.setattr(cls, name, patched)
    for app in variants(application(routes=[Route("/", hello)])):
        assert test_client_factory(app).get("/").text == "hello"
    assert seen == [expected, expected, expected]


def test_a_patched_request_init_sees_every_request(
    test_client_factory: TestClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fused stack makes its `Request` without calling the class; a tool that wraps
    # `Request.__init__` (to count or tag requests, say) still sees each one.
    seen: list[str] = []
    original = Request.__init__

    def patched(self: Request, scope: Scope, *args: Any) -> None:
        seen.append(scope["path"])
        original(self, scope, *args)

    monkeypatch.setattr(Request, "__init__", patched)
    for app in variants(application(routes=[Route("/", hello)])):
        assert test_client_factory(app).get("/").text == "hello"
    assert seen == ["/", "/", "/"]
