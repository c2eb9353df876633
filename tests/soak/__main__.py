"""A bounded soak of a Stellate app under uvicorn: `python -m tests.soak --help`.

Serves `tests.soak.app` with uvicorn on 127.0.0.1, warms it up, then drives it with
many concurrent workers (mixed HTTP traffic and WebSocket echoes) for `--seconds`.
Prints the requests done, the status histogram, p50/p99 latencies, and the server's
RSS (after the warm-up, every 10 s, at the end) and open descriptors. Exits 1 on any
5xx, transport error, wrong answer or error in the server's log, or if the server's
memory or descriptor count grew past a generous bound.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from tests.faults.realserver import RunningServer, uvicorn_server
from tests.soak.traffic import STATIC_FILES, Stats, run_traffic

__all__ = ["main"]

# Descriptors the server may hold at the end beyond those after the warm-up: room for
# a connection still being closed, not for a leak per request.
FD_SLACK = 8
# How long the server gets to close the clients' connections before it is measured.
SETTLE_TIMEOUT = 5.0
# The server's RSS is also sampled this often during the soak, to show its course.
SAMPLE_EVERY = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the soak")
    parser.add_argument("--workers", type=int, default=64, help="concurrent connections")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument(
        "--max-rss-growth-mib",
        type=float,
        default=50.0,
        help="allowed RSS growth (the bound is the larger of this and +50%%)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the traffic mix")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="stellate-soak-") as directory:
        static = Path(directory, "static")
        static.mkdir()
        for name, content in STATIC_FILES.items():
            (static / name).write_bytes(content)
        log = Path(directory, "uvicorn.log")
        env = {"SOAK_STATIC_DIR": str(static)}
        with uvicorn_server("tests.soak.app:app", log, env) as server:
            failures = _soak(server, args)
        server_errors = _error_lines(log.read_text(errors="replace"))
    if server_errors:
        print("server log errors:\n  " + "\n  ".join(server_errors[:20]))
        failures.append(f"{len(server_errors)} error lines in the server log")
    print("FAIL: " + "; ".join(failures) if failures else "PASS")
    return 1 if failures else 0


def _soak(server: RunningServer, args: argparse.Namespace) -> list[str]:
    url = f"http://127.0.0.1:{server.port}"
    ws_url = f"ws://127.0.0.1:{server.port}"
    print(
        f"soak: {args.workers} workers for {args.seconds:g} s (after {args.warmup:g} s of"
        f" warm-up) against uvicorn pid {server.pid} on 127.0.0.1:{server.port}"
    )

    warmup = asyncio.run(
        run_traffic(url, ws_url, seconds=args.warmup, workers=args.workers, seed=args.seed)
    )
    rss_start, fds_start = server.rss_kib(), _settled_fds(server, None)

    started = time.monotonic()
    traffic = run_traffic(
        url, ws_url, seconds=args.seconds, workers=args.workers, seed=args.seed + 1
    )
    stats, samples = asyncio.run(_sampling_rss(server, traffic))
    elapsed = time.monotonic() - started
    fds_end, rss_end = _settled_fds(server, fds_start + FD_SLACK), server.rss_kib()

    _report(stats, elapsed)
    growth_bound = max(args.max_rss_growth_mib * 1024, rss_start * 0.5)
    print(
        f"server RSS: start {rss_start / 1024:.1f} MiB, end {rss_end / 1024:.1f} MiB"
        f" ({(rss_end - rss_start) / 1024:+.1f} MiB; bound +{growth_bound / 1024:.1f} MiB)"
    )
    course = ", ".join(f"{sample / 1024:.1f}" for sample in [rss_start, *samples, rss_end])
    print(f"server RSS every {SAMPLE_EVERY:g} s (MiB): {course}")
    print(f"server open descriptors: start {fds_start}, end {fds_end}")

    failures: list[str] = []
    for label, run in (("warm-up", warmup), ("soak", stats)):
        server_errors = sum(count for status, count in run.statuses.items() if status >= 500)
        if server_errors:
            failures.append(f"{server_errors} 5xx responses during the {label}")
        if run.failures:
            failures.append(f"{sum(run.failures.values())} failed exchanges during the {label}")
    if warmup.failures:
        print("warm-up failures:\n  " + "\n  ".join(_lines(warmup.failures)))
    if rss_end - rss_start > growth_bound:
        failures.append(f"server RSS grew by {(rss_end - rss_start) / 1024:.1f} MiB")
    if fds_end > fds_start + FD_SLACK:
        failures.append(f"server descriptors grew from {fds_start} to {fds_end}")
    if stats.exchanges == 0:
        failures.append("no exchange completed")
    return failures


async def _sampling_rss(
    server: RunningServer, traffic: Coroutine[Any, Any, Stats]
) -> tuple[Stats, list[int]]:
    """Run `traffic`, sampling the server's RSS every `SAMPLE_EVERY` seconds meanwhile."""
    samples: list[int] = []

    async def sample() -> None:
        while True:
            await asyncio.sleep(SAMPLE_EVERY)
            samples.append(server.rss_kib())

    sampler = asyncio.create_task(sample())
    try:
        return await traffic, samples
    finally:
        sampler.cancel()


def _report(stats: Stats, elapsed: float) -> None:
    every = sorted(value for values in stats.latencies.values() for value in values)
    sessions = len(stats.latencies.get("websocket", []))
    print(
        f"requests done: {stats.exchanges} in {elapsed:.1f} s ({stats.exchanges / elapsed:.0f}/s),"
        f" {sessions} of them WebSocket sessions of 5 echoes"
    )
    print("statuses: " + ", ".join(f"{code}: {n}" for code, n in sorted(stats.statuses.items())))
    print(f"latency: p50 {_ms(every, 0.50)} ms, p99 {_ms(every, 0.99)} ms")
    print(f"  {'scenario':<10} {'count':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, values in sorted(stats.latencies.items()):
        ordered = sorted(values)
        print(f"  {name:<10} {len(ordered):>8} {_ms(ordered, 0.5):>8} {_ms(ordered, 0.99):>8}")
    if stats.failures:
        print("failures:\n  " + "\n  ".join(_lines(stats.failures)))
    else:
        print("failures: none")


def _settled_fds(server: RunningServer, target: int | None) -> int:
    """The server's descriptor count once the clients' connections are closed: once it
    stops falling, or (with a `target`) once it is down to it."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    fds = server.open_fds()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        previous, fds = fds, server.open_fds()
        if (target is not None and fds <= target) or (target is None and fds >= previous):
            break
    return fds


def _ms(ordered: list[float], quantile: float) -> str:
    # Nearest rank on the sorted sample.
    if not ordered:
        return "-"
    index = min(len(ordered) - 1, max(0, round(quantile * len(ordered)) - 1))
    return f"{ordered[index] * 1000:.1f}"


def _lines(failures: dict[str, int]) -> list[str]:
    return [f"{count} x {what}" for what, count in sorted(failures.items())]


def _error_lines(log: str) -> list[str]:
    # Nothing in the soak is meant to fail: any error the server logged is a finding.
    return [line for line in log.splitlines() if line.startswith(("ERROR", "Traceback"))]


if __name__ == "__main__":
    sys.exit(main())
