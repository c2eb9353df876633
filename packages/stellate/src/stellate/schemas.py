"""OpenAPI schemas from endpoint docstrings: `SchemaGenerator` and `OpenAPIResponse`.

Each endpoint documents itself with YAML in its docstring (after a `---` line when
prose comes first). `SchemaGenerator(base_schema).get_schema(routes)` collects them
under `"paths"`, and `OpenAPIResponse` serves the result as YAML:

    schemas = SchemaGenerator({"openapi": "3.0.0", "info": {...}})
    Route("/schema", endpoint=lambda r: schemas.OpenAPIResponse(request=r),
          include_in_schema=False)

YAML needs the optional `pyyaml` package: `pip install 'stellate[schemas]'`.
"""

from __future__ import annotations

import functools
import inspect
import re
import textwrap
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from stellate_http.requests import Request
from stellate_http.responses import Response
from stellate_routing.routing import BaseRoute, Host, Mount, Route

__all__ = [
    "BaseRoute",
    "BaseSchemaGenerator",
    "EndpointInfo",
    "Host",
    "Mount",
    "OpenAPIResponse",
    "Request",
    "Response",
    "Route",
    "SchemaGenerator",
]

# The methods an endpoint class (such as an `HTTPEndpoint`) may document, in the
# order they are listed.
_CLASS_METHODS = ("get", "post", "put", "patch", "delete", "options", "query")

# `{name:convertor}` in a route path; OpenAPI knows only `{name}`.
_CONVERTOR = re.compile(r"(\{\w+):\w+\}")

# A line holding only `---` separates prose from the YAML in a docstring.
_SEPARATOR = re.compile(r"^[ \t]*---[ \t]*$", re.MULTILINE)

_MISSING_YAML = (
    "Stellate's schemas need the `pyyaml` package: install it with "
    "`pip install 'stellate[schemas]'`."
)


class OpenAPIResponse(Response):
    """A schema `dict` rendered as YAML, served as `application/vnd.oai.openapi`."""

    media_type = "application/vnd.oai.openapi"

    def render(self, content: Any) -> bytes:
        try:
            import yaml
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(_MISSING_YAML) from exc

        if not isinstance(content, Mapping):
            raise AssertionError("The schema passed to OpenAPIResponse should be a dictionary.")
        rendered: str = yaml.safe_dump(_plain(content), default_flow_style=False)
        return rendered.encode("utf-8")


class EndpointInfo(NamedTuple):
    """One documented operation: the OpenAPI `path`, the lowercase `http_method`, and
    the `func` whose docstring describes it."""

    path: str
    http_method: str
    func: Callable[..., Any]


class BaseSchemaGenerator:
    """Walks routes and parses docstrings; subclasses build the schema in `get_schema`."""

    def get_schema(self, routes: list[BaseRoute]) -> dict[str, Any]:
        """The schema for `routes`."""
        raise NotImplementedError()

    def get_endpoints(self, routes: list[BaseRoute]) -> list[EndpointInfo]:
        """One `EndpointInfo` per operation that `routes` serve, `Mount` and `Host`
        included (their routes are walked, paths prefixed with the mount's).

        Function endpoints give one entry per method of the route (HEAD left out);
        endpoint classes one per method they define. Routes with
        `include_in_schema=False` and WebSocket routes are left out.
        """
        endpoints: list[EndpointInfo] = []
        for route in routes:
            if isinstance(route, Mount | Host):
                prefix = _strip_convertors(route.path) if isinstance(route, Mount) else ""
                endpoints.extend(
                    EndpointInfo(prefix + info.path, info.http_method, info.func)
                    for info in self.get_endpoints(route.routes or [])
                )
            elif isinstance(route, Route) and route.include_in_schema:
                endpoints.extend(_route_endpoints(route))
        return endpoints

    def parse_docstring(self, func_or_method: Callable[..., Any]) -> dict[str, Any]:
        """The YAML mapping in the docstring of `func_or_method` (after its last `---`
        line, if any), or `{}` when the docstring holds no mapping.

        A docstring without a `---` line that is not valid YAML counts as prose; after
        a `---` line, invalid YAML raises `yaml.YAMLError`.
        """
        docstring = _unwrap(func_or_method).__doc__
        if not docstring or not docstring.strip():
            return {}
        try:
            import yaml
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(_MISSING_YAML) from exc

        sections = _SEPARATOR.split(docstring)
        text = textwrap.dedent(sections[-1])
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            if len(sections) > 1:
                raise
            return {}
        # Prose parses as a plain string; only a mapping describes an operation.
        return parsed if isinstance(parsed, dict) else {}

    def OpenAPIResponse(self, request: Request) -> Response:
        """The schema of the application serving `request`, as an `OpenAPIResponse`.

        Outside an application (a bare `Router`), the schema of that router.
        """
        app = request.scope["app"] if "app" in request.scope else request.scope["router"]
        return OpenAPIResponse(self.get_schema(routes=app.routes))


class SchemaGenerator(BaseSchemaGenerator):
    """Builds `base_schema` plus a `"paths"` entry from the endpoints' docstrings."""

    def __init__(self, base_schema: dict[str, Any]) -> None:
        self.base_schema = base_schema

    def get_schema(self, routes: list[BaseRoute]) -> dict[str, Any]:
        schema = dict(self.base_schema)
        # A copy, so that repeated calls never add to the caller's base schema.
        paths: dict[str, Any] = {
            path: dict(operations) for path, operations in schema.get("paths", {}).items()
        }
        schema["paths"] = paths
        for endpoint in self.get_endpoints(routes):
            parsed = self.parse_docstring(endpoint.func)
            if parsed:
                paths.setdefault(endpoint.path, {})[endpoint.http_method] = parsed
        return schema


def _route_endpoints(route: Route) -> list[EndpointInfo]:
    path = _strip_convertors(route.path)
    endpoint = route.endpoint
    if inspect.isfunction(_unwrap(endpoint)) or inspect.ismethod(_unwrap(endpoint)):
        methods = sorted(route.methods or ["GET"])
        return [
            EndpointInfo(path, method.lower(), endpoint) for method in methods if method != "HEAD"
        ]
    # An endpoint class serves the methods it defines (and that the route allows).
    return [
        EndpointInfo(path, method, getattr(endpoint, method))
        for method in _CLASS_METHODS
        if hasattr(endpoint, method) and (route.methods is None or method.upper() in route.methods)
    ]


def _unwrap(func: Callable[..., Any]) -> Callable[..., Any]:
    """The function under any `functools.partial` layers (it holds the docstring)."""
    while isinstance(func, functools.partial):
        func = func.func
    return func


def _strip_convertors(path: str) -> str:
    return _CONVERTOR.sub(r"\1}", path)


def _plain(value: Any) -> Any:
    """`value` with mappings as dicts and tuples as lists, so that YAML's safe dumper
    (which writes no Python-specific tags) accepts it."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
