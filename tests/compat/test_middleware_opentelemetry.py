"""Starlette-compatible OpenTelemetry middleware through the umbrella, in a `Stellate`
application, with the global providers patched as an SDK would configure them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from stellate.applications import Stellate
from stellate.middleware import Middleware
from stellate.middleware.opentelemetry import OpenTelemetryMiddleware
from stellate.requests import Request
from stellate.responses import PlainTextResponse
from stellate.routing import BaseRoute, Host, Match, Mount, Route, Router, WebSocketRoute
from stellate.types import ASGIApp, Receive, Scope, Send
from stellate.websockets import WebSocket
from tests.conftest import TestClientFactory


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    yield exporter
    provider.shutdown()


def get_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1
    return spans[0]


def homepage(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello, world!")


def traced(routes: list[BaseRoute]) -> Stellate:
    return Stellate(routes=routes, middleware=[Middleware(OpenTelemetryMiddleware)])


def test_noop_provider_skips_instrumentation(
    monkeypatch: pytest.MonkeyPatch, test_client_factory: TestClientFactory
) -> None:
    monkeypatch.setattr(trace, "get_tracer_provider", trace.NoOpTracerProvider)
    app = traced([Route("/", homepage)])
    assert test_client_factory(app).get("/").status_code == 200


def test_excluded_urls_are_not_traced(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    app = Stellate(
        routes=[Route("/", homepage), Route("/health", homepage)],
        middleware=[Middleware(OpenTelemetryMiddleware, excluded_urls=[r"/health(?:\?.*)?$"])],
    )
    client = test_client_factory(app)
    assert client.get("/health?full=true").status_code == 200
    assert exporter.get_finished_spans() == ()
    assert client.get("/").status_code == 200
    assert get_span(exporter).name == "GET /"


def test_excluded_urls_as_a_comma_separated_string(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    app = Stellate(
        routes=[Route("/", homepage), Route("/health", homepage), Route("/ready", homepage)],
        middleware=[Middleware(OpenTelemetryMiddleware, excluded_urls="/health,/ready")],
    )
    client = test_client_factory(app)
    client.get("/health")
    client.get("/ready")
    assert exporter.get_finished_spans() == ()
    client.get("/")
    assert get_span(exporter).name == "GET /"


def test_multiple_middlewares_do_not_create_duplicate_span(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    app = Stellate(
        routes=[Route("/", homepage)],
        middleware=[Middleware(OpenTelemetryMiddleware), Middleware(OpenTelemetryMiddleware)],
    )
    assert test_client_factory(app).get("/").status_code == 200
    assert get_span(exporter).name == "GET /"


def test_provider_configured_after_the_app_is_built(
    monkeypatch: pytest.MonkeyPatch, test_client_factory: TestClientFactory
) -> None:
    app = traced([Route("/", homepage)])
    client = test_client_factory(app)
    assert client.get("/").status_code == 200

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    try:
        assert client.get("/").status_code == 200
        assert get_span(exporter).name == "GET /"
    finally:
        provider.shutdown()


def test_http_span_uses_route_and_semantic_attributes(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    app = traced([Route("/users/{username}", homepage)])
    assert test_client_factory(app).get("/users/marcelo?format=json").status_code == 200

    span = get_span(exporter)
    assert span.name == "GET /users/{username}"
    assert span.kind == SpanKind.SERVER
    assert span.attributes is not None
    assert span.attributes["http.request.method"] == "GET"
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["http.route"] == "/users/{username}"
    assert span.attributes["url.path"] == "/users/marcelo"
    assert span.attributes["url.query"] == "format=json"
    assert span.attributes["url.scheme"] == "http"
    assert span.attributes["server.address"] == "testserver"
    assert span.attributes["server.port"] == 80
    assert span.attributes["network.protocol.version"] == "1.1"
    assert span.attributes["user_agent.original"] == "testclient"
    assert span.status.status_code == StatusCode.UNSET


def test_http_span_uses_nested_route(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    app = traced([Mount("/api", app=Router([Route("/users/{username}", homepage)]))])
    assert test_client_factory(app).get("/api/users/marcelo").status_code == 200
    span = get_span(exporter)
    assert span.name == "GET /api/users/{username}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/api/users/{username}"


def test_mounted_app_does_not_create_duplicate_span(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    mounted = traced([Route("/users/{username}", homepage)])
    app = traced([Mount("/api", app=mounted)])
    assert test_client_factory(app).get("/api/users/marcelo").status_code == 200
    assert get_span(exporter).name == "GET /api/users/{username}"


def test_route_is_resolved_after_path_rewriting_middleware(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    class RewritePath:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            scope["path"] = "/target"
            await self.app(scope, receive, send)

    app = Stellate(
        routes=[Route("/target", homepage)],
        middleware=[Middleware(OpenTelemetryMiddleware), Middleware(RewritePath)],
    )
    assert test_client_factory(app).get("/source").status_code == 200
    span = get_span(exporter)
    assert span.name == "GET /target"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/target"


def test_http_span_uses_mount_path_when_child_does_not_resolve(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    app = traced([Mount("/api", app=Router([Route("/users/{username}", homepage)]))])
    assert test_client_factory(app).get("/api/missing").status_code == 404
    span = get_span(exporter)
    assert span.name == "GET /api"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/api"


def test_http_span_uses_mount_path_for_raw_asgi_app(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    app = traced([Mount("/api", app=PlainTextResponse("mounted"))])
    assert test_client_factory(app).get("/api/example").text == "mounted"
    assert get_span(exporter).name == "GET /api"


def test_http_span_resolves_host_route(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    app = traced([Host("testserver", app=Router([Route("/users/{username}", homepage)]))])
    assert test_client_factory(app).get("/users/marcelo").status_code == 200
    assert get_span(exporter).name == "GET /users/{username}"


def test_http_span_omits_route_for_hosted_raw_asgi_app(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    app = traced([Host("testserver", app=PlainTextResponse("hosted"))])
    assert test_client_factory(app).get("/").text == "hosted"
    span = get_span(exporter)
    assert span.name == "GET"
    assert span.attributes is not None
    assert "http.route" not in span.attributes


def test_http_span_omits_route_for_custom_route(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    class CustomRoute(BaseRoute):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            return Match.FULL, {}

        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            await PlainTextResponse("custom")(scope, receive, send)

    app = traced([CustomRoute()])
    assert test_client_factory(app).get("/anything").text == "custom"
    span = get_span(exporter)
    assert span.name == "GET"
    assert span.attributes is not None
    assert "http.route" not in span.attributes


def test_http_span_extracts_remote_parent(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent_span_id = "00f067aa0ba902b7"
    app = traced([Route("/", homepage)])
    response = test_client_factory(app).get(
        "/", headers={"traceparent": f"00-{trace_id}-{parent_span_id}-01"}
    )
    assert response.status_code == 200
    span = get_span(exporter)
    assert span.context is not None
    assert span.parent is not None
    assert span.context.trace_id == int(trace_id, 16)
    assert span.parent.span_id == int(parent_span_id, 16)
    assert span.parent.is_remote


def test_http_span_records_server_error(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    def error(request: Request) -> PlainTextResponse:
        raise RuntimeError("Oh no")

    app = traced([Route("/error", error)])
    response = test_client_factory(app, raise_server_exceptions=False).get("/error")
    assert response.status_code == 500
    span = get_span(exporter)
    assert span.attributes is not None
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.status.status_code == StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]


def test_http_span_records_error_response(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    app = traced([Route("/", PlainTextResponse("Unavailable", status_code=503))])
    assert test_client_factory(app).get("/").status_code == 503
    span = get_span(exporter)
    assert span.attributes is not None
    assert span.attributes["error.type"] == "503"
    assert span.status.status_code == StatusCode.ERROR


def test_http_span_without_an_application(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    app = OpenTelemetryMiddleware(PlainTextResponse("raw"))
    assert test_client_factory(app).get("/raw").text == "raw"
    span = get_span(exporter)
    assert span.name == "GET"
    assert span.attributes is not None
    assert "http.route" not in span.attributes


def test_websockets_are_not_traced(
    test_client_factory: TestClientFactory, exporter: InMemorySpanExporter
) -> None:
    async def websocket_endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    app = traced([WebSocketRoute("/", websocket_endpoint)])
    with test_client_factory(app) as client, client.websocket_connect("/"):
        pass
    assert exporter.get_finished_spans() == ()


def test_request_duration_metric(
    monkeypatch: pytest.MonkeyPatch,
    test_client_factory: TestClientFactory,
    exporter: InMemorySpanExporter,
) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: provider)
    try:
        app = traced([Route("/users/{username}", homepage)])
        client = test_client_factory(app)
        client.get("/users/a")
        client.get("/users/b")

        data = reader.get_metrics_data()
        assert data is not None
        (metric,) = data.resource_metrics[0].scope_metrics[0].metrics
        assert metric.name == "http.server.request.duration"
        assert metric.unit == "s"
        (point,) = metric.data.data_points
        assert point.count == 2  # type: ignore[union-attr]
        assert dict(point.attributes or {}) == {
            "http.request.method": "GET",
            "url.scheme": "http",
            "network.protocol.version": "1.1",
            "http.response.status_code": 200,
            "http.route": "/users/{username}",
        }
    finally:
        provider.shutdown()
