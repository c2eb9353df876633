"""Background tasks: work that runs after the response has been sent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ParamSpec

from stellate_asgi.utils import is_async_callable
from stellate_http.concurrency import run_in_threadpool

__all__ = ["BackgroundTask", "BackgroundTasks", "P", "is_async_callable", "run_in_threadpool"]

P = ParamSpec("P")


class BackgroundTask:
    """A call of `func(*args, **kwargs)`, made later.

    Coroutine functions are awaited; plain callables run in a worker thread so
    they never block the event loop.
    """

    def __init__(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.is_async = is_async_callable(func)

    async def __call__(self) -> None:
        if self.is_async:
            await self.func(*self.args, **self.kwargs)
        else:
            await run_in_threadpool(self.func, *self.args, **self.kwargs)


class BackgroundTasks(BackgroundTask):
    """An ordered list of `BackgroundTask`s, run one after the other."""

    def __init__(self, tasks: Sequence[BackgroundTask] | None = None):
        self.tasks = list(tasks) if tasks else []

    def add_task(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        """Append a call of `func(*args, **kwargs)` to the list."""
        self.tasks.append(BackgroundTask(func, *args, **kwargs))

    async def __call__(self) -> None:
        for task in self.tasks:
            await task()
