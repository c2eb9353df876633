from __future__ import annotations

import gzip
import random
import threading
import time
import zlib
from collections.abc import AsyncIterator

import anyio
import pytest

from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_http.background import BackgroundTask
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response, StreamingResponse
from stellate_middleware import Middleware
from stellate_middleware import gzip as gzip_module
from stellate_middleware._compress import GzipEncoder
from stellate_middleware.gzip import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    GZipMiddleware,
    GZipResponder,
    IdentityResponder,
    unattached_send,
)
from stellate_routing.routing import Route, Router, WebSocketRoute
from stellate_websockets.websockets import WebSocket
from tests.conftest import TestClientFactory
from tests.middleware._messages import body, call, header, http_scope, raw_app, start, text_app

BIG = "x" * 4000


# --- Standard responses -------------------------------------------------------------


def test_compresses_a_large_response_of_a_bare_app(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(GZipMiddleware(text_app(BIG)))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.text == BIG
    assert int(response.headers["content-length"]) < len(BIG)


@pytest.mark.anyio
async def test_compressed_body_and_length_on_the_wire() -> None:
    sent = await call(GZipMiddleware(text_app(BIG)), http_scope())
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert gzip.decompress(sent[1]["body"]).decode() == BIG
    assert header(sent[0], b"content-length") == str(len(sent[1]["body"])).encode()
    assert header(sent[0], b"content-encoding") == b"gzip"
    assert not sent[1].get("more_body", False)


@pytest.mark.anyio
async def test_many_distinct_accept_encodings_are_each_negotiated() -> None:
    # Verdicts are remembered per value, up to a bound: values past it are still
    # parsed correctly, and memory stays bounded whatever clients send.
    app = GZipMiddleware(text_app(BIG))
    for index in range(gzip_module._GZIP_VERDICTS_MAX + 50):
        accepts = index % 2 == 0
        value = f"br;q=0.{index % 10}, x-{index}, gzip;q={'1' if accepts else '0'}"
        sent = await call(app, http_scope(accept_encoding=value))
        assert header(sent[0], b"content-encoding") == (b"gzip" if accepts else None)
    assert len(gzip_module._GZIP_VERDICTS) <= gzip_module._GZIP_VERDICTS_MAX


def test_not_compressed_without_gzip_in_accept_encoding(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(GZipMiddleware(text_app(BIG)))
    response = client.get("/", headers={"accept-encoding": "identity"})
    assert response.status_code == 200
    assert response.text == BIG
    assert "content-encoding" not in response.headers
    assert response.headers["content-length"] == str(len(BIG))
    # The representation still depends on Accept-Encoding, so caches must know it.
    assert response.headers["vary"] == "Accept-Encoding"


def test_small_responses_are_left_alone(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(GZipMiddleware(text_app("OK" * 10)))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.text == "OK" * 10
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert response.headers["content-length"] == "20"


def test_minimum_size_is_configurable(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(GZipMiddleware(text_app("OK" * 10), minimum_size=20))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == "OK" * 10


@pytest.mark.anyio
async def test_an_empty_body_is_never_compressed() -> None:
    app = GZipMiddleware(raw_app(start(200, (b"content-length", b"12")), body(b"")), 0)
    sent = await call(app, http_scope())
    assert header(sent[0], b"content-encoding") is None
    assert header(sent[0], b"content-length") == b"12"
    assert sent[1]["body"] == b""


def test_head_requests_get_the_headers_of_get(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(GZipMiddleware(text_app(BIG)))
    head = client.head("/", headers={"accept-encoding": "gzip"})
    get = client.get("/", headers={"accept-encoding": "gzip"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers == get.headers


def test_compresslevel_is_used(test_client_factory: TestClientFactory) -> None:
    content = "".join(random.Random(0).choice("abcdefgh ") for _ in range(20000))
    sizes = []
    for level in (1, 9):
        client = test_client_factory(GZipMiddleware(text_app(content), compresslevel=level))
        response = client.get("/", headers={"accept-encoding": "gzip"})
        assert response.text == content
        sizes.append(int(response.headers["content-length"]))
    assert sizes[1] < sizes[0]


def test_invalid_compresslevel_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="between -1 and 9"):
        GZipMiddleware(text_app(BIG), compresslevel=10)
    with pytest.raises(TypeError):
        GZipMiddleware(text_app(BIG), compresslevel="9")  # type: ignore[arg-type]


def test_background_task_runs_after_a_compressed_response(
    test_client_factory: TestClientFactory,
) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = PlainTextResponse(BIG, background=BackgroundTask(events.append, "done"))
        await response(scope, receive, send)

    client = test_client_factory(GZipMiddleware(app))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == BIG
    assert events == ["done"]


# --- Streaming responses ------------------------------------------------------------


def test_streaming_response_is_compressed(test_client_factory: TestClientFactory) -> None:
    async def numbers() -> AsyncIterator[str]:
        for index in range(10):
            yield f"chunk {index} " * 50

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = StreamingResponse(
            numbers(), media_type="text/plain", headers={"content-length": "123456"}
        )
        await response(scope, receive, send)

    client = test_client_factory(GZipMiddleware(app))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert "content-length" not in response.headers
    assert response.text == "".join(f"chunk {index} " * 50 for index in range(10))


def test_streaming_response_identity_keeps_its_headers(
    test_client_factory: TestClientFactory,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a" * 1000
        yield b"b" * 1000

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = StreamingResponse(chunks(), headers={"content-length": "2000"})
        await response(scope, receive, send)

    client = test_client_factory(GZipMiddleware(app))
    response = client.get("/", headers={"accept-encoding": "identity"})
    assert response.content == b"a" * 1000 + b"b" * 1000
    assert "content-encoding" not in response.headers
    assert response.headers["content-length"] == "2000"
    assert response.headers["vary"] == "Accept-Encoding"


@pytest.mark.anyio
async def test_each_streamed_chunk_is_flushed() -> None:
    # Even small chunks are compressed once the body streams, and every message decodes
    # on its own as soon as it arrives (server-sent-style latency is preserved).
    chunks = [b"first", b"second " * 100, b"", b"third"]
    messages = [start(200, (b"content-type", b"text/plain"))]
    messages += [body(chunk, more_body=True) for chunk in chunks]
    messages.append(body(b""))
    sent = await call(GZipMiddleware(raw_app(*messages)), http_scope())
    assert header(sent[0], b"content-encoding") == b"gzip"
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    for chunk, message in zip(chunks, sent[1:], strict=False):
        assert message["more_body"] is True
        assert decoder.decompress(message["body"]) == chunk
    assert sent[-1]["more_body"] is False
    assert decoder.decompress(sent[-1]["body"]) == b""
    assert decoder.eof


@pytest.mark.anyio
async def test_huge_streamed_body_is_compressed_incrementally() -> None:
    # 32 MiB streamed in 64 KiB chunks: every compressed message is about one chunk's
    # worth, so nothing accumulates in the middleware.
    chunk = bytes(range(256)) * 256
    count = 512

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(200, (b"content-type", b"application/octet-stream")))
        for _ in range(count):
            await send(body(chunk, more_body=True))
        await send(body(b""))

    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    total = 0
    largest = 0
    messages = 0

    async def send(message: Message) -> None:
        nonlocal total, largest, messages
        if message["type"] == "http.response.body":
            messages += 1
            largest = max(largest, len(message["body"]))
            total += len(decoder.decompress(message["body"]))

    async def receive() -> Message:
        return {"type": "http.request"}  # pragma: no cover

    await GZipMiddleware(app, compresslevel=1)(http_scope(), receive, send)
    assert total == len(chunk) * count
    assert messages == count + 1
    assert largest <= len(chunk) + 1024
    assert decoder.eof


# --- What is never compressed -------------------------------------------------------


def test_responses_with_content_encoding_are_untouched(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = Response(BIG.encode(), headers={"content-encoding": "text"})
        await response(scope, receive, send)

    client = test_client_factory(GZipMiddleware(app))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "text"
    assert response.headers["content-length"] == str(len(BIG))
    assert "vary" not in response.headers
    assert response.content == BIG.encode()


def test_partial_responses_are_untouched(test_client_factory: TestClientFactory) -> None:
    app = text_app(BIG, status_code=206, headers={"content-range": "bytes 0-3999/8000"})
    client = test_client_factory(GZipMiddleware(app))
    response = client.get("/", headers={"accept-encoding": "gzip", "range": "bytes=0-3999"})
    assert response.status_code == 206
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert response.headers["content-length"] == str(len(BIG))
    assert response.text == BIG


@pytest.mark.parametrize(
    "content_type",
    [
        "text/event-stream",
        "Text/Event-Stream; charset=utf-8",
        "image/png",
        "image/jpeg",
        "video/mp4",
        "audio/ogg",
        "font/woff2",
        "application/zip",
        "application/grpc",
        "application/grpc+proto",
    ],
)
def test_excluded_content_types_are_untouched(
    test_client_factory: TestClientFactory, content_type: str
) -> None:
    app = raw_app(start(200, (b"content-type", content_type.encode())), body(BIG.encode()))
    client = test_client_factory(GZipMiddleware(app))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert response.text == BIG


@pytest.mark.parametrize("content_type", ["image/svg+xml", "font/ttf", "text/event-streams"])
def test_similar_content_types_are_compressed(
    test_client_factory: TestClientFactory, content_type: str
) -> None:
    app = raw_app(start(200, (b"content-type", content_type.encode())), body(BIG.encode()))
    client = test_client_factory(GZipMiddleware(app))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == BIG


def test_server_sent_events_stream_uncompressed(test_client_factory: TestClientFactory) -> None:
    async def events() -> AsyncIterator[str]:
        for index in range(3):
            yield f"data: {index}\n\n" * 100

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await StreamingResponse(events(), media_type="text/event-stream")(scope, receive, send)

    client = test_client_factory(GZipMiddleware(app))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers
    assert response.text == "".join(f"data: {index}\n\n" * 100 for index in range(3))


def test_exclude_content_types_replaces_the_defaults(
    test_client_factory: TestClientFactory,
) -> None:
    events = raw_app(start(200, (b"content-type", b"text/event-stream")), body(BIG.encode()))
    client = test_client_factory(GZipMiddleware(events, exclude_content_types=()))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"

    json_app = raw_app(
        start(200, (b"content-type", b"application/json; charset=utf-8")), body(BIG.encode())
    )
    excluded = ("Application/JSON; charset=utf-8", "image/*")
    client = test_client_factory(GZipMiddleware(json_app, exclude_content_types=excluded))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers

    svg = raw_app(start(200, (b"content-type", b"image/svg+xml")), body(BIG.encode()))
    client = test_client_factory(GZipMiddleware(svg, exclude_content_types=excluded))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers


def test_default_excluded_content_types() -> None:
    assert DEFAULT_EXCLUDED_CONTENT_TYPES == (
        "application/grpc",
        "application/gzip",
        "application/x-gzip",
        "application/zip",
        "audio/*",
        "font/woff",
        "font/woff2",
        "image/avif",
        "image/gif",
        "image/jpeg",
        "image/png",
        "image/webp",
        "text/event-stream",
        "video/*",
    )


@pytest.mark.anyio
async def test_pathsend_responses_are_untouched() -> None:
    app = raw_app(
        start(200, (b"content-type", b"text/plain")),
        {"type": "http.response.pathsend", "path": "/tmp/file.txt"},
    )
    scope = http_scope(extensions={"http.response.pathsend": {}})
    sent = await call(GZipMiddleware(app, minimum_size=0), scope)
    assert sent == [
        start(200, (b"content-type", b"text/plain")),
        {"type": "http.response.pathsend", "path": "/tmp/file.txt"},
    ]


@pytest.mark.anyio
async def test_a_body_without_a_start_is_forwarded_as_it_is() -> None:
    # A broken app: the server, not the middleware, should report it.
    sent = await call(GZipMiddleware(raw_app(body(BIG.encode()))), http_scope())
    assert sent == [body(BIG.encode())]


# --- Headers ------------------------------------------------------------------------


def test_vary_is_extended_not_duplicated(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(GZipMiddleware(text_app(BIG, headers={"vary": "Origin"})))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["vary"] == "Origin, Accept-Encoding"

    app = text_app(BIG, headers={"vary": "accept-encoding"})
    client = test_client_factory(GZipMiddleware(app))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["vary"] == "accept-encoding"
    assert response.headers["content-encoding"] == "gzip"


@pytest.mark.anyio
async def test_response_trailers_follow_the_compressed_body() -> None:
    trailers: Message = {
        "type": "http.response.trailers",
        "headers": [(b"x-checksum", b"abc")],
        "more_trailers": True,
    }
    last: Message = {"type": "http.response.trailers", "headers": [(b"x-more", b"1")]}
    app = raw_app(
        start(200, (b"content-type", b"text/plain"), trailers=True),
        body(BIG.encode(), more_body=True),
        body(b""),
        trailers,
        last,
    )
    sent = await call(GZipMiddleware(app), http_scope())
    assert sent[0]["trailers"] is True
    assert header(sent[0], b"content-encoding") == b"gzip"
    assert gzip.decompress(sent[1]["body"] + sent[2]["body"]) == BIG.encode()
    assert sent[3:] == [trailers, last]


def test_response_trailers_through_the_test_client(
    test_client_factory: TestClientFactory,
) -> None:
    app = raw_app(
        start(200, (b"content-type", b"text/plain"), trailers=True),
        body(BIG.encode()),
        {"type": "http.response.trailers", "headers": [(b"grpc-status", b"0")]},
    )
    client = test_client_factory(GZipMiddleware(app))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == BIG
    assert response.extensions["http.response.trailers"] == [(b"grpc-status", b"0")]
    assert "grpc-status" not in response.headers


@pytest.mark.anyio
async def test_debug_messages_pass_through() -> None:
    debug: Message = {"type": "http.response.debug", "info": {"template": "x"}}
    app = raw_app(debug, start(200), body(BIG.encode()))
    sent = await call(GZipMiddleware(app), http_scope())
    assert sent[0] == debug
    assert header(sent[1], b"content-encoding") == b"gzip"


# --- Accept-Encoding negotiation ----------------------------------------------------


@pytest.mark.parametrize(
    "accept_encoding",
    ["gzip", "GZIP", "deflate, gzip;q=1.0, *;q=0.5", "x-gzip", "*", "br;q=1, gzip;q=0.001"],
)
def test_accepting_values(test_client_factory: TestClientFactory, accept_encoding: str) -> None:
    client = test_client_factory(GZipMiddleware(text_app(BIG)))
    response = client.get("/", headers={"accept-encoding": accept_encoding})
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == BIG


@pytest.mark.parametrize(
    "accept_encoding",
    [
        "",
        "identity",
        "gzip;q=0",
        "gzip; q=0.000",
        "*;q=0",
        "br, deflate",
        "gzip;q=0.5, identity",
        "gzip;q=abc",
        "gzip;q=1.5",
        "gzip;q=",
        "gzipx",
        "not gzip",
        "\x00gzip\xff",
        ";;;,,,==q=1",
    ],
)
def test_refusing_and_garbage_values(
    test_client_factory: TestClientFactory, accept_encoding: str
) -> None:
    client = test_client_factory(GZipMiddleware(text_app(BIG)))
    response = client.get("/", headers=[(b"accept-encoding", accept_encoding.encode("latin-1"))])
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.text == BIG


@pytest.mark.anyio
async def test_huge_accept_encoding_headers_are_bounded() -> None:
    app = GZipMiddleware(text_app(BIG))
    # A megabyte of entries before the real one: only a bounded prefix is read.
    value = "a;q=0.5, " * 120_000 + "gzip"
    sent = await call(app, http_scope(value))
    assert header(sent[0], b"content-encoding") is None
    # Many header lines: same.
    scope = http_scope(None)
    scope["headers"] = [(b"accept-encoding", b"nope" * 1000)] * 1000 + [
        (b"accept-encoding", b"gzip")
    ]
    sent = await call(app, scope)
    assert header(sent[0], b"content-encoding") is None
    # Several short lines are combined.
    scope["headers"] = [(b"accept-encoding", b"br"), (b"accept-encoding", b"gzip")]
    sent = await call(app, scope)
    assert header(sent[0], b"content-encoding") == b"gzip"


# --- Worker threads -----------------------------------------------------------------


@pytest.mark.anyio
async def test_large_chunks_are_compressed_in_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[tuple[int, int]] = []
    original = GzipEncoder.encode

    def recording_encode(self: GzipEncoder, data: bytes, final: bool) -> bytes:
        threads.append((len(data), threading.get_ident()))
        return original(self, data, final)

    monkeypatch.setattr(GzipEncoder, "encode", recording_encode)
    loop_thread = threading.get_ident()
    app = raw_app(
        start(200),
        body(b"a" * 2048, more_body=True),
        body(b"b" * 1000, more_body=True),
        body(b""),
    )
    sent = await call(GZipMiddleware(app, thread_minimum_size=2048), http_scope())
    assert gzip.decompress(b"".join(m["body"] for m in sent[1:])) == b"a" * 2048 + b"b" * 1000
    assert [size for size, _ in threads] == [2048, 1000, 0]
    assert threads[0][1] != loop_thread
    assert threads[1][1] == loop_thread
    assert threads[2][1] == loop_thread


@pytest.mark.anyio
async def test_default_thread_minimum_size(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    original = GzipEncoder.encode

    def recording_encode(self: GzipEncoder, data: bytes, final: bool) -> bytes:
        threads.append(threading.get_ident())
        return original(self, data, final)

    monkeypatch.setattr(GzipEncoder, "encode", recording_encode)
    payload = b"z" * 131072
    sent = await call(GZipMiddleware(raw_app(start(200), body(payload))), http_scope())
    assert gzip.decompress(sent[1]["body"]) == payload
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()
    assert GZipMiddleware(text_app("")).thread_minimum_size == 131072


@pytest.mark.anyio
async def test_the_event_loop_keeps_running_while_a_big_chunk_compresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = GzipEncoder.encode

    def slow_encode(self: GzipEncoder, data: bytes, final: bool) -> bytes:
        time.sleep(0.3)  # a compression that takes a long time
        return original(self, data, final)

    monkeypatch.setattr(GzipEncoder, "encode", slow_encode)
    ticks = 0
    done = anyio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await anyio.sleep(0.01)

    app = GZipMiddleware(raw_app(start(200), body(b"q" * 200_000)))
    async with anyio.create_task_group() as group:
        group.start_soon(ticker)
        sent = await call(app, http_scope())
        done.set()
    assert gzip.decompress(sent[1]["body"]) == b"q" * 200_000
    assert ticks >= 5


# --- Responders ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_responders_apply_compression() -> None:
    app = text_app(BIG)
    identity = IdentityResponder(app, 500)
    assert await identity.apply_compression(b"abc", more_body=False) == b"abc"
    assert identity.content_encoding == "identity"

    responder = GZipResponder(app, 500)
    assert responder.thread_minimum_size == 131072
    assert responder.compresslevel == 9
    assert responder.content_encoding == "gzip"
    compressor = responder.compressor
    assert responder.compressor is compressor
    first = await responder.apply_compression(b"hello ", more_body=True)
    last = await responder.apply_compression(b"world", more_body=False)
    assert gzip.decompress(first + last) == b"hello world"


@pytest.mark.anyio
async def test_unattached_send_raises() -> None:
    with pytest.raises(RuntimeError, match="send awaitable not set"):
        await unattached_send({"type": "http.response.start"})


@pytest.mark.anyio
async def test_responder_used_directly() -> None:
    responder = GZipResponder(text_app(BIG), 100, compresslevel=1, thread_minimum_size=10)
    sent = await call(responder, http_scope())
    assert header(sent[0], b"content-encoding") == b"gzip"
    assert gzip.decompress(sent[1]["body"]).decode() == BIG


# --- Other scopes, routers ----------------------------------------------------------


@pytest.mark.anyio
async def test_non_http_scopes_pass_through() -> None:
    seen: list[tuple[str, Receive, Send]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["type"], receive, send))

    async def receive() -> Message:
        return {}  # pragma: no cover

    async def send(message: Message) -> None:
        pass  # pragma: no cover

    middleware = GZipMiddleware(app)
    await middleware({"type": "lifespan"}, receive, send)
    await middleware({"type": "websocket", "headers": []}, receive, send)
    assert seen == [("lifespan", receive, send), ("websocket", receive, send)]


def test_inside_a_router(test_client_factory: TestClientFactory) -> None:
    async def homepage(request: Request) -> PlainTextResponse:
        return PlainTextResponse(BIG)

    async def small(request: Request) -> PlainTextResponse:
        return PlainTextResponse("tiny")

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    router = Router(
        routes=[Route("/", homepage), Route("/small", small), WebSocketRoute("/ws", echo)],
        middleware=[Middleware(GZipMiddleware, minimum_size=100)],
    )
    client = test_client_factory(router)
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == BIG
    response = client.get("/small", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers
    assert response.text == "tiny"
    response = client.get("/missing", headers={"accept-encoding": "gzip"})
    assert response.status_code == 404
    with client.websocket_connect("/ws") as websocket:
        websocket.send_text("hello")
        assert websocket.receive_text() == "hello"


def test_around_a_router(test_client_factory: TestClientFactory) -> None:
    async def homepage(request: Request) -> PlainTextResponse:
        return PlainTextResponse(BIG)

    client = test_client_factory(GZipMiddleware(Router(routes=[Route("/", homepage)])))
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == BIG
