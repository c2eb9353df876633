"""Hostile session cookies: anything but a valid, fresh, signed session is an empty one.

The session cookie is client input. Tampered, truncated, re-signed with another key,
expired, oversized, not base64, not JSON, not an object, nested past the recursion
limit: each gives an empty session (the request goes on, never a 500), and the
response does not touch the cookie unless the application writes the session.
"""

from __future__ import annotations

import json
import time
from base64 import b64decode, b64encode
from typing import Any

import itsdangerous
import pytest

from stellate.applications import Stellate
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, Response
from stellate_middleware import Middleware
from stellate_routing.routing import Route, WebSocketRoute
from stellate_sessions import SessionMiddleware
from stellate_websockets.websockets import WebSocket
from tests.conftest import TestClientFactory
from tests.security._asgi import http_scope, request

SECRET = "the right key"


def signed(payload: bytes, key: str = SECRET, *, age: float = 0) -> str:
    """`payload` signed as the middleware signs sessions, `age` seconds ago."""

    class Signer(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age)

    return Signer(key).sign(payload).decode()


def session_cookie(data: Any, key: str = SECRET, *, age: float = 0) -> str:
    return signed(b64encode(json.dumps(data).encode()), key, age=age)


VALID = session_cookie({"user": "alice"})

HOSTILE_COOKIES = {
    "tampered-payload": VALID.replace(VALID[2], "A" if VALID[2] != "A" else "B", 1),
    "tampered-signature": VALID[:-3] + ("AAA" if not VALID.endswith("AAA") else "BBB"),
    "truncated": VALID[: len(VALID) // 2],
    "signature-only": VALID.rpartition(".")[2],
    "payload-only": VALID.partition(".")[0],
    "wrong-key": session_cookie({"user": "admin"}, key="another key"),
    "expired": session_cookie({"user": "alice"}, age=15 * 24 * 3600),
    "from-the-future-wrong-key": session_cookie({"user": "x"}, key="k", age=-3600),
    "oversized": session_cookie({"user": "a" * 20_000}),
    "megabyte": "a" * 1_000_000,
    "not-base64": signed(b"!!!not base64!!!"),
    "not-json": signed(b64encode(b"not json")),
    "not-utf8": signed(b64encode(b"\xff\xfe\xfd")),
    "json-list": session_cookie(["user", "alice"]),
    "json-string": session_cookie("alice"),
    "json-null": session_cookie(None),
    "deeply-nested": signed(b64encode(b"[" * 5000 + b"]" * 5000)),
    "deeply-nested-object": signed(b64encode(b'{"a":' * 2000 + b"1" + b"}" * 2000)),
    "empty": "",
    "dots": "." * 10_000,
    "null": "null",
    "unicode": "\u00e9\u00e9\u00e9.\u00e9\u00e9.\u00e9",
}


async def show_session(request: Request) -> Response:
    return JSONResponse(dict(request.session))


async def write_session(request: Request) -> Response:
    request.session["visits"] = request.session.get("visits", 0) + 1
    return JSONResponse(dict(request.session))


def session_app() -> Stellate:
    return Stellate(
        routes=[Route("/", show_session), Route("/write", write_session)],
        middleware=[Middleware(SessionMiddleware, secret_key=SECRET)],
    )


@pytest.mark.anyio
@pytest.mark.parametrize("cookie", HOSTILE_COOKIES.values(), ids=HOSTILE_COOKIES.keys())
async def test_a_hostile_cookie_gives_an_empty_session(cookie: str) -> None:
    started = time.perf_counter()
    scope = http_scope(
        "/", headers=[(b"host", b"testserver"), (b"cookie", f"session={cookie}".encode())]
    )

    exchange = await request(session_app(), scope)

    assert exchange.status == 200
    assert exchange.body == b"{}"
    # Read but not written: the response varies by cookie, and leaves it alone.
    assert exchange.header_list("set-cookie") == []
    assert exchange.header("vary") == "Cookie"
    assert time.perf_counter() - started < 2.0


@pytest.mark.anyio
@pytest.mark.parametrize("cookie", HOSTILE_COOKIES.values(), ids=HOSTILE_COOKIES.keys())
async def test_writing_after_a_hostile_cookie_starts_a_fresh_session(cookie: str) -> None:
    scope = http_scope(
        "/write", headers=[(b"host", b"testserver"), (b"cookie", f"session={cookie}".encode())]
    )

    exchange = await request(session_app(), scope)

    assert exchange.status == 200
    assert exchange.body == b'{"visits":1}'
    (set_cookie,) = exchange.header_list("set-cookie")
    value = set_cookie.partition("=")[2].partition(";")[0]
    assert value != cookie
    # The new cookie holds only the fresh session, signed with the right key.
    payload = itsdangerous.TimestampSigner(SECRET).unsign(value)
    assert json.loads(b64decode(payload)) == {"visits": 1}


@pytest.mark.anyio
async def test_a_valid_cookie_is_read() -> None:
    # The control: the same app accepts a good cookie, so the refusals above are real.
    cookie = f"session={VALID}".encode()
    scope = http_scope("/", headers=[(b"host", b"testserver"), (b"cookie", cookie)])

    exchange = await request(session_app(), scope)

    assert exchange.body == b'{"user":"alice"}'


@pytest.mark.parametrize("cookie", HOSTILE_COOKIES.values(), ids=HOSTILE_COOKIES.keys())
def test_a_websocket_with_a_hostile_cookie_gets_an_empty_session(
    cookie: str, test_client_factory: TestClientFactory
) -> None:
    async def websocket_endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(dict(websocket.session))
        await websocket.close()

    app = Stellate(
        routes=[WebSocketRoute("/ws", websocket_endpoint)],
        middleware=[Middleware(SessionMiddleware, secret_key=SECRET)],
    )
    client = test_client_factory(app)

    cookie_header = f"session={cookie}".encode()
    with client.websocket_connect("/ws", headers={"cookie": cookie_header}) as websocket:
        assert websocket.receive_json() == {}
