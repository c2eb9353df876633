"""Machinery shared by `GZipMiddleware` and `CompressionMiddleware`.

Content-type exclusions, bounded `Accept-Encoding` negotiation, the codecs (gzip from the
standard library; brotli and zstd from optional extras) and the worker-thread offload that
keeps large chunks from blocking the event loop.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar

from stellate_asgi.datastructures import MutableHeaders
from stellate_asgi.types import Scope

__all__ = [
    "CODINGS",
    "DEFAULT_EXCLUDED_CONTENT_TYPES",
    "Encoder",
    "EncoderFactory",
    "GzipEncoder",
    "MissingCodecError",
    "accept_encoding",
    "add_vary_accept_encoding",
    "check_level",
    "encode",
    "is_excluded_media_type",
    "load_codec",
    "negotiate",
    "normalize_content_types",
    "parse_accept_encoding",
]

# Formats that are already compressed (archives, raster images, audio, video, WOFF fonts),
# gRPC framing, and server-sent events, which must reach the client as they are written.
DEFAULT_EXCLUDED_CONTENT_TYPES = (
    "application/grpc",
    "application/gzip",
    "application/x-gzip",
    "application/zip",
    "audio/*",
    "font/woff",
    "font/woff2",
    "image/avif",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/webp",
    "text/event-stream",
    "video/*",
)

# The content codings we can produce, in the default server preference order.
CODINGS = ("zstd", "br", "gzip")

# `Accept-Encoding` is client input: only this much of it (all its lines joined) and this
# many of its entries are looked at, so a huge or hostile header costs bounded time.
_MAX_ACCEPT_ENCODING_LENGTH = 4096
_MAX_ACCEPT_ENCODING_ITEMS = 64

# RFC 9110 tokens and qvalues; anything else in an entry makes the entry ignored.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")

# RFC 9110 section 8.4.1.3: recipients treat "x-gzip" as "gzip".
_ALIASES = {"x-gzip": "gzip"}

# Compression threads get their own limiter (per event loop, like anyio's default one, and
# as large), so big responses do not starve other users of the shared worker threads.
_THREAD_TOKENS = 40
_limiter: RunVar[CapacityLimiter] = RunVar("stellate_compression_limiter")


class Encoder(Protocol):
    """One response's compression stream."""

    def encode(self, data: bytes, final: bool) -> bytes:
        """Compress `data` and return everything the client can decode so far; `final`
        ends the stream."""
        ...


EncoderFactory = Callable[[], Encoder]


class GzipEncoder:
    """gzip (RFC 1952) through `zlib`: header, deflate stream, CRC32 and size trailer."""

    def __init__(self, level: int) -> None:
        self.compressobj = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def encode(self, data: bytes, final: bool) -> bytes:
        if final:
            return self.compressobj.compress(data) + self.compressobj.flush(zlib.Z_FINISH)
        if not data:
            # A sync flush with no new input would still emit an empty block.
            return b""
        return self.compressobj.compress(data) + self.compressobj.flush(zlib.Z_SYNC_FLUSH)


class _BrotliEncoder:
    """br through `brotli` or `brotlicffi`."""

    def __init__(self, module: Any, quality: int) -> None:
        compressor = module.Compressor(quality=quality)
        # `brotli` names the streaming call `process`; `brotlicffi` offers `compress` too.
        self._process: Callable[[bytes], bytes] = getattr(compressor, "process", None) or (
            compressor.compress
        )
        self._compressor = compressor

    def encode(self, data: bytes, final: bool) -> bytes:
        output: bytes = self._process(data) if data else b""
        if final:
            finished: bytes = self._compressor.finish()
            return output + finished
        if not data:
            return b""
        flushed: bytes = self._compressor.flush()
        return output + flushed


