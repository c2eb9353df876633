"""SessionMiddleware under each real server: a signed cookie set, sent back and cleared."""

from __future__ import annotations

import httpx

from tests.servers.conftest import Server


def test_session_survives_across_requests(client: httpx.Client) -> None:
    assert client.get("/session").json() == {}

    first = client.post("/session", json={"user": "ada", "visits": 1})
    assert first.json() == {"user": "ada", "visits": 1}
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("session=")
    attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert sorted(attributes) == ["httponly", "max-age=1209600", "path=/", "samesite=lax"]

    # The cookie jar sends it back: the session is there, and grows.
    assert client.get("/session").json() == {"user": "ada", "visits": 1}
    assert client.post("/session", json={"visits": 2}).json() == {"user": "ada", "visits": 2}
    assert client.get("/session").json() == {"user": "ada", "visits": 2}


def test_unchanged_session_sets_no_cookie(client: httpx.Client) -> None:
    client.post("/session", json={"user": "ada"})
    assert "set-cookie" not in client.get("/session").headers


def test_cleared_session_expires_the_cookie(client: httpx.Client) -> None:
    client.post("/session", json={"user": "ada"})
    cleared = client.delete("/session")
    assert cleared.json() == {}
    assert "expires=thu, 01 jan 1970 00:00:00 gmt" in cleared.headers["set-cookie"].lower()
    assert "session" not in client.cookies
    assert client.get("/session").json() == {}


def test_tampered_cookie_gives_an_empty_session(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as honest:
        honest.post("/session", json={"role": "user"})
        value = honest.cookies["session"]
    # The same cookie with its first data character changed: the signature no longer fits.
    forged = ("A" if value[0] != "A" else "B") + value[1:]
    with httpx.Client(base_url=server.url, timeout=10) as attacker:
        response = attacker.get("/session", headers={"cookie": f"session={forged}"})
    assert response.status_code == 200
    assert response.json() == {}
