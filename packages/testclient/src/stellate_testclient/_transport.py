"""The httpx transport that hands each request to an ASGI app, as a server would."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar, cast

import anyio
import anyio.from_thread
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from stellate_asgi.types import ASGIApp, Message, Scope
from stellate_testclient._websocket import PortalFactory, WebSocketTestSession

__all__ = ["TestClientTransport", "Upgrade"]

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}

# How long the test thread blocks at a time while it waits for the app (seconds).
_WAIT_SLICE = 0.05

_T = TypeVar("_T")

# What the app's `send` hands over to the test thread: ("start", status, headers,
# has_trailers), ("body", chunk), ("trailers", headers) or ("debug", info).
_Event = tuple[Any, ...]


class Upgrade(Exception):
    """Carries a WebSocket session out of httpx, back to `websocket_connect()`."""

    def __init__(self, session: WebSocketTestSession) -> None:
        self.session = session


class TestClientTransport(httpx.BaseTransport):
    """Runs the app for every request, in the client's portal or in a fresh one."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        app: ASGIApp,
        portal_factory: PortalFactory,
        raise_server_exceptions: bool = True,
        root_path: str = "",
        *,
        client: tuple[str, int] | None = ("testclient", 50000),
        app_state: dict[str, Any],
    ) -> None:
        self.app = app
        self.portal_factory = portal_factory
        self.raise_server_exceptions = raise_server_exceptions
        self.root_path = root_path
        self.client = client
        self.app_state = app_state

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        host = url.host
        port = url.port if url.port is not None else _DEFAULT_PORTS.get(scheme, 80)
        scope: Scope = {
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": scheme,
            # httpx has already percent-decoded `path`; `raw_path` keeps the bytes sent.
            "path": url.path,
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "root_path": self.root_path,
            "query_string": url.query,
            "headers": _scope_headers(request, host, port, scheme),
            "client": self.client,
            "server": [host, port],
            "state": self.app_state.copy(),
        }
        if scheme in ("ws", "wss"):
            protocols = request.headers.get("sec-websocket-protocol")
            scope["type"] = "websocket"
            scope["subprotocols"] = (
                [] if protocols is None else [value.strip() for value in protocols.split(",")]
            )
            scope["extensions"] = {"websocket.http.response": {}}
            raise Upgrade(WebSocketTestSession(self.app, scope, self.portal_factory))

        scope["type"] = "http"
        scope["method"] = request.method
        scope["extensions"] = {"http.response.debug": {}, "http.response.trailers": {}}
        exchange = _HTTPExchange(self.app, scope, request, self.raise_server_exceptions)
        return exchange.open(self.portal_factory)


