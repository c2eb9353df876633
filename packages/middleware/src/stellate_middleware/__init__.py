"""Stellate's ASGI middleware.

The `Middleware` spec, server errors with a debug page, exception handling, request body
limits, and more.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ParamSpec, Protocol

from stellate_asgi.types import ASGIApp

__version__ = "0.1.0"

__all__ = ["Middleware", "P", "__version__"]

P = ParamSpec("P")


class _MiddlewareFactory(Protocol[P]):
    """Anything that wraps an ASGI app: `factory(app, *args, **kwargs) -> ASGIApp`."""

    def __call__(self, app: ASGIApp, /, *args: P.args, **kwargs: P.kwargs) -> ASGIApp: ...


class Middleware:
    """A middleware to build later: the factory `cls` and the options to call it with.

    Applications and routers call `cls(app, *args, **kwargs)` when they build their
    stack. Unpacks as `cls, args, kwargs = middleware`.
    """

    def __init__(self, cls: _MiddlewareFactory[P], *args: P.args, **kwargs: P.kwargs) -> None:
        self.cls: _MiddlewareFactory[...] = cls
        self.args: tuple[Any, ...] = args
        self.kwargs: dict[str, Any] = kwargs

    def __iter__(self) -> Iterator[Any]:
        return iter((self.cls, self.args, self.kwargs))

    def __repr__(self) -> str:
        parts = [getattr(self.cls, "__name__", "")]
        parts.extend(repr(value) for value in self.args)
        parts.extend(f"{key}={value!r}" for key, value in self.kwargs.items())
        return f"{type(self).__name__}({', '.join(parts)})"
