"""The WebSocket side of the test client: a synchronous session driving an ASGI app."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, Literal, Self, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
import httpx
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from stellate_asgi.exceptions import WebSocketDisconnect
from stellate_asgi.types import ASGIApp, Message, Scope

__all__ = ["WebSocketTestSession", "WebSocketDenialResponse", "PortalFactory"]

PortalFactory = Callable[[], AbstractContextManager[anyio.from_thread.BlockingPortal]]

# When the session ends, the app gets a `websocket.disconnect` and this many scheduler
# passes to wind down on its own (a `finally:` that logs, a last `await`) before it is
# cancelled: enough for cleanup code, short enough that an app that ignores the
# disconnect (`await anyio.sleep_forever()`) does not slow the test down.
_WIND_DOWN_CHECKPOINTS = 50


class WebSocketDenialResponse(httpx.Response, WebSocketDisconnect):  # type: ignore[misc]
    """Raised by `websocket_connect()` when the app rejects the connection with an HTTP
    response (the ASGI "websocket.http.response" extension, see
    `WebSocket.send_denial_response`). It is both an `httpx.Response` (status, headers,
    body) and a `WebSocketDisconnect`.
    """

    # httpx.Response.__init__ does not run WebSocketDisconnect.__init__: the connection
    # never opened, so the code is "abnormal closure", as a browser reports it.
    code: int = 1006
    reason: str = ""


class WebSocketTestSession:
    """A WebSocket connection to an ASGI app, used as a context manager.

    Entering sends `websocket.connect` and waits for the app to accept (raising
    `WebSocketDisconnect` if it closes first, `WebSocketDenialResponse` if it answers
    with an HTTP response). Exiting sends `websocket.disconnect` (code 1000) unless
    `close()` was called, lets the app finish, and re-raises any exception it raised.
    """

    def __init__(self, app: ASGIApp, scope: Scope, portal_factory: PortalFactory) -> None:
        self.app = app
        self.scope = scope
        self.portal_factory = portal_factory
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] | None = None
        self._exit_stack: contextlib.ExitStack | None = None
        self._future: Future[None] | None = None
        self._cancel_scope: anyio.CancelScope | None = None
        self._client_closed = False
        # Set from the event loop thread, read from the test thread once the app's end
        # of the stream is closed (the flags are set before it is).
        self._app_finished = False
        self._app_exception: BaseException | None = None
        self._exception_delivered = False

    def __enter__(self) -> Self:
        with contextlib.ExitStack() as stack:
            self.portal = portal = stack.enter_context(self.portal_factory())
            self._future, self._cancel_scope = portal.start_task(self._run)
            stack.callback(self._shutdown)
            self.send({"type": "websocket.connect"})
            message = self.receive()
            self._raise_on_close(message)
            self.accepted_subprotocol = message.get("subprotocol")
            self.extra_headers = message.get("headers")
            self._exit_stack = stack.pop_all()
        return self

    def __exit__(self, *args: Any) -> bool | None:
        assert self._exit_stack is not None
        self._exit_stack.close()
        return None

    # --- sending (client -> app) ------------------------------------------------------

    def send(self, message: Message) -> None:
        """Deliver a raw ASGI message to the app."""
        if message.get("type") == "websocket.disconnect":
            self._client_closed = True
        try:
            self.portal.call(self._to_app.send, message)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            # The app failed and its streams are gone: report why.
            self._deliver_app_exception()

    def send_text(self, data: str) -> None:
        self.send({"type": "websocket.receive", "text": data})

    def send_bytes(self, data: bytes) -> None:
        self.send({"type": "websocket.receive", "bytes": data})

    def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if mode == "text":
            self.send({"type": "websocket.receive", "text": text})
        else:
            self.send({"type": "websocket.receive", "bytes": text.encode("utf-8")})

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection from the client side (`websocket.disconnect`)."""
        self.send({"type": "websocket.disconnect", "code": code, "reason": reason})

    # --- receiving (app -> client) ----------------------------------------------------

    def receive(self) -> Message:
        """The next raw ASGI message sent by the app.

        Re-raises the app's exception if it failed; raises `WebSocketDisconnect(1006)`
        if it returned with nothing left to receive.
        """
        try:
            return self.portal.call(self._from_app.receive)
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            pass
        # The app has finished: its own exception explains why better than ours.
        self._deliver_app_exception()
        reason = "The application returned without closing the connection."
        raise WebSocketDisconnect(1006, reason) from None

    def receive_text(self) -> str:
        message = self.receive()
        self._raise_on_close(message)
        return cast(str, message["text"])

    def receive_bytes(self) -> bytes:
        message = self.receive()
        self._raise_on_close(message)
        return cast(bytes, message["bytes"])

    def receive_json(self, mode: Literal["text", "binary"] = "text") -> Any:
        message = self.receive()
        self._raise_on_close(message)
        if mode == "text":
            return json.loads(message["text"])
        return json.loads(message["bytes"].decode("utf-8"))

    # --- helpers ----------------------------------------------------------------------

    def _raise_on_close(self, message: Message) -> None:
        if message["type"] == "websocket.close":
            code = message.get("code")
            raise WebSocketDisconnect(1000 if code is None else code, message.get("reason"))
        if message["type"] == "websocket.http.response.start":
            status = message["status"]
            headers = message.get("headers", [])
            body: list[bytes] = []
            while True:
                chunk = self.receive()
                if chunk["type"] != "websocket.http.response.body":
                    raise RuntimeError(
                        'Expected ASGI message "websocket.http.response.body", '
                        f"but got {chunk['type']!r}."
                    )
                body.append(chunk.get("body", b""))
                if not chunk.get("more_body", False):
                    break
            raise WebSocketDenialResponse(status, headers=headers, content=b"".join(body))

    async def _run(self, *, task_status: TaskStatus[anyio.CancelScope]) -> None:
        # Both streams are unbounded: a test sends and receives from a single thread,
        # so a bounded stream could deadlock it against the app.
        to_app_tx, to_app_rx = anyio.create_memory_object_stream[Message](math.inf)
        from_app_tx, from_app_rx = anyio.create_memory_object_stream[Message](math.inf)
        self._to_app: MemoryObjectSendStream[Message] = to_app_tx
        self._from_app: MemoryObjectReceiveStream[Message] = from_app_rx
        # Once the app returns, the test thread's streams stay open until the session
        # ends: a late `send()` is buffered and a late `receive()` sees the end of the
        # stream. If the app fails they close at once, and both report its exception.
        with to_app_tx, to_app_rx, from_app_rx, anyio.CancelScope() as cancel_scope:
            task_status.started(cancel_scope)
            try:
                await self.app(self.scope, to_app_rx.receive, from_app_tx.send)
            except BaseException as exc:
                if not cancel_scope.cancel_called:
                    self._app_exception = exc
                raise
            finally:
                self._app_finished = True
                from_app_tx.close()
            # Park until the session ends, keeping the test thread's streams open.
            await anyio.sleep_forever()

    async def _wind_down(self) -> None:
        assert self._cancel_scope is not None
        for _ in range(_WIND_DOWN_CHECKPOINTS):
            if self._app_finished:
                break
            await anyio.lowlevel.checkpoint()
        self._cancel_scope.cancel()

    def _deliver_app_exception(self) -> None:
        # An app exception reaches the test once: from `receive()` if it is waiting
        # for a message, otherwise when the session ends.
        exc = self._app_exception
        if exc is not None and not self._exception_delivered:
            self._exception_delivered = True
            raise exc

    def _shutdown(self) -> None:
        assert self._future is not None
        try:
            if not self._app_finished and not self._client_closed:
                self.close(1000)
        finally:
            self.portal.call(self._wind_down)
        # Wait for the app task; the cancellation above is absorbed by its scope.
        self._future.exception()
        self._deliver_app_exception()
