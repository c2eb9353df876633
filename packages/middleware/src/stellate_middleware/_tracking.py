"""`SendTracker`: a `send` that remembers whether a response has started.

Several layers must know whether the app under them has begun its response before
they may answer an exception with one of their own: `ServerErrorMiddleware`,
`ExceptionMiddleware` and routing's endpoint adapters. Each wrapping `send` in its
own closure costs two extra calls per response per layer, so they share one
tracker: a layer that is handed a `SendTracker` uses it as it is.
"""

from __future__ import annotations

from stellate_asgi.types import Message, Send

__all__ = ["SendTracker", "tracking"]

# A response has begun once one of these went out; a second one cannot follow.
_RESPONSE_START_TYPES = frozenset({"http.response.start", "websocket.http.response.start"})


class SendTracker:
    """Forwards every message to `send`, setting `started` at a response's start."""

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if not self.started and message["type"] in _RESPONSE_START_TYPES:
            self.started = True
        await self.send(message)


def tracking(send: Send) -> SendTracker:
    """`send` itself when it already is a tracker, else a new tracker around it.

    A shared tracker may have started before the caller saw it; the caller then
    cannot answer with a response of its own either, which is what it checks.
    """
    if type(send) is SendTracker:
        return send
    return SendTracker(send)
