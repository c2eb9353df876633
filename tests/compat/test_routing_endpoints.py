"""Starlette-compatible `HTTPEndpoint` and `WebSocketEndpoint`, through `stellate.*`."""

from __future__ import annotations

from typing import Any

import pytest

from stellate import status
from stellate.applications import Stellate
from stellate.endpoints import HTTPEndpoint, WebSocketEndpoint
from stellate.exceptions import HTTPException
from stellate.requests import Request
from stellate.responses import JSONResponse, PlainTextResponse, Response
from stellate.routing import Route, Router, WebSocketRoute
from stellate.testclient import TestClient
from stellate.types import Message, Receive, Scope, Send
from stellate.websockets import WebSocket
from tests.conftest import TestClientFactory


class Greeting(HTTPEndpoint):
    async def get(self, request: Request) -> PlainTextResponse:
        name = request.path_params.get("name")
        return PlainTextResponse("Hello, world!" if name is None else f"Hello, {name}!")


greetings = Router(routes=[Route("/", endpoint=Greeting), Route("/{name}", endpoint=Greeting)])


@pytest.fixture
def client(test_client_factory: TestClientFactory) -> TestClient:
    return test_client_factory(greetings)


def test_http_endpoint_route(client: TestClient) -> None:
    response = client.get("/")
    assert (response.status_code, response.text) == (200, "Hello, world!")


def test_http_endpoint_path_params(client: TestClient) -> None:
    response = client.get("/ada")
    assert (response.status_code, response.text) == (200, "Hello, ada!")


def test_http_endpoint_method_not_allowed(client: TestClient) -> None:
    response = client.post("/")
    assert (response.status_code, response.text) == (405, "Method Not Allowed")
    assert response.headers["allow"] == "GET"


def test_http_endpoint_head_uses_get(client: TestClient) -> None:
    response = client.head("/")
    assert (response.status_code, response.text) == (200, "")


@pytest.mark.parametrize("method", ["PROPFIND", "QUERY", "DISPATCH", "__INIT__", "TRACE"])
def test_http_endpoint_non_standard_methods(client: TestClient, method: str) -> None:
    response = client.request(method, "/")
    assert (response.status_code, response.text) == (405, "Method Not Allowed")
    assert response.headers["allow"] == "GET"


def test_http_endpoint_allow_header_order(test_client_factory: TestClientFactory) -> None:
    class Everything(HTTPEndpoint):
        def options(self, request: Request) -> Response:
            return Response()

        def delete(self, request: Request) -> Response:
            return Response()

        def post(self, request: Request) -> Response:
            return Response()

        def head(self, request: Request) -> Response:
            return Response()

        def get(self, request: Request) -> Response:
            return Response()

    class Nothing(HTTPEndpoint):
        pass

    response = test_client_factory(Route("/", Everything)).put("/")
    assert response.headers["allow"] == "GET, HEAD, POST, DELETE, OPTIONS"
    response = test_client_factory(Route("/", Nothing)).get("/")
    assert response.status_code == 405
    assert response.headers["allow"] == ""


def test_http_endpoint_405_goes_through_the_application(
    test_client_factory: TestClientFactory,
) -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"detail": "Custom message"}, status_code=405, headers=exc.headers)

    app = Stellate(routes=[Route("/class", Greeting)], exception_handlers={405: handler})
    response = test_client_factory(app).post("/class")
    assert (response.status_code, response.json()) == (405, {"detail": "Custom message"})
    assert response.headers["allow"] == "GET"


def test_http_endpoint_sync_and_async_handlers(test_client_factory: TestClientFactory) -> None:
    class Mixed(HTTPEndpoint):
        def get(self, request: Request) -> Response:
            return PlainTextResponse("sync")

        async def post(self, request: Request) -> Response:
            return PlainTextResponse("async " + (await request.body()).decode())

    client = test_client_factory(Route("/", Mixed))
    assert client.get("/").text == "sync"
    assert client.post("/", content=b"body").text == "async body"


# --- WebSocketEndpoint ---------------------------------------------------------------


def test_websocket_endpoint_on_connect(test_client_factory: TestClientFactory) -> None:
    class Chooser(WebSocketEndpoint):
        async def on_connect(self, websocket: WebSocket) -> None:
            assert websocket["subprotocols"] == ["soap", "wamp"]
            await websocket.accept(subprotocol="wamp")

    client = test_client_factory(Chooser)
    with client.websocket_connect("/ws", subprotocols=["soap", "wamp"]) as websocket:
        assert websocket.accepted_subprotocol == "wamp"


