"""Validation rules: maximum depth, maximum aliases, no introspection."""

from __future__ import annotations

import time

import pytest
from graphql import (
    GraphQLSchema,
    build_schema,
    get_introspection_query,
    parse,
    specified_rules,
    validate,
)

from stellate_graphql import GraphQL, NoIntrospection, max_aliases, max_depth
from tests.conftest import TestClientFactory

SDL = """
type Query { user: User, users: [User!]!, version: String }
type User { name: String, friends: [User!]!, best: User }
"""

GRAPHQL_RESPONSE = "application/graphql-response+json"


def schema() -> GraphQLSchema:
    return build_schema(SDL)


def messages(query: str, *rules: type) -> list[str]:
    return [error.message for error in validate(schema(), parse(query), list(rules))]


# -- max_depth ------------------------------------------------------------------------


def test_depth_at_the_limit_passes_and_past_it_fails() -> None:
    rule = max_depth(3)
    assert messages("{ user { best { name } } }", rule) == []
    assert messages("{ user { best { best { name } } } }", rule) == [
        "The operation exceeds the maximum query depth of 3."
    ]


def test_depth_names_the_operation() -> None:
    assert messages("query Deep { user { best { name } } }", max_depth(2)) == [
        "Operation 'Deep' exceeds the maximum query depth of 2."
    ]


def test_depth_is_measured_per_operation() -> None:
    query = "query A { version } query B { user { best { name } } }"
    assert messages(query, max_depth(2)) == ["Operation 'B' exceeds the maximum query depth of 2."]


def test_depth_follows_fragments_and_inline_fragments() -> None:
    query = """
    { user { ...F } }
    fragment F on User { best { ... on User { best { name } } } }
    """
    assert messages(query, max_depth(4)) == []
    assert messages(query, max_depth(3)) == ["The operation exceeds the maximum query depth of 3."]


def test_depth_takes_the_deepest_branch() -> None:
    query = "{ version user { name best { name } } users { name } }"
    assert messages(query, max_depth(3)) == []
    assert messages(query, max_depth(2)) != []


def test_depth_survives_fragment_cycles() -> None:
    query = """
    { user { ...A } }
    fragment A on User { best { ...B } }
    fragment B on User { best { ...A } }
    """
    found = messages(query, *specified_rules, max_depth(50))
    assert any("Cannot spread fragment" in message for message in found)


def test_depth_with_unknown_fragments_leaves_the_report_to_the_standard_rules() -> None:
    found = messages("{ user { ...Missing } }", *specified_rules, max_depth(5))
    assert found == ["Unknown fragment 'Missing'."]


def test_depth_of_many_repeated_spreads_is_computed_quickly() -> None:
    # Each fragment spreads the next one twice: naive expansion is 2**30 visits.
    fragments = "\n".join(
        f"fragment F{i} on User {{ best {{ ...F{i + 1} }} friends {{ ...F{i + 1} }} }}"
        for i in range(30)
    )
    query = "{ user { ...F0 } }\n" + fragments + "\nfragment F30 on User { name }"
    started = time.perf_counter()
    assert messages(query, max_depth(100)) == []
    assert messages(query, max_depth(10)) == [
        "The operation exceeds the maximum query depth of 10."
    ]
    assert time.perf_counter() - started < 1


def test_depth_needs_a_positive_limit() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        max_depth(0)
    assert max_depth(4).__name__ == "MaxDepth4"


# -- max_aliases ----------------------------------------------------------------------


def test_aliases_at_the_limit_pass_and_past_it_fail() -> None:
    rule = max_aliases(2)
    assert messages("{ a: version b: version version }", rule) == []
    assert messages("{ a: version b: version c: version }", rule) == [
        "The operation uses 3 aliases, more than the maximum of 2."
    ]


def test_aliases_count_in_nested_selections() -> None:
    query = "{ user { a: name b: best { c: name } } }"
    assert messages(query, max_aliases(2)) == [
        "The operation uses 3 aliases, more than the maximum of 2."
    ]


