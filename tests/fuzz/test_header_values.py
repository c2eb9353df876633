"""Fuzz tests of the request header values the middleware and static files read:
`Accept-Encoding` (compression, precompressed static files), `Content-Length` (the
body limit), `Origin` and the CORS preflight headers, `If-None-Match` and
`If-Modified-Since` (static files).

Properties: a well-formed `Accept-Encoding` parses to its codings with their lowest
q-value, and any text parses to valid codings and q-values without raising; a
response compressed for any `Accept-Encoding` decodes to the original body; any
`Content-Length` gives 200 or 413; any CORS request gets 200 or 400 and names an
origin in `Access-Control-Allow-Origin` only if it is allowed; any conditional
header on a static file gives the file (200) or 304; each parse is linear.
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

import brotli
import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from stellate_asgi.types import ASGIApp, Receive, Scope, Send
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse
from stellate_middleware._compress import parse_accept_encoding
from stellate_middleware.body_limit import RequestBodyLimitMiddleware
from stellate_middleware.compression import CompressionMiddleware
from stellate_middleware.cors import CORSMiddleware
from stellate_middleware.gzip import GZipMiddleware
from stellate_staticfiles import StaticFiles
from tests.fuzz._asgi import call
from tests.fuzz._timing import assert_linear

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Compressible, and over every middleware's minimum size.
BODY = b"stellate fuzz " * 100
ALLOWED_ORIGIN = "https://allowed.example"
# q-values as RFC 9110 writes them, with the value each stands for.
QVALUES = {"0": 0.0, "0.5": 0.5, "0.001": 0.001, "0.": 0.0, "1": 1.0, "1.000": 1.0, "0.25": 0.25}

codings = st.one_of(
    st.sampled_from(["gzip", "br", "zstd", "identity", "*", "x-gzip", "GZip", "deflate"]),
    st.text(TOKEN_CHARS, min_size=1, max_size=8),
)
encoding_lists = st.lists(
    st.tuples(codings, st.one_of(st.none(), st.sampled_from(sorted(QVALUES)))),
    max_size=8,
)
encoding_soup = st.text(st.sampled_from("gzip,;q=0.1 *\tbr"), max_size=80)


@given(encoding_lists, st.sampled_from([",", ", ", " ,\t"]))
def test_a_well_formed_accept_encoding_parses_to_its_lowest_q_values(
    entries: list[tuple[str, str | None]], separator: str
) -> None:
    header = separator.join(
        coding if weight is None else f"{coding};q={weight}" for coding, weight in entries
    )
    expected: dict[str, float] = {}
    for coding, weight in entries:
        name = coding.lower()
        name = "gzip" if name == "x-gzip" else name
        quality = 1.0 if weight is None else QVALUES[weight]
        # A coding listed twice keeps its lowest q-value: a refusal is never undone.
        expected[name] = min(quality, expected.get(name, quality))
    assert parse_accept_encoding(header) == expected


@given(st.one_of(st.text(max_size=200), encoding_soup))
def test_any_accept_encoding_parses_to_valid_codings(header: str) -> None:
    for coding, quality in parse_accept_encoding(header).items():
        assert coding == coding.lower()
        assert coding.strip() == coding
        assert all(char in TOKEN_CHARS for char in coding)
        assert 0.0 <= quality <= 1.0


@pytest.mark.anyio
@given(
    st.lists(st.one_of(st.binary(max_size=60), encoding_soup.map(str.encode)), max_size=2),
    st.sampled_from(["gzip", "compression"]),
)
async def test_a_compressed_response_decodes_to_the_body_for_any_accept_encoding(
    values: list[bytes], middleware: str
) -> None:
    headers = [(b"accept-encoding", value) for value in values]
    app = _gzip_app() if middleware == "gzip" else _compression_app()
    answer = await call(app, headers=headers)
    assert answer.status == 200
    encoding = answer.header(b"content-encoding")
    decoders: dict[bytes | None, Callable[[bytes], bytes]] = {
        None: lambda body: body,
        b"gzip": gzip.decompress,
        b"br": brotli.decompress,
        b"zstd": lambda body: zstandard.ZstdDecompressor().decompressobj().decompress(body),
    }
    assert encoding in decoders
    assert decoders[encoding](answer.body) == BODY


@pytest.mark.anyio
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=30),
            st.integers(0, 400).map(lambda n: str(n).encode()),
            st.sampled_from([b"", b"-1", b"10, 10", b"10,20", b"0x10", b" 7 ", b"9" * 40]),
        ),
        max_size=3,
    ),
    st.binary(max_size=300),
)
async def test_any_content_length_gives_200_or_413(values: list[bytes], body: bytes) -> None:
    headers = [(b"content-length", value) for value in values]
    answer = await call(_limited_app(), method="POST", headers=headers, body=body)
    assert answer.status in (200, 413)
    if answer.status == 200:
        # Whatever the header says, more than the limit never reaches the app.
        assert len(body) <= 100
        assert answer.body == str(len(body)).encode()


@pytest.mark.anyio
@given(
    st.one_of(st.binary(max_size=40), st.sampled_from([ALLOWED_ORIGIN.encode(), b"null"])),
    st.one_of(st.binary(max_size=20), st.sampled_from([b"GET", b"POST", b"DELETE"])),
    st.one_of(st.binary(max_size=60), st.sampled_from([b"x-custom", b"X-Custom, accept", b","])),
    st.booleans(),
)
async def test_any_cors_request_gets_200_or_400_and_only_allowed_origins_named(
    origin: bytes, method: bytes, requested_headers: bytes, preflight: bool
) -> None:
    headers = [(b"origin", origin)]
    if preflight:
        headers += [
            (b"access-control-request-method", method),
            (b"access-control-request-headers", requested_headers),
        ]
    answer = await call(_cors_app(), method="OPTIONS" if preflight else "GET", headers=headers)
    assert answer.status in ((200, 400) if preflight else (200,))
    allowed = answer.header(b"access-control-allow-origin")
    if origin != ALLOWED_ORIGIN.encode():
        assert allowed is None
    elif not preflight:
        assert allowed == origin
    if answer.status == 400:
        assert answer.body.startswith(b"Disallowed CORS ")


@pytest.mark.anyio
@given(
    st.one_of(
        st.none(),
        st.binary(max_size=60),
        st.sampled_from([b"*", b'W/"x"', b'"x", *', b", ,", b"W/"]),
    ),
    st.one_of(
        st.none(),
        st.binary(max_size=40),
        # Every date formatdate can write: years 1970 to 9999.
        st.integers(0, 253_402_300_799).map(lambda t: formatdate(t, usegmt=True).encode()),
        st.sampled_from([b"Mon, 20 Feb 99999999999999999999 00:00:00 GMT", b"0", b"-"]),
    ),
    st.one_of(st.none(), st.binary(max_size=40), encoding_soup.map(str.encode)),
)
async def test_any_conditional_request_for_a_static_file_gets_200_or_304(
    tmp_path: Path,
    if_none_match: bytes | None,
    if_modified_since: bytes | None,
    accept: bytes | None,
) -> None:
    file = tmp_path / "page.txt"
    if not file.exists():
        file.write_bytes(BODY)
    sent = {b"if-none-match": if_none_match, b"if-modified-since": if_modified_since}
    sent[b"accept-encoding"] = accept
    headers = [(name, value) for name, value in sent.items() if value is not None]
    answer = await call(_static_app(tmp_path), path="/page.txt", headers=headers)
    assert answer.status in (200, 304)
    if answer.status == 200:
        assert answer.body == BODY
    else:
        assert answer.body == b""
        assert if_none_match is not None or if_modified_since is not None


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda n: "gzip," * n, id="many-codings"),
        pytest.param(lambda n: "," * n, id="commas"),
        pytest.param(lambda n: "gzip" + ";" * n, id="semicolons"),
        pytest.param(lambda n: "gzip;q=" + "0" * n, id="long-q-value"),
        pytest.param(lambda n: "g" * n, id="long-coding"),
    ],
)
def test_accept_encoding_parsing_takes_linear_time(make_header: Callable[[int], str]) -> None:
    # 16 * 200 items stay under the parser's own cap on what it reads.
    assert_linear(parse_accept_encoding, make_header, 200)


def _text_endpoint(body: bytes) -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse(body)(scope, receive, send)

    return app


@functools.cache
def _gzip_app() -> ASGIApp:
    return GZipMiddleware(_text_endpoint(BODY))


@functools.cache
def _compression_app() -> ASGIApp:
    return CompressionMiddleware(_text_endpoint(BODY))


@functools.cache
def _limited_app() -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = await Request(scope, receive).body()
        await PlainTextResponse(str(len(body)))(scope, receive, send)

    return RequestBodyLimitMiddleware(app, max_body_size=100)


@functools.cache
def _cors_app() -> ASGIApp:
    return CORSMiddleware(
        _text_endpoint(b"ok"),
        allow_origins=[ALLOWED_ORIGIN],
        allow_methods=["GET", "POST"],
        allow_headers=["x-custom"],
    )


@functools.cache
def _static_app(directory: Path) -> ASGIApp:
    return StaticFiles(directory=directory)
