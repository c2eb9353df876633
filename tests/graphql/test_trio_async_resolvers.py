"""Concurrent async resolvers run on both anyio backends, not only on asyncio.

graphql-core gathers sibling awaitables with asyncio; the executor awaits them
through anyio instead, so several async fields, async list items, nested async
objects, an error among them and subscriptions work on trio too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
)

from stellate_graphql import GraphQL, build_executable_schema
from tests.conftest import TestClientFactory

SDL = """
type Item { id: Int! label: String! }
type Query {
  first: String!
  second: String!
  third: String
  items(count: Int!): [Item!]!
  numbers: [Int!]!
  nested: Query!
  broken: String
  fatal: String!
}
type Subscription { ticks(to: Int!): Query! }
"""


async def pause() -> None:
    await anyio.lowlevel.checkpoint()
    await anyio.lowlevel.checkpoint()


async def first(root: Any, info: Any) -> str:
    await pause()
    return "one"


async def second(root: Any, info: Any) -> str:
    await pause()
    return "two"


async def third(root: Any, info: Any) -> str:
    await anyio.sleep(0.01)
    return "three"


async def items(root: Any, info: Any, count: int) -> list[dict[str, int]]:
    await pause()
    return [{"id": number} for number in range(count)]


async def label(item: dict[str, int], info: Any) -> str:
    # later items finish first: the order of the result must not follow completion
    await anyio.sleep(0.001 * (5 - item["id"]))
    return f"item {item['id']}"


def numbers(root: Any, info: Any) -> list[Any]:
    async def number(value: int) -> int:
        await pause()
        return value

    return [number(value) for value in range(4)]


async def nested(root: Any, info: Any) -> dict[str, Any]:
    await pause()
    return {}


async def broken(root: Any, info: Any) -> str:
    await pause()
    raise ValueError("broken resolver")


async def fatal(root: Any, info: Any) -> str:
    await pause()
    raise ValueError("fatal resolver")


async def ticks(root: Any, info: Any, to: int) -> AsyncIterator[dict[str, Any]]:
    for _ in range(to):
        await pause()
        yield {}


def make_app() -> GraphQL:
    schema = build_executable_schema(
        SDL,
        {
            "Query": {
                "first": first,
                "second": second,
                "third": third,
                "items": items,
                "numbers": numbers,
                "nested": nested,
                "broken": broken,
                "fatal": fatal,
            },
            "Item": {"label": label},
            "Subscription": {"ticks": ticks},
        },
    )
    return GraphQL(schema, keepalive_interval=None)


def query(test_client_factory: TestClientFactory, document: str) -> dict[str, Any]:
    client = test_client_factory(make_app())
    response = client.post("/", json={"query": document})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_several_async_fields(test_client_factory: TestClientFactory) -> None:
    body = query(test_client_factory, "{ first second third }")
    assert body == {"data": {"first": "one", "second": "two", "third": "three"}}


def test_async_list_items_keep_their_order(test_client_factory: TestClientFactory) -> None:
    body = query(test_client_factory, "{ items(count: 5) { id label } numbers }")
    assert body == {
        "data": {
            "items": [{"id": number, "label": f"item {number}"} for number in range(5)],
            "numbers": [0, 1, 2, 3],
        }
    }


def test_nested_async_objects(test_client_factory: TestClientFactory) -> None:
    body = query(
        test_client_factory,
        "{ first nested { second nested { third items(count: 2) { label } } } }",
    )
    assert body == {
        "data": {
            "first": "one",
            "nested": {
                "second": "two",
                "nested": {"third": "three", "items": [{"label": "item 0"}, {"label": "item 1"}]},
            },
        }
    }


def test_an_error_in_one_async_field(test_client_factory: TestClientFactory) -> None:
    body = query(test_client_factory, "{ first broken second }")
    assert body["data"] == {"first": "one", "broken": None, "second": "two"}
    assert [error["path"] for error in body["errors"]] == [["broken"]]


def test_an_error_in_a_non_null_field_nulls_the_parent(
    test_client_factory: TestClientFactory,
) -> None:
    body = query(test_client_factory, "{ first third nested { second fatal } }")
    assert body["data"] is None
    assert [error["path"] for error in body["errors"]] == [["nested", "fatal"]]


def test_a_subscription_with_async_fields(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(make_app())
    with client.websocket_connect("/", subprotocols=["graphql-transport-ws"]) as websocket:
        websocket.send_json({"type": "connection_init"})
        assert websocket.receive_json() == {"type": "connection_ack"}
        document = "subscription { ticks(to: 2) { first second numbers broken } }"
        websocket.send_json({"id": "1", "type": "subscribe", "payload": {"query": document}})
        for _ in range(2):
            message = websocket.receive_json()
            assert message["type"] == "next"
            payload = message["payload"]
            assert payload["data"] == {
                "ticks": {"first": "one", "second": "two", "numbers": [0, 1, 2, 3], "broken": None}
            }
            assert [error["path"] for error in payload["errors"]] == [["ticks", "broken"]]
        assert websocket.receive_json() == {"id": "1", "type": "complete"}


def test_a_legacy_subscription_with_async_fields(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(make_app())
    with client.websocket_connect("/", subprotocols=["graphql-ws"]) as websocket:
        websocket.send_json({"type": "connection_init"})
        assert websocket.receive_json() == {"type": "connection_ack"}
        document = "subscription { ticks(to: 1) { first second } }"
        websocket.send_json({"id": "1", "type": "start", "payload": {"query": document}})
        message = websocket.receive_json()
        assert message == {
            "id": "1",
            "type": "data",
            "payload": {"data": {"ticks": {"first": "one", "second": "two"}}},
        }
        assert websocket.receive_json() == {"id": "1", "type": "complete"}


@pytest.mark.anyio
async def test_the_executor_directly() -> None:
    app = make_app()
    operation = app.executor.prepare({"query": "{ first second items(count: 3) { label } }"})
    result = await app.executor.execute(operation)
    assert result.errors is None
    assert result.data == {
        "first": "one",
        "second": "two",
        "items": [{"label": "item 0"}, {"label": "item 1"}, {"label": "item 2"}],
    }


def test_async_is_type_of(test_client_factory: TestClientFactory) -> None:
    # several async `is_type_of` checks are gathered through `gather_async_work`
    async def is_dog(value: Any, info: Any) -> bool:
        await pause()
        return bool(value["kind"] == "Dog")

    async def is_cat(value: Any, info: Any) -> bool:
        await pause()
        return bool(value["kind"] == "Cat")

    named = GraphQLInterfaceType("Named", {"name": GraphQLField(GraphQLNonNull(GraphQLString))})
    name_field = {"name": GraphQLField(GraphQLNonNull(GraphQLString))}
    dog = GraphQLObjectType("Dog", name_field, interfaces=[named], is_type_of=is_dog)
    cat = GraphQLObjectType("Cat", name_field, interfaces=[named], is_type_of=is_cat)
    pets = [{"kind": "Cat", "name": "Tom"}, {"kind": "Dog", "name": "Rex"}]
    schema = GraphQLSchema(
        GraphQLObjectType(
            "Query", {"pets": GraphQLField(GraphQLList(named), resolve=lambda *_: pets)}
        ),
        types=[dog, cat],
    )
    client = test_client_factory(GraphQL(schema))
    response = client.post("/", json={"query": "{ pets { __typename name } }"})
    assert response.json() == {
        "data": {
            "pets": [{"__typename": "Cat", "name": "Tom"}, {"__typename": "Dog", "name": "Rex"}]
        }
    }
