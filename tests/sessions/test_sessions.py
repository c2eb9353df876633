from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
import time
import tomllib
from base64 import b64encode, urlsafe_b64encode
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import itsdangerous
import pytest

from stellate_asgi.connection import HTTPConnection
from stellate_asgi.datastructures import Secret
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from stellate_middleware import Middleware
from stellate_routing import Route, Router, WebSocketRoute
from stellate_sessions import Session, SessionMiddleware
from stellate_websockets import WebSocket
from tests.conftest import TestClientFactory

PACKAGE = Path(__file__).parents[2] / "packages" / "sessions"


# --- helpers --------------------------------------------------------------------------


async def session_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI app: `/set` merges the JSON body, `/clear` empties, `/view` reads,
    `/untouched` ignores the session."""
    request = Request(scope, receive)
    path = scope["path"]
    if path == "/untouched":
        await PlainTextResponse("ok")(scope, receive, send)
        return
    # `request.session` marks the session accessed (Vary: Cookie), as in Starlette.
    session = request.session
    if path == "/set":
        session.update(await request.json())
    elif path == "/clear":
        session.clear()
    await JSONResponse({"session": session})(scope, receive, send)


def sign(payload: Any, key: str = "secret", *, raw: bytes | None = None, age: int = 0) -> str:
    """A cookie value as the middleware writes it, signed `age` seconds ago."""

    class Signer(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    data = raw if raw is not None else b64encode(json.dumps(payload).encode())
    return Signer(key).sign(data).decode()


def set_cookie_attributes(header: str) -> list[str]:
    return header.split("; ")


def http_scope(cookie: str | None = None) -> Scope:
    headers = [] if cookie is None else [(b"cookie", cookie.encode("latin-1"))]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("testserver", 80),
    }


async def run(app: ASGIApp, scope: Scope) -> list[Message]:
    """Call `app` once with an empty request body; return what it sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def response_headers(messages: list[Message]) -> list[tuple[bytes, bytes]]:
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers: list[tuple[bytes, bytes]] = start.get("headers", [])
    return headers


def loaded_session(cookie: str | None, **options: Any) -> dict[str, Any]:
    """The session the middleware loads for a `Cookie` header."""
    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope["session"])
        await Response()(scope, receive, send)

    anyio.run(
        run, SessionMiddleware(app, **{"secret_key": "secret", **options}), http_scope(cookie)
    )
    return seen


# --- Session --------------------------------------------------------------------------


def test_new_session_is_neither_accessed_nor_modified() -> None:
    session = Session({"a": 1})
    assert (session.accessed, session.modified) == (False, False)
    assert session == {"a": 1}
    assert isinstance(session, dict)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: s.__setitem__("b", 2), id="setitem"),
        pytest.param(lambda s: s.__delitem__("a"), id="delitem"),
        pytest.param(lambda s: s.clear(), id="clear"),
        pytest.param(lambda s: s.pop("a"), id="pop"),
        pytest.param(lambda s: s.pop("a", None), id="pop-default"),
        pytest.param(lambda s: s.popitem(), id="popitem"),
        pytest.param(lambda s: s.setdefault("b", 2), id="setdefault-missing"),
        pytest.param(lambda s: s.update({"b": 2}), id="update"),
        pytest.param(lambda s: s.update(b=2), id="update-kwargs"),
        pytest.param(lambda s: s.__ior__({"b": 2}), id="ior"),
        pytest.param(lambda s: s.mark_modified(), id="mark_modified"),
    ],
)
def test_writes_mark_the_session_modified_and_accessed(change: Any) -> None:
    session = Session({"a": 1})
    change(session)
    assert session.modified
    assert session.accessed


