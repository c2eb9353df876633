"""Fuzz tests of `JSONResponse` bodies.

`JSONResponse` encodes through the C encoder that `json` uses for a one-shot encoding,
called directly. Properties: any JSON-like value gives exactly the bytes of
`json.dumps` with Starlette's options; a value JSON cannot hold (NaN, infinities, a
circular structure, an object of another type) raises the error `json.dumps` raises.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stellate.responses import JSONResponse

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


def dumps(value: Any) -> bytes:
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


@given(json_values)
def test_the_body_is_what_json_dumps_gives(value: Any) -> None:
    assert JSONResponse(value).body == dumps(value)


@given(st.sampled_from([math.nan, math.inf, -math.inf]), st.integers(0, 3))
def test_out_of_range_floats_are_refused(number: float, depth: int) -> None:
    value: Any = number
    for _ in range(depth):
        value = {"nested": [value]}
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        JSONResponse(value)


def test_circular_structures_and_other_types_are_refused() -> None:
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular reference detected"):
        JSONResponse(circular)
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        JSONResponse({"a": {1, 2}})
    # The encoder keeps no state from a failed call: the next one succeeds.
    assert JSONResponse({"ok": circular[:0]}).body == b'{"ok":[]}'


def test_tuples_keys_and_subclasses_encode_as_json_does() -> None:
    class Text(str):
        pass

    value = {1: (1, 2), False: Text("é"), None: 1.5, 2.5: -0.0}
    assert JSONResponse(value).body == dumps(value)
