"""`stellate.middleware.base`: re-exports from the Stellate parts."""

from stellate_http.concurrency import create_collapsing_task_group
from stellate_http.requests import ClientDisconnect, Request
from stellate_http.responses import Response
from stellate_middleware.base import (
    BaseHTTPMiddleware,
    DispatchFunction,
    RequestResponseEndpoint,
    T,
)

__all__ = [
    "BaseHTTPMiddleware",
    "ClientDisconnect",
    "DispatchFunction",
    "Request",
    "RequestResponseEndpoint",
    "Response",
    "T",
    "create_collapsing_task_group",
]
