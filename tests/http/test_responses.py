from __future__ import annotations

import http.cookies
import sys
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from stellate_asgi.datastructures import URL, Headers
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_http.background import BackgroundTask
from stellate_http.requests import ClientDisconnect, Request
from stellate_http.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from tests.conftest import TestClientFactory

# 2037-01-22 12:00:00 UTC, the clock `http.cookies` reads for integer `expires`.
FROZEN_NOW = datetime(2037, 1, 22, 12, 0, 0, tzinfo=UTC).timestamp()


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


def set_cookie_header(response: Response) -> str:
    return Headers(raw=response.raw_headers)["set-cookie"]


# Response


def test_str_content_is_encoded_with_the_charset(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(Response("héllo", media_type="text/plain"))
    response = client.get("/")
    assert response.content == "héllo".encode()
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "6"


def test_custom_charset_encodes_and_is_announced(test_client_factory: TestClientFactory) -> None:
    class LatinResponse(Response):
        charset = "latin-1"

    response = test_client_factory(LatinResponse("café", media_type="text/plain")).get("/")
    assert response.content == "café".encode("latin-1")
    assert response.headers["content-type"] == "text/plain; charset=latin-1"


@pytest.mark.parametrize(
    ("content", "body"),
    [
        (b"\x00\xff", b"\x00\xff"),
        (memoryview(b"\xc0\xc1"), b"\xc0\xc1"),
        (bytearray(b"abc"), b"abc"),
        (None, b""),
    ],
)
def test_binary_and_empty_bodies(
    test_client_factory: TestClientFactory, content: Any, body: bytes
) -> None:
    response = test_client_factory(Response(content)).get("/")
    assert response.content == body
    assert response.headers["content-length"] == str(len(body))
    assert "content-type" not in response.headers


def test_subclasses_overriding_render_or_init_headers_are_obeyed() -> None:
    class Shouting(PlainTextResponse):
        def render(self, content: Any) -> bytes:
            return str(content).upper().encode()

    class Tagged(Response):
        def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
            super().init_headers(headers)
            self.raw_headers.append((b"x-tag", b"1"))

    class Preset(Response):
        def __init__(self, content: str) -> None:
            # Set on the instance before the base `__init__` reads it.
            self.media_type = "text/csv"
            super().__init__(content)

    shouting = Shouting("hello")
    assert shouting.body == b"HELLO"
    assert shouting.raw_headers == [
        (b"content-length", b"5"),
        (b"content-type", b"text/plain; charset=utf-8"),
    ]
    assert Tagged("hi").raw_headers == [(b"content-length", b"2"), (b"x-tag", b"1")]
    assert Tagged("hi", status_code=204).raw_headers == [(b"x-tag", b"1")]
    assert Preset("a,b").raw_headers == [
        (b"content-length", b"3"),
        (b"content-type", b"text/csv; charset=utf-8"),
    ]


def test_a_render_that_sets_the_media_type_is_obeyed() -> None:
    class Sniffing(Response):
        def render(self, content: Any) -> bytes:
            self.media_type = "text/html" if content.startswith("<") else "text/plain"
            return str(content).encode()

    assert Sniffing("<p>").raw_headers[1] == (b"content-type", b"text/html; charset=utf-8")
    assert Sniffing("p").raw_headers[1] == (b"content-type", b"text/plain; charset=utf-8")


def test_one_media_type_in_several_charsets_keeps_each_charset() -> None:
    class Latin(PlainTextResponse):
        charset = "latin-1"

    for response_class, charset in [
        (PlainTextResponse, b"utf-8"),
        (Latin, b"latin-1"),
        (PlainTextResponse, b"utf-8"),
        (Latin, b"latin-1"),
    ]:
        response = response_class("é")
        assert response.raw_headers[1] == (b"content-type", b"text/plain; charset=" + charset)
        assert response.body == "é".encode(charset.decode())


def test_many_media_types_and_charsets_each_get_their_own_header() -> None:
    # More of each than the shared header pairs keep: the rest are made per response.
    for number in range(20):
        charset = "utf-8" if number == 0 else f"x-charset-{number}"
        for kind in range(300):
            response = Response(b"", media_type=f"text/x-{kind}")
            response.charset = charset
            response.init_headers()
            expected = f"text/x-{kind}; charset={charset}".encode()
            assert response.raw_headers[1] == (b"content-type", expected)


def test_unrenderable_content_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="must be str, bytes or memoryview, not int"):
        Response(123)


