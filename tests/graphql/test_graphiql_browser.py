"""Issue 5: GraphiQL renders and runs a query in headless Chromium.

`graphiql_app:app` (GraphiQL at `/`, its assets from tests/graphql/node/node_modules on
the same origin) runs under uvicorn; Debian's Chromium opens `/?query={ hello }`, and the
test drives it over the DevTools protocol: the editor holds the query from the address,
the run button executes it, the result pane shows the data, and the page loaded nothing
from another origin and logged no error.

`scripts/install` installs Chromium (where apt-get exists and it runs as root) and the
npm packages. This test never skips: without them it fails and says so.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from stellate_graphql import GRAPHIQL_ASSETS
from tests.graphql.test_conformance import STARTUP_TIMEOUT, free_port

ROOT = Path(__file__).parents[2]
NODE_MODULES = Path(__file__).parent / "node" / "node_modules"
CHROMIUM = "/usr/bin/chromium"
# Every wait is bounded: a page that never renders fails the test, never hangs the run.
BROWSER_TIMEOUT = 30.0
QUERY = "{ hello }"
EXPECTED = {"data": {"hello": "Hello, world!"}}


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """`graphiql_app:app` under uvicorn on a free loopback port."""
    missing = [
        asset.relative_url
        for asset in GRAPHIQL_ASSETS
        if not (NODE_MODULES / asset.package / asset.path).is_file()
    ]
    if missing:
        pytest.fail(
            f"tests/graphql/node/node_modules lacks {', '.join(missing)}: "
            "run `sh scripts/install` (it runs `npm ci` there)",
            pytrace=False,
        )
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(ROOT),
            "tests.graphql.graphiql_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}/"
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
        stop(process)


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    """A blank tab of a fresh headless Chromium, driven over the DevTools protocol."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} (Debian's chromium package) is required for the GraphiQL browser "
            "test: run `sh scripts/install` as root (it runs `apt-get install chromium`)",
            pytrace=False,
        )
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path))
    # A file, not a pipe: nothing reads Chromium's log while it runs.
    log = tmp_path / "chromium.log"
    log_file = log.open("wb")
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    try:
        # With port 0 Chromium picks a free port and writes it to DevToolsActivePort.
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + BROWSER_TIMEOUT
        while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                pytest.fail(
                    f"Chromium did not start within {BROWSER_TIMEOUT} s: "
                    f"{log.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
        target = next(target for target in targets if target["type"] == "page")
        with connect(
            target["webSocketDebuggerUrl"], open_timeout=10, close_timeout=5, max_size=None
        ) as connection:
            yield Page(connection)
    finally:
        stop(process)
        log_file.close()


class Page:
    """A minimal DevTools protocol client: commands, and the events seen meanwhile."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        self.connection.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + BROWSER_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer to {method} within {BROWSER_TIMEOUT} s")
            message = json.loads(self.connection.recv(timeout=remaining))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        answer = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression!r} threw: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, what: str) -> Any:
        """Evaluates `expression` until it gives a truthy value (bounded)."""
        deadline = time.monotonic() + BROWSER_TIMEOUT
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {BROWSER_TIMEOUT} s\n{self.describe_events()}")
            time.sleep(0.1)

    def problems(self) -> list[str]:
        """Uncaught exceptions, console errors and browser log errors (such as SRI failures)."""
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(f"exception: {details.get('exception', {}).get('description')}")
            elif event["method"] == "Runtime.consoleAPICalled" and params["type"] == "error":
                found.append(f"console.error: {[arg.get('value') for arg in params['args']]}")
            elif (
                event["method"] == "Log.entryAdded"
                and params["entry"]["level"] == "error"
                # The browser asks for /favicon.ico on its own; the app has none.
                and not params["entry"].get("url", "").endswith("/favicon.ico")
            ):
                found.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
        return found

    def requested_urls(self) -> list[str]:
        return [
            event["params"]["request"]["url"]
            for event in self.events
            if event["method"] == "Network.requestWillBeSent"
        ]

    def describe_events(self) -> str:
        return f"problems: {self.problems()}\nrequests: {self.requested_urls()}"


# The editors are CodeMirror 5 instances, which keep themselves on their element.
EDITOR_VALUE = (
    "(() => {{ const e = document.querySelector({selector!r});"
    " return e && e.CodeMirror ? e.CodeMirror.getValue() : null; }})()"
)
QUERY_EDITOR = EDITOR_VALUE.format(selector=".graphiql-query-editor .CodeMirror")
RESULT_PANE = EDITOR_VALUE.format(selector=".graphiql-response .CodeMirror")
RUN_BUTTON = "document.querySelector('button.graphiql-execute-button')"


def test_graphiql_renders_and_runs_a_query(server_url: str, page: Page) -> None:
    for domain in ("Page", "Runtime", "Log", "Network"):
        page.send(f"{domain}.enable")
    page.send("Page.navigate", url=f"{server_url}?query=%7B%20hello%20%7D")

    # The page rendered, with the query taken from its address.
    assert page.wait_for(QUERY_EDITOR, "GraphiQL's query editor") == QUERY
    assert page.wait_for(f"!!{RUN_BUTTON}", "GraphiQL's run button")
    assert not page.evaluate(RESULT_PANE)

    page.evaluate(f"{RUN_BUTTON}.click()")
    text = page.wait_for(
        f"(() => {{ const v = {RESULT_PANE}; return v && v.includes('hello') ? v : null; }})()",
        "the query's result in the result pane",
    )
    assert json.loads(text) == EXPECTED

    # Everything came from the app's origin (the CSS embeds its fonts as data: URLs)...
    urls = page.requested_urls()
    assert [url for url in urls if not url.startswith((server_url, "data:"))] == []
    assets = {asset.relative_url for asset in GRAPHIQL_ASSETS}
    assert {url.removeprefix(f"{server_url}assets/") for url in urls} >= assets
    # ...passed its integrity check, and nothing failed on the page.
    assert page.problems() == []