class _ZstdEncoder:
    """zstd through `compression.zstd` (Python 3.14 and later) or `zstandard`."""

    def __init__(self, compressor: Any, block_mode: Any, finish_mode: Any) -> None:
        self._compressor = compressor
        self._block_mode = block_mode
        self._finish_mode = finish_mode

    def encode(self, data: bytes, final: bool) -> bytes:
        output: bytes = self._compressor.compress(data) if data else b""
        if final:
            finished: bytes = self._compressor.flush(self._finish_mode)
            return output + finished
        if not data:
            return b""
        flushed: bytes = self._compressor.flush(self._block_mode)
        return output + flushed


class MissingCodecError(ImportError):
    """A configured content coding needs a library that is not installed."""


def load_codec(coding: str, level: int) -> EncoderFactory:
    """A factory of encoders for `coding` at `level`.

    Raises `MissingCodecError` naming the extra to install when the library is missing.
    """
    if coding == "gzip":
        check_level(coding, level, -1, 9)
        return functools.partial(GzipEncoder, level)
    if coding == "br":
        check_level(coding, level, 0, 11)
        brotli = _import_first(("brotli", "brotlicffi"))
        if brotli is None:
            raise MissingCodecError(
                "The 'br' content coding needs the Brotli library: "
                "pip install 'stellate-middleware[brotli]'"
            )
        return functools.partial(_BrotliEncoder, brotli, level)
    if coding == "zstd":
        check_level(coding, level, -(1 << 17), 22)
        stdlib_zstd = _import_stdlib_zstd()
        if stdlib_zstd is not None:
            return functools.partial(_stdlib_zstd_encoder, stdlib_zstd, level)
        zstandard = _import_first(("zstandard",))
        if zstandard is None:
            raise MissingCodecError(
                "The 'zstd' content coding needs the zstandard library (built in from "
                "Python 3.14): pip install 'stellate-middleware[zstd]'"
            )
        return functools.partial(_zstandard_encoder, zstandard, level)
    raise ValueError(f"Unknown content coding {coding!r}; choose from {', '.join(CODINGS)}")


async def encode(encoder: Encoder, data: bytes, *, final: bool, thread_minimum_size: int) -> bytes:
    """`encoder.encode(data, final)`, in a worker thread when `data` is large."""
    if len(data) < thread_minimum_size:
        return encoder.encode(data, final)
    try:
        limiter = _limiter.get()
    except LookupError:
        limiter = CapacityLimiter(_THREAD_TOKENS)
        _limiter.set(limiter)
    return await anyio.to_thread.run_sync(encoder.encode, data, final, limiter=limiter)


@functools.lru_cache(maxsize=64)
def normalize_content_types(content_types: tuple[str, ...]) -> frozenset[str]:
    """The media types of `content_types`, lowercase and without parameters."""
    return frozenset(_media_type(content_type) for content_type in content_types)


def is_excluded_media_type(content_type: str, excluded: frozenset[str]) -> bool:
    """Whether the `Content-Type` value matches an exclusion.

    An entry matches its media type exactly; `type/*` matches every subtype and `*/*`
    everything; `type/sub` also matches `type/sub+suffix` (so "application/grpc" covers
    "application/grpc+proto").
    """
    if not excluded:
        return False
    media_type = _media_type(content_type)
    main_type = media_type.partition("/")[0]
    if media_type in excluded or f"{main_type}/*" in excluded or "*/*" in excluded:
        return True
    base, plus, _suffix = media_type.partition("+")
    return bool(plus) and base in excluded


def accept_encoding(scope: Scope) -> str | None:
    """The request's `Accept-Encoding` lines joined with commas, or None if absent."""
    values: list[str] = []
    length = 0
    for key, value in scope.get("headers", ()):
        if key.lower() == b"accept-encoding":
            values.append(value[:_MAX_ACCEPT_ENCODING_LENGTH].decode("latin-1"))
            length += len(value) + 1
            if length > _MAX_ACCEPT_ENCODING_LENGTH:
                break  # the rest would not be read anyway
    if not values:
        return None
    return ",".join(values)


