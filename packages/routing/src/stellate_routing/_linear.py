"""Linear-time matching of the route templates that a regex engine matches slowly.

A template holding several parameters in one path segment (`/{slug}-{lang}.html`), or
in a host (`{a}-{b}.example.com`), or two `path` parameters, compiles to a regex that a
backtracking engine matches in polynomial time: on a hostile segment it tries every way
to split the text between the parameters. `LinearMatcher` finds the very match that
regex finds, in time proportional to the text's length times the number of parameters.

Why the answer is the same: each builtin convertor's regex tries its possible ends in
decreasing order (`[^/]+`, `[0-9]+` and `.*` are greedy; `float`'s optional fraction is
tried first, and its ends lie beyond those of the integer part alone; a `uuid` has one
end at most), and each end is reached in exactly one way. A backtracking engine so
returns the match whose first parameter ends as late as possible, then the second, and
so on. `LinearMatcher` works out, from the right, where each parameter may end with the
rest of the template still matching, then picks from the left the latest such end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from stellate_routing.convertors import (
    FloatConvertor,
    IntegerConvertor,
    PathConvertor,
    StringConvertor,
    UUIDConvertor,
)

__all__ = ["KINDS", "SEGMENT_REGEXES", "LinearMatcher"]

# The builtin convertors' regexes and the kind of text each matches. Recognised by
# regex text, as the index does, since `register_url_convertor` may replace a key.
KINDS = {
    StringConvertor.regex: "str",
    IntegerConvertor.regex: "int",
    FloatConvertor.regex: "float",
    UUIDConvertor.regex: "uuid",
    PathConvertor.regex: "path",
}
# The regexes of the builtin convertors that match within one path segment and never
# the empty string (all but `path`): a parameter using one consumes exactly one
# non-empty segment's worth of text. The route index and `compile_path` rely on it.
SEGMENT_REGEXES = frozenset(regex for regex, kind in KINDS.items() if kind != "path")

_DIGITS = re.compile("[0-9]+")
_UUID = re.compile(UUIDConvertor.regex)
# Every position a UUID starts at (overlapping ones included), with its end.
_UUID_STARTS = re.compile(f"(?=({UUIDConvertor.regex}))")


class LinearMatcher:
    """Matches text as `pattern` does, in linear time.

    The template is `head`, then for each step a parameter (`name`, `kind`) followed by
    a literal; `$` semantics are Python's: the end of the text, or just before a final
    "\\n". `match` returns the parameters' texts, in template order, or None.
    """

    __slots__ = ("_backward", "_forward", "head", "pattern", "steps")

    def __init__(
        self, pattern: re.Pattern[str], head: str, steps: Sequence[tuple[str, str, str]]
    ) -> None:
        if not steps or any(kind not in _STARTS for _, kind, _ in steps):
            raise ValueError("A linear matcher needs builtin convertors")
        # The regex this matcher stands in for: routes use the matcher only while their
        # pattern attribute is still this very object.
        self.pattern = pattern
        self.head = head
        self.steps = tuple(steps)
        # From the right: where each parameter after the first may start, and the
        # literal before it.
        self._backward = [
            (_STARTS[kind], before[2])
            for before, (_, kind, _) in zip(self.steps[-2::-1], self.steps[:0:-1], strict=True)
        ]
        # From the left: each parameter's name, its latest end, the literal after it.
        self._forward = [(name, _LATEST_END[kind], len(literal)) for name, kind, literal in steps]

    def match(self, text: str) -> dict[str, str] | None:
        """The parameters `pattern.match(text).groupdict()` gives, or None if no match."""
        head = self.head
        if not text.startswith(head):
            return None
        start = len(head)
        # ends[i][q] is 1 when parameter i may end at q with the rest matching.
        possible = _final_ends(text, start, self.steps[-1][2])
        if 1 not in possible:
            return None
        ends = [possible]
        for starts, literal in self._backward:
            possible = _before(starts(text, start, possible), literal, text, start)
            ends.append(possible)
        ends.reverse()

        groups: dict[str, str] = {}
        position = start
        for (name, latest_end, size), possible in zip(self._forward, ends, strict=True):
            end = latest_end(text, position, possible)
            if end < 0:
                # Only the first parameter can fail here: every later one starts where
                # the ends above said the rest can match.
                return None
            groups[name] = text[position:end]
            position = end + size
        return groups

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pattern.pattern!r})"


# Helpers


def _final_ends(text: str, start: int, literal: str) -> bytearray:
    # The last parameter may end where `literal` follows and then `$` holds: the end
    # of the text or, when the text ends with "\n", just before it.
    ends = bytearray(len(text) + 1)
    stops = (len(text), len(text) - 1) if text.endswith("\n") else (len(text),)
    for stop in stops:
        end = stop - len(literal)
        if end >= start and text.startswith(literal, end):
            ends[end] = 1
    return ends


def _before(starts: bytearray, literal: str, text: str, start: int) -> bytearray:
    # Where a parameter may end: `literal` follows, then a feasible start.
    if not literal:
        return starts
    ends = bytearray(len(starts))
    size = len(literal)
    position = text.find(literal, start)
    while position >= 0:
        if starts[position + size]:
            ends[position] = 1
        position = text.find(literal, position + 1)
    return ends


# Where a parameter may start, given where it may end. Each run of text a convertor
# can span is handled at once: the starts in it are those before its latest good end.


def _str_starts(text: str, start: int, ends: bytearray) -> bytearray:
    # `[^/]+`: the runs between slashes.
    return _separated_starts(text, start, ends, "/", empty=False)


def _int_starts(text: str, start: int, ends: bytearray) -> bytearray:
    starts = bytearray(len(text) + 1)
    for run in _DIGITS.finditer(text, start):
        _mark_starts(starts, ends, *run.span(), empty=False)
    return starts


def _float_starts(text: str, start: int, ends: bytearray) -> bytearray:
    starts = bytearray(len(text) + 1)
    for run in _DIGITS.finditer(text, start):
        first, stop = run.span()
        if _fraction_end(text, stop, ends) >= 0:
            # From anywhere in the run, the integer part can reach the fraction.
            starts[first:stop] = b"\x01" * (stop - first)
        else:
            _mark_starts(starts, ends, first, stop, empty=False)
    return starts


def _uuid_starts(text: str, start: int, ends: bytearray) -> bytearray:
    starts = bytearray(len(text) + 1)
    for found in _UUID_STARTS.finditer(text, start):
        if ends[found.end(1)]:
            starts[found.start()] = 1
    return starts


def _path_starts(text: str, start: int, ends: bytearray) -> bytearray:
    # `.*`: the runs between newlines, and it may be empty (a start is also an end).
    return _separated_starts(text, start, ends, "\n", empty=True)


def _separated_starts(
    text: str, start: int, ends: bytearray, separator: str, *, empty: bool
) -> bytearray:
    # The starts within each run of text between `separator`s.
    starts = bytearray(len(text) + 1)
    first = start
    while first <= len(text):
        stop = text.find(separator, first)
        if stop < 0:
            stop = len(text)
        _mark_starts(starts, ends, first, stop, empty=empty)
        first = stop + 1
    return starts


def _mark_starts(starts: bytearray, ends: bytearray, first: int, stop: int, *, empty: bool) -> None:
    # In a run `first:stop` that a parameter can span, it can start anywhere before its
    # latest allowed end (or at that end too, when it may be empty).
    last = ends.rfind(1, first if empty else first + 1, stop + 1)
    if last >= 0:
        if empty:
            last += 1
        starts[first:last] = b"\x01" * (last - first)


# The end a parameter starting at `position` takes: the latest one allowed, or -1.


def _str_end(text: str, position: int, ends: bytearray) -> int:
    stop = text.find("/", position)
    return ends.rfind(1, position + 1, len(text) + 1 if stop < 0 else stop + 1)


def _int_end(text: str, position: int, ends: bytearray) -> int:
    run = _DIGITS.match(text, position)
    return -1 if run is None else ends.rfind(1, position + 1, run.end() + 1)


def _float_end(text: str, position: int, ends: bytearray) -> int:
    run = _DIGITS.match(text, position)
    if run is None:
        return -1
    end = _fraction_end(text, run.end(), ends)
    return end if end >= 0 else ends.rfind(1, position + 1, run.end() + 1)


def _uuid_end(text: str, position: int, ends: bytearray) -> int:
    found = _UUID.match(text, position)
    return found.end() if found is not None and ends[found.end()] else -1


def _path_end(text: str, position: int, ends: bytearray) -> int:
    stop = text.find("\n", position)
    return ends.rfind(1, position, len(text) + 1 if stop < 0 else stop + 1)


def _fraction_end(text: str, stop: int, ends: bytearray) -> int:
    # The latest allowed end of a float whose integer part ends at `stop`, taking the
    # fraction (".5") that follows; -1 if there is none or no end in it is allowed.
    if not text.startswith(".", stop):
        return -1
    fraction = _DIGITS.match(text, stop + 1)
    return -1 if fraction is None else ends.rfind(1, stop + 2, fraction.end() + 1)


_STARTS: dict[str, Callable[[str, int, bytearray], bytearray]] = {
    "str": _str_starts,
    "int": _int_starts,
    "float": _float_starts,
    "uuid": _uuid_starts,
    "path": _path_starts,
}
_LATEST_END: dict[str, Callable[[str, int, bytearray], int]] = {
    "str": _str_end,
    "int": _int_end,
    "float": _float_end,
    "uuid": _uuid_end,
    "path": _path_end,
}
