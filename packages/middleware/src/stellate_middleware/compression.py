"""Compress HTTP responses with zstd, brotli or gzip, as the client prefers.

The coding is negotiated from the request's `Accept-Encoding` q-values, ties going to the
server's preference order. gzip is always available; `br` needs
`pip install 'stellate-middleware[brotli]'` and `zstd` needs
`pip install 'stellate-middleware[zstd]'` (built into Python 3.14 and later). The
pass-through rules are those of `GZipMiddleware`.
"""

from __future__ import annotations

from collections.abc import Sequence

from stellate_asgi.types import ASGIApp, Receive, Scope, Send
from stellate_middleware._compress import (
    CODINGS,
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    Encoder,
    EncoderFactory,
    MissingCodecError,
    accept_encoding,
    encode,
    load_codec,
    negotiate,
    parse_accept_encoding,
)
from stellate_middleware.gzip import IdentityResponder

__all__ = ["CompressionMiddleware", "DEFAULT_EXCLUDED_CONTENT_TYPES", "MissingCodecError"]

# Chunks this large (128 KiB) are compressed in a worker thread, as in `GZipMiddleware`.
_THREAD_MINIMUM_SIZE = 131072


class CompressionMiddleware:
    """Compress responses with the best content coding the client accepts.

    `encodings`: the codings to offer, most preferred first, among "zstd", "br" and
    "gzip"; naming one whose library is missing raises `MissingCodecError` (an
    `ImportError` naming the extra to install). By default every installed one is offered,
    in that order. `gzip_level` (1-9), `brotli_quality` (0-11) and `zstd_level` (up to 22)
    trade speed for size. `minimum_size`, `thread_minimum_size` and
    `exclude_content_types` work as in `GZipMiddleware`.
    """

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int = 500,
        *,
        encodings: Sequence[str] | None = None,
        gzip_level: int = 6,
        brotli_quality: int = 4,
        zstd_level: int = 3,
        thread_minimum_size: int = _THREAD_MINIMUM_SIZE,
        exclude_content_types: tuple[str, ...] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        levels = {"zstd": zstd_level, "br": brotli_quality, "gzip": gzip_level}
        factories: dict[str, EncoderFactory] = {}
        if encodings is None:
            for coding in CODINGS:
                try:
                    factories[coding] = load_codec(coding, levels[coding])
                except MissingCodecError:
                    continue
        else:
            for coding in _check_encodings(encodings):
                factories[coding] = load_codec(coding, levels[coding])
        self.app = app
        self.minimum_size = minimum_size
        self.thread_minimum_size = thread_minimum_size
        self.exclude_content_types = tuple(exclude_content_types)
        self.encodings: tuple[str, ...] = tuple(factories)
        self._factories = factories

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = accept_encoding(scope)
        coding = None if value is None else negotiate(parse_accept_encoding(value), self.encodings)
        responder: IdentityResponder
        if coding is None:
            responder = IdentityResponder(
                self.app, self.minimum_size, exclude_content_types=self.exclude_content_types
            )
        else:
            responder = _EncodingResponder(
                self.app,
                self.minimum_size,
                coding,
                self._factories[coding],
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=self.exclude_content_types,
            )
        await responder(scope, receive, send)


class _EncodingResponder(IdentityResponder):
    """An `IdentityResponder` that encodes the body with one negotiated coding."""

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int,
        content_encoding: str,
        encoder_factory: EncoderFactory,
        *,
        thread_minimum_size: int,
        exclude_content_types: tuple[str, ...],
    ) -> None:
        super().__init__(app, minimum_size, exclude_content_types=exclude_content_types)
        self.content_encoding = content_encoding
        self.thread_minimum_size = thread_minimum_size
        self._encoder_factory = encoder_factory
        self._encoder: Encoder | None = None

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        if self._encoder is None:
            self._encoder = self._encoder_factory()
        return await encode(
            self._encoder, body, final=not more_body, thread_minimum_size=self.thread_minimum_size
        )


def _check_encodings(encodings: Sequence[str]) -> list[str]:
    if isinstance(encodings, str):
        raise TypeError("encodings must be a sequence of codings, such as ('br', 'gzip')")
    checked: list[str] = []
    for coding in encodings:
        name = coding.strip().lower() if isinstance(coding, str) else coding
        if name not in CODINGS:
            raise ValueError(
                f"Unknown content coding {coding!r}; choose from {', '.join(map(repr, CODINGS))}"
            )
        if name in checked:
            raise ValueError(f"The content coding {coding!r} is listed twice")
        checked.append(name)
    if not checked:
        raise ValueError("encodings must name at least one content coding")
    return checked