def test_in_place_union_keeps_the_session_object() -> None:
    session = Session({"a": 1})
    alias = session
    session |= {"b": 2}
    assert session is alias
    assert isinstance(session, Session)
    assert dict(session) == {"a": 1, "b": 2}
    assert session.modified


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda s: s["a"], id="getitem"),
        pytest.param(lambda s: s.get("a"), id="get"),
        pytest.param(lambda s: "a" in s, id="contains"),
        pytest.param(lambda s: list(s), id="iter"),
        pytest.param(lambda s: len(s), id="len"),
        pytest.param(lambda s: bool(s), id="bool"),
        pytest.param(lambda s: s.keys(), id="keys"),
        pytest.param(lambda s: s.values(), id="values"),
        pytest.param(lambda s: s.items(), id="items"),
        pytest.param(lambda s: s.copy(), id="copy"),
        pytest.param(lambda s: s | {"b": 2}, id="or"),
        pytest.param(lambda s: json.dumps(s), id="json"),
        pytest.param(lambda s: s.setdefault("a", 2), id="setdefault-present"),
        pytest.param(lambda s: s.mark_accessed(), id="mark_accessed"),
    ],
)
def test_reads_mark_the_session_accessed_only(read: Any) -> None:
    session = Session({"a": 1})
    read(session)
    assert session.accessed
    assert not session.modified


def test_non_changes_are_not_modifications() -> None:
    session = Session({"a": 1})
    assert session.pop("missing", "default") == "default"
    # Popping a missing key does not even read anything the response depends on.
    assert (session.accessed, session.modified) == (False, False)
    with pytest.raises(KeyError):
        session.pop("missing")
    with pytest.raises(KeyError):
        del session["missing"]
    assert not session.modified
    assert session.setdefault("a", 2) == 1
    assert not session.modified
    with pytest.raises(KeyError):
        Session().popitem()


def test_reads_return_plain_values() -> None:
    session = Session({"a": 1})
    assert session["a"] == 1
    assert session.get("missing", 3) == 3
    assert session.copy() == {"a": 1}
    assert type(session.copy()) is dict
    assert session | {"b": 2} == {"a": 1, "b": 2}
    assert sorted(session.items()) == [("a", 1)]


# --- middleware around a bare ASGI callable -------------------------------------------


