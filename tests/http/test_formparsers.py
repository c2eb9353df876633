from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

import pytest

from stellate_asgi.datastructures import Headers
from stellate_asgi.types import ASGIApp, Receive, Scope, Send
from stellate_http.datastructures import FormData, UploadFile
from stellate_http.formparsers import (
    MAX_PART_HEADERS_SIZE,
    FormMessage,
    FormParser,
    MultiPartException,
    MultiPartParser,
    MultipartPart,
)
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse
from stellate_testclient import TestClient

TestClientFactory = Callable[..., TestClient]

BOUNDARY = "a7f7ac8d4e2e437c877bb7b8d7cc549c"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
URLENCODED = "application/x-www-form-urlencoded"


async def stream_of(*chunks: bytes) -> AsyncGenerator[bytes, None]:
    for chunk in chunks:
        yield chunk


def field_part(name: str, value: bytes, boundary: str = BOUNDARY) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
    )


def file_part(
    name: str,
    filename: str,
    content: bytes,
    content_type: str = "text/plain",
    boundary: str = BOUNDARY,
) -> bytes:
    return (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + content
        + b"\r\n"
    )


def end(boundary: str = BOUNDARY) -> bytes:
    return f"--{boundary}--\r\n".encode()


async def parse_multipart(
    body: bytes,
    content_type: str = MULTIPART,
    chunk_size: int | None = None,
    **limits: int,
) -> FormData:
    chunks = [body]
    if chunk_size is not None:
        chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
    parser = MultiPartParser(
        Headers({"content-type": content_type}), stream_of(*chunks, b""), **limits
    )
    return await parser.parse()


async def parse_urlencoded(*chunks: bytes, **limits: int) -> FormData:
    parser = FormParser(Headers({"content-type": URLENCODED}), stream_of(*chunks), **limits)
    return await parser.parse()


# multipart/form-data


@pytest.mark.anyio
async def test_multipart_fields_and_files() -> None:
    body = (
        field_part("name", b"Ada")
        + file_part("upload", "notes.txt", b"<file content>")
        + field_part("name", b"Grace")
        + end()
    )
    form = await parse_multipart(body)
    try:
        assert form.getlist("name") == ["Ada", "Grace"]
        upload = form["upload"]
        assert isinstance(upload, UploadFile)
        assert upload.filename == "notes.txt"
        assert upload.size == 14
        assert upload.content_type == "text/plain"
        assert upload.headers.raw == [
            (b"content-disposition", b'form-data; name="upload"; filename="notes.txt"'),
            (b"content-type", b"text/plain"),
        ]
        assert await upload.read() == b"<file content>"
    finally:
        await form.close()


@pytest.mark.anyio
async def test_multipart_parsed_byte_by_byte_gives_the_same_form() -> None:
    body = (
        field_part("a", b"first value")
        + file_part("f", "x.bin", bytes(range(256)), "application/octet-stream")
        + field_part("b", b"")
        + end()
    )
    form = await parse_multipart(body, chunk_size=1)
    try:
        assert form["a"] == "first value"
        assert form["b"] == ""
        upload = form["f"]
        assert isinstance(upload, UploadFile)
        assert await upload.read() == bytes(range(256))
        assert upload.size == 256
    finally:
        await form.close()


@pytest.mark.anyio
async def test_multipart_large_file_rolls_to_disk_intact() -> None:
    content = bytes(range(256)) * 64  # 16 KiB
    body = file_part("f", "big.bin", content) + end()
    parser = MultiPartParser(
        Headers({"content-type": MULTIPART}),
        stream_of(*[body[i : i + 1000] for i in range(0, len(body), 1000)]),
    )
    parser.spool_max_size = 1024
    form = await parser.parse()
    try:
        upload = form["f"]
        assert isinstance(upload, UploadFile)
        assert upload.file._rolled  # type: ignore[attr-defined]
        assert upload.size == len(content)
        assert await upload.read() == content
    finally:
        await form.close()


@pytest.mark.anyio
async def test_multipart_empty_file_and_empty_filename() -> None:
    body = file_part("f", "", b"") + end()
    form = await parse_multipart(body)
    try:
        upload = form["f"]
        assert isinstance(upload, UploadFile)
        assert upload.filename == ""
        assert upload.size == 0
        assert await upload.read() == b""
    finally:
        await form.close()


