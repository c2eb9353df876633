"""Automatic persisted queries: the store protocol and an in-memory LRU store.

A client sends `extensions: {"persistedQuery": {"version": 1, "sha256Hash": ...}}`
without a query; the server answers `PersistedQueryNotFound` until the client sends
the query text once with the same hash, after which the hash alone is enough.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Protocol, runtime_checkable

__all__ = ["InMemoryPersistedQueryStore", "PersistedQueryStore", "sha256_hash"]


@runtime_checkable
class PersistedQueryStore(Protocol):
    """Where persisted queries live: any object with these two methods.

    Both are called on the event loop, so they must be quick (an in-process cache,
    or a store with a local front).
    """

    def get(self, sha256_hash: str) -> str | None:
        """The query stored under `sha256_hash`, or None."""
        ...

    def set(self, sha256_hash: str, query: str) -> None:
        """Store `query` under its `sha256_hash` (a lowercase hex digest)."""
        ...


class InMemoryPersistedQueryStore:
    """A bounded least-recently-used store in process memory.

    `max_size` bounds the number of queries and `max_total_length` the characters
    of all stored queries together, so that clients registering queries cannot
    grow the process without limit.
    """

    def __init__(self, max_size: int = 1000, *, max_total_length: int = 8 * 1024 * 1024) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1.")
        if max_total_length < 1:
            raise ValueError("max_total_length must be at least 1.")
        self.max_size = max_size
        self.max_total_length = max_total_length
        self._queries: OrderedDict[str, str] = OrderedDict()
        self._total_length = 0
        # A store may be shared by apps served from several threads.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._queries)

    def __contains__(self, sha256_hash: object) -> bool:
        return sha256_hash in self._queries

    def get(self, sha256_hash: str) -> str | None:
        with self._lock:
            query = self._queries.get(sha256_hash)
            if query is not None:
                self._queries.move_to_end(sha256_hash)
            return query

    def set(self, sha256_hash: str, query: str) -> None:
        if len(query) > self.max_total_length:
            return  # would evict everything else and still not fit
        with self._lock:
            previous = self._queries.pop(sha256_hash, None)
            if previous is not None:
                self._total_length -= len(previous)
            self._queries[sha256_hash] = query
            self._total_length += len(query)
            while len(self._queries) > self.max_size or self._total_length > self.max_total_length:
                _, evicted = self._queries.popitem(last=False)
                self._total_length -= len(evicted)


def sha256_hash(query: str) -> str:
    """The hash a client sends for `query`: the hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()