def test_session_round_trip(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(SessionMiddleware(session_app, secret_key="secret"))

    response = client.get("/view")
    assert response.json() == {"session": {}}
    assert "set-cookie" not in response.headers

    response = client.post("/set", json={"user": "ada", "n": [1, 2]})
    assert response.json() == {"session": {"user": "ada", "n": [1, 2]}}
    set_cookie = response.headers["set-cookie"]
    value = re.match(r"session=([^;]+); ", set_cookie)
    assert value is not None
    assert set_cookie == (f"session={value[1]}; path=/; Max-Age=1209600; httponly; samesite=lax")

    assert client.get("/view").json() == {"session": {"user": "ada", "n": [1, 2]}}

    response = client.post("/clear")
    assert response.json() == {"session": {}}
    assert response.headers["set-cookie"] == (
        "session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly; samesite=lax"
    )
    assert client.get("/view").json() == {"session": {}}


def test_cookie_is_written_only_when_the_session_changes(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(SessionMiddleware(session_app, secret_key="secret"))
    assert "set-cookie" in client.post("/set", json={"a": 1}).headers
    response = client.get("/view")
    assert response.json() == {"session": {"a": 1}}
    assert "set-cookie" not in response.headers
    assert "set-cookie" not in client.get("/untouched").headers


def test_vary_cookie_only_when_the_session_is_used(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(SessionMiddleware(session_app, secret_key="secret"))
    assert client.post("/set", json={"a": 1}).headers["vary"] == "Cookie"
    assert client.get("/view").headers["vary"] == "Cookie"
    assert "vary" not in client.get("/untouched").headers


def test_vary_is_appended_and_other_cookies_are_kept(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["session"]["a"] = 1
        response = PlainTextResponse("ok", headers={"vary": "Accept-Encoding"})
        response.set_cookie("theme", "dark")
        await response(scope, receive, send)

    client = test_client_factory(SessionMiddleware(app, secret_key="secret"))
    response = client.get("/")
    assert response.headers["vary"] == "Accept-Encoding, Cookie"
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 2
    assert cookies[0].startswith("theme=dark")
    assert cookies[1].startswith("session=")


def test_clearing_a_session_that_never_existed_writes_nothing(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(SessionMiddleware(session_app, secret_key="secret"))
    response = client.post("/clear")
    assert response.json() == {"session": {}}
    assert "set-cookie" not in response.headers


def test_emptying_a_session_by_pop_clears_the_cookie(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        value = scope["session"].pop("a", None)
        await JSONResponse({"value": value})(scope, receive, send)

    client = test_client_factory(
        SessionMiddleware(app, secret_key="secret"), cookies={"session": sign({"a": 1})}
    )
    response = client.get("/")
    assert response.json() == {"value": 1}
    assert response.headers["set-cookie"].startswith("session=null; ")
    assert response.headers["vary"] == "Cookie"


@pytest.mark.parametrize("max_age", [None, 0])
def test_no_max_age_makes_a_browser_session_cookie(
    test_client_factory: TestClientFactory, max_age: int | None
) -> None:
    client = test_client_factory(
        SessionMiddleware(session_app, secret_key="secret", max_age=max_age)
    )
    response = client.post("/set", json={"a": 1})
    assert "max-age" not in response.headers["set-cookie"].lower()
    assert "expires" not in response.headers["set-cookie"].lower()


def test_max_age_none_accepts_any_signature_age() -> None:
    assert loaded_session(f"session={sign({'a': 1}, age=10**8)}", max_age=None) == {"a": 1}


def test_max_age_zero_accepts_a_cookie_only_within_its_second() -> None:
    # As in Starlette: the signature check allows an age of 0 whole seconds.
    assert loaded_session(f"session={sign({'a': 1}, age=5)}", max_age=0) == {}


def test_expired_cookie_gives_an_empty_session() -> None:
    cookie = f"session={sign({'a': 1}, age=120)}"
    assert loaded_session(cookie, max_age=60) == {}
    assert loaded_session(cookie, max_age=600) == {"a": 1}


def test_negative_max_age_expires_every_cookie(test_client_factory: TestClientFactory) -> None:
    app = SessionMiddleware(session_app, secret_key="secret", max_age=-1)
    response = test_client_factory(app).post("/set", json={"a": 1})
    assert "; Max-Age=-1; " in response.headers["set-cookie"]
    value = re.match(r"session=([^;]+);", response.headers["set-cookie"])
    assert value is not None
    client = test_client_factory(app, cookies={"session": value[1]})
    assert client.get("/view").json() == {"session": {}}


def test_cookie_attributes(test_client_factory: TestClientFactory) -> None:
    app = SessionMiddleware(
        session_app,
        secret_key="secret",
        session_cookie="sid",
        max_age=60,
        path="/app",
        same_site="strict",
        https_only=True,
        domain=".example.com",
    )
    client = test_client_factory(app, base_url="https://testserver")
    header = client.post("/set", json={"a": 1}).headers["set-cookie"]
    name, *attributes = set_cookie_attributes(header)
    assert name.startswith("sid=")
    assert attributes == [
        "path=/app",
        "Max-Age=60",
        "httponly",
        "samesite=strict",
        "secure",
        "domain=.example.com",
    ]


@pytest.mark.parametrize("partitioned", [False, True])
def test_partitioned_cookie(test_client_factory: TestClientFactory, partitioned: bool) -> None:
    app = SessionMiddleware(
        session_app,
        secret_key="secret",
        same_site="none",
        https_only=True,
        partitioned=partitioned,
    )
    client = test_client_factory(app, base_url="https://testserver")
    written = set_cookie_attributes(client.post("/set", json={"a": 1}).headers["set-cookie"])
    cleared = set_cookie_attributes(client.post("/clear").headers["set-cookie"])
    # Written by hand, so it works on every Python version (http.cookies knows the
    # attribute only from 3.14 on).
    assert ("partitioned" in written) is partitioned
    assert ("partitioned" in cleared) is partitioned
    assert cleared[0] == "session=null"


def test_secure_cookie_is_not_sent_back_over_http(test_client_factory: TestClientFactory) -> None:
    app = SessionMiddleware(session_app, secret_key="secret", https_only=True)
    plain = test_client_factory(app)
    plain.post("/set", json={"a": 1})
    assert plain.get("/view").json() == {"session": {}}
    secure = test_client_factory(app, base_url="https://testserver")
    secure.post("/set", json={"a": 1})
    assert secure.get("/view").json() == {"session": {"a": 1}}


def test_custom_cookie_name_ignores_other_cookies(test_client_factory: TestClientFactory) -> None:
    app = SessionMiddleware(session_app, secret_key="secret", session_cookie="sid")
    client = test_client_factory(app, cookies={"session": sign({"other": True})})
    assert client.get("/view").json() == {"session": {}}
    client = test_client_factory(app, cookies={"sid": sign({"mine": True})})
    assert client.get("/view").json() == {"session": {"mine": True}}


def test_reads_a_starlette_style_cookie_signed_with_the_same_key() -> None:
    # A plain TimestampSigner over base64 JSON: the format Starlette writes.
    value = itsdangerous.TimestampSigner("secret").sign(b64encode(b'{"user": "ada"}'))
    assert loaded_session(f"session={value.decode()}") == {"user": "ada"}


def test_secret_key_may_be_a_secret(test_client_factory: TestClientFactory) -> None:
    app = SessionMiddleware(session_app, secret_key=Secret("secret"))
    client = test_client_factory(app)
    client.post("/set", json={"a": 1})
    assert client.get("/view").json() == {"session": {"a": 1}}
    assert loaded_session(f"session={sign({'b': 2})}", secret_key=Secret("secret")) == {"b": 2}


# --- the signer -----------------------------------------------------------------------


def signed_with_stamp(payload: Any, stamp: bytes, key: str = "secret") -> str:
    """A cookie in the signed format with `stamp` (raw bytes) as its timestamp."""
    data = b64encode(json.dumps(payload).encode())
    encoded = urlsafe_b64encode(stamp).rstrip(b"=")
    # A `TimestampSigner` signs `data.stamp` as a plain `Signer` (same salt) would.
    return itsdangerous.Signer(key).sign(data + b"." + encoded).decode()


def test_signatures_are_itsdangerous_ones_both_ways() -> None:
    signer = SessionMiddleware(session_app, secret_key=["new", "old"]).signer
    value = b64encode(b'{"a": 1}')
    assert itsdangerous.TimestampSigner("new").unsign(signer.sign(value)) == value
    for key in ("new", "old"):
        assert signer.unsign(itsdangerous.TimestampSigner(key).sign(value), max_age=60) == value
    signed, moment = signer.unsign(signer.sign(value), return_timestamp=True)
    assert signed == value
    assert abs(moment.timestamp() - time.time()) < 60


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: sign({"a": 1}) + "=", id="padded-signature"),
        pytest.param(
            lambda: signed_with_stamp({"a": 1}, int(time.time()).to_bytes(8)),
            id="leading-zero-bytes",
        ),
    ],
)
def test_a_cookie_itsdangerous_accepts_in_another_spelling_loads(make: Callable[[], str]) -> None:
    # (Signed here rather than when the tests are collected: its age must stay small.)
    cookie = make()
    assert itsdangerous.TimestampSigner("secret").unsign(cookie, max_age=60)
    assert loaded_session(f"session={cookie}") == {"a": 1}


@pytest.mark.parametrize("max_age", [60, None])
@pytest.mark.parametrize(
    "make",
    [
        # Nine bytes whose value is now: only their length is wrong.
        pytest.param(
            lambda: signed_with_stamp({"a": 1}, int(time.time()).to_bytes(9)), id="nine-bytes"
        ),
        # One base64 character cannot be whole bytes.
        pytest.param(
            lambda: itsdangerous.Signer("secret").sign(b64encode(b'{"a": 1}') + b".A").decode(),
            id="not-base64",
        ),
    ],
)
def test_a_timestamp_itsdangerous_cannot_read_is_refused(
    max_age: int | None, make: Callable[[], str]
) -> None:
    cookie = make()
    with pytest.raises(itsdangerous.BadTimeSignature):
        itsdangerous.TimestampSigner("secret").unsign(cookie, max_age=max_age)
    assert loaded_session(f"session={cookie}", max_age=max_age) == {}


# --- hostile cookies ------------------------------------------------------------------


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param("session=", id="empty"),
        pytest.param("session=invalid", id="garbage"),
        pytest.param("session=a.b.c", id="three-parts"),
        pytest.param("session=...", id="only-separators"),
        pytest.param('session="\\377\\000"', id="quoted-octal"),
        pytest.param("session=\xff\xfe.\xff.\xff", id="latin-1-bytes"),
        pytest.param(f"session={sign({'a': 1}, key='other')}", id="other-key"),
        pytest.param(f"session={sign({'a': 1})[:-2]}", id="truncated-signature"),
        pytest.param(f"session={sign({'a': 1}).replace('.', 'x.', 1)}", id="tampered-payload"),
        pytest.param(f"session={sign({'a': 1}, age=-3600)}", id="from-the-future"),
        pytest.param(f"session={sign(None, raw=b'not base64!')}", id="signed-not-base64"),
        pytest.param(f"session={sign(None, raw=b64encode(b'{oops'))}", id="signed-not-json"),
        pytest.param(f"session={sign(None, raw=b64encode(bytes([255])))}", id="signed-not-utf8"),
        pytest.param(f"session={sign([1, 2])}", id="signed-list"),
        pytest.param(f"session={sign('text')}", id="signed-string"),
        pytest.param(f"session={sign(None)}", id="signed-null"),
        pytest.param(f"session={sign(None, raw=b64encode(b'[' * 5_000))}", id="deep-nesting"),
        pytest.param("session=" + "A" * 100_000 + ".x.y", id="oversized-garbage"),
        pytest.param(f"session={sign({'a': 'x' * 20_000})}", id="oversized-signed"),
    ],
)
def test_hostile_cookie_gives_an_empty_session(cookie: str) -> None:
    assert loaded_session(cookie) == {}


def test_hostile_cookie_through_the_client(test_client_factory: TestClientFactory) -> None:
    app = SessionMiddleware(session_app, secret_key="secret")
    client = test_client_factory(app, cookies={"session": "invalid"})
    response = client.get("/view")
    assert response.status_code == 200
    assert response.json() == {"session": {}}
    # A bad cookie is left alone until the session is written.
    assert "set-cookie" not in response.headers
    response = client.post("/set", json={"a": 1})
    assert response.headers["set-cookie"].startswith("session=")
    assert client.get("/view").json() == {"session": {"a": 1}}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(["session={good}", "theme=dark"], {"a": 1}, id="first-field"),
        pytest.param(["theme=dark", "session={good}"], {"a": 1}, id="second-field"),
        pytest.param(["session={good}", "session=invalid"], {}, id="later-field-wins"),
        pytest.param(["session=invalid", "session={good}"], {"a": 1}, id="later-field-good"),
    ],
)
def test_cookie_fields_are_read_as_one_header(fields: list[str], expected: dict[str, Any]) -> None:
    # HTTP/2 clients may send each cookie in its own `Cookie` field.
    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope["session"])
        await Response()(scope, receive, send)

    scope = http_scope()
    good = sign({"a": 1})
    scope["headers"] = [(b"cookie", field.format(good=good).encode()) for field in fields]
    anyio.run(run, SessionMiddleware(app, secret_key="secret"), scope)
    assert seen == expected


