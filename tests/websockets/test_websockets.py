from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from stellate_asgi.exceptions import WebSocketDisconnect as AsgiWebSocketDisconnect
from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_testclient import TestClient, WebSocketDenialResponse
from stellate_websockets import (
    WebSocket,
    WebSocketClose,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)

TestClientFactory = Callable[..., TestClient]
Handler = Callable[[WebSocket], Awaitable[None]]


def websocket_app(handler: Handler) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await handler(WebSocket(scope, receive=receive, send=send))

    return app


class TextDenial:
    """A minimal ASGI HTTP response, as stellate_http's would send it."""

    def __init__(self, body: bytes, status: int = 403, prefix: str = "") -> None:
        self.body = body
        self.status = status
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(self.body))]
        await send(
            {"type": self.prefix + "http.response.start", "status": self.status, "headers": headers}
        )
        half = len(self.body) // 2
        await send(
            {
                "type": self.prefix + "http.response.body",
                "body": self.body[:half],
                "more_body": True,
            }
        )
        await send({"type": self.prefix + "http.response.body", "body": self.body[half:]})


def raw_scope(**extra: Any) -> Scope:
    scope: Scope = {
        "type": "websocket",
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "subprotocols": [],
    }
    scope.update(extra)
    return scope


def scripted_receive(*messages: Message) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0)

    return receive


async def discard(message: Message) -> None:
    pass


# --- the public names -------------------------------------------------------------------


def test_exports() -> None:
    assert WebSocketDisconnect is AsgiWebSocketDisconnect
    assert issubclass(WebSocketDisconnected, RuntimeError)
    assert [state.name for state in WebSocketState] == [
        "CONNECTING",
        "CONNECTED",
        "DISCONNECTED",
        "RESPONSE",
    ]
    disconnect = WebSocketDisconnect()
    assert (disconnect.code, disconnect.reason) == (1000, "")


def test_scope_views(test_client_factory: TestClientFactory) -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(
            {
                "url": str(websocket.url),
                "path": websocket["path"],
                "query": dict(websocket.query_params),
                "header": websocket.headers["x-thing"],
                "cookie": websocket.cookies.get("flavour"),
                "client": list(websocket.client) if websocket.client else None,
            }
        )
        await websocket.close()

    client = test_client_factory(websocket_app(handler), cookies={"flavour": "oat"})
    with client.websocket_connect("/chat?room=1", headers={"X-Thing": "yes"}) as session:
        assert session.receive_json() == {
            "url": "ws://testserver/chat?room=1",
            "path": "/chat",
            "query": {"room": "1"},
            "header": "yes",
            "cookie": "oat",
            "client": ["testclient", 50000],
        }


def test_websocket_is_hashable_and_compared_by_identity() -> None:
    scope = raw_scope()
    first = WebSocket(scope, scripted_receive(), discard)
    second = WebSocket(scope, scripted_receive(), discard)
    assert first == first
    assert first != second
    assert len({first, second}) == 2


def test_requires_a_websocket_scope() -> None:
    with pytest.raises(AssertionError):
        WebSocket({"type": "http"}, scripted_receive(), discard)


# --- sending and receiving ------------------------------------------------------------------


def test_text_round_trip(test_client_factory: TestClientFactory) -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text("echo: " + text)
        await websocket.close()

    with test_client_factory(websocket_app(handler)).websocket_connect("/") as session:
        session.send_text("hi")
        assert session.receive_text() == "echo: hi"


def test_bytes_round_trip(test_client_factory: TestClientFactory) -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        data = await websocket.receive_bytes()
        await websocket.send_bytes(data[::-1])
        await websocket.close()

    with test_client_factory(websocket_app(handler)).websocket_connect("/") as session:
        session.send_bytes(b"\x01\x02\x03")
        assert session.receive_bytes() == b"\x03\x02\x01"


