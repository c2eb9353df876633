"""OpenTelemetry: a server span and a duration metric for every HTTP request.

Needs the `opentelemetry` extra (`pip install "stellate-middleware[opentelemetry]"`),
which brings `opentelemetry-api`; the application installs and configures an SDK (or
any other implementation) and its exporters.

Spans and metrics follow the OpenTelemetry HTTP semantic conventions. The span is named
`"{method} {route}"` once routing has matched a route: the middleware reads the
matched route from `scope["route"]` (its `path_format`, prefixed by the templates of
the mounts it sits in), so it works around a whole application or a bare router.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any, Protocol, TypeGuard

from stellate_asgi.datastructures import URL
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_middleware import __version__

try:
    from opentelemetry import metrics, propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ModuleNotFoundError as exc:  # the optional extra is not installed
    _IMPORT_ERROR: ModuleNotFoundError | None = exc
else:
    _IMPORT_ERROR = None

__all__ = ["OpenTelemetryMiddleware"]

# The instrumentation scope of the tracer and meter.
_INSTRUMENTATION_NAME = "stellate"

# Set while an instance instruments a request, so that nested instances (a mounted
# application with its own middleware) report the request once, not twice.
_ACTIVE_SCOPE_KEY = "stellate.opentelemetry"

# The semantic conventions' request duration histogram and its advised buckets (s).
_DURATION_METRIC = "http.server.request.duration"
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)

# Metric attributes must stay low-cardinality: any other method is reported as _OTHER.
_KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)


class _MountedRoute(Protocol):
    """A route that hands a path prefix to a child app, like `stellate_routing.Mount`.

    When it is the last route matched (its app has no routes of its own, or none of
    them matched), its own prefix already ends the mounts' prefix.
    """

    path_format: str

    @property
    def routes(self) -> Sequence[Any]: ...


class OpenTelemetryMiddleware:
    """Create an OpenTelemetry server span and record `http.server.request.duration`
    for every HTTP request.

    The trace context of the request headers (W3C `traceparent` by default, or the
    globally configured propagator) becomes the span's parent. The span carries the
    request's method, path, query, scheme, server address and port, client address,
    user agent, protocol version, status code and route; a 5xx response or an
    exception sets `error.type` and an error status, and the exception is recorded.

    `excluded_urls` holds regular expressions (a sequence, or one comma-separated
    string) searched in the full request URL: matching requests are not reported.
    `tracer_provider` and `meter_provider` default to the global providers, looked up
    on every request so they may be configured after the application is built; a
    no-op (or not yet configured) provider disables its signal. WebSocket and lifespan
    scopes pass straight through.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        excluded_urls: str | Sequence[str] = (),
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        if _IMPORT_ERROR is not None:
            raise ModuleNotFoundError(
                "OpenTelemetryMiddleware requires the `opentelemetry-api` package: "
                'install it with `pip install "stellate-middleware[opentelemetry]"`.'
            ) from _IMPORT_ERROR
        self.app = app
        self.excluded_urls = _compile_patterns(excluded_urls)
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        # The tracer and histogram of the provider last seen; a provider is looked up
        # per request, but they are created only when it changes.
        self._tracer: tuple[trace.TracerProvider, trace.Tracer] | None = None
        self._duration: tuple[metrics.MeterProvider, metrics.Histogram] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get(_ACTIVE_SCOPE_KEY):
            await self.app(scope, receive, send)
            return
        # Set before the exclusion check, so an excluded request stays unreported by
        # the nested instances as well.
        scope[_ACTIVE_SCOPE_KEY] = True
        try:
            await self._instrument(scope, receive, send)
        finally:
            scope.pop(_ACTIVE_SCOPE_KEY, None)

    async def _instrument(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer = self._get_tracer()
        duration = self._get_duration_histogram()
        if tracer is None and duration is None:
            await self.app(scope, receive, send)
            return
        url = URL(scope=scope)
        if self.excluded_urls:
            full_url = str(url)
            if any(pattern.search(full_url) for pattern in self.excluded_urls):
                await self.app(scope, receive, send)
                return

        method_original = str(scope.get("method", ""))
        method = method_original.upper()
        status_code: int | None = None
        # The type only: holding the exception itself would keep its frames alive.
        exception: type[BaseException] | None = None

        async def send_with_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
            await send(message)

        start = time.perf_counter()
        try:
            if tracer is None:
                await self.app(scope, receive, send_with_status)
            else:
                headers = _header_lists(scope)
                with tracer.start_as_current_span(
                    method,
                    context=propagate.extract(headers),
                    kind=SpanKind.SERVER,
                    attributes=_span_attributes(scope, url, method, method_original, headers),
                ) as span:
                    try:
                        await self.app(scope, receive, send_with_status)
                    except BaseException as exc:
                        exception = type(exc)
                        raise
                    finally:
                        _finish_span(span, scope, method, status_code, exception)
        except BaseException as exc:
            exception = type(exc)
            raise
        finally:
            if duration is not None:
                elapsed = time.perf_counter() - start
                attributes = _metric_attributes(scope, method, status_code, exception)
                duration.record(elapsed, attributes)

    def _get_tracer(self) -> trace.Tracer | None:
        provider = self.tracer_provider
        if provider is None:
            provider = trace.get_tracer_provider()
            # No SDK configured (yet): spans would be discarded, so make none.
            if isinstance(provider, (trace.NoOpTracerProvider, trace.ProxyTracerProvider)):
                return None
        elif isinstance(provider, trace.NoOpTracerProvider):
            return None
        if self._tracer is None or self._tracer[0] is not provider:
            tracer = provider.get_tracer(_INSTRUMENTATION_NAME, __version__)
            self._tracer = (provider, tracer)
        return self._tracer[1]

    def _get_duration_histogram(self) -> metrics.Histogram | None:
        provider = self.meter_provider
        if provider is None:
            provider = metrics.get_meter_provider()
        if isinstance(provider, metrics.NoOpMeterProvider):
            return None
        if self._duration is None or self._duration[0] is not provider:
            meter = provider.get_meter(_INSTRUMENTATION_NAME, __version__)
            histogram = meter.create_histogram(
                _DURATION_METRIC,
                unit="s",
                description="Duration of HTTP server requests.",
                explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
            )
            self._duration = (provider, histogram)
        return self._duration[1]


def _compile_patterns(excluded_urls: str | Sequence[str]) -> tuple[re.Pattern[str], ...]:
    if isinstance(excluded_urls, str):
        # Empty items ("a,,b", a trailing comma) would match every URL: skip them.
        patterns = [item.strip() for item in excluded_urls.split(",")]
        return tuple(re.compile(pattern) for pattern in patterns if pattern)
    return tuple(re.compile(pattern) for pattern in excluded_urls)


def _header_lists(scope: Scope) -> dict[str, list[str]]:
    """The request headers by lowercase name, as propagators read them."""
    headers: dict[str, list[str]] = {}
    for name, value in scope.get("headers", ()):
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return headers


def _span_attributes(
    scope: Scope,
    url: URL,
    method: str,
    method_original: str,
    headers: dict[str, list[str]],
) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {
        "http.request.method": method,
        "url.path": scope.get("path", ""),
        "url.scheme": scope.get("scheme", "http"),
    }
    if method_original != method:
        attributes["http.request.method_original"] = method_original
    if url.query:
        attributes["url.query"] = url.query
    hostname = url.hostname
    if hostname is not None:
        attributes["server.address"] = hostname
        port = url.port
        if port is None and scope.get("server") is not None:
            port = scope["server"][1]
        if port is not None:
            attributes["server.port"] = port
    if scope.get("http_version"):
        attributes["network.protocol.version"] = scope["http_version"]
    client = scope.get("client")
    if client is not None:
        attributes["client.address"] = client[0]
    user_agent = headers.get("user-agent")
    if user_agent:
        attributes["user_agent.original"] = user_agent[0]
    return attributes


def _finish_span(
    span: trace.Span,
    scope: Scope,
    method: str,
    status_code: int | None,
    exception: type[BaseException] | None,
) -> None:
    if status_code is not None:
        span.set_attribute("http.response.status_code", status_code)
    error_type = _error_type(status_code, exception)
    if error_type is not None:
        span.set_attribute("error.type", error_type)
        if exception is None:
            # An exception sets the error status (with its message) as the span exits.
            span.set_status(Status(StatusCode.ERROR))
    route = _route_template(scope)
    if route is not None:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)


