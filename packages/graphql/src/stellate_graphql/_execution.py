"""The transport-free core: checks one GraphQL request, caches documents, runs them.

Both transports (`_http.py`, `_websocket.py`) go through one `Executor`: `prepare`
turns request parameters into an `Operation` or raises `RequestError` /
`DocumentError`; `execute` and `subscribe` run it; `format_result` turns the result
into the JSON-ready response, masking unexpected errors outside debug.
"""

from __future__ import annotations

import inspect
import threading
import traceback
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import CodeType, FunctionType
from typing import Any, NamedTuple

import anyio
from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    Source,
    execute,
    parse,
    specified_rules,
    subscribe,
    validate,
)
from graphql.execution import executor as graphql_executor

from stellate_graphql.persisted import PersistedQueryStore, sha256_hash
from stellate_graphql.rules import NoIntrospection

__all__ = [
    "DocumentError",
    "ErrorFormatter",
    "Executor",
    "Operation",
    "PersistedQueryNotFound",
    "RequestError",
    "format_error",
]

#: Formats one error for the response: `(error, debug) -> dict`.
ErrorFormatter = Callable[[GraphQLError, bool], dict[str, Any]]

#: The message that replaces an unexpected exception's outside debug.
MASKED_MESSAGE = "Unexpected error."
#: A bound on lexical tokens per document: parsing cost grows with them, and a
#: document far larger than any real query is an attack, not a query.
MAX_TOKENS = 15_000
#: The only version of the `persistedQuery` extension there is.
PERSISTED_QUERY_VERSION = 1


