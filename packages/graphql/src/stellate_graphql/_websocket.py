"""GraphQL over WebSocket: the `graphql-transport-ws` and legacy `graphql-ws` subprotocols.

`serve_websocket` checks the Origin, picks the subprotocol the client asked for,
accepts, and hands the socket to one connection object. Each operation runs in its
own task of the connection's task group, so leaving the group (client disconnect,
protocol error) cancels every operation and closes every subscription's generator.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio
import anyio.abc
import anyio.to_thread
from graphql import ExecutionResult, GraphQLError, OperationType

from stellate_asgi.exceptions import WebSocketDisconnect
from stellate_asgi.utils import is_async_callable
from stellate_graphql._execution import DocumentError, Executor, RequestError
from stellate_http.responses import PlainTextResponse
from stellate_websockets.websockets import WebSocket, WebSocketState

__all__ = [
    "GRAPHQL_TRANSPORT_WS",
    "GRAPHQL_WS",
    "MAX_MESSAGE_SIZE",
    "SUBPROTOCOLS",
    "GraphQLApp",
    "OnConnect",
    "serve_websocket",
]

#: The current protocol (the `graphql-ws` npm package, Apollo Client 3+, GraphiQL).
GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"
#: The legacy protocol of Apollo's `subscriptions-transport-ws`.
GRAPHQL_WS = "graphql-ws"
#: The subprotocols served; the client's order of preference picks one.
SUBPROTOCOLS = (GRAPHQL_TRANSPORT_WS, GRAPHQL_WS)
#: The largest message (characters of a text frame, bytes of a binary one) a client
#: may send: an operation is a few kilobytes; a megabyte is an attack or a bug.
MAX_MESSAGE_SIZE = 1024 * 1024

#: `on_connect(websocket, connection_init_payload)`, sync or async: a dict accepts
#: and becomes the `connection_ack` payload, `True` accepts, `False`/`None` refuse.
OnConnect = Callable[
    [WebSocket, dict[str, Any] | None],
    Awaitable[bool | dict[str, Any] | None] | bool | dict[str, Any] | None,
]

# Close codes of the graphql-transport-ws protocol; the legacy one has none of its
# own, so it reuses them.
_NORMAL_CLOSURE = 1000
_BAD_REQUEST = 4400
_UNAUTHORIZED = 4401
_FORBIDDEN = 4403
_SUBPROTOCOL_NOT_ACCEPTABLE = 4406
_INIT_TIMEOUT = 4408
_SUBSCRIBER_EXISTS = 4409
_TOO_MANY_INITS = 4429
_INTERNAL_ERROR = 4500
# RFC 6455: the message (here, the handshake) violates the server's policy.
_POLICY_VIOLATION = 1008
# A close reason travels in a control frame: at most 123 bytes of UTF-8.
_MAX_REASON_BYTES = 123
# How long a closing subscription's `finally:` may await (shielded from the
# cancellation that closes it) before it is abandoned.
_CLOSE_TIMEOUT = 5.0

logger = logging.getLogger("stellate.graphql")


class GraphQLApp(Protocol):
    """What `serve_websocket` reads from the `GraphQL` app (a Protocol, so that this
    module does not import `app.py`, which imports it)."""

    @property
    def executor(self) -> Executor: ...
    @property
    def connection_init_timeout(self) -> float: ...
    @property
    def keepalive_interval(self) -> float | None: ...
    @property
    def max_subscriptions(self) -> int: ...
    @property
    def allowed_origins(self) -> Sequence[str] | None: ...
    @property
    def on_connect(self) -> OnConnect | None: ...
    async def context_for(self, connection: WebSocket) -> Any: ...
    async def root_for(self, connection: WebSocket) -> Any: ...


async def serve_websocket(app: GraphQLApp, websocket: WebSocket) -> None:
    """Serve one GraphQL WebSocket connection until either side ends it.

    A browser `Origin` that is neither this app's own (its host is the `Host` header)
    nor in `app.allowed_origins` is refused with an HTTP 403 (or a close 1008 where
    the server cannot send a response); a client that offers neither subprotocol is
    refused with close code 4406 before the handshake.
    """
    headers = websocket.headers
    if not _origin_allowed(app.allowed_origins, headers.get("origin"), headers.get("host")):
        await _refuse_origin(websocket)
        return
    subprotocol = _select_subprotocol(websocket.scope.get("subprotocols") or ())
    if subprotocol is None:
        await websocket.close(_SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")
        return
    await websocket.accept(subprotocol=subprotocol)
    connection: _Connection
    if subprotocol == GRAPHQL_TRANSPORT_WS:
        connection = _TransportWSConnection(app, websocket)
    else:
        connection = _LegacyConnection(app, websocket)
    await connection.serve()


class _Close(Exception):
    """Raised while handling a message: close the socket with `code` and `reason`."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class _Invalid(Exception):
    """A message the protocol does not define: what happens next is per protocol."""


