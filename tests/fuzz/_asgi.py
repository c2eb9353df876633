"""A raw ASGI call for the HTTP-level fuzz tests.

The test client (httpx) refuses to send many of the malformed headers a fuzzer
wants to try (non-ASCII bytes, separators in names, duplicate Host headers), so the
HTTP-level properties call the application directly with a hand-built scope, as a
server would after parsing a hostile request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio

from stellate_asgi.types import ASGIApp, Message, Scope

__all__ = ["Answer", "call"]

# A call that takes longer than this is a hang, not a slow machine.
_TIMEOUT_SECONDS = 10


@dataclass
class Answer:
    """What the application sent back."""

    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: bytes) -> bytes | None:
        """The first value of the header `name` (lowercase), if any."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


async def call(
    app: ASGIApp,
    *,
    method: str = "GET",
    path: str = "/",
    query_string: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
) -> Answer:
    """Send one HTTP request to `app` and collect the response.

    The body arrives in one message; after it, `receive` waits until the response is
    complete and then reports a disconnect, as a server does for a client that waits.
    Any exception the application lets out propagates to the test.
    """
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogatepass"),
        "root_path": "",
        "query_string": query_string,
        "headers": [] if headers is None else list(headers),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
    }
    messages: list[Message] = []
    body_sent = False
    complete = anyio.Event()

    async def receive() -> Message:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await complete.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            complete.set()

    with anyio.fail_after(_TIMEOUT_SECONDS):
        await app(scope, receive, send)

    start = messages[0]
    assert start["type"] == "http.response.start", messages
    assert complete.is_set(), "the response was never completed"
    chunks = [m.get("body", b"") for m in messages[1:] if m["type"] == "http.response.body"]
    return Answer(
        status=start["status"], headers=list(start.get("headers", [])), body=b"".join(chunks)
    )