class RequestError(Exception):
    """A malformed GraphQL request: HTTP 400, or an error message over WebSocket."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DocumentError(Exception):
    """The document does not parse or validate; `errors` are the GraphQL errors."""

    def __init__(self, errors: Sequence[GraphQLError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(error.message for error in self.errors))


class PersistedQueryNotFound(DocumentError):
    """The client sent a persisted query hash the store does not know (yet).

    Apollo's clients read the `PERSISTED_QUERY_NOT_FOUND` code in the `errors` of
    the response and retry with the query text.
    """

    def __init__(self) -> None:
        super().__init__(
            [
                GraphQLError(
                    "PersistedQueryNotFound",
                    extensions={"code": "PERSISTED_QUERY_NOT_FOUND"},
                )
            ]
        )


async def _gather(*awaitables: Awaitable[Any]) -> list[Any]:
    """Await `awaitables` concurrently on any anyio backend; results keep their order.

    As graphql-core's own gather: the first exception is raised as is, once the
    other awaitables have been cancelled.
    """
    results: list[Any] = [None] * len(awaitables)
    errors: list[Exception] = []

    async def run(index: int, awaitable: Awaitable[Any]) -> None:
        try:
            results[index] = await awaitable
        except Exception as error:
            if not errors:
                errors.append(error)
            group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        for index, awaitable in enumerate(awaitables):
            group.start_soon(run, index, awaitable)
    if errors:
        raise errors[0]
    return results


def _names(code: CodeType, name: str) -> bool:
    """Whether `code`, or a function nested in it, reads the global `name`."""
    return name in code.co_names or any(
        isinstance(const, CodeType) and _names(const, name) for const in code.co_consts
    )


def _with_gather(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """graphql-core's `Executor` methods that gather with asyncio, rebound to `_gather`.

    graphql-core calls its module-level `gather_with_cancel` (asyncio tasks) from
    `execute_fields` and the list completions. Each such method is recreated for
    the subclass only, from the same code, with module globals in which that name
    is the anyio `_gather`: graphql-core itself is left untouched.
    """
    globals_ = {**vars(graphql_executor), "gather_with_cancel": _gather}
    methods: dict[str, Any] = {}
    for attribute, function in vars(graphql_executor.Executor).items():
        if attribute in namespace or not isinstance(function, FunctionType):
            continue
        if not _names(function.__code__, "gather_with_cancel"):
            continue
        method = FunctionType(
            function.__code__,
            globals_,
            function.__name__,
            function.__defaults__,
            function.__closure__,
        )
        method.__kwdefaults__ = function.__kwdefaults__
        method.__qualname__ = function.__qualname__
        method.__doc__ = function.__doc__
        methods[attribute] = method
    return methods


class _AnyioExecutor(graphql_executor.Executor[Any]):
    """graphql-core's executor, awaiting sibling fields and list items through anyio.

    graphql-core gathers concurrent awaitables with asyncio, which fails on trio
    ("There is no current event loop"); this one runs on both anyio backends.
    (`settle_in_background`, for siblings of a field whose error already bubbled,
    needs no change: without an asyncio loop it closes them instead.)
    """

    def gather_async_work(self, values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        # `info.async_helpers.gather`, used for several async `is_type_of` checks
        return _gather(*values)


for _name, _method in _with_gather(vars(_AnyioExecutor)).items():
    setattr(_AnyioExecutor, _name, _method)


class Operation(NamedTuple):
    """One operation of a parsed and validated document, ready to run."""

    document: DocumentNode
    operation_type: OperationType
    operation_name: str | None
    variables: dict[str, Any] | None


def format_error(error: GraphQLError, debug: bool) -> dict[str, Any]:
    """The default error formatter.

    An error caused by an exception that is not a `GraphQLError` is a bug or an
    outage, not a message for clients: outside debug only "Unexpected error." and
    its location and path are sent; in debug the original message is kept and the
    exception's type and traceback go in `extensions.exception`.
    """
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error.formatted  # type: ignore[return-value]
    if not debug:
        masked: dict[str, Any] = {"message": MASKED_MESSAGE}
        if error.locations is not None:
            masked["locations"] = [location.formatted for location in error.locations]
        if error.path is not None:
            masked["path"] = list(error.path)
        return masked
    formatted: dict[str, Any] = dict(error.formatted)
    extensions = dict(formatted.get("extensions") or {})
    extensions["exception"] = {
        "type": type(original).__qualname__,
        "stacktrace": traceback.format_exception(original),
    }
    formatted["extensions"] = extensions
    return formatted


class Executor:
    """Prepares, runs and formats GraphQL operations against one schema."""

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        debug: bool = False,
        validation_rules: Sequence[type[ASTValidationRule]] = (),
        introspection: bool = True,
        cache_size: int = 256,
        error_formatter: ErrorFormatter | None = None,
        persisted_queries: PersistedQueryStore | None = None,
    ) -> None:
        if cache_size < 0:
            raise ValueError("cache_size cannot be negative.")
        self.schema = schema
        self.debug = debug
        self.introspection = introspection
        self.cache_size = cache_size
        self.error_formatter = error_formatter
        self.persisted_queries = persisted_queries
        rules: list[type[ASTValidationRule]] = [*specified_rules, *validation_rules]
        if not introspection:
            rules.append(NoIntrospection)
        self.validation_rules: tuple[type[ASTValidationRule], ...] = tuple(rules)
        # query text -> the validated document, or the errors that refused it
        self._documents: OrderedDict[str, DocumentNode | DocumentError] = OrderedDict()
        self._lock = threading.Lock()

    # -- preparing ------------------------------------------------------------------

    def prepare(self, params: Mapping[str, Any]) -> Operation:
        """Check one request (`query`, `variables`, `operationName`, `extensions`).

        Raises `RequestError` for parameters of the wrong type, a missing query,
        a bad persisted query hash and an ambiguous or unknown operation name;
        `DocumentError` for a document that does not parse or validate.
        """
        if not isinstance(params, Mapping):
            raise RequestError("A GraphQL request must be a JSON object.")
        query = params.get("query")
        variables = params.get("variables")
        operation_name = params.get("operationName")
        extensions = params.get("extensions")
        if query is not None and not isinstance(query, str):
            raise RequestError("The 'query' parameter must be a string.")
        if variables is not None and not isinstance(variables, dict):
            raise RequestError("The 'variables' parameter must be an object (a map).")
        if operation_name is not None and not isinstance(operation_name, str):
            raise RequestError("The 'operationName' parameter must be a string.")
        if extensions is not None and not isinstance(extensions, dict):
            raise RequestError("The 'extensions' parameter must be an object (a map).")

        persisted = extensions.get("persistedQuery") if extensions else None
        persisted_hash: str | None = None
        if persisted is not None:
            persisted_hash = self._check_persisted(persisted)
            if self.persisted_queries is None:
                if query is None:
                    raise DocumentError(
                        [
                            GraphQLError(
                                "PersistedQueryNotSupported",
                                extensions={"code": "PERSISTED_QUERY_NOT_SUPPORTED"},
                            )
                        ]
                    )
                persisted_hash = None  # the query is there: run it, store nothing
            elif query is None:
                query = self.persisted_queries.get(persisted_hash)
                if query is None:
                    raise PersistedQueryNotFound()
                persisted_hash = None  # already stored
            elif sha256_hash(query) != persisted_hash:
                raise RequestError("The persisted query hash does not match the query.")

        if query is None:
            raise RequestError("The 'query' parameter is missing.")
        if not query.strip():
            raise RequestError("The 'query' parameter is empty.")

        document = self.document(query)
        if persisted_hash is not None and self.persisted_queries is not None:
            # stored only once it validated, so junk cannot fill the store
            self.persisted_queries.set(persisted_hash, query)
        operation = _select_operation(document, operation_name)
        return Operation(
            document=document,
            operation_type=operation.operation,
            operation_name=operation_name,
            variables=variables,
        )

    def document(self, query: str) -> DocumentNode:
        """The parsed and validated document for `query`, through the LRU cache."""
        if self.cache_size:
            with self._lock:
                cached = self._documents.get(query)
                if cached is not None:
                    self._documents.move_to_end(query)
            if cached is not None:
                if isinstance(cached, DocumentError):
                    raise DocumentError(cached.errors)
                return cached
        outcome = self._parse_and_validate(query)
        if self.cache_size:
            with self._lock:
                self._documents[query] = outcome
                while len(self._documents) > self.cache_size:
                    self._documents.popitem(last=False)
        if isinstance(outcome, DocumentError):
            raise outcome
        return outcome

    def _parse_and_validate(self, query: str) -> DocumentNode | DocumentError:
        try:
            document = parse(Source(query), max_tokens=MAX_TOKENS)
        except GraphQLError as error:
            return DocumentError([error])
        except RecursionError:
            return DocumentError([GraphQLError("The document is nested too deeply.")])
        try:
            errors = validate(self.schema, document, self.validation_rules)
        except RecursionError:
            return DocumentError([GraphQLError("The document is nested too deeply.")])
        if errors:
            return DocumentError(errors)
        return document

    def _check_persisted(self, persisted: Any) -> str:
        if not isinstance(persisted, dict):
            raise RequestError("The 'persistedQuery' extension must be an object.")
        version = persisted.get("version")
        if version != PERSISTED_QUERY_VERSION or isinstance(version, bool):
            raise RequestError("Unsupported persisted query version: only version 1 is known.")
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or len(digest) != 64:
            raise RequestError("The persisted query 'sha256Hash' must be a hex SHA-256 digest.")
        return digest.lower()

    # -- running --------------------------------------------------------------------

    async def execute(
        self, operation: Operation, *, context_value: Any = None, root_value: Any = None
    ) -> ExecutionResult:
        """Run a query or mutation (a subscription's source is not resolved here)."""
        result = execute(
            self.schema,
            operation.document,
            root_value=root_value,
            context_value=context_value,
            variable_values=operation.variables,
            operation_name=operation.operation_name,
            executor_class=_AnyioExecutor,
        )
        if inspect.isawaitable(result):
            result = await result
        return result

    async def subscribe(
        self, operation: Operation, *, context_value: Any = None, root_value: Any = None
    ) -> AsyncIterator[ExecutionResult] | ExecutionResult:
        """Start a subscription: a stream of results, or one result with the errors."""
        result = subscribe(
            self.schema,
            operation.document,
            root_value=root_value,
            context_value=context_value,
            variable_values=operation.variables,
            operation_name=operation.operation_name,
            executor_class=_AnyioExecutor,
        )
        if inspect.isawaitable(result):
            result = await result
        return result

    # -- formatting -----------------------------------------------------------------

    def format_result(self, result: ExecutionResult) -> dict[str, Any]:
        """The response map: `data` (left out when execution never started),
        `errors` when any, and `extensions` when any."""
        response: dict[str, Any] = {}
        errors = result.errors or []
        # graphql-core gives `data=None` both for "execution did not start" (variable
        # coercion failed: errors without a path) and for a null that propagated to
        # the root (field errors have a path); only the latter is `"data": null`.
        if result.data is not None or not errors or any(e.path is not None for e in errors):
            response["data"] = result.data
        if errors:
            response["errors"] = self.format_errors(errors)
        if result.extensions:
            response["extensions"] = result.extensions
        return response

    def format_errors(self, errors: Sequence[GraphQLError]) -> list[dict[str, Any]]:
        """Each error through the error formatter (the masking default if none)."""
        formatter = self.error_formatter or format_error
        return [formatter(error, self.debug) for error in errors]


def _select_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode:
    operations = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    if not operations:
        raise RequestError("The document contains no operation to execute.")
    if operation_name is None:
        if len(operations) > 1:
            raise RequestError(
                "The document contains several operations: 'operationName' must name one."
            )
        return operations[0]
    for operation in operations:
        if operation.name is not None and operation.name.value == operation_name:
            return operation
    raise RequestError(f"The document has no operation named '{operation_name}'.")