def test_last_of_duplicate_cookies_wins() -> None:
    good = sign({"a": 1})
    assert loaded_session(f"session=invalid; session={good}") == {"a": 1}
    assert loaded_session(f"session={good}; session=invalid") == {}


# --- options that would break or forge the header -------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"session_cookie": ""}, id="empty-name"),
        pytest.param({"session_cookie": "a b"}, id="name-space"),
        pytest.param({"session_cookie": "a;b"}, id="name-semicolon"),
        pytest.param({"session_cookie": "a=b"}, id="name-equals"),
        pytest.param({"session_cookie": "a\r\nSet-Cookie: x=y"}, id="name-crlf"),
        pytest.param({"path": "/; domain=evil.example"}, id="path-semicolon"),
        pytest.param({"path": "/\r\nX-Evil: 1"}, id="path-crlf"),
        pytest.param({"path": "/caf\xe9"}, id="path-non-ascii"),
        pytest.param({"domain": "example.com; secure"}, id="domain-semicolon"),
        pytest.param({"domain": "exa mple.com"}, id="domain-space"),
        pytest.param({"domain": "example.com\n"}, id="domain-newline"),
        pytest.param({"domain": ""}, id="domain-empty"),
        pytest.param({"same_site": "lax; secure"}, id="same-site-injection"),
        pytest.param({"same_site": "sometimes"}, id="same-site-unknown"),
        pytest.param({"partitioned": True}, id="partitioned-without-https"),
        pytest.param({"secret_key": []}, id="no-key"),
    ],
)
def test_invalid_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SessionMiddleware(session_app, **{"secret_key": "secret", **options})


