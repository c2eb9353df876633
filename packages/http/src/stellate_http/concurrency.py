"""Thread-pool helpers and task-group utilities built on anyio.

Everything here works on asyncio and on trio: only anyio APIs are used.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any, ParamSpec, TypeVar

import anyio
import anyio.abc
import anyio.to_thread

from stellate_asgi.exceptions import StellateDeprecationWarning

__all__ = [
    "P",
    "StellateDeprecationWarning",
    "T",
    "create_collapsing_task_group",
    "iterate_in_threadpool",
    "run_in_threadpool",
    "run_until_first_complete",
]

P = ParamSpec("P")
T = TypeVar("T")


async def run_in_threadpool(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call the sync `func(*args, **kwargs)` in a worker thread and return its result."""
    # anyio's `run_sync` takes no keyword arguments: bind them first.
    bound = functools.partial(func, *args, **kwargs)
    return await anyio.to_thread.run_sync(bound)


async def iterate_in_threadpool(iterator: Iterable[T]) -> AsyncIterator[T]:
    """Consume a sync iterable in worker threads, one `next()` call per item."""
    as_iterator = iter(iterator)
    while True:
        try:
            yield await anyio.to_thread.run_sync(_next_or_stop, as_iterator)
        except _IteratorExhausted:
            break


async def run_until_first_complete(*args: tuple[Callable, dict]) -> None:  # type: ignore[type-arg]
    """Run each `(func, kwargs)` pair concurrently; cancel the rest once one returns.

    Deprecated: use an anyio task group instead.
    """
    warnings.warn(
        "run_until_first_complete is deprecated and will be removed in a future version.",
        StellateDeprecationWarning,
        stacklevel=2,
    )
    async with anyio.create_task_group() as task_group:

        async def run(func: Callable[[], Any]) -> None:
            await func()
            task_group.cancel_scope.cancel()

        for func, kwargs in args:
            task_group.start_soon(run, functools.partial(func, **kwargs))


@asynccontextmanager
async def create_collapsing_task_group() -> AsyncGenerator[anyio.abc.TaskGroup, None]:
    """An anyio task group that raises a lone failure as itself, not as a group.

    anyio wraps every failure of a task group (of its body or of a child task) in
    an `ExceptionGroup`. When exactly one exception was raised, callers almost
    always want that exception: this context manager unwraps one level only, so
    an exception group raised on purpose by user code reaches the caller intact.
    """
    try:
        async with anyio.create_task_group() as task_group:
            yield task_group
    except BaseExceptionGroup as group:
        if len(group.exceptions) != 1:
            raise
        _raise_preserving_context(group.exceptions[0])


# Helpers


class _IteratorExhausted(Exception):
    """Stands in for `StopIteration`, which must not cross a coroutine boundary."""


def _next_or_stop(iterator: Iterator[T]) -> T:
    try:
        return next(iterator)
    except StopIteration:
        # A StopIteration raised into a coroutine becomes a RuntimeError (PEP 479).
        raise _IteratorExhausted from None


def _raise_preserving_context(exc: BaseException) -> None:
    # Re-raising inside the `except` block would set `exc.__context__` to the group
    # that holds it, which makes a confusing (and cyclic) traceback: keep the
    # context the exception had when it was first raised.
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context
        del exc, context
