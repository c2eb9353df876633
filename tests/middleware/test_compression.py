from __future__ import annotations

import gzip
import sys
import threading
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import brotli
import pytest
import zstandard

from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response, StreamingResponse
from stellate_middleware import Middleware
from stellate_middleware._compress import Encoder, encode, negotiate, parse_accept_encoding
from stellate_middleware.compression import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    CompressionMiddleware,
    MissingCodecError,
)
from stellate_routing.routing import Route, Router, WebSocketRoute
from stellate_websockets.websockets import WebSocket
from tests.conftest import TestClientFactory
from tests.middleware._messages import body, call, header, http_scope, raw_app, start, text_app

BIG = "compress me, " * 400


class Decoder:
    """An incremental decoder for one content coding."""

    def __init__(self, coding: str) -> None:
        self.decompress: Callable[[bytes], bytes]
        if coding == "gzip":
            self.decompress = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress
        elif coding == "br":
            self.decompress = brotli.Decompressor().process
        else:
            self.decompress = zstandard.ZstdDecompressor().decompressobj().decompress


def decode(coding: str, data: bytes) -> bytes:
    return Decoder(coding).decompress(data)


# --- Negotiation --------------------------------------------------------------------


def test_default_encodings_are_every_installed_codec() -> None:
    middleware = CompressionMiddleware(text_app(BIG))
    assert middleware.encodings == ("zstd", "br", "gzip")
    assert middleware.minimum_size == 500
    assert middleware.thread_minimum_size == 131072
    assert middleware.exclude_content_types == DEFAULT_EXCLUDED_CONTENT_TYPES


