"""`stellate.background`: the background tasks' own module, `stellate_http.background`.

Not a module of re-exports as most are: code written for Starlette patches
`run_in_threadpool` here (to run sync tasks inline in tests), so this name is bound to
the very module whose globals the tasks read. The imports below are what type checkers
see.
"""

import sys

import stellate_http.background
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

sys.modules[__name__] = stellate_http.background
