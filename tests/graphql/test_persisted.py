"""Automatic persisted queries: the store, the executor's protocol, and the HTTP answers."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from stellate_graphql import (
    DocumentError,
    Executor,
    GraphQL,
    InMemoryPersistedQueryStore,
    PersistedQueryNotFound,
    PersistedQueryStore,
    RequestError,
)
from stellate_graphql.persisted import sha256_hash
from tests.conftest import TestClientFactory

SDL = "type Query { hello: String, version: Int }"
RESOLVERS = {"Query": {"hello": lambda *_: "world", "version": lambda *_: 1}}
QUERY = "{ hello }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()
GRAPHQL_RESPONSE = "application/graphql-response+json"
APOLLO_ACCEPT = "application/graphql-response+json,application/json;q=0.9"


def extension(digest: str = HASH, version: Any = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


def executor(store: PersistedQueryStore | None = None) -> Executor:
    app = GraphQL(SDL, resolvers=RESOLVERS)
    return Executor(app.schema, persisted_queries=store)


# -- the store ------------------------------------------------------------------------


def test_sha256_hash_is_the_hex_digest_of_the_utf8_text() -> None:
    assert sha256_hash(QUERY) == HASH
    assert sha256_hash("{ é }") == hashlib.sha256("{ é }".encode()).hexdigest()
    assert len(sha256_hash("\ud800")) == 64  # a lone surrogate does not crash


def test_the_store_gets_what_was_set() -> None:
    store = InMemoryPersistedQueryStore()
    assert store.get(HASH) is None
    store.set(HASH, QUERY)
    assert store.get(HASH) == QUERY
    assert HASH in store
    assert len(store) == 1
    assert isinstance(store, PersistedQueryStore)


def test_the_store_evicts_the_least_recently_used() -> None:
    store = InMemoryPersistedQueryStore(max_size=2)
    store.set("a", "{ a }")
    store.set("b", "{ b }")
    assert store.get("a") == "{ a }"  # "a" is now the most recent
    store.set("c", "{ c }")
    assert store.get("b") is None
    assert store.get("a") == "{ a }"
    assert store.get("c") == "{ c }"


def test_the_store_bounds_the_total_length() -> None:
    store = InMemoryPersistedQueryStore(max_size=100, max_total_length=10)
    store.set("a", "12345")
    store.set("b", "12345")
    store.set("c", "123")
    assert "a" not in store
    assert store.get("b") == "12345"
    store.set("huge", "x" * 11)  # larger than the whole store: not kept
    assert "huge" not in store
    assert store.get("c") == "123"


def test_setting_a_hash_again_replaces_its_query() -> None:
    store = InMemoryPersistedQueryStore(max_size=2, max_total_length=8)
    store.set("a", "1234")
    store.set("a", "12345678")
    assert store.get("a") == "12345678"
    assert len(store) == 1


def test_the_store_needs_positive_bounds() -> None:
    with pytest.raises(ValueError, match="max_size"):
        InMemoryPersistedQueryStore(0)
    with pytest.raises(ValueError, match="max_total_length"):
        InMemoryPersistedQueryStore(max_total_length=0)


# -- the executor ---------------------------------------------------------------------


def test_an_unknown_hash_is_persisted_query_not_found() -> None:
    with pytest.raises(PersistedQueryNotFound) as caught:
        executor(InMemoryPersistedQueryStore()).prepare({"extensions": extension()})
    [error] = caught.value.errors
    assert error.message == "PersistedQueryNotFound"
    assert error.extensions == {"code": "PERSISTED_QUERY_NOT_FOUND"}
    assert isinstance(caught.value, DocumentError)


def test_a_query_with_its_hash_is_stored_then_found_by_hash() -> None:
    store = InMemoryPersistedQueryStore()
    run = executor(store)
    run.prepare({"query": QUERY, "extensions": extension()})
    assert store.get(HASH) == QUERY
    operation = run.prepare({"extensions": extension()})
    assert operation.document is run.document(QUERY)


def test_the_hash_is_compared_case_insensitively() -> None:
    store = InMemoryPersistedQueryStore()
    run = executor(store)
    run.prepare({"query": QUERY, "extensions": extension(HASH.upper())})
    run.prepare({"extensions": extension(HASH)})


def test_a_hash_that_does_not_match_the_query_is_refused() -> None:
    store = InMemoryPersistedQueryStore()
    with pytest.raises(RequestError, match="does not match"):
        executor(store).prepare({"query": "{ version }", "extensions": extension()})
    assert len(store) == 0


def test_an_invalid_query_is_not_stored() -> None:
    store = InMemoryPersistedQueryStore()
    bad = "{ nope }"
    with pytest.raises(DocumentError):
        executor(store).prepare({"query": bad, "extensions": extension(sha256_hash(bad))})
    assert len(store) == 0


@pytest.mark.parametrize(
    ("persisted", "message"),
    [
        ("abc", "must be an object"),
        ({"version": 2, "sha256Hash": HASH}, "Unsupported persisted query version"),
        ({"version": True, "sha256Hash": HASH}, "Unsupported persisted query version"),
        ({"sha256Hash": HASH}, "Unsupported persisted query version"),
        ({"version": 1}, "sha256Hash"),
        ({"version": 1, "sha256Hash": "abc"}, "sha256Hash"),
        ({"version": 1, "sha256Hash": 5}, "sha256Hash"),
    ],
)
def test_a_malformed_extension_is_a_request_error(persisted: Any, message: str) -> None:
    with pytest.raises(RequestError, match=message):
        executor(InMemoryPersistedQueryStore()).prepare(
            {"extensions": {"persistedQuery": persisted}}
        )


def test_without_a_store_a_hash_alone_is_not_supported() -> None:
    with pytest.raises(DocumentError) as caught:
        executor().prepare({"extensions": extension()})
    assert caught.value.errors[0].message == "PersistedQueryNotSupported"
    assert caught.value.errors[0].extensions == {"code": "PERSISTED_QUERY_NOT_SUPPORTED"}


def test_without_a_store_a_query_with_a_hash_just_runs() -> None:
    operation = executor().prepare({"query": QUERY, "extensions": extension("0" * 64)})
    assert operation.operation_name is None


def test_a_custom_store_is_used() -> None:
    class Store:
        def __init__(self) -> None:
            self.data: dict[str, str] = {HASH: QUERY}
            self.calls: list[str] = []

        def get(self, sha256_hash: str) -> str | None:
            self.calls.append("get")
            return self.data.get(sha256_hash)

        def set(self, sha256_hash: str, query: str) -> None:
            self.calls.append("set")
            self.data[sha256_hash] = query

    store = Store()
    app = GraphQL(SDL, resolvers=RESOLVERS, persisted_queries=store)
    assert app.executor.persisted_queries is store
    app.executor.prepare({"extensions": extension()})
    assert store.calls == ["get"]


def test_persisted_queries_true_makes_an_in_memory_store() -> None:
    app = GraphQL(SDL, persisted_queries=True)
    assert isinstance(app.executor.persisted_queries, InMemoryPersistedQueryStore)
    assert GraphQL(SDL).executor.persisted_queries is None


# -- over HTTP ------------------------------------------------------------------------


def client_for(factory: TestClientFactory, **options: Any) -> Any:
    return factory(GraphQL(SDL, resolvers=RESOLVERS, persisted_queries=True, **options))


@pytest.mark.parametrize("accept", [None, "application/json", APOLLO_ACCEPT, "*/*"])
def test_not_found_is_a_200_in_application_json(
    test_client_factory: TestClientFactory, accept: str | None
) -> None:
    client = client_for(test_client_factory)
    headers = {"accept": accept} if accept else {}
    response = client.post("/", json={"extensions": extension()}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["cache-control"] == "private, no-cache, must-revalidate"
    assert response.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }


def test_not_found_is_a_400_when_only_graphql_response_json_is_accepted(
    test_client_factory: TestClientFactory,
) -> None:
    client = client_for(test_client_factory)
    response = client.post(
        "/", json={"extensions": extension()}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json()["errors"][0]["message"] == "PersistedQueryNotFound"


def test_the_apollo_round_trip_over_post(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    headers = {"accept": APOLLO_ACCEPT}
    missing = client.post("/", json={"extensions": extension()}, headers=headers)
    assert missing.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    registered = client.post("/", json={"query": QUERY, "extensions": extension()}, headers=headers)
    assert registered.status_code == 200
    assert registered.json() == {"data": {"hello": "world"}}
    hashed = client.post("/", json={"extensions": extension()}, headers=headers)
    assert hashed.status_code == 200
    assert hashed.json() == {"data": {"hello": "world"}}


def test_the_apollo_round_trip_over_get(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    params = {"extensions": json.dumps(extension())}
    assert client.get("/", params=params).json()["errors"][0]["message"] == (
        "PersistedQueryNotFound"
    )
    assert client.get("/", params={"query": QUERY, **params}).json() == {"data": {"hello": "world"}}
    assert client.get("/", params=params).json() == {"data": {"hello": "world"}}


def test_a_hash_mismatch_is_a_400(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    response = client.post("/", json={"query": "{ version }", "extensions": extension()})
    assert response.status_code == 400
    assert "does not match" in response.json()["errors"][0]["message"]


def test_not_supported_when_persisted_queries_are_off(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(GraphQL(SDL, resolvers=RESOLVERS))
    response = client.post("/", json={"extensions": extension()})
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == "PersistedQueryNotSupported"
    strict = client.post(
        "/", json={"extensions": extension()}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert strict.status_code == 400
