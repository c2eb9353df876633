"""A synchronous test client for any ASGI app, over httpx: HTTP, WebSockets and lifespan."""

__version__ = "0.1.0"

__all__ = ["__version__"]
