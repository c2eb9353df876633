"""Starlette-compatibility checks for form parsing, through the umbrella.

Fields and files of multipart bodies, charsets, urlencoded bodies, and every limit:
outside an application a broken body raises `MultiPartException`, inside one it is a
400 whose body is the exception's message.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import AsyncGenerator, Iterator
from contextlib import AbstractContextManager, nullcontext
from io import BytesIO
from tempfile import SpooledTemporaryFile
from typing import Any, ClassVar
from unittest import mock

import pytest

from stellate.applications import Stellate
from stellate.datastructures import Headers, UploadFile
from stellate.formparsers import (  # type: ignore[attr-defined]  # private, as in Starlette
    FormMessage,
    FormParser,
    MultiPartException,
    MultiPartParser,
    _user_safe_decode,
)
from stellate.requests import Request
from stellate.responses import JSONResponse
from stellate.routing import Mount
from stellate.types import ASGIApp, Receive, Scope, Send
from tests.conftest import TestClientFactory

# The module whose `SpooledTemporaryFile` the parser uses, patched as Starlette's tests
# (and applications' tests) patch `starlette.formparsers.SpooledTemporaryFile`.
PARSER_MODULE = "stellate.formparsers"


class AlwaysMultipart(dict[Any, Any]):
    """An empty `files=` mapping that still makes httpx send multipart."""

    def __bool__(self) -> bool:
        return True


def describe(value: str | UploadFile, content: bytes, headers: bool) -> Any:
    if isinstance(value, str):
        return value
    described: dict[str, Any] = {
        "filename": value.filename,
        "size": value.size,
        "content": content.decode(),
        "content_type": value.content_type,
    }
    if headers:
        described["headers"] = list(value.headers.items())
    return described


def form_app(*, multi: bool = False, headers: bool = False, **limits: Any) -> ASGIApp:
    """A raw ASGI app echoing its parsed form as JSON."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        form = await request.form(**limits)
        output: dict[str, Any] = {}
        for key, value in form.multi_items() if multi else form.items():
            content = await value.read() if isinstance(value, UploadFile) else b""
            described = describe(value, content, headers)
            if multi:
                output.setdefault(key, []).append(described)
            else:
                output[key] = described
        await request.close()
        await JSONResponse(output)(scope, receive, send)

    return app


def inside_app(app: ASGIApp) -> ASGIApp:
    return Stellate(routes=[Mount("/", app=app)])


def part(name: str, value: str, boundary: str = "XyZ") -> str:
    return f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'


def multipart(boundary: str = "XyZ", charset: str | None = None) -> dict[str, str]:
    extra = f"; charset={charset}" if charset else ""
    return {"Content-Type": f"multipart/form-data{extra}; boundary={boundary}"}


URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}


def raises_or_400(*, with_app: bool) -> AbstractContextManager[Any]:
    return nullcontext() if with_app else pytest.raises(MultiPartException)


# Fields and files


def test_multipart_fields_only(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_app())
    response = client.post("/", data={"city": "Lyon", "zip": "69001"}, files=AlwaysMultipart())
    assert response.json() == {"city": "Lyon", "zip": "69001"}


def test_multipart_file(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_app())
    response = client.post("/", files={"report": ("report.txt", BytesIO(b"quarterly numbers"))})
    assert response.json() == {
        "report": {
            "filename": "report.txt",
            "size": 17,
            "content": "quarterly numbers",
            "content_type": "text/plain",
        }
    }


def test_multipart_files_with_content_types(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_app())
    response = client.post(
        "/",
        files={
            "photo": ("cat.png", b"PNG-ish", "image/png"),
            "notes": ("notes.md", b"# hi", "text/markdown"),
        },
    )
    assert response.json()["photo"]["content_type"] == "image/png"
    assert response.json()["notes"] == {
        "filename": "notes.md",
        "size": 4,
        "content": "# hi",
        "content_type": "text/markdown",
    }


def test_multipart_file_headers(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_app(headers=True))
    response = client.post(
        "/",
        files=[
            ("plain", (None, b"just a value")),
            ("doc", ("doc.txt", b"content", "text/plain", {"x-origin": "scanner"})),
        ],
    )
    assert response.json() == {
        "plain": "just a value",
        "doc": {
            "filename": "doc.txt",
            "size": 7,
            "content": "content",
            "content_type": "text/plain",
            "headers": [
                ["content-disposition", 'form-data; name="doc"; filename="doc.txt"'],
                ["x-origin", "scanner"],
                ["content-type", "text/plain"],
            ],
        },
    }


