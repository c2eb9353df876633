"""Responses: plain, HTML, text, JSON, redirects, streams and files (with byte ranges).

A response is an ASGI application: `await response(scope, receive, send)` sends it.
The base `Response` lives in `_response` and `FileResponse` in `_fileresponse`; this
module is the public home of both and re-exports them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from functools import partial
from typing import Any
from urllib.parse import quote

from stellate_asgi.datastructures import URL
from stellate_asgi.types import Receive, Scope, Send
from stellate_http._fileresponse import FileResponse
from stellate_http._ranges import MalformedRangeHeader, RangeNotSatisfiable
from stellate_http._response import Response, as_bytes
from stellate_http._sending import spec_version, until_disconnect, websocket_denial_send
from stellate_http.background import BackgroundTask
from stellate_http.concurrency import iterate_in_threadpool
from stellate_http.requests import ClientDisconnect

__all__ = [
    "AsyncContentStream",
    "Content",
    "ContentStream",
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "MalformedRangeHeader",
    "PlainTextResponse",
    "RangeNotSatisfiable",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
    "SyncContentStream",
]

Content = str | bytes | memoryview
SyncContentStream = Iterable[Content]
AsyncContentStream = AsyncIterable[Content]
ContentStream = AsyncContentStream | SyncContentStream

# Characters left as they are in a `Location` header: URL delimiters, and `%` so that an
# already-quoted URL is not quoted twice.
_LOCATION_SAFE = ":/%#?=@[]!$&'()*+,;"


class HTMLResponse(Response):
    """A `text/html` response."""

    media_type = "text/html"


class PlainTextResponse(Response):
    """A `text/plain` response."""

    media_type = "text/plain"


class JSONResponse(Response):
    """`content` serialized as compact UTF-8 JSON (NaN and infinities are refused)."""

    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(content, status_code, headers, media_type, background)

    def render(self, content: Any) -> bytes:
        return _encode_json(content).encode("utf-8")


# Made once: `json.dumps` with any non-default option builds a new encoder per call.
_JSON_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
)


def _direct_json_encoder() -> Callable[[Any], str] | None:
    # `_JSON_ENCODER.encode` without its per-call set-up in Python: what it runs is the C
    # encoder that `json` makes for a one-shot encoding, so this calls that directly,
    # with a new markers dict each time as `json` does (for circular references).
    # `c_make_encoder` is not public API: it is used only if it exists and, on probe
    # documents, gives exactly what `_JSON_ENCODER` gives and refuses NaN alike.
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    default = _JSON_ENCODER.default
    quote = json.encoder.encode_basestring

    def encode(content: Any) -> str:
        return "".join(make({}, default, quote, None, ":", ",", False, False, False)(content, 0))

    probes: list[Any] = ['é\u2028"', {"a": [1, 2.5, None, True, {"b": ""}]}, [], 10**30, -0.0]
    try:
        if any(encode(probe) != _JSON_ENCODER.encode(probe) for probe in probes):
            return None
        encode(float("nan"))
    except ValueError:
        return encode
    except Exception:
        return None
    return None


_encode_json: Callable[[Any], str] = _direct_json_encoder() or _JSON_ENCODER.encode


class RedirectResponse(Response):
    """An empty response whose `location` is `url`, quoted (307 unless told otherwise)."""

    def __init__(
        self,
        url: str | URL,
        status_code: int = 307,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(
            content=b"", status_code=status_code, headers=headers, background=background
        )
        self.headers["location"] = quote(str(url), safe=_LOCATION_SAFE)


class StreamingResponse(Response):
    """A response whose body comes from an (async or sync) iterable of str/bytes chunks.

    Sync iterables are consumed in worker threads. Streaming stops when the client
    disconnects: on ASGI < 2.4 by listening for `http.disconnect`, on 2.4+ because the
    server's `send` raises `OSError`, which becomes `ClientDisconnect`.
    """

    body_iterator: AsyncContentStream

    def __init__(
        self,
        content: ContentStream,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        if isinstance(content, AsyncIterable):
            self.body_iterator = content
        else:
            self.body_iterator = iterate_in_threadpool(content)
        self.status_code = status_code
        self.media_type = self.media_type if media_type is None else media_type
        self.background = background
        self.init_headers(headers)

    async def listen_for_disconnect(self, receive: Receive) -> None:
        """Return once `receive` reports `http.disconnect`."""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break

    async def stream_response(self, send: Send) -> None:
        """Send the start message, every chunk of `body_iterator`, then the end of the body."""
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        iterator = aiter(self.body_iterator)
        try:
            async for chunk in iterator:
                # Bytes, the usual chunk, skip the encoding call: it runs once per chunk.
                body = chunk if type(chunk) is bytes else self._encode(chunk)
                await send({"type": "http.response.body", "body": body, "more_body": True})
        finally:
            # A stream cut short (disconnect, send error) is closed now, so that the
            # generator's own cleanup runs here rather than whenever it is collected.
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "websocket":
            # A denial response: the websocket `receive` has no `http.disconnect` to await.
            await self.stream_response(websocket_denial_send(send))
        elif spec_version(scope) >= (2, 4):
            try:
                await self.stream_response(send)
            except OSError:
                raise ClientDisconnect()
        else:
            await until_disconnect(
                partial(self.stream_response, send), partial(self.listen_for_disconnect, receive)
            )
        if self.background is not None:
            await self.background()

    def _encode(self, chunk: Content) -> bytes | memoryview:
        if isinstance(chunk, str):
            return chunk.encode(self.charset)
        return as_bytes(chunk, "StreamingResponse chunks")
