"""Non-standard request methods never reach endpoint internals.

`HTTPEndpoint` picks its handler by the method's name. Starlette looked it up with
`getattr(self, method.lower())`, so a request with the method `DISPATCH` or `__INIT__`
(servers pass any token through) could select an attribute that was never meant to
be a handler. Here only the standard verbs are dispatched; anything else is a 405
with an `Allow` header, and no attribute is ever called.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from stellate.applications import Stellate
from stellate_asgi.types import Receive, Scope, Send
from stellate_graphql import GraphQL
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_routing.endpoints import HTTPEndpoint
from stellate_routing.routing import Mount, Route
from tests.security._asgi import http_scope, request

pytestmark = pytest.mark.anyio

HOSTILE_METHODS = [
    "FOO",
    "foo",
    "get",
    "Get",
    "post",
    "DISPATCH",
    "dispatch",
    "__init__",
    "__INIT__",
    "__await__",
    "__class__",
    "__dict__",
    "__call__",
    "METHOD_NOT_ALLOWED",
    "method_not_allowed",
    "RECEIVE",
    "SEND",
    "SCOPE",
    "SECRET",
    "secret",
    "GET ",
    " GET",
    "GET\x00",
    "",
    "TRACE",
    "CONNECT",
    "PROPFIND",
    "X" * 10_000,
]


class Endpoint(HTTPEndpoint):
    # Set when any handler runs: a hostile method must leave it empty.
    calls: ClassVar[list[str]] = []

    async def get(self, request: Request) -> Response:
        self.calls.append("get")
        return PlainTextResponse("get")

    async def post(self, request: Request) -> Response:
        self.calls.append("post")
        return PlainTextResponse("post")

    async def secret(self, request: Request) -> Response:
        # A helper with a handler's signature: reachable by no method at all.
        self.calls.append("secret")
        return PlainTextResponse("the secret helper ran")


@pytest.fixture(autouse=True)
def reset_calls() -> None:
    Endpoint.calls = []


@pytest.mark.parametrize("method", HOSTILE_METHODS)
async def test_endpoint_answers_405_to_hostile_methods(method: str) -> None:
    app = Stellate(routes=[Route("/", Endpoint)])

    exchange = await request(app, http_scope("/", method=method))

    assert exchange.status == 405
    assert exchange.body == b"Method Not Allowed"
    assert exchange.header("allow") == "GET, POST"
    assert Endpoint.calls == []


@pytest.mark.parametrize("method", HOSTILE_METHODS)
async def test_bare_endpoint_answers_405_itself(method: str) -> None:
    # Outside an application (no exception handlers) the endpoint renders the 405.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await Endpoint(scope, receive, send)

    exchange = await request(app, http_scope("/", method=method))

    assert exchange.status == 405
    assert exchange.body == b"Method Not Allowed"
    assert exchange.header("allow") == "GET, POST"
    assert Endpoint.calls == []


# HEAD falls back to `get`; the server, not the response, drops the body of a HEAD.
@pytest.mark.parametrize(("method", "body"), [("GET", b"get"), ("POST", b"post"), ("HEAD", b"get")])
async def test_standard_methods_still_dispatch(method: str, body: bytes) -> None:
    app = Stellate(routes=[Route("/", Endpoint)])

    exchange = await request(app, http_scope("/", method=method))

    assert exchange.status == 200
    assert exchange.body == body


@pytest.mark.parametrize("method", HOSTILE_METHODS)
async def test_function_routes_answer_405(method: str) -> None:
    called = []

    async def homepage(request: Request) -> Response:
        called.append(request.method)
        return PlainTextResponse("home")

    app = Stellate(routes=[Route("/", homepage, methods=["GET", "POST"])])

    exchange = await request(app, http_scope("/", method=method))

    assert exchange.status == 405
    assert exchange.header("allow") == "GET, HEAD, POST"
    assert called == []


@pytest.mark.parametrize("method", HOSTILE_METHODS)
async def test_graphql_answers_405(method: str) -> None:
    schema = "type Query { hello: String }"
    graphql = GraphQL(schema, resolvers={"Query": {"hello": lambda *_: "world"}})
    app = Stellate(routes=[Mount("/graphql", graphql)])

    exchange = await request(app, http_scope("/graphql/", method=method))

    assert exchange.status == 405
    assert exchange.header("allow") == "GET, POST"
    assert b"world" not in exchange.body
