"""Route path templates: compiling `/users/{id:int}` and filling it back in."""

from __future__ import annotations

import re
from typing import Any

from stellate_routing.convertors import (
    CONVERTOR_TYPES,
    Convertor,
    FloatConvertor,
    IntegerConvertor,
    StringConvertor,
    UUIDConvertor,
)

__all__ = ["PARAM_FORMAT_REGEX", "PARAM_REGEX", "compile_path", "replace_params"]

# A parameter in a route path: `{name}` or `{name:convertor}`.
PARAM_REGEX = re.compile("{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}")

# A parameter in a compiled `path_format`, where the convertor is already dropped.
PARAM_FORMAT_REGEX = re.compile("{([a-zA-Z_][a-zA-Z0-9_]*)}")

# Convertor regexes that never match "/" (those of `str`, `int`, `float` and `uuid`):
# a parameter using one stays inside its path segment.
_SEGMENT_REGEXES = frozenset(
    {StringConvertor.regex, IntegerConvertor.regex, FloatConvertor.regex, UUIDConvertor.regex}
)


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
    duplicated_params: set[str] = set()
    param_convertors: dict[str, Convertor[Any]] = {}
    if is_host:
        path_regex, path_format = _compile_piece(
            path, param_convertors, duplicated_params, is_host=True
        )
    else:
        regexes: list[str] = []
        formats: list[str] = []
        for segment in path.split("/"):
            segment_regex, segment_format = _compile_piece(
                segment, param_convertors, duplicated_params
            )
            regexes.append(_guard_segment(segment_regex, segment_format, param_convertors))
            formats.append(segment_format)
        path_regex = "/".join(regexes)
        path_format = "/".join(formats)

    if duplicated_params:
        names = ", ".join(sorted(duplicated_params))
        ending = "s" if len(duplicated_params) > 1 else ""
        raise ValueError(f"Duplicated param name{ending} {names} at path {path}")
    return re.compile("^" + path_regex + "$"), path_format, param_convertors


# Helpers


def _compile_piece(
    text: str,
    param_convertors: dict[str, Convertor[Any]],
    duplicated_params: set[str],
    *,
    is_host: bool = False,
) -> tuple[str, str]:
    """The regex and format of `text` (a path segment, or a whole host template),
    recording its parameters' convertors (and any name seen twice)."""
    regex = ""
    path_format = ""
    idx = 0
    for match in PARAM_REGEX.finditer(text):
        param_name, convertor_type = match.groups("str")
        convertor_type = convertor_type.lstrip(":")
        if convertor_type not in CONVERTOR_TYPES:
            raise AssertionError(f"Unknown path convertor '{convertor_type}'")
        convertor = CONVERTOR_TYPES[convertor_type]
        regex += re.escape(text[idx : match.start()])
        regex += f"(?P<{param_name}>{convertor.regex})"
        path_format += text[idx : match.start()] + "{" + param_name + "}"
        if param_name in param_convertors:
            duplicated_params.add(param_name)
        param_convertors[param_name] = convertor
        idx = match.end()
    tail = text[idx:]
    # A host's port stays in the format (URLs keep it) but not in the regex.
    regex += re.escape(_without_port(tail) if is_host else tail)
    path_format += tail
    return regex, path_format


def _guard_segment(
    segment_regex: str, segment_format: str, param_convertors: dict[str, Convertor[Any]]
) -> str:
    """`segment_regex`, made atomic when it holds several one-segment parameters.

    With two parameters in one segment (`{slug}-{lang}`, `{name}.{ext}`), a regex
    engine would try every split of a hostile segment again each time the rest of
    the path fails to match: quadratic time. Such a segment can only end at the next
    "/" (or the end), whichever way it is split, so once one split reaches there the
    others cannot change the outcome: an atomic group with that lookahead commits to
    the first, as the plain regex would have, and matching stays linear.
    """
    names = PARAM_FORMAT_REGEX.findall(segment_format)
    if len(names) < 2 or any(
        param_convertors[name].regex not in _SEGMENT_REGEXES for name in names
    ):
        return segment_regex
    return f"(?>{segment_regex}(?=/|$))"


def _without_port(host: str) -> str:
    # `Host` matches the host name only; an IPv6 literal keeps its bracketed colons.
    if "]" in host:
        return host[: host.index("]") + 1]
    return host.split(":")[0]
