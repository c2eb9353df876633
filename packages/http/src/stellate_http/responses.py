"""Responses: plain, HTML, text, JSON, redirects, streams and files (with byte ranges).

A response is an ASGI application: `await response(scope, receive, send)` sends it.
"""

from __future__ import annotations

import hashlib
import http.cookies
import json
import os
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, formatdate
from functools import partial
from mimetypes import guess_type
from secrets import token_hex
from typing import Any, Literal
from urllib.parse import quote

from stellate_asgi.datastructures import URL, Headers, MutableHeaders
from stellate_asgi.types import Receive, Scope, Send
from stellate_http._ranges import MalformedRangeHeader, RangeNotSatisfiable, parse_range_header
from stellate_http._sending import (
    Segment,
    absolute_path,
    send_file,
    spec_version,
    stat_regular_file,
    until_disconnect,
    websocket_denial_send,
)
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
_SAMESITE_VALUES = ("strict", "lax", "none")


class Response:
    """An HTTP response with its whole body in memory.

    `content` is rendered to bytes by `render` (`str` is encoded with `charset`);
    `content-length` and `content-type` are added unless `headers` sets them.
    """

    media_type: str | None = None
    charset = "utf-8"

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.body = self.render(content)
        self.init_headers(headers)

    def render(self, content: Any) -> bytes | memoryview:
        """The body bytes for `content`: `None` is empty, bytes pass, `str` is encoded."""
        if content is None:
            return b""
        if isinstance(content, str):
            return content.encode(self.charset)
        return _as_bytes(content, f"{type(self).__name__} content")

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        """Build `raw_headers` from `headers`, adding content-length and content-type."""
        raw_headers = [
            (key.lower().encode("latin-1"), value.encode("latin-1"))
            for key, value in (headers or {}).items()
        ]
        names = {name for name, _ in raw_headers}

        body = getattr(self, "body", None)
        # 1xx, 204 and 304 responses never have a body, so they must not announce one.
        has_body = not (self.status_code < 200 or self.status_code in (204, 304))
        if body is not None and has_body and b"content-length" not in names:
            raw_headers.append((b"content-length", str(len(body)).encode("latin-1")))

        content_type = self.media_type
        if content_type is not None and b"content-type" not in names:
            if content_type.startswith("text/") and "charset=" not in content_type.lower():
                content_type += "; charset=" + self.charset
            raw_headers.append((b"content-type", content_type.encode("latin-1")))

        self.raw_headers = raw_headers

    @property
    def headers(self) -> MutableHeaders:
        """A mutable view of `raw_headers` (changes write through)."""
        headers: MutableHeaders | None = self.__dict__.get("_headers")
        # `raw_headers` may have been rebuilt (by `init_headers`) since the view was made.
        if headers is None or headers.raw is not self.raw_headers:
            headers = self._headers = MutableHeaders(raw=self.raw_headers)
        return headers

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: datetime | str | int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Add a `set-cookie` header.

        `expires` is a datetime (naive means UTC), an HTTP date string, or a number of
        seconds from now. `partitioned` (CHIPS) needs `secure` and Python 3.14+.
        """
        cookie: http.cookies.BaseCookie[str] = http.cookies.SimpleCookie()
        cookie[key] = value
        morsel = cookie[key]
        if max_age is not None:
            morsel["max-age"] = max_age
        if expires is not None:
            if isinstance(expires, datetime):
                morsel["expires"] = _http_date(expires)
            else:
                _check_attribute("expires", expires)
                morsel["expires"] = expires
        if path is not None:
            _check_attribute("path", path)
            morsel["path"] = path
        if domain is not None:
            _check_attribute("domain", domain)
            morsel["domain"] = domain
        if secure:
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if samesite is not None:
            if samesite.lower() not in _SAMESITE_VALUES:
                # Starlette asserts here; raising keeps the check under `python -O`.
                raise AssertionError("samesite must be either 'strict', 'lax' or 'none'")
            morsel["samesite"] = samesite
        if partitioned:
            try:
                morsel["partitioned"] = True
            except http.cookies.CookieError:
                # The attribute is known to `http.cookies` from Python 3.14 on.
                raise ValueError(
                    "Partitioned cookies are only supported in Python 3.14 and above."
                ) from None
            if not secure:
                # Stricter than Starlette: browsers drop a Partitioned cookie that is not
                # Secure, so setting one would fail silently on the client.
                raise ValueError("Partitioned cookies must also be secure (secure=True).")
        cookie_value = cookie.output(header="").strip()
        self.raw_headers.append((b"set-cookie", cookie_value.encode("latin-1")))

    def delete_cookie(
        self,
        key: str,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Add a `set-cookie` header that expires the cookie `key` now."""
        self.set_cookie(
            key,
            max_age=0,
            expires=0,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # `get`: Starlette's own tests drive bare scopes (`{}`) through responses.
        if scope.get("type") == "websocket":
            send = websocket_denial_send(send)
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body})
        if self.background is not None:
            await self.background()


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
        return json.dumps(
            content,
            ensure_ascii=False,
            allow_nan=False,
            indent=None,
            separators=(",", ":"),
        ).encode("utf-8")


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
                await send(
                    {"type": "http.response.body", "body": self._encode(chunk), "more_body": True}
                )
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
        return _as_bytes(chunk, "StreamingResponse chunks")


