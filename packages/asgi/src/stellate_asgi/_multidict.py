"""`ImmutableMultiDict`, `MultiDict` and `QueryParams`: mappings that may hold several
values per key.

Internal to `stellate_asgi.datastructures`, which re-exports them.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlencode

__all__ = ["ImmutableMultiDict", "MultiDict", "QueryParams"]

_KeyType = TypeVar("_KeyType")
# Values only come out of an ImmutableMultiDict, so it is covariant in them: an
# ImmutableMultiDict[str, str] is usable where an ImmutableMultiDict[str, object] is.
_CovariantValueType = TypeVar("_CovariantValueType", covariant=True)


class ImmutableMultiDict(Mapping[_KeyType, _CovariantValueType]):
    """A read-only mapping that may hold several values per key.

    `d[key]` and `d.get(key)` give the last value, `d.getlist(key)` all of them in
    order, `d.multi_items()` every pair.
    """

    _dict: dict[_KeyType, _CovariantValueType]
    _list: list[tuple[_KeyType, _CovariantValueType]]

    def __init__(
        self,
        *args: ImmutableMultiDict[_KeyType, _CovariantValueType]
        | Mapping[_KeyType, _CovariantValueType]
        | Iterable[tuple[_KeyType, _CovariantValueType]],
        **kwargs: Any,
    ) -> None:
        assert len(args) < 2, "Too many arguments."
        value: Any = args[0] if args else []
        if kwargs:
            value = (
                ImmutableMultiDict(value).multi_items() + ImmutableMultiDict(kwargs).multi_items()
            )
        items: list[tuple[Any, Any]]
        if not value:
            items = []
        elif hasattr(value, "multi_items"):
            items = list(value.multi_items())
        elif hasattr(value, "keys"):
            items = list(cast(Mapping[Any, Any], value).items())
        else:
            items = list(value)
        self._dict = dict(items)
        self._list = items

    def getlist(self, key: Any) -> list[_CovariantValueType]:
        """Every value of `key`, in order (empty if absent)."""
        return [item_value for item_key, item_value in self._list if item_key == key]

    def keys(self) -> KeysView[_KeyType]:
        return self._dict.keys()

    def values(self) -> ValuesView[_CovariantValueType]:
        return self._dict.values()

    def items(self) -> ItemsView[_KeyType, _CovariantValueType]:
        return self._dict.items()

    def multi_items(self) -> list[tuple[_KeyType, _CovariantValueType]]:
        """Every `(key, value)` pair, duplicates included, in insertion order."""
        return list(self._list)

    def __getitem__(self, key: _KeyType) -> _CovariantValueType:
        return self._dict[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[_KeyType]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, self.__class__):
            return False
        return _same_pairs(self._list, other._list)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.multi_items()!r})"


class MultiDict(ImmutableMultiDict[Any, Any]):
    """A mutable `ImmutableMultiDict`."""

    def __setitem__(self, key: Any, value: Any) -> None:
        self.setlist(key, [value])

    def __delitem__(self, key: Any) -> None:
        self._list = [(k, v) for k, v in self._list if k != key]
        del self._dict[key]

    def pop(self, key: Any, default: Any = None) -> Any:
        self._list = [(k, v) for k, v in self._list if k != key]
        return self._dict.pop(key, default)

    def popitem(self) -> tuple[Any, Any]:
        key, value = self._dict.popitem()
        self._list = [(k, v) for k, v in self._list if k != key]
        return key, value

    def poplist(self, key: Any) -> list[Any]:
        values = [v for k, v in self._list if k == key]
        self.pop(key)
        return values

    def clear(self) -> None:
        self._dict.clear()
        self._list.clear()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self._dict[key] = default
            self._list.append((key, default))
        return self[key]

    def setlist(self, key: Any, values: list[Any]) -> None:
        """Replace every value of `key` by `values` (an empty list removes the key)."""
        if not values:
            self.pop(key, None)
            return
        kept = [(k, v) for k, v in self._list if k != key]
        self._list = kept + [(key, value) for value in values]
        self._dict[key] = values[-1]

    def append(self, key: Any, value: Any) -> None:
        """Add a value for `key`, keeping the existing ones."""
        self._list.append((key, value))
        self._dict[key] = value

    def update(
        self,
        *args: MultiDict | Mapping[Any, Any] | list[tuple[Any, Any]],
        **kwargs: Any,
    ) -> None:
        """Replace the values of every key present in the arguments."""
        value = MultiDict(*args, **kwargs)
        kept = [(k, v) for k, v in self._list if k not in value._dict]
        self._list = kept + value.multi_items()
        self._dict.update(value._dict)


class QueryParams(ImmutableMultiDict[str, str]):
    """An immutable multidict of query parameters, parsed from a query string."""

    def __init__(
        self,
        *args: ImmutableMultiDict[Any, Any]
        | Mapping[Any, Any]
        | list[tuple[Any, Any]]
        | str
        | bytes,
        **kwargs: Any,
    ) -> None:
        assert len(args) < 2, "Too many arguments."
        value = args[0] if args else []
        if isinstance(value, str):
            super().__init__(parse_qsl(value, keep_blank_values=True), **kwargs)
        elif isinstance(value, bytes):
            # latin-1 maps every byte, so hostile bytes cannot raise here; parse_qsl
            # then decodes the percent-escapes as UTF-8.
            query = value.decode("latin-1")
            super().__init__(parse_qsl(query, keep_blank_values=True), **kwargs)
        else:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._list = [(str(k), str(v)) for k, v in self._list]
        self._dict = {str(k): str(v) for k, v in self._dict.items()}

    def __str__(self) -> str:
        return urlencode(self._list)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({str(self)!r})"


def _same_pairs(left: list[tuple[Any, Any]], right: list[tuple[Any, Any]]) -> bool:
    if len(left) != len(right):
        return False
    try:
        return sorted(left) == sorted(right)
    except TypeError:
        # Unorderable values (files in a form): compare as multisets by equality.
        remaining = list(right)
        for item in left:
            try:
                remaining.remove(item)
            except ValueError:
                return False
        return True
