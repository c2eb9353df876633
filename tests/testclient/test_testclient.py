from __future__ import annotations

import json
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
import sniffio

from stellate_asgi.exceptions import StellateDeprecationWarning
from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_testclient import TestClient

TestClientFactory = Callable[..., TestClient]


# --- small raw ASGI helpers ---------------------------------------------------------


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        assert message["type"] == "http.request"
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body", False):
            return body


async def send_response(
    send: Send,
    body: bytes = b"",
    status: int = 200,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or []})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, data: Any, status: int = 200) -> None:
    headers = [(b"content-type", b"application/json")]
    await send_response(send, json.dumps(data).encode(), status, headers)


def scope_echo_app() -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        body = await read_body(receive)
        await send_json(
            send,
            {
                "method": scope["method"],
                "path": scope["path"],
                "raw_path": scope["raw_path"].decode(),
                "root_path": scope["root_path"],
                "query_string": scope["query_string"].decode(),
                "scheme": scope["scheme"],
                "http_version": scope["http_version"],
                "asgi": scope["asgi"],
                "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
                "client": list(scope["client"]),
                "server": list(scope["server"]),
                "extensions": sorted(scope["extensions"]),
                "body": body.decode(),
                "backend": sniffio.current_async_library(),
            },
        )

    return app


# --- HTTP requests ------------------------------------------------------------------


