from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from stellate_asgi.exceptions import StellateDeprecationWarning
from stellate_asgi.types import Message, Scope
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_routing.routing import Route, Router
from tests.conftest import TestClientFactory


async def run_lifespan(router: Router, scope: Scope, fail: bool = False) -> list[Message]:
    """Drive the lifespan protocol by hand: startup, then shutdown."""
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    if fail:
        with pytest.raises(Exception) as info:
            await router(scope, receive, send)
        sent.append({"type": "raised", "exception": info.value})
    else:
        await router(scope, receive, send)
    return sent


async def fail(message: str) -> None:
    raise ValueError(message)


def test_lifespan_startup_and_shutdown(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    router = Router(routes=[Route("/", lambda request: PlainTextResponse("ok"))], lifespan=lifespan)
    with test_client_factory(router) as client:
        assert events == ["startup"]
        assert client.get("/").text == "ok"
    assert events == ["startup", "shutdown"]


def test_lifespan_state_reaches_requests(test_client_factory: TestClientFactory) -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        yield {"db": "connected", "count": 0}

    async def endpoint(request: Request) -> Response:
        request.state.count += 1
        return PlainTextResponse(f"{request.state.db} {request.state.count}")

    router = Router(routes=[Route("/", endpoint)], lifespan=lifespan)
    with test_client_factory(router) as client:
        # Each request gets a shallow copy of the state.
        assert client.get("/").text == "connected 1"
        assert client.get("/").text == "connected 1"


@pytest.mark.anyio
async def test_lifespan_messages_and_app_argument() -> None:
    received: list[Any] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, str]]:
        received.append(app)
        yield {"key": "value"}

    marker = object()
    state: dict[str, Any] = {}
    sent = await run_lifespan(
        Router(lifespan=lifespan), {"type": "lifespan", "state": state, "app": marker}
    )
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert received == [marker]
    assert state == {"key": "value"}


@pytest.mark.anyio
async def test_default_lifespan() -> None:
    router = Router()
    sent = await run_lifespan(router, {"type": "lifespan"})
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


@pytest.mark.anyio
async def test_lifespan_state_without_server_support() -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, str]]:
        yield {"key": "value"}

    sent = await run_lifespan(Router(lifespan=lifespan), {"type": "lifespan"}, fail=True)
    assert sent[0]["type"] == "lifespan.startup.failed"
    message = 'The server does not support "state" in the lifespan scope.'
    assert message in sent[0]["message"]
    assert isinstance(sent[1]["exception"], RuntimeError)
    assert str(sent[1]["exception"]) == message


@pytest.mark.anyio
async def test_lifespan_without_state_needs_no_server_support() -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield

    sent = await run_lifespan(Router(lifespan=lifespan), {"type": "lifespan"})
    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


@pytest.mark.anyio
async def test_lifespan_startup_failure() -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await fail("cannot connect")
        yield  # pragma: no cover

    sent = await run_lifespan(Router(lifespan=lifespan), {"type": "lifespan"}, fail=True)
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "Traceback" in sent[0]["message"]
    assert "ValueError: cannot connect" in sent[0]["message"]
    assert isinstance(sent[1]["exception"], ValueError)


@pytest.mark.anyio
async def test_lifespan_shutdown_failure() -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        raise ValueError("cannot disconnect")

    sent = await run_lifespan(Router(lifespan=lifespan), {"type": "lifespan"}, fail=True)
    assert sent[0] == {"type": "lifespan.startup.complete"}
    assert sent[1]["type"] == "lifespan.shutdown.failed"
    assert "ValueError: cannot disconnect" in sent[1]["message"]
    assert isinstance(sent[2]["exception"], ValueError)


def test_lifespan_startup_failure_through_the_test_client(
    test_client_factory: TestClientFactory,
) -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await fail("cannot connect")
        yield  # pragma: no cover

    with (
        pytest.raises(ValueError, match="cannot connect"),
        test_client_factory(Router(lifespan=lifespan)),
    ):
        pass  # pragma: no cover


def test_async_generator_lifespan_is_deprecated(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []

    async def lifespan(app: Any) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    with pytest.warns(StellateDeprecationWarning, match="async generator function lifespans"):
        router = Router(lifespan=lifespan)  # type: ignore[arg-type]
    with test_client_factory(router):
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


def test_generator_lifespan_is_deprecated(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []

    def lifespan(app: Any) -> Iterator[dict[str, str]]:
        events.append("startup")
        yield {"from": "generator"}
        events.append("shutdown")

    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(request.state.__getattr__("from"))

    with pytest.warns(StellateDeprecationWarning, match="generator function lifespans"):
        router = Router(routes=[Route("/", endpoint)], lifespan=lifespan)  # type: ignore[arg-type]
    with test_client_factory(router) as client:
        assert client.get("/").text == "generator"
    assert events == ["startup", "shutdown"]