def parse_accept_encoding(value: str) -> dict[str, float]:
    """The codings of an `Accept-Encoding` value with their q-values (lowercase).

    Malformed entries are ignored; a coding listed twice keeps its lowest q-value (a
    refusal is never overridden). Only a bounded prefix of the value is read.
    """
    items = value[:_MAX_ACCEPT_ENCODING_LENGTH].split(",", _MAX_ACCEPT_ENCODING_ITEMS)
    if len(value) > _MAX_ACCEPT_ENCODING_LENGTH or len(items) > _MAX_ACCEPT_ENCODING_ITEMS:
        # The last item is cut short (or is the unread rest): "gzip;q=0" must not be
        # read as "gzip".
        items.pop()
    accepted: dict[str, float] = {}
    for item in items:
        coding, _, weight = item.partition(";")
        coding = coding.strip().lower()
        if not coding or not _TOKEN.fullmatch(coding):
            continue
        quality = _quality(weight)
        if quality is None:
            continue
        coding = _ALIASES.get(coding, coding)
        accepted[coding] = min(quality, accepted.get(coding, quality))
    return accepted


def negotiate(accepted: Mapping[str, float], offered: Sequence[str]) -> str | None:
    """The offered coding the client prefers, or None to send the body as it is.

    The highest q-value wins, ties going to the earlier (server-preferred) coding; `*`
    stands for every coding not listed; q=0 refuses. An explicitly listed `identity`
    with a higher q-value than every offered coding means no compression.
    """
    wildcard = accepted.get("*", 0.0)
    best: str | None = None
    best_quality = 0.0
    for coding in offered:
        quality = accepted.get(coding, wildcard)
        if quality > best_quality:
            best, best_quality = coding, quality
    if best is not None and accepted.get("identity", 0.0) > best_quality:
        return None
    return best


def add_vary_accept_encoding(headers: MutableHeaders) -> None:
    """Add `Accept-Encoding` to the `Vary` of a `MutableHeaders`, unless already there."""
    listed = {
        token.strip().lower() for value in headers.getlist("vary") for token in value.split(",")
    }
    if "accept-encoding" not in listed and "*" not in listed:
        headers.add_vary_header("Accept-Encoding")


def check_level(coding: str, level: int, lowest: int, highest: int) -> None:
    """Refuse a compression level outside `lowest..highest` when configuring, not later
    in the middle of a response."""
    if isinstance(level, bool) or not isinstance(level, int):
        raise TypeError(f"The {coding} level must be an int, not {type(level).__name__}")
    if not lowest <= level <= highest:
        raise ValueError(f"The {coding} level must be between {lowest} and {highest}, not {level}")


def _quality(weight: str) -> float | None:
    """The q-value of an entry's `;q=...` weight (1 if absent), None if malformed.

    Accept-Encoding allows no other parameter, so anything else makes the entry invalid.
    """
    if not weight:
        return 1.0
    name, equals, text = weight.partition("=")
    text = text.strip()
    if name.strip().lower() != "q" or not equals or not _QVALUE.fullmatch(text):
        return None
    return float(text)


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _stdlib_zstd_encoder(module: Any, level: int) -> Encoder:
    compressor = module.ZstdCompressor(level=level)
    return _ZstdEncoder(compressor, compressor.FLUSH_BLOCK, compressor.FLUSH_FRAME)


def _zstandard_encoder(module: Any, level: int) -> Encoder:
    compressobj = module.ZstdCompressor(level=level).compressobj()
    return _ZstdEncoder(
        compressobj, module.COMPRESSOBJ_FLUSH_BLOCK, module.COMPRESSOBJ_FLUSH_FINISH
    )


def _import_first(names: Iterable[str]) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _import_stdlib_zstd() -> Any:
    if sys.version_info >= (3, 14):
        try:
            from compression import zstd
        except ImportError:  # a Python built without zstd support
            return None
        return zstd
    return None
