"""Exceptions that cross package lines: raised by one Stellate package, caught by another.

They live in the lowest package so that, for example, the test client raises the very
`WebSocketDisconnect` class an application catches.
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping

__all__ = [
    "HTTPException",
    "WebSocketException",
    "WebSocketDisconnect",
    "StellateDeprecationWarning",
]


class HTTPException(Exception):
    """An HTTP error response to send: `status_code`, a `detail` and optional `headers`.

    `detail` defaults to the standard reason phrase of `status_code` ("Not Found"),
    or to "" for a code without one (499, say); a code outside 100-599 needs a `detail`.
    """

    def __init__(
        self,
        status_code: int,
        detail: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if detail is None:
            if not 100 <= status_code <= 599:
                raise ValueError(f"{status_code} is not a valid HTTPStatus")
            detail = http.client.responses.get(status_code, "")
        self.status_code = status_code
        self.detail = detail
        self.headers = headers

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        name = self.__class__.__name__
        return f"{name}(status_code={self.status_code!r}, detail={self.detail!r})"


class WebSocketException(Exception):
    """Close the WebSocket with `code` (see `status.WS_*`) and an optional `reason`."""

    def __init__(self, code: int, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"

    def __repr__(self) -> str:
        name = self.__class__.__name__
        return f"{name}(code={self.code!r}, reason={self.reason!r})"


class WebSocketDisconnect(Exception):
    """The WebSocket peer closed the connection with `code` and `reason`."""

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""


class StellateDeprecationWarning(UserWarning):
    """Warns about a Stellate API that will be removed.

    A `UserWarning` (not a `DeprecationWarning`) so that it is shown by default.
    """
