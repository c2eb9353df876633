from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Iterator
from typing import cast

import anyio
import anyio.lowlevel
import pytest

from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_http.background import BackgroundTask
from stellate_http.requests import ClientDisconnect, Request
from stellate_http.responses import PlainTextResponse, Response, StreamingResponse
from stellate_middleware import Middleware
from stellate_middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from stellate_middleware.body_limit import RequestBodyLimitMiddleware
from stellate_middleware.exceptions import ExceptionMiddleware
from stellate_routing import Mount, Route, Router
from tests.conftest import TestClientFactory
from tests.middleware._messages import http_scope


def replay(*items: Message) -> Receive:
    """A `receive` handing out `items`; asking for more fails the test."""
    pending: Iterator[Message] = iter(items)

    async def receive() -> Message:
        try:
            return next(pending)
        except StopIteration:
            raise AssertionError("receive() called once too often") from None

    return receive


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def types(self) -> list[str]:
        return [message["type"] for message in self.sent]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


async def passthrough(request: Request, call_next: RequestResponseEndpoint) -> Response:
    return await call_next(request)


async def add_header(request: Request, call_next: RequestResponseEndpoint) -> Response:
    response = await call_next(request)
    response.headers["X-Dispatched"] = "yes"
    return response


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("hello")(scope, receive, send)


# --- around a bare ASGI app and inside a router ------------------------------------------


