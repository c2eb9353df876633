"""GraphQL: a small query with a variable, parsed, validated and executed per request.

Starlette has no GraphQL of its own, so its app is a `Route` whose endpoint calls
graphql-core's `graphql()`, as the raw app does inside a minimal ASGI callable.
Stellate's app is `stellate.graphql.GraphQL` on the same SDL and resolver.
"""

from __future__ import annotations

import json
from typing import Any

import graphql
import starlette.applications
import starlette.requests
import starlette.responses
import starlette.routing

import stellate.applications
import stellate.graphql
import stellate.routing
from tests.benchmarks.harness import (
    ASGIApp,
    Receive,
    Request,
    Scenario,
    Scope,
    Send,
    http_scope,
    send_response,
)

__all__ = ["scenarios"]

SDL = """
type Author {
  name: String!
}

type Book {
  id: ID!
  title: String!
  author: Author!
}

type Query {
  book(id: ID!): Book
}
"""
QUERY = "query Book($id: ID!) { book(id: $id) { title author { name } } }"
BOOKS = {
    "1": {"id": "1", "title": "The Left Hand of Darkness", "author": {"name": "Ursula K. Le Guin"}}
}
ANSWER = {"data": {"book": {"title": BOOKS["1"]["title"], "author": BOOKS["1"]["author"]}}}


def _book(root: Any, info: Any, id: str) -> dict[str, Any] | None:
    return BOOKS.get(id)


def _schema() -> graphql.GraphQLSchema:
    """The SDL with its one resolver bound, as graphql-core users write it."""
    schema = graphql.build_schema(SDL)
    query_type = schema.query_type
    assert query_type is not None
    query_type.fields["book"].resolve = _book
    return schema


def _result(result: graphql.ExecutionResult) -> dict[str, Any]:
    document: dict[str, Any] = {"data": result.data}
    if result.errors:
        document["errors"] = [error.formatted for error in result.errors]
    return document


def _raw_app() -> ASGIApp:
    schema = _schema()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        payload = json.loads(b"".join(chunks))
        result = await graphql.graphql(
            schema, payload["query"], variable_values=payload.get("variables")
        )
        body = json.dumps(_result(result), separators=(",", ":")).encode()
        await send_response(send, 200, body, b"application/json")

    return app


def _starlette_app() -> starlette.applications.Starlette:
    schema = _schema()

    async def endpoint(request: starlette.requests.Request) -> starlette.responses.Response:
        payload = await request.json()
        result = await graphql.graphql(
            schema, payload["query"], variable_values=payload.get("variables")
        )
        return starlette.responses.JSONResponse(_result(result))

    return starlette.applications.Starlette(
        routes=[starlette.routing.Route("/graphql", endpoint, methods=["POST"])]
    )


def _stellate_app(cache_size: int) -> stellate.applications.Stellate:
    app = stellate.graphql.GraphQL(SDL, resolvers={"Query": {"book": _book}}, cache_size=cache_size)
    return stellate.applications.Stellate(routes=[stellate.routing.Route("/graphql", app)])


def scenarios() -> list[Scenario]:
    """One `POST /graphql` of a JSON body, answered as JSON; Stellate with and without cache.

    Stellate keeps the last 256 parsed and validated documents by default, so a
    repeated query skips both steps; the second scenario turns that cache off to
    measure what raw graphql-core and Starlette pay on every request.
    """
    body = json.dumps({"query": QUERY, "variables": {"id": "1"}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"accept", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    request = Request(http_scope("POST", "/graphql", headers), body)
    answer = json.dumps(ANSWER, separators=(",", ":"), ensure_ascii=False).encode()
    raw, starlette_app = _raw_app(), _starlette_app()
    return [
        Scenario(
            f"GraphQL query{suffix}",
            {"raw": raw, "stellate": _stellate_app(cache_size), "starlette": starlette_app},
            [request],
            200,
            body=answer,
            scale=0.1,
        )
        for suffix, cache_size in (("", 256), (", no cache", 0))
    ]
