"""The httpx transport that hands each request to an ASGI app, as a server would."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, cast

import anyio
import httpx

from stellate_asgi.types import ASGIApp, Message, Scope
from stellate_testclient._websocket import PortalFactory, WebSocketTestSession

__all__ = ["TestClientTransport", "Upgrade"]

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


class Upgrade(Exception):
    """Carries a WebSocket session out of httpx, back to `websocket_connect()`."""

    def __init__(self, session: WebSocketTestSession) -> None:
        self.session = session


class TestClientTransport(httpx.BaseTransport):
    """Runs the app for every request, in the client's portal or in a fresh one."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        app: ASGIApp,
        portal_factory: PortalFactory,
        raise_server_exceptions: bool = True,
        root_path: str = "",
        *,
        client: tuple[str, int] | None = ("testclient", 50000),
        app_state: dict[str, Any],
    ) -> None:
        self.app = app
        self.portal_factory = portal_factory
        self.raise_server_exceptions = raise_server_exceptions
        self.root_path = root_path
        self.client = client
        self.app_state = app_state

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        host = url.host
        port = url.port if url.port is not None else _DEFAULT_PORTS.get(scheme, 80)
        scope: Scope = {
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": scheme,
            # httpx has already percent-decoded `path`; `raw_path` keeps the bytes sent.
            "path": url.path,
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "root_path": self.root_path,
            "query_string": url.query,
            "headers": _scope_headers(request, host, port, scheme),
            "client": self.client,
            "server": [host, port],
            "state": self.app_state.copy(),
        }
        if scheme in ("ws", "wss"):
            protocols = request.headers.get("sec-websocket-protocol")
            scope["type"] = "websocket"
            scope["subprotocols"] = (
                [] if protocols is None else [value.strip() for value in protocols.split(",")]
            )
            scope["extensions"] = {"websocket.http.response": {}}
            raise Upgrade(WebSocketTestSession(self.app, scope, self.portal_factory))

        scope["type"] = "http"
        scope["method"] = request.method
        scope["extensions"] = {"http.response.debug": {}}
        exchange = _HTTPExchange(self.app, scope, request)
        try:
            with self.portal_factory() as portal:
                portal.call(exchange.run)
        except BaseException:
            if self.raise_server_exceptions:
                raise
        return exchange.build_response(self.raise_server_exceptions)


class _HTTPExchange:
    """One request/response cycle: feeds the body to the app and collects its reply."""

    def __init__(self, app: ASGIApp, scope: Scope, request: httpx.Request) -> None:
        self.app = app
        self.scope = scope
        self.request = request
        self.status_code: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = io.BytesIO()
        self.debug_info: dict[str, Any] | None = None
        self.request_complete = False
        self.response_started = False
        self.response_complete: anyio.Event | None = None
        self._chunks: Iterator[bytes] | None = None
        self._next_chunk: bytes | None = None

    async def run(self) -> None:
        # The event is created here, on the portal's event loop, as anyio requires.
        self.response_complete = anyio.Event()
        await self.app(self.scope, self.receive, self.send)

    async def receive(self) -> Message:
        if self.request_complete:
            # Like a server: nothing more until the response is out, then the
            # connection is gone.
            assert self.response_complete is not None
            # No checkpoint once the response is out: `Request.is_disconnected()`
            # polls with an already-cancelled scope and must see this disconnect.
            if not self.response_complete.is_set():
                await self.response_complete.wait()
            return {"type": "http.disconnect"}
        if self._chunks is None:
            self._chunks = iter(cast(httpx.SyncByteStream, self.request.stream))
            self._next_chunk = next(self._chunks, None)
        chunk = self._next_chunk
        if chunk is None:
            self.request_complete = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # One chunk of look-ahead so the last one carries `more_body: False`.
        self._next_chunk = next(self._chunks, None)
        more_body = self._next_chunk is not None
        self.request_complete = not more_body
        return {"type": "http.request", "body": bytes(chunk), "more_body": more_body}

    async def send(self, message: Message) -> None:
        assert self.response_complete is not None
        message_type = message["type"]
        if message_type == "http.response.start":
            if self.response_started:
                raise RuntimeError('Received "http.response.start" twice.')
            self.status_code = message["status"]
            self.headers = list(message.get("headers", []))
            self.response_started = True
        elif message_type == "http.response.body":
            if not self.response_started:
                raise RuntimeError('Received "http.response.body" without "http.response.start".')
            if self.response_complete.is_set():
                raise RuntimeError('Received "http.response.body" after the response ended.')
            if self.request.method != "HEAD":
                self.body.write(message.get("body", b""))
            if not message.get("more_body", False):
                self.response_complete.set()
        elif message_type == "http.response.debug":
            self.debug_info = message.get("info", {})

    def build_response(self, raise_server_exceptions: bool) -> httpx.Response:
        if not self.response_started or self.status_code is None:
            if raise_server_exceptions:
                raise AssertionError("TestClient did not receive any response.")
            # The app failed before answering: what a server would send instead.
            return httpx.Response(500, request=self.request, content=b"")
        response = httpx.Response(
            self.status_code,
            headers=self.headers,
            # A stream, not `content=`: httpx would add a content-length the app never sent.
            stream=httpx.ByteStream(self.body.getvalue()),
            request=self.request,
        )
        if self.debug_info is not None:
            response.extensions["http.response.debug"] = self.debug_info
            # Template responses expose what they rendered, as Starlette's client does.
            if "template" in self.debug_info:
                setattr(response, "template", self.debug_info["template"])  # noqa: B010
            if "context" in self.debug_info:
                setattr(response, "context", self.debug_info["context"])  # noqa: B010
        return response


def _scope_headers(
    request: httpx.Request, host: str, port: int, scheme: str
) -> list[tuple[bytes, bytes]]:
    # The host header comes first, as a browser and httpx send it.
    headers = [(key.lower(), value) for key, value in request.headers.raw]
    hosts = [item for item in headers if item[0] == b"host"]
    others = [item for item in headers if item[0] != b"host"]
    if not hosts:
        authority = host if ":" not in host else f"[{host}]"
        if port != _DEFAULT_PORTS.get(scheme):
            authority = f"{authority}:{port}"
        hosts = [(b"host", authority.encode("latin-1"))]
    return hosts + others
