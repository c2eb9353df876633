"""`stellate.middleware.compression`: zstd, br and gzip by negotiation (beyond Starlette)."""

from stellate_middleware.compression import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    CompressionMiddleware,
    MissingCodecError,
)

__all__ = ["DEFAULT_EXCLUDED_CONTENT_TYPES", "CompressionMiddleware", "MissingCodecError"]
