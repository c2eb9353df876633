"""The schema and small client helpers shared by the GraphQL WebSocket tests."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
from graphql import (
    GraphQLArgument,
    GraphQLError,
    GraphQLField,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
)

from stellate_testclient import WebSocketTestSession

__all__ = ["Probe", "expect_close", "make_schema"]


class Probe:
    """What the resolvers saw, readable from the test thread.

    `closed` is set by the `finally:` of the `ticks` and `forever` subscriptions and of
    the `slow` query, so a test can wait for an operation to be cancelled.
    """

    def __init__(self) -> None:
        self.started = threading.Event()
        self.closed = threading.Event()
        self.contexts: list[Any] = []


def make_schema(probe: Probe | None = None) -> GraphQLSchema:
    """A schema with a query, a mutation and subscriptions that end, never end, fail."""
    probe = probe or Probe()

    def resolve_hello(root: Any, info: Any, name: str) -> str:
        return f"Hello, {name}!"

    def resolve_boom(root: Any, info: Any) -> str:
        raise RuntimeError("database password is hunter2")

    def resolve_context(root: Any, info: Any) -> str:
        probe.contexts.append(info.context)
        return str(info.context)

    def resolve_root(root: Any, info: Any) -> str:
        return str(root)

    async def resolve_slow(root: Any, info: Any) -> str:
        # Never resolves: only a cancellation ends it.
        try:
            probe.started.set()
            await anyio.sleep_forever()
        finally:
            probe.closed.set()
        return "never"  # pragma: no cover

    def resolve_echo(root: Any, info: Any, message: str) -> str:
        return message

    async def subscribe_count(root: Any, info: Any, to: int) -> AsyncIterator[int]:
        for number in range(1, to + 1):
            await anyio.lowlevel.checkpoint()
            yield number

    async def subscribe_ticks(root: Any, info: Any) -> AsyncIterator[int]:
        # One event, then waits for more that never come, until it is closed.
        try:
            probe.started.set()
            yield 1
            await anyio.sleep_forever()
        finally:
            # Cleanup that awaits, as the docs show it: shielded from the cancellation.
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.01)
            probe.closed.set()

    async def subscribe_forever(root: Any, info: Any) -> AsyncIterator[int]:
        # Events as fast as the client reads them, until it is closed.
        try:
            number = 0
            while True:
                number += 1
                await anyio.lowlevel.checkpoint()
                yield number
        finally:
            probe.closed.set()

    async def subscribe_broken(root: Any, info: Any) -> AsyncIterator[int]:
        yield 1
        raise RuntimeError("upstream password is hunter2")

    async def subscribe_revoked(root: Any, info: Any) -> AsyncIterator[int]:
        yield 1
        raise GraphQLError("Access revoked.", extensions={"code": "REVOKED"})

    async def subscribe_refused(root: Any, info: Any) -> AsyncIterator[int]:
        # A coroutine (not a generator) that refuses before any event.
        raise GraphQLError("You may not subscribe to this.")

    def resolve_event(event: Any, info: Any, **args: Any) -> Any:
        return event

    def resolve_event_context(event: Any, info: Any) -> str:
        return f"{event}:{info.context}"

    async def subscribe_context(root: Any, info: Any) -> AsyncIterator[int]:
        yield 1

    return GraphQLSchema(
        query=GraphQLObjectType(
            "Query",
            {
                "hello": GraphQLField(
                    GraphQLNonNull(GraphQLString),
                    args={"name": GraphQLArgument(GraphQLString, default_value="world")},
                    resolve=resolve_hello,
                ),
                "boom": GraphQLField(GraphQLString, resolve=resolve_boom),
                "context": GraphQLField(GraphQLString, resolve=resolve_context),
                "root": GraphQLField(GraphQLString, resolve=resolve_root),
                "slow": GraphQLField(GraphQLString, resolve=resolve_slow),
            },
        ),
        mutation=GraphQLObjectType(
            "Mutation",
            {
                "echo": GraphQLField(
                    GraphQLNonNull(GraphQLString),
                    args={"message": GraphQLArgument(GraphQLNonNull(GraphQLString))},
                    resolve=resolve_echo,
                ),
            },
        ),
        subscription=GraphQLObjectType(
            "Subscription",
            {
                "count": GraphQLField(
                    GraphQLNonNull(GraphQLInt),
                    args={"to": GraphQLArgument(GraphQLNonNull(GraphQLInt))},
                    subscribe=subscribe_count,
                    resolve=resolve_event,
                ),
                "ticks": GraphQLField(
                    GraphQLNonNull(GraphQLInt), subscribe=subscribe_ticks, resolve=resolve_event
                ),
                "forever": GraphQLField(
                    GraphQLNonNull(GraphQLInt), subscribe=subscribe_forever, resolve=resolve_event
                ),
                "broken": GraphQLField(
                    GraphQLNonNull(GraphQLInt), subscribe=subscribe_broken, resolve=resolve_event
                ),
                "revoked": GraphQLField(
                    GraphQLNonNull(GraphQLInt), subscribe=subscribe_revoked, resolve=resolve_event
                ),
                "refused": GraphQLField(
                    GraphQLNonNull(GraphQLInt), subscribe=subscribe_refused, resolve=resolve_event
                ),
                "withContext": GraphQLField(
                    GraphQLNonNull(GraphQLString),
                    subscribe=subscribe_context,
                    resolve=resolve_event_context,
                ),
            },
        ),
    )


def expect_close(websocket: WebSocketTestSession) -> tuple[int, str]:
    """Read messages until the server closes; return the close code and reason.

    Fails if a data message arrives first: a close is what the test expects next.
    """
    message = websocket.receive()
    assert message["type"] == "websocket.close", message
    return message.get("code", 1000), message.get("reason", "")
