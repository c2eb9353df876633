"""Starlette-compatibility checks for the response classes, through the umbrella.

Each test pins a behaviour that Starlette documents or that a ported Starlette test
relies on: exact header values, bodies, status codes, exception types and messages.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from unittest import mock

import anyio
import anyio.lowlevel
import pytest

from stellate.applications import Stellate
from stellate.background import BackgroundTask
from stellate.datastructures import Headers
from stellate.requests import ClientDisconnect, Request
from stellate.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from stellate.routing import Route, WebSocketRoute
from stellate.testclient import TestClient, WebSocketDenialResponse
from stellate.types import Message, Receive, Scope, Send
from stellate.websockets import WebSocket
from tests.conftest import TestClientFactory

# The clock `http.cookies` reads to turn an integer `expires` into a date.
COOKIE_NOW = datetime(2037, 1, 22, 12, 0, 0, tzinfo=UTC).timestamp()

# A text file with multi-byte characters, so that byte and character counts differ.
DOCUMENT = (
    "# Ünïcode heading\n"
    "\n"
    "A paragraph that is long enough to be cut into several byte ranges by the tests "
    "below; it talks about nothing in particular, only so that each range has bytes.\n"
    "\n"
    "A second paragraph, with a few more words, because multipart bodies are easier "
    "to check when every part holds text that a human can read back without effort.\n"
).encode()
SIZE = len(DOCUMENT)


async def send_to(app: Any, scope: Scope) -> list[Message]:
    """Call `app` with `scope` and a receive that never returns; collect the messages."""
    sent: list[Message] = []

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(message: Message) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await app(scope, receive, send)
    return sent


def http_scope(**extra: Any) -> Scope:
    scope: Scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    scope.update(extra)
    return scope


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "document.txt"
    path.write_bytes(DOCUMENT)
    return path


@pytest.fixture
def file_client(document: Path, test_client_factory: TestClientFactory) -> TestClient:
    return test_client_factory(FileResponse(str(document)))


# Plain responses


def test_text_response(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(Response("hello, world", media_type="text/plain"))
    response = client.get("/")
    assert response.text == "hello, world"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "12"


def test_bytes_response(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(Response(b"xxxxx", media_type="image/png"))
    response = client.get("/")
    assert response.content == b"xxxxx"
    assert response.headers["content-type"] == "image/png"


def test_html_and_plain_text_responses(test_client_factory: TestClientFactory) -> None:
    html = test_client_factory(HTMLResponse("<h1>hi</h1>")).get("/")
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert html.text == "<h1>hi</h1>"
    text = test_client_factory(PlainTextResponse("hi", status_code=201)).get("/")
    assert text.status_code == 201
    assert text.headers["content-type"] == "text/plain; charset=utf-8"


def test_json_none_is_null(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(JSONResponse(None)).get("/")
    assert response.json() is None
    assert response.content == b"null"
    assert response.headers["content-type"] == "application/json"


def test_json_is_compact_and_keeps_non_ascii() -> None:
    response = JSONResponse({"name": "Zoë", "values": [1, 2.5, None, True]})
    assert response.body == '{"name":"Zoë","values":[1,2.5,null,true]}'.encode()
    assert response.headers["content-length"] == str(len(response.body))


def test_json_refuses_nan() -> None:
    with pytest.raises(ValueError):
        JSONResponse({"x": float("nan")})


def test_response_with_no_content() -> None:
    response = Response()
    assert response.body == b""
    assert response.raw_headers == [(b"content-length", b"0")]


def test_response_with_no_content_and_a_media_type(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(Response(media_type="text/plain")).get("/")
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_empty_response_has_no_content_type(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(Response()).get("/")
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    assert "content-type" not in response.headers


@pytest.mark.parametrize("status_code", [100, 101, 199, 204, 304])
def test_bodiless_statuses_announce_no_length(status_code: int) -> None:
    response = Response(status_code=status_code)
    assert "content-length" not in response.headers


def test_204_through_the_client(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(Response(status_code=204)).get("/")
    assert response.status_code == 204
    assert response.reason_phrase == "No Content"
    assert "content-length" not in response.headers


def test_unknown_status_has_an_empty_reason_phrase(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(Response(b"", status_code=599)).get("/")
    assert response.status_code == 599
    assert response.reason_phrase == ""


def test_non_empty_response_length(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(Response(content="hi")).get("/")
    assert response.headers["content-length"] == "2"


def test_populate_headers_with_an_empty_mapping(test_client_factory: TestClientFactory) -> None:
    app = Response(content="hi", headers={}, media_type="text/html")
    response = test_client_factory(app).get("/")
    assert response.text == "hi"
    assert response.headers["content-length"] == "2"
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_given_length_and_type_are_not_repeated() -> None:
    response = Response("hi", headers={"Content-Length": "7", "Content-Type": "x/y"})
    assert response.raw_headers == [(b"content-length", b"7"), (b"content-type", b"x/y")]


def test_charset_is_not_added_twice(test_client_factory: TestClientFactory) -> None:
    app = Response(media_type="text/plain; charset=utf-8")
    response = test_client_factory(app).get("/")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_headers_can_be_changed_after_construction(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = Response(
            "hello, world",
            media_type="text/plain",
            headers={"x-header-1": "123", "x-header-2": "456"},
        )
        response.headers["x-header-2"] = "789"
        await response(scope, receive, send)

    response = test_client_factory(app).get("/")
    assert response.headers["x-header-1"] == "123"
    assert response.headers["x-header-2"] == "789"


def test_head_request_drops_the_body(test_client_factory: TestClientFactory) -> None:
    app = Response("hello, world", media_type="text/plain")
    response = test_client_factory(app).head("/")
    assert response.text == ""
    assert response.headers["content-length"] == "12"


def test_memoryview_content(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(Response(content=memoryview(b"\xc0"))).get("/")
    assert response.content == b"\xc0"


def test_render_can_be_overridden_for_other_content() -> None:
    class CSVResponse(Response):
        media_type = "text/csv"

        def render(self, content: Any) -> bytes:
            return "\n".join(",".join(map(str, row)) for row in content).encode()

    response = CSVResponse([[1, 2], [3, 4]])
    assert response.body == b"1,2\n3,4"
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-length"] == "7"


def test_raw_call_messages() -> None:
    messages = anyio.run(send_to, Response("hi", status_code=202), http_scope())
    assert messages == [
        {
            "type": "http.response.start",
            "status": 202,
            "headers": [(b"content-length", b"2")],
        },
        {"type": "http.response.body", "body": b"hi"},
    ]


# Redirects


def test_redirect_is_followed(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/":
            response: Response = Response("hello, world", media_type="text/plain")
        else:
            response = RedirectResponse("/")
        await response(scope, receive, send)

    response = test_client_factory(app).get("/redirect")
    assert response.text == "hello, world"
    assert response.url == "http://testserver/"


def test_redirect_location_is_quoted(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/I ♥ Stellate/":
            response: Response = Response("hello, world", media_type="text/plain")
        else:
            response = RedirectResponse("/I ♥ Stellate/")
        await response(scope, receive, send)

    response = test_client_factory(app).get("/redirect")
    assert response.text == "hello, world"
    assert response.url == "http://testserver/I%20%E2%99%A5%20Stellate/"


def test_redirect_defaults_to_307_with_an_empty_body(
    test_client_factory: TestClientFactory,
) -> None:
    response = test_client_factory(RedirectResponse("/target?a=1&b=%20")).get(
        "/", follow_redirects=False
    )
    assert response.status_code == 307
    assert response.headers["location"] == "/target?a=1&b=%20"
    assert response.headers["content-length"] == "0"
    assert "content-type" not in response.headers
    assert response.content == b""


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("https://example.org/a b", "https://example.org/a%20b"),
        ("relative/path", "relative/path"),
        ("../up?x=[1]#frag", "../up?x=[1]#frag"),
        ("/caf\u00e9", "/caf%C3%A9"),
    ],
)
def test_redirect_location_quoting(url: str, location: str) -> None:
    response = RedirectResponse(url, status_code=302, headers={"x-extra": "1"})
    assert response.status_code == 302
    assert response.headers["location"] == location
    assert response.headers["x-extra"] == "1"


def test_redirect_accepts_a_url_object() -> None:
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "headers": [(b"host", b"example.org")],
            "scheme": "https",
            "query_string": b"",
            "server": ("example.org", 443),
        }
    )
    response = RedirectResponse(request.url.replace(path="/next"), status_code=303)
    assert response.headers["location"] == "https://example.org/next"


# Streaming


def test_streaming_async_generator_then_background(test_client_factory: TestClientFactory) -> None:
    ran: list[str] = []

    async def numbers(first: int, last: int) -> AsyncIterator[str]:
        for number in range(first, last + 1):
            yield str(number)
            if number != last:
                yield ", "
            await anyio.lowlevel.checkpoint()

    async def after() -> None:
        ran.extend([part async for part in numbers(6, 9)])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = StreamingResponse(
            numbers(1, 5), media_type="text/plain", background=BackgroundTask(after)
        )
        await response(scope, receive, send)

    assert ran == []
    response = test_client_factory(app).get("/")
    assert response.text == "1, 2, 3, 4, 5"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "".join(ran) == "6, 7, 8, 9"


def test_streaming_custom_async_iterator(test_client_factory: TestClientFactory) -> None:
    class Countdown:
        def __init__(self) -> None:
            self.left = 3

        def __aiter__(self) -> Countdown:
            return self

        async def __anext__(self) -> str:
            if not self.left:
                raise StopAsyncIteration
            self.left -= 1
            return str(self.left)

    response = test_client_factory(StreamingResponse(Countdown())).get("/")
    assert response.text == "210"


def test_streaming_custom_async_iterable(test_client_factory: TestClientFactory) -> None:
    class Letters:
        async def __aiter__(self) -> AsyncIterator[str | bytes]:
            for letter in "abc":
                yield letter

    response = test_client_factory(StreamingResponse(Letters(), media_type="text/plain")).get("/")
    assert response.text == "abc"


def test_streaming_sync_generator(test_client_factory: TestClientFactory) -> None:
    def numbers() -> Iterator[str]:
        yield from ("1", ", ", "2")

    response = test_client_factory(StreamingResponse(numbers(), media_type="text/plain")).get("/")
    assert response.text == "1, 2"


def test_streaming_size_unknown_unless_given(test_client_factory: TestClientFactory) -> None:
    unknown = test_client_factory(StreamingResponse(content=iter(["hello", "world"]))).get("/")
    assert "content-length" not in unknown.headers
    assert "content-type" not in unknown.headers
    known = StreamingResponse(content=iter(["hello", "world"]), headers={"content-length": "10"})
    response = test_client_factory(known).get("/")
    assert response.headers["content-length"] == "10"
    assert response.text == "helloworld"


def test_streaming_memoryview_chunks(test_client_factory: TestClientFactory) -> None:
    app = StreamingResponse(content=iter([memoryview(b"\xc0"), memoryview(b"\xf5")]))
    assert test_client_factory(app).get("/").content == b"\xc0\xf5"


@pytest.mark.anyio
@pytest.mark.parametrize("scope", [{"type": "http"}, {}], ids=["http", "bare"])
async def test_streaming_stops_on_http_disconnect(scope: Scope) -> None:
    disconnected = anyio.Event()
    streamed = 0

    async def receive() -> Message:
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal streamed
        if message["type"] == "http.response.body":
            streamed += len(message.get("body", b""))
            if streamed >= 16:
                disconnected.set()

    async def forever() -> AsyncIterator[bytes]:
        while True:
            await anyio.lowlevel.checkpoint()
            yield b"chunk "

    with anyio.move_on_after(1) as cancel_scope:
        await StreamingResponse(forever())(scope, receive, send)
    assert not cancel_scope.cancel_called


@pytest.mark.anyio
@pytest.mark.parametrize("scope_type", [{"type": "http"}, {}], ids=["http", "bare"])
async def test_streaming_send_error_on_asgi_2_4_is_client_disconnect(scope_type: Scope) -> None:
    chunks = bytearray()

    async def receive() -> Message:
        raise NotImplementedError  # pragma: no cover

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            if chunks:
                raise OSError
            chunks.extend(message["body"])

    async def forever() -> AsyncGenerator[bytes]:
        while True:
            await anyio.lowlevel.checkpoint()
            yield b"chunk"

    stream = forever()
    scope: Scope = {**scope_type, "asgi": {"spec_version": "2.4"}}
    with anyio.move_on_after(1) as cancel_scope:
        with pytest.raises(ClientDisconnect):
            await StreamingResponse(stream)(scope, receive, send)
    assert not cancel_scope.cancel_called
    assert chunks == b"chunk"
    await stream.aclose()


@pytest.mark.anyio
async def test_streaming_in_a_websocket_scope_runs_the_background() -> None:
    ran: list[bool] = []

    async def stream() -> AsyncIterator[bytes]:
        yield b"chunk"

    response = StreamingResponse(stream(), background=BackgroundTask(ran.append, True))
    messages = await send_to(response, {"type": "websocket"})
    assert ran == [True]
    assert [message["type"] for message in messages] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
        "websocket.http.response.body",
    ]


# Cookies


def test_set_cookie_with_every_attribute(
    test_client_factory: TestClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "time", lambda: COOKIE_NOW)
    partitioned = sys.version_info >= (3, 14)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = Response("Hello, world!", media_type="text/plain")
        response.set_cookie(
            "mycookie",
            "myvalue",
            max_age=10,
            expires=10,
            path="/",
            domain="localhost",
            secure=True,
            httponly=True,
            samesite="none",
            partitioned=partitioned,
        )
        await response(scope, receive, send)

    response = test_client_factory(app).get("/")
    assert response.text == "Hello, world!"
    partitioned_text = "Partitioned; " if partitioned else ""
    assert response.headers["set-cookie"] == (
        "mycookie=myvalue; Domain=localhost; expires=Thu, 22 Jan 2037 12:00:10 GMT; "
        f"HttpOnly; Max-Age=10; {partitioned_text}Path=/; SameSite=none; Secure"
    )


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="partitioned works from 3.14 on")
def test_partitioned_cookie_before_python_3_14(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = Response("Hello, world!", media_type="text/plain")
        with pytest.raises(
            ValueError, match=r"Partitioned cookies are only supported in Python 3\.14 and above\."
        ):
            response.set_cookie("mycookie", "myvalue", partitioned=True)
        with pytest.raises(ValueError, match=r"only supported in Python 3\.14"):
            response.delete_cookie("mycookie", secure=True, samesite="none", partitioned=True)
        await response(scope, receive, send)

    response = test_client_factory(app).get("/")
    assert response.text == "Hello, world!"
    assert response.headers.get("set-cookie") is None


def test_set_cookie_defaults_and_optional_attributes() -> None:
    response = Response()
    response.set_cookie("plain")
    response.set_cookie("nopath", "v", path=None)
    response.set_cookie("nosamesite", "v", samesite=None)
    assert response.headers.getlist("set-cookie") == [
        'plain=""; Path=/; SameSite=lax',
        "nopath=v; SameSite=lax",
        "nosamesite=v; Path=/",
    ]


@pytest.mark.parametrize(
    "expires",
    [
        pytest.param(datetime(2037, 1, 22, 12, 0, 10, tzinfo=UTC), id="datetime"),
        pytest.param("Thu, 22 Jan 2037 12:00:10 GMT", id="str"),
        pytest.param(10, id="int"),
    ],
)
def test_set_cookie_expires_forms(
    test_client_factory: TestClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    expires: datetime | str | int,
) -> None:
    monkeypatch.setattr(time, "time", lambda: COOKIE_NOW)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = Response("Hello, world!", media_type="text/plain")
        response.set_cookie("mycookie", "myvalue", expires=expires)
        await response(scope, receive, send)

    response = test_client_factory(app).get("/")
    cookie: SimpleCookie = SimpleCookie(response.headers["set-cookie"])
    assert cookie["mycookie"]["expires"] == "Thu, 22 Jan 2037 12:00:10 GMT"


@pytest.mark.parametrize("samesite", ["Lax", "STRICT", "None"])
def test_samesite_is_case_insensitive(samesite: Any) -> None:
    response = Response()
    response.set_cookie("k", "v", samesite=samesite)
    assert response.headers["set-cookie"] == f"k=v; Path=/; SameSite={samesite}"


def test_samesite_rejects_other_values() -> None:
    response = Response()
    with pytest.raises(AssertionError, match="samesite must be either 'strict', 'lax' or 'none'"):
        response.set_cookie("k", "v", samesite="sometimes")  # type: ignore[arg-type]
    assert "set-cookie" not in response.headers


def test_delete_cookie_round_trip(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = Response("Hello, world!", media_type="text/plain")
        if request.cookies.get("mycookie"):
            response.delete_cookie("mycookie")
        else:
            response.set_cookie("mycookie", "myvalue")
        await response(scope, receive, send)

    client = test_client_factory(app)
    response = client.get("/")
    assert response.cookies["mycookie"]
    response = client.get("/")
    assert not response.cookies.get("mycookie")


def test_delete_cookie_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: COOKIE_NOW)
    response = Response()
    response.delete_cookie("mycookie", domain="example.org", secure=True, samesite="none")
    header = response.headers["set-cookie"]
    assert header == (
        'mycookie=""; Domain=example.org; expires=Thu, 22 Jan 2037 12:00:00 GMT; '
        "Max-Age=0; Path=/; SameSite=none; Secure"
    )
    cookie = SimpleCookie(header)["mycookie"]
    assert cookie["max-age"] == "0"
    assert cookie["secure"] is True


# Background on every response class


def test_every_response_class_runs_its_background(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    path = tmp_path / "file.txt"
    path.write_bytes(b"data")
    ran: list[str] = []

    def make(name: str) -> BackgroundTask:
        return BackgroundTask(ran.append, name)

    responses: list[Response] = [
        Response("x", background=make("Response")),
        HTMLResponse("x", background=make("HTMLResponse")),
        PlainTextResponse("x", background=make("PlainTextResponse")),
        JSONResponse("x", background=make("JSONResponse")),
        RedirectResponse("/elsewhere", background=make("RedirectResponse")),
        StreamingResponse(iter([b"x"]), background=make("StreamingResponse")),
        FileResponse(path, background=make("FileResponse")),
    ]
    for response in responses:
        test_client_factory(response).get("/", follow_redirects=False)
    assert ran == [type(response).__name__ for response in responses]


# Files


def test_file_response(tmp_path: Path, test_client_factory: TestClientFactory) -> None:
    path = tmp_path / "xyz"
    content = b"<file content>" * 1000
    path.write_bytes(content)
    ran: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        background = BackgroundTask(ran.append, True)
        response = FileResponse(path=path, filename="example.png", background=background)
        await response(scope, receive, send)

    response = test_client_factory(app).get("/")
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"] == 'attachment; filename="example.png"'
    assert response.headers["content-length"] == str(len(content))
    assert response.headers["accept-ranges"] == "bytes"
    assert "last-modified" in response.headers
    assert "etag" in response.headers
    assert ran == [True]


def test_file_metadata_headers(tmp_path: Path) -> None:
    path = tmp_path / "xyz"
    path.write_bytes(b"abc")
    stat_result = path.stat()
    response = FileResponse(path, stat_result=stat_result)
    assert response.headers["content-length"] == "3"
    assert response.headers["last-modified"].endswith(" GMT")
    etag = response.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert len(etag) == 34


@pytest.mark.anyio
async def test_file_response_head_sends_no_body(tmp_path: Path) -> None:
    path = tmp_path / "xyz"
    path.write_bytes(b"<file content>" * 1000)
    app = FileResponse(path=path, filename="example.png")
    scope = http_scope(method="head", headers=[(b"key", b"value")])
    start, body = await send_to(app, scope)
    assert start["status"] == 200
    headers = Headers(raw=start["headers"])
    assert headers["content-type"] == "image/png"
    assert headers["content-length"] == "14000"
    for name in ("content-disposition", "last-modified", "etag"):
        assert name in headers
    assert body == {"type": "http.response.body", "body": b"", "more_body": False}


def test_file_media_type_given_guessed_or_default(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    path = tmp_path / "xyz"
    path.write_bytes(b"<file content>")
    given = FileResponse(path=path, filename="example.png", media_type="image/jpeg")
    assert test_client_factory(given).get("/").headers["content-type"] == "image/jpeg"
    guessed = FileResponse(path=path, filename="notes.txt")
    assert guessed.headers["content-type"] == "text/plain; charset=utf-8"
    unknown = tmp_path / "file.unknownext"
    unknown.write_bytes(b"?")
    default = test_client_factory(FileResponse(path=unknown)).get("/")
    assert default.headers["content-type"] == "application/octet-stream"


def test_file_response_for_a_directory(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(FileResponse(path=tmp_path, filename="example.png"))
    with pytest.raises(RuntimeError, match="is not a file"):
        client.get("/")


def test_file_response_for_a_missing_file(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    path = tmp_path / "404.txt"
    client = test_client_factory(FileResponse(path=path, filename="404.txt"))
    with pytest.raises(RuntimeError, match=f"File at path {path} does not exist."):
        client.get("/")


def test_file_response_non_ascii_filename(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    filename = "你好.txt"
    path = tmp_path / filename
    path.write_bytes(b"file content")
    response = test_client_factory(FileResponse(path=path, filename=filename)).get("/")
    assert response.status_code == 200
    assert response.content == b"file content"
    assert (
        response.headers["content-disposition"]
        == "attachment; filename*=utf-8''%E4%BD%A0%E5%A5%BD.txt"
    )


def test_file_response_inline_disposition(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    path = tmp_path / "hello.txt"
    path.write_bytes(b"file content")
    app = FileResponse(path=path, filename="hello.txt", content_disposition_type="inline")
    response = test_client_factory(app).get("/")
    assert response.content == b"file content"
    assert response.headers["content-disposition"] == 'inline; filename="hello.txt"'


def test_file_response_range_with_a_given_etag(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    path = tmp_path / "hello.txt"
    path.write_bytes(b"file content")
    etag = '"a_non_autogenerated_etag"'
    app = FileResponse(path=path, filename="hello.txt", headers={"etag": etag})
    response = test_client_factory(app).get("/", headers={"range": "bytes=0-4", "if-range": etag})
    assert response.status_code == 206
    assert response.content == b"file "
    assert response.headers["etag"] == etag
    assert response.headers["content-length"] == "5"
    assert response.headers["content-range"] == "bytes 0-4/12"


@pytest.mark.anyio
async def test_file_response_with_pathsend(tmp_path: Path) -> None:
    path = tmp_path / "xyz"
    path.write_bytes(b"<file content>" * 1000)
    app = FileResponse(path=path, filename="example.png")
    scope = http_scope(method="get", extensions={"http.response.pathsend": {}})
    start, pathsend = await send_to(app, scope)
    assert start["status"] == 200
    headers = Headers(raw=start["headers"])
    assert headers["content-type"] == "image/png"
    assert headers["content-length"] == "14000"
    assert pathsend == {"type": "http.response.pathsend", "path": str(path)}


# Ranges


def test_file_without_range(file_client: TestClient) -> None:
    response = file_client.get("/")
    assert response.status_code == 200
    assert "content-range" not in response.headers
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == DOCUMENT


def test_range_is_ignored_for_other_statuses(
    document: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(FileResponse(str(document), status_code=404))
    for method in ("GET", "HEAD"):
        response = client.request(method, "/", headers={"Range": "bytes=0-100"})
        assert response.status_code == 404
        assert "content-range" not in response.headers
        assert response.headers["content-length"] == str(SIZE)
        assert response.content == (DOCUMENT if method == "GET" else b"")


def test_file_head(file_client: TestClient) -> None:
    response = file_client.head("/")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(SIZE)
    assert response.content == b""


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_single_range(file_client: TestClient, method: str) -> None:
    response = file_client.request(method, "/", headers={"Range": "bytes=0-100"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-100/{SIZE}"
    assert response.headers["content-length"] == "101"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == (DOCUMENT[:101] if method == "GET" else b"")


def multipart_length(ranges: list[tuple[int, int]], content_type: str) -> int:
    """What Starlette announces: CRLF part framing and a 26-character boundary."""
    boundary = 26
    parts = sum(
        len(f"--{'b' * boundary}\r\nContent-Type: {content_type}\r\n")
        + len(f"Content-Range: bytes {start}-{end}/{SIZE}\r\n\r\n")
        + (end - start + 1)
        + 2
        for start, end in ranges
    )
    return parts + boundary + 4


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_multiple_ranges(file_client: TestClient, method: str) -> None:
    response = file_client.request(method, "/", headers={"Range": "bytes=0-100, 200-300"})
    assert response.status_code == 206
    assert "content-range" not in response.headers
    expected = multipart_length([(0, 100), (200, 300)], "text/plain; charset=utf-8")
    assert response.headers["content-length"] == str(expected)
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    assert len(content_type.split("boundary=")[1]) == 26
    if method == "GET":
        assert len(response.content) == expected


def test_if_range(file_client: TestClient) -> None:
    etag = file_client.head("/").headers["etag"]
    last_modified = file_client.head("/").headers["last-modified"]
    stale = file_client.head("/", headers={"Range": "bytes=200-300", "if-range": etag[:-1]})
    assert stale.status_code == 200
    fresh = file_client.head("/", headers={"Range": "bytes=200-300", "if-range": etag})
    assert fresh.status_code == 206
    by_date = file_client.get("/", headers={"Range": "bytes=2-3", "if-range": last_modified})
    assert by_date.status_code == 206
    assert by_date.content == DOCUMENT[2:4]


def test_a_hundred_ranges_are_served(file_client: TestClient) -> None:
    ranges = ",".join(f"{index}-{index}" for index in range(0, 200, 2))
    response = file_client.get("/", headers={"Range": f"bytes={ranges}"})
    assert response.status_code == 206
    assert response.headers["content-type"].startswith("multipart/byteranges; boundary=")


def test_more_than_a_hundred_ranges_serve_the_whole_file(file_client: TestClient) -> None:
    ranges = ",".join(f"{index}-{index}" for index in range(0, 202, 2))
    response = file_client.get("/", headers={"Range": f"bytes={ranges}"})
    assert response.status_code == 200
    assert "content-range" not in response.headers
    assert response.content == DOCUMENT


@pytest.mark.parametrize(
    ("range_header", "text"),
    [
        ("bytes: 0-1000", "Malformed range header."),
        ("items=0-100", "Only support bytes range"),
        ("bytes=", "Range header: range must be requested"),
        ("bytes=100-0", "Range header: start must be less than end"),
        ("bytes=5-4", "Range header: start must be less than end"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_malformed_range_is_400(
    file_client: TestClient, range_header: str, text: str, method: str
) -> None:
    response = file_client.request(method, "/", headers={"Range": range_header})
    assert response.status_code == 400
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == str(len(text))
    if method == "GET":
        assert response.text == text


def test_range_past_the_end_is_clamped(file_client: TestClient) -> None:
    response = file_client.head("/", headers={"Range": f"bytes=0-{SIZE + 1}"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-{SIZE - 1}/{SIZE}"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_unsatisfiable_range_is_416(file_client: TestClient, method: str) -> None:
    response = file_client.request(method, "/", headers={"Range": f"bytes={SIZE + 1}-"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{SIZE}"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == b""


def test_single_byte_range(file_client: TestClient) -> None:
    response = file_client.get("/", headers={"Range": "bytes=5-5"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 5-5/{SIZE}"
    assert response.headers["content-length"] == "1"
    assert response.content == DOCUMENT[5:6]


def test_overlapping_ranges_merge(file_client: TestClient) -> None:
    response = file_client.get("/", headers={"Range": "bytes=0-100, 50-200"})
    assert response.status_code == 206
    assert response.headers["content-length"] == "201"
    assert response.headers["content-range"] == f"bytes 0-200/{SIZE}"


def test_multipart_body_is_sorted(file_client: TestClient) -> None:
    response = file_client.get("/", headers={"Range": "bytes=100-200, 0-50"})
    assert response.status_code == 206
    boundary = response.headers["content-type"].split("boundary=")[1]
    assert (
        response.content
        == (
            f"--{boundary}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Range: bytes 0-50/{SIZE}\r\n"
            "\r\n"
        ).encode()
        + DOCUMENT[:51]
        + b"\r\n"
        + (
            f"--{boundary}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Range: bytes 100-200/{SIZE}\r\n"
            "\r\n"
        ).encode()
        + DOCUMENT[100:201]
        + f"\r\n--{boundary}--".encode()
    )


@pytest.mark.parametrize(
    "range_header", ["bytes=100, 0-50", "bytes= - , 0-50", "bytes=abc-def, 0-50"]
)
def test_unreadable_specs_are_skipped(file_client: TestClient, range_header: str) -> None:
    response = file_client.get("/", headers={"Range": range_header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-50/{SIZE}"


def test_suffix_ranges(file_client: TestClient) -> None:
    response = file_client.get("/", headers={"Range": "bytes=-100"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {SIZE - 100}-{SIZE - 1}/{SIZE}"
    assert response.headers["content-length"] == "100"
    assert response.content == DOCUMENT[-100:]
    whole = file_client.get("/", headers={"Range": "bytes=-1000"})
    assert whole.status_code == 206
    assert whole.headers["content-range"] == f"bytes 0-{SIZE - 1}/{SIZE}"
    assert whole.content == DOCUMENT


def test_the_same_response_serves_ranges_then_the_whole_file(file_client: TestClient) -> None:
    assert file_client.get("/", headers={"Range": "bytes=0-100"}).status_code == 206
    assert file_client.get("/", headers={"Range": "bytes=0-1,3-4"}).status_code == 206
    response = file_client.get("/")
    assert response.status_code == 200
    assert "content-range" not in response.headers
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_range_parsing_hook_is_a_classmethod() -> None:
    assert FileResponse._parse_range_header("bytes=4-7,0-3,2-6", 10) == [(0, 8)]
    assert FileResponse._parse_range_header("bytes=-2", 10) == [(8, 10)]
    assert FileResponse._parse_range_header("bytes=" + ",".join(["0-0"] * 101), 10) == []


def test_range_hooks_can_be_overridden(
    document: Path, test_client_factory: TestClientFactory
) -> None:
    class CappedRanges(FileResponse):
        @classmethod
        def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
            ranges = super()._parse_range_header(http_range, file_size)
            return [(start, min(end, start + 4)) for start, end in ranges]

        def _should_use_range(self, http_if_range: str) -> bool:
            return http_if_range == "always"

    client = test_client_factory(CappedRanges(document))
    capped = client.get("/", headers={"Range": "bytes=10-", "If-Range": "always"})
    assert capped.status_code == 206
    assert capped.headers["content-range"] == f"bytes 10-13/{SIZE}"
    assert capped.content == DOCUMENT[10:14]
    ignored = client.get("/", headers={"Range": "bytes=10-", "If-Range": "never"})
    assert ignored.status_code == 200


@pytest.mark.anyio
async def test_multipart_messages_follow_the_chunk_size(document: Path) -> None:
    class SmallChunks(FileResponse):
        chunk_size = 10

    scope = http_scope(method="get", headers=[(b"range", b"bytes=0-15,20-35,35-50")])
    messages = await send_to(SmallChunks(path=str(document)), scope)
    start = messages[0]
    assert start["status"] == 206
    headers = Headers(raw=start["headers"])
    assert "content-range" not in headers
    assert headers["accept-ranges"] == "bytes"
    boundary = headers["content-type"].split("boundary=")[1]

    def part_header(first: int, last: int) -> bytes:
        return (
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Range: bytes {first}-{last}/{SIZE}\r\n\r\n"
        ).encode()

    assert [message["body"] for message in messages[1:]] == [
        part_header(0, 15),
        DOCUMENT[0:10],
        DOCUMENT[10:16],
        b"\r\n",
        part_header(20, 50),
        DOCUMENT[20:30],
        DOCUMENT[30:40],
        DOCUMENT[40:50],
        DOCUMENT[50:51],
        b"\r\n",
        f"--{boundary}--".encode(),
    ]
    assert [message["more_body"] for message in messages[1:]] == [True] * 10 + [False]


@pytest.mark.anyio
async def test_multipart_of_a_truncated_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    path.write_bytes(b"0123456789")
    response = FileResponse(path, stat_result=path.stat())
    path.write_bytes(b"012")
    scope = http_scope(headers=[(b"range", b"bytes=0-2,5-7")])
    with pytest.raises(RuntimeError, match="is shorter than expected"):
        await send_to(response, scope)


@pytest.mark.parametrize(
    "range_header", ["bytes=0-1,20-30", "bytes=20-30,0-1", "bytes=0-1,20-", "bytes=0-1,-0"]
)
def test_satisfiable_ranges_are_kept(
    tmp_path: Path, test_client_factory: TestClientFactory, range_header: str
) -> None:
    path = tmp_path / "file.txt"
    path.write_bytes(b"0123456789")

    async def download(request: Request) -> Response:
        return FileResponse(path)

    with test_client_factory(Stellate(routes=[Route("/", download)])) as client:
        response = client.get("/", headers={"range": range_header})
    assert response.status_code == 206
    assert response.headers["content-range"] == "bytes 0-1/10"
    assert response.content == b"01"


@pytest.mark.parametrize(
    ("range_header", "status_code"),
    [("bytes=20-30,40-", 416), ("bytes=-0", 416), ("bytes=0-1,5-4", 400)],
)
def test_unsatisfiable_or_invalid_ranges(
    tmp_path: Path, test_client_factory: TestClientFactory, range_header: str, status_code: int
) -> None:
    path = tmp_path / "file.txt"
    path.write_bytes(b"0123456789")
    client = test_client_factory(FileResponse(path))
    assert client.get("/", headers={"range": range_header}).status_code == status_code


def test_multipart_drops_unsatisfiable_ranges(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    path = tmp_path / "file.txt"
    path.write_bytes(b"0123456789")
    client = test_client_factory(FileResponse(path))
    response = client.get("/", headers={"range": "bytes=0-1,4-5,20-30"})
    assert response.status_code == 206
    assert b"Content-Range: bytes 0-1/10" in response.content
    assert b"Content-Range: bytes 4-5/10" in response.content
    assert b"Content-Range: bytes 20-" not in response.content
    assert len(response.content) == int(response.headers["content-length"])


# Files and disconnects


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "file.bin"
    path.write_bytes(b"x" * (8 * FileResponse.chunk_size))
    return path


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[anyio.AsyncFile[bytes]]:
    """Every file `anyio.open_file` opens during the test."""
    files: list[anyio.AsyncFile[bytes]] = []
    original = anyio.open_file

    async def open_file(path: Any, mode: Any = "r") -> Any:
        file = await original(path, mode=mode)
        files.append(file)
        return file

    monkeypatch.setattr(anyio, "open_file", open_file)
    return files


RANGE_CASES = [None, b"bytes=0-", b"bytes=0-131071,196608-524287"]


def big_file_scope(range_header: bytes | None, spec_version: str | None) -> Scope:
    scope = http_scope(
        headers=[] if range_header is None else [(b"range", range_header)],
        extensions={} if range_header is None else {"http.response.pathsend": {}},
    )
    if spec_version is not None:
        scope["asgi"] = {"spec_version": spec_version}
    return scope


@pytest.mark.anyio
@pytest.mark.parametrize("range_header", RANGE_CASES)
@pytest.mark.parametrize("spec_version", [None, "2.0", "2.3"])
async def test_file_sending_stops_on_disconnect(
    big_file: Path,
    opened: list[anyio.AsyncFile[bytes]],
    range_header: bytes | None,
    spec_version: str | None,
) -> None:
    disconnected = anyio.Event()
    requested = False
    sent = 0
    background_ran = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal sent
        if message["type"] == "http.response.body":
            sent += len(message["body"])
            if sent >= FileResponse.chunk_size:
                disconnected.set()

    async def cleanup() -> None:
        nonlocal background_ran
        assert len(opened) == 1
        assert opened[0].closed
        background_ran = True

    scope = big_file_scope(range_header, spec_version)
    with anyio.fail_after(5):
        await FileResponse(big_file, background=BackgroundTask(cleanup))(scope, receive, send)
    assert FileResponse.chunk_size <= sent < 3 * FileResponse.chunk_size
    assert background_ran


@pytest.mark.anyio
@pytest.mark.parametrize("range_header", RANGE_CASES)
@pytest.mark.parametrize("spec_version", ["2.0", "2.3", "2.4"])
async def test_file_is_closed_on_cancellation(
    big_file: Path,
    opened: list[anyio.AsyncFile[bytes]],
    range_header: bytes | None,
    spec_version: str,
) -> None:
    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            cancel_scope.cancel()
            await anyio.sleep_forever()

    def cleanup() -> None:
        raise AssertionError("no background after a cancellation")  # pragma: no cover

    scope = big_file_scope(range_header, spec_version)
    with anyio.fail_after(5), anyio.CancelScope() as cancel_scope:
        await FileResponse(big_file, background=BackgroundTask(cleanup))(scope, receive, send)
    assert cancel_scope.cancelled_caught
    assert len(opened) == 1
    assert opened[0].closed


@pytest.mark.anyio
@pytest.mark.parametrize("range_header", RANGE_CASES)
@pytest.mark.parametrize("spec_version", ["2.0", "2.3", "2.4"])
async def test_file_send_error_propagates_as_is(
    big_file: Path,
    opened: list[anyio.AsyncFile[bytes]],
    range_header: bytes | None,
    spec_version: str,
) -> None:
    error = OSError("Disconnected")

    async def receive() -> Message:
        assert spec_version != "2.4"
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise error

    scope = big_file_scope(range_header, spec_version)
    with anyio.fail_after(5), pytest.raises(OSError) as exc_info:
        await FileResponse(big_file)(scope, receive, send)
    assert exc_info.value is error
    assert len(opened) == 1
    assert opened[0].closed


# WebSocket denial responses


def deny_with(response: Response) -> Any:
    """A raw websocket app that takes the connect message, then denies with `response`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        assert await websocket.receive() == {"type": "websocket.connect"}
        await websocket.send_denial_response(response)

    return app


