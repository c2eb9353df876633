"""Tables of results (plain or Markdown), and the results sections of docs/performance.md."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tests.benchmarks.harness import IMPLEMENTATIONS, Result
from tests.benchmarks.peers import LABELS

__all__ = [
    "DOCS",
    "implementations",
    "label",
    "machine",
    "memory_table",
    "replace_section",
    "table",
    "timing_table",
]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "performance.md"
# What a table shows where an implementation has no app for a scenario.
MISSING = "—"
MIB = 1024 * 1024


def label(implementation: str) -> str:
    return LABELS.get(implementation, implementation)


def implementations(results: Iterable[Result]) -> list[str]:
    """Every implementation measured: the required ones first, then peers as they appear."""
    names = list(IMPLEMENTATIONS)
    for result in results:
        names += [name for name in result.samples if name not in names]
    return names


def timing_table(results: Sequence[Result]) -> tuple[list[str], list[list[str]]]:
    """Columns and rows: median µs per implementation, then each one's ratio to raw."""
    names = implementations(results)
    compared = names[1:]
    columns = ["scenario", *(f"{label(name)} µs" for name in names)]
    columns += [f"{label(name)} / raw" for name in compared]
    columns.append("stellate / Starlette")
    rows = []
    for result in results:
        medians = {name: result.median(name) for name in result.samples}
        row = [result.name]
        row += [f"{medians[name]:.1f}" if name in medians else MISSING for name in names]
        row += [_ratio(medians, name, "raw") for name in compared]
        row.append(_ratio(medians, "stellate", "starlette"))
        rows.append(row)
    return columns, rows


def memory_table(results: Sequence[Result]) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of the peak traced memory, for the scenarios that measured it."""
    measured = [result for result in results if result.memory]
    names = implementations(measured)
    columns = ["scenario", *(label(name) for name in names)]
    rows = [
        [
            result.name,
            *(_size(result.memory[name]) if name in result.memory else MISSING for name in names),
        ]
        for result in measured
    ]
    return columns, rows


def table(columns: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    """A Markdown table, or a plain one aligned for a terminal (numbers to the right)."""
    if markdown:
        lines = ["| " + " | ".join(columns) + " |", "|---" + "|---:" * (len(columns) - 1) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in [columns, *rows]) for i in range(len(columns))]
    lines = []
    for row in [columns, *rows]:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def machine() -> str:
    """The machine, its load and the versions a run measured, for the table's caption."""
    versions = ", ".join(f"{label(name)} {_version(name)}" for name in _installed())
    # Other work on the machine shows in the figures: say how busy it was at the start.
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores (load average {load:.1f} at the start), {platform.machine()},"
        f" Python {platform.python_version()}, asyncio; {versions}"
    )


def replace_section(text: str, marker: str, content: str) -> str:
    """`text` with what lies between `<!-- marker -->` and `<!-- /marker -->` replaced."""
    pattern = re.compile(
        rf"(<!-- {re.escape(marker)} -->\n).*?(<!-- /{re.escape(marker)} -->)", re.DOTALL
    )
    if pattern.search(text) is None:
        raise ValueError(f"the markers <!-- {marker} --> and <!-- /{marker} --> are missing")
    return pattern.sub(lambda match: match[1] + content.rstrip("\n") + "\n" + match[2], text)


# Helpers


def _ratio(medians: dict[str, float], name: str, base: str) -> str:
    if name not in medians or base not in medians:
        return MISSING
    return f"{medians[name] / medians[base]:.2f}x"


def _size(count: int) -> str:
    return f"{count / MIB:.2f} MiB" if count >= MIB else f"{count / 1024:.0f} KiB"


def _installed() -> list[str]:
    return [name for name in LABELS if name != "raw" and _version(name) is not None]


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None
