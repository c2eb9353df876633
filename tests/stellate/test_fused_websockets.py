"""WebSockets through the fused stack: served as the layers serve them.

A plain `WebSocketRoute`'s endpoint gets its session from the fused stack itself;
anything else goes to the route's `handle`. As in `test_fused_stack`, every
application runs three ways (fused, fused under a middleware of the user's, layered),
and all must behave alike: what the client receives, how the socket closes, what the
endpoint and the handlers see, and the exception the server sees.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from stellate.applications import Stellate
from stellate.endpoints import WebSocketEndpoint
from stellate.exceptions import HTTPException, WebSocketException
from stellate.middleware import Middleware
from stellate.responses import PlainTextResponse
from stellate.routing import BaseRoute, Match, Mount, Router, WebSocketRoute
from stellate.testclient import WebSocketDenialResponse
from stellate.types import ASGIApp, Receive, Scope, Send
from stellate.websockets import WebSocket, WebSocketDisconnect
from tests.conftest import TestClientFactory
from tests.stellate.test_fused_stack import assert_fewer_frames, variants

# What the client saw (messages, then how it ended) and the exception the server saw.
WebSocketOutcome = tuple[list[str], str | None]


class Custom(Exception):
    pass


class Other(Exception):
    pass


# The connection each handler was given, and each endpoint's own session.
handled: list[tuple[str, object]] = []
sessions: list[WebSocket] = []


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("echo " + await websocket.receive_text())
    await websocket.close()


async def describe(websocket: WebSocket) -> None:
    await websocket.accept()
    route = websocket.scope["route"]
    await websocket.send_json(
        {
            "params": websocket.path_params,
            "route": route.path,
            "endpoint": websocket.scope["endpoint"].__name__,
            "root_path": websocket.scope["root_path"],
            "router": websocket.scope["router"] is websocket.scope["app"].router,
        }
    )
    await websocket.close()


async def refuses(websocket: WebSocket) -> None:
    await websocket.accept()
    raise WebSocketException(code=4001, reason="refused")


async def denies(websocket: WebSocket) -> None:
    raise HTTPException(status_code=403, detail="not you")


async def raises_custom(websocket: WebSocket) -> None:
    sessions.append(websocket)
    await websocket.accept()
    raise Custom("handled")


async def raises_other(websocket: WebSocket) -> None:
    sessions.append(websocket)
    await websocket.accept()
    raise Other("its handler fails")


async def denies_then_raises(websocket: WebSocket) -> None:
    await websocket.send_denial_response(PlainTextResponse("no", status_code=401))
    raise Custom("after the denial")


async def starts_denial_then_raises(websocket: WebSocket) -> None:
    await websocket.send({"type": "websocket.http.response.start", "status": 401, "headers": []})
    raise Custom("after the denial's start")


async def crashes(websocket: WebSocket) -> None:
    await websocket.accept()
    raise RuntimeError("unhandled")


async def on_custom(websocket: WebSocket, exc: Exception) -> None:
    handled.append(("custom", websocket))
    await websocket.close(code=4002, reason=str(exc))


async def on_other(websocket: WebSocket, exc: Exception) -> None:
    handled.append(("other", websocket))
    raise Custom("from the handler")


class Greeter(WebSocketEndpoint):
    encoding = "text"

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_text("greeter " + data)
        await websocket.close()


class FailingGreeter(WebSocketEndpoint):
    async def on_connect(self, websocket: WebSocket) -> None:
        raise Other("an endpoint class fails")


class Tag:
    """Route middleware: the route's app is no longer the bare adapter."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["tagged"] = True
        await self.app(scope, receive, send)


