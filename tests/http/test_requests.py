from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from stellate_asgi import connection
from stellate_asgi.exceptions import HTTPException
from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_http.datastructures import FormData, UploadFile
from stellate_http.formparsers import MultiPartException
from stellate_http.requests import (
    SERVER_PUSH_HEADERS_TO_COPY,
    AwaitableOrContextManagerWrapper,
    ClientDisconnect,
    HTTPConnection,
    Request,
    cookie_parser,
    empty_receive,
    empty_send,
)
from stellate_http.responses import JSONResponse, PlainTextResponse
from stellate_testclient import TestClient

TestClientFactory = Callable[..., TestClient]

BOUNDARY = "a7f7ac8d4e2e437c877bb7b8d7cc549c"


def http_scope(
    method: str = "POST",
    headers: list[tuple[str, str]] | None = None,
    **extra: Any,
) -> Scope:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers or []
        ],
        "extensions": {},
    }
    scope.update(extra)
    return scope


def receive_from(*messages: Message) -> Receive:
    """A `receive` that hands out `messages`, then reports a disconnect."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return {"type": "http.disconnect"}

    return receive


def recording_send(sent: list[Message]) -> Send:
    async def send(message: Message) -> None:
        sent.append(message)

    return send


def multipart_file_body(content: bytes = b"<file content>") -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="upload"; filename="a.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n".encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


# Re-exports and basics


def test_connection_names_are_re_exported() -> None:
    assert HTTPConnection is connection.HTTPConnection
    assert cookie_parser is connection.cookie_parser
    assert issubclass(Request, HTTPConnection)


def test_server_push_headers() -> None:
    assert {
        "accept",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "user-agent",
    } == SERVER_PUSH_HEADERS_TO_COPY


def test_request_requires_an_http_scope() -> None:
    with pytest.raises(AssertionError):
        Request({"type": "websocket"})


def test_request_url_method_and_mapping(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        data = {
            "method": request.method,
            "url": str(request.url),
            "path": request["path"],
            "query": dict(request.query_params),
            "header": request.headers.get("x-token"),
            "mapping": "type" in request and len(request) == len(scope),
            "receive": request.receive is receive,
        }
        await JSONResponse(data)(scope, receive, send)

    client = test_client_factory(app)
    response = client.put("/items?a=1", headers={"X-Token": "secret"})

    assert response.json() == {
        "method": "PUT",
        "url": "http://testserver/items?a=1",
        "path": "/items",
        "query": {"a": "1"},
        "header": "secret",
        "mapping": True,
        "receive": True,
    }


def test_request_cookies(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        await JSONResponse(request.cookies)(scope, receive, send)

    client = test_client_factory(app)
    response = client.get("/", headers={"Cookie": 'a=1; b="two words"; =lonely; c'})

    assert response.json() == {"a": "1", "b": "two words", "": "c"}


def test_request_state_and_client(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        request.state.example = 42
        assert scope["state"]["example"] == 42
        client = request.client
        assert client is not None
        await JSONResponse({"host": client.host})(scope, receive, send)

    response = test_client_factory(app).get("/")
    assert response.json() == {"host": "testclient"}


# Body, stream and JSON


def test_request_body(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        assert await request.body() is body  # cached
        await JSONResponse({"body": body.decode()})(scope, receive, send)

    client = test_client_factory(app)
    assert client.get("/").json() == {"body": ""}
    assert client.post("/", json={"a": "123"}).json() == {"body": '{"a":"123"}'}
    assert client.post("/", content="abc").json() == {"body": "abc"}


def test_request_stream_yields_the_chunks(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        chunks = [chunk async for chunk in request.stream()]
        await JSONResponse([chunk.decode() for chunk in chunks])(scope, receive, send)

    def body() -> Iterator[bytes]:
        yield b"first "
        yield b"second "
        yield b"third"

    client = test_client_factory(app)
    assert client.post("/", content=body()).json() == ["first ", "second ", "third", ""]
    assert client.post("/", content=b"").json() == [""]


def test_request_body_then_stream(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        streamed = b"".join([chunk async for chunk in request.stream()])
        again = b"".join([chunk async for chunk in request.stream()])
        await JSONResponse([body.decode(), streamed.decode(), again.decode()])(scope, receive, send)

    response = test_client_factory(app).post("/", content="abc")
    assert response.json() == ["abc", "abc", "abc"]


def test_request_stream_then_body(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        streamed = b"".join([chunk async for chunk in request.stream()])
        try:
            await request.body()
        except RuntimeError as exc:
            error = str(exc)
        await JSONResponse({"streamed": streamed.decode(), "error": error})(scope, receive, send)

    response = test_client_factory(app).post("/", content="abc")
    assert response.json() == {"streamed": "abc", "error": "Stream consumed"}


def test_request_json(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        data = await request.json()
        assert await request.json() is data  # cached
        await JSONResponse({"json": data})(scope, receive, send)

    response = test_client_factory(app).post("/", json={"a": [1, 2], "b": None})
    assert response.json() == {"json": {"a": [1, 2], "b": None}}


def test_request_invalid_json_raises_json_decode_error(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        await request.json()

    client = test_client_factory(app)
    with pytest.raises(json.JSONDecodeError):
        client.post("/", content="{not json")


@pytest.mark.anyio
async def test_request_without_receive_channel() -> None:
    request = Request(http_scope())
    with pytest.raises(RuntimeError, match="Receive channel has not been made available"):
        await request.json()


@pytest.mark.anyio
async def test_empty_receive_and_send_raise() -> None:
    with pytest.raises(RuntimeError, match="Receive channel has not been made available"):
        await empty_receive()
    with pytest.raises(RuntimeError, match="Send channel has not been made available"):
        await empty_send({"type": "http.response.start"})


@pytest.mark.anyio
async def test_request_stream_skips_empty_chunks_and_unknown_messages() -> None:
    receive = receive_from(
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "unknown.message"},
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "more_body": False},
    )
    request = Request(http_scope(), receive)
    assert [chunk async for chunk in request.stream()] == [b"ab", b""]


# Disconnects


@pytest.mark.anyio
async def test_client_disconnect_while_reading_the_body() -> None:
    receive = receive_from(
        {"type": "http.request", "body": b"partial", "more_body": True},
        {"type": "http.disconnect"},
    )
    request = Request(http_scope(), receive)

    with pytest.raises(ClientDisconnect):
        await request.body()
    assert await request.is_disconnected()


@pytest.mark.anyio
async def test_client_disconnect_mid_stream_after_a_chunk() -> None:
    receive = receive_from(
        {"type": "http.request", "body": b"partial", "more_body": True},
        {"type": "http.disconnect"},
    )
    stream = Request(http_scope(), receive).stream()

    assert await stream.__anext__() == b"partial"
    with pytest.raises(ClientDisconnect):
        await stream.__anext__()


@pytest.mark.anyio
async def test_is_disconnected_does_not_wait() -> None:
    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    request = Request(http_scope(), receive)
    with anyio.fail_after(1):
        assert await request.is_disconnected() is False


@pytest.mark.anyio
async def test_is_disconnected_sees_a_ready_disconnect() -> None:
    request = Request(http_scope(), receive_from())
    assert await request.is_disconnected() is True
    assert await request.is_disconnected() is True
    # The cancelled check leaves nothing pending: later awaits still run.
    await anyio.sleep(0.001)


@pytest.mark.anyio
async def test_is_disconnected_keeps_a_body_chunk_it_received() -> None:
    receive = receive_from(
        {"type": "http.request", "body": b"hello ", "more_body": True},
        {"type": "http.request", "body": b"world", "more_body": False},
    )
    request = Request(http_scope(), receive)

    assert await request.is_disconnected() is False
    assert await request.body() == b"hello world"


def test_request_is_disconnected_through_the_test_client(
    test_client_factory: TestClientFactory,
) -> None:
    disconnected_after_response = None

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal disconnected_after_response
        request = Request(scope, receive)
        body = await request.body()
        disconnected = await request.is_disconnected()
        await JSONResponse({"body": body.decode(), "disconnected": disconnected})(
            scope, receive, send
        )
        disconnected_after_response = await request.is_disconnected()

    response = test_client_factory(app).post("/", content="foo")
    assert response.json() == {"body": "foo", "disconnected": False}
    assert disconnected_after_response


# Forms


def form_echo_app(**limits: Any) -> Callable[[Scope, Receive, Send], Any]:
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
                    }
                else:
                    output[key] = value
        await JSONResponse(output)(scope, receive, send)

    return app


def test_request_form_urlencoded(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_echo_app())
    response = client.post("/", data={"abc": "123 @", "so me": "da+ta"})
    assert response.json() == {"abc": "123 @", "so me": "da+ta"}


def test_request_form_multipart(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_echo_app())
    response = client.post(
        "/",
        data={"field": "value"},
        files={"upload": ("notes.txt", b"<file content>", "text/plain")},
    )
    assert response.json() == {
        "field": "value",
        "upload": {
            "filename": "notes.txt",
            "size": 14,
            "content": "<file content>",
            "content_type": "text/plain",
        },
    }


def test_request_form_without_body(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_echo_app())
    assert client.post("/").json() == {}


def test_request_form_of_other_content_types_is_empty(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(form_echo_app())
    assert client.post("/", json={"a": 1}).json() == {}
    assert client.post("/", content=b"a=1", headers={"Content-Type": "text/plain"}).json() == {}


def test_request_form_limits_are_passed_on(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(form_echo_app(max_fields=1, max_files=1, max_part_size=4))

    with pytest.raises(MultiPartException, match="Too many fields"):
        client.post("/", data={"a": "1", "b": "2"})
    with pytest.raises(MultiPartException, match="Too many fields"):
        client.post("/", data={"a": "1", "b": "2"}, files={"f": ("f.txt", b"x")})
    with pytest.raises(MultiPartException, match="Too many files"):
        client.post("/", files=[("f", ("1.txt", b"x")), ("f", ("2.txt", b"y"))])
    with pytest.raises(MultiPartException, match=r"^Field exceeded maximum size of 0KB\.$"):
        client.post("/", data={"a": "12345"})


def test_request_form_truncated_multipart_raises_outside_an_app(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(form_echo_app())
    body = multipart_file_body()
    with pytest.raises(MultiPartException, match="ended before the closing boundary"):
        client.post(
            "/",
            content=body[: len(body) // 2],
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )


def test_request_form_missing_boundary_raises_outside_an_app(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(form_echo_app())
    with pytest.raises(MultiPartException, match="Missing boundary in multipart"):
        client.post(
            "/",
            content=multipart_file_body(),
            headers={"Content-Type": "multipart/form-data; charset=utf-8"},
        )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content_type", "body", "detail"),
    [
        ("multipart/form-data", b"", "Missing boundary in multipart."),
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n".encode(),
            'The Content-Disposition header field "name" must be provided.',
        ),
        (
            "application/x-www-form-urlencoded",
            b"a=1&b=2&c=3&d=4",
            "Too many fields. Maximum number of fields is 3.",
        ),
    ],
)
async def test_request_form_errors_become_400_inside_an_app(
    content_type: str, body: bytes, detail: str
) -> None:
    scope = http_scope(headers=[("content-type", content_type)], app=object())
    request = Request(scope, receive_from({"type": "http.request", "body": body}))

    with pytest.raises(HTTPException) as info:
        await request.form(max_fields=3)
    assert info.value.status_code == 400
    assert info.value.detail == detail


@pytest.mark.anyio
async def test_request_form_is_cached_and_closed_by_close() -> None:
    scope = http_scope(headers=[("content-type", f"multipart/form-data; boundary={BOUNDARY}")])
    request = Request(scope, receive_from({"type": "http.request", "body": multipart_file_body()}))

    form = await request.form()
    assert await request.form() is form
    upload = form["upload"]
    assert isinstance(upload, UploadFile)
    assert not upload.file.closed

    await request.close()
    assert upload.file.closed


@pytest.mark.anyio
async def test_request_form_context_manager_closes_the_files() -> None:
    scope = http_scope(headers=[("content-type", f"multipart/form-data; boundary={BOUNDARY}")])
    request = Request(scope, receive_from({"type": "http.request", "body": multipart_file_body()}))

    async with request.form() as form:
        upload = form["upload"]
        assert isinstance(upload, UploadFile)
        assert await upload.read() == b"<file content>"
    assert upload.file.closed


@pytest.mark.anyio
async def test_request_close_without_form_does_nothing() -> None:
    await Request(http_scope()).close()


@pytest.mark.anyio
async def test_request_form_after_body_uses_the_cached_body() -> None:
    scope = http_scope(headers=[("content-type", "application/x-www-form-urlencoded")])
    request = Request(scope, receive_from({"type": "http.request", "body": b"a=1&b=2"}))

    assert await request.body() == b"a=1&b=2"
    assert await request.form() == FormData([("a", "1"), ("b", "2")])


@pytest.mark.anyio
async def test_body_read_by_middleware_is_replayed_to_the_endpoint() -> None:
    # What a body-reading middleware does: read the body once, then hand the app a
    # `receive` that replays it, so the endpoint's own Request can parse it.
    scope = http_scope(headers=[("content-type", "application/x-www-form-urlencoded")])
    outer = Request(
        scope,
        receive_from(
            {"type": "http.request", "body": b"a=1", "more_body": True},
            {"type": "http.request", "body": b"&b=2", "more_body": False},
        ),
    )
    body = await outer.body()

    inner = Request(scope, receive_from({"type": "http.request", "body": body}))
    assert await inner.form() == FormData([("a", "1"), ("b", "2")])


@pytest.mark.anyio
async def test_client_disconnect_while_parsing_a_form_closes_the_files() -> None:
    body = multipart_file_body(b"x" * 1000)
    scope = http_scope(
        headers=[("content-type", f"multipart/form-data; boundary={BOUNDARY}")],
        app=object(),
    )
    request = Request(
        scope,
        receive_from(
            {"type": "http.request", "body": body[:-200], "more_body": True},
            {"type": "http.disconnect"},
        ),
    )
    with pytest.raises(ClientDisconnect):
        await request.form()


# Server push and early hints


@pytest.mark.anyio
async def test_send_push_promise() -> None:
    sent: list[Message] = []
    scope = http_scope(
        headers=[
            ("accept", "text/css"),
            ("user-agent", "tester"),
            ("cookie", "not=copied"),
        ],
        extensions={"http.response.push": {}},
    )
    request = Request(scope, receive_from(), recording_send(sent))

    await request.send_push_promise("/style.css")

    assert len(sent) == 1
    message = sent[0]
    assert message["type"] == "http.response.push"
    assert message["path"] == "/style.css"
    assert sorted(message["headers"]) == [(b"accept", b"text/css"), (b"user-agent", b"tester")]


@pytest.mark.anyio
async def test_send_push_promise_without_the_extension_does_nothing() -> None:
    sent: list[Message] = []
    request = Request(http_scope(), receive_from(), recording_send(sent))
    await request.send_push_promise("/style.css")
    request = Request(http_scope(extensions=None), receive_from(), recording_send(sent))
    await request.send_push_promise("/style.css")
    assert sent == []


@pytest.mark.anyio
async def test_send_push_promise_without_send_channel() -> None:
    request = Request(http_scope(extensions={"http.response.push": {}}))
    with pytest.raises(RuntimeError, match="Send channel has not been made available"):
        await request.send_push_promise("/style.css")


def test_send_push_promise_through_the_test_client(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["extensions"]["http.response.push"] = {}
        request = Request(scope, receive, send)
        await request.send_push_promise("/style.css")
        await PlainTextResponse("OK")(scope, receive, send)

    assert test_client_factory(app).get("/").text == "OK"


@pytest.mark.anyio
async def test_send_early_hints() -> None:
    sent: list[Message] = []
    scope = http_scope(extensions={"http.response.early_hint": {}})
    request = Request(scope, receive_from(), recording_send(sent))

    await request.send_early_hints(
        "</style.css>; rel=preload; as=style", "</app.js>; rel=modulepreload"
    )

    assert sent == [
        {
            "type": "http.response.early_hint",
            "links": [b"</style.css>; rel=preload; as=style", b"</app.js>; rel=modulepreload"],
        }
    ]


@pytest.mark.anyio
async def test_send_early_hints_without_the_extension_does_nothing() -> None:
    sent: list[Message] = []
    request = Request(http_scope(), receive_from(), recording_send(sent))
    await request.send_early_hints("</style.css>; rel=preload")
    request = Request(http_scope(extensions=None), receive_from(), recording_send(sent))
    await request.send_early_hints("</style.css>; rel=preload")
    assert sent == []


@pytest.mark.anyio
@pytest.mark.parametrize("bad", ["</a>\r\nSet-Cookie: x=1", "</a>\n", "</a>\0"])
async def test_send_early_hints_refuses_header_splitting(bad: str) -> None:
    sent: list[Message] = []
    scope = http_scope(extensions={"http.response.early_hint": {}})
    request = Request(scope, receive_from(), recording_send(sent))

    with pytest.raises(ValueError, match="Invalid Link header value"):
        await request.send_early_hints("</ok>; rel=preload", bad)
    assert sent == []


def test_send_early_hints_through_the_test_client(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        await request.send_early_hints("</style.css>; rel=preload; as=style")
        await PlainTextResponse("OK")(scope, receive, send)

    assert test_client_factory(app).get("/").text == "OK"


# AwaitableOrContextManagerWrapper


class Closeable:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


@pytest.mark.anyio
async def test_awaitable_or_context_manager_wrapper() -> None:
    async def make() -> Closeable:
        return Closeable()

    awaited = await AwaitableOrContextManagerWrapper(make())
    assert not awaited.closed

    async with AwaitableOrContextManagerWrapper(make()) as entered:
        assert not entered.closed
    assert entered.closed