def test_multipart_multi_items(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_app(multi=True))
    response = client.post(
        "/",
        data={"attachment": "inline text"},
        files=[("attachment", ("a.txt", b"A")), ("attachment", ("b.csv", b"B", "text/csv"))],
    )
    assert response.json() == {
        "attachment": [
            "inline text",
            {"filename": "a.txt", "size": 1, "content": "A", "content_type": "text/plain"},
            {"filename": "b.csv", "size": 1, "content": "B", "content_type": "text/csv"},
        ]
    }


def test_multipart_hand_written_body(test_client_factory: TestClientFactory) -> None:
    body = (
        part("first", "1")
        + "--XyZ\r\n"
        + 'Content-Disposition: form-data; name="upload"; filename="up.txt"\r\n'
        + "Content-Type: text/plain\r\n\r\n"
        + "uploaded\r\n"
        + part("last", "2")
        + "--XyZ--\r\n"
    ).encode()
    client = test_client_factory(form_app())
    assert client.post("/", content=body, headers=multipart()).json() == {
        "first": "1",
        "upload": {
            "filename": "up.txt",
            "size": 8,
            "content": "uploaded",
            "content_type": "text/plain",
        },
        "last": "2",
    }


def test_multipart_file_without_content_type(test_client_factory: TestClientFactory) -> None:
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="f.bin"\r\n\r\n'
        b"01\r\n--XyZ--\r\n"
    )
    client = test_client_factory(form_app())
    response = client.post("/", content=body, headers=multipart())
    assert response.json()["f"]["content_type"] is None
    assert response.json()["f"]["size"] == 2


@pytest.mark.parametrize("charset", ["utf-8", None])
def test_multipart_utf8_filename(
    test_client_factory: TestClientFactory, charset: str | None
) -> None:
    body = (
        '--XyZ\r\nContent-Disposition: form-data; name="f"; filename="résumé.txt"\r\n'
        "Content-Type: text/plain\r\n\r\ncv\r\n--XyZ--\r\n"
    ).encode()
    client = test_client_factory(form_app())
    response = client.post("/", content=body, headers=multipart(charset=charset))
    assert response.json()["f"]["filename"] == "résumé.txt"


@pytest.mark.parametrize(
    ("charset", "raw", "expected"),
    [
        ("utf-8", "Grüße".encode(), "Grüße"),
        ("utf-8", b"\xfc", "ü"),  # not UTF-8: falls back to latin-1
        ("latin-1", b"\xfc", "ü"),
        ("no-such-charset", b"\xfc", "ü"),
    ],
)
def test_multipart_field_charset(
    test_client_factory: TestClientFactory, charset: str, raw: bytes, expected: str
) -> None:
    body = part("v", "").encode()[:-2] + raw + b"\r\n--XyZ--\r\n"
    client = test_client_factory(form_app())
    response = client.post("/", content=body, headers=multipart(charset=charset))
    assert response.status_code == 200
    assert response.json() == {"v": expected}


def test_multipart_charset_is_looked_up_once(test_client_factory: TestClientFactory) -> None:
    charset = "stellate-compat-unknown"
    searches: list[str] = []

    def search(name: str) -> codecs.CodecInfo | None:
        if name == charset.replace("-", "_"):
            searches.append(name)
        return None

    body = (part("a", "1") + part("b", "2") + part("c", "3") + "--XyZ--\r\n").encode()
    codecs.register(search)
    try:
        client = test_client_factory(form_app())
        response = client.post("/", content=body, headers=multipart(charset=charset))
    finally:
        codecs.unregister(search)
    assert response.json() == {"a": "1", "b": "2", "c": "3"}
    assert searches == [charset.replace("-", "_")]


def test_user_safe_decode() -> None:
    assert _user_safe_decode("ok".encode("utf-16"), "utf-16") == "ok"
    assert _user_safe_decode(b"\xe9t\xe9", "utf-8") == "été"
    assert _user_safe_decode(b"abc", "not-a-codec") == "abc"
    assert _user_safe_decode(bytearray(b"\xe9"), "ascii") == "é"


