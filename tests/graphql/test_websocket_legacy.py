"""GraphQL over WebSocket: the legacy `graphql-ws` subprotocol (subscriptions-transport-ws)."""

from __future__ import annotations

from typing import Any

import pytest

from stellate_graphql import GraphQL
from stellate_testclient import TestClient, WebSocketTestSession
from stellate_websockets import WebSocket
from tests.conftest import TestClientFactory
from tests.graphql.websocket_helpers import Probe, expect_close, make_schema

PROTOCOL = "graphql-ws"


def connect(client: TestClient, **kwargs: Any) -> Any:
    return client.websocket_connect("/", subprotocols=[PROTOCOL], **kwargs)


def init(websocket: WebSocketTestSession, payload: Any = None) -> Any:
    message: dict[str, Any] = {"type": "connection_init"}
    if payload is not None:
        message["payload"] = payload
    websocket.send_json(message)
    return websocket.receive_json()


def start(websocket: WebSocketTestSession, op_id: str, query: str, **extra: Any) -> None:
    websocket.send_json({"id": op_id, "type": "start", "payload": {"query": query, **extra}})


def make_client(factory: TestClientFactory, probe: Probe | None = None, **options: Any) -> Any:
    # No keep-alive unless a test asks: it would interleave with the messages under test.
    options.setdefault("keepalive_interval", None)
    return factory(GraphQL(make_schema(probe), **options))


