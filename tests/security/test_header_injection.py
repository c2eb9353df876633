"""Header injection: no value an application passes on can split the header block.

A CR or LF inside a header name or value, written as is, ends the header early: what
follows becomes a forged header (`Set-Cookie`), or a second response. Starlette
writes response headers verbatim. Here every way of setting a response header
refuses CR, LF and NUL with `ValueError` (so the application sees a clear error,
never a split response), redirects percent-encode them, cookie values are quoted and
cookie attributes checked, and the middleware that echo request headers (CORS) skip
values that hold them.
"""

from __future__ import annotations

import http.cookies
from typing import Any

import pytest

from stellate_asgi.datastructures import MutableHeaders
from stellate_asgi.types import Receive, Scope, Send
from stellate_http.requests import Request
from stellate_http.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from stellate_middleware.cors import CORSMiddleware
from stellate_sessions import SessionMiddleware
from tests.security._asgi import http_scope, request

INJECTIONS = [
    "a\r\nSet-Cookie: admin=1",
    "a\nSet-Cookie: admin=1",
    "a\rSet-Cookie: admin=1",
    "a\r\n\r\n<script>alert(1)</script>",
    "a\x00b",
]

INJECTION_ERROR = "must not contain CR, LF or NUL"


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize(
    "response_class", [Response, PlainTextResponse, JSONResponse, RedirectResponse]
)
def test_constructor_header_values_are_refused(value: str, response_class: type[Any]) -> None:
    content = "/" if response_class is RedirectResponse else "body"
    with pytest.raises(ValueError, match=INJECTION_ERROR):
        response_class(content, headers={"x-echo": value})


@pytest.mark.parametrize("name", INJECTIONS)
def test_constructor_header_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=INJECTION_ERROR):
        Response("body", headers={name: "value"})


@pytest.mark.parametrize("value", INJECTIONS)
def test_streaming_and_file_response_headers_are_refused(value: str, tmp_path: Any) -> None:
    path = tmp_path / "file.txt"
    path.write_text("file")

    with pytest.raises(ValueError, match=INJECTION_ERROR):
        StreamingResponse(iter([b"x"]), headers={"x-echo": value})
    with pytest.raises(ValueError, match=INJECTION_ERROR):
        FileResponse(path, headers={"x-echo": value})


@pytest.mark.parametrize("value", INJECTIONS)
def test_mutable_headers_refuse_injection(value: str) -> None:
    response = Response("body")
    before = list(response.raw_headers)

    with pytest.raises(ValueError, match=INJECTION_ERROR):
        response.headers["x-echo"] = value
    with pytest.raises(ValueError, match=INJECTION_ERROR):
        response.headers.append("x-echo", value)
    with pytest.raises(ValueError, match=INJECTION_ERROR):
        response.headers.setdefault("x-echo", value)
    with pytest.raises(ValueError, match=INJECTION_ERROR):
        response.headers.update({"x-echo": value})
    with pytest.raises(ValueError, match=INJECTION_ERROR):
        response.headers[value] = "v"
    with pytest.raises(ValueError, match=INJECTION_ERROR):
        MutableHeaders({"x-echo": value})

    assert response.raw_headers == before


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/next\r\nSet-Cookie: admin=1", "/next%0D%0ASet-Cookie:%20admin=1"),
        ("/next\nLocation: https://evil.com", "/next%0ALocation:%20https://evil.com"),
        ("/next\x00", "/next%00"),
        ("https://example.com/a\r\n\r\n<html>", "https://example.com/a%0D%0A%0D%0A%3Chtml%3E"),
    ],
)
def test_redirect_urls_are_percent_encoded(url: str, location: str) -> None:
    response = RedirectResponse(url)

    assert response.headers["location"] == location
    assert all(b"\r" not in v and b"\n" not in v for _, v in response.raw_headers)


@pytest.mark.anyio
async def test_a_redirect_built_from_request_input_stays_one_header() -> None:
    # The classic: `?next=` copied into a redirect.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        await RedirectResponse(request.query_params["next"])(scope, receive, send)

    scope = http_scope("/login", query_string=b"next=/home%0D%0ASet-Cookie:%20admin=1")

    exchange = await request(app, scope)

    assert exchange.status == 307
    assert exchange.header_list("set-cookie") == []
    assert exchange.header("location") == "/home%0D%0ASet-Cookie:%20admin=1"


