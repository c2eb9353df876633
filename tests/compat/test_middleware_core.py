"""Starlette-compatible behaviour of the `Middleware` spec and of request body limits,
through the umbrella.
"""

from __future__ import annotations

from typing import Any

import pytest

from stellate.applications import Stellate
from stellate.exceptions import HTTPException
from stellate.middleware import Middleware
from stellate.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY, RequestBodyLimitMiddleware
from stellate.requests import Request
from stellate.responses import PlainTextResponse, Response
from stellate.routing import Mount, Route, Router
from stellate.types import ASGIApp, Message, Receive, Scope, Send
from tests.conftest import TestClientFactory

# --- Middleware ---------------------------------------------------------------------


class CustomMiddleware:
    def __init__(self, app: ASGIApp, *args: Any, **kwargs: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)  # pragma: no cover


def test_middleware_repr() -> None:
    assert repr(Middleware(CustomMiddleware)) == "Middleware(CustomMiddleware)"
    assert (
        repr(Middleware(CustomMiddleware, "a", 1, option=True, name="x"))
        == "Middleware(CustomMiddleware, 'a', 1, option=True, name='x')"
    )


def test_middleware_repr_of_a_factory_function() -> None:
    def factory(app: ASGIApp) -> ASGIApp:
        return app  # pragma: no cover

    assert repr(Middleware(factory)) == "Middleware(factory)"


def test_middleware_iter() -> None:
    cls, args, kwargs = Middleware(CustomMiddleware)
    assert cls is CustomMiddleware
    assert args == ()
    assert kwargs == {}

    cls, args, kwargs = Middleware(CustomMiddleware, 1, key="value")
    assert (cls, args, kwargs) == (CustomMiddleware, (1,), {"key": "value"})


def test_middleware_attributes() -> None:
    middleware = Middleware(CustomMiddleware, 1, key="value")
    assert middleware.cls is CustomMiddleware
    assert middleware.args == (1,)
    assert middleware.kwargs == {"key": "value"}


# --- request body limits ------------------------------------------------------------


async def echo(request: Request) -> Response:
    return Response(await request.body())


def test_body_size_limit(test_client_factory: TestClientFactory) -> None:
    app = RequestBodyLimitMiddleware(
        Stellate(routes=[Route("/", echo, methods=["POST"])]), max_body_size=5
    )
    client = test_client_factory(app)

    response = client.post("/", content=b"12345")
    assert response.status_code == 200
    assert response.content == b"12345"

    response = client.post("/", content=b"123456")
    assert response.status_code == 413
    assert response.text == "Content Too Large"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_content_length_is_checked_without_reading_the_body(
    test_client_factory: TestClientFactory,
) -> None:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("response")

    app = Stellate(routes=[Route("/", endpoint, methods=["POST"])], max_body_size=5)
    response = test_client_factory(app).post("/", content=b"123456")
    assert response.status_code == 413
    assert response.text == "Content Too Large"


@pytest.mark.anyio
async def test_content_length_rejects_before_receiving() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

    async def receive() -> Message:
        raise AssertionError("receive() should not be called")  # pragma: no cover

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-length", b"6")],
    }
    await RequestBodyLimitMiddleware(app, max_body_size=5)(scope, receive, send)
    assert sent[0]["status"] == 413


@pytest.mark.anyio
async def test_received_bytes_are_counted_without_content_length() -> None:
    messages = iter(
        [
            {"type": "http.request", "body": b"123", "more_body": True},
            {"type": "http.request", "body": b"456", "more_body": False},
        ]
    )

    async def receive() -> Message:
        return next(messages)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await receive()

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    await RequestBodyLimitMiddleware(app, max_body_size=5)(scope, receive, send)
    assert sent[0]["status"] == 413
    assert sent[1]["body"] == b"Content Too Large"


