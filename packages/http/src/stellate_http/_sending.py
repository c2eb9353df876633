"""ASGI plumbing shared by the responses: disconnect watching, denials and file bodies.

Kept apart from `responses.py` so that the public module reads as the response
classes alone; nothing here is public API.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import IO

import anyio
import anyio.to_thread

from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_http.concurrency import create_collapsing_task_group

__all__ = [
    "Prefetched",
    "Segment",
    "absolute_path",
    "read_ahead",
    "send_file",
    "spec_version",
    "stat_regular_file",
    "until_disconnect",
    "wait_for_disconnect",
    "websocket_denial_send",
]

# A piece of a file body: literal bytes (multipart framing) or a `(start, end)` region.
Segment = bytes | tuple[int, int]
# Bytes read ahead from a file (`stat_regular_file`): where they start, and the bytes.
Prefetched = tuple[int, bytes]
# The most bytes of small regions (the parts of a multi-range body, mostly) read in one
# worker-thread call: a thread call costs far more than reading a few kilobytes.
READ_BATCH_BYTES = 64 * 1024
# Parsed `spec_version` strings, and how many are kept.
_SPEC_VERSIONS: dict[str, tuple[int, ...]] = {}
_MAX_SPEC_VERSIONS = 16


def websocket_denial_send(send: Send) -> Send:
    """`send` for a response given as a websocket denial (`websocket.http.response.*`)."""

    async def denial_send(message: Message) -> None:
        if message["type"] in ("http.response.start", "http.response.body"):
            message = {**message, "type": "websocket." + message["type"]}
        await send(message)

    return denial_send


def spec_version(scope: Scope) -> tuple[int, ...]:
    """The ASGI spec version the server speaks; "2.0" when absent or unreadable."""
    asgi = scope.get("asgi")
    version = asgi.get("spec_version", "2.0") if isinstance(asgi, Mapping) else "2.0"
    # A server sends the same string on every request: parsing it cost more than the
    # rest of starting a streamed response.
    parsed = _SPEC_VERSIONS.get(version) if type(version) is str else None
    if parsed is None:
        try:
            parsed = tuple(int(part) for part in str(version).split("."))
        except ValueError:
            parsed = (2, 0)
        if type(version) is str and len(_SPEC_VERSIONS) < _MAX_SPEC_VERSIONS:
            _SPEC_VERSIONS[version] = parsed
    return parsed


async def until_disconnect(
    respond: Callable[[], Awaitable[None]], disconnected: Callable[[], Awaitable[None]]
) -> None:
    """Run `respond` while awaiting `disconnected`; whichever ends first stops the other."""
    async with create_collapsing_task_group() as task_group:

        async def run_then_stop(func: Callable[[], Awaitable[None]]) -> None:
            await func()
            task_group.cancel_scope.cancel()

        task_group.start_soon(run_then_stop, respond)
        await run_then_stop(disconnected)


async def wait_for_disconnect(receive: Receive) -> None:
    """Return once `receive` reports `http.disconnect` (other messages are dropped)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def stat_regular_file(
    path: str | os.PathLike[str], region: tuple[int, int | None] | None = None, limit: int = 0
) -> tuple[os.stat_result, Prefetched | None]:
    """`os.stat(path)` in a worker thread; `RuntimeError` unless it is a regular file.

    With `region` (`(start, end)`, `end` None for the end of the file), the same call
    reads that region too when it holds from 1 to `limit` bytes: a worker-thread call
    costs far more than the read, and the caller can guess its body before it knows
    the file's size. What was read comes back as `(start, bytes)` (or None).
    """
    try:
        return await anyio.to_thread.run_sync(_stat_and_read, path, region, limit)
    except (FileNotFoundError, NotADirectoryError):
        raise RuntimeError(f"File at path {path} does not exist.")


