"""Static file serving for Stellate and any ASGI app."""

from stellate_staticfiles.staticfiles import NotModifiedResponse, StaticFiles

__version__ = "0.1.0"

__all__ = ["NotModifiedResponse", "StaticFiles", "__version__"]
