"""`BaseHTTPMiddleware`: an HTTP middleware written as one `dispatch(request, call_next)`.

`dispatch` gets the `Request` and `call_next`; `await call_next(request)` runs the app
and returns its response as soon as the app has started it, with a `body_iterator` that
streams the rest. Whatever `dispatch` returns is sent to the client.

How it behaves where hand-rolled versions of this pattern trip:

- The body streams: the app is run in a task of its own, and each chunk it sends is
  handed over as the client takes it, so nothing is buffered and a slow client slows
  the app down.
- Background tasks of the app run after the response has been sent: the app's last
  message is only acknowledged once the whole response has gone out.
- A body `dispatch` read with `request.body()` is replayed to the app, which reads it
  as if it came from the client. A body read with `request.stream()` is gone (it was
  not kept, on purpose): the app then sees an empty body.
- Context variables set in `dispatch` before `call_next` are seen by the app; changes
  the app makes are not seen by `dispatch`, since the app runs in a task of its own
  (the same as Starlette).
- An exception raised by the app before its response starts is raised by `call_next`,
  so `dispatch` can catch it; one raised later is raised once the response is done.
- When the client goes away, the app's `receive` says `http.disconnect`; once the
  response has been sent (or replaced by `dispatch`), it says so at once. An error from
  the server's `send`, or from `dispatch`, cancels the app.
- Only HTTP requests are dispatched: websocket and lifespan scopes go straight through.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from typing import Any, TypeAlias, TypeVar

import anyio
import anyio.abc

from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_http.concurrency import create_collapsing_task_group
from stellate_http.requests import ClientDisconnect, Request
from stellate_http.responses import Response

__all__ = [
    "BaseHTTPMiddleware",
    "DispatchFunction",
    "RequestResponseEndpoint",
    "T",
]

RequestResponseEndpoint: TypeAlias = Callable[[Request], Awaitable[Response]]
DispatchFunction: TypeAlias = Callable[[Request, RequestResponseEndpoint], Awaitable[Response]]
T = TypeVar("T")

# What the body iterator of a `call_next` response yields: body chunks, and the ASGI
# messages that are not body chunks (`http.response.pathsend`, and the end of the body
# followed by `http.response.trailers` when the app declared trailers).
_BodyItem: TypeAlias = bytes | bytearray | memoryview | str | Message

# Sent by the app before its response starts, straight to the client: they do not depend
# on which response `dispatch` finally returns.
_INFORMATIONAL_TYPES = frozenset({"http.response.early_hint", "http.response.push"})


class BaseHTTPMiddleware:
    """Run `dispatch(request, call_next)` for every HTTP request.

    Subclass it and override `dispatch`, or pass a `dispatch` function. Other scope
    types (websocket, lifespan) are passed to the app untouched.
    """

    def __init__(self, app: ASGIApp, dispatch: DispatchFunction | None = None) -> None:
        self.app = app
        self.dispatch_func: DispatchFunction = self.dispatch if dispatch is None else dispatch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(self.app, scope, receive, send)
        await exchange.run(self.dispatch_func)

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Answer `request`; `await call_next(request)` gives the app's response."""
        raise NotImplementedError()


class _CachedRequest(Request):
    """The request `dispatch` sees, which also feeds the app what `dispatch` left of the body.

    `wrapped_receive` is the app's view of the client: a body `dispatch` read whole with
    `body()` comes as one message, a body it has not read comes from the client chunk by
    chunk (sharing the request's state, so `dispatch` and the app can take turns), a body
    it streamed away comes as empty. Then comes `http.disconnect`, once the client leaves.
    """

    def __init__(self, scope: Scope, receive: Receive) -> None:
        super().__init__(scope, receive)
        self._wrapped_rcv_disconnected = False
        self._wrapped_rcv_consumed = False

    async def wrapped_receive(self) -> Message:
        """The next message for the app."""
        if self._wrapped_rcv_disconnected:
            return {"type": "http.disconnect"}
        if self._wrapped_rcv_consumed:
            # The app has the whole body: all that is left to tell it is the disconnect.
            if not self._is_disconnected:
                await self._wait_for_disconnect()
            self._wrapped_rcv_disconnected = True
            return {"type": "http.disconnect"}
        if hasattr(self, "_body"):
            # Given even if the client has gone since: the app gets the request it sent.
            self._wrapped_rcv_consumed = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        if self._stream_consumed:
            # Streamed away by `dispatch`: an empty body, so the app does not wait forever.
            self._wrapped_rcv_consumed = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if self._is_disconnected:
            # `dispatch` saw the client leave mid-body: asking the server again is useless.
            self._wrapped_rcv_disconnected = True
            return {"type": "http.disconnect"}
        stream = self.stream()
        try:
            chunk = await anext(stream)
        except ClientDisconnect:
            self._wrapped_rcv_disconnected = True
            return {"type": "http.disconnect"}
        finally:
            # One chunk per call; closing the generator now keeps it from being collected
            # half-run (the request's state already records what was read).
            await stream.aclose()
        self._wrapped_rcv_consumed = self._stream_consumed
        return {"type": "http.request", "body": chunk, "more_body": not self._stream_consumed}

    async def _wait_for_disconnect(self) -> None:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self._is_disconnected = True
                return