def read_ahead(
    path: str | os.PathLike[str],
    stat_result: os.stat_result,
    region: tuple[int, int | None] | None,
    limit: int,
) -> Prefetched | None:
    """`region` of the regular file at `path` (whose stat is `stat_result`) as
    `(start, bytes)`, when it holds from 1 to `limit` bytes; else None.

    Blocking: for a worker-thread call that has just made the stat, saving a call of its
    own later. Only a guess: a read that fails is left to fail again where the body is
    sent (a 400 or 416 for the `Range` header comes first, as it would).
    """
    if region is None:
        return None
    start, end = region
    end = stat_result.st_size if end is None else min(end, stat_result.st_size)
    if not 0 < end - start <= limit:
        return None
    try:
        return start, _read_file_region(path, start, end)
    except OSError:
        return None


def absolute_path(path: str | os.PathLike[str]) -> str:
    """`path` as the pathsend extension wants it: absolute, resolved where it was meant."""
    text = os.fspath(path)
    return text if os.path.isabs(text) else os.path.join(os.getcwd(), text)


async def send_file(
    path: str | os.PathLike[str],
    chunk_size: int,
    scope: Scope,
    receive: Receive,
    send: Send,
    start: Message,
    segments: list[Segment],
    prefetched: Prefetched | None = None,
) -> None:
    """Send `start`, then `segments`, reading file regions `chunk_size` bytes at a time.

    A body of one region that `prefetched` holds is sent from it, without a read.

    The transfer stops as soon as the client is gone, whatever the body's size:
    servers speaking ASGI 2.4 or later raise `OSError` from `send`, which propagates
    as is (Starlette's `FileResponse` does not turn it into `ClientDisconnect`);
    before 2.4, a body of more than one message is sent while a listener awaits
    `http.disconnect`, and cancels the reads when it arrives.
    """
    if len(segments) == 1 and not isinstance(segments[0], bytes):
        position, end = segments[0]
        if 0 < end - position <= chunk_size:
            # The whole body in one message (a small file, a single range): opened, read
            # and closed in one worker-thread call instead of three.
            await _send_one_region(path, send, start, position, end, prefetched)
            return
    # Opened before anything is sent, so a vanished file fails with no response begun.
    file = await anyio.open_file(path, mode="rb")
    try:
        stream = partial(_send_segments, path, chunk_size, file, send, start, segments)
        if _listens_for_disconnect(scope, chunk_size, segments):
            await until_disconnect(stream, partial(wait_for_disconnect, receive))
        else:
            await stream()
    finally:
        # Closed even under cancellation (a disconnect, or the caller's own scope),
        # so that the background task that follows never sees the file still open.
        with anyio.CancelScope(shield=True):
            await file.aclose()


# Helpers