def test_around_a_bare_asgi_app(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(BaseHTTPMiddleware(hello, dispatch=add_header))
    response = client.get("/")
    assert response.text == "hello"
    assert response.headers["x-dispatched"] == "yes"
    assert response.headers["content-length"] == "5"


def test_subclass_dispatch(test_client_factory: TestClientFactory) -> None:
    class Timing(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            response = await call_next(request)
            response.headers["X-Method"] = request.method
            return response

    response = test_client_factory(Timing(hello)).post("/")
    assert response.headers["x-method"] == "POST"


def test_inside_a_router(test_client_factory: TestClientFactory) -> None:
    def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.url.path)

    app = Router(
        routes=[
            Route("/route", endpoint, middleware=[Middleware(BaseHTTPMiddleware, add_header)]),
            Mount(
                "/mount",
                routes=[Route("/inner", endpoint)],
                middleware=[Middleware(BaseHTTPMiddleware, dispatch=add_header)],
            ),
            Route("/plain", endpoint),
        ],
    )
    client = test_client_factory(app)
    for path in ("/route", "/mount/inner"):
        response = client.get(path)
        assert response.text == path
        assert response.headers["x-dispatched"] == "yes"
    assert "x-dispatched" not in client.get("/plain").headers


def test_dispatch_without_calling_the_app(test_client_factory: TestClientFactory) -> None:
    called = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal called
        called = True  # pragma: no cover

    async def deny(request: Request, call_next: RequestResponseEndpoint) -> Response:
        return PlainTextResponse("denied", status_code=403)

    response = test_client_factory(BaseHTTPMiddleware(app, dispatch=deny)).get("/")
    assert (response.status_code, response.text) == (403, "denied")
    assert not called


def test_dispatch_must_be_given_or_overridden(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(BaseHTTPMiddleware(hello))
    with pytest.raises(NotImplementedError):
        client.get("/")


def test_dispatch_must_return_a_response(test_client_factory: TestClientFactory) -> None:
    async def forgetful(request: Request, call_next: RequestResponseEndpoint) -> Response:
        await call_next(request)
        return None  # type: ignore[return-value]

    client = test_client_factory(BaseHTTPMiddleware(hello, dispatch=forgetful))
    with pytest.raises(RuntimeError, match="must return a response"):
        client.get("/")


def test_call_next_runs_the_app_once(test_client_factory: TestClientFactory) -> None:
    async def twice(request: Request, call_next: RequestResponseEndpoint) -> Response:
        await call_next(request)
        return await call_next(request)

    client = test_client_factory(BaseHTTPMiddleware(hello, dispatch=twice))
    with pytest.raises(RuntimeError, match="only be called once"):
        client.get("/")


@pytest.mark.anyio
@pytest.mark.parametrize("scope_type", ["lifespan", "websocket"])
async def test_other_scopes_pass_through(scope_type: str) -> None:
    seen: list[tuple[Scope, Receive, Send]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send))

    async def dispatch(request: Request, call_next: RequestResponseEndpoint) -> Response:
        raise AssertionError("not for this scope")  # pragma: no cover

    scope: Scope = {"type": scope_type}
    receive, send = replay(), Recorder()
    await BaseHTTPMiddleware(app, dispatch=dispatch)(scope, receive, send)
    assert seen == [(scope, receive, send)]


# --- streaming ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_response_streams_chunk_by_chunk() -> None:
    delivered = [anyio.Event() for _ in range(3)]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index, event in enumerate(delivered):
            await send({"type": "http.response.body", "body": b"%d" % index, "more_body": True})
            # Only reached if the chunk went on to the client without waiting for the rest.
            await event.wait()
        await send({"type": "http.response.body", "body": b""})

    recorder = Recorder()

    async def send(message: Message) -> None:
        await recorder(message)
        if message["type"] == "http.response.body" and message["body"]:
            delivered[int(message["body"])].set()

    with anyio.fail_after(5):
        await BaseHTTPMiddleware(app, dispatch=passthrough)(http_scope(None), replay(), send)
    assert recorder.body == b"012"
    assert recorder.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


@pytest.mark.anyio
async def test_app_waits_for_a_slow_client() -> None:
    produced: list[int] = []
    client_ready = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(50):
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            produced.append(index)
        await send({"type": "http.response.body", "body": b""})

    async def slow_send(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("more_body"):
            await client_ready.wait()

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(
            BaseHTTPMiddleware(app, dispatch=passthrough), http_scope(None), replay(), slow_send
        )
        await anyio.sleep(0.05)
        # The client has taken nothing: the app is held at its first chunk, nothing piles up.
        assert len(produced) <= 1
        client_ready.set()
    assert len(produced) == 50


@pytest.mark.anyio
async def test_large_request_body_streams_through_unbuffered() -> None:
    chunk = b"x" * 65536
    items: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": True} for _ in range(64)
    ]
    items.append({"type": "http.request", "body": b"", "more_body": False})
    received: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            received.append(len(message["body"]))
            if not message["more_body"]:
                break
        await Response(str(sum(received)))(scope, receive, send)

    recorder = Recorder()
    await BaseHTTPMiddleware(app, dispatch=passthrough)(
        http_scope(None, method="POST"), replay(*items), recorder
    )
    # Chunk by chunk, never joined into one big body.
    assert received == [65536] * 64 + [0]
    assert recorder.body == str(64 * 65536).encode()


def test_sync_streaming_endpoint(test_client_factory: TestClientFactory) -> None:
    def endpoint(request: Request) -> StreamingResponse:
        return StreamingResponse(iter([b"a", b"b", b"c"]), media_type="text/plain")

    app = Router([Route("/", endpoint)], middleware=[Middleware(BaseHTTPMiddleware, add_header)])
    response = test_client_factory(app).get("/")
    assert response.text == "abc"
    assert response.headers["x-dispatched"] == "yes"


@pytest.mark.anyio
async def test_dispatch_may_rewrite_the_body() -> None:
    async def upper(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = cast(StreamingResponse, await call_next(request))
        chunks = response.body_iterator

        async def shout() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                yield bytes(cast(bytes, chunk)).upper()

        response.body_iterator = shout()
        del response.headers["content-length"]
        return response

    recorder = Recorder()
    await BaseHTTPMiddleware(hello, dispatch=upper)(http_scope(None), replay(), recorder)
    assert recorder.body == b"HELLO"
    assert recorder.sent[0]["headers"] == [(b"content-type", b"text/plain; charset=utf-8")]


@pytest.mark.anyio
async def test_text_chunks_from_a_rewritten_body_are_encoded() -> None:
    async def to_text(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = cast(StreamingResponse, await call_next(request))

        async def text() -> AsyncIterator[str]:
            yield "caf\u00e9"

        response.body_iterator = text()
        return response

    recorder = Recorder()
    await BaseHTTPMiddleware(hello, dispatch=to_text)(http_scope(None), replay(), recorder)
    assert recorder.body == "caf\u00e9".encode()


# --- errors --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_error_after_the_response_started_reaches_dispatch() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("midway")

    async def collect(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = cast(StreamingResponse, await call_next(request))
        chunks: list[bytes] = []
        try:
            async for chunk in response.body_iterator:
                chunks.append(cast(bytes, chunk))  # noqa: PERF401 (kept on error)
        except ValueError as exc:
            return PlainTextResponse(f"{b''.join(chunks)!r} then {exc}", status_code=502)
        raise AssertionError("the error was not raised")  # pragma: no cover

    recorder = Recorder()
    await BaseHTTPMiddleware(app, dispatch=collect)(http_scope(None), replay(), recorder)
    assert recorder.sent[0]["status"] == 502
    assert recorder.body == b"b'partial' then midway"


@pytest.mark.anyio
async def test_error_midway_does_not_complete_the_response() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("midway")

    recorder = Recorder()
    with pytest.raises(ValueError, match="midway") as info:
        await BaseHTTPMiddleware(app, dispatch=passthrough)(http_scope(None), replay(), recorder)
    assert info.value.__context__ is None
    # The client never sees a complete (truncated) response.
    assert recorder.sent == [
        {"type": "http.response.start", "status": 200, "headers": []},
        {"type": "http.response.body", "body": b"partial", "more_body": True},
    ]


@pytest.mark.anyio
async def test_error_in_a_replaced_response_is_raised_afterwards() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        # Told of the "disconnect" once the replacement has gone out.
        while (await receive())["type"] != "http.disconnect":
            pass
        raise ValueError("after the replacement")

    async def replace(request: Request, call_next: RequestResponseEndpoint) -> Response:
        await call_next(request)
        return PlainTextResponse("replacement")

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    recorder = Recorder()
    with pytest.raises(ValueError, match="after the replacement"):
        await BaseHTTPMiddleware(app, dispatch=replace)(http_scope(None), receive, recorder)
    assert recorder.body == b"replacement"


@pytest.mark.anyio
async def test_dispatch_error_cancels_the_app() -> None:
    cancelled = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal cancelled
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            await send({"type": "http.response.body", "body": b"never taken", "more_body": True})
        except anyio.get_cancelled_exc_class():
            cancelled = True
            raise

    async def fail(request: Request, call_next: RequestResponseEndpoint) -> Response:
        await call_next(request)
        raise KeyError("dispatch failed")

    with pytest.raises(KeyError, match="dispatch failed"):
        await BaseHTTPMiddleware(app, dispatch=fail)(http_scope(None), replay(), Recorder())
    assert cancelled


@pytest.mark.anyio
async def test_abandoned_call_next_cancels_the_app() -> None:
    cancelled = anyio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    async def with_timeout(request: Request, call_next: RequestResponseEndpoint) -> Response:
        with anyio.move_on_after(0.05):
            return await call_next(request)
        return PlainTextResponse("timed out", status_code=504)

    recorder = Recorder()
    with anyio.fail_after(5):
        await BaseHTTPMiddleware(slow, dispatch=with_timeout)(http_scope(None), replay(), recorder)
    assert recorder.sent[0]["status"] == 504
    assert cancelled.is_set()


@pytest.mark.anyio
async def test_failing_client_send_cancels_the_app() -> None:
    stopped: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
        except anyio.get_cancelled_exc_class():
            stopped.append("cancelled")
            raise

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("client went away")

    with anyio.fail_after(5), pytest.raises(OSError, match="client went away"):
        await BaseHTTPMiddleware(app, dispatch=passthrough)(http_scope(None), replay(), send)
    assert stopped == ["cancelled"]


@pytest.mark.anyio
async def test_unexpected_first_message() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.body", "body": b"no start"})

    with pytest.raises(RuntimeError, match=r"Expected an 'http\.response\.start' message"):
        await BaseHTTPMiddleware(app, dispatch=passthrough)(http_scope(None), replay(), Recorder())


@pytest.mark.anyio
async def test_second_response_start_is_an_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.start", "status": 500, "headers": []})

    with pytest.raises(RuntimeError, match="Unexpected message from the app"):
        await BaseHTTPMiddleware(app, dispatch=passthrough)(http_scope(None), replay(), Recorder())


@pytest.mark.anyio
async def test_app_without_a_response() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        pass

    with pytest.raises(RuntimeError, match=r"^No response returned\.$"):
        await BaseHTTPMiddleware(app, dispatch=passthrough)(http_scope(None), replay(), Recorder())


# --- disconnects -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_streaming_app_stops_when_the_client_disconnects() -> None:
    first_chunk_out = anyio.Event()
    generator_closed = anyio.Event()

    async def forever() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick"
                await anyio.lowlevel.checkpoint()
        finally:
            generator_closed.set()

    async def endpoint(request: Request) -> StreamingResponse:
        return StreamingResponse(forever())

    async def receive() -> Message:
        await first_chunk_out.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            first_chunk_out.set()

    app = BaseHTTPMiddleware(Router([Route("/", endpoint)]), dispatch=passthrough)
    with anyio.fail_after(5):
        await app(http_scope(None), receive, send)
    assert generator_closed.is_set()


@pytest.mark.anyio
async def test_dispatch_sees_a_client_disconnect_while_reading() -> None:
    async def careful(request: Request, call_next: RequestResponseEndpoint) -> Response:
        with pytest.raises(ClientDisconnect):
            await request.body()
        response = await call_next(request)
        assert await request.is_disconnected()
        return response

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # The client left mid-body: the app is told so, without asking the server again.
        assert await receive() == {"type": "http.disconnect"}
        assert await receive() == {"type": "http.disconnect"}
        await Response(b"late")(scope, receive, send)

    receive = replay(
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.disconnect"},
    )
    recorder = Recorder()
    await BaseHTTPMiddleware(app, dispatch=careful)(
        http_scope(None, method="POST"), receive, recorder
    )
    assert recorder.body == b"late"


# --- context, state and extensions --------------------------------------------------------

user_id: contextvars.ContextVar[str] = contextvars.ContextVar("user_id", default="anonymous")


@pytest.mark.parametrize("sync_endpoint", [True, False])
def test_context_reaches_sync_and_async_endpoints(
    test_client_factory: TestClientFactory, sync_endpoint: bool
) -> None:
    async def identify(request: Request, call_next: RequestResponseEndpoint) -> Response:
        user_id.set(request.headers.get("x-user", "nobody"))
        return await call_next(request)

    def sync_whoami(request: Request) -> PlainTextResponse:
        return PlainTextResponse(user_id.get())

    async def async_whoami(request: Request) -> PlainTextResponse:
        return PlainTextResponse(user_id.get())

    endpoint = sync_whoami if sync_endpoint else async_whoami
    app = Router(
        [Route("/", endpoint)], middleware=[Middleware(BaseHTTPMiddleware, dispatch=identify)]
    )
    client = test_client_factory(app)
    assert client.get("/", headers={"x-user": "ada"}).text == "ada"
    assert client.get("/").text == "nobody"
    assert user_id.get() == "anonymous"


def test_background_set_by_dispatch_runs_after_the_response(
    test_client_factory: TestClientFactory,
) -> None:
    log: list[str] = []

    async def note(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.background = BackgroundTask(log.append, "dispatch background")
        return response

    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok", background=BackgroundTask(log.append, "app background"))

    app = Router([Route("/", endpoint)], middleware=[Middleware(BaseHTTPMiddleware, note)])
    assert test_client_factory(app).get("/").text == "ok"
    assert sorted(log) == ["app background", "dispatch background"]


@pytest.mark.anyio
async def test_informational_and_debug_messages_go_through() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.early_hint", "links": [b"</style.css>; rel=preload"]})
        await send({"type": "http.response.debug", "info": {"template": "page.html"}})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"page"})

    recorder = Recorder()
    await BaseHTTPMiddleware(app, dispatch=passthrough)(http_scope(None), replay(), recorder)
    assert recorder.types == [
        "http.response.early_hint",
        "http.response.debug",
        "http.response.start",
        "http.response.body",
        "http.response.body",
    ]
    assert recorder.sent[1]["info"] == {"template": "page.html"}
    assert recorder.body == b"page"


def test_request_given_to_dispatch(test_client_factory: TestClientFactory) -> None:
    async def describe(request: Request, call_next: RequestResponseEndpoint) -> Response:
        assert isinstance(request, Request)
        body = await request.body()
        return PlainTextResponse(
            f"{request.method} {request.url.path}?{request.url.query} {body!r}"
        )

    client = test_client_factory(BaseHTTPMiddleware(hello, dispatch=describe))
    assert client.post("/a/b?c=d", content=b"e").text == "POST /a/b?c=d b'e'"


# --- body limits -------------------------------------------------------------------------------


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    await Response(await Request(scope, receive).body())(scope, receive, send)


async def read_body_first(request: Request, call_next: RequestResponseEndpoint) -> Response:
    await request.body()
    return await call_next(request)


def test_limit_outside_applies_to_the_body_dispatch_reads(
    test_client_factory: TestClientFactory,
) -> None:
    app = RequestBodyLimitMiddleware(
        BaseHTTPMiddleware(echo, dispatch=read_body_first), max_body_size=4
    )
    client = test_client_factory(app)
    assert client.post("/", content=b"1234").content == b"1234"
    response = client.post("/", content=b"12345")
    assert (response.status_code, response.text) == (413, "Content Too Large")

    def chunks() -> Iterator[bytes]:
        yield from (b"12", b"34", b"56")

    assert client.post("/", content=chunks()).status_code == 413


def test_limit_inside_counts_the_body_dispatch_read(test_client_factory: TestClientFactory) -> None:
    inner: ASGIApp = RequestBodyLimitMiddleware(ExceptionMiddleware(echo), max_body_size=4)
    app = RequestBodyLimitMiddleware(
        BaseHTTPMiddleware(inner, dispatch=read_body_first), max_body_size=100
    )
    client = test_client_factory(app)
    assert client.post("/", content=b"1234").content == b"1234"
    assert client.post("/", content=b"12345").status_code == 413


def test_limit_inside_alone_sees_the_replayed_body(test_client_factory: TestClientFactory) -> None:
    def chunks() -> Iterator[bytes]:
        yield from (b"12", b"34", b"56")

    inner: ASGIApp = RequestBodyLimitMiddleware(ExceptionMiddleware(echo), max_body_size=4)
    client = test_client_factory(BaseHTTPMiddleware(inner, dispatch=read_body_first))
    assert client.post("/", content=chunks()).status_code == 413
    assert client.post("/", content=b"1234").content == b"1234"


def test_route_limit_loosens_when_dispatch_leaves_the_body(
    test_client_factory: TestClientFactory,
) -> None:
    app = RequestBodyLimitMiddleware(
        Router(
            [Route("/", echo_endpoint, methods=["POST"], max_body_size=10)],
            middleware=[Middleware(BaseHTTPMiddleware, dispatch=passthrough)],
        ),
        max_body_size=5,
    )
    response = test_client_factory(app).post("/", content=b"12345678")
    assert response.status_code == 200
    assert response.content == b"12345678"


async def echo_endpoint(request: Request) -> Response:
    return Response(await request.body())