@pytest.mark.anyio
async def test_multipart_charset_from_content_type() -> None:
    body = field_part("city", "Zürich".encode("latin-1")) + end()
    form = await parse_multipart(body, f"{MULTIPART}; charset=latin-1")
    assert form["city"] == "Zürich"


@pytest.mark.anyio
async def test_multipart_defaults_to_utf8() -> None:
    body = field_part("word", "Transférer".encode()) + file_part("f", "文書.txt", b"x") + end()
    form = await parse_multipart(body)
    try:
        assert form["word"] == "Transférer"
        upload = form["f"]
        assert isinstance(upload, UploadFile)
        assert upload.filename == "文書.txt"
    finally:
        await form.close()


@pytest.mark.anyio
@pytest.mark.parametrize("charset", ["utf-8", "no-such-charset"])
async def test_multipart_undecodable_values_fall_back_to_latin1(charset: str) -> None:
    body = field_part("v", b"caf\xe9") + end()
    form = await parse_multipart(body, f"{MULTIPART}; charset={charset}")
    assert form["v"] == "café"


@pytest.mark.anyio
async def test_multipart_empty_body_is_an_empty_form() -> None:
    assert await parse_multipart(b"") == FormData()


@pytest.mark.anyio
async def test_multipart_closing_delimiter_only_is_an_empty_form() -> None:
    assert await parse_multipart(end()) == FormData()


@pytest.mark.anyio
async def test_multipart_epilogue_is_ignored() -> None:
    body = field_part("a", b"1") + end() + b"this epilogue is ignored\r\n"
    assert await parse_multipart(body) == FormData([("a", "1")])


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; charset=utf-8",
        'multipart/form-data; boundary=""',
    ],
)
async def test_multipart_missing_boundary(content_type: str) -> None:
    with pytest.raises(MultiPartException) as info:
        await parse_multipart(field_part("a", b"1") + end(), content_type)
    assert info.value.message == "Missing boundary in multipart."
    assert str(info.value) == "Missing boundary in multipart."


@pytest.mark.anyio
async def test_multipart_without_content_type_header() -> None:
    parser = MultiPartParser(Headers(), stream_of(b""))
    with pytest.raises(MultiPartException, match=r"^Missing boundary in multipart\.$"):
        await parser.parse()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "headers",
    [
        b'Content-Disposition: form-data; ="field0"\r\n',
        b"Content-Disposition: form-data\r\n",
        b"Content-Type: text/plain\r\n",
    ],
)
async def test_multipart_part_without_a_name(headers: bytes) -> None:
    body = f"--{BOUNDARY}\r\n".encode() + headers + b"\r\nvalue0\r\n" + end()
    with pytest.raises(MultiPartException) as info:
        await parse_multipart(body)
    assert info.value.message == 'The Content-Disposition header field "name" must be provided.'


@pytest.mark.anyio
async def test_multipart_too_many_fields() -> None:
    body = b"".join(field_part(f"f{i}", b"") for i in range(3)) + end()
    with pytest.raises(MultiPartException) as info:
        await parse_multipart(body, max_fields=2)
    assert info.value.message == "Too many fields. Maximum number of fields is 2."

    form = await parse_multipart(body, max_fields=3)
    assert len(form) == 3


@pytest.mark.anyio
async def test_multipart_too_many_fields_default_limit() -> None:
    # No closing delimiter: the limit is hit long before the end of the body.
    body = b"".join(field_part(f"N{i}", b"") for i in range(1001))
    with pytest.raises(
        MultiPartException, match=r"^Too many fields. Maximum number of fields is 1000.$"
    ):
        await parse_multipart(body)


@pytest.mark.anyio
async def test_multipart_too_many_files_closes_the_opened_ones() -> None:
    body = b"".join(file_part(f"f{i}", f"{i}.txt", b"data") for i in range(3)) + end()
    parser = MultiPartParser(
        Headers({"content-type": MULTIPART}), stream_of(body, b""), max_files=2
    )
    with pytest.raises(MultiPartException) as info:
        await parser.parse()
    assert info.value.message == "Too many files. Maximum number of files is 2."
    files = [value for _, value in parser.items if isinstance(value, UploadFile)]
    assert files
    assert all(upload.file.closed for upload in files)


