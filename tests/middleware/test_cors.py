from __future__ import annotations

from typing import Any

import pytest

from stellate_asgi.datastructures import Headers, MutableHeaders
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response, StreamingResponse
from stellate_middleware import Middleware
from stellate_middleware.cors import ALL_METHODS, SAFELISTED_HEADERS, CORSMiddleware
from stellate_routing.routing import Route, Router, WebSocketRoute
from stellate_websockets.websockets import WebSocket
from tests.conftest import TestClientFactory
from tests.middleware._messages import call


async def homepage(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("Homepage")(scope, receive, send)


def app_with_vary(*vary: str) -> ASGIApp:
    """A bare app whose response carries each of `vary` as its own `Vary` field."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = PlainTextResponse("Homepage")
        for value in vary:
            response.headers.append("Vary", value)
        await response(scope, receive, send)

    return app


def http_scope(method: str = "GET", *headers: tuple[bytes, bytes]) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": list(headers),
        "server": ("testserver", 80),
    }


def test_constants() -> None:
    assert ALL_METHODS == ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY")
    assert {"Accept", "Accept-Language", "Content-Language", "Content-Type"} == SAFELISTED_HEADERS


def test_allow_all_with_credentials(test_client_factory: TestClientFactory) -> None:
    app = CORSMiddleware(
        homepage,
        allow_origins=["*"],
        allow_headers=["*"],
        allow_methods=["*"],
        expose_headers=["X-Status"],
        allow_credentials=True,
    )
    client = test_client_factory(app)

    preflight = {
        "Origin": "https://example.org",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "X-Example",
    }
    response = client.options("/", headers=preflight)
    assert response.status_code == 200
    assert response.text == "OK"
    assert response.headers["access-control-allow-origin"] == "https://example.org"
    assert response.headers["access-control-allow-headers"] == "X-Example"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-allow-methods"] == ", ".join(ALL_METHODS)
    assert response.headers["access-control-max-age"] == "600"
    assert response.headers["vary"] == "Origin"

    # Credentials are allowed, so the origin is echoed rather than `*`.
    response = client.get("/", headers={"Origin": "https://example.org"})
    assert response.status_code == 200
    assert response.text == "Homepage"
    assert response.headers["access-control-allow-origin"] == "https://example.org"
    assert response.headers["access-control-expose-headers"] == "X-Status"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "Origin"

    response = client.get("/")
    assert response.text == "Homepage"
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers
    assert "access-control-expose-headers" not in response.headers
    assert response.headers["vary"] == "Origin"


def test_allow_all_without_credentials(test_client_factory: TestClientFactory) -> None:
    app = CORSMiddleware(
        homepage,
        allow_origins=["*"],
        allow_headers=["*"],
        allow_methods=["*"],
        expose_headers=["X-Status", "X-Other"],
    )
    client = test_client_factory(app)

    preflight = {
        "Origin": "https://example.org",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "X-Example",
    }
    response = client.options("/", headers=preflight)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-headers"] == "X-Example"
    assert "access-control-allow-credentials" not in response.headers
    # The same answer for every origin: nothing to vary on.
    assert "vary" not in response.headers

    response = client.get("/", headers={"Origin": "https://example.org"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-expose-headers"] == "X-Status, X-Other"
    assert "access-control-allow-credentials" not in response.headers
    assert response.headers["vary"] == "Origin"

    # Without allow_credentials a cookie changes nothing: the answer stays `*`.
    response = client.get("/", headers={"Origin": "https://example.org", "Cookie": "a=b"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    assert response.headers["vary"] == "Origin"


def test_allow_specific_origin(test_client_factory: TestClientFactory) -> None:
    app = CORSMiddleware(
        homepage, allow_origins=["https://example.org"], allow_headers=["X-Example", "Content-Type"]
    )
    client = test_client_factory(app)

    preflight = {
        "Origin": "https://example.org",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "X-Example, content-type",
    }
    response = client.options("/", headers=preflight)
    assert response.status_code == 200
    assert response.text == "OK"
    assert response.headers["access-control-allow-origin"] == "https://example.org"
    assert response.headers["access-control-allow-headers"] == (
        "Accept, Accept-Language, Content-Language, Content-Type, X-Example"
    )
    assert response.headers["access-control-allow-methods"] == "GET"
    assert response.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in response.headers

    response = client.get("/", headers={"Origin": "https://example.org"})
    assert response.headers["access-control-allow-origin"] == "https://example.org"
    assert response.headers["vary"] == "Origin"

    # A refused origin still reaches the app; the browser enforces the policy.
    response = client.get("/", headers={"Origin": "https://other.org"})
    assert response.status_code == 200
    assert response.text == "Homepage"
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["vary"] == "Origin"


def test_disallowed_preflight_lists_every_failure(test_client_factory: TestClientFactory) -> None:
    app = CORSMiddleware(homepage, allow_origins=["https://example.org"], allow_headers=["X-A"])
    client = test_client_factory(app)

    response = client.options(
        "/",
        headers={
            "Origin": "https://another.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-Nope",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status_code == 400
    assert response.text == "Disallowed CORS origin, method, headers, private-network"
    assert "access-control-allow-origin" not in response.headers

    # Several refused headers are reported once.
    response = client.options(
        "/",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-Nope-1, X-Nope-2",
        },
    )
    assert response.status_code == 400
    assert response.text == "Disallowed CORS headers"
    assert response.headers["access-control-allow-origin"] == "https://example.org"


def test_preflight_header_list_is_compared_case_insensitively(
    test_client_factory: TestClientFactory,
) -> None:
    app = CORSMiddleware(homepage, allow_origins=["https://a.org"], allow_headers=["x-token"])
    client = test_client_factory(app)
    headers = {
        "Origin": "https://a.org",
        "Access-Control-Request-Method": "GET",
        # Empty list elements are allowed by the list syntax and mean nothing.
        "Access-Control-Request-Headers": "X-TOKEN, ,Accept,",
    }
    response = client.options("/", headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-headers"] == (
        "Accept, Accept-Language, Content-Language, Content-Type, x-token"
    )


def test_preflight_with_wildcard_and_credentials_echoes_origin(
    test_client_factory: TestClientFactory,
) -> None:
    app = CORSMiddleware(
        homepage, allow_origins=["*"], allow_methods=["POST"], allow_credentials=True
    )
    client = test_client_factory(app)
    response = client.options(
        "/", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://example.org"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "Origin"


@pytest.mark.parametrize("method", ALL_METHODS)
def test_star_allows_every_method_including_query(
    test_client_factory: TestClientFactory, method: str
) -> None:
    app = CORSMiddleware(homepage, allow_origins=["*"], allow_methods=["*"])
    client = test_client_factory(app)
    response = client.options(
        "/", headers={"Origin": "https://example.org", "Access-Control-Request-Method": method}
    )
    assert response.status_code == 200
    assert method in response.headers["access-control-allow-methods"].split(", ")


def test_query_requests_get_cors_headers(test_client_factory: TestClientFactory) -> None:
    app = CORSMiddleware(homepage, allow_origins=["https://a.org"], allow_methods=["QUERY"])
    client = test_client_factory(app)
    response = client.request("QUERY", "/", headers={"Origin": "https://a.org"}, content=b"q")
    assert response.text == "Homepage"
    assert response.headers["access-control-allow-origin"] == "https://a.org"

    response = client.options(
        "/", headers={"Origin": "https://a.org", "Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 400
    assert response.text == "Disallowed CORS method"


def test_origin_regex(test_client_factory: TestClientFactory) -> None:
    app = CORSMiddleware(
        homepage,
        allow_headers=["X-Example", "Content-Type"],
        allow_origin_regex=r"https://.*\.example\.org",
        allow_credentials=True,
    )
    client = test_client_factory(app)

    response = client.get("/", headers={"Origin": "https://sub.example.org"})
    assert response.headers["access-control-allow-origin"] == "https://sub.example.org"
    assert response.headers["access-control-allow-credentials"] == "true"

    # The whole origin must match, not a prefix of it.
    for origin in ("https://sub.example.org.evil.com", "http://sub.example.org"):
        response = client.get("/", headers={"Origin": origin})
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers

    response = client.options(
        "/",
        headers={
            "Origin": "https://other.example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-Example",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://other.example.org"

    response = client.options(
        "/", headers={"Origin": "http://evil.com", "Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 400
    assert response.text == "Disallowed CORS origin"
    assert "access-control-allow-origin" not in response.headers


def test_is_allowed_origin() -> None:
    middleware = CORSMiddleware(
        homepage, allow_origins=["https://a.org"], allow_origin_regex=r"https://\w+\.b\.org"
    )
    assert middleware.is_allowed_origin("https://a.org")
    assert middleware.is_allowed_origin("https://x.b.org")
    assert not middleware.is_allowed_origin("https://x.b.org/")
    assert not middleware.is_allowed_origin("https://c.org")
    assert CORSMiddleware(homepage, allow_origins=["*"]).is_allowed_origin("null")


def test_preflight_response_method() -> None:
    middleware = CORSMiddleware(homepage, allow_origins=["https://a.org"], max_age=30)
    request_headers = Headers({"origin": "https://a.org", "access-control-request-method": "GET"})
    response = middleware.preflight_response(request_headers)
    assert response.status_code == 200
    assert response.body == b"OK"
    assert response.headers["access-control-max-age"] == "30"
    assert response.headers["access-control-allow-origin"] == "https://a.org"


def test_allow_explicit_origin() -> None:
    headers = MutableHeaders({"Vary": "Accept-Encoding"})
    CORSMiddleware.allow_explicit_origin(headers, "https://a.org")
    assert headers["access-control-allow-origin"] == "https://a.org"
    assert headers["vary"] == "Accept-Encoding, Origin"
    # Twice is the same as once.
    CORSMiddleware.allow_explicit_origin(headers, "https://a.org")
    assert headers.getlist("vary") == ["Accept-Encoding, Origin"]


@pytest.mark.parametrize(
    ("allow_origins", "allow_credentials", "origin", "expected_origin", "vary"),
    [
        (["https://a.org"], False, "https://a.org", "https://a.org", ["Accept-Encoding"]),
        (["https://a.org"], False, "https://denied.org", None, ["Accept-Encoding", "X"]),
        (["https://a.org"], False, None, None, []),
        (["*"], False, "https://a.org", "*", ["*"]),
        (["*"], False, None, None, []),
        (["*"], True, "https://a.org", "https://a.org", []),
        (["*"], True, None, None, ["Cookie"]),
    ],
)
def test_vary_origin_on_every_response(
    test_client_factory: TestClientFactory,
    allow_origins: list[str],
    allow_credentials: bool,
    origin: str | None,
    expected_origin: str | None,
    vary: list[str],
) -> None:
    app = CORSMiddleware(
        app_with_vary(*vary), allow_origins=allow_origins, allow_credentials=allow_credentials
    )
    client = test_client_factory(app)
    response = client.get("/", headers={"Origin": origin} if origin is not None else {})
    assert response.text == "Homepage"
    assert response.headers["vary"] == ", ".join([*vary, "Origin"])
    assert response.headers.get("access-control-allow-origin") == expected_origin
    expected_credentials = "true" if allow_credentials and origin is not None else None
    assert response.headers.get("access-control-allow-credentials") == expected_credentials


@pytest.mark.anyio
async def test_vary_separate_fields_are_merged_into_one() -> None:
    middleware = CORSMiddleware(app_with_vary("Accept-Encoding", "Accept-Language"))
    start = (await call(middleware, http_scope("GET", (b"origin", b"https://a.org"))))[0]
    assert Headers(raw=start["headers"]).getlist("vary") == [
        "Accept-Encoding, Accept-Language, Origin"
    ]


@pytest.mark.anyio
async def test_blank_vary_fields_are_replaced() -> None:
    # Empty `Vary` fields carry nothing: one field naming Origin takes their place.
    middleware = CORSMiddleware(app_with_vary(" ", ""))
    start = (await call(middleware, http_scope("GET", (b"origin", b"https://a.org"))))[0]
    assert Headers(raw=start["headers"]).getlist("vary") == ["Origin"]


def test_vary_origin_is_not_repeated(test_client_factory: TestClientFactory) -> None:
    app = CORSMiddleware(app_with_vary("origin, Accept"), allow_origins=["https://a.org"])
    client = test_client_factory(app)
    response = client.get("/", headers={"Origin": "https://a.org"})
    assert response.headers["vary"] == "origin, Accept"
    response = client.get("/")
    assert response.headers["vary"] == "origin, Accept"


def test_options_without_origin_reaches_the_app(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse(f"app {scope['method']}")(scope, receive, send)

    client = test_client_factory(CORSMiddleware(app, allow_origins=["https://a.org"]))
    response = client.options("/", headers={"Access-Control-Request-Method": "GET"})
    assert response.status_code == 200
    assert response.text == "app OPTIONS"
    assert response.headers["vary"] == "Origin"

    # An OPTIONS request with an Origin but no requested method is not a preflight.
    response = client.options("/", headers={"Origin": "https://a.org"})
    assert response.text == "app OPTIONS"
    assert response.headers["access-control-allow-origin"] == "https://a.org"


def test_private_network_access(test_client_factory: TestClientFactory) -> None:
    app = CORSMiddleware(
        homepage, allow_origins=["*"], allow_methods=["*"], allow_private_network=True
    )
    client = test_client_factory(app)
    without_pna = {"Origin": "https://a.org", "Access-Control-Request-Method": "GET"}
    with_pna = {**without_pna, "Access-Control-Request-Private-Network": "true"}

    response = client.options("/", headers=with_pna)
    assert response.status_code == 200
    assert response.headers["access-control-allow-private-network"] == "true"

    response = client.options("/", headers=without_pna)
    assert response.status_code == 200
    assert "access-control-allow-private-network" not in response.headers

    # Only preflights answer it.
    response = client.get("/", headers=with_pna)
    assert response.text == "Homepage"
    assert "access-control-allow-private-network" not in response.headers
    assert response.headers["access-control-allow-origin"] == "*"


def test_private_network_access_disallowed(test_client_factory: TestClientFactory) -> None:
    app = CORSMiddleware(homepage, allow_origins=["*"], allow_methods=["*"])
    client = test_client_factory(app)
    headers = {
        "Origin": "https://a.org",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Private-Network": "true",
    }
    response = client.options("/", headers=headers)
    assert response.status_code == 400
    assert response.text == "Disallowed CORS private-network"
    assert "access-control-allow-private-network" not in response.headers


def test_allowed_origin_does_not_leak_between_requests(
    test_client_factory: TestClientFactory,
) -> None:
    # One response object, so one header list, serves every request.
    shared = PlainTextResponse("Homepage")
    client = test_client_factory(CORSMiddleware(shared, allow_origins=["https://a.org"]))

    response = client.get("/", headers={"Origin": "https://a.org"})
    assert response.headers["access-control-allow-origin"] == "https://a.org"
    response = client.get("/", headers={"Origin": "https://other.org"})
    assert "access-control-allow-origin" not in response.headers
    response = client.get("/", headers={"Origin": "https://a.org"})
    assert response.headers["access-control-allow-origin"] == "https://a.org"
    assert response.headers["vary"] == "Origin"
    assert "vary" not in shared.headers


def test_streaming_body_passes_untouched(test_client_factory: TestClientFactory) -> None:
    async def chunks() -> Any:
        for index in range(3):
            yield f"chunk {index};"

    app = CORSMiddleware(StreamingResponse(chunks()), allow_origins=["https://a.org"])
    client = test_client_factory(app)
    response = client.get("/", headers={"Origin": "https://a.org"})
    assert response.text == "chunk 0;chunk 1;chunk 2;"
    assert response.headers["access-control-allow-origin"] == "https://a.org"


def test_string_options_mean_one_item(test_client_factory: TestClientFactory) -> None:
    app = CORSMiddleware(
        homepage,
        allow_origins="https://a.org",
        allow_methods="POST",
        allow_headers="X-Token",
        expose_headers="X-Status",
    )
    assert app.allow_origins == ("https://a.org",)
    client = test_client_factory(app)
    response = client.get("/", headers={"Origin": "https://a.org"})
    assert response.headers["access-control-allow-origin"] == "https://a.org"
    assert response.headers["access-control-expose-headers"] == "X-Status"
    response = client.options(
        "/",
        headers={
            "Origin": "https://a.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-token",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-methods"] == "POST"


def test_collections_of_any_kind_are_accepted(test_client_factory: TestClientFactory) -> None:
    app = CORSMiddleware(
        homepage,
        allow_origins=frozenset({"https://a.org", "https://b.org"}),
        allow_methods={"PUT"},
        allow_headers={"X-Token": 1}.keys(),
    )
    client = test_client_factory(app)
    for origin in ("https://a.org", "https://b.org"):
        response = client.options(
            "/",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "X-Token",
            },
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin


@pytest.mark.anyio
async def test_other_scope_types_pass_through_untouched() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "lifespan.startup.complete"})

    middleware = CORSMiddleware(app, allow_origins=["*"])
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "lifespan.startup"}  # pragma: no cover

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    await middleware(scope, receive, send)
    assert seen == [scope]
    assert sent == [{"type": "lifespan.startup.complete"}]


def test_websocket_passes_through(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.send_text(websocket.headers.get("origin", ""))
        await websocket.close()

    client = test_client_factory(CORSMiddleware(app, allow_origins=["https://a.org"]))
    with client.websocket_connect("/", headers={"Origin": "https://evil.org"}) as websocket:
        assert websocket.receive_text() == "https://evil.org"


@pytest.mark.anyio
@pytest.mark.parametrize("bad", [b"https://a.org\r\nX-Evil: 1", b"https://a.org\x00", b"\n"])
async def test_origin_with_control_characters_is_never_echoed(bad: bytes) -> None:
    # Real servers refuse such bytes; a raw ASGI caller can still send them.
    for middleware in (
        CORSMiddleware(homepage, allow_origins=["*"], allow_credentials=True),
        CORSMiddleware(homepage, allow_origin_regex=r"https://.*", allow_headers=["*"]),
    ):
        start = (await call(middleware, http_scope("GET", (b"origin", bad))))[0]
        assert start["status"] == 200
        assert Headers(raw=start["headers"]).get("access-control-allow-origin") in (None, "*")

        preflight = http_scope(
            "OPTIONS",
            (b"origin", bad),
            (b"access-control-request-method", b"GET"),
        )
        start, body = await call(middleware, preflight)
        assert start["status"] == 400
        assert body["body"] == b"Disallowed CORS origin"

    middleware = CORSMiddleware(homepage, allow_origins=["*"], allow_headers=["*"])
    preflight = http_scope(
        "OPTIONS",
        (b"origin", b"https://a.org"),
        (b"access-control-request-method", b"GET"),
        (b"access-control-request-headers", b"X-A\r\nX-Evil: 1"),
    )
    start, body = await call(middleware, preflight)
    assert start["status"] == 400
    assert body["body"] == b"Disallowed CORS headers"


def test_overlong_origins_are_not_matched_against_the_regex() -> None:
    # `(a|a)*b` backtracks exponentially: it must never see a long hostile origin.
    middleware = CORSMiddleware(homepage, allow_origin_regex=r"(a|a)*b")
    assert middleware.is_allowed_origin("aab")
    assert not middleware.is_allowed_origin("a" * 5_000)


def test_garbage_and_huge_headers_get_clear_answers(test_client_factory: TestClientFactory) -> None:
    app = CORSMiddleware(homepage, allow_origin_regex=r"https://[a-z]+\.org", allow_headers=["X-A"])
    client = test_client_factory(app)
    for origin in ("", "null", "*", "https://" + "a" * 20_000 + ".org!", "\u00e9\u00e8"):
        response = client.get("/", headers={b"Origin": origin.encode("latin-1")})
        assert response.status_code == 200
        assert response.text == "Homepage"
        assert "access-control-allow-origin" not in response.headers

    many = ", ".join(f"X-H{index}" for index in range(5_000))
    response = client.options(
        "/",
        headers={
            "Origin": "https://a.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": many,
        },
    )
    assert response.status_code == 400
    assert response.text == "Disallowed CORS headers"


def test_inside_a_router(test_client_factory: TestClientFactory) -> None:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(f"Hello {request.method}")

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("socket")
        await websocket.close()

    router = Router(
        routes=[
            Route("/", endpoint, methods=["GET", "POST"]),
            WebSocketRoute("/ws", socket),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=["https://a.org"],
                allow_methods=["GET", "POST"],
                allow_credentials=True,
            )
        ],
    )
    client = test_client_factory(router)

    response = client.post("/", headers={"Origin": "https://a.org"})
    assert response.text == "Hello POST"
    assert response.headers["access-control-allow-origin"] == "https://a.org"
    assert response.headers["access-control-allow-credentials"] == "true"

    # The preflight is answered before routing: the route has no OPTIONS.
    response = client.options(
        "/", headers={"Origin": "https://a.org", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-methods"] == "GET, POST"

    # Router answers (404, 405) carry the CORS headers too.
    response = client.get("/missing", headers={"Origin": "https://a.org"})
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == "https://a.org"
    assert response.headers["vary"] == "Origin"
    response = client.delete("/", headers={"Origin": "https://a.org"})
    assert response.status_code == 405
    assert response.headers["access-control-allow-origin"] == "https://a.org"

    with client.websocket_connect("/ws") as websocket:
        assert websocket.receive_text() == "socket"
