"""GraphQL over WebSocket: the `graphql-transport-ws` subprotocol, the handshake checks
shared by both subprotocols (Origin, subprotocol choice), and cleanup."""

from __future__ import annotations

import json
import threading
from typing import Any

import anyio
import pytest

from stellate_asgi.types import Message
from stellate_graphql import GraphQL
from stellate_testclient import TestClient, WebSocketDenialResponse, WebSocketTestSession
from stellate_websockets import WebSocket, WebSocketDisconnect
from tests.conftest import TestClientFactory
from tests.graphql.websocket_helpers import Probe, expect_close, make_schema

PROTOCOL = "graphql-transport-ws"


def connect(client: TestClient, **kwargs: Any) -> Any:
    return client.websocket_connect("/", subprotocols=[PROTOCOL], **kwargs)


def init(websocket: WebSocketTestSession, payload: Any = None) -> Any:
    message: dict[str, Any] = {"type": "connection_init"}
    if payload is not None:
        message["payload"] = payload
    websocket.send_json(message)
    return websocket.receive_json()


def subscribe(websocket: WebSocketTestSession, op_id: str, query: str, **extra: Any) -> None:
    websocket.send_json({"id": op_id, "type": "subscribe", "payload": {"query": query, **extra}})


def make_client(factory: TestClientFactory, probe: Probe | None = None, **options: Any) -> Any:
    # No keep-alive unless a test asks: it would interleave with the messages under test.
    options.setdefault("keepalive_interval", None)
    return factory(GraphQL(make_schema(probe), **options))


# -- the handshake -------------------------------------------------------------------


def test_accepts_graphql_transport_ws(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        assert websocket.accepted_subprotocol == PROTOCOL
        assert init(websocket) == {"type": "connection_ack"}


def test_the_clients_order_of_preference_picks_the_subprotocol(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory)
    offered = ["chat", "graphql-ws", PROTOCOL]
    with client.websocket_connect("/", subprotocols=offered) as websocket:
        assert websocket.accepted_subprotocol == "graphql-ws"
    with client.websocket_connect("/", subprotocols=["chat", PROTOCOL, "graphql-ws"]) as websocket:
        assert websocket.accepted_subprotocol == PROTOCOL


@pytest.mark.parametrize("subprotocols", [None, ["chat"], ["GRAPHQL-TRANSPORT-WS"]])
def test_no_acceptable_subprotocol_refuses_the_handshake(
    test_client_factory: TestClientFactory, subprotocols: list[str] | None
) -> None:
    client = make_client(test_client_factory)
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/", subprotocols=subprotocols),
    ):
        pass  # pragma: no cover
    assert info.value.code == 4406
    assert info.value.reason == "Subprotocol not acceptable"


def test_origin_allow_list(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory, allowed_origins=["https://app.example.com"])
    with connect(client, headers={"origin": "https://app.example.com"}) as websocket:
        assert init(websocket) == {"type": "connection_ack"}
    # Origins compare case-insensitively, without a trailing slash.
    with connect(client, headers={"origin": "HTTPS://App.Example.com/"}) as websocket:
        assert init(websocket) == {"type": "connection_ack"}
    # No Origin header: not a browser, so not a cross-site request.
    with connect(client) as websocket:
        assert init(websocket) == {"type": "connection_ack"}
    # The app's own origin (GraphiQL served next to it) needs no listing.
    with connect(client, headers={"origin": "http://testserver"}) as websocket:
        assert init(websocket) == {"type": "connection_ack"}
    for origin in (
        "https://evil.example.com",
        "null",
        "https://app.example.com:8443",
        "http://testserver.evil.example.com",
        "http://evil.example.com/testserver",
    ):
        with (
            pytest.raises(WebSocketDenialResponse) as info,
            connect(client, headers={"origin": origin}),
        ):
            pass  # pragma: no cover
        assert info.value.status_code == 403
        assert info.value.text == "Origin not allowed."


def test_origin_wildcard_and_none_allow_any_origin(
    test_client_factory: TestClientFactory,
) -> None:
    for allowed in (["*"], None):
        client = make_client(test_client_factory, allowed_origins=allowed)
        with connect(client, headers={"origin": "https://anywhere.example"}) as websocket:
            assert init(websocket) == {"type": "connection_ack"}


