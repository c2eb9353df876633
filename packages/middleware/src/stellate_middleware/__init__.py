"""Stellate's ASGI middleware: the Middleware spec, server errors with a debug page, exception handling, request body limits, and more."""

__version__ = "0.1.0"

__all__ = ["__version__"]