def test_unreliable_content_length(test_client_factory: TestClientFactory) -> None:
    app = RequestBodyLimitMiddleware(
        Stellate(routes=[Route("/", echo, methods=["POST"])]), max_body_size=5
    )
    client = test_client_factory(app)
    response = client.post("/", content=b"123456", headers={"Content-Length": "1"})
    assert response.status_code == 413
    response = client.post("/", content=b"12345", headers={"Content-Length": "invalid"})
    assert response.status_code == 200
    assert response.content == b"12345"


@pytest.mark.anyio
async def test_limit_exceeded_after_response_started_is_raised() -> None:
    messages = iter(
        [
            {"type": "http.request", "body": b"12345", "more_body": True},
            {"type": "http.request", "body": b"6", "more_body": False},
        ]
    )

    async def receive() -> Message:
        return next(messages)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await receive()
        await receive()

    async def send(message: Message) -> None:
        pass

    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    with pytest.raises(HTTPException) as info:
        await RequestBodyLimitMiddleware(app, max_body_size=5)(scope, receive, send)
    assert info.value.status_code == 413


@pytest.mark.anyio
async def test_non_http_scope_is_untouched() -> None:
    received: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        received.append(scope)

    async def receive() -> Message:
        return {"type": "lifespan.startup"}  # pragma: no cover

    async def send(message: Message) -> None:
        pass  # pragma: no cover

    scope: Scope = {"type": "lifespan"}
    await RequestBodyLimitMiddleware(app, max_body_size=5)(scope, receive, send)
    assert received == [scope]
    assert received[0] is scope
    assert MAX_BODY_SIZE_SCOPE_KEY not in scope


@pytest.mark.anyio
async def test_other_messages_pass_through() -> None:
    message: Message = {"type": "http.disconnect"}
    received: list[Message] = []

    async def receive() -> Message:
        return message

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        received.append(await receive())

    async def send(message: Message) -> None:
        pass  # pragma: no cover

    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    await RequestBodyLimitMiddleware(app, max_body_size=5)(scope, receive, send)
    assert received[0] is message


@pytest.mark.anyio
async def test_existing_scope_limit_is_restored() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope[MAX_BODY_SIZE_SCOPE_KEY] == 5

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}  # pragma: no cover

    async def send(message: Message) -> None:
        pass  # pragma: no cover

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [],
        MAX_BODY_SIZE_SCOPE_KEY: 10,
    }
    await RequestBodyLimitMiddleware(app, max_body_size=5)(scope, receive, send)
    assert scope[MAX_BODY_SIZE_SCOPE_KEY] == 10


def test_app_limit_applies_before_user_middleware(test_client_factory: TestClientFactory) -> None:
    class ReadBody:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                await receive()
            await self.app(scope, receive, send)  # pragma: no cover

    app = Stellate(
        routes=[Route("/", echo, methods=["POST"])],
        middleware=[Middleware(ReadBody)],
        max_body_size=5,
    )
    assert test_client_factory(app).post("/", content=b"123456").status_code == 413


def test_route_can_raise_the_app_limit(test_client_factory: TestClientFactory) -> None:
    app = Stellate(
        routes=[
            Route("/default", echo, methods=["POST"]),
            Route("/upload", echo, methods=["POST"], max_body_size=10),
        ],
        max_body_size=5,
    )
    client = test_client_factory(app)
    assert client.post("/default", content=b"12345678").status_code == 413
    response = client.post("/upload", content=b"12345678")
    assert response.status_code == 200
    assert response.content == b"12345678"


def test_route_can_lower_the_app_limit(test_client_factory: TestClientFactory) -> None:
    app = Stellate(routes=[Route("/", echo, methods=["POST"], max_body_size=5)], max_body_size=10)
    assert test_client_factory(app).post("/", content=b"123456").status_code == 413


def test_mount_can_override_the_app_limit(test_client_factory: TestClientFactory) -> None:
    app = Stellate(
        routes=[Mount("/upload", routes=[Route("/", echo, methods=["POST"])], max_body_size=10)],
        max_body_size=5,
    )
    response = test_client_factory(app).post("/upload/", content=b"12345678")
    assert response.status_code == 200
    assert response.content == b"12345678"


