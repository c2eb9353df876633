"""Signed-cookie sessions middleware for Stellate and any ASGI app."""

from stellate_sessions.sessions import Session, SessionMiddleware

__version__ = "0.1.0"

__all__ = ["Session", "SessionMiddleware", "__version__"]
