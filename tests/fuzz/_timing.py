"""The "never super-linear time" check shared by the fuzz modules.

A parser is timed on a worst-case input of size `n` and on one of size `16 * n`;
linear work takes about 16 times as long, quadratic work about 256 times. The bound
of 40 leaves room for cache effects and for a loaded, shared CI machine, while any
quadratic behaviour still fails by a wide margin.

Noise is kept out three ways. Each measurement is the minimum over several rounds,
which discards the rounds in which another process had the CPU, and the small and
large inputs are timed in alternating rounds, so a slow patch of the machine hits
both alike. The garbage collector is paused while timing (as `timeit` does), so a
collection triggered by the larger input's allocations is not charged to the parser.
And a ratio over the bound is measured again, up to `_ATTEMPTS` times: noise rarely
repeats, while super-linear work exceeds the bound every time.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

__all__ = ["GROWTH", "MAX_RATIO", "assert_linear"]

# How much larger the second input is.
GROWTH = 16
# The most the larger input may cost relative to the smaller one (linear: ~16).
MAX_RATIO = 40
# Each round calls the parser often enough to last this long on the small input,
# so that timer resolution and call overhead do not decide the ratio.
_MIN_ROUND_SECONDS = 0.002
_ROUNDS = 5
_ATTEMPTS = 3


def assert_linear(parse: Callable[[Any], object], make_input: Callable[[int], Any], n: int) -> None:
    """Fail if `parse(make_input(16 * n))` costs over 40 times `parse(make_input(n))`."""
    small, large = make_input(n), make_input(GROWTH * n)
    ratios: list[float] = []
    for _ in range(_ATTEMPTS):
        small_seconds, large_seconds = _measure(parse, small, large)
        ratios.append(large_seconds / small_seconds)
        if ratios[-1] <= MAX_RATIO:
            return
    raise AssertionError(
        f"{GROWTH}x the input took {min(ratios):.1f}x the time at best "
        f"(n={n}; ratios measured: {', '.join(f'{r:.1f}' for r in ratios)})"
    )


def _measure(parse: Callable[[Any], object], small: Any, large: Any) -> tuple[float, float]:
    """The best time of one round of calls on `small`, and of as many on `large`."""
    small_times: list[float] = []
    large_times: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        calls = _calls_per_round(parse, small)
        for _ in range(_ROUNDS):
            small_times.append(_time(parse, small, calls))
            large_times.append(_time(parse, large, calls))
    finally:
        if gc_was_enabled:
            gc.enable()
    return min(small_times), min(large_times)


def _calls_per_round(parse: Callable[[Any], object], value: Any) -> int:
    calls = 1
    while _time(parse, value, calls) < _MIN_ROUND_SECONDS and calls < 1_000_000:
        calls *= 2
    return calls


def _time(parse: Callable[[Any], object], value: Any, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        parse(value)
    return time.perf_counter() - start
