from __future__ import annotations

import errno
import gzip
import os
import sys
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import anyio
import pytest

from stellate_asgi.datastructures import Headers
from stellate_asgi.exceptions import HTTPException, WebSocketDisconnect
from stellate_asgi.types import ASGIApp, Message, Scope
from stellate_middleware.exceptions import ExceptionMiddleware
from stellate_middleware.gzip import GZipMiddleware
from stellate_routing import Mount, Router
from stellate_staticfiles import NotModifiedResponse, StaticFiles
from tests.conftest import TestClientFactory

TEXT = "<file content>"


# --- helpers --------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A served tree: `example.txt`, `dir/nested/deep.txt`, and `secret.txt` next to it."""
    served = tmp_path / "root"
    (served / "dir" / "nested").mkdir(parents=True)
    (served / "example.txt").write_text(TEXT)
    (served / "dir" / "nested" / "deep.txt").write_text("deep")
    (tmp_path / "secret.txt").write_text("secret")
    return served


def mounted(app: ASGIApp, path: str = "/static") -> ASGIApp:
    """`app` mounted in a `Router`, with HTTP errors answered as Stellate apps do."""
    return ExceptionMiddleware(Router(routes=[Mount(path, app=app, name="static")]))


async def call(
    app: ASGIApp,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    root_path: str = "",
    extensions: dict[str, Any] | None = None,
) -> tuple[int, Headers, bytes, list[Message]]:
    """One raw ASGI request (any path, bytes included): status, headers, body, messages."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("testclient", 50000),
        "path": path,
        "raw_path": path.encode("utf-8", "surrogatepass"),
        "root_path": root_path,
        "query_string": b"",
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in (headers or {}).items()
        ],
        "extensions": extensions or {},
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    with anyio.fail_after(10):
        await app(scope, receive, send)
    start = sent[0]
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return start["status"], Headers(raw=start["headers"]), body, sent


async def status_of(app: StaticFiles, path: str, **kwargs: Any) -> int:
    """The status a bare `StaticFiles` answers, counting a raised `HTTPException`."""
    try:
        status, _, _, _ = await call(app, path, **kwargs)
    except HTTPException as exc:
        return exc.status_code
    return status


def set_mtime(path: Path, when: float) -> None:
    os.utime(path, (when, when))


# --- serving files ----------------------------------------------------------------------


def test_serves_a_file(root: Path, test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(StaticFiles(directory=root))
    response = client.get("/example.txt")
    assert response.status_code == 200
    assert response.text == TEXT
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == str(len(TEXT))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    stat_result = (root / "example.txt").stat()
    assert response.headers["last-modified"] == formatdate(stat_result.st_mtime, usegmt=True)
    assert "vary" not in response.headers


def test_directory_as_string_and_nested_files(
    root: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=str(root)))
    assert client.get("/dir/nested/deep.txt").text == "deep"
    assert client.get("/dir/./nested/../nested/deep.txt").text == "deep"


def test_head_sends_headers_only(root: Path, test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(StaticFiles(directory=root))
    response = client.head("/example.txt")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(TEXT))


def test_mounted_in_a_router(root: Path, test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(mounted(StaticFiles(directory=root)))
    assert client.get("/static/example.txt").text == TEXT
    assert client.get("/static/dir/nested/deep.txt").text == "deep"
    missing = client.get("/static/missing.txt")
    assert (missing.status_code, missing.text) == (404, "Not Found")


def test_missing_file_raises_404_from_a_bare_app(
    root: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=root))
    with pytest.raises(HTTPException) as exc_info:
        client.get("/missing.txt")
    assert exc_info.value.status_code == 404
    assert exc_info.value.detail == "Not Found"


@pytest.mark.parametrize("path", ["/static/", "/static/dir", "/static/example.txt/foo"])
def test_directories_and_files_used_as_directories_are_404(
    root: Path, path: str, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(mounted(StaticFiles(directory=root)))
    response = client.get(path)
    assert (response.status_code, response.text) == (404, "Not Found")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405(
    root: Path, method: str, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(mounted(StaticFiles(directory=root)))
    response = client.request(method, "/static/example.txt")
    assert response.status_code == 405
    assert response.text == "Method Not Allowed"
    assert response.headers["allow"] == "GET, HEAD"


def test_405_is_raised_with_the_allow_header(root: Path) -> None:
    app = StaticFiles(directory=root)
    with pytest.raises(HTTPException) as exc_info:
        anyio.run(app.get_response, "example.txt", {"method": "POST"})
    assert exc_info.value.status_code == 405
    assert exc_info.value.headers == {"Allow": "GET, HEAD"}


@pytest.mark.anyio
async def test_lifespan_and_other_scopes_are_refused(root: Path) -> None:
    app = StaticFiles(directory=root)

    async def receive() -> Message:
        raise AssertionError("not called")  # pragma: no cover

    async def send(message: Message) -> None:
        raise AssertionError("not called")  # pragma: no cover

    with pytest.raises(AssertionError, match="cannot serve a 'lifespan' scope"):
        await app({"type": "lifespan"}, receive, send)


# --- websockets -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/example.txt", "/missing.txt", "/dir"])
def test_websockets_are_closed(
    root: Path, path: str, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=root))
    with pytest.raises(WebSocketDisconnect) as exc_info, client.websocket_connect(path):
        pass  # pragma: no cover
    assert exc_info.value.code == 1000


def test_websockets_are_closed_when_mounted(
    root: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(mounted(StaticFiles(directory=root)))
    with (
        pytest.raises(WebSocketDisconnect) as exc_info,
        client.websocket_connect("/static/example.txt"),
    ):
        pass  # pragma: no cover
    assert exc_info.value.code == 1000


def test_websockets_are_closed_before_the_configuration_check(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    app = StaticFiles(directory=tmp_path / "missing", check_dir=False)
    client = test_client_factory(app)
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/example.txt"):
        pass  # pragma: no cover
    assert not app.config_checked


# --- configuration ----------------------------------------------------------------------


def test_missing_directory_is_refused_when_built(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(RuntimeError, match=r"^Directory '.*missing' does not exist$"):
        StaticFiles(directory=missing)


def test_missing_directory_is_reported_on_the_first_request(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    missing = tmp_path / "missing"
    client = test_client_factory(StaticFiles(directory=missing, check_dir=False))
    with pytest.raises(RuntimeError) as exc_info:
        client.get("/example.txt")
    assert str(exc_info.value) == f"StaticFiles directory '{missing}' does not exist."


def test_file_instead_of_directory_is_reported(
    root: Path, test_client_factory: TestClientFactory
) -> None:
    file = root / "example.txt"
    client = test_client_factory(StaticFiles(directory=file, check_dir=False))
    with pytest.raises(RuntimeError) as exc_info:
        client.get("/example.txt")
    assert str(exc_info.value) == f"StaticFiles path '{file}' is not a directory."


def test_configuration_is_checked_once(root: Path, test_client_factory: TestClientFactory) -> None:
    checks: list[str] = []

    class CountingStaticFiles(StaticFiles):
        async def check_config(self) -> None:
            checks.append("check")
            await super().check_config()

    app = CountingStaticFiles(directory=root)
    client = test_client_factory(app)
    assert client.get("/example.txt").status_code == 200
    assert client.get("/example.txt").status_code == 200
    with pytest.raises(HTTPException):
        client.get("/missing.txt")
    assert checks == ["check"]
    assert app.config_checked


def test_no_directory_at_all_serves_nothing(test_client_factory: TestClientFactory) -> None:
    app = StaticFiles()
    assert app.all_directories == []
    with pytest.raises(HTTPException) as exc_info:
        test_client_factory(app).get("/example.txt")
    assert exc_info.value.status_code == 404


# --- packages ---------------------------------------------------------------------------


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A package importable as `stellate_test_assets`, with `statics/` and `custom/`."""
    name = "stellate_test_assets"
    package_dir = tmp_path / "site" / name
    (package_dir / "statics").mkdir(parents=True)
    (package_dir / "custom").mkdir()
    (package_dir / "__init__.py").write_text("")
    (package_dir / "statics" / "example.txt").write_text("from statics")
    (package_dir / "custom" / "example.txt").write_text("from custom")
    (package_dir / "custom" / "only.txt").write_text("only in custom")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield name
    sys.modules.pop(name, None)