# urlencoded


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"q": "a b"}, {"q": "a b"}),
        ({"sp ace": "v"}, {"sp ace": "v"}),
        ({"sym": "&=+%"}, {"sym": "&=+%"}),
        ({"uni": "ñandú"}, {"uni": "ñandú"}),
    ],
)
def test_urlencoded(
    test_client_factory: TestClientFactory, data: dict[str, str], expected: dict[str, str]
) -> None:
    client = test_client_factory(form_app())
    assert client.post("/", data=data).json() == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"a=1&a=2&b=", {"a": ["1", "2"], "b": [""]}),
        (b"flag&x=1", {"flag": [""], "x": ["1"]}),
        (b"a=1&&b=2", {"a": ["1"], "b": ["2"]}),
        (b"", {}),
    ],
)
def test_urlencoded_edge_cases(
    test_client_factory: TestClientFactory, body: bytes, expected: dict[str, list[str]]
) -> None:
    client = test_client_factory(form_app(multi=True))
    assert client.post("/", content=body, headers=URLENCODED).json() == expected


def test_no_body_is_an_empty_form(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_app())
    assert client.post("/").json() == {}


@pytest.mark.parametrize("as_multipart", [False, True])
def test_form_after_body_was_read(
    test_client_factory: TestClientFactory, as_multipart: bool
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        await request.body()
        form = await request.form()
        await JSONResponse(dict(form))(scope, receive, send)

    client = test_client_factory(app)
    files = AlwaysMultipart() if as_multipart else None
    response = client.post("/", data={"x": "1", "y": "two words"}, files=files)
    assert response.json() == {"x": "1", "y": "two words"}


# Limits: MultiPartException outside an application, 400 inside one


@pytest.mark.parametrize("with_app", [False, True], ids=["raw", "app"])
def test_missing_boundary(test_client_factory: TestClientFactory, with_app: bool) -> None:
    app = form_app()
    client = test_client_factory(inside_app(app) if with_app else app)
    with raises_or_400(with_app=with_app):
        response = client.post(
            "/",
            content=b'Content-Disposition: form-data; name="a"\r\n\r\nvalue\r\n',
            headers={"Content-Type": "multipart/form-data; charset=utf-8"},
        )
        assert response.status_code == 400
        assert response.text == "Missing boundary in multipart."


@pytest.mark.parametrize("with_app", [False, True], ids=["raw", "app"])
def test_boundary_longer_than_allowed(
    test_client_factory: TestClientFactory, with_app: bool
) -> None:
    app = form_app()
    client = test_client_factory(inside_app(app) if with_app else app)
    boundary = "b" * 300
    with raises_or_400(with_app=with_app):
        response = client.post(
            "/",
            content=f"--{boundary}\r\n\r\n--{boundary}--\r\n".encode(),
            headers=multipart(boundary),
        )
        assert response.status_code == 400
        assert response.text == "Invalid multipart data."


@pytest.mark.parametrize("with_app", [False, True], ids=["raw", "app"])
def test_too_many_part_headers(test_client_factory: TestClientFactory, with_app: bool) -> None:
    app = form_app()
    client = test_client_factory(inside_app(app) if with_app else app)
    extra = "".join(f"X-Header-{i}: {i}\r\n" for i in range(10))
    body = f'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n{extra}\r\nv\r\n--XyZ--\r\n'
    with raises_or_400(with_app=with_app):
        response = client.post("/", content=body.encode(), headers=multipart())
        assert response.status_code == 400
        assert response.text == "Invalid multipart data."


@pytest.mark.parametrize("with_app", [False, True], ids=["raw", "app"])
def test_part_without_a_name(test_client_factory: TestClientFactory, with_app: bool) -> None:
    app = form_app()
    client = test_client_factory(inside_app(app) if with_app else app)
    body = b'--XyZ\r\nContent-Disposition: form-data; ="nameless"\r\n\r\nv\r\n--XyZ--\r\n'
    with raises_or_400(with_app=with_app):
        response = client.post("/", content=body, headers=multipart())
        assert response.status_code == 400
        assert response.text == 'The Content-Disposition header field "name" must be provided.'


def many_parts(count: int, *, files: bool, fields: bool, same_name: bool = False) -> bytes:
    parts = []
    for i in range(count):
        name = "n" if same_name else f"n{i}"
        if files:
            parts.append(
                f'--B\r\nContent-Disposition: form-data; name="f{name}"; filename="{i}.txt";'
                "\r\n\r\n\r\n"
            )
        if fields:
            parts.append(f'--B\r\nContent-Disposition: form-data; name="{name}";\r\n\r\n\r\n')
    return "".join(parts).encode()


@pytest.mark.parametrize("with_app", [False, True], ids=["raw", "app"])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            many_parts(1001, files=False, fields=True),
            "Too many fields. Maximum number of fields is 1000.",
        ),
        (
            many_parts(1001, files=True, fields=False),
            "Too many files. Maximum number of files is 1000.",
        ),
        (
            many_parts(1001, files=True, fields=False, same_name=True),
            "Too many files. Maximum number of files is 1000.",
        ),
        (
            many_parts(1001, files=True, fields=True),
            "Too many files. Maximum number of files is 1000.",
        ),
    ],
    ids=["fields", "files", "files-one-name", "files-and-fields"],
)
def test_default_part_count_limits(
    test_client_factory: TestClientFactory, with_app: bool, body: bytes, message: str
) -> None:
    app = form_app()
    client = test_client_factory(inside_app(app) if with_app else app)
    with raises_or_400(with_app=with_app) as raised:
        response = client.post("/", content=body, headers=multipart("B"))
        assert response.status_code == 400
        assert response.text == message
    if not with_app:
        assert raised.value.message == message


