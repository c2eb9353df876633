"""Starlette-compatibility checks for `StaticFiles`, through the umbrella.

Each test pins a behaviour a ported Starlette application or test relies on: status
codes and bodies inside a `Stellate` app, exceptions raised by a bare `StaticFiles`,
configuration errors, and the names `stellate.staticfiles` exposes.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import anyio
import pytest

import stellate.staticfiles
from stellate.applications import Stellate
from stellate.exceptions import HTTPException
from stellate.middleware import Middleware
from stellate.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from stellate.requests import Request
from stellate.responses import FileResponse, Response
from stellate.routing import Mount, Route
from stellate.staticfiles import NotModifiedResponse, StaticFiles
from stellate.websockets import WebSocketDisconnect
from tests.conftest import TestClientFactory


@pytest.fixture
def statics(tmp_path: Path) -> Path:
    (tmp_path / "example.txt").write_text("<file content>")
    return tmp_path


def app_with(static: StaticFiles, path: str = "/") -> Stellate:
    return Stellate(routes=[Mount(path, app=static, name="static")])


def test_umbrella_names_are_the_parts() -> None:
    import stellate_staticfiles

    assert stellate.staticfiles.StaticFiles is stellate_staticfiles.StaticFiles
    assert stellate.staticfiles.NotModifiedResponse is stellate_staticfiles.NotModifiedResponse
    assert stellate.staticfiles.FileResponse is FileResponse
    assert issubclass(NotModifiedResponse, Response)


def test_bare_app_serves_files(statics: Path, test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(StaticFiles(directory=str(statics)))
    response = client.get("/example.txt")
    assert (response.status_code, response.text) == (200, "<file content>")


def test_errors_inside_an_application(
    statics: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(app_with(StaticFiles(directory=statics)))
    post = client.post("/example.txt")
    assert (post.status_code, post.text) == (405, "Method Not Allowed")
    assert post.headers["allow"] == "GET, HEAD"
    for path in ("/", "/404.txt", "/foo/example.txt", "/example.txt/foo"):
        response = client.get(path)
        assert (response.status_code, response.text) == (404, "Not Found"), path


def test_bare_app_raises_http_exception(
    statics: Path, test_client_factory: TestClientFactory
) -> None:
    app = StaticFiles(directory=statics)
    client = test_client_factory(app)
    assert not app.config_checked
    with pytest.raises(HTTPException) as exc_info:
        client.get("/")
    assert exc_info.value.status_code == 404
    assert app.config_checked


def test_head_through_base_http_middleware(
    statics: Path, test_client_factory: TestClientFactory
) -> None:
    (statics / "big.txt").write_text("x" * 100)

    async def passthrough(request: Request, call_next: RequestResponseEndpoint) -> Response:
        return await call_next(request)

    app = Stellate(
        routes=[Mount("/static", app=StaticFiles(directory=statics), name="static")],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=passthrough)],
    )
    response = test_client_factory(app).head("/static/big.txt")
    assert response.status_code == 200
    assert response.headers["content-length"] == "100"
    assert response.content == b""


def test_configuration_errors(tmp_path: Path, test_client_factory: TestClientFactory) -> None:
    missing = os.path.join(tmp_path, "no_such_directory")
    with pytest.raises(RuntimeError, match="does not exist"):
        StaticFiles(directory=missing)
    with pytest.raises(RuntimeError, match="does not exist"):
        test_client_factory(StaticFiles(directory=missing, check_dir=False)).get("/example.txt")
    file = tmp_path / "example.txt"
    file.write_text("x")
    with pytest.raises(RuntimeError, match="is not a directory"):
        test_client_factory(StaticFiles(directory=file, check_dir=False)).get("/example.txt")


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = "stellate_compat_statics"
    package_dir = tmp_path / name
    (package_dir / "statics").mkdir(parents=True)
    (package_dir / "__init__.py").write_text("")
    (package_dir / "statics" / "example.txt").write_text("123\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_packages(package: str, test_client_factory: TestClientFactory) -> None:
    choices: list[list[str | tuple[str, str]]] = [[package], [(package, "statics")]]
    for packages in choices:
        client = test_client_factory(StaticFiles(packages=packages))
        response = client.get("/example.txt")
        assert (response.status_code, response.text) == (200, "123\n")
    with pytest.raises(AssertionError, match="could not be found"):
        StaticFiles(packages=[(package, "missing")])


def test_traversal_is_refused_at_get_response(tmp_path: Path) -> None:
    directory = tmp_path / "foo"
    directory.mkdir()
    (tmp_path / "example.txt").write_text("outside root dir")
    app = StaticFiles(directory=directory)
    path = app.get_path({"path": "/../example.txt"})
    with pytest.raises(HTTPException) as exc_info:
        anyio.run(app.get_response, path, {"method": "GET"})
    assert (exc_info.value.status_code, exc_info.value.detail) == (404, "Not Found")


def test_conditional_requests(statics: Path, test_client_factory: TestClientFactory) -> None:
    path = statics / "example.txt"
    stamp = time.mktime(time.strptime("2013-10-10 23:40:00", "%Y-%m-%d %H:%M:%S"))
    os.utime(path, (stamp, stamp))
    client = test_client_factory(StaticFiles(directory=statics))
    etag = client.get("/example.txt").headers["etag"]
    for value in (etag, f'W/{etag}, "123"', "*"):
        response = client.get("/example.txt", headers={"if-none-match": value})
        assert (response.status_code, response.content) == (304, b"")
    assert client.get("/example.txt", headers={"if-none-match": '"123"'}).status_code == 200
    since = {"If-Modified-Since": "Thu, 11 Oct 2013 15:30:19 GMT"}
    assert client.get("/example.txt", headers=since).status_code == 304
    since = {"If-Modified-Since": "Thu, 20 Feb 2012 15:30:19 GMT"}
    assert client.get("/example.txt", headers=since).text == "<file content>"


def test_html_mode(tmp_path: Path, test_client_factory: TestClientFactory) -> None:
    (tmp_path / "404.html").write_text("<h1>Custom not found page</h1>")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "index.html").write_text("<h1>Hello</h1>")
    client = test_client_factory(StaticFiles(directory=tmp_path, html=True))
    for path in ("/dir/", "/dir"):
        response = client.get(path)
        assert (str(response.url), response.text) == ("http://testserver/dir/", "<h1>Hello</h1>")
    response = client.get("/missing")
    assert (response.status_code, response.text) == (404, "<h1>Custom not found page</h1>")


def test_lookup_path_is_patchable_through_the_umbrella(
    statics: Path, monkeypatch: pytest.MonkeyPatch, test_client_factory: TestClientFactory
) -> None:
    def time_out(*args: Any, **kwargs: Any) -> None:
        raise TimeoutError

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise PermissionError

    client = test_client_factory(
        app_with(StaticFiles(directory=statics)), raise_server_exceptions=False
    )
    monkeypatch.setattr("stellate.staticfiles.StaticFiles.lookup_path", time_out)
    response = client.get("/example.txt")
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    monkeypatch.setattr("stellate.staticfiles.StaticFiles.lookup_path", refuse)
    response = client.get("/example.txt")
    assert (response.status_code, response.text) == (401, "Unauthorized")


def test_long_names_and_null_bytes(statics: Path, test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(app_with(StaticFiles(directory=statics)))
    assert client.get("/example%00.txt").status_code == 404
    response = client.get(f"/{'a' * 4096}.txt")
    assert (response.status_code, response.text) == (404, "Not Found")


def test_symlinks(tmp_path: Path, test_client_factory: TestClientFactory) -> None:
    statics = tmp_path / "statics"
    source = tmp_path / "source"
    statics.mkdir()
    source.mkdir()
    (source / "page.html").write_text("<h1>Hello</h1>")
    (statics / "index.html").symlink_to(source / "page.html")
    (statics / "html").symlink_to(source)
    client = test_client_factory(StaticFiles(directory=statics, follow_symlink=True))
    assert client.get("/index.html").text == "<h1>Hello</h1>"
    assert client.get("/html/page.html").text == "<h1>Hello</h1>"
    client = test_client_factory(app_with(StaticFiles(directory=statics)))
    assert client.get("/index.html").status_code == 404


def test_websocket_is_rejected(statics: Path, test_client_factory: TestClientFactory) -> None:
    async def homepage(request: Request) -> Response:
        return Response("home")  # pragma: no cover

    app = Stellate(
        routes=[Route("/home", homepage), Mount("/", app=StaticFiles(directory=statics))]
    )
    client = test_client_factory(app)
    for path in ("/example.txt", "/missing", "/"):
        with pytest.raises(WebSocketDisconnect) as exc_info, client.websocket_connect(path):
            pass  # pragma: no cover
        assert exc_info.value.code == 1000


def test_patching_anyio_through_the_staticfiles_module_reaches_the_lookups(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    (tmp_path / "page.txt").write_bytes(b"static")
    called: list[str] = []

    async def inline(func: Any, *args: Any, **kwargs: Any) -> Any:
        called.append(getattr(func, "__name__", repr(func)))
        return func(*args)

    client = test_client_factory(StaticFiles(directory=tmp_path))
    with mock.patch("stellate.staticfiles.anyio.to_thread.run_sync", inline):
        assert client.get("/page.txt").content == b"static"
    assert called