class _StreamingResponse(Response):
    """The app's response as `call_next` returns it: the app's status and headers, and a
    `body_iterator` that streams the app's body as it is sent.

    `status_code`, `headers` and `background` may be changed before it is sent. Items of
    the body iterator that are ASGI messages (a `pathsend`, the end of a body followed by
    trailers) are sent as they are.
    """

    def __init__(
        self,
        content: AsyncIterable[_BodyItem],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        info: Mapping[str, Any] | None = None,
        *,
        trailers: bool = False,
    ) -> None:
        self.info = info
        self.body_iterator = content
        self.status_code = status_code
        self.media_type = media_type
        self.background = None
        self.has_trailers = trailers
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.info is not None:
            await send({"type": "http.response.debug", "info": self.info})
        start: Message = {
            "type": "http.response.start",
            "status": self.status_code,
            "headers": self.raw_headers,
        }
        if self.has_trailers:
            start["trailers"] = True
        await send(start)

        body_complete = False
        async for chunk in self.body_iterator:
            if isinstance(chunk, Mapping):
                if chunk["type"] == "http.response.trailers" and not body_complete:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                body_complete = True
                await send(dict(chunk))
                continue
            if isinstance(chunk, str):
                chunk = chunk.encode(self.charset)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if not body_complete:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        if self.background is not None:
            await self.background()