class _Connection:
    """What both protocols share: the receive loop, the task group, the operations by
    id, the init timeout and keep-alive, the sends and the final close."""

    #: Whether the first keep-alive goes right after `connection_ack`.
    keepalive_first = False

    def __init__(self, app: GraphQLApp, websocket: WebSocket) -> None:
        self.app = app
        self.executor = app.executor
        self.websocket = websocket
        self.init_received = False
        self.acknowledged = False
        # id -> the cancel scope of the task running that operation
        self.operations: dict[str, anyio.CancelScope] = {}
        self._send_lock = anyio.Lock()
        self._close: tuple[int, str] | None = None
        self._client_gone = False
        self._init_timer = anyio.CancelScope()
        self._task_group: anyio.abc.TaskGroup | None = None

    # -- the connection's life -------------------------------------------------------

    async def serve(self) -> None:
        async with anyio.create_task_group() as task_group:
            self._task_group = task_group
            task_group.start_soon(self._expire_init)
            try:
                await self._receive_loop()
            except _Close as close:
                self.stop(close.code, close.reason)
            except WebSocketDisconnect:
                self.stop()
            except Exception:
                logger.exception("GraphQL WebSocket connection failed")
                self.stop(_INTERNAL_ERROR, "Internal server error")
            task_group.cancel_scope.cancel()
        await self._close_socket()

    def stop(self, code: int | None = None, reason: str = "") -> None:
        """End the connection from any task: close it with `code`, or, with None, the
        client is gone. The first reason given wins."""
        if code is None:
            self._client_gone = True
        elif self._close is None:
            self._close = (code, reason)
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()

    async def _receive_loop(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                self._client_gone = True
                return
            try:
                await self.handle(_parse(message))
            except _Invalid as exc:
                await self.invalid(str(exc))

    async def _close_socket(self) -> None:
        if self._close is None or self._client_gone:
            return
        if self.websocket.application_state != WebSocketState.CONNECTED:
            return
        code, reason = self._close
        with contextlib.suppress(WebSocketDisconnect):
            await self.websocket.close(code, _truncate_reason(reason))

    async def _expire_init(self) -> None:
        with self._init_timer:
            await anyio.sleep(self.app.connection_init_timeout)
            if not self.acknowledged:
                self.stop(_INIT_TIMEOUT, "Connection initialisation timeout")

    async def _keep_alive(self, interval: float) -> None:
        try:
            if not self.keepalive_first:
                await anyio.sleep(interval)
            while True:
                await self.send_keepalive()
                await anyio.sleep(interval)
        except WebSocketDisconnect:
            self.stop()

    # -- connection_init ------------------------------------------------------------

    async def initialise(self, message: Mapping[str, Any]) -> None:
        """Answer `connection_init`: run `on_connect`, then ack or refuse (close)."""
        payload = _optional_object(message)
        if self.init_received:
            await self.repeated_init()
            return
        self.init_received = True
        on_connect = self.app.on_connect
        accepted: Any = True
        if on_connect is not None:
            try:
                accepted = await _call_on_connect(on_connect, self.websocket, payload)
            except Exception:
                logger.exception("GraphQL WebSocket on_connect failed")
                await self.refuse("Internal server error")
                raise _Close(_INTERNAL_ERROR, "Internal server error") from None
        if not accepted and not isinstance(accepted, dict):
            await self.refuse("Forbidden")
            raise _Close(_FORBIDDEN, "Forbidden")
        ack: dict[str, Any] = {"type": "connection_ack"}
        if isinstance(accepted, dict):
            ack["payload"] = accepted
        await self.send(ack)
        self.acknowledged = True
        self._init_timer.cancel()
        interval = self.app.keepalive_interval
        if interval is not None and interval > 0:
            assert self._task_group is not None
            self._task_group.start_soon(self._keep_alive, interval)

    # -- operations -----------------------------------------------------------------

    async def start(self, message: Mapping[str, Any]) -> None:
        """Start the operation of a `subscribe`/`start` message in its own task."""
        op_id = _operation_id(message)
        payload = message.get("payload")
        if not isinstance(payload, dict):
            raise _Invalid(f"'{message['type']}' needs an object 'payload'")
        _check_request(payload)
        if not self.acknowledged:
            raise _Close(_UNAUTHORIZED, "Unauthorized")
        if op_id in self.operations:
            await self.duplicate(op_id)
            return
        limit = self.app.max_subscriptions
        if len(self.operations) >= limit:
            error = f"Too many active operations on this connection: the limit is {limit}."
            await self.send_errors(op_id, [{"message": error}])
            return
        scope = anyio.CancelScope()
        self.operations[op_id] = scope
        assert self._task_group is not None
        self._task_group.start_soon(self._run, op_id, payload, scope)

    def cancel(self, message: Mapping[str, Any]) -> str | None:
        """Cancel the operation a `complete`/`stop` names; its id if it was running."""
        op_id = _operation_id(message)
        scope = self.operations.pop(op_id, None)
        if scope is None:
            return None  # done already, or never started: not an error
        scope.cancel()
        return op_id

    def _finish(self, op_id: str, scope: anyio.CancelScope) -> bool:
        # Forget the operation before its last message, so that a `complete`/`stop`
        # crossing that message finds nothing to cancel and the id is free for reuse.
        # False: the client stopped it already, send nothing more.
        if self.operations.get(op_id) is scope:
            del self.operations[op_id]
            return True
        return False

    async def _run(self, op_id: str, payload: dict[str, Any], scope: anyio.CancelScope) -> None:
        with scope:
            try:
                await self._execute(op_id, payload, scope)
            except WebSocketDisconnect:
                self.stop()
            except Exception as exc:
                # An exception out of the app's code (context, a subscription's source):
                # this operation ends with a masked error; the connection goes on.
                if not isinstance(exc, GraphQLError):
                    logger.exception("GraphQL WebSocket operation %r failed", op_id)
                    exc = GraphQLError(str(exc), original_error=exc)
                if self._finish(op_id, scope):
                    try:
                        await self.send_errors(op_id, self.executor.format_errors([exc]))
                    except WebSocketDisconnect:
                        self.stop()
            finally:
                self._finish(op_id, scope)

    async def _execute(self, op_id: str, payload: dict[str, Any], scope: anyio.CancelScope) -> None:
        executor = self.executor
        try:
            operation = executor.prepare(payload)
        except RequestError as exc:
            if self._finish(op_id, scope):
                await self.send_errors(op_id, [{"message": exc.message}])
            return
        except DocumentError as exc:
            if self._finish(op_id, scope):
                await self.send_errors(op_id, executor.format_errors(exc.errors))
            return
        context_value = await self.app.context_for(self.websocket)
        root_value = await self.app.root_for(self.websocket)
        if operation.operation_type is not OperationType.SUBSCRIPTION:
            result = await executor.execute(
                operation, context_value=context_value, root_value=root_value
            )
            if self._finish(op_id, scope):
                await self.send_result(op_id, executor.format_result(result))
                await self.send_complete(op_id)
            return
        stream = await executor.subscribe(
            operation, context_value=context_value, root_value=root_value
        )
        if isinstance(stream, ExecutionResult):
            # The source stream could not be created: a request error, no `complete`.
            if self._finish(op_id, scope):
                await self.send_errors(op_id, executor.format_errors(stream.errors or []))
            return
        await self._forward(op_id, stream)
        if self._finish(op_id, scope):
            await self.send_complete(op_id)

    async def _forward(self, op_id: str, stream: AsyncIterator[ExecutionResult]) -> None:
        try:
            async for result in stream:
                await self.send_result(op_id, self.executor.format_result(result))
        finally:
            # Close the generator chain here, in its own task, so that the resolver's
            # `finally:` runs even when the operation was cancelled between events.
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with anyio.move_on_after(_CLOSE_TIMEOUT, shield=True):
                    await aclose()

    # -- sending ----------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        # Operations send from their own tasks: one message at a time on the socket.
        async with self._send_lock:
            await self.websocket.send({"type": "websocket.send", "text": text})

    async def send_complete(self, op_id: str) -> None:
        await self.send({"id": op_id, "type": "complete"})

    # -- what each protocol defines ---------------------------------------------------

    async def handle(self, message: dict[str, Any]) -> None:
        raise NotImplementedError  # pragma: no cover

    async def invalid(self, reason: str) -> None:
        raise NotImplementedError  # pragma: no cover

    async def repeated_init(self) -> None:
        raise NotImplementedError  # pragma: no cover

    async def duplicate(self, op_id: str) -> None:
        raise NotImplementedError  # pragma: no cover

    async def refuse(self, reason: str) -> None:
        """Tell the client its `connection_init` is refused, before the close."""

    async def send_keepalive(self) -> None:
        raise NotImplementedError  # pragma: no cover

    async def send_result(self, op_id: str, result: dict[str, Any]) -> None:
        raise NotImplementedError  # pragma: no cover

    async def send_errors(self, op_id: str, errors: list[dict[str, Any]]) -> None:
        raise NotImplementedError  # pragma: no cover


class _TransportWSConnection(_Connection):
    """`graphql-transport-ws`: every protocol violation closes the socket (44xx)."""

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "connection_init":
            await self.initialise(message)
        elif kind == "subscribe":
            await self.start(message)
        elif kind == "complete":
            self.cancel(message)
        elif kind == "ping":
            _optional_object(message)
            await self.send({"type": "pong"})
        elif kind == "pong":
            _optional_object(message)
        else:
            raise _Invalid(f"Unexpected message type {kind!r}")

    async def invalid(self, reason: str) -> None:
        raise _Close(_BAD_REQUEST, reason)

    async def repeated_init(self) -> None:
        raise _Close(_TOO_MANY_INITS, "Too many initialisation requests")

    async def duplicate(self, op_id: str) -> None:
        raise _Close(_SUBSCRIBER_EXISTS, f"Subscriber for {op_id} already exists")

    async def send_keepalive(self) -> None:
        await self.send({"type": "ping"})

    async def send_result(self, op_id: str, result: dict[str, Any]) -> None:
        await self.send({"id": op_id, "type": "next", "payload": result})

    async def send_errors(self, op_id: str, errors: list[dict[str, Any]]) -> None:
        await self.send({"id": op_id, "type": "error", "payload": errors})


class _LegacyConnection(_Connection):
    """Legacy `graphql-ws`: a malformed message is answered with `connection_error`
    and ignored, as that protocol says; refusals and timeouts close the socket with
    the current protocol's codes."""

    # "ka" is sent right after each `connection_ack`, then periodically.
    keepalive_first = True

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "connection_init":
            await self.initialise(message)
        elif kind == "start":
            await self.start(message)
        elif kind == "stop":
            op_id = self.cancel(message)
            if op_id is not None:
                await self.send_complete(op_id)
        elif kind == "connection_terminate":
            raise _Close(_NORMAL_CLOSURE)
        else:
            raise _Invalid(f"Unexpected message type {kind!r}")

    async def invalid(self, reason: str) -> None:
        await self.send({"type": "connection_error", "payload": {"message": reason}})

    async def repeated_init(self) -> None:
        await self.invalid("Too many initialisation requests")

    async def duplicate(self, op_id: str) -> None:
        await self.send_errors(op_id, [{"message": f"Subscriber for {op_id} already exists"}])

    async def refuse(self, reason: str) -> None:
        await self.send({"type": "connection_error", "payload": {"message": reason}})

    async def send_keepalive(self) -> None:
        await self.send({"type": "ka"})

    async def send_result(self, op_id: str, result: dict[str, Any]) -> None:
        await self.send({"id": op_id, "type": "data", "payload": result})

    async def send_errors(self, op_id: str, errors: list[dict[str, Any]]) -> None:
        # The legacy `error` message carries a single error object.
        await self.send({"id": op_id, "type": "error", "payload": errors[0]})


def _parse(message: Mapping[str, Any]) -> dict[str, Any]:
    text = message.get("text")
    if text is None:
        data = message.get("bytes") or b""
        if len(data) > MAX_MESSAGE_SIZE:
            raise _Close(_BAD_REQUEST, "Message too large")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _Invalid("Message is not UTF-8 text") from None
    elif len(text) > MAX_MESSAGE_SIZE:
        raise _Close(_BAD_REQUEST, "Message too large")
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        raise _Invalid("Message is not valid JSON") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
        raise _Invalid("Message is not an object with a string 'type'")
    return parsed


def _optional_object(message: Mapping[str, Any]) -> dict[str, Any] | None:
    payload = message.get("payload")
    if payload is not None and not isinstance(payload, dict):
        raise _Invalid(f"The '{message['type']}' payload must be an object")
    return payload


def _operation_id(message: Mapping[str, Any]) -> str:
    op_id = message.get("id")
    if not isinstance(op_id, str) or not op_id:
        raise _Invalid(f"'{message['type']}' needs a non-empty string 'id'")
    return op_id


def _check_request(payload: Mapping[str, Any]) -> None:
    # The shape the protocol fixes; the Executor checks the rest (a missing query, a
    # persisted query), and its refusals become an `error` message, not a close.
    for key, kind, name in (
        ("query", str, "a string"),
        ("operationName", str, "a string"),
        ("variables", dict, "an object"),
        ("extensions", dict, "an object"),
    ):
        value = payload.get(key)
        if value is not None and not isinstance(value, kind):
            raise _Invalid(f"The '{key}' of the payload must be {name}")


async def _call_on_connect(
    on_connect: OnConnect, websocket: WebSocket, payload: dict[str, Any] | None
) -> Any:
    if is_async_callable(on_connect):
        return await on_connect(websocket, payload)

    # A sync hook may block (a database lookup): it runs in a worker thread. The
    # result comes back boxed, as trio refuses a thread function that returns a
    # coroutine (a lambda around an async function), which is awaited here.
    def call() -> tuple[Any]:
        return (on_connect(websocket, payload),)

    (result,) = await anyio.to_thread.run_sync(call)
    if inspect.isawaitable(result):
        result = await result
    return result


def _select_subprotocol(offered: Sequence[str]) -> str | None:
    # The client lists subprotocols in its order of preference.
    for subprotocol in offered:
        if subprotocol in SUBPROTOCOLS:
            return subprotocol
    return None


def _normalise_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def _origin_allowed(allowed: Sequence[str] | None, origin: str | None, host: str | None) -> bool:
    if allowed is None or origin is None:
        # No list: every origin. No Origin header: not a browser, so not a
        # cross-site request riding on a user's cookies.
        return True
    if "*" in allowed:
        return True
    origin = _normalise_origin(origin)
    if host is not None and _netloc(origin) == host.strip().lower():
        # Same origin (a page served by this app, GraphiQL): a browser sets both
        # headers, and a cross-site page cannot make them agree.
        return True
    return origin in {_normalise_origin(item) for item in allowed}


def _netloc(origin: str) -> str | None:
    # `urlsplit` raises on a malformed IPv6 literal ("http://[evil"): such an Origin
    # names no host at all, so it is nobody's origin, never an error.
    try:
        return urlsplit(origin).netloc
    except ValueError:
        return None


async def _refuse_origin(websocket: WebSocket) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        response = PlainTextResponse("Origin not allowed.", status_code=403)
        await websocket.send_denial_response(response)
    else:
        await websocket.close(_POLICY_VIOLATION, "Origin not allowed")


def _truncate_reason(reason: str) -> str:
    encoded = reason.encode("utf-8")
    if len(encoded) <= _MAX_REASON_BYTES:
        return reason
    return encoded[:_MAX_REASON_BYTES].decode("utf-8", errors="ignore")