@pytest.mark.parametrize("mode", ["text", "binary"])
def test_json_round_trip(test_client_factory: TestClientFactory, mode: str) -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        data = await websocket.receive_json(mode=mode)
        await websocket.send_json({"got": data}, mode=mode)
        await websocket.close()

    with test_client_factory(websocket_app(handler)).websocket_connect("/") as session:
        session.send_json({"née": [1, None]}, mode=mode)  # type: ignore[arg-type]
        message = session.receive()
    key = "text" if mode == "text" else "bytes"
    raw = message[key] if mode == "text" else message[key].decode()
    # Compact separators, non-ASCII kept as is.
    assert raw == '{"got":{"née":[1,null]}}'


@pytest.mark.parametrize("method", ["send_json", "receive_json"])
def test_json_mode_is_checked(test_client_factory: TestClientFactory, method: str) -> None:
    errors: list[str] = []

    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            if method == "send_json":
                await websocket.send_json({}, mode="yaml")
            else:
                await websocket.receive_json(mode="yaml")
        except RuntimeError as exc:
            errors.append(str(exc))
        await websocket.close()

    with (
        test_client_factory(websocket_app(handler)).websocket_connect("/") as session,
        pytest.raises(WebSocketDisconnect),
    ):
        session.receive_text()
    assert errors == ['The "mode" argument should be "text" or "binary".']


def test_raw_send_and_receive(test_client_factory: TestClientFactory) -> None:
    async def handler(websocket: WebSocket) -> None:
        connect = await websocket.receive()
        assert connect == {"type": "websocket.connect"}
        await websocket.send({"type": "websocket.accept"})
        message = await websocket.receive()
        await websocket.send({"type": "websocket.send", "text": message["text"].upper()})
        await websocket.send({"type": "websocket.close", "code": 1000})

    with test_client_factory(websocket_app(handler)).websocket_connect("/") as session:
        session.send_text("shout")
        assert session.receive_text() == "SHOUT"


def test_receive_raises_disconnect_with_code_and_reason(
    test_client_factory: TestClientFactory,
) -> None:
    seen: list[tuple[int, str]] = []

    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            seen.append((exc.code, exc.reason))
        assert websocket.client_state == WebSocketState.DISCONNECTED

    with test_client_factory(websocket_app(handler)).websocket_connect("/") as session:
        session.close(4321, "done here")
    assert seen == [(4321, "done here")]


@pytest.mark.parametrize("method", ["receive_text", "receive_bytes", "receive_json"])
def test_every_receive_raises_disconnect(
    test_client_factory: TestClientFactory, method: str
) -> None:
    seen: list[int] = []

    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await getattr(websocket, method)()
        except WebSocketDisconnect as exc:
            seen.append(exc.code)

    with test_client_factory(websocket_app(handler)).websocket_connect("/"):
        pass
    assert seen == [1000]


@pytest.mark.anyio
async def test_disconnect_without_code_means_no_status() -> None:
    websocket: WebSocket = WebSocket(
        raw_scope(),
        scripted_receive({"type": "websocket.connect"}, {"type": "websocket.disconnect"}),
        discard,
    )
    await websocket.accept()
    with pytest.raises(WebSocketDisconnect) as info:
        await websocket.receive_text()
    assert info.value.code == 1005


# --- iterators -------------------------------------------------------------------------------


def test_iter_text(test_client_factory: TestClientFactory) -> None:
    collected: list[str] = []

    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        collected.extend([text async for text in websocket.iter_text()])

    with test_client_factory(websocket_app(handler)).websocket_connect("/") as session:
        session.send_text("a")
        session.send_text("b")
    assert collected == ["a", "b"]


def test_iter_bytes(test_client_factory: TestClientFactory) -> None:
    collected: list[bytes] = []

    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        collected.extend([data async for data in websocket.iter_bytes()])

    with test_client_factory(websocket_app(handler)).websocket_connect("/") as session:
        session.send_bytes(b"1")
        session.send_bytes(b"2")
        session.close()
    assert collected == [b"1", b"2"]


def test_iter_json(test_client_factory: TestClientFactory) -> None:
    collected: list[Any] = []

    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        async for data in websocket.iter_json():
            collected.append(data)
            await websocket.send_json({"count": len(collected)})

    with test_client_factory(websocket_app(handler)).websocket_connect("/") as session:
        session.send_json({"x": 1})
        assert session.receive_json() == {"count": 1}
        session.send_json([2])
        assert session.receive_json() == {"count": 2}
    assert collected == [{"x": 1}, [2]]


