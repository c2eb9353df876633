"""Cross-Origin Resource Sharing: answer preflight requests and label responses.

`CORSMiddleware` answers a browser's preflight (`OPTIONS` with an `Origin` and an
`Access-Control-Request-Method`) itself, with 200 "OK" or 400 naming what was refused,
and adds the `Access-Control-*` headers to every other response of a request that
carries an `Origin`. Enforcement is the browser's job: a refused origin still reaches
the app, its response simply lacks `Access-Control-Allow-Origin`.

Every response that passes through (not preflight answers, which have their own rule)
gets `Origin` in its `Vary` header, even when the request had no `Origin`: what the
middleware adds depends on that header, so a cache must not hand one origin's answer to
another, nor a non-CORS answer to a CORS request.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection

from stellate_asgi.datastructures import Headers, MutableHeaders
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_http.responses import PlainTextResponse, Response

__all__ = [
    "ALL_METHODS",
    "SAFELISTED_HEADERS",
    "CORSMiddleware",
]

# What `allow_methods=["*"]` stands for: the standard methods, QUERY (RFC 9110's safe,
# body-carrying method) included.
ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY")

# Request headers a browser may always send cross-origin (the Fetch "CORS-safelisted"
# headers); they are allowed whatever `allow_headers` says.
SAFELISTED_HEADERS = {"Accept", "Accept-Language", "Content-Language", "Content-Type"}

# Characters a header value can never carry; a raw ASGI caller could still put them in
# a request header, and echoing one back must not fail the response.
_FORBIDDEN_IN_VALUES = frozenset("\r\n\0")

# A real origin (scheme, host of at most 253 characters, port) is far shorter; longer
# ones are never matched against `allow_origin_regex`, which bounds the work a hostile
# `Origin` header can cause with a backtracking pattern.
_MAX_ORIGIN_LENGTH = 1024


class CORSMiddleware:
    """Add CORS headers to HTTP responses and answer CORS preflight requests.

    `allow_origins` lists the origins allowed (`"*"` for any), `allow_origin_regex`
    allows origins the pattern fully matches; `allow_methods` and `allow_headers` are
    what a preflight may ask for (`"*"` for any); `allow_credentials` lets browsers send
    cookies and authorization (the request's own origin is then echoed instead of `*`);
    `allow_private_network` answers Private Network Access preflights; `expose_headers`
    lists response headers scripts may read; `max_age` is how long (seconds) browsers
    may cache a preflight answer.
    """

    def __init__(
        self,
        app: ASGIApp,
        allow_origins: Collection[str] = (),
        allow_methods: Collection[str] = ("GET",),
        allow_headers: Collection[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: str | None = None,
        allow_private_network: bool = False,
        expose_headers: Collection[str] = (),
        max_age: int = 600,
    ) -> None:
        allow_origins = _as_collection(allow_origins)
        allow_methods = _as_collection(allow_methods)
        allow_headers = _as_collection(allow_headers)
        expose_headers = _as_collection(expose_headers)
        if "*" in allow_methods:
            allow_methods = ALL_METHODS

        allow_all_origins = "*" in allow_origins
        allow_all_headers = "*" in allow_headers
        # With credentials a browser refuses `*`, so the request's origin is echoed.
        preflight_explicit_allow_origin = not allow_all_origins or allow_credentials

        simple_headers: dict[str, str] = {}
        if allow_all_origins:
            simple_headers["Access-Control-Allow-Origin"] = "*"
        if allow_credentials:
            simple_headers["Access-Control-Allow-Credentials"] = "true"
        if expose_headers:
            simple_headers["Access-Control-Expose-Headers"] = ", ".join(expose_headers)

        preflight_headers: dict[str, str] = {}
        if preflight_explicit_allow_origin:
            # The allowed origin itself is added per request, in `preflight_response`.
            preflight_headers["Vary"] = "Origin"
        else:
            preflight_headers["Access-Control-Allow-Origin"] = "*"
        preflight_headers["Access-Control-Allow-Methods"] = ", ".join(allow_methods)
        preflight_headers["Access-Control-Max-Age"] = str(max_age)
        allowed_header_names = _merge_header_names(SAFELISTED_HEADERS, allow_headers)
        if not allow_all_headers:
            preflight_headers["Access-Control-Allow-Headers"] = ", ".join(allowed_header_names)
        if allow_credentials:
            preflight_headers["Access-Control-Allow-Credentials"] = "true"

        self.app = app
        self.allow_origins = allow_origins
        self.allow_methods = allow_methods
        self.allow_headers = [name.lower() for name in allowed_header_names]
        self.allow_all_origins = allow_all_origins
        self.allow_all_headers = allow_all_headers
        self.allow_credentials = allow_credentials
        self.preflight_explicit_allow_origin = preflight_explicit_allow_origin
        self.allow_origin_regex = (
            re.compile(allow_origin_regex) if allow_origin_regex is not None else None
        )
        self.allow_private_network = allow_private_network
        self.expose_headers = expose_headers
        self.max_age = max_age
        self.simple_headers = simple_headers
        self.preflight_headers = preflight_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = Headers(scope=scope)
        if (
            scope.get("method") == "OPTIONS"
            and "origin" in headers
            and "access-control-request-method" in headers
        ):
            response = self.preflight_response(request_headers=headers)
            await response(scope, receive, send)
            return

        await self.simple_response(scope, receive, send, request_headers=headers)

    def is_allowed_origin(self, origin: str) -> bool:
        """Whether `origin` is allowed: `*`, a full match of the regex, or listed."""
        if self.allow_all_origins:
            return True
        if (
            self.allow_origin_regex is not None
            and len(origin) <= _MAX_ORIGIN_LENGTH
            and self.allow_origin_regex.fullmatch(origin)
        ):
            return True
        return origin in self.allow_origins

    def preflight_response(self, request_headers: Headers) -> Response:
        """The answer to a preflight: 200 "OK", or 400 "Disallowed CORS ..." listing
        what was refused (origin, method, headers, private-network)."""
        requested_origin = request_headers["origin"]
        requested_method = request_headers["access-control-request-method"]
        requested_headers = request_headers.get("access-control-request-headers")
        requested_private_network = request_headers.get("access-control-request-private-network")

        headers = dict(self.preflight_headers)
        failures: list[str] = []

        if _is_header_safe(requested_origin) and self.is_allowed_origin(requested_origin):
            if self.preflight_explicit_allow_origin:
                headers["Access-Control-Allow-Origin"] = requested_origin
        else:
            failures.append("origin")

        if requested_method not in self.allow_methods:
            failures.append("method")

        if requested_headers is not None:
            if self.allow_all_headers:
                # Any header is allowed: mirror the request's list back.
                if _is_header_safe(requested_headers):
                    headers["Access-Control-Allow-Headers"] = requested_headers
                else:
                    failures.append("headers")
            else:
                allowed = self.allow_headers
                for name in requested_headers.split(","):
                    name = name.strip().lower()
                    if name and name not in allowed:
                        failures.append("headers")
                        break

        if requested_private_network is not None:
            if self.allow_private_network:
                headers["Access-Control-Allow-Private-Network"] = "true"
            else:
                failures.append("private-network")

        # Browsers enforce the policy whatever the status; a 400 just makes a refused
        # preflight easy to spot in the network log.
        if failures:
            text = "Disallowed CORS " + ", ".join(failures)
            return PlainTextResponse(text, status_code=400, headers=headers)
        return PlainTextResponse("OK", status_code=200, headers=headers)

    async def simple_response(
        self, scope: Scope, receive: Receive, send: Send, request_headers: Headers
    ) -> None:
        """Run the app, adding the CORS headers to its response."""
        send = functools.partial(self.send, send=send, request_headers=request_headers)
        await self.app(scope, receive, send)

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        """Forward `message`, adding the CORS headers to a response start."""
        if message["type"] != "http.response.start":
            await send(message)
            return

        # A copy: the app may send the same message (and header list) again for
        # another request, which must not inherit this request's origin.
        message = {**message, "headers": list(message.get("headers", ()))}
        headers = MutableHeaders(scope=message)
        origin = request_headers.get("origin")
        explicit = False
        if origin is not None:
            headers.update(self.simple_headers)
            if self.allow_all_origins:
                # Browsers refuse `*` for credentialed requests. Whether a request is one
                # cannot be read from its headers, so `allow_credentials` decides, as in
                # Starlette 1.x.
                explicit = self.allow_credentials and _is_header_safe(origin)
            else:
                explicit = _is_header_safe(origin) and self.is_allowed_origin(origin)
        if explicit and origin is not None:
            self.allow_explicit_origin(headers, origin)
        else:
            # The answer depends on `Origin` even when it names no allowed origin.
            _add_vary_origin(headers)
        await send(message)

    @staticmethod
    def allow_explicit_origin(headers: MutableHeaders, origin: str) -> None:
        """Allow `origin` by name, marking the response as varying by `Origin`."""
        headers["Access-Control-Allow-Origin"] = origin
        _add_vary_origin(headers)


def _as_collection(value: Collection[str]) -> Collection[str]:
    # A bare string is a collection of characters: `allow_origins="https://a.org"`
    # would otherwise allow nothing (and `"*" in "..."` would test a substring).
    if isinstance(value, str):
        return (value,)
    return value


def _merge_header_names(safelisted: Collection[str], extra: Collection[str]) -> list[str]:
    """Sorted header names, without `*` and without case-insensitive duplicates."""
    names: dict[str, str] = {}
    for name in [*safelisted, *extra]:
        if name != "*":
            names.setdefault(name.lower(), name)
    return sorted(names.values())


def _is_header_safe(value: str) -> bool:
    return _FORBIDDEN_IN_VALUES.isdisjoint(value)


def _add_vary_origin(headers: MutableHeaders) -> None:
    """Make sure `Vary` names `Origin`, keeping every value already there.

    Several `Vary` fields are merged into one, so code reading only the first field
    (as `headers["vary"]` does) still sees every value.
    """
    present = headers.getlist("vary")
    if not present:
        # The common case: nothing to merge with.
        headers.append("Vary", "Origin")
        return
    values = [value for value in present if value.strip()]
    for value in values:
        if any(token.strip().lower() == "origin" for token in value.split(",")):
            return
    if values:
        headers["Vary"] = ", ".join([*values, "Origin"])
    else:
        headers["Vary"] = "Origin"
