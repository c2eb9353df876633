"""A WebSocket client that vanishes mid-conversation, and endpoints that fail.

The server reports a vanished client as `websocket.disconnect` from `receive`, or
(ASGI 2.4) as an `OSError` from `send`; the endpoint sees `WebSocketDisconnect`
either way, its cleanup runs, nothing is left running, and the app goes on serving.
"""

from __future__ import annotations

import anyio
import pytest

from stellate.routing import WebSocketRoute
from stellate.websockets import WebSocket, WebSocketDisconnect
from stellate_asgi.types import ASGIApp, Message
from tests.faults._asgi import (
    ClientGone,
    ScriptedClient,
    app_with,
    assert_serves,
    call,
    no_leaks,
    record,
    websocket_scope,
)


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


@pytest.mark.anyio
async def test_disconnect_mid_conversation_ends_the_loop_and_runs_cleanup() -> None:
    events: list[str] = []

    async def endpoint(websocket: WebSocket) -> None:
        try:
            await echo(websocket)
            events.append("loop ended")
        finally:
            events.append("cleanup ran")

    app = app_with(WebSocketRoute("/ws", endpoint), WebSocketRoute("/echo", echo))
    client = ScriptedClient([_connect(), _text("one"), _text("two"), _disconnect(1006)])
    sent: list[Message] = []

    async with no_leaks():
        await call(app, websocket_scope("/ws"), client, record(sent))

    assert [message["type"] for message in sent] == ["websocket.accept"] + ["websocket.send"] * 2
    assert [message["text"] for message in sent[1:]] == ["one", "two"]
    assert events == ["loop ended", "cleanup ran"]
    await _assert_still_serves(app)


@pytest.mark.anyio
async def test_unhandled_disconnect_reaches_the_server_with_its_code() -> None:
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            await websocket.send_text(await websocket.receive_text())

    app = app_with(WebSocketRoute("/ws", endpoint), WebSocketRoute("/echo", echo))
    client = ScriptedClient([_connect(), _text("one"), _disconnect(1001)])

    async with no_leaks():
        with pytest.raises(WebSocketDisconnect) as caught:
            await call(app, websocket_scope("/ws"), client, record([]))

    assert caught.value.code == 1001
    await _assert_still_serves(app)


@pytest.mark.anyio
async def test_send_failing_mid_conversation_is_a_disconnect() -> None:
    events: list[str] = []
    sent: list[Message] = []

    async def push_forever(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text("tick")
        except WebSocketDisconnect as exc:
            events.append(f"disconnected {exc.code}")

    async def send(message: Message) -> None:
        # The client's socket closes after the third tick.
        if sum(1 for item in sent if item["type"] == "websocket.send") == 3:
            raise ClientGone("the client closed the connection")
        sent.append(message)

    app = app_with(WebSocketRoute("/ws", push_forever), WebSocketRoute("/echo", echo))

    async with no_leaks():
        await call(app, websocket_scope("/ws"), ScriptedClient([_connect()]), send)

    assert [message.get("text") for message in sent[1:]] == ["tick"] * 3
    assert events == ["disconnected 1006"]
    await _assert_still_serves(app)


@pytest.mark.anyio
async def test_disconnect_stops_the_tasks_an_endpoint_started() -> None:
    events: list[str] = []

    async def endpoint(websocket: WebSocket) -> None:
        # A common shape: one task pushes updates while the endpoint reads the client.
        await websocket.accept()

        async def push() -> None:
            try:
                while True:
                    await websocket.send_text("update")
                    await anyio.sleep(0.001)
            finally:
                events.append("pusher stopped")

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(push)
            async for _ in websocket.iter_text():
                pass
            task_group.cancel_scope.cancel()

    async def leave_later() -> Message:
        await anyio.sleep(0.05)
        return _disconnect(1006)

    app = app_with(WebSocketRoute("/ws", endpoint), WebSocketRoute("/echo", echo))
    sent: list[Message] = []

    async with no_leaks():
        await call(
            app, websocket_scope("/ws"), ScriptedClient([_connect(), leave_later]), record(sent)
        )

    assert sent[0]["type"] == "websocket.accept"
    assert len(sent) > 1
    assert events == ["pusher stopped"]
    await _assert_still_serves(app)


@pytest.mark.anyio
async def test_endpoint_error_mid_conversation_reaches_the_server() -> None:
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise LookupError("endpoint")

    app = app_with(WebSocketRoute("/ws", endpoint), WebSocketRoute("/echo", echo))
    sent: list[Message] = []

    async with no_leaks():
        # The server closes the socket with 1011, as for any error in the app.
        with pytest.raises(LookupError, match="endpoint"):
            await call(
                app, websocket_scope("/ws"), ScriptedClient([_connect(), _text("x")]), record(sent)
            )

    assert [message["type"] for message in sent] == ["websocket.accept"]
    await _assert_still_serves(app)


# Helpers


async def _assert_still_serves(app: ASGIApp) -> None:
    """The app answers HTTP, and a whole WebSocket conversation on `/echo`."""
    await assert_serves(app)
    sent: list[Message] = []
    client = ScriptedClient([_connect(), _text("still here"), _disconnect(1000)])
    await call(app, websocket_scope("/echo"), client, record(sent))
    assert sent == [
        {"type": "websocket.accept", "subprotocol": None, "headers": []},
        {"type": "websocket.send", "text": "still here"},
    ]


def _connect() -> Message:
    return {"type": "websocket.connect"}


def _text(text: str) -> Message:
    return {"type": "websocket.receive", "text": text}


def _disconnect(code: int) -> Message:
    return {"type": "websocket.disconnect", "code": code}
