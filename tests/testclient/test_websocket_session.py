from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from stellate_asgi.exceptions import WebSocketDisconnect as AsgiWebSocketDisconnect
from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_testclient import (
    TestClient,
    WebSocketDenialResponse,
    WebSocketDisconnect,
    WebSocketTestSession,
)

TestClientFactory = Callable[..., TestClient]
App = Callable[[Scope, Receive, Send], Any]


def echo_app(received: list[Message] | None = None) -> App:
    """Accepts, then echoes every message back until the client disconnects."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        message = await receive()
        assert message["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if received is not None:
                received.append(message)
            if message["type"] == "websocket.disconnect":
                return
            await send(
                {
                    "type": "websocket.send",
                    "text": message.get("text"),
                    "bytes": message.get("bytes"),
                }
            )

    return app


def test_disconnect_is_the_asgi_class() -> None:
    assert WebSocketDisconnect is AsgiWebSocketDisconnect
    assert issubclass(WebSocketDenialResponse, WebSocketDisconnect)
    assert issubclass(WebSocketDenialResponse, httpx.Response)


def test_send_and_receive_every_kind(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(echo_app())
    with client.websocket_connect("/") as session:
        assert isinstance(session, WebSocketTestSession)
        session.send_text("hello")
        assert session.receive_text() == "hello"
        session.send_bytes(b"\x00\x01")
        assert session.receive_bytes() == b"\x00\x01"
        session.send_json({"a": [1, "é"]})
        assert session.receive_json() == {"a": [1, "é"]}
        session.send_json({"b": 2}, mode="binary")
        assert session.receive_json(mode="binary") == {"b": 2}
        session.send({"type": "websocket.receive", "text": "raw"})
        assert session.receive() == {"type": "websocket.send", "text": "raw", "bytes": None}


def test_json_is_compact_and_unescaped(test_client_factory: TestClientFactory) -> None:
    received: list[Message] = []
    with test_client_factory(echo_app(received)).websocket_connect("/") as session:
        session.send_json({"k": "ü", "n": [1, 2]})
        session.receive()
        session.send_json({"k": "ü"}, mode="binary")
        session.receive()
    assert received[0]["text"] == '{"k":"ü","n":[1,2]}'
    assert received[1]["bytes"] == '{"k":"ü"}'.encode()


def test_websocket_scope(test_client_factory: TestClientFactory) -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        await receive()
        await send({"type": "websocket.accept"})
        await receive()

    client = test_client_factory(app, root_path="/root")
    with client.websocket_connect("/root/chat%20room?token=a%20b", subprotocols=["x", "y"]):
        pass
    scope = scopes[0]
    assert scope["type"] == "websocket"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/root/chat room"
    assert scope["raw_path"] == b"/root/chat%20room"
    assert scope["root_path"] == "/root"
    assert scope["query_string"] == b"token=a%20b"
    assert scope["subprotocols"] == ["x", "y"]
    assert scope["server"] == ["testserver", 80]
    assert scope["client"] == ("testclient", 50000)
    assert scope["asgi"] == {"version": "3.0"}
    assert "websocket.http.response" in scope["extensions"]
    assert dict(scope["headers"]) == {
        b"host": b"testserver",
        b"accept": b"*/*",
        b"accept-encoding": b"gzip, deflate",
        b"connection": b"upgrade",
        b"user-agent": b"testclient",
        b"sec-websocket-key": b"testserver==",
        b"sec-websocket-version": b"13",
        b"sec-websocket-protocol": b"x, y",
    }
    assert scope["headers"][0] == (b"host", b"testserver")


def test_wss_scheme_cookies_and_extra_headers(test_client_factory: TestClientFactory) -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        await receive()
        await send({"type": "websocket.accept"})
        await receive()

    client = test_client_factory(app, cookies={"sid": "1"})
    with client.websocket_connect("wss://example.org:9000/ws", headers={"X-Token": "t"}):
        pass
    scope = scopes[0]
    headers = dict(scope["headers"])
    assert scope["scheme"] == "wss"
    assert scope["server"] == ["example.org", 9000]
    assert headers[b"host"] == b"example.org:9000"
    assert headers[b"x-token"] == b"t"
    assert scope["subprotocols"] == []


def test_accept_with_subprotocol_and_headers(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send(
            {
                "type": "websocket.accept",
                "subprotocol": scope["subprotocols"][-1],
                "headers": [(b"x-extra", b"yes")],
            }
        )
        await receive()

    client = test_client_factory(app)
    with client.websocket_connect("/", subprotocols=["a", "b"]) as session:
        assert session.accepted_subprotocol == "b"
        assert session.extra_headers == [(b"x-extra", b"yes")]


def test_close_before_accept(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 4001, "reason": "go away"})

    client = test_client_factory(app)
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.code == 4001
    assert info.value.reason == "go away"


def test_close_before_accept_defaults(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.close"})

    with (
        pytest.raises(WebSocketDisconnect) as info,
        test_client_factory(app).websocket_connect("/"),
    ):
        pass  # pragma: no cover
    assert info.value.code == 1000
    assert info.value.reason == ""


def test_denial_response(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"text/plain"), (b"x-why", b"token")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"not ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"allowed"})

    with (
        pytest.raises(WebSocketDenialResponse) as info,
        test_client_factory(app).websocket_connect("/"),
    ):
        pass  # pragma: no cover
    response = info.value
    assert isinstance(response, WebSocketDisconnect)
    assert response.status_code == 401
    assert response.headers["x-why"] == "token"
    assert response.text == "not allowed"
    assert response.code == 1006


def test_denial_response_with_a_bad_message(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.http.response.start", "status": 400, "headers": []})
        await send({"type": "websocket.send", "text": "nope"})

    with (
        pytest.raises(RuntimeError, match=r"websocket\.http\.response\.body"),
        test_client_factory(app).websocket_connect("/"),
    ):
        pass  # pragma: no cover


def test_exit_sends_disconnect_1000(test_client_factory: TestClientFactory) -> None:
    received: list[Message] = []
    with test_client_factory(echo_app(received)).websocket_connect("/"):
        pass
    assert received == [{"type": "websocket.disconnect", "code": 1000, "reason": None}]


def test_client_close_with_code_and_reason(test_client_factory: TestClientFactory) -> None:
    received: list[Message] = []
    with test_client_factory(echo_app(received)).websocket_connect("/") as session:
        session.close(4000, "bye")
    # No second disconnect is sent on exit.
    assert received == [{"type": "websocket.disconnect", "code": 4000, "reason": "bye"}]


def test_app_close_raises_on_receive(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "last words"})
        await send({"type": "websocket.close", "code": 1001, "reason": "leaving"})

    with test_client_factory(app).websocket_connect("/") as session:
        assert session.receive_text() == "last words"
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_text()
        assert (info.value.code, info.value.reason) == (1001, "leaving")


@pytest.mark.parametrize("method", ["receive_text", "receive_bytes", "receive_json"])
def test_every_receive_raises_on_close(test_client_factory: TestClientFactory, method: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})

    with (
        test_client_factory(app).websocket_connect("/") as session,
        pytest.raises(WebSocketDisconnect),
    ):
        getattr(session, method)()


def test_app_returning_without_close(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})

    with test_client_factory(app).websocket_connect("/") as session:
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_text()
        assert info.value.code == 1006
        # Sending to a finished app is harmless, as on a half-closed socket.
        session.send_text("ignored")


def test_app_returning_before_accept(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

    with (
        pytest.raises(WebSocketDisconnect) as info,
        test_client_factory(app).websocket_connect("/"),
    ):
        pass  # pragma: no cover
    assert info.value.code == 1006


def test_exception_before_accept_propagates(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("handshake failed")

    with (
        pytest.raises(ValueError, match="handshake failed"),
        test_client_factory(app).websocket_connect("/"),
    ):
        pass  # pragma: no cover


def test_exception_propagates_on_receive_once(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise ValueError("bad message")

    with test_client_factory(app).websocket_connect("/") as session:
        session.send_text("trigger")
        with pytest.raises(ValueError, match="bad message"):
            session.receive_text()
        # Delivered once: sending afterwards, and leaving the block, do not re-raise.
        session.send_text("more")


def test_exception_propagates_on_exit(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise ValueError("on disconnect")

    with (
        pytest.raises(ValueError, match="on disconnect"),
        test_client_factory(app).websocket_connect("/"),
    ):
        pass


def test_exception_propagates_on_send(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        raise ValueError("right after accept")

    session = test_client_factory(app).websocket_connect("/")
    with pytest.raises(ValueError, match="right after accept"), session:  # noqa: PT012
        for _ in range(1000):
            session.send_text("x")  # raises once the app has failed
        session.receive()  # pragma: no cover


def test_app_cleanup_runs_after_disconnect(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        assert message["type"] == "websocket.disconnect"
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        events.append("cleaned up")

    with test_client_factory(app).websocket_connect("/"):
        pass
    assert events == ["cleaned up"]


def test_app_ignoring_disconnect_is_cancelled(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            events.append("cancelled")
            raise

    with test_client_factory(app).websocket_connect("/"):
        pass
    assert events == ["cancelled"]


def test_session_inside_client_block_shares_the_portal(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["ready"] = True
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": str(scope["state"])})
        await receive()

    with test_client_factory(app) as client, client.websocket_connect("/") as session:
        assert session.receive_text() == "{'ready': True}"
        assert session.portal is client.portal


def test_asgi2_websocket_app(test_client_factory: TestClientFactory) -> None:
    def app(scope: Scope) -> Callable[[Receive, Send], Any]:
        async def asgi(receive: Receive, send: Send) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": "v2"})
            await receive()

        return asgi

    with test_client_factory(app).websocket_connect("/") as session:
        assert session.receive_text() == "v2"


def test_websocket_connect_to_http_url(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with pytest.raises(RuntimeError, match="Expected WebSocket upgrade"):
        test_client_factory(app).websocket_connect("http://testserver/")
