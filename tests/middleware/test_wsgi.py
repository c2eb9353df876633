from __future__ import annotations

import importlib
import io
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import anyio
import pytest

import stellate_middleware
from stellate_asgi.exceptions import StellateDeprecationWarning
from stellate_asgi.types import Message, Receive, Scope
from stellate_middleware.body_limit import RequestBodyLimitMiddleware
from stellate_routing import Mount, Router
from stellate_websockets.websockets import WebSocketDisconnect
from tests.conftest import TestClientFactory

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StellateDeprecationWarning)
    from stellate_middleware.wsgi import WSGIMiddleware, WSGIResponder, build_environ

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def http_scope(**extra: Any) -> Scope:
    scope: Scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "server": ("testserver", 80),
    }
    scope.update(extra)
    return scope


def request_messages(*chunks: bytes) -> Receive:
    """The request body in `chunks`, then (once asked again) a disconnect."""
    messages: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks or (b"",))
    ]
    pending = iter(messages)

    async def receive() -> Message:
        message = next(pending, None)
        if message is None:
            await anyio.sleep_forever()
        assert message is not None
        return message

    return receive


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def echo(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [body]


def show_environ(*keys: str) -> Callable[[Environ, StartResponse], Iterable[bytes]]:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [repr([environ.get(key) for key in keys]).encode()]

    return app


# --- deprecation ---------------------------------------------------------------------------


def test_importing_the_module_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    # Imported afresh; the module the other tests use is put back afterwards.
    module = sys.modules["stellate_middleware.wsgi"]
    monkeypatch.setattr(stellate_middleware, "wsgi", module, raising=False)
    monkeypatch.delitem(sys.modules, "stellate_middleware.wsgi")
    with pytest.warns(StellateDeprecationWarning, match="is deprecated") as record:
        importlib.import_module("stellate_middleware.wsgi")
    assert str(record[0].message) == (
        "stellate.middleware.wsgi is deprecated and will be removed in a future release. "
        "Please refer to https://github.com/abersheeran/a2wsgi as a replacement."
    )


# --- requests and responses ------------------------------------------------------------------


def test_echo_around_a_bare_app(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(WSGIMiddleware(echo))
    assert client.post("/", content=b"hello").content == b"hello"
    assert client.get("/").content == b""


def test_mounted_in_a_router(test_client_factory: TestClientFactory) -> None:
    app = Router([Mount("/legacy", WSGIMiddleware(show_environ("SCRIPT_NAME", "PATH_INFO")))])
    response = test_client_factory(app).get("/legacy/some/page")
    assert response.text == "['/legacy', '/some/page']"


def test_chunked_request_gets_a_content_length(test_client_factory: TestClientFactory) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"abc"
        yield b"def"

    client = test_client_factory(WSGIMiddleware(show_environ("CONTENT_LENGTH")))
    assert client.post("/", content=chunks()).text == "['6']"
    assert client.get("/").text == "[None]"


def test_headers_in_the_environ(test_client_factory: TestClientFactory) -> None:
    app = WSGIMiddleware(show_environ("HTTP_X_TAG", "HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"))
    client = test_client_factory(app)
    response = client.get(
        "/",
        headers=[("X-Tag", "a"), ("X-Tag", "b"), ("X_Forwarded_For", "6.6.6.6")],
    )
    # Joined with commas; the underscore header cannot pose as X-Forwarded-For.
    assert response.text == "['a,b', None, 'testclient']"


def test_non_ascii_query_string_is_not_an_error() -> None:
    environ = build_environ(http_scope(query_string=b"q=\xe9t\xe9"), b"")
    assert environ["QUERY_STRING"] == "q=\xe9t\xe9"


def test_errors_stream_is_stdout_as_in_starlette() -> None:
    assert build_environ(http_scope(), b"")["wsgi.errors"] is sys.stdout


def test_response_headers_beyond_latin_1(test_client_factory: TestClientFactory) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(
            "200 OK", [("X-Latin", "caf\xe9"), ("X-Emoji", "\U0001f600"), (" X-Spaced ", " v ")]
        )
        return [b""]

    response = test_client_factory(WSGIMiddleware(app)).get("/")
    assert response.headers.raw[:3] == [
        (b"x-latin", b"caf\xe9"),
        (b"x-emoji", "\U0001f600".encode()),
        (b"x-spaced", b"v"),
    ]


@pytest.mark.anyio
async def test_response_streams_and_the_iterable_is_closed() -> None:
    events: list[str] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            for chunk in (b"one", b"", b"two"):
                events.append(f"yield {chunk!r}")
                yield chunk

        def close(self) -> None:
            events.append("closed")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return Body()

    recorder = Recorder()
    await WSGIMiddleware(app)(http_scope(), request_messages(), recorder)
    assert recorder.sent == [
        {"type": "http.response.start", "status": 200, "headers": []},
        {"type": "http.response.body", "body": b"one", "more_body": True},
        {"type": "http.response.body", "body": b"two", "more_body": True},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]
    assert events[-1] == "closed"


def test_legacy_write_callable(test_client_factory: TestClientFactory) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [])
        write(b"written, ")
        return [b"returned"]

    assert test_client_factory(WSGIMiddleware(app)).get("/").text == "written, returned"


def test_app_runs_in_a_worker_thread(test_client_factory: TestClientFactory) -> None:
    threads: list[threading.Thread] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        threads.append(threading.current_thread())
        start_response("204 No Content", [])
        return []

    response = test_client_factory(WSGIMiddleware(app)).get("/")
    assert response.status_code == 204
    assert threads[0] is not threading.main_thread()


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_error_before_the_first_chunk_sends_nothing() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        failing = True
        if failing:
            raise ValueError("failed before any body")
        yield b""  # pragma: no cover

    recorder = Recorder()
    with pytest.raises(ValueError, match="failed before any body"):
        await WSGIMiddleware(app)(http_scope(), request_messages(), recorder)
    # Nothing went out, so an error handler outside can still answer 500.
    assert recorder.sent == []


@pytest.mark.anyio
async def test_exc_info_after_the_headers_went_out_is_raised() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"partial"
        try:
            raise KeyError("late failure")
        except KeyError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"  # pragma: no cover

    recorder = Recorder()
    with pytest.raises(KeyError, match="late failure"):
        await WSGIMiddleware(app)(http_scope(), request_messages(), recorder)
    assert recorder.sent[0]["status"] == 200
    assert recorder.body == b"partial"


@pytest.mark.anyio
async def test_exc_info_replaces_the_pending_response() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("X-First", "1")])
        try:
            raise KeyError("replaced")
        except KeyError:
            start_response("503 Service Unavailable", [("X-Second", "2")], sys.exc_info())
        return [b"sorry"]

    recorder = Recorder()
    with pytest.raises(KeyError, match="replaced"):
        await WSGIMiddleware(app)(http_scope(), request_messages(), recorder)
    assert recorder.sent[0] == {
        "type": "http.response.start",
        "status": 503,
        "headers": [(b"x-second", b"2")],
    }
    assert recorder.body == b"sorry"


