"""Starlette-compatible behaviour of `CORSMiddleware`, through the umbrella."""

from __future__ import annotations

from typing import Any

import pytest

from stellate.applications import Stellate
from stellate.datastructures import Headers, MutableHeaders
from stellate.middleware import Middleware
from stellate.middleware.cors import ALL_METHODS, SAFELISTED_HEADERS, CORSMiddleware
from stellate.middleware.gzip import GZipMiddleware
from stellate.requests import Request
from stellate.responses import PlainTextResponse, Response
from stellate.routing import Route
from stellate.types import ASGIApp
from tests.conftest import TestClientFactory


def homepage(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Homepage")


def cors_app(
    *, endpoint: Any = homepage, methods: list[str] | None = None, **options: Any
) -> Stellate:
    return Stellate(
        routes=[Route("/", endpoint=endpoint, methods=methods)],
        middleware=[Middleware(CORSMiddleware, **options)],
    )


def test_module_constants() -> None:
    assert "QUERY" in ALL_METHODS
    assert ALL_METHODS[:7] == ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
    assert {"Accept", "Accept-Language", "Content-Language", "Content-Type"} == SAFELISTED_HEADERS


def test_wildcards_with_credentials(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(
        cors_app(
            allow_origins=["*"],
            allow_methods=["*"],
            allow_headers=["*"],
            allow_credentials=True,
            expose_headers=["X-Status"],
        )
    )
    response = client.options(
        "/",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "X-Custom",
        },
    )
    assert response.status_code == 200
    assert response.text == "OK"
    assert response.headers["access-control-allow-origin"] == "https://example.org"
    assert response.headers["access-control-allow-headers"] == "X-Custom"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "Origin"

    for extra in ({}, {"Cookie": "session=1"}):
        response = client.get("/", headers={"Origin": "https://example.org", **extra})
        assert response.text == "Homepage"
        assert response.headers["access-control-allow-origin"] == "https://example.org"
        assert response.headers["access-control-expose-headers"] == "X-Status"
        assert response.headers["access-control-allow-credentials"] == "true"

    response = client.get("/")
    assert response.text == "Homepage"
    assert "access-control-allow-origin" not in response.headers


def test_wildcards_without_credentials(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(
        cors_app(allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
    )
    response = client.options(
        "/",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-Custom",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-headers"] == "X-Custom"
    assert "access-control-allow-credentials" not in response.headers
    assert "vary" not in response.headers

    response = client.get("/", headers={"Origin": "https://example.org"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers

    response = client.get("/", headers={"Origin": "https://example.org", "Cookie": "a=1"})
    assert response.headers["access-control-allow-origin"] == "*"


def test_specific_origin(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(
        cors_app(allow_origins=["https://example.org"], allow_headers=["X-Custom", "Content-Type"])
    )
    response = client.options(
        "/",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-custom, Content-Type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://example.org"
    assert response.headers["access-control-allow-headers"] == (
        "Accept, Accept-Language, Content-Language, Content-Type, X-Custom"
    )
    assert response.headers["access-control-allow-methods"] == "GET"
    assert response.headers["access-control-max-age"] == "600"

    response = client.get("/", headers={"Origin": "https://example.org"})
    assert response.headers["access-control-allow-origin"] == "https://example.org"
    assert response.headers["vary"] == "Origin"

    response = client.get("/", headers={"Origin": "https://elsewhere.org"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_refused_preflights(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(
        cors_app(allow_origins=["https://example.org"], allow_headers=["X-Custom"])
    )
    response = client.options(
        "/",
        headers={
            "Origin": "https://elsewhere.org",
            "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "X-Unknown",
        },
    )
    assert response.status_code == 400
    assert response.text == "Disallowed CORS origin, method, headers"
    assert "access-control-allow-origin" not in response.headers

    response = client.options(
        "/",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-Unknown-1, X-Unknown-2",
        },
    )
    assert response.status_code == 400
    assert response.text == "Disallowed CORS headers"


def test_every_method_with_star(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(
        cors_app(
            allow_origins=["*"],
            allow_methods=["*"],
            methods=["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"],
        )
    )
    for method in ALL_METHODS:
        response = client.options(
            "/", headers={"Origin": "https://example.org", "Access-Control-Request-Method": method}
        )
        assert response.status_code == 200
        assert method in response.headers["access-control-allow-methods"]
    for method in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"):
        response = client.request(method, "/", headers={"Origin": "https://example.org"})
        assert response.status_code == 200, method


def test_origin_regex_must_match_fully(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(
        cors_app(allow_origin_regex=r"https://.*\.example\.org", allow_credentials=True)
    )
    response = client.get("/", headers={"Origin": "https://api.example.org"})
    assert response.headers["access-control-allow-origin"] == "https://api.example.org"
    assert response.headers["access-control-allow-credentials"] == "true"

    response = client.get("/", headers={"Origin": "https://api.example.org.attacker.net"})
    assert "access-control-allow-origin" not in response.headers

    response = client.options(
        "/", headers={"Origin": "http://api.example.org", "Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 400
    assert response.text == "Disallowed CORS origin"


def test_vary_is_merged_with_the_apps(test_client_factory: TestClientFactory) -> None:
    def varying(request: Request) -> PlainTextResponse:
        return PlainTextResponse("Homepage", headers={"Vary": "Accept-Encoding"})

    for options in (
        {"allow_origins": ["*"]},
        {"allow_origins": ["*"], "allow_credentials": True},
        {"allow_origins": ["https://example.org"]},
    ):
        client = test_client_factory(cors_app(endpoint=varying, **options))
        response = client.get("/", headers={"Origin": "https://example.org"})
        assert response.headers["vary"] == "Accept-Encoding, Origin"
        response = client.get("/")
        assert response.headers["vary"] == "Accept-Encoding, Origin"


@pytest.mark.parametrize(
    ("allow_origins", "allow_credentials", "origin", "expected"),
    [
        (["https://example.org"], False, "https://example.org", "https://example.org"),
        (["https://example.org"], False, "https://denied.org", None),
        (["https://example.org"], False, None, None),
        (["*"], False, "https://example.org", "*"),
        (["*"], False, None, None),
        (["*"], True, "https://example.org", "https://example.org"),
        (["*"], True, None, None),
    ],
)
def test_vary_origin_everywhere(
    test_client_factory: TestClientFactory,
    allow_origins: list[str],
    allow_credentials: bool,
    origin: str | None,
    expected: str | None,
) -> None:
    async def endpoint(request: Request) -> Response:
        response = PlainTextResponse("Homepage")
        response.headers.append("Vary", "Accept-Language")
        return response

    app = CORSMiddleware(
        Stellate(routes=[Route("/", endpoint)]),
        allow_origins=allow_origins,
        allow_credentials=allow_credentials,
    )
    client = test_client_factory(app)
    response = client.get("/", headers={"Origin": origin} if origin else {})
    assert {value.strip() for value in response.headers["vary"].split(",")} == {
        "Accept-Language",
        "Origin",
    }
    assert response.headers.get("access-control-allow-origin") == expected


@pytest.mark.parametrize("cors_outermost", [True, False])
def test_vary_with_gzip(test_client_factory: TestClientFactory, cors_outermost: bool) -> None:
    def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("Homepage", headers={"Vary": "Accept-Language"})

    app: ASGIApp = Stellate(routes=[Route("/", endpoint)])
    if cors_outermost:
        app = CORSMiddleware(GZipMiddleware(app, minimum_size=0), allow_origins=["https://a.org"])
    else:
        app = GZipMiddleware(CORSMiddleware(app, allow_origins=["https://a.org"]), minimum_size=0)
    client = test_client_factory(app)
    response = client.get("/", headers={"Origin": "https://a.org", "Accept-Encoding": "gzip"})
    assert response.text == "Homepage"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["access-control-allow-origin"] == "https://a.org"
    assert {value.strip() for value in response.headers["vary"].split(",")} == {
        "Accept-Language",
        "Accept-Encoding",
        "Origin",
    }


def test_private_network(test_client_factory: TestClientFactory) -> None:
    headers = {
        "Origin": "https://example.org",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Private-Network": "true",
    }
    allowed = test_client_factory(
        cors_app(allow_origins=["*"], allow_methods=["*"], allow_private_network=True)
    )
    response = allowed.options("/", headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-private-network"] == "true"
    response = allowed.get("/", headers=headers)
    assert "access-control-allow-private-network" not in response.headers

    refused = test_client_factory(cors_app(allow_origins=["*"], allow_methods=["*"]))
    response = refused.options("/", headers=headers)
    assert response.status_code == 400
    assert response.text == "Disallowed CORS private-network"


def test_origin_does_not_leak_between_requests(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(cors_app(allow_origins=["https://example.org"]))
    assert client.get("/", headers={"Origin": "https://example.org"}).headers[
        "access-control-allow-origin"
    ] == ("https://example.org")
    response = client.get("/", headers={"Origin": "https://other.org"})
    assert "access-control-allow-origin" not in response.headers


def test_methods_are_usable_directly() -> None:
    middleware = CORSMiddleware(PlainTextResponse("x"), allow_origins=["https://example.org"])
    assert middleware.is_allowed_origin("https://example.org")
    assert not middleware.is_allowed_origin("https://example.org.evil")
    response = middleware.preflight_response(
        Headers({"origin": "https://evil.org", "access-control-request-method": "GET"})
    )
    assert response.status_code == 400
    assert response.body == b"Disallowed CORS origin"

    headers = MutableHeaders()
    CORSMiddleware.allow_explicit_origin(headers, "https://example.org")
    assert headers["access-control-allow-origin"] == "https://example.org"
    assert headers["vary"] == "Origin"
