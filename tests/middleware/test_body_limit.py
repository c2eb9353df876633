from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from stellate_asgi.exceptions import HTTPException
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, PlainTextResponse, Response
from stellate_middleware.body_limit import (
    MAX_BODY_SIZE_SCOPE_KEY,
    RequestBodyLimitMiddleware,
    RequestBodyLimitResponder,
)
from stellate_middleware.exceptions import ExceptionMiddleware
from tests.conftest import TestClientFactory


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    body = await Request(scope, receive).body()
    await Response(body, media_type="application/octet-stream")(scope, receive, send)


async def ignore_body(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("ignored the body")(scope, receive, send)


def limited(app: ASGIApp, max_body_size: int) -> ASGIApp:
    """`app` behind its own exception handling and a body limit, as a Route would be."""
    return RequestBodyLimitMiddleware(ExceptionMiddleware(app), max_body_size=max_body_size)


def http_scope(*headers: tuple[bytes, bytes]) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": list(headers),
        "server": ("testserver", 80),
    }


class Server:
    """Replays request messages to an app and records what it sends."""

    def __init__(self, *chunks: bytes) -> None:
        messages: list[Message] = [
            {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
            for index, chunk in enumerate(chunks)
        ]
        self.received = 0
        self._messages: Iterator[Message] = iter(messages)
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        self.received += 1
        return next(self._messages, {"type": "http.disconnect"})

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        status: int = self.sent[0]["status"]
        return status

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


# --- the limit -------------------------------------------------------------------


def test_body_within_the_limit_is_read(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(RequestBodyLimitMiddleware(echo, max_body_size=5))
    response = client.post("/", content=b"12345")
    assert response.status_code == 200
    assert response.content == b"12345"

    assert client.post("/", content=b"").content == b""
    assert client.get("/").status_code == 200


def test_content_length_over_the_limit(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(RequestBodyLimitMiddleware(echo, max_body_size=5))
    response = client.post("/", content=b"123456")
    assert response.status_code == 413
    assert response.text == "Content Too Large"
    assert response.headers["content-type"].startswith("text/plain")


def test_zero_limit_refuses_any_body(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(RequestBodyLimitMiddleware(echo, max_body_size=0))
    assert client.post("/", content=b"").status_code == 200
    assert client.post("/", content=b"1").status_code == 413


def test_chunked_body_over_the_limit(test_client_factory: TestClientFactory) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"1234"
        yield b"5678"

    client = test_client_factory(RequestBodyLimitMiddleware(echo, max_body_size=5))
    response = client.post("/", content=chunks())
    assert response.status_code == 413
    assert response.text == "Content Too Large"

    response = client.post("/", content=iter([b"12", b"345"]))
    assert response.status_code == 200
    assert response.content == b"12345"


def test_content_length_is_checked_without_reading_the_body(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(RequestBodyLimitMiddleware(ignore_body, max_body_size=5))
    response = client.post("/", content=b"123456")
    assert response.status_code == 413
    assert response.text == "Content Too Large"

    assert client.post("/", content=b"12345").text == "ignored the body"


@pytest.mark.anyio
async def test_content_length_fails_before_any_byte_is_received() -> None:
    server = Server(b"123456")
    middleware = RequestBodyLimitMiddleware(echo, max_body_size=5)
    await middleware(http_scope((b"content-length", b"6")), server.receive, server.send)
    assert server.received == 0
    assert server.status == 413
    assert server.body == b"Content Too Large"


@pytest.mark.anyio
async def test_chunks_are_counted_without_content_length() -> None:
    server = Server(b"123", b"456")
    await RequestBodyLimitMiddleware(echo, max_body_size=5)(
        http_scope(), server.receive, server.send
    )
    assert server.received == 2
    assert server.status == 413


@pytest.mark.anyio
async def test_bytes_are_counted_when_content_length_lies() -> None:
    server = Server(b"123", b"456")
    scope = http_scope((b"content-length", b"1"))
    await RequestBodyLimitMiddleware(echo, max_body_size=5)(scope, server.receive, server.send)
    assert server.status == 413


@pytest.mark.anyio
async def test_other_messages_pass_through() -> None:
    received: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        received.append(await receive())

    server = Server()
    await RequestBodyLimitMiddleware(app, max_body_size=5)(
        http_scope(), server.receive, server.send
    )
    assert received == [{"type": "http.disconnect"}]


@pytest.mark.anyio
async def test_limit_exceeded_after_the_response_started_is_raised() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while (await receive()).get("more_body"):
            pass

    server = Server(b"12345", b"6")
    middleware = RequestBodyLimitMiddleware(app, max_body_size=5)
    with pytest.raises(HTTPException) as info:
        await middleware(http_scope(), server.receive, server.send)
    assert info.value.status_code == 413
    assert info.value.detail == "Content Too Large"
    assert [m["type"] for m in server.sent] == ["http.response.start"]


@pytest.mark.anyio
async def test_app_that_ignores_the_replacement_sends_nothing_more() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        with contextlib.suppress(Exception):
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"leaked"})

    server = Server(b"123456")
    scope = http_scope((b"content-length", b"6"))
    await RequestBodyLimitMiddleware(app, max_body_size=5)(scope, server.receive, server.send)
    assert server.status == 413
    assert server.body == b"Content Too Large"


# --- malformed Content-Length --------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "value",
    [b"invalid", b"-1", b"+3", b"1_0", b" ", b"\xff", b"3, 4"],
)
async def test_malformed_content_length_is_ignored_and_bytes_counted(value: bytes) -> None:
    scope = http_scope((b"content-length", value))
    server = Server(b"123", b"45")
    await RequestBodyLimitMiddleware(echo, max_body_size=5)(scope, server.receive, server.send)
    assert server.status == 200
    assert server.body == b"12345"

    scope = http_scope((b"content-length", value))
    server = Server(b"123", b"456")
    await RequestBodyLimitMiddleware(echo, max_body_size=5)(scope, server.receive, server.send)
    assert server.status == 413


@pytest.mark.anyio
async def test_repeated_content_length_headers() -> None:
    same = http_scope((b"content-length", b"6"), (b"Content-Length", b"6"))
    server = Server(b"123456")
    await RequestBodyLimitMiddleware(echo, max_body_size=5)(same, server.receive, server.send)
    assert server.received == 0
    assert server.status == 413

    # Disagreeing values are not trusted either way; the received bytes decide.
    differing = http_scope((b"content-length", b"1"), (b"content-length", b"100"))
    server = Server(b"123")
    await RequestBodyLimitMiddleware(echo, max_body_size=5)(differing, server.receive, server.send)
    assert server.status == 200
    assert server.body == b"123"


@pytest.mark.anyio
async def test_huge_content_length_is_refused_not_parsed() -> None:
    server = Server(b"1")
    scope = http_scope((b"content-length", b"9" * 5000))
    await RequestBodyLimitMiddleware(echo, max_body_size=10**6)(scope, server.receive, server.send)
    assert server.status == 413

    server = Server(b"1")
    scope = http_scope((b"content-length", b"0" * 5000 + b"1"))
    await RequestBodyLimitMiddleware(echo, max_body_size=5)(scope, server.receive, server.send)
    assert server.status == 200
    assert server.body == b"1"


def test_malformed_content_length_over_the_client(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(RequestBodyLimitMiddleware(echo, max_body_size=5))
    response = client.post("/", content=b"12345", headers={"Content-Length": "invalid"})
    assert response.status_code == 200
    assert response.content == b"12345"


def test_form_bodies_count_towards_the_limit(test_client_factory: TestClientFactory) -> None:
    async def upload(scope: Scope, receive: Receive, send: Send) -> None:
        async with Request(scope, receive).form() as form:
            await PlainTextResponse(f"fields: {sorted(form)}")(scope, receive, send)

    client = test_client_factory(limited(upload, 512))
    response = client.post("/", files={"file": ("example.txt", b"x" * 1024)})
    assert response.status_code == 413
    assert response.text == "Content Too Large"

    response = client.post("/", data={"field": "x" * 1024})
    assert response.status_code == 413

    response = client.post("/", files={"file": ("example.txt", b"x" * 10)})
    assert response.status_code == 200
    assert response.text == "fields: ['file']"


# --- exception handlers --------------------------------------------------------------


def test_413_reaches_the_exception_handlers(test_client_factory: TestClientFactory) -> None:
    async def too_large(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse(
            {"error": exc.detail, "limit": request.scope[MAX_BODY_SIZE_SCOPE_KEY]}, 413
        )

    app = RequestBodyLimitMiddleware(ExceptionMiddleware(echo, handlers={413: too_large}), 5)
    client = test_client_factory(app)

    # Declared length: the handler's response is sent as it is, not replaced.
    response = client.post("/", content=b"123456")
    assert response.status_code == 413
    assert response.json() == {"error": "Content Too Large", "limit": 5}

    # Chunked: the running count raises the same exception.
    response = client.post("/", content=iter([b"123", b"456"]))
    assert response.status_code == 413
    assert response.json() == {"error": "Content Too Large", "limit": 5}


def test_default_http_exception_handler_renders_413(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(limited(echo, 5))
    response = client.post("/", content=b"123456")
    assert response.status_code == 413
    assert response.text == "Content Too Large"


def test_app_may_catch_the_413_itself(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await Request(scope, receive).body()
        except HTTPException as exc:
            response = PlainTextResponse(f"custom {exc.status_code}", status_code=exc.status_code)
        else:  # pragma: no cover
            response = PlainTextResponse("unexpected")
        await response(scope, receive, send)

    client = test_client_factory(RequestBodyLimitMiddleware(app, max_body_size=2))
    assert client.post("/", content=b"123").text == "custom 413"


# --- nested limits -------------------------------------------------------------------


def test_inner_limit_can_raise_the_outer_one(test_client_factory: TestClientFactory) -> None:
    app = RequestBodyLimitMiddleware(limited(echo, 10), max_body_size=5)
    client = test_client_factory(app)
    response = client.post("/", content=b"12345678")
    assert response.status_code == 200
    assert response.content == b"12345678"

    assert client.post("/", content=b"12345678901").status_code == 413


def test_inner_limit_can_lower_the_outer_one(test_client_factory: TestClientFactory) -> None:
    app = RequestBodyLimitMiddleware(limited(echo, 5), max_body_size=10)
    client = test_client_factory(app)
    assert client.post("/", content=b"123456").status_code == 413
    assert client.post("/", content=iter([b"123", b"456"])).status_code == 413
    assert client.post("/", content=b"12345").status_code == 200


def test_inner_limit_applies_to_an_unread_body(test_client_factory: TestClientFactory) -> None:
    app = RequestBodyLimitMiddleware(
        RequestBodyLimitMiddleware(ignore_body, max_body_size=10), max_body_size=5
    )
    client = test_client_factory(app)
    assert client.post("/", content=b"12345678").text == "ignored the body"
    assert client.post("/", content=b"12345678901").status_code == 413


def test_inner_limit_survives_a_scope_copy(test_client_factory: TestClientFactory) -> None:
    async def copy_scope(scope: Scope, receive: Receive, send: Send) -> None:
        await limited(echo, 10)(dict(scope), receive, send)

    client = test_client_factory(RequestBodyLimitMiddleware(copy_scope, max_body_size=5))
    response = client.post("/", content=b"12345678")
    assert response.status_code == 200
    assert response.content == b"12345678"


def test_inner_limit_counts_bytes_an_outer_layer_read(
    test_client_factory: TestClientFactory,
) -> None:
    inner = limited(ignore_body, 5)

    async def read_first(scope: Scope, receive: Receive, send: Send) -> None:
        body = await Request(scope, receive).body()
        assert body == b"123456"
        await inner(scope, receive, send)

    client = test_client_factory(RequestBodyLimitMiddleware(ExceptionMiddleware(read_first), 10))
    response = client.post("/", content=iter([b"123", b"456"]))
    assert response.status_code == 413
    assert response.text == "Content Too Large"


@pytest.mark.anyio
async def test_one_responder_guards_a_request() -> None:
    responders: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        responders.append(scope["stellate._body_limit_responder"])
        assert scope[MAX_BODY_SIZE_SCOPE_KEY] == 7
        await echo(scope, receive, send)

    middleware = RequestBodyLimitMiddleware(
        RequestBodyLimitMiddleware(RequestBodyLimitMiddleware(app, 7), 3), 1
    )
    server = Server(b"1234567")
    scope = http_scope()
    await middleware(scope, server.receive, server.send)
    assert server.status == 200
    assert server.body == b"1234567"
    [responder] = responders
    assert isinstance(responder, RequestBodyLimitResponder)
    assert responder.max_body_size == 7
    assert responder.total_size == 7


# --- the scope -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_limit_is_published_and_removed_afterwards() -> None:
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope[MAX_BODY_SIZE_SCOPE_KEY])

    scope = http_scope()
    server = Server()
    await RequestBodyLimitMiddleware(app, max_body_size=5)(scope, server.receive, server.send)
    assert seen == [5]
    assert MAX_BODY_SIZE_SCOPE_KEY not in scope
    assert "stellate._body_limit_responder" not in scope


@pytest.mark.anyio
async def test_previous_scope_limit_is_restored() -> None:
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope[MAX_BODY_SIZE_SCOPE_KEY])

    scope = http_scope()
    scope[MAX_BODY_SIZE_SCOPE_KEY] = 10
    server = Server()
    await RequestBodyLimitMiddleware(app, max_body_size=5)(scope, server.receive, server.send)
    assert seen == [5]
    assert scope[MAX_BODY_SIZE_SCOPE_KEY] == 10


@pytest.mark.anyio
@pytest.mark.parametrize("scope_type", ["websocket", "lifespan"])
async def test_other_scope_types_are_untouched(scope_type: str) -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Message:
        return {"type": f"{scope_type}.connect"}  # pragma: no cover

    async def send(message: Message) -> None:
        pass  # pragma: no cover

    scope: Scope = {"type": scope_type}
    await RequestBodyLimitMiddleware(app, max_body_size=5)(scope, receive, send)
    assert seen == [scope]
    assert scope == {"type": scope_type}


# --- construction --------------------------------------------------------------------


def test_max_body_size_is_validated() -> None:
    with pytest.raises(ValueError, match="greater than or equal to zero"):
        RequestBodyLimitMiddleware(echo, max_body_size=-1)
    with pytest.raises(TypeError, match="must be an int"):
        RequestBodyLimitMiddleware(echo, max_body_size="5")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RequestBodyLimitMiddleware(echo, max_body_size=True)
    with pytest.raises(ValueError):
        RequestBodyLimitResponder(echo, max_body_size=-5)


def test_responder_connection_is_unavailable_before_it_runs() -> None:
    responder = RequestBodyLimitResponder(echo, max_body_size=5)
    with pytest.raises(RuntimeError):
        _ = responder.scope
    with pytest.raises(RuntimeError):
        _ = responder.receive
    with pytest.raises(RuntimeError):
        _ = responder.send


@pytest.mark.anyio
async def test_responder_used_directly() -> None:
    server = Server(b"12", b"34")
    responder = RequestBodyLimitResponder(echo, max_body_size=4)
    scope = http_scope()
    await responder(scope, server.receive, server.send)
    assert server.status == 200
    assert server.body == b"1234"
    assert responder.scope is scope
    assert responder.total_size == 4
    assert responder.response_started
