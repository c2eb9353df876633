"""Large response bodies: a 1 MiB stream, a small file, and a 64 KiB range of a larger one."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
import starlette.applications
import starlette.requests
import starlette.responses
import starlette.routing
import starlette.staticfiles

import stellate.applications
import stellate.requests
import stellate.responses
import stellate.routing
import stellate.staticfiles
from tests.benchmarks.harness import (
    ASGIApp,
    Receive,
    Request,
    Scenario,
    Scope,
    Send,
    http_scope,
)

__all__ = ["scenarios"]

STREAM_CHUNK = bytes(range(256)) * 256  # 64 KiB
STREAM_CHUNKS = 16
SMALL_FILE_SIZE = 4 * 1024
LARGE_FILE_SIZE = 1024 * 1024
# The range asked of the large file: 64 KiB from its 256 KiB mark, as a video player would.
RANGE_START = 256 * 1024
RANGE_END = RANGE_START + 64 * 1024  # exclusive
OCTETS = b"application/octet-stream"


async def _raw_stream(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", OCTETS)],
        }
    )
    for _ in range(STREAM_CHUNKS):
        await send({"type": "http.response.body", "body": STREAM_CHUNK, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _chunks() -> AsyncIterator[bytes]:
    for _ in range(STREAM_CHUNKS):
        yield STREAM_CHUNK


async def _stellate_stream(request: stellate.requests.Request) -> stellate.responses.Response:
    return stellate.responses.StreamingResponse(_chunks(), media_type=OCTETS.decode())


async def _starlette_stream(request: starlette.requests.Request) -> starlette.responses.Response:
    return starlette.responses.StreamingResponse(_chunks(), media_type=OCTETS.decode())


def _read_region(path: Path, start: int, end: int | None) -> tuple[int, bytes]:
    """The file's size and its bytes from `start` to `end` (the end when `None`)."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        file.seek(start)
        return size, file.read((size if end is None else end) - start)


def _raw_file(path: Path) -> ASGIApp:
    """A hand-written file server: one worker-thread call opens, stats and reads.

    It understands the one form of `Range` the scenario sends, `bytes=first-last`.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        wanted = dict(scope["headers"]).get(b"range")
        start, end = 0, None
        if wanted is not None:
            first, _, last = wanted.removeprefix(b"bytes=").partition(b"-")
            start, end = int(first), int(last) + 1
        size, body = await anyio.to_thread.run_sync(_read_region, path, start, end)
        headers = [(b"content-type", OCTETS), (b"content-length", str(len(body)).encode())]
        status = 200
        if end is not None:
            status = 206
            headers.append((b"content-range", f"bytes {start}-{end - 1}/{size}".encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def _stellate_files(directory: Path) -> ASGIApp:
    async def serve(request: stellate.requests.Request) -> stellate.responses.Response:
        return stellate.responses.FileResponse(directory / request.path_params["name"])

    return stellate.applications.Stellate(
        routes=[
            stellate.routing.Route("/stream", _stellate_stream),
            stellate.routing.Route("/files/{name}", serve),
            stellate.routing.Mount(
                "/static", stellate.staticfiles.StaticFiles(directory=directory)
            ),
        ]
    )


def _starlette_files(directory: Path) -> ASGIApp:
    async def serve(request: starlette.requests.Request) -> starlette.responses.Response:
        return starlette.responses.FileResponse(directory / request.path_params["name"])

    return starlette.applications.Starlette(
        routes=[
            starlette.routing.Route("/stream", _starlette_stream),
            starlette.routing.Route("/files/{name}", serve),
            starlette.routing.Mount(
                "/static", starlette.staticfiles.StaticFiles(directory=directory)
            ),
        ]
    )


def scenarios(directory: Path) -> list[Scenario]:
    """The stream, the small file (a `FileResponse`, then from `StaticFiles`) and the
    range; the files are written into `directory`."""
    small = bytes(range(256)) * (SMALL_FILE_SIZE // 256)
    large = bytes(range(251)) * (LARGE_FILE_SIZE // 251 + 1)
    (directory / "small.bin").write_bytes(small)
    (directory / "large.bin").write_bytes(large[:LARGE_FILE_SIZE])
    stellate_app = _stellate_files(directory)
    starlette_app = _starlette_files(directory)
    ranged = [(b"range", f"bytes={RANGE_START}-{RANGE_END - 1}".encode())]

    def file_apps(name: str) -> dict[str, ASGIApp]:
        # Both frameworks' apps, and a raw one serving the file `name` itself.
        return {
            "raw": _raw_file(directory / name),
            "stellate": stellate_app,
            "starlette": starlette_app,
        }

    return [
        Scenario(
            "streaming 1 MiB",
            {"raw": _raw_stream, "stellate": stellate_app, "starlette": starlette_app},
            [Request(http_scope("GET", "/stream"))],
            200,
            body=STREAM_CHUNK * STREAM_CHUNKS,
            scale=0.2,
        ),
        Scenario(
            "file, 4 KiB",
            file_apps("small.bin"),
            [Request(http_scope("GET", "/files/small.bin"))],
            200,
            body=small,
            scale=0.2,
        ),
        Scenario(
            "static file, 4 KiB",
            file_apps("small.bin"),
            [Request(http_scope("GET", "/static/small.bin"))],
            200,
            body=small,
            scale=0.2,
        ),
        Scenario(
            "file, 64 KiB range",
            file_apps("large.bin"),
            [Request(http_scope("GET", "/files/large.bin", ranged))],
            206,
            body=large[RANGE_START:RANGE_END],
            scale=0.2,
        ),
    ]
