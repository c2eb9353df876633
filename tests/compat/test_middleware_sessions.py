"""Starlette-compatible behaviour of `SessionMiddleware` and `Session`, through the
umbrella.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from stellate.applications import Stellate
from stellate.datastructures import Secret
from stellate.middleware import Middleware
from stellate.middleware.sessions import Session, SessionMiddleware
from stellate.requests import Request
from stellate.responses import JSONResponse
from stellate.routing import Mount, Route
from tests.conftest import TestClientFactory


async def view(request: Request) -> JSONResponse:
    return JSONResponse({"session": request.session})


async def update(request: Request) -> JSONResponse:
    request.session.update(await request.json())
    return JSONResponse({"session": request.session})


async def merge(request: Request) -> JSONResponse:
    session = request.session
    session |= await request.json()
    return JSONResponse({"session": request.session})


async def popitem(request: Request) -> JSONResponse:
    request.session.popitem()
    return JSONResponse({"session": request.session})


async def pop(request: Request) -> JSONResponse:
    return JSONResponse({"value": request.session.pop("a")})


async def clear(request: Request) -> JSONResponse:
    request.session.clear()
    return JSONResponse({"session": request.session})


async def untouched(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def make_app(**options: Any) -> Stellate:
    return Stellate(
        routes=[
            Route("/view", view),
            Route("/update", update, methods=["POST"]),
            Route("/merge", merge, methods=["POST"]),
            Route("/popitem", popitem, methods=["POST"]),
            Route("/pop", pop, methods=["POST"]),
            Route("/clear", clear, methods=["POST"]),
            Route("/untouched", untouched),
        ],
        middleware=[Middleware(SessionMiddleware, **{"secret_key": "example", **options})],
    )


def cookie_value(set_cookie: str) -> str:
    match = re.match(r"session=([^;]*);", set_cookie)
    assert match is not None
    return match[1]


def test_session_lifecycle(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(make_app())
    assert client.get("/view").json() == {"session": {}}

    response = client.post("/update", json={"some": "data"})
    assert response.json() == {"session": {"some": "data"}}
    max_age = re.search(r"; Max-Age=(\d+);", response.headers["set-cookie"])
    assert max_age is not None
    assert int(max_age[1]) == 1209600

    assert client.get("/view").json() == {"session": {"some": "data"}}
    assert client.post("/clear").json() == {"session": {}}
    assert client.get("/view").json() == {"session": {}}


@pytest.mark.parametrize("partitioned", [False, True])
def test_partitioned_attribute(test_client_factory: TestClientFactory, partitioned: bool) -> None:
    app = make_app(https_only=True, same_site="none", partitioned=partitioned)
    client = test_client_factory(app, base_url="https://testserver")
    written = client.post("/update", json={"some": "data"}).headers["set-cookie"]
    assert ("partitioned" in written.split("; ")) is partitioned
    cleared = client.post("/clear").headers["set-cookie"]
    assert ("partitioned" in cleared.split("; ")) is partitioned


def test_expired_session_is_empty(test_client_factory: TestClientFactory) -> None:
    app = make_app(max_age=-1)
    response = test_client_factory(app).post("/update", json={"some": "data"})
    assert response.json() == {"session": {"some": "data"}}
    expired = cookie_value(response.headers["set-cookie"])
    client = test_client_factory(app, cookies={"session": expired})
    assert client.get("/view").json() == {"session": {}}


def test_https_only_cookie(test_client_factory: TestClientFactory) -> None:
    app = make_app(https_only=True)
    http_client = test_client_factory(app, base_url="http://testserver")
    https_client = test_client_factory(app, base_url="https://testserver")

    assert http_client.post("/update", json={"a": 1}).json() == {"session": {"a": 1}}
    # The browser-like client does not send a Secure cookie back over http.
    assert http_client.get("/view").json() == {"session": {}}

    response = https_client.post("/update", json={"a": 1})
    assert "; secure" in response.headers["set-cookie"]
    assert https_client.get("/view").json() == {"session": {"a": 1}}
    assert https_client.post("/clear").json() == {"session": {}}
    assert https_client.get("/view").json() == {"session": {}}


def test_cookie_path_of_a_mounted_app(test_client_factory: TestClientFactory) -> None:
    inner = make_app(path="/inner")
    outer = Stellate(routes=[Mount("/inner", app=inner)])
    client = test_client_factory(outer, base_url="http://testserver/inner")
    response = client.post("/update", json={"a": 1})
    assert response.status_code == 200
    path = re.search(r"; path=(\S+);", response.headers["set-cookie"])
    assert path is not None
    assert path[1] == "/inner"


def test_bogus_cookie_is_ignored(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(make_app(), cookies={"session": "bogus"})
    response = client.get("/view")
    assert response.status_code == 200
    assert response.json() == {"session": {}}


def test_max_age_none_is_a_browser_session_cookie(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(make_app(max_age=None))
    response = client.post("/update", json={"a": 1})
    assert "Max-Age" not in response.headers["set-cookie"]
    client.cookies.delete("session")
    assert client.get("/view").json() == {"session": {}}


def test_domain_attribute(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(make_app(domain=".example.com"))
    response = client.post("/update", json={"a": 1})
    assert "domain=.example.com" in response.headers["set-cookie"]


def test_cookie_only_on_modification(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(make_app())
    assert "set-cookie" in client.post("/update", json={"a": 1}).headers
    response = client.get("/view")
    assert response.json() == {"session": {"a": 1}}
    assert "set-cookie" not in response.headers


def test_vary_cookie_when_accessed(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(make_app())
    assert "cookie" in client.post("/update", json={"a": 1}).headers["vary"].lower()
    assert "cookie" in client.get("/view").headers["vary"].lower()
    assert "cookie" not in client.get("/untouched").headers.get("vary", "").lower()


@pytest.mark.parametrize("data", [{"a": "1"}, {"a": "1", "b": "2"}])
def test_pop_writes_the_cookie(
    test_client_factory: TestClientFactory, data: dict[str, str]
) -> None:
    client = test_client_factory(make_app())
    client.post("/update", json=data)
    response = client.post("/pop")
    assert response.json() == {"value": "1"}
    assert "set-cookie" in response.headers
    assert "cookie" in response.headers["vary"].lower()


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/merge", {"c": "3"}, {"a": "1", "b": "2", "c": "3"}),
        ("/popitem", None, {"a": "1"}),
    ],
)
def test_other_mutations_persist(
    test_client_factory: TestClientFactory,
    path: str,
    body: dict[str, str] | None,
    expected: dict[str, str],
) -> None:
    client = test_client_factory(make_app())
    client.post("/update", json={"a": "1", "b": "2"})
    assert client.post(path, json=body).json() == {"session": expected}
    assert client.get("/view").json() == {"session": expected}


def test_session_flags() -> None:
    session = Session({"a": "1"})
    assert (session.accessed, session.modified) == (False, False)
    session["b"] = "2"
    assert session.modified

    session = Session({"a": "1"})
    session.pop("a")
    assert (session.accessed, session.modified) == (True, True)

    session = Session({"a": "1"})
    session.pop("missing", None)
    assert (session.accessed, session.modified) == (False, False)

    session = Session({"a": "1"})
    session.setdefault("a", "2")
    assert (session.accessed, session.modified) == (True, False)
    session.setdefault("b", "2")
    assert (session.accessed, session.modified) == (True, True)

    session = Session({"a": "1"})
    session.clear()
    assert session.modified

    session = Session({"a": "1"})
    del session["a"]
    assert session.modified

    session = Session({"a": "1"})
    session.popitem()
    assert session.modified


def test_secret_key_rotation(test_client_factory: TestClientFactory) -> None:
    old_client = test_client_factory(make_app(secret_key="old"))
    old = cookie_value(old_client.post("/update", json={"a": 1}).headers["set-cookie"])

    rotated = make_app(secret_key=[Secret("new"), "old"])
    client = test_client_factory(rotated, cookies={"session": old})
    assert client.get("/view").json() == {"session": {"a": 1}}
    new = cookie_value(client.post("/update", json={"b": 2}).headers["set-cookie"])

    only_new = test_client_factory(make_app(secret_key="new"), cookies={"session": new})
    assert only_new.get("/view").json() == {"session": {"a": 1, "b": 2}}
    only_old = test_client_factory(make_app(secret_key="old"), cookies={"session": new})
    assert only_old.get("/view").json() == {"session": {}}
