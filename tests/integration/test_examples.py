"""The seed example and the demo app, served for real by uvicorn and through the TestClient."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TestClientFactory

EXAMPLES = Path(__file__).parents[2] / "examples"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def seed_server() -> Iterator[str]:
    """Runs `examples/seed.py` (the design's example, unchanged) under uvicorn."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(EXAMPLES),
            "seed:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_seed_example_runs_under_uvicorn(seed_server: str) -> None:
    response = httpx.get(seed_server + "/")
    assert response.status_code == 200
    assert response.json() == {"hello": "world"}
    assert response.headers["content-type"] == "application/json"
    assert httpx.get(seed_server + "/missing").status_code == 404


@pytest.fixture
def demo_client(test_client_factory: TestClientFactory) -> Iterator[httpx.Client]:
    sys.path.insert(0, str(EXAMPLES))
    try:
        from app import app  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(EXAMPLES))
    with test_client_factory(app) as client:
        yield client


def test_demo_routes(demo_client: httpx.Client) -> None:
    assert demo_client.get("/").json() == {"hello": "world"}
    assert demo_client.get("/users/42").json() == {
        "id": 42,
        "url": "http://testserver/users/42",
    }
    assert demo_client.get("/users/abc").status_code == 404
    assert demo_client.post("/echo", json={"a": [1, 2]}).json() == {"received": {"a": [1, 2]}}
    assert demo_client.post("/echo", content=b"{not json").status_code == 400
    assert demo_client.post("/form", data={"name": "Ada"}).json() == {"name": "Ada"}
    assert demo_client.get("/admin/health").text == "ok"
    assert demo_client.get("/echo").status_code == 405
    assert demo_client.post("/echo", content=b"x" * (1024 * 1024 + 1)).status_code == 413
    assert "WebSocket" in demo_client.get("/chat").text


def test_demo_websocket_echo(demo_client: httpx.Client) -> None:
    with demo_client.websocket_connect("/ws") as websocket:  # type: ignore[attr-defined]
        websocket.send_text("hi")
        assert websocket.receive_text() == "echo: hi"
