"""The end-to-end mode's apps, importable by servers as `tests.benchmarks.serve:NAME`.

`NAME` is a scenario of `basic` and an implementation, joined by an underscore:
`plaintext_raw`, `json_stellate`, `plaintext_starlette`, or a peer's.
"""

from __future__ import annotations

from tests.benchmarks import basic
from tests.benchmarks.harness import ASGIApp

__all__ = ["APPS"]

APPS: dict[str, ASGIApp] = {
    f"{scenario.name}_{implementation}": app
    for scenario in basic.scenarios()
    for implementation, app in scenario.apps.items()
}


def __getattr__(name: str) -> ASGIApp:
    try:
        return APPS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no app {name!r}") from None
