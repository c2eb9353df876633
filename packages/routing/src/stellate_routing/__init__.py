"""Stellate's router: `Route`, `WebSocketRoute`, `Mount`, `Host`, path convertors, url
reversal, endpoint classes and lifespan.

Matching keeps Starlette's first-match semantics, through an index whose cost does not
grow with the number of routes.
"""

from stellate_routing.convertors import Convertor, register_url_convertor
from stellate_routing.endpoints import HTTPEndpoint, WebSocketEndpoint
from stellate_routing.routing import (
    BaseRoute,
    Host,
    Match,
    Mount,
    NoMatchFound,
    Route,
    Router,
    WebSocketRoute,
)

__version__ = "0.1.0"

__all__ = [
    "BaseRoute",
    "Convertor",
    "HTTPEndpoint",
    "Host",
    "Match",
    "Mount",
    "NoMatchFound",
    "Route",
    "Router",
    "WebSocketEndpoint",
    "WebSocketRoute",
    "__version__",
    "register_url_convertor",
]