async def tagged(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(f"tagged {websocket.scope.get('tagged')}")
    await websocket.close()


class FailingRoute(BaseRoute):
    """A route whose matching fails for one path."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["path"] == "/route-fails":
            raise Custom("matching failed")
        return Match.NONE, {}


async def echo_tag(scope: Scope, receive: Receive, send: Send) -> None:
    # An ASGI app in place of a route's adapter: says whether `Tag` ran around it.
    await tagged(WebSocket(scope, receive, send))


ROUTES: list[BaseRoute] = [
    WebSocketRoute("/echo", echo),
    WebSocketRoute("/items/{number:int}", describe),
    WebSocketRoute("/refuses", refuses),
    WebSocketRoute("/denies", denies),
    WebSocketRoute("/custom", raises_custom),
    WebSocketRoute("/other", raises_other),
    WebSocketRoute("/crashes", crashes),
    WebSocketRoute("/denies-then-raises", denies_then_raises),
    WebSocketRoute("/starts-denial-then-raises", starts_denial_then_raises),
    WebSocketRoute("/greeter", Greeter),
    WebSocketRoute("/greeter-fails", FailingGreeter),
    WebSocketRoute("/tagged", tagged, middleware=[Middleware(Tag)]),
    Mount("/rooms/{room}", routes=[WebSocketRoute("/items/{number:int}", describe)]),
    Mount("/opaque", app=Router(routes=[WebSocketRoute("/echo", echo)], middleware=[])),
    # An application inside: its own stack, under the outer one's router.
    Mount("/inner", app=Stellate(routes=[WebSocketRoute("/items/{number:int}", describe)])),
    FailingRoute(),
]


def build(middleware: list[Middleware]) -> Stellate:
    return Stellate(
        routes=ROUTES,
        middleware=middleware,
        exception_handlers={Custom: on_custom, Other: on_other},
    )


def converse(client_factory: TestClientFactory, app: Stellate, path: str) -> WebSocketOutcome:
    """Connect, send "ping", and read until the socket closes."""
    seen: list[str] = []
    raised: str | None = None
    try:
        with client_factory(app).websocket_connect(path) as session:
            session.send_text("ping")
            while True:
                message = session.receive()
                if message["type"] == "websocket.close":
                    seen.append(f"closed {message['code']} {message.get('reason', '')}")
                    break
                seen.append(message.get("text") or repr(message.get("bytes")))
    except WebSocketDenialResponse as denial:
        seen.append(f"denied {denial.status_code} {denial.text}")
    except WebSocketDisconnect as exc:
        seen.append(f"disconnected {exc.code}")
    except Exception as exc:  # any other exception is part of the outcome
        raised = f"{type(exc).__name__}: {exc}"
    return seen, raised


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/echo", (["echo ping", "closed 1000 "], None)),
        (
            "/items/7",
            (
                [
                    '{"params":{"number":7},"route":"/items/{number:int}",'
                    '"endpoint":"describe","root_path":"","router":true}',
                    "closed 1000 ",
                ],
                None,
            ),
        ),
        (
            "/rooms/blue/items/8",
            (
                [
                    '{"params":{"room":"blue","number":8},"route":"/items/{number:int}",'
                    '"endpoint":"describe","root_path":"/rooms/blue","router":true}',
                    "closed 1000 ",
                ],
                None,
            ),
        ),
        ("/refuses", (["closed 4001 refused"], None)),
        ("/denies", (["denied 403 not you"], None)),
        ("/custom", (["closed 4002 handled"], None)),
        ("/other", (["closed 4002 from the handler"], None)),
        ("/crashes", ([], "RuntimeError: unhandled")),
        # A handled exception after a denial response began: too late for the handler.
        (
            "/denies-then-raises",
            ([], "RuntimeError: Caught handled exception, but response already started."),
        ),
        (
            "/starts-denial-then-raises",
            ([], "RuntimeError: Caught handled exception, but response already started."),
        ),
        ("/greeter", (["greeter ping", "closed 1000 "], None)),
        # Without the route's adapter, only `ExceptionMiddleware` answers, and what its
        # handler raises propagates.
        ("/greeter-fails", ([], "Custom: from the handler")),
        ("/tagged", (["tagged True", "closed 1000 "], None)),
        ("/opaque/echo", (["echo ping", "closed 1000 "], None)),
        ("/missing", (["disconnected 1000"], None)),
        # The inner application's router is not the outer one (recorded first).
        (
            "/inner/items/9",
            (
                [
                    '{"params":{"number":9},"route":"/items/{number:int}",'
                    '"endpoint":"describe","root_path":"/inner","router":false}',
                    "closed 1000 ",
                ],
                None,
            ),
        ),
        # Answered by `ExceptionMiddleware`'s handler, with a session of its own.
        ("/route-fails", (["disconnected 4002"], None)),
    ],
)
def test_websockets_behave_as_layered(
    test_client_factory: TestClientFactory, path: str, expected: WebSocketOutcome
) -> None:
    for app in variants(build):
        assert converse(test_client_factory, app, path) == expected


def test_handlers_get_the_endpoints_session_and_then_a_new_one(
    test_client_factory: TestClientFactory,
) -> None:
    # As the layers do: the route's adapter hands its handler the endpoint's session;
    # what that handler raises goes to `ExceptionMiddleware`, which makes its own.
    for app in variants(build):
        handled.clear()
        sessions.clear()
        converse(test_client_factory, app, "/custom")
        assert handled[0] == ("custom", sessions[0])
        handled.clear()
        sessions.clear()
        converse(test_client_factory, app, "/other")
        assert [name for name, _ in handled[:2]] == ["other", "custom"]
        assert handled[0][1] is sessions[0]
        assert isinstance(handled[1][1], WebSocket)
        assert handled[1][1] is not sessions[0]


def test_a_replaced_route_app_is_used(test_client_factory: TestClientFactory) -> None:
    route = WebSocketRoute("/echo", echo)
    for app in variants(lambda middleware: Stellate(routes=[route], middleware=middleware)):
        client = test_client_factory(app)
        with client.websocket_connect("/echo") as session:
            session.send_text("one")
            assert session.receive_text() == "echo one"
        original = route.app
        route.app = Tag(echo_tag)
        with client.websocket_connect("/echo") as session:
            assert session.receive_text() == "tagged True"
        route.app = original
        with client.websocket_connect("/echo") as session:
            session.send_text("two")
            assert session.receive_text() == "echo two"


def test_a_patched_websocket_route_keeps_the_layers(
    test_client_factory: TestClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    original = WebSocketRoute.handle

    async def patched(self: WebSocketRoute, scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(self.path)
        await original(self, scope, receive, send)

    monkeypatch.setattr(WebSocketRoute, "handle", patched)
    for app in variants(build):
        assert converse(test_client_factory, app, "/echo") == (["echo ping", "closed 1000 "], None)
    assert seen == ["/echo"] * 3


def test_the_fused_stack_is_shorter_for_websockets(test_client_factory: TestClientFactory) -> None:
    depths: list[int] = []

    async def measure(websocket: WebSocket) -> None:
        depths.append(len(inspect.stack(context=0)))
        await websocket.accept()
        await websocket.close()

    routes: list[BaseRoute] = [
        WebSocketRoute("/", measure),
        Mount("/a", routes=[Mount("/b", routes=[WebSocketRoute("/c", measure)])]),
    ]
    for app in variants(lambda middleware: Stellate(routes=routes, middleware=middleware)):
        client = test_client_factory(app)
        for path in ("/", "/a/b/c"):
            with client.websocket_connect(path):
                pass
    assert_fewer_frames(depths)
