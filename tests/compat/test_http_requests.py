"""Starlette-compatibility checks for `Request`, through the umbrella.

URL and headers as the app sees them, the body read as bytes, stream, JSON and form,
the one-shot stream, disconnects, cookies, state, server push and early hints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, TypedDict

import anyio
import pytest

from stellate.applications import Stellate
from stellate.datastructures import URL, State
from stellate.middleware import Middleware
from stellate.requests import ClientDisconnect, Request
from stellate.responses import JSONResponse, PlainTextResponse, Response
from stellate.routing import Route
from stellate.types import ASGIApp, Message, Receive, Scope, Send
from tests.conftest import TestClientFactory


def echo(build: Any) -> ASGIApp:
    """A raw ASGI app answering with the JSON of `await build(request)`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = JSONResponse(await build(request))
        await response(scope, receive, send)

    return app


def test_request_url_and_method(test_client_factory: TestClientFactory) -> None:
    async def build(request: Request) -> Any:
        return {"method": request.method, "url": str(request.url)}

    client = test_client_factory(echo(build))
    assert client.get("/orders/5?expand=lines").json() == {
        "method": "GET",
        "url": "http://testserver/orders/5?expand=lines",
    }
    assert client.put("https://shop.example:8443/").json() == {
        "method": "PUT",
        "url": "https://shop.example:8443/",
    }


def test_request_query_params(test_client_factory: TestClientFactory) -> None:
    async def build(request: Request) -> Any:
        return {"params": dict(request.query_params), "all": request.query_params.getlist("t")}

    client = test_client_factory(echo(build))
    assert client.get("/?t=1&t=2&q=x%20y").json() == {
        "params": {"t": "2", "q": "x y"},
        "all": ["1", "2"],
    }


def test_request_headers(test_client_factory: TestClientFactory) -> None:
    async def build(request: Request) -> Any:
        return {"headers": dict(request.headers)}

    client = test_client_factory(echo(build))
    response = client.get("/", headers={"host": "shop.example", "X-Trace": "abc"})
    assert response.json() == {
        "headers": {
            "host": "shop.example",
            "user-agent": "testclient",
            "accept-encoding": "gzip, deflate",
            "accept": "*/*",
            "connection": "keep-alive",
            "x-trace": "abc",
        }
    }


def test_request_client(test_client_factory: TestClientFactory) -> None:
    async def build(request: Request) -> Any:
        assert request.client is not None
        return {"host": request.client.host, "port": request.client.port}

    client = test_client_factory(echo(build))
    assert client.get("/").json() == {"host": "testclient", "port": 50000}