def test_package_statics_folder(package: str, test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(StaticFiles(packages=[package]))
    assert client.get("/example.txt").text == "from statics"


def test_package_with_a_named_folder(package: str, test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(StaticFiles(packages=[(package, "custom")]))
    assert client.get("/example.txt").text == "from custom"


def test_directories_are_searched_in_order(
    root: Path, package: str, test_client_factory: TestClientFactory
) -> None:
    app = StaticFiles(directory=root, packages=[package, (package, "custom")])
    assert len(app.all_directories) == 3
    client = test_client_factory(app)
    assert client.get("/example.txt").text == TEXT
    assert client.get("/only.txt").text == "only in custom"


def test_missing_package_is_refused(package: str) -> None:
    with pytest.raises(AssertionError) as exc_info:
        StaticFiles(packages=["stellate_no_such_package"])
    assert str(exc_info.value) == "Package 'stellate_no_such_package' could not be found."
    with pytest.raises(AssertionError, match="could not be found"):
        StaticFiles(packages=["stellate_no_such_package.sub"])


def test_missing_package_folder_is_refused(package: str) -> None:
    with pytest.raises(AssertionError) as exc_info:
        StaticFiles(packages=[(package, "nothing")])
    assert str(exc_info.value) == (
        f"Directory ''nothing'' in package '{package}' could not be found."
    )


# --- HTML mode --------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """An HTML tree: `index.html`, `dir/index.html`, `empty/`, `page.html`, `404.html`."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "index.html").write_text("<h1>Home</h1>")
    (tmp_path / "dir" / "index.html").write_text("<h1>Dir</h1>")
    (tmp_path / "page.html").write_text("<h1>Page</h1>")
    (tmp_path / "404.html").write_text("<h1>Custom not found</h1>")
    return tmp_path


def test_html_index_pages(site: Path, test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(StaticFiles(directory=site, html=True))
    response = client.get("/")
    assert (response.status_code, response.text) == (200, "<h1>Home</h1>")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    response = client.get("/dir/")
    assert (response.status_code, response.text) == (200, "<h1>Dir</h1>")
    response = client.get("/dir/index.html")
    assert (response.url.path, response.text) == ("/dir/index.html", "<h1>Dir</h1>")


def test_html_directory_without_slash_redirects(
    site: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=site, html=True))
    response = client.get("/dir?x=1", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/dir/?x=1"
    response = client.get("/dir")
    assert (str(response.url), response.text) == ("http://testserver/dir/", "<h1>Dir</h1>")


def test_html_redirect_keeps_the_mount_point(
    site: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(mounted(StaticFiles(directory=site, html=True)))
    response = client.get("/static/dir", follow_redirects=False)
    assert response.headers["location"] == "http://testserver/static/dir/"
    assert client.get("/static/dir").text == "<h1>Dir</h1>"


@pytest.mark.parametrize("path", ["/missing", "/empty/", "/empty", "/dir/missing.html"])
def test_html_misses_serve_404_html(
    site: Path, path: str, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=site, html=True))
    response = client.get(path)
    assert response.status_code == 404
    assert response.text == "<h1>Custom not found</h1>"
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_html_without_404_html_raises(site: Path, test_client_factory: TestClientFactory) -> None:
    (site / "404.html").unlink()
    (site / "index.html").unlink()
    client = test_client_factory(StaticFiles(directory=site, html=True))
    for path in ("/missing", "/"):
        with pytest.raises(HTTPException) as exc_info:
            client.get(path)
        assert exc_info.value.status_code == 404
    assert client.get("/page.html").text == "<h1>Page</h1>"


def test_html_mode_off_ignores_index_and_404(
    site: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(mounted(StaticFiles(directory=site)))
    assert client.get("/static/dir/").text == "Not Found"
    assert client.get("/static/missing").text == "Not Found"


def test_404_page_for_a_deleted_file_ignores_validators(
    site: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=site, html=True))
    first = client.get("/page.html")
    (site / "page.html").unlink()
    response = client.get(
        "/page.html", headers={"if-modified-since": first.headers["last-modified"]}
    )
    assert (response.status_code, response.text) == (404, "<h1>Custom not found</h1>")


# --- conditional requests ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "{etag}",
        "W/{etag}",
        ' "nope", {etag} ',
        '"nope",W/{etag}',
        "*",
        '"nope", *',
    ],
)
def test_if_none_match_gives_304(
    root: Path, value: str, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=root))
    etag = client.get("/example.txt").headers["etag"]
    response = client.get("/example.txt", headers={"if-none-match": value.format(etag=etag)})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert "content-length" not in response.headers
    assert "last-modified" not in response.headers


