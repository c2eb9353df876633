"""`stellate.middleware`: re-exports from the Stellate parts."""

from stellate_middleware import Middleware, P

__all__ = [
    "Middleware",
    "P",
]
