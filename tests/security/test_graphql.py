"""Cross-site requests and hostile bodies at the GraphQL endpoint.

A browser sends `text/plain`, `application/x-www-form-urlencoded` and
`multipart/form-data` POSTs (and GETs) cross-site without a CORS preflight, with the
user's cookies. A GraphQL server that executes a JSON body whatever its content type
lets any page run mutations as the user. Here: only `application/json` bodies are
executed (415 otherwise), a multipart upload or a credentialed GET needs a preflight
header or a same-origin `Sec-Fetch-Site` (400 otherwise), a mutation is never run by
GET (405), and hostile bodies get a 400 or 413, never a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from stellate.applications import Stellate
from stellate_graphql import GraphQL
from stellate_http.datastructures import UploadFile
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, Response
from stellate_routing.routing import Mount, Route
from tests.conftest import TestClientFactory
from tests.security._asgi import http_scope, request

SCHEMA = """
scalar Upload
type Query { count: Int! }
type Mutation { bump: Int!, upload(file: Upload!): Int! }
"""
MUTATION = json.dumps({"query": "mutation { bump }"})
CSRF = "could have been sent cross-site without a CORS preflight"


class Counter:
    """The state a forged mutation would change."""

    def __init__(self) -> None:
        self.value = 0

    def bump(self, *_: Any) -> int:
        self.value += 1
        return self.value

    async def upload(self, _root: Any, _info: Any, file: UploadFile) -> int:
        self.value += 1
        return len(await file.read())


@pytest.fixture
def counter() -> Counter:
    return Counter()


def graphql_app(counter: Counter, **options: Any) -> Stellate:
    resolvers: dict[str, dict[str, Callable[..., Any]]] = {
        "Query": {"count": lambda *_: counter.value},
        "Mutation": {"bump": counter.bump, "upload": counter.upload},
    }
    return Stellate(routes=[Mount("/graphql", GraphQL(SCHEMA, resolvers=resolvers, **options))])


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "text/plain; application/json",
        "application/json, text/plain",
        "application/json; charset=latin-1",
        "application/jsonx",
        "",
    ],
)
def test_simple_cross_site_posts_are_not_executed(
    counter: Counter, content_type: str, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(graphql_app(counter))

    response = client.post(
        "/graphql/",
        content=MUTATION,
        headers={"content-type": content_type, "cookie": "session=victim"},
    )

    assert response.status_code == 415
    assert "application/json" in response.json()["errors"][0]["message"]
    assert counter.value == 0


def test_json_posts_are_executed(counter: Counter, test_client_factory: TestClientFactory) -> None:
    # The control: a browser sends `application/json` cross-site only after a preflight.
    client = test_client_factory(graphql_app(counter))

    response = client.post(
        "/graphql/", content=MUTATION, headers={"content-type": "APPLICATION/JSON"}
    )

    assert response.json() == {"data": {"bump": 1}}
    assert counter.value == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"cookie": "session=victim"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"graphql-require-preflight": "  "},
    ],
)
def test_multipart_uploads_need_a_preflight(
    counter: Counter, headers: dict[str, str], test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(graphql_app(counter, uploads=True))

    response = upload(client, headers)

    assert response.status_code == 400
    assert CSRF in response.json()["errors"][0]["message"]
    assert counter.value == 0


@pytest.mark.parametrize(
    "headers", [{"graphql-require-preflight": "1"}, {"sec-fetch-site": "same-origin"}]
)
def test_multipart_uploads_with_a_preflight_run(
    counter: Counter, headers: dict[str, str], test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(graphql_app(counter, uploads=True))

    response = upload(client, headers)

    assert response.json() == {"data": {"upload": 5}}
    assert counter.value == 1


def test_multipart_without_uploads_is_unsupported(
    counter: Counter, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(graphql_app(counter))

    response = upload(client, {"graphql-require-preflight": "1"})

    assert response.status_code == 415
    assert counter.value == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"cookie": "session=victim"},
        {"sec-fetch-site": "cross-site"},
        {"authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_credentialed_cross_site_gets_are_refused(
    counter: Counter, headers: dict[str, str], test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(graphql_app(counter))

    response = client.get("/graphql/", params={"query": "{ count }"}, headers=headers)

    assert response.status_code == 400
    assert CSRF in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("headers", [{}, {"cookie": "session=a", "graphql-require-preflight": "1"}])
def test_mutations_are_never_run_by_get(
    counter: Counter, headers: dict[str, str], test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(graphql_app(counter))

    response = client.get("/graphql/", params={"query": "mutation { bump }"}, headers=headers)

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert counter.value == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        pytest.param(
            [(b"content-length", b"9" * 5000)],
            MUTATION.encode(),
            413,
            "The request body is larger than the limit of 1024 bytes.",
            id="content-length-of-5000-digits",
        ),
        pytest.param(
            [(b"content-length", "\u00b2".encode("latin-1"))],
            MUTATION.encode(),
            200,
            None,
            id="content-length-superscript-digit",
        ),
        pytest.param(
            [],
            b'{"query": "' + b" " * 2000 + b'{ count }"}',
            413,
            "The request body is larger than the limit of 1024 bytes.",
            id="body-over-the-limit",
        ),
        pytest.param(
            [], b"[" * 1000, 400, "The request body is nested too deeply.", id="nested-json"
        ),
        pytest.param(
            [], b'{"query": "\xff"}', 400, "The request body is not valid UTF-8.", id="not-utf8"
        ),
        pytest.param(
            [],
            b"   ",
            400,
            "The request body is empty: send a JSON object with a 'query'.",
            id="blank",
        ),
    ],
)
async def test_hostile_json_bodies(
    counter: Counter,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    status: int,
    message: str | None,
) -> None:
    app = graphql_app(counter, max_body_size=1024)
    scope = http_scope(
        "/graphql/",
        method="POST",
        headers=[(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
    )

    # Sent in small chunks, as a slow client would.
    exchange = await request(app, scope, (body[i : i + 100] for i in range(0, len(body), 100)))

    assert exchange.status == status
    payload = json.loads(exchange.body)
    if message is None:
        assert payload == {"data": {"bump": 1}}
    else:
        assert payload == {"errors": [{"message": message}]}
        assert counter.value == 0


@pytest.mark.parametrize(
    ("map_value", "batch"),
    [
        ({"0": ["variables.file"]}, False),
        ({"0": ["9" * 5000 + ".variables.file"]}, True),
        ({"0": ["\u00b2.variables.file"]}, True),
        ({"0": ["variables.files." + "9" * 5000]}, False),
        ({"0": ["variables.files.\u00b2"]}, False),
        ({"0": ["variables.files.\u00b2.x"]}, False),
        ({"0": ["variables.nested." + "0" * 5000 + "1.x"]}, False),
    ],
)
def test_hostile_upload_maps_get_400(
    counter: Counter,
    map_value: dict[str, list[str]],
    batch: bool,
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(graphql_app(counter, uploads=True, batching=True))
    operation = {
        "query": "mutation($f: Upload!) { upload(file: $f) }",
        "variables": {"file": "not null", "files": [None], "nested": [[None]]},
    }
    operations = [operation] if batch else operation

    response = client.post(
        "/graphql/",
        data={"operations": json.dumps(operations), "map": json.dumps(map_value)},
        files={"0": ("a.txt", b"hello", "text/plain")},
        headers={"graphql-require-preflight": "1"},
    )

    assert response.status_code == 400
    assert "file path" in json.dumps(response.json())
    assert counter.value == 0


def test_request_json_does_not_check_the_content_type(
    test_client_factory: TestClientFactory,
) -> None:
    # As in Starlette, `request.json()` parses any body: an endpoint that relies on
    # the content type to keep out cross-site form posts must check it itself (the
    # GraphQL endpoint does, above). This pins the documented behaviour.
    async def endpoint(request: Request) -> Response:
        return JSONResponse(
            {"content_type": request.headers["content-type"], "json": await request.json()}
        )

    client = test_client_factory(Stellate(routes=[Route("/", endpoint, methods=["POST"])]))

    response = client.post("/", content=b'{"a": 1}', headers={"content-type": "text/plain"})

    assert response.json() == {"content_type": "text/plain", "json": {"a": 1}}


def test_request_json_raises_a_value_error_on_malformed_json(
    test_client_factory: TestClientFactory,
) -> None:
    async def endpoint(request: Request) -> Response:
        try:
            await request.json()
        except ValueError as exc:
            return JSONResponse({"error": type(exc).__name__}, status_code=400)
        return JSONResponse({"error": None})

    client = test_client_factory(Stellate(routes=[Route("/", endpoint, methods=["POST"])]))

    response = client.post("/", content=b'{"a": ', headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.json() == {"error": "JSONDecodeError"}


def upload(client: Any, headers: dict[str, str]) -> Any:
    operations = {"query": "mutation($f: Upload!) { upload(file: $f) }", "variables": {"f": None}}
    return client.post(
        "/graphql/",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
        files={"0": ("a.txt", b"hello", "text/plain")},
        headers=headers,
    )
