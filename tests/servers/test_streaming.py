"""Streaming responses under each real server: pieces arrive as they are produced."""

from __future__ import annotations

import hashlib
import uuid

import httpx

from tests.servers.conftest import Server


def test_stream_chunks_arrive_before_the_next_is_made(server: Server, client: httpx.Client) -> None:
    # The app makes chunk i + 1 only once the client asks for it (POST .../next, on a
    # second connection), so each chunk read here was sent alone, not buffered.
    token = uuid.uuid4().hex
    count = 4
    with client.stream("GET", f"/stream/{token}", params={"count": count}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        pieces = response.iter_raw()
        received = b""
        for index in range(count):
            if index:
                assert client.post(f"/stream/{token}/next").status_code == 204
            expected = f"chunk {index}\n".encode()
            while not received.endswith(expected):
                received += next(pieces)
            assert received == b"".join(f"chunk {i}\n".encode() for i in range(index + 1))
        assert list(pieces) == []
    # The stream finished, so its gate is gone.
    assert client.post(f"/stream/{token}/next").status_code == 404


def test_large_stream_from_a_sync_iterator(client: httpx.Client) -> None:
    size = 5 * 1024 * 1024 + 3
    with client.stream("GET", "/big", params={"size": size}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        digest, received, reads = hashlib.sha256(), 0, 0
        for chunk in response.iter_raw():
            digest.update(chunk)
            received += len(chunk)
            reads += 1
    pattern = bytes(range(256)) * (size // 256 + 1)
    assert received == size
    assert digest.hexdigest() == hashlib.sha256(pattern[:size]).hexdigest()
    assert reads > 1
