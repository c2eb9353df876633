"""Hostile form bodies: every limit of the urlencoded and multipart parsers holds.

Each attack goes to a real application, through a raw ASGI server (`_asgi.request`)
that hands out the body chunk by chunk, as a server would. A refused body is a 400
whose text says which limit it broke (Starlette's wording where Starlette has one),
and an endless body is refused after a bounded number of chunks: the parser never
buffers without limit and never waits for the end of an attack to refuse it.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import tracemalloc
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from tempfile import SpooledTemporaryFile
from typing import Any, cast
from urllib.parse import unquote_plus

import anyio
import anyio.to_thread
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from python_multipart import QuerystringParser
from python_multipart.multipart import parse_options_header

import stellate_http.formparsers
from stellate.applications import Stellate
from stellate_asgi.datastructures import Headers
from stellate_asgi.types import Scope
from stellate_http.datastructures import UploadFile
from stellate_http.formparsers import FormParser, MultiPartException, _parse_options_header
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, PlainTextResponse, Response
from stellate_routing.routing import Route
from tests.fuzz._timing import assert_linear
from tests.security._asgi import Exchange, http_scope, request

BOUNDARY = b"hostile-boundary-1f4e"
CHUNK_SIZE = 64 * 1024
# Generous, for a loaded CI machine: the tiny request takes about a millisecond.
BOUND = 2.0
MiB = 1024 * 1024


# Field and file floods


@pytest.mark.anyio
async def test_multipart_field_flood_is_refused_after_the_limit() -> None:
    # An endless stream of tiny fields: refused at field 1001, not at the end.
    parts_per_chunk = 100
    chunk = b"".join(field_part(f"f{i}", b"v") for i in range(parts_per_chunk))
    exchange = await post("/form", multipart_type(), endless(chunk))

    assert (exchange.status, exchange.body) == (
        400,
        b"Too many fields. Maximum number of fields is 1000.",
    )
    assert exchange.chunks_received <= 1000 // parts_per_chunk + 1


@pytest.mark.anyio
async def test_multipart_file_flood_is_refused_after_the_limit() -> None:
    parts_per_chunk = 100
    chunk = b"".join(file_part(f"f{i}", f"{i}.txt", b"x") for i in range(parts_per_chunk))
    exchange = await post("/form", multipart_type(), endless(chunk))

    assert (exchange.status, exchange.body) == (
        400,
        b"Too many files. Maximum number of files is 1000.",
    )
    assert exchange.chunks_received <= 1000 // parts_per_chunk + 1


@pytest.mark.anyio
async def test_refused_file_flood_leaves_no_file_open() -> None:
    # Three files large enough to be spooled to disk (one descriptor each), then one
    # file too many: the refusal closes them all.
    big = bytes(range(256)) * (6 * 1024)  # 1.5 MiB, past the 1 MiB spool
    body = [file_part(f"big{i}", f"{i}.bin", big) for i in range(3)]
    body += [file_part("extra", "extra.bin", b"x"), closing()]
    before = open_descriptors()

    exchange = await post("/three-files", multipart_type(), body)

    assert (exchange.status, exchange.body) == (
        400,
        b"Too many files. Maximum number of files is 3.",
    )
    assert open_descriptors() == before


# Parts that never end


@pytest.mark.anyio
async def test_endless_part_without_filename_is_refused_at_max_part_size() -> None:
    head = f'--{BOUNDARY.decode()}\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
    exchange = await post("/form", multipart_type(), endless(b"x" * CHUNK_SIZE, head.encode()))

    assert (exchange.status, exchange.body) == (400, b"Part exceeded maximum size of 1024KB.")
    assert exchange.chunks_received <= MiB // CHUNK_SIZE + 2


# Part headers


@pytest.mark.anyio
async def test_too_many_part_headers() -> None:
    extra = b"".join(b"X-Header-%d: %d\r\n" % (i, i) for i in range(10))
    body = [b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="a"\r\n' + extra]
    body += [b"\r\nvalue\r\n", closing()]
    exchange = await post("/form", multipart_type(), body)

    assert (exchange.status, exchange.body) == (400, b"Invalid multipart data.")


@pytest.mark.anyio
@pytest.mark.parametrize("long", ["names", "values"])
async def test_part_headers_over_the_total_size_limit(long: str) -> None:
    # Each line is under the line limit; together they pass the 16 KiB of a part.
    if long == "names":
        lines = b"".join(b"X-" + b"n" * 4000 + b"%d: v\r\n" % i for i in range(6))
    else:
        lines = b"".join(b"X-Header-%d: " % i + b"v" * 4000 + b"\r\n" for i in range(6))
    body = [b"--" + BOUNDARY + b"\r\n" + lines]
    body += [b'Content-Disposition: form-data; name="a"\r\n\r\nvalue\r\n', closing()]
    exchange = await post("/form", multipart_type(), body)

    assert (exchange.status, exchange.body) == (400, b"Part headers exceeded maximum size of 16KB.")


@pytest.mark.anyio
@pytest.mark.parametrize("piece", ["name", "value"])
async def test_endless_part_header_line_is_refused(piece: str) -> None:
    # A header name, or a value, that never ends.
    head = b"--" + BOUNDARY + b"\r\n" + (b"" if piece == "name" else b"X-Long: ")
    exchange = await post("/form", multipart_type(), endless(b"a" * 1024, head))

    assert (exchange.status, exchange.body) == (400, b"Invalid multipart data.")
    assert exchange.chunks_received <= 16


# The boundary and the Content-Type


@pytest.mark.anyio
@pytest.mark.parametrize("length", [257, 10_000])
async def test_absurdly_long_boundary(length: int) -> None:
    boundary = b"b" * length
    body = [b"--" + boundary + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n']
    body += [b"--" + boundary + b"--\r\n"]
    exchange = await post("/form", b"multipart/form-data; boundary=" + boundary, body)

    assert (exchange.status, exchange.body) == (400, b"Invalid multipart data.")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content_type",
    [
        b"multipart/form-data",
        b"multipart/form-data; boundary=",
        b'multipart/form-data; boundary=""',
        b"multipart/form-data; charset=utf-8",
        b"multipart/form-data; boundary*=utf-8''abc",
        b"multipart/form-data;;;;;;",
    ],
)
async def test_missing_boundary(content_type: bytes) -> None:
    exchange = await post("/form", content_type, [field_part("a", b"1"), closing()])

    assert (exchange.status, exchange.body) == (400, b"Missing boundary in multipart.")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content_type",
    [
        b'multipart/form-data; boundary="' + BOUNDARY,  # unterminated quote
        b"multipart/form-data; boundary=" + BOUNDARY + b'"; x="',
        b"multipart/form-data; boundary=\\" + BOUNDARY,
        b"multipart/form-data; boundary=" + BOUNDARY + b"\r\n",
    ],
)
async def test_malformed_content_type_is_refused_not_crashed(content_type: bytes) -> None:
    # Each gives a boundary that the body does not use.
    exchange = await post("/form", content_type, [field_part("a", b"1"), closing()])

    assert (exchange.status, exchange.body) == (400, b"Invalid multipart data.")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "disposition",
    [
        b"",
        b"form-data",
        b"form-data; filename=a.txt",
        b'form-data; ="a"',
        b"form-data; name*=utf-8''a\"",
        b"attachment; nam=a",
    ],
)
async def test_content_disposition_without_a_name(disposition: bytes) -> None:
    header = b"Content-Disposition: " + disposition + b"\r\n" if disposition else b""
    body = [b"--" + BOUNDARY + b"\r\n" + header + b"Content-Type: text/plain\r\n\r\nv\r\n"]
    exchange = await post("/form", multipart_type(), [*body, closing()])

    assert (exchange.status, exchange.body) == (
        400,
        b'The Content-Disposition header field "name" must be provided.',
    )


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(st.sampled_from(';="\\ \t*/=abX\xe9'), max_size=40),
        st.text(st.characters(max_codepoint=0xFF), max_size=60),
        st.builds(
            "{}; {}".format,
            st.sampled_from(["multipart/form-data", "form-data", "Form-Data"]),
            st.text(st.sampled_from(" name=\"filebound=y;\\*'\t"), max_size=40),
        ),
    )
)
def test_header_parameters_parse_as_python_multipart_does(value: str) -> None:
    # The quick path for common Content-Type and Content-Disposition values must
    # agree with python-multipart's parser on anything, hostile values included.
    assert _parse_options_header(value) == parse_options_header(value)
    assert _parse_options_header(value.encode("latin-1")) == parse_options_header(value)


# Urlencoded forms


@pytest.mark.anyio
async def test_urlencoded_field_flood_is_refused_after_the_limit() -> None:
    fields_per_chunk = 100
    chunk = b"&".join(b"f%d=v" % i for i in range(fields_per_chunk)) + b"&"
    exchange = await post("/form", b"application/x-www-form-urlencoded", endless(chunk))

    assert (exchange.status, exchange.body) == (
        400,
        b"Too many fields. Maximum number of fields is 1000.",
    )
    assert exchange.chunks_received <= 1000 // fields_per_chunk + 1


@pytest.mark.anyio
async def test_urlencoded_fields_without_values_count_too() -> None:
    # `a&a&a...`: fields without `=` are fields all the same.
    body = [b"&".join([b"a"] * 1001)]
    exchange = await post("/form", b"application/x-www-form-urlencoded", body)

    assert (exchange.status, exchange.body) == (
        400,
        b"Too many fields. Maximum number of fields is 1000.",
    )


@pytest.mark.anyio
@pytest.mark.parametrize("head", [b"name=", b""], ids=["value", "name"])
async def test_endless_urlencoded_field_is_refused_at_max_part_size(head: bytes) -> None:
    body = endless(b"x" * CHUNK_SIZE, head)
    exchange = await post("/form", b"application/x-www-form-urlencoded", body)

    assert (exchange.status, exchange.body) == (400, b"Field exceeded maximum size of 1024KB.")
    assert exchange.chunks_received <= MiB // CHUNK_SIZE + 2


def test_urlencoded_callbacks_obey_the_limits_too() -> None:
    # Code that drives python-multipart's `QuerystringParser` with `FormParser`'s
    # callbacks, as Starlette's parser once did, gets the same limits.
    def drive(body: bytes, **limits: Any) -> FormParser:
        form_parser = FormParser(Headers(), empty_stream(), **limits)
        callbacks: Any = {
            "on_field_start": form_parser.on_field_start,
            "on_field_name": form_parser.on_field_name,
            "on_field_data": form_parser.on_field_data,
            "on_field_end": form_parser.on_field_end,
            "on_end": form_parser.on_end,
        }
        parser = QuerystringParser(callbacks)
        parser.write(body)
        parser.finalize()
        return form_parser

    messages = drive(b"a=1&b=2", max_fields=2).messages
    assert [(message.name, data) for message, data in messages] == [
        ("FIELD_START", b""),
        ("FIELD_NAME", b"a"),
        ("FIELD_DATA", b"1"),
        ("FIELD_END", b""),
        ("FIELD_START", b""),
        ("FIELD_NAME", b"b"),
        ("FIELD_DATA", b"2"),
        ("FIELD_END", b""),
        ("END", b""),
    ]
    with pytest.raises(
        MultiPartException, match=r"^Too many fields\. Maximum number of fields is 2\.$"
    ):
        drive(b"a=1&b=2&c=3", max_fields=2)
    for body in (b"n" * 1025 + b"=v", b"n=" + b"v" * 1025):
        with pytest.raises(MultiPartException, match=r"^Field exceeded maximum size of 1KB\.$"):
            drive(body, max_part_size=1024)


def test_urlencoded_field_in_tiny_chunks_parses_in_linear_time() -> None:
    # A field that arrives a few bytes at a time must not be rescanned per chunk.
    def make_input(n: int) -> list[bytes]:
        return [b"abcdefgh"] * n  # a name, still without its `=`

    assert_linear(parse_urlencoded_now, make_input, 2000)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(list(b"ab=&+%2F\xe9\xc3")), max_size=60).map(bytes),
    st.lists(st.integers(min_value=0, max_value=60), max_size=6),
)
def test_urlencoded_parses_as_python_multipart_does(body: bytes, cuts: list[int]) -> None:
    # Whatever the body and however a hostile client splits it into chunks, the
    # fields are those python-multipart's `QuerystringParser` finds.
    points = sorted({min(cut, len(body)) for cut in cuts})
    chunks = [
        body[start:end] for start, end in zip([0, *points], [*points, len(body)], strict=True)
    ]
    assert parse_urlencoded_now(chunks) == reference_urlencoded(body)


# The event loop and memory during large uploads


@pytest.mark.anyio
async def test_upload_rolling_over_to_disk_does_not_block_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A disk so slow that moving the spool to it takes until the test says so: an
    # event loop that waited for it would stall every other request meanwhile.
    rolling, release = threading.Event(), threading.Event()

    class SlowDiskSpool(SpooledTemporaryFile[bytes]):
        def rollover(self) -> None:
            rolling.set()
            release.wait(timeout=3 * BOUND)
            super().rollover()

    monkeypatch.setattr(stellate_http.formparsers, "SpooledTemporaryFile", SlowDiskSpool)
    content = bytes(range(256)) * (12 * 1024)  # 3 MiB
    body = chunked(file_part("file", "big.bin", content) + closing())
    upload, stall = Exchange(), Stall()

    async def send_upload() -> None:
        await request(APP, upload_scope(), body, exchange=upload)
        stall.stop()

    try:
        with anyio.fail_after(BOUND * 5):
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(stall.watch)
                task_group.start_soon(send_upload)
                assert await anyio.to_thread.run_sync(rolling.wait, BOUND * 2)
                began = time.perf_counter()
                answer = await request(APP, http_scope("/tiny"))
                elapsed = time.perf_counter() - began
                in_flight = not upload.complete
                release.set()
    finally:
        release.set()

    assert (answer.status, answer.body) == (200, b"tiny")
    assert elapsed < BOUND
    assert in_flight
    assert stall.longest < BOUND
    assert (upload.status, upload.body.decode()) == (200, digest_line("file", content))


@pytest.mark.anyio
async def test_ten_mebibyte_upload_holds_under_two_mebibytes() -> None:
    content_chunk = bytes(range(256)) * (CHUNK_SIZE // 256)
    chunks = 10 * MiB // CHUNK_SIZE
    head = file_part("file", "big.bin", b"")[:-2]  # the part's headers, data to follow
    # A small file after the large one, in the same chunk as the end of the large one.
    tail = b"\r\n" + file_part("notes", "notes.txt", b"small") + closing()
    digest = hashlib.sha256()
    for _ in range(chunks):
        digest.update(content_chunk)

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(chunks):
            # A new object per chunk, as a server delivers them (holding on to chunks
            # would show in the peak), and a mutable one, as a careless server might.
            yield cast(bytes, bytearray(content_chunk))
        yield tail

    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        exchange = await request(APP, upload_scope(), body())
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()

    expected = f"file {10 * MiB} {digest.hexdigest()}\n" + digest_line("notes", b"small")
    assert (exchange.status, exchange.body.decode()) == (200, expected)
    assert peak < 2 * MiB


# The application


async def describe_form(request: Request) -> Response:
    async with request.form() as form:
        return JSONResponse(
            [
                [key, value if isinstance(value, str) else value.size]
                for key, value in form.multi_items()
            ]
        )


async def three_files(request: Request) -> Response:
    async with request.form(max_files=3) as form:
        return PlainTextResponse(str(len(form)))


async def upload_digests(request: Request) -> Response:
    """A line per file: its field name, size and SHA-256.

    Each file is read back in pieces, so that checking it holds no more than a piece.
    """
    lines = []
    async with request.form() as form:
        for name, upload in form.multi_items():
            assert isinstance(upload, UploadFile)
            digest, size = hashlib.sha256(), 0
            while piece := await upload.read(CHUNK_SIZE):
                digest.update(piece)
                size += len(piece)
            lines.append(f"{name} {size} {digest.hexdigest()}\n")
    return PlainTextResponse("".join(lines))


async def tiny(request: Request) -> Response:
    return PlainTextResponse("tiny")


APP = Stellate(
    routes=[
        Route("/form", describe_form, methods=["POST"]),
        Route("/three-files", three_files, methods=["POST"]),
        Route("/upload", upload_digests, methods=["POST"]),
        Route("/tiny", tiny),
    ]
)


# Helpers


def multipart_type() -> bytes:
    return b"multipart/form-data; boundary=" + BOUNDARY


def field_part(name: str, value: bytes) -> bytes:
    head = f'--{BOUNDARY.decode()}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
    return head.encode() + value + b"\r\n"


def file_part(name: str, filename: str, content: bytes) -> bytes:
    head = (
        f"--{BOUNDARY.decode()}\r\n"
        f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    return head.encode() + content + b"\r\n"


def closing() -> bytes:
    return b"--" + BOUNDARY + b"--\r\n"


def chunked(body: bytes) -> list[bytes]:
    return [body[start : start + CHUNK_SIZE] for start in range(0, len(body), CHUNK_SIZE)]


async def endless(chunk: bytes, head: bytes = b"") -> AsyncIterator[bytes]:
    """`head`, then `chunk` again and again: a body that never ends."""
    if head:
        yield head
    while True:
        yield chunk


async def post(path: str, content_type: bytes, body: Any) -> Exchange:
    headers = [(b"host", b"testserver"), (b"content-type", content_type)]
    with anyio.fail_after(10):
        return await request(APP, http_scope(path, method="POST", headers=headers), body)


def upload_scope() -> Scope:
    headers = [(b"host", b"testserver"), (b"content-type", multipart_type())]
    return http_scope("/upload", method="POST", headers=headers)


def digest_line(name: str, content: bytes) -> str:
    return f"{name} {len(content)} {hashlib.sha256(content).hexdigest()}\n"


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


class Stall:
    """Measures the longest the event loop went without running `watch`, until `stop`."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._stopped = anyio.Event()

    async def watch(self) -> None:
        last = time.perf_counter()
        while not self._stopped.is_set():
            with anyio.move_on_after(0.01):
                await self._stopped.wait()
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - 0.01)
            last = now

    def stop(self) -> None:
        self._stopped.set()


