"""Other frameworks, measured as extra columns wherever they happen to be installed.

None of them is a dependency of the project: a peer that cannot be imported has
no column. Each peer answers the scenarios it has an app for (plaintext and
JSON, the ones the end-to-end mode serves too); its other cells stay empty.
The peers are imported by name at run time, so that type checking does not need
them either.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

from tests.benchmarks.harness import ASGIApp

__all__ = ["LABELS", "apps"]

# How each implementation is named in tables and the plot.
LABELS = {
    "raw": "raw",
    "stellate": "stellate",
    "starlette": "Starlette",
    "blacksheep": "BlackSheep",
    "litestar": "Litestar",
}
PLAINTEXT = "Hello, world!"
DOCUMENT = {"message": "Hello, world!"}


def apps(scenario: str) -> dict[str, ASGIApp]:
    """The app of every importable peer that has one for `scenario` ("plaintext", "json")."""
    found = {}
    for name, build in _BUILDERS.items():
        if importlib.util.find_spec(name) is None:
            continue
        app = build(scenario)
        if app is not None:
            found[name] = app
    return found


def _blacksheep(scenario: str) -> ASGIApp | None:
    blacksheep: Any = importlib.import_module("blacksheep")

    async def plaintext() -> Any:
        return blacksheep.text(PLAINTEXT)

    async def json() -> Any:
        return blacksheep.json(DOCUMENT)

    handler = {"plaintext": plaintext, "json": json}.get(scenario)
    if handler is None:
        return None
    # Its own router: by default every `Application` shares one, and both apps route `/`.
    application = blacksheep.Application(router=blacksheep.Router())
    application.router.add_get("/", handler)
    app: ASGIApp = application
    return app


def _litestar(scenario: str) -> ASGIApp | None:
    litestar: Any = importlib.import_module("litestar")

    async def plaintext() -> str:
        return PLAINTEXT

    async def json() -> dict[str, str]:
        return DOCUMENT

    if scenario == "plaintext":
        handler = litestar.get("/", media_type=litestar.MediaType.TEXT)(plaintext)
    elif scenario == "json":
        handler = litestar.get("/")(json)
    else:
        return None
    app: ASGIApp = litestar.Litestar([handler])
    return app


_BUILDERS: dict[str, Callable[[str], ASGIApp | None]] = {
    "blacksheep": _blacksheep,
    "litestar": _litestar,
}