@pytest.mark.parametrize("secret_key", [b"secret", [b"secret"], ["new", 42], None, 42])
def test_secret_key_must_be_strings(secret_key: Any) -> None:
    with pytest.raises(TypeError):
        SessionMiddleware(session_app, secret_key=secret_key)


@pytest.mark.parametrize("max_age", ["60", 1.5, True])
def test_max_age_must_be_an_int(max_age: Any) -> None:
    with pytest.raises(TypeError):
        SessionMiddleware(session_app, secret_key="secret", max_age=max_age)


def test_same_site_is_case_insensitive(test_client_factory: TestClientFactory) -> None:
    app = SessionMiddleware(session_app, secret_key="secret", same_site="Strict")  # type: ignore[arg-type]
    header = test_client_factory(app).post("/set", json={"a": 1}).headers["set-cookie"]
    assert "; samesite=Strict" in header


# --- secret key rotation --------------------------------------------------------------


def test_rotation_reads_old_cookies_and_signs_with_the_first_key(
    test_client_factory: TestClientFactory,
) -> None:
    rotated = SessionMiddleware(session_app, secret_key=["new", Secret("old")])
    client = test_client_factory(rotated, cookies={"session": sign({"a": 1}, key="old")})
    response = client.get("/view")
    assert response.json() == {"session": {"a": 1}}
    # Reading alone does not rewrite the cookie.
    assert "set-cookie" not in response.headers

    response = client.post("/set", json={"b": 2})
    value = re.match(r"session=([^;]+);", response.headers["set-cookie"])
    assert value is not None
    assert loaded_session(f"session={value[1]}", secret_key="new") == {"a": 1, "b": 2}
    assert loaded_session(f"session={value[1]}", secret_key="old") == {}
    assert client.get("/view").json() == {"session": {"a": 1, "b": 2}}