class _HTTPExchange:
    """One request/response cycle, streamed: the response is handed to httpx as soon as
    its first body chunk is out, and the rest is read as httpx consumes it.

    The app's messages cross over to the test thread through an unbuffered channel, so
    an app streaming a long body waits for the test to read it. The app runs until it
    returns (background tasks included) while the body is read; closing an unfinished
    response cancels it. Its exception, if any, is raised where the test is: from the
    request before the response started, from the body read after.
    """

    def __init__(
        self,
        app: ASGIApp,
        scope: Scope,
        request: httpx.Request,
        raise_server_exceptions: bool,
    ) -> None:
        self.app = app
        self.scope = scope
        self.request = request
        self.raise_server_exceptions = raise_server_exceptions
        self.is_head = request.method == "HEAD"
        # App side (event loop thread).
        self.request_complete = False
        self.response_started = False
        self.trailers_declared = False
        self.body_complete = False
        self.trailers_complete = False
        self._chunks: Iterator[bytes] | None = None
        self._next_chunk: bytes | None = None
        # Shared: written by the app's task before its end of the channel is closed,
        # read by the test thread after it saw the channel end.
        self.app_exception: BaseException | None = None
        self._app_finished = threading.Event()
        # Test thread side.
        self.status_code: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.has_trailers = False
        self.debug_info: dict[str, Any] | None = None
        self.trailers: list[tuple[bytes, bytes]] = []
        self.response: httpx.Response | None = None
        self._stack = contextlib.ExitStack()
        self._closed = False
        # Loop thread: set when the request is given up before or while the app runs.
        self._abandoned = False
        self._cancel_scope: anyio.CancelScope | None = None

    # --- test thread ----------------------------------------------------------------

    def open(self, portal_factory: PortalFactory) -> httpx.Response:
        """Start the app and return the response once its body starts (or the app ends)."""
        stack = self._stack
        try:
            self.portal = stack.enter_context(portal_factory())
            # Created here so that the test thread can wait on them at once; closed on
            # the event loop, after the app is done.
            to_test, from_app = anyio.create_memory_object_stream[_Event](0)
            self._to_test: MemoryObjectSendStream[_Event] = to_test
            self._from_app: MemoryObjectReceiveStream[_Event] = from_app
            stack.callback(self.portal.call, self._close_streams)
            stack.callback(self._stop_app)
            self.portal.start_task_soon(self._run)
            first_chunk, ended = self._read_head()
        except BaseException as exc:
            # Interrupted (KeyboardInterrupt, say): the app must not outlive the request.
            # The exception also reaches a portal of our own, which then cancels
            # whatever is left in it.
            self._closed = True
            stack.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if ended:
            self.close()
            self._raise_app_exception()
            if self.status_code is None:
                if self.raise_server_exceptions:
                    raise AssertionError("TestClient did not receive any response.")
                # The app failed before answering: what a server would send instead.
                return httpx.Response(500, request=self.request, content=b"")
            return self._build_response(httpx.ByteStream(first_chunk or b""))
        return self._build_response(_ResponseStream(self, first_chunk))

    def next_event(self) -> _Event | None:
        """The app's next message, or None once it has returned (or failed)."""
        try:
            return self._call(self._from_app.receive)
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return None

    def _call(self, func: Callable[[], Awaitable[_T]]) -> _T:
        # `portal.call()`, but waiting in short slices: a Ctrl+C delivered to another
        # thread only reaches the main thread once it is back in Python code.
        future = self.portal.start_task_soon(func)
        try:
            while True:
                try:
                    return future.result(timeout=_WAIT_SLICE)
                except TimeoutError:
                    if future.done():
                        raise
        except BaseException:
            future.cancel()
            raise

    def handle_event(self, event: _Event) -> bytes | None:
        """Apply one message from the app; returns the body chunk it carries, if any."""
        kind = event[0]
        if kind == "start":
            self.status_code, self.headers, self.has_trailers = event[1:]
        elif kind == "body":
            chunk: bytes = event[1]
            return chunk
        elif kind == "trailers":
            self.trailers.extend(event[1])
        else:  # "debug"
            self.debug_info = event[1]
            if self.response is not None:
                self._apply_debug_info(self.response)
        return None

    def finish(self) -> None:
        """The app has returned: release the portal, then re-raise what the app raised."""
        self.close()
        self._raise_app_exception()

    def _read_head(self) -> tuple[bytes | None, bool]:
        # Until the first body chunk (so that debug info sent around the response start
        # is already there) or the end of the app.
        while True:
            event = self.next_event()
            if event is None:
                return None, True
            chunk = self.handle_event(event)
            if chunk is not None:
                return chunk, False

    def _build_response(self, stream: httpx.SyncByteStream) -> httpx.Response:
        assert self.status_code is not None
        response = httpx.Response(
            self.status_code,
            headers=self.headers,
            # A stream, not `content=`: httpx would add a content-length the app never sent.
            stream=stream,
            request=self.request,
        )
        if self.has_trailers:
            # Filled in as the body is read; complete once it has been read.
            response.extensions["http.response.trailers"] = self.trailers
        if self.debug_info is not None:
            self._apply_debug_info(response)
        self.response = response
        return response

    def _apply_debug_info(self, response: httpx.Response) -> None:
        info = self.debug_info
        assert info is not None
        response.extensions["http.response.debug"] = info
        # Template responses expose what they rendered, as Starlette's client does.
        if "template" in info:
            setattr(response, "template", info["template"])  # noqa: B010
        if "context" in info:
            setattr(response, "context", info["context"])  # noqa: B010

    def _raise_app_exception(self) -> None:
        exc = self.app_exception
        if exc is not None and self.raise_server_exceptions:
            self.app_exception = None
            raise exc

    def close(self) -> None:
        """Stop the app if it still runs and release the portal (once)."""
        if not self._closed:
            self._closed = True
            self._stack.close()

    def _stop_app(self) -> None:
        if not self._app_finished.is_set():
            self._call(self._cancel_app)

    # --- event loop thread ------------------------------------------------------------

    async def _run(self) -> None:
        if self._abandoned:
            # Given up before it even started (an interrupt while it was being spawned).
            self._app_finished.set()
            self._to_test.close()
            return
        self.response_complete = anyio.Event()
        self._finished = anyio.Event()
        with anyio.CancelScope() as cancel_scope:
            self._cancel_scope = cancel_scope
            try:
                await self.app(self.scope, self.receive, self.send)
            except anyio.get_cancelled_exc_class():
                raise
            except BaseException as exc:
                # Kept for the test thread; raising it here would tear down a portal
                # shared with the lifespan and other requests.
                self.app_exception = exc
            finally:
                self._app_finished.set()
                self._finished.set()
                # The test thread's next read sees the end of the stream.
                self._to_test.close()

    async def _cancel_app(self) -> None:
        # Runs on the event loop, so it sees `_run` either not started or started.
        self._abandoned = True
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()
            await self._finished.wait()

    async def _close_streams(self) -> None:
        self._to_test.close()
        self._from_app.close()

    async def receive(self) -> Message:
        if self.request_complete:
            # Like a server: nothing more until the response is out, then the
            # connection is gone.
            # No checkpoint once the response is out: `Request.is_disconnected()`
            # polls with an already-cancelled scope and must see this disconnect.
            if not self.response_complete.is_set():
                await self.response_complete.wait()
            return {"type": "http.disconnect"}
        if self._chunks is None:
            self._chunks = iter(cast(httpx.SyncByteStream, self.request.stream))
            self._next_chunk = next(self._chunks, None)
        chunk = self._next_chunk
        if chunk is None:
            self.request_complete = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # One chunk of look-ahead so the last one carries `more_body: False`.
        self._next_chunk = next(self._chunks, None)
        more_body = self._next_chunk is not None
        self.request_complete = not more_body
        return {"type": "http.request", "body": bytes(chunk), "more_body": more_body}

    async def send(self, message: Message) -> None:
        # Assertions, as Starlette's client: a misbehaving app fails the test.
        message_type = message["type"]
        if message_type == "http.response.start":
            assert not self.response_started, 'Received multiple "http.response.start" messages.'
            self.response_started = True
            self.trailers_declared = bool(message.get("trailers", False))
            headers = [(bytes(key), bytes(value)) for key, value in message.get("headers", [])]
            start = ("start", message["status"], headers, self.trailers_declared)
            await self._to_test.send(start)
        elif message_type == "http.response.body":
            assert self.response_started, (
                'Received "http.response.body" without "http.response.start".'
            )
            if self.trailers_declared:
                assert not self.body_complete, 'Received "http.response.body" after body completed.'
            else:
                assert not self.body_complete, (
                    'Received "http.response.body" after response completed.'
                )
            more_body = bool(message.get("more_body", False))
            self.body_complete = not more_body
            # Copied: the app may reuse a bytearray or memoryview once `send` returns.
            chunk = b"" if self.is_head else bytes(message.get("body", b""))
            await self._to_test.send(("body", chunk))
            # Only now, so that an app waiting for the disconnect does not cancel the
            # sending of its own last chunk.
            if not more_body and not self.trailers_declared:
                self.response_complete.set()
        elif message_type == "http.response.trailers":
            assert self.trailers_declared, (
                'Received "http.response.trailers" without declaring trailers.'
            )
            assert self.body_complete, 'Received "http.response.trailers" before body completed.'
            assert not self.trailers_complete, (
                'Received "http.response.trailers" after response completed.'
            )
            more_trailers = bool(message.get("more_trailers", False))
            self.trailers_complete = not more_trailers
            headers = [(bytes(key), bytes(value)) for key, value in message.get("headers", [])]
            await self._to_test.send(("trailers", headers))
            if not more_trailers:
                self.response_complete.set()
        elif message_type == "http.response.debug":
            await self._to_test.send(("debug", message.get("info", {})))


