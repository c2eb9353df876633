from __future__ import annotations

import hashlib
import math
import os
import random
from email.utils import formatdate
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest

from stellate_asgi.datastructures import Headers
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_http import _ranges
from stellate_http.background import BackgroundTask
from stellate_http.requests import Request
from stellate_http.responses import FileResponse, MalformedRangeHeader, RangeNotSatisfiable
from stellate_routing.routing import Route, Router
from tests.conftest import TestClientFactory

# 1000 bytes that differ from one offset to the next, so a wrong slice shows.
CONTENT = bytes(index % 251 for index in range(1000))
SIZE = len(CONTENT)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "data.txt"
    file.write_bytes(CONTENT)
    return file


async def call(
    app: ASGIApp,
    scope: Scope | None = None,
    receive: Receive | None = None,
    send: Send | None = None,
) -> list[Message]:
    """Run `app` once with a minimal HTTP scope; return what it sent."""
    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)
        if send is not None:
            await send(message)

    async def wait_forever() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    full_scope: Scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    full_scope.update(scope or {})
    with anyio.fail_after(5):
        await app(full_scope, receive or wait_forever, record)
    return sent


def body_of(sent: list[Message]) -> bytes:
    return b"".join(message["body"] for message in sent if message["type"] == "http.response.body")


def get_range(
    test_client_factory: TestClientFactory, app: ASGIApp, value: str, **headers: str
) -> Any:
    return test_client_factory(app).get("/", headers={"range": value, **headers})


def count_spec_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every range spec that `_ranges` parses: a measure of the work done."""
    parsed: list[str] = []
    parse_spec = _ranges._parse_spec

    def counting_parse_spec(spec: str, size: int) -> tuple[int, int] | None:
        parsed.append(spec)
        return parse_spec(spec, size)

    monkeypatch.setattr(_ranges, "_parse_spec", counting_parse_spec)
    return parsed


def count_position_comparisons(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make `_ranges` read byte positions as ints that count the comparisons made on them.

    Every comparison of a range start (parsing, sorting, merging) goes through one of
    them, so the count measures the work of the whole parse without timing it.
    """
    comparisons = [0]

    class Position(int):
        def __eq__(self, other: object) -> bool:
            comparisons[0] += 1
            return int(self) == (int(other) if isinstance(other, int) else other)

        def __ne__(self, other: object) -> bool:
            return not self == other

        __hash__ = int.__hash__

        def __lt__(self, other: int) -> bool:
            comparisons[0] += 1
            return int(self) < int(other)

        def __le__(self, other: int) -> bool:
            comparisons[0] += 1
            return int(self) <= int(other)

        def __gt__(self, other: int) -> bool:
            comparisons[0] += 1
            return int(self) > int(other)

        def __ge__(self, other: int) -> bool:
            comparisons[0] += 1
            return int(self) >= int(other)

    position = _ranges._position

    def counting_position(text: str) -> int | None:
        value = position(text)
        return None if value is None else Position(value)

    monkeypatch.setattr(_ranges, "_position", counting_position)
    return comparisons


# Whole files


