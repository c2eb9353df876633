"""Fuzz tests of the path convertors (`{name:int}`, `float`, `uuid`, `str`, `path`).

Properties: `to_string` of any value in a convertor's domain gives text its regex
matches, and `convert` gives the value back (a float to within the 20 decimals the
text keeps); values outside the domain are refused with `AssertionError`; any text
the regex matches either converts or is refused with `ValueError` (which the router
turns into a 404), and what it converts to writes back as matching text; matching
and converting take linear time.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stellate_routing.convertors import (
    CONVERTOR_TYPES,
    Convertor,
    FloatConvertor,
    IntegerConvertor,
    PathConvertor,
    StringConvertor,
    UUIDConvertor,
)
from tests.fuzz._timing import assert_linear

# Text dense in what the builtin regexes care about, plus anything at all.
convertor_soup = st.text(st.sampled_from("0123456789.-/abcdefABCDEF\n é"), max_size=60)
any_text = st.one_of(st.text(max_size=60), convertor_soup)


@given(st.integers(min_value=0, max_value=10**200))
def test_integers_round_trip(value: int) -> None:
    convertor = IntegerConvertor()
    text = convertor.to_string(value)
    assert re.fullmatch(convertor.regex, text)
    assert convertor.convert(text) == value


@given(st.floats(min_value=0, allow_nan=False, allow_infinity=False))
def test_floats_round_trip_to_twenty_decimals(value: float) -> None:
    convertor = FloatConvertor()
    text = convertor.to_string(value)
    # Fixed notation, never an exponent, so the text matches the route's regex.
    assert re.fullmatch(convertor.regex, text)
    converted = convertor.convert(text)
    if value >= 1e-3:
        # Twenty decimals hold more than the 17 significant digits a double needs.
        assert converted == value
    else:
        assert abs(converted - value) <= 1e-20


@given(st.uuids(), st.sampled_from([str, lambda u: u.hex, lambda u: str(u).upper()]))
def test_uuids_round_trip_in_any_spelling(value: uuid.UUID, spell: Callable[[Any], str]) -> None:
    convertor = UUIDConvertor()
    assert convertor.to_string(value) == str(value)
    text = spell(value)
    assert re.fullmatch(convertor.regex, text)
    assert convertor.convert(text) == value


@given(st.text(min_size=1).filter(lambda text: "/" not in text))
def test_strings_round_trip(value: str) -> None:
    convertor = StringConvertor()
    assert convertor.to_string(value) == value
    assert re.fullmatch(convertor.regex, value)
    assert convertor.convert(value) == value


@given(st.text())
def test_paths_round_trip(value: str) -> None:
    convertor = PathConvertor()
    assert convertor.to_string(value) == value
    # "." does not match a newline: a path parameter cannot hold one (as in Starlette).
    assert bool(re.fullmatch(convertor.regex, value)) == ("\n" not in value)
    assert convertor.convert(value) == value


@given(
    st.one_of(
        st.tuples(st.just("int"), st.integers(max_value=-1)),
        st.tuples(st.just("float"), st.floats(max_value=-1e-300)),
        st.tuples(st.just("float"), st.sampled_from([math.nan, math.inf])),
        st.tuples(st.just("str"), st.sampled_from(["", "/", "a/b", "/a", "a/"])),
        st.tuples(st.just("str"), st.text().map(lambda text: text + "/")),
    )
)
def test_values_outside_the_domain_are_refused(case: tuple[str, Any]) -> None:
    key, value = case
    with pytest.raises(AssertionError):
        CONVERTOR_TYPES[key].to_string(value)


@pytest.mark.parametrize("key", ["str", "path", "int", "float", "uuid"])
@given(text=any_text)
def test_matched_text_converts_or_is_refused_with_value_error(key: str, text: str) -> None:
    convertor: Convertor[Any] = CONVERTOR_TYPES[key]
    if not re.fullmatch(convertor.regex, text):
        return
    try:
        value = convertor.convert(text)
    except ValueError:
        # Only an integer longer than Python converts (4300 digits) is refused.
        assert key == "int"
        return
    if key == "float" and math.isinf(value):
        # Hundreds of digits overflow a double; such a value cannot be written back.
        return
    written = convertor.to_string(value)
    assert re.fullmatch(convertor.regex, written)
    assert convertor.convert(written) == value


def test_an_integer_too_long_to_convert_is_refused_with_value_error() -> None:
    with pytest.raises(ValueError, match="digits"):
        IntegerConvertor().convert("1" * 5000)


@pytest.mark.parametrize("key", ["str", "path", "int", "float", "uuid"])
@pytest.mark.parametrize(
    "make_text",
    [
        pytest.param(lambda n: "1" * n + "x", id="digits-then-junk"),
        pytest.param(lambda n: "1." * n, id="dotted-digits"),
        pytest.param(lambda n: "a" * n + "/", id="letters-then-slash"),
        pytest.param(lambda n: "-" * n, id="dashes"),
    ],
)
def test_matching_and_converting_take_linear_time(
    key: str, make_text: Callable[[int], str]
) -> None:
    convertor: Convertor[Any] = CONVERTOR_TYPES[key]
    pattern = re.compile(convertor.regex)

    def match_and_convert(text: str) -> object:
        if pattern.fullmatch(text) is None:
            return None
        try:
            return convertor.convert(text)
        except ValueError as exc:
            return exc

    assert_linear(match_and_convert, make_text, 200)