@pytest.mark.anyio
async def test_origin_refused_with_close_1008_without_the_denial_extension() -> None:
    app = GraphQL(make_schema(), allowed_origins=["https://app.example.com"])
    scope = {
        "type": "websocket",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "scheme": "ws",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"origin", b"https://evil.example.com")],
        "subprotocols": [PROTOCOL],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await app(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Origin not allowed"}]


# -- connection_init -----------------------------------------------------------------


def test_on_connect_receives_the_payload_and_its_dict_is_the_ack_payload(
    test_client_factory: TestClientFactory,
) -> None:
    seen: list[Any] = []

    async def on_connect(websocket: WebSocket, payload: dict[str, Any] | None) -> Any:
        seen.append((websocket.url.path, payload))
        return {"server": "stellate"}

    client = make_client(test_client_factory, on_connect=on_connect)
    with connect(client) as websocket:
        ack = init(websocket, {"token": "abc"})
        assert ack == {"type": "connection_ack", "payload": {"server": "stellate"}}
    with connect(client) as websocket:
        init(websocket)
    assert seen == [("/", {"token": "abc"}), ("/", None)]


def test_sync_on_connect_runs_in_a_worker_thread(test_client_factory: TestClientFactory) -> None:
    threads: list[int] = []

    def on_connect(websocket: WebSocket, payload: dict[str, Any] | None) -> bool:
        threads.append(threading.get_ident())
        return payload == {"token": "good"}

    client = make_client(test_client_factory, on_connect=on_connect)
    with connect(client) as websocket:
        assert init(websocket, {"token": "good"}) == {"type": "connection_ack"}
        # Accepted: operations run.
        subscribe(websocket, "1", "{ hello }")
        assert websocket.receive_json()["type"] == "next"
    assert threads
    assert threads[0] != threading.get_ident()
    with connect(client) as websocket:
        websocket.send_json({"type": "connection_init", "payload": {"token": "bad"}})
        assert expect_close(websocket) == (4403, "Forbidden")


@pytest.mark.parametrize("result", [False, None, 0])
def test_falsy_on_connect_result_refuses_with_4403(
    test_client_factory: TestClientFactory, result: Any
) -> None:
    async def on_connect(websocket: WebSocket, payload: Any) -> Any:
        return result

    client = make_client(test_client_factory, on_connect=on_connect)
    with connect(client) as websocket:
        websocket.send_json({"type": "connection_init"})
        assert expect_close(websocket) == (4403, "Forbidden")


def test_empty_dict_from_on_connect_accepts(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory, on_connect=lambda websocket, payload: {})
    with connect(client) as websocket:
        assert init(websocket) == {"type": "connection_ack", "payload": {}}


def test_on_connect_failure_closes_with_4500(
    test_client_factory: TestClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async def on_connect(websocket: WebSocket, payload: Any) -> bool:
        raise RuntimeError("auth service down")

    client = make_client(test_client_factory, on_connect=on_connect)
    with connect(client) as websocket:
        websocket.send_json({"type": "connection_init"})
        assert expect_close(websocket) == (4500, "Internal server error")
    assert "auth service down" in caplog.text


def test_sync_on_connect_may_return_an_awaitable(test_client_factory: TestClientFactory) -> None:
    async def check(payload: Any) -> dict[str, Any]:
        return {"checked": payload}

    client = make_client(test_client_factory, on_connect=lambda websocket, payload: check(payload))
    with connect(client) as websocket:
        assert init(websocket, {"a": 1}) == {
            "type": "connection_ack",
            "payload": {"checked": {"a": 1}},
        }


def test_unserialisable_ack_payload_closes_with_4500(
    test_client_factory: TestClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(test_client_factory, on_connect=lambda websocket, payload: {"x": object()})
    with connect(client) as websocket:
        websocket.send_json({"type": "connection_init"})
        assert expect_close(websocket) == (4500, "Internal server error")
    assert "GraphQL WebSocket connection failed" in caplog.text


def test_on_connect_can_set_state_for_the_context(test_client_factory: TestClientFactory) -> None:
    async def on_connect(websocket: WebSocket, payload: Any) -> bool:
        websocket.state.user = payload["user"]
        return True

    def context(websocket: WebSocket) -> str:
        return f"user={websocket.state.user}"

    client = make_client(test_client_factory, on_connect=on_connect, context_value=context)
    with connect(client) as websocket:
        init(websocket, {"user": "ada"})
        subscribe(websocket, "1", "{ context }")
        assert websocket.receive_json()["payload"] == {"data": {"context": "user=ada"}}


def test_connection_init_timeout_closes_with_4408(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory, connection_init_timeout=0.05)
    with connect(client) as websocket:
        assert expect_close(websocket) == (4408, "Connection initialisation timeout")


def test_the_timeout_covers_a_slow_on_connect(test_client_factory: TestClientFactory) -> None:
    async def on_connect(websocket: WebSocket, payload: Any) -> bool:
        await anyio.sleep(10)
        return True  # pragma: no cover

    client = make_client(test_client_factory, on_connect=on_connect, connection_init_timeout=0.05)
    with connect(client) as websocket:
        websocket.send_json({"type": "connection_init"})
        assert expect_close(websocket) == (4408, "Connection initialisation timeout")


def test_no_timeout_once_acknowledged(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory, connection_init_timeout=0.05)
    with connect(client) as websocket:
        init(websocket)
        wait_in_test_thread(0.15)
        websocket.send_json({"type": "ping"})
        assert websocket.receive_json() == {"type": "pong"}


def test_second_connection_init_closes_with_4429(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        websocket.send_json({"type": "connection_init"})
        assert expect_close(websocket) == (4429, "Too many initialisation requests")


def test_subscribe_before_ack_closes_with_4401(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        subscribe(websocket, "1", "{ hello }")
        assert expect_close(websocket) == (4401, "Unauthorized")


# -- ping / pong / keep-alive ----------------------------------------------------------


def test_ping_is_answered_with_pong_before_and_after_init(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        websocket.send_json({"type": "ping"})
        assert websocket.receive_json() == {"type": "pong"}
        init(websocket)
        websocket.send_json({"type": "ping", "payload": {"at": 1}})
        assert websocket.receive_json() == {"type": "pong"}
        # An unsolicited pong is a heartbeat: accepted, not answered.
        websocket.send_json({"type": "pong", "payload": {"at": 2}})
        websocket.send_json({"type": "ping"})
        assert websocket.receive_json() == {"type": "pong"}


def test_keepalive_interval_sends_pings(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory, keepalive_interval=0.02)
    with connect(client) as websocket:
        init(websocket)
        assert websocket.receive_json() == {"type": "ping"}
        assert websocket.receive_json() == {"type": "ping"}
        websocket.send_json({"type": "pong"})


def test_no_pings_without_keepalive_interval(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory, keepalive_interval=None)
    with connect(client) as websocket:
        init(websocket)
        wait_in_test_thread(0.05)
        subscribe(websocket, "1", "{ hello }")
        assert websocket.receive_json()["type"] == "next"


# -- operations ----------------------------------------------------------------------


def test_query_is_answered_with_one_next_and_complete(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        subscribe(
            websocket,
            "q1",
            "query Greet($name: String) { hello(name: $name) }",
            variables={"name": "Ada"},
            operationName="Greet",
        )
        assert websocket.receive_json() == {
            "id": "q1",
            "type": "next",
            "payload": {"data": {"hello": "Hello, Ada!"}},
        }
        assert websocket.receive_json() == {"id": "q1", "type": "complete"}


def test_mutation_is_answered_with_one_next_and_complete(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "m", 'mutation { echo(message: "hi") }')
        assert websocket.receive_json() == {
            "id": "m",
            "type": "next",
            "payload": {"data": {"echo": "hi"}},
        }
        assert websocket.receive_json() == {"id": "m", "type": "complete"}


def test_subscription_streams_next_messages_then_complete(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "s", "subscription { count(to: 3) }")
        for number in (1, 2, 3):
            assert websocket.receive_json() == {
                "id": "s",
                "type": "next",
                "payload": {"data": {"count": number}},
            }
        assert websocket.receive_json() == {"id": "s", "type": "complete"}


def test_operations_interleave_on_one_connection(test_client_factory: TestClientFactory) -> None:
    probe = Probe()
    client = make_client(test_client_factory, probe)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "ticks", "subscription { ticks }")
        assert websocket.receive_json()["payload"] == {"data": {"ticks": 1}}
        subscribe(websocket, "q", "{ hello }")
        assert websocket.receive_json() == {
            "id": "q",
            "type": "next",
            "payload": {"data": {"hello": "Hello, world!"}},
        }
        assert websocket.receive_json() == {"id": "q", "type": "complete"}
        websocket.send_json({"id": "ticks", "type": "complete"})
        assert probe.closed.wait(5)


def test_context_and_root_values(test_client_factory: TestClientFactory) -> None:
    async def context(websocket: WebSocket) -> str:
        return f"ctx:{websocket.url.path}"

    client = make_client(test_client_factory, context_value=context, root_value="the-root")
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "1", "{ context root }")
        assert websocket.receive_json()["payload"] == {
            "data": {"context": "ctx:/", "root": "the-root"}
        }
        assert websocket.receive_json() == {"id": "1", "type": "complete"}
        subscribe(websocket, "2", "subscription { withContext }")
        assert websocket.receive_json()["payload"] == {"data": {"withContext": "1:ctx:/"}}


def test_validation_errors_are_an_error_message_without_complete(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "bad", "{ nope }")
        message = websocket.receive_json()
        assert message["id"] == "bad"
        assert message["type"] == "error"
        assert message["payload"][0]["message"] == "Cannot query field 'nope' on type 'Query'."
        assert message["payload"][0]["locations"] == [{"line": 1, "column": 3}]
        # No complete follows; the connection goes on, and the id is free again.
        subscribe(websocket, "bad", "{ hello }")
        assert websocket.receive_json()["type"] == "next"
        assert websocket.receive_json() == {"id": "bad", "type": "complete"}


def test_syntax_error_is_an_error_message(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "1", "{ hello")
        message = websocket.receive_json()
        assert message["type"] == "error"
        assert message["payload"][0]["message"].startswith("Syntax Error")


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({}, "The 'query' parameter is missing."),
        ({"query": "  "}, "The 'query' parameter is empty."),
        (
            {"query": "query A { hello } query B { hello }"},
            "The document contains several operations: 'operationName' must name one.",
        ),
        (
            {"query": "{ hello }", "operationName": "Nope"},
            "The document has no operation named 'Nope'.",
        ),
    ],
)
def test_request_errors_are_an_error_message(
    test_client_factory: TestClientFactory, payload: dict[str, Any], error: str
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        websocket.send_json({"id": "1", "type": "subscribe", "payload": payload})
        assert websocket.receive_json() == {
            "id": "1",
            "type": "error",
            "payload": [{"message": error}],
        }


def test_variable_errors_are_a_next_with_errors(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        query = "query ($name: String!) { hello(name: $name) }"
        subscribe(websocket, "1", query, variables={})
        message = websocket.receive_json()
        assert message["type"] == "next"
        assert "data" not in message["payload"]
        assert "$name" in message["payload"]["errors"][0]["message"]
        assert websocket.receive_json() == {"id": "1", "type": "complete"}


def test_resolver_errors_are_masked_outside_debug(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "1", "{ boom }")
        message = websocket.receive_json()
        assert message["type"] == "next"
        assert message["payload"] == {
            "data": {"boom": None},
            "errors": [
                {
                    "message": "Unexpected error.",
                    "locations": [{"line": 1, "column": 3}],
                    "path": ["boom"],
                }
            ],
        }
        assert "hunter2" not in str(message)


def test_resolver_errors_show_in_debug(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory, debug=True)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "1", "{ boom }")
        error = websocket.receive_json()["payload"]["errors"][0]
        assert error["message"] == "database password is hunter2"


def test_error_formatter_formats_websocket_errors(test_client_factory: TestClientFactory) -> None:
    def formatter(error: Any, debug: bool) -> dict[str, Any]:
        return {"message": error.message.upper(), "extensions": {"debug": debug}}

    client = make_client(test_client_factory, error_formatter=formatter)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "1", "{ nope }")
        message = websocket.receive_json()
        assert message["payload"] == [
            {
                "message": "CANNOT QUERY FIELD 'NOPE' ON TYPE 'QUERY'.",
                "extensions": {"debug": False},
            }
        ]


def test_subscription_refused_by_its_resolver_is_an_error_message(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "1", "subscription { refused }")
        message = websocket.receive_json()
        assert message["type"] == "error"
        assert message["payload"][0]["message"] == "You may not subscribe to this."
        websocket.send_json({"type": "ping"})
        assert websocket.receive_json() == {"type": "pong"}


def test_failing_subscription_source_ends_with_a_masked_error(
    test_client_factory: TestClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "1", "subscription { broken }")
        assert websocket.receive_json()["payload"] == {"data": {"broken": 1}}
        assert websocket.receive_json() == {
            "id": "1",
            "type": "error",
            "payload": [{"message": "Unexpected error."}],
        }
        # The connection survives the failed operation.
        subscribe(websocket, "2", "{ hello }")
        assert websocket.receive_json()["type"] == "next"
    assert "upstream password is hunter2" in caplog.text


def test_graphql_error_from_the_source_is_sent_as_is(
    test_client_factory: TestClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "1", "subscription { revoked }")
        assert websocket.receive_json()["payload"] == {"data": {"revoked": 1}}
        assert websocket.receive_json() == {
            "id": "1",
            "type": "error",
            "payload": [{"message": "Access revoked.", "extensions": {"code": "REVOKED"}}],
        }
    # An error meant for the client is not an incident to log.
    assert "Access revoked" not in caplog.text


def test_failing_context_ends_the_operation_with_a_masked_error(
    test_client_factory: TestClientFactory,
) -> None:
    def context(websocket: WebSocket) -> Any:
        raise RuntimeError("context secret")

    client = make_client(test_client_factory, context_value=context)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "1", "{ hello }")
        assert websocket.receive_json() == {
            "id": "1",
            "type": "error",
            "payload": [{"message": "Unexpected error."}],
        }


# -- complete, duplicates, limits, cleanup --------------------------------------------


def test_complete_from_the_client_closes_the_generator(
    test_client_factory: TestClientFactory,
) -> None:
    probe = Probe()
    client = make_client(test_client_factory, probe)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "s", "subscription { ticks }")
        assert websocket.receive_json()["payload"] == {"data": {"ticks": 1}}
        websocket.send_json({"id": "s", "type": "complete"})
        assert probe.closed.wait(5)
        # Nothing more for "s" (no complete echoed back); the id can be reused.
        subscribe(websocket, "s", "{ hello }")
        assert websocket.receive_json() == {
            "id": "s",
            "type": "next",
            "payload": {"data": {"hello": "Hello, world!"}},
        }


def test_complete_for_a_busy_subscription_stops_it(
    test_client_factory: TestClientFactory,
) -> None:
    probe = Probe()
    client = make_client(test_client_factory, probe)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "s", "subscription { forever }")
        assert websocket.receive_json()["type"] == "next"
        websocket.send_json({"id": "s", "type": "complete"})
        assert probe.closed.wait(5)
        websocket.send_json({"type": "ping"})
        # Events already in flight may arrive; then only the pong.
        while (message := websocket.receive_json()) != {"type": "pong"}:
            assert message["id"] == "s"
            assert message["type"] == "next"


