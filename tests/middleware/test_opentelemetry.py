from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import stellate_middleware.opentelemetry as otel_module
from stellate.applications import Stellate
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_http.background import BackgroundTask
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_middleware import Middleware
from stellate_middleware.opentelemetry import OpenTelemetryMiddleware
from stellate_routing.routing import Host, Mount, Route, Router, WebSocketRoute
from stellate_websockets.websockets import WebSocket
from tests.conftest import TestClientFactory

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN_ID = "b7ad6b7169203331"


@dataclass
class Telemetry:
    tracer_provider: TracerProvider
    spans: InMemorySpanExporter
    meter_provider: MeterProvider
    reader: InMemoryMetricReader

    def span(self) -> ReadableSpan:
        spans = self.spans.get_finished_spans()
        assert len(spans) == 1, spans
        return spans[0]

    def durations(self) -> list[HistogramDataPoint]:
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        points: list[HistogramDataPoint] = []
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                assert scope_metrics.scope.name == "stellate"
                for metric in scope_metrics.metrics:
                    assert metric.name == "http.server.request.duration"
                    assert metric.unit == "s"
                    points.extend(metric.data.data_points)  # type: ignore[arg-type]
        return points

    def instrument(self, app: ASGIApp, **options: Any) -> OpenTelemetryMiddleware:
        return OpenTelemetryMiddleware(
            app,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            **options,
        )


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Telemetry(tracer_provider, exporter, meter_provider, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def homepage(request: Request) -> Response:
    return PlainTextResponse("Hello, world!")


def error(request: Request) -> Response:
    raise RuntimeError("Oh no")


def unavailable(request: Request) -> Response:
    return PlainTextResponse("Unavailable", status_code=503)


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("raw")(scope, receive, send)


def attributes(span: ReadableSpan) -> dict[str, Any]:
    assert span.attributes is not None
    return dict(span.attributes)


# --- around a bare ASGI app -------------------------------------------------------


def test_bare_app_span_and_attributes(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    client = test_client_factory(telemetry.instrument(raw_app))
    response = client.get("/raw/path?format=json&x=1")
    assert response.text == "raw"

    span = telemetry.span()
    assert span.name == "GET"
    assert span.kind == SpanKind.SERVER
    assert span.status.status_code == StatusCode.UNSET
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "stellate"
    assert attributes(span) == {
        "http.request.method": "GET",
        "url.path": "/raw/path",
        "url.query": "format=json&x=1",
        "url.scheme": "http",
        "server.address": "testserver",
        "server.port": 80,
        "network.protocol.version": "1.1",
        "client.address": "testclient",
        "user_agent.original": "testclient",
        "http.response.status_code": 200,
    }


@pytest.mark.anyio
async def test_raw_scope_optional_values(telemetry: Telemetry) -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "get",
        "path": "/",
        "query_string": b"",
        "headers": [(b"User-Agent", b"first"), (b"user-agent", b"second")],
        "server": ("example.com", 8000),
    }
    app = telemetry.instrument(raw_app)
    await app(scope, receive, send)
    assert sent[0]["status"] == 200
    span_attributes = attributes(telemetry.span())
    assert span_attributes["http.request.method"] == "GET"
    assert span_attributes["http.request.method_original"] == "get"
    assert span_attributes["server.address"] == "example.com"
    assert span_attributes["server.port"] == 8000
    assert span_attributes["user_agent.original"] == "first"
    assert "network.protocol.version" not in span_attributes
    assert "client.address" not in span_attributes
    assert "url.query" not in span_attributes
    assert "stellate.opentelemetry" not in scope

    telemetry.spans.clear()
    scope["server"] = None
    await app(scope, receive, send)
    assert "server.address" not in attributes(telemetry.span())

    (point,) = telemetry.durations()
    assert point.count == 2
    assert dict(point.attributes or {}) == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "http.response.status_code": 200,
    }


