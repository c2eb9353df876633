"""A minimal in-process ASGI harness, the `Scenario` record, and the timing loop."""

from __future__ import annotations

import gc
import itertools
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "IMPLEMENTATIONS",
    "ASGIApp",
    "Message",
    "Receive",
    "Request",
    "Result",
    "Scenario",
    "SanityError",
    "Scope",
    "Send",
    "WEBSOCKET_ACCEPTED",
    "check",
    "http_scope",
    "measure",
    "peak_memory",
    "send_response",
    "websocket_scope",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The implementations every scenario builds, first in the table; peers follow them.
IMPLEMENTATIONS = ("raw", "stellate", "starlette")
# A short untimed pass per implementation, so the first round does not pay for warm-up.
WARMUP_ITERATIONS = 50
# What `check` records for an accepted WebSocket: the status a server would answer.
WEBSOCKET_ACCEPTED = 101


class SanityError(Exception):
    """An implementation answered a scenario's request with an unexpected status or body."""


@dataclass(frozen=True)
class Request:
    """One prebuilt request: a scope copied on every call and an optional body.

    With `chunk_size`, `receive` hands the body out in pieces of that size, every
    one but the last with `more_body=True`, as a server does for a large upload.
    For a `websocket` scope, `body` is the one text frame the client sends.
    """

    scope: dict[str, Any]
    body: bytes = b""
    chunk_size: int = 0
    # The pieces, cut once here so that no request pays for slicing a large body.
    chunks: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        size, body = self.chunk_size, self.body
        chunks: tuple[bytes, ...] = (body,)
        if size > 0 and len(body) > size:
            chunks = tuple(body[start : start + size] for start in range(0, len(body), size))
        object.__setattr__(self, "chunks", chunks)


@dataclass(frozen=True)
class Scenario:
    """A named workload: the same requests sent to one app per implementation.

    `status` (and `body`, when given) is what every app must answer to the first
    request. A slow scenario sends `scale` times as many requests per round, so
    that a full run stays short; `memory` asks for the peak traced memory of one
    request as well.
    """

    name: str
    apps: dict[str, ASGIApp]
    requests: Sequence[Request]
    status: int
    body: bytes | None = None
    scale: float = 1.0
    memory: bool = False

    def iterations(self, iterations: int) -> int:
        """The requests per round for a run asking for `iterations`: at least one."""
        return max(1, round(iterations * self.scale))


@dataclass
class Result:
    """The per-round µs per request of each implementation for one scenario."""

    name: str
    samples: dict[str, list[float]] = field(default_factory=dict)
    # Peak traced bytes above baseline while handling one request, when measured.
    memory: dict[str, int] = field(default_factory=dict)

    def median(self, implementation: str) -> float:
        return statistics.median(self.samples[implementation])


def http_scope(
    method: str,
    path: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
    query_string: bytes = b"",
) -> dict[str, Any]:
    """A complete HTTP scope, as a server would build it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("ascii"),
        "root_path": "",
        "query_string": query_string,
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 54321),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def websocket_scope(path: str) -> dict[str, Any]:
    """A complete WebSocket scope, as a server would build it for a handshake."""
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode("ascii"),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"connection", b"Upgrade"),
            (b"upgrade", b"websocket"),
            (b"sec-websocket-version", b"13"),
            (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        "client": ("127.0.0.1", 54321),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
        "state": {},
    }


async def send_response(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    """What a raw ASGI app sends: a start message with two headers, then the body."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _Receiver:
    """Hands out the request body (in its chunks), then reports a disconnect.

    For a WebSocket: the connect event, one text frame, then a normal closure.
    """

    __slots__ = ("chunks", "index", "websocket")

    def __init__(self, request: Request) -> None:
        self.chunks = request.chunks
        self.index = 0
        self.websocket = request.scope["type"] == "websocket"

    async def __call__(self) -> Message:
        index = self.index
        self.index = index + 1
        if self.websocket:
            if index == 0:
                return {"type": "websocket.connect"}
            if index == 1:
                return {"type": "websocket.receive", "text": self.chunks[0].decode()}
            return {"type": "websocket.disconnect", "code": 1000}
        last = len(self.chunks) - 1
        if index > last:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": self.chunks[index], "more_body": index < last}


async def _discard(message: Message) -> None:
    pass


async def _answer_of(app: ASGIApp, request: Request) -> tuple[int | None, bytes]:
    """The status and the whole body an app answers (an accepted WebSocket counts 101)."""
    status: int | None = None
    body: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal status
        kind = message["type"]
        if kind == "http.response.start":
            status = message["status"]
        elif kind == "http.response.body":
            body.append(message.get("body", b""))
        elif kind == "websocket.accept":
            status = WEBSOCKET_ACCEPTED
        elif kind == "websocket.send":
            text = message.get("text")
            body.append(text.encode() if text is not None else message.get("bytes", b""))

    await app(dict(request.scope), _Receiver(request), send)
    return status, b"".join(body)


async def check(scenario: Scenario) -> None:
    """Send the scenario's first request to every app; each must answer as expected."""
    request = scenario.requests[0]
    for implementation, app in scenario.apps.items():
        status, body = await _answer_of(app, request)
        if status != scenario.status:
            raise SanityError(
                f"{scenario.name}: {implementation} answered {status}, expected {scenario.status}"
            )
        if scenario.body is not None and body != scenario.body:
            raise SanityError(
                f"{scenario.name}: {implementation} answered the body {body[:80]!r},"
                f" expected {scenario.body[:80]!r}"
            )


async def _run(app: ASGIApp, requests: Sequence[Request], iterations: int) -> float:
    """Send `iterations` requests, cycling through `requests`; return µs per request."""
    batch = list(itertools.islice(itertools.cycle(requests), iterations))
    started = time.perf_counter_ns()
    for request in batch:
        await app(dict(request.scope), _Receiver(request), _discard)
    elapsed = time.perf_counter_ns() - started
    return elapsed / iterations / 1000


async def measure(scenario: Scenario, rounds: int, iterations: int) -> Result:
    """Time every implementation, interleaved round by round, in a rotating order."""
    names = tuple(scenario.apps)
    result = Result(scenario.name, {name: [] for name in names})
    per_round = scenario.iterations(iterations)
    for name in names:
        await _run(scenario.apps[name], scenario.requests, scenario.iterations(WARMUP_ITERATIONS))
    gc.collect()
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            sample = await _run(scenario.apps[name], scenario.requests, per_round)
            result.samples[name].append(sample)
    return result


async def peak_memory(scenario: Scenario, result: Result) -> None:
    """Record in `result` each app's peak traced memory, above baseline, for one request.

    The request's chunks are built before tracing starts, so they count in the
    baseline: what is measured is what the app allocates while handling them.
    """
    request = scenario.requests[0]
    for name, app in scenario.apps.items():
        gc.collect()
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            await app(dict(request.scope), _Receiver(request), _discard)
            result.memory[name] = tracemalloc.get_traced_memory()[1] - baseline
        finally:
            tracemalloc.stop()
