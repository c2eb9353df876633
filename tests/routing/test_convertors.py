from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, Response
from stellate_routing.convertors import (
    CONVERTOR_TYPES,
    Convertor,
    FloatConvertor,
    IntegerConvertor,
    PathConvertor,
    StringConvertor,
    UUIDConvertor,
    register_url_convertor,
)
from stellate_routing.routing import Route, Router
from tests.conftest import TestClientFactory


class DateTimeConvertor(Convertor[datetime]):
    regex = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(.[0-9]+)?"

    def convert(self, value: str) -> datetime:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")

    def to_string(self, value: datetime) -> str:
        return value.strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def datetime_convertor() -> Iterator[None]:
    register_url_convertor("test_datetime", DateTimeConvertor())
    yield
    del CONVERTOR_TYPES["test_datetime"]


def params_endpoint(request: Request) -> Response:
    return JSONResponse({key: str(value) for key, value in request.path_params.items()})


def test_builtin_convertor_types() -> None:
    assert isinstance(CONVERTOR_TYPES["str"], StringConvertor)
    assert isinstance(CONVERTOR_TYPES["path"], PathConvertor)
    assert isinstance(CONVERTOR_TYPES["int"], IntegerConvertor)
    assert isinstance(CONVERTOR_TYPES["float"], FloatConvertor)
    assert isinstance(CONVERTOR_TYPES["uuid"], UUIDConvertor)
    assert StringConvertor.regex == "[^/]+"
    assert PathConvertor.regex == ".*"
    assert IntegerConvertor.regex == "[0-9]+"
    assert FloatConvertor.regex == r"[0-9]+(\.[0-9]+)?"


def test_base_convertor_is_abstract() -> None:
    convertor: Convertor[str] = Convertor()
    with pytest.raises(NotImplementedError):
        convertor.convert("x")
    with pytest.raises(NotImplementedError):
        convertor.to_string("x")


def test_string_convertor() -> None:
    convertor = StringConvertor()
    assert convertor.convert("abc") == "abc"
    assert convertor.to_string("abc") == "abc"
    with pytest.raises(AssertionError, match="May not contain path separators"):
        convertor.to_string("a/b")
    with pytest.raises(AssertionError, match="Must not be empty"):
        convertor.to_string("")


def test_path_convertor() -> None:
    convertor = PathConvertor()
    assert convertor.convert("a/b/c") == "a/b/c"
    assert convertor.to_string("a/b") == "a/b"
    assert convertor.to_string("") == ""


def test_integer_convertor() -> None:
    convertor = IntegerConvertor()
    assert convertor.convert("0042") == 42
    assert convertor.to_string(42) == "42"
    with pytest.raises(AssertionError, match="Negative integers are not supported"):
        convertor.to_string(-1)


def test_float_convertor() -> None:
    convertor = FloatConvertor()
    assert convertor.convert("1.5") == 1.5
    assert convertor.to_string(1.5) == "1.5"
    assert convertor.to_string(2.0) == "2"
    # Never exponent notation, so the text matches the regex again.
    assert convertor.to_string(0.00001) == "0.00001"
    with pytest.raises(AssertionError, match="Negative floats are not supported"):
        convertor.to_string(-0.5)
    with pytest.raises(AssertionError, match="NaN values are not supported"):
        convertor.to_string(math.nan)
    with pytest.raises(AssertionError, match="Infinite values are not supported"):
        convertor.to_string(math.inf)


def test_uuid_convertor() -> None:
    convertor = UUIDConvertor()
    value = uuid.UUID("a2d3a1c4-5b6e-4f70-8192-a3b4c5d6e7f8")
    assert convertor.convert("A2D3A1C4-5B6E-4F70-8192-A3B4C5D6E7F8") == value
    assert convertor.to_string(value) == "a2d3a1c4-5b6e-4f70-8192-a3b4c5d6e7f8"


def test_convertors_in_routes(test_client_factory: TestClientFactory) -> None:
    app = Router(
        routes=[
            Route("/int/{param:int}", params_endpoint, name="int"),
            Route("/float/{param:float}", params_endpoint, name="float"),
            Route("/uuid/{param:uuid}", params_endpoint, name="uuid"),
            Route("/path/{param:path}", params_endpoint, name="path"),
            Route("/str/{param}", params_endpoint, name="str"),
        ]
    )
    client = test_client_factory(app)
    assert client.get("/int/5").json() == {"param": "5"}
    assert client.get("/int/-5").status_code == 404
    assert client.get("/int/x").status_code == 404
    assert client.get("/float/2.25").json() == {"param": "2.25"}
    assert client.get("/float/2").json() == {"param": "2.0"}
    assert client.get("/float/2.").status_code == 404
    value = "a2d3a1c4-5b6e-4f70-8192-a3b4c5d6e7f8"
    assert client.get(f"/uuid/{value}").json() == {"param": value}
    assert client.get("/uuid/not-a-uuid").status_code == 404
    assert client.get("/path/a/b/c.txt").json() == {"param": "a/b/c.txt"}
    assert client.get("/path/").json() == {"param": ""}
    assert client.get("/str/hello").json() == {"param": "hello"}

    assert app.url_path_for("int", param=5) == "/int/5"
    assert app.url_path_for("float", param=0.25) == "/float/0.25"
    assert app.url_path_for("uuid", param=uuid.UUID(value)) == f"/uuid/{value}"
    assert app.url_path_for("path", param="a/b") == "/path/a/b"
    with pytest.raises(AssertionError):
        app.url_path_for("int", param=-5)
    with pytest.raises(AssertionError):
        app.url_path_for("str", param="a/b")


@pytest.mark.usefixtures("datetime_convertor")
def test_custom_convertor(test_client_factory: TestClientFactory) -> None:
    def endpoint(request: Request) -> Response:
        moment = request.path_params["param"]
        assert isinstance(moment, datetime)
        return JSONResponse({"year": moment.year})

    app = Router(routes=[Route("/at/{param:test_datetime}", endpoint, name="at")])
    client = test_client_factory(app)
    assert client.get("/at/2020-01-02T03:04:05").json() == {"year": 2020}
    assert client.get("/at/yesterday").status_code == 404
    assert app.url_path_for("at", param=datetime(2020, 1, 2, 3, 4, 5)) == "/at/2020-01-02T03:04:05"


def test_custom_convertor_that_spans_slashes(test_client_factory: TestClientFactory) -> None:
    class LowerPathConvertor(Convertor[str]):
        regex = "[a-z/]+"

        def convert(self, value: str) -> str:
            return value

        def to_string(self, value: str) -> str:
            return value

    register_url_convertor("test_lowerpath", LowerPathConvertor())
    try:
        app = Router(routes=[Route("/docs/{page:test_lowerpath}/edit", params_endpoint)])
    finally:
        del CONVERTOR_TYPES["test_lowerpath"]
    client = test_client_factory(app)
    assert client.get("/docs/a/b/c/edit").json() == {"page": "a/b/c"}
    assert client.get("/docs/A/edit").status_code == 404
