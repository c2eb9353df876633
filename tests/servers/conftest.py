"""The `server` fixture: `tests.servers.app:app` served by each real server on loopback.

Each server starts once per run (session scope; pytest groups the tests by server),
in a subprocess on a free 127.0.0.1 port, and is stopped with SIGTERM at the end. Its
teardown checks what only a real stop shows: the server exited within a bound, the
app's lifespan shutdown ran (the app writes a marker file), and nothing the app did
during the run left a traceback in the server's log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).parents[2]
APP = "tests.servers.app:app"
# Every wait is bounded, so a server that hangs fails the run instead of stalling it.
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 15.0
# A free port can be taken between our probe and the server's bind: try again.
START_ATTEMPTS = 3

#: The static files the app serves, by path under `/static/`.
STATIC_FILES = {
    "hello.txt": b"Hello, static world!\n",
    # Large enough to need several reads, with every byte value at a known offset.
    "data.bin": bytes(range(256)) * 1024,
    "nested/deep.css": b"body { color: rebeccapurple; }\n",
}


@dataclass(frozen=True)
class Server:
    """A running server: its name, base URLs and the directory the app writes to."""

    name: str
    url: str
    ws_url: str
    data_dir: Path

    def log(self) -> str:
        return (self.data_dir / "server.log").read_text(errors="replace")


@pytest.fixture(
    scope="session",
    params=["uvicorn", "uvicorn-httptools", "hypercorn", "hypercorn-trio", "granian"],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The app served by one server: uvicorn (h11 on asyncio, and httptools on uvloop),
    hypercorn (on asyncio and on trio), granian."""
    name: str = request.param
    data_dir = tmp_path_factory.mktemp(f"server-{name}")
    for relative, content in STATIC_FILES.items():
        path = data_dir / "static" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    process, port = start(name, data_dir)
    running = Server(name, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", data_dir)
    try:
        assert (data_dir / "startup").is_file(), f"{name} served before the lifespan startup"
        yield running
    finally:
        stop(process, running)
    # The stop is part of what is tested: the app's shutdown ran in the process that
    # started it, and nothing failed along the way.
    assert (data_dir / "shutdown").is_file(), f"{name} did not run the lifespan shutdown"
    assert (data_dir / "shutdown").read_text() == (data_dir / "startup").read_text()
    assert "Traceback" not in running.log(), f"{name} logged an error:\n{running.log()}"


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    """A fresh client (its own cookie jar) talking to `server` over TCP."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def server_command(name: str, port: int) -> list[str]:
    """The documented command line of each server, bound to 127.0.0.1:`port`."""
    python = [sys.executable, "-m"]
    if name.startswith("uvicorn"):
        # Both of uvicorn's stacks, named: "auto" would pick whichever is installed.
        http, loop = ("httptools", "uvloop") if name.endswith("httptools") else ("h11", "asyncio")
        return [
            *python,
            "uvicorn",
            APP,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--http",
            http,
            "--loop",
            loop,
        ]
    if name.startswith("hypercorn"):
        worker = name.partition("-")[2] or "asyncio"
        return [
            *python,
            "hypercorn",
            APP,
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            worker,
        ]
    if name == "granian":
        return [
            *python,
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            APP,
        ]
    raise ValueError(f"unknown server {name!r}")


def start(name: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    env = {
        **os.environ,
        "STELLATE_SERVERS_DIR": str(data_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    for _ in range(START_ATTEMPTS):
        port = free_port()
        with (data_dir / "server.log").open("wb") as log:
            process = subprocess.Popen(
                server_command(name, port),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group, so a server that ignores SIGTERM is killed
                # with all its workers.
                start_new_session=True,
            )
        if wait_until_serving(process, f"http://127.0.0.1:{port}/health"):
            return process, port
        stop_process(process)
        if "in use" not in (data_dir / "server.log").read_text(errors="replace"):
            break
    log_text = (data_dir / "server.log").read_text(errors="replace")
    pytest.fail(f"{name} did not start within {STARTUP_TIMEOUT} s:\n{log_text}")


def wait_until_serving(process: subprocess.Popen[bytes], url: str) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return False


def stop(process: subprocess.Popen[bytes], server: Server) -> None:
    """SIGTERM, as a process manager would send; fails if the server does not exit."""
    if not stop_process(process):
        pytest.fail(
            f"{server.name} did not exit within {SHUTDOWN_TIMEOUT} s of SIGTERM:\n{server.log()}"
        )
    # uvicorn re-raises the signal once it has shut down gracefully; the others exit 0.
    assert process.returncode in (0, -signal.SIGTERM), f"{server.name}:\n{server.log()}"


def stop_process(process: subprocess.Popen[bytes]) -> bool:
    """Terminates `process`, killing it when it outlives the bound: False if killed."""
    process.terminate()
    try:
        process.wait(timeout=SHUTDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
