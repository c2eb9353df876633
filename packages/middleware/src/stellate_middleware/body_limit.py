"""Request body limits: answer 413 Content Too Large instead of reading an endless body.

Limits nest. The outermost `RequestBodyLimitMiddleware` of a request installs one
`RequestBodyLimitResponder`, which counts the bytes the app receives; every inner one
(a Router, Mount or Route with its own `max_body_size`) only retunes that responder, so
the innermost limit on the request's path wins, whether it is larger or smaller.
`scope["stellate.max_body_size"]` shows the limit in force.
"""

from __future__ import annotations

from typing import Any

from stellate_asgi.exceptions import HTTPException
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_asgi.utils import parse_digits
from stellate_http.responses import PlainTextResponse

__all__ = [
    "MAX_BODY_SIZE_SCOPE_KEY",
    "RequestBodyLimitMiddleware",
    "RequestBodyLimitResponder",
]

# The limit (in bytes) in force for the request: the innermost configured one.
MAX_BODY_SIZE_SCOPE_KEY = "stellate.max_body_size"

# The responder that enforces the limit for this request; inner layers retune it. Held
# in the scope (not a contextvar) so it survives a middleware that copies the scope.
_RESPONDER_SCOPE_KEY = "stellate._body_limit_responder"

_DETAIL = "Content Too Large"

# A declared length longer than this many digits exceeds any real limit; it is clamped
# to a huge value rather than parsed, which would cost time (or raise past 4300 digits).
_MAX_LENGTH_DIGITS = 30
_HUGE_LENGTH: int = 10**_MAX_LENGTH_DIGITS

_MISSING: Any = object()


class _ContentTooLarge(HTTPException):
    """Raised into the app when the body is over the limit, so its handlers can answer."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail=_DETAIL)


class _TooLargeResponseSent(Exception):
    """Stops an app whose response start was replaced by our 413."""


class RequestBodyLimitMiddleware:
    """Limit the total size of an HTTP request body to `max_body_size` bytes.

    A request whose `Content-Length` or received bytes exceed the limit gets a 413: the
    app sees an `HTTPException(413)` from `receive()` (so exception handlers can render
    it), and if nothing handles it, a plain "Content Too Large" response is sent. An app
    that answers without reading an over-limit declared body is answered 413 as well.
    """

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = _check_max_body_size(max_body_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        responder = RequestBodyLimitResponder(self.app, self.max_body_size)
        await responder(scope, receive, send)


class RequestBodyLimitResponder:
    """Enforce a body limit for one request (make a new one per request).

    If another responder already guards the request, this one only sets its limit on it
    and calls the app; otherwise it wraps `receive` and `send` with the limit checks.
    """

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = _check_max_body_size(max_body_size)
        self.content_length: int | None = None
        self.total_size = 0
        self.response_started = False
        self._scope: Scope | None = None
        self._receive: Receive | None = None
        self._send: Send | None = None
        # True once the app was told the body is too large: its own (error) response then
        # goes out as it is, rather than being replaced by ours.
        self._rejected = False
        self._replaced = False

    @property
    def scope(self) -> Scope:
        """The scope of the request being guarded."""
        if self._scope is None:
            raise RuntimeError("The responder has not been called yet.")
        return self._scope

    @property
    def receive(self) -> Receive:
        """The server's `receive`, without the limit."""
        if self._receive is None:
            raise RuntimeError("The responder has not been called yet.")
        return self._receive

    @property
    def send(self) -> Send:
        """The server's `send`."""
        if self._send is None:
            raise RuntimeError("The responder has not been called yet.")
        return self._send

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        active = scope.get(_RESPONDER_SCOPE_KEY)
        if isinstance(active, RequestBodyLimitResponder) and active is not self:
            scope[MAX_BODY_SIZE_SCOPE_KEY] = self.max_body_size
            active._set_limit(self.max_body_size)
            await self.app(scope, receive, send)
            return

        previous_limit = scope.get(MAX_BODY_SIZE_SCOPE_KEY, _MISSING)
        scope[MAX_BODY_SIZE_SCOPE_KEY] = self.max_body_size
        scope[_RESPONDER_SCOPE_KEY] = self
        self._scope, self._receive, self._send = scope, receive, send
        self.content_length = _declared_content_length(scope)
        try:
            await self.app(scope, self.receive_with_limit, self.send_with_limit)
        except _ContentTooLarge:
            if self.response_started:
                raise
            await self._send_content_too_large()
        except _TooLargeResponseSent:
            pass
        finally:
            scope.pop(_RESPONDER_SCOPE_KEY, None)
            if previous_limit is _MISSING:
                scope.pop(MAX_BODY_SIZE_SCOPE_KEY, None)
            else:
                scope[MAX_BODY_SIZE_SCOPE_KEY] = previous_limit

    async def receive_with_limit(self) -> Message:
        """`receive`, raising `HTTPException(413)` once the body is over the limit."""
        # A declared length over the limit fails before a single byte is read.
        if self.content_length is not None and self.content_length > self.max_body_size:
            raise self._reject()
        message = await self.receive()
        if message["type"] == "http.request":
            # Counted whatever Content-Length said: the header may lie or be absent.
            self.total_size += len(message.get("body", b""))
            if self.total_size > self.max_body_size:
                raise self._reject()
        return message

    async def send_with_limit(self, message: Message) -> None:
        """`send`, answering 413 instead if the app responds to an over-limit request."""
        if self._replaced:
            return
        if message["type"] == "http.response.start" and not self.response_started:
            self.response_started = True
            if (
                not self._rejected
                and self.content_length is not None
                and self.content_length > self.max_body_size
            ):
                self._replaced = True
                await self._send_content_too_large()
                raise _TooLargeResponseSent
        await self.send(message)

    def _set_limit(self, max_body_size: int) -> None:
        # An inner layer's limit replaces ours; bytes already read may now be too many.
        self.max_body_size = max_body_size
        if self.total_size > max_body_size:
            raise self._reject()

    def _reject(self) -> _ContentTooLarge:
        self._rejected = True
        return _ContentTooLarge()

    async def _send_content_too_large(self) -> None:
        response = PlainTextResponse(_DETAIL, status_code=413)
        await response(self.scope, self.receive, self.send)


def _check_max_body_size(max_body_size: int) -> int:
    if isinstance(max_body_size, bool) or not isinstance(max_body_size, int):
        raise TypeError(f"max_body_size must be an int, not {type(max_body_size).__name__}")
    if max_body_size < 0:
        raise ValueError("max_body_size must be greater than or equal to zero")
    return max_body_size


def _declared_content_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when it is absent or not trustworthy.

    A malformed value (not digits, or several that disagree) is ignored, as Starlette
    does: the limit still holds, because every received byte is counted.
    """
    values: set[str] = set()
    for key, value in scope.get("headers", ()):
        if key.lower() == b"content-length":
            values.update(part.strip() for part in value.decode("latin-1").split(","))
    if len(values) != 1:
        return None
    (text,) = values
    return parse_digits(text, _MAX_LENGTH_DIGITS, _HUGE_LENGTH)
