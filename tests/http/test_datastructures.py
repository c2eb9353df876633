from __future__ import annotations

import io
import threading
from tempfile import SpooledTemporaryFile
from typing import Any, BinaryIO, cast

import pytest

from stellate_asgi.datastructures import Headers, ImmutableMultiDict
from stellate_http.datastructures import FormData, UploadFile


class RecordingSpooledFile(SpooledTemporaryFile[bytes]):
    """A spooled file that notes the thread of every write."""

    def __init__(self, max_size: int) -> None:
        super().__init__(max_size=max_size)
        self.write_threads: list[int] = []

    def write(self, s: Any) -> int:
        self.write_threads.append(threading.get_ident())
        return super().write(s)


class RecordingBytesIO(io.BytesIO):
    """A plain file object (not spooled): the thread of every call is noted."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[int] = []

    def write(self, data: Any) -> int:
        self.threads.append(threading.get_ident())
        return super().write(data)

    def read(self, size: int | None = -1) -> bytes:
        self.threads.append(threading.get_ident())
        return super().read(size)


def as_binary(file: Any) -> BinaryIO:
    return cast(BinaryIO, file)


def spooled(max_size: int) -> BinaryIO:
    return as_binary(SpooledTemporaryFile(max_size=max_size))


@pytest.mark.anyio
async def test_upload_file_read_write_seek_close() -> None:
    upload = UploadFile(
        spooled(1024),
        size=0,
        filename="notes.txt",
        headers=Headers({"content-type": "text/plain"}),
    )

    await upload.write(b"hello ")
    await upload.write(b"world")
    assert upload.size == 11

    await upload.seek(0)
    assert await upload.read() == b"hello world"
    await upload.seek(6)
    assert await upload.read(3) == b"wor"

    assert upload.filename == "notes.txt"
    assert upload.content_type == "text/plain"

    await upload.close()
    assert upload.file.closed


def test_upload_file_defaults() -> None:
    upload = UploadFile(as_binary(io.BytesIO(b"")))

    assert upload.filename is None
    assert upload.size is None
    assert upload.content_type is None
    assert upload.headers == Headers()


@pytest.mark.anyio
async def test_upload_file_without_size_does_not_count() -> None:
    upload = UploadFile(spooled(1024))
    await upload.write(b"data")
    assert upload.size is None
    await upload.close()


def test_upload_file_repr() -> None:
    upload = UploadFile(
        as_binary(io.BytesIO(b"")),
        size=3,
        filename="a.txt",
        headers=Headers({"content-type": "text/plain"}),
    )
    assert repr(upload) == (
        "UploadFile(filename='a.txt', size=3, headers=Headers({'content-type': 'text/plain'}))"
    )


@pytest.mark.anyio
async def test_upload_file_in_memory_writes_stay_on_the_event_loop() -> None:
    spooled = RecordingSpooledFile(max_size=100)
    upload = UploadFile(as_binary(spooled), size=0)

    await upload.write(b"x" * 50)

    assert spooled.write_threads == [threading.get_ident()]
    assert not spooled._rolled  # type: ignore[attr-defined]
    await upload.close()


@pytest.mark.anyio
async def test_upload_file_of_an_unbounded_spool_stays_in_memory() -> None:
    spooled = RecordingSpooledFile(max_size=0)
    upload = UploadFile(as_binary(spooled), size=0)

    await upload.write(b"x" * 10_000)

    assert spooled.write_threads == [threading.get_ident()]
    await upload.close()


@pytest.mark.anyio
async def test_upload_file_write_that_rolls_over_runs_in_a_thread() -> None:
    spooled = RecordingSpooledFile(max_size=100)
    upload = UploadFile(as_binary(spooled), size=0)

    await upload.write(b"x" * 60)
    await upload.write(b"y" * 60)  # crosses max_size: the file rolls to disk
    await upload.write(b"z" * 10)  # on disk already

    main_thread = threading.get_ident()
    assert spooled.write_threads[0] == main_thread
    assert main_thread not in spooled.write_threads[1:]
    assert spooled._rolled  # type: ignore[attr-defined]
    assert upload.size == 130

    await upload.seek(0)
    assert await upload.read() == b"x" * 60 + b"y" * 60 + b"z" * 10
    await upload.close()
    assert spooled.closed


@pytest.mark.anyio
async def test_upload_file_of_an_ordinary_file_uses_threads() -> None:
    raw = RecordingBytesIO()
    upload = UploadFile(as_binary(raw), size=0)

    await upload.write(b"abc")
    await upload.seek(0)
    assert await upload.read() == b"abc"
    await upload.close()

    assert raw.threads
    assert threading.get_ident() not in raw.threads
    assert raw.closed


def test_form_data_is_an_immutable_multidict() -> None:
    upload = UploadFile(as_binary(io.BytesIO(b"")), filename="f.txt")
    form = FormData([("a", "1"), ("a", "2"), ("file", upload)])

    assert isinstance(form, ImmutableMultiDict)
    assert form["a"] == "2"
    assert form.getlist("a") == ["1", "2"]
    assert form["file"] is upload
    assert form.multi_items() == [("a", "1"), ("a", "2"), ("file", upload)]
    assert list(form.keys()) == ["a", "file"]
    assert len(form) == 2


def test_form_data_constructors() -> None:
    assert FormData() == FormData([])
    assert FormData({"a": "1"}) == FormData([("a", "1")])
    assert FormData(a="1", b="2").multi_items() == [("a", "1"), ("b", "2")]
    original = FormData([("a", "1"), ("a", "2")])
    assert FormData(original).getlist("a") == ["1", "2"]
    assert FormData() != FormData({"a": "1"})


@pytest.mark.anyio
async def test_form_data_close_closes_every_upload_file() -> None:
    first = UploadFile(spooled(10), filename="1")
    second = UploadFile(as_binary(io.BytesIO(b"")), filename="2")
    form = FormData([("f", first), ("name", "value"), ("f", second)])

    await form.close()

    assert first.file.closed
    assert second.file.closed