def test_denial_through_a_websocket_route(test_client_factory: TestClientFactory) -> None:
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.send_denial_response(Response("foo", status_code=404))

    client = test_client_factory(Stellate(routes=[WebSocketRoute("/ws", endpoint)]))
    with pytest.raises(WebSocketDenialResponse) as exc_info, client.websocket_connect("/ws"):
        pass  # pragma: no cover
    assert exc_info.value.status_code == 404
    assert exc_info.value.content == b"foo"


def test_denial_with_a_response(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(deny_with(PlainTextResponse("nope", status_code=403)))
    with pytest.raises(WebSocketDenialResponse) as exc_info, client.websocket_connect("/ws"):
        pass  # pragma: no cover
    assert exc_info.value.status_code == 403
    assert exc_info.value.content == b"nope"
    assert exc_info.value.headers["content-type"] == "text/plain; charset=utf-8"


def test_denial_with_a_streaming_response(test_client_factory: TestClientFactory) -> None:
    stream = StreamingResponse(iter([b"go ", b"away"]), status_code=401)
    client = test_client_factory(deny_with(stream))
    with pytest.raises(WebSocketDenialResponse) as exc_info, client.websocket_connect("/ws"):
        pass  # pragma: no cover
    assert exc_info.value.status_code == 401
    assert exc_info.value.content == b"go away"


def test_denial_with_a_file_response(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    path = tmp_path / "denied.html"
    path.write_bytes(b"<p>denied</p>")
    client = test_client_factory(deny_with(FileResponse(path, status_code=404)))
    with pytest.raises(WebSocketDenialResponse) as exc_info, client.websocket_connect("/ws"):
        pass  # pragma: no cover
    assert exc_info.value.status_code == 404
    assert exc_info.value.content == b"<p>denied</p>"
    assert exc_info.value.headers["content-type"] == "text/html; charset=utf-8"


@pytest.mark.anyio
async def test_response_in_a_websocket_scope_sends_denial_messages() -> None:
    messages = await send_to(JSONResponse({"ok": False}, status_code=400), {"type": "websocket"})
    assert messages == [
        {
            "type": "websocket.http.response.start",
            "status": 400,
            "headers": [(b"content-length", b"12"), (b"content-type", b"application/json")],
        },
        {"type": "websocket.http.response.body", "body": b'{"ok":false}'},
    ]


def test_patching_anyio_through_the_responses_module_reaches_file_responses(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    # Applications' tests run the file reads inline by patching
    # `starlette.responses.anyio.to_thread.run_sync`.
    path = tmp_path / "data.txt"
    path.write_bytes(b"inline")
    called: list[str] = []

    async def inline(func: Any, *args: Any, **kwargs: Any) -> Any:
        called.append(func.__name__)
        return func(*args)

    client = test_client_factory(FileResponse(path))
    with mock.patch("stellate.responses.anyio.to_thread.run_sync", inline):
        assert client.get("/").content == b"inline"
    assert called
    called.clear()
    assert client.get("/").content == b"inline"
    assert not called
