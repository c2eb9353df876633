"""A middleware stack in front of plaintext: TrustedHost, CORS, GZip, a custom one, sessions.

The request carries an allowed `Host`, an allowed `Origin`, `Accept-Encoding: gzip`
and a valid signed session cookie; the endpoint reads the session and answers a
plaintext body too small for GZip to compress.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from typing import Any

import itsdangerous
import starlette.applications
import starlette.datastructures
import starlette.middleware
import starlette.middleware.cors
import starlette.middleware.gzip
import starlette.middleware.sessions
import starlette.middleware.trustedhost
import starlette.requests
import starlette.responses
import starlette.routing

import stellate.applications
import stellate.datastructures
import stellate.middleware
import stellate.middleware.cors
import stellate.middleware.gzip
import stellate.middleware.sessions
import stellate.middleware.trustedhost
import stellate.requests
import stellate.responses
import stellate.routing
from tests.benchmarks.harness import (
    ASGIApp,
    Message,
    Receive,
    Request,
    Scenario,
    Scope,
    Send,
    http_scope,
    send_response,
)

__all__ = ["scenarios"]

SECRET = "benchmark secret key"
HOSTS = ("127.0.0.1", "example.com")
ORIGIN = "https://example.com"
# 14 days, the session middleware's default lifetime for a cookie's signature.
MAX_AGE = 14 * 24 * 60 * 60
USER = "ada"
SERVED_BY = (b"x-served-by", b"benchmark")


def _session_cookie() -> bytes:
    """A cookie that both frameworks' `SessionMiddleware` accept: signed base64 JSON."""
    payload = b64encode(json.dumps({"user": USER}).encode())
    return b"session=" + itsdangerous.TimestampSigner(SECRET).sign(payload)


class _StellateServedBy:
    """A pure-ASGI middleware labelling every HTTP response with a header, through the
    framework's own `MutableHeaders`."""

    headers_class: Any = stellate.datastructures.MutableHeaders

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers_class = self.headers_class

        async def send_labelled(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers_class(scope=message).append("x-served-by", "benchmark")
            await send(message)

        await self.app(scope, receive, send_labelled)


class _StarletteServedBy(_StellateServedBy):
    """The same middleware, with Starlette's `MutableHeaders`."""

    headers_class = starlette.datastructures.MutableHeaders


def _raw_app() -> ASGIApp:
    """The stack written by hand: each check the middlewares make, inline, in one callable."""
    signer = itsdangerous.TimestampSigner(SECRET)
    hosts = frozenset(HOSTS)
    text = b"text/plain; charset=utf-8"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1").split(":")[0]
        if host not in hosts:
            await send_response(send, 400, b"Invalid host header", text)
            return
        session = _load_session(signer, headers.get(b"cookie", b""))
        body = f"Hello, {session.get('user', 'stranger')}!".encode()
        response_headers = [
            (b"content-type", text),
            (b"content-length", str(len(body)).encode()),
            SERVED_BY,
            (b"vary", b"Cookie, Origin"),
        ]
        origin = headers.get(b"origin")
        if origin == ORIGIN.encode():
            response_headers.append((b"access-control-allow-origin", origin))
        # GZip: the body is below the 500-byte minimum, so it goes out as it is.
        await send({"type": "http.response.start", "status": 200, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})

    return app


def _load_session(signer: itsdangerous.TimestampSigner, cookie_header: bytes) -> dict[str, Any]:
    """The session a `Cookie` header holds: split by hand, the signature checked."""
    for pair in cookie_header.split(b";"):
        name, _, value = pair.strip().partition(b"=")
        if name == b"session":
            try:
                data = json.loads(b64decode(signer.unsign(value, max_age=MAX_AGE)))
            except (itsdangerous.BadSignature, ValueError):
                return {}
            return data if isinstance(data, dict) else {}
    return {}


async def _stellate_hello(request: stellate.requests.Request) -> stellate.responses.Response:
    return stellate.responses.PlainTextResponse(f"Hello, {request.session['user']}!")


async def _starlette_hello(request: starlette.requests.Request) -> starlette.responses.Response:
    return starlette.responses.PlainTextResponse(f"Hello, {request.session['user']}!")


def _stellate_app() -> ASGIApp:
    Middleware = stellate.middleware.Middleware
    return stellate.applications.Stellate(
        routes=[stellate.routing.Route("/", _stellate_hello)],
        middleware=[
            Middleware(stellate.middleware.trustedhost.TrustedHostMiddleware, allowed_hosts=HOSTS),
            Middleware(stellate.middleware.cors.CORSMiddleware, allow_origins=[ORIGIN]),
            Middleware(stellate.middleware.gzip.GZipMiddleware),
            Middleware(_StellateServedBy),
            Middleware(stellate.middleware.sessions.SessionMiddleware, secret_key=SECRET),
        ],
    )


def _starlette_app() -> ASGIApp:
    Middleware = starlette.middleware.Middleware
    return starlette.applications.Starlette(
        routes=[starlette.routing.Route("/", _starlette_hello)],
        middleware=[
            Middleware(starlette.middleware.trustedhost.TrustedHostMiddleware, allowed_hosts=HOSTS),
            Middleware(starlette.middleware.cors.CORSMiddleware, allow_origins=[ORIGIN]),
            Middleware(starlette.middleware.gzip.GZipMiddleware),
            Middleware(_StarletteServedBy),
            Middleware(starlette.middleware.sessions.SessionMiddleware, secret_key=SECRET),
        ],
    )


def scenarios() -> list[Scenario]:
    """The middleware stack, one `GET /` with a session cookie and a CORS origin."""
    headers = [
        (b"origin", ORIGIN.encode()),
        (b"accept-encoding", b"gzip, deflate, br"),
        (b"cookie", _session_cookie()),
    ]
    return [
        Scenario(
            "middleware stack",
            {"raw": _raw_app(), "stellate": _stellate_app(), "starlette": _starlette_app()},
            [Request(http_scope("GET", "/", headers))],
            200,
            body=f"Hello, {USER}!".encode(),
        )
    ]
