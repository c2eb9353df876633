"""`stellate.concurrency`: re-exports from the Stellate parts."""

from stellate_asgi.exceptions import StellateDeprecationWarning
from stellate_http.concurrency import (
    P,
    T,
    iterate_in_threadpool,
    run_in_threadpool,
    run_until_first_complete,
)

__all__ = [
    "P",
    "StellateDeprecationWarning",
    "T",
    "iterate_in_threadpool",
    "run_in_threadpool",
    "run_until_first_complete",
]
