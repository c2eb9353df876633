"""`stellate._utils`: re-exports from the Stellate parts."""

from stellate_asgi.utils import (
    get_route_path,
    is_async_callable,
    parse_host_header,
)
from stellate_http.concurrency import create_collapsing_task_group
from stellate_http.requests import AwaitableOrContextManager, AwaitableOrContextManagerWrapper

__all__ = [
    "AwaitableOrContextManager",
    "AwaitableOrContextManagerWrapper",
    "create_collapsing_task_group",
    "get_route_path",
    "is_async_callable",
    "parse_host_header",
]
