"""Request body size: `max_body_size` answers 413 without buffering past the limit.

An attacker declares a huge `Content-Length`, lies about it, or streams an endless
chunked body. With a limit set (on the application, a router, a mount or a route),
the request gets 413 "Content Too Large": at once for a declared length over the
limit (not a byte of the body is read), and as soon as the bytes received pass it
for a stream, which is never read further.
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator

import pytest

from stellate.applications import Stellate
from stellate_asgi.types import Scope
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_routing.routing import Mount, Route
from tests.security._asgi import http_scope, request

pytestmark = pytest.mark.anyio

LIMIT = 1024 * 1024
CHUNK = b"x" * (64 * 1024)
# The chunks an app may pull before it knows the body is too large: the limit's worth,
# and the one that passes it.
MAX_CHUNKS_READ = LIMIT // len(CHUNK) + 1


def endless() -> Iterator[bytes]:
    """An endless body that allocates nothing: the same chunk again and again."""
    return itertools.repeat(CHUNK)


async def read_body(request: Request) -> Response:
    return PlainTextResponse(f"{len(await request.body())} bytes")


async def read_stream(request: Request) -> Response:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return PlainTextResponse(f"{size} bytes")


async def read_json(request: Request) -> Response:
    return PlainTextResponse(repr(await request.json()))


async def read_form(request: Request) -> Response:
    form = await request.form()
    return PlainTextResponse(f"{len(form)} fields")


async def ignore_body(request: Request) -> Response:
    return PlainTextResponse("did not read the body")


READERS: list[Callable[[Request], Awaitable[Response]]] = [
    read_body,
    read_stream,
    read_json,
    read_form,
    ignore_body,
]


def limited_app(endpoint: Callable[[Request], Awaitable[Response]]) -> Stellate:
    return Stellate(routes=[Route("/", endpoint, methods=["POST"])], max_body_size=LIMIT)


def post(*headers: tuple[bytes, bytes]) -> Scope:
    return http_scope(
        "/",
        method="POST",
        headers=[
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            *headers,
        ],
    )


@pytest.mark.parametrize("endpoint", READERS)
@pytest.mark.parametrize("length", [LIMIT + 1, 10**12, int("9" * 100)])
async def test_declared_length_over_the_limit_reads_nothing(
    endpoint: Callable[[Request], Awaitable[Response]], length: int
) -> None:
    scope = post((b"content-length", str(length).encode()))

    exchange = await request(limited_app(endpoint), scope, endless())

    assert exchange.status == 413
    assert exchange.body == b"Content Too Large"
    assert exchange.chunks_received == 0


async def test_a_length_of_thousands_of_digits_is_413() -> None:
    scope = post((b"content-length", b"9" * 10_000))

    exchange = await request(limited_app(read_body), scope, endless())

    assert (exchange.status, exchange.body) == (413, b"Content Too Large")


@pytest.mark.parametrize("endpoint", [read_body, read_stream, read_json, read_form])
@pytest.mark.parametrize(
    "content_length",
    [
        pytest.param(None, id="chunked"),
        pytest.param(b"100", id="lying-length"),
        pytest.param(b"abc", id="garbage-length"),
        pytest.param(b"-1", id="negative-length"),
        pytest.param(b"100, 200", id="conflicting-lengths"),
    ],
)
async def test_an_endless_stream_is_cut_at_the_limit(
    endpoint: Callable[[Request], Awaitable[Response]], content_length: bytes | None
) -> None:
    headers = [] if content_length is None else [(b"content-length", content_length)]

    exchange = await request(limited_app(endpoint), post(*headers), endless())

    assert exchange.status == 413
    assert exchange.body == b"Content Too Large"
    assert exchange.chunks_received <= MAX_CHUNKS_READ


async def test_a_body_at_the_limit_is_accepted() -> None:
    body = [CHUNK] * (LIMIT // len(CHUNK))

    exchange = await request(limited_app(read_body), post(), body)

    assert exchange.status == 200
    assert exchange.body == f"{LIMIT} bytes".encode()


async def test_memory_stays_bounded_while_an_endless_body_is_refused() -> None:
    app = limited_app(read_body)
    # Warm up (imports, caches), so that only the request's own allocations count.
    await request(app, post(), [b"warm"])

    tracemalloc.start()
    try:
        exchange = await request(app, post(), endless())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert exchange.status == 413
    # The body read up to the limit, plus the join of it: never the endless stream.
    assert peak < 3 * LIMIT


@pytest.mark.parametrize(
    ("path", "size", "status"),
    [
        ("/small/", 200, 200),
        ("/small/", 201, 413),
        ("/mount/large", 2048, 200),
        ("/mount/large", 4097, 413),
        ("/mount/inner", 1000, 413),
        ("/mount/inner", 100, 200),
    ],
)
async def test_routes_and_mounts_set_their_own_limits(path: str, size: int, status: int) -> None:
    app = Stellate(
        routes=[
            Route("/small/", read_body, methods=["POST"], max_body_size=200),
            Mount(
                "/mount",
                routes=[
                    Route("/large", read_body, methods=["POST"]),
                    Route("/inner", read_body, methods=["POST"], max_body_size=500),
                ],
                max_body_size=4096,
            ),
        ],
        max_body_size=1024,
    )
    # No Content-Length: only the bytes received count.
    body = [b"y" * 100] * (size // 100) + [b"y" * (size % 100)]

    exchange = await request(app, http_scope(path, method="POST"), body)

    assert exchange.status == status
    expected = f"{size} bytes" if status == 200 else "Content Too Large"
    assert exchange.body == expected.encode()
    assert exchange.chunks_received <= len(body)


async def test_an_exception_handler_can_render_the_413() -> None:
    async def too_large(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("custom: too large", status_code=413)

    app = Stellate(
        routes=[Route("/", read_body, methods=["POST"])],
        max_body_size=LIMIT,
        exception_handlers={413: too_large},
    )

    exchange = await request(app, post(), endless())

    assert (exchange.status, exchange.body) == (413, b"custom: too large")
    assert exchange.chunks_received <= MAX_CHUNKS_READ
