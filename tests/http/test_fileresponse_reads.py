"""How `FileResponse` reads a file: small parts of a multi-range body in few thread calls.

A worker-thread call costs far more than reading a few kilobytes, so the small
regions of a body are read together, up to `READ_BATCH_BYTES` per call, while
the messages sent stay those of one read per region.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

import anyio
import pytest

from stellate_asgi.types import Message, Scope
from stellate_http import _sending
from stellate_http.responses import FileResponse
from tests._threads import count_thread_calls

# Bytes that differ from one offset to the next, so a wrong slice shows.
CONTENT = bytes(range(251)) * (512 * 1024 // 251)
PART = 4 * 1024


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "data.bin"
    file.write_bytes(CONTENT)
    return file


@pytest.mark.anyio
async def test_many_small_parts_are_read_in_one_thread_call(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = count_batches(monkeypatch)
    ranges = [(start, start + 10) for start in range(0, 100 * 1000, 1000)]
    sent = await call(FileResponse(path), ranges)
    assert sent[0]["status"] == 206
    assert batches == [100]
    # One message per part's header, data and CRLF, then the closing delimiter.
    bodies = sent[1:]
    assert len(bodies) == 3 * 100 + 1
    assert [bodies[3 * index + 1]["body"] for index in range(100)] == [
        CONTENT[start:end] for start, end in ranges
    ]
    assert all(message["more_body"] for message in bodies[:-1])
    assert bodies[-1]["more_body"] is False


@pytest.mark.anyio
async def test_a_batch_holds_at_most_the_byte_budget(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = count_batches(monkeypatch)
    # 40 parts of 4 KiB, 4 KiB apart: 16 fit in the 64 KiB budget.
    ranges = [(start, start + PART) for start in range(0, 80 * PART, 2 * PART)]
    sent = await call(FileResponse(path), ranges)
    assert batches == [16, 16, 8]
    data = [message["body"] for message in sent[1:] if len(message["body"]) == PART]
    assert data == [CONTENT[start:end] for start, end in ranges]


@pytest.mark.anyio
async def test_parts_larger_than_a_chunk_are_read_chunk_by_chunk(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class SmallChunks(FileResponse):
        chunk_size = 1000

    batches = count_batches(monkeypatch)
    sent = await call(SmallChunks(path), [(0, 10), (100, 2600), (3000, 3010)])
    # The 2,500-byte part goes out in 1,000-byte reads between two one-part batches.
    assert batches == [1, 1]
    sizes = [len(message["body"]) for message in sent[1:] if len(message["body"]) in (10, 500)]
    assert sizes == [10, 500, 10]
    chunks = [message["body"] for message in sent[1:] if len(message["body"]) == 1000]
    assert chunks == [CONTENT[100:1100], CONTENT[1100:2100]]


@pytest.mark.anyio
async def test_a_part_missing_from_a_truncated_file_is_an_error(path: Path) -> None:
    app = FileResponse(path, stat_result=await anyio.Path(path).stat())
    await anyio.Path(path).write_bytes(CONTENT[:100])
    sent: list[Message] = []
    with pytest.raises(RuntimeError, match="is shorter than expected"):
        await call(app, [(0, 10), (200, 210)], sent)
    # The first part went out whole before the second was found missing.
    assert CONTENT[:10] in [message.get("body") for message in sent]


@pytest.mark.anyio
async def test_a_large_part_cut_short_by_truncation_is_an_error(path: Path) -> None:
    class SmallChunks(FileResponse):
        chunk_size = 10

    app = SmallChunks(path, stat_result=await anyio.Path(path).stat())
    await anyio.Path(path).write_bytes(CONTENT[:25])
    sent: list[Message] = []
    with pytest.raises(RuntimeError, match="is shorter than expected"):
        await call(app, [(0, 40)], sent)
    assert [message["body"] for message in sent[1:]] == [
        CONTENT[0:10],
        CONTENT[10:20],
        CONTENT[20:25],
    ]


@pytest.mark.anyio
async def test_a_body_of_one_message_is_read_in_one_thread_call(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Opening, reading and closing each cost a worker-thread call: a single range (or
    # a small file) that fits one message is read by one call that does all three.
    reads = count_single_reads(monkeypatch)
    monkeypatch.setattr(anyio, "open_file", _never_opened)
    sent = await call(FileResponse(path), [(1000, 1000 + PART)])
    assert sent[0]["status"] == 206
    assert reads == [(1000, 1000 + PART)]
    assert [message["body"] for message in sent[1:]] == [CONTENT[1000 : 1000 + PART]]
    assert sent[1]["more_body"] is False


@pytest.mark.anyio
async def test_a_single_region_cut_short_by_truncation_is_an_error(path: Path) -> None:
    app = FileResponse(path, stat_result=await anyio.Path(path).stat())
    await anyio.Path(path).write_bytes(CONTENT[:1005])
    sent: list[Message] = []
    with pytest.raises(RuntimeError, match="is shorter than expected"):
        await call(app, [(1000, 1010)], sent)
    # What there was went out, marked as not the end; then the error.
    assert [(message["body"], message["more_body"]) for message in sent[1:]] == [
        (CONTENT[1000:1005], True)
    ]


@pytest.mark.anyio
async def test_a_single_region_missing_from_a_truncated_file_is_an_error(path: Path) -> None:
    app = FileResponse(path, stat_result=await anyio.Path(path).stat())
    await anyio.Path(path).write_bytes(CONTENT[:100])
    sent: list[Message] = []
    with pytest.raises(RuntimeError, match="is shorter than expected"):
        await call(app, [(1000, 1010)], sent)
    assert [message["type"] for message in sent] == ["http.response.start"]


@pytest.mark.parametrize(
    ("size", "range_header", "expected"),
    [
        pytest.param(PART, None, slice(0, PART), id="small-file"),
        pytest.param(len(CONTENT), b"bytes=1000-5095", slice(1000, 5096), id="first-last"),
        pytest.param(len(CONTENT), b"bytes=520000-", slice(520000, None), id="the-tail"),
        pytest.param(PART, b"bytes=100-99999", slice(100, PART), id="past-the-end"),
    ],
)
@pytest.mark.anyio
async def test_a_one_message_body_is_read_with_the_stat(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
    range_header: bytes | None,
    expected: slice,
) -> None:
    # The likely body (the whole file, or the one range asked) is read in the same
    # worker-thread call as the stat.
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT[:size])
    calls = count_thread_calls(monkeypatch)
    headers = [] if range_header is None else [(b"range", range_header)]
    sent = await send_request(FileResponse(path), headers)
    assert sent[0]["status"] == (200 if range_header is None else 206)
    assert body_of(sent) == CONTENT[:size][expected]
    assert calls == ["_stat_and_read"]


WRONG_GUESS = ["_stat_and_read", "_read_file_region"]


@pytest.mark.parametrize(
    ("status_code", "method", "headers", "calls"),
    [
        # The range read ahead is not the body: the whole file is, read after the plan.
        pytest.param(
            200,
            "GET",
            [(b"range", b"bytes=10-19"), (b"if-range", b'"other"')],
            WRONG_GUESS,
            id="if-range",
        ),
        pytest.param(200, "POST", [(b"range", b"bytes=10-19")], WRONG_GUESS, id="post"),
        # A response that is not a 200 ignores its `Range` (a 404 page is sent whole),
        # so the whole file is the guess.
        pytest.param(404, "GET", [(b"range", b"bytes=10-19")], ["_stat_and_read"], id="404"),
    ],
)
@pytest.mark.anyio
async def test_a_range_that_does_not_apply_sends_the_whole_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    status_code: int,
    method: str,
    headers: list[tuple[bytes, bytes]],
    calls: list[str],
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT[:PART])
    made = count_thread_calls(monkeypatch)
    sent = await send_request(FileResponse(path, status_code=status_code), headers, method)
    assert sent[0]["status"] == status_code
    assert body_of(sent) == CONTENT[:PART]
    assert made == calls


@pytest.mark.anyio
async def test_a_failed_read_ahead_is_read_again_in_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT[:PART])
    read_file_region = _sending._read_file_region
    failures = [PermissionError("not yet")]

    def flaky(file_path: str, position: int, end: int) -> bytes:
        if failures:
            raise failures.pop()
        return read_file_region(file_path, position, end)

    monkeypatch.setattr(_sending, "_read_file_region", flaky)
    sent = await send_request(FileResponse(path), [])
    assert (sent[0]["status"], body_of(sent)) == (200, CONTENT[:PART])
    assert failures == []


# Helpers


def count_single_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Record the region of every one-call read of a whole one-message body."""
    reads: list[tuple[int, int]] = []
    read_file_region = _sending._read_file_region

    def counting(file_path: str, position: int, end: int) -> bytes:
        reads.append((position, end))
        return read_file_region(file_path, position, end)

    monkeypatch.setattr(_sending, "_read_file_region", counting)
    return reads


