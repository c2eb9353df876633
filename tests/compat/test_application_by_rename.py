"""Port-by-rename checks: a Starlette-style application with `starlette` read as `stellate`.

The application is written the way Starlette's documentation shows, and every
assertion is a status code, header or body that Starlette documents.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from stellate.applications import Stellate
from stellate.background import BackgroundTask, BackgroundTasks
from stellate.datastructures import UploadFile
from stellate.endpoints import HTTPEndpoint, WebSocketEndpoint
from stellate.requests import Request
from stellate.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from stellate.routing import Mount, Route, Router, WebSocketRoute
from stellate.status import HTTP_201_CREATED, WS_1001_GOING_AWAY
from stellate.testclient import TestClient
from stellate.types import Message, Receive, Scope, Send
from stellate.websockets import WebSocket, WebSocketDisconnect
from tests.conftest import TestClientFactory

# --- the application ---------------------------------------------------------------------

TASK_LOG: list[str] = []


async def homepage(request: Request) -> Response:
    return HTMLResponse("<html><body><h1>Hello, world!</h1></body></html>")


async def convertors(request: Request) -> Response:
    return JSONResponse({key: repr(value) for key, value in request.path_params.items()})


async def inspect_request(request: Request) -> Response:
    assert request.client is not None
    return JSONResponse(
        {
            "method": request.method,
            "url": str(request.url),
            "path": request.url.path,
            "query": request.url.query,
            "base_url": str(request.base_url),
            "query_params": request.query_params.multi_items(),
            "a": request.query_params.get("a"),
            "headers_ua": request.headers["User-Agent"],
            "x_values": request.headers.getlist("x-value"),
            "cookies": request.cookies,
            "client": [request.client.host, request.client.port],
            "user_url": str(request.url_for("user", user_id=7)),
            "ws_url": str(request.url_for("ws_text")),
        }
    )


async def user(request: Request) -> Response:
    return PlainTextResponse(f"user {request.path_params['user_id']}")


async def echo_body(request: Request) -> Response:
    body = await request.body()
    return Response(body, media_type=request.headers.get("content-type"))


async def echo_json(request: Request) -> Response:
    data = await request.json()
    return JSONResponse({"received": data})


async def echo_stream(request: Request) -> Response:
    chunks = [chunk async for chunk in request.stream()]
    return PlainTextResponse(b"".join(chunks).decode())


async def echo_form(request: Request) -> Response:
    async with request.form() as form:
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                content = await value.read()
                fields[key] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "size": value.size,
                    "content": content.decode(),
                }
            else:
                fields[key] = value
        return JSONResponse(fields)


async def plain(request: Request) -> Response:
    return PlainTextResponse("Hello, world!")


async def json_response(request: Request) -> Response:
    return JSONResponse({"hello": "wörld", "list": [1, 2.5, None, True]})


async def raw_response(request: Request) -> Response:
    return Response(b"\x00\x01", media_type="application/octet-stream", headers={"X-A": "b"})


async def redirect(request: Request) -> Response:
    return RedirectResponse(url="/plain")


async def redirect_permanent(request: Request) -> Response:
    return RedirectResponse(url="/plain?x=a b", status_code=301)


async def streaming(request: Request) -> Response:
    async def numbers() -> AsyncIterator[str]:
        for number in range(1, 4):
            yield f"{number}\n"

    return StreamingResponse(numbers(), media_type="text/plain")


def sync_streaming(request: Request) -> Response:
    def letters() -> Iterator[bytes]:
        yield from (b"a", b"b", b"c")

    return StreamingResponse(letters(), media_type="application/octet-stream")


async def cookies_set(request: Request) -> Response:
    response = PlainTextResponse("cookies")
    response.set_cookie("simple", "value")
    response.set_cookie(
        "full",
        "v",
        max_age=10,
        path="/app",
        domain="example.org",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return response


async def cookies_delete(request: Request) -> Response:
    response = PlainTextResponse("deleted")
    response.delete_cookie("simple")
    return response


def log_task(message: str) -> None:
    TASK_LOG.append(message)


async def async_log_task(message: str) -> None:
    TASK_LOG.append(message)


async def background_single(request: Request) -> Response:
    task = BackgroundTask(log_task, "single")
    return JSONResponse({"queued": True}, background=task)


async def background_many(request: Request) -> Response:
    tasks = BackgroundTasks()
    tasks.add_task(log_task, message="first")
    tasks.add_task(async_log_task, "second")
    return PlainTextResponse("queued", background=tasks)


async def invalid_json(request: Request) -> Response:
    return JSONResponse(await request.json())


class Notes(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return JSONResponse({"notes": []})

    def post(self, request: Request) -> Response:
        return PlainTextResponse("created", status_code=HTTP_201_CREATED)


async def ws_text(websocket: WebSocket) -> None:
    await websocket.accept()
    name = await websocket.receive_text()
    await websocket.send_text(f"Hello, {name}!")
    await websocket.close()


async def ws_bytes(websocket: WebSocket) -> None:
    await websocket.accept()
    data = await websocket.receive_bytes()
    await websocket.send_bytes(data[::-1])
    await websocket.close()


async def ws_json(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol="json.v1")
    while True:
        message = await websocket.receive_json()
        if message == "bye":
            await websocket.close(code=WS_1001_GOING_AWAY, reason="Going away")
            return
        await websocket.send_json({"echo": message})


async def ws_iter_text(websocket: WebSocket) -> None:
    await websocket.accept()
    # The loop ends when the client disconnects.
    async for text in websocket.iter_text():
        await websocket.send_text(text.upper())
    TASK_LOG.append("iter_text done")


async def ws_info(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(
        {
            "path_params": websocket.path_params,
            "query": websocket.query_params.get("q"),
            "url": str(websocket.url),
            "subprotocols": websocket.scope["subprotocols"],
        }
    )
    await websocket.close()


async def ws_reject(websocket: WebSocket) -> None:
    await websocket.close(code=1008)


DISCONNECT_CODES: list[int] = []


class Chat(WebSocketEndpoint):
    encoding = "text"

    async def on_connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("welcome")

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_text(f"Message text was: {data}")

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        DISCONNECT_CODES.append(close_code)


class JSONChat(WebSocketEndpoint):
    encoding = "json"

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_json({"message": data})


class BytesChat(WebSocketEndpoint):
    encoding = "bytes"

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_bytes(b"Message bytes was: " + data)


def make_app(tmp_path: Path | None = None) -> Stellate:
    routes = [
        Route("/", homepage),
        Route("/int/{value:int}", convertors),
        Route("/float/{value:float}", convertors),
        Route("/uuid/{value:uuid}", convertors),
        Route("/path/{value:path}", convertors),
        Route("/str/{value:str}", convertors),
        Route("/mixed/{a}/{b:int}/{rest:path}", convertors),
        Route("/request", inspect_request, methods=["GET", "POST"]),
        Route("/users/{user_id:int}", user, name="user"),
        Route("/body", echo_body, methods=["POST"]),
        Route("/json", echo_json, methods=["POST"]),
        Route("/stream", echo_stream, methods=["POST"]),
        Route("/form", echo_form, methods=["POST"]),
        Route("/plain", plain),
        Route("/json-response", json_response),
        Route("/raw", raw_response),
        Route("/redirect", redirect),
        Route("/redirect-permanent", redirect_permanent),
        Route("/streaming", streaming),
        Route("/sync-streaming", sync_streaming),
        Route("/cookies/set", cookies_set),
        Route("/cookies/delete", cookies_delete),
        Route("/background/single", background_single),
        Route("/background/many", background_many),
        Route("/invalid-json", invalid_json, methods=["POST"]),
        Route("/notes", Notes),
        WebSocketRoute("/ws/text", ws_text, name="ws_text"),
        WebSocketRoute("/ws/bytes", ws_bytes),
        WebSocketRoute("/ws/json", ws_json),
        WebSocketRoute("/ws/iter-text", ws_iter_text),
        WebSocketRoute("/ws/info/{room}", ws_info),
        WebSocketRoute("/ws/reject", ws_reject),
        WebSocketRoute("/ws/chat", Chat),
        WebSocketRoute("/ws/json-chat", JSONChat),
        WebSocketRoute("/ws/bytes-chat", BytesChat),
        Mount("/api", routes=[Route("/plain", plain, name="api_plain")], name="api"),
    ]
    if tmp_path is not None:
        file_path = tmp_path / "example.txt"

        async def download(request: Request) -> Response:
            return FileResponse(file_path, filename="example.txt")

        async def inline(request: Request) -> Response:
            return FileResponse(file_path)

        routes.append(Route("/download", download))
        routes.append(Route("/inline", inline))
    return Stellate(routes=routes)


@pytest.fixture
def client(test_client_factory: TestClientFactory, tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "example.txt").write_bytes(b"0123456789abcdefghij")
    with test_client_factory(make_app(tmp_path)) as test_client:
        yield test_client


# --- routing and convertors -------------------------------------------------------------


def test_homepage(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.text == "<html><body><h1>Hello, world!</h1></body></html>"


def test_convertors(client: TestClient) -> None:
    assert client.get("/int/42").json() == {"value": "42"}
    assert client.get("/float/3.5").json() == {"value": "3.5"}
    value = uuid.UUID("ec38df32-ceda-4cfa-9b4a-1aeb94ad551a")
    assert client.get(f"/uuid/{value}").json() == {"value": repr(value)}
    assert client.get("/path/a/b/c.txt").json() == {"value": "'a/b/c.txt'"}
    assert client.get("/str/hello").json() == {"value": "'hello'"}
    assert client.get("/mixed/x/3/y/z").json() == {"a": "'x'", "b": "3", "rest": "'y/z'"}

    # A value the convertor does not accept is not a match at all.
    assert client.get("/int/abc").status_code == 404
    assert client.get("/int/-1").status_code == 404
    assert client.get("/float/abc").status_code == 404
    assert client.get("/uuid/not-a-uuid").status_code == 404
    assert client.get("/str/a/b").status_code == 404


def test_url_path_for_with_convertors() -> None:
    app = make_app()
    assert app.url_path_for("user", user_id=5) == "/users/5"
    assert app.url_path_for("api:api_plain") == "/api/plain"
    assert app.url_path_for("ws_text") == "/ws/text"


# --- requests -------------------------------------------------------------------------


def test_request_attributes(client: TestClient) -> None:
    response = client.get(
        "/request?a=1&a=2&b=x%20y",
        headers={"X-Value": "one", "Cookie": "session=abc; theme=dark"},
    )
    assert response.status_code == 200
    data = response.json()
    assert data["method"] == "GET"
    assert data["url"] == "http://testserver/request?a=1&a=2&b=x%20y"
    assert data["path"] == "/request"
    assert data["query"] == "a=1&a=2&b=x%20y"
    assert data["base_url"] == "http://testserver/"
    assert data["query_params"] == [["a", "1"], ["a", "2"], ["b", "x y"]]
    assert data["a"] == "2"  # the last value, as Starlette's multidicts do
    assert data["headers_ua"] == "testclient"
    assert data["x_values"] == ["one"]
    assert data["cookies"] == {"session": "abc", "theme": "dark"}
    assert data["client"] == ["testclient", 50000]
    assert data["user_url"] == "http://testserver/users/7"
    assert data["ws_url"] == "ws://testserver/ws/text"


def test_request_body_json_and_stream(client: TestClient) -> None:
    response = client.post("/body", content=b"raw bytes", headers={"content-type": "x/y"})
    assert response.content == b"raw bytes"
    assert response.headers["content-type"] == "x/y"

    response = client.post("/json", json={"a": [1, 2, {"b": None}]})
    assert response.json() == {"received": {"a": [1, 2, {"b": None}]}}

    def chunks() -> Iterator[bytes]:
        yield b"streamed "
        yield b"body"

    assert client.post("/stream", content=chunks()).text == "streamed body"


def test_request_forms(client: TestClient) -> None:
    response = client.post("/form", data={"name": "Ann", "city": "Paris"})
    assert response.json() == {"name": "Ann", "city": "Paris"}

    response = client.post(
        "/form",
        data={"name": "Ann"},
        files={"upload": ("notes.txt", b"file content", "text/plain")},
    )
    assert response.json() == {
        "name": "Ann",
        "upload": {
            "filename": "notes.txt",
            "content_type": "text/plain",
            "size": 12,
            "content": "file content",
        },
    }


# --- responses ------------------------------------------------------------------------


def test_plain_json_and_raw_responses(client: TestClient) -> None:
    response = client.get("/plain")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "13"
    assert response.text == "Hello, world!"

    response = client.get("/json-response")
    assert response.headers["content-type"] == "application/json"
    # Compact separators and no ASCII escaping, as Starlette renders JSON.
    assert response.content == '{"hello":"wörld","list":[1,2.5,null,true]}'.encode()

    response = client.get("/raw")
    assert response.content == b"\x00\x01"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-a"] == "b"
    assert response.headers["content-length"] == "2"


def test_redirect_responses(client: TestClient) -> None:
    response = client.get("/redirect", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/plain"
    assert response.content == b""

    response = client.get("/redirect-permanent", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/plain?x=a%20b"

    response = client.get("/redirect")
    assert response.status_code == 200
    assert response.text == "Hello, world!"
    assert response.url == "http://testserver/plain"


def test_streaming_responses(client: TestClient) -> None:
    response = client.get("/streaming")
    assert response.status_code == 200
    assert response.text == "1\n2\n3\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"

    response = client.get("/sync-streaming")
    assert response.content == b"abc"
    assert response.headers["content-type"] == "application/octet-stream"


def test_streaming_response_has_no_content_length(client: TestClient) -> None:
    # A streamed body has no known length: Starlette sends no Content-Length header.
    response = client.get("/streaming")
    assert response.text == "1\n2\n3\n"
    assert "content-length" not in response.headers


def test_set_and_delete_cookie(client: TestClient) -> None:
    response = client.get("/cookies/set")
    assert response.headers.get_list("set-cookie") == [
        "simple=value; Path=/; SameSite=lax",
        "full=v; Domain=example.org; HttpOnly; Max-Age=10; Path=/app; SameSite=strict; Secure",
    ]
    assert client.cookies["simple"] == "value"

    response = client.get("/cookies/delete")
    set_cookie = response.headers["set-cookie"]
    assert re.fullmatch(
        r'simple=""; expires=\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT; '
        r"Max-Age=0; Path=/; SameSite=lax",
        set_cookie,
    ), set_cookie
    assert "simple" not in client.cookies


def test_file_response(client: TestClient) -> None:
    response = client.get("/download")
    assert response.status_code == 200
    assert response.content == b"0123456789abcdefghij"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "20"
    assert response.headers["content-disposition"] == 'attachment; filename="example.txt"'
    assert response.headers["accept-ranges"] == "bytes"
    assert "etag" in response.headers
    assert "last-modified" in response.headers

    response = client.get("/inline")
    assert "content-disposition" not in response.headers

    response = client.head("/download")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "20"


def test_file_response_ranges(client: TestClient) -> None:
    response = client.get("/download", headers={"Range": "bytes=0-4"})
    assert response.status_code == 206
    assert response.content == b"01234"
    assert response.headers["content-range"] == "bytes 0-4/20"
    assert response.headers["content-length"] == "5"

    response = client.get("/download", headers={"Range": "bytes=-3"})
    assert response.status_code == 206
    assert response.content == b"hij"
    assert response.headers["content-range"] == "bytes 17-19/20"

    response = client.get("/download", headers={"Range": "bytes=0-1, 5-6"})
    assert response.status_code == 206
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    boundary = content_type.split("boundary=")[1]
    assert response.content.count(f"--{boundary}".encode()) == 3
    assert b"Content-Range: bytes 0-1/20" in response.content
    assert b"Content-Range: bytes 5-6/20" in response.content
    assert response.headers["content-length"] == str(len(response.content))

    # A range past the end cannot be satisfied.
    response = client.get("/download", headers={"Range": "bytes=100-200"})
    assert response.status_code == 416
    # Starlette sends "*/20"; RFC 9110 wants the unit first ("bytes */20").
    assert response.headers["content-range"].endswith("*/20")

    # Malformed ranges are a 400 with Starlette's messages.
    response = client.get("/download", headers={"Range": "bytes"})
    assert response.status_code == 400
    assert response.text == "Malformed range header."

    response = client.get("/download", headers={"Range": "bytes=x-y"})
    assert response.status_code == 400
    assert response.text == "Range header: range must be requested"

    response = client.get("/download", headers={"Range": "items=0-1"})
    assert response.status_code == 400
    assert response.text == "Only support bytes range"

    response = client.get("/download", headers={"Range": "bytes=5-2"})
    assert response.status_code == 400
    assert response.text == "Range header: start must be less than end"


def test_file_response_details(test_client_factory: TestClientFactory, tmp_path: Path) -> None:
    file_path = tmp_path / "data.txt"
    file_path.write_bytes(b"0123456789")

    async def unicode_name(request: Request) -> Response:
        return FileResponse(file_path, filename="été.txt")

    async def inline(request: Request) -> Response:
        return FileResponse(file_path, filename="data.txt", content_disposition_type="inline")

    app = Stellate(routes=[Route("/unicode", unicode_name), Route("/inline", inline)])
    client = test_client_factory(app)

    response = client.get("/unicode")
    assert (
        response.headers["content-disposition"] == "attachment; filename*=utf-8''%C3%A9t%C3%A9.txt"
    )
    assert client.get("/inline").headers["content-disposition"] == 'inline; filename="data.txt"'

    # If-Range: the range is served only while the validator still matches.
    etag = response.headers["etag"]
    response = client.get("/inline", headers={"range": "bytes=0-1", "if-range": etag})
    assert response.status_code == 206
    assert response.content == b"01"
    response = client.get("/inline", headers={"range": "bytes=0-1", "if-range": '"stale"'})
    assert response.status_code == 200
    assert response.content == b"0123456789"

    response = client.head("/inline", headers={"range": "bytes=0-1"})
    assert response.status_code == 206
    assert response.content == b""
    assert response.headers["content-range"] == "bytes 0-1/10"
    assert response.headers["content-length"] == "2"


def test_cookie_expires(test_client_factory: TestClientFactory) -> None:
    async def endpoint(request: Request) -> Response:
        response = PlainTextResponse("x")
        moment = datetime.datetime(2037, 1, 22, 12, 0, 10, tzinfo=datetime.UTC)
        response.set_cookie("at", "v", expires=moment)
        response.set_cookie("in", "v", expires=10)
        return response

    client = test_client_factory(Stellate(routes=[Route("/", endpoint)]))
    first, second = client.get("/").headers.get_list("set-cookie")
    assert first == "at=v; expires=Thu, 22 Jan 2037 12:00:10 GMT; Path=/; SameSite=lax"
    assert re.fullmatch(
        r"in=v; expires=\w{3}, \d{2} \w{3} \d{4} [\d:]{8} GMT; Path=/; SameSite=lax", second
    )


def test_form_limits_are_400s(test_client_factory: TestClientFactory) -> None:
    async def limited(request: Request) -> Response:
        form = await request.form(max_files=1, max_fields=2)
        return PlainTextResponse(str(len(form)))

    client = test_client_factory(Stellate(routes=[Route("/", limited, methods=["POST"])]))
    response = client.post("/", files=[("a", ("a.txt", b"1")), ("b", ("b.txt", b"2"))])
    assert response.status_code == 400
    assert response.text == "Too many files. Maximum number of files is 1."

    response = client.post("/", data={"a": "1", "b": "2", "c": "3"})
    assert response.status_code == 400
    assert response.text == "Too many fields. Maximum number of fields is 2."

    # A field (not a file) over the default 1 MiB part size.
    response = client.post("/", data={"a": "x" * (1024 * 1024 + 1)}, files={"f": ("f", b"")})
    assert response.status_code == 400
    assert response.text == "Part exceeded maximum size of 1024KB."


def test_background_task_errors_reach_the_server(test_client_factory: TestClientFactory) -> None:
    def broken() -> None:
        raise ValueError("task failed")

    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("sent", background=BackgroundTask(broken))

    app = Stellate(routes=[Route("/", endpoint)])
    with pytest.raises(ValueError, match="task failed"):
        test_client_factory(app).get("/")
    # The response had gone out before the task ran.
    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 200
    assert response.text == "sent"


def test_background_tasks(client: TestClient) -> None:
    TASK_LOG.clear()
    response = client.get("/background/single")
    assert response.json() == {"queued": True}
    assert TASK_LOG == ["single"]

    TASK_LOG.clear()
    assert client.get("/background/many").text == "queued"
    assert TASK_LOG == ["first", "second"]


# --- endpoints ------------------------------------------------------------------------


def test_http_endpoint(client: TestClient) -> None:
    assert client.get("/notes").json() == {"notes": []}
    response = client.post("/notes")
    assert response.status_code == 201
    assert response.text == "created"
    response = client.put("/notes")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


# --- websockets -----------------------------------------------------------------------


def test_websocket_text_bytes_json(client: TestClient) -> None:
    with client.websocket_connect("/ws/text") as session:
        session.send_text("Ann")
        assert session.receive_text() == "Hello, Ann!"
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_text()
        assert info.value.code == 1000

    with client.websocket_connect("/ws/bytes") as session:
        session.send_bytes(b"\x01\x02\x03")
        assert session.receive_bytes() == b"\x03\x02\x01"

    with client.websocket_connect("/ws/json", subprotocols=["json.v1", "other"]) as session:
        assert session.accepted_subprotocol == "json.v1"
        session.send_json({"a": 1})
        assert session.receive_json() == {"echo": {"a": 1}}
        session.send_json([1, "two"])
        assert session.receive_json() == {"echo": [1, "two"]}
        session.send_json("bye")
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_json()
    assert info.value.code == 1001
    assert info.value.reason == "Going away"


def test_websocket_iter_text_until_disconnect(client: TestClient) -> None:
    TASK_LOG.clear()
    with client.websocket_connect("/ws/iter-text") as session:
        session.send_text("one")
        assert session.receive_text() == "ONE"
        session.send_text("two")
        assert session.receive_text() == "TWO"
    assert TASK_LOG == ["iter_text done"]


def test_websocket_scope_info(client: TestClient) -> None:
    with client.websocket_connect("/ws/info/lobby?q=search", subprotocols=["a", "b"]) as session:
        assert session.receive_json() == {
            "path_params": {"room": "lobby"},
            "query": "search",
            "url": "ws://testserver/ws/info/lobby?q=search",
            "subprotocols": ["a", "b"],
        }


def test_websocket_close_before_accept(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/ws/reject"):
        pass  # pragma: no cover
    assert info.value.code == 1008


def test_websocket_endpoint_classes(client: TestClient) -> None:
    DISCONNECT_CODES.clear()
    with client.websocket_connect("/ws/chat") as session:
        assert session.receive_text() == "welcome"
        session.send_text("Hello")
        assert session.receive_text() == "Message text was: Hello"
        session.close(code=1001)
    assert DISCONNECT_CODES == [1001]

    with client.websocket_connect("/ws/json-chat") as session:
        session.send_json({"hello": "world"})
        assert session.receive_json() == {"message": {"hello": "world"}}
        # JSON also arrives in binary frames.
        session.send_json({"binary": True}, mode="binary")
        assert session.receive_json() == {"message": {"binary": True}}

    with client.websocket_connect("/ws/bytes-chat") as session:
        session.send_bytes(b"Hello")
        assert session.receive_bytes() == b"Message bytes was: Hello"


def test_websocket_endpoint_wrong_encoding(client: TestClient) -> None:
    # Starlette closes with 1003 and raises RuntimeError, which the client re-raises.
    def send_bytes_to_text_chat() -> None:
        with client.websocket_connect("/ws/chat") as session:
            assert session.receive_text() == "welcome"
            session.send_bytes(b"not text")
            session.receive_text()

    def send_bad_json() -> None:
        with client.websocket_connect("/ws/json-chat") as session:
            session.send_text("{not json")
            session.receive_json()

    with pytest.raises(RuntimeError, match="Expected text websocket messages, but got bytes"):
        send_bytes_to_text_chat()
    with pytest.raises(RuntimeError, match=r"Malformed JSON data received\."):
        send_bad_json()


# --- lifespan, ported as the docs show it ----------------------------------------------


def test_lifespan_state_as_documented(test_client_factory: TestClientFactory) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Stellate) -> AsyncIterator[dict[str, Any]]:
        yield {"http_client": "client-object"}

    async def index(request: Request) -> Response:
        return PlainTextResponse(request.state.http_client)

    app = Stellate(routes=[Route("/", index)], lifespan=lifespan)
    with test_client_factory(app) as client:
        assert client.get("/").text == "client-object"


# --- bad input ------------------------------------------------------------------------


def test_malformed_multipart_is_a_400(client: TestClient) -> None:
    response = client.post(
        "/form", content=b"--x\r\n", headers={"content-type": "multipart/form-data"}
    )
    assert response.status_code == 400
    assert response.text == "Missing boundary in multipart."

    body = (
        b"--boundary\r\nContent-Type: text/plain\r\n\r\nno content-disposition\r\n--boundary--\r\n"
    )
    response = client.post(
        "/form", content=body, headers={"content-type": "multipart/form-data; boundary=boundary"}
    )
    assert response.status_code == 400


def test_malformed_cookies_are_ignored(client: TestClient) -> None:
    response = client.get("/request", headers={"cookie": 'good=1; ;; bad"; =; also=2; "x'})
    assert response.status_code == 200
    cookies = response.json()["cookies"]
    assert cookies["good"] == "1"
    assert cookies["also"] == "2"


def test_unknown_http_method_is_a_405(client: TestClient) -> None:
    response = client.request("FROBNICATE", "/plain")
    assert response.status_code == 405
    assert response.text == "Method Not Allowed"
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "HEAD"}

    response = client.request("FROBNICATE", "/notes")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_huge_path(client: TestClient) -> None:
    # httpx refuses URLs over 64 KiB; a raw ASGI call below goes further.
    response = client.get("/" + "a" * 60_000)
    assert response.status_code == 404
    assert response.text == "Not Found"

    long_name = "b" * 50_000
    response = client.get(f"/str/{long_name}")
    assert response.status_code == 200
    assert response.json() == {"value": repr(long_name)}

    response = client.get("/path/" + "/".join(["seg"] * 5_000))
    assert response.status_code == 200


def test_percent_encoded_paths(client: TestClient) -> None:
    response = client.get("/str/hello%20world")
    assert response.json() == {"value": "'hello world'"}

    response = client.get("/str/caf%C3%A9")
    assert response.json() == {"value": "'café'"}

    response = client.get("/request%3F")
    assert response.status_code == 404

    response = client.get("/pl%61in")
    assert response.status_code == 200
    assert response.text == "Hello, world!"


def test_invalid_json_body(test_client_factory: TestClientFactory) -> None:
    app = make_app()
    with test_client_factory(app) as client, pytest.raises(json.JSONDecodeError):
        client.post("/invalid-json", content=b"{not json")

    with test_client_factory(app, raise_server_exceptions=False) as client:
        response = client.post("/invalid-json", content=b"{not json")
        assert response.status_code == 500
        assert response.text == "Internal Server Error"


def test_sub_router_app_ported_unchanged(test_client_factory: TestClientFactory) -> None:
    # Starlette's docs: a Router can be mounted, and a plain ASGI app can be mounted.
    async def raw_asgi(scope: Scope, receive: Receive, send: Send) -> None:
        response = PlainTextResponse(f"raw {scope['root_path']} {scope['path']}")
        await response(scope, receive, send)

    app = Stellate(
        routes=[
            Mount("/router", app=Router(routes=[Route("/x", plain)])),
            Mount("/raw", app=raw_asgi),
        ]
    )
    client = test_client_factory(app)
    assert client.get("/router/x").text == "Hello, world!"
    assert client.get("/raw/y").text == "raw /raw /raw/y"


@pytest.mark.anyio
async def test_huge_path_raw_asgi() -> None:
    app = make_app()
    for path in ("/" + "a" * 2_000_000, "/str/x/" + "b" * 2_000_000, "/" + "/" * 100_000):
        status, body = await call_asgi(app, path)
        assert status == 404
        assert body == b"Not Found"
    status, body = await call_asgi(app, "/path/" + "c" * 2_000_000)
    assert status == 200
    assert len(body) > 2_000_000


def test_huge_integer_path_parameter_is_not_a_500(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(make_app(), raise_server_exceptions=False)
    response = client.get("/int/" + "1" * 5_000)
    assert 400 <= response.status_code < 500


@pytest.mark.anyio
async def test_raw_path_with_encoded_slash() -> None:
    # A server passes the decoded path; `%2F` decodes to "/" and routes as a separator.
    app = make_app()
    status, body = await call_asgi(app, "/path/a/b", raw_path=b"/path/a%2Fb")
    assert status == 200
    assert json.loads(body) == {"value": "'a/b'"}


async def call_asgi(app: Stellate, path: str, raw_path: bytes | None = None) -> tuple[int, bytes]:
    """One GET through the raw ASGI interface: the status and the body."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode() if raw_path is None else raw_path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    assert messages[0]["type"] == "http.response.start"
    body = b"".join(message.get("body", b"") for message in messages[1:])
    return messages[0]["status"], body
