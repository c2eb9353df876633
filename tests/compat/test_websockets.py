"""Starlette-compatible behaviour of `stellate.websockets.WebSocket`, through the umbrella.

Scenarios a ported application relies on: every send/receive form, the URL, headers and
query of the connection, close codes and reasons, denial responses, and the exact
errors raised when the protocol is used out of order.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from stellate import status
from stellate.responses import FileResponse, JSONResponse, Response, StreamingResponse
from stellate.testclient import WebSocketDenialResponse
from stellate.types import Message, Receive, Scope, Send
from stellate.websockets import (
    WebSocket,
    WebSocketClose,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)
from tests.conftest import TestClientFactory


async def _never_receive() -> Message:
    raise AssertionError("receive() should not be called")  # pragma: no cover


async def _never_send(message: Message) -> None:
    raise AssertionError("send() should not be called")  # pragma: no cover


# --- the connection's views of the scope ---------------------------------------------


def test_url(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        await websocket.send_json({"url": str(websocket.url)})
        await websocket.close()

    with test_client_factory(app).websocket_connect("/123?a=abc") as session:
        assert session.receive_json() == {"url": "ws://testserver/123?a=abc"}


def test_query_params(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        params = dict(websocket.query_params)
        await websocket.accept()
        await websocket.send_json({"params": params})
        await websocket.close()

    with test_client_factory(app).websocket_connect("/?a=abc&b=456") as session:
        assert session.receive_json() == {"params": {"a": "abc", "b": "456"}}


def test_headers(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        headers = dict(websocket.headers)
        await websocket.accept()
        await websocket.send_json({"headers": headers})
        await websocket.close()

    with test_client_factory(app).websocket_connect("/") as session:
        headers = session.receive_json()["headers"]
    # "accept-encoding" is whatever httpx offers: not checked here.
    headers.pop("accept-encoding")
    assert headers == {
        "accept": "*/*",
        "connection": "upgrade",
        "host": "testserver",
        "user-agent": "testclient",
        "sec-websocket-key": "testserver==",
        "sec-websocket-version": "13",
    }


def test_port_and_client(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        assert websocket.client is not None
        await websocket.send_json(
            {
                "port": websocket.url.port,
                "scheme": websocket.url.scheme,
                "client": [websocket.client.host, websocket.client.port],
            }
        )
        await websocket.close()

    client = test_client_factory(app)
    with client.websocket_connect("ws://example.com:123/123?a=abc") as session:
        assert session.receive_json() == {
            "port": 123,
            "scheme": "ws",
            "client": ["testclient", 50000],
        }


def test_scope_mapping_interface() -> None:
    websocket = WebSocket(
        {"type": "websocket", "path": "/abc/", "headers": []},
        receive=_never_receive,
        send=_never_send,
    )
    assert websocket["type"] == "websocket"
    assert dict(websocket) == {"type": "websocket", "path": "/abc/", "headers": []}
    assert len(websocket) == 3
    other = WebSocket(
        {"type": "websocket", "path": "/abc/", "headers": []},
        receive=_never_receive,
        send=_never_send,
    )
    # Compared and hashed by identity, as Starlette does.
    assert websocket != other
    assert websocket == websocket
    assert websocket in {websocket}
    assert {websocket} == {websocket}


def test_websocket_needs_a_websocket_scope() -> None:
    with pytest.raises(AssertionError):
        WebSocket({"type": "http"}, receive=_never_receive, send=_never_send)


# --- sending and receiving -----------------------------------------------------------


def test_text(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        data = await websocket.receive_text()
        await websocket.send_text("Message was: " + data)
        await websocket.close()

    with test_client_factory(app).websocket_connect("/") as session:
        session.send_text("Hello, world!")
        assert session.receive_text() == "Message was: Hello, world!"


def test_bytes(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        data = await websocket.receive_bytes()
        await websocket.send_bytes(b"Message was: " + data)
        await websocket.close()

    with test_client_factory(app).websocket_connect("/") as session:
        session.send_bytes(b"Hello, world!")
        assert session.receive_bytes() == b"Message was: Hello, world!"


def test_json(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        data = await websocket.receive_json()
        await websocket.send_json({"message": data})
        await websocket.close()

    with test_client_factory(app).websocket_connect("/") as session:
        session.send_json({"hello": "world"})
        assert session.receive_json() == {"message": {"hello": "world"}}


def test_binary_json(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        message = await websocket.receive_json(mode="binary")
        await websocket.send_json(message, mode="binary")
        await websocket.close()

    with test_client_factory(app).websocket_connect("/123?a=abc") as session:
        session.send_json({"test": "data"}, mode="binary")
        assert session.receive_bytes() == b'{"test":"data"}'


def test_send_json_is_compact_and_keeps_unicode(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        message = await websocket.receive_json(mode="text")
        await websocket.send_json(message, mode="text")
        await websocket.close()

    with test_client_factory(app).websocket_connect("/") as session:
        session.send_json({"test": "数据"}, mode="text")
        assert session.receive_text() == '{"test":"数据"}'


@pytest.mark.parametrize("kind", ["text", "bytes", "json"])
def test_iterators_stop_on_disconnect(test_client_factory: TestClientFactory, kind: str) -> None:
    finished = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal finished
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        if kind == "text":
            async for text in websocket.iter_text():
                await websocket.send_text("Message was: " + text)
        elif kind == "bytes":
            async for data in websocket.iter_bytes():
                await websocket.send_bytes(b"Message was: " + data)
        else:
            async for value in websocket.iter_json():
                await websocket.send_json({"message": value})
        finished = True

    with test_client_factory(app).websocket_connect("/") as session:
        if kind == "text":
            session.send_text("Hello, world!")
            assert session.receive_text() == "Message was: Hello, world!"
        elif kind == "bytes":
            session.send_bytes(b"Hello, world!")
            assert session.receive_bytes() == b"Message was: Hello, world!"
        else:
            session.send_json({"hello": "world"})
            assert session.receive_json() == {"message": {"hello": "world"}}
    assert finished


def test_reader_and_writer_tasks(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        send_stream, receive_stream = anyio.create_memory_object_stream[Any]()

        async def reader() -> None:
            async with send_stream:
                async for value in websocket.iter_json():
                    await send_stream.send(value)

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(reader)
            async with receive_stream:
                async for value in receive_stream:
                    await websocket.send_json(value)
        await websocket.close()

    with test_client_factory(app).websocket_connect("/") as session:
        session.send_json({"hello": "world"})
        assert session.receive_json() == {"hello": "world"}


# --- closing ------------------------------------------------------------------------


def test_client_close_code_and_reason(test_client_factory: TestClientFactory) -> None:
    closed: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            closed.update(code=exc.code, reason=exc.reason)

    with test_client_factory(app).websocket_connect("/") as session:
        session.close(code=status.WS_1001_GOING_AWAY, reason="Going Away")
    assert closed == {"code": 1001, "reason": "Going Away"}


def test_leaving_the_block_disconnects_with_1000(test_client_factory: TestClientFactory) -> None:
    closed: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            closed.update(code=exc.code, reason=exc.reason)

    with test_client_factory(app).websocket_connect("/"):
        pass
    assert closed == {"code": 1000, "reason": ""}


def test_application_close(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        await websocket.close(status.WS_1001_GOING_AWAY)

    with (
        test_client_factory(app).websocket_connect("/") as session,
        pytest.raises(WebSocketDisconnect) as info,
    ):
        session.receive_text()
    assert info.value.code == status.WS_1001_GOING_AWAY
    assert info.value.reason == ""


def test_application_close_reason(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        await websocket.close(code=status.WS_1001_GOING_AWAY, reason="Going Away")

    with (
        test_client_factory(app).websocket_connect("/") as session,
        pytest.raises(WebSocketDisconnect) as info,
    ):
        session.receive_text()
    assert info.value.code == status.WS_1001_GOING_AWAY
    assert info.value.reason == "Going Away"


def test_raw_close_message_without_code_or_reason(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close"})

    with (
        test_client_factory(app).websocket_connect("/") as session,
        pytest.raises(WebSocketDisconnect) as info,
    ):
        session.receive_text()
    assert info.value.code == 1000
    assert info.value.reason == ""


def test_rejected_connection(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        assert await websocket.receive() == {"type": "websocket.connect"}
        await websocket.close(status.WS_1001_GOING_AWAY)

    client = test_client_factory(app)
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.code == status.WS_1001_GOING_AWAY


def test_websocket_close_app(test_client_factory: TestClientFactory) -> None:
    app = WebSocketClose(code=status.WS_1008_POLICY_VIOLATION, reason="nope")
    client = test_client_factory(app)
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert (info.value.code, info.value.reason) == (1008, "nope")
    default = WebSocketClose()
    assert (default.code, default.reason) == (1000, "")


def test_disconnect_exception_defaults() -> None:
    exc = WebSocketDisconnect()
    assert (exc.code, exc.reason) == (1000, "")
    exc = WebSocketDisconnect(1001, None)
    assert (exc.code, exc.reason) == (1001, "")


@pytest.mark.anyio
async def test_oserror_on_send_is_an_abnormal_closure() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        await websocket.send_text("Hello, world!")

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        if message["type"] == "websocket.accept":
            return
        raise OSError  # what a server raises once the client is gone

    with pytest.raises(WebSocketDisconnect) as info:
        await app({"type": "websocket", "path": "/"}, receive, send)
    assert info.value.code == status.WS_1006_ABNORMAL_CLOSURE


# --- denial responses ---------------------------------------------------------------


def test_denial_response(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        assert await websocket.receive() == {"type": "websocket.connect"}
        await websocket.send_denial_response(Response(status_code=404, content="foo"))

    client = test_client_factory(app)
    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.status_code == 404
    assert info.value.content == b"foo"
    assert isinstance(info.value, WebSocketDisconnect)


def test_denial_response_json(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        response = JSONResponse({"detail": "Unauthorized"}, status_code=401)
        await websocket.send_denial_response(response)

    client = test_client_factory(app)
    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.status_code == 401
    assert info.value.headers["content-type"] == "application/json"
    assert info.value.json() == {"detail": "Unauthorized"}


def test_denial_with_streaming_response(test_client_factory: TestClientFactory) -> None:
    async def content() -> AsyncIterator[bytes]:
        yield b"hello"
        yield b"world"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        assert await websocket.receive() == {"type": "websocket.connect"}
        await websocket.send_denial_response(StreamingResponse(content(), status_code=403))

    client = test_client_factory(app)
    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.status_code == 403
    assert info.value.content == b"helloworld"


def test_denial_with_file_response(test_client_factory: TestClientFactory, tmp_path: Path) -> None:
    path = tmp_path / "denial.txt"
    path.write_text("test content")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        assert await websocket.receive() == {"type": "websocket.connect"}
        await websocket.send_denial_response(FileResponse(path, status_code=401))

    client = test_client_factory(app)
    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.status_code == 401
    assert info.value.content == b"test content"


def test_denial_response_in_several_messages(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        assert await websocket.receive() == {"type": "websocket.connect"}
        await websocket.send(
            {
                "type": "websocket.http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"text/plain"), (b"foo", b"bar")],
            }
        )
        await websocket.send(
            {"type": "websocket.http.response.body", "body": b"hard", "more_body": True}
        )
        await websocket.send({"type": "websocket.http.response.body", "body": b"body"})
        assert websocket.application_state == WebSocketState.DISCONNECTED

    client = test_client_factory(app)
    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.status_code == 404
    assert info.value.content == b"hardbody"
    assert info.value.headers["foo"] == "bar"


def test_denial_response_unsupported_by_the_server(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        del scope["extensions"]["websocket.http.response"]
        websocket = WebSocket(scope, receive=receive, send=send)
        assert await websocket.receive() == {"type": "websocket.connect"}
        with pytest.raises(
            RuntimeError,
            match=re.escape("The server doesn't support the Websocket Denial Response extension."),
        ):
            await websocket.send_denial_response(Response(status_code=404, content="foo"))
        await websocket.close()

    client = test_client_factory(app)
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.code == status.WS_1000_NORMAL_CLOSURE


def test_denial_response_duplicate_start(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        assert await websocket.receive() == {"type": "websocket.connect"}
        response = Response(status_code=404, content="foo")
        start = {
            "type": "websocket.http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
        await websocket.send(start)
        await websocket.send(start)

    with (
        pytest.raises(
            RuntimeError,
            match=re.escape(
                'Expected ASGI message "websocket.http.response.body", '
                "but got 'websocket.http.response.start'"
            ),
        ),
        test_client_factory(app).websocket_connect("/"),
    ):
        pass  # pragma: no cover


# --- the handshake ------------------------------------------------------------------


def test_subprotocols(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        assert websocket["subprotocols"] == ["soap", "wamp"]
        await websocket.accept(subprotocol="wamp")
        await websocket.close()

    client = test_client_factory(app)
    with client.websocket_connect("/", subprotocols=["soap", "wamp"]) as session:
        assert session.accepted_subprotocol == "wamp"


def test_no_subprotocols(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        assert websocket["subprotocols"] == []
        await websocket.accept()
        await websocket.close()

    with test_client_factory(app).websocket_connect("/") as session:
        assert session.accepted_subprotocol is None


def test_accept_headers(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept(headers=[(b"additional", b"header")])
        await websocket.close()

    with test_client_factory(app).websocket_connect("/") as session:
        assert session.extra_headers == [(b"additional", b"header")]


def test_accept_without_headers(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        await websocket.close()

    with test_client_factory(app).websocket_connect("/") as session:
        assert session.extra_headers == []


def test_states(test_client_factory: TestClientFactory) -> None:
    states: list[tuple[str, str]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)

        def record() -> None:
            states.append((websocket.client_state.name, websocket.application_state.name))

        record()
        await websocket.accept()
        record()
        await websocket.receive()
        record()
        await websocket.close()
        record()

    with test_client_factory(app).websocket_connect("/") as session:
        session.close()
    assert states == [
        ("CONNECTING", "CONNECTING"),
        ("CONNECTED", "CONNECTED"),
        ("DISCONNECTED", "CONNECTED"),
        ("DISCONNECTED", "DISCONNECTED"),
    ]
    assert [state.value for state in WebSocketState] == [0, 1, 2, 3]


# --- errors -------------------------------------------------------------------------


def test_app_exception_reaches_the_test(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("broken")

    client = test_client_factory(app)
    with pytest.raises(AssertionError, match="broken"), client.websocket_connect("/123?a=abc"):
        pass  # pragma: no cover


def test_duplicate_close(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        await websocket.close()
        await websocket.close()

    client = test_client_factory(app)
    with pytest.raises(WebSocketDisconnected) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert str(info.value) == 'Cannot call "send" once a close message has been sent.'
    assert isinstance(info.value, RuntimeError)


def test_duplicate_disconnect(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        message = await websocket.receive()
        assert message["type"] == "websocket.disconnect"
        await websocket.receive()

    client = test_client_factory(app)
    with pytest.raises(RuntimeError) as info, client.websocket_connect("/") as session:
        session.close()
    assert isinstance(info.value, WebSocketDisconnected)
    assert str(info.value) == 'Cannot call "receive" once a disconnect message has been received.'


@pytest.mark.parametrize("method", ["send_json", "receive_json"])
def test_invalid_json_mode(test_client_factory: TestClientFactory, method: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        if method == "send_json":
            await websocket.send_json({}, mode="invalid")
        else:
            await websocket.receive_json(mode="invalid")

    client = test_client_factory(app)
    with (
        pytest.raises(
            RuntimeError, match=re.escape('The "mode" argument should be "text" or "binary".')
        ),
        client.websocket_connect("/"),
    ):
        pass  # pragma: no cover


@pytest.mark.parametrize("method", ["receive_text", "receive_bytes", "receive_json"])
def test_receive_before_accept(test_client_factory: TestClientFactory, method: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await getattr(websocket, method)()

    with pytest.raises(RuntimeError) as info, test_client_factory(app).websocket_connect("/"):
        pass  # pragma: no cover
    assert str(info.value) == 'WebSocket is not connected. Need to call "accept" first.'


def test_send_before_accept(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.send({"type": "websocket.send"})

    with pytest.raises(RuntimeError) as info, test_client_factory(app).websocket_connect("/"):
        pass  # pragma: no cover
    assert str(info.value) == (
        'Expected ASGI message "websocket.accept", "websocket.close" or '
        "\"websocket.http.response.start\", but got 'websocket.send'"
    )


def test_send_wrong_message_type_once_connected(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.send({"type": "websocket.accept"})
        await websocket.send({"type": "websocket.accept"})

    with pytest.raises(RuntimeError) as info, test_client_factory(app).websocket_connect("/"):
        pass  # pragma: no cover
    assert str(info.value) == (
        'Expected ASGI message "websocket.send" or "websocket.close", but got \'websocket.accept\''
    )


def test_first_message_must_be_connect(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        websocket.client_state = WebSocketState.CONNECTING
        await websocket.receive()

    client = test_client_factory(app)
    with pytest.raises(RuntimeError) as info, client.websocket_connect("/") as session:
        session.send({"type": "websocket.send"})
    assert (
        str(info.value) == "Expected ASGI message \"websocket.connect\", but got 'websocket.send'"
    )


def test_receive_wrong_message_type(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        await websocket.receive()

    client = test_client_factory(app)
    with pytest.raises(RuntimeError) as info, client.websocket_connect("/") as session:
        session.send({"type": "websocket.connect"})
    assert str(info.value) == (
        'Expected ASGI message "websocket.receive" or "websocket.disconnect", '
        "but got 'websocket.connect'"
    )


def test_response_state_accepts_only_body(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.receive()
        await websocket.send({"type": "websocket.http.response.start", "status": 403})
        await websocket.send({"type": "websocket.close"})

    with pytest.raises(RuntimeError) as info, test_client_factory(app).websocket_connect("/"):
        pass  # pragma: no cover
    assert str(info.value) == (
        "Expected ASGI message \"websocket.http.response.body\", but got 'websocket.close'"
    )
