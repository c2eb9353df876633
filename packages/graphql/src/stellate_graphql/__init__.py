"""GraphQL over HTTP and WebSocket, with GraphiQL, for Stellate and any ASGI app."""

__version__ = "0.1.0"

__all__ = ["__version__"]