async def empty_stream() -> AsyncGenerator[bytes, None]:
    chunks: list[bytes] = []
    for chunk in chunks:
        yield chunk


def parse_urlencoded_now(chunks: list[bytes]) -> list[tuple[str, Any]]:
    """`FormParser.parse` over `chunks`, run to completion without an event loop.

    The stream never waits, so the coroutine finishes on its first step.
    """

    async def stream() -> AsyncGenerator[bytes, None]:
        for chunk in chunks:
            yield chunk

    parser = FormParser(Headers(), stream(), max_fields=float("inf"))
    coroutine = parser.parse()
    try:
        coroutine.send(None)
    except StopIteration as done:
        return list(done.value.multi_items())
    raise AssertionError("the parse waited for something")  # pragma: no cover


def reference_urlencoded(body: bytes) -> list[tuple[str, Any]]:
    """The fields python-multipart's `QuerystringParser` finds, decoded as Starlette does."""
    fields: list[tuple[bytearray, bytearray]] = []

    def on_field_start() -> None:
        fields.append((bytearray(), bytearray()))

    def on_field_name(data: bytes, start: int, end: int) -> None:
        fields[-1][0].extend(data[start:end])

    def on_field_data(data: bytes, start: int, end: int) -> None:
        fields[-1][1].extend(data[start:end])

    parser = QuerystringParser(
        {
            "on_field_start": on_field_start,
            "on_field_name": on_field_name,
            "on_field_data": on_field_data,
        }
    )
    parser.write(body)
    parser.finalize()
    return [
        (unquote_plus(name.decode("latin-1")), unquote_plus(value.decode("latin-1")))
        for name, value in fields
    ]
