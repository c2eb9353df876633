"""Views of an ASGI scope and the small containers built on them.

`URL` parses its string on first use; `Headers` built from a `scope` shares the
scope's header list rather than copying it, and `MutableHeaders` edits a header list
in place, so a view over `message["headers"]` changes the message itself.
`QueryParams` and the multidicts hold several values per key.

The larger classes live in private modules (`_url`, `_headers`, `_multidict`); this
module is their public home and re-exports them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from shlex import shlex
from typing import Any, NamedTuple

from stellate_asgi._headers import Headers, MutableHeaders
from stellate_asgi._multidict import ImmutableMultiDict, MultiDict, QueryParams
from stellate_asgi._url import URL, URLPath
from stellate_asgi.utils import parse_host_header

__all__ = [
    "Address",
    "URL",
    "URLPath",
    "Secret",
    "CommaSeparatedStrings",
    "ImmutableMultiDict",
    "MultiDict",
    "QueryParams",
    "Headers",
    "MutableHeaders",
    "State",
    "parse_host_header",
]


class Address(NamedTuple):
    """A network address: `host` and `port` (`request.client`)."""

    host: str
    port: int


class Secret:
    """A string that keeps itself out of logs and tracebacks: `repr()` hides it,
    `str()` reveals it."""

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}('**********')"

    def __str__(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)


class CommaSeparatedStrings(Sequence[str]):
    """A sequence parsed from a comma-separated string (`"a, b, 'c, d'"`); quotes
    group a value that contains a comma."""

    def __init__(self, value: str | Sequence[str]) -> None:
        if isinstance(value, str):
            splitter = shlex(value, posix=True)
            splitter.whitespace = ","
            splitter.whitespace_split = True
            self._items = [item.strip() for item in splitter]
        else:
            self._items = list(value)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int | slice) -> Any:
        return self._items[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({list(self)!r})"

    def __str__(self) -> str:
        return ", ".join(repr(item) for item in self)


class State:
    """An object whose attributes (and items) live in a dict.

    `request.state` and `app.state`; the lifespan state of `scope["state"]`.
    """

    _state: dict[str, Any]

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        if state is None:
            state = {}
        super().__setattr__("_state", state)

    def __setattr__(self, key: Any, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: Any) -> Any:
        # `_state` itself is missing only on an instance made without __init__ (copy,
        # pickle); looking it up in the dict would recurse forever.
        if key == "_state":
            raise AttributeError(key)
        try:
            return self._state[key]
        except KeyError:
            raise AttributeError(
                f"'{self.__class__.__name__}' object has no attribute '{key}'"
            ) from None

    def __delattr__(self, key: Any) -> None:
        try:
            del self._state[key]
        except KeyError:
            raise AttributeError(
                f"'{self.__class__.__name__}' object has no attribute '{key}'"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: str) -> None:
        del self._state[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._state

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)
