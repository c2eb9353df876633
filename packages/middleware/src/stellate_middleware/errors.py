"""Server errors: a 500 response for any exception that escapes the app, and a debug page.

`ServerErrorMiddleware` belongs at the very outside of a stack, so that every unhandled
exception ends as a 500 response (or a traceback page in debug mode) and is then
re-raised for the server to log.
"""

from __future__ import annotations

import html
import inspect
import traceback
from collections.abc import Callable
from typing import Any

from stellate_asgi.types import ASGIApp, Receive, Scope, Send
from stellate_asgi.utils import is_async_callable
from stellate_http.concurrency import run_in_threadpool
from stellate_http.requests import Request
from stellate_http.responses import HTMLResponse, PlainTextResponse, Response
from stellate_middleware._tracking import SendTracker, tracking
from stellate_middleware.exceptions import ExceptionHandler

__all__ = [
    "CENTER_LINE",
    "FRAME_TEMPLATE",
    "JS",
    "LINE",
    "STYLES",
    "TEMPLATE",
    "ServerErrorMiddleware",
]

# The debug page's building blocks, public as in Starlette so that a subclass can
# restyle the page. Every value put into them is HTML-escaped first.

STYLES = """
p {
    color: #211c1c;
}
.traceback-container {
    border: 1px solid #0b6e99;
}
.traceback-title {
    background-color: #0b6e99;
    color: #fdfbf0;
    padding: 12px;
    font-size: 20px;
    margin-top: 0;
}
.frame-title {
    font-weight: normal;
    padding: 10px;
    margin-right: 10px;
    background-color: #e8f3fa;
    border: 1px solid #c3d9e6;
    color: #1b2326;
    font-size: 16px;
}
.frame-filename {
    font-family: monospace;
}
.frame-line {
    padding-left: 10px;
    font-family: monospace;
}
.center-line {
    background-color: #0b6e99;
    color: #fdfbf0;
    padding: 4px 0 4px 4px;
}
.lineno {
    margin-right: 6px;
}
.collapse-btn {
    float: right;
    padding: 0 5px 1px 5px;
    border: 1px solid #8fa9b8;
    cursor: pointer;
}
.collapsed {
    display: none;
}
.source-code {
    font-family: monospace;
    font-size: small;
    padding-bottom: 10px;
}
"""

JS = """
<script type="text/javascript">
    function collapse(element){
        const frame = document.getElementById(element.getAttribute("data-frame-id"));
        if (frame === null) {
            return;
        }
        const hidden = frame.classList.toggle("collapsed");
        element.innerHTML = hidden ? "+" : "&#8210;";
    }
</script>
"""

TEMPLATE = """
<html>
    <head>
        <style type='text/css'>
            {styles}
        </style>
        <meta charset="utf-8">
        <title>Stellate Debugger</title>
    </head>
    <body>
        <h1>500 Server Error</h1>
        <h2>{error}</h2>
        <div class="traceback-container">
            <p class="traceback-title">Traceback</p>
            <div>{exc_html}</div>
        </div>
        {js}
    </body>
</html>
"""

FRAME_TEMPLATE = """
<div>
    <p class="frame-title">File <span class="frame-filename">{frame_filename}</span>,
    line <i>{frame_lineno}</i>,
    in <b>{frame_name}</b>
    <span class="collapse-btn" data-frame-id="{frame_filename}-{frame_lineno}" \
onclick="collapse(this)">{collapse_button}</span>
    </p>
    <div id="{frame_filename}-{frame_lineno}" class="source-code {collapsed}">{code_context}</div>
</div>
"""

LINE = """
<p><span class="frame-line">
<span class="lineno">{lineno}.</span> {line}</span></p>
"""

CENTER_LINE = """
<p class="center-line"><span class="frame-line center-line">
<span class="lineno">{lineno}.</span> {line}</span></p>
"""


