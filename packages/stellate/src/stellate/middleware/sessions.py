"""`stellate.middleware.sessions`: re-exports from the Stellate parts."""

from stellate_asgi.connection import HTTPConnection
from stellate_asgi.datastructures import MutableHeaders, Secret
from stellate_sessions.sessions import Session, SessionMiddleware

__all__ = [
    "HTTPConnection",
    "MutableHeaders",
    "Secret",
    "Session",
    "SessionMiddleware",
]