@pytest.mark.anyio
async def test_multipart_files_and_fields_are_counted_apart() -> None:
    body = file_part("f", "a.txt", b"1") + field_part("a", b"2") + end()
    form = await parse_multipart(body, max_files=1, max_fields=1)
    await form.close()
    with pytest.raises(MultiPartException, match="Too many files"):
        await parse_multipart(body, max_files=0)
    with pytest.raises(MultiPartException, match="Too many fields"):
        await parse_multipart(body, max_fields=0)


@pytest.mark.anyio
async def test_multipart_field_larger_than_max_part_size() -> None:
    body = field_part("small", b"ok") + field_part("large", b"x" * 1025) + end()
    with pytest.raises(MultiPartException) as info:
        await parse_multipart(body, max_part_size=1024, chunk_size=100)
    assert info.value.message == "Part exceeded maximum size of 1KB."


@pytest.mark.anyio
async def test_multipart_field_of_exactly_max_part_size_is_accepted() -> None:
    body = field_part("field", b"x" * 1024) + end()
    form = await parse_multipart(body, max_part_size=1024)
    assert form["field"] == "x" * 1024


@pytest.mark.anyio
async def test_multipart_default_max_part_size_is_one_mebibyte() -> None:
    body = field_part("large", b"x" * (1024 * 1024 + 1)) + end()
    with pytest.raises(MultiPartException, match=r"^Part exceeded maximum size of 1024KB.$"):
        await parse_multipart(body)


@pytest.mark.anyio
async def test_multipart_max_part_size_does_not_limit_files() -> None:
    body = file_part("f", "big.txt", b"x" * 4096) + end()
    form = await parse_multipart(body, max_part_size=1024)
    try:
        upload = form["f"]
        assert isinstance(upload, UploadFile)
        assert upload.size == 4096
    finally:
        await form.close()


@pytest.mark.anyio
async def test_multipart_huge_header_line_is_rejected() -> None:
    body = (
        f"--{BOUNDARY}\r\n".encode()
        + b'Content-Disposition: form-data; name="a"; filename="'
        + b"x" * 100_000
        + b'"\r\n\r\nx\r\n'
        + end()
    )
    with pytest.raises(MultiPartException):
        await parse_multipart(body, chunk_size=4096)


@pytest.mark.anyio
async def test_multipart_headers_larger_than_the_limit_are_rejected() -> None:
    headers = b"".join(b"X-Header-%d: " % i + b"v" * 4000 + b"\r\n" for i in range(6))
    body = (
        f"--{BOUNDARY}\r\n".encode()
        + headers
        + b'Content-Disposition: form-data; name="a"\r\n\r\nx\r\n'
        + end()
    )
    with pytest.raises(MultiPartException) as info:
        await parse_multipart(body)
    assert info.value.message == (
        f"Part headers exceeded maximum size of {MAX_PART_HEADERS_SIZE // 1024}KB."
    )


@pytest.mark.anyio
async def test_multipart_header_section_without_end() -> None:
    body = f"--{BOUNDARY}\r\n".encode() + b'Content-Disposition: form-data; name="a"\r\n'
    with pytest.raises(MultiPartException, match="ended before the closing boundary"):
        await parse_multipart(body)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        field_part("a", b"1"),  # no closing delimiter
        field_part("a", b"1")[:-2],  # cut inside the data
        field_part("a", b"1") + f"--{BOUNDARY}".encode(),  # cut inside a delimiter
        f"--{BOUNDARY}".encode(),
    ],
    ids=["no-close", "in-data", "in-delimiter", "boundary-only"],
)
async def test_multipart_unterminated_body(body: bytes) -> None:
    with pytest.raises(MultiPartException, match="ended before the closing boundary"):
        await parse_multipart(body)


@pytest.mark.anyio
async def test_multipart_unterminated_file_is_closed() -> None:
    body = field_part("a", b"1") + file_part("f", "a.txt", b"partial")[:-2]
    parser = MultiPartParser(Headers({"content-type": MULTIPART}), stream_of(body, b""))
    with pytest.raises(MultiPartException):
        await parser.parse()
    assert parser._files_to_close_on_error
    assert all(file.closed for file in parser._files_to_close_on_error)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        b"garbage",
        b"--other-boundary\r\n\r\n",
        f"--{BOUNDARY}\r\nno colon in this header\r\n\r\nx\r\n".encode() + end(),
        f"--{BOUNDARY}XX\r\n".encode(),
    ],
)
async def test_multipart_malformed_body(body: bytes) -> None:
    with pytest.raises(MultiPartException, match=r"^Invalid multipart data\.$"):
        await parse_multipart(body)


