from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from stellate_asgi.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Lifespan,
    Message,
    Receive,
    Scope,
    Send,
    StatefulLifespan,
    StatelessLifespan,
)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain")],
    }
    body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": b"ok"}
    await send(dict(start))
    await send(dict(body))


@pytest.mark.anyio
async def test_an_app_typed_with_the_aliases_runs() -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asgi_app: ASGIApp = app
    await asgi_app({"type": "http", "path": "/", "headers": []}, receive, send)
    assert sent == [
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        },
        {"type": "http.response.body", "body": b"ok"},
    ]


@pytest.mark.anyio
async def test_lifespan_aliases_accept_both_kinds() -> None:
    @asynccontextmanager
    async def stateless(app: object) -> AsyncIterator[None]:
        yield

    @asynccontextmanager
    async def stateful(app: object) -> AsyncIterator[dict[str, Any]]:
        yield {"db": "ready"}

    first: StatelessLifespan[object] = stateless
    second: StatefulLifespan[object] = stateful
    lifespans: list[Lifespan[object]] = [first, second]
    results = []
    for lifespan in lifespans:
        async with lifespan(object()) as state:
            results.append(state)
    assert results == [None, {"db": "ready"}]
