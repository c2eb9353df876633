"""Routing among many routes: parameterised, static, 404 and 405, hit with varied paths."""

from __future__ import annotations

import starlette.applications
import starlette.requests
import starlette.responses
import starlette.routing

import stellate.applications
import stellate.requests
import stellate.responses
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

# Distinct paths per scenario: enough that no per-path cache can hide the lookup.
DISTINCT_PATHS = 1024
# Prime, so stepping by it spreads the paths over every route of 10, 100 or 1,000.
STRIDE = 7919
TEXT = b"text/plain; charset=utf-8"


def _raw_parameterised(count: int) -> ASGIApp:
    """A hand-written router for `/resource{i}/{item_id}`: a set lookup on the first segment."""
    prefixes = frozenset(f"resource{index}" for index in range(count))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        _, first, *rest = scope["path"].split("/")
        if first not in prefixes or len(rest) != 1 or not rest[0]:
            await send_response(send, 404, b"Not Found", TEXT)
        elif scope["method"] not in ("GET", "HEAD"):
            await send_response(send, 405, b"Method Not Allowed", TEXT)
        else:
            await send_response(send, 200, rest[0].encode(), TEXT)

    return app


def _raw_static(count: int) -> ASGIApp:
    """A hand-written router for `/static{i}/page`: one set lookup."""
    pages = frozenset(f"/static{index}/page" for index in range(count))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] in pages:
            await send_response(send, 200, b"page", TEXT)
        else:
            await send_response(send, 404, b"Not Found", TEXT)

    return app


async def _stellate_item(request: stellate.requests.Request) -> stellate.responses.Response:
    return stellate.responses.PlainTextResponse(request.path_params["item_id"])


async def _starlette_item(request: starlette.requests.Request) -> starlette.responses.Response:
    return starlette.responses.PlainTextResponse(request.path_params["item_id"])


async def _stellate_page(request: stellate.requests.Request) -> stellate.responses.Response:
    return stellate.responses.PlainTextResponse("page")


async def _starlette_page(request: starlette.requests.Request) -> starlette.responses.Response:
    return starlette.responses.PlainTextResponse("page")


def _parameterised_apps(count: int) -> dict[str, ASGIApp]:
    paths = [f"/resource{index}/{{item_id}}" for index in range(count)]
    return {
        "raw": _raw_parameterised(count),
        "stellate": stellate.applications.Stellate(
            routes=[stellate.routing.Route(path, _stellate_item) for path in paths]
        ),
        "starlette": starlette.applications.Starlette(
            routes=[starlette.routing.Route(path, _starlette_item) for path in paths]
        ),
    }


def _static_apps(count: int) -> dict[str, ASGIApp]:
    paths = [f"/static{index}/page" for index in range(count)]
    return {
        "raw": _raw_static(count),
        "stellate": stellate.applications.Stellate(
            routes=[stellate.routing.Route(path, _stellate_page) for path in paths]
        ),
        "starlette": starlette.applications.Starlette(
            routes=[starlette.routing.Route(path, _starlette_page) for path in paths]
        ),
    }


def _spread(method: str, count: int, template: str) -> list[Request]:
    """`DISTINCT_PATHS` requests spread over `count` routes, each path different."""
    return [
        Request(http_scope(method, template.format(index=(k * STRIDE) % count, k=k)))
        for k in range(DISTINCT_PATHS)
    ]


def scenarios() -> list[Scenario]:
    """Parameterised routes among 10, 100 and 1,000; static, 404 and 405 among 1,000."""
    result = [
        Scenario(
            f"param among {count:,}",
            _parameterised_apps(count),
            _spread("GET", count, "/resource{index}/{k}"),
            200,
        )
        for count in (10, 100, 1000)
    ]
    many = result[-1].apps
    result += [
        Scenario(
            "static among 1,000",
            _static_apps(1000),
            _spread("GET", 1000, "/static{index}/page"),
            200,
        ),
        Scenario("404 among 1,000", many, _spread("GET", 1000, "/missing{index}/{k}"), 404),
        Scenario("405 among 1,000", many, _spread("POST", 1000, "/resource{index}/{k}"), 405),
    ]
    return result
