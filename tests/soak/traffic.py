"""The soak's clients: workers that each hold one connection and loop over a weighted
mix of requests until a deadline, checking every answer and timing every exchange."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets.exceptions
from websockets.asyncio.client import connect

from tests.soak.app import STREAM_CHUNK

__all__ = ["STATIC_FILES", "BadResponse", "Stats", "run_traffic"]

#: The files the app serves under `/static/`, by name.
STATIC_FILES = {
    "hello.txt": b"Hello, static soak!\n",
    # Several reads of the file response's 64 KiB chunks, every byte value at a known offset.
    "data.bin": bytes(range(256)) * 1024,
}
# Sizes of the uploaded files: mostly small, one past the 1 MiB spool (so on disk).
UPLOAD_SIZES = (16 * 1024, 64 * 1024, 256 * 1024, 1536 * 1024)
UPLOAD_WEIGHTS = (8, 6, 3, 1)
# Every exchange is bounded, so a stuck server fails the soak instead of stalling it.
EXCHANGE_TIMEOUT = 10.0
# The failures of the transport, counted by class name: any of them fails the soak.
TRANSPORT_ERRORS = (
    httpx.TransportError,
    websockets.exceptions.WebSocketException,
    OSError,
    asyncio.TimeoutError,
)


class BadResponse(Exception):
    """An answer that is not what the app should have sent."""


@dataclass
class Stats:
    """What the workers saw: statuses, failures, and latencies by scenario (seconds)."""

    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)

    @property
    def exchanges(self) -> int:
        return sum(len(values) for values in self.latencies.values())


@dataclass
class _Worker:
    client: httpx.AsyncClient
    ws_url: str
    stats: Stats
    rng: random.Random
    payloads: dict[int, tuple[bytes, str]]
    sessions: int = 0

    async def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        response = await self.client.request(method, url, **options)
        self.stats.statuses[response.status_code] += 1
        return response


async def run_traffic(url: str, ws_url: str, *, seconds: float, workers: int, seed: int) -> Stats:
    """Run `workers` concurrent workers against the app at `url` for `seconds`."""
    stats = Stats()
    payloads = {
        size: (data, hashlib.sha256(data).hexdigest())
        for size in UPLOAD_SIZES
        for data in [random.Random(size).randbytes(size)]
    }
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        *(
            _work(url, ws_url, stats, random.Random(seed + index), payloads, deadline)
            for index in range(workers)
        )
    )
    return stats


# Scenarios: each makes one exchange and checks the answer.


async def plaintext(worker: _Worker) -> None:
    response = await worker.request("GET", "/plaintext")
    _expect(response, 200, response.text == "Hello, soak!")


async def json(worker: _Worker) -> None:
    response = await worker.request("GET", "/json")
    _expect(
        response, 200, response.json() == {"message": "Hello, soak!", "numbers": list(range(10))}
    )


async def params(worker: _Worker) -> None:
    item_id = worker.rng.randrange(1_000_000)
    query = {"q": f"search {item_id}", "tag": ["a", "b&c"]}
    response = await worker.request("GET", f"/items/{item_id}", params=query)
    _expect(
        response, 200, response.json() == {"id": item_id, "q": query["q"], "tags": ["a", "b&c"]}
    )


async def form(worker: _Worker) -> None:
    data = {"name": "soak", "value": str(worker.rng.random()), "note": "a=b&c d"}
    response = await worker.request("POST", "/form", data=data)
    _expect(response, 200, response.json() == data)


async def upload(worker: _Worker) -> None:
    size = worker.rng.choices(UPLOAD_SIZES, UPLOAD_WEIGHTS)[0]
    content, digest = worker.payloads[size]
    files = {"file": ("payload.bin", content, "application/octet-stream")}
    response = await worker.request("POST", "/upload", files=files, data={"field": "x"})
    _expect(response, 200, response.json() == {"file": {"size": size, "sha256": digest}})


async def stream(worker: _Worker) -> None:
    count = worker.rng.randrange(1, 64)
    async with worker.client.stream("GET", "/stream", params={"chunks": count}) as response:
        worker.stats.statuses[response.status_code] += 1
        body = b"".join([chunk async for chunk in response.aiter_bytes()])
    expected = b"".join(bytes([index % 256]) * STREAM_CHUNK for index in range(count))
    _expect(response, 200, body == expected)


async def static_file(worker: _Worker) -> None:
    name = worker.rng.choice(sorted(STATIC_FILES))
    content = STATIC_FILES[name]
    if name == "data.bin" and worker.rng.random() < 0.3:
        start = worker.rng.randrange(len(content) - 1000)
        headers = {"range": f"bytes={start}-{start + 999}"}
        response = await worker.request("GET", f"/static/{name}", headers=headers)
        _expect(response, 206, response.content == content[start : start + 1000])
    else:
        response = await worker.request("GET", f"/static/{name}")
        _expect(response, 200, response.content == content)


async def session(worker: _Worker) -> None:
    # Each worker's client keeps its own cookie jar: one session per worker.
    response = await worker.request("POST", "/session")
    worker.sessions += 1
    _expect(response, 200, response.json() == {"count": worker.sessions})


async def not_found(worker: _Worker) -> None:
    path = worker.rng.choice(["/missing", "/items/not-a-number", "/static/missing.txt"])
    response = await worker.request("GET", path)
    _expect(response, 404, True)


async def websocket_echo(worker: _Worker) -> None:
    async with connect(
        worker.ws_url + "/ws", open_timeout=EXCHANGE_TIMEOUT, close_timeout=EXCHANGE_TIMEOUT
    ) as websocket:
        worker.stats.statuses[101] += 1
        for index in range(5):
            text = f"echo {index} {worker.rng.random()}"
            await websocket.send(text)
            answer = await asyncio.wait_for(websocket.recv(), EXCHANGE_TIMEOUT)
            if answer != text:
                raise BadResponse(f"websocket echo: sent {text!r}, got {answer!r}")


SCENARIOS: dict[str, tuple[Callable[[_Worker], Awaitable[None]], int]] = {
    "plaintext": (plaintext, 20),
    "json": (json, 15),
    "params": (params, 10),
    "form": (form, 8),
    "upload": (upload, 5),
    "stream": (stream, 8),
    "static": (static_file, 10),
    "session": (session, 8),
    "404": (not_found, 8),
    "websocket": (websocket_echo, 4),
}


# Helpers


async def _work(
    url: str,
    ws_url: str,
    stats: Stats,
    rng: random.Random,
    payloads: dict[int, tuple[bytes, str]],
    deadline: float,
) -> None:
    names = list(SCENARIOS)
    weights = [SCENARIOS[name][1] for name in names]
    # One connection per worker (the pool keeps it alive), so the server holds as many
    # connections as there are workers.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=url, timeout=EXCHANGE_TIMEOUT, limits=limits) as client:
        worker = _Worker(client, ws_url, stats, rng, payloads)
        while time.monotonic() < deadline:
            name = rng.choices(names, weights)[0]
            started = time.perf_counter()
            try:
                await asyncio.wait_for(SCENARIOS[name][0](worker), EXCHANGE_TIMEOUT * 2)
            except BadResponse as exc:
                stats.failures[f"bad response: {exc}"] += 1
            except TRANSPORT_ERRORS as exc:
                stats.failures[f"transport error in {name}: {type(exc).__name__}"] += 1
            except Exception as exc:
                # An answer the checks could not even read (not JSON, say): a failure too.
                stats.failures[f"unreadable answer in {name}: {type(exc).__name__}"] += 1
            else:
                stats.latencies.setdefault(name, []).append(time.perf_counter() - started)


def _expect(response: httpx.Response, status: int, body_ok: bool) -> None:
    if response.status_code != status:
        raise BadResponse(f"{response.request.url.path}: status {response.status_code}")
    if not body_ok:
        raise BadResponse(f"{response.request.url.path}: wrong body")
