"""The umbrella exposes Starlette 1.10's public surface, as `api_surface.md` lists it.

`api_surface.md` is a copy of the project's contract (shared/api-surface.md).
For every module this package implements so far, each listed name imports from
the same `stellate.<module>` path, re-exported names are the very objects of
their owning module, and the parameters of every listed callable match.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SURFACE = Path(__file__).with_name("api_surface.md")

# The modules that have landed; later issues add theirs here.
IMPLEMENTED = {
    "stellate.applications",
    "stellate.authentication",
    "stellate.background",
    "stellate.concurrency",
    "stellate.config",
    "stellate.convertors",
    "stellate.datastructures",
    "stellate.endpoints",
    "stellate.exceptions",
    "stellate.formparsers",
    "stellate.middleware",
    "stellate.middleware.authentication",
    "stellate.middleware.base",
    "stellate.middleware.body_limit",
    "stellate.middleware.cors",
    "stellate.middleware.gzip",
    "stellate.middleware.httpsredirect",
    "stellate.middleware.opentelemetry",
    "stellate.middleware.sessions",
    "stellate.middleware.trustedhost",
    "stellate.middleware.wsgi",
    "stellate.middleware.errors",
    "stellate.middleware.exceptions",
    "stellate.requests",
    "stellate.responses",
    "stellate.routing",
    "stellate.schemas",
    "stellate.staticfiles",
    "stellate.status",
    "stellate.templating",
    "stellate.testclient",
    "stellate.types",
    "stellate.websockets",
}

ROW = re.compile(r"^- (?:(class|function|async function) )?`(\w+)(.*)$")
MEMBER = re.compile(r"^    - (?:(async|property|staticmethod) )?`(\w+)(\(.*)?$")
SAME = re.compile(r"\(same object as `([\w.]+)\.(\w+)`\)")


@dataclass
class Row:
    module: str
    name: str
    kind: str | None
    text: str
    same_as: tuple[str, str] | None = None
    members: list[tuple[str | None, str, str]] = field(default_factory=list)


def parse_surface() -> list[Row]:
    rows: list[Row] = []
    module = ""
    for line in SURFACE.read_text().splitlines():
        if line.startswith("## `"):
            module = line[4:].rstrip("`")
            continue
        if match := ROW.match(line):
            kind, name, rest = match.groups()
            same = SAME.search(rest)
            rows.append(
                Row(module, name, kind, rest, (same.group(1), same.group(2)) if same else None)
            )
        elif (match := MEMBER.match(line)) and rows:
            rows[-1].members.append((match.group(1), match.group(2), match.group(3) or ""))
    return rows


ROWS = [row for row in parse_surface() if row.module in IMPLEMENTED]


def parameter_names(text: str) -> list[str]:
    """Names of the parameters in a contract signature `(a: 'x' = 1, *, b, **c)`."""
    inside = text[text.index("(") + 1 :]
    depth, current, parts = 0, "", []
    quote: str | None = None
    for char in inside:
        if quote:
            current += char
            if char == quote:
                quote = None
            continue
        if char in "'\"":
            quote = char
        elif char in "([{<":
            depth += 1
        elif char in ")]}>":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    names = []
    for part in parts:
        name = part.split(":")[0].split("=")[0].strip()
        if name and name not in ("/", "*", "...", "self"):
            names.append(name.lstrip("*"))
    return names


def signature_names(obj: Any) -> list[str]:
    return [name for name in inspect.signature(obj).parameters if name != "self"]


def load(name: str) -> ModuleType:
    return importlib.import_module(name)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row.module}.{row.name}")
def test_name_is_exposed(row: Row) -> None:
    module = load(row.module)
    assert hasattr(module, row.name), f"{row.module} lacks {row.name}"
    if row.name != "TYPE_CHECKING":
        assert row.name in module.__all__, f"{row.name} missing from {row.module}.__all__"


@pytest.mark.parametrize(
    "row", [row for row in ROWS if row.same_as], ids=lambda row: f"{row.module}.{row.name}"
)
def test_reexport_is_the_same_object(row: Row) -> None:
    assert row.same_as is not None
    owner, owner_name = row.same_as
    assert getattr(load(row.module), row.name) is getattr(load(owner), owner_name)


@pytest.mark.parametrize(
    "row",
    [row for row in ROWS if row.kind in ("function", "async function")],
    ids=lambda row: f"{row.module}.{row.name}",
)
def test_function_signature(row: Row) -> None:
    func = getattr(load(row.module), row.name)
    assert signature_names(func) == parameter_names(row.text)
    assert inspect.iscoroutinefunction(func) == (row.kind == "async function")


@pytest.mark.parametrize(
    "row", [row for row in ROWS if row.kind == "class"], ids=lambda row: f"{row.module}.{row.name}"
)
def test_class_surface(row: Row) -> None:
    cls = getattr(load(row.module), row.name)
    assert inspect.isclass(cls)
    init = re.search(r"— init `(\(.*\))", row.text)
    if init and init.group(1) not in ("(...)", "()") and "value, names=None" not in init.group(1):
        assert signature_names(cls) == parameter_names(init.group(1)), row.name
    for kind, name, signature in row.members:
        assert hasattr(cls, name), f"{row.name}.{name} is missing"
        attribute = inspect.getattr_static(cls, name)
        if kind == "property":
            assert isinstance(attribute, property), f"{row.name}.{name} is not a property"
            continue
        if kind == "staticmethod":
            assert isinstance(attribute, staticmethod), f"{row.name}.{name} is not static"
        member = getattr(cls, name)
        if signature and not name.startswith("__"):
            assert signature_names(member) == parameter_names(signature), f"{row.name}.{name}"
        if kind == "async":
            assert inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member), (
                f"{row.name}.{name} is not async"
            )


def test_every_umbrella_module_declares_all() -> None:
    """Every stellate class or function an umbrella module holds is in its `__all__`."""
    for module_name in sorted({row.module for row in ROWS}):
        module = load(module_name)
        public = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (inspect.isclass(value) or inspect.isfunction(value))
            and value.__module__.startswith("stellate")
        }
        undeclared = public - set(module.__all__)
        assert not undeclared, f"{module_name} has undeclared public names {undeclared}"