def _metric_attributes(
    scope: Scope,
    method: str,
    status_code: int | None,
    exception: type[BaseException] | None,
) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {
        "http.request.method": method if method in _KNOWN_METHODS else "_OTHER",
        "url.scheme": scope.get("scheme", "http"),
    }
    if scope.get("http_version"):
        attributes["network.protocol.version"] = scope["http_version"]
    if status_code is not None:
        attributes["http.response.status_code"] = status_code
    error_type = _error_type(status_code, exception)
    if error_type is not None:
        attributes["error.type"] = error_type
    route = _route_template(scope)
    if route is not None:
        attributes["http.route"] = route
    return attributes


def _error_type(status_code: int | None, exception: type[BaseException] | None) -> str | None:
    if exception is not None:
        return exception.__qualname__
    if status_code is not None and status_code >= 500:
        return str(status_code)
    return None


def _route_template(scope: Scope) -> str | None:
    """The template of the matched route, mounts included, or None if no route matched.

    Read after the app ran: routing records the matched route in `scope["route"]`, and
    each mount appends what it matched to `scope["root_path"]` and its template to
    `scope["root_path_template"]` (mounts of other routers may set only the first).
    """
    route = scope.get("route")
    path_format = getattr(route, "path_format", None)
    if not isinstance(path_format, str):
        return None
    # Mounts record their templates (`/t/{tenant}`) beside what they matched (`/t/42`).
    root_path: str = scope.get("root_path_template", scope.get("root_path", ""))
    if _is_mount(route):
        # The mount's own match already ends `root_path`.
        return root_path or "/"
    return root_path.rstrip("/") + path_format or "/"


def _is_mount(route: object) -> TypeGuard[_MountedRoute]:
    # Duck-typed: this package sits below the routing package and cannot import Mount.
    return hasattr(route, "routes")
