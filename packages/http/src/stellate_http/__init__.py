"""Requests, responses, forms, background tasks and thread-pool helpers for Stellate."""

__version__ = "0.1.0"

__all__ = ["__version__"]