def test_if_none_match_mismatch_gives_200_and_overrides_if_modified_since(
    root: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=root))
    first = client.get("/example.txt")
    response = client.get(
        "/example.txt",
        headers={"if-none-match": '"nope"', "if-modified-since": first.headers["last-modified"]},
    )
    assert (response.status_code, response.text) == (200, TEXT)


def test_if_modified_since(root: Path, test_client_factory: TestClientFactory) -> None:
    set_mtime(root / "example.txt", time.mktime((2013, 10, 10, 23, 40, 0, 0, 0, -1)))
    client = test_client_factory(StaticFiles(directory=root))
    later = client.get(
        "/example.txt", headers={"if-modified-since": "Fri, 11 Oct 2013 15:30:19 GMT"}
    )
    assert (later.status_code, later.content) == (304, b"")
    earlier = client.get(
        "/example.txt", headers={"if-modified-since": "Mon, 20 Feb 2012 15:30:19 GMT"}
    )
    assert (earlier.status_code, earlier.text) == (200, TEXT)


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "",
        "Mon, 99 Foo 2012 99:99:99 GMT",
        "Mon, 20 Feb 99999999999999999999 00:00:00 GMT",
        "1" * 5000,
    ],
)
def test_unreadable_if_modified_since_is_ignored(
    root: Path, value: str, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=root))
    response = client.get("/example.txt", headers={"if-modified-since": value})
    assert (response.status_code, response.text) == (200, TEXT)


def test_is_not_modified_directly(root: Path) -> None:
    app = StaticFiles(directory=root)
    response_headers = Headers({"etag": '"abc"', "last-modified": "Thu, 10 Oct 2013 10:00:00 GMT"})
    assert app.is_not_modified(response_headers, Headers({"if-none-match": 'W/"abc"'}))
    assert not app.is_not_modified(response_headers, Headers({"if-none-match": '"abd"'}))
    assert app.is_not_modified(
        response_headers, Headers({"if-modified-since": "Thu, 10 Oct 2013 12:00:00 +0200"})
    )
    assert not app.is_not_modified(
        response_headers, Headers({"if-modified-since": "Thu, 10 Oct 2013 11:00:00 +0200"})
    )
    assert not app.is_not_modified(response_headers, Headers({}))


