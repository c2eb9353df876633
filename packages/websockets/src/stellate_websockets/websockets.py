"""`WebSocket`: the connection object a WebSocket endpoint talks through.

It wraps the ASGI `receive`/`send` pair with the protocol's state machine, so that a
message out of order is a clear `RuntimeError` rather than a confused server.
"""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

from stellate_asgi.connection import HTTPConnection, StateT
from stellate_asgi.exceptions import WebSocketDisconnect
from stellate_asgi.types import Message, Receive, Scope, Send

__all__ = [
    "WebSocket",
    "WebSocketState",
    "WebSocketClose",
    "WebSocketDisconnect",
    "WebSocketDisconnected",
    "ASGIResponse",
]

# The ASGI extension a server advertises when it can send an HTTP response in place of
# the WebSocket handshake.
_DENIAL_EXTENSION = "websocket.http.response"


class WebSocketState(enum.Enum):
    """Where one side of a connection is: the client's or the application's."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


# The states as module names: reading a member off an `Enum` class costs an attribute
# lookup through its metaclass, several times per message.
_CONNECTING = WebSocketState.CONNECTING
_CONNECTED = WebSocketState.CONNECTED
_DISCONNECTED = WebSocketState.DISCONNECTED
_RESPONSE = WebSocketState.RESPONSE


class WebSocketDisconnected(RuntimeError):
    """Raised when a `WebSocket` is used after its connection has ended.

    A `RuntimeError`, so code written against the former plain `RuntimeError` still
    catches it.
    """


class ASGIResponse(Protocol):
    """Anything that answers as an ASGI app: what `send_denial_response` accepts."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