@pytest.mark.anyio
async def test_multipart_stream_error_closes_files_and_propagates() -> None:
    class StreamBroke(Exception):
        pass

    async def broken_stream() -> AsyncGenerator[bytes, None]:
        yield field_part("a", b"1") + file_part("f", "a.txt", b"data")
        raise StreamBroke

    parser = MultiPartParser(Headers({"content-type": MULTIPART}), broken_stream())
    with pytest.raises(StreamBroke):
        await parser.parse()
    assert parser._files_to_close_on_error
    assert all(file.closed for file in parser._files_to_close_on_error)


def test_multipart_part_dataclass() -> None:
    part = MultipartPart()
    assert part == MultipartPart(None, "", bytearray(), None, [])
    assert part.data is not MultipartPart().data
    assert "MultipartPart(" in repr(part)


def test_multipart_parser_class_defaults() -> None:
    assert MultiPartParser.spool_max_size == 1024 * 1024
    assert MultiPartParser.max_part_size == 1024 * 1024


# application/x-www-form-urlencoded


@pytest.mark.anyio
async def test_urlencoded_fields() -> None:
    form = await parse_urlencoded(b"a=1&b=2&a=3", b"")
    assert form.multi_items() == [("a", "1"), ("b", "2"), ("a", "3")]


@pytest.mark.anyio
async def test_urlencoded_percent_and_plus_decoding() -> None:
    form = await parse_urlencoded(b"so+me=da%20ta&check=%E2%9C%93&plus=%2B")
    assert form == FormData([("so me", "da ta"), ("check", "✓"), ("plus", "+")])


@pytest.mark.anyio
async def test_urlencoded_field_without_value() -> None:
    form = await parse_urlencoded(b"flag&empty=&x=1")
    assert form.multi_items() == [("flag", ""), ("empty", ""), ("x", "1")]


@pytest.mark.anyio
async def test_urlencoded_split_across_chunks_without_final_empty_chunk() -> None:
    form = await parse_urlencoded(b"gree", b"ting=hel", b"lo&na", b"me=wor", b"ld")
    assert form == FormData([("greeting", "hello"), ("name", "world")])


@pytest.mark.anyio
async def test_urlencoded_empty_body() -> None:
    assert await parse_urlencoded(b"") == FormData()
    assert await parse_urlencoded() == FormData()


@pytest.mark.anyio
async def test_urlencoded_too_many_fields() -> None:
    with pytest.raises(MultiPartException) as info:
        await parse_urlencoded(b"a=1&b=2&c=3", max_fields=2)
    assert info.value.message == "Too many fields. Maximum number of fields is 2."
    assert len(await parse_urlencoded(b"a=1&b=2", max_fields=2)) == 2


@pytest.mark.anyio
async def test_urlencoded_too_many_fields_default_limit() -> None:
    body = b"&".join(b"f%d=" % i for i in range(1001))
    with pytest.raises(MultiPartException, match=r"Maximum number of fields is 1000\.$"):
        await parse_urlencoded(body)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body", [b"name=" + b"x" * 1025, b"x" * 1025 + b"=value"], ids=["value", "name"]
)
async def test_urlencoded_part_larger_than_max_part_size(body: bytes) -> None:
    with pytest.raises(MultiPartException) as info:
        await parse_urlencoded(body[:500], body[500:], max_part_size=1024)
    assert info.value.message == "Field exceeded maximum size of 1KB."


@pytest.mark.anyio
async def test_urlencoded_part_of_exactly_max_part_size() -> None:
    form = await parse_urlencoded(b"name=" + b"x" * 1024, max_part_size=1024)
    assert form["name"] == "x" * 1024


@pytest.mark.anyio
async def test_parsers_accept_any_async_iterable() -> None:
    class Chunks:
        def __init__(self, *chunks: bytes) -> None:
            self.chunks = list(chunks)

        def __aiter__(self) -> Chunks:
            return self

        async def __anext__(self) -> bytes:
            if not self.chunks:
                raise StopAsyncIteration
            return self.chunks.pop(0)

    headers = Headers({"content-type": MULTIPART})
    stream: Any = Chunks(field_part("a", b"1"), b"--")
    with pytest.raises(MultiPartException):
        await MultiPartParser(headers, stream).parse()
    stream = Chunks(b"a=1")
    assert await FormParser(headers, stream).parse() == FormData([("a", "1")])


