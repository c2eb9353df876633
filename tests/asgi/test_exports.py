"""Every public name of a stellate_asgi module is declared in its `__all__`, and every
declared name exists."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = [
    "stellate_asgi",
    "stellate_asgi.types",
    "stellate_asgi.status",
    "stellate_asgi.exceptions",
    "stellate_asgi.utils",
    "stellate_asgi.datastructures",
    "stellate_asgi.connection",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_complete_and_valid(name: str) -> None:
    module = importlib.import_module(name)
    declared = set(module.__all__)
    assert len(declared) == len(module.__all__), "duplicate names in __all__"
    for attribute in declared:
        assert hasattr(module, attribute), f"{name}.{attribute} is declared but missing"
    for attribute, value in vars(module).items():
        if attribute.startswith("_") or inspect.ismodule(value):
            continue
        defined_here = getattr(value, "__module__", name) == name
        if (inspect.isclass(value) or inspect.isfunction(value)) and defined_here:
            assert attribute in declared, f"{name}.{attribute} is public but not in __all__"


def test_package_reexports_are_the_same_objects() -> None:
    import stellate_asgi
    from stellate_asgi import connection, datastructures, exceptions, types

    assert stellate_asgi.URL is datastructures.URL
    assert stellate_asgi.Headers is datastructures.Headers
    assert stellate_asgi.HTTPConnection is connection.HTTPConnection
    assert stellate_asgi.HTTPException is exceptions.HTTPException
    assert stellate_asgi.WebSocketDisconnect is exceptions.WebSocketDisconnect
    assert stellate_asgi.Scope is types.Scope
    assert (
        datastructures.parse_host_header
        is importlib.import_module("stellate_asgi.utils").parse_host_header
    )


def test_no_third_party_imports() -> None:
    for module in MODULES:
        source = inspect.getsource(importlib.import_module(module))
        for forbidden in ("anyio", "httpx", "multipart", "itsdangerous", "sniffio"):
            assert f"import {forbidden}" not in source, module
            assert f"from {forbidden}" not in source, module
