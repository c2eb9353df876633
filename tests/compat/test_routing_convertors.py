"""Starlette-compatible path convertors, driven through the `stellate.*` umbrella."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from stellate import convertors
from stellate.convertors import (
    CONVERTOR_TYPES,
    Convertor,
    FloatConvertor,
    IntegerConvertor,
    PathConvertor,
    StringConvertor,
    UUIDConvertor,
    register_url_convertor,
)
from stellate.requests import Request
from stellate.responses import JSONResponse
from stellate.routing import Route, Router
from tests.conftest import TestClientFactory


class StampConvertor(Convertor[datetime]):
    regex = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(.[0-9]+)?"

    def convert(self, value: str) -> datetime:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")

    def to_string(self, value: datetime) -> str:
        return value.strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def stamp_router() -> Iterator[Router]:
    saved = dict(CONVERTOR_TYPES)
    register_url_convertor("stamp", StampConvertor())

    def stamp(request: Request) -> JSONResponse:
        value = request.path_params["param"]
        assert isinstance(value, datetime)
        return JSONResponse({"stamp": value.strftime("%Y-%m-%dT%H:%M:%S")})

    yield Router(routes=[Route("/stamp/{param:stamp}", endpoint=stamp, name="stamp")])
    CONVERTOR_TYPES.clear()
    CONVERTOR_TYPES.update(saved)


def test_registered_convertor(test_client_factory: TestClientFactory, stamp_router: Router) -> None:
    client = test_client_factory(stamp_router)
    assert client.get("/stamp/2020-01-01T00:00:00").json() == {"stamp": "2020-01-01T00:00:00"}
    assert client.get("/stamp/2020-01-01").status_code == 404
    url = stamp_router.url_path_for("stamp", param=datetime(1996, 1, 22, 23, 0, 0))
    assert url == "/stamp/1996-01-22T23:00:00"


def test_registry_is_shared() -> None:
    assert convertors.CONVERTOR_TYPES is CONVERTOR_TYPES
    assert {"str", "path", "int", "float", "uuid"} <= set(CONVERTOR_TYPES)
    assert isinstance(CONVERTOR_TYPES["str"], StringConvertor)
    assert isinstance(CONVERTOR_TYPES["path"], PathConvertor)
    assert isinstance(CONVERTOR_TYPES["int"], IntegerConvertor)
    assert isinstance(CONVERTOR_TYPES["float"], FloatConvertor)
    assert isinstance(CONVERTOR_TYPES["uuid"], UUIDConvertor)


@pytest.mark.parametrize(("param", "status_code"), [("1.0", 200), ("1-0", 404), ("1.", 404)])
def test_float_routes(test_client_factory: TestClientFactory, param: str, status_code: int) -> None:
    def endpoint(request: Request) -> JSONResponse:
        value = request.path_params["param"]
        assert isinstance(value, float)
        return JSONResponse({"float": value})

    client = test_client_factory(Router(routes=[Route("/{param:float}", endpoint=endpoint)]))
    response = client.get(f"/{param}")
    assert response.status_code == status_code
    if status_code == 200:
        assert response.json() == {"float": float(param)}


@pytest.mark.parametrize(
    ("param", "status_code"),
    [
        ("00000000-aaaa-ffff-9999-000000000000", 200),
        ("00000000aaaaffff9999000000000000", 200),
        ("00000000-AAAA-FFFF-9999-000000000000", 200),
        ("00000000AAAAFFFF9999000000000000", 200),
        ("not-a-uuid", 404),
        ("00000000-aaaa-ffff-9999-00000000000", 404),
    ],
)
def test_uuid_routes(test_client_factory: TestClientFactory, param: str, status_code: int) -> None:
    def endpoint(request: Request) -> JSONResponse:
        value = request.path_params["param"]
        assert isinstance(value, uuid.UUID)
        return JSONResponse({"uuid": str(value)})

    client = test_client_factory(Router(routes=[Route("/{param:uuid}", endpoint=endpoint)]))
    response = client.get(f"/{param}")
    assert response.status_code == status_code
    if status_code == 200:
        assert response.json() == {"uuid": str(uuid.UUID(param))}


def test_int_routes(test_client_factory: TestClientFactory) -> None:
    def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"int": request.path_params["param"]})

    router = Router(routes=[Route("/{param:int}", endpoint=endpoint, name="int")])
    client = test_client_factory(router)
    assert client.get("/007").json() == {"int": 7}
    assert client.get("/-1").status_code == 404
    assert client.get("/1.5").status_code == 404
    assert router.url_path_for("int", param=42) == "/42"
    with pytest.raises(AssertionError, match="Negative integers are not supported"):
        router.url_path_for("int", param=-1)


def test_to_string_edge_cases() -> None:
    floats = FloatConvertor()
    assert floats.to_string(25.5) == "25.5"
    assert floats.to_string(1.0) == "1"
    assert floats.to_string(0.00001) == "0.00001"
    with pytest.raises(AssertionError, match="Negative floats are not supported"):
        floats.to_string(-1.0)
    with pytest.raises(AssertionError, match="NaN values are not supported"):
        floats.to_string(float("nan"))
    with pytest.raises(AssertionError, match="Infinite values are not supported"):
        floats.to_string(float("inf"))

    strings = StringConvertor()
    with pytest.raises(AssertionError, match="May not contain path separators"):
        strings.to_string("a/b")
    with pytest.raises(AssertionError, match="Must not be empty"):
        strings.to_string("")

    value = uuid.UUID("00000000-aaaa-ffff-9999-000000000000")
    assert UUIDConvertor().to_string(value) == "00000000-aaaa-ffff-9999-000000000000"
    assert UUIDConvertor().convert("00000000AAAAFFFF9999000000000000") == value
    assert PathConvertor().to_string("a/b/") == "a/b/"


def test_convertor_value_error_is_no_match(test_client_factory: TestClientFactory) -> None:
    # Deliberately better than Starlette (a 500): more digits than `int()` accepts, or
    # a custom convertor refusing its text with ValueError, means the route does not
    # match, so the router goes on and answers 404.
    def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    class Month(Convertor[int]):
        regex = "[0-9]{2}"

        def convert(self, value: str) -> int:
            month = int(value)
            if not 1 <= month <= 12:
                raise ValueError(value)
            return month

        def to_string(self, value: int) -> str:
            return f"{value:02d}"

    saved = dict(CONVERTOR_TYPES)
    register_url_convertor("test_month", Month())
    try:
        router = Router(
            routes=[
                Route("/int/{value:int}", endpoint),
                Route("/month/{value:test_month}", endpoint),
                Route("/month/{value}", lambda request: JSONResponse({"fallback": True})),
            ]
        )
    finally:
        CONVERTOR_TYPES.clear()
        CONVERTOR_TYPES.update(saved)
    client = test_client_factory(router)
    assert client.get("/int/" + "1" * 5_000).status_code == 404
    assert client.get("/int/" + "1" * 4_000).json() == {"ok": True}
    assert client.get("/month/07").json() == {"ok": True}
    assert client.get("/month/13").json() == {"fallback": True}
