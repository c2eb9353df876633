"""`Headers` and `MutableHeaders`: case-insensitive views of an ASGI header list.

Internal to `stellate_asgi.datastructures`, which re-exports both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, TypeVar, overload

__all__ = ["Headers", "MutableHeaders", "encode_header"]

_T = TypeVar("_T")


class Headers(Mapping[str, str]):
    """An immutable, case-insensitive multidict of HTTP headers.

    Built from a `headers` mapping, from `raw` latin-1 byte pairs, or from an ASGI
    `scope` (whose header list it shares). `h[key]` gives the first value,
    `h.getlist(key)` all of them.
    """

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        raw: list[tuple[bytes, bytes]] | None = None,
        scope: MutableMapping[str, Any] | None = None,
    ) -> None:
        self._list: list[tuple[bytes, bytes]] = []
        if headers is not None:
            assert raw is None, 'Cannot set both "headers" and "raw".'
            assert scope is None, 'Cannot set both "headers" and "scope".'
            self._list = [encode_header(key, value) for key, value in headers.items()]
        elif raw is not None:
            assert scope is None, 'Cannot set both "raw" and "scope".'
            self._list = raw
        elif scope is not None:
            # The ASGI spec allows any iterable here; make it a list once and store it
            # back so this view and the scope keep sharing one list.
            headers_list = scope["headers"]
            if not isinstance(headers_list, list):
                headers_list = scope["headers"] = list(headers_list)
            self._list = headers_list

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """A copy of the `(name, value)` byte pairs (names lowercase, unless given `raw`)."""
        return list(self._list)

    def keys(self) -> list[str]:  # type: ignore[override]
        return [key.decode("latin-1") for key, _ in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        return [value.decode("latin-1") for _, value in self._list]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(key.decode("latin-1"), value.decode("latin-1")) for key, value in self._list]

    def getlist(self, key: str) -> list[str]:
        """Every value of the header `key`, in order."""
        name = _lookup_key(key)
        return [value.decode("latin-1") for item_key, value in self._list if item_key == name]

    def mutablecopy(self) -> MutableHeaders:
        return MutableHeaders(raw=self._list[:])

    def __getitem__(self, key: str) -> str:
        name = _lookup_key(key)
        for item_key, value in self._list:
            if item_key == name:
                return value.decode("latin-1")
        raise KeyError(key)

    @overload
    def get(self, key: str, /) -> str | None: ...

    @overload
    def get(self, key: str, /, default: str | _T) -> str | _T: ...

    def get(self, key: str, /, default: object = None) -> object:
        # `Mapping.get` would look up through `__getitem__` and catch its KeyError: a
        # header that is absent (the common case for most lookups) costs a raise.
        name = _lookup_key(key)
        for item_key, value in self._list:
            if item_key == name:
                return value.decode("latin-1")
        return default

    def __contains__(self, key: Any) -> bool:
        if not isinstance(key, str):
            return False
        name = _lookup_key(key)
        # A loop, not `any()` over a generator: this runs for many requests.
        for item_key, _ in self._list:  # noqa: SIM110
            if item_key == name:
                return True
        return False

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Headers):
            return False
        return sorted(self._list) == sorted(other._list)

    def __repr__(self) -> str:
        name = self.__class__.__name__
        as_dict = dict(self.items())
        if len(as_dict) == len(self):
            return f"{name}({as_dict!r})"
        return f"{name}(raw={self.raw!r})"


class MutableHeaders(Headers):
    """Headers that can be edited in place (`response.headers`).

    Setting a header replaces all its values; names and values containing CR, LF or
    NUL are refused with `ValueError` (header injection guard).
    """

    def __setitem__(self, key: str, value: str) -> None:
        """Set `key` to `value`, replacing every existing value; the header keeps the
        position of its first occurrence."""
        header = encode_header(key, value)
        name = header[0]
        # In place: this list may be the very one inside a scope or message.
        items = self._list
        for item_key, _ in items:
            if item_key == name:
                break
        else:
            # Absent, the common case: no need to rebuild the list.
            items.append(header)
            return
        # Present: the first occurrence takes the value, the others go.
        new_list: list[tuple[bytes, bytes]] = []
        replaced = False
        for item in items:
            if item[0] != name:
                new_list.append(item)
            elif not replaced:
                new_list.append(header)
                replaced = True
        items[:] = new_list

    def __delitem__(self, key: str) -> None:
        """Remove every value of `key` (nothing happens if there is none, as in
        Starlette, so `del headers["content-length"]` needs no guard)."""
        name = _lookup_key(key)
        self._list[:] = [item for item in self._list if item[0] != name]

    def __ior__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        self.update(other)
        return self

    def __or__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        new = self.mutablecopy()
        new.update(other)
        return new

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """The underlying `(name, value)` byte pairs, editable in place."""
        return self._list

    def setdefault(self, key: str, value: str) -> str:
        """The first value of `key`, after setting it to `value` if it was absent."""
        name, encoded = encode_header(key, value)
        for item_key, item_value in self._list:
            if item_key == name:
                return item_value.decode("latin-1")
        self._list.append((name, encoded))
        return value

    def update(self, other: Mapping[str, str]) -> None:
        """Set every header of `other` (each replaces existing values)."""
        for key, value in other.items():
            self[key] = value

    def append(self, key: str, value: str) -> None:
        """Add a value for `key`, keeping the existing ones (e.g. `set-cookie`)."""
        self._list.append(encode_header(key, value))

    def add_vary_header(self, vary: str) -> None:
        """Add `vary` to the `Vary` header."""
        existing = self.get("vary")
        if existing is not None:
            vary = ", ".join([existing, vary])
        self["vary"] = vary


def encode_header(key: str, value: str) -> tuple[bytes, bytes]:
    """`(key, value)` as a raw header pair, the name lowercase; `ValueError` on CR/LF/NUL.

    Internal to the Stellate packages: headers and responses build their pairs with it.
    """
    # Header injection guard (an improvement over Starlette, which accepts them): a CR
    # or LF in a header name or value would let a value taken from user input end the
    # header early and smuggle in extra headers or a body; NUL is refused by every HTTP
    # parser. (Written out, as it is quicker than a loop on this path of every header.)
    if "\r" in key or "\n" in key or "\0" in key or "\r" in value or "\n" in value or "\0" in value:
        raise ValueError(
            f"Invalid header {key!r}: names and values must not contain CR, LF or NUL characters"
        )
    return key.lower().encode("latin-1"), value.encode("latin-1")


def _lookup_key(key: str) -> bytes:
    # A name that is not latin-1 cannot be present; map it to a value no header has
    # rather than letting a lookup raise UnicodeEncodeError.
    try:
        return key.lower().encode("latin-1")
    except UnicodeEncodeError:
        return b"\0"