def test_get_builds_a_server_like_scope(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(scope_echo_app())
    response = client.get("/some%20path/x?a=1&b=%20")
    assert response.status_code == 200
    data = response.json()
    assert data["method"] == "GET"
    assert data["path"] == "/some path/x"
    assert data["raw_path"] == "/some%20path/x"
    assert data["query_string"] == "a=1&b=%20"
    assert data["root_path"] == ""
    assert data["scheme"] == "http"
    assert data["http_version"] == "1.1"
    assert data["asgi"] == {"version": "3.0"}
    assert data["client"] == ["testclient", 50000]
    assert data["server"] == ["testserver", 80]
    assert data["extensions"] == ["http.response.debug", "http.response.trailers"]
    assert data["headers"][0] == ["host", "testserver"]
    assert ["user-agent", "testclient"] in data["headers"]


def test_scope_for_https_and_custom_port(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(scope_echo_app(), base_url="https://example.org:8443")
    data = client.get("/").json()
    assert data["scheme"] == "https"
    assert data["server"] == ["example.org", 8443]
    assert data["headers"][0] == ["host", "example.org:8443"]


def test_custom_client_address_and_headers(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(
        scope_echo_app(), client=("192.168.0.7", 1234), headers={"X-Token": "abc"}
    )
    data = client.get("/", headers={"X-Other": "1"}).json()
    assert data["client"] == ["192.168.0.7", 1234]
    assert ["x-token", "abc"] in data["headers"]
    assert ["x-other", "1"] in data["headers"]


def test_user_agent_can_be_overridden(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(scope_echo_app(), headers={"User-Agent": "mine"})
    headers = client.get("/").json()["headers"]
    assert ["user-agent", "mine"] in headers
    assert ["user-agent", "testclient"] not in headers


def test_runs_on_the_requested_backend(
    test_client_factory: TestClientFactory, anyio_backend_name: str
) -> None:
    client = test_client_factory(scope_echo_app())
    assert client.get("/").json()["backend"] == anyio_backend_name


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_backend_argument(backend: str) -> None:
    client = TestClient(scope_echo_app(), backend=backend)  # type: ignore[arg-type]
    assert client.get("/").json()["backend"] == backend
    with client:
        assert client.get("/").json()["backend"] == backend


def test_root_path(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(scope_echo_app(), root_path="/mount")
    data = client.get("/mount/page").json()
    assert data["root_path"] == "/mount"
    # As with a real server, `path` is the full path, root path included.
    assert data["path"] == "/mount/page"


def test_request_body_in_one_message(test_client_factory: TestClientFactory) -> None:
    messages: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        messages.append(await receive())
        await send_response(send, b"ok")

    client = test_client_factory(app)
    assert client.post("/", content=b"hello").text == "ok"
    assert messages == [{"type": "http.request", "body": b"hello", "more_body": False}]


def test_request_body_streamed_in_chunks(test_client_factory: TestClientFactory) -> None:
    messages: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            messages.append(message)
            if not message["more_body"]:
                break
        await send_response(send, b"ok")

    def chunks() -> Iterator[bytes]:
        yield b"one"
        yield b"two"
        yield b"three"

    client = test_client_factory(app)
    client.post("/", content=chunks())
    assert [m["body"] for m in messages] == [b"one", b"two", b"three"]
    assert [m["more_body"] for m in messages] == [True, True, False]


def test_json_form_and_empty_bodies(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(scope_echo_app())
    assert client.post("/", json={"a": 1}).json()["body"] == '{"a":1}'
    assert client.post("/", data={"a": "1", "b": "x y"}).json()["body"] == "a=1&b=x+y"
    assert client.get("/").json()["body"] == ""


def test_receive_after_body_waits_then_reports_disconnect(
    test_client_factory: TestClientFactory,
) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await read_body(receive)

        async def watch_disconnect() -> None:
            message = await receive()
            events.append(message["type"])

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch_disconnect)
            await anyio.sleep(0.01)
            events.append("responding")
            await send_response(send, b"done")

    client = test_client_factory(app)
    assert client.get("/").text == "done"
    assert events == ["responding", "http.disconnect"]


def test_head_response_has_no_body(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(send, b"body", headers=[(b"content-length", b"4")])

    client = test_client_factory(app)
    response = client.head("/")
    assert response.status_code == 200
    assert response.headers["content-length"] == "4"
    assert response.content == b""


def test_repeated_response_headers_are_kept(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"x-multi", b"1"), (b"x-multi", b"2")]
        await send_response(send, b"", headers=headers)

    response = test_client_factory(app).get("/")
    assert response.headers.get_list("x-multi") == ["1", "2"]


def test_streaming_response(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(3):
            await send({"type": "http.response.body", "body": b"%d," % index, "more_body": True})
        await send({"type": "http.response.body", "body": b"end"})

    client = test_client_factory(app)
    assert client.get("/").text == "0,1,2,end"
    with client.stream("GET", "/") as response:
        assert response.status_code == 200
        assert b"".join(response.iter_bytes()) == b"0,1,2,end"


def test_debug_extension_exposes_template_and_context(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert "http.response.debug" in scope["extensions"]
        info = {"template": "index.html", "context": {"name": "x"}}
        await send({"type": "http.response.debug", "info": info})
        await send_response(send, b"<html></html>")

    response = test_client_factory(app).get("/")
    assert response.template == "index.html"  # type: ignore[attr-defined]
    assert response.context == {"name": "x"}  # type: ignore[attr-defined]
    assert response.extensions["http.response.debug"]["template"] == "index.html"


def test_asgi2_app(test_client_factory: TestClientFactory) -> None:
    def app(scope: Scope) -> Callable[[Receive, Send], Any]:
        async def asgi(receive: Receive, send: Send) -> None:
            await send_response(send, b"asgi2")

        return asgi

    assert test_client_factory(app).get("/").text == "asgi2"


def test_asgi3_class_instance(test_client_factory: TestClientFactory) -> None:
    class App:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await send_response(send, b"instance")

    assert test_client_factory(App()).get("/").text == "instance"


def test_timeout_argument_warns(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(scope_echo_app())
    message = "You should not use the 'timeout' argument with the TestClient."
    with pytest.warns(StellateDeprecationWarning, match=re.escape(message)):
        response = client.get("/", timeout=1.0)
    assert response.status_code == 200


# --- exceptions -----------------------------------------------------------------------


def test_app_exception_is_raised(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("boom")

    client = test_client_factory(app)
    with pytest.raises(ValueError, match="boom"):
        client.get("/")


def test_app_exception_after_response_start_is_raised(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ValueError("late")

    with pytest.raises(ValueError, match="late"):
        test_client_factory(app).get("/")


def test_app_exception_as_500_when_not_raised(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("boom")

    client = test_client_factory(app, raise_server_exceptions=False)
    response = client.get("/")
    assert response.status_code == 500
    assert response.content == b""


def test_response_sent_before_exception_is_kept(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(send, b"partial", status=202)
        raise ValueError("after the response")

    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 202
    assert response.text == "partial"


def test_app_without_response(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        pass

    with pytest.raises(AssertionError, match="did not receive any response"):
        test_client_factory(app).get("/")
    assert test_client_factory(app, raise_server_exceptions=False).get("/").status_code == 500


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([{"type": "http.response.body", "body": b"x"}], 'without "http.response.start"'),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.start", "status": 200},
            ],
            'multiple "http.response.start" messages',
        ),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body", "body": b""},
                {"type": "http.response.body", "body": b""},
            ],
            "after response completed",
        ),
    ],
)
def test_out_of_order_response_messages(
    test_client_factory: TestClientFactory, messages: list[Message], error: str
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    with pytest.raises(AssertionError, match=error):
        test_client_factory(app).get("/")


# --- redirects and cookies -----------------------------------------------------------


def redirect_app() -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/old":
            await send_response(send, status=307, headers=[(b"location", b"/new")])
        else:
            await send_response(send, scope["path"].encode())

    return app


def test_redirects_are_followed_by_default(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(redirect_app()).get("/old")
    assert response.status_code == 200
    assert response.text == "/new"
    assert response.url == "http://testserver/new"
    assert [r.status_code for r in response.history] == [307]


def test_redirects_can_be_disabled(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(redirect_app(), follow_redirects=False)
    response = client.get("/old")
    assert response.status_code == 307
    assert response.headers["location"] == "/new"
    assert client.get("/old", follow_redirects=True).text == "/new"


def test_cookies_round_trip(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        if scope["path"] == "/set":
            await send_response(send, headers=[(b"set-cookie", b"session=abc; Path=/")])
        else:
            await send_response(send, headers.get(b"cookie", b""))

    client = test_client_factory(app)
    assert client.get("/read").text == ""
    client.get("/set")
    assert client.cookies["session"] == "abc"
    assert client.get("/read").text == "session=abc"


def test_cookies_argument(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(scope_echo_app(), cookies={"flavour": "oat"})
    assert ["cookie", "flavour=oat"] in client.get("/").json()["headers"]


# --- portals and lifespan --------------------------------------------------------------


def thread_app(threads: list[threading.Thread]) -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
            await send({"type": "lifespan.shutdown.complete"})
            return
        threads.append(threading.current_thread())
        await send_response(send, b"")

    return app


def test_each_request_gets_its_own_portal_outside_a_block(
    test_client_factory: TestClientFactory,
) -> None:
    threads: list[threading.Thread] = []
    client = test_client_factory(thread_app(threads))
    client.get("/")
    client.get("/")
    assert threads[0] is not threads[1]
    assert threads[0] is not threading.current_thread()


def test_one_portal_for_a_whole_block(test_client_factory: TestClientFactory) -> None:
    threads: list[threading.Thread] = []
    client = test_client_factory(thread_app(threads))
    with client:
        client.get("/")
        client.get("/")
    assert threads[0] is threads[1]
    assert client.portal is None
    # The client keeps working after the block.
    assert client.get("/").status_code == 200
    assert threads[2] is not threads[0]


def lifespan_app(
    events: list[str],
    *,
    fail_startup: bool = False,
    fail_shutdown: bool = False,
    raise_in_startup: bool = False,
) -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send_json(send, {"state": scope["state"]})
            return
        assert scope["type"] == "lifespan"
        message = await receive()
        assert message["type"] == "lifespan.startup"
        if raise_in_startup:
            raise RuntimeError("startup exploded")
        if fail_startup:
            await send({"type": "lifespan.startup.failed", "message": "no database"})
            return
        scope["state"]["db"] = "connected"
        events.append("startup")
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        assert message["type"] == "lifespan.shutdown"
        events.append("shutdown")
        if fail_shutdown:
            await send({"type": "lifespan.shutdown.failed", "message": "flush failed"})
            return
        await send({"type": "lifespan.shutdown.complete"})

    return app


def test_lifespan_runs_in_a_block(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []
    client = test_client_factory(lifespan_app(events))
    assert events == []
    with client as entered:
        assert entered is client
        assert events == ["startup"]
        assert client.get("/").json() == {"state": {"db": "connected"}}
    assert events == ["startup", "shutdown"]


def test_lifespan_not_run_without_a_block(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []
    client = test_client_factory(lifespan_app(events))
    assert client.get("/").json() == {"state": {}}
    assert events == []


def test_lifespan_state_is_copied_per_request(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["count"] = 0
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        scope["state"]["count"] += 1
        await send_json(send, scope["state"])

    with test_client_factory(app) as client:
        assert client.get("/").json() == {"count": 1}
        assert client.get("/").json() == {"count": 1}


def test_lifespan_with_context_manager_style_app(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        events.append("enter")
        yield
        events.append("exit")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        async with lifespan():
            await send({"type": "lifespan.startup.complete"})
            await receive()
        await send({"type": "lifespan.shutdown.complete"})

    with test_client_factory(app):
        assert events == ["enter"]
    assert events == ["enter", "exit"]


def test_lifespan_startup_failed_raises(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []
    client = test_client_factory(lifespan_app(events, fail_startup=True))
    with pytest.raises(RuntimeError, match="no database"), client:
        pass  # pragma: no cover
    assert client.portal is None


def test_lifespan_startup_exception_propagates(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []
    client = test_client_factory(lifespan_app(events, raise_in_startup=True))
    with pytest.raises(RuntimeError, match="startup exploded"), client:
        pass  # pragma: no cover


def test_lifespan_startup_failed_with_exception(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "see exception"})
        raise KeyError("the real cause")

    with pytest.raises(KeyError, match="the real cause"), test_client_factory(app):
        pass  # pragma: no cover


def test_lifespan_shutdown_failed_raises(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []
    client = test_client_factory(lifespan_app(events, fail_shutdown=True))
    with pytest.raises(RuntimeError, match="flush failed"), client:
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


def test_lifespan_shutdown_exception_propagates(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise ValueError("shutdown exploded")

    with pytest.raises(ValueError, match="shutdown exploded"), test_client_factory(app):
        pass


def test_lifespan_unsupported_app_returns(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return  # lifespan not supported: the ASGI way to say so
        await send_response(send, b"fine")

    with test_client_factory(app) as client:
        assert client.get("/").text == "fine"


def test_lifespan_unexpected_message(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.nonsense"})
        await receive()

    with pytest.raises(RuntimeError, match=r"lifespan\.nonsense"), test_client_factory(app):
        pass  # pragma: no cover


def test_exception_in_block_still_shuts_down(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []
    with pytest.raises(ZeroDivisionError), test_client_factory(lifespan_app(events)):
        1 / 0  # noqa: B018
    assert events == ["startup", "shutdown"]


def test_client_can_be_entered_again(test_client_factory: TestClientFactory) -> None:
    events: list[str] = []
    client = test_client_factory(lifespan_app(events))
    with client:
        pass
    with client:
        pass
    assert events == ["startup", "shutdown", "startup", "shutdown"]


def test_http_error_statuses_are_returned(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(send, b"missing", status=404)

    response = test_client_factory(app).get("/")
    assert response.status_code == 404
    with pytest.raises(httpx.HTTPStatusError):
        response.raise_for_status()


def test_lifespan_app_exception_propagates(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"

    with pytest.raises(AssertionError), test_client_factory(app):
        pass  # pragma: no cover


def test_lifespan_shutdown_unexpected_message(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.startup.complete"})

    with pytest.raises(RuntimeError, match=r"shutdown\.complete"), test_client_factory(app):
        pass


def test_lifespan_failure_without_message(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed"})

    with pytest.raises(RuntimeError, match=r"lifespan\.startup\.failed"), test_client_factory(app):
        pass  # pragma: no cover


def test_lifespan_exception_during_the_block(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send_response(send, b"still serving")
            return
        await receive()
        await send({"type": "lifespan.startup.complete"})
        raise LookupError("background failure")

    with pytest.raises(LookupError, match="background failure"), test_client_factory(app) as client:
        assert client.get("/").text == "still serving"


def test_lifespan_app_stuck_after_shutdown_is_cancelled(
    test_client_factory: TestClientFactory,
) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        try:
            await anyio.sleep_forever()
        finally:
            events.append("stopped")

    with test_client_factory(app):
        pass
    assert events == ["stopped"]


def test_empty_streamed_body(test_client_factory: TestClientFactory) -> None:
    messages: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        messages.append(await receive())
        await send_response(send)

    test_client_factory(app).post("/", content=iter([]))
    assert messages == [{"type": "http.request", "body": b"", "more_body": False}]


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("http://testserver", b"testserver"),
        ("http://example.org:8000", b"example.org:8000"),
        ("https://[::1]", b"[::1]"),
        ("https://[::1]:444", b"[::1]:444"),
    ],
)
def test_host_header_built_when_absent(
    test_client_factory: TestClientFactory, base_url: str, host: bytes
) -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(list(scope["headers"]))
        await send_response(send)

    def drop_host(request: httpx.Request) -> None:
        del request.headers["host"]

    client = test_client_factory(app, base_url=base_url)
    client.event_hooks = {"request": [drop_host]}
    client.get("/")
    assert seen[0][0] == (b"host", host)
    assert [name for name, _ in seen[0]].count(b"host") == 1


def test_debug_info_without_template(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.debug", "info": {"rows": [1, 2]}})
        await send({"type": "http.response.early_hint", "links": []})  # ignored
        await send_response(send)

    response = test_client_factory(app).get("/")
    assert response.extensions["http.response.debug"] == {"rows": [1, 2]}
    assert not hasattr(response, "template")


def test_public_names_are_declared() -> None:
    import stellate_testclient
    import stellate_testclient.testclient as module

    for mod in (stellate_testclient, module):
        for name in mod.__all__:
            assert hasattr(mod, name), name
    assert set(stellate_testclient.__all__) - {"__version__"} <= set(module.__all__)
    assert module.TestClient.__init__.__defaults__ == (
        "http://testserver",
        True,
        "",
        "asyncio",
        None,
        None,
        None,
        True,
        ("testclient", 50000),
    )


def test_default_accept_encoding_does_not_depend_on_installed_codecs(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        encoding = dict(scope["headers"]).get(b"accept-encoding", b"")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": encoding})

    assert test_client_factory(app).get("/").text == "gzip, deflate"
    custom = test_client_factory(app, headers={"Accept-Encoding": "br"})
    assert custom.get("/").text == "br"
    assert test_client_factory(app).get("/", headers={"accept-encoding": "zstd"}).text == "zstd"