@pytest.mark.parametrize("value", INJECTIONS)
def test_cookie_values_are_quoted(value: str) -> None:
    response = Response()
    response.set_cookie("name", value)

    (header,) = [v for k, v in response.raw_headers if k == b"set-cookie"]
    assert b"\r" not in header
    assert b"\n" not in header
    assert b"\x00" not in header
    # Quoted, and read back to the very value.
    assert http.cookies.SimpleCookie(header.decode())["name"].value == value


@pytest.mark.parametrize("key", [*INJECTIONS, "a;b", "a=b", "a b"])
def test_cookie_names_are_refused(key: str) -> None:
    response = Response()

    with pytest.raises(http.cookies.CookieError):
        response.set_cookie(key, "value")
    assert b"set-cookie" not in dict(response.raw_headers)


@pytest.mark.parametrize("attribute", ["path", "domain", "expires"])
@pytest.mark.parametrize("value", [*INJECTIONS, "/; Domain=evil.com", "x; HttpOnly=false"])
def test_cookie_attributes_are_refused(attribute: str, value: str) -> None:
    response = Response()
    options: dict[str, Any] = {attribute: value}

    with pytest.raises(ValueError, match="must not contain ';' or control characters"):
        response.set_cookie("name", "value", **options)
    assert b"set-cookie" not in dict(response.raw_headers)


@pytest.mark.parametrize(
    "options",
    [
        {"session_cookie": "session\r\nSet-Cookie: admin=1"},
        {"session_cookie": "a;b"},
        {"path": "/\r\nSet-Cookie: admin=1"},
        {"path": "/; Domain=evil.com"},
        {"domain": "example.com\r\nx: y"},
        {"domain": "example.com; Secure=false"},
    ],
)
def test_session_cookie_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Invalid session cookie"):
        SessionMiddleware(PlainTextResponse("ok"), secret_key="secret", **options)


@pytest.mark.parametrize(
    "filename",
    ['a"\r\nSet-Cookie: admin=1', 'report.pdf"; filename="evil.exe', "a\x00b.txt"],
)
def test_download_filenames_are_encoded(filename: str, tmp_path: Any) -> None:
    path = tmp_path / "file.txt"
    path.write_text("file")

    response = FileResponse(path, filename=filename)

    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename*=utf-8''")
    assert '"' not in disposition
    assert ";" not in disposition.removeprefix("attachment;")
    assert all(char not in disposition for char in "\r\n\x00")


@pytest.mark.anyio
async def test_early_hints_refuse_injection() -> None:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = http_scope()
    scope["extensions"] = {"http.response.early_hint": {}}
    hints = Request(scope, send=send)

    with pytest.raises(ValueError, match="Invalid Link header value"):
        await hints.send_early_hints("</style.css>; rel=preload\r\nSet-Cookie: admin=1")
    assert sent == []


@pytest.mark.anyio
@pytest.mark.parametrize("origin", [o.encode() for o in INJECTIONS] + [b"https://a.com\r\nx: y"])
@pytest.mark.parametrize("credentials", [False, True])
async def test_cors_never_echoes_an_unsafe_origin(origin: bytes, credentials: bool) -> None:
    # The regex would allow anything: only the header check stands in the way.
    app = CORSMiddleware(
        PlainTextResponse("ok"),
        allow_origin_regex=".*",
        allow_credentials=credentials,
        allow_methods=["GET"],
        allow_headers=["*"],
    )
    simple = http_scope(headers=[(b"host", b"testserver"), (b"origin", origin)])
    preflight = http_scope(
        method="OPTIONS",
        headers=[
            (b"host", b"testserver"),
            (b"origin", origin),
            (b"access-control-request-method", b"GET"),
        ],
    )

    simple_exchange = await request(app, simple)
    preflight_exchange = await request(app, preflight)

    assert simple_exchange.status == 200
    assert simple_exchange.header("access-control-allow-origin") is None
    assert preflight_exchange.status == 400
    assert preflight_exchange.body == b"Disallowed CORS origin"
    assert preflight_exchange.header("access-control-allow-origin") is None


@pytest.mark.anyio
async def test_cors_never_echoes_unsafe_requested_headers() -> None:
    app = CORSMiddleware(
        PlainTextResponse("ok"), allow_origins=["https://a.com"], allow_headers=["*"]
    )
    preflight = http_scope(
        method="OPTIONS",
        headers=[
            (b"origin", b"https://a.com"),
            (b"access-control-request-method", b"GET"),
            (b"access-control-request-headers", b"x-a\r\nSet-Cookie: admin=1"),
        ],
    )

    exchange = await request(app, preflight)

    assert exchange.status == 400
    assert exchange.body == b"Disallowed CORS headers"
    assert exchange.header("access-control-allow-headers") is None
