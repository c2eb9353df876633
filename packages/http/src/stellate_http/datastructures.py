"""Form data structures: `FormData` and `UploadFile`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import BinaryIO

from stellate_asgi.datastructures import Headers, ImmutableMultiDict
from stellate_http.concurrency import run_in_threadpool

__all__ = ["FormData", "UploadFile"]


class UploadFile:
    """An uploaded file, with async methods over the underlying file object.

    While a `SpooledTemporaryFile` still holds its data in memory, reads and
    writes happen inline (they cannot block); once it has rolled over to disk,
    or for any other file object, they run in a worker thread.
    """

    def __init__(
        self,
        file: BinaryIO,
        *,
        size: int | None = None,
        filename: str | None = None,
        headers: Headers | None = None,
    ) -> None:
        self.filename = filename
        self.file = file
        self.size = size
        self.headers = headers or Headers()
        # The spool threshold of a SpooledTemporaryFile (0 when unknown).
        self._max_mem_size: int = getattr(file, "_max_size", 0)

    @property
    def content_type(self) -> str | None:
        """The `Content-Type` of the part, or `None` when it had none."""
        return self.headers.get("content-type", None)

    async def write(self, data: bytes) -> None:
        """Write `data` at the current position.

        A known `size` follows the extent of the file: it grows only when the write
        goes past the end, and stays unchanged when the write fails.
        """
        position = self._position() if self.size is not None else 0
        if self._will_roll(len(data)):
            await run_in_threadpool(self.file.write, data)
        else:
            self.file.write(data)
        if self.size is not None and data:
            self.size = max(self.size, position + len(data))

    async def read(self, size: int = -1) -> bytes:
        """Read up to `size` bytes (all that is left by default)."""
        if self._in_memory:
            return self.file.read(size)
        return await run_in_threadpool(self.file.read, size)

    async def seek(self, offset: int) -> None:
        """Move to the absolute byte position `offset`."""
        if self._in_memory:
            self.file.seek(offset)
        else:
            await run_in_threadpool(self.file.seek, offset)

    async def close(self) -> None:
        """Close the file (a spooled file on disk is deleted)."""
        if self._in_memory:
            self.file.close()
        else:
            await run_in_threadpool(self.file.close)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(filename={self.filename!r}, "
            f"size={self.size!r}, headers={self.headers!r})"
        )

    @property
    def _in_memory(self) -> bool:
        # Only a SpooledTemporaryFile has `_rolled`; any other file may touch a disk.
        rolled_to_disk: bool = getattr(self.file, "_rolled", True)
        return not rolled_to_disk

    def _position(self) -> int:
        # tell() only asks for the offset (no disk I/O, even once rolled over). A
        # stream that cannot tell is written at its end.
        try:
            return self.file.tell()
        except OSError:
            return self.size or 0

    def _will_roll(self, size_to_add: int) -> bool:
        """Whether writing `size_to_add` more bytes may touch the disk."""
        if not self._in_memory:
            return True
        if not self._max_mem_size:
            return False
        # Writing past the threshold makes the spooled file roll over (a disk write).
        return self.file.tell() + size_to_add > self._max_mem_size


class FormData(ImmutableMultiDict[str, "UploadFile | str"]):
    """An immutable multidict of form fields: strings and `UploadFile`s."""

    def __init__(
        self,
        *args: FormData | Mapping[str, str | UploadFile] | list[tuple[str, str | UploadFile]],
        **kwargs: str | UploadFile,
    ) -> None:
        super().__init__(*args, **kwargs)

    async def close(self) -> None:
        """Close every `UploadFile` of the form."""
        for _, value in self.multi_items():
            if isinstance(value, UploadFile):
                await value.close()
