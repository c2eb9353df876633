"""The ASGI protocol layer of Stellate.

ASGI 3 types, status codes, HTTP and WebSocket exceptions, the views of a scope
(`URL`, `Headers`, `QueryParams`, the multidicts, `State`, ...) and `HTTPConnection`.
No third-party dependency.
"""

from stellate_asgi.connection import HTTPConnection, StateT, cookie_parser
from stellate_asgi.datastructures import (
    URL,
    Address,
    CommaSeparatedStrings,
    Headers,
    ImmutableMultiDict,
    MultiDict,
    MutableHeaders,
    QueryParams,
    Secret,
    State,
    URLPath,
)
from stellate_asgi.exceptions import (
    HTTPException,
    StellateDeprecationWarning,
    WebSocketDisconnect,
    WebSocketException,
)
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "ASGIApp",
    "Address",
    "CommaSeparatedStrings",
    "HTTPConnection",
    "HTTPException",
    "Headers",
    "ImmutableMultiDict",
    "Message",
    "MultiDict",
    "MutableHeaders",
    "QueryParams",
    "Receive",
    "Scope",
    "Secret",
    "Send",
    "State",
    "StateT",
    "StellateDeprecationWarning",
    "URL",
    "URLPath",
    "WebSocketDisconnect",
    "WebSocketException",
    "cookie_parser",
]
