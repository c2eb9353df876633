"""WebSocket routes under each real server, driven by the `websockets` client library."""

from __future__ import annotations

import json
import os

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.servers.conftest import Server

# Every receive is bounded: a server that never answers fails the test.
TIMEOUT = 10.0


def test_greeting_carries_path_query_and_lifespan_state(server: Server) -> None:
    with open_socket(f"{server.ws_url}/ws/lobby?lang=en&n=1") as websocket:
        greeting = json.loads(websocket.recv(timeout=TIMEOUT))
    pid = httpx.get(f"{server.url}/lifespan").json()["pid"]
    assert greeting == {
        "room": "lobby",
        "query": {"lang": "en", "n": "1"},
        "session": {},
        "pid": pid,
    }


def test_text_and_binary_echo(server: Server) -> None:
    with open_socket(f"{server.ws_url}/ws/echo") as websocket:
        websocket.recv(timeout=TIMEOUT)
        for number in range(50):
            websocket.send(f"message {number} ☃")
            assert websocket.recv(timeout=TIMEOUT) == f"echo: message {number} ☃"
        websocket.send(b"\x00\x01\x02\xff")
        assert websocket.recv(timeout=TIMEOUT) == b"\xff\x02\x01\x00"


def test_large_messages_in_both_directions(server: Server) -> None:
    # 256 KiB: many TCP segments, and frames the server must reassemble.
    payload = os.urandom(256 * 1024)
    with open_socket(f"{server.ws_url}/ws/large") as websocket:
        websocket.recv(timeout=TIMEOUT)
        websocket.send(payload)
        assert websocket.recv(timeout=TIMEOUT) == payload[::-1]


def test_server_close_code_and_reason_reach_the_client(server: Server) -> None:
    with open_socket(f"{server.ws_url}/ws/closing") as websocket:
        websocket.recv(timeout=TIMEOUT)
        websocket.send("bye")
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "bye to you")


def test_session_cookie_reaches_the_websocket(server: Server, client: httpx.Client) -> None:
    client.post("/session", json={"user": "ada"})
    cookie = f"session={client.cookies['session']}"
    with open_socket(f"{server.ws_url}/ws/private", headers={"cookie": cookie}) as websocket:
        greeting = json.loads(websocket.recv(timeout=TIMEOUT))
    assert greeting["session"] == {"user": "ada"}


def test_client_close_leaves_the_server_serving(server: Server) -> None:
    for _ in range(3):
        with open_socket(f"{server.ws_url}/ws/again") as websocket:
            websocket.recv(timeout=TIMEOUT)
            websocket.send("still there?")
            assert websocket.recv(timeout=TIMEOUT) == "echo: still there?"
        # Leaving the block closed it with 1000; the next connection must work.
        assert websocket.close_code == 1000


@pytest.mark.parametrize("path", ["/ws-refused", "/no-such-socket"])
def test_refused_handshake_is_403(server: Server, path: str) -> None:
    # Closing before accepting (explicitly, or no route matching) refuses the upgrade.
    with pytest.raises(InvalidStatus) as refused:
        open_socket(server.ws_url + path)
    assert refused.value.response.status_code == 403


def open_socket(url: str, headers: dict[str, str] | None = None) -> ClientConnection:
    return connect(url, additional_headers=headers, open_timeout=TIMEOUT, close_timeout=TIMEOUT)
