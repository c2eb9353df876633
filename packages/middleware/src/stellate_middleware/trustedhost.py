"""Refuse requests whose `Host` header names a host the application does not serve.

A forged `Host` header is how password-reset links and cached pages end up pointing at
an attacker's domain; `TrustedHostMiddleware` answers such requests with a 400 before
the app sees them (or, for websockets, refuses the handshake).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from stellate_asgi.datastructures import URL, Headers
from stellate_asgi.types import ASGIApp, Receive, Scope, Send
from stellate_asgi.utils import parse_host_header
from stellate_http.responses import PlainTextResponse, RedirectResponse, Response
from stellate_websockets.websockets import WebSocketClose

__all__ = [
    "ENFORCE_DOMAIN_WILDCARD",
    "TrustedHostMiddleware",
]

ENFORCE_DOMAIN_WILDCARD = "Domain wildcard patterns must be like '*.example.com'."

# The ASGI extension that lets a websocket handshake be refused with an HTTP response;
# without it, a refused handshake can only be closed (the server answers 403).
_DENIAL_EXTENSION = "websocket.http.response"

# RFC 6455 "policy violation": the close code for a refused websocket handshake.
_WS_POLICY_VIOLATION = 1008

_INVALID_HOST = "Invalid host header"

# How many allowed `Host` values each middleware remembers.
_MAX_ALLOWED_VALUES = 64


class TrustedHostMiddleware:
    """Only let through requests whose `Host` is one of `allowed_hosts`.

    Patterns are host names or IP addresses (IPv6 with or without brackets), compared
    case-insensitively and without the port; `*.example.com` allows every subdomain of
    `example.com` (not `example.com` itself), and `*` (the default) allows any host.
    Other requests get a 400 "Invalid host header", except that with `www_redirect`
    a request for `example.com` is redirected to `www.example.com` when only the latter
    is allowed. A missing, repeated or malformed `Host` header is invalid.
    """

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Sequence[str] | None = None,
        www_redirect: bool = True,
    ) -> None:
        if allowed_hosts is None:
            allowed_hosts = ["*"]
        elif isinstance(allowed_hosts, str):
            # One host given as a string, not as a sequence of its characters.
            allowed_hosts = [allowed_hosts]

        exact: set[str] = set()
        suffixes: list[str] = []
        for pattern in allowed_hosts:
            # Raised explicitly rather than with `assert`, so `python -O` keeps the check.
            if "*" in pattern[1:]:
                raise AssertionError(ENFORCE_DOMAIN_WILDCARD)
            if pattern.startswith("*") and pattern != "*":
                if not pattern.startswith("*."):
                    raise AssertionError(ENFORCE_DOMAIN_WILDCARD)
                suffixes.append("." + _normalize_host(pattern[2:]))
            elif pattern != "*":
                exact.add(_normalize_host(pattern))

        self.app = app
        self.allowed_hosts = list(allowed_hosts)
        self.allow_any = "*" in self.allowed_hosts
        self.www_redirect = www_redirect
        self._exact_hosts = frozenset(exact)
        self._host_suffixes = tuple(suffixes)
        # `Host` values found allowed, as sent: clients send a few, each parsed once.
        # Bounded, so that varied hostile values only cost the parse.
        self._allowed_values: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allow_any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        host_values = Headers(scope=scope).getlist("host")
        # Two Host headers are ambiguous (RFC 9112 says answer 400): the app and this
        # check might read different ones.
        if len(host_values) == 1 and host_values[0] in self._allowed_values:
            await self.app(scope, receive, send)
            return
        parsed = parse_host_header(host_values[0]) if len(host_values) == 1 else None
        redirect = False
        if parsed is not None:
            host = _normalize_host(parsed.host)
            if self._is_allowed(host):
                if len(self._allowed_values) < _MAX_ALLOWED_VALUES:
                    self._allowed_values.add(host_values[0])
                await self.app(scope, receive, send)
                return
            redirect = self.www_redirect and "www." + host in self._exact_hosts

        response: Response
        if redirect:
            url = URL(scope=scope)
            response = RedirectResponse(url=str(url.replace(netloc="www." + url.netloc)))
        else:
            response = PlainTextResponse(_INVALID_HOST, status_code=400)

        if scope["type"] == "websocket" and _DENIAL_EXTENSION not in scope.get("extensions", {}):
            # The server cannot send an HTTP response to a websocket handshake: refuse
            # it by closing instead.
            await WebSocketClose(code=_WS_POLICY_VIOLATION, reason=_INVALID_HOST)(
                scope, receive, send
            )
            return
        await response(scope, receive, send)

    def _is_allowed(self, host: str) -> bool:
        return host in self._exact_hosts or host.endswith(self._host_suffixes)


def _normalize_host(host: str) -> str:
    """The form hosts are compared in: lowercase, no IPv6 brackets (an IPv6 address
    in its compressed form), no trailing dot of a fully qualified name."""
    host = host.lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host).compressed
        except ValueError:
            return host
    if host.endswith("."):
        host = host[:-1]
    return host
