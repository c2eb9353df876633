"""Class-based endpoints: one method per HTTP verb, or WebSocket event callbacks.

Both classes are ASGI apps (`Endpoint(scope, receive, send)` is awaitable), so a route
takes the class itself: `Route("/", Homepage)`, `WebSocketRoute("/ws", Echo)`.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any, Literal

from stellate_asgi import status
from stellate_asgi.exceptions import HTTPException
from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_asgi.utils import is_async_callable
from stellate_http.concurrency import run_in_threadpool
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_websockets.websockets import WebSocket

__all__ = [
    "HTTPEndpoint",
    "HTTPException",
    "PlainTextResponse",
    "Request",
    "Response",
    "WebSocket",
    "WebSocketEndpoint",
    "is_async_callable",
    "run_in_threadpool",
]

# The only verbs an `HTTPEndpoint` dispatches, and the order the `Allow` header of a 405
# lists those it defines. The method is client input: restricting it to these names keeps
# it from selecting any other attribute (`dispatch`, `__init__`, ...) as the handler.
_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class HTTPEndpoint:
    """Serve each HTTP method with the method of the same name (`get`, `post`, ...).

    A handler takes the `Request` and returns a `Response`; a sync one runs in a
    worker thread. HEAD falls back to `get`. Any other method, and any verb outside
    GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS, gets a 405 with an `Allow` header.
    """

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.scope = scope
        self.receive = receive
        self.send = send
        self._allowed_methods = [
            method for method in _HTTP_METHODS if getattr(self, method.lower(), None) is not None
        ]

    def __await__(self) -> Generator[Any, None, None]:
        return self.dispatch().__await__()

    async def dispatch(self) -> None:
        """Call the handler of the request's method and send its response."""
        request = Request(self.scope, receive=self.receive)
        method = request.method
        name = "get" if method == "HEAD" and not hasattr(self, "head") else method.lower()
        handler = getattr(self, name, None) if method in _HTTP_METHODS else None
        if handler is None:
            handler = self.method_not_allowed
        if is_async_callable(handler):
            response = await handler(request)
        else:
            response = await run_in_threadpool(handler, request)
        await response(self.scope, self.receive, self.send)

    async def method_not_allowed(self, request: Request) -> Response:
        """The 405 answer: raised as `HTTPException` inside an application."""
        headers = {"Allow": ", ".join(self._allowed_methods)}
        if "app" in self.scope:
            raise HTTPException(status_code=405, headers=headers)
        return PlainTextResponse("Method Not Allowed", status_code=405, headers=headers)


class WebSocketEndpoint:
    """Serve a WebSocket through `on_connect`, `on_receive` and `on_disconnect`.

    `encoding` ("text", "bytes", "json" or None) decodes each message before
    `on_receive`; data of the wrong kind closes the socket with 1003.
    """

    encoding: Literal["text", "bytes", "json"] | None = None

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        self.scope = scope
        self.receive = receive
        self.send = send

    def __await__(self) -> Generator[Any, None, None]:
        return self.dispatch().__await__()

    async def dispatch(self) -> None:
        """Accept (through `on_connect`), then hand each message to `on_receive`."""
        websocket = WebSocket(self.scope, receive=self.receive, send=self.send)
        await self.on_connect(websocket)

        close_code = status.WS_1000_NORMAL_CLOSURE
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.receive":
                    data = await self.decode(websocket, message)
                    await self.on_receive(websocket, data)
                elif message["type"] == "websocket.disconnect":
                    close_code = int(message.get("code") or status.WS_1000_NORMAL_CLOSURE)
                    break
        except Exception:
            close_code = status.WS_1011_INTERNAL_ERROR
            raise
        finally:
            await self.on_disconnect(websocket, close_code)

    async def decode(self, websocket: WebSocket, message: Message) -> Any:
        """The data of `message` as `encoding` asks; close with 1003 if it cannot."""
        if self.encoding == "text":
            if message.get("text") is None:
                await websocket.close(code=status.WS_1003_UNSUPPORTED_DATA)
                raise RuntimeError("Expected text websocket messages, but got bytes")
            return message["text"]

        if self.encoding == "bytes":
            if message.get("bytes") is None:
                await websocket.close(code=status.WS_1003_UNSUPPORTED_DATA)
                raise RuntimeError("Expected bytes websocket messages, but got text")
            return message["bytes"]

        if self.encoding == "json":
            text = message.get("text")
            raw = message.get("bytes")
            try:
                return json.loads(text if text is not None else (raw or b"").decode("utf-8"))
            except (ValueError, RecursionError):
                # Also covers bytes that are not UTF-8 (UnicodeDecodeError), and arrays
                # nested past the recursion limit, which a client controls as well.
                await websocket.close(code=status.WS_1003_UNSUPPORTED_DATA)
                raise RuntimeError("Malformed JSON data received.")

        assert self.encoding is None, f"Unsupported 'encoding' attribute {self.encoding}"
        text = message.get("text")
        return text if text is not None else message.get("bytes")

    async def on_connect(self, websocket: WebSocket) -> None:
        """Override to handle an incoming connection; accepts it by default."""
        await websocket.accept()

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        """Override to handle an incoming message."""

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        """Override to handle a disconnecting socket."""
