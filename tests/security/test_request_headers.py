"""Huge and numerous request headers, cookies and query strings: parsed in linear time.

Servers bound the header block (h11: 16 KiB), but an ASGI app may sit behind one that
does not, or behind a proxy that folds headers together. Whatever arrives, reading
`request.headers`, `request.cookies` and `request.query_params`, and running the
standard middleware over them, costs work proportional to the input and never a 500.
"""

from __future__ import annotations

import time

import pytest

from stellate.applications import Stellate
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, Response
from stellate_middleware import Middleware
from stellate_middleware.cors import CORSMiddleware
from stellate_middleware.gzip import GZipMiddleware
from stellate_middleware.trustedhost import TrustedHostMiddleware
from stellate_routing.routing import Route
from stellate_sessions import SessionMiddleware
from tests.security._asgi import Exchange, http_scope, request

pytestmark = pytest.mark.anyio

# Generous: each case takes tens of milliseconds; quadratic parsing of the same input
# takes minutes.
TIME_BOUND = 3.0


async def inspect(request: Request) -> Response:
    return JSONResponse(
        {
            "headers": len(request.headers),
            "last": request.headers.get("x-last"),
            "cookies": len(request.cookies),
            "cookie": request.cookies.get("wanted"),
            "params": len(request.query_params.multi_items()),
            "param": request.query_params.get("wanted"),
            "session": dict(request.session),
        }
    )


def full_stack() -> Stellate:
    """The endpoint behind every middleware that reads request headers."""
    return Stellate(
        routes=[Route("/", inspect)],
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=["testserver"]),
            Middleware(CORSMiddleware, allow_origins=["https://a.test"], allow_credentials=True),
            Middleware(SessionMiddleware, secret_key="secret"),
            Middleware(GZipMiddleware),
        ],
    )


async def timed(
    headers: list[tuple[bytes, bytes]], query_string: bytes = b""
) -> tuple[Exchange, float]:
    scope = http_scope("/", headers=[(b"host", b"testserver"), *headers], query_string=query_string)
    started = time.perf_counter()
    exchange = await request(full_stack(), scope)
    return exchange, time.perf_counter() - started


async def test_ten_thousand_headers() -> None:
    headers = [(f"x-header-{i}".encode(), b"v" * 100) for i in range(10_000)]

    exchange, elapsed = await timed([*headers, (b"x-last", b"found")])

    assert exchange.status == 200
    assert b'"headers":10002' in exchange.body
    assert b'"last":"found"' in exchange.body
    assert elapsed < TIME_BOUND


@pytest.mark.parametrize(
    "name",
    [b"x-last", b"origin", b"accept-encoding", b"cookie", b"user-agent", b"content-type"],
)
async def test_a_header_line_of_ten_megabytes(name: bytes) -> None:
    exchange, elapsed = await timed([(name, b"a" * 10_000_000)])

    assert exchange.status == 200
    assert elapsed < TIME_BOUND


async def test_header_names_and_values_of_any_byte() -> None:
    headers = [(bytes([i]) * 3, bytes(range(256))) for i in range(256)]

    exchange, elapsed = await timed(headers)

    assert exchange.status == 200
    assert elapsed < TIME_BOUND


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(b"; ".join(b"c%d=v" % i for i in range(100_000)) + b"; wanted=yes", id="100k"),
        pytest.param(b";" * 1_000_000 + b"wanted=yes", id="semicolons"),
        pytest.param(b"=" * 1_000_000 + b"; wanted=yes", id="equals"),
        pytest.param(b'x="' + b"\\" * 1_000_000 + b'"; wanted=yes', id="backslashes"),
        pytest.param(b'x="' + b"\\001" * 250_000 + b'"; wanted=yes', id="octal-escapes"),
        pytest.param(b'x="' + b'"' * 1_000_000 + b"; wanted=yes", id="quotes"),
    ],
)
async def test_a_megabyte_cookie_header_is_parsed_linearly(cookie: bytes) -> None:
    exchange, elapsed = await timed([(b"cookie", cookie)])

    assert exchange.status == 200
    assert b'"cookie":"yes"' in exchange.body
    assert b'"session":{}' in exchange.body
    assert elapsed < TIME_BOUND


async def test_a_thousand_cookie_headers() -> None:
    headers = [(b"cookie", b"c%d=%d" % (i, i)) for i in range(1000)]

    exchange, elapsed = await timed([*headers, (b"cookie", b"wanted=yes")])

    assert exchange.status == 200
    assert b'"cookies":1001' in exchange.body
    assert b'"cookie":"yes"' in exchange.body
    assert elapsed < TIME_BOUND


@pytest.mark.parametrize(
    "query_string",
    [
        pytest.param(b"&".join(b"p%d=v" % i for i in range(100_000)) + b"&wanted=yes", id="100k"),
        pytest.param(b"&" * 1_000_000 + b"wanted=yes", id="ampersands"),
        pytest.param(b"%" * 1_000_000 + b"&wanted=yes", id="percents"),
        pytest.param(b"%25" * 300_000 + b"&wanted=yes", id="encoded-percents"),
        pytest.param(b"=" * 1_000_000 + b"&wanted=yes", id="equals"),
        pytest.param(b"\xff" * 1_000_000 + b"&wanted=yes", id="not-utf8"),
    ],
)
async def test_a_megabyte_query_string_is_parsed_linearly(query_string: bytes) -> None:
    exchange, elapsed = await timed([], query_string)

    assert exchange.status == 200
    assert b'"param":"yes"' in exchange.body
    assert elapsed < TIME_BOUND


@pytest.mark.parametrize(
    "accept_encoding",
    [
        b"gzip;q=0.5," * 100_000,
        b"," * 1_000_000,
        b"gzip;" + b";" * 1_000_000,
        b"gzip;q=" + b"0" * 1_000_000,
    ],
)
async def test_a_megabyte_accept_encoding_is_bounded(accept_encoding: bytes) -> None:
    exchange, elapsed = await timed([(b"accept-encoding", accept_encoding)])

    assert exchange.status == 200
    assert elapsed < TIME_BOUND
