"""The end-to-end mode: the plaintext and JSON apps behind real servers, loaded by wrk.

Each case starts one server (one worker) on a free port of 127.0.0.1 serving one
app, warms it up, and lets `wrk` load it; the cases are interleaved repeat by
repeat, the implementations' order rotating, and each cell is the median
requests per second over the repeats.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import IO

from tests.benchmarks.report import label
from tests.benchmarks.serve import APPS

__all__ = [
    "APP_NAMES",
    "SERVERS",
    "Case",
    "Load",
    "WrkMissing",
    "implementations",
    "parse_wrk",
    "run",
    "server_versions",
    "table_rows",
]

ROOT = Path(__file__).resolve().parents[2]
SERVERS = ("uvicorn", "granian")
APP_NAMES = ("plaintext", "json")
# How long a server may take to answer its first request before the case fails.
STARTUP_TIMEOUT = 20.0
WARMUP_SECONDS = 1
_REQUESTS_PER_SECOND = re.compile(r"^Requests/sec:\s+([0-9.]+)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+([0-9]+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkMissing(Exception):
    """`wrk` is not on the PATH."""


@dataclass(frozen=True)
class Load:
    """How each case is loaded: `wrk -t{threads} -c{connections} -d{duration}s`."""

    duration: int = 5
    connections: int = 64
    threads: int = 1
    repeats: int = 3


@dataclass
class Case:
    """The requests per second of one app under one server, per implementation."""

    server: str
    app: str
    samples: dict[str, list[float]] = field(default_factory=dict)


def parse_wrk(output: str) -> float:
    """The requests per second wrk reports; `RuntimeError` if any request failed."""
    match = _REQUESTS_PER_SECOND.search(output)
    if match is None:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{output}")
    failed = _NON_2XX.search(output)
    if failed is not None and int(failed[1]):
        raise RuntimeError(f"{failed[1]} responses were not 2xx:\n{output}")
    errors = _SOCKET_ERRORS.search(output)
    # Timeouts are tolerated: a loaded server may keep one of 64 connections waiting.
    if errors is not None and any(int(count) for count in errors.groups()[:3]):
        raise RuntimeError(f"wrk saw socket errors:\n{output}")
    return float(match[1])


def implementations() -> list[str]:
    """The implementations with an app for every end-to-end scenario, raw first."""
    names: list[str] = []
    for key in APPS:
        app, _, implementation = key.partition("_")
        if app in APP_NAMES and implementation not in names:
            names.append(implementation)
    return [name for name in names if all(f"{app}_{name}" in APPS for app in APP_NAMES)]


def run(load: Load, servers: Sequence[str] = SERVERS) -> list[Case]:
    """Every (server, app) case for every implementation, interleaved over the repeats."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise WrkMissing(
            "wrk is not installed: `scripts/bench --e2e` installs Debian's `wrk` package"
            " when run as root; otherwise run `apt-get install wrk` as root"
        )
    names = implementations()
    cases = [
        Case(server, app, {name: [] for name in names}) for server in servers for app in APP_NAMES
    ]
    for repeat in range(load.repeats):
        shift = repeat % len(names)
        for case in cases:
            for name in names[shift:] + names[:shift]:
                step = f"{case.server} {case.app} {name} ({repeat + 1}/{load.repeats})"
                print(f"  {step} ...", end="", file=sys.stderr, flush=True)
                with _serving(case.server, f"{case.app}_{name}") as url:
                    _wrk(wrk, url, Load(WARMUP_SECONDS, load.connections, load.threads))
                    case.samples[name].append(_wrk(wrk, url, load))
                # Each run's figure, so that the spread behind a median can be judged.
                print(f" {case.samples[name][-1]:,.0f} req/s", file=sys.stderr, flush=True)
    return cases


def server_versions() -> str:
    """The servers' versions and wrk's, for the table's caption."""
    stacks = {"uvicorn": f" (httptools {version('httptools')}, uvloop {version('uvloop')})"}
    servers = ", ".join(f"{server} {version(server)}{stacks.get(server, '')}" for server in SERVERS)
    wrk = shutil.which("wrk")
    if wrk is None:
        return servers
    # `wrk -v` prints its version and exits with status 1.
    banner = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout
    return f"{servers}, {banner.split(' [')[0].strip() or 'wrk'}"


def table_rows(cases: Sequence[Case]) -> tuple[list[str], list[list[str]]]:
    """Columns and rows: median requests/s of each implementation, then its share of raw's."""
    names = list(cases[0].samples) if cases else []
    compared = [name for name in names if name != "raw"]
    columns = ["server", "app", *(f"{label(name)} req/s" for name in names)]
    columns += [f"{label(name)} / raw" for name in compared]
    rows = []
    for case in cases:
        medians = {name: statistics.median(case.samples[name]) for name in names}
        row = [case.server, case.app, *(f"{medians[name]:,.0f}" for name in names)]
        row += [f"{medians[name] / medians['raw']:.0%}" for name in compared]
        rows.append(row)
    return columns, rows


# Helpers


def _wrk(wrk: str, url: str, load: Load) -> float:
    command = [wrk, f"-t{load.threads}", f"-c{load.connections}", f"-d{load.duration}s", url]
    completed = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=load.duration + 30
    )
    return parse_wrk(completed.stdout)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _command(server: str, target: str, port: int) -> list[str]:
    """One worker, no lifespan (no app needs startup), no access log."""
    if server == "uvicorn":
        return [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--host=127.0.0.1",
            f"--port={port}",
            "--workers=1",
            # uvicorn's fast stack (`uvicorn[standard]`), as deployed: with its pure
            # Python parser the server's own cost would hide the framework's.
            "--http=httptools",
            "--loop=uvloop",
            "--lifespan=off",
            "--no-access-log",
            "--log-level=warning",
        ]
    if server == "granian":
        return [
            sys.executable,
            "-m",
            "granian",
            target,
            "--interface=asginl",
            "--host=127.0.0.1",
            f"--port={port}",
            "--workers=1",
            "--no-ws",
            "--log-level=warning",
        ]
    raise ValueError(f"unknown server {server!r}")


@contextmanager
def _serving(server: str, app: str) -> Iterator[str]:
    """Run `server` with `app` in its own process group; yield its URL once it answers."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    path = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            _command(server, f"tests.benchmarks.serve:{app}", port),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_up(process, url, log)
            yield url
        finally:
            _stop(process)


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    log.seek(0)
    output = log.read().decode(errors="replace")
    raise RuntimeError(f"the server for {url} did not start:\n{output}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and its workers: they share the process group we started."""
    # ProcessLookupError: the whole group has exited already.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
