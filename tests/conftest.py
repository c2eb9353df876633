"""Fixtures shared by every package's tests.

This file imports no stellate package at module level, so the tests of one
package run where only that package (and its dependencies) is installed.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, cast

import pytest

if TYPE_CHECKING:
    from stellate_testclient import TestClient

TestClientFactory = Callable[..., "TestClient"]


def pytest_configure(config: pytest.Config) -> None:
    _preload_hypothesis()


def _preload_hypothesis() -> None:
    """Import every module of hypothesis now, at the shallow stack of the start-up.

    Hypothesis is a pytest plugin, so pytest compiles its modules with rewritten
    asserts as they are imported, and with PYTHONDONTWRITEBYTECODE it does so on
    every run. Hypothesis imports some lazily (`flatmap`'s strategy, the
    optimiser), deep in a test's stack, where CPython 3.11 before 3.11.8 may fail
    the compilation with "SystemError: AST constructor recursion depth mismatch"
    (python/cpython#106905): a random, rare error in an unrelated test.
    """
    try:
        import hypothesis
        from hypothesis.errors import HypothesisSideeffectWarning
    except ModuleNotFoundError:  # pragma: no cover - the test group installs it
        return
    with warnings.catch_warnings():
        # Some modules read hypothesis' unicode tables when imported: slow, as the
        # warning says, but only once, and harmless.
        warnings.simplefilter("ignore", HypothesisSideeffectWarning)
        for module in pkgutil.walk_packages(hypothesis.__path__, "hypothesis."):
            # The extras need optional third-party packages, and no test uses them.
            if not module.name.startswith("hypothesis.extra"):
                importlib.import_module(module.name)


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
