"""Settings from the environment and a `.env` file: `Config`, and the `environ` guard.

`Config` looks a key up in the environment first, then in the `.env` file, then
falls back to the default; `cast` turns the string into the type the application
wants (`bool` understands `true`/`false`/`1`/`0`). `environ` wraps `os.environ` and
refuses to change a variable once it has been read, so a test cannot silently alter a
setting that a module has already captured.
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any, TypeVar, overload

__all__ = ["Config", "Environ", "EnvironError", "T", "environ", "undefined"]

T = TypeVar("T")

# The strings a `bool` cast accepts (compared lower-cased), as Starlette reads them.
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


class undefined:
    """Sentinel default of `Config.get`: the key is required."""


class EnvironError(Exception):
    """An `Environ` variable was set or deleted after it had been read."""


class Environ(MutableMapping[str, str]):
    """A view of `environ` (default `os.environ`) that freezes every key once read.

    Reading a key, even one that is absent (`"X" in environ`), records it; setting or
    deleting a recorded key raises `EnvironError`.
    """

    def __init__(self, environ: MutableMapping[str, str] = os.environ) -> None:
        self._environ = environ
        self._has_been_read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self._has_been_read.add(key)
        return self._environ[key]

    def __setitem__(self, key: str, value: str) -> None:
        if key in self._has_been_read:
            raise EnvironError(
                f"Attempting to set environ['{key}'], but the value has already been read."
            )
        self._environ[key] = value

    def __delitem__(self, key: str) -> None:
        if key in self._has_been_read:
            raise EnvironError(
                f"Attempting to delete environ['{key}'], but the value has already been read."
            )
        del self._environ[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)


environ = Environ()


class Config:
    """Settings read from `environ`, then from `env_file`, then from a default.

    Every key is looked up as `env_prefix + key`. A missing `env_file` only warns, so
    the same code runs where the settings come from the real environment.
    """

    def __init__(
        self,
        env_file: str | Path | None = None,
        environ: Mapping[str, str] = environ,
        env_prefix: str = "",
        encoding: str = "utf-8",
    ) -> None:
        self.environ = environ
        self.env_prefix = env_prefix
        self.file_values: dict[str, str] = {}
        if env_file is not None:
            if _is_readable_file(env_file):
                self.file_values = self._read_file(env_file, encoding)
            else:
                warnings.warn(f"Config file '{env_file}' not found.", UserWarning, stacklevel=2)

    @overload
    def __call__(self, key: str, cast: None = None) -> str: ...

    @overload
    def __call__(self, key: str, cast: None = None, *, default: T) -> str | T: ...

    @overload
    def __call__(self, key: str, cast: Callable[[Any], T], default: None) -> T | None: ...

    @overload
    def __call__(self, key: str, cast: Callable[[Any], T], default: Any = undefined) -> T: ...

    @overload
    def __call__(
        self, key: str, cast: Callable[[Any], Any] | None = None, default: Any = undefined
    ) -> Any: ...

    def __call__(
        self,
        key: str,
        cast: Callable[[Any], Any] | None = None,
        default: Any = undefined,
    ) -> Any:
        """The value of `key`, cast with `cast`; the same as `get`."""
        return self.get(key, cast, default)

    @overload
    def get(self, key: str, cast: None = None) -> str: ...

    @overload
    def get(self, key: str, cast: None = None, *, default: T) -> str | T: ...

    @overload
    def get(self, key: str, cast: Callable[[Any], T], default: None) -> T | None: ...

    @overload
    def get(self, key: str, cast: Callable[[Any], T], default: Any = undefined) -> T: ...

    @overload
    def get(
        self, key: str, cast: Callable[[Any], Any] | None = None, default: Any = undefined
    ) -> Any: ...

    def get(
        self,
        key: str,
        cast: Callable[[Any], Any] | None = None,
        default: Any = undefined,
    ) -> Any:
        """The value of `env_prefix + key`, cast with `cast`.

        A `default` is cast too, except `None`, which is returned as is. Without a
        default a missing key raises `KeyError`; a value `cast` rejects raises
        `ValueError`.
        """
        key = self.env_prefix + key
        if key in self.environ:
            return self._perform_cast(key, self.environ[key], cast)
        if key in self.file_values:
            return self._perform_cast(key, self.file_values[key], cast)
        if default is not undefined:
            return self._perform_cast(key, default, cast)
        raise KeyError(f"Config '{key}' is missing, and has no default.")

    def _read_file(self, file_name: str | Path, encoding: str = "utf-8") -> dict[str, str]:
        # `KEY=VALUE` lines; `#` starts a comment line; spaces around the key and the
        # value, then any quote characters around the value, are dropped.
        file_values: dict[str, str] = {}
        with open(file_name, encoding=encoding) as input_file:
            for raw_line in input_file:
                line = raw_line.strip()
                if line.startswith("#") or "=" not in line:
                    continue
                key, value = line.split("=", 1)
                file_values[key.strip()] = value.strip().strip("\"'")
        return file_values

    def _perform_cast(self, key: str, value: Any, cast: Callable[[Any], Any] | None) -> Any:
        if cast is None or value is None:
            return value
        if cast is bool and isinstance(value, str):
            lowered = value.lower()
            if lowered not in _BOOLEANS:
                raise ValueError(f"Config '{key}' has value '{lowered}'. Not a valid bool.")
            return _BOOLEANS[lowered]
        try:
            return cast(value)
        except (TypeError, ValueError) as exc:
            name = getattr(cast, "__name__", repr(cast))
            raise ValueError(f"Config '{key}' has value '{value}'. Not a valid {name}.") from exc


def _is_readable_file(path: str | Path) -> bool:
    """Whether `path` is a regular file or a named pipe (secret managers mount `.env`
    files as FIFOs)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # missing, unreadable, or a path with a NUL byte
        return False
    return stat.S_ISREG(mode) or stat.S_ISFIFO(mode)
