"""Signed-cookie sessions: `SessionMiddleware` puts a `Session` dict in `scope["session"]`.

The session travels in one cookie: base64 JSON, signed (not encrypted) with an
itsdangerous `TimestampSigner`, in the same format as Starlette's, so a Starlette
application keeps its users' sessions when it moves here with the same secret key.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import re
from base64 import b64encode
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, overload

import itsdangerous
from itsdangerous.exc import BadSignature

from stellate_asgi.connection import HTTPConnection, cookie_parser
from stellate_asgi.datastructures import Headers, MutableHeaders, Secret
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

__all__ = ["HTTPConnection", "MutableHeaders", "Secret", "Session", "SessionMiddleware"]

# Browsers keep at most 4096 bytes per cookie and HTTP/1.1 servers cap the header
# block (h11: 16 KiB), so a longer value is hostile: it is dropped unverified.
_MAX_COOKIE_LENGTH = 16 * 1024

# What a cleared session's cookie says; the date expires it at once, as in Starlette.
_CLEARED_VALUE = "null"
_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"

# RFC 6265: a cookie name is an RFC 7230 token; attribute values are visible ASCII
# without ";" (a ";" would start a forged attribute, CR/LF a forged header).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PATH_VALUE = re.compile(r"[\x20-\x3a\x3c-\x7e]*")
_DOMAIN_VALUE = re.compile(r"[\x21-\x2b\x2d-\x3a\x3c-\x7e]+")
_SAME_SITE_VALUES = ("lax", "strict", "none")


class Session(dict[str, Any]):
    """The session dict of `scope["session"]` (`request.session`).

    It records whether the application read it (`accessed`: the response gets
    `Vary: Cookie`) and changed it (`modified`: the response rewrites the cookie).
    Changes inside nested values (`session["cart"].append(x)`) are not seen: call
    `mark_modified()` or assign the key again.
    """

    accessed: bool = False
    modified: bool = False

    def mark_accessed(self) -> None:
        """Record that the response depends on the session."""
        self.accessed = True

    def mark_modified(self) -> None:
        """Record a change, so that the cookie is written again."""
        self.accessed = True
        self.modified = True

    # Writes.

    def __setitem__(self, key: str, value: Any) -> None:
        self.mark_modified()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.mark_modified()

    def __ior__(self, other: Any) -> Session:  # type: ignore[override]
        super().__ior__(other)
        self.mark_modified()
        return self

    def clear(self) -> None:
        self.mark_modified()
        super().clear()

    def pop(self, key: str, *args: Any) -> Any:
        # Only a removal is a change; popping a missing key with a default is not
        # even a read that the response depends on.
        if dict.__contains__(self, key):
            self.mark_modified()
        return super().pop(key, *args)

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self.mark_modified()
        return item

    def setdefault(self, key: str, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            self.mark_accessed()
        else:
            self.mark_modified()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.mark_modified()
        super().update(*args, **kwargs)

    # Reads: the response now depends on the cookie.

    def __getitem__(self, key: str) -> Any:
        self.mark_accessed()
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.mark_accessed()
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self.mark_accessed()
        return super().__iter__()

    def __len__(self) -> int:
        self.mark_accessed()
        return super().__len__()

    def __or__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        self.mark_accessed()
        return super().__or__(other)

    def get(self, key: str, default: Any = None) -> Any:
        self.mark_accessed()
        return super().get(key, default)

    def keys(self) -> dict_keys[str, Any]:
        self.mark_accessed()
        return super().keys()

    def values(self) -> dict_values[str, Any]:
        self.mark_accessed()
        return super().values()

    def items(self) -> dict_items[str, Any]:
        self.mark_accessed()
        return super().items()

    def copy(self) -> dict[str, Any]:
        self.mark_accessed()
        return dict(super().items())


class SessionMiddleware:
    """Load `scope["session"]` from a signed cookie and write it back when it changed.

    `secret_key` signs the cookie; a sequence of keys rotates them: the first signs,
    every one verifies, so a cookie signed with an older key still loads and is
    signed with the first key the next time the session is written. `max_age`
    (seconds) bounds the signature's age and sets the cookie's `Max-Age`; `None` (or
    0) makes a browser-session cookie. Forged, expired, oversized or garbage cookies
    give an empty session. Websocket connections get the session too (read only:
    a websocket has no response to carry a cookie).
    """

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str | Secret | Sequence[str | Secret],
        session_cookie: str = "session",
        max_age: int | None = 14 * 24 * 60 * 60,  # 14 days, in seconds
        path: str = "/",
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        domain: str | None = None,
        partitioned: bool = False,
    ) -> None:
        keys = _secret_keys(secret_key)
        _check_cookie_options(session_cookie, max_age, path, same_site, domain)
        if partitioned and not https_only:
            # Browsers drop a Partitioned cookie that is not Secure: fail here rather
            # than lose every session silently on the client.
            raise ValueError("Partitioned session cookies need https_only=True.")
        self.app = app
        # itsdangerous signs with the last key of its list and verifies with all.
        self.signer: itsdangerous.TimestampSigner = _Signer(keys[::-1])
        self.session_cookie = session_cookie
        self.max_age = max_age
        self.path = path
        self.security_flags = "httponly; samesite=" + same_site
        if https_only:
            self.security_flags += "; secure"
        if domain is not None:
            self.security_flags += f"; domain={domain}"
        if partitioned:
            self.security_flags += "; partitioned"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        initial = self._load(_cookie(scope, self.session_cookie))
        had_session = initial is not None
        scope["session"] = Session(initial or {})

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._write(scope.get("session"), had_session, message)
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _load(self, cookie: str | None) -> dict[str, Any] | None:
        """The session a cookie holds, or `None` when it holds no valid one."""
        if cookie is None or len(cookie) > _MAX_COOKIE_LENGTH:
            return None
        try:
            payload = self.signer.unsign(cookie.encode("utf-8"), max_age=self.max_age)
            data = json.loads(binascii.a2b_base64(payload, strict_mode=True).decode("utf-8"))
        except (BadSignature, ValueError, RecursionError):
            # ValueError covers bad base64 (binascii.Error), bad UTF-8 and bad JSON.
            return None
        return data if isinstance(data, dict) else None

    def _write(self, session: Any, had_session: bool, message: Message) -> None:
        """Add `Vary` and `Set-Cookie` to a response start message as needed."""
        if isinstance(session, Session):
            accessed, modified = session.accessed, session.modified
            # `dict.__len__`: the middleware's own look must not count as a read.
            data: Mapping[str, Any] = session if dict.__len__(session) else {}
        else:
            # The application replaced the Session: assume it read and changed it.
            accessed = modified = True
            data = session if isinstance(session, Mapping) else {}
        if not (accessed or modified):
            return
        message.setdefault("headers", [])
        headers = MutableHeaders(scope=message)
        if accessed:
            headers.add_vary_header("Cookie")
        if modified and data:
            payload = b64encode(json.dumps(dict(data.items())).encode("utf-8"))
            value = self.signer.sign(payload).decode("utf-8")
            max_age = f"Max-Age={self.max_age}; " if self.max_age else ""
            headers.append("set-cookie", self._cookie(value, max_age))
        elif modified and had_session:
            headers.append("set-cookie", self._cookie(_CLEARED_VALUE, f"expires={_EPOCH}; "))

    def _cookie(self, value: str, lifetime: str) -> str:
        return f"{self.session_cookie}={value}; path={self.path}; {lifetime}{self.security_flags}"


class _Signer(itsdangerous.TimestampSigner):
    """itsdangerous's `TimestampSigner` (SHA-1, its defaults), quicker at what it does
    for every request: verifying a good cookie.

    Its default digest is a Python function that calls `hashlib.sha1`, which sends
    `hmac` down its pure-Python path, and it derives the key afresh for each cookie;
    here `hashlib.sha1` takes OpenSSL's path and each key is derived once. `unsign`
    checks a canonical, in-date cookie in a few C calls and hands anything else to
    itsdangerous, for its exact errors. The signatures are the same.
    """

    def __init__(self, secret_keys: list[str]) -> None:
        super().__init__(secret_keys, digest_method=hashlib.sha1)
        derive = super().derive_key
        # The keys are fixed once made (`unsign` tries each of `secret_keys`; `sign`
        # passes None, for the last one).
        self._derived: dict[str | bytes | None, bytes] = {
            key: derive(key) for key in (None, *self.secret_keys)
        }
        # An HMAC keyed with each, in the order itsdangerous tries them (the signing key
        # first): copying one is quicker than keying a new one.
        self._verifying = [
            hmac.new(self._derived[key], digestmod=hashlib.sha1)
            for key in reversed(self.secret_keys)
        ]

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        derived = self._derived.get(secret_key)
        return derived if derived is not None else super().derive_key(secret_key)

    @overload
    def unsign(
        self,
        signed_value: str | bytes,
        max_age: int | None = None,
        return_timestamp: Literal[False] = False,
    ) -> bytes: ...

    @overload
    def unsign(
        self,
        signed_value: str | bytes,
        max_age: int | None = None,
        return_timestamp: Literal[True] = True,
    ) -> tuple[bytes, datetime]: ...

    def unsign(
        self,
        signed_value: str | bytes,
        max_age: int | None = None,
        return_timestamp: bool = False,
    ) -> tuple[bytes, datetime] | bytes:
        if not return_timestamp and isinstance(signed_value, bytes):
            payload = self._verified(signed_value, max_age)
            if payload is not None:
                return payload
        return super().unsign(signed_value, max_age, return_timestamp)  # type: ignore[call-overload, no-any-return]

    def _verified(self, signed_value: bytes, max_age: int | None) -> bytes | None:
        # `payload.timestamp.signature`, each part base64url without padding; the
        # signature is the HMAC of `payload.timestamp`. None unless the signature is
        # exactly what `sign` writes for one of the keys and the age is within
        # `max_age`: what itsdangerous would accept too, with the same payload.
        value, _, signature = signed_value.rpartition(b".")
        payload, dot, stamp = value.rpartition(b".")
        if not dot:
            return None
        for keyed in self._verifying:
            mac = keyed.copy()
            mac.update(value)
            expected = binascii.b2a_base64(mac.digest(), newline=False)
            expected = expected.translate(_URLSAFE).rstrip(b"=")
            if hmac.compare_digest(expected, signature):
                break
        else:
            return None
        try:
            padded = stamp.translate(_STANDARD) + b"=" * (-len(stamp) % 4)
            decoded = binascii.a2b_base64(padded, strict_mode=True)
        except binascii.Error:
            return None
        # itsdangerous reads a stamp of at most 8 bytes (a longer one is malformed).
        if len(decoded) > 8:
            return None
        if (
            max_age is not None
            and not 0 <= self.get_timestamp() - int.from_bytes(decoded) <= max_age
        ):
            return None
        return payload


# Between the standard base64 alphabet and the URL-safe one itsdangerous writes.
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_STANDARD = bytes.maketrans(b"-_", b"+/")


def _cookie(scope: Scope, name: str) -> str | None:
    """`HTTPConnection(scope).cookies.get(name)`, without making the connection's views."""
    value = None
    for header in Headers(scope=scope).getlist("cookie"):
        # As there, a later `Cookie` field's value wins.
        found = cookie_parser(header).get(name)
        if found is not None:
            value = found
    return value


