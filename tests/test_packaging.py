"""Every package is self-sufficient and all versions move together (style items 9, 11)."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = sorted(path.parent for path in ROOT.glob("packages/*/pyproject.toml"))


def project(package: Path) -> dict[str, Any]:
    meta: dict[str, Any] = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    return meta


def import_name(package: Path) -> str:
    name: str = project(package)["name"]
    return name.replace("-", "_")


def version() -> str:
    return str(importlib.import_module("stellate").__version__)


def test_there_are_ten_packages() -> None:
    assert len(PACKAGES) == 10


@pytest.mark.parametrize("package", PACKAGES, ids=lambda path: path.name)
def test_package_is_self_sufficient(package: Path) -> None:
    source = package / "src" / import_name(package)
    assert (source / "py.typed").is_file()
    assert (package / "LICENSE").is_file()
    readme = (package / "README.md").read_text()
    assert f"pip install {project(package)['name']}" in readme
    module = importlib.import_module(import_name(package))
    assert module.__version__ == version()
    assert "__version__" in module.__all__


@pytest.mark.parametrize("package", PACKAGES, ids=lambda path: path.name)
def test_siblings_are_pinned_to_the_shared_version(package: Path) -> None:
    for requirement in project(package)["dependencies"]:
        if requirement.startswith("stellate"):
            name, pin = requirement.split("==")
            assert pin == version(), f"{project(package)['name']} pins {name} to {pin}"


def test_changelog_leads_with_the_shared_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    first = re.search(r"^## (\S+)", changelog, re.MULTILINE)
    assert first is not None
    assert first.group(1) == version()


def test_umbrella_depends_on_every_part() -> None:
    umbrella = ROOT / "packages" / "stellate"
    parts = {project(package)["name"] for package in PACKAGES if package != umbrella}
    pinned = {requirement.split("==")[0] for requirement in project(umbrella)["dependencies"]}
    assert parts <= pinned
