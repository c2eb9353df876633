"""Starlette-compatible behaviour of `BaseHTTPMiddleware`, through the umbrella: `dispatch`
and `call_next`, streaming, request bodies, disconnects, errors, background tasks and body
limits.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

from stellate.applications import Stellate
from stellate.background import BackgroundTask
from stellate.middleware import Middleware
from stellate.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from stellate.requests import ClientDisconnect, Request
from stellate.responses import (
    FileResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from stellate.routing import Route, WebSocketRoute
from stellate.types import ASGIApp, Message, Receive, Scope, Send
from stellate.websockets import WebSocket
from tests.conftest import TestClientFactory


class HeaderMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["X-Middleware"] = "yes"
        return response


async def passthrough(request: Request, call_next: RequestResponseEndpoint) -> Response:
    return await call_next(request)


def http_scope(**extra: Any) -> Scope:
    scope: Scope = {"type": "http", "version": "3", "method": "GET", "path": "/"}
    scope.update(extra)
    return scope


def messages(*items: Message) -> Receive:
    """A `receive` that hands out `items`, then fails (nothing more should be asked)."""
    pending: Iterator[Message] = iter(items)

    async def receive() -> Message:
        try:
            return next(pending)
        except StopIteration:
            raise AssertionError("receive() called once too often") from None

    return receive


def never_called() -> Receive:
    return messages()


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.sent.append(message)


# --- dispatch and call_next ------------------------------------------------------------


def plain(request: Request) -> PlainTextResponse:
    return PlainTextResponse("plain")


def failing(request: Request) -> None:
    raise ValueError("endpoint failed")


def failing_stream(request: Request) -> StreamingResponse:
    def chunks() -> Iterator[bytes]:
        yield b"first"
        raise ValueError("stream failed")

    return StreamingResponse(chunks())


class ReturnsNothing:
    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pass

    def __await__(self) -> Iterator[None]:
        return iter(())


async def greet(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hi")
    await websocket.close()


def header_app() -> Stellate:
    return Stellate(
        routes=[
            Route("/", plain),
            Route("/fail", failing),
            Route("/fail-stream", failing_stream),
            Route("/nothing", ReturnsNothing),
            WebSocketRoute("/ws", greet),
        ],
        middleware=[Middleware(HeaderMiddleware)],
    )


def test_dispatch_changes_the_response(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(header_app())
    response = client.get("/")
    assert response.text == "plain"
    assert response.headers["x-middleware"] == "yes"


def test_endpoint_errors_reach_the_client(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(header_app())
    with pytest.raises(ValueError, match="endpoint failed"):
        client.get("/fail")
    with pytest.raises(ValueError, match="stream failed"):
        client.get("/fail-stream")


def test_app_without_a_response(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(header_app())
    with pytest.raises(RuntimeError, match=r"No response returned\."):
        client.get("/nothing")


def test_websockets_pass_through(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(header_app())
    with client.websocket_connect("/ws") as session:
        assert session.receive_text() == "hi"


def test_dispatch_function_argument(test_client_factory: TestClientFactory) -> None:
    async def tag(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["X-Tag"] = request.url.path
        return response

    app = Stellate(
        routes=[Route("/here", plain)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=tag)],
    )
    response = test_client_factory(app).get("/here")
    assert response.headers["x-tag"] == "/here"


def test_state_is_shared_across_middleware(test_client_factory: TestClientFactory) -> None:
    class SetsState(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            request.state.colour = "blue"
            return await call_next(request)

    class ReadsState(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            response = await call_next(request)
            response.headers["X-Colour"] = request.state.colour
            return response

    def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.state.colour)

    app = Stellate(
        routes=[Route("/", endpoint)],
        middleware=[Middleware(SetsState), Middleware(ReadsState)],
    )
    response = test_client_factory(app).get("/")
    assert response.text == "blue"
    assert response.headers["x-colour"] == "blue"


def test_response_may_be_replaced(test_client_factory: TestClientFactory) -> None:
    async def replace(request: Request, call_next: RequestResponseEndpoint) -> Response:
        await call_next(request)
        return PlainTextResponse("replaced")

    app = Stellate(middleware=[Middleware(BaseHTTPMiddleware, dispatch=replace)])
    response = test_client_factory(app).get("/missing")
    assert response.status_code == 200
    assert response.text == "replaced"


def test_dispatch_catches_endpoint_errors(test_client_factory: TestClientFactory) -> None:
    async def rescue(request: Request, call_next: RequestResponseEndpoint) -> Response:
        try:
            return await call_next(request)
        except ValueError as exc:
            return PlainTextResponse(f"rescued: {exc}", status_code=500)

    app = Stellate(
        routes=[Route("/", failing)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=rescue)],
    )
    response = test_client_factory(app).get("/")
    assert response.status_code == 500
    assert response.text == "rescued: endpoint failed"


def test_call_next_response_streams(test_client_factory: TestClientFactory) -> None:
    async def counting(request: Request) -> StreamingResponse:
        async def numbers() -> AsyncIterator[str]:
            for number in range(3):
                yield str(number)

        return StreamingResponse(numbers(), media_type="text/plain")

    seen: list[bytes] = []

    async def inspect(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        body = cast(StreamingResponse, response).body_iterator

        async def spy() -> AsyncIterator[bytes]:
            async for chunk in body:
                seen.append(cast(bytes, chunk))
                yield cast(bytes, chunk)

        cast(StreamingResponse, response).body_iterator = spy()
        return response

    app = Stellate(
        routes=[Route("/", counting)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=inspect)],
    )
    response = test_client_factory(app).get("/")
    assert response.text == "012"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert seen == [b"0", b"1", b"2"]


# --- errors and their context -----------------------------------------------------------


def test_error_context_is_kept(test_client_factory: TestClientFactory) -> None:
    def plain_error(request: Request) -> None:
        raise RuntimeError("plain")

    def error_during_handling(request: Request) -> None:
        try:
            raise KeyError("first")
        except KeyError:
            raise RuntimeError("second")

    def error_with_cause(request: Request) -> None:
        try:
            raise KeyError("first")
        except KeyError as exc:
            raise RuntimeError("second") from exc

    app = Stellate(
        routes=[
            Route("/plain", plain_error),
            Route("/context", error_during_handling),
            Route("/cause", error_with_cause),
        ],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=passthrough)],
    )
    client = test_client_factory(app)

    with pytest.raises(RuntimeError) as info:
        client.get("/plain")
    assert info.value.__cause__ is None
    assert info.value.__context__ is not None
    assert info.value.__suppress_context__ is True

    for path in ("/context", "/cause"):
        with pytest.raises(RuntimeError) as info:
            client.get(path)
        assert str(info.value) == "second"
        assert isinstance(info.value.__cause__, KeyError)


# --- context variables --------------------------------------------------------------------

request_colour: contextvars.ContextVar[str] = contextvars.ContextVar("request_colour")


def test_context_set_in_dispatch_reaches_the_endpoint(
    test_client_factory: TestClientFactory,
) -> None:
    async def set_colour(request: Request, call_next: RequestResponseEndpoint) -> Response:
        request_colour.set("green")
        return await call_next(request)

    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request_colour.get())

    app = Stellate(
        routes=[Route("/", endpoint)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=set_colour)],
    )
    assert test_client_factory(app).get("/").text == "green"


def test_context_set_by_the_endpoint_stays_in_the_app_task(
    test_client_factory: TestClientFactory,
) -> None:
    # As Starlette documents: the app runs in a task of its own, whose context changes
    # do not flow back up to `dispatch`.
    async def read_back(request: Request, call_next: RequestResponseEndpoint) -> Response:
        request_colour.set("from dispatch")
        response = await call_next(request)
        response.headers["X-Colour"] = request_colour.get()
        return response

    async def endpoint(request: Request) -> PlainTextResponse:
        request_colour.set("from endpoint")
        return PlainTextResponse("ok")

    app = Stellate(
        routes=[Route("/", endpoint)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=read_back)],
    )
    assert test_client_factory(app).get("/").headers["x-colour"] == "from dispatch"


# --- background tasks -------------------------------------------------------------------


@pytest.mark.anyio
async def test_background_runs_though_the_client_never_reads() -> None:
    ran = anyio.Event()

    async def job() -> None:
        await anyio.sleep(0.05)
        ran.set()

    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("done", background=BackgroundTask(job))

    app = Stellate(
        routes=[Route("/", endpoint)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=passthrough)],
    )
    await app(http_scope(), never_called(), Recorder())
    assert ran.is_set()


def test_background_errors_are_raised(test_client_factory: TestClientFactory) -> None:
    async def job() -> None:
        raise ValueError("background failed")

    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("done", background=BackgroundTask(job))

    app = Stellate(
        routes=[Route("/", endpoint)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=passthrough)],
    )
    with pytest.raises(ValueError, match="background failed"):
        test_client_factory(app).get("/")


@pytest.mark.anyio
async def test_background_starts_after_the_responses_are_sent() -> None:
    events: list[str] = []

    async def job() -> None:
        events.append("job started")
        await anyio.sleep(0.05)
        events.append("job finished")

    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello", background=BackgroundTask(job))

    app = Stellate(
        routes=[Route("/", endpoint)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=passthrough)],
    )

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            events.append(f"body {message['body']!r} more={message.get('more_body', False)}")

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(app, http_scope(), never_called(), send)
        task_group.start_soon(app, http_scope(), never_called(), send)

    assert events == [
        "body b'hello' more=True",
        "body b'' more=False",
        "body b'hello' more=True",
        "body b'' more=False",
        "job started",
        "job started",
        "job finished",
        "job finished",
    ]


@pytest.mark.anyio
async def test_inner_middleware_cleanup_runs_though_the_client_never_reads() -> None:
    cleaned_up = anyio.Event()

    class CleansUp:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                await anyio.sleep(0.05)
                cleaned_up.set()

    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("done")

    app = Stellate(
        routes=[Route("/", endpoint)],
        middleware=[
            Middleware(BaseHTTPMiddleware, dispatch=passthrough),
            Middleware(CleansUp),
        ],
    )
    await app(http_scope(), never_called(), Recorder())
    assert cleaned_up.is_set()


# --- disconnects and discarded responses --------------------------------------------------


def test_discarded_streaming_app_hears_the_disconnect(
    test_client_factory: TestClientFactory,
) -> None:
    async def endless(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        async with anyio.create_task_group() as task_group:

            async def stop_on_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                task_group.cancel_scope.cancel()

            task_group.start_soon(stop_on_disconnect)
            with anyio.fail_after(5):
                while True:
                    await send({"type": "http.response.body", "body": b"x", "more_body": True})

    async def take_one_then_replace(
        request: Request, call_next: RequestResponseEndpoint
    ) -> Response:
        response = await call_next(request)
        body = cast(StreamingResponse, response).body_iterator
        await anext(aiter(body))
        return PlainTextResponse("replaced")

    client = test_client_factory(BaseHTTPMiddleware(endless, dispatch=take_one_then_replace))
    assert client.get("/").text == "replaced"


def test_discarded_app_is_told_of_a_disconnect(test_client_factory: TestClientFactory) -> None:
    heard: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b", "more_body": True})
        heard.append(await receive())

    async def replace(request: Request, call_next: RequestResponseEndpoint) -> Response:
        await call_next(request)
        return PlainTextResponse("replaced")

    client = test_client_factory(BaseHTTPMiddleware(app, dispatch=replace))
    assert client.get("/").text == "replaced"
    assert heard == [{"type": "http.disconnect"}]


@pytest.mark.anyio
async def test_a_disconnected_client_is_seen_by_app_and_dispatch() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert await receive() == {"type": "http.disconnect"}
        await Response()(scope, receive, send)

    async def check(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        assert await request.is_disconnected()
        return response

    recorder = Recorder()
    middleware = BaseHTTPMiddleware(app, dispatch=check)
    await middleware(http_scope(method="POST"), messages({"type": "http.disconnect"}), recorder)
    assert recorder.sent[0]["status"] == 200


@pytest.mark.anyio
async def test_disconnect_after_the_body_dispatch_read() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert await receive() == {"type": "http.request", "body": b"hey", "more_body": False}
        assert await receive() == {"type": "http.disconnect"}
        await Response()(scope, receive, send)

    async def read_then_check(request: Request, call_next: RequestResponseEndpoint) -> Response:
        assert await request.body() == b"hey"
        assert await request.is_disconnected()
        return await call_next(request)

    recorder = Recorder()
    receive = messages({"type": "http.request", "body": b"hey"}, {"type": "http.disconnect"})
    await BaseHTTPMiddleware(app, dispatch=read_then_check)(http_scope(), receive, recorder)
    assert recorder.sent[0]["status"] == 200


@pytest.mark.anyio
@pytest.mark.parametrize("with_body", [True, False])
async def test_one_disconnect_is_repeated_to_the_app(with_body: bool) -> None:
    async def polls_twice(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(2):
            message = await receive()
            while message["type"] == "http.request":
                message = await receive()
            assert message["type"] == "http.disconnect"
        await Response(b"done")(scope, receive, send)

    items: list[Message] = []
    if with_body:
        items += [
            {"type": "http.request", "body": b"abc", "more_body": True},
            {"type": "http.request", "body": b"", "more_body": False},
        ]
    items.append({"type": "http.disconnect"})

    recorder = Recorder()
    middleware = BaseHTTPMiddleware(polls_twice, dispatch=passthrough)
    await middleware(http_scope(), messages(*items), recorder)
    assert recorder.sent == [
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]},
        {"type": "http.response.body", "body": b"done", "more_body": True},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]


@pytest.mark.anyio
async def test_stacked_middleware_with_a_disconnected_client() -> None:
    order: list[str] = []
    background: list[int] = []

    class Numbered(BaseHTTPMiddleware):
        def __init__(self, app: ASGIApp, number: int) -> None:
            super().__init__(app)
            self.number = number

        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            order.append(f"in {self.number}")
            response = await call_next(request)
            order.append(f"out {self.number}")
            assert response.background is None
            response.background = BackgroundTask(background.append, self.number)
            return response

    async def endpoint(request: Request) -> Response:
        with pytest.raises(ClientDisconnect):
            await request.body()
        return Response(b"")

    app = Stellate(
        routes=[Route("/", endpoint)],
        middleware=[Middleware(Numbered, number=number) for number in range(1, 6)],
    )
    recorder = Recorder()
    await app(http_scope(), messages({"type": "http.disconnect"}), recorder)

    assert order == [f"in {n}" for n in range(1, 6)] + [f"out {n}" for n in range(5, 0, -1)]
    assert sorted(background) == [1, 2, 3, 4, 5]
    assert recorder.sent == [
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]


# --- the request body -------------------------------------------------------------------


def body_app(
    endpoint_reads: str, dispatch_reads: str, *, after: bool = False
) -> tuple[Stellate, list[Any]]:
    """An app whose dispatch and endpoint each read the body with `body()` or `stream()`."""
    seen: list[Any] = []

    async def read(request: Request, how: str) -> Any:
        if how == "body":
            return await request.body()
        return [chunk async for chunk in request.stream()]

    async def endpoint(request: Request) -> PlainTextResponse:
        seen.append(("endpoint", await read(request, endpoint_reads)))
        return PlainTextResponse("ok")

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        if not after:
            seen.append(("dispatch", await read(request, dispatch_reads)))
            return await call_next(request)
        response = await call_next(request)
        try:
            seen.append(("dispatch", await read(request, dispatch_reads)))
        except RuntimeError as exc:
            seen.append(("dispatch", str(exc)))
        return response

    app = Stellate(
        routes=[Route("/", endpoint, methods=["POST"])],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=dispatch)],
    )
    return app, seen


@pytest.mark.parametrize(
    ("dispatch_reads", "endpoint_reads", "endpoint_sees"),
    [
        ("body", "body", b"data"),
        ("body", "stream", [b"data", b""]),
        ("stream", "body", b""),
        ("stream", "stream", [b""]),
    ],
)
def test_endpoint_after_dispatch_read_the_body(
    test_client_factory: TestClientFactory,
    dispatch_reads: str,
    endpoint_reads: str,
    endpoint_sees: Any,
) -> None:
    app, seen = body_app(endpoint_reads, dispatch_reads)
    response = test_client_factory(app).post("/", content=b"data")
    assert response.status_code == 200
    dispatch_saw = b"data" if dispatch_reads == "body" else [b"data", b""]
    assert seen == [("dispatch", dispatch_saw), ("endpoint", endpoint_sees)]


@pytest.mark.parametrize("endpoint_reads", ["body", "stream"])
def test_dispatch_cannot_stream_a_body_the_endpoint_read(
    test_client_factory: TestClientFactory, endpoint_reads: str
) -> None:
    app, seen = body_app(endpoint_reads, "stream", after=True)
    response = test_client_factory(app).post("/", content=b"data")
    assert response.status_code == 200
    assert seen[1] == ("dispatch", "Stream consumed")


def test_dispatch_reads_the_body_before_and_after(test_client_factory: TestClientFactory) -> None:
    async def endpoint(request: Request) -> Response:
        return Response(await request.body())

    async def twice(request: Request, call_next: RequestResponseEndpoint) -> Response:
        assert await request.body() == b"data"
        response = await call_next(request)
        assert await request.body() == b"data"
        assert [chunk async for chunk in request.stream()] == [b"data", b""]
        return response

    app = Stellate(
        routes=[Route("/", endpoint, methods=["POST"])],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=twice)],
    )
    assert test_client_factory(app).post("/", content=b"data").content == b"data"


@pytest.mark.anyio
async def test_dispatch_and_app_take_turns_on_the_stream() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        stream = Request(scope, receive).stream()
        assert await anext(stream) == b"2"
        await stream.aclose()
        await Response()(scope, receive, send)

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        stream = request.stream()
        assert await anext(stream) == b"1"
        response = await call_next(request)
        assert await anext(stream) == b"3"
        await stream.aclose()
        return response

    receive = messages(
        {"type": "http.request", "body": b"1", "more_body": True},
        {"type": "http.request", "body": b"2", "more_body": True},
        {"type": "http.request", "body": b"3"},
    )
    recorder = Recorder()
    await BaseHTTPMiddleware(app, dispatch=dispatch)({"type": "http"}, receive, recorder)
    assert recorder.sent == [
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]


def test_inner_middleware_sees_the_replayed_body(test_client_factory: TestClientFactory) -> None:
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        body = await Request(scope, receive).body()
        await Response(body)(scope, receive, send)

    def doubling(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            async def double() -> Message:
                message = await receive()
                if message["type"] == "http.request":
                    message["body"] = message["body"] * 2
                return message

            await app(scope, double, send)

        return wrapped

    async def read(request: Request, call_next: RequestResponseEndpoint) -> Response:
        assert await request.body() == b"ab"
        response = await call_next(request)
        assert await request.body() == b"ab"
        return response

    client = test_client_factory(BaseHTTPMiddleware(doubling(endpoint), dispatch=read))
    assert client.post("/", content=b"ab").content == b"abab"


# --- ASGI extensions ------------------------------------------------------------------


@pytest.mark.anyio
async def test_pathsend_goes_through(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    path.write_text("contents")

    async def endpoint(request: Request) -> FileResponse:
        return FileResponse(path)

    app = Stellate(
        routes=[Route("/", endpoint)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=passthrough)],
    )
    recorder = Recorder()
    scope = http_scope(headers=[], extensions={"http.response.pathsend": {}})
    await app(scope, never_called(), recorder)
    assert [message["type"] for message in recorder.sent] == [
        "http.response.start",
        "http.response.pathsend",
    ]
    assert recorder.sent[1]["path"] == str(path)


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("streaming", [True, False])
def test_trailers_go_through(
    test_client_factory: TestClientFactory, depth: int, streaming: bool
) -> None:
    async def rpc(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"payload", "more_body": streaming})
        if streaming:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        await send(
            {"type": "http.response.trailers", "headers": [(b"a", b"1")], "more_trailers": True}
        )
        await send({"type": "http.response.trailers", "headers": [(b"b", b"2")]})

    async def mark(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["X-Seen"] = "1"
        return response

    app: ASGIApp = rpc
    for _ in range(depth):
        app = BaseHTTPMiddleware(app, dispatch=mark)
    response = test_client_factory(app).post("/", headers={"te": "trailers"})
    assert response.content == b"payload"
    assert response.headers["x-seen"] == "1"
    assert response.extensions["http.response.trailers"] == [(b"a", b"1"), (b"b", b"2")]


@pytest.mark.parametrize("consume", [True, False])
def test_replacing_a_response_with_trailers(
    test_client_factory: TestClientFactory, consume: bool
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"original"})
        await send({"type": "http.response.trailers", "headers": [(b"grpc-status", b"0")]})

    async def replace(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        if consume:
            async for _ in cast(StreamingResponse, response).body_iterator:
                pass
        return PlainTextResponse("replacement")

    response = test_client_factory(BaseHTTPMiddleware(app, dispatch=replace)).get("/")
    assert response.text == "replacement"
    assert "http.response.trailers" not in response.extensions


@pytest.mark.anyio
async def test_app_is_not_told_of_a_disconnect_before_its_trailers_are_out() -> None:
    body_out = anyio.Event()
    trailers_out = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"hello"})
        await body_out.wait()
        await send({"type": "http.response.trailers", "headers": [], "more_trailers": True})
        await send({"type": "http.response.trailers", "headers": []})
        assert trailers_out.is_set()
        assert await receive() == {"type": "http.disconnect"}

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            body_out.set()
        if message["type"] == "http.response.trailers" and not message.get("more_trailers"):
            trailers_out.set()

    with anyio.fail_after(5):
        await BaseHTTPMiddleware(app, dispatch=passthrough)({"type": "http"}, receive, send)


# --- body limits ------------------------------------------------------------------------


async def echo(request: Request) -> Response:
    return Response(await request.body())


def test_route_limit_applies_though_dispatch_holds_the_response_start(
    test_client_factory: TestClientFactory,
) -> None:
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("accepted")

    app = Stellate(
        routes=[Route("/", endpoint, methods=["POST"], max_body_size=10)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=passthrough)],
        max_body_size=5,
    )
    response = test_client_factory(app).post("/", content=b"12345678")
    assert response.status_code == 200
    assert response.text == "accepted"


def test_stricter_route_limit_counts_the_body_dispatch_read(
    test_client_factory: TestClientFactory,
) -> None:
    async def read_first(request: Request, call_next: RequestResponseEndpoint) -> Response:
        await request.body()
        return await call_next(request)

    app = Stellate(
        routes=[Route("/", echo, methods=["POST"], max_body_size=5)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=read_first)],
        max_body_size=10,
    )
    response = test_client_factory(app).post("/", content=b"123456")
    assert response.status_code == 413
    assert response.text == "Content Too Large"


def test_application_limit_applies_to_a_body_dispatch_reads(
    test_client_factory: TestClientFactory,
) -> None:
    async def read_first(request: Request, call_next: RequestResponseEndpoint) -> Response:
        await request.body()
        return await call_next(request)  # pragma: no cover

    app = Stellate(
        routes=[Route("/", echo, methods=["POST"])],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=read_first)],
        max_body_size=5,
    )
    client = test_client_factory(app)
    response = client.post("/", content=b"123456")
    assert response.status_code == 413
    assert response.text == "Content Too Large"

    def chunks() -> Iterator[bytes]:
        yield b"123"
        yield b"456"

    response = client.post("/", content=chunks())
    assert response.status_code == 413
