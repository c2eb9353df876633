"""Starlette-compatible lifespan handling by `Router` and `Stellate`, through `stellate.*`."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncGenerator, AsyncIterator, Generator
from typing import Any, TypedDict

import pytest

from stellate.applications import Stellate
from stellate.exceptions import StellateDeprecationWarning
from stellate.requests import Request
from stellate.responses import PlainTextResponse, Response
from stellate.routing import Mount, Route, Router
from stellate.types import ASGIApp, Message, Receive, Scope, Send
from tests.conftest import TestClientFactory


def test_state_needs_server_support(test_client_factory: TestClientFactory) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: ASGIApp) -> AsyncIterator[dict[str, str]]:
        yield {"foo": "bar"}

    router = Router(lifespan=lifespan, routes=[Mount("/", PlainTextResponse("hello, world"))])

    async def without_state(scope: Scope, receive: Receive, send: Send) -> None:
        del scope["state"]
        await router(scope, receive, send)

    with (
        pytest.raises(
            RuntimeError,
            match=re.escape('The server does not support "state" in the lifespan scope.'),
        ),
        test_client_factory(without_state),
    ):
        raise AssertionError("unreachable")  # pragma: no cover


def test_state_reaches_requests_as_a_shallow_copy(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []

    class State(TypedDict):
        count: int
        items: list[int]

    async def view(request: Request) -> Response:
        # Each request starts from the lifespan's values...
        assert request.state.count == 0
        request.state.count += 1
        # ...but a mutable value is shared.
        request.state.items.append(1)
        return PlainTextResponse("hello")

    @contextlib.asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[State]:
        events.append("startup")
        state = State(count=0, items=[])
        yield state
        events.append("shutdown")
        assert state["count"] == 0
        assert state["items"] == [1, 1]

    router = Router(lifespan=lifespan, routes=[Route("/", view)])
    assert events == []
    with test_client_factory(router) as client:
        assert events == ["startup"]
        client.get("/")
        client.get("/")
    assert events == ["startup", "shutdown"]


def test_application_lifespan_receives_the_app(test_client_factory: TestClientFactory) -> None:
    seen: list[Any] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[None]:
        seen.append(app)
        yield

    app = Stellate(lifespan=lifespan)
    with test_client_factory(app):
        pass
    assert seen == [app]


def test_raise_on_startup(test_client_factory: TestClientFactory) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if app is None:
            raise RuntimeError("no start")
        yield  # pragma: no cover

    router = Router(lifespan=lifespan)
    messages: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async def spy(message: Message) -> None:
            messages.append(message)
            await send(message)

        await router(scope, receive, spy)

    with pytest.raises(RuntimeError, match="no start"), test_client_factory(app):
        pass  # pragma: no cover
    assert [m["type"] for m in messages] == ["lifespan.startup.failed"]
    assert "RuntimeError: no start" in messages[0]["message"]


def test_raise_on_shutdown(test_client_factory: TestClientFactory) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        raise RuntimeError("Shutdown failed")

    router = Router(lifespan=lifespan)
    with pytest.raises(RuntimeError, match="Shutdown failed"), test_client_factory(router):
        pass


def test_mounted_lifespans_are_not_run(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def outer(app: Any) -> AsyncIterator[None]:
        events.append("outer")
        yield

    @contextlib.asynccontextmanager
    async def inner(app: Any) -> AsyncIterator[None]:  # pragma: no cover
        events.append("inner")
        yield

    app = Stellate(lifespan=outer, routes=[Mount("/sub", app=Stellate(lifespan=inner))])
    with test_client_factory(app):
        pass
    assert events == ["outer"]


def test_async_generator_lifespan_is_deprecated(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []

    async def lifespan(app: Any) -> AsyncGenerator[None, None]:
        events.append("startup")
        yield
        events.append("shutdown")

    with pytest.warns(
        StellateDeprecationWarning,
        match=r"async generator function lifespans are deprecated, use an "
        r"@contextlib\.asynccontextmanager function instead",
    ):
        app = Stellate(lifespan=lifespan)  # type: ignore[arg-type]
    with test_client_factory(app):
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


def test_generator_lifespan_is_deprecated(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []

    def lifespan(app: Any) -> Generator[None, None, None]:
        events.append("startup")
        yield
        events.append("shutdown")

    with pytest.warns(
        StellateDeprecationWarning,
        match=r"generator function lifespans are deprecated, use an "
        r"@contextlib\.asynccontextmanager function instead",
    ):
        router = Router(lifespan=lifespan)  # type: ignore[arg-type]
    with test_client_factory(router):
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]