class FileResponse(Response):
    """The file at `path`, read in `chunk_size` pieces in worker threads.

    Sends `etag`, `last-modified` and `accept-ranges: bytes`; answers `Range` requests
    (honouring `If-Range`) with 206, as a `multipart/byteranges` body for several
    ranges, 400 for a malformed header and 416 when nothing can be served. HEAD sends
    headers only, and servers offering `http.response.pathsend` send the file themselves.
    """

    chunk_size = 64 * 1024
    # A header naming more ranges than this is ignored: the whole file is sent with 200.
    max_ranges = 100

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        filename: str | None = None,
        stat_result: os.stat_result | None = None,
        content_disposition_type: str = "attachment",
    ) -> None:
        self.path = path
        self.status_code = status_code
        self.filename = filename
        if media_type is None:
            media_type = guess_type(filename or path)[0] or "application/octet-stream"
        self.media_type = media_type
        self.background = background
        self.init_headers(headers)
        self.headers.setdefault("accept-ranges", "bytes")
        if filename is not None:
            quoted = quote(filename)
            if quoted != filename:
                # RFC 6266 / RFC 5987: non-ASCII (or unsafe) names travel percent-encoded.
                disposition = f"{content_disposition_type}; filename*=utf-8''{quoted}"
            else:
                disposition = f'{content_disposition_type}; filename="{filename}"'
            self.headers.setdefault("content-disposition", disposition)
        self.stat_result = stat_result
        if stat_result is not None:
            self.set_stat_headers(stat_result)

    def set_stat_headers(self, stat_result: os.stat_result) -> None:
        """Set `content-length`, `last-modified` and `etag` from `stat_result`, unless set."""
        content_length = str(stat_result.st_size)
        last_modified = formatdate(stat_result.st_mtime, usegmt=True)
        etag_base = f"{stat_result.st_mtime}-{stat_result.st_size}"
        etag = hashlib.md5(etag_base.encode(), usedforsecurity=False).hexdigest()
        self.headers.setdefault("content-length", content_length)
        self.headers.setdefault("last-modified", last_modified)
        self.headers.setdefault("etag", f'"{etag}"')

    def generate_multipart(
        self,
        ranges: Sequence[tuple[int, int]],
        boundary: str,
        max_size: int,
        content_type: str,
    ) -> tuple[int, Callable[[int, int], bytes]]:
        """The length of a `multipart/byteranges` body and the part-header maker.

        Each part is its header (from `make_header(start, end)`), the bytes of
        `[start, end)` and CRLF; the body ends with `--{boundary}--`.
        """

        def make_header(start: int, end: int) -> bytes:
            return (
                f"--{boundary}\r\n"
                f"Content-Type: {content_type}\r\n"
                f"Content-Range: bytes {start}-{end - 1}/{max_size}\r\n"
                "\r\n"
            ).encode("latin-1")

        parts_length = sum(
            len(make_header(start, end)) + (end - start) + 2 for start, end in ranges
        )
        return parts_length + len(boundary) + 4, make_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_http = scope["type"] == "http"
        body_send = websocket_denial_send(send) if scope["type"] == "websocket" else send
        stat_result = self.stat_result
        if stat_result is None:
            stat_result = await stat_regular_file(self.path)
            self.set_stat_headers(stat_result)
        size = stat_result.st_size

        try:
            ranges = self._requested_ranges(Headers(scope=scope), size)
        except MalformedRangeHeader as exc:
            await PlainTextResponse(exc.content, status_code=400)(scope, receive, send)
        except RangeNotSatisfiable as exc:
            content_range = {"content-range": f"bytes */{exc.max_size}"}
            await PlainTextResponse(status_code=416, headers=content_range)(scope, receive, send)
        else:
            status, headers, segments = self._plan(ranges, size)
            start = {"type": "http.response.start", "status": status, "headers": headers}
            if is_http and scope["method"].upper() == "HEAD":
                await body_send(start)
                await body_send({"type": "http.response.body", "body": b"", "more_body": False})
            elif is_http and not ranges and "http.response.pathsend" in scope.get("extensions", {}):
                await body_send(start)
                await body_send(
                    {"type": "http.response.pathsend", "path": absolute_path(self.path)}
                )
            else:
                await send_file(
                    self.path, self.chunk_size, scope, receive, body_send, start, segments
                )
        # Starlette skips the background after a 400/416; it runs here, so that a cleanup
        # task (deleting a temporary file, say) never depends on the client's `Range`.
        if self.background is not None:
            await self.background()

    def _requested_ranges(self, request_headers: Headers, size: int) -> list[tuple[int, int]]:
        """The ranges to serve; empty for the whole file with the response's own status."""
        http_range = request_headers.get("range")
        # Ranges only ever turn a 200 into a 206 (RFC 9110, 14.2): an error page is whole.
        if http_range is None or self.status_code != 200:
            return []
        if_range = request_headers.get("if-range")
        if if_range is not None and not self._should_use_range(if_range):
            return []
        return self._parse_range_header(http_range, size)

    # The two hooks below keep Starlette's private names: subclasses in the wild call
    # or override them to tune range handling.

    def _should_use_range(self, http_if_range: str) -> bool:
        """Whether `If-Range` still names this file (its etag or last-modified date)."""
        # If-Range needs a strong match (RFC 9110, 13.1.5): a weak tag never matches.
        if http_if_range.startswith("W/"):
            return False
        return http_if_range in (self.headers.get("etag"), self.headers.get("last-modified"))

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        """The sorted, merged `(start, end)` ranges of `http_range`; `[]` for "send it whole".

        Raises `MalformedRangeHeader` or `RangeNotSatisfiable`.
        """
        return parse_range_header(http_range, file_size, cls.max_ranges)

    def _plan(
        self, ranges: list[tuple[int, int]], size: int
    ) -> tuple[int, list[tuple[bytes, bytes]], list[Segment]]:
        """Status, headers and body segments (literal bytes or file regions) to send."""
        if not ranges:
            return self.status_code, self.raw_headers, [(0, size)]
        # The headers are copied so that this response object can be sent again.
        headers = MutableHeaders(raw=list(self.raw_headers))
        if len(ranges) == 1:
            start, end = ranges[0]
            headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
            headers["content-length"] = str(end - start)
            return 206, headers.raw, [(start, end)]

        # Browsers use about 13 random bytes for their own boundaries.
        boundary = token_hex(13)
        content_type = self.headers.get("content-type", "application/octet-stream")
        length, make_header = self.generate_multipart(ranges, boundary, size, content_type)
        segments: list[Segment] = []
        for start, end in ranges:
            segments += [make_header(start, end), (start, end), b"\r\n"]
        segments.append(f"--{boundary}--".encode("latin-1"))
        headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
        headers["content-length"] = str(length)
        return 206, headers.raw, segments


# Helpers


def _as_bytes(content: object, what: str) -> bytes | memoryview:
    if isinstance(content, bytes | memoryview):
        return content
    if isinstance(content, bytearray):
        return bytes(content)
    raise TypeError(f"{what} must be str, bytes or memoryview, not {type(content).__name__}.")


def _http_date(moment: datetime) -> str:
    # A naive datetime is taken as UTC; an aware one is converted to it.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _check_attribute(name: str, value: object) -> None:
    # `http.cookies` writes attribute values verbatim: a `;` or a control character
    # would let a value smuggle in extra attributes or break the header.
    text = str(value)
    if ";" in text or any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise ValueError(f"Cookie attribute {name!r} must not contain ';' or control characters.")
