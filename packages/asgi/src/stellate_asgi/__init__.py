"""The ASGI protocol layer of Stellate: ASGI 3 types, status codes, HTTP and WebSocket exceptions, the views of a scope (URL, Headers, QueryParams, multidicts, State, ...) and HTTPConnection."""

__version__ = "0.1.0"

__all__ = ["__version__"]