@pytest.mark.parametrize("status_code", [100, 101, 204, 304])
def test_statuses_without_a_body_announce_no_length(status_code: int) -> None:
    response = Response(status_code=status_code)
    assert Headers(raw=response.raw_headers).get("content-length") is None


def test_204_through_the_client(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(Response(status_code=204)).get("/")
    assert response.status_code == 204
    assert "content-length" not in response.headers
    assert response.content == b""


def test_given_headers_win_and_are_lowercased() -> None:
    response = Response(
        "hello",
        media_type="text/plain",
        headers={"Content-Length": "99", "Content-Type": "text/x-custom", "X-Thing": "1"},
    )
    assert response.raw_headers == [
        (b"content-length", b"99"),
        (b"content-type", b"text/x-custom"),
        (b"x-thing", b"1"),
    ]


def test_empty_headers_mapping_still_gets_computed_headers() -> None:
    response = Response("hi", headers={}, media_type="text/html")
    assert response.raw_headers == [
        (b"content-length", b"2"),
        (b"content-type", b"text/html; charset=utf-8"),
    ]


@pytest.mark.parametrize(
    ("media_type", "content_type"),
    [
        ("text/plain; charset=latin-1", "text/plain; charset=latin-1"),
        ("text/csv; CHARSET=utf-16", "text/csv; CHARSET=utf-16"),
        ("application/xml", "application/xml"),
        ("image/png", "image/png"),
    ],
)
def test_charset_is_added_only_to_text_types_lacking_one(
    media_type: str, content_type: str
) -> None:
    response = Response(b"", media_type=media_type)
    assert Headers(raw=response.raw_headers)["content-type"] == content_type


def test_headers_view_writes_through_to_raw_headers(test_client_factory: TestClientFactory) -> None:
    response = Response("hello", headers={"x-one": "1", "x-two": "2"})
    response.headers["x-two"] = "22"
    response.headers.append("x-many", "a")
    response.headers.append("x-many", "b")
    del response.headers["x-one"]
    assert response.headers is response.headers
    assert (b"x-two", b"22") in response.raw_headers
    assert (b"x-one", b"1") not in response.raw_headers

    result = test_client_factory(response).get("/")
    assert result.headers["x-two"] == "22"
    assert result.headers.get_list("x-many") == ["a", "b"]
    assert "x-one" not in result.headers


def test_headers_view_follows_rebuilt_raw_headers() -> None:
    response = Response("hello")
    assert "x-late" not in response.headers
    response.init_headers({"x-late": "yes"})
    assert response.headers["x-late"] == "yes"
    response.headers["x-later"] = "too"
    assert (b"x-later", b"too") in response.raw_headers


@pytest.mark.anyio
async def test_call_sends_start_and_body_then_runs_the_background() -> None:
    events: list[str] = []

    async def send(message: Message) -> None:
        events.append(message["type"])

    async def task(label: str) -> None:
        events.append(label)

    response = Response(b"data", status_code=201, background=BackgroundTask(task, "background"))
    sent = await call(response, send=send)
    assert sent == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-length", b"4")],
        },
        {"type": "http.response.body", "body": b"data"},
    ]
    assert events == ["http.response.start", "http.response.body", "background"]


