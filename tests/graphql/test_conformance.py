"""Issue 5's conformance checks, run from Node against the app served by uvicorn.

- The GraphQL-over-HTTP audit suite (graphql-http's `auditServer`) finds no error and
  no warning.
- The graphql-ws client completes a query, a mutation and a subscription over
  `graphql-transport-ws`.

The Node side lives in tests/graphql/node/ and is installed by `scripts/install`
(`npm ci`). These tests never skip: without Node or its packages they fail and say so.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).parent
NODE_DIR = HERE / "node"
# Every subprocess is bounded: a hung server or client fails the test, never the run.
NODE_TIMEOUT = 60.0
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js (20 or newer) is required for the GraphQL conformance tests: "
            "install it, then run `sh scripts/install`",
            pytrace=False,
        )
    missing = [
        name
        for name in json.loads((NODE_DIR / "package.json").read_text())["dependencies"]
        if not (NODE_DIR / "node_modules" / name / "package.json").is_file()
    ]
    if missing:
        pytest.fail(
            f"tests/graphql/node/node_modules lacks {', '.join(missing)}: "
            "run `sh scripts/install` (it runs `npm ci` there)",
            pytrace=False,
        )
    return node


def run_node(script: str, url: str) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """Runs `node <script> <url>` and returns the JSON object it printed."""
    try:
        completed = subprocess.run(
            [node_executable(), script, url],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"node {script} did not finish within {NODE_TIMEOUT} s: {exc.stderr!r}")
    try:
        output: dict[str, Any] = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"node {script} exited {completed.returncode} without a JSON report\n"
            f"stdout: {completed.stdout}\nstderr: {completed.stderr}"
        )
    return output, completed


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """`conformance_app:app` under uvicorn on a free loopback port."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(HERE),
            "conformance_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
    )
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start: see its output above") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def describe(result: dict[str, Any]) -> str:
    line = f"[{result['status']}] {result['id']} {result['name']}: {result.get('reason')}"
    response = result.get("response")
    if response:
        line += f"\n    -> {response['status']} {response['contentType']}: {response['body']!r}"
    return line


def test_graphql_over_http_audit_passes(server_url: str) -> None:
    report, completed = run_node("audit.mjs", server_url)
    assert completed.returncode == 0, f"the audit could not run: {report.get('error')}"
    results: list[dict[str, Any]] = report["results"]
    failing = [result for result in results if result["status"] in ("error", "warn")]
    assert not failing, (
        f"{len(failing)} of {len(results)} audits failed {report['counts']}:\n"
        + "\n".join(describe(result) for result in failing)
    )
    # The audit really ran (graphql-http 1.23.1 has 61 audits); notices are suggestions.
    assert len(results) >= 50


def test_graphql_ws_client_runs_a_query_a_mutation_and_a_subscription(server_url: str) -> None:
    # Without one of these, uvicorn answers every WebSocket handshake with an error.
    if not any(importlib.util.find_spec(name) for name in ("websockets", "wsproto")):
        pytest.fail(
            "uvicorn serves WebSocket only with `websockets` or `wsproto` installed: "
            "neither is in the environment (add one to the `test` dependency group)",
            pytrace=False,
        )
    report, completed = run_node("ws-client.mjs", server_url)
    assert completed.returncode == 0, (
        f"the graphql-ws client failed: {report.get('error')}\nreport: {report}\n"
        f"stderr: {completed.stderr}"
    )
    assert report["protocol"] == "graphql-transport-ws"
    assert report["connections"] == 1
    assert report["query"] == [{"data": {"hello": "Hello, Node!"}}]
    assert report["mutation"] == [{"data": {"echo": "ping"}}]
    assert report["subscription"] == [
        {"data": {"count": 1}},
        {"data": {"count": 2}},
        {"data": {"count": 3}},
    ]
