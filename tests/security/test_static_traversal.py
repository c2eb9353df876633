"""Path traversal against `StaticFiles`: nothing outside the served directory is served.

The attacks: `..` (plain and percent-encoded), a sibling directory sharing the root's
name as a prefix (Starlette's CVE-2023-29159 compared paths by string prefix),
absolute paths, backslashes and UNC/drive paths (Starlette's Windows advisory), NUL
bytes, over-long names, and symlinks leaving the root. Each is answered 404 "Not
Found" (never a 500), and the secret's bytes never appear in a response.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stellate.applications import Stellate
from stellate_routing.routing import Mount
from stellate_staticfiles import StaticFiles
from tests.conftest import TestClientFactory
from tests.security._asgi import http_scope, request

SECRET = b"the secret that must never be served"

# Paths as a server hands them to the app: already percent-decoded.
TRAVERSALS = [
    "/static/../secret.txt",
    "/static/../static-secret/secret.txt",
    "/static/sub/../../secret.txt",
    "/static/sub/../../static-secret/secret.txt",
    "/static/./../secret.txt",
    "/static/..",
    "/static/../",
    "/static/..\\secret.txt",
    "/static/sub\\..\\..\\secret.txt",
    "/static/\\\\server\\share\\secret.txt",
    "/static/\\\\?\\C:\\secret.txt",
    "/static/C:\\secret.txt",
    "/static/C:/secret.txt",
    "/static/ok.txt\x00.png",
    "/static/\x00",
    "/static/" + "a" * 300,
    "/static/" + "a/" * 3000 + "ok.txt",
    "/static/" + "../" * 50 + "etc/passwd",
    "/static//etc/passwd",
    "/static/%2e%2e/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/escape.txt",
    "/static/sibling/secret.txt",
    "/static/escape-dir/secret.txt",
]

# The same attacks as a client types them: encoded, so that only the server decodes.
ENCODED_TRAVERSALS = [
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/sub/%2e%2e/%2e%2e/secret.txt",
    "/static/..%5csecret.txt",
    "/static/%5c%5cserver%5cshare%5csecret.txt",
    "/static/ok.txt%00.png",
    "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/static/%252e%252e/secret.txt",
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """`tmp/static` to serve, with secrets beside it and symlinks pointing at them.

    `static-secret` shares the root's name as a prefix; `escape.txt` and
    `escape-dir`/`sibling` are symlinks leaving the root; `inside.txt` one staying in.
    """
    static = tmp_path / "static"
    (static / "sub").mkdir(parents=True)
    (static / "ok.txt").write_bytes(b"ok")
    (static / "sub" / "inner.txt").write_bytes(b"inner")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "static-secret").mkdir()
    (tmp_path / "static-secret" / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    (static / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (static / "escape-dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    # Relative, so that resolving it lands on `.../static-secret`: a path that starts
    # with the root's own path as a string, one directory over.
    (static / "sibling").symlink_to(os.path.join("..", "static-secret"))
    (static / "inside.txt").symlink_to("ok.txt")
    return static


def app_for(root: Path, *, follow_symlink: bool = False, html: bool = False) -> Stellate:
    # An application, whose exception handling renders the 404 that StaticFiles raises.
    static = StaticFiles(directory=root, follow_symlink=follow_symlink, html=html)
    return Stellate(routes=[Mount("/static", app=static)])


@pytest.mark.anyio
@pytest.mark.parametrize("path", TRAVERSALS)
async def test_traversal_is_not_found(root: Path, path: str) -> None:
    exchange = await request(app_for(root), http_scope(path))

    assert exchange.status == 404
    assert exchange.body == b"Not Found"


@pytest.mark.anyio
@pytest.mark.parametrize("path", TRAVERSALS)
async def test_traversal_with_html_gets_the_404_page(root: Path, path: str) -> None:
    (root / "404.html").write_bytes(b"<h1>missing</h1>")

    exchange = await request(app_for(root, html=True), http_scope(path))

    assert exchange.status == 404
    assert exchange.body == b"<h1>missing</h1>"


@pytest.mark.parametrize("path", ENCODED_TRAVERSALS)
def test_encoded_traversal_is_not_found(
    root: Path, path: str, test_client_factory: TestClientFactory
) -> None:
    client = test_client_factory(app_for(root))

    response = client.get(path)

    assert response.status_code == 404
    assert SECRET not in response.content


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [p for p in TRAVERSALS if p not in ("/static/escape.txt", "/static/escape-dir/secret.txt")],
)
async def test_following_symlinks_still_refuses_traversal(root: Path, path: str) -> None:
    # `follow_symlink=True` trusts the links inside the tree, never the request path:
    # `..`, absolute and Windows paths stay refused, and so does the sibling directory
    # reached through a link.
    exchange = await request(app_for(root, follow_symlink=True), http_scope(path))

    if path == "/static/sibling/secret.txt":
        # The link is in the tree; following it is exactly what the option allows.
        assert exchange.status == 200
        assert exchange.body == SECRET
    else:
        assert exchange.status == 404
        assert exchange.body == b"Not Found"


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/static/escape.txt", "/static/escape-dir/secret.txt"])
async def test_following_symlinks_serves_links_placed_in_the_tree(root: Path, path: str) -> None:
    # The documented meaning of the option (as in Starlette): the operator's own links
    # may point anywhere.
    exchange = await request(app_for(root, follow_symlink=True), http_scope(path))

    assert exchange.status == 200
    assert exchange.body == SECRET


@pytest.mark.anyio
@pytest.mark.parametrize("follow_symlink", [False, True])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/static/ok.txt", b"ok"),
        ("/static/./ok.txt", b"ok"),
        ("/static/sub/../ok.txt", b"ok"),
        ("/static/sub/inner.txt", b"inner"),
        ("/static/inside.txt", b"ok"),
    ],
)
async def test_files_inside_the_root_are_served(
    root: Path, path: str, body: bytes, follow_symlink: bool
) -> None:
    # The guard is not a blanket refusal: paths that stay inside the root still work.
    exchange = await request(app_for(root, follow_symlink=follow_symlink), http_scope(path))

    assert exchange.status == 200
    assert exchange.body == body


@pytest.mark.anyio
async def test_a_root_given_with_a_trailing_separator_still_contains(root: Path) -> None:
    # "/x/static/" must not let "/x/static-secret" through a prefix comparison either.
    app = Stellate(routes=[Mount("/static", app=StaticFiles(directory=str(root) + os.sep))])

    for path in ("/static/sibling/secret.txt", "/static/escape.txt", "/static/ok.txt"):
        exchange = await request(app, http_scope(path))
        assert (exchange.status, exchange.body) == (
            (200, b"ok") if path.endswith("ok.txt") else (404, b"Not Found")
        )


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "get", "TRACE"])
async def test_only_get_and_head_reach_the_file_system(root: Path, method: str) -> None:
    exchange = await request(app_for(root), http_scope("/static/../secret.txt", method=method))

    assert exchange.status == 405
    assert exchange.header("allow") == "GET, HEAD"
    assert SECRET not in exchange.body
