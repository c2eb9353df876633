"""The `Range` request header (RFC 9110, section 14), as `FileResponse` reads it.

No header can cost more than linear work or make the response larger than the file
plus its multipart framing:
- a header naming more than `max_ranges` ranges is ignored as a whole (the file is
  served in full with 200, as Starlette 1.5.1+ does): counting its commas is the only
  work done on it;
- digits are never converted past what a file size can need;
- the ranges are sorted once (O(n log n)) and merged in one linear pass, so
  overlapping, touching, repeated or unsorted ranges cost no more than sorted ones
  (Starlette's merge was quadratic before 0.49.1, GHSA-7f5h-v6xp-fcq8).

What is refused, and how (Starlette's tests fix each status; the issue asks for 416
on inverted ranges, but Starlette asserts 400 for them, and its status wins here):
- an inverted range (`9-5`, `5-4`), even beside good ones: 400 "Range header: start
  must be less than end";
- a range that starts at or past the end of the file ("oversized", however many
  digits it has) is rejected with 416 and `Content-Range: bytes */size` when nothing
  else is left; beside a satisfiable range it is dropped, as RFC 9110 (15.5.17) and
  Starlette's tests for mixed ranges ask;
- a last position past the end is clamped to the file (206, as RFC 9110 asks);
- a spec that is not a number (`abc-def`, `100`, ` - `) is skipped; when nothing
  at all was requested, 400 "Range header: range must be requested".
"""

from __future__ import annotations

import re

from stellate_asgi.datastructures import Headers
from stellate_asgi.types import Scope
from stellate_asgi.utils import parse_digits

__all__ = ["MalformedRangeHeader", "RangeNotSatisfiable", "likely_region", "parse_range_header"]

# A byte position never needs more digits than this (2**63 has 19); longer numbers are
# treated as "beyond any file" instead of being converted, which `int` does slowly.
_MAX_DIGITS = 19
_BEYOND_ANY_FILE: int = 10**_MAX_DIGITS
# One `Range` of the form `bytes=first-last` or `bytes=first-`, what players and download
# managers send; bounded digits, so that the guess in `likely_region` stays cheap.
_SINGLE_RANGE = re.compile(r"bytes=(\d{1,18})-(\d{0,18})")


class MalformedRangeHeader(Exception):
    """The `Range` header cannot be understood; `FileResponse` answers 400 with `content`."""

    def __init__(self, content: str = "Malformed range header.") -> None:
        super().__init__(content)
        self.content = content


class RangeNotSatisfiable(Exception):
    """No requested range starts inside the file; `FileResponse` answers 416."""

    def __init__(self, max_size: int) -> None:
        super().__init__(f"No requested range is satisfiable for a size of {max_size} bytes.")
        self.max_size = max_size


def parse_range_header(value: str, size: int, max_ranges: int) -> list[tuple[int, int]]:
    """The half-open `(start, end)` byte ranges that `value` asks of `size` bytes.

    The result is sorted, with overlapping and touching ranges merged. Ranges that
    start past the end are dropped; specs that are not numbers are skipped. An empty
    result means "ignore the header": it named more than `max_ranges` ranges.
    Raises `MalformedRangeHeader` or `RangeNotSatisfiable` (nothing left to serve).
    """
    units, equals, specs = value.partition("=")
    if not equals:
        raise MalformedRangeHeader()
    if units.strip().lower() != "bytes":
        raise MalformedRangeHeader("Only support bytes range")
    if specs.count(",") >= max_ranges:
        return []

    ranges: list[tuple[int, int]] = []
    unsatisfiable = False
    for spec in specs.split(","):
        parsed = _parse_spec(spec, size)
        if parsed is None:
            continue
        start, end = parsed
        if start < size and start < end:
            ranges.append(parsed)
        else:
            unsatisfiable = True

    if not ranges:
        if unsatisfiable:
            raise RangeNotSatisfiable(size)
        raise MalformedRangeHeader("Range header: range must be requested")
    return _merge(ranges)


def likely_region(scope: Scope, status_code: int = 200) -> tuple[int, int | None] | None:
    """The region of a file that a `FileResponse` with `status_code` will most likely
    send for `scope`, guessed before the file's size is known: the whole file
    (`(0, None)`), or the one `first-last` range asked of a 200; None when no body is
    likely to be read (HEAD, pathsend) or the `Range` is of another form. The response
    decides; a wrong guess costs a read.
    """
    if scope["type"] != "http" or scope["method"].upper() == "HEAD":
        return None
    http_range = Headers(scope=scope).get("range") if status_code == 200 else None
    if http_range is None:
        # (With pathsend, the server sends the file itself.)
        return None if "http.response.pathsend" in scope.get("extensions", {}) else (0, None)
    single = _SINGLE_RANGE.fullmatch(http_range)
    if single is None:
        return None
    first, last = single.groups()
    return int(first), None if not last else int(last) + 1


# Helpers


def _parse_spec(spec: str, size: int) -> tuple[int, int] | None:
    """One `first-last`, `first-` or `-suffix` spec; `None` when it is to be skipped."""
    first_text, dash, last_text = spec.partition("-")
    if not dash:
        return None
    first_text, last_text = first_text.strip(), last_text.strip()
    first = _position(first_text)
    last = _position(last_text)
    if first is None:
        if first_text or last is None:
            return None
        # A suffix: the final `last` bytes, or the whole file when it is shorter.
        return (max(size - last, 0), size) if last else (size, size)
    if last is None:
        if last_text:
            return None
        return first, size
    if last < first or (last == first == _BEYOND_ANY_FILE and _below(last_text, first_text)):
        raise MalformedRangeHeader("Range header: start must be less than end")
    return first, min(last + 1, size)


def _below(digits: str, other: str) -> bool:
    """Whether the run of digits `digits` spells a smaller number than `other`: for
    numbers past the cap, which compare equal once capped, in linear time."""
    digits, other = digits.lstrip("0"), other.lstrip("0")
    return (len(digits), digits) < (len(other), other)


def _position(text: str) -> int | None:
    """The value of an ASCII run of digits, capped; `None` for anything else."""
    return parse_digits(text, _MAX_DIGITS, _BEYOND_ANY_FILE)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`ranges` sorted, overlapping and touching ones joined: one sort, one pass."""
    ranges.sort()
    merged = [ranges[0]]
    for start, end in ranges[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged
