"""The route index must pick exactly the route a plain first-match loop picks."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from stellate_asgi.datastructures import URL
from stellate_asgi.types import Receive, Scope, Send
from stellate_routing._index import RouteIndex, RouteList
from stellate_routing.convertors import (
    CONVERTOR_TYPES,
    Convertor,
    IntegerConvertor,
    StringConvertor,
    register_url_convertor,
)
from stellate_routing.routing import (
    BaseRoute,
    Host,
    Match,
    Mount,
    Route,
    Router,
    WebSocketRoute,
    compile_path,
)


class SlashyConvertor(Convertor[str]):
    """A custom convertor whose regex spans "/": never indexed as one segment."""

    regex = "[a-z/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class TwoDigitsConvertor(Convertor[int]):
    regex = "[0-9]{2}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return f"{value:02d}"


register_url_convertor("test_index_slashy", SlashyConvertor())
register_url_convertor("test_index_twodigits", TwoDigitsConvertor())


async def endpoint_app(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app used as a class-style endpoint (serves every method)."""


def http_endpoint(request: Any) -> Any:
    return None


async def ws_endpoint(websocket: Any) -> None:
    return None


class ContainsRoute(BaseRoute):
    """A route the index cannot read: matches any path containing `needle`."""

    def __init__(self, needle: str) -> None:
        self.needle = needle

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and self.needle in scope["path"]:
            return Match.FULL, {"endpoint": self}
        return Match.NONE, {}


