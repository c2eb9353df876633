from __future__ import annotations

import pytest

from stellate_asgi.exceptions import WebSocketDisconnect
from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_middleware import Middleware
from stellate_middleware.trustedhost import ENFORCE_DOMAIN_WILDCARD, TrustedHostMiddleware
from stellate_routing.routing import Route, Router, WebSocketRoute
from stellate_testclient import WebSocketDenialResponse
from stellate_websockets.websockets import WebSocket
from tests.conftest import TestClientFactory
from tests.middleware._messages import call, http_scope


async def homepage(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("OK")(scope, receive, send)


async def websocket_app(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    await websocket.send_text("OK")
    await websocket.close()


def test_allowed_hosts_and_wildcards(test_client_factory: TestClientFactory) -> None:
    app = TrustedHostMiddleware(homepage, allowed_hosts=["testserver", "*.testserver"])

    response = test_client_factory(app).get("/")
    assert response.status_code == 200
    assert response.text == "OK"

    response = test_client_factory(app, base_url="http://sub.testserver").get("/")
    assert response.status_code == 200
    response = test_client_factory(app, base_url="http://a.b.testserver:8000").get("/")
    assert response.status_code == 200

    for base_url in ("http://invalidhost", "http://testserver.evil.com", "http://eviltestserver"):
        response = test_client_factory(app, base_url=base_url).get("/")
        assert response.status_code == 400
        assert response.text == "Invalid host header"
        assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_wildcard_does_not_match_the_bare_domain(test_client_factory: TestClientFactory) -> None:
    app = TrustedHostMiddleware(homepage, allowed_hosts=["*.example.com"])
    response = test_client_factory(app, base_url="http://example.com").get("/")
    assert response.status_code == 400
    response = test_client_factory(app, base_url="http://www.example.com").get("/")
    assert response.status_code == 200


def test_default_allows_any_host(test_client_factory: TestClientFactory) -> None:
    middleware = TrustedHostMiddleware(homepage)
    assert middleware.allowed_hosts == ["*"]
    assert middleware.allow_any
    client = test_client_factory(middleware)
    response = client.get("/", headers={"Host": "anything.example"})
    assert response.status_code == 200

    # With "*" even a malformed Host header is the app's business.
    star = TrustedHostMiddleware(homepage, allowed_hosts=["example.com", "*"])
    response = test_client_factory(star).get("/", headers={"Host": "bad host"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "pattern", ["*example.com", "example.*", "*.*.example.com", "**", "ex*ample.com", "*a"]
)
def test_bad_wildcard_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(AssertionError) as info:
        TrustedHostMiddleware(homepage, allowed_hosts=["ok.com", pattern])
    assert str(info.value) == ENFORCE_DOMAIN_WILDCARD


def test_hosts_are_case_insensitive(test_client_factory: TestClientFactory) -> None:
    app = TrustedHostMiddleware(homepage, allowed_hosts=["Example.COM", "*.Sub.Example.com"])
    client = test_client_factory(app)
    for host in ("example.com", "EXAMPLE.com:8080", "a.SUB.example.COM", "example.com."):
        response = client.get("/", headers={"Host": host})
        assert response.status_code == 200, host


def test_ip_addresses(test_client_factory: TestClientFactory) -> None:
    app = TrustedHostMiddleware(homepage, allowed_hosts=["127.0.0.1", "[::1]", "2001:DB8::1"])
    client = test_client_factory(app)
    allowed = ["127.0.0.1", "127.0.0.1:8000", "[::1]", "[::1]:8000", "[0:0::1]", "[2001:db8::1]:1"]
    for host in allowed:
        response = client.get("/", headers={"Host": host})
        assert response.status_code == 200, host
    for host in ["127.0.0.2", "[::2]:8000", "[::1]evil.com", "[::1", "::1", "[127.0.0.1]"]:
        response = client.get("/", headers={"Host": host})
        assert response.status_code == 400, host


def test_ipv6_base_url(test_client_factory: TestClientFactory) -> None:
    app = TrustedHostMiddleware(homepage, allowed_hosts=["[::1]"])
    response = test_client_factory(app, base_url="http://[::1]:8000").get("/")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "",
        "testserver:",
        "testserver:abc",
        "testserver:65536",
        "testserver:8000:1",
        "testserver/path",
        "user@testserver",
        "testserver?x",
        "test server",
        "testserver\u00e9",
        "testserver" + "x" * 5000,
        "[::1]:80x",
    ],
)
def test_malformed_host_headers_get_400(test_client_factory: TestClientFactory, host: str) -> None:
    app = TrustedHostMiddleware(homepage, allowed_hosts=["testserver", "*.testserver", "[::1]"])
    client = test_client_factory(app)
    response = client.get("/", headers={b"Host": host.encode("latin-1")})
    if host == "testserver:":
        # An empty port is allowed by RFC 3986 and means the default one.
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert response.text == "Invalid host header"


@pytest.mark.anyio
async def test_missing_or_repeated_host_header_gets_400() -> None:
    middleware = TrustedHostMiddleware(homepage, allowed_hosts=["testserver"])

    start = (await call(middleware, http_scope(None)))[0]
    assert start["status"] == 400

    repeated = http_scope(None, headers=[(b"host", b"testserver"), (b"host", b"evil.com")])
    start, body = await call(middleware, repeated)
    assert start["status"] == 400
    assert body["body"] == b"Invalid host header"

    start, body = await call(middleware, http_scope(None, headers=[(b"host", b"testserver")]))
    assert (start["status"], body["body"]) == (200, b"OK")


@pytest.mark.anyio
async def test_remembered_hosts_keep_every_check() -> None:
    # Allowed `Host` values are remembered (a bounded few): that must not let a repeated
    # header through, nor stop hosts past the bound from being checked.
    middleware = TrustedHostMiddleware(homepage, allowed_hosts=["*.testserver"])
    for number in range(100):
        host = f"a{number}.testserver".encode()
        for _ in range(2):
            start = (await call(middleware, http_scope(None, headers=[(b"host", host)])))[0]
            assert start["status"] == 200
    twice = http_scope(None, headers=[(b"host", b"a1.testserver"), (b"host", b"a1.testserver")])
    assert (await call(middleware, twice))[0]["status"] == 400
    for host in (b"testserver", b"a1.testserver.evil.com", b"a99.testserver:x"):
        start = (await call(middleware, http_scope(None, headers=[(b"host", host)])))[0]
        assert start["status"] == 400


def test_www_redirect(test_client_factory: TestClientFactory) -> None:
    app = TrustedHostMiddleware(homepage, allowed_hosts=["www.example.com"])

    client = test_client_factory(app, base_url="https://example.com")
    response = client.get("/path?x=1", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "https://www.example.com/path?x=1"

    response = client.get("/")
    assert response.status_code == 200
    assert response.url == "https://www.example.com/"

    client = test_client_factory(app, base_url="http://example.com:8000")
    response = client.get("/", follow_redirects=False)
    assert response.headers["location"] == "http://www.example.com:8000/"

    # Only the host with "www." removed is redirected.
    client = test_client_factory(app, base_url="http://other.com")
    assert client.get("/", follow_redirects=False).status_code == 400


def test_www_redirect_can_be_turned_off(test_client_factory: TestClientFactory) -> None:
    app = TrustedHostMiddleware(homepage, allowed_hosts=["www.example.com"], www_redirect=False)
    client = test_client_factory(app, base_url="https://example.com")
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 400
    assert response.text == "Invalid host header"


def test_websocket(test_client_factory: TestClientFactory) -> None:
    app = TrustedHostMiddleware(websocket_app, allowed_hosts=["testserver"])
    client = test_client_factory(app)

    with client.websocket_connect("/") as websocket:
        assert websocket.receive_text() == "OK"

    # The test client supports the denial extension: the 400 is the answer.
    with (
        pytest.raises(WebSocketDenialResponse) as info,
        client.websocket_connect("ws://invalidhost/"),
    ):
        pass  # pragma: no cover
    assert info.value.status_code == 400
    assert info.value.content == b"Invalid host header"


def test_websocket_www_redirect(test_client_factory: TestClientFactory) -> None:
    app = TrustedHostMiddleware(websocket_app, allowed_hosts=["www.example.com"])
    client = test_client_factory(app)
    with (
        pytest.raises(WebSocketDenialResponse) as info,
        client.websocket_connect("ws://example.com/chat"),
    ):
        pass  # pragma: no cover
    assert info.value.status_code == 307
    assert info.value.headers["location"] == "ws://www.example.com/chat"


def test_websocket_without_denial_extension_is_closed(
    test_client_factory: TestClientFactory,
) -> None:
    middleware = TrustedHostMiddleware(websocket_app, allowed_hosts=["testserver"])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope.get("extensions", {}).pop("websocket.http.response", None)
        await middleware(scope, receive, send)

    client = test_client_factory(app)
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("ws://invalidhost/"):
        pass  # pragma: no cover
    assert info.value.code == 1008


@pytest.mark.anyio
async def test_lifespan_passes_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}  # pragma: no cover

    async def send(message: Message) -> None:
        pass  # pragma: no cover

    middleware = TrustedHostMiddleware(app, allowed_hosts=["example.com"])
    await middleware({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert seen == ["lifespan"]


def test_string_allowed_hosts_is_one_host(test_client_factory: TestClientFactory) -> None:
    app = TrustedHostMiddleware(homepage, allowed_hosts="testserver")
    assert app.allowed_hosts == ["testserver"]
    assert test_client_factory(app).get("/").status_code == 200
    response = test_client_factory(app, base_url="http://t").get("/")
    assert response.status_code == 400


def test_inside_a_router(test_client_factory: TestClientFactory) -> None:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(f"Hello {request.url.hostname}")

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("socket")
        await websocket.close()

    router = Router(
        routes=[Route("/", endpoint), WebSocketRoute("/ws", socket)],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["*.example.org"])],
    )
    client = test_client_factory(router, base_url="http://api.example.org")
    assert client.get("/").text == "Hello api.example.org"
    with client.websocket_connect("ws://api.example.org/ws") as websocket:
        assert websocket.receive_text() == "socket"

    response = client.get("/", headers={"Host": "evil.org"})
    assert response.status_code == 400
    assert response.text == "Invalid host header"
