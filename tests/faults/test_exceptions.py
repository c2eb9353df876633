"""Exceptions raised by endpoints, middleware and background tasks.

Each one ends as a 500 when no response has started (or as a cut-off response when
one has), is raised on to the server so that it gets logged, leaves nothing behind,
and the same app goes on answering requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from stellate.background import BackgroundTask
from stellate.middleware import Middleware
from stellate.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from stellate.requests import Request
from stellate.responses import PlainTextResponse, Response, StreamingResponse
from stellate.routing import Route
from stellate_asgi.types import ASGIApp, Receive, Scope, Send
from tests.faults._asgi import (
    Recorder,
    ScriptedClient,
    app_with,
    assert_serves,
    call,
    end,
    http_scope,
    no_leaks,
)


class Boom(Exception):
    """The error every faulty piece of code below raises."""


async def async_boom(request: Request) -> Response:
    raise Boom("endpoint")


def sync_boom(request: Request) -> Response:
    raise Boom("sync endpoint")


@pytest.mark.anyio
@pytest.mark.parametrize("endpoint", [async_boom, sync_boom], ids=["async", "sync"])
async def test_endpoint_error_is_a_500_and_reaches_the_server(
    endpoint: Callable[[Request], Any],
) -> None:
    app = app_with(Route("/boom", endpoint))
    send = Recorder()

    async with no_leaks():
        with pytest.raises(Boom):
            await call(app, http_scope("/boom"), _client(), send)

    assert send.status == 500
    assert send.body == b"Internal Server Error"
    assert send.complete
    await assert_serves(app)


@pytest.mark.anyio
async def test_handled_endpoint_error_is_answered_by_its_handler() -> None:
    def conflict(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"handled {exc}", status_code=409)

    app = app_with(Route("/boom", async_boom), exception_handlers={Boom: conflict})
    send = Recorder()

    async with no_leaks():
        await call(app, http_scope("/boom"), _client(), send)

    assert send.status == 409
    assert send.body == b"handled endpoint"
    await assert_serves(app)


@pytest.mark.anyio
async def test_failing_exception_handler_is_a_500() -> None:
    async def broken_handler(request: Request, exc: Exception) -> Response:
        raise RuntimeError("the handler fails too")

    app = app_with(Route("/boom", async_boom), exception_handlers={Boom: broken_handler})
    send = Recorder()

    async with no_leaks():
        with pytest.raises(RuntimeError, match="the handler fails too"):
            await call(app, http_scope("/boom"), _client(), send)

    assert send.status == 500
    await assert_serves(app)


@pytest.mark.anyio
async def test_error_mid_stream_cuts_the_response_off() -> None:
    events: list[str] = []

    async def failing_body() -> AsyncIterator[bytes]:
        try:
            yield b"first "
            yield b"second "
            raise Boom("mid-stream")
        finally:
            events.append("generator closed")

    async def endpoint(request: Request) -> StreamingResponse:
        return StreamingResponse(failing_body())

    app = app_with(Route("/stream", endpoint))
    send = Recorder()

    async with no_leaks():
        with pytest.raises(Boom):
            await call(app, http_scope("/stream"), _client(), send)

    # The status line was out: no 500 can follow, and the body is never ended, so the
    # server closes the connection and the client sees a truncated response.
    starts = [message for message in send.messages if message["type"] == "http.response.start"]
    assert [message["status"] for message in starts] == [200]
    assert send.body == b"first second "
    assert not send.complete
    assert events == ["generator closed"]
    await assert_serves(app)


@pytest.mark.anyio
@pytest.mark.parametrize("when", ["before the app", "after the response"])
async def test_asgi_middleware_error(when: str) -> None:
    class FailingMiddleware:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"] == "/fail":
                if when == "before the app":
                    raise Boom("middleware")
                await self.app(scope, receive, send)
                raise Boom("middleware")
            await self.app(scope, receive, send)

    app = app_with(Route("/fail", _hello), middleware=[Middleware(FailingMiddleware)])
    send = Recorder()

    async with no_leaks():
        with pytest.raises(Boom):
            await call(app, http_scope("/fail"), _client(), send)

    if when == "before the app":
        assert (send.status, send.body) == (500, b"Internal Server Error")
    else:
        # The response was complete: it stays as it was, the error goes to the server.
        assert (send.status, send.body) == (200, b"hello")
        assert len(send.messages) == 2
    await assert_serves(app)


@pytest.mark.anyio
@pytest.mark.parametrize("when", ["before call_next", "after call_next"])
async def test_base_http_middleware_dispatch_error(when: str) -> None:
    events: list[str] = []

    async def slow_body() -> AsyncIterator[bytes]:
        try:
            yield b"never "
            yield b"read"
        finally:
            events.append("app body closed")

    async def endpoint(request: Request) -> StreamingResponse:
        return StreamingResponse(slow_body())

    class FailingDispatch(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            if request.url.path != "/stream":
                return await call_next(request)
            if when == "after call_next":
                # The app has started its response and waits for it to be taken.
                await call_next(request)
            raise Boom("dispatch")

    app = app_with(Route("/stream", endpoint), middleware=[Middleware(FailingDispatch)])
    send = Recorder()

    async with no_leaks():
        with pytest.raises(Boom):
            await call(app, http_scope("/stream"), _client(), send)

    assert (send.status, send.body) == (500, b"Internal Server Error")
    # The app, left half-way through its body, was stopped rather than left running.
    assert events == (["app body closed"] if when == "after call_next" else [])
    await assert_serves(app)


@pytest.mark.anyio
async def test_base_http_middleware_passes_an_app_error_to_dispatch() -> None:
    seen: list[str] = []

    class Recover(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            try:
                return await call_next(request)
            except Boom as exc:
                seen.append(str(exc))
                return PlainTextResponse("recovered", status_code=503)

    app = app_with(Route("/boom", async_boom), middleware=[Middleware(Recover)])
    send = Recorder()

    async with no_leaks():
        await call(app, http_scope("/boom"), _client(), send)

    assert (send.status, send.body) == (503, b"recovered")
    assert seen == ["endpoint"]
    await assert_serves(app)


@pytest.mark.anyio
@pytest.mark.parametrize("wrapped", [False, True], ids=["plain", "base-http-middleware"])
async def test_background_task_error_comes_after_a_complete_response(wrapped: bool) -> None:
    ran: list[str] = []

    async def failing_task() -> None:
        ran.append(f"failing task, response complete: {send.complete}")
        raise Boom("background")

    async def recording_task(label: str) -> None:
        ran.append(label)

    async def failing(request: Request) -> Response:
        return PlainTextResponse("sent", background=BackgroundTask(failing_task))

    async def recording(request: Request) -> Response:
        return PlainTextResponse("sent", background=BackgroundTask(recording_task, "next"))

    class PassThrough(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            return await call_next(request)

    middleware = [Middleware(PassThrough)] if wrapped else []
    app = app_with(
        Route("/failing", failing), Route("/recording", recording), middleware=middleware
    )
    send = Recorder()

    async with no_leaks():
        with pytest.raises(Boom):
            await call(app, http_scope("/failing"), _client(), send)

    # The client had its whole response before the task ran.
    assert (send.status, send.body) == (200, b"sent")
    assert ran == ["failing task, response complete: True"]

    # The next request's background task still runs.
    next_send = Recorder()
    await call(app, http_scope("/recording"), _client(), next_send)
    assert (next_send.status, next_send.body) == (200, b"sent")
    assert ran[1:] == ["next"]
    await assert_serves(app)


# Helpers


async def _hello(request: Request) -> Response:
    return PlainTextResponse("hello")


def _client() -> ScriptedClient:
    return ScriptedClient([end()])
