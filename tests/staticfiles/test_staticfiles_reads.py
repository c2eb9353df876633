"""How `StaticFiles` reads a file: a small body is read in the lookup's thread call.

A worker-thread call costs far more than reading a few kilobytes, so the lookup that
stats a file also reads the body the request will most likely get, and the response
sends it without a call of its own. A guess that turns out wrong only costs the read:
the response reads what it sends.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import pytest

from stellate_asgi.types import Scope
from stellate_http.responses import FileResponse, Response
from stellate_routing import Mount, Router
from stellate_staticfiles import StaticFiles
from tests._threads import count_thread_calls
from tests.conftest import TestClientFactory

# Bytes that differ from one offset to the next, so a wrong slice shows.
CONTENT = bytes(range(251)) * 40


@pytest.fixture
def root(tmp_path: Path) -> Path:
    served = tmp_path / "root"
    (served / "docs").mkdir(parents=True)
    (served / "data.bin").write_bytes(CONTENT)
    (served / "docs" / "index.html").write_text("<p>the index</p>")
    (served / "404.html").write_text("<p>not here</p>")
    (served / "large.bin").write_bytes(CONTENT * 10)
    (served / "other.bin").write_bytes(b"another file")
    return served


@pytest.fixture
def thread_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions that the serving runs in worker threads (bar the
    configuration check of the first request, an `os.stat`)."""
    return count_thread_calls(monkeypatch, ignore={"stat"})


def serve(app: StaticFiles) -> Router:
    return Router(routes=[Mount("/static", app=app)])


@pytest.mark.parametrize(
    ("headers", "status", "expected"),
    [
        pytest.param({}, 200, CONTENT, id="whole"),
        pytest.param({"range": "bytes=100-1099"}, 206, CONTENT[100:1100], id="range"),
        pytest.param({"range": "bytes=9000-"}, 206, CONTENT[9000:], id="tail"),
    ],
)
def test_a_small_body_is_read_with_the_lookup(
    test_client_factory: TestClientFactory,
    root: Path,
    thread_calls: list[str],
    headers: dict[str, str],
    status: int,
    expected: bytes,
) -> None:
    client = test_client_factory(serve(StaticFiles(directory=root)))
    response = client.get("/static/data.bin", headers=headers)
    assert (response.status_code, response.content) == (status, expected)
    assert thread_calls == ["lookup"]


def test_a_directory_index_and_a_404_page_are_read_with_their_lookup(
    test_client_factory: TestClientFactory, root: Path, thread_calls: list[str]
) -> None:
    client = test_client_factory(serve(StaticFiles(directory=root, html=True)))
    index = client.get("/static/docs/")
    assert (index.status_code, index.text) == (200, "<p>the index</p>")
    assert thread_calls == ["lookup", "lookup"]
    thread_calls.clear()
    # The 404 page is sent whole, whatever the `Range`: that is what is read.
    missing = client.get("/static/missing.txt", headers={"range": "bytes=0-2"})
    assert (missing.status_code, missing.text) == (404, "<p>not here</p>")
    assert thread_calls == ["lookup", "lookup"]


@pytest.mark.parametrize(
    ("method", "headers", "status", "reads"),
    [
        # A conditional request is likely answered 304: nothing is read ahead, and the
        # 304 reads nothing either.
        pytest.param("GET", {"if-none-match": "*"}, 304, [], id="if-none-match"),
        # Not modified since a date: a full 200, read after all.
        pytest.param(
            "GET",
            {"if-modified-since": "Thu, 01 Jan 1970 00:00:00 GMT"},
            200,
            ["_read_file_region"],
            id="if-modified-since",
        ),
        pytest.param("HEAD", {}, 200, [], id="head"),
        # Not a 200 of one range: the whole file, read again as the response plans it.
        pytest.param(
            "GET",
            {"range": "bytes=0-9", "if-range": '"another tag"'},
            200,
            ["_read_file_region"],
            id="if-range",
        ),
    ],
)
def test_what_is_not_read_ahead(
    test_client_factory: TestClientFactory,
    root: Path,
    thread_calls: list[str],
    method: str,
    headers: dict[str, str],
    status: int,
    reads: list[str],
) -> None:
    client = test_client_factory(serve(StaticFiles(directory=root)))
    response = client.request(method, "/static/data.bin", headers=headers)
    assert response.status_code == status
    assert response.content == (CONTENT if status == 200 and method == "GET" else b"")
    assert thread_calls == ["lookup", *reads]


def test_a_file_larger_than_a_chunk_is_read_when_sent(
    test_client_factory: TestClientFactory, root: Path, thread_calls: list[str]
) -> None:
    client = test_client_factory(serve(StaticFiles(directory=root)))
    response = client.get("/static/large.bin")
    assert response.content == CONTENT * 10
    assert thread_calls[0] == "lookup"
    assert "_read_file_region" not in thread_calls


def test_a_file_with_a_precompressed_sibling_is_read_when_sent(
    test_client_factory: TestClientFactory, root: Path, thread_calls: list[str]
) -> None:
    (root / "data.bin.gz").write_bytes(gzip.compress(CONTENT))
    client = test_client_factory(serve(StaticFiles(directory=root)))
    plain = client.get("/static/data.bin", headers={"accept-encoding": "identity"})
    compressed = client.get("/static/data.bin", headers={"accept-encoding": "gzip"})
    assert plain.content == compressed.content == CONTENT
    assert compressed.headers["content-encoding"] == "gzip"
    assert thread_calls == ["lookup", "_read_file_region"] * 2


def test_a_response_of_a_subclass_sends_its_own_file(
    test_client_factory: TestClientFactory, root: Path, thread_calls: list[str]
) -> None:
    # `file_response` overridden to serve another file: what was read ahead is not it.
    class Elsewhere(StaticFiles):
        def file_response(self, *args: Any, **kwargs: Any) -> Response:
            other = root / "other.bin"
            return FileResponse(other, stat_result=os.stat(other))

    client = test_client_factory(serve(Elsewhere(directory=root)))
    assert client.get("/static/data.bin").content == b"another file"
    assert thread_calls == ["lookup", "_read_file_region"]


def test_what_was_read_ahead_is_sent_once(
    test_client_factory: TestClientFactory, root: Path, thread_calls: list[str]
) -> None:
    # A response sent twice reads the file for its second send.
    responses: list[Response] = []

    class Keeping(StaticFiles):
        async def get_response(self, path: str, scope: Scope) -> Response:
            responses.append(await super().get_response(path, scope))
            return responses[-1]

    client = test_client_factory(serve(Keeping(directory=root)))
    assert client.get("/static/data.bin").content == CONTENT
    (root / "data.bin").write_bytes(CONTENT[::-1])
    again = test_client_factory(responses[0])
    assert again.get("/").content == CONTENT[::-1]
    assert thread_calls == ["lookup", "_read_file_region"]