def test_rotation_still_refuses_unknown_keys() -> None:
    assert loaded_session(f"session={sign({'a': 1}, key='older')}", secret_key=["new", "old"]) == {}
    assert loaded_session(f"session={sign({'a': 1}, key='new')}", secret_key=["new", "old"]) == {
        "a": 1
    }


def test_a_tuple_of_one_key_is_the_same_as_the_key() -> None:
    assert loaded_session(f"session={sign({'a': 1})}", secret_key=("secret",)) == {"a": 1}


# --- message handling -----------------------------------------------------------------


@pytest.mark.anyio
async def test_start_message_without_headers() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["session"]["a"] = 1
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body", "body": b""})

    messages = await run(SessionMiddleware(app, secret_key="secret"), http_scope())
    names = [name for name, _ in response_headers(messages)]
    assert names == [b"vary", b"set-cookie"]


@pytest.mark.anyio
async def test_start_message_with_a_tuple_of_headers() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["session"]["a"] = 1
        start = {"type": "http.response.start", "status": 200, "headers": ((b"x-a", b"1"),)}
        await send(start)
        await send({"type": "http.response.body", "body": b""})

    messages = await run(SessionMiddleware(app, secret_key="secret"), http_scope())
    names = [name for name, _ in response_headers(messages)]
    assert names == [b"x-a", b"vary", b"set-cookie"]


