"""`TestClient`: a synchronous httpx client that talks to an ASGI app in-process.

Requests run the app in an anyio event loop on a background thread (a blocking
portal). Used as a context manager, the client keeps one portal for the whole block and
runs the app's lifespan (startup on entry, shutdown on exit).
"""

from __future__ import annotations

import contextlib
import inspect
import math
import warnings
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, Literal, Self, TypedDict, cast
from urllib.parse import urljoin

import anyio
import anyio.from_thread
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from httpx._client import USE_CLIENT_DEFAULT, UseClientDefault
from httpx._types import (
    AuthTypes,
    CookieTypes,
    HeaderTypes,
    QueryParamTypes,
    RequestContent,
    RequestExtensions,
    RequestFiles,
    TimeoutTypes,
    URLTypes,
)

from stellate_asgi.exceptions import StellateDeprecationWarning, WebSocketDisconnect
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_asgi.utils import is_async_callable
from stellate_testclient._transport import TestClientTransport, Upgrade
from stellate_testclient._websocket import WebSocketDenialResponse, WebSocketTestSession

__all__ = [
    "ASGI2App",
    "ASGI3App",
    "ASGIInstance",
    "TestClient",
    "WebSocketTestSession",
    "WebSocketDenialResponse",
    "WebSocketDisconnect",
    "StellateDeprecationWarning",
    "is_async_callable",
]

# The two shapes of app the client accepts: ASGI 3 `app(scope, receive, send)`, and the
# older ASGI 2 `app(scope)` returning an instance called with `(receive, send)`.
ASGIInstance = Callable[[Receive, Send], Awaitable[None]]
ASGI2App = Callable[[Scope], ASGIInstance]
ASGI3App = Callable[[Scope, Receive, Send], Awaitable[None]]

_RequestData = Mapping[str, str | Iterable[str] | bytes]


class _AsyncBackend(TypedDict):
    backend: str
    backend_options: dict[str, Any]


