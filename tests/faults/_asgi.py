"""Raw ASGI plumbing for the fault tests: scripted clients, recorded responses, leak probes.

A fault test plays the server: it builds a scope, hands the app a `receive` that
follows a script (part of a body, then `http.disconnect`) and a `send` that records
what the app answered (or fails the way a server's `send` fails once the client has
vanished). `no_leaks()` checks that the call left no file descriptor open and no task
running, and `assert_serves()` that the same app still answers a normal request.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio

from stellate.applications import Stellate
from stellate.requests import Request
from stellate.responses import PlainTextResponse
from stellate.routing import BaseRoute, Route
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ClientGone",
    "Recorder",
    "ScriptedClient",
    "app_with",
    "assert_serves",
    "call",
    "chunked",
    "end",
    "http_scope",
    "more",
    "multipart_body",
    "no_leaks",
    "open_fds",
    "opened_since",
    "record",
    "websocket_scope",
]

# Every app call gets this long before the test fails as a hang.
CALL_TIMEOUT = 5.0
# How long a leak may take to clear after the app returned (a task finishing its
# last checkpoint, a thread handing back its result) before it counts as a leak.
SETTLE_TIMEOUT = 2.0


class ClientGone(OSError):
    """What a server's `send` raises once the client has closed its socket (ASGI 2.4)."""


def app_with(*routes: BaseRoute, **options: Any) -> Stellate:
    """A `Stellate` app with `routes` plus `GET /ok`, the request every fault is followed by."""
    return Stellate(routes=[*routes, Route("/ok", _ok)], **options)


def http_scope(
    path: str = "/",
    method: str = "GET",
    headers: Sequence[tuple[bytes, bytes]] = (),
    spec_version: str = "2.4",
) -> Scope:
    """An HTTP scope as a server builds it; `spec_version` "2.4" means `send` raises."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": spec_version},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": list(headers),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def websocket_scope(path: str = "/") -> Scope:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
    }


def more(body: bytes) -> Message:
    """A chunk of request body with more to come."""
    return {"type": "http.request", "body": body, "more_body": True}


def end(body: bytes = b"") -> Message:
    """The last chunk of a request body."""
    return {"type": "http.request", "body": body, "more_body": False}


def chunked(body: bytes, size: int) -> list[Message]:
    """`body` as `more` messages of `size` bytes (the last one left open too)."""
    return [more(body[start : start + size]) for start in range(0, len(body), size)]


def record(sent: list[Message]) -> Send:
    """A `send` that appends every message to `sent`."""

    async def send(message: Message) -> None:
        sent.append(message)

    return send


Step = Message | Callable[[], Awaitable[Message]]


class ScriptedClient:
    """A `receive` that hands out `steps` in order, then waits forever.

    A step is a message, or an async function that returns one (to wait for a
    moment in the response, or to look around just before the client leaves).
    Waiting forever is what a real server does while a connected client sends
    nothing more (`exhausted` is set then: the app is parked in `receive`); a test
    that wants the client to leave ends its script with a disconnect message.
    """

    def __init__(self, steps: Iterable[Step]) -> None:
        self.steps = list(steps)
        self.exhausted = anyio.Event()

    async def __call__(self) -> Message:
        if self.steps:
            step = self.steps.pop(0)
            return await step() if callable(step) else step
        self.exhausted.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover


class Recorder:
    """A `send` that records messages; with `fail_after_bodies`, it raises `ClientGone`
    on the body message after that many have gone out, and on every message after that."""

    def __init__(self, fail_after_bodies: int | None = None) -> None:
        self.messages: list[Message] = []
        self.fail_after_bodies = fail_after_bodies
        self.failures = 0

    async def __call__(self, message: Message) -> None:
        bodies = sum(1 for sent in self.messages if sent["type"] == "http.response.body")
        if self.fail_after_bodies is not None and (
            self.failures
            or (message["type"] == "http.response.body" and bodies >= self.fail_after_bodies)
        ):
            self.failures += 1
            raise ClientGone("the client closed the connection")
        self.messages.append(message)

    @property
    def status(self) -> int | None:
        for message in self.messages:
            if message["type"] == "http.response.start":
                status: int = message["status"]
                return status
        return None

    @property
    def body(self) -> bytes:
        return b"".join(
            message.get("body", b"")
            for message in self.messages
            if message["type"] == "http.response.body"
        )

    @property
    def complete(self) -> bool:
        """Whether the response body was ended (a last message without `more_body`)."""
        bodies = [message for message in self.messages if message["type"] == "http.response.body"]
        return bool(bodies) and not bodies[-1].get("more_body", False)


async def call(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """`await app(scope, receive, send)`, failing the test if it takes over `CALL_TIMEOUT`."""
    with anyio.fail_after(CALL_TIMEOUT):
        await app(scope, receive, send)


async def assert_serves(app: ASGIApp) -> None:
    """The app answers `GET /ok` with a complete `200 ok`, as if no fault had happened."""
    send = Recorder()
    await call(app, http_scope("/ok"), ScriptedClient([end()]), send)
    assert send.status == 200
    assert send.body == b"ok"
    assert send.complete


@asynccontextmanager
async def no_leaks() -> AsyncIterator[None]:
    """Fail unless every file descriptor and task that the block opened is gone after it."""
    fds_before = open_fds()
    tasks_before = _running_tasks()
    yield
    with anyio.move_on_after(SETTLE_TIMEOUT):
        # Polled: nothing signals the closing of a descriptor or the end of a task.
        while opened_since(fds_before) or _running_tasks() - tasks_before:  # noqa: ASYNC110
            await anyio.sleep(0.01)
    leaked_fds = opened_since(fds_before)
    assert not leaked_fds, f"file descriptors left open: {leaked_fds}"
    leaked_tasks = _running_tasks() - tasks_before
    assert not leaked_tasks, f"tasks left running: {leaked_tasks}"


def multipart_body(boundary: str, parts: Sequence[tuple[str, str | None, bytes]]) -> bytes:
    """A multipart/form-data body of `(name, filename or None, content)` parts."""
    chunks: list[bytes] = []
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        chunks.append(
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


def open_fds() -> dict[int, str]:
    """This process's open file descriptors and what they point to."""
    fds: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except FileNotFoundError:
            # The descriptor `listdir` itself used, closed by now.
            continue
    return fds


def opened_since(before: dict[int, str]) -> dict[int, str]:
    """The descriptors open now that were not in `before` (an `open_fds()` result)."""
    return {fd: target for fd, target in open_fds().items() if before.get(fd) != target}


# Helpers


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _running_tasks() -> set[object]:
    """Every task of the running event loop (asyncio) or of the whole trio task tree."""
    try:
        return set(asyncio.all_tasks())
    except RuntimeError:
        # No asyncio loop running: this is trio.
        import trio

        tasks: set[object] = set()
        pending = [trio.lowlevel.current_root_task()]
        while pending:
            task = pending.pop()
            if task is None:
                continue
            tasks.add(task)
            for nursery in task.child_nurseries:
                pending.extend(nursery.child_tasks)
        return tasks