# --- accept and close ------------------------------------------------------------------------


def test_accept_with_subprotocol(test_client_factory: TestClientFactory) -> None:
    async def handler(websocket: WebSocket) -> None:
        assert websocket["subprotocols"] == ["chat", "superchat"]
        await websocket.accept(subprotocol="superchat")
        await websocket.close()

    client = test_client_factory(websocket_app(handler))
    with client.websocket_connect("/", subprotocols=["chat", "superchat"]) as session:
        assert session.accepted_subprotocol == "superchat"


def test_accept_with_headers(test_client_factory: TestClientFactory) -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept(headers=[(b"x-custom", b"value")])
        await websocket.close()

    with test_client_factory(websocket_app(handler)).websocket_connect("/") as session:
        assert session.extra_headers == [(b"x-custom", b"value")]
        assert session.accepted_subprotocol is None


def test_accept_without_headers_sends_an_empty_list(test_client_factory: TestClientFactory) -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    with test_client_factory(websocket_app(handler)).websocket_connect("/") as session:
        assert session.extra_headers == []


def test_accept_after_reading_connect(test_client_factory: TestClientFactory) -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.receive()
        assert websocket.client_state == WebSocketState.CONNECTED
        await websocket.accept()
        await websocket.send_text("ok")
        await websocket.close()

    with test_client_factory(websocket_app(handler)).websocket_connect("/") as session:
        assert session.receive_text() == "ok"


def test_states_through_a_session(test_client_factory: TestClientFactory) -> None:
    states: list[tuple[str, str]] = []

    async def handler(websocket: WebSocket) -> None:
        states.append((websocket.client_state.name, websocket.application_state.name))
        await websocket.accept()
        states.append((websocket.client_state.name, websocket.application_state.name))
        await websocket.close()
        states.append((websocket.client_state.name, websocket.application_state.name))

    with (
        test_client_factory(websocket_app(handler)).websocket_connect("/") as session,
        pytest.raises(WebSocketDisconnect),
    ):
        session.receive_text()
    assert states == [
        ("CONNECTING", "CONNECTING"),
        ("CONNECTED", "CONNECTED"),
        ("CONNECTED", "DISCONNECTED"),
    ]


def test_close_with_code_and_reason(test_client_factory: TestClientFactory) -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close(code=1001, reason="going away")

    with (
        test_client_factory(websocket_app(handler)).websocket_connect("/") as session,
        pytest.raises(WebSocketDisconnect) as info,
    ):
        session.receive_text()
    assert (info.value.code, info.value.reason) == (1001, "going away")


def test_close_before_accept_rejects(test_client_factory: TestClientFactory) -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.close(code=4403)
        assert websocket.application_state == WebSocketState.DISCONNECTED

    with (
        pytest.raises(WebSocketDisconnect) as info,
        test_client_factory(websocket_app(handler)).websocket_connect("/"),
    ):
        pass  # pragma: no cover
    assert (info.value.code, info.value.reason) == (4403, "")


