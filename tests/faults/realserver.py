"""An app served by a real uvicorn in a subprocess, on a loopback port bound in advance.

`uvicorn_server("tests.faults.server_app:app", log)` binds 127.0.0.1 on a free port
in this process, hands the listening socket to a child uvicorn (so no other process
can take the port in between), waits until the app answers `GET /ok`, and stops the
child with SIGTERM on exit. The child is `python -m tests.faults.realserver APP FD`.
The soak (`tests/soak`) serves its app the same way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunningServer", "http_get", "main", "uvicorn_server"]

ROOT = Path(__file__).parents[2]
# Bounds on every wait, so that a server that hangs fails the run instead of stalling it.
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 15.0


@dataclass(frozen=True)
class RunningServer:
    """A uvicorn child process serving on `127.0.0.1:port`, logging to `log`."""

    port: int
    pid: int
    log: Path

    def open_fds(self) -> int:
        """How many file descriptors the server process has open."""
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_kib(self) -> int:
        """The server process's resident memory, in KiB (`VmRSS`)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS in /proc/{self.pid}/status")

    def connect(self) -> socket.socket:
        """A new TCP connection to the server."""
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


@contextmanager
def uvicorn_server(
    app: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[RunningServer]:
    """Serve `app` ("module:attribute") with uvicorn until the block ends.

    `env` adds variables to the child's environment. Leaving the block stops the
    server; one that does not stop within `SHUTDOWN_TIMEOUT` of SIGTERM is an error.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.realserver", app, str(fd)],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            pass_fds=[fd],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    # The child holds its own copy of the listening socket.
    listener.close()
    server = RunningServer(port, process.pid, log)
    try:
        _wait_until_ready(server, process)
        yield server
    finally:
        _stop(process)


def http_get(server: RunningServer, path: str) -> tuple[int, bytes]:
    """`GET path` on a connection of its own (closed after it): the status and body."""
    with server.connect() as connection:
        connection.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    return status, body


def main(argv: list[str]) -> None:
    """The child: serve `argv[0]` on the listening socket whose descriptor is `argv[1]`."""
    import uvicorn

    app, fd = argv
    listener = socket.socket(fileno=int(fd))
    config = uvicorn.Config(app, lifespan="on", log_level="warning")
    uvicorn.Server(config).run(sockets=[listener])


# Helpers


def _wait_until_ready(server: RunningServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited at startup:\n{server.log.read_text()}")
        try:
            if http_get(server, "/ok")[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not answer in time:\n{server.log.read_text()}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(SHUTDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise RuntimeError("uvicorn did not stop within the bound after SIGTERM") from None


def _unchunk(body: bytes) -> bytes:
    # A chunked body, decoded (enough for the small test responses).
    decoded = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        decoded += body[:size]
        body = body[size + 2 :]
    return decoded


if __name__ == "__main__":
    main(sys.argv[1:])
