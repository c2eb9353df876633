"""Path parameter convertors: the `{name:type}` part of a route path.

A convertor gives the regex a parameter must match, turns the matched text into a
Python value (`convert`) and turns a value back into path text for url reversal
(`to_string`). `register_url_convertor` adds a type to `CONVERTOR_TYPES`.
"""

from __future__ import annotations

import math
import uuid
from typing import Any, ClassVar, Generic, TypeVar

__all__ = [
    "CONVERTOR_TYPES",
    "Convertor",
    "FloatConvertor",
    "IntegerConvertor",
    "PathConvertor",
    "StringConvertor",
    "T",
    "UUIDConvertor",
    "register_url_convertor",
]

T = TypeVar("T")


class Convertor(Generic[T]):
    """Base class of a path parameter type: a `regex` plus `convert` and `to_string`.

    The regex is embedded in the route's pattern, so it must not contain named groups
    of its own.
    """

    regex: ClassVar[str] = ""

    def convert(self, value: str) -> T:
        """Turn the matched path text into the parameter's value."""
        raise NotImplementedError()

    def to_string(self, value: T) -> str:
        """Turn a value into path text (used by `url_path_for`)."""
        raise NotImplementedError()


class StringConvertor(Convertor[str]):
    """`{name}` or `{name:str}`: one non-empty path segment."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        value = str(value)
        # Explicit raises rather than `assert`, so the checks survive `python -O`.
        if "/" in value:
            raise AssertionError("May not contain path separators")
        if not value:
            raise AssertionError("Must not be empty")
        return value


class PathConvertor(Convertor[str]):
    """`{name:path}`: the rest of the path, slashes included (possibly empty)."""

    regex = ".*"

    def convert(self, value: str) -> str:
        return str(value)

    def to_string(self, value: str) -> str:
        return str(value)


class IntegerConvertor(Convertor[int]):
    """`{name:int}`: a non-negative decimal integer."""

    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        value = int(value)
        if value < 0:
            raise AssertionError("Negative integers are not supported")
        return str(value)


class FloatConvertor(Convertor[float]):
    """`{name:float}`: a non-negative decimal number, with an optional fraction."""

    regex = r"[0-9]+(\.[0-9]+)?"

    def convert(self, value: str) -> float:
        return float(value)

    def to_string(self, value: float) -> str:
        value = float(value)
        if value < 0.0:
            raise AssertionError("Negative floats are not supported")
        if math.isnan(value):
            raise AssertionError("NaN values are not supported")
        if math.isinf(value):
            raise AssertionError("Infinite values are not supported")
        # Fixed notation (never "1e-05"), so the text matches `regex` again.
        return f"{value:0.20f}".rstrip("0").rstrip(".")


class UUIDConvertor(Convertor[uuid.UUID]):
    """`{name:uuid}`: a UUID of 32 hex digits (any case), hyphenated or not.

    `to_string` gives the canonical hyphenated lowercase form.
    """

    regex = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

    def convert(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_string(self, value: uuid.UUID) -> str:
        return str(value)


CONVERTOR_TYPES: dict[str, Convertor[Any]] = {
    "str": StringConvertor(),
    "path": PathConvertor(),
    "int": IntegerConvertor(),
    "float": FloatConvertor(),
    "uuid": UUIDConvertor(),
}


def register_url_convertor(key: str, convertor: Convertor[Any]) -> None:
    """Make `{name:key}` available in route paths compiled from now on."""
    CONVERTOR_TYPES[key] = convertor
