"""`stellate.requests`: re-exports from the Stellate parts."""

from typing import TYPE_CHECKING

from stellate_asgi.connection import (
    HTTPConnection,
    StateT,
    cookie_parser,
)
from stellate_asgi.datastructures import (
    URL,
    Address,
    Headers,
    QueryParams,
    State,
)
from stellate_asgi.exceptions import HTTPException
from stellate_http.datastructures import FormData
from stellate_http.formparsers import (
    FormParser,
    MultiPartException,
    MultiPartParser,
)
from stellate_http.requests import (
    SERVER_PUSH_HEADERS_TO_COPY,
    AwaitableOrContextManager,
    AwaitableOrContextManagerWrapper,
    ClientDisconnect,
    Request,
    empty_receive,
    empty_send,
)

__all__ = [
    "Address",
    "AwaitableOrContextManager",
    "AwaitableOrContextManagerWrapper",
    "ClientDisconnect",
    "FormData",
    "FormParser",
    "HTTPConnection",
    "HTTPException",
    "Headers",
    "MultiPartException",
    "MultiPartParser",
    "QueryParams",
    "Request",
    "SERVER_PUSH_HEADERS_TO_COPY",
    "State",
    "StateT",
    "TYPE_CHECKING",
    "URL",
    "cookie_parser",
    "empty_receive",
    "empty_send",
]
