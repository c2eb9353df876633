"""Stellate: an ASGI toolkit with Starlette's public API, built from micro-packages."""

__version__ = "0.1.0"

__all__ = ["__version__"]