def test_aliases_in_a_fragment_count_once_per_spread() -> None:
    query = """
    query Q { user { ...F ...F best { ...F } } }
    fragment F on User { a: name b: name }
    """
    assert messages(query, max_aliases(6)) == []
    assert messages(query, max_aliases(5)) == [
        "Operation 'Q' uses 6 aliases, more than the maximum of 5."
    ]


def test_aliases_multiplied_by_nested_spreads_are_counted() -> None:
    fragments = "\n".join(f"fragment F{i} on User {{ ...F{i + 1} ...F{i + 1} }}" for i in range(20))
    query = "{ user { ...F0 } }\n" + fragments + "\nfragment F20 on User { a: name }"
    assert messages(query, max_aliases(2**20)) == []
    assert messages(query, max_aliases(1000)) == [
        f"The operation uses {2**20} aliases, more than the maximum of 1000."
    ]


def test_aliases_in_inline_fragments_count() -> None:
    assert messages("{ user { ... on User { a: name } } }", max_aliases(0)) == [
        "The operation uses 1 aliases, more than the maximum of 0."
    ]


def test_aliases_survive_fragment_cycles() -> None:
    query = """
    { user { ...A } }
    fragment A on User { x: name ...B }
    fragment B on User { y: name ...A }
    """
    found = messages(query, *specified_rules, max_aliases(10))
    assert any("Cannot spread fragment" in message for message in found)


def test_aliases_need_a_non_negative_limit() -> None:
    with pytest.raises(ValueError, match="negative"):
        max_aliases(-1)
    assert max_aliases(0).__name__ == "MaxAliases0"


# -- NoIntrospection ------------------------------------------------------------------


def test_no_introspection_refuses_schema_and_type() -> None:
    assert messages("{ __schema { types { name } } }", NoIntrospection) == [
        "GraphQL introspection is not allowed, but the query contained '__schema'."
    ]
    assert messages('{ __type(name: "User") { name } }', NoIntrospection) == [
        "GraphQL introspection is not allowed, but the query contained '__type'."
    ]


def test_no_introspection_allows_typename() -> None:
    assert messages("{ __typename user { __typename name } }", NoIntrospection) == []


def test_no_introspection_looks_into_fragments() -> None:
    query = "{ ...F } fragment F on Query { __schema { queryType { name } } }"
    assert len(messages(query, NoIntrospection)) == 1


# -- through the app ------------------------------------------------------------------


def test_the_app_applies_the_limits(test_client_factory: TestClientFactory) -> None:
    app = GraphQL(SDL, max_depth=2, max_aliases=1, introspection=False)
    client = test_client_factory(app)
    headers = {"accept": GRAPHQL_RESPONSE}

    deep = client.post("/", json={"query": "{ user { best { name } } }"}, headers=headers)
    assert deep.status_code == 400
    assert deep.json()["errors"][0]["extensions"] == {"code": "MAX_DEPTH_EXCEEDED"}
    assert "data" not in deep.json()

    aliased = client.post("/", json={"query": "{ a: version b: version }"}, headers=headers)
    assert aliased.status_code == 400
    assert aliased.json()["errors"][0]["extensions"] == {"code": "MAX_ALIASES_EXCEEDED"}

    introspect = client.post("/", json={"query": "{ __schema { description } }"})
    assert introspect.status_code == 200  # application/json: document errors are 200
    assert introspect.json()["errors"][0]["extensions"] == {"code": "INTROSPECTION_DISABLED"}
    assert "data" not in introspect.json()

    fine = client.post("/", json={"query": "{ a: version user { name } }"}, headers=headers)
    assert fine.status_code == 200
    assert fine.json() == {"data": {"a": None, "user": None}}


def test_the_app_takes_custom_rules_with_the_limits(
    test_client_factory: TestClientFactory,
) -> None:
    app = GraphQL(SDL, validation_rules=[NoIntrospection], max_depth=5)
    client = test_client_factory(app)
    response = client.post("/", json={"query": "{ __schema { queryType { name } } }"})
    assert "introspection" in response.json()["errors"][0]["message"]


def test_the_standard_introspection_query_fits_a_depth_of_15() -> None:
    query = get_introspection_query(descriptions=True)
    assert messages(query, max_depth(15)) == []
    assert messages(query, max_depth(10)) != []
