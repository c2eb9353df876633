"""`stellate.responses`: re-exports from the Stellate parts."""

# A module rather than a re-exported name, as Starlette's module has it: code written for
# Starlette patches `stellate.responses.anyio.to_thread.run_sync` (anyio's own attribute,
# which file responses read at each call).
import anyio.to_thread  # noqa: F401

from stellate_asgi.datastructures import (
    URL,
    Headers,
    MutableHeaders,
)
from stellate_http.background import BackgroundTask
from stellate_http.concurrency import create_collapsing_task_group, iterate_in_threadpool
from stellate_http.requests import ClientDisconnect
from stellate_http.responses import (
    AsyncContentStream,
    Content,
    ContentStream,
    FileResponse,
    HTMLResponse,
    JSONResponse,
    MalformedRangeHeader,
    PlainTextResponse,
    RangeNotSatisfiable,
    RedirectResponse,
    Response,
    StreamingResponse,
    SyncContentStream,
)

__all__ = [
    "AsyncContentStream",
    "Content",
    "ContentStream",
    "BackgroundTask",
    "ClientDisconnect",
    "FileResponse",
    "HTMLResponse",
    "Headers",
    "JSONResponse",
    "MalformedRangeHeader",
    "MutableHeaders",
    "PlainTextResponse",
    "RangeNotSatisfiable",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
    "SyncContentStream",
    "URL",
    "create_collapsing_task_group",
    "iterate_in_threadpool",
]