def _listens_for_disconnect(scope: Scope, chunk_size: int, segments: list[Segment]) -> bool:
    """Whether the body must be sent beside a listener for `http.disconnect`.

    Only HTTP scopes before ASGI 2.4 need one (2.4 servers raise from `send`; a
    websocket denial's `receive` has no `http.disconnect`). A body that goes out in
    a single message has nothing left to stop once it is sent, so it is sent without
    reading `receive` at all: every other body, whatever its size (a multipart body
    of a few bytes with a tiny `chunk_size` included), gets the listener. Starlette
    1.8 (#3523) draws the line at one chunk too, and its 1.8+ tests let the listener
    run for a small multipart body, checking only that it is cancelled once the body
    is out (before 1.8 the same test forbade calling `receive` at all).
    """
    if scope["type"] != "http" or spec_version(scope) >= (2, 4):
        return False
    messages = 0
    for segment in segments:
        if isinstance(segment, bytes):
            messages += 1
        else:
            messages += max(1, -(-(segment[1] - segment[0]) // chunk_size))
        if messages > 1:
            return True
    return False


async def _send_segments(
    path: str | os.PathLike[str],
    chunk_size: int,
    file: anyio.AsyncFile[bytes],
    send: Send,
    start: Message,
    segments: list[Segment],
) -> None:
    await send(start)
    last = len(segments) - 1
    index = 0
    while index <= last:
        segment = segments[index]
        if isinstance(segment, bytes):
            await send({"type": "http.response.body", "body": segment, "more_body": index < last})
            index += 1
            continue
        position, end = segment
        if 0 < end - position <= chunk_size:
            # One message's worth: read along with the small parts that follow it.
            index = await _send_small_regions(path, chunk_size, file, send, segments, index)
            continue
        index += 1
        if position == end:  # an empty file
            await send({"type": "http.response.body", "body": b"", "more_body": index <= last})
            continue
        await file.seek(position)
        while position < end:
            chunk = await file.read(min(chunk_size, end - position))
            if not chunk:
                raise _cut_short(path)
            position += len(chunk)
            more_body = position < end or index <= last
            await send({"type": "http.response.body", "body": chunk, "more_body": more_body})


async def _send_small_regions(
    path: str | os.PathLike[str],
    chunk_size: int,
    file: anyio.AsyncFile[bytes],
    send: Send,
    segments: list[Segment],
    first: int,
) -> int:
    """Send `segments` from `first` on, reading their regions in one worker-thread call.

    The batch ends before a region that would not fit one message (`chunk_size`)
    or would take the batch past `READ_BATCH_BYTES`. The messages are the ones a
    read per region would send. Returns the index of the first segment left unsent.
    """
    last = len(segments) - 1
    stop = first
    regions: list[tuple[int, int]] = []
    batched = 0
    while stop <= last:
        segment = segments[stop]
        if not isinstance(segment, bytes):
            length = segment[1] - segment[0]
            if not 0 < length <= chunk_size or (regions and batched + length > READ_BATCH_BYTES):
                break
            regions.append(segment)
            batched += length
        stop += 1
    contents = iter(await anyio.to_thread.run_sync(_read_regions, file.wrapped, regions))
    for index in range(first, stop):
        segment = segments[index]
        if isinstance(segment, bytes):
            await send({"type": "http.response.body", "body": segment, "more_body": index < last})
            continue
        await _send_region(path, send, next(contents), segment, more_body=index < last)
    return stop


async def _send_one_region(
    path: str | os.PathLike[str],
    send: Send,
    start: Message,
    position: int,
    end: int,
    prefetched: Prefetched | None,
) -> None:
    """Send `start` and the region `position:end` of the file, read in one thread call
    (or none, when `prefetched` holds it all).

    The messages are those of `_send_segments` for a single region of one message.
    """
    length = end - position
    if prefetched is not None and prefetched[0] == position and len(prefetched[1]) >= length:
        chunk = prefetched[1][:length]
    else:
        # Read before anything is sent, so a vanished file fails with no response begun.
        chunk = await anyio.to_thread.run_sync(_read_file_region, path, position, end)
    await send(start)
    await _send_region(path, send, chunk, (position, end), more_body=False)


async def _send_region(
    path: str | os.PathLike[str],
    send: Send,
    chunk: bytes,
    region: tuple[int, int],
    *,
    more_body: bool,
) -> None:
    """Send the bytes read for `region`; `RuntimeError` if the file was cut short.

    What was read of a cut region still goes out (marked as not the end) first.
    """
    if not chunk:
        raise _cut_short(path)
    short = len(chunk) < region[1] - region[0]
    await send({"type": "http.response.body", "body": chunk, "more_body": short or more_body})
    if short:
        raise _cut_short(path)


def _cut_short(path: str | os.PathLike[str]) -> RuntimeError:
    # The file shrank since it was stat-ed: the announced length can no longer be met.
    return RuntimeError(f"File at path {path} is shorter than expected.")


def _stat_and_read(
    path: str | os.PathLike[str], region: tuple[int, int | None] | None, limit: int
) -> tuple[os.stat_result, Prefetched | None]:
    """For `stat_regular_file`, in its worker thread."""
    stat_result = os.stat(path)
    if not stat.S_ISREG(stat_result.st_mode):
        raise RuntimeError(f"File at path {path} is not a file.")
    return stat_result, read_ahead(path, stat_result, region, limit)


def _read_file_region(path: str | os.PathLike[str], position: int, end: int) -> bytes:
    """The bytes `position:end` of the file at `path` (short at the end of the file)."""
    with open(path, "rb") as file:
        return _read_regions(file, [(position, end)])[0]


def _read_regions(file: IO[bytes], regions: list[tuple[int, int]]) -> list[bytes]:
    """The bytes of each `(start, end)` region of `file` (short at the end of the file)."""
    contents = []
    for start, end in regions:
        file.seek(start)
        contents.append(file.read(end - start))
    return contents
