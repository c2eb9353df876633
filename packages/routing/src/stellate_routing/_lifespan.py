"""The ASGI lifespan protocol, run around an application's lifespan context."""

from __future__ import annotations

import inspect
import traceback
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from stellate_asgi.exceptions import StellateDeprecationWarning
from stellate_asgi.types import Lifespan, Receive, Scope, Send
from stellate_http.concurrency import run_in_threadpool

__all__ = ["lifespan_context", "run_lifespan"]


async def run_lifespan(context: Lifespan[Any], scope: Scope, receive: Receive, send: Send) -> None:
    """Speak the lifespan protocol: enter `context(app)` on startup, leave it on shutdown.

    A mapping the context yields is merged into `scope["state"]`. A failure is
    reported as `lifespan.startup.failed` or `lifespan.shutdown.failed` with the
    traceback text, then raised again.
    """
    started = False
    app: Any = scope.get("app")
    await receive()
    try:
        async with context(app) as maybe_state:
            if maybe_state is not None:
                if "state" not in scope:
                    raise RuntimeError('The server does not support "state" in the lifespan scope.')
                scope["state"].update(maybe_state)
            await send({"type": "lifespan.startup.complete"})
            started = True
            await receive()
    except BaseException:
        exc_text = traceback.format_exc()
        if started:
            await send({"type": "lifespan.shutdown.failed", "message": exc_text})
        else:
            await send({"type": "lifespan.startup.failed", "message": exc_text})
        raise
    else:
        await send({"type": "lifespan.shutdown.complete"})


def lifespan_context(lifespan: Lifespan[Any] | None) -> Lifespan[Any]:
    """`lifespan` as an async context manager factory (a no-op one for None)."""
    if lifespan is None:
        return _default_lifespan
    if inspect.isasyncgenfunction(lifespan):
        warnings.warn(
            "async generator function lifespans are deprecated, "
            "use an @contextlib.asynccontextmanager function instead",
            StellateDeprecationWarning,
            stacklevel=3,
        )
        return asynccontextmanager(lifespan)
    if inspect.isgeneratorfunction(lifespan):
        warnings.warn(
            "generator function lifespans are deprecated, "
            "use an @contextlib.asynccontextmanager function instead",
            StellateDeprecationWarning,
            stacklevel=3,
        )
        return _wrap_generator_lifespan(lifespan)
    return lifespan


@asynccontextmanager
async def _default_lifespan(app: Any) -> AsyncIterator[None]:
    yield


def _wrap_generator_lifespan(
    lifespan: Callable[[Any], Generator[Any, Any, Any]],
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    # A sync generator lifespan: its startup and its shutdown each run in a worker thread.
    @asynccontextmanager
    async def context(app: Any) -> AsyncGenerator[Any, None]:
        generator = lifespan(app)
        state = await run_in_threadpool(next, generator, None)
        try:
            yield state
        finally:
            await run_in_threadpool(next, generator, None)

    return context