@pytest.mark.parametrize("with_app", [False, True], ids=["raw", "app"])
@pytest.mark.parametrize(
    ("limits", "body", "message"),
    [
        (
            {"max_fields": 1},
            many_parts(2, files=False, fields=True),
            "Too many fields. Maximum number of fields is 1.",
        ),
        (
            {"max_files": 1},
            many_parts(2, files=True, fields=False),
            "Too many files. Maximum number of files is 1.",
        ),
    ],
    ids=["fields", "files"],
)
def test_custom_part_count_limits(
    test_client_factory: TestClientFactory,
    with_app: bool,
    limits: dict[str, Any],
    body: bytes,
    message: str,
) -> None:
    app = form_app(**limits)
    client = test_client_factory(inside_app(app) if with_app else app)
    with raises_or_400(with_app=with_app):
        response = client.post("/", content=body, headers=multipart("B"))
        assert response.status_code == 400
        assert response.text == message


def test_raised_limits_accept_more_parts(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_app(max_fields=1500, max_files=1500))
    body = many_parts(1500, files=True, fields=True) + b"--B--\r\n"
    response = client.post("/", content=body, headers=multipart("B"))
    assert response.status_code == 200
    assert response.json()["n1499"] == ""
    assert response.json()["fn1499"] == {
        "filename": "1499.txt",
        "size": 0,
        "content": "",
        "content_type": None,
    }


@pytest.mark.parametrize("with_app", [False, True], ids=["raw", "app"])
@pytest.mark.parametrize(
    ("limits", "size", "message"),
    [
        ({}, 1024 * 1024 + 1, "Part exceeded maximum size of 1024KB."),
        ({"max_part_size": 20 * 1024}, 20 * 1024 + 1, "Part exceeded maximum size of 20KB."),
    ],
    ids=["default", "custom"],
)
def test_multipart_part_size_limit(
    test_client_factory: TestClientFactory,
    with_app: bool,
    limits: dict[str, Any],
    size: int,
    message: str,
) -> None:
    app = form_app(**limits)
    client = test_client_factory(inside_app(app) if with_app else app)
    body = (part("small", "ok") + part("big", "x" * size) + "--XyZ--\r\n").encode()

    def chunked() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    with raises_or_400(with_app=with_app):
        response = client.post("/", content=chunked(), headers=multipart())
        assert response.status_code == 400
        assert response.text == message


def test_multipart_part_size_limit_is_not_for_files(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_app(max_part_size=1024))
    response = client.post("/", files={"f": ("big.bin", b"z" * 4096)})
    assert response.json()["f"]["size"] == 4096


@pytest.mark.parametrize("with_app", [False, True], ids=["raw", "app"])
@pytest.mark.parametrize(
    ("limits", "body", "message"),
    [
        (
            {},
            "&".join(f"k{i}=" for i in range(1001)),
            "Too many fields. Maximum number of fields is 1000.",
        ),
        ({"max_fields": 2}, "a=1&b=2&c=3", "Too many fields. Maximum number of fields is 2."),
        ({}, "v=" + "x" * (1024 * 1024 + 1), "Field exceeded maximum size of 1024KB."),
        ({}, "x" * (1024 * 1024 + 1) + "=v", "Field exceeded maximum size of 1024KB."),
        (
            {"max_part_size": 8 * 1024},
            "v=" + "x" * (8 * 1024 + 1),
            "Field exceeded maximum size of 8KB.",
        ),
    ],
    ids=["fields", "custom-fields", "value-size", "name-size", "custom-size"],
)
def test_urlencoded_limits(
    test_client_factory: TestClientFactory,
    with_app: bool,
    limits: dict[str, Any],
    body: str,
    message: str,
) -> None:
    app = form_app(**limits)
    client = test_client_factory(inside_app(app) if with_app else app)
    with raises_or_400(with_app=with_app):
        response = client.post("/", content=body, headers=URLENCODED)
        assert response.status_code == 400
        assert response.text == message


