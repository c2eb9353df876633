"""ASGI 3 type aliases shared by every Stellate package.

`Scope`, `Message`, `Receive`, `Send` and `ASGIApp` are deliberately loose
(`MutableMapping[str, Any]`) so that any ASGI server or middleware interoperates;
the `TypedDict` definitions below document the shape of each ASGI message and can be
used to annotate code that builds or reads one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, NotRequired, TypedDict, TypeVar

__all__ = [
    "AppType",
    "Scope",
    "Message",
    "Receive",
    "Send",
    "ASGIApp",
    "StatelessLifespan",
    "StatefulLifespan",
    "Lifespan",
    "ASGIVersions",
    "HTTPScope",
    "WebSocketScope",
    "LifespanScope",
    "HTTPRequestEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseTrailersEvent",
    "HTTPServerPushEvent",
    "HTTPEarlyHintsEvent",
    "HTTPDisconnectEvent",
    "WebSocketConnectEvent",
    "WebSocketAcceptEvent",
    "WebSocketReceiveEvent",
    "WebSocketSendEvent",
    "WebSocketResponseStartEvent",
    "WebSocketResponseBodyEvent",
    "WebSocketDisconnectEvent",
    "WebSocketCloseEvent",
    "LifespanStartupEvent",
    "LifespanShutdownEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupFailedEvent",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownFailedEvent",
]

AppType = TypeVar("AppType")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]

Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

StatelessLifespan = Callable[[AppType], AbstractAsyncContextManager[None]]
StatefulLifespan = Callable[[AppType], AbstractAsyncContextManager[Mapping[str, Any]]]
Lifespan = StatelessLifespan[AppType] | StatefulLifespan[AppType]


# --- Scopes -------------------------------------------------------------------------


class ASGIVersions(TypedDict):
    """`scope["asgi"]`: the ASGI version and the spec version of the connection type."""

    version: str
    spec_version: NotRequired[str]


class HTTPScope(TypedDict):
    """The scope of an `http` connection."""

    type: Literal["http"]
    asgi: ASGIVersions
    http_version: str
    method: str
    scheme: str
    path: str
    raw_path: NotRequired[bytes]
    query_string: bytes
    root_path: str
    headers: Iterable[tuple[bytes, bytes]]
    client: NotRequired[tuple[str, int] | None]
    server: NotRequired[tuple[str, int | None] | None]
    state: NotRequired[dict[str, Any]]
    extensions: NotRequired[dict[str, dict[object, object]]]


class WebSocketScope(TypedDict):
    """The scope of a `websocket` connection."""

    type: Literal["websocket"]
    asgi: ASGIVersions
    http_version: str
    scheme: str
    path: str
    raw_path: NotRequired[bytes]
    query_string: bytes
    root_path: str
    headers: Iterable[tuple[bytes, bytes]]
    client: NotRequired[tuple[str, int] | None]
    server: NotRequired[tuple[str, int | None] | None]
    subprotocols: Iterable[str]
    state: NotRequired[dict[str, Any]]
    extensions: NotRequired[dict[str, dict[object, object]]]


class LifespanScope(TypedDict):
    """The scope of the `lifespan` connection."""

    type: Literal["lifespan"]
    asgi: ASGIVersions
    state: NotRequired[dict[str, Any]]


# --- HTTP messages ----------------------------------------------------------------


class HTTPRequestEvent(TypedDict):
    """`http.request`: a chunk of the request body (`more_body` False on the last)."""

    type: Literal["http.request"]
    body: bytes
    more_body: bool


class HTTPResponseStartEvent(TypedDict):
    """`http.response.start`: the status line and headers of the response."""

    type: Literal["http.response.start"]
    status: int
    headers: NotRequired[Iterable[tuple[bytes, bytes]]]
    trailers: NotRequired[bool]


class HTTPResponseBodyEvent(TypedDict):
    """`http.response.body`: a chunk of the response body."""

    type: Literal["http.response.body"]
    body: bytes
    more_body: NotRequired[bool]


class HTTPResponseTrailersEvent(TypedDict):
    """`http.response.trailers`: trailing headers (the `http.response.trailers` extension)."""

    type: Literal["http.response.trailers"]
    headers: Iterable[tuple[bytes, bytes]]
    more_trailers: bool


class HTTPServerPushEvent(TypedDict):
    """`http.response.push`: an HTTP/2 server push (the `http.response.push` extension)."""

    type: Literal["http.response.push"]
    path: str
    headers: Iterable[tuple[bytes, bytes]]


class HTTPEarlyHintsEvent(TypedDict):
    """`http.response.early_hint`: a 103 response (the early hints extension)."""

    type: Literal["http.response.early_hint"]
    links: list[bytes]


class HTTPDisconnectEvent(TypedDict):
    """`http.disconnect`: the client went away."""

    type: Literal["http.disconnect"]


# --- WebSocket messages -----------------------------------------------------------


class WebSocketConnectEvent(TypedDict):
    """`websocket.connect`: the client asks to open the connection."""

    type: Literal["websocket.connect"]


class WebSocketAcceptEvent(TypedDict):
    """`websocket.accept`: the application accepts the connection."""

    type: Literal["websocket.accept"]
    subprotocol: NotRequired[str | None]
    headers: NotRequired[Iterable[tuple[bytes, bytes]]]


class WebSocketReceiveEvent(TypedDict):
    """`websocket.receive`: a message from the client (exactly one of bytes/text set)."""

    type: Literal["websocket.receive"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]


class WebSocketSendEvent(TypedDict):
    """`websocket.send`: a message to the client (exactly one of bytes/text set)."""

    type: Literal["websocket.send"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]


class WebSocketResponseStartEvent(TypedDict):
    """`websocket.http.response.start`: start of a denial response (extension)."""

    type: Literal["websocket.http.response.start"]
    status: int
    headers: Iterable[tuple[bytes, bytes]]


class WebSocketResponseBodyEvent(TypedDict):
    """`websocket.http.response.body`: a chunk of a denial response (extension)."""

    type: Literal["websocket.http.response.body"]
    body: bytes
    more_body: NotRequired[bool]


class WebSocketDisconnectEvent(TypedDict):
    """`websocket.disconnect`: the connection was closed (by either side)."""

    type: Literal["websocket.disconnect"]
    code: int
    reason: NotRequired[str | None]


class WebSocketCloseEvent(TypedDict):
    """`websocket.close`: the application closes (or rejects) the connection."""

    type: Literal["websocket.close"]
    code: NotRequired[int]
    reason: NotRequired[str | None]


# --- Lifespan messages ------------------------------------------------------------


class LifespanStartupEvent(TypedDict):
    """`lifespan.startup`: the server is starting."""

    type: Literal["lifespan.startup"]


class LifespanShutdownEvent(TypedDict):
    """`lifespan.shutdown`: the server is stopping."""

    type: Literal["lifespan.shutdown"]


class LifespanStartupCompleteEvent(TypedDict):
    """`lifespan.startup.complete`: the application finished starting up."""

    type: Literal["lifespan.startup.complete"]


class LifespanStartupFailedEvent(TypedDict):
    """`lifespan.startup.failed`: the application could not start."""

    type: Literal["lifespan.startup.failed"]
    message: str


class LifespanShutdownCompleteEvent(TypedDict):
    """`lifespan.shutdown.complete`: the application finished shutting down."""

    type: Literal["lifespan.shutdown.complete"]


class LifespanShutdownFailedEvent(TypedDict):
    """`lifespan.shutdown.failed`: the application failed while shutting down."""

    type: Literal["lifespan.shutdown.failed"]
    message: str
