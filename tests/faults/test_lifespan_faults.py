"""Lifespan failures are reported to the server; faulty requests never skip shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from stellate.applications import Stellate
from stellate.requests import ClientDisconnect, Request
from stellate.responses import PlainTextResponse, Response
from stellate.routing import Route
from stellate_asgi.types import Message, Scope
from tests.faults._asgi import (
    Recorder,
    ScriptedClient,
    app_with,
    assert_serves,
    call,
    end,
    http_scope,
    more,
    no_leaks,
    record,
)


class Boom(Exception):
    """Raised by the faulty lifespans and endpoints below."""


@pytest.mark.anyio
async def test_failed_startup_is_reported_with_its_message() -> None:
    @asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[None]:
        _fail("the database is unreachable")
        yield  # pragma: no cover

    app = app_with(lifespan=lifespan)
    sent: list[Message] = []

    async with no_leaks():
        with pytest.raises(Boom):
            await call(app, _lifespan_scope(), ScriptedClient([_startup()]), record(sent))

    assert [message["type"] for message in sent] == ["lifespan.startup.failed"]
    assert "Boom: the database is unreachable" in sent[0]["message"]


@pytest.mark.anyio
async def test_failed_shutdown_is_reported_with_its_message() -> None:
    @asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[None]:
        yield
        raise Boom("could not flush the queue")

    app = app_with(lifespan=lifespan)
    sent: list[Message] = []

    async with no_leaks():
        with pytest.raises(Boom):
            await call(
                app, _lifespan_scope(), ScriptedClient([_startup(), _shutdown()]), record(sent)
            )

    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.failed",
    ]
    assert "Boom: could not flush the queue" in sent[1]["message"]


@pytest.mark.anyio
async def test_shutdown_runs_after_requests_that_failed() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        try:
            yield {"greeting": "hello"}
        finally:
            events.append("shutdown")

    async def boom(request: Request) -> Response:
        raise Boom("endpoint")

    async def upload(request: Request) -> Response:
        return PlainTextResponse(str(len(await request.body())))

    async def greet(request: Request) -> Response:
        return PlainTextResponse(request.state.greeting)

    app = app_with(
        Route("/boom", boom),
        Route("/upload", upload, methods=["POST"]),
        Route("/greet", greet),
        lifespan=lifespan,
    )
    state: dict[str, Any] = {}
    sent: list[Message] = []
    started, shutdown = anyio.Event(), anyio.Event()

    async def wait_for_shutdown() -> Message:
        await shutdown.wait()
        return _shutdown()

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "lifespan.startup.complete":
            started.set()

    async def run_server_lifespan() -> None:
        client = ScriptedClient([_startup(), wait_for_shutdown])
        await app(_lifespan_scope(state), client, send)

    async with no_leaks(), anyio.create_task_group() as task_group:
        task_group.start_soon(run_server_lifespan)
        with anyio.fail_after(5):
            await started.wait()

        # Faults while the app is up: an error, a client gone mid-upload, a cancelled call.
        with pytest.raises(Boom):
            await call(
                app,
                _with_state(http_scope("/boom"), state),
                ScriptedClient([end()]),
                Recorder(),
            )
        gone = ScriptedClient([more(b"x"), {"type": "http.disconnect"}])
        with pytest.raises(ClientDisconnect):
            await call(app, _with_state(http_scope("/upload", "POST"), state), gone, Recorder())
        stalled = ScriptedClient([more(b"x")])
        async with anyio.create_task_group() as requests:
            requests.start_soon(
                app, _with_state(http_scope("/upload", "POST"), state), stalled, Recorder()
            )
            await stalled.exhausted.wait()
            requests.cancel_scope.cancel()

        # The lifespan state still reaches requests.
        greeting = Recorder()
        await call(app, _with_state(http_scope("/greet"), state), ScriptedClient([end()]), greeting)
        assert (greeting.status, greeting.body) == (200, b"hello")
        shutdown.set()

    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert events == ["startup", "shutdown"]
    await assert_serves(app)


@pytest.mark.anyio
async def test_cancelled_lifespan_still_runs_the_cleanup() -> None:
    # A server stopped without a shutdown message (a second Ctrl-C) cancels the lifespan.
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[None]:
        try:
            yield
        finally:
            events.append("cleanup")

    app = app_with(lifespan=lifespan)
    sent: list[Message] = []
    server = ScriptedClient([_startup()])

    async with no_leaks(), anyio.create_task_group() as task_group:
        task_group.start_soon(app, _lifespan_scope(), server, record(sent))
        # Started, and waiting for a shutdown message that never comes.
        with anyio.fail_after(5):
            await server.exhausted.wait()
        task_group.cancel_scope.cancel()

    assert sent[0]["type"] == "lifespan.startup.complete"
    assert events == ["cleanup"]


# Helpers


def _fail(message: str) -> None:
    # Raises where mypy cannot see it, so the `yield` after a call stays reachable.
    raise Boom(message)


def _lifespan_scope(state: dict[str, Any] | None = None) -> Scope:
    return {
        "type": "lifespan",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "state": {} if state is None else state,
    }


def _with_state(scope: Scope, state: dict[str, Any]) -> Scope:
    # Servers hand each request a shallow copy of the lifespan state.
    return {**scope, "state": dict(state)}


def _startup() -> Message:
    return {"type": "lifespan.startup"}


def _shutdown() -> Message:
    return {"type": "lifespan.shutdown"}
