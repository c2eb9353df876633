"""Starlette-compatible behaviour of `TrustedHostMiddleware`, through the umbrella."""

from __future__ import annotations

import pytest

from stellate._utils import parse_host_header
from stellate.applications import Stellate
from stellate.middleware import Middleware
from stellate.middleware.trustedhost import ENFORCE_DOMAIN_WILDCARD, TrustedHostMiddleware
from stellate.middleware.trustedhost import parse_host_header as reexported
from stellate.requests import Request
from stellate.responses import PlainTextResponse
from stellate.routing import Route
from stellate.testclient import WebSocketDenialResponse
from stellate.types import Receive, Scope, Send
from stellate.websockets import WebSocket, WebSocketDisconnect
from tests.conftest import TestClientFactory


def homepage(request: Request) -> PlainTextResponse:
    return PlainTextResponse("OK")


def host_app(*allowed_hosts: str, www_redirect: bool = True) -> Stellate:
    return Stellate(
        routes=[Route("/", homepage)],
        middleware=[
            Middleware(
                TrustedHostMiddleware, allowed_hosts=list(allowed_hosts), www_redirect=www_redirect
            )
        ],
    )


async def websocket_app(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    await websocket.send_text("OK")
    await websocket.close()


def test_parse_host_header_is_shared() -> None:
    assert reexported is parse_host_header


def test_trusted_hosts(test_client_factory: TestClientFactory) -> None:
    app = host_app("testserver", "*.testserver")
    assert test_client_factory(app).get("/").status_code == 200
    assert test_client_factory(app, base_url="http://api.testserver").get("/").status_code == 200
    response = test_client_factory(app, base_url="http://elsewhere").get("/")
    assert response.status_code == 400
    assert response.text == "Invalid host header"


def test_default_is_any_host() -> None:
    middleware = TrustedHostMiddleware(Stellate())
    assert middleware.allowed_hosts == ["*"]


@pytest.mark.parametrize("pattern", ["*.example.*", "*example.com", "exa*mple.com"])
def test_wildcard_must_lead_a_domain(pattern: str) -> None:
    with pytest.raises(AssertionError, match=r"^Domain wildcard patterns must be like"):
        TrustedHostMiddleware(Stellate(), allowed_hosts=[pattern])
    assert ENFORCE_DOMAIN_WILDCARD == "Domain wildcard patterns must be like '*.example.com'."


def test_www_redirect(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(host_app("www.example.com"), base_url="https://example.com")
    response = client.get("/")
    assert response.status_code == 200
    assert response.url == "https://www.example.com/"

    client = test_client_factory(
        host_app("www.example.com", www_redirect=False), base_url="https://example.com"
    )
    assert client.get("/").status_code == 400


def test_ipv6_and_case(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(host_app("[::1]", "Example.com"))
    for host in ("[::1]", "[::1]:8000", "EXAMPLE.COM", "example.com:80"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host
    for host in ("[::2]", "[::1]x", "[::1]:99999", "example.com.evil"):
        assert client.get("/", headers={"Host": host}).status_code == 400, host


def test_websocket_denial(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(TrustedHostMiddleware(websocket_app, allowed_hosts=["testserver"]))
    with client.websocket_connect("/") as websocket:
        assert websocket.receive_text() == "OK"

    with (
        pytest.raises(WebSocketDenialResponse) as info,
        client.websocket_connect("ws://elsewhere/"),
    ):
        pass  # pragma: no cover
    assert info.value.status_code == 400
    assert info.value.content == b"Invalid host header"


def test_websocket_closed_without_denial_extension(test_client_factory: TestClientFactory) -> None:
    middleware = TrustedHostMiddleware(websocket_app, allowed_hosts=["testserver"])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope.get("extensions", {}).pop("websocket.http.response", None)
        await middleware(scope, receive, send)

    with (
        pytest.raises(WebSocketDisconnect) as info,
        test_client_factory(app).websocket_connect("ws://elsewhere/"),
    ):
        pass  # pragma: no cover
    assert info.value.code == 1008
