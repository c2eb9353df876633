"""Starlette-compatible `SchemaGenerator` and `OpenAPIResponse`, through `stellate.schemas`."""

from __future__ import annotations

from stellate.applications import Stellate
from stellate.endpoints import HTTPEndpoint
from stellate.requests import Request
from stellate.responses import Response
from stellate.routing import Host, Mount, Route, Router, WebSocketRoute
from stellate.schemas import SchemaGenerator
from stellate.websockets import WebSocket
from tests.conftest import TestClientFactory

schemas = SchemaGenerator({"openapi": "3.0.0", "info": {"title": "Library", "version": "0.9"}})


def feed(session: WebSocket) -> None:
    """feed"""


def read_book(request: Request) -> None:
    """
    responses:
        200:
            description: One book.
            examples:
                {"title": "Dune"}
    """


def list_books(request: Request) -> None:
    """
    responses:
      200:
        description: Every book.
        examples:
          [{"title": "Dune"}, {"title": "Emma"}]
    """


def add_book(request: Request) -> None:
    """
    responses:
      200:
        description: The added book.
        examples:
          {"title": "Emma"}
    """


def search_books(request: Request) -> None:
    """
    responses:
      200:
        description: Books found by a query.
        examples:
          [{"title": "Emma"}]
    """


class Shelves(HTTPEndpoint):
    def get(self, request: Request) -> None:
        """
        responses:
          200:
            description: Every shelf.
            examples:
              [{"label": "A"}, {"label": "B"}]
        """

    def post(self, request: Request) -> None:
        """
        responses:
          200:
            description: The new shelf.
            examples:
              {"label": "C"}
        """

    def query(self, request: Request) -> None:
        """
        responses:
          200:
            description: Shelves found by a query.
            examples:
              [{"label": "A"}]
        """


def prose_then_schema(request: Request) -> None:
    """
    Prose for readers, left out of the schema.

    ---

    responses:
      200:
        description: Only this part is the schema.
    """


def prose(request: Request) -> None:
    """
    Prose for readers, left out of the schema.
    """


def bare(request: Request) -> None:
    pass  # pragma: no cover


def sub_endpoint(request: Request) -> None:
    """
    responses:
      200:
        description: Served by the sub-application.
    """


def schema(request: Request) -> Response:
    return schemas.OpenAPIResponse(request=request)


subapp = Stellate(routes=[Route("/sub-endpoint", endpoint=sub_endpoint)])

app = Stellate(
    routes=[
        WebSocketRoute("/feed", endpoint=feed),
        Route("/books/{id:int}", endpoint=read_book, methods=["GET"]),
        Route("/books", endpoint=list_books, methods=["GET", "HEAD"]),
        Route("/books", endpoint=add_book, methods=["POST"]),
        Route("/books", endpoint=search_books, methods=["QUERY"]),
        Route("/shelves", endpoint=Shelves),
        Route("/prose-then-schema", endpoint=prose_then_schema),
        Route("/prose", endpoint=prose),
        Route("/bare", endpoint=bare),
        Route("/schema", endpoint=schema, methods=["GET"], include_in_schema=False),
        Mount("/sub", subapp),
        Host("books.example.org", app=Router(routes=[Mount("/sub2", subapp)])),
    ]
)


def test_schema_generation() -> None:
    assert schemas.get_schema(routes=app.routes) == {
        "openapi": "3.0.0",
        "info": {"title": "Library", "version": "0.9"},
        "paths": {
            "/books": {
                "get": {
                    "responses": {
                        200: {
                            "description": "Every book.",
                            "examples": [{"title": "Dune"}, {"title": "Emma"}],
                        }
                    }
                },
                "post": {
                    "responses": {
                        200: {"description": "The added book.", "examples": {"title": "Emma"}}
                    }
                },
                "query": {
                    "responses": {
                        200: {
                            "description": "Books found by a query.",
                            "examples": [{"title": "Emma"}],
                        }
                    }
                },
            },
            "/books/{id}": {
                "get": {
                    "responses": {200: {"description": "One book.", "examples": {"title": "Dune"}}}
                }
            },
            "/prose-then-schema": {
                "get": {"responses": {200: {"description": "Only this part is the schema."}}}
            },
            "/shelves": {
                "get": {
                    "responses": {
                        200: {
                            "description": "Every shelf.",
                            "examples": [{"label": "A"}, {"label": "B"}],
                        }
                    }
                },
                "post": {
                    "responses": {
                        200: {"description": "The new shelf.", "examples": {"label": "C"}}
                    }
                },
                "query": {
                    "responses": {
                        200: {
                            "description": "Shelves found by a query.",
                            "examples": [{"label": "A"}],
                        }
                    }
                },
            },
            "/sub/sub-endpoint": {
                "get": {"responses": {200: {"description": "Served by the sub-application."}}}
            },
            "/sub2/sub-endpoint": {
                "get": {"responses": {200: {"description": "Served by the sub-application."}}}
            },
        },
    }


EXPECTED_YAML = """
info:
  title: Library
  version: '0.9'
openapi: 3.0.0
paths:
  /books:
    get:
      responses:
        200:
          description: Every book.
          examples:
          - title: Dune
          - title: Emma
    post:
      responses:
        200:
          description: The added book.
          examples:
            title: Emma
    query:
      responses:
        200:
          description: Books found by a query.
          examples:
          - title: Emma
  /books/{id}:
    get:
      responses:
        200:
          description: One book.
          examples:
            title: Dune
  /prose-then-schema:
    get:
      responses:
        200:
          description: Only this part is the schema.
  /shelves:
    get:
      responses:
        200:
          description: Every shelf.
          examples:
          - label: A
          - label: B
    post:
      responses:
        200:
          description: The new shelf.
          examples:
            label: C
    query:
      responses:
        200:
          description: Shelves found by a query.
          examples:
          - label: A
  /sub/sub-endpoint:
    get:
      responses:
        200:
          description: Served by the sub-application.
  /sub2/sub-endpoint:
    get:
      responses:
        200:
          description: Served by the sub-application.
"""


def test_schema_endpoint(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(app)
    response = client.get("/schema")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.oai.openapi"
    assert response.text.strip() == EXPECTED_YAML.strip()
