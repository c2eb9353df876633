"""`stellate.exceptions`: re-exports from the Stellate parts."""

from stellate_asgi.exceptions import (
    HTTPException,
    StellateDeprecationWarning,
    WebSocketException,
)

__all__ = [
    "HTTPException",
    "StellateDeprecationWarning",
    "WebSocketException",
]