def test_router_limit(test_client_factory: TestClientFactory) -> None:
    app = Router(routes=[Route("/", echo, methods=["POST"])], max_body_size=5)
    assert test_client_factory(app).post("/", content=b"123456").status_code == 413


def test_route_override_survives_a_scope_copy(test_client_factory: TestClientFactory) -> None:
    class CopyScope:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await self.app(dict(scope), receive, send)

    app = Stellate(
        routes=[Route("/", echo, methods=["POST"], max_body_size=10)],
        middleware=[Middleware(CopyScope)],
        max_body_size=5,
    )
    response = test_client_factory(app).post("/", content=b"12345678")
    assert response.status_code == 200
    assert response.content == b"12345678"


def test_multipart_file_counts_towards_the_limit(test_client_factory: TestClientFactory) -> None:
    async def upload(request: Request) -> Response:
        async with request.form():
            return PlainTextResponse("uploaded")  # pragma: no cover

    app = Stellate(routes=[Route("/", upload, methods=["POST"])], max_body_size=512)
    response = test_client_factory(app).post("/", files={"file": ("example.txt", b"x" * 1024)})
    assert response.status_code == 413


def test_limit_error_reaches_exception_handlers(test_client_factory: TestClientFactory) -> None:
    def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return PlainTextResponse(f"custom {exc.status_code}", status_code=exc.status_code)

    app = Stellate(
        routes=[Route("/", echo, methods=["POST"])],
        exception_handlers={413: handler},
        max_body_size=5,
    )
    response = test_client_factory(app).post("/", content=b"123456")
    assert (response.status_code, response.text) == (413, "custom 413")


def test_limit_in_the_scope(test_client_factory: TestClientFactory) -> None:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(str(request.scope[MAX_BODY_SIZE_SCOPE_KEY]))

    app = Stellate(
        routes=[Route("/", endpoint), Route("/big", endpoint, max_body_size=100)],
        max_body_size=5,
    )
    client = test_client_factory(app)
    assert client.get("/").text == "5"
    assert client.get("/big").text == "100"
    assert MAX_BODY_SIZE_SCOPE_KEY == "stellate.max_body_size"


class ReplayBody:
    """Reads the whole body first, then hands it to the app again (as a logging or
    signature-checking middleware would)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # pragma: no cover
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def test_stricter_route_rejects_a_body_read_by_middleware(
    test_client_factory: TestClientFactory,
) -> None:
    app = Stellate(
        routes=[Route("/", echo, methods=["POST"], max_body_size=5)],
        middleware=[Middleware(ReplayBody)],
        max_body_size=10,
    )
    client = test_client_factory(app)
    response = client.post("/", content=b"123456")
    assert (response.status_code, response.text) == (413, "Content Too Large")
    response = client.post("/", content=b"12345")
    assert (response.status_code, response.content) == (200, b"12345")


def test_app_limit_guards_a_body_read_before_routing(
    test_client_factory: TestClientFactory,
) -> None:
    app = Stellate(
        routes=[Route("/", echo, methods=["POST"], max_body_size=10)],
        middleware=[Middleware(ReplayBody)],
        max_body_size=5,
    )
    # The app-wide limit guards the middleware's own read.
    assert test_client_factory(app).post("/", content=b"12345678").status_code == 413


def test_route_limit_holds_when_middleware_defers_the_response_start(
    test_client_factory: TestClientFactory,
) -> None:
    class DeferStart:
        """Holds "http.response.start" back until the body comes, as a middleware that
        edits headers after seeing the body does."""

        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            held: list[Message] = []

            async def deferring_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    held.append(message)
                    return
                while held:
                    await send(held.pop())
                await send(message)

            await self.app(scope, receive, deferring_send)

    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("response")

    app = Stellate(
        routes=[Route("/", endpoint, methods=["POST"], max_body_size=10)],
        middleware=[Middleware(DeferStart)],
        max_body_size=5,
    )
    response = test_client_factory(app).post("/", content=b"12345678")
    assert (response.status_code, response.text) == (200, "response")