@pytest.mark.parametrize(
    "host", ["[::1", "example.com:notaport", "a b", "x" * 5000, "evil.com/path", ""]
)
def test_malformed_host_header_falls_back_to_the_server(
    test_client_factory: TestClientFactory, telemetry: Telemetry, host: str
) -> None:
    client = test_client_factory(telemetry.instrument(raw_app))
    response = client.get("/", headers={"Host": host})
    assert response.status_code == 200
    span_attributes = attributes(telemetry.span())
    assert span_attributes["server.address"] == "testserver"
    assert span_attributes["server.port"] == 80


def test_host_header_with_port_and_ipv6(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    client = test_client_factory(telemetry.instrument(raw_app))
    client.get("/", headers={"Host": "[::1]:8443"})
    span_attributes = attributes(telemetry.span())
    assert span_attributes["server.address"] == "::1"
    assert span_attributes["server.port"] == 8443


def test_remote_parent_from_traceparent(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    client = test_client_factory(telemetry.instrument(raw_app))
    client.get("/", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"})
    span = telemetry.span()
    assert span.context is not None
    assert span.parent is not None
    assert span.context.trace_id == int(TRACE_ID, 16)
    assert span.parent.span_id == int(PARENT_SPAN_ID, 16)
    assert span.parent.is_remote


@pytest.mark.parametrize(
    "traceparent",
    ["garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01", "ff-" + "x" * 5000, "00-a-b-c-d"],
)
def test_malformed_traceparent_starts_a_new_trace(
    test_client_factory: TestClientFactory, telemetry: Telemetry, traceparent: str
) -> None:
    client = test_client_factory(telemetry.instrument(raw_app))
    assert client.get("/", headers={"traceparent": traceparent}).status_code == 200
    assert telemetry.span().parent is None


def test_span_is_current_inside_the_app(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        tracer = trace.get_tracer("test", tracer_provider=telemetry.tracer_provider)
        with tracer.start_as_current_span("child"):
            await PlainTextResponse("ok")(scope, receive, send)

    test_client_factory(telemetry.instrument(app)).get("/")
    child, server = telemetry.spans.get_finished_spans()
    assert child.name == "child"
    assert server.name == "GET"
    assert child.parent is not None
    assert server.context is not None
    assert child.parent.span_id == server.context.span_id


def test_exception_is_recorded_and_reraised(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    class AppError(Exception):
        pass

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AppError("boom")

    client = test_client_factory(telemetry.instrument(app))
    with pytest.raises(AppError):
        client.get("/")

    span = telemetry.span()
    assert span.status.status_code == StatusCode.ERROR
    assert attributes(span)["error.type"] == AppError.__qualname__
    assert "http.response.status_code" not in attributes(span)
    assert [event.name for event in span.events] == ["exception"]
    (point,) = telemetry.durations()
    assert dict(point.attributes or {})["error.type"] == AppError.__qualname__


def test_server_error_response_marks_the_span(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    client = test_client_factory(telemetry.instrument(PlainTextResponse("no", status_code=503)))
    assert client.get("/").status_code == 503
    span = telemetry.span()
    assert span.status.status_code == StatusCode.ERROR
    assert attributes(span)["error.type"] == "503"
    assert span.events == ()
    (point,) = telemetry.durations()
    assert dict(point.attributes or {})["error.type"] == "503"


def test_client_error_is_not_a_server_error(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    client = test_client_factory(telemetry.instrument(PlainTextResponse("no", status_code=404)))
    assert client.get("/").status_code == 404
    span = telemetry.span()
    assert span.status.status_code == StatusCode.UNSET
    assert "error.type" not in attributes(span)


def test_unknown_method_is_other_in_metrics(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    client = test_client_factory(telemetry.instrument(raw_app))
    client.request("PURGE", "/")
    client.request("QUERY", "/")
    assert attributes(telemetry.spans.get_finished_spans()[0])["http.request.method"] == "PURGE"
    methods = sorted(
        str(dict(point.attributes or {})["http.request.method"]) for point in telemetry.durations()
    )
    assert methods == ["QUERY", "_OTHER"]


def test_duration_includes_background_tasks(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    async def slow_task() -> None:
        await anyio.sleep(0.05)

    app = telemetry.instrument(PlainTextResponse("ok", background=BackgroundTask(slow_task)))
    test_client_factory(app).get("/")
    (point,) = telemetry.durations()
    assert point.count == 1
    assert point.sum >= 0.05
    span = telemetry.span()
    assert span.end_time is not None
    assert span.start_time is not None
    assert span.end_time - span.start_time >= 50_000_000


@pytest.mark.parametrize(
    "excluded_urls",
    [
        "/health, /metrics$",
        ["/health", "/metrics$"],
        ("/health", r"/metrics$"),
    ],
)
def test_excluded_urls(
    test_client_factory: TestClientFactory, telemetry: Telemetry, excluded_urls: Any
) -> None:
    client = test_client_factory(telemetry.instrument(raw_app, excluded_urls=excluded_urls))
    client.get("/health")
    client.get("/api/health?full=1")
    client.get("/metrics")
    assert telemetry.spans.get_finished_spans() == ()
    assert telemetry.durations() == []

    client.get("/metrics/other")
    assert telemetry.span().name == "GET"


def test_excluded_urls_match_the_full_url(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    app = telemetry.instrument(raw_app, excluded_urls=[r"^http://internal\.", r"[?&]probe=1(&|$)"])
    client = test_client_factory(app)
    client.get("/", headers={"Host": "internal.example"})
    client.get("/x?a=2&probe=1")
    assert telemetry.spans.get_finished_spans() == ()
    client.get("/x?probe=10")
    assert len(telemetry.spans.get_finished_spans()) == 1


def test_empty_items_of_the_excluded_urls_string_exclude_nothing(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    for excluded in ("", ",", "/health,,", " , /health , "):
        app = telemetry.instrument(raw_app, excluded_urls=excluded)
        test_client_factory(app).get("/")
    assert len(telemetry.spans.get_finished_spans()) == 4


def test_invalid_excluded_url_fails_early() -> None:
    import re

    with pytest.raises(re.error):
        OpenTelemetryMiddleware(raw_app, excluded_urls=["(unclosed"])


def test_nested_instances_report_once(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    app = telemetry.instrument(telemetry.instrument(raw_app))
    test_client_factory(app).get("/")
    assert len(telemetry.spans.get_finished_spans()) == 1
    (point,) = telemetry.durations()
    assert point.count == 1


def test_excluded_by_the_outer_instance_is_not_reported_by_the_inner(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    app = telemetry.instrument(telemetry.instrument(raw_app), excluded_urls="/health")
    test_client_factory(app).get("/health")
    assert telemetry.spans.get_finished_spans() == ()


def test_sequential_requests_on_one_scope_key(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    client = test_client_factory(telemetry.instrument(raw_app))
    for _ in range(3):
        client.get("/")
    assert len(telemetry.spans.get_finished_spans()) == 3


def test_websocket_and_lifespan_pass_through(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    async def websocket_endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    started: list[bool] = []

    async def lifespan(app: Any) -> Any:
        started.append(True)
        yield

    from contextlib import asynccontextmanager

    router = Router(
        [WebSocketRoute("/ws", websocket_endpoint)], lifespan=asynccontextmanager(lifespan)
    )
    client = test_client_factory(telemetry.instrument(router))
    with client, client.websocket_connect("/ws") as websocket:
        assert websocket.receive_text() == "hi"
    assert started == [True]
    assert telemetry.spans.get_finished_spans() == ()
    assert telemetry.durations() == []


# --- providers ---------------------------------------------------------------------


def test_global_providers_are_looked_up_per_request(
    monkeypatch: pytest.MonkeyPatch, test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    app = OpenTelemetryMiddleware(raw_app)
    client = test_client_factory(app)

    # Nothing configured: the API's proxy and no-op providers make no telemetry.
    monkeypatch.setattr(trace, "get_tracer_provider", trace.NoOpTracerProvider)
    monkeypatch.setattr(metrics, "get_meter_provider", metrics.NoOpMeterProvider)
    assert client.get("/").status_code == 200
    monkeypatch.setattr(trace, "get_tracer_provider", trace.ProxyTracerProvider)
    assert client.get("/").status_code == 200
    assert telemetry.spans.get_finished_spans() == ()

    # Configured after the app was built.
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: telemetry.tracer_provider)
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: telemetry.meter_provider)
    client.get("/")
    client.get("/")
    assert len(telemetry.spans.get_finished_spans()) == 2
    (point,) = telemetry.durations()
    assert point.count == 2


def test_explicit_noop_providers_disable_their_signal(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    app = OpenTelemetryMiddleware(
        raw_app,
        tracer_provider=trace.NoOpTracerProvider(),
        meter_provider=telemetry.meter_provider,
    )
    test_client_factory(app).get("/")
    assert telemetry.spans.get_finished_spans() == ()
    assert len(telemetry.durations()) == 1

    app = OpenTelemetryMiddleware(
        raw_app,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=metrics.NoOpMeterProvider(),
    )
    test_client_factory(app).get("/")
    assert len(telemetry.spans.get_finished_spans()) == 1
    assert telemetry.durations()[0].count == 1


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh copy of the module, loaded as if opentelemetry-api were not installed.
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    spec = importlib.util.spec_from_file_location("_otel_without_extra", otel_module.__file__)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    with pytest.raises(ModuleNotFoundError, match=r"stellate-middleware\[opentelemetry\]"):
        module.OpenTelemetryMiddleware(raw_app)


# --- inside a Router ---------------------------------------------------------------


def test_router_route_template(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    router = Router([Route("/users/{username}", homepage), Route("/ids/{id:int}", homepage)])
    client = test_client_factory(telemetry.instrument(router))
    client.get("/users/marcelo?format=json")
    client.get("/ids/42")

    first, second = telemetry.spans.get_finished_spans()
    assert first.name == "GET /users/{username}"
    assert attributes(first)["http.route"] == "/users/{username}"
    assert attributes(first)["url.path"] == "/users/marcelo"
    assert second.name == "GET /ids/{id}"
    routes = sorted(str(dict(p.attributes or {})["http.route"]) for p in telemetry.durations())
    assert routes == ["/ids/{id}", "/users/{username}"]


def test_router_root_route(test_client_factory: TestClientFactory, telemetry: Telemetry) -> None:
    test_client_factory(telemetry.instrument(Router([Route("/", homepage)]))).get("/")
    assert telemetry.span().name == "GET /"


def test_router_nested_mounts(test_client_factory: TestClientFactory, telemetry: Telemetry) -> None:
    inner = Router([Route("/users/{username}", homepage)])
    router = Router([Mount("/api", routes=[Mount("/v1", app=inner)])])
    test_client_factory(telemetry.instrument(router)).get("/api/v1/users/marcelo")
    span = telemetry.span()
    assert span.name == "GET /api/v1/users/{username}"
    assert attributes(span)["http.route"] == "/api/v1/users/{username}"


@pytest.mark.parametrize("root_path", ["", "/proxied"])
def test_router_mounts_with_parameters_report_their_templates(
    test_client_factory: TestClientFactory, telemetry: Telemetry, root_path: str
) -> None:
    # `http.route` stays low-cardinality: the mounts' templates, never the tenant's id.
    inner = Router([Route("/users/{username}", homepage)])
    router = Router(
        [
            Mount("/t/{tenant}", routes=[Mount("/v{version:int}", app=inner)]),
            Mount("/files/{owner}", app=raw_app),
        ]
    )
    client = test_client_factory(telemetry.instrument(router), root_path=root_path)
    # (Behind a proxy the path keeps the root path, as a server gives it.)
    client.get(f"{root_path}/t/42/v1/users/marcelo")
    client.get(f"{root_path}/t/7/v2/users/tom")
    client.get(f"{root_path}/files/ann/a.txt")
    routes = [attributes(span)["http.route"] for span in telemetry.spans.get_finished_spans()]
    assert routes == [
        f"{root_path}/t/{{tenant}}/v{{version}}/users/{{username}}",
        f"{root_path}/t/{{tenant}}/v{{version}}/users/{{username}}",
        f"{root_path}/files/{{owner}}",
    ]
    durations = {str(dict(point.attributes or {})["http.route"]) for point in telemetry.durations()}
    assert durations == set(routes)


def test_an_application_reports_its_mounts_templates(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    # Under an application's middleware, mounts are matched through by the fused stack.
    app = Stellate(
        routes=[Mount("/t/{tenant}", routes=[Route("/users/{username}", homepage)])],
        middleware=[
            Middleware(
                OpenTelemetryMiddleware,
                tracer_provider=telemetry.tracer_provider,
                meter_provider=telemetry.meter_provider,
            )
        ],
    )
    test_client_factory(app).get("/t/42/users/marcelo")
    assert telemetry.span().name == "GET /t/{tenant}/users/{username}"


def test_a_middleware_inside_a_mount_reports_the_whole_template(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    inner = telemetry.instrument(Router([Route("/users/{username}", homepage)]))
    router = Router([Mount("/t/{tenant}", app=inner)])
    test_client_factory(router).get("/t/42/users/marcelo")
    assert telemetry.span().name == "GET /t/{tenant}/users/{username}"


def test_router_mount_without_a_matching_child(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    router = Router([Mount("/api", routes=[Route("/users", homepage)])])
    assert test_client_factory(telemetry.instrument(router)).get("/api/missing").status_code == 404
    span = telemetry.span()
    assert span.name == "GET /api"
    assert attributes(span)["http.route"] == "/api"
    assert attributes(span)["http.response.status_code"] == 404


def test_router_mount_of_a_raw_app(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    router = Router([Mount("/static", app=raw_app)])
    assert test_client_factory(telemetry.instrument(router)).get("/static/a/b.css").text == "raw"
    assert telemetry.span().name == "GET /static"


def test_router_host(test_client_factory: TestClientFactory, telemetry: Telemetry) -> None:
    router = Router(
        [
            Host("api.example.org", app=Router([Route("/users/{username}", homepage)])),
            Host("raw.example.org", app=raw_app),
        ]
    )
    client = test_client_factory(telemetry.instrument(router))
    client.get("http://api.example.org/users/marcelo")
    client.get("http://raw.example.org/anything")
    routed, raw = telemetry.spans.get_finished_spans()
    assert routed.name == "GET /users/{username}"
    assert raw.name == "GET"
    assert "http.route" not in attributes(raw)


def test_router_unmatched_request_has_no_route(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    router = Router([Route("/users", homepage)])
    assert test_client_factory(telemetry.instrument(router)).get("/nope").status_code == 404
    span = telemetry.span()
    assert span.name == "GET"
    assert "http.route" not in attributes(span)


def test_router_middleware_and_server_errors(
    test_client_factory: TestClientFactory, telemetry: Telemetry
) -> None:
    router = Router(
        [Route("/error", error), Route("/unavailable", unavailable)],
        middleware=[Middleware(OpenTelemetryMiddleware, tracer_provider=telemetry.tracer_provider)],
    )
    client = test_client_factory(router)
    assert client.get("/unavailable").status_code == 503
    with pytest.raises(RuntimeError, match="Oh no"):
        client.get("/error")
    unavailable_span, error_span = telemetry.spans.get_finished_spans()
    assert unavailable_span.name == "GET /unavailable"
    assert attributes(unavailable_span)["error.type"] == "503"
    assert error_span.name == "GET /error"
    assert attributes(error_span)["error.type"] == "RuntimeError"
    assert error_span.status.status_code == StatusCode.ERROR
