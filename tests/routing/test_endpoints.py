from __future__ import annotations

import re
import threading
from typing import Any

import anyio
import pytest

from stellate_asgi.exceptions import HTTPException
from stellate_asgi.types import Message
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_routing.endpoints import HTTPEndpoint, WebSocketEndpoint
from stellate_routing.routing import Route, Router, WebSocketRoute
from stellate_testclient import TestClient
from stellate_websockets.websockets import WebSocket
from tests.conftest import TestClientFactory


class Homepage(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        username = request.path_params.get("username")
        if username is None:
            return PlainTextResponse("Hello, world!")
        return PlainTextResponse(f"Hello, {username}!")

    def post(self, request: Request) -> Response:
        return PlainTextResponse(f"posted from {threading.current_thread().name}")


def exchange(client: TestClient, data: str | bytes) -> None:
    """Connect to "/ws", send `data` and wait for the app's answer."""
    with client.websocket_connect("/ws") as websocket:
        if isinstance(data, bytes):
            websocket.send_bytes(data)
        else:
            websocket.send_text(data)
        websocket.receive()


app = Router(
    routes=[
        Route("/", endpoint=Homepage),
        Route("/{username}", endpoint=Homepage),
    ]
)


def test_http_endpoint_route(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(app)
    assert client.get("/").text == "Hello, world!"
    assert client.get("/tomchristie").text == "Hello, tomchristie!"


def test_http_endpoint_head_falls_back_to_get(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(app).head("/")
    assert response.status_code == 200
    assert response.text == ""


def test_http_endpoint_sync_handler_runs_in_a_thread(
    test_client_factory: TestClientFactory,
) -> None:
    response = test_client_factory(app).post("/")
    assert response.status_code == 200
    assert response.text != f"posted from {threading.current_thread().name}"


def test_http_endpoint_method_not_allowed(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(app)
    response = client.put("/")
    assert response.status_code == 405
    assert response.text == "Method Not Allowed"
    assert response.headers["allow"] == "GET, POST"


class WithHead(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("get")

    async def head(self, request: Request) -> Response:
        return PlainTextResponse("", headers={"x-head": "yes"})


def test_http_endpoint_own_head_handler(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(Route("/", WithHead)).head("/")
    assert response.headers["x-head"] == "yes"
    response = test_client_factory(Route("/", WithHead)).delete("/")
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "method",
    ["DISPATCH", "METHOD_NOT_ALLOWED", "RECEIVE", "SEND", "SCOPE", "__INIT__", "_HANDLER", "BREW"],
)
def test_http_endpoint_never_dispatches_to_its_internals(
    test_client_factory: TestClientFactory, method: str
) -> None:
    response = test_client_factory(app).request(method, "/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_http_endpoint_only_dispatches_standard_verbs(
    test_client_factory: TestClientFactory,
) -> None:
    # As in Starlette 1.1: a handler named after a non-standard verb is never called.
    class Dav(HTTPEndpoint):
        async def get(self, request: Request) -> Response:
            return PlainTextResponse("resource")

        async def propfind(self, request: Request) -> Response:  # pragma: no cover
            return PlainTextResponse("properties")

    client = test_client_factory(Route("/", Dav))
    response = client.request("PROPFIND", "/")
    assert (response.status_code, response.text) == (405, "Method Not Allowed")
    assert response.headers["allow"] == "GET"
    assert client.get("/").text == "resource"


def test_http_endpoint_raises_405_inside_an_application() -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "method": "PUT",
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "app": object(),
    }

    async def run() -> None:
        await Homepage(scope, receive, send)

    with pytest.raises(HTTPException) as info:
        anyio.run(run)
    assert info.value.status_code == 405
    assert info.value.headers == {"Allow": "GET, POST"}
    assert sent == []


def test_http_endpoint_rejects_other_scopes() -> None:
    async def receive() -> Message:
        raise AssertionError  # pragma: no cover

    async def send(message: Message) -> None:
        raise AssertionError  # pragma: no cover

    with pytest.raises(AssertionError):
        Homepage({"type": "websocket"}, receive, send)
    with pytest.raises(AssertionError):
        WebSocketEndpoint({"type": "http"}, receive, send)


# --- WebSocketEndpoint -------------------------------------------------------------


def test_websocket_endpoint_on_connect(test_client_factory: TestClientFactory) -> None:
    class Chat(WebSocketEndpoint):
        async def on_connect(self, websocket: WebSocket) -> None:
            assert websocket["subprotocols"] == ["soap", "wamp"]
            await websocket.accept(subprotocol="wamp")

    client = test_client_factory(Chat)
    with client.websocket_connect("/ws", subprotocols=["soap", "wamp"]) as websocket:
        assert websocket.accepted_subprotocol == "wamp"


def test_websocket_endpoint_bytes(test_client_factory: TestClientFactory) -> None:
    class Echo(WebSocketEndpoint):
        encoding = "bytes"

        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            await websocket.send_bytes(b"Message bytes was: " + data)

    client = test_client_factory(Echo)
    with client.websocket_connect("/ws") as websocket:
        websocket.send_bytes(b"Hello, world!")
        assert websocket.receive_bytes() == b"Message bytes was: Hello, world!"

    with pytest.raises(RuntimeError, match="Expected bytes websocket messages, but got text"):
        exchange(client, "Hello world")


def test_websocket_endpoint_text(test_client_factory: TestClientFactory) -> None:
    class Echo(WebSocketEndpoint):
        encoding = "text"

        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            await websocket.send_text(f"Message text was: {data}")

    client = test_client_factory(Echo)
    with client.websocket_connect("/ws") as websocket:
        websocket.send_text("Hello, world!")
        assert websocket.receive_text() == "Message text was: Hello, world!"

    with pytest.raises(RuntimeError, match="Expected text websocket messages, but got bytes"):
        exchange(client, b"Hello world")


def test_websocket_endpoint_json(test_client_factory: TestClientFactory) -> None:
    class Echo(WebSocketEndpoint):
        encoding = "json"

        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            await websocket.send_json({"message": data})

    client = test_client_factory(Echo)
    with client.websocket_connect("/ws") as websocket:
        websocket.send_json({"hello": "world"})
        assert websocket.receive_json() == {"message": {"hello": "world"}}
        websocket.send_bytes(b'{"as": "bytes"}')
        assert websocket.receive_json() == {"message": {"as": "bytes"}}


@pytest.mark.parametrize(
    "message",
    [
        {"type": "websocket.receive", "bytes": b"{not json"},
        {"type": "websocket.receive", "bytes": b"\xff\xfe"},
        {"type": "websocket.receive", "text": "{not json"},
        {"type": "websocket.receive", "text": None, "bytes": None},
    ],
)
@pytest.mark.anyio
async def test_websocket_endpoint_bad_json_closes_with_1003(message: Message) -> None:
    closed: list[int] = []

    class Echo(WebSocketEndpoint):
        encoding = "json"

        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            closed.append(close_code)

    incoming: list[Message] = [{"type": "websocket.connect"}, message]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "subprotocols": []}
    with pytest.raises(RuntimeError, match=re.escape("Malformed JSON data received.")):
        await Echo(scope, receive, send)
    assert sent[0]["type"] == "websocket.accept"
    assert sent[1] == {"type": "websocket.close", "code": 1003, "reason": ""}
    # The endpoint failed: on_disconnect sees an internal error.
    assert closed == [1011]


def test_websocket_endpoint_bad_json_through_the_client(
    test_client_factory: TestClientFactory,
) -> None:
    class Echo(WebSocketEndpoint):
        encoding = "json"

    client = test_client_factory(Echo)
    with pytest.raises(RuntimeError, match=re.escape("Malformed JSON data received.")):
        exchange(client, "{not json")


def test_websocket_endpoint_without_encoding(test_client_factory: TestClientFactory) -> None:
    class Echo(WebSocketEndpoint):
        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            if isinstance(data, bytes):
                await websocket.send_bytes(data)
            else:
                await websocket.send_text(data)

    client = test_client_factory(Echo)
    with client.websocket_connect("/ws") as websocket:
        websocket.send_text("text")
        assert websocket.receive_text() == "text"
        websocket.send_bytes(b"bytes")
        assert websocket.receive_bytes() == b"bytes"
        websocket.send_text("")
        assert websocket.receive_text() == ""


def test_websocket_endpoint_unsupported_encoding(test_client_factory: TestClientFactory) -> None:
    class Odd(WebSocketEndpoint):
        encoding = "xml"  # type: ignore[assignment]

    client = test_client_factory(Odd)
    with pytest.raises(AssertionError, match="Unsupported 'encoding' attribute xml"):
        exchange(client, "<a/>")


def test_websocket_endpoint_on_disconnect_code(test_client_factory: TestClientFactory) -> None:
    codes: list[int] = []

    class Watch(WebSocketEndpoint):
        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            codes.append(close_code)

    client = test_client_factory(Router(routes=[WebSocketRoute("/ws", Watch)]))
    with client.websocket_connect("/ws") as websocket:
        websocket.close(code=1001)
    with client.websocket_connect("/ws") as websocket:
        websocket.close()
    assert codes == [1001, 1000]
