"""`stellate.schemas`: endpoints from routes, docstrings as YAML, the OpenAPI response."""

from __future__ import annotations

import functools
import sys
from collections import OrderedDict
from typing import Any

import pytest
import yaml

from stellate.applications import Stellate
from stellate.endpoints import HTTPEndpoint
from stellate.middleware import Middleware
from stellate.middleware.gzip import GZipMiddleware
from stellate.requests import Request
from stellate.responses import PlainTextResponse, Response
from stellate.routing import BaseRoute, Host, Mount, Route, Router, WebSocketRoute
from stellate.schemas import (
    BaseSchemaGenerator,
    EndpointInfo,
    OpenAPIResponse,
    SchemaGenerator,
)
from stellate.types import Receive, Scope, Send
from stellate.websockets import WebSocket
from tests.conftest import TestClientFactory

BASE = {"openapi": "3.1.0", "info": {"title": "Shop", "version": "2.0"}}


def list_items(request: Request) -> Response:
    """
    summary: List the items.
    responses:
      200:
        description: All items.
    """
    return PlainTextResponse("items")  # pragma: no cover


async def get_item(request: Request) -> Response:
    """
    Fetch one item.

    This prose is for people, not for the schema.

    ---
    responses:
      200:
        description: One item.
      404:
        description: No such item.
    """
    return PlainTextResponse("item")  # pragma: no cover


def create_item(request: Request) -> Response:
    """responses:
    201:
      description: Created.
    """
    return PlainTextResponse("created")  # pragma: no cover


def prose_only(request: Request) -> Response:
    """Just prose: it mentions a colon: and is not a schema."""
    return PlainTextResponse("prose")  # pragma: no cover


def undocumented(request: Request) -> Response:
    return PlainTextResponse("undocumented")  # pragma: no cover


async def socket(websocket: WebSocket) -> None:
    """responses: {101: {description: never listed}}"""


