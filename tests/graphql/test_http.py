"""GraphQL over HTTP: methods, media types, status codes, bodies, batching, uploads, CSRF."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from stellate_asgi.types import Message
from stellate_graphql import GraphQL
from stellate_graphql._http import negotiate
from stellate_http.datastructures import UploadFile
from tests.conftest import TestClientFactory

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
PREFLIGHT = {"graphql-require-preflight": "1"}

SDL = """
scalar Upload
type Query {
  hello(name: String = "world"): String!
  boom: String
  strict: String!
  number(n: Int!): Int
}
type Mutation { add(text: String!): [String!]! }
type Subscription { tick: Int }
type File { name: String, size: Int, text: String }
extend type Mutation {
  upload(file: Upload!): File!
  uploadMany(files: [Upload!]!): [File!]!
}
"""


def make_app(**options: Any) -> GraphQL:
    log: list[str] = []

    def boom(*_: Any) -> str:
        raise RuntimeError("internal detail")

    def add(root: Any, info: Any, text: str) -> list[str]:
        log.append(text)
        return list(log)

    async def upload(root: Any, info: Any, file: UploadFile) -> dict[str, Any]:
        data = await file.read()
        return {"name": file.filename, "size": len(data), "text": data.decode()}

    async def upload_many(root: Any, info: Any, files: list[UploadFile]) -> list[dict[str, Any]]:
        return [await upload(root, info, file) for file in files]

    async def tick(*_: Any) -> Any:
        yield 1

    resolvers: dict[str, dict[str, Any]] = {
        "Query": {
            "hello": lambda root, info, name: f"Hello, {name}!",
            "boom": boom,
            "strict": boom,
            "number": lambda root, info, n: n,
        },
        "Mutation": {"add": add, "upload": upload, "uploadMany": upload_many},
        "Subscription": {"tick": tick},
    }
    return GraphQL(SDL, resolvers=resolvers, **options)


def client_for(factory: TestClientFactory, **options: Any) -> Any:
    return factory(make_app(**options))


def post(client: Any, body: Any, accept: str | None = None, **headers: str) -> Any:
    all_headers = {"content-type": JSON, **headers}
    if accept is not None:
        all_headers["accept"] = accept
    content = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post("/", content=content, headers=all_headers)


# -- media types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (JSON, JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, {JSON}", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE}", JSON),
        (f"{JSON};q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.2, */*;q=0.5", JSON),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
        ("APPLICATION/JSON", JSON),
        (f"{JSON}; charset=utf-8", JSON),
        (f"{JSON}; charset=latin-1", None),
        (f"{JSON};q=0", None),
        (f"{JSON};q=0, */*", None),
        (f"{JSON};q=oops", None),
        (f"{JSON};q=2", None),
        ("text/html", None),
        ("text/plain, image/png", None),
    ],
)
def test_negotiate(accept: str | None, expected: str | None) -> None:
    assert negotiate(accept) == expected


def test_application_json_by_default(test_client_factory: TestClientFactory) -> None:
    response = post(client_for(test_client_factory), {"query": "{ hello }"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["vary"] == "Accept"
    assert response.json() == {"data": {"hello": "Hello, world!"}}


def test_graphql_response_json_when_asked(test_client_factory: TestClientFactory) -> None:
    response = post(client_for(test_client_factory), {"query": "{ hello }"}, GRAPHQL_RESPONSE)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"


def test_an_unacceptable_accept_is_406(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    response = post(client, {"query": "{ hello }"}, "text/plain")
    assert response.status_code == 406
    assert "Not Acceptable" in response.json()["errors"][0]["message"]
    assert client.get("/?query={hello}", headers={"accept": "image/png"}).status_code == 406


def test_utf8_travels_both_ways(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    body = json.dumps({"query": '{ hello(name: "Run🏃Swim🏊") }'}, ensure_ascii=False)
    response = post(client, body.encode(), **{"content-type": "application/json; charset=UTF-8"})
    assert response.status_code == 200
    assert "Run🏃Swim🏊".encode() in response.content
    assert response.json() == {"data": {"hello": "Hello, Run🏃Swim🏊!"}}


def test_a_lone_surrogate_is_escaped_not_a_500(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    body = '{"query": "query($n: String) { hello(name: $n) }", "variables": {"n": "\\ud800"}}'
    response = post(client, body)
    assert response.status_code == 200
    assert b"\\ud800" in response.content


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/graphql",
        "application/json; charset=latin-1",
        "application/jsonx",
    ],
)
def test_other_content_types_are_415(
    test_client_factory: TestClientFactory, content_type: str | None
) -> None:
    client = client_for(test_client_factory)
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post("/", content=json.dumps({"query": "{ hello }"}), headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert "application/json" in response.json()["errors"][0]["message"]


# -- methods --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
def test_other_methods_are_405(test_client_factory: TestClientFactory, method: str) -> None:
    response = client_for(test_client_factory).request(method, "/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_get_runs_queries(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    response = client.get(
        "/",
        params={
            "query": "query Q($n: Int!) { number(n: $n) }",
            "variables": json.dumps({"n": 4}),
            "operationName": "Q",
            "extensions": json.dumps({"x": 1}),
        },
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"number": 4}}


def test_mutations_over_get_are_405(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    response = client.get(
        "/", params={"query": 'mutation { add(text: "x") }'}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "mutation cannot be sent with GET" in response.json()["errors"][0]["message"]
    # the mutation did not run
    assert post(client, {"query": 'mutation { add(text: "y") }'}).json() == {"data": {"add": ["y"]}}


def test_get_picks_the_query_of_a_document_with_a_mutation(
    test_client_factory: TestClientFactory,
) -> None:
    client = client_for(test_client_factory)
    document = 'query Q { hello } mutation M { add(text: "x") }'
    assert client.get("/", params={"query": document, "operationName": "Q"}).status_code == 200
    assert client.get("/", params={"query": document, "operationName": "M"}).status_code == 405


def test_subscriptions_over_http_are_400(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    assert client.get("/", params={"query": "subscription { tick }"}).status_code == 400
    response = post(client, {"query": "subscription { tick }"})
    assert response.status_code == 400
    assert "WebSocket" in response.json()["errors"][0]["message"]


def test_get_can_be_turned_off(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, allow_get=False)
    response = client.get("/", params={"query": "{ hello }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert client.put("/").headers["allow"] == "POST"
    assert post(client, {"query": "{ hello }"}).status_code == 200


def test_get_with_invalid_json_variables_is_400(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    for name in ("variables", "extensions"):
        response = client.get("/", params={"query": "{ hello }", name: "{nope"})
        assert response.status_code == 400
        assert f"'{name}' parameter must be a JSON-encoded object" in response.text
    response = client.get("/", params={"query": "{ hello }", "variables": "[1]"})
    assert response.status_code == 400


def test_get_without_a_query_is_a_clear_400(test_client_factory: TestClientFactory) -> None:
    response = client_for(test_client_factory).get("/")
    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "The 'query' parameter is missing."}]}


# -- bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "body is empty"),
        ("   ", "body is empty"),
        ('{ "not a JSON', "not valid JSON"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('"query"', "must be a JSON object"),
        ("3", "must be a JSON object"),
        ("null", "must be a JSON object"),
        ('[{"query": "{ hello }"}]', "Batched requests are not enabled"),
        ('{"notquery": "{ hello }"}', "'query' parameter is missing"),
        ('{"query": {"a": 1}}', "'query' parameter must be a string"),
        ('{"query": "{ hello }", "variables": "x"}', "'variables' parameter must be an object"),
        ('{"query": "{ hello }", "variables": [1]}', "'variables' parameter must be an object"),
        ('{"query": "{ hello }", "operationName": false}', "'operationName' parameter"),
        ('{"query": "{ hello }", "extensions": 0}', "'extensions' parameter"),
        ('{"query": "query A { hello } query B { hello }"}', "several operations"),
        ('{"query": "query A { hello }", "operationName": "B"}', "no operation named 'B'"),
    ],
)
def test_malformed_requests_are_400(
    test_client_factory: TestClientFactory, body: str | bytes, message: str, accept: str
) -> None:
    response = post(client_for(test_client_factory), body, accept)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(accept)
    [error] = response.json()["errors"]
    assert message in error["message"]
    assert "data" not in response.json()


def test_null_parameters_are_allowed(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    for accept in (JSON, GRAPHQL_RESPONSE):
        body = {"query": "{ hello }", "variables": None, "operationName": None, "extensions": None}
        response = post(client, body, accept)
        assert response.status_code == 200
        assert response.json() == {"data": {"hello": "Hello, world!"}}


def test_a_body_over_the_limit_is_413(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, max_body_size=100)
    small = {"query": "{ hello }"}
    assert post(client, small).status_code == 200
    big = {"query": "{ hello }", "extensions": {"pad": "x" * 200}}
    response = post(client, big)
    assert response.status_code == 413
    assert "100 bytes" in response.json()["errors"][0]["message"]


def test_a_streamed_body_over_the_limit_is_413(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, max_body_size=100)

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 50

    response = client.post("/", content=chunks(), headers={"content-type": JSON})
    assert response.status_code == 413


@pytest.mark.anyio
async def test_a_body_is_read_only_up_to_the_limit() -> None:
    app = make_app(max_body_size=1000)
    received: list[int] = []
    sent: list[Message] = []

    async def receive() -> Message:
        received.append(1)
        return {"type": "http.request", "body": b" " * 600, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert len(received) == 2  # stopped as soon as the limit was passed


# -- status codes of GraphQL answers -------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["{", "{ nope }", "query($n: Int!) { number(n: $n) }", "query($n: Int!) { hello }"],
)
def test_document_and_variable_errors_by_media_type(
    test_client_factory: TestClientFactory, query: str
) -> None:
    client = client_for(test_client_factory)
    body = {"query": query, "variables": {"n": "not a number"}}
    legacy = post(client, body, JSON)
    assert legacy.status_code == 200
    assert "data" not in legacy.json()
    assert legacy.json()["errors"]
    strict = post(client, body, GRAPHQL_RESPONSE)
    assert strict.status_code == 400
    assert "data" not in strict.json()
    assert strict.json() == legacy.json()


def test_field_errors_are_200_with_data(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    for accept in (JSON, GRAPHQL_RESPONSE):
        response = post(client, {"query": "{ hello boom }"}, accept)
        assert response.status_code == 200
        assert response.json() == {
            "data": {"hello": "Hello, world!", "boom": None},
            "errors": [
                {
                    "message": "Unexpected error.",
                    "locations": [{"line": 1, "column": 9}],
                    "path": ["boom"],
                }
            ],
        }


def test_data_null_is_200(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    for accept in (JSON, GRAPHQL_RESPONSE):
        response = post(client, {"query": "{ strict }"}, accept)
        assert response.status_code == 200
        assert response.json()["data"] is None


def test_debug_unmasks_errors(test_client_factory: TestClientFactory) -> None:
    response = post(client_for(test_client_factory, debug=True), {"query": "{ boom }"})
    assert response.json()["errors"][0]["message"] == "internal detail"


def test_an_error_formatter_applies_over_http(test_client_factory: TestClientFactory) -> None:
    client = client_for(
        test_client_factory, error_formatter=lambda error, debug: {"message": "nope"}
    )
    assert post(client, {"query": "{ boom }"}).json()["errors"] == [{"message": "nope"}]
    assert post(client, {"query": "{ missing }"}).json()["errors"] == [{"message": "nope"}]


# -- CSRF prevention ------------------------------------------------------------------


def test_a_plain_get_without_credentials_passes(test_client_factory: TestClientFactory) -> None:
    assert (
        client_for(test_client_factory).get("/", params={"query": "{ hello }"}).status_code == 200
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"cookie": "session=abc"},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"cookie": "session=abc", "graphql-require-preflight": " "},
    ],
)
def test_a_get_a_browser_could_send_cross_site_is_refused(
    test_client_factory: TestClientFactory, headers: dict[str, str]
) -> None:
    client = client_for(test_client_factory)
    response = client.get("/", params={"query": "{ hello }"}, headers=headers)
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert "CSRF" in message
    assert "Graphql-Require-Preflight" in message


@pytest.mark.parametrize(
    "headers",
    [
        {"cookie": "session=abc", "graphql-require-preflight": "1"},
        {"cookie": "session=abc", "apollo-require-preflight": "true"},
        {"cookie": "session=abc", "x-apollo-operation-name": "Q"},
        {"cookie": "session=abc", "sec-fetch-site": "same-origin"},
        {"cookie": "session=abc", "sec-fetch-site": "none"},
        {"authorization": "Bearer token"},
    ],
)
def test_a_get_with_proof_of_a_preflight_or_same_origin_passes(
    test_client_factory: TestClientFactory, headers: dict[str, str]
) -> None:
    client = client_for(test_client_factory)
    response = client.get("/", params={"query": "{ hello }"}, headers=headers)
    assert response.status_code == 200


def test_csrf_prevention_can_be_turned_off(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, csrf_prevention=False)
    response = client.get(
        "/",
        params={"query": "{ hello }"},
        headers={"cookie": "a=b", "sec-fetch-site": "cross-site"},
    )
    assert response.status_code == 200


def test_json_posts_need_no_preflight_header(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    response = post(
        client, {"query": "{ hello }"}, cookie="a=b", **{"sec-fetch-site": "cross-site"}
    )
    assert response.status_code == 200


# -- batching -------------------------------------------------------------------------


def test_batches_run_in_order(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, batching=True)
    response = post(
        client,
        [
            {"query": 'mutation { add(text: "a") }'},
            {"query": 'mutation { add(text: "b") }'},
            {"query": "{ hello }"},
        ],
        GRAPHQL_RESPONSE,
    )
    assert response.status_code == 200
    assert response.json() == [
        {"data": {"add": ["a"]}},
        {"data": {"add": ["a", "b"]}},
        {"data": {"hello": "Hello, world!"}},
    ]


def test_each_operation_of_a_batch_answers_for_itself(
    test_client_factory: TestClientFactory,
) -> None:
    client = client_for(test_client_factory, batching=True)
    response = post(
        client,
        [
            {"query": "{ hello }"},
            "not an object",
            {"query": "{ nope }"},
            {"query": 5},
            {"query": "subscription { tick }"},
            {"query": "{ boom }"},
        ],
    )
    assert response.status_code == 200
    results = response.json()
    assert results[0] == {"data": {"hello": "Hello, world!"}}
    assert "must be a JSON object" in results[1]["errors"][0]["message"]
    assert "Cannot query field 'nope'" in results[2]["errors"][0]["message"]
    assert "'query' parameter must be a string" in results[3]["errors"][0]["message"]
    assert "WebSocket" in results[4]["errors"][0]["message"]
    assert results[5]["errors"][0]["message"] == "Unexpected error."


def test_batches_are_bounded(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, batching=True, max_batch_size=2)
    assert post(client, []).status_code == 400
    assert "empty" in post(client, []).text
    response = post(client, [{"query": "{ hello }"}] * 3)
    assert response.status_code == 400
    assert "at most 2" in response.json()["errors"][0]["message"]
    assert post(client, [{"query": "{ hello }"}] * 2).status_code == 200


def test_batching_is_off_by_default(test_client_factory: TestClientFactory) -> None:
    response = post(client_for(test_client_factory), [{"query": "{ hello }"}])
    assert response.status_code == 400
    assert "not enabled" in response.json()["errors"][0]["message"]


# -- uploads (the GraphQL multipart request spec) -------------------------------------


UPLOAD = "mutation($file: Upload!) { upload(file: $file) { name size text } }"
UPLOAD_MANY = "mutation($files: [Upload!]!) { uploadMany(files: $files) { name text } }"


def multipart(
    client: Any,
    operations: Any,
    file_map: Any,
    files: dict[str, tuple[str, bytes]],
    headers: dict[str, str] | None = None,
) -> Any:
    data = {}
    if operations is not None:
        data["operations"] = operations if isinstance(operations, str) else json.dumps(operations)
    if file_map is not None:
        data["map"] = file_map if isinstance(file_map, str) else json.dumps(file_map)
    upload_files = {key: (name, content, "text/plain") for key, (name, content) in files.items()}
    return client.post(
        "/",
        data=data,
        files=upload_files or None,
        headers=PREFLIGHT if headers is None else headers,
    )


def test_a_single_upload(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, uploads=True)
    response = multipart(
        client,
        {"query": UPLOAD, "variables": {"file": None}},
        {"0": ["variables.file"]},
        {"0": ("a.txt", b"hello")},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"upload": {"name": "a.txt", "size": 5, "text": "hello"}}}


def test_a_list_of_uploads(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, uploads=True)
    response = multipart(
        client,
        {"query": UPLOAD_MANY, "variables": {"files": [None, None]}},
        {"0": ["variables.files.0"], "1": ["variables.files.1"]},
        {"0": ("a.txt", b"A"), "1": ("b.txt", b"B")},
    )
    assert response.json() == {
        "data": {"uploadMany": [{"name": "a.txt", "text": "A"}, {"name": "b.txt", "text": "B"}]}
    }


def test_one_file_in_several_places(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, uploads=True)
    response = multipart(
        client,
        {"query": UPLOAD_MANY, "variables": {"files": [None]}},
        {"0": ["variables.files.0"]},
        {"0": ("a.txt", b"A")},
    )
    assert response.json()["data"]["uploadMany"] == [{"name": "a.txt", "text": "A"}]


def test_a_batch_of_uploads(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, uploads=True, batching=True)
    response = multipart(
        client,
        [
            {"query": UPLOAD, "variables": {"file": None}},
            {"query": UPLOAD, "variables": {"file": None}},
        ],
        {"0": ["0.variables.file"], "1": ["1.variables.file"]},
        {"0": ("a.txt", b"A"), "1": ("b.txt", b"BB")},
    )
    assert [item["data"]["upload"]["size"] for item in response.json()] == [1, 2]


@pytest.mark.parametrize(
    ("operations", "file_map", "message"),
    [
        (None, {"0": ["variables.file"]}, "needs an 'operations' field"),
        ({"query": UPLOAD, "variables": {"file": None}}, None, "needs a 'map' field"),
        ("{nope", {"0": ["variables.file"]}, "'operations' field is not valid JSON"),
        ({"query": UPLOAD, "variables": {"file": None}}, "[", "'map' field is not valid JSON"),
        ("3", {"0": ["variables.file"]}, "must be a JSON object or array"),
        ({"query": UPLOAD, "variables": {"file": None}}, [], "'map' field must be a JSON object"),
        ({"query": UPLOAD, "variables": {"file": None}}, {"9": ["variables.file"]}, "file '9'"),
        ({"query": UPLOAD, "variables": {"file": None}}, {"0": []}, "non-empty array"),
        ({"query": UPLOAD, "variables": {"file": None}}, {"0": [3]}, "not a string"),
        ({"query": UPLOAD, "variables": {"file": None}}, {"0": ["query"]}, "inside 'variables'"),
        ({"query": UPLOAD, "variables": {"file": None}}, {"0": ["variables.x.y"]}, "not exist"),
        ({"query": UPLOAD, "variables": {"file": "x"}}, {"0": ["variables.file"]}, "at a null"),
        ({"query": UPLOAD, "variables": {"file": None}}, {"0": ["0.variables.file"]}, "inside"),
        ([{"query": UPLOAD}], {"0": ["5.variables.file"]}, "does not name an operation"),
        (
            {"query": UPLOAD_MANY, "variables": {"files": [None]}},
            {"0": ["variables.files.3"]},
            "at a null",
        ),
    ],
)
def test_malformed_multipart_requests_are_400(
    test_client_factory: TestClientFactory, operations: Any, file_map: Any, message: str
) -> None:
    client = client_for(test_client_factory, uploads=True, batching=True)
    response = multipart(client, operations, file_map, {"0": ("a.txt", b"A")})
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]


def test_an_upload_cannot_be_written_inline(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    response = post(client, {"query": 'mutation { upload(file: "x") { name } }'})
    assert response.status_code == 200
    assert "data" not in response.json()
    response = post(client, {"query": UPLOAD, "variables": {"file": "x"}})
    assert "multipart" in response.json()["errors"][0]["message"]


def test_uploads_need_a_preflight_header(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, uploads=True)
    operations = {"query": UPLOAD, "variables": {"file": None}}
    response = multipart(
        client, operations, {"0": ["variables.file"]}, {"0": ("a.txt", b"A")}, headers={}
    )
    assert response.status_code == 400
    assert "CSRF" in response.json()["errors"][0]["message"]
    for headers in ({"apollo-require-preflight": "true"}, {"sec-fetch-site": "same-origin"}):
        response = multipart(
            client, operations, {"0": ["variables.file"]}, {"0": ("a.txt", b"A")}, headers
        )
        assert response.status_code == 200


def test_uploads_are_bounded(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, uploads=True, max_files=1, max_upload_size=2000)
    operations = {"query": UPLOAD_MANY, "variables": {"files": [None, None]}}
    file_map = {"0": ["variables.files.0"], "1": ["variables.files.1"]}
    response = multipart(client, operations, file_map, {"0": ("a", b"A"), "1": ("b", b"B")})
    assert response.status_code == 400
    assert "Invalid multipart request" in response.json()["errors"][0]["message"]
    big = multipart(
        client,
        {"query": UPLOAD, "variables": {"file": None}},
        {"0": ["variables.file"]},
        {"0": ("a", b"x" * 5000)},
    )
    assert big.status_code == 413


def test_uploads_are_off_by_default(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory)
    response = multipart(
        client,
        {"query": UPLOAD, "variables": {"file": None}},
        {"0": ["variables.file"]},
        {"0": ("a.txt", b"A")},
    )
    assert response.status_code == 415


# -- raw ASGI edge cases --------------------------------------------------------------


async def call(app: GraphQL, headers: list[tuple[bytes, bytes]], messages: list[Message]) -> Any:
    sent: list[Message] = []
    pending = list(messages)

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": headers}
    await app(scope, receive, send)
    return sent


@pytest.mark.anyio
async def test_a_client_that_leaves_mid_body_gets_nothing() -> None:
    sent = await call(
        make_app(),
        [(b"content-type", b"application/json")],
        [{"type": "http.request", "body": b'{"query":', "more_body": True}],
    )
    assert sent == []


@pytest.mark.anyio
async def test_a_streamed_multipart_body_over_the_limit_is_413() -> None:
    boundary = b"x"
    part = b'--x\r\nContent-Disposition: form-data; name="0"; filename="a"\r\n\r\n' + b"y" * 600
    sent = await call(
        make_app(uploads=True, max_upload_size=1000),
        [
            (b"content-type", b"multipart/form-data; boundary=" + boundary),
            (b"graphql-require-preflight", b"1"),
        ],
        [
            {"type": "http.request", "body": part, "more_body": True},
            {"type": "http.request", "body": b"y" * 600, "more_body": True},
        ],
    )
    assert sent[0]["status"] == 413


def test_a_recursion_error_while_parsing_is_a_document_error(
    monkeypatch: pytest.MonkeyPatch, test_client_factory: TestClientFactory
) -> None:
    import stellate_graphql._execution as execution

    def deep(*args: Any, **kwargs: Any) -> Any:
        raise RecursionError

    client = client_for(test_client_factory)
    monkeypatch.setattr(execution, "parse", deep)
    assert "nested too deeply" in post(client, {"query": "{ hello }"}).text
    monkeypatch.undo()
    monkeypatch.setattr(execution, "validate", deep)
    assert "nested too deeply" in post(client, {"query": "{ hello boom }"}).text
