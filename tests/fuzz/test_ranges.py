"""Fuzz tests of `Range` header parsing (`parse_range_header`) and of the responses
`FileResponse` builds from it.

Properties: for any list of byte-range specs the parser gives exactly the bytes a
byte-by-byte reference marks (clamped to the file, merged where they overlap or
touch), or the documented refusal (`MalformedRangeHeader` for an inverted range or
nothing requested, `RangeNotSatisfiable` when nothing starts inside the file); any
text gives sorted, disjoint ranges inside the file or one of those two errors; a
`FileResponse` answers any Range header with 200, 206, 400 or 416 and a 206 body
holds exactly the requested bytes; parsing costs linear (or n log n) time.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stellate.applications import Stellate
from stellate.requests import Request
from stellate.responses import FileResponse
from stellate.routing import Route
from stellate_http._ranges import MalformedRangeHeader, RangeNotSatisfiable, parse_range_header
from tests.fuzz._asgi import Answer, call
from tests.fuzz._timing import assert_linear

MAX_RANGES = 100
# 1000 bytes that differ from one offset to the next, so a wrong slice shows.
CONTENT = bytes(index % 251 for index in range(1000))

# A position: mostly near the small file sizes tested, sometimes absurdly large.
positions = st.one_of(st.integers(0, 320), st.integers(0, 10**30))
padding = st.integers(0, 2)
space = st.sampled_from(["", " ", "\t"])
# ("first-last", first, last), ("first-", first), ("-suffix", suffix), or junk that
# is no range at all (skipped by the parser).
specs = st.one_of(
    st.tuples(st.just("closed"), positions, positions),
    st.tuples(st.just("open"), positions, st.just(0)),
    st.tuples(st.just("suffix"), positions, st.just(0)),
    st.tuples(
        st.just("junk"), st.sampled_from(["", "abc-def", "100", " - ", "-", "1-2-3", "x-"]), space
    ),
)
range_soup = st.text(st.sampled_from("0123456789-, =\tbytes"), max_size=60)


@given(st.lists(specs, min_size=1, max_size=12), st.integers(0, 300), padding, space)
def test_ranges_are_the_bytes_a_byte_by_byte_reference_marks(
    spec_list: list[tuple[str, object, object]], size: int, zeros: int, blank: str
) -> None:
    header = "bytes=" + ",".join(_spec_text(spec, zeros, blank) for spec in spec_list)
    expected = _reference(spec_list, size)
    if isinstance(expected, type):
        with pytest.raises(expected):
            parse_range_header(header, size, MAX_RANGES)
    else:
        assert parse_range_header(header, size, MAX_RANGES) == expected


@pytest.mark.parametrize("unit", ["bytes", "BYTES", " Bytes ", "items", "", "bytes bytes"])
def test_only_the_bytes_unit_is_understood(unit: str) -> None:
    if unit.strip().lower() == "bytes":
        assert parse_range_header(f"{unit}=0-9", 100, MAX_RANGES) == [(0, 10)]
    else:
        with pytest.raises(MalformedRangeHeader):
            parse_range_header(f"{unit}=0-9", 100, MAX_RANGES)


@given(st.integers(MAX_RANGES, 3 * MAX_RANGES), st.integers(1, 300))
def test_a_header_with_too_many_ranges_is_ignored(count: int, size: int) -> None:
    # More than MAX_RANGES ranges, even inverted ones: the header is not read at all.
    for spec in ("0-0", "9-5", "999999-"):
        header = "bytes=" + ",".join([spec] * (count + 1))
        assert parse_range_header(header, size, MAX_RANGES) == []
    # Exactly MAX_RANGES ranges are still served.
    header = "bytes=" + ",".join(["0-0"] * MAX_RANGES)
    assert parse_range_header(header, size, MAX_RANGES) == [(0, 1)]


@given(st.one_of(st.text(max_size=80), range_soup.map(lambda text: "bytes=" + text)))
def test_any_header_gives_disjoint_ranges_inside_the_file_or_a_clear_error(
    header: str,
) -> None:
    for size in (0, 1, 10, 1000):
        try:
            ranges = parse_range_header(header, size, MAX_RANGES)
        except (MalformedRangeHeader, RangeNotSatisfiable):
            continue
        if not ranges:
            assert header.count(",") >= MAX_RANGES
            continue
        previous_end = -1
        for start, end in ranges:
            assert 0 <= start < end <= size
            # Sorted, and overlapping or touching ranges were merged.
            assert start > previous_end
            previous_end = end


@pytest.mark.anyio
@given(
    st.one_of(
        st.lists(specs, min_size=1, max_size=6).map(
            lambda spec_list: "bytes=" + ",".join(_spec_text(spec, 0, "") for spec in spec_list)
        ),
        range_soup.map(lambda text: "bytes=" + text),
        st.text(max_size=40),
    ),
    st.sampled_from(["GET", "HEAD", "POST"]),
)
async def test_a_file_response_answers_any_range_with_the_right_bytes(
    tmp_path: Path, header: str, method: str
) -> None:
    path = tmp_path / "data.bin"
    if not path.exists():
        path.write_bytes(CONTENT)
    raw = header.encode("utf-8")
    answer = await call(_file_app(path), method=method, path="/file", headers=[(b"range", raw)])
    # The oracle: the parser itself (tested above), on the header as the app reads it.
    ranges: list[tuple[int, int]] = []
    refusal = b""
    try:
        ranges = parse_range_header(raw.decode("latin-1"), len(CONTENT), MAX_RANGES)
    except MalformedRangeHeader as exc:
        expected_status, refusal = 400, exc.content.encode()
    except RangeNotSatisfiable:
        expected_status = 416
    else:
        expected_status = 206 if ranges else 200
    if method == "POST":
        # Ranges are defined for GET and HEAD only: anything else gets the whole file.
        expected_status, ranges = 200, []
    assert answer.status == expected_status
    if method == "HEAD":
        # The file is never read for HEAD (a 400 or 416 is an ordinary response, whose
        # body the server drops, as for any response to HEAD).
        if expected_status in (200, 206):
            assert answer.body == b""
    elif expected_status == 200:
        assert answer.body == CONTENT
    elif expected_status == 206:
        assert _served_ranges(answer) == ranges
    elif expected_status == 400:
        assert answer.body == refusal
    else:
        assert answer.header(b"content-range") == f"bytes */{len(CONTENT)}".encode()


@pytest.mark.parametrize(
    ("make_header", "max_ranges"),
    [
        pytest.param(lambda n: "bytes=" + "," * n, MAX_RANGES, id="commas-past-the-cap"),
        pytest.param(lambda n: "bytes=" + "0" * n + "-", MAX_RANGES, id="zero-padded"),
        pytest.param(lambda n: "bytes=0-" + "9" * n, MAX_RANGES, id="long-number"),
        pytest.param(lambda n: "bytes=" + " " * n + "0-1", MAX_RANGES, id="spaces"),
        pytest.param(lambda n: "bytes=" + "-" * n, MAX_RANGES, id="dashes"),
        pytest.param(lambda n: "bytes=" + "1-2-" * n, MAX_RANGES, id="dash-runs"),
        pytest.param(
            lambda n: "bytes=" + ",".join(f"{i * 3}-{i * 3 + 5}" for i in range(n, 0, -1)),
            10**9,
            id="many-overlapping-reversed",
        ),
        pytest.param(
            lambda n: "bytes=" + ",".join(["0-"] * n),
            10**9,
            id="many-identical",
        ),
    ],
)
def test_range_parsing_takes_linear_time(
    make_header: Callable[[int], str], max_ranges: int
) -> None:
    def parse(header: str) -> object:
        try:
            return parse_range_header(header, 10**9, max_ranges)
        except (MalformedRangeHeader, RangeNotSatisfiable) as exc:
            return exc

    assert_linear(parse, make_header, 200)


def _spec_text(spec: tuple[str, object, object], zeros: int, blank: str) -> str:
    kind, first, last = spec
    if kind == "junk":
        return f"{first}{last}"
    pad = "0" * zeros
    if kind == "closed":
        return f"{blank}{pad}{first}{blank}-{blank}{last}{blank}"
    if kind == "open":
        return f"{blank}{pad}{first}-{blank}"
    return f"{blank}-{pad}{first}{blank}"


def _reference(
    spec_list: list[tuple[str, object, object]], size: int
) -> list[tuple[int, int]] | type[Exception]:
    """What a header made of `spec_list` asks of `size` bytes, worked out byte by byte."""
    wanted = [False] * size
    requested = satisfiable = False
    for kind, first, last in spec_list:
        if kind == "junk":
            continue
        assert isinstance(first, int)
        assert isinstance(last, int)
        requested = True
        if kind == "closed":
            if last < first:
                return MalformedRangeHeader
            marked = range(first, min(last + 1, size))
        elif kind == "open":
            marked = range(first, size)
        else:
            marked = range(max(size - first, 0), size) if first else range(0)
        satisfiable = satisfiable or len(marked) > 0
        for index in marked:
            wanted[index] = True
    if not satisfiable:
        return RangeNotSatisfiable if requested else MalformedRangeHeader
    # The runs of marked bytes, as half-open ranges.
    runs: list[tuple[int, int]] = []
    for index, marked_byte in enumerate(wanted):
        if not marked_byte:
            continue
        if runs and runs[-1][1] == index:
            runs[-1] = (runs[-1][0], index + 1)
        else:
            runs.append((index, index + 1))
    return runs


def _served_ranges(answer: Answer) -> list[tuple[int, int]]:
    """The `(start, end)` ranges a 206 answer holds, after checking each part's bytes."""
    content_type = (answer.header(b"content-type") or b"").decode("latin-1")
    if not content_type.startswith("multipart/byteranges"):
        start, end = _content_range((answer.header(b"content-range") or b"").decode())
        assert answer.body == CONTENT[start:end]
        return [(start, end)]
    boundary = content_type.split("boundary=")[1].encode()
    parts = answer.body.split(b"--" + boundary)
    assert parts[0] == b""
    assert parts[-1] == b"--"
    served = []
    for part in parts[1:-1]:
        head, _, body = part.partition(b"\r\n\r\n")
        match = re.search(rb"Content-Range: (bytes [^\r]*)", head)
        assert match is not None
        start, end = _content_range(match.group(1).decode())
        assert body == CONTENT[start:end] + b"\r\n"
        served.append((start, end))
    return served


def _content_range(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", value)
    assert match is not None, value
    assert int(match.group(3)) == len(CONTENT)
    return int(match.group(1)), int(match.group(2)) + 1


@functools.cache
def _file_app(path: Path) -> Stellate:
    def endpoint(request: Request) -> FileResponse:
        return FileResponse(path)

    return Stellate(routes=[Route("/file", endpoint, methods=["GET", "POST"])])
