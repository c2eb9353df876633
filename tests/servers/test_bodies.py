"""Request bodies under each real server: urlencoded forms, multipart uploads, raw streams."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import httpx


def test_urlencoded_form_keeps_repeats_and_decodes(client: httpx.Client) -> None:
    response = client.post(
        "/form",
        content=b"name=Ada+Lovelace&lang=Python&lang=Rust&note=caf%C3%A9%20%26%20cr%C3%A8me&empty=",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "name": ["Ada Lovelace"],
        "lang": ["Python", "Rust"],
        "note": ["café & crème"],
        "empty": [""],
    }


def test_multipart_upload_arrives_whole(client: httpx.Client) -> None:
    # 3 MiB: past the 1 MiB an upload keeps in memory, so it rolls over to disk.
    big = os.urandom(3 * 1024 * 1024 + 17)
    small = "Grüße\r\n--not-a-boundary\r\n".encode()
    response = client.post(
        "/upload",
        data={"title": "Résumé", "tag": ["a", "b"]},
        files=[
            ("document", ("big.bin", big, "application/octet-stream")),
            ("document", ("notes été.txt", small, "text/plain; charset=utf-8")),
            ("empty", ("empty.txt", b"", "text/plain")),
        ],
    )
    assert response.status_code == 200
    assert response.json() == {
        "fields": {"title": ["Résumé"], "tag": ["a", "b"]},
        "files": [
            describe("document", "big.bin", "application/octet-stream", big),
            describe("document", "notes été.txt", "text/plain; charset=utf-8", small),
            describe("empty", "empty.txt", "text/plain", b""),
        ],
    }


def test_body_with_content_length_streams_in(client: httpx.Client) -> None:
    content = os.urandom(2 * 1024 * 1024)
    response = client.put("/body", content=content)
    assert response.status_code == 200
    report = response.json()
    assert report["size"] == len(content)
    assert report["sha256"] == hashlib.sha256(content).hexdigest()
    assert report["content_length"] == str(len(content))
    assert report["transfer_encoding"] is None
    # The server hands the body over as it arrives, not as one buffered message.
    assert report["chunks"] > 1


def test_chunked_body_streams_in(client: httpx.Client) -> None:
    pieces = [os.urandom(16 * 1024) for _ in range(64)]

    def generate() -> Iterator[bytes]:
        yield from pieces

    # A generator has no length: httpx sends it with Transfer-Encoding: chunked.
    response = client.post("/body", content=generate())
    assert response.status_code == 200
    report = response.json()
    whole = b"".join(pieces)
    assert report["size"] == len(whole)
    assert report["sha256"] == hashlib.sha256(whole).hexdigest()
    assert report["content_length"] is None
    assert report["transfer_encoding"] == "chunked"


def test_empty_body(client: httpx.Client) -> None:
    report = client.post("/body").json()
    assert report["size"] == 0
    assert report["sha256"] == hashlib.sha256(b"").hexdigest()


def describe(field: str, filename: str, content_type: str, content: bytes) -> dict[str, object]:
    """What the app reports for one uploaded file."""
    return {
        "field": field,
        "filename": filename,
        "content_type": content_type,
        "size": len(content),
        "reported_size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
