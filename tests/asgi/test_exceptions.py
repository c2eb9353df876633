from __future__ import annotations

import warnings

import pytest

from stellate_asgi.exceptions import (
    HTTPException,
    StellateDeprecationWarning,
    WebSocketDisconnect,
    WebSocketException,
)


def test_http_exception_detail_defaults_to_reason_phrase() -> None:
    exc = HTTPException(404)
    assert exc.status_code == 404
    assert exc.detail == "Not Found"
    assert exc.headers is None
    assert str(exc) == "404: Not Found"
    assert repr(exc) == "HTTPException(status_code=404, detail='Not Found')"


def test_http_exception_with_detail_and_headers() -> None:
    exc = HTTPException(status_code=401, detail="Go away", headers={"WWW-Authenticate": "Basic"})
    assert exc.detail == "Go away"
    assert exc.headers == {"WWW-Authenticate": "Basic"}
    assert str(exc) == "401: Go away"
    assert repr(exc) == "HTTPException(status_code=401, detail='Go away')"


def test_http_exception_empty_detail_is_kept() -> None:
    assert HTTPException(400, detail="").detail == ""


def test_http_exception_unknown_status_defaults_to_empty_detail() -> None:
    assert HTTPException(499).detail == ""
    assert str(HTTPException(599)) == "599: "
    assert HTTPException(599, detail="Custom").detail == "Custom"


@pytest.mark.parametrize("status_code", [-1, 99, 600])
def test_http_exception_out_of_range_status_needs_a_detail(status_code: int) -> None:
    with pytest.raises(ValueError, match=f"{status_code} is not a valid HTTPStatus"):
        HTTPException(status_code)
    assert HTTPException(status_code, detail="odd").detail == "odd"


def test_http_exception_subclass_repr_uses_its_name() -> None:
    class TeapotError(HTTPException):
        pass

    assert repr(TeapotError(418)) == 'TeapotError(status_code=418, detail="I\'m a Teapot")'


def test_http_exception_is_raisable_and_catchable() -> None:
    with pytest.raises(HTTPException) as info:
        raise HTTPException(503)
    assert info.value.status_code == 503
    assert info.value.detail == "Service Unavailable"


def test_websocket_exception() -> None:
    exc = WebSocketException(1008, reason="policy")
    assert exc.code == 1008
    assert exc.reason == "policy"
    assert str(exc) == "1008: policy"
    assert repr(exc) == "WebSocketException(code=1008, reason='policy')"


def test_websocket_exception_reason_defaults_to_empty() -> None:
    exc = WebSocketException(code=1011)
    assert exc.reason == ""
    assert str(exc) == "1011: "
    assert repr(exc) == "WebSocketException(code=1011, reason='')"


def test_websocket_disconnect_defaults() -> None:
    exc = WebSocketDisconnect()
    assert exc.code == 1000
    assert exc.reason == ""
    exc = WebSocketDisconnect(1001, "bye")
    assert (exc.code, exc.reason) == (1001, "bye")
    exc = WebSocketDisconnect(code=1006, reason=None)
    assert (exc.code, exc.reason) == (1006, "")
    assert isinstance(exc, Exception)


def test_deprecation_warning_is_a_user_warning_shown_by_default() -> None:
    assert issubclass(StellateDeprecationWarning, UserWarning)
    assert not issubclass(StellateDeprecationWarning, DeprecationWarning)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        warnings.warn("old", StellateDeprecationWarning, stacklevel=1)
    assert [w.category for w in caught] == [StellateDeprecationWarning]