def test_websocket_endpoint_bytes(test_client_factory: TestClientFactory) -> None:
    class Bytes(WebSocketEndpoint):
        encoding = "bytes"

        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            await websocket.send_bytes(b"got " + data)

    client = test_client_factory(Bytes)
    with client.websocket_connect("/ws") as websocket:
        websocket.send_bytes(b"data")
        assert websocket.receive_bytes() == b"got data"

    with (
        pytest.raises(RuntimeError, match="Expected bytes websocket messages, but got text"),
        client.websocket_connect("/ws") as websocket,
    ):
        websocket.send_text("text")


def test_websocket_endpoint_text(test_client_factory: TestClientFactory) -> None:
    class Text(WebSocketEndpoint):
        encoding = "text"

        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            await websocket.send_text("got " + data)

    client = test_client_factory(Text)
    with client.websocket_connect("/ws") as websocket:
        websocket.send_text("data")
        assert websocket.receive_text() == "got data"

    with (
        pytest.raises(RuntimeError, match="Expected text websocket messages, but got bytes"),
        client.websocket_connect("/ws") as websocket,
    ):
        websocket.send_bytes(b"bytes")


def test_websocket_endpoint_json(test_client_factory: TestClientFactory) -> None:
    class Json(WebSocketEndpoint):
        encoding = "json"

        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            await websocket.send_json({"message": data})

    client = test_client_factory(Json)
    with client.websocket_connect("/ws") as websocket:
        websocket.send_json({"hello": "world"})
        assert websocket.receive_json() == {"message": {"hello": "world"}}

    class BinaryJson(WebSocketEndpoint):
        encoding = "json"

        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            await websocket.send_json({"message": data}, mode="binary")

    with test_client_factory(BinaryJson).websocket_connect("/ws") as websocket:
        websocket.send_json({"hello": "world"}, mode="binary")
        assert websocket.receive_json(mode="binary") == {"message": {"hello": "world"}}

    with (
        pytest.raises(RuntimeError, match=r"Malformed JSON data received\."),
        client.websocket_connect("/ws") as websocket,
    ):
        websocket.send_text("Hello world")


def test_websocket_endpoint_wrong_data_closes_with_1003(
    test_client_factory: TestClientFactory,
) -> None:
    class Text(WebSocketEndpoint):
        encoding = "text"

    sent: list[Message] = []

    async def spy(scope: Scope, receive: Receive, send: Send) -> None:
        async def recording_send(message: Message) -> None:
            sent.append(message)
            await send(message)

        await Text(scope, receive, recording_send)

    client = test_client_factory(spy)
    with (  # noqa: PT012
        pytest.raises(RuntimeError, match="Expected text websocket messages"),
        client.websocket_connect("/ws") as websocket,
    ):
        websocket.send_bytes(b"bytes")
        websocket.receive()
    assert sent[-1] == {"type": "websocket.close", "code": 1003, "reason": ""}


def test_websocket_endpoint_default_encoding(test_client_factory: TestClientFactory) -> None:
    class Echo(WebSocketEndpoint):
        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            if isinstance(data, bytes):
                await websocket.send_bytes(data)
            else:
                await websocket.send_text("text was: " + data)

    with test_client_factory(Echo).websocket_connect("/ws") as websocket:
        websocket.send_text("Hello, world!")
        assert websocket.receive_text() == "text was: Hello, world!"
        websocket.send_bytes(b"raw")
        assert websocket.receive_bytes() == b"raw"


def test_websocket_endpoint_on_disconnect(test_client_factory: TestClientFactory) -> None:
    codes: list[int] = []

    class Closing(WebSocketEndpoint):
        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            codes.append(close_code)
            await websocket.close(code=close_code)

    with test_client_factory(Closing).websocket_connect("/ws") as websocket:
        websocket.close(code=status.WS_1001_GOING_AWAY)
    assert codes == [1001]


def test_websocket_endpoint_error_reports_1011(test_client_factory: TestClientFactory) -> None:
    codes: list[int] = []

    class Failing(WebSocketEndpoint):
        encoding = "text"

        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            raise ValueError("boom")

        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            codes.append(close_code)

    app = Router(routes=[WebSocketRoute("/ws", Failing)])
    with test_client_factory(app).websocket_connect("/ws") as websocket:
        websocket.send_text("x")
        with pytest.raises(ValueError, match="boom"):
            websocket.receive()
    assert codes == [status.WS_1011_INTERNAL_ERROR]


def test_websocket_endpoint_unsupported_encoding(test_client_factory: TestClientFactory) -> None:
    class Odd(WebSocketEndpoint):
        encoding = "xml"  # type: ignore[assignment]

    with test_client_factory(Odd).websocket_connect("/ws") as websocket:
        websocket.send_text("<x/>")
        with pytest.raises(AssertionError, match="Unsupported 'encoding' attribute xml"):
            websocket.receive()
