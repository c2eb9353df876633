"""Raw ASGI helpers shared by the middleware tests (compression, CORS, hosts, redirects)."""

from __future__ import annotations

from typing import Any

from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_http.responses import PlainTextResponse


def text_app(content: str, **kwargs: Any) -> ASGIApp:
    """An app answering every request with `PlainTextResponse(content, **kwargs)`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse(content, **kwargs)(scope, receive, send)

    return app


def raw_app(*messages: Message) -> ASGIApp:
    """An app that sends exactly `messages`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(dict(message))

    return app


def start(status: int = 200, *headers: tuple[bytes, bytes], trailers: bool = False) -> Message:
    message: Message = {"type": "http.response.start", "status": status, "headers": list(headers)}
    if trailers:
        message["trailers"] = True
    return message


def body(chunk: bytes, more_body: bool = False) -> Message:
    return {"type": "http.response.body", "body": chunk, "more_body": more_body}


def http_scope(accept_encoding: str | None = "gzip", **extra: Any) -> Scope:
    """A `GET /` scope, with `Accept-Encoding: accept_encoding` unless None."""
    headers = [] if accept_encoding is None else [(b"accept-encoding", accept_encoding.encode())]
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("testserver", 80),
    }
    scope.update(extra)
    return scope


async def call(app: ASGIApp, scope: Scope) -> list[Message]:
    """Run `app` for one request and return what it sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def header(message: Message, name: bytes) -> bytes | None:
    """The one value of header `name` in a start message (fails if it was sent twice)."""
    values = [value for key, value in message["headers"] if key == name]
    assert len(values) <= 1, f"{name!r} sent {len(values)} times"
    return values[0] if values else None
