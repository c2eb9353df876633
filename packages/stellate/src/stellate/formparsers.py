"""`stellate.formparsers`: the parsers' own module, `stellate_http.formparsers`.

Not a module of re-exports as the others are: code written for Starlette patches the
names the parsers look up here (`SpooledTemporaryFile`, to track temporary files), so
this name is bound to the very module whose globals the parsers read. The imports
below are what type checkers see.
"""

import sys
from typing import TYPE_CHECKING

import stellate_http.formparsers
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

sys.modules[__name__] = stellate_http.formparsers