class _ResponseStream(httpx.SyncByteStream):
    """The response body, read from the app as httpx iterates; closing it early stops
    the app."""

    def __init__(self, exchange: _HTTPExchange, first_chunk: bytes | None) -> None:
        self._exchange = exchange
        self._first_chunk = first_chunk

    def __iter__(self) -> Iterator[bytes]:
        exchange = self._exchange
        chunk, self._first_chunk = self._first_chunk, None
        if chunk:
            yield chunk
        while (event := exchange.next_event()) is not None:
            chunk = exchange.handle_event(event)
            if chunk:
                yield chunk
        exchange.finish()

    def close(self) -> None:
        # After a full read this is a no-op; before it, the app is cancelled.
        self._exchange.close()


def _scope_headers(
    request: httpx.Request, host: str, port: int, scheme: str
) -> list[tuple[bytes, bytes]]:
    # The host header comes first, as a browser and httpx send it.
    headers = [(key.lower(), value) for key, value in request.headers.raw]
    hosts = [item for item in headers if item[0] == b"host"]
    others = [item for item in headers if item[0] != b"host"]
    if not hosts:
        authority = host if ":" not in host else f"[{host}]"
        if port != _DEFAULT_PORTS.get(scheme):
            authority = f"{authority}:{port}"
        hosts = [(b"host", authority.encode("latin-1"))]
    return hosts + others
