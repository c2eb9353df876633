"""`WSGIMiddleware`: serve a WSGI application (Flask, Django, ...) from an ASGI server.

Deprecated, as in Starlette: importing this module warns. It is kept so that existing
WSGI apps can be mounted while they are ported; a2wsgi is the maintained replacement.

The WSGI app runs in a worker thread. The request body is read first (held in memory up
to 1 MiB, spooled to a temporary file beyond that, and subject to any body limit in
force); the response is streamed back chunk by chunk through a small buffer, so a slow
client slows the app down instead of filling memory. A client that disconnects stops the
streaming, and the app's iterable is closed as WSGI requires.
"""

from __future__ import annotations

import io
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable
from typing import IO, Any

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from stellate_asgi.exceptions import StellateDeprecationWarning
from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_http.concurrency import create_collapsing_task_group

__all__ = [
    "WSGIMiddleware",
    "WSGIResponder",
    "build_environ",
]

warnings.warn(
    "stellate.middleware.wsgi is deprecated and will be removed in a future release. "
    "Please refer to https://github.com/abersheeran/a2wsgi as a replacement.",
    StellateDeprecationWarning,
    stacklevel=2,
)

# Request bodies up to this size stay in memory; larger ones go to a temporary file.
_MAX_BODY_IN_MEMORY = 1024 * 1024
# Response messages the app's thread may queue ahead of the client.
_RESPONSE_BUFFER = 16


def build_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The WSGI environ for an HTTP `scope` whose request body is `body`.

    Strings are "native strings" as PEP 3333 has them: the bytes decoded as latin-1.
    Repeated headers are joined with commas. Header names with an underscore are left
    out: `X_Forwarded_For` would otherwise pass for `X-Forwarded-For`.
    """
    script_name = _native(scope.get("root_path", ""))
    path_info = _native(scope["path"])
    if path_info.startswith(script_name):
        path_info = path_info[len(script_name) :]

    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": bytes(scope.get("query_string", b"")).decode("latin-1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stdout,  # where Starlette sends it
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }

    # WSGI requires a server name and port; ASGI leaves them out for unix sockets.
    server = scope.get("server") or ("localhost", 80)
    environ["SERVER_NAME"] = server[0]
    environ["SERVER_PORT"] = server[1]

    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = client[0]

    for raw_name, raw_value in scope.get("headers", []):
        name = bytes(raw_name).decode("latin-1").lower()
        if "_" in name:
            continue
        if name == "content-length":
            key = "CONTENT_LENGTH"
        elif name == "content-type":
            key = "CONTENT_TYPE"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        value = bytes(raw_value).decode("latin-1")
        if key in environ:
            value = environ[key] + "," + value
        environ[key] = value

    if body and "CONTENT_LENGTH" not in environ:
        # A chunked request: WSGI apps read `wsgi.input` only as far as CONTENT_LENGTH.
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


class WSGIMiddleware:
    """Serve the WSGI application `app` as an ASGI application (deprecated).

    HTTP requests go to `app`; a websocket is refused (WSGI has none), and the lifespan
    protocol is answered with nothing to start or stop.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            # Closing before accepting refuses the handshake (the server answers 403).
            await send({"type": "websocket.close", "code": 1000})
            return
        responder = WSGIResponder(self.app, scope)
        await responder(receive, send)


