"""A raw ASGI server for the hostile-input battery.

The test client goes through httpx, which refuses or rewrites much of what an attacker
sends (CR/LF in headers, a Host with a path, a path without a leading slash). These
helpers hand an app the exact scope and body chunks a hostile client could make a
server deliver, and record what the app answers.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import anyio

from stellate_asgi.types import ASGIApp, Message, Scope

__all__ = ["Exchange", "http_scope", "request", "websocket_scope", "websocket_session"]


def http_scope(
    path: str = "/",
    *,
    method: str = "GET",
    headers: Sequence[tuple[bytes, bytes]] = ((b"host", b"testserver"),),
    query_string: bytes = b"",
    root_path: str = "",
) -> Scope:
    """An HTTP scope as a server builds it (the path already percent-decoded)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "root_path": root_path,
        "query_string": query_string,
        "headers": list(headers),
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
    }


def websocket_scope(
    path: str = "/",
    *,
    headers: Sequence[tuple[bytes, bytes]] = ((b"host", b"testserver"),),
    subprotocols: Sequence[str] = (),
) -> Scope:
    """A WebSocket handshake scope, from a server without the denial extension."""
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": list(headers),
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "subprotocols": list(subprotocols),
    }


@dataclass
class Exchange:
    """What the app sent for one request, and how much of the body it pulled."""

    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    body_size: int = 0
    chunks_received: int = 0
    complete: bool = False

    def header(self, name: str) -> str | None:
        """The first value of the response header `name`, or None."""
        key = name.lower().encode("latin-1")
        for item_key, value in self.headers:
            if item_key == key:
                return value.decode("latin-1")
        return None

    def header_list(self, name: str) -> list[str]:
        key = name.lower().encode("latin-1")
        return [value.decode("latin-1") for item_key, value in self.headers if item_key == key]


async def request(
    app: ASGIApp,
    scope: Scope,
    body: Iterable[bytes] | AsyncIterator[bytes] = (),
    *,
    exchange: Exchange | None = None,
    keep_body: bool = True,
    before_send: Callable[[Message], Awaitable[None]] | None = None,
) -> Exchange:
    """Serve one request to `app` with `body` delivered chunk by chunk.

    Like a real server, `receive` yields to the event loop on every call, and once the
    body is over it waits until the response is complete before it reports
    `http.disconnect`. `exchange.chunks_received` counts the chunks the app pulled, so a
    test can prove that an app stopped reading an endless body. With `keep_body=False`
    only the size of the response body is kept (`body_size`), not its bytes.
    `before_send` is awaited before each message the app sends is taken: a slow client.
    """
    result = exchange if exchange is not None else Exchange()
    done = anyio.Event()
    chunks = _chunks(body)
    more = True

    async def receive() -> Message:
        nonlocal more
        await anyio.lowlevel.checkpoint()
        if more:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                more = False
                return {"type": "http.request", "body": b"", "more_body": False}
            result.chunks_received += 1
            return {"type": "http.request", "body": chunk, "more_body": True}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        await anyio.lowlevel.checkpoint()
        if before_send is not None:
            await before_send(message)
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunk: bytes = bytes(message.get("body", b""))
            if keep_body:
                result.body += chunk
            result.body_size += len(chunk)
            if not message.get("more_body", False):
                result.complete = True
                done.set()

    try:
        await app(scope, receive, send)
    finally:
        done.set()
        # The rest of an endless body is never pulled: close its generator now.
        await chunks.aclose()
    return result


async def _chunks(body: Iterable[bytes] | AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    if isinstance(body, AsyncIterator):
        try:
            async for chunk in body:
                yield chunk
        finally:
            # An async generator body left unfinished is closed here, not by the GC.
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()
    else:
        for chunk in body:
            yield chunk


async def websocket_session(
    app: ASGIApp,
    scope: Scope,
    messages: Sequence[Message],
    *,
    wait: float = 5.0,
    sent: list[Message] | None = None,
) -> list[Message]:
    """Connect to `app`, send `messages` in order, and return everything the app sent.

    Each message is delivered only once the app asks for one (after it accepted); when
    they are all out, `receive` waits up to `wait` seconds for the app to close, then
    reports that the client went away (code 1006), as a server would. Pass `sent` to
    see what the app sent even when it raises.
    """
    sent = [] if sent is None else sent
    closed = anyio.Event()
    pending = list(messages)
    connected = False

    async def receive() -> Message:
        nonlocal connected
        await anyio.lowlevel.checkpoint()
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        if pending and not closed.is_set():
            return pending.pop(0)
        with anyio.move_on_after(wait):
            await closed.wait()
        return {"type": "websocket.disconnect", "code": 1006}

    async def send(message: Message) -> None:
        await anyio.lowlevel.checkpoint()
        sent.append(message)
        if message["type"] == "websocket.close":
            closed.set()

    await app(scope, receive, send)
    return sent