def test_form_message_members() -> None:
    assert [message.name for message in FormMessage] == [
        "FIELD_START",
        "FIELD_NAME",
        "FIELD_DATA",
        "FIELD_END",
        "END",
    ]


# Through a Request and the test client


def form_app(**limits: Any) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        output: dict[str, Any] = {}
        async with request.form(**limits) as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    output[key] = {
                        "filename": value.filename,
                        "size": value.size,
                        "content": (await value.read()).decode(),
                        "content_type": value.content_type,
                        "headers": [list(item) for item in value.headers.items()],
                    }
                else:
                    output[key] = value
        await JSONResponse(output)(scope, receive, send)

    return app


def test_client_multipart_files_with_headers(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_app())
    response = client.post(
        "/",
        files=[
            ("first", ("one.txt", b"<file1 content>", "text/plain")),
            ("second", ("two.txt", b"<file2 content>", "text/plain", {"x-custom": "f2"})),
        ],
        data={"field": "value"},
    )
    assert response.json() == {
        "field": "value",
        "first": {
            "filename": "one.txt",
            "size": 15,
            "content": "<file1 content>",
            "content_type": "text/plain",
            "headers": [
                ["content-disposition", 'form-data; name="first"; filename="one.txt"'],
                ["content-type", "text/plain"],
            ],
        },
        "second": {
            "filename": "two.txt",
            "size": 15,
            "content": "<file2 content>",
            "content_type": "text/plain",
            "headers": [
                ["content-disposition", 'form-data; name="second"; filename="two.txt"'],
                ["x-custom", "f2"],
                ["content-type", "text/plain"],
            ],
        },
    }


def test_client_multipart_charset_for_filename(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_app())
    body = (
        f"--{BOUNDARY}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; '
        + b'filename="\xe6\x96\x87\xe6\x9b\xb8.txt"\r\n'
        + b"Content-Type: text/plain\r\n\r\n<file content>\r\n"
        + end()
    )
    for content_type in (f"{MULTIPART}; charset=utf-8", MULTIPART):
        response = client.post("/", content=body, headers={"Content-Type": content_type})
        assert response.json()["file"]["filename"] == "文書.txt"


def test_client_urlencoded_repeated_and_encoded_fields(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(form_app())
    response = client.post(
        "/",
        content=b"a=1&a=2&so+me=da%20ta",
        headers={"Content-Type": URLENCODED},
    )
    assert response.json() == {"a": "2", "so me": "da ta"}


def test_client_multipart_many_parts_within_raised_limits(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(form_app(max_fields=2000, max_files=2000))
    parts = []
    for i in range(2000):
        parts.append(field_part(f"N{i}", b""))
        parts.append(file_part(f"F{i}", f"F{i}", b""))
    response = client.post(
        "/", content=b"".join(parts) + end(), headers={"Content-Type": MULTIPART}
    )
    assert response.status_code == 200
    assert len(response.json()) == 4000


@pytest.mark.parametrize(
    ("part", "message"),
    [
        (
            lambda i: field_part(f"N{i}", b""),
            "Too many fields. Maximum number of fields is 1000.",
        ),
        (
            lambda i: file_part(f"F{i}", f"F{i}", b""),
            "Too many files. Maximum number of files is 1000.",
        ),
    ],
    ids=["fields", "files"],
)
def test_client_multipart_default_limits(
    test_client_factory: TestClientFactory,
    part: Callable[[int], bytes],
    message: str,
) -> None:
    client = test_client_factory(form_app())
    body = b"".join(part(i) for i in range(1001)) + end()
    with pytest.raises(MultiPartException) as info:
        client.post("/", content=body, headers={"Content-Type": MULTIPART})
    assert info.value.message == message


def test_client_multipart_custom_part_size(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_app(max_part_size=10 * 1024 * 1024))
    body = field_part("large", b"x" * (10 * 1024 * 1024 + 1)) + end()
    with pytest.raises(MultiPartException) as info:
        client.post("/", content=body, headers={"Content-Type": MULTIPART})
    assert info.value.message == "Part exceeded maximum size of 10240KB."
