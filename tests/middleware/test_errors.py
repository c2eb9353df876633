from __future__ import annotations

import inspect
import sys

import pytest

from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, PlainTextResponse, Response
from stellate_middleware.errors import ServerErrorMiddleware
from tests.conftest import TestClientFactory


class HostileError(Exception):
    pass


async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("Something went wrong")


def raising(exc: Exception) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise exc

    return app


def caught(exc: Exception) -> Exception:
    """`exc` with a traceback, as the middleware sees it."""
    try:
        raise exc
    except Exception as raised:
        return raised


# --- without debug ---------------------------------------------------------------


def test_default_response_reveals_nothing(test_client_factory: TestClientFactory) -> None:
    app = ServerErrorMiddleware(failing_app)
    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert response.headers["content-type"].startswith("text/plain")


def test_exception_is_reraised_after_the_response(test_client_factory: TestClientFactory) -> None:
    app = ServerErrorMiddleware(failing_app)
    with pytest.raises(RuntimeError, match="Something went wrong"):
        test_client_factory(app).get("/")


def test_sync_handler(test_client_factory: TestClientFactory) -> None:
    def error_500(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": "Server Error", "path": request.url.path}, status_code=500)

    app = ServerErrorMiddleware(failing_app, handler=error_500)
    response = test_client_factory(app, raise_server_exceptions=False).get("/here")
    assert response.status_code == 500
    assert response.json() == {"detail": "Server Error", "path": "/here"}


def test_async_handler(test_client_factory: TestClientFactory) -> None:
    async def error_503(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"down: {exc}", status_code=503)

    app = ServerErrorMiddleware(failing_app, handler=error_503)
    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 503
    assert response.text == "down: Something went wrong"


def test_handler_returning_none(test_client_factory: TestClientFactory) -> None:
    calls: list[str] = []

    def handler(request: Request, exc: Exception) -> None:
        calls.append(str(exc))

    app = ServerErrorMiddleware(failing_app, handler=handler)  # type: ignore[arg-type]
    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert calls == ["Something went wrong"]
    assert response.status_code == 500


def test_no_second_response_once_started(test_client_factory: TestClientFactory) -> None:
    calls: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await Response(b"", status_code=204)(scope, receive, send)
        raise RuntimeError("Something went wrong")

    def handler(request: Request, exc: Exception) -> Response:
        calls.append("handler")
        return PlainTextResponse("too late", status_code=500)

    middleware = ServerErrorMiddleware(app, handler=handler)
    with pytest.raises(RuntimeError):
        test_client_factory(middleware).get("/")

    response = test_client_factory(middleware, raise_server_exceptions=False).get("/")
    assert response.status_code == 204
    assert response.content == b""
    assert calls == ["handler", "handler"]


def test_debug_after_response_started(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("partial")(scope, receive, send)
        raise RuntimeError("Something went wrong")

    middleware = ServerErrorMiddleware(app, debug=True)
    response = test_client_factory(middleware, raise_server_exceptions=False).get("/")
    assert response.status_code == 200
    assert response.text == "partial"


def test_websocket_passes_through(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(ServerErrorMiddleware(failing_app, debug=True))
    with pytest.raises(RuntimeError, match="Something went wrong"), client.websocket_connect("/"):
        pass  # pragma: no cover


@pytest.mark.anyio
async def test_lifespan_passes_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}  # pragma: no cover

    async def send(message: Message) -> None:
        pass  # pragma: no cover

    await ServerErrorMiddleware(app)({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"]


# --- debug -------------------------------------------------------------------------


def test_debug_plain_text(test_client_factory: TestClientFactory) -> None:
    app = ServerErrorMiddleware(failing_app, debug=True)
    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith("Traceback (most recent call last):")
    assert "RuntimeError: Something went wrong" in response.text
    assert "in failing_app" in response.text


def test_debug_html(test_client_factory: TestClientFactory) -> None:
    app = ServerErrorMiddleware(failing_app, debug=True)
    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/", headers={"Accept": "text/html, */*"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>500 Server Error</h1>" in response.text
    assert "<h2>RuntimeError: Something went wrong</h2>" in response.text
    assert "<b>failing_app</b>" in response.text
    assert "raise&nbsp;RuntimeError(&quot;Something&nbsp;went&nbsp;wrong&quot;)" in response.text


def test_debug_wins_over_the_handler(test_client_factory: TestClientFactory) -> None:
    def handler(request: Request, exc: Exception) -> Response:
        raise AssertionError("not called in debug mode")  # pragma: no cover

    app = ServerErrorMiddleware(failing_app, handler=handler, debug=True)
    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert "RuntimeError: Something went wrong" in response.text


def test_debug_page_escapes_the_exception(test_client_factory: TestClientFactory) -> None:
    payload = '<script>alert("pwned")</script>'

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if 1 < 2:  # A source line with markup characters.
            raise HostileError(payload)

    middleware = ServerErrorMiddleware(app, debug=True)
    client = test_client_factory(middleware, raise_server_exceptions=False)
    response = client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 500
    assert "<script>alert" not in response.text
    assert "HostileError: &lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in response.text
    assert "1&nbsp;&lt;&nbsp;2" in response.text
    # The page's own script is the only one.
    assert response.text.count("<script") == 1


def test_debug_page_escapes_the_exception_type_name() -> None:
    hostile = type("<img src=x onerror=alert(1)>", (Exception,), {})
    html = ServerErrorMiddleware(failing_app).generate_html(caught(hostile("boom")))
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;: boom" in html


def test_debug_page_survives_a_broken_str() -> None:
    class BrokenError(Exception):
        def __str__(self) -> str:
            raise ValueError("no str for you")

    html = ServerErrorMiddleware(failing_app).generate_html(caught(BrokenError()))
    assert "BrokenError: &lt;exception str() failed: BrokenError&gt;" in html


def test_generate_html_frames_innermost_first_and_collapsed() -> None:
    def inner() -> None:
        raise ValueError("deep")

    def outer() -> None:
        inner()

    try:
        outer()
    except ValueError as exc:
        html = ServerErrorMiddleware(failing_app).generate_html(exc)

    assert html.index("<b>inner</b>") < html.index("<b>outer</b>")
    assert html.count('class="source-code "') == 1  # Only the innermost frame is open.
    assert html.count('class="source-code collapsed"') == 2
    assert "ValueError: deep" in html


def test_generate_html_of_an_exception_never_raised() -> None:
    html = ServerErrorMiddleware(failing_app).generate_html(KeyError("k"))
    assert "KeyError: &#x27;k&#x27;" in html
    assert "frame-title" not in html.split("</style>")[1]


def test_generate_html_context_lines() -> None:
    exc = caught(ValueError("x"))  # One frame: `caught`.
    middleware = ServerErrorMiddleware(failing_app)
    assert middleware.generate_html(exc, limit=1).count('class="lineno"') == 1
    assert middleware.generate_html(exc, limit=5).count('class="lineno"') == 5
    assert middleware.generate_html(exc).count('class="lineno"') == 7


def test_format_line_marks_the_current_line() -> None:
    middleware = ServerErrorMiddleware(failing_app)
    centered = middleware.format_line(2, "    x = a < b\n", frame_lineno=40, frame_index=2)
    other = middleware.format_line(0, "y = 1\n", frame_lineno=40, frame_index=2)
    assert 'class="center-line"' in centered
    assert "40." in centered
    assert "&nbsp;&nbsp;&nbsp;&nbsp;x&nbsp;=&nbsp;a&nbsp;&lt;&nbsp;b" in centered
    assert 'class="center-line"' not in other
    assert "38." in other


def test_generate_frame_html_escapes_names() -> None:
    frame = inspect.FrameInfo(
        frame=sys._getframe(),
        filename="<stdin>",
        lineno=3,
        function="<module>",
        code_context=["print(1)\n"],
        index=0,
    )
    html = ServerErrorMiddleware(failing_app).generate_frame_html(frame, is_collapsed=True)
    assert "&lt;stdin&gt;" in html
    assert "&lt;module&gt;" in html
    assert "<stdin>" not in html
    assert 'class="source-code collapsed"' in html


def test_generate_frame_html_without_source() -> None:
    frame = inspect.FrameInfo(
        frame=sys._getframe(),
        filename="gone.py",
        lineno=1,
        function="f",
        code_context=None,
        index=None,
    )
    html = ServerErrorMiddleware(failing_app).generate_frame_html(frame, is_collapsed=False)
    assert "gone.py" in html
    assert "lineno" not in html


def test_generate_plain_text_includes_the_chain() -> None:
    try:
        try:
            raise KeyError("first")
        except KeyError as first:
            raise RuntimeError("second") from first
    except RuntimeError as exc:
        text = ServerErrorMiddleware(failing_app).generate_plain_text(exc)
    assert "KeyError: 'first'" in text
    assert "The above exception was the direct cause" in text
    assert text.rstrip().endswith("RuntimeError: second")