def test_accepts_graphql_ws(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        assert websocket.accepted_subprotocol == PROTOCOL
        assert init(websocket) == {"type": "connection_ack"}


def test_on_connect_payload_and_ack_payload(test_client_factory: TestClientFactory) -> None:
    seen: list[Any] = []

    async def on_connect(websocket: WebSocket, payload: Any) -> Any:
        seen.append(payload)
        return {"welcome": True}

    client = make_client(test_client_factory, on_connect=on_connect)
    with connect(client) as websocket:
        ack = init(websocket, {"authToken": "t"})
        assert ack == {"type": "connection_ack", "payload": {"welcome": True}}
    assert seen == [{"authToken": "t"}]


def test_refused_on_connect_sends_connection_error_then_closes_4403(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory, on_connect=lambda websocket, payload: False)
    with connect(client) as websocket:
        assert init(websocket) == {"type": "connection_error", "payload": {"message": "Forbidden"}}
        assert expect_close(websocket) == (4403, "Forbidden")


def test_failing_on_connect_sends_connection_error_then_closes_4500(
    test_client_factory: TestClientFactory,
) -> None:
    async def on_connect(websocket: WebSocket, payload: Any) -> bool:
        raise RuntimeError("secret")

    client = make_client(test_client_factory, on_connect=on_connect)
    with connect(client) as websocket:
        assert init(websocket) == {
            "type": "connection_error",
            "payload": {"message": "Internal server error"},
        }
        assert expect_close(websocket) == (4500, "Internal server error")


def test_keepalive_sends_ka_right_after_the_ack_then_periodically(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory, keepalive_interval=0.02)
    with connect(client) as websocket:
        assert init(websocket) == {"type": "connection_ack"}
        assert websocket.receive_json() == {"type": "ka"}
        assert websocket.receive_json() == {"type": "ka"}


def test_query_is_answered_with_data_and_complete(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        start(websocket, "1", "query ($n: String) { hello(name: $n) }", variables={"n": "Bob"})
        assert websocket.receive_json() == {
            "id": "1",
            "type": "data",
            "payload": {"data": {"hello": "Hello, Bob!"}},
        }
        assert websocket.receive_json() == {"id": "1", "type": "complete"}


def test_mutation_is_answered_with_data_and_complete(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        start(websocket, "m", 'mutation { echo(message: "yo") }')
        assert websocket.receive_json()["payload"] == {"data": {"echo": "yo"}}
        assert websocket.receive_json() == {"id": "m", "type": "complete"}


def test_subscription_streams_data_then_complete(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        start(websocket, "s", "subscription { count(to: 2) }")
        assert websocket.receive_json() == {
            "id": "s",
            "type": "data",
            "payload": {"data": {"count": 1}},
        }
        assert websocket.receive_json()["payload"] == {"data": {"count": 2}}
        assert websocket.receive_json() == {"id": "s", "type": "complete"}


def test_resolver_errors_are_masked_data(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        start(websocket, "1", "{ boom }")
        payload = websocket.receive_json()["payload"]
        assert payload["data"] == {"boom": None}
        assert payload["errors"][0]["message"] == "Unexpected error."
        assert websocket.receive_json() == {"id": "1", "type": "complete"}


def test_validation_error_is_one_error_object(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        start(websocket, "1", "{ nope }")
        assert websocket.receive_json() == {
            "id": "1",
            "type": "error",
            "payload": {
                "message": "Cannot query field 'nope' on type 'Query'.",
                "locations": [{"line": 1, "column": 3}],
            },
        }
        start(websocket, "2", "{ hello }", operationName="Nope")
        assert websocket.receive_json() == {
            "id": "2",
            "type": "error",
            "payload": {"message": "The document has no operation named 'Nope'."},
        }


def test_failing_subscription_source_is_a_masked_error(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        start(websocket, "1", "subscription { broken }")
        assert websocket.receive_json()["type"] == "data"
        assert websocket.receive_json() == {
            "id": "1",
            "type": "error",
            "payload": {"message": "Unexpected error."},
        }


def test_stop_closes_the_generator_and_sends_complete(
    test_client_factory: TestClientFactory,
) -> None:
    probe = Probe()
    client = make_client(test_client_factory, probe)
    with connect(client) as websocket:
        init(websocket)
        start(websocket, "s", "subscription { ticks }")
        assert websocket.receive_json()["payload"] == {"data": {"ticks": 1}}
        websocket.send_json({"id": "s", "type": "stop"})
        assert websocket.receive_json() == {"id": "s", "type": "complete"}
        assert probe.closed.wait(5)
        # A stop for an operation that is not running is ignored.
        websocket.send_json({"id": "s", "type": "stop"})
        start(websocket, "q", "{ hello }")
        assert websocket.receive_json()["id"] == "q"


def test_connection_terminate_closes_and_cleans_up(test_client_factory: TestClientFactory) -> None:
    probe = Probe()
    client = make_client(test_client_factory, probe)
    with connect(client) as websocket:
        init(websocket)
        start(websocket, "s", "subscription { ticks }")
        assert websocket.receive_json()["type"] == "data"
        websocket.send_json({"type": "connection_terminate"})
        assert expect_close(websocket) == (1000, "")
    assert probe.closed.wait(5)


def test_disconnect_closes_every_subscription(test_client_factory: TestClientFactory) -> None:
    probe = Probe()
    client = make_client(test_client_factory, probe)
    with connect(client) as websocket:
        init(websocket)
        start(websocket, "s", "subscription { ticks }")
        assert websocket.receive_json()["type"] == "data"
    assert probe.closed.wait(5)


def test_start_before_init_closes_with_4401(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        start(websocket, "1", "{ hello }")
        assert expect_close(websocket) == (4401, "Unauthorized")


def test_init_timeout_closes_with_4408(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory, connection_init_timeout=0.05)
    with connect(client) as websocket:
        assert expect_close(websocket) == (4408, "Connection initialisation timeout")


def test_second_init_is_a_connection_error(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        assert init(websocket) == {
            "type": "connection_error",
            "payload": {"message": "Too many initialisation requests"},
        }
        start(websocket, "1", "{ hello }")
        assert websocket.receive_json()["type"] == "data"


def test_duplicate_start_is_an_error_for_that_id(test_client_factory: TestClientFactory) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        start(websocket, "s", "subscription { ticks }")
        assert websocket.receive_json()["type"] == "data"
        start(websocket, "s", "subscription { ticks }")
        assert websocket.receive_json() == {
            "id": "s",
            "type": "error",
            "payload": {"message": "Subscriber for s already exists"},
        }


def test_max_subscriptions_refuses_the_operation_over_the_limit(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory, max_subscriptions=1)
    with connect(client) as websocket:
        init(websocket)
        start(websocket, "a", "subscription { ticks }")
        assert websocket.receive_json()["id"] == "a"
        start(websocket, "b", "subscription { ticks }")
        assert websocket.receive_json() == {
            "id": "b",
            "type": "error",
            "payload": {
                "message": "Too many active operations on this connection: the limit is 1."
            },
        }


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("not json", "Message is not valid JSON"),
        ('"text"', "Message is not an object with a string 'type'"),
        ('{"type": "subscribe", "id": "1"}', "Unexpected message type 'subscribe'"),
        ('{"type": "ping"}', "Unexpected message type 'ping'"),
        (
            '{"type": "start", "payload": {"query": "{ hello }"}}',
            "'start' needs a non-empty string 'id'",
        ),
        ('{"type": "start", "id": "1"}', "'start' needs an object 'payload'"),
        (
            '{"type": "start", "id": "1", "payload": {"query": 5}}',
            "The 'query' of the payload must be a string",
        ),
        ('{"type": "stop"}', "'stop' needs a non-empty string 'id'"),
        (
            '{"type": "connection_init", "payload": 1}',
            "The 'connection_init' payload must be an object",
        ),
    ],
)
def test_malformed_messages_are_a_connection_error_and_ignored(
    test_client_factory: TestClientFactory, message: str, error: str
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        websocket.send_text(message)
        assert websocket.receive_json() == {
            "type": "connection_error",
            "payload": {"message": error},
        }
        # The connection is still usable.
        start(websocket, "ok", "{ hello }")
        assert websocket.receive_json()["payload"] == {"data": {"hello": "Hello, world!"}}


def test_messages_over_the_size_limit_close_with_4400(
    test_client_factory: TestClientFactory,
) -> None:
    client = make_client(test_client_factory)
    with connect(client) as websocket:
        init(websocket)
        websocket.send_text('{"type": "connection_init"}' + " " * (1024 * 1024))
        assert expect_close(websocket) == (4400, "Message too large")
