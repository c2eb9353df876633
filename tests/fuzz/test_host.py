"""Fuzz tests of `Host` header parsing: `parse_host_header`, the `URL` of a request,
`Host` routes and `TrustedHostMiddleware`.

Properties: every well-formed `host[:port]` (registered names, IPv4, bracketed IPv6
and IPvFuture literals, ports with leading zeros) parses to its parts; any text
either parses to something `urllib` reads the same way or is refused with `None`;
the URL of a request never raises, its host is the Host header's or the server's
(never junk from the header) and its path is the requested path; a Host-routed
application and `TrustedHostMiddleware` answer 200, 307, 400 or 404 to any Host
header, never a 5xx, and let through exactly the hosts they serve; parsing is
linear up to the length cap.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stellate.applications import Stellate
from stellate.middleware import Middleware
from stellate.middleware.trustedhost import TrustedHostMiddleware
from stellate.requests import Request
from stellate.responses import JSONResponse, Response
from stellate.routing import Host, Route, Router
from stellate_asgi.datastructures import URL
from stellate_asgi.utils import MAX_HOST_LENGTH, parse_host_header
from tests.fuzz._asgi import call
from tests.fuzz._timing import assert_linear

# RFC 3986 reg-name characters: unreserved, pct-encoded ("%") and sub-delims.
REG_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;="
reg_names = st.text(REG_NAME_CHARS, min_size=1, max_size=30)
ipv4_hosts = st.ip_addresses(v=4).map(str)
ipv6_hosts = st.ip_addresses(v=6).flatmap(
    lambda address: st.sampled_from([address.compressed, address.exploded]).map(
        lambda text: f"[{text}]"
    )
)
ipvfuture_hosts = st.builds(
    lambda version, rest: f"[v{version}.{rest}]",
    st.text("0123456789abcdefABCDEF", min_size=1, max_size=3),
    st.text(REG_NAME_CHARS.replace("%", "") + ":", min_size=1, max_size=12),
)
hosts = st.one_of(reg_names, ipv4_hosts, ipv6_hosts, ipvfuture_hosts)
# A port as a client may write it: digits, perhaps zero-padded; "" is "host:".
ports = st.one_of(
    st.none(),
    st.just(""),
    st.builds(
        lambda port, zeros: "0" * zeros + str(port),
        st.integers(0, 65535),
        st.integers(0, 3),
    ),
)
# Dense in the characters that delimit the parts of a Host header.
host_soup = st.text(st.sampled_from("[]:.0123456789abcdefv%@/?# \t\x00é"), max_size=40)
any_host_text = st.one_of(st.text(max_size=60), host_soup)
# Hosts the applications below serve, and near misses of them, so that the
# application tests also see the requests that get through.
near_hosts = st.sampled_from(
    [
        "api.example.org",
        "API.example.org",
        "api.example.org.",
        "x.example.com",
        "a.b.example.com",
        ".example.com",
        "example.com",
        "example.org",
        "example.org.",
        "example.org..",
        "www.example.net",
        "example.net",
        "[::1]",
        "[0:0::1]",
        "[::2]",
        "api.example.org:80:80",
        "api.example.org:70000",
        "api.example.org/path",
        "evil.com@api.example.org",
    ]
)
host_header_lists = st.lists(
    st.one_of(st.binary(max_size=40), hosts.map(str.encode), near_hosts.map(str.encode)),
    max_size=2,
)


@given(hosts, ports)
def test_a_well_formed_host_parses_to_its_parts(host: str, port: str | None) -> None:
    header = host if port is None else f"{host}:{port}"
    parsed = parse_host_header(header)
    assert parsed is not None
    assert parsed.host == host
    assert parsed.port == (int(port) if port else None)
    assert parsed.hostname == host.strip("[]").lower()
    assert parsed.authority == (header if port else host)


@given(any_host_text)
def test_any_host_text_is_refused_or_read_as_urllib_reads_it(header: str) -> None:
    parsed = parse_host_header(header)
    if parsed is None:
        return
    # An accepted header is a plain authority: urllib finds the same host and port,
    # and nothing of it spills into a path, query, fragment or userinfo.
    split = urlsplit(f"http://{parsed.authority}/rest")
    assert split.hostname == parsed.hostname
    assert split.port == parsed.port
    assert split.path == "/rest"
    assert (split.query, split.fragment, split.username) == ("", "", None)


@given(st.integers(MAX_HOST_LENGTH - 3, MAX_HOST_LENGTH + 3), st.sampled_from("a1.-"), ports)
def test_a_host_over_the_length_cap_is_refused(length: int, char: str, port: str | None) -> None:
    header = char * length + ("" if port is None else f":{port}")
    parsed = parse_host_header(header)
    assert (parsed is None) == (len(header) > MAX_HOST_LENGTH)


@given(
    st.one_of(st.binary(max_size=60), host_soup.map(lambda text: text.encode("utf-8"))),
    st.text(max_size=30),
    st.binary(max_size=30),
)
def test_the_url_of_a_request_keeps_its_host_and_path(host: bytes, path: str, query: bytes) -> None:
    scope = {
        "type": "http",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "path": path,
        "query_string": query,
        "headers": [(b"host", host)],
    }
    url = URL(scope=scope)
    parsed = parse_host_header(host.decode("latin-1"))
    if parsed is None:
        assert (url.hostname, url.port) == ("127.0.0.1", 8000)
    else:
        assert (url.hostname, url.port) == (parsed.hostname, parsed.port)
    # urllib drops tabs and newlines, and "?" and "#" in a path end it.
    if not any(char in path for char in "?#\t\r\n"):
        assert url.path == (path if path.startswith("/") or not path else "/" + path)


@pytest.mark.anyio
@given(host_header_lists, ports)
async def test_a_host_routed_app_answers_200_or_404_to_any_host(
    host_headers: list[bytes], port: str | None
) -> None:
    if port is not None and host_headers:
        host_headers[0] += b":" + port.encode()
    answer = await call(
        _host_routed_app(), path="/whoami", headers=[(b"host", h) for h in host_headers]
    )
    assert answer.status in (200, 404)
    if answer.status == 200:
        seen = json.loads(answer.body)
        sub = seen["sub"]
        routed = "api.example.org" if sub is None else f"{sub}.example.com"
        # The (first) Host header named the routed host, and request.url agrees with
        # it (or, for a port out of range, falls back to the server's address).
        header = host_headers[0].decode("latin-1")
        assert header == routed or header.startswith(routed + ":")
        assert seen["hostname"] in (routed.lower(), "127.0.0.1")
        assert seen["path"] == "/whoami"


@pytest.mark.anyio
@given(host_header_lists)
async def test_trusted_host_answers_200_307_or_400_to_any_host(host_headers: list[bytes]) -> None:
    answer = await call(_trusted_app(), headers=[(b"host", h) for h in host_headers])
    assert answer.status in (200, 307, 400)
    if answer.status == 400:
        assert answer.body == b"Invalid host header"
        return
    assert len(host_headers) == 1
    parsed = parse_host_header(host_headers[0].decode("latin-1"))
    assert parsed is not None
    if answer.status == 307:
        location = urlsplit((answer.header(b"location") or b"").decode("latin-1"))
        assert location.hostname == "www.example.net"
    else:
        assert _trusted(parsed.hostname)


@pytest.mark.anyio
@given(
    st.sampled_from(["example.org", "a.example.com", "b.c.example.com", "www.example.net"]),
    st.sampled_from([str.lower, str.upper, str.title]),
    st.booleans(),
    ports,
)
async def test_trusted_host_lets_every_spelling_of_an_allowed_host_through(
    host: str, case: Callable[[str], str], trailing_dot: bool, port: str | None
) -> None:
    header = case(host) + ("." if trailing_dot else "") + ("" if port is None else ":" + port)
    answer = await call(_trusted_app(), headers=[(b"host", header.encode())])
    assert answer.status == 200


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda n: "a" * n, id="long-name"),
        pytest.param(lambda n: "a." * (n // 2), id="many-labels"),
        pytest.param(lambda n: "%" * n, id="percents"),
        pytest.param(lambda n: "[" + ":" * n + "]", id="colons-in-brackets"),
        pytest.param(lambda n: "[v1." + "a" * n + "]", id="ipvfuture"),
        pytest.param(lambda n: "a:" + "0" * n, id="zero-padded-port"),
        pytest.param(lambda n: "a:" * (n // 2), id="many-colons"),
    ],
)
def test_host_parsing_takes_linear_time(make_header: Callable[[int], str]) -> None:
    # 16 * 60 stays under the length cap, so the whole parse is measured.
    assert_linear(parse_host_header, make_header, 60)


def _trusted(hostname: str) -> bool:
    # The allowed hosts of `_trusted_app`, compared as a browser would name them.
    name = hostname.removesuffix(".")
    if name in ("example.org", "www.example.net") or name.endswith(".example.com"):
        return True
    try:
        return ipaddress.IPv6Address(name) == ipaddress.IPv6Address("::1")
    except ValueError:
        return False


@functools.cache
def _host_routed_app() -> Router:
    def whoami(request: Request) -> Response:
        seen = {
            "sub": request.path_params.get("sub"),
            "hostname": request.url.hostname,
            "path": request.url.path,
        }
        return JSONResponse(seen)

    routes = [Route("/whoami", whoami)]
    return Router(
        routes=[
            Host("api.example.org", app=Router(routes=routes)),
            Host("{sub}.example.com", app=Router(routes=routes)),
        ]
    )


@functools.cache
def _trusted_app() -> Stellate:
    def endpoint(request: Request) -> Response:
        return JSONResponse({"host": request.url.hostname})

    allowed = ["example.org", "*.example.com", "[::1]", "www.example.net"]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed)]
    return Stellate(routes=[Route("/", endpoint)], middleware=middleware)
