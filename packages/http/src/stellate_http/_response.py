"""`Response`, the base of every response: an in-memory body, its headers and cookies.

Internal to `stellate_http.responses`, which re-exports it; it lives here so that
`FileResponse` (in `_fileresponse`) can subclass it without an import cycle.
"""

from __future__ import annotations

import http.cookies
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal

from stellate_asgi._headers import encode_header
from stellate_asgi.datastructures import MutableHeaders
from stellate_asgi.types import Receive, Scope, Send
from stellate_http._sending import websocket_denial_send
from stellate_http.background import BackgroundTask

__all__ = ["Response", "as_bytes"]

_SAMESITE_VALUES = ("strict", "lax", "none")


class Response:
    """An HTTP response with its whole body in memory.

    `content` is rendered to bytes by `render` (`str` is encoded with `charset`);
    `content-length` and `content-type` are added unless `headers` sets them.
    """

    media_type: str | None = None
    charset = "utf-8"
    # The view `headers` made last: unset until then. (Not read from `__dict__`, which
    # would give the response's attributes a dict of their own, slower to read.)
    _headers: MutableHeaders | None = None

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is None:
            media_type = self.media_type
        else:
            self.media_type = media_type
        self.background = background
        cls = type(self)
        # What `render` and `init_headers` do, inline for the common case (a `str`, no
        # headers of the caller's, a status with a body) unless a subclass overrides them.
        if type(content) is str and cls.render is _RENDER:
            charset = self.charset
            # (Without an argument `encode` skips a codec lookup: most bodies are UTF-8.)
            body: bytes | memoryview = (
                content.encode() if charset == "utf-8" else content.encode(charset)
            )
        else:
            body = self.render(content)
            # As `init_headers` would read them: after `render`, which may set them.
            charset = self.charset
            media_type = self.media_type
        self.body = body
        if (
            headers is None
            and cls.init_headers is _INIT_HEADERS
            # (200 first: one comparison for most responses.)
            and (status_code == 200 or (status_code >= 200 and status_code not in (204, 304)))
        ):
            length = len(body)
            # `_content_length`'s lookup, without its call.
            content_length = _CONTENT_LENGTHS[length] if length < _CONTENT_LENGTHS_MAX else None
            if content_length is None:
                content_length = _content_length_header(length)
            if media_type is None:
                self.raw_headers = [content_length]
            else:
                try:
                    # `_content_type`'s lookup, without its call.
                    content_type = _CONTENT_TYPES[charset][media_type]
                except KeyError:
                    content_type = _content_type(media_type, charset)
                self.raw_headers = [content_length, content_type]
        else:
            self.init_headers(headers)

    def render(self, content: Any) -> bytes | memoryview:
        """The body bytes for `content`: `None` is empty, bytes pass, `str` is encoded."""
        if content is None:
            return b""
        if isinstance(content, str):
            return content.encode(self.charset)
        return as_bytes(content, f"{type(self).__name__} content")

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        """Build `raw_headers` from `headers`, adding content-length and content-type."""
        body = getattr(self, "body", None)
        status_code = self.status_code
        media_type = self.media_type
        # 1xx, 204 and 304 responses never have a body, so they must not announce one.
        length = -1 if body is None or status_code < 200 or status_code in (204, 304) else len(body)
        raw_headers: list[tuple[bytes, bytes]] = []
        if headers:
            # Refused as `MutableHeaders` refuses them: a value taken from user input
            # must not split the header block (header injection).
            raw_headers = [encode_header(key, value) for key, value in headers.items()]
            names = {name for name, _ in raw_headers}
            if b"content-length" in names:
                length = -1
            if b"content-type" in names:
                media_type = None
        self.raw_headers = _computed_headers(raw_headers, length, media_type, self.charset)

    @property
    def headers(self) -> MutableHeaders:
        """A mutable view of `raw_headers` (changes write through)."""
        headers = self._headers
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


# As defined here: `__init__` does their work inline unless a subclass overrides them.
_RENDER = Response.render
_INIT_HEADERS = Response.init_headers

# Header pairs made once and shared by every response (tuples of bytes, immutable):
# `content-length` for the smaller bodies, by length (a list: indexing it is cheaper
# than a dict lookup), and `content-type` by charset, then media type (two lookups
# cost less than checking a charset kept beside the pair), bounded in number.
_CONTENT_LENGTHS_MAX = 1024
_CONTENT_LENGTHS: list[tuple[bytes, bytes] | None] = [None] * _CONTENT_LENGTHS_MAX
_CONTENT_TYPES: dict[str, dict[str, tuple[bytes, bytes]]] = {}
_CHARSETS_MAX = 16
_CONTENT_TYPES_MAX = 256


def _computed_headers(
    raw_headers: list[tuple[bytes, bytes]], length: int, media_type: str | None, charset: str
) -> list[tuple[bytes, bytes]]:
    # `raw_headers` with `content-length` (unless `length` is -1) and `content-type`
    # (unless `media_type` is None) added, from the shared pairs.
    if length >= 0:
        raw_headers.append(_content_length(length))
    if media_type is not None:
        raw_headers.append(_content_type(media_type, charset))
    return raw_headers


def _content_length(length: int) -> tuple[bytes, bytes]:
    # The `content-length` header of a body of `length` bytes.
    known = _CONTENT_LENGTHS[length] if length < _CONTENT_LENGTHS_MAX else None
    return _content_length_header(length) if known is None else known


def _content_length_header(length: int) -> tuple[bytes, bytes]:
    # The `content-length` header of a body of `length` bytes, kept if small.
    header = (b"content-length", str(length).encode("latin-1"))
    if length < _CONTENT_LENGTHS_MAX:
        _CONTENT_LENGTHS[length] = header
    return header


def _content_type(media_type: str, charset: str) -> tuple[bytes, bytes]:
    # The `content-type` header of `media_type`, with `charset` added to a text type.
    headers = _CONTENT_TYPES.get(charset)
    if headers is None:
        headers = {}
        if len(_CONTENT_TYPES) < _CHARSETS_MAX:
            _CONTENT_TYPES[charset] = headers
    header = headers.get(media_type)
    if header is None:
        content_type = media_type
        if content_type.startswith("text/") and "charset=" not in content_type.lower():
            content_type += "; charset=" + charset
        header = (b"content-type", content_type.encode("latin-1"))
        if len(headers) < _CONTENT_TYPES_MAX:
            headers[media_type] = header
    return header


def as_bytes(content: object, what: str) -> bytes | memoryview:
    """`content` if bytes or a memoryview, a copy if a bytearray; else `TypeError` on `what`."""
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