def _secret_keys(secret_key: object) -> list[str]:
    """The keys as strings, the signing key first."""
    if isinstance(secret_key, (str, Secret)):
        return [str(secret_key)]
    if isinstance(secret_key, (bytes, bytearray)) or not isinstance(secret_key, Sequence):
        raise TypeError(f"secret_key must be a str, a Secret or a sequence of them: {secret_key!r}")
    keys = []
    for key in secret_key:
        # No str() of anything else: bytes or another library's secret type would
        # quietly turn into a different (or a placeholder) key.
        if not isinstance(key, (str, Secret)):
            raise TypeError(f"Each secret key must be a str or a Secret, not {type(key).__name__}")
        keys.append(str(key))
    if not keys:
        raise ValueError("secret_key needs at least one key.")
    return keys


def _check_cookie_options(
    session_cookie: str, max_age: int | None, path: str, same_site: str, domain: str | None
) -> None:
    """Refuse options that would break the `Set-Cookie` header or forge attributes."""
    if not isinstance(session_cookie, str) or not _TOKEN.fullmatch(session_cookie):
        raise ValueError(f"Invalid session cookie name: {session_cookie!r}")
    if max_age is not None and (not isinstance(max_age, int) or isinstance(max_age, bool)):
        raise TypeError(f"max_age must be an int or None, not {max_age!r}")
    if not isinstance(path, str) or not _PATH_VALUE.fullmatch(path):
        raise ValueError(f"Invalid session cookie path: {path!r}")
    if not isinstance(same_site, str) or same_site.lower() not in _SAME_SITE_VALUES:
        raise ValueError("same_site must be either 'strict', 'lax' or 'none'")
    if domain is not None and (not isinstance(domain, str) or not _DOMAIN_VALUE.fullmatch(domain)):
        raise ValueError(f"Invalid session cookie domain: {domain!r}")
