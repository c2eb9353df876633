"""GraphQL over HTTP and WebSocket, with GraphiQL, for Stellate and any ASGI app."""

from stellate_graphql._execution import (
    DocumentError,
    Executor,
    Operation,
    PersistedQueryNotFound,
    RequestError,
    format_error,
)
from stellate_graphql._graphiql import GRAPHIQL_ASSETS, GRAPHIQL_SCRIPT_HASH
from stellate_graphql._schema import Upload, bind_resolvers, build_executable_schema
from stellate_graphql.app import GraphQL
from stellate_graphql.persisted import InMemoryPersistedQueryStore, PersistedQueryStore
from stellate_graphql.rules import NoIntrospection, max_aliases, max_depth

__version__ = "0.1.0"

__all__ = [
    "GRAPHIQL_ASSETS",
    "GRAPHIQL_SCRIPT_HASH",
    "DocumentError",
    "Executor",
    "GraphQL",
    "InMemoryPersistedQueryStore",
    "NoIntrospection",
    "Operation",
    "PersistedQueryNotFound",
    "PersistedQueryStore",
    "RequestError",
    "Upload",
    "__version__",
    "bind_resolvers",
    "build_executable_schema",
    "format_error",
    "max_aliases",
    "max_depth",
]