@pytest.mark.parametrize(
    ("accept_encoding", "expected"),
    [
        ("gzip, deflate, br, zstd", "zstd"),
        ("gzip, br", "br"),
        ("gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("BR", "br"),
        ("zstd;q=0.5, br;q=0.9, gzip;q=0.1", "br"),
        ("gzip;q=1, br;q=0.999", "gzip"),
        ("zstd;q=0, br;q=0, gzip", "gzip"),
        ("*", "zstd"),
        ("*;q=0.1, gzip", "gzip"),
        ("*, zstd;q=0", "br"),
        ("identity, gzip", "gzip"),
        ("identity;q=0.5, br;q=0.6", "br"),
        ("br;q=0.5, identity", None),
        ("identity", None),
        ("", None),
        ("deflate, compress", None),
        ("*;q=0", None),
        ("gzip;q=0, br;q=0, zstd;q=0", None),
        ("gzip;q=2", None),
        ("gzip;q=-1", None),
        ("gzip;q=0.5;q=0", None),
        ("gzip;level=1, br;q=0.3", "br"),
        ("gzip;q=1.0001", None),
        ("g zip, b r", None),
        ("gzip,gzip;q=0", None),
    ],
)
def test_negotiation(
    test_client_factory: TestClientFactory, accept_encoding: str, expected: str | None
) -> None:
    client = test_client_factory(CompressionMiddleware(text_app(BIG)))
    with client.stream("GET", "/", headers={"accept-encoding": accept_encoding}) as response:
        raw = b"".join(response.iter_raw())
    assert response.status_code == 200
    assert response.headers.get("content-encoding") == expected
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-length"] == str(len(raw))
    if expected is None:
        assert raw == BIG.encode()
    else:
        assert decode(expected, raw) == BIG.encode()


@pytest.mark.parametrize(
    ("encodings", "accept_encoding", "expected"),
    [
        (("gzip", "br"), "br, gzip, zstd", "gzip"),
        (("gzip", "br"), "zstd", None),
        (("br",), "gzip, br", "br"),
        (("Zstd", " GZIP "), "*", "zstd"),
        (["gzip"], "gzip, br, zstd", "gzip"),
    ],
)
def test_server_preference_order(
    test_client_factory: TestClientFactory,
    encodings: tuple[str, ...],
    accept_encoding: str,
    expected: str | None,
) -> None:
    client = test_client_factory(CompressionMiddleware(text_app(BIG), encodings=encodings))
    response = client.get("/", headers={"accept-encoding": accept_encoding})
    assert response.headers.get("content-encoding") == expected
    assert response.text == BIG


def test_parse_accept_encoding_is_bounded() -> None:
    assert parse_accept_encoding("gzip;q=0.8, BR , zstd;q=0, *;q=0.001") == {
        "gzip": 0.8,
        "br": 1.0,
        "zstd": 0.0,
        "*": 0.001,
    }
    assert parse_accept_encoding("gzip, gzip;q=0.5, gzip") == {"gzip": 0.5}
    assert parse_accept_encoding(",,, ;q=1, \x00, gz\x7fip, é") == {}
    many = ", ".join(f"coding{index}" for index in range(10_000))
    assert len(parse_accept_encoding(many)) < 100
    assert parse_accept_encoding("x" * 10_000_000 + ", gzip") == {}
    # A value cut short never turns a refusal into an acceptance.
    assert parse_accept_encoding(" " * 4090 + "gzip;q=0") == {}
    assert parse_accept_encoding("br, " + "a, " * 100 + "gzip;q=0") == {"br": 1.0, "a": 1.0}
    assert negotiate({"gzip": 0.5, "br": 0.5}, ("br", "gzip")) == "br"
    assert negotiate({}, ("br", "gzip")) is None


# --- Each codec ---------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
def test_each_codec_through_the_test_client(
    test_client_factory: TestClientFactory, coding: str
) -> None:
    client = test_client_factory(CompressionMiddleware(text_app(BIG)))
    response = client.get("/", headers={"accept-encoding": coding})
    assert response.headers["content-encoding"] == coding
    assert int(response.headers["content-length"]) < len(BIG)
    assert response.text == BIG


@pytest.mark.anyio
@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
async def test_each_streamed_chunk_is_flushed(coding: str) -> None:
    chunks = [b"one", b"two " * 300, b"", b"three"]
    messages = [start(200, (b"content-length", b"9999"))]
    messages += [body(chunk, more_body=True) for chunk in chunks]
    messages.append(body(b"four"))
    sent = await call(CompressionMiddleware(raw_app(*messages)), http_scope(coding))
    assert header(sent[0], b"content-encoding") == coding.encode()
    assert header(sent[0], b"content-length") is None
    assert header(sent[0], b"vary") == b"Accept-Encoding"
    decoder = Decoder(coding)
    for chunk, message in zip(chunks, sent[1:], strict=False):
        assert decoder.decompress(message["body"]) == chunk
    assert decoder.decompress(sent[-1]["body"]) == b"four"
    assert not sent[-1]["more_body"]


@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
def test_streaming_response(test_client_factory: TestClientFactory, coding: str) -> None:
    async def numbers() -> AsyncIterator[str]:
        for index in range(20):
            yield f"{index}," * 20

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await StreamingResponse(numbers(), media_type="text/csv")(scope, receive, send)

    client = test_client_factory(CompressionMiddleware(app))
    response = client.get("/", headers={"accept-encoding": coding})
    assert response.headers["content-encoding"] == coding
    assert "content-length" not in response.headers
    assert response.text == "".join(f"{index}," * 20 for index in range(20))


@pytest.mark.anyio
@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
async def test_huge_streamed_body_stays_bounded(coding: str) -> None:
    chunk = bytes(range(256)) * 256  # 64 KiB
    count = 256  # 16 MiB in all

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(200, (b"content-type", b"application/octet-stream")))
        for _ in range(count):
            await send(body(chunk, more_body=True))
        await send(body(b""))

    decoder = Decoder(coding)
    total = 0
    largest = 0

    async def send(message: Message) -> None:
        nonlocal total, largest
        if message["type"] == "http.response.body":
            largest = max(largest, len(message["body"]))
            total += len(decoder.decompress(message["body"]))

    async def receive() -> Message:
        return {"type": "http.request"}  # pragma: no cover

    middleware = CompressionMiddleware(app, gzip_level=1, brotli_quality=1, zstd_level=1)
    await middleware(http_scope(coding), receive, send)
    assert total == len(chunk) * count
    assert largest <= len(chunk) + 1024