def test_complete_before_a_query_resolves_cancels_it(
    test_client_factory: TestClientFactory,
) -> None:
    probe = Probe()
    client = make_client(test_client_factory, probe)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "q", "{ slow }")
        assert probe.started.wait(5)
        websocket.send_json({"id": "q", "type": "complete"})
        assert probe.closed.wait(5)
        # No result and no complete for "q": the pong is the next message.
        websocket.send_json({"type": "ping"})
        assert websocket.receive_json() == {"type": "pong"}


def test_complete_for_an_unknown_id_is_ignored(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        websocket.send_json({"id": "never-started", "type": "complete"})
        websocket.send_json({"type": "ping"})
        assert websocket.receive_json() == {"type": "pong"}


def test_disconnect_closes_every_subscription(test_client_factory: TestClientFactory) -> None:
    probe = Probe()
    client = make_client(test_client_factory, probe)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "s", "subscription { ticks }")
        assert websocket.receive_json()["type"] == "next"
        assert not probe.closed.is_set()
    assert probe.closed.wait(5)


def test_protocol_error_closes_every_subscription(test_client_factory: TestClientFactory) -> None:
    probe = Probe()
    client = make_client(test_client_factory, probe)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "s", "subscription { ticks }")
        assert websocket.receive_json()["type"] == "next"
        websocket.send_text("not json")
        assert expect_close(websocket) == (4400, "Message is not valid JSON")
        assert probe.closed.wait(5)