def test_websocket_close_app(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(WebSocketClose(code=1008, reason="policy"))
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert (info.value.code, info.value.reason) == (1008, "policy")


def test_websocket_close_defaults(test_client_factory: TestClientFactory) -> None:
    close = WebSocketClose()
    assert (close.code, close.reason) == (1000, "")
    with (
        pytest.raises(WebSocketDisconnect) as info,
        test_client_factory(close).websocket_connect("/"),
    ):
        pass  # pragma: no cover
    assert info.value.code == 1000


# --- the state machine ------------------------------------------------------------------------


def test_send_after_close(test_client_factory: TestClientFactory) -> None:
    errors: list[RuntimeError] = []

    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()
        try:
            await websocket.send_text("too late")
        except RuntimeError as exc:
            errors.append(exc)

    with (
        test_client_factory(websocket_app(handler)).websocket_connect("/") as session,
        pytest.raises(WebSocketDisconnect),
    ):
        session.receive_text()
    assert len(errors) == 1
    assert isinstance(errors[0], WebSocketDisconnected)
    assert str(errors[0]) == 'Cannot call "send" once a close message has been sent.'


def test_duplicate_close(test_client_factory: TestClientFactory) -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()
        await websocket.close()

    with (
        pytest.raises(WebSocketDisconnected),
        test_client_factory(websocket_app(handler)).websocket_connect("/"),
    ):
        pass


def test_receive_after_disconnect(test_client_factory: TestClientFactory) -> None:
    errors: list[str] = []

    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        message = await websocket.receive()
        assert message["type"] == "websocket.disconnect"
        try:
            await websocket.receive()
        except WebSocketDisconnected as exc:
            errors.append(str(exc))

    with test_client_factory(websocket_app(handler)).websocket_connect("/"):
        pass
    assert errors == ['Cannot call "receive" once a disconnect message has been received.']


@pytest.mark.parametrize("method", ["receive_text", "receive_bytes", "receive_json"])
def test_receive_before_accept(test_client_factory: TestClientFactory, method: str) -> None:
    errors: list[str] = []

    async def handler(websocket: WebSocket) -> None:
        try:
            await getattr(websocket, method)()
        except RuntimeError as exc:
            errors.append(str(exc))
        await websocket.close()

    with (
        pytest.raises(WebSocketDisconnect),
        test_client_factory(websocket_app(handler)).websocket_connect("/"),
    ):
        pass  # pragma: no cover
    assert errors == ['WebSocket is not connected. Need to call "accept" first.']


@pytest.mark.anyio
async def test_first_message_must_be_connect() -> None:
    websocket: WebSocket = WebSocket(
        raw_scope(), scripted_receive({"type": "websocket.receive", "text": "x"}), discard
    )
    with pytest.raises(RuntimeError) as info:
        await websocket.accept()
    assert str(info.value) == (
        "Expected ASGI message \"websocket.connect\", but got 'websocket.receive'"
    )


@pytest.mark.anyio
async def test_connected_receive_rejects_other_messages() -> None:
    websocket: WebSocket = WebSocket(
        raw_scope(),
        scripted_receive({"type": "websocket.connect"}, {"type": "http.request"}),
        discard,
    )
    await websocket.accept()
    with pytest.raises(RuntimeError) as info:
        await websocket.receive()
    assert str(info.value) == (
        'Expected ASGI message "websocket.receive" or "websocket.disconnect", '
        "but got 'http.request'"
    )


@pytest.mark.anyio
async def test_connecting_send_rejects_other_messages() -> None:
    websocket: WebSocket = WebSocket(raw_scope(), scripted_receive(), discard)
    with pytest.raises(RuntimeError) as info:
        await websocket.send_text("before accept")
    assert str(info.value) == (
        'Expected ASGI message "websocket.accept", "websocket.close" or '
        "\"websocket.http.response.start\", but got 'websocket.send'"
    )


@pytest.mark.anyio
async def test_connected_send_rejects_other_messages() -> None:
    websocket: WebSocket = WebSocket(
        raw_scope(), scripted_receive({"type": "websocket.connect"}), discard
    )
    await websocket.accept()
    with pytest.raises(RuntimeError) as info:
        await websocket.send({"type": "websocket.accept"})
    assert str(info.value) == (
        'Expected ASGI message "websocket.send" or "websocket.close", but got \'websocket.accept\''
    )


@pytest.mark.anyio
async def test_response_state_rejects_other_messages() -> None:
    websocket: WebSocket = WebSocket(raw_scope(), scripted_receive(), discard)
    await websocket.send({"type": "websocket.http.response.start", "status": 403, "headers": []})
    assert websocket.application_state.name == "RESPONSE"
    with pytest.raises(RuntimeError) as info:
        await websocket.send_text("no")
    assert str(info.value) == (
        "Expected ASGI message \"websocket.http.response.body\", but got 'websocket.send'"
    )
    await websocket.send({"type": "websocket.http.response.body", "body": b"a", "more_body": True})
    assert websocket.application_state.name == "RESPONSE"
    await websocket.send({"type": "websocket.http.response.body", "body": b"b"})
    assert websocket.application_state == WebSocketState.DISCONNECTED


@pytest.mark.anyio
async def test_oserror_on_send_is_an_abnormal_disconnect() -> None:
    async def broken_send(message: Message) -> None:
        if message["type"] == "websocket.send":
            raise OSError("connection reset")

    websocket: WebSocket = WebSocket(
        raw_scope(), scripted_receive({"type": "websocket.connect"}), broken_send
    )
    await websocket.accept()
    with pytest.raises(WebSocketDisconnect) as info:
        await websocket.send_text("lost")
    assert info.value.code == 1006
    assert websocket.application_state == WebSocketState.DISCONNECTED


@pytest.mark.anyio
async def test_oserror_during_accept_propagates() -> None:
    async def broken_send(message: Message) -> None:
        raise OSError("socket gone")

    websocket: WebSocket = WebSocket(
        raw_scope(), scripted_receive({"type": "websocket.connect"}), broken_send
    )
    with pytest.raises(OSError, match="socket gone"):
        await websocket.accept()


# --- denial responses --------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "websocket."])
def test_send_denial_response(test_client_factory: TestClientFactory, prefix: str) -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.send_denial_response(TextDenial(b"forbidden!", status=403, prefix=prefix))
        assert websocket.application_state == WebSocketState.DISCONNECTED

    with (
        pytest.raises(WebSocketDenialResponse) as info,
        test_client_factory(websocket_app(handler)).websocket_connect("/"),
    ):
        pass  # pragma: no cover
    response = info.value
    assert response.status_code == 403
    assert response.headers["content-type"] == "text/plain"
    assert response.text == "forbidden!"


def test_denial_response_after_accept_is_refused(test_client_factory: TestClientFactory) -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_denial_response(TextDenial(b"late"))

    with (
        pytest.raises(RuntimeError, match=r"but got 'websocket\.http\.response\.start'"),
        test_client_factory(websocket_app(handler)).websocket_connect("/"),
    ):
        pass


@pytest.mark.anyio
async def test_denial_response_needs_the_extension() -> None:
    websocket: WebSocket = WebSocket(raw_scope(), scripted_receive(), discard)
    with pytest.raises(RuntimeError) as info:
        await websocket.send_denial_response(TextDenial(b"x"))
    assert str(info.value) == "The server doesn't support the Websocket Denial Response extension."


@pytest.mark.anyio
async def test_denial_response_with_extension_sends_websocket_messages() -> None:
    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)

    scope = raw_scope(extensions={"websocket.http.response": {}})
    websocket: WebSocket = WebSocket(scope, scripted_receive(), record)
    await websocket.send_denial_response(TextDenial(b"abcd", status=418))
    assert [m["type"] for m in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 418
    assert b"".join(m["body"] for m in sent[1:]) == b"abcd"


# --- state from the lifespan --------------------------------------------------------------------


def test_lifespan_state(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["greeting"] = "hello"
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        websocket: WebSocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.send_text(websocket.state.greeting)
        await websocket.close()

    with test_client_factory(app) as client, client.websocket_connect("/") as session:
        assert session.receive_text() == "hello"


@pytest.mark.anyio
async def test_runs_concurrent_senders() -> None:
    sent: list[Message] = []

    async def record(message: Message) -> None:
        await anyio.lowlevel.checkpoint()
        sent.append(message)

    websocket: WebSocket = WebSocket(
        raw_scope(), scripted_receive({"type": "websocket.connect"}), record
    )
    await websocket.accept()
    async with anyio.create_task_group() as tg:
        for index in range(5):
            tg.start_soon(websocket.send_text, str(index))
    assert sorted(m["text"] for m in sent[1:]) == ["0", "1", "2", "3", "4"]


def test_public_names_are_declared() -> None:
    import stellate_websockets
    import stellate_websockets.websockets as module

    for mod in (stellate_websockets, module):
        for name in mod.__all__:
            assert hasattr(mod, name), name
    assert set(stellate_websockets.__all__) - {"__version__"} <= set(module.__all__)
