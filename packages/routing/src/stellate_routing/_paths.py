"""Route path templates: compiling `/users/{id:int}` and filling it back in."""

from __future__ import annotations

import re
from typing import Any

from stellate_routing.convertors import CONVERTOR_TYPES, Convertor

__all__ = ["PARAM_FORMAT_REGEX", "PARAM_REGEX", "compile_path", "replace_params"]

# A parameter in a route path: `{name}` or `{name:convertor}`.
PARAM_REGEX = re.compile("{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}")

# A parameter in a compiled `path_format`, where the convertor is already dropped.
PARAM_FORMAT_REGEX = re.compile("{([a-zA-Z_][a-zA-Z0-9_]*)}")


def replace_params(
    path: str, param_convertors: dict[str, Convertor[Any]], path_params: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """Fill the `{name}` placeholders of `path` from `path_params`.

    Returns the path and the parameters it did not use. Placeholders are replaced in
    one pass over the template, so a value that looks like a placeholder stays as is.
    """
    used: set[str] = set()

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in path_params or key not in param_convertors:
            return match.group(0)
        used.add(key)
        return param_convertors[key].to_string(path_params[key])

    path = PARAM_FORMAT_REGEX.sub(substitute, path)
    for key in used:
        path_params.pop(key)
    return path, path_params


def compile_path(path: str) -> tuple[re.Pattern[str], str, dict[str, Convertor[Any]]]:
    """Compile a route path (or a host, when it does not start with "/").

    Returns the regex to match with, the format string used for url reversal
    (`/users/{id}`) and the convertor of each parameter. A host's `:port` is left out
    of the regex, since `Host` matches on the host name only.
    """
    is_host = not path.startswith("/")
    path_regex = "^"
    path_format = ""
    duplicated_params: set[str] = set()
    param_convertors: dict[str, Convertor[Any]] = {}
    idx = 0
    for match in PARAM_REGEX.finditer(path):
        param_name, convertor_type = match.groups("str")
        convertor_type = convertor_type.lstrip(":")
        if convertor_type not in CONVERTOR_TYPES:
            raise AssertionError(f"Unknown path convertor '{convertor_type}'")
        convertor = CONVERTOR_TYPES[convertor_type]
        path_regex += re.escape(path[idx : match.start()])
        path_regex += f"(?P<{param_name}>{convertor.regex})"
        path_format += path[idx : match.start()] + "{" + param_name + "}"
        if param_name in param_convertors:
            duplicated_params.add(param_name)
        param_convertors[param_name] = convertor
        idx = match.end()

    if duplicated_params:
        names = ", ".join(sorted(duplicated_params))
        ending = "s" if len(duplicated_params) > 1 else ""
        raise ValueError(f"Duplicated param name{ending} {names} at path {path}")

    tail = path[idx:]
    # A host's port stays in the format (URLs keep it) but not in the regex.
    path_regex += re.escape(_without_port(tail) if is_host else tail) + "$"
    path_format += tail
    return re.compile(path_regex), path_format, param_convertors


def _without_port(host: str) -> str:
    # `Host` matches the host name only; an IPv6 literal keeps its bracketed colons.
    if "]" in host:
        return host[: host.index("]") + 1]
    return host.split(":")[0]
