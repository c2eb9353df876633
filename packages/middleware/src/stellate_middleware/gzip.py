"""gzip-compress HTTP responses for clients that accept it.

Standard and streaming responses are compressed; each streamed chunk is flushed so the
client can decode it at once. Responses that are small (when the whole body comes in one
message), already encoded, partial (206) or of an excluded content type go out untouched.
Chunks of at least `thread_minimum_size` bytes are compressed in a worker thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from stellate_asgi.datastructures import Headers, MutableHeaders
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_middleware._compress import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    GzipEncoder,
    accept_encoding,
    add_vary_accept_encoding,
    check_level,
    encode,
    is_excluded_media_type,
    negotiate,
    normalize_content_types,
    parse_accept_encoding,
)

if TYPE_CHECKING:
    import zlib

__all__ = [
    "DEFAULT_EXCLUDED_CONTENT_TYPES",
    "GZipMiddleware",
    "GZipResponder",
    "Headers",
    "IdentityResponder",
    "MutableHeaders",
    "unattached_send",
]

# Chunks this large (128 KiB) are compressed in a worker thread: below it, the cost of the
# thread hop outweighs the time the event loop would spend compressing.
_THREAD_MINIMUM_SIZE = 131072


class GZipMiddleware:
    """Compress responses with gzip when the request's `Accept-Encoding` allows it.

    `minimum_size`: a body sent in one message below this many bytes is not compressed.
    `compresslevel`: zlib level, 1 (fast) to 9 (small). `thread_minimum_size`: chunks of
    at least this many bytes are compressed in a worker thread. `exclude_content_types`:
    media types left alone (`type/*` wildcards allowed).
    """

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int = 500,
        compresslevel: int = 9,
        thread_minimum_size: int = _THREAD_MINIMUM_SIZE,
        *,
        exclude_content_types: tuple[str, ...] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        check_level("gzip", compresslevel, -1, 9)
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel
        self.thread_minimum_size = thread_minimum_size
        self.exclude_content_types = tuple(exclude_content_types)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        responder: IdentityResponder
        if _accepts_gzip(scope):
            responder = GZipResponder(
                self.app,
                self.minimum_size,
                compresslevel=self.compresslevel,
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=self.exclude_content_types,
            )
        else:
            responder = IdentityResponder(
                self.app, self.minimum_size, exclude_content_types=self.exclude_content_types
            )
        await responder(scope, receive, send)


class IdentityResponder:
    """Send one response through `apply_compression`, fixing the headers around it.

    This base leaves the body as it is but still marks compressible responses with
    `Vary: Accept-Encoding` (their representation depends on that header). Subclasses set
    `content_encoding` and override `apply_compression`. Make one per response.
    """

    content_encoding = "identity"

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int,
        *,
        exclude_content_types: tuple[str, ...] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.exclude_content_types = normalize_content_types(tuple(exclude_content_types))
        self.send: Send = unattached_send
        self.initial_message: Message = {}
        self.started = False
        self.content_encoding_set = False
        self.content_type_is_excluded = False
        self.partial_response = False
        # True once the first body chunk went through `apply_compression`: every later
        # chunk must too, to continue the same stream.
        self._compressing = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.send = send
        await self.app(scope, receive, self.send_with_compression)

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        """The encoded form of a body chunk; `more_body=False` ends the stream."""
        return body

    async def send_with_compression(self, message: Message) -> None:
        """The `send` given to the app."""
        message_type = message["type"]
        if message_type == "http.response.start":
            if self.started:
                await self.send(message)
                return
            # Held back until the first body chunk tells us how to set the headers.
            self.initial_message = message
            raw = message.get("headers", [])
            # A view to read through; a copy only of headers that are not a list.
            headers = Headers(raw=raw if isinstance(raw, list) else list(raw))
            self.content_encoding_set = "content-encoding" in headers
            self.partial_response = message.get("status") == 206
            self.content_type_is_excluded = is_excluded_media_type(
                headers.get("content-type", ""), self.exclude_content_types
            )
        elif message_type != "http.response.body":
            # Trailers, pathsend, debug and other extensions are never compressed.
            await self._send_initial_message()
            await self.send(message)
        elif self._compressing:
            body = message.get("body", b"")
            more_body = bool(message.get("more_body", False))
            compressed = await self.apply_compression(body, more_body=more_body)
            await self.send({**message, "body": compressed})
        elif self.started or not self.initial_message or self._untouched():
            await self._send_initial_message()
            await self.send(message)
        else:
            await self._send_first_chunk(message)

    async def _send_first_chunk(self, message: Message) -> None:
        body = message.get("body", b"")
        more_body = bool(message.get("more_body", False))
        if not more_body and (not body or len(body) < self.minimum_size):
            # The whole body is here and too small to be worth compressing: what
            # `_send_initial_message` does (the start is held back), then the body.
            self.started = True
            await self.send(self.initial_message)
            await self.send(message)
            return
        self._compressing = True
        compressed = await self.apply_compression(body, more_body=more_body)
        headers = MutableHeaders(raw=list(self.initial_message.get("headers", ())))
        add_vary_accept_encoding(headers)
        if self.content_encoding != IdentityResponder.content_encoding:
            headers["content-encoding"] = self.content_encoding
            if more_body:
                # The final length is unknown until the stream ends.
                del headers["content-length"]
            else:
                headers["content-length"] = str(len(compressed))
            message = {**message, "body": compressed}
        self.initial_message = {**self.initial_message, "headers": headers.raw}
        await self._send_initial_message()
        await self.send(message)

    def _untouched(self) -> bool:
        return self.content_encoding_set or self.content_type_is_excluded or self.partial_response

    async def _send_initial_message(self) -> None:
        if not self.started and self.initial_message:
            self.started = True
            await self.send(self.initial_message)


class GZipResponder(IdentityResponder):
    """An `IdentityResponder` that gzips the body (a zlib stream, flushed per chunk)."""

    content_encoding = "gzip"

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int,
        compresslevel: int = 9,
        *,
        thread_minimum_size: int = _THREAD_MINIMUM_SIZE,
        exclude_content_types: tuple[str, ...] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        super().__init__(app, minimum_size, exclude_content_types=exclude_content_types)
        self.compresslevel = compresslevel
        self.thread_minimum_size = thread_minimum_size
        # Made on first use: most responses through the middleware are never compressed.
        self._encoder: GzipEncoder | None = None

    @property
    def compressor(self) -> zlib._Compress:
        """The zlib compression object of this response (created on first use)."""
        return self._gzip_encoder().compressobj

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        return await encode(
            self._gzip_encoder(),
            body,
            final=not more_body,
            thread_minimum_size=self.thread_minimum_size,
        )

    def _gzip_encoder(self) -> GzipEncoder:
        if self._encoder is None:
            self._encoder = GzipEncoder(self.compresslevel)
        return self._encoder


async def unattached_send(message: Message) -> NoReturn:
    """The `send` of a responder that has not been called yet."""
    raise RuntimeError("send awaitable not set")  # pragma: no cover


def _accepts_gzip(scope: Scope) -> bool:
    value = accept_encoding(scope)
    if value is None:
        return False
    # Clients send a handful of distinct values: each is parsed once. The cache
    # stops growing at its bound, so varied hostile values only cost the parse.
    verdict = _GZIP_VERDICTS.get(value)
    if verdict is None:
        verdict = negotiate(parse_accept_encoding(value), ("gzip",)) == "gzip"
        if len(_GZIP_VERDICTS) < _GZIP_VERDICTS_MAX:
            _GZIP_VERDICTS[value] = verdict
    return verdict


# Whether an `Accept-Encoding` value accepts gzip, by value (bounded in size).
_GZIP_VERDICTS: dict[str, bool] = {}
_GZIP_VERDICTS_MAX = 256