def test_duplicate_id_closes_with_4409(test_client_factory: TestClientFactory) -> None:
    probe = Probe()
    client = make_client(test_client_factory, probe)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "dup", "subscription { ticks }")
        assert websocket.receive_json()["type"] == "next"
        subscribe(websocket, "dup", "{ hello }")
        assert expect_close(websocket) == (4409, "Subscriber for dup already exists")
    assert probe.closed.wait(5)


def test_a_long_id_is_cut_to_fit_the_close_reason(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    op_id = "é" * 200
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, op_id, "subscription { ticks }")
        assert websocket.receive_json()["type"] == "next"
        subscribe(websocket, op_id, "subscription { ticks }")
        code, reason = expect_close(websocket)
        assert code == 4409
        assert reason.startswith("Subscriber for éé")
        assert len(reason.encode()) <= 123


def test_max_subscriptions_refuses_the_operation_over_the_limit(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory, max_subscriptions=2)
    with connect(client) as websocket:
        init(websocket)
        for op_id in ("a", "b"):
            subscribe(websocket, op_id, "subscription { ticks }")
            assert websocket.receive_json()["id"] == op_id
        subscribe(websocket, "c", "subscription { ticks }")
        assert websocket.receive_json() == {
            "id": "c",
            "type": "error",
            "payload": [
                {"message": "Too many active operations on this connection: the limit is 2."}
            ],
        }
        # Completing one frees a place.
        websocket.send_json({"id": "a", "type": "complete"})
        subscribe(websocket, "c", "subscription { ticks }")
        assert websocket.receive_json() == {
            "id": "c",
            "type": "next",
            "payload": {"data": {"ticks": 1}},
        }


