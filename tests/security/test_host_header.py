"""`Host` header games: `request.url` must always describe the request that was routed.

Starlette built `request.url` by pasting the Host header in front of the path, so
`Host: evil.com/admin?` made `request.url.path` say `/admin` while the router had
matched `/users/1`, and a scope path without a leading slash (`evil.com/x`) moved
`request.url.hostname`. Here a Host header that is not a well-formed `host[:port]` is
ignored (the server address stands in), `TrustedHostMiddleware` answers it 400, and
a path can never reach the authority of a URL.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stellate.applications import Stellate
from stellate_asgi.types import Receive, Scope, Send
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, PlainTextResponse, Response
from stellate_middleware import Middleware
from stellate_middleware.httpsredirect import HTTPSRedirectMiddleware
from stellate_middleware.trustedhost import TrustedHostMiddleware
from stellate_routing.routing import Host, Mount, Route, Router
from tests.security._asgi import http_scope, request

pytestmark = pytest.mark.anyio

# Host headers that are not `host[:port]`: each tries to smuggle a path, a query, a
# fragment, userinfo, a second host or junk into URLs built from the request.
HOSTILE_HOSTS = [
    b"evil.com/admin?",
    b"evil.com/admin#",
    b"evil.com?next=",
    b"evil.com#",
    b"a@b",
    b"user:pass@evil.com",
    b"testserver@evil.com",
    b"evil.com:80@testserver",
    b"evil.com admin",
    b" evil.com",
    b"evil.com\t",
    b"evil.com\\admin",
    b"evil.com:80/admin",
    b"evil.com:abc",
    b"evil.com:99999",
    b"evil.com:80:80",
    b"[::1",
    b"[evil.com]",
    b"\xe9vil.com",
    b"evil.com\x00",
    b":80",
    b"x" * 2000,
]


async def user(request: Request) -> Response:
    return JSONResponse(
        {
            "url": str(request.url),
            "path": request.url.path,
            "hostname": request.url.hostname,
            "base_url": str(request.base_url),
            "url_for": str(request.url_for("user", id="2")),
            "mounted_url_for": str(request.url_for("api:item", id="3")),
        }
    )


async def item(request: Request) -> Response:
    return PlainTextResponse("item")


def application(**kwargs: Any) -> Stellate:
    return Stellate(
        routes=[
            Route("/users/{id}", user, name="user"),
            Mount("/api", routes=[Route("/items/{id}", item, name="item")], name="api"),
        ],
        **kwargs,
    )


def with_host(scope: Scope, host: bytes) -> Scope:
    scope["headers"] = [(b"host", host)]
    return scope


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
async def test_hostile_host_never_reaches_request_url(host: bytes) -> None:
    exchange = await request(application(), with_host(http_scope("/users/1"), host))

    assert exchange.status == 200
    assert (
        exchange.body
        == JSONResponse(
            {
                "url": "http://testserver/users/1",
                "path": "/users/1",
                "hostname": "testserver",
                "base_url": "http://testserver/",
                "url_for": "http://testserver/users/2",
                "mounted_url_for": "http://testserver/api/items/3",
            }
        ).body
    )


@pytest.mark.parametrize(
    ("host", "url"),
    [
        (b"example.com", "http://example.com/users/1"),
        (b"EXAMPLE.com:8000", "http://EXAMPLE.com:8000/users/1"),
        (b"[::1]:8000", "http://[::1]:8000/users/1"),
        (b"127.0.0.1", "http://127.0.0.1/users/1"),
    ],
)
async def test_well_formed_hosts_are_used(host: bytes, url: str) -> None:
    exchange = await request(application(), with_host(http_scope("/users/1"), host))

    assert exchange.status == 200
    assert f'"url":"{url}"'.encode() in exchange.body
    assert b'"path":"/users/1"' in exchange.body


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
async def test_trusted_host_middleware_refuses_hostile_hosts(host: bytes) -> None:
    app = application(
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["testserver", "*.test"])]
    )

    exchange = await request(app, with_host(http_scope("/users/1"), host))

    assert exchange.status == 400
    assert exchange.body == b"Invalid host header"


@pytest.mark.parametrize(
    "host",
    [
        b"example.com/.allowed.test",
        b"example.com?.allowed.test",
        b"example.com#.allowed.test",
        b"evil.com@api.allowed.test",
        b"api.allowed.test@evil.com",
        b"allowed.test.evil.com",
        b"evilallowed.test",
        b"allowed.test",
        b"api.allowed.test/",
        b"api.allowed.test:80/x",
    ],
)
async def test_wildcard_patterns_cannot_be_fooled(host: bytes) -> None:
    app = TrustedHostMiddleware(application(), allowed_hosts=["*.allowed.test"])

    exchange = await request(app, with_host(http_scope("/users/1"), host))

    assert exchange.status == 400
    assert exchange.body == b"Invalid host header"


async def test_repeated_or_missing_host_is_refused() -> None:
    app = TrustedHostMiddleware(application(), allowed_hosts=["testserver"])
    scope = http_scope("/users/1", headers=[(b"host", b"testserver"), (b"host", b"evil.com")])

    repeated = await request(app, scope)
    missing = await request(app, http_scope("/users/1", headers=[]))

    assert (repeated.status, repeated.body) == (400, b"Invalid host header")
    assert (missing.status, missing.body) == (400, b"Invalid host header")


@pytest.mark.parametrize(
    ("path", "url_path"),
    [
        ("evil.com/x", "/evil.com/x"),
        ("@evil.com/x", "/@evil.com/x"),
        ("//evil.com/x", "//evil.com/x"),
        ("\\\\evil.com/x", "/\\\\evil.com/x"),
        (":@evil.com", "/:@evil.com"),
    ],
)
@pytest.mark.parametrize("host", [b"testserver", None])
async def test_a_path_without_a_leading_slash_never_moves_the_hostname(
    path: str, url_path: str, host: bytes | None
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        url = Request(scope, receive).url
        body = {"hostname": url.hostname, "netloc": url.netloc, "path": url.path}
        await JSONResponse(body)(scope, receive, send)

    scope = http_scope(path, headers=[] if host is None else [(b"host", host)])

    exchange = await request(app, scope)

    assert json.loads(exchange.body) == {
        "hostname": "testserver",
        "netloc": "testserver",
        "path": url_path,
    }


@pytest.mark.parametrize("path", ["evil.com/x", "@evil.com/x", "//evil.com/x", "/\\evil.com/x"])
async def test_url_without_any_host_stays_a_path(path: str) -> None:
    # No Host header and no server address: the URL is a bare path, which must not
    # read as a network-path reference ("//host/...") either.
    scope = http_scope(path, headers=[])
    del scope["server"]

    url = Request(scope).url

    assert url.hostname is None
    assert url.netloc == ""
    assert url.path.startswith("/")
    assert not str(url).startswith("//")


async def test_slash_redirect_never_points_at_another_host() -> None:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Router([Route("/{rest:path}/", endpoint)])
    scope = http_scope("//evil.com", headers=[])
    del scope["server"]

    exchange = await request(app, scope)

    assert exchange.status == 307
    location = exchange.header("location") or ""
    assert not location.startswith("//")
    assert not location.startswith("/\\")
    assert location.startswith("/")


@pytest.mark.parametrize(
    "host",
    [b"api.example.com/" + host for host in HOSTILE_HOSTS]
    + [host + b".example.com" for host in HOSTILE_HOSTS]
    + [b"api.example.com@evil.com", b"evil.com/api.example.com"],
)
async def test_host_routes_do_not_match_hostile_hosts(host: bytes) -> None:
    app = host_routed_app()

    exchange = await request(app, with_host(http_scope("/"), host))

    assert exchange.status == 200
    assert exchange.body == b"fallback"


@pytest.mark.parametrize("host", [b"api.example.com", b"API.example.com:8080"])
async def test_host_routes_match_well_formed_hosts(host: bytes) -> None:
    exchange = await request(host_routed_app(), with_host(http_scope("/"), host))

    assert exchange.body == b"subdomain"


def host_routed_app() -> Router:
    return Router(
        [
            Host("{sub}.example.com", app=PlainTextResponse("subdomain")),
            Route("/", PlainTextResponse("fallback")),
        ]
    )


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
async def test_https_redirect_ignores_hostile_hosts(host: bytes) -> None:
    app = HTTPSRedirectMiddleware(application())

    exchange = await request(app, with_host(http_scope("/users/1"), host))

    assert exchange.status == 307
    assert exchange.header("location") == "https://testserver/users/1"
