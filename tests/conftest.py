"""Fixtures shared by every package's tests.

This file imports no stellate package at module level, so the tests of one
package run where only that package (and its dependencies) is installed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, cast

import pytest

if TYPE_CHECKING:
    from stellate_testclient import TestClient

TestClientFactory = Callable[..., "TestClient"]


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(("trio", {}), id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Run every anyio test, and every test client, on both backends."""
    backend: tuple[str, dict[str, Any]] = request.param
    return backend


@pytest.fixture
def anyio_backend_name(anyio_backend: tuple[str, dict[str, Any]]) -> Literal["asyncio", "trio"]:
    return cast(Literal["asyncio", "trio"], anyio_backend[0])


@pytest.fixture
def test_client_factory(anyio_backend_name: Literal["asyncio", "trio"]) -> TestClientFactory:
    """`TestClient` bound to the backend of the current test run."""
    from stellate_testclient import TestClient

    return functools.partial(TestClient, backend=anyio_backend_name)