class ServerErrorMiddleware:
    """Send a 500 response when the app raises, then re-raise for the server to log.

    With `debug`, the response is a traceback: an HTML page for clients that accept
    `text/html`, plain text otherwise. Without it, `handler(request, exc)` (sync or async)
    makes the response, or a plain "Internal Server Error". Nothing is sent when the app
    had already started its response. Only `http` connections are handled.
    """

    def __init__(
        self,
        app: ASGIApp,
        handler: ExceptionHandler | None = None,
        debug: bool = False,
    ) -> None:
        self.app = app
        self.handler = handler
        self.debug = debug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        tracker = tracking(send)
        try:
            await self.app(scope, receive, tracker)
        except Exception as exc:
            await self._answer(exc, scope, receive, tracker)
            # Always re-raise: the server logs it, and a test client can surface it.
            raise

    def format_line(self, index: int, line: str, frame_lineno: int, frame_index: int) -> str:
        """One source line of a frame; the line that was executing gets `CENTER_LINE`."""
        values = {
            # Non-breaking spaces keep the indentation that HTML would collapse.
            "line": html.escape(line.rstrip().expandtabs()).replace(" ", "&nbsp;"),
            "lineno": (frame_lineno - frame_index) + index,
        }
        template = CENTER_LINE if index == frame_index else LINE
        return template.format(**values)

    def generate_frame_html(self, frame: inspect.FrameInfo, is_collapsed: bool) -> str:
        """One traceback frame: its location and the source lines around it."""
        frame_index = frame.index if frame.index is not None else -1
        code_context = "".join(
            self.format_line(index, line, frame.lineno, frame_index)
            for index, line in enumerate(frame.code_context or [])
        )
        values = {
            # File and function names are escaped too: `<stdin>` is a real filename.
            "frame_filename": html.escape(frame.filename),
            "frame_lineno": frame.lineno,
            "frame_name": html.escape(frame.function),
            "code_context": code_context,
            "collapsed": "collapsed" if is_collapsed else "",
            "collapse_button": "+" if is_collapsed else "&#8210;",
        }
        return FRAME_TEMPLATE.format(**values)

    def generate_html(self, exc: Exception, limit: int = 7) -> str:
        """The debug page: the exception and its frames, innermost first and expanded.

        `limit` is the number of source lines shown around each frame's current line.
        """
        frames_html = []
        if exc.__traceback__ is not None:
            frames = inspect.getinnerframes(exc.__traceback__, limit)
            for position, frame in enumerate(reversed(frames)):
                frames_html.append(self.generate_frame_html(frame, is_collapsed=position > 0))
        error = f"{html.escape(type(exc).__name__)}: {html.escape(_safe_str(exc))}"
        return TEMPLATE.format(styles=STYLES, js=JS, error=error, exc_html="".join(frames_html))

    def generate_plain_text(self, exc: Exception) -> str:
        """The traceback as Python prints it, chained exceptions included."""
        return "".join(traceback.format_exception(exc))

    def debug_response(self, request: Request, exc: Exception) -> Response:
        """A 500 with the traceback: HTML if the client accepts it, plain text otherwise."""
        accept = request.headers.get("accept", "")
        if "text/html" in accept:
            return HTMLResponse(self.generate_html(exc), status_code=500)
        return PlainTextResponse(self.generate_plain_text(exc), status_code=500)

    def error_response(self, request: Request, exc: Exception) -> Response:
        """The default 500 response, which reveals nothing about the error."""
        return PlainTextResponse("Internal Server Error", status_code=500)

    async def _answer(
        self, exc: Exception, scope: Scope, receive: Receive, tracker: SendTracker
    ) -> None:
        # The error response to `exc`, sent unless the app had started its own. Also
        # called by an application's fused stack (`stellate_routing._fused`).
        request = Request(scope)
        response: Response | None
        if self.debug:
            # Building the page reads source files: keep that off the event loop.
            response = await run_in_threadpool(self.debug_response, request, exc)
        elif self.handler is None:
            response = self.error_response(request, exc)
        else:
            handler: Callable[..., Any] = self.handler
            if is_async_callable(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)

        if not tracker.started and response is not None:
            await response(scope, receive, tracker)


def _safe_str(exc: Exception) -> str:
    # A broken `__str__` must not turn the error page itself into a second error.
    try:
        return str(exc)
    except Exception:
        return f"<exception str() failed: {type(exc).__name__}>"