class TestClient(httpx.Client):
    """An `httpx.Client` whose requests are served by `app`, without a network.

    `raise_server_exceptions=False` turns an exception raised by the app before it
    started its response into a 500 response instead of raising it in the test.
    `backend`/`backend_options` choose the event loop (`"asyncio"` or `"trio"`), and
    `client` is the `(host, port)` the app sees as the peer address.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        backend: Literal["asyncio", "trio"] = "asyncio",
        backend_options: dict[str, Any] | None = None,
        cookies: CookieTypes | None = None,
        headers: dict[str, str] | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
    ) -> None:
        self.async_backend = _AsyncBackend(backend=backend, backend_options=backend_options or {})
        self.app: ASGIApp = app if _is_asgi3(app) else _WrapASGI2(app)
        self.app_state: dict[str, Any] = {}
        self.portal: anyio.from_thread.BlockingPortal | None = None
        transport = TestClientTransport(
            self.app,
            portal_factory=self._portal_factory,
            raise_server_exceptions=raise_server_exceptions,
            root_path=root_path,
            client=client,
            app_state=self.app_state,
        )
        headers = dict(headers) if headers is not None else {}
        if not any(key.lower() == "user-agent" for key in headers):
            headers["user-agent"] = "testclient"
        if not any(key.lower() == "accept-encoding" for key in headers):
            # httpx would add "br" and "zstd" when their libraries happen to be installed:
            # the same test must send the same request on every machine.
            headers["accept-encoding"] = "gzip, deflate"
        super().__init__(
            base_url=base_url,
            headers=headers,
            transport=transport,
            follow_redirects=follow_redirects,
            cookies=cookies,
        )
        self._exit_stack: contextlib.ExitStack | None = None

    @contextlib.contextmanager
    def _portal_factory(self) -> Generator[anyio.from_thread.BlockingPortal, None, None]:
        if self.portal is not None:
            yield self.portal
        else:
            with anyio.from_thread.start_blocking_portal(**self.async_backend) as portal:
                yield portal

    def request(  # type: ignore[override]
        self,
        method: str,
        url: URLTypes,
        *,
        content: RequestContent | None = None,
        data: _RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: dict[str, Any] | None = None,
    ) -> httpx.Response:
        if timeout is not USE_CLIENT_DEFAULT:
            warnings.warn(
                "You should not use the 'timeout' argument with the TestClient. The app "
                "runs in-process and a timeout never interrupts it.",
                StellateDeprecationWarning,
                stacklevel=2,
            )
        return super().request(
            method,
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=cast(RequestExtensions | None, extensions),
        )

    def websocket_connect(
        self, url: str, subprotocols: Sequence[str] | None = None, **kwargs: Any
    ) -> WebSocketTestSession:
        """Open a WebSocket session (use it in a `with` block).

        Takes the arguments of `httpx.get()`; pass query parameters in `url`.
        """
        url = urljoin("ws://testserver", url)
        headers = httpx.Headers(kwargs.pop("headers", None))
        headers.setdefault("connection", "upgrade")
        headers.setdefault("sec-websocket-key", "testserver==")
        headers.setdefault("sec-websocket-version", "13")
        if subprotocols is not None:
            headers.setdefault("sec-websocket-protocol", ", ".join(subprotocols))
        try:
            super().request("GET", url, headers=headers, **kwargs)
        except Upgrade as upgrade:
            return upgrade.session
        raise RuntimeError("Expected WebSocket upgrade")

    # --- lifespan ---------------------------------------------------------------------

    def __enter__(self) -> Self:
        with contextlib.ExitStack() as stack:
            self.portal = portal = stack.enter_context(
                anyio.from_thread.start_blocking_portal(**self.async_backend)
            )

            @stack.callback
            def reset_portal() -> None:
                self.portal = None

            to_app_tx, to_app_rx = anyio.create_memory_object_stream[Message](math.inf)
            from_app_tx, from_app_rx = anyio.create_memory_object_stream[Message](math.inf)
            self._to_app: MemoryObjectSendStream[Message] = to_app_tx
            self._to_app_rx: MemoryObjectReceiveStream[Message] = to_app_rx
            self._from_app_tx: MemoryObjectSendStream[Message] = from_app_tx
            self._from_app: MemoryObjectReceiveStream[Message] = from_app_rx
            self._lifespan_exception: BaseException | None = None
            self._lifespan_finished = False
            self._lifespan_task: Future[None] = portal.start_task_soon(self.lifespan)

            @stack.callback
            def stop_lifespan() -> None:
                # Closing the streams ends an app still waiting for a message; one that
                # is stuck elsewhere is cancelled so the portal can stop.
                for stream in (to_app_tx, to_app_rx, from_app_tx, from_app_rx):
                    portal.call(stream.close)
                self._lifespan_task.cancel()

            portal.call(self.wait_startup)

            @stack.callback
            def wait_shutdown() -> None:
                portal.call(self.wait_shutdown)

            self._exit_stack = stack.pop_all()
        return self

    def __exit__(self, *args: Any) -> None:
        # The httpx client itself stays open: requests after the block still work,
        # each in its own portal.
        if self._exit_stack is not None:
            stack, self._exit_stack = self._exit_stack, None
            stack.close()

    async def lifespan(self) -> None:
        """Run the app's lifespan session (started by `__enter__`)."""
        scope: Scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.app_state,
        }
        try:
            await self.app(scope, self._to_app_rx.receive, self._from_app_tx.send)
        except BaseException as exc:
            self._lifespan_exception = exc
            raise
        finally:
            self._lifespan_finished = True
            self._from_app_tx.close()

    async def wait_startup(self) -> None:
        """Send `lifespan.startup` and wait for the app to complete it."""
        await self._to_app.send({"type": "lifespan.startup"})
        message = await self._receive_lifespan()
        if message is None:
            return  # the app returned at once: it does not support lifespan
        if message["type"] == "lifespan.startup.failed":
            await self._raise_lifespan_failure(message)
        elif message["type"] != "lifespan.startup.complete":
            raise RuntimeError(
                'Expected ASGI message "lifespan.startup.complete" or '
                f'"lifespan.startup.failed", but got {message["type"]!r}.'
            )

    async def wait_shutdown(self) -> None:
        """Send `lifespan.shutdown` and wait for the app to complete it."""
        if self._lifespan_finished:
            self._raise_lifespan_exception()
            return
        await self._to_app.send({"type": "lifespan.shutdown"})
        message = await self._receive_lifespan()
        if message is None:
            return
        if message["type"] == "lifespan.shutdown.failed":
            await self._raise_lifespan_failure(message)
        elif message["type"] != "lifespan.shutdown.complete":
            raise RuntimeError(
                'Expected ASGI message "lifespan.shutdown.complete" or '
                f'"lifespan.shutdown.failed", but got {message["type"]!r}.'
            )

    async def _receive_lifespan(self) -> Message | None:
        # None once the app's lifespan returned; its exception, if any, is raised.
        try:
            return await self._from_app.receive()
        except anyio.EndOfStream:
            self._raise_lifespan_exception()
            return None

    async def _raise_lifespan_failure(self, message: Message) -> None:
        # The app should now finish (usually re-raising what went wrong).
        while await self._receive_lifespan() is not None:
            pass
        raise RuntimeError(message.get("message") or f"ASGI message {message['type']!r}.")

    def _raise_lifespan_exception(self) -> None:
        exc = self._lifespan_exception
        if exc is not None:
            self._lifespan_exception = None
            raise exc


class _WrapASGI2:
    """Present a two-callable ASGI 2 app (`app(scope)(receive, send)`) as ASGI 3."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        instance = self.app(scope)
        await instance(receive, send)


def _is_asgi3(app: Any) -> bool:
    if inspect.isclass(app):
        # An endpoint class is ASGI 3 when awaiting its instance runs it.
        return hasattr(app, "__await__")
    return is_async_callable(app)
