"""`GraphQL`: the ASGI application serving one schema over HTTP and WebSocket."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from graphql import ASTValidationRule, GraphQLSchema

from stellate_asgi.types import Receive, Scope, Send
from stellate_asgi.utils import is_async_callable
from stellate_graphql._execution import ErrorFormatter, Executor
from stellate_graphql._graphiql import DEFAULT_ASSETS_URL
from stellate_graphql._http import serve_http
from stellate_graphql._schema import Resolvers, build_executable_schema
from stellate_graphql._websocket import OnConnect, serve_websocket
from stellate_graphql.persisted import InMemoryPersistedQueryStore, PersistedQueryStore
from stellate_graphql.rules import max_aliases as max_aliases_rule
from stellate_graphql.rules import max_depth as max_depth_rule
from stellate_http.background import BackgroundTasks
from stellate_http.concurrency import run_in_threadpool
from stellate_http.requests import Request
from stellate_websockets.websockets import WebSocket

__all__ = ["GraphQL"]

#: A JSON request body larger than this is refused (413): a megabyte holds any
#: real operation with its variables.
DEFAULT_MAX_BODY_SIZE = 1024 * 1024
#: A multipart (upload) request body larger than this is refused (413).
DEFAULT_MAX_UPLOAD_SIZE = 100 * 1024 * 1024

#: A value, or a callable of the `Request` / `WebSocket` giving it (sync or async).
ValueOrFactory = Any


class GraphQL:
    """An ASGI app serving `schema`: HTTP (GraphQL over HTTP), GraphiQL, WebSocket.

    `schema` is a `GraphQLSchema` (code-first) or SDL text bound to `resolvers`
    (schema-first). See docs/graphql.md for every option.
    """

    def __init__(
        self,
        schema: GraphQLSchema | str,
        *,
        resolvers: Resolvers | None = None,
        debug: bool = False,
        graphiql: bool | None = None,
        graphiql_assets_url: str = DEFAULT_ASSETS_URL,
        context_value: ValueOrFactory = None,
        root_value: ValueOrFactory = None,
        allow_get: bool = True,
        batching: bool = False,
        max_batch_size: int = 10,
        uploads: bool = False,
        max_upload_size: int = DEFAULT_MAX_UPLOAD_SIZE,
        max_files: int = 10,
        max_depth: int | None = None,
        max_aliases: int | None = None,
        validation_rules: Sequence[type[ASTValidationRule]] = (),
        introspection: bool = True,
        cache_size: int = 256,
        error_formatter: ErrorFormatter | None = None,
        persisted_queries: bool | PersistedQueryStore = False,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        csrf_prevention: bool = True,
        subscriptions: bool = True,
        connection_init_timeout: float = 3.0,
        keepalive_interval: float | None = 12.0,
        max_subscriptions: int = 100,
        allowed_origins: Sequence[str] | None = None,
        on_connect: OnConnect | None = None,
    ) -> None:
        if isinstance(schema, str):
            schema = build_executable_schema(schema, resolvers)
        elif resolvers is not None:
            raise TypeError(
                "`resolvers` go with an SDL schema; bind them yourself on a GraphQLSchema."
            )
        for name, value in (
            ("max_batch_size", max_batch_size),
            ("max_body_size", max_body_size),
            ("max_upload_size", max_upload_size),
            ("max_files", max_files),
            ("max_subscriptions", max_subscriptions),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1.")
        store: PersistedQueryStore | None
        if persisted_queries is True:
            store = InMemoryPersistedQueryStore()
        elif persisted_queries is False:
            store = None
        else:
            store = persisted_queries
        rules = list(validation_rules)
        if max_depth is not None:
            rules.append(max_depth_rule(max_depth))
        if max_aliases is not None:
            rules.append(max_aliases_rule(max_aliases))

        self.schema = schema
        self.debug = debug
        self.executor = Executor(
            schema,
            debug=debug,
            validation_rules=rules,
            introspection=introspection,
            cache_size=cache_size,
            error_formatter=error_formatter,
            persisted_queries=store,
        )
        self.graphiql = debug if graphiql is None else graphiql
        self.graphiql_assets_url = graphiql_assets_url
        self.context_value = context_value
        self.root_value = root_value
        self.allow_get = allow_get
        self.batching = batching
        self.max_batch_size = max_batch_size
        self.uploads = uploads
        self.max_upload_size = max_upload_size
        self.max_files = max_files
        self.max_body_size = max_body_size
        self.csrf_prevention = csrf_prevention
        self.subscriptions = subscriptions
        self.connection_init_timeout = connection_init_timeout
        self.keepalive_interval = keepalive_interval
        self.max_subscriptions = max_subscriptions
        self.allowed_origins = allowed_origins
        self.on_connect = on_connect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await serve_http(self, scope, receive, send)
        elif scope["type"] == "websocket":
            websocket: WebSocket = WebSocket(scope, receive, send)
            if not self.subscriptions:
                await websocket.close(code=1008, reason="GraphQL over WebSocket is disabled.")
                return
            await serve_websocket(self, websocket)
        # lifespan and other scope types: nothing to set up

    async def context_for(self, connection: Request | WebSocket) -> Any:
        """The context value for one request or connection.

        `context_value` when given (called with `connection` if callable), else a
        dict with `request` (the `Request` or `WebSocket`) and, over HTTP,
        `background` (`BackgroundTasks` run after the response is sent).
        """
        if self.context_value is None:
            context: dict[str, Any] = {"request": connection}
            if isinstance(connection, Request):
                context["background"] = BackgroundTasks()
            else:
                context["websocket"] = connection
            return context
        return await _resolve(self.context_value, connection)

    async def root_for(self, connection: Request | WebSocket) -> Any:
        """The root value for one request or connection (`root_value`, called if callable)."""
        return await _resolve(self.root_value, connection)


async def _resolve(value: ValueOrFactory, connection: Request | WebSocket) -> Any:
    if not callable(value):
        return value
    factory: Callable[[Request | WebSocket], Any] = value
    if is_async_callable(factory):
        return await factory(connection)
    # A sync factory may touch a database or a file: keep it off the event loop. Its
    # result comes back boxed, because trio refuses a worker that returns an awaitable
    # (`lambda conn: load(conn)`), which is then awaited here.
    (result,) = await run_in_threadpool(lambda: (factory(connection),))
    if inspect.isawaitable(result):
        result = await result
    return result