def test_not_modified_response_keeps_only_cache_headers() -> None:
    headers = Headers(
        {
            "etag": '"abc"',
            "cache-control": "max-age=60",
            "vary": "Accept-Encoding",
            "content-length": "14",
            "content-type": "text/plain",
            "last-modified": "Thu, 10 Oct 2013 10:00:00 GMT",
        }
    )
    response = NotModifiedResponse(headers)
    assert response.status_code == 304
    assert response.body == b""
    assert dict(response.headers) == {
        "etag": '"abc"',
        "cache-control": "max-age=60",
        "vary": "Accept-Encoding",
    }


# --- ranges ------------------------------------------------------------------------------


def test_ranges_go_through_file_response(
    root: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=root))
    single = client.get("/example.txt", headers={"range": "bytes=1-4"})
    assert (single.status_code, single.text) == (206, "file")
    assert single.headers["content-range"] == f"bytes 1-4/{len(TEXT)}"
    multi = client.get("/example.txt", headers={"range": "bytes=0-0, 6-6"})
    assert multi.status_code == 206
    assert multi.headers["content-type"].startswith("multipart/byteranges; boundary=")
    unsatisfiable = client.get("/example.txt", headers={"range": "bytes=100-200"})
    assert unsatisfiable.status_code == 416


def test_thousands_of_ranges_are_answered_quickly(
    root: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=root))
    header = "bytes=" + ", ".join(f"{index}-{index}" for index in range(5000))
    started = time.monotonic()
    response = client.get("/example.txt", headers={"range": header})
    assert response.status_code < 500
    assert time.monotonic() - started < 5


# --- containment --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/dir/../../secret.txt",
        "/dir/nested/../../../secret.txt",
        "/..",
        "/../root/example.txt/../../secret.txt",
        "//etc/passwd",
        "/example.txt\x00",
        "/exam\x00ple.txt",
        "/..\\secret.txt",
        "/dir\\nested\\deep.txt",
        "/\\\\server\\share\\secret.txt",
        "/C:\\Windows\\win.ini",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/" + "a" * 300,
        "/" + "a" * 5000 + ".txt",
        "/" + "a/" * 3000 + "b",
        "/" + "a/" * 2000 + "b",
        "/\ud800.txt",
        "/dir/" + "../" * 50 + "secret.txt",
    ],
)
@pytest.mark.anyio
async def test_hostile_paths_are_404(root: Path, path: str) -> None:
    for app in (StaticFiles(directory=root), StaticFiles(directory=root, follow_symlink=True)):
        assert await status_of(app, path) == 404


@pytest.mark.parametrize("path", ["/../secret.txt", "/" + "a" * 300, "/x\\y"])
def test_hostile_paths_get_the_html_404_page(
    site: Path, path: str, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=site, html=True))
    response = client.get(path)
    assert (response.status_code, response.text) == (404, "<h1>Custom not found</h1>")


def test_traversal_through_get_path_and_get_response(root: Path) -> None:
    app = StaticFiles(directory=root)
    path = app.get_path({"path": "/../secret.txt"})
    assert path == os.path.join("..", "secret.txt")
    with pytest.raises(HTTPException) as exc_info:
        anyio.run(app.get_response, path, {"method": "GET"})
    assert exc_info.value.status_code == 404
    assert exc_info.value.detail == "Not Found"


