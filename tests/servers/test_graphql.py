"""GraphQL under each real server: queries and mutations over HTTP, subscriptions over
`graphql-transport-ws` with the `websockets` client library, and events crossing from
one transport to the other."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.servers.conftest import Server

PROTOCOL = "graphql-transport-ws"
# Every receive and poll is bounded: a server that never answers fails the test.
TIMEOUT = 10.0


def test_query_over_post(client: httpx.Client) -> None:
    response = client.post(
        "/graphql",
        json={
            "query": "query Greet($name: String!) { hello(name: $name) }",
            "variables": {"name": "Ada"},
        },
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert response.json() == {"data": {"hello": "Hello, Ada!"}}


def test_query_over_get(client: httpx.Client) -> None:
    response = client.get(
        "/graphql", params={"query": "{ hello }"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {"data": {"hello": "Hello, world!"}}


def test_mutation_over_get_is_405(client: httpx.Client) -> None:
    response = client.get(
        "/graphql",
        params={"query": 'mutation { post(text: "no") }'},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_invalid_document_is_reported(client: httpx.Client) -> None:
    response = client.post(
        "/graphql",
        json={"query": "{ nope }"},
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [error["message"] for error in errors] == ["Cannot query field 'nope' on type 'Query'."]


def test_mutation_runs_its_background_task(client: httpx.Client) -> None:
    text = f"note-{uuid.uuid4().hex}"
    result = graphql_post(client, "mutation Post($text: String!) { post(text: $text) }", text=text)
    assert isinstance(result["data"]["post"], int)
    assert text in graphql_post(client, "{ messages }")["data"]["messages"]
    # The mutation queued a task on the context's BackgroundTasks.
    deadline = time.monotonic() + TIMEOUT
    while f"graphql:{text}" not in client.get("/tasks").json():
        assert time.monotonic() < deadline, "the GraphQL background task never ran"
        time.sleep(0.02)


def test_subscription_yields_every_event(server: Server) -> None:
    with open_graphql_socket(server) as websocket:
        send(
            websocket,
            {
                "id": "c",
                "type": "subscribe",
                "payload": {"query": "subscription { countdown(from: 3) }"},
            },
        )
        events = [receive(websocket) for _ in range(5)]
    assert events == [
        *({"id": "c", "type": "next", "payload": {"data": {"countdown": n}}} for n in (3, 2, 1, 0)),
        {"id": "c", "type": "complete"},
    ]


def test_query_over_the_websocket(server: Server) -> None:
    with open_graphql_socket(server) as websocket:
        send(
            websocket,
            {"id": "q", "type": "subscribe", "payload": {"query": '{ hello(name: "ws") }'}},
        )
        assert receive(websocket) == {
            "id": "q",
            "type": "next",
            "payload": {"data": {"hello": "Hello, ws!"}},
        }
        assert receive(websocket) == {"id": "q", "type": "complete"}


def test_http_mutation_reaches_a_websocket_subscriber(server: Server, client: httpx.Client) -> None:
    text = f"hello-{uuid.uuid4().hex}"
    with open_graphql_socket(server) as websocket:
        send(
            websocket,
            {"id": "p", "type": "subscribe", "payload": {"query": "subscription { posted }"}},
        )
        # The subscription is registered once its first event arrives.
        assert receive(websocket) == {
            "id": "p",
            "type": "next",
            "payload": {"data": {"posted": "(listening)"}},
        }
        graphql_post(client, "mutation Post($text: String!) { post(text: $text) }", text=text)
        assert receive(websocket) == {
            "id": "p",
            "type": "next",
            "payload": {"data": {"posted": text}},
        }
        # The client ends the subscription; the connection stays usable.
        send(websocket, {"id": "p", "type": "complete"})
        send(websocket, {"type": "ping"})
        assert receive(websocket) == {"type": "pong"}


def test_socket_without_the_subprotocol_is_refused(server: Server) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{server.ws_url}/graphql", open_timeout=TIMEOUT)
    assert refused.value.response.status_code == 403


def graphql_post(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert "errors" not in result
    return result


@contextlib.contextmanager
def open_graphql_socket(server: Server) -> Iterator[ClientConnection]:
    """A `graphql-transport-ws` connection, initialised and acknowledged."""
    with connect(
        f"{server.ws_url}/graphql",
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
    ) as websocket:
        assert websocket.subprotocol == PROTOCOL
        send(websocket, {"type": "connection_init"})
        assert receive(websocket) == {"type": "connection_ack"}
        yield websocket


def send(websocket: ClientConnection, message: dict[str, Any]) -> None:
    websocket.send(json.dumps(message))


def receive(websocket: ClientConnection) -> dict[str, Any]:
    """The next protocol message, skipping the server's keep-alive pings."""
    while True:
        message: dict[str, Any] = json.loads(websocket.recv(timeout=TIMEOUT))
        if message != {"type": "ping"}:
            return message
        send(websocket, {"type": "pong"})
