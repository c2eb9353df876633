"""`Request`: the HTTP connection with its body (bytes, stream, JSON, form)."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Generator
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, NoReturn, Protocol, TypeVar

import anyio

from stellate_asgi.connection import HTTPConnection, StateT, cookie_parser
from stellate_asgi.datastructures import URL, Address, Headers, QueryParams, State
from stellate_asgi.exceptions import HTTPException
from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_http.datastructures import FormData
from stellate_http.formparsers import (
    FormParser,
    MultiPartException,
    MultiPartParser,
    _parse_options_header,
    parse_options_header,
)

__all__ = [
    "SERVER_PUSH_HEADERS_TO_COPY",
    "URL",
    "Address",
    "AwaitableOrContextManager",
    "AwaitableOrContextManagerWrapper",
    "ClientDisconnect",
    "FormData",
    "FormParser",
    "HTTPConnection",
    "HTTPException",
    "Headers",
    "MultiPartException",
    "MultiPartParser",
    "QueryParams",
    "Request",
    "State",
    "StateT",
    "cookie_parser",
    "empty_receive",
    "empty_send",
]

# Request headers a pushed request inherits from the request that triggered it.
SERVER_PUSH_HEADERS_TO_COPY = {
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "user-agent",
}

T_co = TypeVar("T_co", covariant=True)


class ClientDisconnect(Exception):
    """The client went away before the whole request body was read."""


class _ScopeTypeError(AssertionError, ValueError):
    # A `Request` on a non-HTTP scope. Starlette has raised an `AssertionError` and a
    # `ValueError` for this: being both keeps code written for either working.
    pass


async def empty_receive() -> NoReturn:
    """The `receive` of a `Request` built without one."""
    raise RuntimeError("Receive channel has not been made available")


async def empty_send(message: Message) -> NoReturn:
    """The `send` of a `Request` built without one."""
    raise RuntimeError("Send channel has not been made available")


class AwaitableOrContextManager(Awaitable[T_co], AbstractAsyncContextManager[T_co], Protocol[T_co]):
    """A value to `await`, or to use with `async with` (which closes it on exit)."""


class _SupportsAsyncClose(Protocol):
    async def close(self) -> None: ...


_CloseableT = TypeVar("_CloseableT", bound=_SupportsAsyncClose)


class AwaitableOrContextManagerWrapper(Generic[_CloseableT]):
    """Wraps an awaitable of a closeable value as an `AwaitableOrContextManager`.

    `await wrapper` gives the value; `async with wrapper as value` gives it too and
    awaits `value.close()` when the block ends.
    """

    __slots__ = ("aw", "entered")

    def __init__(self, aw: Awaitable[_CloseableT]) -> None:
        self.aw = aw

    def __await__(self) -> Generator[Any, None, _CloseableT]:
        return self.aw.__await__()

    async def __aenter__(self) -> _CloseableT:
        self.entered = await self.aw
        return self.entered

    async def __aexit__(self, *args: Any) -> bool | None:
        await self.entered.close()
        return None


class Request(HTTPConnection[StateT]):
    """An incoming HTTP request: the scope's views plus the body.

    The body is read once from `receive`: `stream()` hands it out chunk by chunk
    without keeping it, while `body()`, `json()` and `form()` keep what they read,
    so they can be called again (and `stream()` then replays the kept body).
    """

    # The state of the body, until set on the instance: class attributes, so that
    # making a request (once per request) stores only what it is given.
    _stream_consumed = False
    _is_disconnected = False
    _form: FormData | None = None
    # Request messages that `is_disconnected()` received before `stream()` did.
    _pending: list[Message] | None = None

    def __init__(self, scope: Scope, receive: Receive = empty_receive, send: Send = empty_send):
        if scope["type"] != "http":
            # The base class's check first, for its message on a non-connection scope.
            super().__init__(scope)
            raise _ScopeTypeError(f"Expected scope type 'http', got {scope['type']!r}")
        # What `HTTPConnection.__init__` does for an `http` scope, without a second check.
        self.scope = scope
        self._receive = receive
        self._send = send

    @property
    def method(self) -> str:
        """The HTTP method, upper case (`"GET"`)."""
        method: str = self.scope["method"]
        return method

    @property
    def receive(self) -> Receive:
        """The ASGI `receive` callable of the request."""
        return self._receive

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """Yield the body as it arrives, then a final `b""`.

        After `body()` it yields the cached body. Streaming an already streamed
        body raises `RuntimeError("Stream consumed")`; a client that goes away
        mid-body raises `ClientDisconnect`.
        """
        if hasattr(self, "_body"):
            yield self._body
            yield b""
            return
        if self._stream_consumed:
            raise RuntimeError("Stream consumed")
        while not self._stream_consumed:
            pending = self._pending
            message = pending.pop(0) if pending else await self._receive()
            if message["type"] == "http.request":
                body: bytes = message.get("body", b"")
                if not message.get("more_body", False):
                    self._stream_consumed = True
                if body:
                    yield body
            elif message["type"] == "http.disconnect":
                self._is_disconnected = True
                raise ClientDisconnect()
        yield b""

    async def body(self) -> bytes:
        """The whole body (read once, then cached)."""
        if not hasattr(self, "_body"):
            chunks = [chunk async for chunk in self.stream()]
            self._body = b"".join(chunks)
        return self._body

    async def json(self) -> Any:
        """The body parsed as JSON (cached).

        Invalid JSON raises `json.JSONDecodeError`, as in Starlette.
        """
        if not hasattr(self, "_json"):
            body = await self.body()
            self._json = json.loads(body)
        return self._json

    def form(
        self,
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> AwaitableOrContextManager[FormData]:
        """The body parsed as a form: `await request.form()` or `async with request.form()`.

        Parses `multipart/form-data` and `application/x-www-form-urlencoded`; any
        other content type gives an empty `FormData`. A body that breaks a limit
        or the syntax raises `HTTPException(400)` inside an application (the
        scope has an `"app"`) and `MultiPartException` otherwise.
        """
        return AwaitableOrContextManagerWrapper(
            self._get_form(max_files=max_files, max_fields=max_fields, max_part_size=max_part_size)
        )

    async def close(self) -> None:
        """Close the files of the parsed form, if any."""
        if self._form is not None:
            await self._form.close()

    async def is_disconnected(self) -> bool:
        """Whether the client has gone away, checked without waiting."""
        if not self._is_disconnected:
            message: Message = {}
            # Cancelled before it starts: we get a message only if one is ready now.
            with anyio.CancelScope() as scope:
                scope.cancel()
                message = await self._receive()
            if message.get("type") == "http.disconnect":
                self._is_disconnected = True
            elif message.get("type") == "http.request":
                # Starlette drops this chunk of body; keep it for `stream()`.
                if self._pending is None:
                    self._pending = []
                self._pending.append(message)
        return self._is_disconnected

    async def send_push_promise(self, path: str) -> None:
        """Ask the server to push `path` (HTTP/2); does nothing if it cannot."""
        if "http.response.push" not in (self.scope.get("extensions") or {}):
            return
        raw_headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name in SERVER_PUSH_HEADERS_TO_COPY
            for value in self.headers.getlist(name)
        ]
        await self._send({"type": "http.response.push", "path": path, "headers": raw_headers})

    async def send_early_hints(self, link: str, /, *additional_links: str) -> None:
        """Send a `103 Early Hints` response with these `Link` header values.

        Does nothing if the server does not offer the ASGI early hints extension.
        A value with CR, LF or NUL is refused (`ValueError`): it would split headers.
        """
        if "http.response.early_hint" not in (self.scope.get("extensions") or {}):
            return
        links: list[bytes] = []
        for value in (link, *additional_links):
            if any(char in value for char in "\r\n\0"):
                raise ValueError(f"Invalid Link header value: {value!r}")
            links.append(value.encode("latin-1"))
        await self._send({"type": "http.response.early_hint", "links": links})

    async def _get_form(
        self,
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> FormData:
        if self._form is None:
            assert parse_options_header is not None, (
                "The `python-multipart` library must be installed to use form parsing."
            )
            content_type, options = _parse_options_header(self.headers.get("Content-Type"))
            try:
                if content_type == b"multipart/form-data":
                    multipart_parser = MultiPartParser(
                        self.headers,
                        self.stream(),
                        max_files=max_files,
                        max_fields=max_fields,
                        max_part_size=max_part_size,
                    )
                    self._form = await multipart_parser._parse(options)
                elif content_type == b"application/x-www-form-urlencoded":
                    form_parser = FormParser(
                        self.headers,
                        self.stream(),
                        max_fields=max_fields,
                        max_part_size=max_part_size,
                    )
                    self._form = await form_parser.parse()
                else:
                    self._form = FormData()
            except MultiPartException as exc:
                if "app" in self.scope:
                    raise HTTPException(status_code=400, detail=exc.message)
                raise exc
        return self._form
