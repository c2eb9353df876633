"""The router's segment index: which routes could possibly match a path.

A `Router` keeps Starlette's first-match semantics (the first route in declaration
order that matches fully wins), but it does not try every route in turn. It asks a
`RouteIndex` for the routes that *could* match the request's route path, a superset of
those that do, and runs `matches()` on those only, in declaration order. Routes the
index leaves out would all have answered `Match.NONE`, so the outcome is the one a
plain loop over every route gives.

The index is a trie over the path's "/"-separated segments:

- a static segment (`users`) is a dict key;
- a segment holding only parameters whose convertor never matches "/" nor the empty
  string (`{id:int}`, `{slug}`, `v{major:int}.{minor:int}`) is the node's wildcard
  child, which any non-empty segment may take;
- from the first segment holding any other parameter (`{rest:path}`, a custom
  convertor, whose regex may span "/"; a `Mount`, whose pattern ends in
  `{path:path}`), the route is a *prefix* candidate for every path that reaches that
  node;
- a `Host` route of a name without parameters (`api.example.org`) is a candidate for
  every path, but only on that host (`hosts`, `lookup_on_host`);
- routes it cannot read (a `Host` with parameters, a subclass that overrides `matches`,
  any other `BaseRoute`) are candidates for every path: a few of them are kept in
  every node's candidates (`freeze`).

Once built, the index is frozen: each node keeps the candidates of the paths that end
at it or pass it (a trie node has one branch above it), so a path that follows a single
branch gets its candidates without building a list. When those are one route that
matches exactly what its template says (a plain `Route`), the index can decide the
match itself: `sole` maps a static path to its route, and `find` gives the parameters'
texts of a route whose parameters each fill a whole segment, checked with the
convertors' regexes, so that route's own regex need not run.

`RouteList` is the list a `Router` keeps its routes in: every mutation drops what was
built from it, so the next lookup rebuilds the index from the routes as they are then.
A route's regex attribute is stored with `store_regex`: replacing one already set does
the same for every built list that holds the route.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Generic, SupportsIndex, TypeVar, overload

from stellate_routing._linear import SEGMENT_REGEXES
from stellate_routing.convertors import Convertor, StringConvertor

__all__ = ["RouteIndex", "RouteList", "store_regex"]

T = TypeVar("T")


# The most candidates a trie node keeps precomputed for the paths that reach it.
_MAX_PRECOMPUTED = 32
# The most routes that are candidates for every path with which nodes are precomputed.
_MAX_ALWAYS = 8

# What a frozen node without static children has as `static`: one shared empty dict,
# never added to (nodes are added only before `freeze`). With many routes, a lookup
# then touches fewer distinct objects.
_NO_CHILDREN: dict[str, _Node] = {}

# A parameter that fills a whole path segment: the segment's index, the parameter's
# name, the `fullmatch` of its convertor's regex (None for `str`'s, see `_segment_check`)
# and the convertor's `convert` (None for `str`'s, which returns the text as it is).
_Slot = tuple[int, str, Callable[[str], object] | None, Callable[[str], Any] | None]


class _Node:
    __slots__ = ("ending", "passing", "prefix", "sole", "static", "terminal", "wildcard")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.wildcard: _Node | None = None
        # Positions of routes whose template ends exactly here.
        self.terminal: list[int] = []
        # Positions of routes that may match any path reaching this node.
        self.prefix: list[int] = []
        # Set by `RouteIndex.freeze`: the candidates of a path that ends at this node,
        # and of one that goes on past it and finds no child. A trie node is reached by
        # a single branch, so these are the same for every path that gets here.
        self.ending: tuple[Any, ...] | None = None
        self.passing: tuple[Any, ...] | None = None
        # Also by `freeze`: when a path ending here has one candidate, whose parameters
        # each fill a whole segment, that route's parameter slots (see `find`).
        self.sole: tuple[_Slot, ...] | None = None


class RouteIndex(Generic[T]):
    """Candidate routes for a route path, over a snapshot of a route list."""

    def __init__(self, routes: Sequence[T]) -> None:
        # The snapshot the positions refer to: a lookup never sees a half-mutated list.
        self.routes = tuple(routes)
        self._root = _Node()
        self._always: list[int] = []
        # The candidates of each static template's own path, worked out once by `freeze`:
        # the most requested paths skip the trie walk. Keyed by templates only, never by
        # request paths, so its size is fixed by the routes.
        self._exact: dict[str, tuple[T, ...]] = {}
        self._static_paths: list[str] = []
        # The parameter slots of the routes whose parameters each fill a whole segment.
        self._slots: dict[int, tuple[_Slot, ...]] = {}
        # One tuple of slots per distinct layout, shared by the routes that have it.
        self._shapes: dict[tuple[_Slot, ...], tuple[_Slot, ...]] = {}
        # The static paths that one route alone can match, and that route (see `freeze`).
        self.sole: dict[str, T] = {}
        # The positions of the `Host` routes of each host name without parameters (see
        # `add_host`): left out of every other lookup, since they match no other host.
        self.hosts: dict[str, list[int]] = {}

    def add(
        self, position: int, path_format: str, convertors: Mapping[str, Convertor[Any]]
    ) -> None:
        """Index the route at `position` by its `path_format` (`/users/{id}`)."""
        if not path_format.startswith("/"):
            self._always.append(position)
            return
        if not convertors:
            self._static_paths.append(path_format)
        node = self._root
        placed: set[str] = set()
        slots: list[_Slot] | None = []
        for depth, segment in enumerate(path_format[1:].split("/")):
            names = [name for name in convertors if "{" + name + "}" in segment]
            if not names:
                node = node.static.setdefault(segment, _Node())
                continue
            placed.update(names)
            if any(convertors[name].regex not in SEGMENT_REGEXES for name in names):
                node.prefix.append(position)
                return
            if slots is not None and segment == "{" + names[0] + "}":
                convertor = convertors[names[0]]
                convert: Callable[[str], Any] | None = convertor.convert
                if getattr(convert, "__func__", None) is StringConvertor.convert:
                    convert = None
                slots.append((depth, names[0], _segment_check(convertor.regex), convert))
            else:
                slots = None
            if node.wildcard is None:
                node.wildcard = _Node()
            node = node.wildcard
        if len(placed) != len(convertors):
            # A parameter that is not in the format: the template is not what the
            # route matches on, so do not guess.
            self._always.append(position)
            return
        node.terminal.append(position)
        if slots is not None:
            # Routes with the same parameter layout share one tuple: with many routes, a
            # lookup then touches fewer distinct objects (less of the CPU cache).
            shape = tuple(slots)
            self._slots[position] = self._shapes.setdefault(shape, shape)

    def add_always(self, position: int) -> None:
        """Make the route at `position` a candidate for every path."""
        self._always.append(position)

    def add_host(self, position: int, host: str) -> None:
        """Make the route at `position` a candidate for every path on the host `host`
        (a name without parameters: a `Host` route matches that name and no other)."""
        self.hosts.setdefault(host, []).append(position)

    def freeze(self, plain: Callable[[T], bool] = lambda route: False) -> None:
        """Precompute candidates, per node and per static template; call after the adds.

        `plain` tells the routes that match exactly what their template describes. A
        static path whose only candidate is such a route (one without parameters) is
        mapped to it in `sole`; a node whose only candidate is such a route, all of whose
        parameters fill a whole segment, keeps that route's slots for `find`.
        """
        # Routes that are candidates everywhere (a `Host`, say) are copied into every
        # node: a few of them still leave most paths one branch to walk; with more, the
        # index keeps to the general walk.
        if len(self._always) <= _MAX_ALWAYS:
            pending: list[tuple[_Node, list[int]]] = [(self._root, list(self._always))]
            while pending:
                node, above = pending.pop()
                passing = above + node.prefix
                node.passing = self._routes_at(passing)
                node.ending = self._routes_at(passing + node.terminal)
                if not passing and len(node.terminal) == 1:
                    position = node.terminal[0]
                    if position in self._slots and plain(self.routes[position]):
                        node.sole = self._slots[position]
                pending.extend((child, passing) for child in node.static.values())
                if not node.static:
                    node.static = _NO_CHILDREN
                if node.wildcard is not None:
                    pending.append((node.wildcard, passing))
        self._exact = {path: tuple(self._walk(path)) for path in self._static_paths}
        self.sole = {
            path: candidates[0]
            for path, candidates in self._exact.items()
            if len(candidates) == 1 and plain(candidates[0])
        }

    def lookup(self, route_path: str) -> Sequence[T]:
        """The routes that could match `route_path`, in declaration order."""
        return self.find(route_path)[0]

    def lookup_on_host(self, route_path: str, host: str | None) -> Sequence[T] | None:
        """`lookup` for a request to `host`, with the `Host` routes of that name; None
        when none has it (`lookup` then gives the candidates)."""
        positions = None if host is None else self.hosts.get(host)
        return None if positions is None else self._walk(route_path, positions)

    def find(self, route_path: str) -> tuple[Sequence[T], dict[str, Any] | None]:
        """`lookup`, and the converted parameters when its one candidate surely matches.

        That is a plain route (see `freeze`) whose parameters each fill a whole segment:
        the trie walk has checked its static segments, and the parameters are given when
        each one's segment matches its convertor's regex and converts. Its regex would
        then match with the same groups, unless it was replaced since.
        """
        exact = self._exact.get(route_path)
        if exact is not None:
            return exact, None
        if route_path.startswith("/") and not route_path.endswith("\n"):
            segments = route_path[1:].split("/")
            found, slots = self._single_branch(segments)
            if found is not None:
                if slots is None:
                    return found, None
                # (`_params`, inlined: the most common lookup with parameters.)
                params: dict[str, Any] = {}
                try:
                    for depth, name, check, convert in slots:
                        text = segments[depth]
                        if check is not None and check(text) is None:
                            return found, None
                        params[name] = text if convert is None else convert(text)
                except ValueError:
                    return found, None
                return found, params
        return self._walk(route_path), None

    def _walk(self, route_path: str, extra: Sequence[int] = ()) -> Sequence[T]:
        # The general walk: every node the path could reach, and the candidates there
        # (with the routes at the `extra` positions).
        positions = [*self._always, *extra]
        # Every indexed template starts with "/", and so does everything it matches.
        if route_path.startswith("/"):
            self._collect(route_path[1:].split("/"), positions)
            if route_path.endswith("\n"):
                # A pattern's "$" also matches just before a final newline.
                self._collect(route_path[1:-1].split("/"), positions)
                positions = list(set(positions))
        if not positions:
            # Most 404s, and the slash-toggled lookups behind them.
            return ()
        positions.sort()
        routes = self.routes
        return [routes[position] for position in positions]

    def _single_branch(
        self, segments: list[str]
    ) -> tuple[tuple[T, ...] | None, tuple[_Slot, ...] | None]:
        # Most paths follow a single branch of the trie to a node whose candidates
        # `freeze` worked out: those, and the node's sole slots if the path ends there.
        # None: the path could go both ways (a static child and the wildcard), or the
        # node has no precomputed candidates; the general walk decides.
        node = self._root
        for segment in segments:
            child = node.static.get(segment)
            wildcard = node.wildcard if segment else None
            if child is None:
                if wildcard is None:
                    return node.passing, None
                node = wildcard
            elif wildcard is None:
                node = child
            else:
                return None, None
        return node.ending, node.sole

    def _routes_at(self, positions: list[int]) -> tuple[T, ...] | None:
        # The routes at `positions`, in declaration order; None for a long list, which
        # is not worth keeping at every node below (the general walk finds it).
        if len(positions) > _MAX_PRECOMPUTED:
            return None
        routes = self.routes
        return tuple(routes[position] for position in sorted(positions))

    def _collect(self, segments: list[str], out: list[int]) -> None:
        # Most paths follow a single branch of the trie: walk it without a frontier
        # list until a segment could go both ways (a static child and the wildcard).
        node = self._root
        for depth, segment in enumerate(segments):
            out.extend(node.prefix)
            child = node.static.get(segment)
            wildcard = node.wildcard if segment else None
            if child is None:
                if wildcard is None:
                    return
                node = wildcard
            elif wildcard is None:
                node = child
            else:
                self._collect_from([child, wildcard], segments[depth + 1 :], out)
                return
        out.extend(node.prefix)
        out.extend(node.terminal)

    def _collect_from(self, frontier: list[_Node], segments: list[str], out: list[int]) -> None:
        # The general walk: every node the segments so far could have reached.
        for segment in segments:
            following: list[_Node] = []
            for node in frontier:
                out.extend(node.prefix)
                child = node.static.get(segment)
                if child is not None:
                    following.append(child)
                if segment and node.wildcard is not None:
                    following.append(node.wildcard)
            if not following:
                return
            frontier = following
        for node in frontier:
            out.extend(node.prefix)
            out.extend(node.terminal)


class RouteList(list[T]):
    """A list of routes that knows when it has changed.

    `cached(key, build)` returns the value `build` made from the list as it is now,
    building it again after any change. `built` holds those values by key; each change
    replaces it (so a lookup is one `built[key]` or `built.get(key)`), and a build that
    races with a change stores its value in the dict the change dropped.
    """

    # A slot, read on every request: a list subclass's own attributes would live in a
    # dict, read more slowly. (And a weak reference, for `_BUILT_LISTS`.)
    __slots__ = ("__weakref__", "built")

    built: Mapping[str, Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> RouteList[T]:
        # Set here rather than in `__init__`, so that a list made without calling it (by
        # `list.__new__` in a subclass, say) has it too. Read-only until the first build.
        routes = super().__new__(cls, *args, **kwargs)
        routes.built = _NOTHING_BUILT
        return routes

    def __reduce__(self) -> tuple[type[RouteList[T]], tuple[list[T]]]:
        # Copied and pickled as its items (with every protocol: protocols 0 and 1 refuse
        # a class with slots otherwise); what was built is built again when next needed.
        return type(self), (list(self),)

    def cached(self, key: str, build: Callable[[Sequence[T]], Any]) -> Any:
        """`build(snapshot)` for the list as it is now, made once until it changes."""
        built = self.built
        value = built.get(key)
        if value is not None:
            return value
        if not isinstance(built, dict):
            built = self.built = {}
        value = built[key] = build(list(self))
        _BUILT_LISTS[id(self)] = self
        return value

    def _changed(self) -> None:
        self.built = {}

    def append(self, item: T, /) -> None:
        super().append(item)
        self._changed()

    def extend(self, items: Iterable[T], /) -> None:
        super().extend(items)
        self._changed()

    def insert(self, index: SupportsIndex, item: T, /) -> None:
        super().insert(index, item)
        self._changed()

    def remove(self, item: T, /) -> None:
        super().remove(item)
        self._changed()

    def pop(self, index: SupportsIndex = -1, /) -> T:
        item = super().pop(index)
        self._changed()
        return item

    def clear(self) -> None:
        super().clear()
        self._changed()

    def reverse(self) -> None:
        super().reverse()
        self._changed()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        super().sort(*args, **kwargs)
        self._changed()

    def __iadd__(self, items: Iterable[T]) -> RouteList[T]:  # type: ignore[override,misc]
        super().__iadd__(items)
        self._changed()
        return self

    def __imul__(self, count: SupportsIndex) -> RouteList[T]:
        super().__imul__(count)
        self._changed()
        return self

    @overload
    def __setitem__(self, index: SupportsIndex, item: T, /) -> None: ...

    @overload
    def __setitem__(self, index: slice, items: Iterable[T], /) -> None: ...

    def __setitem__(self, index: Any, item: Any, /) -> None:
        super().__setitem__(index, item)
        self._changed()

    def __delitem__(self, index: SupportsIndex | slice, /) -> None:
        super().__delitem__(index)
        self._changed()


def store_regex(route: object, attribute: str, regex: re.Pattern[str]) -> None:
    """Store `regex` as `route`'s `attribute` (what its regex property reads).

    Replacing one already set changes how the route matches: what was built from each
    list that holds the route is dropped, and the next lookup builds it again.
    """
    # `getattr` and `setattr`, not `route.__dict__`: reading `__dict__` would turn the
    # route's attributes into a dict of its own, so that every later read of any of
    # them (`_direct`, `endpoint`, `methods` per request) takes the slower, unshared path.
    replaced = getattr(route, attribute, _UNSET) is not _UNSET
    setattr(route, attribute, regex)
    if replaced:
        for routes in list(_BUILT_LISTS.values()):
            if any(item is route for item in routes):
                routes._changed()


# What a `RouteList` has built before its first build: nothing, and read-only.
_NOTHING_BUILT: Mapping[str, Any] = MappingProxyType({})

# What `store_regex` reads for a regex attribute not set yet (the classes declare none).
_UNSET = object()

# The lists that have built something, by id, for `store_regex`: weakly held, so that
# a list no longer used leaves. (A route does not know the lists it is in, and keeping
# that on the route would make it unpicklable.)
_BUILT_LISTS: weakref.WeakValueDictionary[int, RouteList[Any]] = weakref.WeakValueDictionary()


@functools.cache
def _segment_check(regex: str) -> Callable[[str], object] | None:
    # What tells whether a whole segment matches a convertor's regex: its compiled
    # `fullmatch`, one per regex and shared by every route that uses it (only the
    # one-segment regexes, `SEGMENT_REGEXES`, a fixed few, come here). None for `str`'s
    # `[^/]+`, which every segment the walk gives a wildcard matches: one without "/"
    # that is not empty.
    if regex == StringConvertor.regex:
        return None
    return re.compile(regex).fullmatch
