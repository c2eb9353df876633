"""The plot of docs/performance.md: each scenario's ratio to raw ASGI, as a small SVG.

Horizontal bars on a log scale start at 1x (raw ASGI's own time), one per
implementation and scenario, so that a framework 2x and one 200x raw both read.
Written by hand: a few rectangles need no plotting library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

from tests.benchmarks.harness import Result
from tests.benchmarks.report import implementations, label

__all__ = ["ratio_svg"]

WIDTH = 760
LEFT = 190  # room for the scenario names
RIGHT = 56  # room for the value printed after the longest bar
TOP = 58  # the title and the legend
BOTTOM = 34  # the axis labels
BAR = 11
GAP = 9  # between two scenarios
COLOURS = ("#1f77b4", "#d62728", "#7f7f7f", "#2ca02c", "#9467bd", "#8c564b")
FONT = 'font-family="sans-serif"'


def ratio_svg(results: Sequence[Result]) -> str:
    """An SVG document: for every scenario, each implementation's median over raw's."""
    names = [name for name in implementations(results) if name != "raw"]
    ratios = [
        {
            name: result.median(name) / result.median("raw")
            for name in names
            if name in result.samples
        }
        for result in results
    ]
    values = [ratio for row in ratios for ratio in row.values()]
    low = 10 ** math.floor(math.log10(min([1.0, *values])))
    high = 10 ** math.ceil(math.log10(max([1.0, *values])))
    if high <= low:
        high = low * 10
    span = math.log10(high) - math.log10(low)
    plot_width = WIDTH - LEFT - RIGHT

    def x(ratio: float) -> float:
        return LEFT + (math.log10(ratio) - math.log10(low)) / span * plot_width

    heights = [len(row) * BAR + GAP for row in ratios]
    plot_height = sum(heights)
    height = TOP + plot_height + BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}"'
        f' viewBox="0 0 {WIDTH} {height}">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="18" {FONT} font-size="13" font-weight="bold">'
        "Median time per request, as a multiple of raw ASGI's (log scale)</text>",
    ]
    for index, name in enumerate(names):
        left = LEFT + index * 120
        parts.append(
            f'<rect x="{left}" y="30" width="12" height="10" fill="{_colour(index)}"/>'
            f'<text x="{left + 16}" y="39" {FONT} font-size="11">{escape(label(name))}</text>'
        )
    for tick in _ticks(low, high):
        position = x(tick)
        stroke = "#444444" if tick == 1 else "#dddddd"
        parts.append(
            f'<line x1="{position:.1f}" y1="{TOP - 4}" x2="{position:.1f}"'
            f' y2="{TOP + plot_height}" stroke="{stroke}"/>'
        )
        # Beyond three decades, the 2x and 5x labels would touch: powers of ten only.
        if span <= 3 or math.isclose(math.log10(tick), round(math.log10(tick))):
            parts.append(
                f'<text x="{position:.1f}" y="{TOP + plot_height + 16}" {FONT} font-size="11"'
                f' text-anchor="middle">{_format(tick)}x</text>'
            )
    top = TOP
    for result, row, row_height in zip(results, ratios, heights, strict=True):
        middle = top + (row_height - GAP) / 2 + 4
        parts.append(
            f'<text x="{LEFT - 8}" y="{middle:.1f}" {FONT} font-size="11" text-anchor="end">'
            f"{escape(result.name)}</text>"
        )
        for slot, (name, ratio) in enumerate(row.items()):
            y = top + slot * BAR
            start, end = sorted((x(1.0), x(ratio)))
            parts.append(
                f'<rect x="{start:.1f}" y="{y}" width="{max(end - start, 1):.1f}"'
                f' height="{BAR - 2}" fill="{_colour(names.index(name))}">'
                f"<title>{escape(label(name))}: {ratio:.2f}x</title></rect>"
                # The value goes past the bar's far end: right of 1x, or left of it.
                f'<text x="{end + 3 if ratio >= 1 else start - 3:.1f}" y="{y + BAR - 3}"'
                f' {FONT} font-size="9" text-anchor="{"start" if ratio >= 1 else "end"}">'
                f"{ratio:.2f}x</text>"
            )
        top += row_height
    parts.append(
        f'<text x="{LEFT + plot_width / 2:.1f}" y="{height - 4}" {FONT} font-size="11"'
        ' text-anchor="middle">'
        "time per request / raw ASGI's time per request</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# Helpers


def _colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def _ticks(low: float, high: float) -> list[float]:
    """1, 2 and 5 times each power of ten from `low` to `high`."""
    first, last = round(math.log10(low)), round(math.log10(high))
    ticks = []
    for exponent in range(first, last + 1):
        ticks += [step * 10.0**exponent for step in (1, 2, 5) if exponent < last or step == 1]
    return ticks


def _format(tick: float) -> str:
    return f"{tick:g}" if tick < 1 else f"{tick:,.0f}"
