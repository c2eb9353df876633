"""Counting the worker-thread calls a piece of code makes, for tests of how it reads files."""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any, TypeVar

import anyio.to_thread
import pytest

T = TypeVar("T")


def count_thread_calls(monkeypatch: pytest.MonkeyPatch, ignore: Container[str] = ()) -> list[str]:
    """Record the name of the function of every worker-thread call (`anyio.to_thread`)
    made from now on, but those named in `ignore`."""
    calls: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counting(func: Callable[..., T], *args: object, **kwargs: Any) -> T:
        name = getattr(func, "__name__", repr(func))
        if name not in ignore:
            calls.append(name)
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return calls
