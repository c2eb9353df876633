"""`stellate.background`: re-exports from the Stellate parts."""

from stellate_asgi.utils import is_async_callable
from stellate_http.background import (
    BackgroundTask,
    BackgroundTasks,
    P,
)
from stellate_http.concurrency import run_in_threadpool

__all__ = [
    "BackgroundTask",
    "BackgroundTasks",
    "P",
    "is_async_callable",
    "run_in_threadpool",
]