@pytest.mark.anyio
async def test_urlencoded_limits_apply_within_one_chunk() -> None:
    async def one_chunk(body: bytes) -> AsyncGenerator[bytes, None]:
        yield body

    headers = Headers({"content-type": "application/x-www-form-urlencoded"})

    stream = one_chunk("&".join(f"k{i}=" for i in range(50_000)).encode())
    parser = FormParser(headers, stream, max_fields=5)
    with pytest.raises(MultiPartException, match="Too many fields"):
        await parser.parse()
    assert parser._current_fields == 6

    stream = one_chunk(b"v=" + b"x" * (20 * 1024 * 1024))
    parser = FormParser(headers, stream, max_part_size=2048)
    with pytest.raises(MultiPartException, match="Field exceeded maximum size"):
        await parser.parse()
    # The oversized value was refused before it was queued.
    assert sum(len(data) for _, data in parser.messages) <= 2048
    assert all(isinstance(kind, FormMessage) for kind, _ in parser.messages)


# Files on disk and cleanup


class RolloverTracker(SpooledTemporaryFile[bytes]):
    """Records the threads in which spooled files roll over to disk."""

    threads: ClassVar[set[int | None]] = set()

    def rollover(self) -> None:
        RolloverTracker.threads.add(threading.current_thread().ident)
        super().rollover()


def test_large_file_rolls_over_in_a_worker_thread(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        form = await request.form()
        upload = form["big"]
        assert isinstance(upload, UploadFile)
        size = upload.size
        await request.close()
        response = JSONResponse({"thread": threading.current_thread().ident, "size": size})
        await response(scope, receive, send)

    RolloverTracker.threads.clear()
    data = b"." * (MultiPartParser.spool_max_size + 1)
    with mock.patch(f"{PARSER_MODULE}.SpooledTemporaryFile", RolloverTracker):
        client = test_client_factory(app)
        response = client.post("/", files=[("big", ("big.bin", BytesIO(data)))])
    assert response.json()["size"] == len(data)
    assert len(RolloverTracker.threads) == 1
    assert response.json()["thread"] not in RolloverTracker.threads


@pytest.mark.anyio
async def test_tempfile_closed_when_the_stream_fails() -> None:
    async def failing_stream() -> AsyncGenerator[bytes, None]:
        yield (
            b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="f.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\npartial"
        )
        raise RuntimeError("connection reset")

    tempfile = SpooledTemporaryFile[bytes]()
    parser = MultiPartParser(Headers(multipart()), failing_stream())
    with (
        mock.patch(f"{PARSER_MODULE}.SpooledTemporaryFile", return_value=tempfile),
        pytest.raises(RuntimeError, match="connection reset"),
    ):
        await parser.parse()
    assert tempfile.closed


def test_tempfile_closed_when_writing_fails(test_client_factory: TestClientFactory) -> None:
    closed: list[bool] = []

    class DiskFull(SpooledTemporaryFile[bytes]):
        def write(self, s: Any) -> int:
            raise OSError("no space left on device")

        def close(self) -> None:
            closed.append(True)
            super().close()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        with mock.patch(f"{PARSER_MODULE}.SpooledTemporaryFile", DiskFull):
            await Request(scope, receive).form()

    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="f.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\ndata\r\n--XyZ--\r\n"
    )
    client = test_client_factory(app)
    with pytest.raises(OSError, match="no space left on device"):
        client.post("/", content=body, headers=multipart())
    assert closed


def test_parsers_are_the_umbrella_objects() -> None:
    import stellate.formparsers
    import stellate_http.formparsers

    # The module itself, so that a name patched on it is the one the parsers read.
    assert stellate.formparsers is stellate_http.formparsers
    assert stellate.formparsers.MultiPartParser is stellate_http.formparsers.MultiPartParser
    assert stellate.formparsers.FormParser is stellate_http.formparsers.FormParser
    assert MultiPartParser.spool_max_size == 1024 * 1024
    assert MultiPartParser.max_part_size == 1024 * 1024
