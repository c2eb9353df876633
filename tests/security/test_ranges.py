"""Hostile `Range` headers on `FileResponse` and `StaticFiles`.

Starlette's range merge was quadratic before 0.49.1 (GHSA-7f5h-v6xp-fcq8), and a
header naming thousands of ranges could make a server build a huge multipart body.
Here every header costs linear work, a response is never larger than the file plus
its multipart framing, and the refusals are exact: 400 for an inverted or
meaningless header, 416 when nothing is satisfiable, the whole file (200) when the
header names more than `FileResponse.max_ranges` ranges.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stellate_asgi.types import ASGIApp, Receive, Scope, Send
from stellate_http.responses import FileResponse
from stellate_staticfiles import StaticFiles
from tests.security._asgi import Exchange, http_scope, request

pytestmark = pytest.mark.anyio

SIZE = 100_000
DATA = bytes(range(256)) * (SIZE // 256) + bytes(SIZE % 256)
# Generous: each of these headers takes milliseconds; a quadratic merge of the same
# headers takes minutes.
TIME_BOUND = 2.0


@pytest.fixture
def file_path(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    return path


@pytest.fixture(params=["FileResponse", "StaticFiles"])
def app(request: pytest.FixtureRequest, file_path: Path) -> ASGIApp:
    """An app serving `file_path` at `/data.bin`, either way the framework serves files."""
    if request.param == "StaticFiles":
        return StaticFiles(directory=file_path.parent)

    async def file_app(scope: Scope, receive: Receive, send: Send) -> None:
        await FileResponse(file_path)(scope, receive, send)

    return file_app


async def get_range(app: ASGIApp, value: str) -> tuple[Exchange, float]:
    scope = http_scope("/data.bin", headers=[(b"host", b"testserver"), (b"range", value.encode())])
    started = time.perf_counter()
    exchange = await request(app, scope)
    return exchange, time.perf_counter() - started


async def test_a_hundred_ranges_are_served_as_multipart(app: ASGIApp) -> None:
    value = "bytes=" + ",".join(f"{i * 1000}-{i * 1000 + 9}" for i in range(100))
    exchange, _ = await get_range(app, value)

    assert exchange.status == 206
    content_type = exchange.header("content-type") or ""
    assert content_type.startswith("multipart/byteranges; boundary=")
    assert exchange.header("content-length") == str(len(exchange.body))
    boundary = content_type.partition("boundary=")[2].encode()
    assert exchange.body.count(b"--" + boundary + b"\r\n") == 100
    assert f"Content-Range: bytes 99000-99009/{SIZE}".encode() in exchange.body
    assert DATA[99000:99010] in exchange.body


async def test_more_than_a_hundred_ranges_get_the_whole_file(app: ASGIApp) -> None:
    value = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 5}" for i in range(101))
    exchange, _ = await get_range(app, value)

    assert exchange.status == 200
    assert exchange.header("content-range") is None
    assert exchange.body == DATA


async def test_a_header_of_a_million_commas_costs_linear_time(
    app: ASGIApp,
) -> None:
    value = "bytes=" + "0-0," * 250_000
    exchange, elapsed = await get_range(app, value)

    assert exchange.status == 200
    assert exchange.body == DATA
    assert elapsed < TIME_BOUND


@pytest.mark.parametrize(
    "value",
    [
        # The same range a hundred times: one range, not a hundred copies of the file.
        pytest.param("bytes=" + ",".join(["0-99999"] * 100), id="repeated"),
        # Each range overlaps the next: merged in one pass, not pairwise.
        pytest.param(
            "bytes=" + ",".join(f"{i * 900}-{i * 900 + 1999}" for i in range(100)),
            id="overlapping-chain",
        ),
        # Unsorted and touching.
        pytest.param(
            "bytes=" + ",".join(f"{i * 1000}-{i * 1000 + 999}" for i in reversed(range(100))),
            id="touching-reversed",
        ),
    ],
)
async def test_overlapping_ranges_never_amplify_the_response(app: ASGIApp, value: str) -> None:
    exchange, elapsed = await get_range(app, value)

    assert exchange.status == 206
    # Merged into one range: no multipart body at all, at most the file itself.
    assert exchange.header("content-type") == "application/octet-stream"
    assert len(exchange.body) <= SIZE
    content_range = exchange.header("content-range") or ""
    first, _, last = content_range.removeprefix("bytes ").partition("/")[0].partition("-")
    assert exchange.body == DATA[int(first) : int(last) + 1]
    assert elapsed < TIME_BOUND


@pytest.mark.parametrize(
    ("value", "content_range"),
    [
        # A last position of 100,000 digits is clamped to the file, never converted.
        pytest.param("bytes=0-" + "9" * 100_000, f"bytes 0-{SIZE - 1}/{SIZE}", id="huge-last"),
        pytest.param("bytes=-" + "9" * 100_000, f"bytes 0-{SIZE - 1}/{SIZE}", id="huge-suffix"),
        pytest.param("bytes=" + "0" * 100_000 + "5-9", f"bytes 5-9/{SIZE}", id="zero-padded"),
    ],
)
async def test_huge_numbers_are_clamped(app: ASGIApp, value: str, content_range: str) -> None:
    exchange, elapsed = await get_range(app, value)

    assert exchange.status == 206
    assert exchange.header("content-range") == content_range
    assert elapsed < TIME_BOUND


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("bytes=" + "9" * 100_000 + "-", id="huge-start"),
        pytest.param(f"bytes={SIZE}-", id="start-at-end"),
        pytest.param(f"bytes={SIZE}-{SIZE + 10},{SIZE * 2}-", id="all-past-the-end"),
        pytest.param("bytes=-0", id="empty-suffix"),
    ],
)
async def test_unsatisfiable_ranges_get_416(app: ASGIApp, value: str) -> None:
    exchange, elapsed = await get_range(app, value)

    assert exchange.status == 416
    assert exchange.header("content-range") == f"bytes */{SIZE}"
    assert exchange.body == b""
    assert elapsed < TIME_BOUND


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bytes=9-5", "Range header: start must be less than end"),
        ("bytes=0-10,20-15", "Range header: start must be less than end"),
        ("items=0-10", "Only support bytes range"),
        ("bytes 0-10", "Malformed range header."),
        ("bytes=abc-def", "Range header: range must be requested"),
        ("bytes=" + "-" * 1_000_000, "Range header: range must be requested"),
        ("bytes=\u0661-\u0662", "Range header: range must be requested"),
    ],
)
async def test_malformed_ranges_get_400(app: ASGIApp, value: str, message: str) -> None:
    exchange, elapsed = await get_range(app, value)

    assert exchange.status == 400
    assert exchange.body == message.encode()
    assert exchange.header("content-type") == "text/plain; charset=utf-8"
    assert elapsed < TIME_BOUND


async def test_a_hundred_ranges_of_huge_numbers_cost_linear_time(
    app: ASGIApp,
) -> None:
    # A megabyte of digits spread over the maximum number of ranges.
    value = "bytes=" + ",".join(["1-" + "9" * 10_000] * 100)
    exchange, elapsed = await get_range(app, value)

    assert exchange.status == 206
    assert exchange.header("content-range") == f"bytes 1-{SIZE - 1}/{SIZE}"
    assert elapsed < TIME_BOUND


async def test_whitespace_padding_is_linear(app: ASGIApp) -> None:
    value = "bytes=" + " " * 1_000_000 + "10-19" + " " * 1_000_000
    exchange, elapsed = await get_range(app, value)

    assert exchange.status == 206
    assert exchange.header("content-range") == f"bytes 10-19/{SIZE}"
    assert exchange.body == bytes(range(10, 20))
    assert elapsed < TIME_BOUND


async def test_ranges_are_ignored_outside_get_and_head(file_path: Path) -> None:
    # A POST with a hostile Range still gets the plain response, never a 400 or 416.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await FileResponse(file_path)(scope, receive, send)

    scope = http_scope("/data.bin", method="POST", headers=[(b"range", b"bytes=9-5,items=x,,-")])
    exchange = await request(app, scope)

    assert exchange.status == 200
    assert exchange.body == DATA