# -- bad messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("not json", "Message is not valid JSON"),
        ("[1, 2]", "Message is not an object with a string 'type'"),
        ('{"id": "1"}', "Message is not an object with a string 'type'"),
        ('{"type": 3}', "Message is not an object with a string 'type'"),
        ('{"type": "start"}', "Unexpected message type 'start'"),
        ('{"type": "next", "id": "1", "payload": {}}', "Unexpected message type 'next'"),
        ('{"type": "connection_ack"}', "Unexpected message type 'connection_ack'"),
        (
            '{"type": "connection_init", "payload": "x"}',
            "The 'connection_init' payload must be an object",
        ),
        ('{"type": "ping", "payload": [1]}', "The 'ping' payload must be an object"),
        ('{"type": "pong", "payload": 1}', "The 'pong' payload must be an object"),
        ('{"type": "complete"}', "'complete' needs a non-empty string 'id'"),
        ("[" * 100_000 + "]" * 100_000, "Message is not valid JSON"),
    ],
)
def test_malformed_messages_close_with_4400(
    test_client_factory: TestClientFactory, message: str, reason: str
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        websocket.send_text(message)
        assert expect_close(websocket) == (4400, reason)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            {"type": "subscribe", "payload": {"query": "{ hello }"}},
            "'subscribe' needs a non-empty string 'id'",
        ),
        (
            {"type": "subscribe", "id": "", "payload": {"query": "{ hello }"}},
            "'subscribe' needs a non-empty string 'id'",
        ),
        (
            {"type": "subscribe", "id": 1, "payload": {"query": "{ hello }"}},
            "'subscribe' needs a non-empty string 'id'",
        ),
        ({"type": "subscribe", "id": "1"}, "'subscribe' needs an object 'payload'"),
        (
            {"type": "subscribe", "id": "1", "payload": "{ hello }"},
            "'subscribe' needs an object 'payload'",
        ),
        (
            {"type": "subscribe", "id": "1", "payload": {"query": 1}},
            "The 'query' of the payload must be a string",
        ),
        (
            {"type": "subscribe", "id": "1", "payload": {"query": "{ hello }", "variables": [1]}},
            "The 'variables' of the payload must be an object",
        ),
        (
            {"type": "subscribe", "id": "1", "payload": {"query": "{ hello }", "operationName": 1}},
            "The 'operationName' of the payload must be a string",
        ),
        (
            {"type": "subscribe", "id": "1", "payload": {"query": "{ hello }", "extensions": "x"}},
            "The 'extensions' of the payload must be an object",
        ),
    ],
)
def test_malformed_subscribe_closes_with_4400(
    test_client_factory: TestClientFactory, message: dict[str, Any], reason: str
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        websocket.send_json(message)
        assert expect_close(websocket) == (4400, reason)


def test_messages_over_the_size_limit_close_with_4400(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory)
    padding = " " * (1024 * 1024)
    with connect(client) as websocket:
        websocket.send_text('{"type": "ping"}' + padding)
        assert expect_close(websocket) == (4400, "Message too large")
    with connect(client) as websocket:
        websocket.send_bytes(b'{"type": "ping"}' + padding.encode())
        assert expect_close(websocket) == (4400, "Message too large")


def test_binary_frames_carry_json_too(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        websocket.send_json({"type": "connection_init"}, mode="binary")
        assert websocket.receive_json() == {"type": "connection_ack"}
        websocket.send_bytes(b"\xff\xfe")
        assert expect_close(websocket) == (4400, "Message is not UTF-8 text")


def test_client_close_ends_the_connection(test_client_factory: TestClientFactory) -> None:
    probe = Probe()
    client = make_client(test_client_factory, probe)
    with connect(client) as websocket:
        init(websocket)
        subscribe(websocket, "s", "subscription { ticks }")
        assert websocket.receive_json()["type"] == "next"
        websocket.close(1000)
        assert probe.closed.wait(5)


@pytest.mark.anyio
@pytest.mark.parametrize("failing", ["next", "ping", "pong"])
async def test_a_client_that_vanishes_ends_the_connection(failing: str) -> None:
    # The server cannot write any more (the peer is gone): whichever task hits it, the
    # connection ends, every subscription is closed and the app returns.
    probe = Probe()
    app = GraphQL(make_schema(probe), keepalive_interval=0.01 if failing == "ping" else None)
    incoming: list[Message] = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": '{"type": "connection_init"}'},
        {
            "type": "websocket.receive",
            "text": json.dumps(
                {"id": "s", "type": "subscribe", "payload": {"query": "subscription { ticks }"}}
            ),
        },
    ]
    if failing == "pong":
        incoming.append({"type": "websocket.receive", "text": '{"type": "ping"}'})
    sent: list[Message] = []

    async def receive() -> Message:
        if incoming:
            return incoming.pop(0)
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    async def send(message: Message) -> None:
        if f'"type":"{failing}"' in message.get("text", ""):
            raise OSError("connection reset")
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/",
        "headers": [],
        "subprotocols": [PROTOCOL],
        "query_string": b"",
    }
    with anyio.fail_after(5):
        await app(scope, receive, send)
    assert sent[0]["type"] == "websocket.accept"
    assert sent[1] == {"type": "websocket.send", "text": '{"type":"connection_ack"}'}
    assert all(message["type"] != "websocket.close" for message in sent)
    if failing != "next":
        assert probe.started.is_set()
        assert probe.closed.is_set()


def wait_in_test_thread(seconds: float) -> None:
    """Let the app's clock run while the test thread waits."""
    threading.Event().wait(seconds)
