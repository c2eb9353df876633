"""The event loop stays responsive while an attack request is in flight.

One event loop serves every request of a worker: an attack that makes the app block
it (reading a body, parsing a header, reading a file) stalls every other client. For
each attack here, a tiny request to the same application, started while the attack
is in progress, must be answered within a generous bound, and the attack must still
be unfinished at that moment.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from stellate.applications import Stellate
from stellate_asgi.types import Message
from stellate_http.requests import Request
from stellate_http.responses import FileResponse, PlainTextResponse, Response
from stellate_routing.routing import Mount, Route
from stellate_staticfiles import StaticFiles
from tests.security._asgi import Exchange, http_scope, request

pytestmark = pytest.mark.anyio

# Generous, for a loaded CI machine: the tiny request takes about a millisecond.
BOUND = 3.0
CHUNK = b"z" * (64 * 1024)
FILE_SIZE = 8 * 1024 * 1024


async def tiny(request: Request) -> Response:
    return PlainTextResponse("tiny")


async def read_body(request: Request) -> Response:
    return PlainTextResponse(f"{len(await request.body())} bytes")


async def read_stream(request: Request) -> Response:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return PlainTextResponse(f"{size} bytes")


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(b"0123456789abcdef" * (FILE_SIZE // 16))
    return path


def application(big_file: Path) -> Stellate:
    async def download(request: Request) -> Response:
        return FileResponse(big_file)

    return Stellate(
        routes=[
            Route("/tiny", tiny),
            Route("/body", read_body, methods=["POST"]),
            Route("/stream", read_stream, methods=["POST"]),
            Route("/limited", read_body, methods=["POST"], max_body_size=1024 * 1024),
            Route("/download", download),
            Mount("/static", StaticFiles(directory=big_file.parent)),
        ]
    )


class Started:
    """Set once `attacks` attacks have each delivered eight chunks of their body."""

    def __init__(self, attacks: int = 1) -> None:
        self.waiting = attacks
        self.event = anyio.Event()

    def arrived(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.event.set()


async def tiny_request_during(
    app: Stellate, attacks: list[Exchange], started: anyio.Event
) -> tuple[Exchange, float, bool]:
    """The tiny request, once the attacks are under way: its exchange, how long it
    took, and whether every attack was still unfinished when it was answered."""
    with anyio.fail_after(BOUND * 2):
        await started.wait()
    began = time.perf_counter()
    with anyio.fail_after(BOUND * 2):
        exchange = await request(app, http_scope("/tiny"))
    elapsed = time.perf_counter() - began
    return exchange, elapsed, not any(attack.complete for attack in attacks)


async def slow_endless_body(
    attack: Exchange, started: Started, stop: anyio.Event
) -> AsyncIterator[bytes]:
    """A body that keeps coming, a chunk per loop turn, until `stop` is set."""
    while not stop.is_set():
        if attack.chunks_received == 8:
            started.arrived()
        yield CHUNK
        await anyio.lowlevel.checkpoint()


@pytest.mark.parametrize("path", ["/body", "/stream"])
async def test_an_endless_body_does_not_stall_other_requests(path: str, big_file: Path) -> None:
    app = application(big_file)
    attack, started, stop = Exchange(), Started(), anyio.Event()
    scope = http_scope(path, method="POST")

    async with anyio.create_task_group() as task_group:
        body = slow_endless_body(attack, started, stop)
        task_group.start_soon(partial(request, app, scope, body, exchange=attack))
        answer, elapsed, in_flight = await tiny_request_during(app, [attack], started.event)
        stop.set()

    assert (answer.status, answer.body) == (200, b"tiny")
    assert elapsed < BOUND
    assert in_flight
    assert attack.status == 200
    assert attack.body == f"{attack.chunks_received * len(CHUNK)} bytes".encode()


async def test_fifty_endless_bodies_do_not_stall_other_requests(big_file: Path) -> None:
    app = application(big_file)
    attacks = [Exchange() for _ in range(50)]
    # The tiny request starts once every attack is streaming.
    started, stop = Started(len(attacks)), anyio.Event()

    async with anyio.create_task_group() as task_group:
        for attack in attacks:
            body = slow_endless_body(attack, started, stop)
            scope = http_scope("/stream", method="POST")
            task_group.start_soon(partial(request, app, scope, body, exchange=attack))
        answer, elapsed, in_flight = await tiny_request_during(app, attacks, started.event)
        stop.set()

    assert (answer.status, answer.body) == (200, b"tiny")
    assert elapsed < BOUND
    assert in_flight
    assert all(attack.status == 200 for attack in attacks)


async def test_an_endless_body_over_the_limit_is_refused_meanwhile(big_file: Path) -> None:
    app = application(big_file)
    attack, started, stop = Exchange(), Started(), anyio.Event()
    scope = http_scope("/limited", method="POST")

    async with anyio.create_task_group() as task_group:
        # Never stopped: the body only ends when the limit cuts it.
        body = slow_endless_body(attack, started, stop)
        task_group.start_soon(partial(request, app, scope, body, exchange=attack))
        answer, elapsed, _ = await tiny_request_during(app, [attack], started.event)

    assert (answer.status, answer.body) == (200, b"tiny")
    assert elapsed < BOUND
    assert (attack.status, attack.body) == (413, b"Content Too Large")
    assert attack.chunks_received <= 1024 * 1024 // len(CHUNK) + 1


@pytest.mark.parametrize("path", ["/download", "/static/big.bin"])
@pytest.mark.parametrize(
    "range_header",
    [
        None,
        # A hundred ranges: the largest multipart body a client can ask for.
        b"bytes=" + b",".join(b"%d-%d" % (i * 80_000, i * 80_000 + 65_535) for i in range(100)),
    ],
)
async def test_a_slow_reader_of_a_large_file_does_not_stall_other_requests(
    path: str, range_header: bytes | None, big_file: Path
) -> None:
    app = application(big_file)
    attack, started, release = Exchange(), anyio.Event(), anyio.Event()
    headers = [(b"host", b"testserver")]
    if range_header is not None:
        headers.append((b"range", range_header))

    async def slow_client(message: Message) -> None:
        # Takes the response start and one chunk, then stops reading for a while.
        if message["type"] == "http.response.body" and attack.body_size > 0:
            started.set()
            await release.wait()

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(
            partial(
                request,
                app,
                http_scope(path, headers=headers),
                exchange=attack,
                keep_body=False,
                before_send=slow_client,
            )
        )
        answer, elapsed, in_flight = await tiny_request_during(app, [attack], started)
        release.set()

    assert (answer.status, answer.body) == (200, b"tiny")
    assert elapsed < BOUND
    assert in_flight
    assert attack.status == (200 if range_header is None else 206)
    assert attack.complete
    assert str(attack.body_size) == attack.header("content-length")
