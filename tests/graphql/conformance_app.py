"""The schema and app that the Node conformance clients (tests/graphql/node/) talk to.

Served by uvicorn in `test_conformance.py`: `uvicorn conformance_app:app`. The app keeps
the default options, so the audit checks what a user gets out of the box.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio.lowlevel
from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
)

from stellate_graphql import GraphQL

__all__ = ["app", "schema"]


def resolve_hello(root: Any, info: Any, name: str) -> str:
    return f"Hello, {name}!"


def resolve_echo(root: Any, info: Any, message: str) -> str:
    return message


async def subscribe_count(root: Any, info: Any, to: int) -> AsyncIterator[int]:
    for number in range(1, to + 1):
        # Yield to the event loop between events, as a real source would.
        await anyio.lowlevel.checkpoint()
        yield number


def resolve_count(number: int, info: Any, to: int) -> int:
    return number


schema = GraphQLSchema(
    query=GraphQLObjectType(
        "Query",
        {
            "hello": GraphQLField(
                GraphQLNonNull(GraphQLString),
                args={"name": GraphQLArgument(GraphQLString, default_value="world")},
                resolve=resolve_hello,
            ),
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
                resolve=resolve_count,
            ),
        },
    ),
)

app = GraphQL(schema)
