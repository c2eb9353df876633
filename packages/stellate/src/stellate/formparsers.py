"""`stellate.formparsers`: re-exports from the Stellate parts."""

from typing import TYPE_CHECKING

from stellate_asgi.datastructures import Headers
from stellate_asgi.exceptions import StellateDeprecationWarning
from stellate_http.datastructures import FormData, UploadFile
from stellate_http.formparsers import (
    FormMessage,
    FormParser,
    MultiPartException,
    MultiPartParser,
    MultipartPart,
    _user_safe_decode,  # noqa: F401 (private in Starlette too; ported code imports it)
)

__all__ = [
    "FormData",
    "FormMessage",
    "FormParser",
    "Headers",
    "MultiPartException",
    "MultiPartParser",
    "MultipartPart",
    "StellateDeprecationWarning",
    "TYPE_CHECKING",
    "UploadFile",
]