class _Exchange:
    """One request through a `BaseHTTPMiddleware`: `dispatch` in the calling task, the app
    in a task of its own, and an unbuffered channel carrying the app's messages between
    them (so the app can never run ahead of the client)."""

    def __init__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        self.app = app
        self.scope = scope
        self.send = send
        self.request = _CachedRequest(scope, receive)
        self.response_sent = anyio.Event()
        self.app_exc: Exception | None = None
        self.app_exc_raised = False
        self.app_started_response = False
        self.app_declared_trailers = False
        self.task_group: anyio.abc.TaskGroup | None = None
        # Entered by the app's task; cancelled if `call_next` is abandoned before the app
        # has started its response (a timeout in `dispatch`, say).
        self.app_scope = anyio.CancelScope()
        self.called = False
        self.app_messages_in, self.app_messages = anyio.create_memory_object_stream[Message]()
        # The app's pending `receive` calls, ended with `http.disconnect` once the
        # response has been sent.
        self.waiting_receives: set[anyio.CancelScope] = set()

    async def run(self, dispatch: DispatchFunction) -> None:
        with self.app_messages_in, self.app_messages:
            async with create_collapsing_task_group() as task_group:
                self.task_group = task_group
                response = await dispatch(self.request, self.call_next)
                if response is None or not callable(response):
                    raise RuntimeError(f"dispatch() must return a response, not {response!r}.")
                await response(self.scope, self.request.wrapped_receive, self.send)
                self.finish()
                # The task group now waits for the app: for its background tasks.
        if self.app_exc is not None and not self.app_exc_raised:
            raise self.app_exc

    def finish(self) -> None:
        """The response has gone out: the app learns it has nobody left to talk to."""
        self.response_sent.set()
        self.app_messages.close()
        for cancel_scope in list(self.waiting_receives):
            cancel_scope.cancel()

    async def call_next(self, request: Request) -> Response:
        if self.called:
            raise RuntimeError("call_next() may only be called once per request.")
        self.called = True
        assert self.task_group is not None
        self.task_group.start_soon(self.run_app)

        info: Mapping[str, Any] | None = None
        try:
            message = await self.app_messages.receive()
            if message["type"] == "http.response.debug":
                info = message.get("info")
                message = await self.app_messages.receive()
        except anyio.EndOfStream:
            if self.app_exc is None:
                raise RuntimeError("No response returned.") from None
            self.app_exc_raised = True
            app_exc = self.app_exc
            # Raised from the app's own cause or context, so that the end of the channel
            # does not show up as the context of the app's error.
            raise app_exc from app_exc.__cause__ or app_exc.__context__
        except BaseException:
            # Abandoned (cancelled by a timeout in `dispatch`, say): nobody will take the
            # app's response, so the app is stopped now.
            self.app_scope.cancel()
            raise
        if message["type"] != "http.response.start":
            raise RuntimeError(
                f"Expected an 'http.response.start' message, got {message['type']!r}."
            )

        trailers = bool(message.get("trailers", False))
        response = _StreamingResponse(
            _AppBody(self, trailers), message["status"], info=info, trailers=trailers
        )
        response.raw_headers = list(message.get("headers", []))
        return response

    async def run_app(self) -> None:
        with self.app_scope, self.app_messages_in:
            try:
                await self.app(self.scope, self.receive_for_app, self.send_from_app)
            except Exception as exc:
                self.app_exc = exc

    async def receive_for_app(self) -> Message:
        if self.response_sent.is_set():
            return {"type": "http.disconnect"}
        with anyio.CancelScope() as cancel_scope:
            self.waiting_receives.add(cancel_scope)
            try:
                return await self.request.wrapped_receive()
            finally:
                self.waiting_receives.discard(cancel_scope)
        # Cancelled by `finish`: the response is out, the app may stop listening.
        return {"type": "http.disconnect"}

    async def send_from_app(self, message: Message) -> None:
        message_type = message["type"]
        if message_type in _INFORMATIONAL_TYPES:
            if not self.app_started_response:
                await self.send(message)
            return
        if message_type == "http.response.start":
            self.app_started_response = True
            self.app_declared_trailers = bool(message.get("trailers", False))
        try:
            await self.app_messages_in.send(message)
        except anyio.BrokenResourceError:
            # The response has been sent, or `dispatch` replaced this one: nobody reads
            # the rest, which is dropped so the app can finish.
            return
        if self._ends_response(message):
            # Held until the response has gone out, so that what the app does next (its
            # background tasks) happens after the client has its response.
            await self.response_sent.wait()

    def _ends_response(self, message: Message) -> bool:
        message_type: str = message["type"]
        if message_type == "http.response.body":
            return not message.get("more_body", False) and not self.app_declared_trailers
        if message_type == "http.response.trailers":
            return not message.get("more_trailers", False)
        return message_type == "http.response.pathsend"

    def raise_app_exception(self) -> None:
        """Raise the app's error, if it failed and nobody has raised it yet."""
        if self.app_exc is not None and not self.app_exc_raised:
            self.app_exc_raised = True
            raise self.app_exc


class _AppBody:
    """The app's response body, received from the app as it is iterated.

    Yields body chunks (empty ones skipped), then stops at the end of the body. With a
    `pathsend` it yields that message and stops; with trailers declared, it yields the end
    of the body as a message and then the trailer messages. If the app fails before its
    body is complete, iterating raises the app's error.
    """

    def __init__(self, exchange: _Exchange, trailers: bool) -> None:
        self._exchange = exchange
        self._trailers = trailers
        self._body_complete = False
        self._done = False

    def __aiter__(self) -> _AppBody:
        return self

    async def __anext__(self) -> _BodyItem:
        while not self._done:
            try:
                message: Message | None = await self._exchange.app_messages.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                message = None
            if message is None:
                # The app returned (or failed) without completing its body. Raised out here
                # so that the end of the channel does not become the error's context.
                self._done = True
                self._exchange.raise_app_exception()
                break
            item = self._accept(message)
            if item is not None:
                return item
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop reading the app's body; the rest is dropped."""
        self._done = True

    def _accept(self, message: Message) -> _BodyItem | None:
        message_type = message["type"]
        if message_type == "http.response.body" and not self._body_complete:
            body: bytes = message.get("body", b"")
            if message.get("more_body", False):
                return body or None
            self._body_complete = True
            if self._trailers:
                # Trailers follow: the end of the body is handed on as the message itself.
                return {"type": "http.response.body", "body": body, "more_body": False}
            self._done = True
            return body or None
        if message_type == "http.response.pathsend" and not self._body_complete:
            self._body_complete = self._done = True
            return message
        if message_type == "http.response.trailers" and self._trailers and self._body_complete:
            self._done = not message.get("more_trailers", False)
            return message
        raise RuntimeError(f"Unexpected message from the app: {message_type!r}.")
