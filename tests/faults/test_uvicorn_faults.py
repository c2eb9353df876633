"""Clients that vanish from a real uvicorn: the server notices, keeps serving, and its
count of open file descriptors (`/proc/<pid>/fd`) comes back to where it was.

The clients talk over raw sockets, so that they can leave at exactly the wrong moment:
mid-upload (after the upload has rolled over to a temporary file on disk), mid-stream
or mid-WebSocket (closing with a FIN, or with a RST as a crashed client does), or after
asking for a page that fails.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Callable, Iterator

import pytest
from websockets.sync.client import connect

from tests.faults._asgi import multipart_body
from tests.faults.realserver import RunningServer, http_get, uvicorn_server

# Faults per test: enough that a leak of one descriptor per fault cannot hide.
ROUNDS = 25
# How long the server may take to notice the last disconnect and clean up after it.
SETTLE_TIMEOUT = 5.0
BOUNDARY = "uvicornfaults"
# Three MiB, of which two are sent: past the 1 MiB spool, so the part is on disk.
UPLOAD = multipart_body(BOUNDARY, [("upload", "big.bin", b"\0" * (3 * 1024 * 1024))])
# What the app raises to the server, which logs it: a client gone mid-body (as in
# Starlette, `ClientDisconnect` is raised on, after a 500 nobody reads) and `/boom`.
EXPECTED_ERRORS = {
    "stellate_http.requests.ClientDisconnect",
    "RuntimeError: endpoint failure (expected by the fault tests)",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("uvicorn-faults")
    report = directory / "shutdown.json"
    env = {"FAULTS_SHUTDOWN_REPORT": str(report)}
    with uvicorn_server("tests.faults.server_app:app", directory / "uvicorn.log", env) as running:
        yield running
    # After all the faults, the lifespan shutdown ran, with no stream or socket left open.
    assert report.is_file(), f"the lifespan shutdown did not run:\n{running.log.read_text()}"
    at_shutdown = json.loads(report.read_text())
    assert (at_shutdown["streams_running"], at_shutdown["websockets_open"]) == (0, 0)
    # The only errors logged are the ones the faults cause, raised on by the app.
    assert _logged_errors(running.log.read_text()) <= EXPECTED_ERRORS


def test_uploads_cut_off_leave_no_descriptor_behind(server: RunningServer) -> None:
    cut_off = _stats(server)["uploads_cut_off"]
    _cut_upload_off(server)
    baseline = _settled_fds(server, lambda stats: stats["uploads_cut_off"] == cut_off + 1)

    for _ in range(ROUNDS):
        _cut_upload_off(server)
        assert http_get(server, "/ok") == (200, b"ok")

    fds = _settled_fds(
        server, lambda stats: stats["uploads_cut_off"] == cut_off + 1 + ROUNDS, baseline
    )
    assert fds <= baseline, f"{fds - baseline} descriptors leaked after {ROUNDS} cut-off uploads"
    # A whole upload still works.
    assert _upload(server) == {"upload": 3 * 1024 * 1024}


def test_streams_cut_off_stop_and_leave_no_descriptor_behind(server: RunningServer) -> None:
    stopped = _stats(server)["streams_stopped"]
    _cut_stream_off(server, reset=False)
    baseline = _settled_fds(server, lambda stats: stats["streams_stopped"] == stopped + 1)

    for round_ in range(ROUNDS):
        _cut_stream_off(server, reset=round_ % 2 == 1)
        assert http_get(server, "/ok") == (200, b"ok")

    def all_stopped(stats: dict[str, int]) -> bool:
        return stats["streams_stopped"] == stopped + 1 + ROUNDS and stats["streams_running"] == 0

    fds = _settled_fds(server, all_stopped, baseline)
    assert fds <= baseline, f"{fds - baseline} descriptors leaked after {ROUNDS} cut-off streams"


def test_websockets_cut_off_end_and_leave_no_descriptor_behind(server: RunningServer) -> None:
    ended = _stats(server)["websockets_ended"]
    _cut_websocket_off(server, reset=False)
    baseline = _settled_fds(server, lambda stats: stats["websockets_ended"] == ended + 1)

    for round_ in range(ROUNDS):
        _cut_websocket_off(server, reset=round_ % 2 == 1)
        assert http_get(server, "/ok") == (200, b"ok")

    def all_ended(stats: dict[str, int]) -> bool:
        return stats["websockets_ended"] == ended + 1 + ROUNDS and stats["websockets_open"] == 0

    fds = _settled_fds(server, all_ended, baseline)
    assert fds <= baseline, f"{fds - baseline} descriptors leaked after {ROUNDS} cut-off sockets"


def test_failing_endpoints_are_500s_and_the_server_goes_on(server: RunningServer) -> None:
    assert http_get(server, "/boom") == (500, b"Internal Server Error")
    baseline = server.open_fds()

    for _ in range(ROUNDS):
        assert http_get(server, "/boom") == (500, b"Internal Server Error")
        assert http_get(server, "/ok") == (200, b"ok")

    assert _settled_fds(server, lambda stats: True, baseline) <= baseline


# Helpers


def _cut_upload_off(server: RunningServer) -> None:
    """Send two thirds of a multipart upload, then close the connection."""
    with server.connect() as connection:
        connection.sendall(_upload_head())
        connection.sendall(UPLOAD[: 2 * 1024 * 1024])
        # A FIN: the server reads what was sent, then sees the client gone.
        connection.shutdown(socket.SHUT_WR)


def _cut_stream_off(server: RunningServer, *, reset: bool) -> None:
    """Start reading an endless stream, then leave (with a RST if `reset`)."""
    with server.connect() as connection:
        connection.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = 0
        while received < 256 * 1024:
            chunk = connection.recv(65536)
            assert chunk, "the server closed the stream first"
            received += len(chunk)
        if reset:
            # Linger with a zero timeout: close() sends a RST, as a crashed client's kernel does.
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _cut_websocket_off(server: RunningServer, *, reset: bool) -> None:
    """Exchange a message over a WebSocket, then drop the TCP connection with no close frame."""
    connection = server.connect()
    url = f"ws://127.0.0.1:{server.port}/ws"
    with connect(url, sock=connection, proxy=None, open_timeout=10) as websocket:
        websocket.send("hello")
        assert websocket.recv(timeout=10) == "hello"
        if reset:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        websocket.close_socket()


def _upload(server: RunningServer) -> dict[str, int]:
    with server.connect() as connection:
        connection.sendall(_upload_head(close=True) + UPLOAD)
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    sizes: dict[str, int] = json.loads(body)
    return sizes


def _upload_head(*, close: bool = False) -> bytes:
    return (
        "POST /upload HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(UPLOAD)}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n"
    ).encode()


def _stats(server: RunningServer) -> dict[str, int]:
    status, body = http_get(server, "/stats")
    assert status == 200
    stats: dict[str, int] = json.loads(body)
    return stats


def _logged_errors(log: str) -> set[str]:
    """The exception lines of the tracebacks in a uvicorn log, and any other error line."""
    errors: set[str] = set()
    in_traceback = False
    for line in log.splitlines():
        if line.startswith("Traceback (most recent call last):"):
            in_traceback = True
        elif in_traceback and line and not line.startswith(" "):
            errors.add(line)
            in_traceback = False
        elif line.startswith("ERROR:") and "Exception in ASGI application" not in line:
            errors.add(line)
    return errors


def _settled_fds(
    server: RunningServer,
    done: Callable[[dict[str, int]], bool],
    target: int | None = None,
) -> int:
    """The server's descriptor count once `done(stats)` holds (and, given a `target`,
    once the count is down to it), waiting at most `SETTLE_TIMEOUT`."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        stats = _stats(server)
        fds = server.open_fds()
        settled = done(stats) and (target is None or fds <= target)
        if settled or time.monotonic() > deadline:
            assert done(stats), f"the server did not see every fault: {stats}"
            return fds
        time.sleep(0.02)
