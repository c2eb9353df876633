"""A minimal in-process ASGI harness, the `Scenario` record, and the timing loop."""

from __future__ import annotations

import gc
import itertools
import statistics
import time
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
    "check",
    "http_scope",
    "measure",
    "send_response",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The order of the table's columns; every scenario builds one app per name.
IMPLEMENTATIONS = ("raw", "stellate", "starlette")
# A short untimed pass per implementation, so the first round does not pay for warm-up.
WARMUP_ITERATIONS = 50


class SanityError(Exception):
    """An implementation answered a scenario's request with an unexpected status."""


@dataclass(frozen=True)
class Request:
    """One prebuilt request: a scope copied on every call and an optional body."""

    scope: dict[str, Any]
    body: bytes = b""


@dataclass(frozen=True)
class Scenario:
    """A named workload: the same requests sent to one app per implementation."""

    name: str
    apps: dict[str, ASGIApp]
    requests: Sequence[Request]
    status: int


@dataclass
class Result:
    """The per-round µs per request of each implementation for one scenario."""

    name: str
    samples: dict[str, list[float]] = field(default_factory=dict)

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
    """Hands out the request body once, then reports a disconnect."""

    __slots__ = ("message", "sent")

    def __init__(self, body: bytes) -> None:
        self.message: Message = {"type": "http.request", "body": body, "more_body": False}
        self.sent = False

    async def __call__(self) -> Message:
        if self.sent:
            return {"type": "http.disconnect"}
        self.sent = True
        return self.message


async def _discard(message: Message) -> None:
    pass


async def _status_of(app: ASGIApp, request: Request) -> int | None:
    status: int | None = None

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(request.scope), _Receiver(request.body), send)
    return status


async def check(scenario: Scenario) -> None:
    """Send the scenario's first request to every app; each must answer `scenario.status`."""
    request = scenario.requests[0]
    for implementation in IMPLEMENTATIONS:
        status = await _status_of(scenario.apps[implementation], request)
        if status != scenario.status:
            raise SanityError(
                f"{scenario.name}: {implementation} answered {status}, expected {scenario.status}"
            )


async def _run(app: ASGIApp, requests: Sequence[Request], iterations: int) -> float:
    """Send `iterations` requests, cycling through `requests`; return µs per request."""
    batch = list(itertools.islice(itertools.cycle(requests), iterations))
    started = time.perf_counter_ns()
    for request in batch:
        await app(dict(request.scope), _Receiver(request.body), _discard)
    elapsed = time.perf_counter_ns() - started
    return elapsed / iterations / 1000


async def measure(scenario: Scenario, rounds: int, iterations: int) -> Result:
    """Time every implementation, interleaved round by round, in a rotating order."""
    result = Result(scenario.name, {name: [] for name in IMPLEMENTATIONS})
    for implementation in IMPLEMENTATIONS:
        await _run(scenario.apps[implementation], scenario.requests, WARMUP_ITERATIONS)
    gc.collect()
    for round_number in range(rounds):
        shift = round_number % len(IMPLEMENTATIONS)
        order = IMPLEMENTATIONS[shift:] + IMPLEMENTATIONS[:shift]
        for implementation in order:
            sample = await _run(scenario.apps[implementation], scenario.requests, iterations)
            result.samples[implementation].append(sample)
    return result
