"""The `GraphQL` app: schema-first and code-first schemas, context and root, options."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
)

import stellate.graphql
import stellate_graphql
from stellate_asgi.types import Message
from stellate_graphql import GraphQL, Upload, build_executable_schema
from stellate_http.requests import Request
from stellate_testclient import WebSocketDenialResponse
from stellate_websockets import WebSocketDisconnect
from tests.conftest import TestClientFactory

SDL = """
interface Named { name: String! }
type Dog implements Named { name: String! barks: Boolean! }
type Cat implements Named { name: String! }
union Pet = Dog | Cat
type Query {
  hello(name: String = "world"): String!
  pets: [Named!]!
  favourite: Pet
  who: String
  rooted: String
}
type Subscription { count(to: Int!): Int! }
"""


async def count(root: Any, info: Any, to: int) -> AsyncIterator[int]:
    for number in range(1, to + 1):
        yield number


PETS = [{"kind": "Dog", "name": "Rex", "barks": True}, {"kind": "Cat", "name": "Tom"}]

RESOLVERS: dict[str, dict[str, Any]] = {
    "Query": {
        "hello": lambda root, info, name: f"Hello, {name}!",
        "pets": lambda *_: PETS,
        "favourite": lambda *_: PETS[1],
        "who": lambda root, info: str(info.context["who"]),
        "rooted": lambda root, info: str(root["name"]),
    },
    "Named": {"__resolve_type": lambda value, info, type_: value["kind"]},
    "Pet": {"__resolve_type": lambda value, info, type_: value["kind"]},
    "Subscription": {"count": count},
}


def query(client: Any, text: str) -> Any:
    return client.post("/", json={"query": text}).json()


# -- schema-first ---------------------------------------------------------------------


def test_schema_first_binds_resolvers(test_client_factory: TestClientFactory) -> None:
    resolvers = {key: value for key, value in RESOLVERS.items() if key != "Query"}
    resolvers["Query"] = {"hello": RESOLVERS["Query"]["hello"], "pets": RESOLVERS["Query"]["pets"]}
    client = test_client_factory(GraphQL(SDL, resolvers=resolvers))
    assert query(client, '{ hello(name: "you") }') == {"data": {"hello": "Hello, you!"}}


def test_interfaces_and_unions_take_a_type_resolver(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(GraphQL(SDL, resolvers=RESOLVERS))
    result = query(
        client,
        "{ pets { __typename name ... on Dog { barks } } favourite { ... on Cat { name } } }",
    )
    assert result == {
        "data": {
            "pets": [
                {"__typename": "Dog", "name": "Rex", "barks": True},
                {"__typename": "Cat", "name": "Tom"},
            ],
            "favourite": {"name": "Tom"},
        }
    }


@pytest.mark.anyio
async def test_subscription_resolvers_are_subscribe_functions() -> None:
    app = GraphQL(SDL, resolvers=RESOLVERS)
    operation = app.executor.prepare({"query": "subscription { count(to: 2) }"})
    stream = await app.executor.subscribe(operation)
    assert not isinstance(stream, stellate_graphql.Executor)
    assert [app.executor.format_result(r) async for r in stream] == [  # type: ignore[union-attr]
        {"data": {"count": 1}},
        {"data": {"count": 2}},
    ]


@pytest.mark.parametrize(
    ("resolvers", "message"),
    [
        ({"Nope": {"a": len}}, "no object type named 'Nope'"),
        ({"String": {"a": len}}, "no object type named 'String'"),
        ({"Query": {"nope": len}}, "no field named 'nope'"),
        ({"Query": {"hello": "not callable"}}, "not callable"),
        ({"Named": {"name": len}}, "only '__resolve_type'"),
    ],
)
def test_resolver_maps_are_checked(resolvers: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GraphQL(SDL, resolvers=resolvers)


def test_resolvers_need_sdl() -> None:
    schema = build_executable_schema(SDL)
    with pytest.raises(TypeError, match="resolvers"):
        GraphQL(schema, resolvers={"Query": {}})


def test_an_sdl_upload_scalar_gets_the_upload_functions() -> None:
    schema = build_executable_schema("scalar Upload type Query { a(f: Upload): Int }")
    upload = schema.type_map["Upload"]
    assert isinstance(upload, GraphQLScalarType)
    with pytest.raises(Exception, match="multipart"):
        upload.parse_value("x")
    with pytest.raises(Exception, match="input-only"):
        upload.serialize("x")
    with pytest.raises(Exception, match="multipart"):
        Upload.parse_value("x")


# -- code-first -----------------------------------------------------------------------


def test_code_first_schemas_run(test_client_factory: TestClientFactory) -> None:
    schema = GraphQLSchema(
        GraphQLObjectType("Query", {"hi": GraphQLField(GraphQLString, resolve=lambda *_: "there")})
    )
    client = test_client_factory(GraphQL(schema))
    assert query(client, "{ hi }") == {"data": {"hi": "there"}}


# -- context and root -----------------------------------------------------------------


def test_the_default_context_holds_the_request(test_client_factory: TestClientFactory) -> None:
    seen: list[Any] = []
    ran: list[str] = []

    def who(root: Any, info: Any) -> str:
        seen.append(info.context)
        info.context["background"].add_task(ran.append, "after")
        return "me"

    client = test_client_factory(GraphQL(SDL, resolvers={"Query": {"who": who}}))
    assert query(client, "{ who }") == {"data": {"who": "me"}}
    [context] = seen
    assert isinstance(context["request"], Request)
    assert context["request"].method == "POST"
    assert ran == ["after"]


@pytest.mark.parametrize("kind", ["value", "sync", "async"])
def test_context_and_root_as_values_or_callables(
    test_client_factory: TestClientFactory, kind: str
) -> None:
    def sync_context(request: Request) -> dict[str, Any]:
        return {"who": request.headers["x-who"]}

    async def async_context(request: Request) -> dict[str, Any]:
        return {"who": request.headers["x-who"]}

    def sync_root(request: Request) -> dict[str, Any]:
        return {"name": request.url.path}

    async def async_root(request: Request) -> dict[str, Any]:
        return {"name": request.url.path}

    choices: dict[str, dict[str, Any]] = {
        "value": {"context_value": {"who": "ana"}, "root_value": {"name": "/"}},
        "sync": {"context_value": sync_context, "root_value": sync_root},
        "async": {"context_value": async_context, "root_value": async_root},
    }
    options = choices[kind]
    client = test_client_factory(GraphQL(SDL, resolvers=RESOLVERS, **options))
    response = client.post("/", json={"query": "{ who rooted }"}, headers={"x-who": "ana"})
    assert response.json() == {"data": {"who": "ana", "rooted": "/"}}


# -- options and scopes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "option",
    ["max_batch_size", "max_body_size", "max_upload_size", "max_files", "max_subscriptions"],
)
def test_limits_must_be_positive(option: str) -> None:
    options: dict[str, Any] = {option: 0}
    with pytest.raises(ValueError, match=option):
        GraphQL(SDL, **options)


def test_defaults() -> None:
    app = GraphQL(SDL)
    assert app.debug is False
    assert app.graphiql is False
    assert GraphQL(SDL, debug=True).graphiql is True
    assert (app.allow_get, app.batching, app.uploads, app.csrf_prevention) == (
        True,
        False,
        False,
        True,
    )
    assert app.max_body_size == 1024 * 1024
    assert app.subscriptions is True
    assert app.allowed_origins is None
    assert app.on_connect is None


@pytest.mark.anyio
async def test_lifespan_is_ignored() -> None:
    async def receive() -> Message:
        raise AssertionError("not read")

    async def send(message: Message) -> None:
        raise AssertionError("nothing sent")

    await GraphQL(SDL)({"type": "lifespan"}, receive, send)


def test_websockets_can_be_turned_off(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(GraphQL(SDL, subscriptions=False))
    with (
        pytest.raises((WebSocketDisconnect, WebSocketDenialResponse)),
        client.websocket_connect("/", subprotocols=["graphql-transport-ws"]),
    ):
        pass  # pragma: no cover


def test_mounted_in_a_stellate_app(test_client_factory: TestClientFactory) -> None:
    from stellate.applications import Stellate
    from stellate.routing import Mount

    app = Stellate(routes=[Mount("/graphql", GraphQL(SDL, resolvers=RESOLVERS))])
    client = test_client_factory(app)
    response = client.post("/graphql", json={"query": "{ hello }"})
    assert response.json() == {"data": {"hello": "Hello, world!"}}
    assert client.get("/graphql/", params={"query": "{ hello }"}).status_code == 200


def test_the_umbrella_re_exports_the_package() -> None:
    for name in stellate.graphql.__all__:
        assert getattr(stellate.graphql, name) is getattr(stellate_graphql, name)
    assert set(stellate.graphql.__all__) == set(stellate_graphql.__all__) - {"__version__"}


def test_a_sync_context_factory_may_return_an_awaitable(
    test_client_factory: TestClientFactory,
) -> None:
    async def load(request: Any) -> dict[str, Any]:
        return {"request": request, "user": "ada"}

    user = GraphQLField(GraphQLString, resolve=lambda _, info: info.context["user"])
    schema = GraphQLSchema(GraphQLObjectType("Query", {"user": user}))
    app = GraphQL(schema, context_value=lambda request: load(request))
    response = test_client_factory(app).post("/", json={"query": "{ user }"})
    assert response.json() == {"data": {"user": "ada"}}
