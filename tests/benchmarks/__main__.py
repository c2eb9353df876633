"""Run the benchmarks and print tables: `python -m tests.benchmarks --help`."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.benchmarks import basic, bodies, e2e, gql, middleware, responses, routing, websocket
from tests.benchmarks.harness import Result, SanityError, Scenario, check, measure, peak_memory
from tests.benchmarks.plot import ratio_svg
from tests.benchmarks.report import (
    DOCS,
    machine,
    memory_table,
    replace_section,
    table,
    timing_table,
)

__all__ = ["main"]

PLOT = DOCS.with_name("performance.svg")


def scenarios(directory: Path) -> list[Scenario]:
    """Every in-process scenario, in table order; files they serve go into `directory`."""
    return [
        *basic.scenarios(),
        *routing.scenarios(),
        *middleware.scenarios(),
        *bodies.scenarios(),
        *responses.scenarios(directory),
        *websocket.scenarios(),
        *gql.scenarios(),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Raw ASGI, stellate, Starlette (and installed peers) on the same workloads:"
        " median µs per request in-process, or requests/s end to end with --e2e.",
    )
    parser.add_argument("--rounds", type=int, default=7, help="rounds per scenario (default 7)")
    parser.add_argument(
        "--iterations", type=int, default=1000, help="requests per round (default 1000)"
    )
    parser.add_argument("--only", metavar="TEXT", help="run the scenarios whose name has TEXT")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help="also write the results into docs/performance.md (and the plot, in-process)",
    )
    parser.add_argument(
        "--e2e", action="store_true", help="serve the apps with uvicorn and granian, load with wrk"
    )
    parser.add_argument("--duration", type=int, default=5, help="--e2e: seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64, help="--e2e: wrk connections")
    parser.add_argument("--repeats", type=int, default=3, help="--e2e: runs per case (median)")
    parser.add_argument(
        "--server", action="append", choices=e2e.SERVERS, help="--e2e: only this server"
    )
    options = parser.parse_args(argv)
    if min(options.rounds, options.iterations, options.duration, options.repeats) < 1:
        parser.error("--rounds, --iterations, --duration and --repeats must be at least 1")
    if options.write_docs and (options.only or options.server):
        parser.error("--write-docs records complete runs only: drop --only and --server")
    if options.e2e:
        return _end_to_end(options)
    with tempfile.TemporaryDirectory(prefix="stellate-bench-") as directory:
        return _in_process(parser, options, Path(directory))


def _in_process(
    parser: argparse.ArgumentParser, options: argparse.Namespace, directory: Path
) -> int:
    selected = [
        scenario
        for scenario in scenarios(directory)
        if options.only is None or options.only.lower() in scenario.name.lower()
    ]
    if not selected:
        parser.error(f"no scenario matches {options.only!r}")
    run = f"{options.rounds} rounds of {options.iterations:,} requests"
    host = machine()
    print(f"{host}; {run}", file=sys.stderr)
    try:
        results = asyncio.run(_bench(selected, options.rounds, options.iterations))
    except SanityError as error:
        print(f"scripts/bench: {error}", file=sys.stderr)
        return 1
    timing = table(*timing_table(results), options.markdown)
    memory = table(*memory_table(results), options.markdown)
    print(timing)
    if any(result.memory for result in results):
        print("\nPeak traced memory above baseline while handling one request:\n")
        print(memory)
    if options.write_docs:
        markdown = [
            f"One run of `scripts/bench --write-docs` ({run}; the slow scenarios send fewer,"
            f" see above) on this machine: {host}.",
            table(*timing_table(results), markdown=True),
            "Peak memory traced (`tracemalloc`) above the baseline while handling one"
            " request, same run:",
            table(*memory_table(results), markdown=True),
        ]
        _write_docs("bench:in-process", "\n\n".join(markdown))
        PLOT.write_text(ratio_svg(results), encoding="utf-8")
        print(f"\nwrote {DOCS} and {PLOT}", file=sys.stderr)
    return 0


async def _bench(scenarios: Sequence[Scenario], rounds: int, iterations: int) -> list[Result]:
    for scenario in scenarios:
        await check(scenario)
    results = []
    for scenario in scenarios:
        print(f"  {scenario.name} ...", file=sys.stderr, flush=True)
        result = await measure(scenario, rounds, iterations)
        if scenario.memory:
            await peak_memory(scenario, result)
        results.append(result)
    return results


def _end_to_end(options: argparse.Namespace) -> int:
    load = e2e.Load(options.duration, options.connections, repeats=options.repeats)
    servers = options.server or e2e.SERVERS
    description = (
        f"wrk -t{load.threads} -c{load.connections} -d{load.duration}s,"
        f" median of {load.repeats} interleaved runs, one server worker"
    )
    host = machine()
    print(f"{host}; {description}", file=sys.stderr)
    try:
        cases = e2e.run(load, servers)
    except e2e.WrkMissing as error:
        print(f"scripts/bench: {error}", file=sys.stderr)
        return 1
    print(table(*e2e.table_rows(cases), options.markdown))
    if options.write_docs:
        markdown = [
            f"One run of `scripts/bench --e2e --write-docs` ({description}) on this machine:"
            f" {host}; {e2e.server_versions()}.",
            table(*e2e.table_rows(cases), markdown=True),
        ]
        _write_docs("bench:e2e", "\n\n".join(markdown))
        print(f"\nwrote {DOCS}", file=sys.stderr)
    return 0


def _write_docs(marker: str, content: str) -> None:
    DOCS.write_text(replace_section(DOCS.read_text("utf-8"), marker, content), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
