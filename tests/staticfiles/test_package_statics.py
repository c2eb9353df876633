"""`StaticFiles(packages=["tests"])` serves `tests/statics/`, as ported Starlette apps expect."""

from __future__ import annotations

from collections.abc import Callable

from stellate_staticfiles import StaticFiles
from stellate_testclient import TestClient


def test_serves_the_statics_of_a_package(
    test_client_factory: Callable[..., TestClient],
) -> None:
    client = test_client_factory(StaticFiles(packages=["tests"]))
    response = client.get("/example.txt")
    assert response.status_code == 200
    assert response.text == "123\n"
