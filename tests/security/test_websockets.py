"""Hostile WebSocket handshakes and messages.

A handshake for a route that serves no WebSocket, or one that a middleware refuses,
is closed (servers answer it 403), never a 500. Messages a `WebSocketEndpoint`
cannot decode close the socket with 1003; the GraphQL endpoint closes on oversized,
malformed or out-of-order messages with the codes of its protocol, and refuses
cross-site handshakes when given a list of origins.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stellate.applications import Stellate
from stellate_asgi.types import Message, Scope
from stellate_graphql import GraphQL
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_middleware import Middleware
from stellate_middleware.httpsredirect import HTTPSRedirectMiddleware
from stellate_middleware.trustedhost import TrustedHostMiddleware
from stellate_routing.endpoints import HTTPEndpoint, WebSocketEndpoint
from stellate_routing.routing import Mount, Route, WebSocketRoute
from stellate_staticfiles import StaticFiles
from tests.security._asgi import websocket_scope, websocket_session

pytestmark = pytest.mark.anyio

TRANSPORT_WS = "graphql-transport-ws"
# Over the GraphQL endpoint's 1 MiB message limit.
HUGE = "x" * (1024 * 1024 + 1)


async def page(request: Request) -> Response:
    return PlainTextResponse("page")


class Page(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("page")


def close_of(sent: list[Message]) -> tuple[int, str]:
    """The code and reason of the close the app sent (there must be exactly one)."""
    (close,) = [message for message in sent if message["type"] == "websocket.close"]
    return close.get("code", 1000), close.get("reason") or ""


def accepted(sent: list[Message]) -> bool:
    return any(message["type"] == "websocket.accept" for message in sent)


# Handshakes


@pytest.mark.parametrize("path", ["/page", "/endpoint", "/missing", "/static/file.txt"])
async def test_a_handshake_to_a_route_without_websockets_is_closed(
    path: str, tmp_path: Any
) -> None:
    (tmp_path / "file.txt").write_text("file")
    app = Stellate(
        routes=[
            Route("/page", page),
            Route("/endpoint", Page),
            Mount("/static", StaticFiles(directory=tmp_path)),
        ]
    )

    sent = await websocket_session(app, websocket_scope(path), [])

    assert not accepted(sent)
    assert close_of(sent)[0] == 1000


@pytest.mark.parametrize("host", [b"evil.com", b"testserver/admin?", b"a@testserver", b""])
async def test_trusted_host_refuses_hostile_handshakes(host: bytes) -> None:
    app = Stellate(
        routes=[WebSocketRoute("/ws", EchoEndpoint)],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["testserver"])],
    )

    sent = await websocket_session(app, websocket_scope("/ws", headers=[(b"host", host)]), [])

    assert not accepted(sent)
    assert close_of(sent) == (1008, "Invalid host header")


async def test_https_redirect_refuses_plain_handshakes() -> None:
    app = HTTPSRedirectMiddleware(Stellate(routes=[WebSocketRoute("/ws", EchoEndpoint)]))

    sent = await websocket_session(app, websocket_scope("/ws"), [])

    assert not accepted(sent)
    assert close_of(sent)[0] == 1008


# WebSocketEndpoint decoding


class EchoEndpoint(WebSocketEndpoint):
    async def on_receive(self, websocket: Any, data: Any) -> None:
        await websocket.send_text(repr(data))


class JSONEndpoint(EchoEndpoint):
    encoding = "json"


class TextEndpoint(EchoEndpoint):
    encoding = "text"


class BytesEndpoint(EchoEndpoint):
    encoding = "bytes"


@pytest.mark.parametrize(
    ("endpoint", "message", "error"),
    [
        (JSONEndpoint, {"text": "{"}, "Malformed JSON data received."),
        (JSONEndpoint, {"bytes": b"\xff\xfe"}, "Malformed JSON data received."),
        (JSONEndpoint, {"text": "[" * 100_000}, "Malformed JSON data received."),
        (JSONEndpoint, {"bytes": b"[" * 100_000}, "Malformed JSON data received."),
        (TextEndpoint, {"bytes": b"binary"}, "Expected text websocket messages, but got bytes"),
        (BytesEndpoint, {"text": "text"}, "Expected bytes websocket messages, but got text"),
    ],
)
async def test_undecodable_messages_close_with_1003(
    endpoint: type[WebSocketEndpoint], message: dict[str, Any], error: str
) -> None:
    app = Stellate(routes=[WebSocketRoute("/ws", endpoint)])
    incoming: Message = {"type": "websocket.receive", **message}
    sent: list[Message] = []

    # The endpoint closes the socket, then raises for the server to log, as Starlette's.
    with pytest.raises(RuntimeError, match=error):
        await websocket_session(app, websocket_scope("/ws"), [incoming], sent=sent)

    assert accepted(sent)
    assert close_of(sent)[0] == 1003


async def test_a_large_message_is_delivered_whole() -> None:
    # Plain WebSockets have no size limit of their own (the server's applies): a
    # large message reaches the endpoint intact.
    app = Stellate(routes=[WebSocketRoute("/ws", TextEndpoint)])
    big = "y" * 10_000_000

    sent = await websocket_session(
        app, websocket_scope("/ws"), [{"type": "websocket.receive", "text": big}], wait=0.5
    )

    (reply,) = [message for message in sent if message["type"] == "websocket.send"]
    assert reply["text"] == repr(big)


# The GraphQL endpoint


def graphql_app(**options: Any) -> Stellate:
    schema = "type Query { hello: String }"
    graphql = GraphQL(schema, resolvers={"Query": {"hello": lambda *_: "world"}}, **options)
    return Stellate(routes=[Mount("/graphql", graphql)])


def graphql_scope(
    *headers: tuple[bytes, bytes], subprotocols: tuple[str, ...] = (TRANSPORT_WS,)
) -> Scope:
    return websocket_scope(
        "/graphql/", headers=[(b"host", b"testserver"), *headers], subprotocols=subprotocols
    )


def text(value: Any) -> Message:
    return {
        "type": "websocket.receive",
        "text": value if isinstance(value, str) else json.dumps(value),
    }


INIT = text({"type": "connection_init"})


@pytest.mark.parametrize(
    ("messages", "close"),
    [
        pytest.param([text(HUGE)], (4400, "Message too large"), id="huge-text"),
        pytest.param(
            [{"type": "websocket.receive", "bytes": HUGE.encode()}],
            (4400, "Message too large"),
            id="huge-bytes",
        ),
        pytest.param([text("{")], (4400, "Message is not valid JSON"), id="not-json"),
        pytest.param([text("[" * 100_000)], (4400, "Message is not valid JSON"), id="nested"),
        pytest.param(
            [{"type": "websocket.receive", "bytes": b"\xff"}],
            (4400, "Message is not UTF-8 text"),
            id="not-utf8",
        ),
        pytest.param(
            [text([1, 2])], (4400, "Message is not an object with a string 'type'"), id="list"
        ),
        pytest.param(
            [text({"type": "subscribe", "id": "1", "payload": {"query": "{ hello }"}})],
            (4401, "Unauthorized"),
            id="subscribe-before-init",
        ),
        pytest.param([INIT, INIT], (4429, "Too many initialisation requests"), id="two-inits"),
        pytest.param(
            [INIT, text({"type": "x" * 10_000})],
            (4400, "Unexpected message type " + repr("x" * 10_000)),
            id="unknown-type",
        ),
    ],
)
async def test_graphql_closes_on_hostile_messages(
    messages: list[Message], close: tuple[int, str]
) -> None:
    sent = await websocket_session(graphql_app(), graphql_scope(), messages)

    # A close reason is cut to fit in a control frame (123 bytes).
    assert close_of(sent) == (close[0], close[1].encode()[:123].decode())


@pytest.mark.parametrize(
    "subprotocols",
    [(), ("graphql-transport-wsx",), tuple(f"p{i}" for i in range(10_000)), ("",)],
)
async def test_graphql_refuses_unknown_subprotocols(subprotocols: tuple[str, ...]) -> None:
    sent = await websocket_session(graphql_app(), graphql_scope(subprotocols=subprotocols), [])

    assert not accepted(sent)
    assert close_of(sent) == (4406, "Subprotocol not acceptable")


@pytest.mark.parametrize(
    "origin",
    [
        b"https://evil.com",
        b"https://testserver.evil.com",
        b"null",
        b"http://[::1",
        b"http://[evil",
        b"http://testserver:99999999",
        b"\xff\xfe",
        b"x" * 100_000,
    ],
)
async def test_graphql_refuses_cross_site_handshakes(origin: bytes) -> None:
    app = graphql_app(allowed_origins=["https://app.example"])

    sent = await websocket_session(app, graphql_scope((b"origin", origin)), [])

    assert not accepted(sent)
    assert close_of(sent) == (1008, "Origin not allowed")


@pytest.mark.parametrize("origin", [b"https://app.example", b"http://testserver"])
async def test_graphql_accepts_allowed_origins(origin: bytes) -> None:
    app = graphql_app(allowed_origins=["https://app.example"])

    sent = await websocket_session(app, graphql_scope((b"origin", origin)), [INIT], wait=0.2)

    assert accepted(sent)
    assert {"type": "connection_ack"} in [
        json.loads(message["text"]) for message in sent if message["type"] == "websocket.send"
    ]
