"""`stellate.middleware.opentelemetry`: re-exports from the Stellate parts."""

from stellate_asgi.datastructures import URL
from stellate_middleware.opentelemetry import OpenTelemetryMiddleware
from stellate_routing.routing import Mount

__all__ = [
    "Mount",
    "OpenTelemetryMiddleware",
    "URL",
]