def test_a_sibling_directory_sharing_the_prefix_is_outside(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static-evil").mkdir()
    (tmp_path / "static-evil" / "index.html").write_text("private")
    app = StaticFiles(directory=tmp_path / "static")
    for relative in ("../static-evil/index.html", os.path.join("..", "static-evil", "index.html")):
        assert app.lookup_path(relative) == ("", None)


@pytest.mark.parametrize(
    "path",
    ["../secret.txt", "/etc/passwd", "a\x00b", "..", "dir/../../secret.txt", "x" * 5000],
)
def test_lookup_path_refuses_paths_leaving_the_root(root: Path, path: str) -> None:
    assert StaticFiles(directory=root).lookup_path(path) == ("", None)


def test_lookup_path_resolves_as_realpath_does(tmp_path: Path) -> None:
    # `lookup_path` resolves a path without symlinks itself; every path must still get
    # what `realpath`, a containment check and `stat` give, links or not.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.txt").write_text("outside")
    statics = tmp_path / "statics"
    (statics / "sub" / "deeper").mkdir(parents=True)
    (statics / "a.txt").write_text("a")
    (statics / "sub" / "b.txt").write_text("bb")
    (statics / "sub" / "deeper" / "c.txt").write_text("ccc")
    (statics / "link-in.txt").symlink_to(statics / "a.txt")
    (statics / "dir-in").symlink_to(statics / "sub")
    (statics / "link-out.txt").symlink_to(outside / "x.txt")
    (statics / "dir-out").symlink_to(outside)
    (statics / "dangling").symlink_to(statics / "missing")
    (statics / "loop").symlink_to(statics / "loop")
    (tmp_path / "root-link").symlink_to(statics)

    def by_realpath(directory: Path, path: str) -> tuple[str, tuple[int, ...] | None]:
        full_path = os.path.realpath(os.path.join(directory, path))
        root = os.path.realpath(directory)
        if os.path.commonpath([full_path, root]) != root:
            return "", None
        try:
            found = os.stat(full_path)
        except OSError:
            return "", None
        return full_path, (found.st_dev, found.st_ino, found.st_mode, found.st_size)

    paths = [
        *("a.txt", "sub", "sub/b.txt", "sub/deeper/c.txt", "sub/deeper", "missing"),
        *("sub/missing.txt", "a.txt/x", "link-in.txt", "dir-in/b.txt", "dir-in/deeper/c.txt"),
        *("link-out.txt", "dir-out/x.txt", "dangling", "loop", ".", "sub/./b.txt"),
        *("sub//b.txt", "sub/", ""),
    ]
    for directory in (statics, tmp_path / "root-link"):
        app = StaticFiles(directory=directory)
        for path in paths:
            full_path, found = app.lookup_path(path)
            summary = (
                None
                if found is None
                else (found.st_dev, found.st_ino, found.st_mode, found.st_size)
            )
            assert (full_path, summary) == by_realpath(directory, path), (directory, path)


def test_lookup_path_finds_files(root: Path) -> None:
    full_path, stat_result = StaticFiles(directory=root).lookup_path("dir/nested/deep.txt")
    assert full_path == os.path.realpath(root / "dir" / "nested" / "deep.txt")
    assert stat_result is not None
    assert stat_result.st_size == 4


@pytest.mark.skipif(os.sep == "\\", reason="a backslash is a separator on Windows")
@pytest.mark.anyio
async def test_backslashes_are_refused_even_in_real_names(root: Path) -> None:
    (root / "a\\b.txt").write_text("backslash")
    (root / "dir" / "nested" / "..\\x").write_text("dots")
    app = StaticFiles(directory=root)
    assert await status_of(app, "/a\\b.txt") == 404
    assert await status_of(app, "/dir/nested/..\\x") == 404


def test_encoded_separators_are_names_not_separators(
    root: Path, test_client_factory: TestClientFactory
) -> None:
    # A double-encoded "/" reaches the app as the three characters "%2F": a file name.
    (root / "a%2Fb.txt").write_text("literal")
    client = test_client_factory(mounted(StaticFiles(directory=root)))
    assert client.get("/static/a%252Fb.txt").text == "literal"
    assert client.get("/static/dir%2Fnested%2Fdeep.txt").text == "deep"


def test_null_byte_through_the_client(root: Path, test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(mounted(StaticFiles(directory=root)))
    assert client.get("/static/example%00.txt").status_code == 404


def test_filename_too_long_through_the_client(
    root: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(mounted(StaticFiles(directory=root)))
    for name in ("a" * 300, "a" * 4096 + ".txt"):
        response = client.get(f"/static/{name}")
        assert (response.status_code, response.text) == (404, "Not Found")


# --- symlinks ------------------------------------------------------------------------------


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    """`statics/` with links to a file and a directory outside it, and one inside it."""
    statics = tmp_path / "statics"
    outside = tmp_path / "outside"
    statics.mkdir()
    outside.mkdir()
    (outside / "page.html").write_text("<h1>Outside</h1>")
    (statics / "real.txt").write_text("real")
    (statics / "file-link.html").symlink_to(outside / "page.html")
    (statics / "dir-link").symlink_to(outside)
    (statics / "inner-link.txt").symlink_to(statics / "real.txt")
    (statics / "loop").symlink_to(statics / "loop")
    return statics


@pytest.mark.parametrize("path", ["/file-link.html", "/dir-link/page.html"])
def test_symlinks_leaving_the_root_are_404(
    linked: Path, path: str, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(mounted(StaticFiles(directory=linked)))
    response = client.get("/static" + path)
    assert (response.status_code, response.text) == (404, "Not Found")


@pytest.mark.parametrize("path", ["/file-link.html", "/dir-link/page.html"])
def test_follow_symlink_serves_links_leaving_the_root(
    linked: Path, path: str, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=linked, follow_symlink=True))
    assert client.get(path).text == "<h1>Outside</h1>"


def test_symlinks_inside_the_root_are_served(
    linked: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(StaticFiles(directory=linked))
    assert client.get("/inner-link.txt").text == "real"


def test_symlink_loops_are_404(linked: Path, test_client_factory: TestClientFactory) -> None:
    for follow_symlink in (False, True):
        client = test_client_factory(
            mounted(StaticFiles(directory=linked, follow_symlink=follow_symlink))
        )
        assert client.get("/static/loop").status_code == 404
        assert client.get("/static/loop/x").status_code == 404


@pytest.mark.parametrize("follow_symlink", [False, True])
def test_a_symlinked_root_is_served(
    linked: Path, follow_symlink: bool, test_client_factory: TestClientFactory
) -> None:
    link = linked.parent / "statics-link"
    link.symlink_to(linked)
    client = test_client_factory(StaticFiles(directory=link, follow_symlink=follow_symlink))
    assert client.get("/real.txt").text == "real"


def test_follow_symlink_still_refuses_dot_dot(linked: Path) -> None:
    app = StaticFiles(directory=linked / "dir-link", follow_symlink=True)
    path = app.get_path({"path": "/../real.txt"})
    with pytest.raises(HTTPException) as exc_info:
        anyio.run(app.get_response, path, {"method": "GET"})
    assert exc_info.value.status_code == 404


# --- errors ---------------------------------------------------------------------------------


def test_permission_errors_are_401(
    root: Path, monkeypatch: pytest.MonkeyPatch, test_client_factory: TestClientFactory
) -> None:
    def refuse(self: StaticFiles, path: str) -> tuple[str, None]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(StaticFiles, "lookup_path", refuse)
    client = test_client_factory(mounted(StaticFiles(directory=root)))
    response = client.get("/static/example.txt")
    assert (response.status_code, response.text) == (401, "Unauthorized")


def test_unreadable_file_is_401(
    root: Path, monkeypatch: pytest.MonkeyPatch, test_client_factory: TestClientFactory
) -> None:
    # The file system refuses the stat (and lstat), as it does for a user without
    # permission (the tests may run as root, whom chmod does not stop).
    for name in ("stat", "lstat"):
        real = getattr(os, name)

        def refusing(path: Any, *args: Any, real: Any = real, **kwargs: Any) -> os.stat_result:
            if str(path).endswith("example.txt"):
                raise PermissionError(13, "Permission denied", str(path))
            result: os.stat_result = real(path, *args, **kwargs)
            return result

        monkeypatch.setattr(os, name, refusing)
    client = test_client_factory(mounted(StaticFiles(directory=root)))
    response = client.get("/static/example.txt")
    assert (response.status_code, response.text) == (401, "Unauthorized")


def test_value_errors_from_lookup_path_are_404(
    root: Path, monkeypatch: pytest.MonkeyPatch, test_client_factory: TestClientFactory
) -> None:
    def invalid(self: StaticFiles, path: str) -> tuple[str, None]:
        raise ValueError("embedded null byte")

    monkeypatch.setattr(StaticFiles, "lookup_path", invalid)
    client = test_client_factory(mounted(StaticFiles(directory=root)))
    assert client.get("/static/example.txt").status_code == 404


def test_name_too_long_from_lookup_path_is_404(
    root: Path, monkeypatch: pytest.MonkeyPatch, test_client_factory: TestClientFactory
) -> None:
    def too_long(self: StaticFiles, path: str) -> tuple[str, None]:
        raise OSError(errno.ENAMETOOLONG, "File name too long")

    monkeypatch.setattr(StaticFiles, "lookup_path", too_long)
    client = test_client_factory(mounted(StaticFiles(directory=root)))
    assert client.get("/static/example.txt").status_code == 404


def test_other_os_errors_propagate(
    root: Path, monkeypatch: pytest.MonkeyPatch, test_client_factory: TestClientFactory
) -> None:
    def time_out(self: StaticFiles, path: str) -> tuple[str, None]:
        raise TimeoutError

    monkeypatch.setattr(StaticFiles, "lookup_path", time_out)
    client = test_client_factory(mounted(StaticFiles(directory=root)))
    with pytest.raises(TimeoutError):
        client.get("/static/example.txt")


def test_other_os_errors_of_the_file_system_propagate(
    root: Path, monkeypatch: pytest.MonkeyPatch, test_client_factory: TestClientFactory
) -> None:
    for name in ("stat", "lstat"):
        real = getattr(os, name)

        def failing(path: Any, *args: Any, real: Any = real, **kwargs: Any) -> os.stat_result:
            if os.fspath(path).endswith("example.txt"):
                raise OSError(errno.EIO, "Input/output error")
            result: os.stat_result = real(path, *args, **kwargs)
            return result

        monkeypatch.setattr(os, name, failing)
    client = test_client_factory(mounted(StaticFiles(directory=root)))
    with pytest.raises(OSError, match="Input/output error"):
        client.get("/static/example.txt")


@pytest.mark.anyio
async def test_file_system_calls_stay_off_the_event_loop(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "example.txt.gz").write_bytes(gzip.compress(TEXT.encode()))
    (root / "index.html").write_text("home")
    loop_thread = threading.get_ident()
    calls: list[int] = []

    def spy(function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(threading.get_ident())
            return function(*args, **kwargs)

        return wrapper

    for name in ("stat", "lstat"):
        monkeypatch.setattr(os, name, spy(getattr(os, name)))
    monkeypatch.setattr(os.path, "realpath", spy(os.path.realpath))
    app = StaticFiles(directory=root, html=True, check_dir=False)
    for path in ("/example.txt", "/", "/missing"):
        await status_of(app, path, headers={"accept-encoding": "gzip"})
    assert calls
    assert loop_thread not in calls


# --- precompressed siblings --------------------------------------------------------------


@pytest.fixture
def compressed(tmp_path: Path) -> Path:
    """`app.js` with `.gz`, `.br` and `.zst` siblings (stand-in bytes for br and zstd)."""
    source = "console.log('hello');\n" * 20
    (tmp_path / "app.js").write_text(source)
    (tmp_path / "app.js.gz").write_bytes(gzip.compress(source.encode()))
    (tmp_path / "app.js.br").write_bytes(b"brotli bytes")
    (tmp_path / "app.js.zst").write_bytes(b"zstd bytes")
    (tmp_path / "plain.txt").write_text("plain")
    return tmp_path


@pytest.mark.parametrize(
    ("accept_encoding", "encoding"),
    [
        ("gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("gzip, deflate", "gzip"),
        ("br", "br"),
        ("zstd", "zstd"),
        ("gzip, br, zstd", "zstd"),
        ("gzip, br", "br"),
        ("gzip;q=1.0, br;q=0.5, zstd;q=0.4", "gzip"),
        ("GZIP;Q=0.9, BR;q=0.8", "gzip"),
        ("zstd;q=0, br;q=0, gzip", "gzip"),
        ("*", "zstd"),
        ("*;q=0.5, zstd;q=0.1", "br"),
        ("br;q=0.5, identity;q=0.3", "br"),
        ("gzip;q=1.5, br;q=abc, zstd;q=0.001", "zstd"),
    ],
)
@pytest.mark.anyio
async def test_precompressed_sibling_is_chosen(
    compressed: Path, accept_encoding: str, encoding: str
) -> None:
    suffix = {"gzip": ".gz", "br": ".br", "zstd": ".zst"}[encoding]
    app = StaticFiles(directory=compressed)
    status, headers, body, _ = await call(
        app, "/app.js", headers={"accept-encoding": accept_encoding}
    )
    assert status == 200
    assert body == (compressed / f"app.js{suffix}").read_bytes()
    assert headers["content-encoding"] == encoding
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert headers["content-length"] == str(len(body))
    assert headers["vary"] == "Accept-Encoding"


@pytest.mark.parametrize(
    "accept_encoding",
    [
        None,
        "",
        "deflate",
        "identity",
        "gzip;q=0, br;q=0, zstd;q=0",
        "*;q=0",
        "gzip;q=0.5, identity",
        "br;q=0.2, identity;q=0.3",
        ",,;q=1,",
    ],
)
@pytest.mark.anyio
async def test_identity_is_served_with_vary(compressed: Path, accept_encoding: str | None) -> None:
    app = StaticFiles(directory=compressed)
    headers_in = {} if accept_encoding is None else {"accept-encoding": accept_encoding}
    status, headers, body, _ = await call(app, "/app.js", headers=headers_in)
    assert status == 200
    assert body == (compressed / "app.js").read_bytes()
    assert "content-encoding" not in headers
    assert headers["vary"] == "Accept-Encoding"


def test_precompressed_through_the_client(
    compressed: Path, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(mounted(StaticFiles(directory=compressed)))
    response = client.get("/static/app.js", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    # httpx undoes the gzip coding: the client sees the original text.
    assert response.text == (compressed / "app.js").read_text()
    assert response.headers["vary"] == "Accept-Encoding"


@pytest.mark.anyio
async def test_files_without_siblings_have_no_vary(compressed: Path) -> None:
    app = StaticFiles(directory=compressed)
    _, headers, body, _ = await call(app, "/plain.txt", headers={"accept-encoding": "gzip"})
    assert body == b"plain"
    assert "vary" not in headers
    assert "content-encoding" not in headers


@pytest.mark.anyio
async def test_range_requests_get_the_file_as_named(compressed: Path) -> None:
    app = StaticFiles(directory=compressed)
    status, headers, body, _ = await call(
        app, "/app.js", headers={"accept-encoding": "gzip", "range": "bytes=0-6"}
    )
    assert (status, body) == (206, b"console")
    assert "content-encoding" not in headers
    assert headers["vary"] == "Accept-Encoding"


@pytest.mark.anyio
async def test_each_variant_has_its_own_validators(compressed: Path) -> None:
    app = StaticFiles(directory=compressed)
    _, identity, _, _ = await call(app, "/app.js", headers={"accept-encoding": "identity"})
    _, gzipped, _, _ = await call(app, "/app.js", headers={"accept-encoding": "gzip"})
    assert identity["etag"] != gzipped["etag"]

    status, headers, body, _ = await call(
        app, "/app.js", headers={"accept-encoding": "gzip", "if-none-match": gzipped["etag"]}
    )
    assert (status, body) == (304, b"")
    assert headers["etag"] == gzipped["etag"]
    assert headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in headers

    # The identity tag does not validate the gzip variant.
    status, headers, _, _ = await call(
        app, "/app.js", headers={"accept-encoding": "gzip", "if-none-match": identity["etag"]}
    )
    assert (status, headers["content-encoding"]) == (200, "gzip")


@pytest.mark.anyio
async def test_variant_of_a_binary_file(tmp_path: Path) -> None:
    (tmp_path / "data.bin").write_bytes(b"\x00" * 100)
    (tmp_path / "data.bin.gz").write_bytes(gzip.compress(b"\x00" * 100))
    app = StaticFiles(directory=tmp_path)
    _, headers, _, _ = await call(app, "/data.bin", headers={"accept-encoding": "gzip"})
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-encoding"] == "gzip"


@pytest.mark.anyio
async def test_head_of_a_variant(compressed: Path) -> None:
    app = StaticFiles(directory=compressed)
    status, headers, body, _ = await call(
        app, "/app.js", method="HEAD", headers={"accept-encoding": "br"}
    )
    assert (status, body) == (200, b"")
    assert headers["content-encoding"] == "br"
    assert headers["content-length"] == str(len(b"brotli bytes"))


@pytest.mark.anyio
async def test_stale_and_odd_siblings_are_ignored(compressed: Path) -> None:
    now = time.time()
    set_mtime(compressed / "app.js", now)
    set_mtime(compressed / "app.js.gz", now)  # as new as the file: fine
    set_mtime(compressed / "app.js.zst", now - 100)  # older than the file: stale
    (compressed / "app.js.br").unlink()
    (compressed / "app.js.br").mkdir()  # not a regular file
    app = StaticFiles(directory=compressed)
    _, headers, _, _ = await call(app, "/app.js", headers={"accept-encoding": "zstd, br, gzip"})
    assert headers["content-encoding"] == "gzip"


@pytest.mark.anyio
async def test_symlinked_siblings_need_follow_symlink(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "app.js").write_text("source")
    (tmp_path / "elsewhere.gz").write_bytes(gzip.compress(b"source"))
    (served / "app.js.gz").symlink_to(tmp_path / "elsewhere.gz")
    set_mtime(served / "app.js", time.time() - 100)

    _, headers, body, _ = await call(
        StaticFiles(directory=served), "/app.js", headers={"accept-encoding": "gzip"}
    )
    assert (body, "content-encoding" in headers, "vary" in headers) == (b"source", False, False)

    _, headers, _, _ = await call(
        StaticFiles(directory=served, follow_symlink=True),
        "/app.js",
        headers={"accept-encoding": "gzip"},
    )
    assert headers["content-encoding"] == "gzip"


@pytest.mark.anyio
async def test_precompressed_can_be_turned_off(compressed: Path) -> None:
    app = StaticFiles(directory=compressed)
    app.precompressed = ()
    _, headers, body, _ = await call(app, "/app.js", headers={"accept-encoding": "gzip"})
    assert body == (compressed / "app.js").read_bytes()
    assert "vary" not in headers


@pytest.mark.anyio
async def test_precompressed_index_in_html_mode(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>Home</h1>")
    (tmp_path / "index.html.gz").write_bytes(gzip.compress(b"<h1>Home</h1>"))
    app = StaticFiles(directory=tmp_path, html=True)
    _, headers, body, _ = await call(app, "/", headers={"accept-encoding": "gzip"})
    assert gzip.decompress(body) == b"<h1>Home</h1>"
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-encoding"] == "gzip"


@pytest.mark.anyio
async def test_vary_is_merged_with_one_set_by_file_response(compressed: Path) -> None:
    class CachingStaticFiles(StaticFiles):
        def file_response(self, *args: Any, **kwargs: Any) -> Any:
            response = super().file_response(*args, **kwargs)
            response.headers["cache-control"] = "max-age=60"
            response.headers["vary"] = "Origin, accept-encoding"
            return response

    app = CachingStaticFiles(directory=compressed)
    _, headers, _, _ = await call(app, "/app.js", headers={"accept-encoding": "gzip"})
    assert headers["cache-control"] == "max-age=60"
    assert headers["vary"] == "Origin, accept-encoding"
    assert headers["content-encoding"] == "gzip"


# --- pathsend --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_pathsend_is_used_when_offered(compressed: Path) -> None:
    real = Path(os.path.realpath(compressed))  # noqa: ASYNC240 (a test's setup)
    app = StaticFiles(directory=compressed)
    extensions: dict[str, Any] = {"http.response.pathsend": {}}
    status, _, _, sent = await call(app, "/plain.txt", extensions=extensions)
    assert status == 200
    assert sent[1] == {
        "type": "http.response.pathsend",
        "path": str(real / "plain.txt"),
    }
    _, headers, _, sent = await call(
        app, "/app.js", extensions=extensions, headers={"accept-encoding": "gzip"}
    )
    assert headers["content-encoding"] == "gzip"
    assert sent[1]["path"] == str(real / "app.js.gz")


@pytest.mark.anyio
async def test_variants_are_not_compressed_twice(compressed: Path) -> None:
    app = GZipMiddleware(StaticFiles(directory=compressed), minimum_size=10)
    _, headers, body, _ = await call(app, "/app.js", headers={"accept-encoding": "gzip"})
    assert headers["content-encoding"] == "gzip"
    assert body == (compressed / "app.js.gz").read_bytes()