def test_file_is_sent_with_its_metadata(path: Path, test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(FileResponse(path)).get("/")
    assert response.status_code == 200
    assert response.content == CONTENT
    stat_result = path.stat()
    digest = hashlib.md5(f"{stat_result.st_mtime}-{SIZE}".encode()).hexdigest()
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"] == f'"{digest}"'
    assert response.headers["last-modified"] == formatdate(stat_result.st_mtime, usegmt=True)
    assert "content-disposition" not in response.headers
    assert "content-range" not in response.headers


def test_validators_follow_the_file(path: Path, test_client_factory: TestClientFactory) -> None:
    # The validators of one mtime and size are kept: a file changed since gets its own.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await FileResponse(path)(scope, receive, send)

    client = test_client_factory(app)
    first = client.get("/").headers
    os.utime(path, (1_000_000_000, 1_000_000_000))
    second = client.get("/").headers
    digest = hashlib.md5(f"{1_000_000_000.0}-{SIZE}".encode()).hexdigest()
    assert second["etag"] == f'"{digest}"' != first["etag"]
    assert second["last-modified"] == "Sun, 09 Sep 2001 01:46:40 GMT" != first["last-modified"]
    path.write_bytes(CONTENT + b"!")
    os.utime(path, (1_000_000_000, 1_000_000_000))
    third = client.get("/").headers
    assert third["etag"] not in (first["etag"], second["etag"])
    assert third["content-length"] == str(SIZE + 1)


def test_filename_sets_disposition_and_media_type(
    path: Path, test_client_factory: TestClientFactory
) -> None:
    response = test_client_factory(FileResponse(path, filename="picture.png")).get("/")
    assert response.headers["content-disposition"] == 'attachment; filename="picture.png"'
    assert response.headers["content-type"] == "image/png"
    assert response.content == CONTENT


def test_non_ascii_filename_uses_rfc_5987(
    path: Path, test_client_factory: TestClientFactory
) -> None:
    app = FileResponse(path, filename='你好 "q".txt', content_disposition_type="inline")
    response = test_client_factory(app).get("/")
    assert response.headers["content-disposition"] == (
        "inline; filename*=utf-8''%E4%BD%A0%E5%A5%BD%20%22q%22.txt"
    )


def test_inline_disposition(path: Path, test_client_factory: TestClientFactory) -> None:
    app = FileResponse(path, filename="hello.txt", content_disposition_type="inline")
    response = test_client_factory(app).get("/")
    assert response.headers["content-disposition"] == 'inline; filename="hello.txt"'


def test_given_media_type_and_headers_win(
    path: Path, test_client_factory: TestClientFactory
) -> None:
    app = FileResponse(
        path,
        filename="x.png",
        media_type="image/jpeg",
        headers={"content-disposition": "inline", "etag": '"mine"', "cache-control": "no-store"},
    )
    response = test_client_factory(app).get("/")
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-disposition"] == "inline"
    assert response.headers["etag"] == '"mine"'
    assert response.headers["cache-control"] == "no-store"


def test_unknown_extension_is_octet_stream(tmp_path: Path) -> None:
    file = tmp_path / "blob.unknown-extension"
    assert Headers(raw=FileResponse(file).raw_headers)["content-type"] == (
        "application/octet-stream"
    )


def test_empty_file(tmp_path: Path, test_client_factory: TestClientFactory) -> None:
    file = tmp_path / "empty.bin"
    file.write_bytes(b"")
    response = test_client_factory(FileResponse(file)).get("/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"


def test_missing_file_is_a_runtime_error(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(FileResponse(tmp_path / "missing.txt"))
    with pytest.raises(RuntimeError, match=r"missing\.txt does not exist"):
        client.get("/")


def test_file_under_a_file_is_a_runtime_error(
    path: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(FileResponse(path / "child"))
    with pytest.raises(RuntimeError, match="does not exist"):
        client.get("/")


def test_directory_is_a_runtime_error(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(FileResponse(tmp_path))
    with pytest.raises(RuntimeError, match="is not a file"):
        client.get("/")


def test_stat_result_given_up_front(path: Path) -> None:
    stat_result = path.stat()
    response = FileResponse(path, stat_result=stat_result)
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["last-modified"] == formatdate(stat_result.st_mtime, usegmt=True)
    assert response.headers["etag"].startswith('"')


def test_background_runs_after_the_file(path: Path, test_client_factory: TestClientFactory) -> None:
    ran: list[str] = []

    async def task() -> None:
        ran.append("done")

    app = FileResponse(path, background=BackgroundTask(task))
    assert test_client_factory(app).get("/").content == CONTENT
    assert ran == ["done"]


def test_head_sends_headers_only(path: Path, test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(FileResponse(path)).head("/")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(SIZE)
    assert response.content == b""


@pytest.mark.anyio
async def test_head_messages_do_not_read_the_file(path: Path) -> None:
    app = FileResponse(path, stat_result=await anyio.Path(path).stat())
    await anyio.Path(path).unlink()
    sent = await call(app, {"method": "HEAD"})
    assert sent[0]["status"] == 200
    assert sent[1:] == [{"type": "http.response.body", "body": b"", "more_body": False}]


@pytest.mark.anyio
async def test_chunks_are_sized_and_the_last_one_ends_the_body(path: Path) -> None:
    class SmallChunks(FileResponse):
        chunk_size = 300

    sent = await call(SmallChunks(path))
    bodies = [message for message in sent if message["type"] == "http.response.body"]
    assert [len(message["body"]) for message in bodies] == [300, 300, 300, 100]
    assert [message["more_body"] for message in bodies] == [True, True, True, False]
    assert body_of(sent) == CONTENT


@pytest.mark.anyio
async def test_exact_multiple_of_the_chunk_size_sends_no_empty_tail(path: Path) -> None:
    class EvenChunks(FileResponse):
        chunk_size = 500

    sent = await call(EvenChunks(path))
    assert [message["more_body"] for message in sent[1:]] == [True, False]


@pytest.mark.anyio
async def test_pathsend_lets_the_server_send_the_file(path: Path) -> None:
    sent = await call(FileResponse(path), {"extensions": {"http.response.pathsend": {}}})
    assert sent[0]["type"] == "http.response.start"
    assert sent[1:] == [{"type": "http.response.pathsend", "path": str(path)}]


@pytest.mark.anyio
async def test_pathsend_gets_an_absolute_path(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(path.parent)
    sent = await call(FileResponse("data.txt"), {"extensions": {"http.response.pathsend": {}}})
    assert sent[1]["path"] == str(path)


@pytest.mark.anyio
async def test_pathsend_is_not_used_for_head_or_ranges(path: Path) -> None:
    extensions: dict[str, Any] = {"http.response.pathsend": {}}
    head = await call(FileResponse(path), {"method": "HEAD", "extensions": extensions})
    assert head[1]["type"] == "http.response.body"
    ranged = await call(
        FileResponse(path), {"extensions": extensions, "headers": [(b"range", b"bytes=0-9")]}
    )
    assert ranged[0]["status"] == 206
    assert body_of(ranged) == CONTENT[:10]


@pytest.mark.anyio
async def test_vanished_file_fails_before_the_response_starts(path: Path) -> None:
    app = FileResponse(path, stat_result=await anyio.Path(path).stat())
    await anyio.Path(path).unlink()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)  # pragma: no cover - nothing must be sent

    with pytest.raises(FileNotFoundError):
        await call(app, send=send)
    assert sent == []


@pytest.mark.anyio
async def test_file_shorter_than_its_stat_is_an_error(path: Path) -> None:
    app = FileResponse(path, stat_result=await anyio.Path(path).stat())
    await anyio.Path(path).write_bytes(CONTENT[:10])
    with pytest.raises(RuntimeError, match="is shorter than expected"):
        await call(app)
    with pytest.raises(RuntimeError, match="is shorter than expected"):
        await call(app, {"headers": [(b"range", b"bytes=0-1,5-20")]})


@pytest.mark.anyio
async def test_file_longer_than_its_stat_is_cut_at_the_announced_length(path: Path) -> None:
    app = FileResponse(path, stat_result=await anyio.Path(path).stat())
    await anyio.Path(path).write_bytes(CONTENT + b"grown")
    assert body_of(await call(app)) == CONTENT


@pytest.mark.anyio
async def test_websocket_denial_with_a_file(path: Path) -> None:
    sent = await call(FileResponse(path, status_code=403), {"type": "websocket"})
    assert {message["type"] for message in sent} == {
        "websocket.http.response.start",
        "websocket.http.response.body",
    }
    assert sent[0]["status"] == 403
    assert b"".join(message["body"] for message in sent[1:]) == CONTENT


# Single ranges


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=5-5", 5, 5),
        ("bytes=900-", 900, 999),
        ("bytes=-100", 900, 999),
        ("bytes=-5000", 0, 999),
        ("bytes=990-5000", 990, 999),
        ("BYTES = 10-19", 10, 19),
        ("bytes=0-0", 0, 0),
        ("bytes=0-" + "9" * 5000, 0, 999),
        ("bytes=-" + "9" * 5000, 0, 999),
        ("bytes=0007-0009", 7, 9),
    ],
)
def test_single_range(
    path: Path, test_client_factory: TestClientFactory, value: str, start: int, end: int
) -> None:
    response = get_range(test_client_factory, FileResponse(path), value)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == CONTENT[start : end + 1]


def test_single_range_head(path: Path, test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(FileResponse(path))
    response = client.head("/", headers={"range": "bytes=0-99"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-99/{SIZE}"
    assert response.headers["content-length"] == "100"
    assert response.content == b""


@pytest.mark.parametrize(
    "value",
    ["bytes=0-50,40-99", "bytes=50-99, 0-49", "bytes=0-49,50-99", "bytes=0-99,10-20,0-0"],
)
def test_overlapping_or_touching_ranges_merge(
    path: Path, test_client_factory: TestClientFactory, value: str
) -> None:
    response = get_range(test_client_factory, FileResponse(path), value)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-99/{SIZE}"
    assert response.content == CONTENT[:100]


@pytest.mark.parametrize(
    "value",
    [
        "bytes=100, 0-9",
        "bytes= - , 0-9",
        "bytes=abc-def, 0-9",
        "bytes=-x,0-9",
        "bytes=+5-,0-9",
        "bytes=5-x,0-9",
    ],
)
def test_unreadable_specs_are_skipped(
    path: Path, test_client_factory: TestClientFactory, value: str
) -> None:
    response = get_range(test_client_factory, FileResponse(path), value)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-9/{SIZE}"


@pytest.mark.parametrize("value", ["bytes=0-9,2000-3000", "bytes=2000-,0-9", "bytes=0-9,-0"])
def test_unsatisfiable_ranges_beside_a_good_one_are_dropped(
    path: Path, test_client_factory: TestClientFactory, value: str
) -> None:
    response = get_range(test_client_factory, FileResponse(path), value)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-9/{SIZE}"
    assert response.content == CONTENT[:10]


def test_range_does_not_change_the_response_object(
    path: Path, test_client_factory: TestClientFactory
) -> None:
    app = FileResponse(path)
    client = test_client_factory(app)
    assert client.get("/", headers={"range": "bytes=0-9"}).status_code == 206
    assert client.get("/", headers={"range": "bytes=0-9,20-29"}).status_code == 206
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "content-range" not in response.headers
    assert "content-range" not in app.headers


@pytest.mark.parametrize("status_code", [404, 500, 203])
def test_ranges_only_apply_to_200(
    path: Path, test_client_factory: TestClientFactory, status_code: int
) -> None:
    app = FileResponse(path, status_code=status_code)
    response = get_range(test_client_factory, app, "bytes=0-9")
    assert response.status_code == status_code
    assert "content-range" not in response.headers
    assert response.content == CONTENT


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize(
    "value", ["bytes=0-9", "bytes=0-9,20-29", "bytes=9-5", f"bytes={SIZE}-", "garbage"]
)
def test_range_is_ignored_for_methods_other_than_get_and_head(
    path: Path, test_client_factory: TestClientFactory, method: str, value: str
) -> None:
    # RFC 9110 (14.2) defines ranges for GET only; a bad header is ignored too, never 4xx.
    client = test_client_factory(FileResponse(path))
    response = client.request(method, "/", headers={"range": value})
    assert response.status_code == 200
    assert "content-range" not in response.headers
    assert response.headers["content-length"] == str(SIZE)
    assert response.content == CONTENT


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "status", "body", "malformed_status"),
    [("get", 206, CONTENT[:10], 400), ("head", 206, b"", 400), ("post", 200, CONTENT, 200)],
)
async def test_the_method_is_read_in_any_case(
    path: Path, method: str, status: int, body: bytes, malformed_status: int
) -> None:
    ranged = await call(
        FileResponse(path), {"method": method, "headers": [(b"range", b"bytes=0-9")]}
    )
    assert ranged[0]["status"] == status
    assert body_of(ranged) == body
    malformed = await call(FileResponse(path), {"method": method, "headers": [(b"range", b"0-9")]})
    assert malformed[0]["status"] == malformed_status


# If-Range


def test_if_range_with_the_current_etag_serves_the_range(
    path: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(FileResponse(path))
    etag = client.head("/").headers["etag"]
    response = client.get("/", headers={"range": "bytes=0-9", "if-range": etag})
    assert response.status_code == 206
    assert response.content == CONTENT[:10]


def test_if_range_with_the_last_modified_date_serves_the_range(
    path: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(FileResponse(path))
    last_modified = client.head("/").headers["last-modified"]
    response = client.get("/", headers={"range": "bytes=0-9", "if-range": last_modified})
    assert response.status_code == 206


def test_if_range_with_a_given_etag(path: Path, test_client_factory: TestClientFactory) -> None:
    app = FileResponse(path, headers={"etag": '"custom"'})
    response = get_range(test_client_factory, app, "bytes=0-4", **{"if-range": '"custom"'})
    assert response.status_code == 206
    assert response.headers["etag"] == '"custom"'
    assert response.content == CONTENT[:5]


@pytest.mark.parametrize(
    "if_range",
    ['"stale"', "Thu, 01 Jan 1970 00:00:00 GMT", 'W/"custom"', ""],
)
def test_if_range_mismatch_serves_the_whole_file(
    path: Path, test_client_factory: TestClientFactory, if_range: str
) -> None:
    app = FileResponse(path, headers={"etag": 'W/"custom"'})
    response = get_range(test_client_factory, app, "bytes=0-9", **{"if-range": if_range})
    assert response.status_code == 200
    assert response.content == CONTENT


@pytest.mark.parametrize("prefix", ["W/", " W/"])
def test_if_range_with_a_weak_etag_is_never_a_match(
    path: Path, test_client_factory: TestClientFactory, prefix: str
) -> None:
    # RFC 9110 (13.1.5): If-Range compares strongly, so a weak tag serves the whole
    # file even when it names this very file.
    app = FileResponse(path, stat_result=path.stat())
    etag = app.headers["etag"]
    assert app._should_use_range(etag)
    assert not app._should_use_range(prefix + etag)
    response = get_range(test_client_factory, app, "bytes=0-9", **{"if-range": "W/" + etag})
    assert response.status_code == 200
    assert response.content == CONTENT


def test_if_range_without_range_is_ignored(
    path: Path, test_client_factory: TestClientFactory
) -> None:
    response = test_client_factory(FileResponse(path)).get("/", headers={"if-range": '"x"'})
    assert response.status_code == 200
    assert response.content == CONTENT


# Several ranges


def parse_multipart(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/byteranges body, checking its framing byte for byte."""
    delimiter = f"--{boundary}".encode()
    assert body.endswith(delimiter + b"--")
    parts = body[: -len(delimiter) - 2].split(delimiter)
    assert parts[0] == b""
    result = []
    for part in parts[1:]:
        assert part.startswith(b"\r\n")
        assert part.endswith(b"\r\n")
        head, data = part[2:-2].split(b"\r\n\r\n", 1)
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        result.append((fields, data))
    return result


def test_multiple_ranges_are_multipart(path: Path, test_client_factory: TestClientFactory) -> None:
    response = get_range(test_client_factory, FileResponse(path), "bytes=20-29, 0-9, -5")
    assert response.status_code == 206
    assert "content-range" not in response.headers
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    boundary = content_type.split("boundary=")[1]
    assert len(boundary) == 26
    assert response.headers["content-length"] == str(len(response.content))
    assert parse_multipart(response.content, boundary) == [
        (
            {"Content-Type": "text/plain; charset=utf-8", "Content-Range": f"bytes 0-9/{SIZE}"},
            CONTENT[0:10],
        ),
        (
            {"Content-Type": "text/plain; charset=utf-8", "Content-Range": f"bytes 20-29/{SIZE}"},
            CONTENT[20:30],
        ),
        (
            {"Content-Type": "text/plain; charset=utf-8", "Content-Range": f"bytes 995-999/{SIZE}"},
            CONTENT[995:],
        ),
    ]


def test_boundaries_are_random(path: Path, test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(FileResponse(path))
    types = {
        client.get("/", headers={"range": "bytes=0-0,5-5"}).headers["content-type"]
        for _ in range(3)
    }
    assert len(types) == 3


def test_multiple_ranges_head(path: Path, test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(FileResponse(path))
    full = client.get("/", headers={"range": "bytes=0-9,20-29"})
    head = client.head("/", headers={"range": "bytes=0-9,20-29"})
    assert head.status_code == 206
    assert head.headers["content-length"] == full.headers["content-length"]
    assert head.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert head.content == b""


@pytest.mark.anyio
async def test_multipart_messages(path: Path) -> None:
    class SmallChunks(FileResponse):
        chunk_size = 4

    sent = await call(SmallChunks(path), {"headers": [(b"range", b"bytes=0-5,10-11")]})
    headers = Headers(raw=sent[0]["headers"])
    boundary = headers["content-type"].split("boundary=")[1]
    assert headers.get("accept-ranges") == "bytes"
    assert "etag" in headers
    assert [(message["body"], message["more_body"]) for message in sent[1:]] == [
        (
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Range: bytes 0-5/{SIZE}\r\n\r\n".encode(),
            True,
        ),
        (CONTENT[0:4], True),
        (CONTENT[4:6], True),
        (b"\r\n", True),
        (
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Range: bytes 10-11/{SIZE}\r\n\r\n".encode(),
            True,
        ),
        (CONTENT[10:12], True),
        (b"\r\n", True),
        (f"--{boundary}--".encode(), False),
    ]
    assert int(headers["content-length"]) == len(body_of(sent))


def test_generate_multipart_length_matches_the_body(path: Path) -> None:
    ranges = [(0, 10), (100, 250), (990, 1000)]
    length, make_header = FileResponse(path).generate_multipart(
        ranges, "b" * 26, SIZE, "text/plain"
    )
    body = b"".join(make_header(start, end) + CONTENT[start:end] + b"\r\n" for start, end in ranges)
    body += b"--" + b"b" * 26 + b"--"
    assert length == len(body)
    assert make_header(100, 250) == (
        b"--"
        + b"b" * 26
        + b"\r\nContent-Type: text/plain\r\nContent-Range: bytes 100-249/1000\r\n\r\n"
    )


def test_a_hundred_ranges_are_served(path: Path, test_client_factory: TestClientFactory) -> None:
    value = "bytes=" + ",".join(f"{offset}-{offset}" for offset in range(0, 200, 2))
    response = get_range(test_client_factory, FileResponse(path), value)
    assert response.status_code == 206
    boundary = response.headers["content-type"].split("boundary=")[1]
    parts = parse_multipart(response.content, boundary)
    assert [data for _, data in parts] == [CONTENT[i : i + 1] for i in range(0, 200, 2)]


@pytest.mark.parametrize("count", [101, 10_000])
def test_too_many_ranges_serve_the_whole_file(
    path: Path,
    test_client_factory: TestClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    count: int,
) -> None:
    parsed = count_spec_parses(monkeypatch)
    value = "bytes=" + ",".join(f"{offset}-{offset}" for offset in range(0, 2 * count, 2))
    response = get_range(test_client_factory, FileResponse(path), value)
    assert response.status_code == 200
    assert "content-range" not in response.headers
    assert response.content == CONTENT
    # Refused on its comma count alone: not one of its specs was parsed.
    assert parsed == []


def test_max_ranges_can_be_changed(path: Path, test_client_factory: TestClientFactory) -> None:
    class FewRanges(FileResponse):
        max_ranges = 2

    assert get_range(test_client_factory, FewRanges(path), "bytes=0-0,2-2").status_code == 206
    assert get_range(test_client_factory, FewRanges(path), "bytes=0-0,2-2,4-4").status_code == 200


# Thousands of ranges: bounded work, counted rather than timed


def many_ranges(shape: str, count: int) -> tuple[str, list[tuple[int, int]]]:
    """A `Range` value of `count` ranges laid out as `shape`, and the merged result."""
    if shape == "disjoint, shuffled":
        specs = [f"{2 * index}-{2 * index}" for index in range(count)]
        random.Random(count).shuffle(specs)
        return ",".join(specs), [(2 * index, 2 * index + 1) for index in range(count)]
    if shape == "disjoint, descending":
        specs = [f"{2 * index}-{2 * index}" for index in reversed(range(count))]
        return ",".join(specs), [(2 * index, 2 * index + 1) for index in range(count)]
    if shape == "nested":
        specs = [f"{index}-{2 * count - index}" for index in range(count)]
        return ",".join(specs), [(0, 2 * count + 1)]
    if shape == "identical":
        return ",".join(["7-99"] * count), [(7, 100)]
    assert shape == "touching, shuffled"
    specs = [f"{index}-{index}" for index in range(count)]
    random.Random(count).shuffle(specs)
    return ",".join(specs), [(0, count)]


SHAPES = [
    "disjoint, shuffled",
    "disjoint, descending",
    "nested",
    "identical",
    "touching, shuffled",
]


@pytest.mark.parametrize("shape", SHAPES)
def test_ten_thousand_ranges_parse_in_n_log_n_comparisons(
    monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    parsed = count_spec_parses(monkeypatch)
    comparisons = count_position_comparisons(monkeypatch)
    work = {}
    for count in (10_000, 20_000):
        value, expected = many_ranges(shape, count)
        comparisons[0] = 0
        parsed.clear()
        ranges = _ranges.parse_range_header(f"bytes={value}", 10**9, max_ranges=count)
        assert ranges == expected
        # Each spec is parsed once, and the sort plus the merge stay within n log n
        # comparisons (a generous 4 n log2 n; a pairwise merge would need ~n**2 / 2).
        assert len(parsed) == count
        assert comparisons[0] <= 4 * count * math.log2(count)
        work[count] = comparisons[0]
    # Doubling the ranges about doubles the work (n log n: x2.15; quadratic: x4).
    assert work[20_000] < 2.5 * work[10_000]


def test_merging_is_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    comparisons = count_position_comparisons(monkeypatch)
    count = 10_000
    starts = [_ranges._position(str(2 * index)) for index in range(count)]
    ranges = [(start, start + 1) for start in starts if start is not None]
    merged = _ranges._merge(ranges)
    # Already sorted: the sort costs n - 1 tuple comparisons (an equality and an order
    # test on the starts each), and the merge one comparison per range.
    assert comparisons[0] <= 3 * count
    assert merged == [(2 * index, 2 * index + 1) for index in range(count)]


def test_two_thousand_ranges_are_served_with_linear_work(
    tmp_path: Path, test_client_factory: TestClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # End to end, each part is a read in a worker thread: 2,000 keep the suite quick; the
    # parse and merge of 10,000 and more are counted in the tests above.
    class ManyRanges(FileResponse):
        max_ranges = 2_000

    file = tmp_path / "big.bin"
    data = bytes(index % 251 for index in range(20_000))
    file.write_bytes(data)
    parsed = count_spec_parses(monkeypatch)
    comparisons = count_position_comparisons(monkeypatch)
    value, expected = many_ranges("disjoint, shuffled", 2_000)
    response = get_range(test_client_factory, ManyRanges(file), f"bytes={value}")
    assert response.status_code == 206
    assert len(parsed) == 2_000
    assert comparisons[0] <= 4 * 2_000 * math.log2(2_000)
    boundary = response.headers["content-type"].split("boundary=")[1]
    parts = parse_multipart(response.content, boundary)
    assert [part for _, part in parts] == [data[start:end] for start, end in expected]
    assert response.headers["content-length"] == str(len(response.content))


# Bad ranges


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bytes 0-9", "Malformed range header."),
        ("0-9", "Malformed range header."),
        ("items=0-9", "Only support bytes range"),
        ("bytes=", "Range header: range must be requested"),
        ("bytes=abc", "Range header: range must be requested"),
        ("bytes=,,,", "Range header: range must be requested"),
        ("bytes=9-5", "Range header: start must be less than end"),
        ("bytes=0-9,5-4", "Range header: start must be less than end"),
        ("bytes=5000-10", "Range header: start must be less than end"),
        # Past any file size, yet inverted: told apart without converting them.
        (
            "bytes=10000000000000000001-10000000000000000000",
            "Range header: start must be less than end",
        ),
        ("bytes=00" + "9" * 40 + "-" + "9" * 39, "Range header: start must be less than end"),
        (
            "bytes=" + "9" * 5000 + "-" + "8" + "9" * 4999,
            "Range header: start must be less than end",
        ),
    ],
)
def test_malformed_range_is_400(
    path: Path, test_client_factory: TestClientFactory, value: str, message: str
) -> None:
    response = get_range(test_client_factory, FileResponse(path), value)
    assert response.status_code == 400
    assert response.text == message
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    "value",
    [
        f"bytes={SIZE}-",
        f"bytes={SIZE}-{SIZE + 10}",
        "bytes=-0",
        "bytes=2000-3000,5000-",
        "bytes=" + "9" * 5000 + "-",
        # Past any file size, in order (leading zeros aside).
        "bytes=10000000000000000000-10000000000000000001",
        "bytes=" + "9" * 40 + "-" + "000" + "9" * 40,
    ],
)
def test_unsatisfiable_range_is_416(
    path: Path, test_client_factory: TestClientFactory, value: str
) -> None:
    response = get_range(test_client_factory, FileResponse(path), value)
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{SIZE}"
    assert response.content == b""


def test_any_range_of_an_empty_file_is_416(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    file = tmp_path / "empty.txt"
    file.write_bytes(b"")
    for value in ("bytes=0-", "bytes=-10"):
        response = get_range(test_client_factory, FileResponse(file), value)
        assert response.status_code == 416
        assert response.headers["content-range"] == "bytes */0"


def test_bad_range_still_runs_the_background(
    path: Path, test_client_factory: TestClientFactory
) -> None:
    ran: list[int] = []

    def task() -> None:
        ran.append(1)

    for value in ("bytes=oops", "bytes=9999-"):
        get_range(test_client_factory, FileResponse(path, background=BackgroundTask(task)), value)
    assert ran == [1, 1]


def test_range_exceptions() -> None:
    default = MalformedRangeHeader()
    assert default.content == "Malformed range header."
    assert str(default) == "Malformed range header."
    assert MalformedRangeHeader("nope").content == "nope"
    unsatisfiable = RangeNotSatisfiable(42)
    assert unsatisfiable.max_size == 42
    assert "42" in str(unsatisfiable)


# Inside a router


def test_ranges_through_a_router(path: Path, test_client_factory: TestClientFactory) -> None:
    async def download(request: Request) -> FileResponse:
        return FileResponse(path, stat_result=await anyio.Path(path).stat())

    async def missing(request: Request) -> FileResponse:
        return FileResponse(path, status_code=404)

    router = Router(
        routes=[
            Route("/file", download, methods=["GET", "POST"]),
            Route("/missing", missing),
        ]
    )
    client = test_client_factory(router)
    etag = client.head("/file").headers["etag"]

    ranged = client.get("/file", headers={"range": "bytes=10-19", "if-range": etag})
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 10-19/{SIZE}"
    assert ranged.content == CONTENT[10:20]
    head = client.head("/file", headers={"range": "bytes=10-19,30-39"})
    assert head.status_code == 206
    assert head.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert head.content == b""

    whole = [
        client.post("/file", headers={"range": "bytes=10-19"}),
        client.get("/file", headers={"range": "bytes=10-19", "if-range": "W/" + etag}),
        client.get("/file", headers={"range": "bytes=" + ",".join(["0-0"] * 101)}),
    ]
    for response in whole:
        assert response.status_code == 200
        assert "content-range" not in response.headers
        assert response.content == CONTENT
    not_found = client.get("/missing", headers={"range": "bytes=10-19"})
    assert not_found.status_code == 404
    assert not_found.content == CONTENT

    inverted = client.get("/file", headers={"range": "bytes=19-10"})
    assert inverted.status_code == 400
    assert inverted.text == "Range header: start must be less than end"
    unsatisfiable = client.get("/file", headers={"range": f"bytes={SIZE}-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == f"bytes */{SIZE}"


# Disconnects and cancellation

BIG = 8 * FileResponse.chunk_size


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    file = tmp_path / "big.bin"
    file.write_bytes(b"x" * BIG)
    return file


@pytest.fixture
def opened_files(monkeypatch: pytest.MonkeyPatch) -> list[anyio.AsyncFile[bytes]]:
    files: list[anyio.AsyncFile[bytes]] = []
    open_file = anyio.open_file

    async def tracking_open_file(
        path: str | os.PathLike[str], mode: Literal["rb"]
    ) -> anyio.AsyncFile[bytes]:
        file: anyio.AsyncFile[bytes] = await open_file(path, mode)
        files.append(file)
        return file

    monkeypatch.setattr(anyio, "open_file", tracking_open_file)
    return files


DISCONNECT_CASES = [
    # (file size, chunk size, multipart range): a long body at the default chunk size,
    # and a short one cut into many small messages, which must stop just as well.
    pytest.param(BIG, FileResponse.chunk_size, b"bytes=0-131071,196608-524287", id="long"),
    pytest.param(SIZE, 10, b"bytes=0-399,500-999", id="short"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("size", "chunk_size", "multipart"), DISCONNECT_CASES)
@pytest.mark.parametrize("shape", ["whole", "single range", "multipart"])
@pytest.mark.parametrize("spec_version", [None, "2.0", "2.3"])
async def test_sending_stops_when_the_client_disconnects(
    tmp_path: Path,
    opened_files: list[anyio.AsyncFile[bytes]],
    size: int,
    chunk_size: int,
    multipart: bytes,
    shape: str,
    spec_version: str | None,
) -> None:
    class Chunked(FileResponse):
        pass

    Chunked.chunk_size = chunk_size
    file = tmp_path / "file.bin"
    file.write_bytes(b"x" * size)
    disconnected = anyio.Event()
    request_read = False
    bodies: list[Message] = []
    background_saw_closed_file: list[bool] = []

    async def receive() -> Message:
        nonlocal request_read
        if not request_read:
            request_read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message)
            if sum(len(body["body"]) for body in bodies) >= chunk_size:
                disconnected.set()

    async def cleanup() -> None:
        background_saw_closed_file.append(bool(opened_files[0].closed))

    range_header = {"whole": None, "single range": b"bytes=0-", "multipart": multipart}[shape]
    scope: Scope = {"headers": [] if range_header is None else [(b"range", range_header)]}
    if spec_version is not None:
        scope["asgi"] = {"spec_version": spec_version}
    await call(Chunked(file, background=BackgroundTask(cleanup)), scope, receive, send)
    sent_bytes = sum(len(body["body"]) for body in bodies)
    # At most the message in flight and one more chunk: a part header can be the first
    # message of a multipart body.
    assert chunk_size <= sent_bytes < 3 * chunk_size + 100
    assert bodies[-1]["more_body"] is True
    assert background_saw_closed_file == [True]


@pytest.mark.anyio
@pytest.mark.parametrize("spec_version", [None, "2.0", "2.3", "2.4"])
@pytest.mark.parametrize("range_header", [None, b"bytes=0-99", b"bytes=-1"])
async def test_single_message_bodies_do_not_read_receive(
    path: Path, tmp_path: Path, spec_version: str | None, range_header: bytes | None
) -> None:
    # One message leaves nothing to stop: such a body is sent without a listener.
    async def receive() -> Message:
        raise AssertionError("receive must not be called")  # pragma: no cover

    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    scope: Scope = {"headers": [] if range_header is None else [(b"range", range_header)]}
    if spec_version is not None:
        scope["asgi"] = {"spec_version": spec_version}
    sent = await call(FileResponse(path), scope, receive)
    assert sent[0]["status"] == (200 if range_header is None else 206)
    assert [message["more_body"] for message in sent[1:]] == [False]
    whole = {"headers": [], "asgi": scope.get("asgi", {})}
    sent = await call(FileResponse(empty), whole, receive)
    assert sent[1:] == [{"type": "http.response.body", "body": b"", "more_body": False}]


@pytest.mark.anyio
async def test_the_listener_of_a_short_multipart_body_is_cancelled_when_it_is_sent(
    path: Path,
) -> None:
    # A multipart body of a few bytes still takes several messages with a small
    # chunk size: it is sent beside a listener, which ends with the body (the
    # 1.8+ form of Starlette's `test_file_response_multi_small_chunk_size`).
    class SmallChunks(FileResponse):
        chunk_size = 10

    listened: list[bool] = []

    async def receive() -> Message:
        listened.append(True)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    scope: Scope = {"method": "get", "headers": [(b"range", b"bytes=0-15,20-35,35-50")]}
    sent = await call(SmallChunks(path), scope, receive)
    assert sent[0]["status"] == 206
    assert sent[-1]["more_body"] is False
    assert [len(message["body"]) for message in sent[2:4]] == [10, 6]
    assert listened == [True]


@pytest.mark.anyio
@pytest.mark.parametrize(("size", "chunk_size", "multipart"), DISCONNECT_CASES)
@pytest.mark.parametrize("shape", ["whole", "multipart"])
async def test_asgi_2_4_relies_on_send_errors(
    tmp_path: Path,
    opened_files: list[anyio.AsyncFile[bytes]],
    size: int,
    chunk_size: int,
    multipart: bytes,
    shape: str,
) -> None:
    class Chunked(FileResponse):
        pass

    Chunked.chunk_size = chunk_size
    file = tmp_path / "file.bin"
    file.write_bytes(b"x" * size)
    error = OSError("connection reset")
    bodies: list[bytes] = []

    async def receive() -> Message:
        raise AssertionError("receive must not be called")  # pragma: no cover

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            if bodies:
                raise error
            bodies.append(message["body"])

    headers = [] if shape == "whole" else [(b"range", multipart)]
    scope: Scope = {"asgi": {"spec_version": "2.4"}, "headers": headers}
    with pytest.raises(OSError) as info:
        await call(Chunked(file), scope, receive, send)
    # The error ends the transfer at once, as itself (Starlette's `FileResponse` does
    # not turn it into `ClientDisconnect`, unlike its `StreamingResponse`).
    assert info.value is error
    assert len(bodies) == 1
    assert opened_files[0].closed


@pytest.mark.anyio
@pytest.mark.parametrize("spec_version", ["2.0", "2.3", "2.4"])
async def test_send_errors_propagate_and_close_the_file(
    big_file: Path, opened_files: list[anyio.AsyncFile[bytes]], spec_version: str
) -> None:
    error = OSError("broken pipe")

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise error

    with pytest.raises(OSError) as info:
        await call(FileResponse(big_file), {"asgi": {"spec_version": spec_version}}, send=send)
    assert info.value is error
    assert len(opened_files) == 1
    assert opened_files[0].closed


@pytest.mark.anyio
@pytest.mark.parametrize("spec_version", ["2.0", "2.3", "2.4"])
async def test_cancellation_closes_the_file_and_skips_the_background(
    big_file: Path, opened_files: list[anyio.AsyncFile[bytes]], spec_version: str
) -> None:
    ran: list[bool] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            cancel_scope.cancel()
            await anyio.sleep_forever()

    async def task() -> None:
        ran.append(True)  # pragma: no cover - must not run

    with anyio.CancelScope() as cancel_scope:
        await call(
            FileResponse(big_file, background=BackgroundTask(task)),
            {"asgi": {"spec_version": spec_version}},
            send=send,
        )
    assert cancel_scope.cancelled_caught
    assert opened_files[0].closed
    assert ran == []