def test_levels_change_the_output(test_client_factory: TestClientFactory) -> None:
    sizes: dict[str, list[int]] = {"gzip": [], "br": [], "zstd": []}
    content = "".join(f"line {index}: {index * 7919 % 1000}\n" for index in range(3000))
    for fast in (True, False):
        middleware = CompressionMiddleware(
            text_app(content),
            gzip_level=1 if fast else 9,
            brotli_quality=0 if fast else 11,
            zstd_level=1 if fast else 19,
        )
        client = test_client_factory(middleware)
        for coding, coding_sizes in sizes.items():
            response = client.get("/", headers={"accept-encoding": coding})
            assert response.text == content
            coding_sizes.append(int(response.headers["content-length"]))
    for fast_size, small_size in sizes.values():
        assert small_size < fast_size


# --- Configuration errors -----------------------------------------------------------


def hide_modules(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make `import name` fail for each of `names`, as if it were not installed."""
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def test_missing_brotli_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_modules(monkeypatch, "brotli", "brotlicffi")
    with pytest.raises(MissingCodecError) as info:
        CompressionMiddleware(text_app(BIG), encodings=("br", "gzip"))
    assert "pip install 'stellate-middleware[brotli]'" in str(info.value)
    assert isinstance(info.value, ImportError)
    # Without explicit configuration, what is installed is used.
    assert CompressionMiddleware(text_app(BIG)).encodings == ("zstd", "gzip")


def test_missing_zstd_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_modules(monkeypatch, "zstandard", "compression.zstd")
    with pytest.raises(MissingCodecError, match=r"pip install 'stellate-middleware\[zstd\]'"):
        CompressionMiddleware(text_app(BIG), encodings=["zstd"])
    assert CompressionMiddleware(text_app(BIG)).encodings == ("br", "gzip")


def test_only_gzip_without_the_extras(
    monkeypatch: pytest.MonkeyPatch, test_client_factory: TestClientFactory
) -> None:
    hide_modules(monkeypatch, "brotli", "brotlicffi", "zstandard", "compression.zstd")
    middleware = CompressionMiddleware(text_app(BIG))
    assert middleware.encodings == ("gzip",)
    client = test_client_factory(middleware)
    response = client.get("/", headers={"accept-encoding": "br, gzip;q=0.5"})
    assert response.headers["content-encoding"] == "gzip"
    response = client.get("/", headers={"accept-encoding": "br, zstd"})
    assert "content-encoding" not in response.headers
    assert response.text == BIG


def test_brotlicffi_is_used_when_brotli_is_missing(
    monkeypatch: pytest.MonkeyPatch, test_client_factory: TestClientFactory
) -> None:
    class FakeCompressor:
        """The streaming API of `brotlicffi.Compressor` (no `process`)."""

        def __init__(self, quality: int) -> None:
            self._compressor = brotli.Compressor(quality=quality)

        def compress(self, data: bytes) -> bytes:
            output: bytes = self._compressor.process(data)
            return output

        def flush(self) -> bytes:
            output: bytes = self._compressor.flush()
            return output

        def finish(self) -> bytes:
            output: bytes = self._compressor.finish()
            return output

    fake = type(sys)("brotlicffi")
    fake.Compressor = FakeCompressor  # type: ignore[attr-defined]
    hide_modules(monkeypatch, "brotli")
    monkeypatch.setitem(sys.modules, "brotlicffi", fake)
    client = test_client_factory(CompressionMiddleware(text_app(BIG), encodings=["br"]))
    with client.stream("GET", "/", headers={"accept-encoding": "br"}) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "br"
    assert brotli.decompress(raw) == BIG.encode()


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"encodings": ("deflate",)}, ValueError, "Unknown content coding 'deflate'"),
        ({"encodings": ("identity",)}, ValueError, "Unknown content coding"),
        ({"encodings": ("gzip", "GZIP")}, ValueError, "listed twice"),
        ({"encodings": ()}, ValueError, "at least one"),
        ({"encodings": "gzip"}, TypeError, "sequence of codings"),
        ({"gzip_level": 11}, ValueError, "gzip level must be between -1 and 9"),
        ({"brotli_quality": 12}, ValueError, "br level must be between 0 and 11"),
        ({"zstd_level": 23}, ValueError, "zstd level must be between"),
        ({"zstd_level": 1.5}, TypeError, "must be an int"),
    ],
)
def test_invalid_configuration(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        CompressionMiddleware(text_app(BIG), **options)


# --- Pass-through rules -------------------------------------------------------------


def test_small_responses_are_left_alone(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(CompressionMiddleware(text_app("tiny")))
    response = client.get("/", headers={"accept-encoding": "zstd, br, gzip"})
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert response.text == "tiny"
    client = test_client_factory(CompressionMiddleware(text_app("tiny"), minimum_size=4))
    response = client.get("/", headers={"accept-encoding": "zstd, br, gzip"})
    assert response.headers["content-encoding"] == "zstd"
    assert response.text == "tiny"


@pytest.mark.parametrize(
    "headers",
    [
        {"content-encoding": "gzip"},
        {"content-type": "image/png"},
        {"content-type": "video/webm"},
        {"content-type": "text/event-stream; charset=utf-8"},
        {"content-type": "application/grpc+proto"},
    ],
)
def test_untouched_responses(
    test_client_factory: TestClientFactory, headers: dict[str, str]
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await Response(BIG.encode(), headers=headers)(scope, receive, send)

    client = test_client_factory(CompressionMiddleware(app))
    with client.stream("GET", "/", headers={"accept-encoding": "zstd, br, gzip"}) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers.get("content-encoding") == headers.get("content-encoding")
    assert "vary" not in response.headers
    assert raw == BIG.encode()


def test_partial_responses_are_untouched(test_client_factory: TestClientFactory) -> None:
    app = text_app(BIG, status_code=206, headers={"content-range": f"bytes 0-99/{len(BIG)}"})
    client = test_client_factory(CompressionMiddleware(app))
    response = client.get("/", headers={"accept-encoding": "br"})
    assert response.status_code == 206
    assert "content-encoding" not in response.headers
    assert response.text == BIG


def test_custom_exclusions(test_client_factory: TestClientFactory) -> None:
    app = raw_app(start(200, (b"content-type", b"text/event-stream")), body(BIG.encode()))
    client = test_client_factory(CompressionMiddleware(app, exclude_content_types=()))
    response = client.get("/", headers={"accept-encoding": "br"})
    assert response.headers["content-encoding"] == "br"
    client = test_client_factory(CompressionMiddleware(app, exclude_content_types=("text/*",)))
    response = client.get("/", headers={"accept-encoding": "br"})
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
def test_trailers_follow_the_body(test_client_factory: TestClientFactory, coding: str) -> None:
    app = raw_app(
        start(200, (b"content-type", b"text/plain"), trailers=True),
        body(BIG.encode(), more_body=True),
        body(b""),
        {"type": "http.response.trailers", "headers": [(b"x-a", b"1")], "more_trailers": True},
        {"type": "http.response.trailers", "headers": [(b"x-b", b"2")]},
    )
    client = test_client_factory(CompressionMiddleware(app))
    response = client.get("/", headers={"accept-encoding": coding})
    assert response.headers["content-encoding"] == coding
    assert response.text == BIG
    assert response.extensions["http.response.trailers"] == [(b"x-a", b"1"), (b"x-b", b"2")]


@pytest.mark.anyio
@pytest.mark.parametrize("coding", ["zstd", "br"])
async def test_large_chunks_are_compressed_in_a_worker_thread(
    coding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []

    class Recording:
        def __init__(self, encoder: Encoder) -> None:
            self.encoder = encoder

        def encode(self, data: bytes, final: bool) -> bytes:
            threads.append(threading.get_ident())
            return self.encoder.encode(data, final)

    async def recording(
        encoder: Encoder, data: bytes, *, final: bool, thread_minimum_size: int
    ) -> bytes:
        return await encode(
            Recording(encoder), data, final=final, thread_minimum_size=thread_minimum_size
        )

    monkeypatch.setattr("stellate_middleware.compression.encode", recording)
    app = raw_app(start(200), body(b"x" * 5000, more_body=True), body(b"y" * 10))
    middleware = CompressionMiddleware(app, thread_minimum_size=4096)
    sent = await call(middleware, http_scope(coding))
    assert decode(coding, sent[1]["body"] + sent[2]["body"]) == b"x" * 5000 + b"y" * 10
    assert threads[0] != threading.get_ident()
    assert threads[1] == threading.get_ident()


# --- Scopes, routers, hostile input -------------------------------------------------


@pytest.mark.anyio
async def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {}  # pragma: no cover

    async def send(message: Message) -> None:
        pass  # pragma: no cover

    middleware = CompressionMiddleware(app)
    await middleware({"type": "lifespan"}, receive, send)
    await middleware({"type": "websocket", "headers": []}, receive, send)
    assert seen == ["lifespan", "websocket"]


def test_inside_a_router(test_client_factory: TestClientFactory) -> None:
    async def homepage(request: Request) -> PlainTextResponse:
        return PlainTextResponse(BIG)

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_bytes(await websocket.receive_bytes())
        await websocket.close()

    router = Router(
        routes=[Route("/", homepage), WebSocketRoute("/ws", echo)],
        middleware=[Middleware(CompressionMiddleware, encodings=("br", "gzip"))],
    )
    client = test_client_factory(router)
    response = client.get("/", headers={"accept-encoding": "gzip, br"})
    assert response.headers["content-encoding"] == "br"
    assert response.text == BIG
    with client.websocket_connect("/ws") as websocket:
        websocket.send_bytes(b"x" * 1000)
        assert websocket.receive_bytes() == b"x" * 1000


def test_around_a_router(test_client_factory: TestClientFactory) -> None:
    async def homepage(request: Request) -> PlainTextResponse:
        return PlainTextResponse(BIG)

    client = test_client_factory(CompressionMiddleware(Router(routes=[Route("/", homepage)])))
    response = client.get("/", headers={"accept-encoding": "gzip, deflate, br, zstd"})
    assert response.headers["content-encoding"] == "zstd"
    assert response.text == BIG
    response = client.get("/")  # the test client's default: gzip, deflate
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == BIG
    response = client.get("/nowhere")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "value",
    [
        b"\xff\xfe\x00gzip",
        b"q=1;gzip",
        b"gzip;q=0.5e1",
        b"gzip;q=nan",
        b"gzip;q=inf",
        b"," * 100_000,
        b"br;" + b"a=b;" * 50_000,
        b"gzip;q=" + b"0" * 100_000,
    ],
)
def test_garbage_accept_encoding_is_ignored(
    test_client_factory: TestClientFactory, value: bytes
) -> None:
    client = test_client_factory(CompressionMiddleware(text_app(BIG)))
    response = client.get("/", headers=[(b"accept-encoding", value)])
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.text == BIG


@pytest.mark.anyio
async def test_no_accept_encoding_means_no_compression() -> None:
    sent = await call(CompressionMiddleware(text_app(BIG)), http_scope(None))
    assert header(sent[0], b"content-encoding") is None
    assert header(sent[0], b"vary") == b"Accept-Encoding"
    assert sent[1]["body"] == BIG.encode()


@pytest.mark.anyio
async def test_compressed_one_shot_body_length() -> None:
    sent = await call(CompressionMiddleware(text_app(BIG)), http_scope("br"))
    assert header(sent[0], b"content-length") == str(len(sent[1]["body"])).encode()
    assert brotli.decompress(sent[1]["body"]) == BIG.encode()
    sent = await call(CompressionMiddleware(text_app(BIG)), http_scope("gzip"))
    assert gzip.decompress(sent[1]["body"]) == BIG.encode()