@pytest.mark.parametrize(
    ("app_body", "message"),
    [
        ("twice", "called twice"),
        ("no start", "before calling start_response"),
    ],
)
def test_start_response_misuse(
    test_client_factory: TestClientFactory, app_body: str, message: str
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if app_body == "twice":
            start_response("200 OK", [])
            start_response("200 OK", [])
        return [b"body"]

    with pytest.raises(RuntimeError, match=message):
        test_client_factory(WSGIMiddleware(app)).get("/")


@pytest.mark.anyio
async def test_failing_send_stops_and_closes_the_app() -> None:
    closed = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        try:
            while True:
                yield b"x" * 1024
        finally:
            closed.set()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("client went away")

    with anyio.fail_after(5), pytest.raises(OSError, match="client went away"):
        await WSGIMiddleware(app)(http_scope(), request_messages(), send)
    assert closed.is_set()


@pytest.mark.anyio
async def test_disconnect_stops_an_endless_response() -> None:
    closed = threading.Event()
    first_chunk_out = anyio.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        try:
            while True:
                yield b"tick"
        finally:
            closed.set()

    body_read = False

    async def receive() -> Message:
        nonlocal body_read
        if not body_read:
            body_read = True
            return {"type": "http.request", "body": b""}
        await first_chunk_out.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            first_chunk_out.set()

    with anyio.fail_after(5):
        await WSGIMiddleware(app)(http_scope(), receive, send)
    assert closed.is_set()


# --- request bodies ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_large_body_is_spooled_to_a_file() -> None:
    seen: dict[str, Any] = {}

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        seen["in memory"] = isinstance(stream, io.BytesIO)
        seen["length"] = environ["CONTENT_LENGTH"]
        data = stream.read()
        start_response("200 OK", [])
        return [str(len(data)).encode(), b" ", data[:3], data[-3:]]

    chunk = b"a" * 65536
    chunks = [b"abc", *([chunk] * 20), b"xyz"]
    recorder = Recorder()
    await WSGIMiddleware(app)(http_scope(method="POST"), request_messages(*chunks), recorder)
    total = 6 + 20 * 65536
    assert recorder.body == f"{total} abcxyz".encode()
    assert seen == {"in memory": False, "length": str(total)}


def test_body_limit_applies(test_client_factory: TestClientFactory) -> None:
    called = False

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        nonlocal called
        called = True
        return echo(environ, start_response)

    client = test_client_factory(RequestBodyLimitMiddleware(WSGIMiddleware(app), max_body_size=4))
    assert client.post("/", content=b"1234").content == b"1234"
    response = client.post("/", content=b"12345")
    assert (response.status_code, response.text) == (413, "Content Too Large")

    called = False

    def chunks() -> Iterator[bytes]:
        yield from (b"12", b"34", b"56")

    assert client.post("/", content=chunks()).status_code == 413
    assert not called


def test_body_limit_applies_to_a_spooled_body(test_client_factory: TestClientFactory) -> None:
    megabyte = b"m" * (1024 * 1024)

    def chunks() -> Iterator[bytes]:
        yield from (megabyte, megabyte, megabyte)

    app = RequestBodyLimitMiddleware(WSGIMiddleware(echo), max_body_size=2 * len(megabyte))
    assert test_client_factory(app).post("/", content=chunks()).status_code == 413


@pytest.mark.anyio
async def test_client_leaving_mid_body_skips_the_app() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise AssertionError("the app should not run")  # pragma: no cover

    messages: Iterator[Message] = iter(
        [
            {"type": "http.request", "body": b"a" * (2 * 1024 * 1024), "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> Message:
        return next(messages)

    recorder = Recorder()
    await WSGIMiddleware(app)(http_scope(method="POST"), receive, recorder)
    assert recorder.sent == []


# --- other scopes ----------------------------------------------------------------------------


def test_lifespan_is_answered(test_client_factory: TestClientFactory) -> None:
    with test_client_factory(WSGIMiddleware(echo)) as client:
        assert client.post("/", content=b"up").content == b"up"


def test_websocket_is_refused(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(WSGIMiddleware(echo))
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/"):
        pass  # pragma: no cover


def test_responder_used_directly() -> None:
    responder = WSGIResponder(echo, http_scope())
    assert responder.response_started is False
    assert responder.exc_info is None
