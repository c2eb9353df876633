from __future__ import annotations

import http
import re

import pytest

from stellate_asgi import status

_NAME = re.compile(r"^(HTTP|WS)_(\d{3,4})_[A-Z0-9_]+$")


def test_every_constant_is_declared_and_named_after_its_value() -> None:
    names = [name for name in dir(status) if _NAME.match(name)]
    assert sorted(names) == sorted(status.__all__)
    for name in status.__all__:
        match = _NAME.match(name)
        assert match is not None
        assert getattr(status, name) == int(match.group(2))


def test_http_constants_match_the_standard_library_where_it_knows_the_code() -> None:
    for name in status.__all__:
        if not name.startswith("HTTP_"):
            continue
        code = getattr(status, name)
        if code == 306:  # reserved: not in http.HTTPStatus
            continue
        assert http.HTTPStatus(code).value == code


def test_well_known_values() -> None:
    assert status.HTTP_200_OK == 200
    assert status.HTTP_404_NOT_FOUND == 404
    assert status.HTTP_413_CONTENT_TOO_LARGE == 413
    assert status.HTTP_422_UNPROCESSABLE_CONTENT == 422
    assert status.HTTP_511_NETWORK_AUTHENTICATION_REQUIRED == 511
    assert status.WS_1000_NORMAL_CLOSURE == 1000
    assert status.WS_1008_POLICY_VIOLATION == 1008
    assert status.WS_1015_TLS_HANDSHAKE == 1015
    assert len(status.__all__) == 78


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("HTTP_413_REQUEST_ENTITY_TOO_LARGE", "HTTP_413_CONTENT_TOO_LARGE"),
        ("HTTP_414_REQUEST_URI_TOO_LONG", "HTTP_414_URI_TOO_LONG"),
        ("HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE", "HTTP_416_RANGE_NOT_SATISFIABLE"),
        ("HTTP_422_UNPROCESSABLE_ENTITY", "HTTP_422_UNPROCESSABLE_CONTENT"),
    ],
)
def test_deprecated_names_warn_and_still_work(old: str, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=f"'{old}' is deprecated. Use '{new}' instead."):
        value = getattr(status, old)
    assert value == getattr(status, new)
    assert old not in status.__all__


def test_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="HTTP_999_NOPE"):
        getattr(status, "HTTP_999_NOPE")  # noqa: B009
