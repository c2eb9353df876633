"""Stellate's router: Route, WebSocketRoute, Mount, Host, convertors, url reversal, endpoints and lifespan, with an index whose cost does not grow with the number of routes."""

__version__ = "0.1.0"

__all__ = ["__version__"]