class WSGIResponder:
    """One request to a WSGI app: read the body, run the app in a thread, stream back."""

    stream_send: ObjectSendStream[Message]
    stream_receive: ObjectReceiveStream[Message]

    def __init__(self, app: Callable[..., Any], scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self.status: str | None = None
        self.response_headers: list[tuple[bytes, bytes]] | None = None
        self.response_started = False
        self.exc_info: Any = None

    async def __call__(self, receive: Receive, send: Send) -> None:
        request_body = await _read_body(receive)
        if request_body is None:
            return  # The client left before sending its whole request: nobody to answer.
        body, spooled = request_body
        try:
            environ = build_environ(self.scope, body)
            if spooled is not None:
                environ["wsgi.input"] = spooled
                environ["CONTENT_LENGTH"] = str(spooled.tell())
                await anyio.to_thread.run_sync(spooled.seek, 0)

            # Made now, not in `__init__`: a responder that never gets this far leaves no
            # stream unclosed.
            self.stream_send, self.stream_receive = anyio.create_memory_object_stream[Message](
                _RESPONSE_BUFFER
            )
            with self.stream_send, self.stream_receive:
                async with create_collapsing_task_group() as task_group:
                    task_group.start_soon(self._send_until_disconnect, receive, send)
                    async with self.stream_send:
                        await anyio.to_thread.run_sync(self.wsgi, environ, self.start_response)
        finally:
            if spooled is not None:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(spooled.close)
        if self.exc_info is not None:
            # The app answered with an error page and reported its error: raise it.
            raise self.exc_info[1].with_traceback(self.exc_info[2])

    async def sender(self, send: Send) -> None:
        """Send the messages the app's thread produces, in order."""
        async with self.stream_receive:
            async for message in self.stream_receive:
                await send(message)

    def start_response(
        self,
        status: str,
        response_headers: list[tuple[str, str]],
        exc_info: Any = None,
    ) -> None:
        """WSGI's `start_response` (called in the app's thread).

        The status and headers are kept until the first body chunk, so an app may still
        replace them with an error page (passing `exc_info`) until then; afterwards,
        `exc_info` is raised again, as PEP 3333 requires.
        """
        if exc_info is not None:
            if self.response_started:
                raise exc_info[1].with_traceback(exc_info[2])
            self.exc_info = exc_info
        elif self.status is not None:
            raise RuntimeError("start_response() was called twice without exc_info.")
        self.status = status
        self.response_headers = [
            (_encode_header(name).lower(), _encode_header(value))
            for name, value in response_headers
        ]

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> None:
        """Run the app (in a worker thread), handing its response to the event loop."""

        def start_response_with_write(*args: Any) -> Callable[[bytes], None]:
            start_response(*args)
            return self._write

        try:
            iterable: Iterable[bytes] = self.app(environ, start_response_with_write)
            try:
                for chunk in iterable:
                    self._write(chunk)
                self._write(b"", more_body=False)
            finally:
                close = getattr(iterable, "close", None)
                if close is not None:
                    close()
        except _ClientGone:
            pass  # The response went nowhere; the app has been stopped and cleaned up.

    def _write(self, chunk: bytes, *, more_body: bool = True) -> None:
        if not chunk and more_body:
            return
        if not self.response_started:
            if self.status is None or self.response_headers is None:
                raise RuntimeError("The WSGI app sent a body before calling start_response().")
            self.response_started = True
            status_code = int(self.status.split(" ", 1)[0])
            self._put(
                {
                    "type": "http.response.start",
                    "status": status_code,
                    "headers": self.response_headers,
                }
            )
        self._put({"type": "http.response.body", "body": bytes(chunk), "more_body": more_body})

    def _put(self, message: Message) -> None:
        try:
            anyio.from_thread.run(self.stream_send.send, message)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise _ClientGone from None

    async def _send_until_disconnect(self, receive: Receive, send: Send) -> None:
        # The body has been read, so `receive` has nothing left to say but the disconnect.
        async with create_collapsing_task_group() as task_group:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                # Stopping the sender closes the stream: the app's thread stops next write.
                task_group.cancel_scope.cancel()

            task_group.start_soon(watch)
            await self.sender(send)
            task_group.cancel_scope.cancel()


class _ClientGone(Exception):
    """Stops the app's thread once its response can no longer be delivered."""


def _native(text: str) -> str:
    """`text` as a WSGI native string: its UTF-8 bytes, decoded as latin-1."""
    return text.encode("utf-8").decode("latin-1")


def _encode_header(text: str) -> bytes:
    # PEP 3333 wants latin-1; text beyond it is sent as UTF-8 rather than failing.
    text = text.strip()
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


async def _read_body(receive: Receive) -> tuple[bytes, IO[bytes] | None] | None:
    """The whole request body: bytes, plus a file once it outgrows memory (None if the
    client disconnected first). A body limit in force raises from `receive`."""
    chunks: list[bytes] = []
    size = 0
    spooled: IO[bytes] | None = None
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if spooled is not None:
                    await _close_in_thread(spooled)
                return None
            if message["type"] != "http.request":
                continue
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if spooled is None and size > _MAX_BODY_IN_MEMORY:
                spooled = await anyio.to_thread.run_sync(tempfile.TemporaryFile)
                chunks.append(chunk)
                await anyio.to_thread.run_sync(spooled.writelines, chunks)
                chunks.clear()
            elif spooled is not None:
                await anyio.to_thread.run_sync(spooled.write, chunk)
            elif chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), spooled
    except BaseException:
        if spooled is not None:
            await _close_in_thread(spooled)
        raise


async def _close_in_thread(file: IO[bytes]) -> None:
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(file.close)


async def _answer_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
