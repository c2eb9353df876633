"""Route path templates: compiling `/users/{id:int}` and filling it back in."""

from __future__ import annotations

import re
from typing import Any

from stellate_routing._linear import KINDS, SEGMENT_REGEXES, LinearMatcher
from stellate_routing.convertors import (
    CONVERTOR_TYPES,
    Convertor,
)

__all__ = [
    "PARAM_FORMAT_REGEX",
    "PARAM_REGEX",
    "compile_path",
    "compile_template",
    "match_template",
    "replace_params",
]

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
    path_regex, path_format, param_convertors, _ = compile_template(path)
    return path_regex, path_format, param_convertors


def compile_template(
    path: str,
) -> tuple[re.Pattern[str], str, dict[str, Convertor[Any]], LinearMatcher | None]:
    """`compile_path`, plus a `LinearMatcher` that routes use instead of the regex when
    the regex could take polynomial time on a hostile path or host.

    That is a template with several parameters in one path segment (or in a host) or
    with two `path` parameters, all of builtin convertors; other templates get None,
    their regex being linear already (or, for custom convertors, beyond analysis).
    """
    is_host = not path.startswith("/")
    duplicated_params: set[str] = set()
    param_convertors: dict[str, Convertor[Any]] = {}
    pieces: list[_Piece] = []
    if is_host:
        piece = _compile_piece(path, param_convertors, duplicated_params, is_host=True)
        pieces.append(piece)
        path_regex, path_format = piece.regex, piece.format
    else:
        regexes: list[str] = []
        formats: list[str] = []
        for segment in path.split("/"):
            piece = _compile_piece(segment, param_convertors, duplicated_params)
            pieces.append(piece)
            regexes.append(_guard_segment(piece.regex, piece.format, param_convertors))
            formats.append(piece.format)
        path_regex = "/".join(regexes)
        path_format = "/".join(formats)

    if duplicated_params:
        names = ", ".join(sorted(duplicated_params))
        ending = "s" if len(duplicated_params) > 1 else ""
        raise ValueError(f"Duplicated param name{ending} {names} at path {path}")
    pattern = re.compile("^" + path_regex + "$")
    return pattern, path_format, param_convertors, _linear_matcher(pattern, pieces)


def match_template(
    pattern: re.Pattern[str], linear: LinearMatcher | None, text: str
) -> dict[str, str] | None:
    """The parameters' texts when `text` matches a compiled template, else None.

    Matched by `linear` when it was made for this very `pattern` (a route whose pattern
    attribute was replaced uses the new one), else by `pattern`.
    """
    if linear is not None and linear.pattern is pattern:
        return linear.match(text)
    match = pattern.match(text)
    return None if match is None else match.groupdict()


# Helpers


class _Piece:
    """A compiled path segment (or host): its regex and format, and its tokens, the
    literal texts (as the regex matches them) between its parameters."""

    __slots__ = ("format", "literals", "params", "regex")

    def __init__(self) -> None:
        self.regex = ""
        self.format = ""
        # `literals[i]` precedes `params[i]`; the last one ends the piece.
        self.literals: list[str] = []
        self.params: list[tuple[str, str]] = []


def _compile_piece(
    text: str,
    param_convertors: dict[str, Convertor[Any]],
    duplicated_params: set[str],
    *,
    is_host: bool = False,
) -> _Piece:
    """`text` (a path segment, or a whole host template) compiled, recording its
    parameters' convertors (and any name seen twice)."""
    piece = _Piece()
    idx = 0
    for match in PARAM_REGEX.finditer(text):
        param_name, convertor_type = match.groups("str")
        convertor_type = convertor_type.lstrip(":")
        if convertor_type not in CONVERTOR_TYPES:
            raise AssertionError(f"Unknown path convertor '{convertor_type}'")
        convertor = CONVERTOR_TYPES[convertor_type]
        literal = text[idx : match.start()]
        piece.regex += re.escape(literal) + f"(?P<{param_name}>{convertor.regex})"
        piece.format += literal + "{" + param_name + "}"
        piece.literals.append(literal)
        piece.params.append((param_name, convertor.regex))
        if param_name in param_convertors:
            duplicated_params.add(param_name)
        param_convertors[param_name] = convertor
        idx = match.end()
    tail = text[idx:]
    # A host's port stays in the format (URLs keep it) but not in the regex.
    matched_tail = _without_port(tail) if is_host else tail
    piece.regex += re.escape(matched_tail)
    piece.format += tail
    piece.literals.append(matched_tail)
    return piece


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
    if len(names) < 2 or any(param_convertors[name].regex not in SEGMENT_REGEXES for name in names):
        return segment_regex
    return f"(?>{segment_regex}(?=/|$))"


def _without_port(host: str) -> str:
    # `Host` matches the host name only; an IPv6 literal keeps its bracketed colons.
    if "]" in host:
        return host[: host.index("]") + 1]
    return host.split(":")[0]


def _linear_matcher(pattern: re.Pattern[str], pieces: list[_Piece]) -> LinearMatcher | None:
    # A matcher for the templates whose regex could backtrack polynomially: several
    # parameters in one piece (adjacent ones included), or two `.*` that can trade
    # text across segments. Every other template's regex is linear.
    params = [param for piece in pieces for param in piece.params]
    kinds = [KINDS.get(regex) for _, regex in params]
    crowded = any(len(piece.params) > 1 for piece in pieces) or kinds.count("path") > 1
    if not crowded or None in kinds:
        return None
    # The whole template as literals between parameters; "/" joins the segments.
    literals = [pieces[0].literals[0]]
    for index, piece in enumerate(pieces):
        if index:
            literals[-1] += "/" + piece.literals[0]
        literals.extend(piece.literals[1:])
    steps = [
        (name, kind, literal)
        for (name, _), kind, literal in zip(params, kinds, literals[1:], strict=True)
        if kind is not None
    ]
    return LinearMatcher(pattern, literals[0], steps)
