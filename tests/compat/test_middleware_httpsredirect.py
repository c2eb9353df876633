"""Starlette-compatible behaviour of `HTTPSRedirectMiddleware`, through the umbrella."""

from __future__ import annotations

import pytest

from stellate.applications import Stellate
from stellate.middleware import Middleware
from stellate.middleware.httpsredirect import HTTPSRedirectMiddleware
from stellate.requests import Request
from stellate.responses import PlainTextResponse
from stellate.routing import Route
from stellate.testclient import WebSocketDenialResponse
from stellate.types import Receive, Scope, Send
from stellate.websockets import WebSocket
from tests.conftest import TestClientFactory


def homepage(request: Request) -> PlainTextResponse:
    return PlainTextResponse("OK")


def redirect_app() -> Stellate:
    return Stellate(routes=[Route("/", homepage)], middleware=[Middleware(HTTPSRedirectMiddleware)])


def test_secure_requests_pass(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(redirect_app(), base_url="https://testserver")
    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "OK"


@pytest.mark.parametrize(
    ("base_url", "host", "location"),
    [
        ("http://testserver", None, "https://testserver/"),
        ("http://testserver:80", None, "https://testserver/"),
        ("http://testserver:443", None, "https://testserver/"),
        ("http://testserver:8443", None, "https://testserver:8443/"),
        ("http://testserver", "testserver:0080", "https://testserver/"),
        ("http://testserver", "testserver:99999", "https://testserver/"),
        ("http://testserver", "[::::]", "https://testserver/"),
        ("http://[::1]", "[::::]", "https://[::1]/"),
    ],
)
def test_insecure_requests_redirect(
    test_client_factory: TestClientFactory, base_url: str, host: str | None, location: str
) -> None:
    client = test_client_factory(redirect_app(), base_url=base_url)
    headers = {"host": host} if host else {}
    response = client.get("/", headers=headers, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == location


def test_websocket_redirect(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.close()  # pragma: no cover

    client = test_client_factory(HTTPSRedirectMiddleware(app))
    with (
        pytest.raises(WebSocketDenialResponse) as info,
        client.websocket_connect("ws://testserver/feed"),
    ):
        pass  # pragma: no cover
    assert info.value.status_code == 307
    assert info.value.headers["location"] == "wss://testserver/feed"