class Orders(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        """
        responses:
          200:
            description: The orders.
        """
        return PlainTextResponse("orders")  # pragma: no cover

    async def delete(self, request: Request) -> Response:
        """
        responses:
          204:
            description: Orders cleared.
        """
        return Response(status_code=204)  # pragma: no cover


def paths(endpoints: list[EndpointInfo]) -> list[tuple[str, str]]:
    return [(info.path, info.http_method) for info in endpoints]


# get_endpoints


def test_function_routes_give_one_entry_per_method_without_head() -> None:
    routes: list[BaseRoute] = [
        Route("/items", list_items),
        Route("/items", create_item, methods=["post", "put"]),
        Route("/items/{item_id:int}", get_item, methods=["GET", "HEAD", "DELETE"]),
    ]
    endpoints = SchemaGenerator(BASE).get_endpoints(routes)
    assert paths(endpoints) == [
        ("/items", "get"),
        ("/items", "post"),
        ("/items", "put"),
        ("/items/{item_id}", "delete"),
        ("/items/{item_id}", "get"),
    ]
    assert endpoints[0] == EndpointInfo("/items", "get", list_items)
    assert endpoints[0].func is list_items


def test_excluded_and_websocket_routes_are_left_out() -> None:
    routes: list[BaseRoute] = [
        Route("/hidden", list_items, include_in_schema=False),
        WebSocketRoute("/ws", socket),
        Route("/shown", list_items),
    ]
    assert paths(SchemaGenerator(BASE).get_endpoints(routes)) == [("/shown", "get")]


def test_endpoint_class_gives_one_entry_per_defined_method() -> None:
    endpoints = SchemaGenerator(BASE).get_endpoints([Route("/orders/{id:uuid}", Orders)])
    assert paths(endpoints) == [("/orders/{id}", "get"), ("/orders/{id}", "delete")]
    assert endpoints[0].func is Orders.get


def test_endpoint_class_respects_the_route_methods() -> None:
    endpoints = SchemaGenerator(BASE).get_endpoints([Route("/orders", Orders, methods=["GET"])])
    assert paths(endpoints) == [("/orders", "get")]


def test_mounts_and_hosts_are_walked() -> None:
    sub = Stellate(routes=[Route("/items", list_items)])
    routes: list[BaseRoute] = [
        Mount(
            "/shops/{shop:str}", routes=[Mount("/v1", routes=[Route("/things/{n:int}", get_item)])]
        ),
        Mount("/sub", sub),
        Mount("/zipped", routes=[Route("/x", list_items)], middleware=[Middleware(GZipMiddleware)]),
        Host("api.example.org", Router(routes=[Mount("/api", sub)])),
        Mount("/static", PlainTextResponse("not routed")),
    ]
    assert paths(SchemaGenerator(BASE).get_endpoints(routes)) == [
        ("/shops/{shop}/v1/things/{n}", "get"),
        ("/sub/items", "get"),
        ("/zipped/x", "get"),
        ("/api/items", "get"),
    ]


def test_partial_endpoint_is_documented_by_its_function() -> None:
    endpoint = functools.partial(list_items)
    generator = SchemaGenerator(BASE)
    endpoints = generator.get_endpoints([Route("/partial", endpoint)])
    assert paths(endpoints) == [("/partial", "get")]
    assert generator.parse_docstring(endpoints[0].func)["summary"] == "List the items."


# parse_docstring


def test_parse_docstring() -> None:
    generator = SchemaGenerator(BASE)
    assert generator.parse_docstring(list_items) == {
        "summary": "List the items.",
        "responses": {200: {"description": "All items."}},
    }
    assert generator.parse_docstring(get_item) == {
        "responses": {200: {"description": "One item."}, 404: {"description": "No such item."}}
    }
    assert generator.parse_docstring(create_item) == {
        "responses": {201: {"description": "Created."}}
    }
    assert generator.parse_docstring(Orders.get) == {
        "responses": {200: {"description": "The orders."}}
    }


def test_docstrings_without_a_mapping_give_an_empty_dict() -> None:
    def listing() -> None:
        """
        - a list
        - is not an operation
        """

    def blank() -> None:
        """ """

    generator = SchemaGenerator(BASE)
    assert generator.parse_docstring(undocumented) == {}
    assert generator.parse_docstring(prose_only) == {}
    assert generator.parse_docstring(listing) == {}
    assert generator.parse_docstring(blank) == {}


def test_only_the_part_after_the_last_separator_line_counts() -> None:
    def documented() -> None:
        """
        First part.
        ---
        summary: not this one
        ---
        summary: this one
        description: dashes --- inside a line are text
        """

    assert SchemaGenerator(BASE).parse_docstring(documented) == {
        "summary": "this one",
        "description": "dashes --- inside a line are text",
    }


def test_invalid_yaml_after_a_separator_raises() -> None:
    def broken() -> None:
        """
        Prose.
        ---
        responses: [unclosed
        """

    with pytest.raises(yaml.YAMLError):
        SchemaGenerator(BASE).parse_docstring(broken)


def test_missing_pyyaml_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'stellate\[schemas\]'"):
        SchemaGenerator(BASE).parse_docstring(list_items)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'stellate\[schemas\]'"):
        OpenAPIResponse({"openapi": "3.1.0"})
    # No docstring needs no YAML.
    assert SchemaGenerator(BASE).parse_docstring(undocumented) == {}


# get_schema


def test_get_schema_adds_documented_paths_only() -> None:
    routes: list[BaseRoute] = [
        Route("/items", list_items),
        Route("/items/{item_id:int}", get_item),
        Route("/prose", prose_only),
        Route("/undocumented", undocumented),
        Route("/orders", Orders),
    ]
    schema = SchemaGenerator(BASE).get_schema(routes)
    assert schema == {
        **BASE,
        "paths": {
            "/items": {"get": SchemaGenerator(BASE).parse_docstring(list_items)},
            "/items/{item_id}": {"get": SchemaGenerator(BASE).parse_docstring(get_item)},
            "/orders": {
                "get": {"responses": {200: {"description": "The orders."}}},
                "delete": {"responses": {204: {"description": "Orders cleared."}}},
            },
        },
    }


def test_get_schema_keeps_the_base_schema_unchanged() -> None:
    base: dict[str, Any] = {**BASE, "paths": {"/health": {"get": {"summary": "Health."}}}}
    generator = SchemaGenerator(base)
    first = generator.get_schema([Route("/health", create_item, methods=["POST"])])
    second = generator.get_schema([])
    assert first["paths"]["/health"] == {
        "get": {"summary": "Health."},
        "post": {"responses": {201: {"description": "Created."}}},
    }
    assert second["paths"] == {"/health": {"get": {"summary": "Health."}}}
    assert base["paths"] == {"/health": {"get": {"summary": "Health."}}}
    assert SchemaGenerator(BASE).get_schema([])["paths"] == {}
    assert "paths" not in BASE


def test_base_generator_leaves_get_schema_to_subclasses() -> None:
    with pytest.raises(NotImplementedError):
        BaseSchemaGenerator().get_schema([])


# OpenAPIResponse


def test_openapi_response_renders_yaml() -> None:
    schema = OrderedDict([("paths", {"/a": {"get": {"tags": ("x", "y")}}}), ("openapi", "3.1.0")])
    response = OpenAPIResponse(schema)
    assert response.media_type == "application/vnd.oai.openapi"
    assert response.headers["content-type"] == "application/vnd.oai.openapi"
    assert response.body == (
        b"openapi: 3.1.0\npaths:\n  /a:\n    get:\n      tags:\n      - x\n      - y\n"
    )
    assert yaml.safe_load(bytes(response.body)) == {
        "openapi": "3.1.0",
        "paths": {"/a": {"get": {"tags": ["x", "y"]}}},
    }


@pytest.mark.parametrize("content", [None, "openapi: 3.1.0", ["a"], b"{}"])
def test_openapi_response_needs_a_dict(content: Any) -> None:
    with pytest.raises(AssertionError) as info:
        OpenAPIResponse(content)
    assert str(info.value) == "The schema passed to OpenAPIResponse should be a dictionary."


def test_openapi_response_as_a_bare_asgi_app(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await OpenAPIResponse({"openapi": "3.1.0"})(scope, receive, send)

    response = test_client_factory(app).get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.oai.openapi"
    assert response.text == "openapi: 3.1.0\n"


# Serving the schema


def test_schema_endpoint_in_an_application(test_client_factory: TestClientFactory) -> None:
    schemas = SchemaGenerator(BASE)
    sub = Stellate(routes=[Route("/items", list_items)])
    app = Stellate(
        routes=[
            Route("/items/{item_id:int}", get_item),
            Route("/orders", Orders),
            Mount("/sub", sub),
            Route(
                "/schema",
                endpoint=lambda r: schemas.OpenAPIResponse(request=r),
                include_in_schema=False,
            ),
        ]
    )
    response = test_client_factory(app).get("/schema")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.oai.openapi"
    assert yaml.safe_load(response.text) == {
        **BASE,
        "paths": {
            "/items/{item_id}": {"get": schemas.parse_docstring(get_item)},
            "/orders": {
                "get": {"responses": {200: {"description": "The orders."}}},
                "delete": {"responses": {204: {"description": "Orders cleared."}}},
            },
            "/sub/items": {"get": schemas.parse_docstring(list_items)},
        },
    }
    assert response.text.startswith("info:\n  title: Shop\n  version: '2.0'\nopenapi: 3.1.0\n")


def test_schema_endpoint_in_a_bare_router(test_client_factory: TestClientFactory) -> None:
    schemas = SchemaGenerator(BASE)

    async def schema(request: Request) -> Response:
        return schemas.OpenAPIResponse(request)

    router = Router(
        routes=[Route("/items", list_items), Route("/schema", schema, include_in_schema=False)]
    )
    response = test_client_factory(router).get("/schema")
    assert response.status_code == 200
    assert yaml.safe_load(response.text)["paths"] == {
        "/items": {"get": schemas.parse_docstring(list_items)}
    }
