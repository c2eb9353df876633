"""Run the in-process benchmarks and print a table: `python -m tests.benchmarks --help`."""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
from collections.abc import Sequence

import starlette

import stellate
from tests.benchmarks import basic, bodies, routing
from tests.benchmarks.harness import Result, SanityError, Scenario, check, measure

__all__ = ["main"]

COLUMNS = (
    "scenario",
    "raw µs",
    "stellate µs",
    "Starlette µs",
    "stellate / raw",
    "Starlette / raw",
    "stellate / Starlette",
)


def _scenarios() -> list[Scenario]:
    return [*basic.scenarios(), *routing.scenarios(), *bodies.scenarios()]


def _row(result: Result) -> list[str]:
    raw, ours, theirs = (result.median(name) for name in ("raw", "stellate", "starlette"))
    return [
        result.name,
        f"{raw:.1f}",
        f"{ours:.1f}",
        f"{theirs:.1f}",
        f"{ours / raw:.2f}x",
        f"{theirs / raw:.2f}x",
        f"{ours / theirs:.2f}x",
    ]


def _table(rows: Sequence[Sequence[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|---" + "|---:" * (len(COLUMNS) - 1) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    lines = []
    for row in [COLUMNS, *rows]:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
    return "\n".join(lines)


async def _bench(scenarios: Sequence[Scenario], rounds: int, iterations: int) -> list[Result]:
    for scenario in scenarios:
        await check(scenario)
    results = []
    for scenario in scenarios:
        print(f"  {scenario.name} ...", file=sys.stderr, flush=True)
        results.append(await measure(scenario, rounds, iterations))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Median µs per request of raw ASGI, stellate and Starlette, in-process.",
    )
    parser.add_argument("--rounds", type=int, default=7, help="rounds per scenario (default 7)")
    parser.add_argument(
        "--iterations", type=int, default=1000, help="requests per round (default 1000)"
    )
    parser.add_argument("--only", metavar="TEXT", help="run the scenarios whose name has TEXT")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    options = parser.parse_args(argv)
    if options.rounds < 1 or options.iterations < 1:
        parser.error("--rounds and --iterations must be at least 1")

    scenarios = [
        scenario
        for scenario in _scenarios()
        if options.only is None or options.only.lower() in scenario.name.lower()
    ]
    if not scenarios:
        parser.error(f"no scenario matches {options.only!r}")
    print(
        f"Python {platform.python_version()} on {platform.machine()}, asyncio;"
        f" stellate {stellate.__version__}, Starlette {starlette.__version__};"
        f" {options.rounds} rounds of {options.iterations} requests",
        file=sys.stderr,
    )
    try:
        results = asyncio.run(_bench(scenarios, options.rounds, options.iterations))
    except SanityError as error:
        print(f"scripts/bench: {error}", file=sys.stderr)
        return 1
    print(_table([_row(result) for result in results], options.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
