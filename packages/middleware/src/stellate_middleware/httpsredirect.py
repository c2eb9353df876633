"""Send every plain `http` / `ws` request to its `https` / `wss` twin."""

from __future__ import annotations

from stellate_asgi.datastructures import URL
from stellate_asgi.types import ASGIApp, Receive, Scope, Send
from stellate_http.responses import PlainTextResponse, RedirectResponse, Response
from stellate_websockets.websockets import WebSocketClose

__all__ = ["HTTPSRedirectMiddleware"]

_SECURE_SCHEMES = {"http": "https", "ws": "wss"}

# The default ports of both schemes: a redirect from `http://host:80` (or the unusual
# `http://host:443`) goes to plain `https://host`.
_DROPPED_PORTS = (80, 443)

# The ASGI extension that lets a websocket handshake be answered with an HTTP response.
_DENIAL_EXTENSION = "websocket.http.response"

# RFC 6455 "policy violation": the close code for a refused websocket handshake.
_WS_POLICY_VIOLATION = 1008


class HTTPSRedirectMiddleware:
    """Redirect (307) `http` and `ws` requests to the same URL over `https` / `wss`.

    Secure requests go through to the app. The redirect keeps the path and query; the
    port is kept unless it is 80 or 443. A request with no usable host (no valid `Host`
    header and no server address) gets a 400 "Invalid host header" instead. A websocket
    handshake is answered with the redirect where the server supports the ASGI
    websocket denial extension, and is refused (close code 1008) where it does not.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # ASGI makes `scheme` optional, defaulting to the insecure one.
        scheme = scope.get("scheme", "http" if scope_type == "http" else "ws")
        if scheme not in _SECURE_SCHEMES:
            await self.app(scope, receive, send)
            return

        url = URL(scope=scope)
        response: Response
        if not url.netloc:
            response = PlainTextResponse("Invalid host header", status_code=400)
        else:
            url = url.replace(scheme=_SECURE_SCHEMES[scheme])
            if url.port in _DROPPED_PORTS:
                url = url.replace(port=None)
            response = RedirectResponse(url, status_code=307)

        if scope_type == "websocket" and _DENIAL_EXTENSION not in scope.get("extensions", {}):
            await WebSocketClose(code=_WS_POLICY_VIOLATION)(scope, receive, send)
            return
        await response(scope, receive, send)