def test_streaming_response_keeps_streaming(test_client_factory: TestClientFactory) -> None:
    async def chunks() -> Any:
        for index in range(3):
            yield f"chunk {index}\n"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["session"]["streamed"] = True
        await StreamingResponse(chunks())(scope, receive, send)

    client = test_client_factory(SessionMiddleware(app, secret_key="secret"))
    response = client.get("/")
    assert response.text == "chunk 0\nchunk 1\nchunk 2\n"
    assert response.headers["set-cookie"].startswith("session=")


def test_app_may_replace_the_session_with_a_plain_dict(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["session"] = {"replaced": True}
        await PlainTextResponse("ok")(scope, receive, send)

    client = test_client_factory(SessionMiddleware(app, secret_key="secret"))
    response = client.get("/")
    assert response.headers["vary"] == "Cookie"
    value = re.match(r"session=([^;]+);", response.headers["set-cookie"])
    assert value is not None
    assert loaded_session(f"session={value[1]}") == {"replaced": True}


def test_app_may_delete_the_session(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        del scope["session"]
        await PlainTextResponse("ok")(scope, receive, send)

    client = test_client_factory(
        SessionMiddleware(app, secret_key="secret"), cookies={"session": sign({"a": 1})}
    )
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["set-cookie"].startswith("session=null; ")


def test_modified_flag_alone_writes_without_vary(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        dict.__setitem__(scope["session"], "quiet", True)
        scope["session"].modified = True
        await PlainTextResponse("ok")(scope, receive, send)

    response = test_client_factory(SessionMiddleware(app, secret_key="secret")).get("/")
    assert response.headers["set-cookie"].startswith("session=")
    assert "vary" not in response.headers


def test_nested_changes_need_mark_modified(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        session: Session = scope["session"]
        session.setdefault("cart", [])
        session["cart"].append(len(session["cart"]))
        if scope["path"] == "/mark":
            session.mark_modified()
        await JSONResponse(session)(scope, receive, send)

    client = test_client_factory(SessionMiddleware(app, secret_key="secret"))
    assert client.get("/").json() == {"cart": [0]}
    # The cart exists now: appending alone is not seen, so it is not written.
    assert client.get("/").json() == {"cart": [0, 1]}
    assert client.get("/").json() == {"cart": [0, 1]}
    assert client.get("/mark").json() == {"cart": [0, 1]}
    assert client.get("/").json() == {"cart": [0, 1, 2]}


@pytest.mark.anyio
async def test_other_scope_types_pass_through() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Message:
        raise AssertionError("not called")  # pragma: no cover

    async def send(message: Message) -> None:
        raise AssertionError("not called")  # pragma: no cover

    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await SessionMiddleware(app, secret_key="secret")(scope, receive, send)
    assert seen == [scope]
    assert "session" not in scope


def test_websocket_gets_the_session(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["session"]["user"] = "ada"
            await PlainTextResponse("ok")(scope, receive, send)
            return
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.send_json({"session": dict(websocket.session)})
        await websocket.close()

    client = test_client_factory(SessionMiddleware(app, secret_key="secret"))
    with client.websocket_connect("/") as websocket:
        assert websocket.receive_json() == {"session": {}}
    client.get("/")
    with client.websocket_connect("/") as websocket:
        assert websocket.receive_json() == {"session": {"user": "ada"}}


def test_http_connection_session_is_the_session(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        session = HTTPConnection(scope).session
        assert isinstance(session, Session)
        await PlainTextResponse(type(session).__name__)(scope, receive, send)

    client = test_client_factory(SessionMiddleware(app, secret_key="secret"))
    assert client.get("/").text == "Session"


# --- inside a Router ------------------------------------------------------------------


def test_inside_a_router(test_client_factory: TestClientFactory) -> None:
    async def login(request: Request) -> JSONResponse:
        request.session["user"] = request.path_params["name"]
        return JSONResponse({"ok": True})

    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"user": request.session.get("user")})

    async def logout(request: Request) -> JSONResponse:
        request.session.clear()
        return JSONResponse({"ok": True})

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"user": websocket.session.get("user")})
        await websocket.close()

    router = Router(
        routes=[
            Route("/login/{name}", login, methods=["POST"]),
            Route("/whoami", whoami),
            Route("/logout", logout, methods=["POST"]),
            WebSocketRoute("/ws", ws),
        ],
        middleware=[Middleware(SessionMiddleware, secret_key=["new", "old"], max_age=3600)],
    )
    client = test_client_factory(router)
    assert client.get("/whoami").json() == {"user": None}
    response = client.post("/login/ada")
    assert "; Max-Age=3600; " in response.headers["set-cookie"]
    assert client.get("/whoami").json() == {"user": "ada"}
    with client.websocket_connect("/ws") as websocket:
        assert websocket.receive_json() == {"user": "ada"}
    client.post("/logout")
    assert client.get("/whoami").json() == {"user": None}


def test_wrapping_a_router(test_client_factory: TestClientFactory) -> None:
    async def count(request: Request) -> PlainTextResponse:
        request.session["count"] = request.session.get("count", 0) + 1
        return PlainTextResponse(str(request.session["count"]))

    app = SessionMiddleware(Router(routes=[Route("/", count)]), secret_key="secret")
    client = test_client_factory(app)
    assert [client.get("/").text for _ in range(3)] == ["1", "2", "3"]
    assert client.get("/missing").status_code == 404


# --- the package stands alone ---------------------------------------------------------

# Everything a stellate-sessions installation may import beyond the standard library.
ALLOWED = {"stellate_sessions", "stellate_asgi", "itsdangerous"}

ISOLATION_SCRIPT = textwrap.dedent(
    """
    import asyncio, importlib.abc, json, sys

    ALLOWED = set(sys.argv[1].split(","))

    class Block(importlib.abc.MetaPathFinder):
        # Stands in for an environment where nothing else is installed.
        def find_spec(self, name, path=None, target=None):
            top = name.partition(".")[0]
            if top in sys.stdlib_module_names or top in ALLOWED:
                return None
            raise ModuleNotFoundError(f"blocked: {name}")

    sys.meta_path.insert(0, Block())
    before = set(sys.modules)

    from stellate_sessions import SessionMiddleware
    import stellate_sessions.sessions

    async def app(scope, receive, send):
        scope["session"]["n"] = scope["session"].get("n", 0) + 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def call(cookie):
        sent = []
        headers = [(b"cookie", cookie)] if cookie else []
        scope = {"type": "http", "path": "/", "headers": headers}
        async def receive():
            return {"type": "http.request"}
        async def send(message):
            sent.append(message)
        await SessionMiddleware(app, secret_key="k")(scope, receive, send)
        return dict(sent[0]["headers"])[b"set-cookie"].split(b";")[0]

    first = asyncio.run(call(None))
    second = asyncio.run(call(first))
    imported = sorted({m.partition(".")[0] for m in set(sys.modules) - before})
    print(json.dumps({"imported": imported, "cookies": [first.decode(), second.decode()]}))
    """
)


def test_works_with_only_asgi_and_itsdangerous_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-c", ISOLATION_SCRIPT, ",".join(sorted(ALLOWED))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    third_party = {name for name in report["imported"] if name not in sys.stdlib_module_names}
    assert third_party == ALLOWED
    first, second = report["cookies"]
    assert first.startswith("session=")
    assert second.startswith("session=")
    assert first != second


def test_package_sources_import_only_asgi_and_itsdangerous() -> None:
    sources = sorted((PACKAGE / "src" / "stellate_sessions").glob("*.py"))
    assert sources
    for source in sources:
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                assert top in sys.stdlib_module_names or top in ALLOWED, (source.name, name)


def test_declared_dependencies_are_asgi_and_itsdangerous() -> None:
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~; \[]", requirement)[0] for requirement in project["dependencies"]}
    assert names == {"stellate-asgi", "itsdangerous"}


def test_reading_an_empty_session_through_the_request_varies_by_cookie(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        session = Request(scope, receive).session
        await PlainTextResponse(str(len(session)))(scope, receive, send)

    response = test_client_factory(SessionMiddleware(app, secret_key="secret")).get("/")
    assert response.text == "0"
    assert response.headers["vary"] == "Cookie"
    assert "set-cookie" not in response.headers
