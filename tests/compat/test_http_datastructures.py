"""Starlette-compatibility checks for `UploadFile` and `FormData`, through the umbrella."""

from __future__ import annotations

import io
from tempfile import SpooledTemporaryFile
from typing import BinaryIO

import pytest

from stellate.datastructures import FormData, Headers, UploadFile


@pytest.mark.anyio
async def test_upload_file_tracks_its_size() -> None:
    upload = UploadFile(io.BytesIO(b"head"), filename="f.txt", size=4)
    assert await upload.read() == b"head"
    assert upload.size == 4
    await upload.write(b"-tail")
    assert await upload.read() == b""
    assert upload.size == 9
    await upload.seek(0)
    assert await upload.read() == b"head-tail"
    await upload.seek(5)
    assert await upload.read(2) == b"ta"


@pytest.mark.anyio
async def test_upload_file_of_unknown_size_stays_unknown() -> None:
    upload = UploadFile(io.BytesIO(b"head"), filename="f.txt")
    assert await upload.read() == b"head"
    await upload.write(b"-tail")
    assert upload.size is None
    await upload.seek(0)
    assert await upload.read() == b"head-tail"


@pytest.mark.anyio
@pytest.mark.parametrize("spool_size", [1, 4096], ids=["rolled", "in-memory"])
async def test_upload_file_over_a_spooled_file(spool_size: int) -> None:
    spooled: BinaryIO = SpooledTemporaryFile(max_size=spool_size)  # type: ignore[assignment]  # noqa: SIM115
    upload = UploadFile(spooled, filename="f.bin", size=0)
    assert await upload.read() == b""
    await upload.write(b"abc")
    assert upload.size == 3
    assert await upload.read() == b""
    await upload.seek(0)
    assert await upload.read() == b"abc"
    await upload.write(b"def")
    assert upload.size == 6
    await upload.seek(0)
    assert await upload.read() == b"abcdef"
    await upload.close()
    assert spooled.closed


@pytest.mark.anyio
async def test_upload_file_repr_and_content_type() -> None:
    upload = UploadFile(io.BytesIO(b"x"), filename="f.txt", size=1)
    assert repr(upload) == "UploadFile(filename='f.txt', size=1, headers=Headers({}))"
    assert upload.content_type is None

    typed = UploadFile(
        io.BytesIO(b"x"), filename="f.csv", headers=Headers({"content-type": "text/csv"})
    )
    assert typed.content_type == "text/csv"
    assert repr(typed) == (
        "UploadFile(filename='f.csv', size=None, headers=Headers({'content-type': 'text/csv'}))"
    )


def test_form_data_reading() -> None:
    upload = UploadFile(io.BytesIO(b"x"), filename="f.txt", size=1)
    form = FormData([("tag", "a"), ("tag", "b"), ("file", upload)])
    assert "tag" in form
    assert "TAG" not in form
    assert "other" not in form
    assert form["tag"] == "b"
    assert form.get("tag") == "b"
    assert form.get("other", None) is None
    assert form.getlist("tag") == ["a", "b"]
    assert list(form.keys()) == ["tag", "file"]
    assert list(form.values()) == ["b", upload]
    assert list(form.items()) == [("tag", "b"), ("file", upload)]
    assert len(form) == 2
    assert list(form) == ["tag", "file"]
    assert dict(form) == {"tag": "b", "file": upload}
    assert repr(form) == f"FormData([('tag', 'a'), ('tag', 'b'), ('file', {upload!r})])"


def test_form_data_equality() -> None:
    upload = UploadFile(io.BytesIO(b"x"), filename="f.txt")
    form = FormData([("tag", "a"), ("file", upload)])
    assert FormData(form) == form
    assert FormData({"a": "1", "b": "2"}) == FormData([("b", "2"), ("a", "1")])
    assert FormData({"a": "1"}) != {"a": "1"}
    assert FormData(a="1") == FormData({"a": "1"})


@pytest.mark.anyio
async def test_form_data_close_closes_every_file() -> None:
    first, second = io.BytesIO(b"1"), io.BytesIO(b"2")
    form = FormData(
        [
            ("a", UploadFile(first, filename="1.txt")),
            ("a", UploadFile(second, filename="2.txt")),
            ("b", "text"),
        ]
    )
    await form.close()
    assert first.closed
    assert second.closed


@pytest.mark.anyio
@pytest.mark.parametrize("spool_size", [1, 4096], ids=["rolled", "in-memory"])
@pytest.mark.parametrize(
    ("offset", "data", "size"),
    [(0, b"xy", 8), (7, b"xy", 9), (8, b"xy", 10), (12, b"xy", 14), (12, b"", 8), (3, b"", 8)],
)
async def test_upload_file_size_follows_the_file_extent(
    spool_size: int, offset: int, data: bytes, size: int
) -> None:
    spooled: BinaryIO = SpooledTemporaryFile(max_size=spool_size)  # type: ignore[assignment]  # noqa: SIM115
    spooled.write(b"abcdefgh")
    upload = UploadFile(spooled, size=8)
    try:
        await upload.seek(offset)
        await upload.write(data)
        assert upload.size == size
        await upload.seek(0)
        content = await upload.read()
        assert len(content) == size
        assert content[offset : offset + len(data)] == data
    finally:
        await upload.close()


@pytest.mark.anyio
@pytest.mark.parametrize("spool_size", [1, 4096], ids=["rolled", "in-memory"])
async def test_upload_file_failed_write_keeps_the_size(
    spool_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    spooled: BinaryIO = SpooledTemporaryFile(max_size=spool_size)  # type: ignore[assignment]  # noqa: SIM115
    spooled.write(b"abcdefgh")
    upload = UploadFile(spooled, size=8)

    def broken_write(data: bytes) -> int:
        raise OSError("device error")

    monkeypatch.setattr(spooled, "write", broken_write)
    try:
        with pytest.raises(OSError, match="device error"):
            await upload.write(b"more")
        assert upload.size == 8
        await upload.seek(0)
        assert await upload.read() == b"abcdefgh"
    finally:
        await upload.close()


@pytest.mark.anyio
async def test_upload_file_overwrite_with_unknown_size() -> None:
    upload = UploadFile(io.BytesIO(b"abcdefgh"))
    await upload.write(b"XY")
    assert upload.size is None
    await upload.seek(0)
    assert await upload.read() == b"XYcdefgh"
