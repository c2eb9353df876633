"""StaticFiles under each real server: full files, conditional requests, ranges, refusals."""

from __future__ import annotations

import email.parser
import email.policy

import httpx

from tests.servers.conftest import STATIC_FILES, Server

DATA = STATIC_FILES["data.bin"]


def test_file_is_served_with_validators(client: httpx.Client) -> None:
    response = client.get("/static/hello.txt")
    assert response.status_code == 200
    assert response.content == STATIC_FILES["hello.txt"]
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == str(len(STATIC_FILES["hello.txt"]))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith(" GMT")


def test_large_and_nested_files(client: httpx.Client) -> None:
    data = client.get("/static/data.bin")
    assert data.status_code == 200
    assert data.content == DATA

    css = client.get("/static/nested/deep.css")
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.content == STATIC_FILES["nested/deep.css"]


def test_head_has_headers_only(client: httpx.Client) -> None:
    response = client.head("/static/data.bin")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(DATA))


def test_conditional_requests_get_304(client: httpx.Client) -> None:
    first = client.get("/static/hello.txt")
    by_etag = client.get("/static/hello.txt", headers={"if-none-match": first.headers["etag"]})
    assert by_etag.status_code == 304
    assert by_etag.content == b""
    assert by_etag.headers["etag"] == first.headers["etag"]

    by_date = client.get(
        "/static/hello.txt", headers={"if-modified-since": first.headers["last-modified"]}
    )
    assert by_date.status_code == 304

    stale = client.get("/static/hello.txt", headers={"if-none-match": '"something-else"'})
    assert stale.status_code == 200
    assert stale.content == STATIC_FILES["hello.txt"]


def test_single_ranges(client: httpx.Client) -> None:
    size = len(DATA)
    middle = client.get("/static/data.bin", headers={"range": "bytes=1000-1999"})
    assert middle.status_code == 206
    assert middle.headers["content-range"] == f"bytes 1000-1999/{size}"
    assert middle.headers["content-length"] == "1000"
    assert middle.content == DATA[1000:2000]

    suffix = client.get("/static/data.bin", headers={"range": "bytes=-16"})
    assert suffix.status_code == 206
    assert suffix.headers["content-range"] == f"bytes {size - 16}-{size - 1}/{size}"
    assert suffix.content == DATA[-16:]

    open_ended = client.get("/static/data.bin", headers={"range": f"bytes={size - 5}-"})
    assert open_ended.status_code == 206
    assert open_ended.content == DATA[-5:]


def test_multiple_ranges_are_multipart(client: httpx.Client) -> None:
    response = client.get("/static/data.bin", headers={"range": "bytes=0-3,5000-5009"})
    assert response.status_code == 206
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    assert response.headers["content-length"] == str(len(response.content))

    # Parse the body as the MIME document it is, headers included.
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"content-type: " + content_type.encode() + b"\r\n\r\n" + response.content
    )
    parts = [
        (part["content-range"], part.get_payload(decode=True)) for part in message.iter_parts()
    ]
    assert parts == [
        (f"bytes 0-3/{len(DATA)}", DATA[0:4]),
        (f"bytes 5000-5009/{len(DATA)}", DATA[5000:5010]),
    ]


def test_unsatisfiable_range_is_416(client: httpx.Client) -> None:
    response = client.get("/static/data.bin", headers={"range": f"bytes={len(DATA)}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(DATA)}"


def test_misses_and_escapes_are_404(server: Server, client: httpx.Client) -> None:
    assert client.get("/static/missing.txt").status_code == 404
    # A directory is not a file when html mode is off.
    assert client.get("/static/nested").status_code == 404
    # Percent-encoded dots reach the app decoded, as `/static/../server.log`: refused,
    # though the server's log file does sit right beside the static folder.
    escape = client.get(httpx.URL(f"{server.url}/static/%2e%2e/server.log"))
    assert escape.status_code == 404
    assert escape.text == "Not Found"


def test_wrong_method_is_405(client: httpx.Client) -> None:
    response = client.post("/static/hello.txt")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