@pytest.mark.anyio
async def test_websocket_scope_sends_a_denial_response() -> None:
    sent = await call(PlainTextResponse("no", status_code=403), {"type": "websocket"})
    assert [message["type"] for message in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 403
    assert sent[1]["body"] == b"no"


def test_head_request_gets_headers_only(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(PlainTextResponse("hello")).head("/")
    assert response.status_code == 200
    assert response.headers["content-length"] == "5"
    assert response.content == b""


def test_background_task_runs_after_the_response(test_client_factory: TestClientFactory) -> None:
    ran: list[str] = []

    def record(value: str) -> None:
        ran.append(value)

    app = Response("x", background=BackgroundTask(record, "sync task"))
    assert test_client_factory(app).get("/").text == "x"
    assert ran == ["sync task"]


# The simple subclasses


def test_html_response(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(HTMLResponse("<p>hé</p>")).get("/")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<p>hé</p>"


def test_plain_text_response(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(PlainTextResponse("hi", status_code=418)).get("/")
    assert response.status_code == 418
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "hi"


def test_json_response_is_compact_utf8(test_client_factory: TestClientFactory) -> None:
    payload = {"name": "Zoë", "items": [1, 2.5, None, True], "nested": {"a": "☃"}}
    response = test_client_factory(JSONResponse(payload)).get("/")
    assert response.headers["content-type"] == "application/json"
    assert response.content == (
        '{"name":"Zoë","items":[1,2.5,null,true],"nested":{"a":"☃"}}'.encode()
    )
    assert response.json() == payload
    assert response.headers["content-length"] == str(len(response.content))


def test_json_none_is_null(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(JSONResponse(None)).get("/")
    assert response.content == b"null"
    assert response.json() is None


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_json_refuses_non_finite_numbers(value: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        JSONResponse({"value": value})


def test_json_response_custom_media_type_and_status() -> None:
    response = JSONResponse([1], status_code=201, media_type="application/problem+json")
    assert response.status_code == 201
    assert Headers(raw=response.raw_headers)["content-type"] == "application/problem+json"


def test_json_render_can_be_overridden() -> None:
    class PrettyJSONResponse(JSONResponse):
        def render(self, content: Any) -> bytes:
            return b"pretty:" + super().render(content)

    assert PrettyJSONResponse({"a": 1}).body == b'pretty:{"a":1}'


# Redirects


def test_redirect_defaults_to_307_with_an_empty_body(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(RedirectResponse("/elsewhere"))
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/elsewhere"
    assert response.headers["content-length"] == "0"
    assert response.content == b""


def test_redirect_is_followed(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/target":
            response: Response = PlainTextResponse("arrived")
        else:
            response = RedirectResponse("/target", status_code=302)
        await response(scope, receive, send)

    response = test_client_factory(app).get("/start")
    assert response.text == "arrived"
    assert str(response.url) == "http://testserver/target"


def test_redirect_quotes_unsafe_characters(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/I ♥ Stellate/":
            response: Response = PlainTextResponse("hello")
        else:
            response = RedirectResponse("/I ♥ Stellate/")
        await response(scope, receive, send)

    response = test_client_factory(app).get("/redirect")
    assert response.text == "hello"
    assert str(response.url) == "http://testserver/I%20%E2%99%A5%20Stellate/"


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("https://example.com/a b?q=1&r=x y#frag", "https://example.com/a%20b?q=1&r=x%20y#frag"),
        ("/already%20quoted", "/already%20quoted"),
        ("/path;params=1,2*(x)!$'", "/path;params=1,2*(x)!$'"),
        ("/split\r\nx-injected: 1", "/split%0D%0Ax-injected:%201"),
        (URL("http://[::1]:8000/ü"), "http://[::1]:8000/%C3%BC"),
    ],
)
def test_redirect_location_quoting(url: str | URL, location: str) -> None:
    response = RedirectResponse(url, status_code=301, headers={"x-extra": "1"})
    headers = Headers(raw=response.raw_headers)
    assert headers["location"] == location
    assert headers["x-extra"] == "1"
    assert response.status_code == 301


# Cookies


def test_set_cookie_with_every_attribute(
    test_client_factory: TestClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "time", lambda: FROZEN_NOW)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = PlainTextResponse("cookie!")
        response.set_cookie(
            "session",
            "abc123",
            max_age=10,
            expires=10,
            path="/app",
            domain="example.com",
            secure=True,
            httponly=True,
            samesite="none",
        )
        await response(scope, receive, send)

    response = test_client_factory(app).get("/")
    assert response.text == "cookie!"
    assert response.headers["set-cookie"] == (
        "session=abc123; Domain=example.com; expires=Thu, 22 Jan 2037 12:00:10 GMT; "
        "HttpOnly; Max-Age=10; Path=/app; SameSite=none; Secure"
    )


def test_set_cookie_defaults() -> None:
    response = Response()
    response.set_cookie("name")
    assert set_cookie_header(response) == 'name=""; Path=/; SameSite=lax'


@pytest.mark.parametrize(
    "expires",
    [
        pytest.param(datetime(2037, 1, 22, 12, 0, 10, tzinfo=UTC), id="utc-datetime"),
        pytest.param(
            datetime(2037, 1, 22, 13, 0, 10, tzinfo=timezone(timedelta(hours=1))),
            id="aware-datetime",
        ),
        pytest.param(datetime(2037, 1, 22, 12, 0, 10), id="naive-datetime-is-utc"),
        pytest.param("Thu, 22 Jan 2037 12:00:10 GMT", id="str"),
        pytest.param(10, id="seconds-from-now"),
    ],
)
def test_set_cookie_expires_forms(
    monkeypatch: pytest.MonkeyPatch, expires: datetime | str | int
) -> None:
    monkeypatch.setattr(time, "time", lambda: FROZEN_NOW)
    response = Response()
    response.set_cookie("c", "v", expires=expires)
    cookie = http.cookies.SimpleCookie(set_cookie_header(response))
    assert cookie["c"]["expires"] == "Thu, 22 Jan 2037 12:00:10 GMT"


def test_set_cookie_without_path_or_samesite() -> None:
    response = Response()
    response.set_cookie("a", "1", path=None)
    response.set_cookie("b", "2", samesite=None)
    assert Headers(raw=response.raw_headers).getlist("set-cookie") == [
        "a=1; SameSite=lax",
        "b=2; Path=/",
    ]


@pytest.mark.parametrize("samesite", ["strict", "Lax", "NONE"])
def test_samesite_accepts_the_three_values_in_any_case(samesite: Any) -> None:
    response = Response()
    response.set_cookie("c", "v", samesite=samesite)
    assert f"SameSite={samesite}" in set_cookie_header(response)


def test_samesite_rejects_other_values() -> None:
    response = Response()
    with pytest.raises(AssertionError, match="samesite must be either 'strict', 'lax' or 'none'"):
        response.set_cookie("c", "v", samesite="sometimes")  # type: ignore[arg-type]
    assert "set-cookie" not in response.headers


def test_cookie_values_are_quoted() -> None:
    response = Response()
    response.set_cookie("c", 'a value; with "quotes"')
    header = set_cookie_header(response)
    assert header.startswith('c="a value\\073 with \\"quotes\\""')
    assert http.cookies.SimpleCookie(header)["c"].value == 'a value; with "quotes"'


def test_illegal_cookie_name_is_refused() -> None:
    with pytest.raises(http.cookies.CookieError):
        Response().set_cookie("bad name;", "v")


@pytest.mark.parametrize(
    "attribute",
    [{"path": "/; Domain=evil.example"}, {"domain": "a.example\r\nx: y"}, {"expires": "x;y"}],
)
def test_cookie_attributes_cannot_smuggle_attributes(attribute: dict[str, Any]) -> None:
    response = Response()
    with pytest.raises(ValueError, match="must not contain"):
        response.set_cookie("c", "v", **attribute)
    assert "set-cookie" not in response.headers


def test_partitioned_cookie() -> None:
    """Before Python 3.14 `http.cookies` cannot write `Partitioned`: Starlette's error.

    From 3.14 on, a partitioned cookie must also be secure.
    """
    response = Response()
    if sys.version_info < (3, 14):
        with pytest.raises(ValueError, match=r"only supported in Python 3\.14 and above"):
            response.set_cookie("c", "v", secure=True, partitioned=True)
        with pytest.raises(ValueError, match=r"only supported in Python 3\.14 and above"):
            response.delete_cookie("c", secure=True, samesite="none", partitioned=True)
        assert "set-cookie" not in response.headers
    else:
        with pytest.raises(ValueError, match="secure"):
            response.set_cookie("c", "v", partitioned=True)
        assert "set-cookie" not in response.headers
        response.set_cookie("c", "v", secure=True, samesite="none", partitioned=True)
        assert "Partitioned" in set_cookie_header(response)


def test_delete_cookie_expires_it_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: FROZEN_NOW)
    response = Response()
    response.delete_cookie(
        "session", path="/app", domain="example.com", secure=True, httponly=True, samesite="strict"
    )
    assert set_cookie_header(response) == (
        'session=""; Domain=example.com; expires=Thu, 22 Jan 2037 12:00:00 GMT; '
        "HttpOnly; Max-Age=0; Path=/app; SameSite=strict; Secure"
    )


def test_cookie_round_trip(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = PlainTextResponse(request.cookies.get("flavour", "none"))
        if "flavour" in request.cookies:
            response.delete_cookie("flavour")
        else:
            response.set_cookie("flavour", "ginger")
        await response(scope, receive, send)

    client = test_client_factory(app)
    first = client.get("/")
    assert first.text == "none"
    assert first.cookies["flavour"] == "ginger"
    second = client.get("/")
    assert second.text == "ginger"
    assert not client.cookies.get("flavour")


# Streaming


def test_streaming_async_generator_with_background(
    test_client_factory: TestClientFactory,
) -> None:
    finished: list[str] = []

    async def numbers() -> AsyncIterator[str]:
        for number in range(1, 4):
            yield str(number)
            await anyio.lowlevel.checkpoint()

    async def cleanup() -> None:
        finished.append("done")

    app = StreamingResponse(numbers(), media_type="text/plain", background=BackgroundTask(cleanup))
    response = test_client_factory(app).get("/")
    assert response.text == "123"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert finished == ["done"]


def test_streaming_length_stays_unknown_through_the_client(
    test_client_factory: TestClientFactory,
) -> None:
    # The response announces no length; the client must not invent one either.
    response = test_client_factory(StreamingResponse(iter([b"hello", b"world"]))).get("/")
    assert response.content == b"helloworld"
    assert "content-length" not in response.headers


def test_streaming_sync_iterator_runs_in_a_worker_thread(
    test_client_factory: TestClientFactory,
) -> None:
    threads: set[int] = set()

    def chunks() -> Iterator[bytes]:
        for chunk in (b"a", b"b", b"c"):
            threads.add(threading.get_ident())
            yield chunk

    event_loop_thread: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        event_loop_thread.append(threading.get_ident())
        await StreamingResponse(chunks())(scope, receive, send)

    assert test_client_factory(app).get("/").content == b"abc"
    assert threads
    assert event_loop_thread[0] not in threads


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

    assert test_client_factory(StreamingResponse(Countdown())).get("/").text == "210"


def test_streaming_mixed_chunk_types(test_client_factory: TestClientFactory) -> None:
    chunks = iter(["é", b"b", memoryview(b"\xc0"), bytearray(b"z")])
    response = test_client_factory(StreamingResponse(chunks)).get("/")  # type: ignore[arg-type]
    assert response.content == "é".encode() + b"b\xc0z"


def test_streaming_given_content_length(test_client_factory: TestClientFactory) -> None:
    app = StreamingResponse(iter([b"hello", b"world"]), headers={"content-length": "10"})
    response = test_client_factory(app).get("/")
    assert response.headers["content-length"] == "10"
    assert response.content == b"helloworld"


@pytest.mark.anyio
async def test_streaming_bad_chunk_type_is_a_type_error() -> None:
    app = StreamingResponse(iter([1]))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="chunks must be str, bytes or memoryview, not int"):
        await call(app, {"asgi": {"spec_version": "2.4"}})


@pytest.mark.anyio
async def test_streaming_messages() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"one"
        yield b"two"

    sent = await call(StreamingResponse(chunks(), status_code=202, media_type="text/csv"))
    assert sent == [
        {
            "type": "http.response.start",
            "status": 202,
            "headers": [(b"content-type", b"text/csv; charset=utf-8")],
        },
        {"type": "http.response.body", "body": b"one", "more_body": True},
        {"type": "http.response.body", "body": b"two", "more_body": True},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("spec_version", [None, "2.0", "2.3", "not.a.version"])
async def test_streaming_stops_on_http_disconnect(spec_version: str | None) -> None:
    streamed = 0
    disconnected = anyio.Event()
    cleaned_up: list[bool] = []

    async def receive() -> Message:
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal streamed
        if message["type"] == "http.response.body":
            streamed += len(message["body"])
            if streamed >= 20:
                disconnected.set()

    async def forever() -> AsyncIterator[bytes]:
        while True:
            await anyio.lowlevel.checkpoint()
            yield b"chunk"

    async def cleanup() -> None:
        cleaned_up.append(True)

    scope: Scope = {} if spec_version is None else {"asgi": {"spec_version": spec_version}}
    app = StreamingResponse(forever(), background=BackgroundTask(cleanup))
    await call(app, scope, receive, send)
    assert 20 <= streamed < 100
    assert cleaned_up == [True]


@pytest.mark.anyio
async def test_streaming_ignores_other_messages_while_listening() -> None:
    messages: list[Message] = [
        {"type": "http.request", "body": b"", "more_body": False},
        {"type": "http.request", "body": b"", "more_body": False},
    ]
    release = anyio.Event()

    async def receive() -> Message:
        if messages:
            return messages.pop()
        await release.wait()
        return {"type": "http.disconnect"}  # pragma: no cover - the stream ends first

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
            yield b"x"

    sent = await call(StreamingResponse(chunks()), receive=receive)
    assert b"".join(message.get("body", b"") for message in sent) == b"xxx"
    assert not messages


@pytest.mark.anyio
async def test_streaming_on_asgi_2_4_turns_send_errors_into_client_disconnect() -> None:
    received: list[bool] = []
    sent_bodies: list[bytes] = []

    async def receive() -> Message:
        received.append(True)  # pragma: no cover - 2.4 servers raise from send instead
        return {"type": "http.disconnect"}  # pragma: no cover

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            if sent_bodies:
                raise OSError("connection reset")
            sent_bodies.append(message["body"])

    async def forever() -> AsyncGenerator[bytes, None]:
        while True:
            await anyio.lowlevel.checkpoint()
            yield b"chunk"

    stream = forever()
    app = StreamingResponse(stream)
    with pytest.raises(ClientDisconnect):
        await call(app, {"asgi": {"spec_version": "2.4"}}, receive, send)
    assert sent_bodies == [b"chunk"]
    assert not received
    await stream.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("asgi", "listens"),
    [
        ({"spec_version": "2.4"}, False),
        ({"spec_version": "2.10"}, False),
        ({"spec_version": "3"}, False),
        ({"spec_version": 2.5}, False),
        ({"spec_version": "2.3"}, True),
        ({"spec_version": "2.x"}, True),
        ({"spec_version": None}, True),
        ({}, True),
        # Not a mapping: the version is unknown, so taken as the oldest.
        ("2.4", True),
        (None, True),
    ],
)
async def test_the_spec_version_decides_how_a_stream_watches_the_client(
    asgi: object, listens: bool
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
            yield b"x"

    received: list[bool] = []

    async def receive() -> Message:
        received.append(True)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    # Twice: the second time the version is read from what the first parsed.
    for _ in range(2):
        sent = await call(StreamingResponse(chunks()), {"asgi": asgi}, receive)
        assert b"".join(message.get("body", b"") for message in sent) == b"xxx"
        assert bool(received) is listens
        received.clear()


@pytest.mark.anyio
async def test_streaming_iterator_errors_propagate_unwrapped() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"first"
        raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        await call(StreamingResponse(broken()))


@pytest.mark.anyio
async def test_streaming_denial_response_in_a_websocket_scope() -> None:
    ran: list[bool] = []

    async def receive() -> Message:
        raise AssertionError("a denial response must not receive")  # pragma: no cover

    async def chunks() -> AsyncIterator[bytes]:
        yield b"denied"

    async def task() -> None:
        ran.append(True)

    app = StreamingResponse(chunks(), status_code=403, background=BackgroundTask(task))
    sent = await call(app, {"type": "websocket"}, receive)
    assert [message["type"] for message in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
        "websocket.http.response.body",
    ]
    assert sent[1]["body"] == b"denied"
    assert ran == [True]


@pytest.mark.anyio
async def test_stream_cut_short_runs_the_generator_cleanup_before_the_background() -> None:
    events: list[str] = []
    disconnected = anyio.Event()

    async def receive() -> Message:
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message.get("body"):
            disconnected.set()

    async def forever() -> AsyncIterator[bytes]:
        try:
            while True:
                await anyio.lowlevel.checkpoint()
                yield b"tick"
        finally:
            events.append("generator closed")

    async def task() -> None:
        events.append("background")

    await call(StreamingResponse(forever(), background=BackgroundTask(task)), {}, receive, send)
    assert events == ["generator closed", "background"]
