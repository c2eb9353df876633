from __future__ import annotations

import pytest

from stellate_asgi.exceptions import WebSocketDisconnect
from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_middleware import Middleware
from stellate_middleware.httpsredirect import HTTPSRedirectMiddleware
from stellate_routing.routing import Route, Router, WebSocketRoute
from stellate_testclient import WebSocketDenialResponse
from stellate_websockets.websockets import WebSocket
from tests.conftest import TestClientFactory
from tests.middleware._messages import call


async def homepage(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("OK")(scope, receive, send)


async def websocket_app(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    await websocket.send_text("OK")
    await websocket.close()


def test_https_requests_reach_the_app(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(HTTPSRedirectMiddleware(homepage), base_url="https://testserver")
    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "OK"


@pytest.mark.parametrize(
    ("base_url", "host", "location"),
    [
        ("http://testserver", None, "https://testserver/a/b?c=d"),
        ("http://testserver:80", None, "https://testserver/a/b?c=d"),
        ("http://testserver:443", None, "https://testserver/a/b?c=d"),
        ("http://testserver:123", None, "https://testserver:123/a/b?c=d"),
        ("http://testserver", "testserver:000080", "https://testserver/a/b?c=d"),
        ("http://testserver", "Example.org:8080", "https://Example.org:8080/a/b?c=d"),
        # A malformed Host header is ignored: the server address is used instead.
        ("http://testserver", "testserver:65536", "https://testserver/a/b?c=d"),
        ("http://testserver", "[:::]", "https://testserver/a/b?c=d"),
        ("http://testserver", "evil.com/x", "https://testserver/a/b?c=d"),
        ("http://[::1]", "[:::]", "https://[::1]/a/b?c=d"),
        ("http://[::1]:8000", None, "https://[::1]:8000/a/b?c=d"),
    ],
)
def test_http_is_redirected_to_https(
    test_client_factory: TestClientFactory, base_url: str, host: str | None, location: str
) -> None:
    client = test_client_factory(HTTPSRedirectMiddleware(homepage), base_url=base_url)
    headers = {"host": host} if host is not None else {}
    response = client.get("/a/b?c=d", headers=headers, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == location
    assert response.content == b""


def test_redirect_is_followed_with_the_same_method(test_client_factory: TestClientFactory) -> None:
    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        await PlainTextResponse(f"{request.method} {request.url} {body.decode()}")(
            scope, receive, send
        )

    client = test_client_factory(HTTPSRedirectMiddleware(echo))
    response = client.post("/submit", content=b"payload")
    assert response.status_code == 200
    assert response.text == "POST https://testserver/submit payload"


@pytest.mark.anyio
async def test_no_host_at_all_gets_400() -> None:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "query_string": b"",
        "headers": [(b"host", b"bad host")],
    }
    start, body = await call(HTTPSRedirectMiddleware(homepage), scope)
    assert start["status"] == 400
    assert body["body"] == b"Invalid host header"


@pytest.mark.anyio
async def test_missing_scheme_means_insecure() -> None:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "query_string": b"",
        "headers": [(b"host", b"example.org")],
    }
    start = (await call(HTTPSRedirectMiddleware(homepage), scope))[0]
    assert start["status"] == 307
    assert dict(start["headers"])[b"location"] == b"https://example.org/x"


def test_websocket_is_redirected_to_wss(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(HTTPSRedirectMiddleware(websocket_app))
    with (
        pytest.raises(WebSocketDenialResponse) as info,
        client.websocket_connect("ws://testserver:80/chat?room=1"),
    ):
        pass  # pragma: no cover
    assert info.value.status_code == 307
    assert info.value.headers["location"] == "wss://testserver/chat?room=1"

    with client.websocket_connect("wss://testserver/chat") as websocket:
        assert websocket.receive_text() == "OK"


def test_websocket_without_denial_extension_is_closed(
    test_client_factory: TestClientFactory,
) -> None:
    middleware = HTTPSRedirectMiddleware(websocket_app)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope.get("extensions", {}).pop("websocket.http.response", None)
        await middleware(scope, receive, send)

    client = test_client_factory(app)
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("ws://testserver/"):
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

    await HTTPSRedirectMiddleware(app)({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"]


def test_inside_a_router(test_client_factory: TestClientFactory) -> None:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(f"secure={request.url.is_secure}")

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.url.scheme)
        await websocket.close()

    router = Router(
        routes=[Route("/", endpoint), WebSocketRoute("/ws", socket)],
        middleware=[Middleware(HTTPSRedirectMiddleware)],
    )
    client = test_client_factory(router)
    response = client.get("/")
    assert response.text == "secure=True"
    assert response.history[0].status_code == 307

    with client.websocket_connect("wss://testserver/ws") as websocket:
        assert websocket.receive_text() == "wss"
