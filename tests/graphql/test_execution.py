"""The transport-free `Executor`: request checks, the document cache, running, formatting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import graphql
import pytest
from graphql import (
    ExecutionResult,
    GraphQLArgument,
    GraphQLError,
    GraphQLField,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    OperationType,
)

import stellate_graphql._execution as execution_module
from stellate_graphql import (
    DocumentError,
    Executor,
    GraphQL,
    Operation,
    RequestError,
    format_error,
)

pytestmark = pytest.mark.anyio


class Secret(Exception):
    pass


def make_schema() -> GraphQLSchema:
    async def resolve_hello(root: Any, info: Any, name: str = "world") -> str:
        return f"Hello, {name}!"

    def resolve_boom(root: Any, info: Any) -> str:
        raise Secret("the database password is hunter2")

    def resolve_refused(root: Any, info: Any) -> str:
        raise GraphQLError("Not allowed.", extensions={"code": "FORBIDDEN"})

    def resolve_context(root: Any, info: Any) -> str:
        return str(info.context["who"])

    def resolve_root(root: Any, info: Any) -> str:
        return str(root["name"])

    async def subscribe_count(root: Any, info: Any, to: int) -> AsyncIterator[int]:
        for number in range(1, to + 1):
            yield number

    query = GraphQLObjectType(
        "Query",
        {
            "hello": GraphQLField(
                GraphQLString, args={"name": GraphQLArgument(GraphQLString)}, resolve=resolve_hello
            ),
            "boom": GraphQLField(GraphQLString, resolve=resolve_boom),
            "boomNonNull": GraphQLField(GraphQLNonNull(GraphQLString), resolve=resolve_boom),
            "refused": GraphQLField(GraphQLString, resolve=resolve_refused),
            "context": GraphQLField(GraphQLString, resolve=resolve_context),
            "root": GraphQLField(GraphQLString, resolve=resolve_root),
            "number": GraphQLField(
                GraphQLInt,
                args={"n": GraphQLArgument(GraphQLNonNull(GraphQLInt))},
                resolve=lambda root, info, n: n,
            ),
        },
    )
    mutation = GraphQLObjectType(
        "Mutation", {"touch": GraphQLField(GraphQLString, resolve=lambda *_: "touched")}
    )
    subscription = GraphQLObjectType(
        "Subscription",
        {
            "count": GraphQLField(
                GraphQLInt,
                args={"to": GraphQLArgument(GraphQLNonNull(GraphQLInt))},
                subscribe=subscribe_count,
                resolve=lambda event, info, to: event,
            )
        },
    )
    return GraphQLSchema(query=query, mutation=mutation, subscription=subscription)


async def run(executor: Executor, params: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    operation = executor.prepare(params)
    return executor.format_result(await executor.execute(operation, **kwargs))


# -- prepare ------------------------------------------------------------------------


def test_prepare_returns_the_operation() -> None:
    executor = Executor(make_schema())
    operation = executor.prepare(
        {"query": "query Q($n: Int!) { number(n: $n) }", "variables": {"n": 1}}
    )
    assert isinstance(operation, Operation)
    assert operation.operation_type is OperationType.QUERY
    assert operation.operation_name is None
    assert operation.variables == {"n": 1}
    assert isinstance(operation.document, graphql.DocumentNode)


def test_prepare_tells_the_operation_type() -> None:
    executor = Executor(make_schema())
    document = "query A { hello } mutation B { touch } subscription C { count(to: 1) }"
    for name, kind in (
        ("A", OperationType.QUERY),
        ("B", OperationType.MUTATION),
        ("C", OperationType.SUBSCRIPTION),
    ):
        operation = executor.prepare({"query": document, "operationName": name})
        assert operation.operation_type is kind
        assert operation.operation_name == name


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query": 1}, "'query' parameter must be a string"),
        ({"query": ["{ hello }"]}, "'query' parameter must be a string"),
        ({"query": "{ hello }", "variables": "{}"}, "'variables' parameter must be an object"),
        ({"query": "{ hello }", "variables": [1]}, "'variables' parameter must be an object"),
        ({"query": "{ hello }", "operationName": 3}, "'operationName' parameter must be"),
        ({"query": "{ hello }", "extensions": "x"}, "'extensions' parameter must be an object"),
        ({}, "'query' parameter is missing"),
        ({"query": None}, "'query' parameter is missing"),
        ({"query": "   "}, "'query' parameter is empty"),
    ],
)
def test_prepare_refuses_malformed_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises(RequestError, match=message) as caught:
        Executor(make_schema()).prepare(params)
    assert message in caught.value.message


def test_prepare_refuses_a_request_that_is_not_a_mapping() -> None:
    with pytest.raises(RequestError, match="JSON object"):
        Executor(make_schema()).prepare(["{ hello }"])  # type: ignore[arg-type]


def test_null_parameters_are_absent_parameters() -> None:
    operation = Executor(make_schema()).prepare(
        {"query": "{ hello }", "variables": None, "operationName": None, "extensions": None}
    )
    assert operation.variables is None


def test_a_syntax_error_is_a_document_error() -> None:
    with pytest.raises(DocumentError) as caught:
        Executor(make_schema()).prepare({"query": "{ hello"})
    [error] = caught.value.errors
    assert error.message.startswith("Syntax Error")
    assert error.locations is not None


def test_a_validation_error_is_a_document_error() -> None:
    with pytest.raises(DocumentError) as caught:
        Executor(make_schema()).prepare({"query": "{ nope }"})
    assert [error.message for error in caught.value.errors] == [
        "Cannot query field 'nope' on type 'Query'."
    ]
    assert "nope" in str(caught.value)


def test_several_operations_need_an_operation_name() -> None:
    executor = Executor(make_schema())
    with pytest.raises(RequestError, match="several operations"):
        executor.prepare({"query": "query A { hello } query B { hello }"})
    with pytest.raises(RequestError, match="no operation named 'C'"):
        executor.prepare({"query": "query A { hello } query B { hello }", "operationName": "C"})
    operation = executor.prepare(
        {"query": "query A { hello } query B { hello }", "operationName": "B"}
    )
    assert operation.operation_name == "B"


def test_an_operation_name_must_match_even_a_single_operation() -> None:
    with pytest.raises(RequestError, match="no operation named 'Other'"):
        Executor(make_schema()).prepare({"query": "query A { hello }", "operationName": "Other"})


def test_a_document_nested_too_deeply_is_refused_not_crashed() -> None:
    depth = 3000
    query = "{ hello " + "{ a " * depth + "}" * (depth + 1)
    with pytest.raises(DocumentError):
        Executor(make_schema()).prepare({"query": query})


def test_a_document_with_too_many_tokens_is_refused() -> None:
    query = "{ " + " ".join("hello" for _ in range(20_000)) + " }"
    with pytest.raises(DocumentError) as caught:
        Executor(make_schema()).prepare({"query": query})
    assert "tokens" in caught.value.errors[0].message


# -- the document cache --------------------------------------------------------------


class Counter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.calls = 0
        original = getattr(execution_module, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(execution_module, name, counted)


def test_a_repeated_query_is_parsed_and_validated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parses = Counter(monkeypatch, "parse")
    validations = Counter(monkeypatch, "validate")
    executor = Executor(make_schema())
    first = executor.prepare({"query": "{ hello }"})
    second = executor.prepare({"query": "{ hello }"})
    assert first.document is second.document
    assert (parses.calls, validations.calls) == (1, 1)
    executor.prepare({"query": "{  hello }"})  # other text, other entry
    assert parses.calls == 2


def test_refused_documents_are_cached_too(monkeypatch: pytest.MonkeyPatch) -> None:
    validations = Counter(monkeypatch, "validate")
    executor = Executor(make_schema())
    for _ in range(3):
        with pytest.raises(DocumentError, match="nope"):
            executor.prepare({"query": "{ nope }"})
    assert validations.calls == 1


def test_the_cache_evicts_the_least_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    parses = Counter(monkeypatch, "parse")
    executor = Executor(make_schema(), cache_size=2)
    for query in ("{ hello }", "{ boom }", "{ hello }", "{ root }", "{ hello }"):
        executor.prepare({"query": query})
    assert parses.calls == 3  # "{ hello }" stayed, "{ boom }" was evicted
    executor.prepare({"query": "{ boom }"})
    assert parses.calls == 4


def test_a_cache_size_of_zero_disables_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    parses = Counter(monkeypatch, "parse")
    executor = Executor(make_schema(), cache_size=0)
    executor.prepare({"query": "{ hello }"})
    executor.prepare({"query": "{ hello }"})
    assert parses.calls == 2


def test_a_negative_cache_size_is_refused() -> None:
    with pytest.raises(ValueError, match="cache_size"):
        Executor(make_schema(), cache_size=-1)


def test_introspection_can_be_disabled() -> None:
    executor = Executor(make_schema(), introspection=False)
    with pytest.raises(DocumentError, match="introspection"):
        executor.prepare({"query": "{ __schema { queryType { name } } }"})
    with pytest.raises(DocumentError, match="introspection"):
        executor.prepare({"query": '{ __type(name: "Query") { name } }'})
    executor.prepare({"query": "{ __typename hello }"})


def test_custom_validation_rules_run() -> None:
    class NoBoom(graphql.ValidationRule):
        def enter_field(self, node: graphql.FieldNode, *_args: Any) -> None:
            if node.name.value == "boom":
                self.report_error(GraphQLError("No boom.", node))

    executor = Executor(make_schema(), validation_rules=[NoBoom])
    with pytest.raises(DocumentError, match="No boom"):
        executor.prepare({"query": "{ boom }"})
    executor.prepare({"query": "{ hello }"})


# -- running and formatting ----------------------------------------------------------


async def test_execute_runs_with_variables_context_and_root() -> None:
    executor = Executor(make_schema())
    result = await run(
        executor,
        {
            "query": 'query($n: Int!) { number(n: $n) hello(name: "you") context root }',
            "variables": {"n": 7},
        },
        context_value={"who": "ctx"},
        root_value={"name": "rooted"},
    )
    assert result == {
        "data": {"number": 7, "hello": "Hello, you!", "context": "ctx", "root": "rooted"}
    }


async def test_unexpected_errors_are_masked_outside_debug() -> None:
    result = await run(Executor(make_schema()), {"query": "{ hello boom }"})
    assert result["data"] == {"hello": "Hello, world!", "boom": None}
    assert result["errors"] == [
        {"message": "Unexpected error.", "locations": [{"line": 1, "column": 9}], "path": ["boom"]}
    ]
    assert "hunter2" not in repr(result)


async def test_graphql_errors_raised_by_resolvers_keep_their_message() -> None:
    result = await run(Executor(make_schema()), {"query": "{ refused }"})
    [error] = result["errors"]
    assert error["message"] == "Not allowed."
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["path"] == ["refused"]


async def test_debug_shows_the_exception() -> None:
    result = await run(Executor(make_schema(), debug=True), {"query": "{ boom }"})
    [error] = result["errors"]
    assert error["message"] == "the database password is hunter2"
    assert error["extensions"]["exception"]["type"] == "Secret"
    assert any("resolve_boom" in line for line in error["extensions"]["exception"]["stacktrace"])


async def test_an_error_formatter_replaces_the_formatting() -> None:
    seen: list[tuple[str, bool]] = []

    def formatter(error: GraphQLError, debug: bool) -> dict[str, Any]:
        seen.append((error.message, debug))
        return {"message": error.message.upper(), "extensions": {"seen": True}}

    executor = Executor(make_schema(), error_formatter=formatter)
    result = await run(executor, {"query": "{ boom }"})
    assert result["errors"] == [
        {"message": "THE DATABASE PASSWORD IS HUNTER2", "extensions": {"seen": True}}
    ]
    assert seen == [("the database password is hunter2", False)]
    assert executor.format_errors([GraphQLError("x")]) == [
        {"message": "X", "extensions": {"seen": True}}
    ]


def test_format_error_is_the_default_formatter() -> None:
    wrapped = GraphQLError("boom", original_error=Secret("boom"), path=["a"])
    assert format_error(wrapped, False) == {"message": "Unexpected error.", "path": ["a"]}
    assert format_error(wrapped, True)["message"] == "boom"
    plain = GraphQLError("fine", extensions={"code": "X"})
    assert format_error(plain, False) == {"message": "fine", "extensions": {"code": "X"}}


async def test_variable_coercion_failure_has_no_data_entry() -> None:
    executor = Executor(make_schema())
    result = await run(executor, {"query": "query($n: Int!) { number(n: $n) }", "variables": {}})
    assert "data" not in result
    assert "$n" in result["errors"][0]["message"]


async def test_a_null_propagated_to_the_root_is_data_null() -> None:
    result = await run(Executor(make_schema()), {"query": "{ boomNonNull }"})
    assert result["data"] is None
    assert result["errors"][0]["path"] == ["boomNonNull"]


def test_format_result_keeps_extensions() -> None:
    executor = Executor(make_schema())
    formatted = executor.format_result(ExecutionResult({"a": 1}, None, {"cost": 3}))
    assert formatted == {"data": {"a": 1}, "extensions": {"cost": 3}}
    assert executor.format_result(ExecutionResult(None, [GraphQLError("bad")])) == {
        "errors": [{"message": "bad"}]
    }


async def test_subscribe_streams_results() -> None:
    executor = Executor(make_schema())
    operation = executor.prepare({"query": "subscription { count(to: 3) }"})
    stream = await executor.subscribe(operation)
    assert not isinstance(stream, ExecutionResult)
    values = [executor.format_result(result) async for result in stream]
    assert values == [{"data": {"count": n}} for n in (1, 2, 3)]


async def test_subscribe_returns_the_errors_of_a_stream_that_cannot_start() -> None:
    executor = Executor(make_schema())
    operation = executor.prepare(
        {"query": "subscription($to: Int!) { count(to: $to) }", "variables": {"to": "x"}}
    )
    result = await executor.subscribe(operation)
    assert isinstance(result, ExecutionResult)
    assert "data" not in executor.format_result(result)


def test_the_app_exposes_its_executor() -> None:
    app = GraphQL(make_schema(), debug=True, introspection=False, cache_size=3)
    assert isinstance(app.executor, Executor)
    assert app.executor.debug is True
    assert app.executor.introspection is False
    assert app.executor.cache_size == 3