async def _never_opened(*args: object, **kwargs: object) -> None:
    raise AssertionError("a one-message body is read without anyio.open_file")


def count_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the number of regions of every batched read (one worker-thread call each)."""
    batches: list[int] = []
    read_regions = _sending._read_regions

    def counting(file: IO[bytes], regions: list[tuple[int, int]]) -> list[bytes]:
        batches.append(len(regions))
        return read_regions(file, regions)

    monkeypatch.setattr(_sending, "_read_regions", counting)
    return batches


async def call(
    app: FileResponse, ranges: list[tuple[int, int]], sent: list[Message] | None = None
) -> list[Message]:
    """Send `app` a GET for `ranges` (end exclusive); return what it sent."""
    spec = ", ".join(f"{start}-{end - 1}" for start, end in ranges)
    return await send_request(app, [(b"range", f"bytes={spec}".encode())], sent=sent)


async def send_request(
    app: FileResponse,
    headers: list[tuple[bytes, bytes]],
    method: str = "GET",
    sent: list[Message] | None = None,
) -> list[Message]:
    """Send `app` a request with `headers`; return what it sent (also into `sent`, so
    that what went out before an error can be read)."""
    sent = [] if sent is None else sent
    scope: Scope = {"type": "http", "method": method, "path": "/", "headers": headers}

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(message: Message) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await app(scope, receive, send)
    return sent


def body_of(sent: list[Message]) -> bytes:
    return b"".join(message.get("body", b"") for message in sent[1:])
