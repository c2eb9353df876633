"""Routing, JSON, errors, lifespan state and background tasks under each real server."""

from __future__ import annotations

import time

import httpx

from tests.servers.conftest import Server

# A background task runs after its response went out: poll for its effect, bounded.
TASK_TIMEOUT = 5.0


def test_path_params_are_converted_and_reversed(server: Server, client: httpx.Client) -> None:
    response = client.get("/users/42", params={"tab": "posts", "q": "a b&c"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "id": 42,
        "url": f"{server.url}/users/42",
        "query": {"tab": "posts", "q": "a b&c"},
    }


def test_path_convertor_mismatch_is_404(client: httpx.Client) -> None:
    response = client.get("/users/forty-two")
    assert response.status_code == 404
    assert response.text == "Not Found"


def test_mounted_route_sees_its_root_path(server: Server, client: httpx.Client) -> None:
    response = client.get("/api/items/caf%C3%A9")
    assert response.status_code == 200
    assert response.json() == {
        "name": "café",
        "path": "/api/items/café",
        "root_path": "/api",
        "url": f"{server.url}/api/items/café",
    }


def test_json_round_trip(client: httpx.Client) -> None:
    payload = {"text": "naïve ☃", "numbers": [1, 2.5, -3], "nested": {"ok": True, "none": None}}
    response = client.post("/echo", json=payload)
    assert response.status_code == 200
    assert response.headers["x-echo"] == "1"
    assert response.json() == {"received": payload}
    assert int(response.headers["content-length"]) == len(response.content)


def test_bad_json_is_400(client: httpx.Client) -> None:
    response = client.post(
        "/echo", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.text == "Expected a JSON body."


def test_unknown_path_is_404_and_wrong_method_405(client: httpx.Client) -> None:
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert missing.text == "Not Found"

    wrong = client.get("/echo")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
    assert wrong.text == "Method Not Allowed"


def test_head_gets_headers_without_body(client: httpx.Client) -> None:
    response = client.head("/users/7")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(client.get("/users/7").content)


def test_keep_alive_connection_serves_many_requests(client: httpx.Client) -> None:
    # One pooled connection: each response must be delimited exactly for the next to parse.
    for number in range(20):
        response = client.get(f"/users/{number}")
        assert response.status_code == 200
        assert response.json()["id"] == number


def test_scope_reports_the_real_connection(server: Server, client: httpx.Client) -> None:
    info = client.get("/client").json()
    port = int(server.url.rsplit(":", 1)[1])
    # Granian gives scope["server"]'s port as a string (the ASGI spec says int), so the
    # two are compared as numbers.
    host, server_port = info.pop("server")
    assert (host, int(server_port)) == ("127.0.0.1", port)
    assert info == {
        "client_host": "127.0.0.1",
        "http_version": "1.1",
        "host": "127.0.0.1",
        "port": port,
    }


def test_lifespan_state_reaches_requests(client: httpx.Client) -> None:
    state = client.get("/lifespan").json()
    # The state was made by the lifespan in the very process that serves requests.
    assert state["pid"] == state["worker_pid"]


def test_background_task_runs_after_the_response(client: httpx.Client) -> None:
    name = f"task-{time.monotonic_ns()}"
    response = client.post(f"/tasks/{name}")
    assert response.status_code == 202
    assert response.json() == {"queued": name}
    deadline = time.monotonic() + TASK_TIMEOUT
    while name not in client.get("/tasks").json():
        assert time.monotonic() < deadline, "the background task never ran"
        time.sleep(0.02)


def test_body_over_the_app_limit_is_413(client: httpx.Client) -> None:
    # The app's `max_body_size` is 8 MiB.
    response = client.post(
        "/echo",
        content=b"x" * (8 * 1024 * 1024 + 1),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