class OnlyPostRoute(Route):
    """A `Route` subclass with its own `matches`: always tried by the index."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match == Match.FULL and scope.get("method") == "POST":
            return Match.PARTIAL, child_scope
        return match, child_scope


STATIC_SEGMENTS = ["a", "b", "users", "", "x.y", "{1bad}", "A", "v1"]
PARAM_SEGMENTS = [
    "{%s}",
    "{%s:str}",
    "{%s:int}",
    "{%s:float}",
    "{%s:uuid}",
    "v{%s:int}",
    "{%s}.json",
    "{%s:path}",
    "{%s:test_index_slashy}",
    "{%s:test_index_twodigits}",
    "x-{%s:path}",
]
UUID_TEXT = "6f1c3c2e-8e2a-4d4b-9b5e-1f2a3b4c5d6e"
VALUES = [
    "a",
    "b",
    "users",
    "",
    "12",
    "07",
    "1.5",
    UUID_TEXT,
    UUID_TEXT.upper(),
    "x.y",
    "v3",
    "v1",
    "a.json",
    "ü",
    "a/b",
    "a/b/",
    "x-a/b",
    "{1bad}",
    " ",
    "\n",
    "..",
    "-1",
]


def random_template(rng: random.Random, allow_params: bool = True) -> str:
    segments = []
    count = 0
    for _ in range(rng.randint(0, 4)):
        if allow_params and rng.random() < 0.45:
            # Two parameters in one segment now and then.
            if rng.random() < 0.1:
                segments.append(f"{{p{count}}}.{{p{count + 1}:int}}")
                count += 2
            else:
                segments.append(rng.choice(PARAM_SEGMENTS) % f"p{count}")
                count += 1
        else:
            segments.append(rng.choice(STATIC_SEGMENTS))
    return "/" + "/".join(segments)


# The hosts requests are sent to: some match the `Host` routes' names, some only with
# the port dropped, some differ by case, some are malformed.
REQUEST_HOSTS = [b"api.example.org", b"example.org:8000", b"Example.org", b"[::1]:80"]
REQUEST_HOSTS += [b"a", b"b", b"c", b"a:x"]


def random_route(rng: random.Random) -> BaseRoute:
    kind = rng.random()
    if kind < 0.5:
        methods = rng.choice([None, ["GET"], ["POST"], ["GET", "PUT"]])
        endpoint = http_endpoint if methods is not None or rng.random() < 0.5 else endpoint_app
        return Route(random_template(rng), endpoint, methods=methods)
    if kind < 0.65:
        return WebSocketRoute(random_template(rng), ws_endpoint)
    if kind < 0.77:
        inner = [Route("/", http_endpoint), Route("/{p}", http_endpoint)]
        path = "" if rng.random() < 0.1 else random_template(rng)
        return Mount(path, routes=inner)
    if kind < 0.85:
        host = rng.choice(["{sub}.example.org", "example.org", "api.{domain}", "[::1]", "a"])
        return Host(host, app=endpoint_app)
    if kind < 0.92:
        return ContainsRoute(rng.choice(["zz", "/b/", "users"]))
    return OnlyPostRoute(random_template(rng), http_endpoint, methods=["GET", "POST"])


def instantiate(rng: random.Random, template: str) -> str:
    # Fill each `{...}` of a template with a random value (valid or not).
    out = []
    i = 0
    while i < len(template):
        if template[i] == "{" and template.startswith("{1bad}", i):
            out.append("{1bad}")
            i += len("{1bad}")
        elif template[i] == "{":
            end = template.index("}", i)
            out.append(rng.choice(VALUES))
            i = end + 1
        else:
            out.append(template[i])
            i += 1
    return "".join(out)


def random_path(rng: random.Random, routes: list[BaseRoute]) -> str:
    templates = [r.path for r in routes if isinstance(r, Route | WebSocketRoute | Mount)]
    if templates and rng.random() < 0.7:
        path = instantiate(rng, rng.choice(templates))
        if rng.random() < 0.3:
            path += "/" + instantiate(rng, random_template(rng))[1:]
    else:
        path = "/" + "/".join(rng.choice(VALUES) for _ in range(rng.randint(0, 4)))
    mutation = rng.random()
    if mutation < 0.1:
        path += "/"
    elif mutation < 0.15:
        path += "\n"
    elif mutation < 0.2:
        path = path.rstrip("/")
    elif mutation < 0.23:
        path = path.lstrip("/")
    elif mutation < 0.26:
        path = "/" + path
    return path


def make_scope(rng: random.Random, path: str) -> Scope:
    root_path = rng.choice(["", "", "", "/root"])
    if root_path and rng.random() < 0.8:
        path = root_path + path
    return {
        "type": rng.choice(["http", "http", "websocket"]),
        "method": rng.choice(["GET", "POST", "HEAD", "PUT", "FOO"]),
        "path": path,
        "root_path": root_path,
        "query_string": b"",
        "scheme": "http",
        "server": ("testserver", 80),
        "headers": [(b"host", rng.choice(REQUEST_HOSTS))],
    }


def brute_force_match(routes: list[BaseRoute], scope: Scope) -> tuple[BaseRoute | None, Scope]:
    partial: tuple[BaseRoute, Scope] | None = None
    for route in routes:
        match, child_scope = route.matches(scope)
        if match == Match.FULL:
            return route, child_scope
        if match == Match.PARTIAL and partial is None:
            partial = (route, child_scope)
    return partial if partial is not None else (None, {})


def brute_force_redirect(routes: list[BaseRoute], scope: Scope) -> str | None:
    route_path = scope["path"]
    root_path = scope.get("root_path", "")
    if root_path and route_path.startswith(root_path):
        rest = route_path[len(root_path) :]
        if rest == "":
            route_path = ""
        elif rest.startswith("/"):
            route_path = rest
    if route_path == "/":
        return None
    redirect_scope = dict(scope)
    if route_path.endswith("/"):
        redirect_scope["path"] = scope["path"].rstrip("/")
    else:
        redirect_scope["path"] = scope["path"] + "/"
    for route in routes:
        if route.matches(redirect_scope)[0] != Match.NONE:
            url = str(URL(scope=redirect_scope))
            return "/" + url.lstrip("/\\") if url.startswith("/") else url
    return None


def assert_same_as_brute_force(router: Router, scope: Scope) -> None:
    routes = list(router.routes)
    expected_route, expected_scope = brute_force_match(routes, scope)
    route, child_scope = router._match(scope)
    assert route is expected_route, (scope["type"], scope["path"], route, expected_route)
    assert child_scope == expected_scope
    if scope["type"] == "http" and route is None:
        assert router._slash_redirect(scope) == brute_force_redirect(routes, scope)


@pytest.mark.parametrize("seed", range(40))
def test_index_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(8):
        routes = [random_route(rng) for _ in range(rng.randint(0, 30))]
        # Duplicates and overlaps: the same route twice, a copy of another's path.
        if routes and rng.random() < 0.5:
            routes.insert(rng.randrange(len(routes) + 1), rng.choice(routes))
        router = Router(routes=routes)
        for _ in range(40):
            assert_same_as_brute_force(router, make_scope(rng, random_path(rng, routes)))


@pytest.mark.parametrize("seed", range(10))
def test_index_follows_every_kind_of_mutation(seed: int) -> None:
    rng = random.Random(1000 + seed)
    router = Router(routes=[random_route(rng) for _ in range(10)])

    def check() -> None:
        for _ in range(15):
            assert_same_as_brute_force(router, make_scope(rng, random_path(rng, router.routes)))

    mutations: list[Callable[[], object]] = [
        lambda: router.routes.append(random_route(rng)),
        lambda: router.routes.insert(0, random_route(rng)),
        lambda: router.routes.extend([random_route(rng), random_route(rng)]),
        lambda: router.routes.__setitem__(0, random_route(rng)),
        lambda: router.routes.__setitem__(slice(0, 2), [random_route(rng)]),
        lambda: router.routes.__delitem__(0) if router.routes else None,
        lambda: router.routes.pop() if router.routes else None,
        lambda: router.routes.remove(router.routes[0]) if router.routes else None,
        lambda: router.routes.reverse(),
        lambda: router.routes.sort(key=lambda route: type(route).__name__),
        lambda: router.routes.__iadd__([random_route(rng)]),
        lambda: router.routes.__imul__(2),
        lambda: setattr(router, "routes", [random_route(rng) for _ in range(5)]),
        lambda: router.add_route(random_template(rng), http_endpoint),
        lambda: router.add_websocket_route(random_template(rng), ws_endpoint),
        lambda: router.mount(random_template(rng, allow_params=False), endpoint_app),
        lambda: router.host("{sub}.example.org", endpoint_app),
    ]
    check()
    for _ in range(25):
        rng.choice(mutations)()
        check()
    router.routes.clear()
    check()


def test_index_tries_only_the_candidates() -> None:
    # Thousands of routes; a request only runs `matches()` on a handful.
    routes: list[BaseRoute] = [Route(f"/static/{i}", http_endpoint) for i in range(2000)]
    routes += [Route(f"/users/{i}/{{id:int}}", http_endpoint) for i in range(2000)]
    routes.append(Mount("/files", app=endpoint_app))
    router = Router(routes=routes)

    def candidates(path: str) -> list[BaseRoute]:
        return list(router._candidates({"type": "http", "path": path, "root_path": ""}))

    assert candidates("/static/1500") == [routes[1500]]
    assert candidates("/users/1999/42") == [routes[3999]]
    assert candidates("/files/a/b") == [routes[-1]]
    assert candidates("/nothing/here") == []
    assert candidates("x") == []


def test_index_with_extra_candidates_keeps_declaration_order() -> None:
    host = Host("{sub}.example.org", app=endpoint_app)
    first = Route("/{name}", http_endpoint)
    mount = Mount("/a", app=endpoint_app)
    second = Route("/a/b", http_endpoint)
    router = Router(routes=[second, host, first, mount])
    scope = {"type": "http", "path": "/a/b", "root_path": ""}
    assert list(router._candidates(scope)) == [second, host, mount]
    scope = {"type": "http", "path": "/a", "root_path": ""}
    assert list(router._candidates(scope)) == [host, first, mount]


def test_trailing_newline_is_matched_as_the_regex_does() -> None:
    # "$" matches before a final "\n", so "/users\n" matches "/users" in a plain loop.
    route = Route("/users", http_endpoint)
    router = Router(routes=[route])
    scope = {"type": "http", "method": "GET", "path": "/users\n", "root_path": ""}
    assert route.matches(scope)[0] == Match.FULL
    assert router._match(scope)[0] is route


def test_custom_convertor_registered_over_a_builtin_key_is_not_trusted() -> None:
    original = CONVERTOR_TYPES["int"]
    try:
        register_url_convertor("int", SlashyConvertor())
        route = Route("/n/{x:int}", http_endpoint)
    finally:
        register_url_convertor("int", original)
    router = Router(routes=[route])
    scope = {"type": "http", "method": "GET", "path": "/n/a/b", "root_path": ""}
    assert router._match(scope)[0] is route


def test_route_index_directly() -> None:
    index: RouteIndex[str] = RouteIndex(["static", "param", "prefix", "always", "odd"])
    index.add(0, "/a/b", {})
    index.add(1, "/a/{x}", {"x": StringConvertor()})
    index.add(2, "/a/{rest}", {"rest": SlashyConvertor()})
    index.add_always(3)
    index.add(4, "no-leading-slash", {})
    assert index.lookup("/a/b") == ["static", "param", "prefix", "always", "odd"]
    assert index.lookup("/a/c") == ["param", "prefix", "always", "odd"]
    assert index.lookup("/a/") == ["prefix", "always", "odd"]
    assert index.lookup("/b") == ["always", "odd"]


def test_route_index_distrusts_a_format_that_lacks_a_parameter() -> None:
    index: RouteIndex[str] = RouteIndex(["odd"])
    index.add(0, "/a", {"x": IntegerConvertor()})
    assert index.lookup("/zzz") == ["odd"]


def test_route_list_rebuilds_after_each_change() -> None:
    routes: RouteList[int] = RouteList([1, 2])
    builds: list[list[int]] = []

    def build(snapshot: Any) -> int:
        builds.append(list(snapshot))
        return sum(snapshot)

    assert routes.cached("k", build) == 3
    assert routes.cached("k", build) == 3
    assert len(builds) == 1
    routes.append(3)
    assert routes.cached("k", build) == 6
    routes[0] = 10
    assert routes.cached("k", build) == 15
    assert len(builds) == 3


def test_route_list_survives_copy_and_pickle() -> None:
    import copy
    import pickle

    routes: RouteList[int] = RouteList([1, 2])
    routes.cached("k", sum)
    pickled = [
        pickle.loads(pickle.dumps(routes, protocol))
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1)
    ]
    for clone in (copy.copy(routes), copy.deepcopy(routes), *pickled):
        assert type(clone) is RouteList
        assert clone == [1, 2]
        assert clone.cached("k", sum) == 3
        clone.append(3)
        assert clone.cached("k", sum) == 6


def test_assigning_a_route_list_shares_it() -> None:
    first = Router(routes=[Route("/a", http_endpoint)])
    second = Router()
    second.routes = first.routes
    first.routes.append(Route("/b", http_endpoint))
    scope = {"type": "http", "method": "GET", "path": "/b", "root_path": ""}
    assert second._match(scope)[0] is first.routes[1]


def test_uuid_and_float_routes_are_segment_indexed() -> None:
    by_uuid = Route("/u/{id:uuid}", http_endpoint)
    by_float = Route("/f/{x:float}", http_endpoint)
    router = Router(routes=[by_uuid, by_float])
    value = uuid.uuid4()
    scope = {"type": "http", "method": "GET", "path": f"/u/{value}", "root_path": ""}
    route, child_scope = router._match(scope)
    assert route is by_uuid
    assert child_scope["path_params"] == {"id": value}
    scope = {"type": "http", "method": "GET", "path": "/f/2.5", "root_path": ""}
    assert router._match(scope)[1]["path_params"] == {"x": 2.5}


def test_a_static_route_alone_on_its_path_answers_as_its_matches_would() -> None:
    # The router skips `matches()` for a plain parameterless route that is the only
    # candidate of its path; what it returns must be what `matches()` returns.
    get_only = Route("/a", http_endpoint, methods=["GET"])
    socket = WebSocketRoute("/a", endpoint_app)
    router = Router(routes=[get_only, socket, Route("/a/{x}", http_endpoint)])
    for scope_type, method, route in [
        ("http", "GET", get_only),
        ("http", "POST", get_only),
        ("websocket", "GET", socket),
    ]:
        for outer in ({}, {"tenant": "t1"}):
            scope = {
                "type": scope_type,
                "method": method,
                "path": "/a",
                "root_path": "",
                "path_params": outer,
            }
            assert router._match(scope) == (route, route.matches(scope)[1])
            assert router._match(scope)[1]["path_params"] == outer
            assert router._match(scope)[1]["path_params"] is not outer


def test_a_static_route_with_a_replaced_regex_matches_by_it() -> None:
    route = Route("/a", http_endpoint)
    router = Router(routes=[route])
    scope = {"type": "http", "method": "GET", "path": "/a", "root_path": ""}
    assert router._match(scope)[0] is route
    # The route's own regex decides: "/a" no longer matches, "/b" does.
    route.path_regex = re.compile("^/b$")
    assert router._match(scope)[0] is None
    assert router._match({**scope, "path": "/b"})[0] is route


def test_a_route_is_placed_by_its_template_only_while_its_regex_is_the_templates() -> None:
    # A regex compiled again from the template (a subclass's) keeps the route on its
    # branch; any other regex makes it a candidate for every path.
    again = Route("/again/{n:int}", http_endpoint)
    compiled = again.path_regex
    # (Out of `re`'s cache, the new regex is another object, as with many routes.)
    re.purge()
    again.path_regex, again.path_format, again.param_convertors = compile_path(again.path)
    other = Route("/other", http_endpoint)
    other.path_regex = re.compile("^/elsewhere$")
    mount = Mount("/m", app=endpoint_app)
    mount.path_regex = re.compile("^/n/(?P<path>.*)$")
    assert again.path_regex is not compiled
    router = Router(routes=[again, other, mount])
    scope = {"type": "http", "method": "GET", "root_path": ""}
    assert list(router._candidates({**scope, "path": "/again/1"})) == [again, other, mount]
    assert list(router._candidates({**scope, "path": "/unrelated"})) == [other, mount]


def test_a_route_that_matches_its_own_way_is_asked() -> None:
    class Never(Route):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            return Match.NONE, {}

    router = Router(routes=[Never("/a", http_endpoint)])
    assert router._match({"type": "http", "method": "GET", "path": "/a", "root_path": ""}) == (
        None,
        {},
    )


def test_a_parameter_route_alone_on_its_branch_answers_as_its_matches_would() -> None:
    # The router takes the parameters from the trie walk for a plain route that is the
    # only candidate at the end of its branch; `matches()` must agree in every case.
    item = Route("/items/{id:int}/parts/{name}", http_endpoint, methods=["GET"])
    ratio = Route("/ratio/{value:float}", http_endpoint)
    socket = WebSocketRoute("/rooms/{room}", endpoint_app)
    router = Router(routes=[item, ratio, socket])
    cases = [
        ("http", "GET", "/items/42/parts/bolt", item),
        ("http", "POST", "/items/42/parts/bolt", item),
        ("http", "GET", "/items/x/parts/bolt", None),
        ("http", "GET", "/items/42/parts/", None),
        ("http", "GET", "/items/42/parts/a\nb", item),
        ("http", "GET", "/ratio/1.5", ratio),
        ("http", "GET", "/ratio/1.", None),
        ("websocket", "GET", "/rooms/lobby", socket),
    ]
    for scope_type, method, path, expected in cases:
        for outer in ({}, {"tenant": "t1"}):
            scope = {
                "type": scope_type,
                "method": method,
                "path": path,
                "root_path": "",
                "path_params": outer,
            }
            route, child_scope = router._match(scope)
            assert route is expected, path
            if expected is not None:
                assert child_scope == expected.matches(scope)[1]


def test_a_convertor_that_refuses_its_text_leaves_the_route_unmatched() -> None:
    class Even(StringConvertor):
        def convert(self, value: str) -> str:
            if len(value) % 2:
                raise ValueError("odd")
            return value

    route = Route("/even/{word}", http_endpoint)
    route.param_convertors["word"] = Even()
    router = Router(routes=[route])
    scope = {"type": "http", "method": "GET", "path": "/even/ab", "root_path": ""}
    assert router._match(scope)[0] is route
    assert router._match({**scope, "path": "/even/abc"}) == (None, {})


def test_a_parameter_route_with_a_replaced_regex_matches_by_it() -> None:
    route = Route("/items/{id:int}", http_endpoint)
    router = Router(routes=[route])
    scope = {"type": "http", "method": "GET", "path": "/items/42", "root_path": ""}
    assert router._match(scope)[1]["path_params"] == {"id": 42}
    route.path_regex = re.compile("^/items/(?P<id>4)2$")
    assert router._match(scope)[1]["path_params"] == {"id": 4}


def test_long_candidate_lists_are_not_kept_at_each_node() -> None:
    # 40 mounts on one prefix: past the precomputed limit, the general walk lists them.
    mounts: list[BaseRoute] = [Mount("/files", app=endpoint_app, name=f"m{i}") for i in range(40)]
    router = Router(routes=[*mounts, Route("/files/{name}/raw", http_endpoint)])
    scope = {"type": "http", "method": "GET", "path": "/files/a/raw", "root_path": ""}
    assert list(router._candidates(scope)) == router.routes
    assert router._match(scope)[0] is mounts[0]


@pytest.mark.parametrize("hosts", [1, 8, 9])
def test_a_few_routes_for_every_path_still_follow_one_branch(hosts: int) -> None:
    # Hosts with parameters are candidates for every path. Up to eight, each node keeps
    # them with its own candidates: a lookup along one branch finds that list as it is,
    # made once. Past that, the general walk builds the list for each lookup. Either way
    # the candidates are the hosts and the path's routes, in declaration order.
    host_routes: list[BaseRoute] = [
        Host(f"{{sub}}.h{i}.example.org", app=endpoint_app) for i in range(hosts)
    ]
    users = Route("/users/{id:int}", http_endpoint)
    router = Router(routes=[host_routes[0], users, *host_routes[1:]])
    scope: Scope = {"type": "http", "method": "GET", "path": "/users/7", "root_path": ""}
    first = router._candidates(scope)
    assert list(first) == [host_routes[0], users, *host_routes[1:]]
    assert (router._candidates(scope) is first) == (hosts <= 8)
    scope["headers"] = [(b"host", b"x.h0.example.org")]
    assert router._match(scope)[0] is host_routes[0]
    scope["headers"] = [(b"host", b"elsewhere.org")]
    assert router._match(scope) == (users, {"endpoint": http_endpoint, "path_params": {"id": 7}})


def test_hosts_without_parameters_are_candidates_on_their_host_only() -> None:
    # However many, `Host` routes of plain names cost a request to another host
    # nothing: its lookup is the path's own, precomputed. On one of those hosts, its
    # routes join the path's, in declaration order.
    host_routes = [Host(f"h{i}.example.org", app=endpoint_app) for i in range(100)]
    users = Route("/users/{id:int}", http_endpoint)
    about = Route("/about", http_endpoint)
    also = Host("h50.example.org", app=endpoint_app, name="second")
    router = Router(routes=[*host_routes[:50], users, *host_routes[50:], about, also])
    scope: Scope = {"type": "http", "method": "GET", "path": "/users/7", "root_path": ""}

    def candidates(host: bytes) -> Sequence[BaseRoute]:
        return router._candidates({**scope, "headers": [(b"host", host)]})

    first = candidates(b"elsewhere.org")
    assert list(first) == [users]
    assert candidates(b"elsewhere.org:8000") is first
    assert list(candidates(b"h3.example.org")) == [host_routes[3], users]
    assert list(candidates(b"h50.example.org:443")) == [users, host_routes[50], also]
    assert list(candidates(b"h99.example.org")) == [users, host_routes[99]]
    # Host names match as `Host` routes match them: exactly, port aside.
    assert list(candidates(b"H3.example.org")) == [users]

    def matched(host: bytes, path: str) -> BaseRoute | None:
        return router._match({**scope, "path": path, "headers": [(b"host", host)]})[0]

    assert matched(b"h3.example.org", "/users/7") is host_routes[3]
    assert matched(b"h60.example.org", "/users/7") is users
    assert matched(b"h60.example.org", "/about") is host_routes[60]
    assert matched(b"elsewhere.org", "/about") is about
    assert matched(b"elsewhere.org", "/missing") is None
    assert matched(b"not a host", "/missing") is None
    assert router._match(scope)[0] is users  # (no headers at all)
    # Each host twice, past the few host names kept parsed: the same answers.
    for _ in range(2):
        for i in range(100):
            expected = host_routes[i] if i < 50 else users
            assert matched(f"h{i}.example.org:{i}".encode(), "/users/7") is expected
            assert matched(f"h{i}.example.org:{i}:{i}".encode(), "/users/7") is users
