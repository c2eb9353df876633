"""`stellate.datastructures`: re-exports from the Stellate parts."""

from stellate_asgi.datastructures import (
    URL,
    Address,
    CommaSeparatedStrings,
    Headers,
    ImmutableMultiDict,
    MultiDict,
    MutableHeaders,
    QueryParams,
    Secret,
    State,
    URLPath,
)
from stellate_asgi.utils import parse_host_header
from stellate_http.concurrency import run_in_threadpool
from stellate_http.datastructures import FormData, UploadFile

__all__ = [
    "Address",
    "CommaSeparatedStrings",
    "FormData",
    "Headers",
    "ImmutableMultiDict",
    "MultiDict",
    "MutableHeaders",
    "QueryParams",
    "Secret",
    "State",
    "URL",
    "URLPath",
    "UploadFile",
    "parse_host_header",
    "run_in_threadpool",
]