class WebSocket(HTTPConnection[StateT]):
    """A WebSocket connection: accept it, exchange text/bytes/JSON, close it.

    `client_state` follows what the client did (connect, disconnect) and
    `application_state` what the app did (accept, close, deny).
    """

    # Whether a denial response began (what a `SendTracker` around `send` would say):
    # the fused stack reads it instead of tracking every message.
    _denial_started = False

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(scope)
        assert scope["type"] == "websocket"
        self._receive = receive
        self._send = send
        self.client_state = _CONNECTING
        self.application_state = _CONNECTING

    async def receive(self) -> Message:
        """Receive the next ASGI message, checking it against the connection state."""
        if self.client_state is _CONNECTING:
            message = await self._receive()
            message_type = message["type"]
            if message_type != "websocket.connect":
                raise RuntimeError(
                    f'Expected ASGI message "websocket.connect", but got {message_type!r}'
                )
            self.client_state = _CONNECTED
            return message
        if self.client_state is _CONNECTED:
            message = await self._receive()
            message_type = message["type"]
            if message_type not in {"websocket.receive", "websocket.disconnect"}:
                raise RuntimeError(
                    'Expected ASGI message "websocket.receive" or "websocket.disconnect", '
                    f"but got {message_type!r}"
                )
            if message_type == "websocket.disconnect":
                self.client_state = _DISCONNECTED
            return message
        raise WebSocketDisconnected(
            'Cannot call "receive" once a disconnect message has been received.'
        )

    async def send(self, message: Message) -> None:
        """Send an ASGI message, checking it against the connection state."""
        message_type = message["type"]
        if self.application_state is _CONNECTING:
            if message_type not in {
                "websocket.accept",
                "websocket.close",
                "websocket.http.response.start",
            }:
                raise RuntimeError(
                    'Expected ASGI message "websocket.accept", "websocket.close" or '
                    f'"websocket.http.response.start", but got {message_type!r}'
                )
            if message_type == "websocket.close":
                self.application_state = _DISCONNECTED
            elif message_type == "websocket.http.response.start":
                self.application_state = _RESPONSE
                self._denial_started = True
            else:
                self.application_state = _CONNECTED
            await self._send(message)
        elif self.application_state is _CONNECTED:
            if message_type not in {"websocket.send", "websocket.close"}:
                raise RuntimeError(
                    'Expected ASGI message "websocket.send" or "websocket.close", '
                    f"but got {message_type!r}"
                )
            if message_type == "websocket.close":
                self.application_state = _DISCONNECTED
            try:
                await self._send(message)
            except OSError:
                # The server could not write: the client is gone (abnormal closure).
                self.application_state = _DISCONNECTED
                raise WebSocketDisconnect(code=1006)
        elif self.application_state is _RESPONSE:
            if message_type != "websocket.http.response.body":
                raise RuntimeError(
                    'Expected ASGI message "websocket.http.response.body", '
                    f"but got {message_type!r}"
                )
            if not message.get("more_body", False):
                self.application_state = _DISCONNECTED
            await self._send(message)
        else:
            raise WebSocketDisconnected('Cannot call "send" once a close message has been sent.')

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Iterable[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Accept the connection, with an optional `subprotocol` and extra `headers`."""
        headers = headers or []
        if self.client_state is _CONNECTING:
            # The client's "websocket.connect" has to be read before accepting.
            await self.receive()
        await self.send(
            {"type": "websocket.accept", "subprotocol": subprotocol, "headers": headers}
        )

    async def receive_text(self) -> str:
        """Receive a text message; raises `WebSocketDisconnect` when the client leaves."""
        self._check_connected()
        message = await self.receive()
        self._raise_on_disconnect(message)
        text: str = message["text"]
        return text

    async def receive_bytes(self) -> bytes:
        """Receive a binary message; raises `WebSocketDisconnect` when the client leaves."""
        self._check_connected()
        message = await self.receive()
        self._raise_on_disconnect(message)
        data: bytes = message["bytes"]
        return data

    async def receive_json(self, mode: str = "text") -> Any:
        """Receive a JSON document sent in a text (or, `mode="binary"`, bytes) message."""
        if mode not in {"text", "binary"}:
            raise RuntimeError('The "mode" argument should be "text" or "binary".')
        self._check_connected()
        message = await self.receive()
        self._raise_on_disconnect(message)
        text = message["text"] if mode == "text" else message["bytes"].decode("utf-8")
        return json.loads(text)

    async def iter_text(self) -> AsyncIterator[str]:
        """Yield text messages until the client disconnects."""
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            pass

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """Yield binary messages until the client disconnects."""
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            pass

    async def iter_json(self) -> AsyncIterator[Any]:
        """Yield JSON documents (from text messages) until the client disconnects."""
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            pass

    async def send_text(self, data: str) -> None:
        await self.send({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        await self.send({"type": "websocket.send", "bytes": data})

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send `data` as compact JSON in a text (or, `mode="binary"`, bytes) message."""
        if mode not in {"text", "binary"}:
            raise RuntimeError('The "mode" argument should be "text" or "binary".')
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if mode == "text":
            await self.send({"type": "websocket.send", "text": text})
        else:
            await self.send({"type": "websocket.send", "bytes": text.encode("utf-8")})

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection (before `accept`, this rejects it: an HTTP 403)."""
        await self.send({"type": "websocket.close", "code": code, "reason": reason or ""})

    async def send_denial_response(self, response: ASGIResponse) -> None:
        """Reject the connection with an HTTP `response` instead of accepting it.

        Needs a server with the "websocket.http.response" extension; raises
        `RuntimeError` otherwise.
        """
        if _DENIAL_EXTENSION not in self.scope.get("extensions", {}):
            raise RuntimeError(
                "The server doesn't support the Websocket Denial Response extension."
            )
        await response(self.scope, self.receive, self._send_denial_message)

    async def _send_denial_message(self, message: Message) -> None:
        # A response written for HTTP sends "http.response.*"; on a WebSocket scope the
        # same messages travel as "websocket.http.response.*".
        message_type = message["type"]
        if message_type in ("http.response.start", "http.response.body"):
            message = {**message, "type": "websocket." + message_type}
        await self.send(message)

    def _check_connected(self) -> None:
        if self.application_state is not _CONNECTED:
            raise RuntimeError('WebSocket is not connected. Need to call "accept" first.')

    def _raise_on_disconnect(self, message: Message) -> None:
        if message["type"] == "websocket.disconnect":
            # A server that got no close code in the frame reports 1005 ("no status
            # received", the ASGI default); a missing or None code means the same.
            code = message.get("code")
            raise WebSocketDisconnect(1005 if code is None else code, message.get("reason"))


class WebSocketClose:
    """An ASGI app that closes the WebSocket with `code` and `reason` (rejecting it,
    when sent before the handshake completes)."""

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.close", "code": self.code, "reason": self.reason})
