"""`stellate.middleware.wsgi`: re-exports from the Stellate parts."""

from stellate_asgi.exceptions import StellateDeprecationWarning
from stellate_http.concurrency import create_collapsing_task_group
from stellate_middleware.wsgi import (
    WSGIMiddleware,
    WSGIResponder,
    build_environ,
)

__all__ = [
    "StellateDeprecationWarning",
    "WSGIMiddleware",
    "WSGIResponder",
    "build_environ",
    "create_collapsing_task_group",
]