def test_request_raw_path(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = PlainTextResponse(f"{request.scope['path']} | {request.scope['raw_path']!r}")
        await response(scope, receive, send)

    client = test_client_factory(app)
    assert client.get("/a%2Fb").text == "/a/b | b'/a%2Fb'"


@pytest.mark.parametrize("how", ["body", "stream"])
def test_request_body_and_stream(test_client_factory: TestClientFactory, how: str) -> None:
    async def build(request: Request) -> Any:
        if how == "body":
            body = await request.body()
        else:
            body = b"".join([chunk async for chunk in request.stream()])
        return {"body": body.decode()}

    client = test_client_factory(echo(build))
    assert client.get("/").json() == {"body": ""}
    assert client.post("/", json={"k": "v"}).json() == {"body": '{"k":"v"}'}
    assert client.post("/", content="plain text").json() == {"body": "plain text"}


def test_request_chunked_body(test_client_factory: TestClientFactory) -> None:
    async def build(request: Request) -> Any:
        return {"body": (await request.body()).decode()}

    def chunks() -> Iterator[bytes]:
        yield b"one-"
        yield b"two-"
        yield b"three"

    client = test_client_factory(echo(build))
    assert client.post("/", content=chunks()).json() == {"body": "one-two-three"}


def test_request_json(test_client_factory: TestClientFactory) -> None:
    async def build(request: Request) -> Any:
        first = await request.json()
        assert await request.json() is first
        return {"json": first}

    client = test_client_factory(echo(build))
    assert client.post("/", json={"items": [1, 2]}).json() == {"json": {"items": [1, 2]}}


def test_request_invalid_json_raises_json_decode_error(
    test_client_factory: TestClientFactory,
) -> None:
    async def build(request: Request) -> Any:
        return await request.json()

    client = test_client_factory(echo(build))
    with pytest.raises(json.JSONDecodeError):
        client.post("/", content=b"{not json")


def test_request_form_urlencoded(test_client_factory: TestClientFactory) -> None:
    async def build(request: Request) -> Any:
        return {"form": dict(await request.form())}

    client = test_client_factory(echo(build))
    assert client.post("/", data={"note": "50% off & more"}).json() == {
        "form": {"note": "50% off & more"}
    }


def test_request_form_as_context_manager(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        async with request.form() as form:
            response = JSONResponse({"form": dict(form)})
            await response(scope, receive, send)

    client = test_client_factory(app)
    assert client.post("/", data={"a": "1"}).json() == {"form": {"a": "1"}}


def test_request_body_then_stream_replays_the_body(
    test_client_factory: TestClientFactory,
) -> None:
    async def build(request: Request) -> Any:
        body = await request.body()
        streamed = b"".join([chunk async for chunk in request.stream()])
        return {"body": body.decode(), "stream": streamed.decode()}

    client = test_client_factory(echo(build))
    assert client.post("/", content="xyz").json() == {"body": "xyz", "stream": "xyz"}


def test_request_stream_then_body_is_stream_consumed(
    test_client_factory: TestClientFactory,
) -> None:
    async def build(request: Request) -> Any:
        streamed = b"".join([chunk async for chunk in request.stream()])
        try:
            await request.body()
        except RuntimeError as exc:
            error = str(exc)
        return {"stream": streamed.decode(), "error": error}

    client = test_client_factory(echo(build))
    assert client.post("/", content="xyz").json() == {"stream": "xyz", "error": "Stream consumed"}


def test_request_without_receive_channel(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        try:
            await request.json()
        except RuntimeError as exc:
            message = str(exc)
        response = JSONResponse({"error": message})
        await response(scope, receive, send)

    client = test_client_factory(app)
    assert client.post("/", json={"a": 1}).json() == {
        "error": "Receive channel has not been made available"
    }


def test_request_body_client_disconnect(anyio_backend_name: str) -> None:
    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def main() -> None:
        request = Request({"type": "http", "method": "POST", "path": "/"}, receive)
        await request.body()

    with pytest.raises(ClientDisconnect):
        anyio.run(main, backend=anyio_backend_name)


def test_request_is_disconnected(test_client_factory: TestClientFactory) -> None:
    after_response: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        response = JSONResponse(
            {"body": body.decode(), "disconnected": await request.is_disconnected()}
        )
        await response(scope, receive, send)
        after_response.append(await request.is_disconnected())

    client = test_client_factory(app)
    assert client.post("/", content="hi").json() == {"body": "hi", "disconnected": False}
    assert after_response == [True]


@pytest.mark.anyio
async def test_request_is_disconnected_does_not_wait() -> None:
    never = anyio.Event()

    async def receive() -> Message:
        await never.wait()
        raise AssertionError("unreachable")  # pragma: no cover

    request = Request({"type": "http"}, receive)
    with anyio.fail_after(1):
        assert not await request.is_disconnected()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "messages",
    [
        [{"body": b"abc", "more_body": True}, {"body": b""}],
        [{"body": b"", "more_body": True}, {"body": b"abc"}],
        [{"body": b"a", "more_body": True}, {"body": b"bc"}],
        [{"body": b"abc", "more_body": True}, {"body": b"", "more_body": True}, {"body": b""}],
        [{"body": b"abc"}],
    ],
)
async def test_request_body_from_messages(messages: list[Message]) -> None:
    pending = list(messages)

    async def receive() -> Message:
        return {"type": "http.request", **pending.pop(0)}

    request = Request({"type": "http"}, receive)
    assert await request.body() == b"abc"
    assert pending == []


@pytest.mark.anyio
async def test_request_two_streams_share_one_body() -> None:
    pending: list[Message] = [
        {"type": "http.request", "body": b"x", "more_body": True},
        {"type": "http.request", "body": b"y", "more_body": True},
        {"type": "http.request", "body": b"z"},
    ]

    async def receive() -> Message:
        return pending.pop(0)

    request = Request({"type": "http"}, receive)
    first, second = request.stream(), request.stream()
    assert await first.__anext__() == b"x"
    assert await second.__anext__() == b"y"
    assert await first.__anext__() == b"z"
    # The body is complete: neither stream may wait for more.
    assert await first.__anext__() == b""
    assert await second.__anext__() == b""
    with pytest.raises(StopAsyncIteration):
        await second.__anext__()
    with pytest.raises(StopAsyncIteration):
        await first.__anext__()
    with pytest.raises(RuntimeError, match=r"^Stream consumed$"):
        await request.stream().__anext__()


def test_request_state(test_client_factory: TestClientFactory) -> None:
    async def build(request: Request) -> Any:
        request.state.counter = 41
        request.state["counter"] += 1
        return {"counter": request.state.counter, "is_state": isinstance(request.state, State)}

    client = test_client_factory(echo(build))
    assert client.get("/").json() == {"counter": 42, "is_state": True}


def test_request_state_typed_by_the_app(test_client_factory: TestClientFactory) -> None:
    class AppState(TypedDict):
        greeting: str

    async def build(request: Request[AppState]) -> Any:
        return {"greeting": request.state["greeting"]}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"] = {"greeting": "hello"}
        await echo(build)(scope, receive, send)

    client = test_client_factory(app)
    assert client.get("/").json() == {"greeting": "hello"}


def test_request_state_set_in_middleware_reaches_the_endpoint(
    test_client_factory: TestClientFactory,
) -> None:
    class TagMiddleware:
        def __init__(self, app: ASGIApp, tag: str) -> None:
            self.app = app
            self.tag = tag

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope, receive)
            tags = getattr(request.state, "tags", [])
            request.state.tags = [*tags, self.tag]
            await self.app(scope, receive, send)

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        return JSONResponse({"tags": request.state.tags, "body": body.decode()})

    app = Stellate(
        routes=[Route("/", endpoint, methods=["POST"])],
        middleware=[Middleware(TagMiddleware, tag="outer"), Middleware(TagMiddleware, tag="inner")],
    )
    client = test_client_factory(app)
    assert client.post("/", content="data").json() == {"tags": ["outer", "inner"], "body": "data"}


def test_request_cookies_round_trip(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        flavour = request.cookies.get("flavour")
        if flavour:
            response = Response(flavour, media_type="text/plain")
        else:
            response = Response("no cookie yet", media_type="text/plain")
            response.set_cookie("flavour", "oatmeal raisin")
        await response(scope, receive, send)

    client = test_client_factory(app)
    assert client.get("/").text == "no cookie yet"
    assert client.get("/").text == "oatmeal raisin"


def test_request_cookies_lenient_parsing(test_client_factory: TestClientFactory) -> None:
    messy = (
        "nonce=abc123; "
        'redirect={"state":"s","scopes":["openid","email"],"urls":{"issuer":"https://x.example"}}; '
        "keep=this; session=opaque"
    )

    async def build(request: Request) -> Any:
        return {"cookies": request.cookies}

    client = test_client_factory(echo(build))
    cookies = client.get("/", headers={"cookie": messy}).json()["cookies"]
    assert set(cookies) == {"nonce", "redirect", "keep", "session"}
    assert cookies["keep"] == "this"


def test_request_cookies_edge_cases_through_the_client(
    test_client_factory: TestClientFactory,
) -> None:
    async def build(request: Request) -> Any:
        return {"cookies": request.cookies}

    client = test_client_factory(echo(build))
    response = client.get("/", headers={"cookie": "a=1; bare; b=x=y; a=2"})
    assert response.json() == {"cookies": {"a": "2", "": "bare", "b": "x=y"}}


def test_request_cookies_from_several_headers(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["headers"] = [(b"cookie", b"a=1"), (b"cookie", b"b=2"), (b"cookie", b"c=3")]
        await echo(lambda_cookies)(scope, receive, send)

    async def lambda_cookies(request: Request) -> Any:
        return {"cookies": request.cookies}

    client = test_client_factory(app)
    assert client.get("/").json() == {"cookies": {"a": "1", "b": "2", "c": "3"}}


def test_request_send_push_promise(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["extensions"]["http.response.push"] = {}
        request = Request(scope, receive, send)
        await request.send_push_promise("/app.css")
        response = JSONResponse({"pushed": True})
        await response(scope, receive, send)

    client = test_client_factory(app)
    assert client.get("/").json() == {"pushed": True}


def test_request_send_push_promise_without_extension(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # No send channel either: without the extension nothing is sent.
        await Request(scope).send_push_promise("/app.css")
        response = JSONResponse({"pushed": False})
        await response(scope, receive, send)

    client = test_client_factory(app)
    assert client.get("/").json() == {"pushed": False}


def test_request_send_push_promise_without_send_channel(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["extensions"]["http.response.push"] = {}
        try:
            await Request(scope).send_push_promise("/app.css")
        except RuntimeError as exc:
            message = str(exc)
        response = JSONResponse({"error": message})
        await response(scope, receive, send)

    client = test_client_factory(app)
    assert client.get("/").json() == {"error": "Send channel has not been made available"}


@pytest.mark.anyio
async def test_request_send_push_promise_message() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "headers": [(b"accept", b"text/css"), (b"cookie", b"secret=1"), (b"user-agent", b"ua")],
        "extensions": {"http.response.push": {}},
    }
    await Request(scope, send=send).send_push_promise("/app.css")
    assert len(sent) == 1
    assert sent[0]["type"] == "http.response.push"
    assert sent[0]["path"] == "/app.css"
    assert sorted(sent[0]["headers"]) == [(b"accept", b"text/css"), (b"user-agent", b"ua")]


def test_request_send_early_hints_through_the_client(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["extensions"]["http.response.early_hint"] = {}
        request = Request(scope, receive, send)
        await request.send_early_hints("</site.css>; rel=preload; as=style")
        await JSONResponse({"hinted": True})(scope, receive, send)

    client = test_client_factory(app)
    assert client.get("/").json() == {"hinted": True}


@pytest.mark.anyio
async def test_request_send_early_hints() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "headers": [], "extensions": {"http.response.early_hint": {}}}
    request = Request(scope, send=send)
    await request.send_early_hints("</app.css>; rel=preload; as=style", "</app.js>; rel=preload")
    assert sent == [
        {
            "type": "http.response.early_hint",
            "links": [b"</app.css>; rel=preload; as=style", b"</app.js>; rel=preload"],
        }
    ]


@pytest.mark.anyio
async def test_request_send_early_hints_without_extension() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)  # pragma: no cover

    await Request({"type": "http", "extensions": {}}, send=send).send_early_hints("</a.css>")
    await Request({"type": "http"}).send_early_hints("</a.css>")
    assert sent == []


@pytest.mark.anyio
async def test_request_send_early_hints_without_send_channel() -> None:
    request = Request({"type": "http", "extensions": {"http.response.early_hint": {}}})
    with pytest.raises(RuntimeError, match="Send channel has not been made available"):
        await request.send_early_hints("</a.css>")


def test_request_url_for_outside_an_application(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        Request(scope, receive).url_for("home")

    client = test_client_factory(app)
    with pytest.raises(
        RuntimeError,
        match=re.escape(
            "The `url_for` method can only be used inside a Stellate application or with a router."
        ),
    ):
        client.get("/")


def test_request_url_for_in_middleware_of_an_application(
    test_client_factory: TestClientFactory,
) -> None:
    found: list[URL] = []

    class LookupMiddleware:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            found.append(Request(scope, receive).url_for("home"))
            await self.app(scope, receive, send)

    async def home(request: Request) -> Response:
        return PlainTextResponse(str(request.url_for("home")))

    app = Stellate(
        routes=[Route("/home", home, name="home")], middleware=[Middleware(LookupMiddleware)]
    )
    client = test_client_factory(app)
    assert client.get("/home").text == "http://testserver/home"
    assert found == [URL("http://testserver/home")]
