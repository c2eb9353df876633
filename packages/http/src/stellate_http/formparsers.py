"""Streaming parsers for `application/x-www-form-urlencoded` and `multipart/form-data`.

Both read the request body chunk by chunk through python-multipart and enforce
explicit limits (number of fields and files, size of a field, size of a part's
headers), so a hostile body ends as a `MultiPartException` (a 400 once inside
an application), never as unbounded memory or a server error.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from enum import Enum
from tempfile import SpooledTemporaryFile
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import anyio

from stellate_asgi.datastructures import Headers
from stellate_asgi.exceptions import StellateDeprecationWarning
from stellate_http.datastructures import FormData, UploadFile

if TYPE_CHECKING:
    import python_multipart as multipart
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import parse_options_header as parse_options_header
else:
    try:
        import python_multipart as multipart
        from python_multipart.exceptions import FormParserError
        from python_multipart.multipart import parse_options_header
    except ModuleNotFoundError:  # pragma: no cover
        # Releases of python-multipart before 0.0.13 install the `multipart` name.
        try:
            import multipart
            from multipart.exceptions import FormParserError
            from multipart.multipart import parse_options_header
        except ModuleNotFoundError:
            multipart = None
            parse_options_header = None
            FormParserError = ValueError

__all__ = [
    "MAX_PART_HEADERS_SIZE",
    "FormData",
    "FormMessage",
    "FormParser",
    "Headers",
    "MultiPartException",
    "MultiPartParser",
    "MultipartPart",
    "StellateDeprecationWarning",
    "UploadFile",
]

# The most bytes of header lines one multipart part may carry: enough for any
# real Content-Disposition and Content-Type, small enough to bound memory.
MAX_PART_HEADERS_SIZE = 16 * 1024

_MISSING_LIBRARY = "The `python-multipart` library must be installed to use form parsing."


class FormMessage(Enum):
    """The events of the urlencoded parser."""

    FIELD_START = 1
    FIELD_NAME = 2
    FIELD_DATA = 3
    FIELD_END = 4
    END = 5


class MultiPartException(Exception):
    """A form body that cannot be accepted; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class MultipartPart:
    """The state of the multipart part being parsed."""

    content_disposition: bytes | None = None
    field_name: str = ""
    data: bytearray = field(default_factory=bytearray)
    file: UploadFile | None = None
    item_headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class FormParser:
    """Parser of `application/x-www-form-urlencoded` bodies.

    The parser's callbacks queue `(FormMessage, bytes)` pairs in `messages`, which
    `parse` turns into fields after each chunk; the limits are checked as each
    piece arrives, so one huge chunk cannot build a huge field before a check.
    """

    def __init__(
        self,
        headers: Headers,
        stream: AsyncGenerator[bytes, None],
        *,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> None:
        assert multipart is not None, _MISSING_LIBRARY
        self.headers = headers
        self.stream = stream
        self.max_fields = max_fields
        self.max_part_size = max_part_size
        self.messages: list[tuple[FormMessage, bytes]] = []
        self._current_fields = 0
        self._current_name_size = 0
        self._current_value_size = 0

    def on_field_start(self) -> None:
        self._current_fields += 1
        if self._current_fields > self.max_fields:
            raise MultiPartException(
                f"Too many fields. Maximum number of fields is {self.max_fields}."
            )
        self._current_name_size = 0
        self._current_value_size = 0
        self.messages.append((FormMessage.FIELD_START, b""))

    def on_field_name(self, data: bytes, start: int, end: int) -> None:
        self._current_name_size += end - start
        self._check_size(self._current_name_size)
        self.messages.append((FormMessage.FIELD_NAME, data[start:end]))

    def on_field_data(self, data: bytes, start: int, end: int) -> None:
        self._current_value_size += end - start
        self._check_size(self._current_value_size)
        self.messages.append((FormMessage.FIELD_DATA, data[start:end]))

    def on_field_end(self) -> None:
        self.messages.append((FormMessage.FIELD_END, b""))

    def on_end(self) -> None:
        self.messages.append((FormMessage.END, b""))

    async def parse(self) -> FormData:
        """Read the whole stream and return its fields."""
        callbacks: Any = {
            "on_field_start": self.on_field_start,
            "on_field_name": self.on_field_name,
            "on_field_data": self.on_field_data,
            "on_field_end": self.on_field_end,
            "on_end": self.on_end,
        }
        parser = multipart.QuerystringParser(callbacks)
        items: list[tuple[str, str | UploadFile]] = []
        name = bytearray()
        value = bytearray()

        def collect() -> None:
            nonlocal name, value
            for message_type, message_bytes in self.messages:
                if message_type is FormMessage.FIELD_START:
                    name, value = bytearray(), bytearray()
                elif message_type is FormMessage.FIELD_NAME:
                    name += message_bytes
                elif message_type is FormMessage.FIELD_DATA:
                    value += message_bytes
                elif message_type is FormMessage.FIELD_END:
                    # Percent-escapes decode as UTF-8; a raw byte stays itself (latin-1).
                    items.append(
                        (
                            unquote_plus(name.decode("latin-1")),
                            unquote_plus(value.decode("latin-1")),
                        )
                    )
            self.messages.clear()

        try:
            try:
                async for chunk in self.stream:
                    if chunk:
                        parser.write(chunk)
                        collect()
                parser.finalize()
                collect()
            except FormParserError as exc:  # pragma: no cover - non-strict parsing never raises
                raise MultiPartException("Invalid form data.") from exc
        except BaseException:
            await _close_stream(self.stream)
            raise
        return FormData(items)

    def _check_size(self, size: int) -> None:
        if size > self.max_part_size:
            raise MultiPartException(
                f"Field exceeded maximum size of {int(self.max_part_size / 1024)}KB."
            )


class MultiPartParser:
    """Parser of `multipart/form-data` bodies.

    Fields become strings; parts with a `filename` become `UploadFile`s backed by
    a `SpooledTemporaryFile` that stays in memory up to `spool_max_size` bytes and
    rolls over to disk after that (the disk writes run in a worker thread).
    """

    spool_max_size = 1024 * 1024
    max_part_size = 1024 * 1024

    def __init__(
        self,
        headers: Headers,
        stream: AsyncGenerator[bytes, None],
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> None:
        assert multipart is not None, _MISSING_LIBRARY
        self.headers = headers
        self.stream = stream
        self.max_files = max_files
        self.max_fields = max_fields
        self.max_part_size = max_part_size
        self.items: list[tuple[str, str | UploadFile]] = []
        self._current_files = 0
        self._current_fields = 0
        self._current_partial_header_name = b""
        self._current_partial_header_value = b""
        self._current_headers_size = 0
        self._current_part = MultipartPart()
        self._charset = ""
        self._ended = False
        self._file_parts_to_write: list[tuple[MultipartPart, bytes]] = []
        self._file_parts_to_finish: list[MultipartPart] = []
        self._files_to_close_on_error: list[SpooledTemporaryFile[bytes]] = []

    def on_part_begin(self) -> None:
        self._current_part = MultipartPart()
        self._current_headers_size = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        message_bytes = data[start:end]
        part = self._current_part
        if part.file is None:
            if len(part.data) + len(message_bytes) > self.max_part_size:
                raise MultiPartException(
                    f"Part exceeded maximum size of {int(self.max_part_size / 1024)}KB."
                )
            part.data.extend(message_bytes)
        else:
            # File writes may block: `parse` awaits them after the parser returns.
            self._file_parts_to_write.append((part, message_bytes))

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is None:
            self.items.append((part.field_name, _user_safe_decode(part.data, self._charset)))
        else:
            self._file_parts_to_finish.append(part)
            # `parse` writes and rewinds the file before it returns the items.
            self.items.append((part.field_name, part.file))

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header_bytes(end - start)
        self._current_partial_header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header_bytes(end - start)
        self._current_partial_header_value += data[start:end]

    def on_header_end(self) -> None:
        name = self._current_partial_header_name.lower()
        value = self._current_partial_header_value
        if name == b"content-disposition":
            self._current_part.content_disposition = value
        self._current_part.item_headers.append((name, value))
        self._current_partial_header_name = b""
        self._current_partial_header_value = b""

    def on_headers_finished(self) -> None:
        part = self._current_part
        _, options = parse_options_header(part.content_disposition)
        try:
            part.field_name = _user_safe_decode(options[b"name"], self._charset)
        except KeyError:
            raise MultiPartException(
                'The Content-Disposition header field "name" must be provided.'
            )
        if b"filename" in options:
            self._current_files += 1
            if self._current_files > self.max_files:
                raise MultiPartException(
                    f"Too many files. Maximum number of files is {self.max_files}."
                )
            filename = _user_safe_decode(options[b"filename"], self._charset)
            # In memory until it grows past `spool_max_size`: creating it does no I/O.
            tempfile: SpooledTemporaryFile[bytes] = SpooledTemporaryFile(  # noqa: SIM115
                max_size=self.spool_max_size
            )
            self._files_to_close_on_error.append(tempfile)
            part.file = UploadFile(
                file=tempfile,  # type: ignore[arg-type]
                size=0,
                filename=filename,
                headers=Headers(raw=part.item_headers),
            )
        else:
            self._current_fields += 1
            if self._current_fields > self.max_fields:
                raise MultiPartException(
                    f"Too many fields. Maximum number of fields is {self.max_fields}."
                )
            part.file = None

    def on_end(self) -> None:
        self._ended = True

    async def parse(self) -> FormData:
        """Read the whole stream and return its fields and files.

        Raises `MultiPartException` for a body that breaks a limit or the
        multipart syntax; every file opened so far is closed first.
        """
        _, params = parse_options_header(self.headers.get("Content-Type"))
        self._charset = _resolve_charset(params.get(b"charset", b"utf-8").decode("latin-1"))
        boundary = params.get(b"boundary")
        if not boundary:
            raise MultiPartException("Missing boundary in multipart.")

        callbacks: Any = {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }
        received = 0
        try:
            try:
                parser = multipart.MultipartParser(boundary, callbacks)
                async for chunk in self.stream:
                    received += len(chunk)
                    parser.write(chunk)
                    await self._flush_files()
                parser.finalize()
            except FormParserError as exc:
                raise MultiPartException("Invalid multipart data.") from exc
            # An empty body is an empty form; a body cut short is an error, not a
            # form with its last part silently missing (Starlette keeps the parts
            # read so far: we refuse, as a truncated upload is no upload).
            if received and not self._ended:
                raise MultiPartException(
                    "Invalid multipart data: the body ended before the closing boundary."
                )
        except BaseException:
            self._close_files()
            await _close_stream(self.stream)
            raise
        return FormData(self.items)

    async def _flush_files(self) -> None:
        # The file writes collected by the callbacks of one `write` call.
        for part, data in self._file_parts_to_write:
            assert part.file is not None
            await part.file.write(data)
        self._file_parts_to_write.clear()
        for part in self._file_parts_to_finish:
            assert part.file is not None
            await part.file.seek(0)
        self._file_parts_to_finish.clear()

    def _close_files(self) -> None:
        for file in self._files_to_close_on_error:
            # Closing must never hide the error that stopped the parse.
            with contextlib.suppress(OSError):
                file.close()

    def _count_header_bytes(self, size: int) -> None:
        self._current_headers_size += size
        if self._current_headers_size > MAX_PART_HEADERS_SIZE:
            raise MultiPartException(
                f"Part headers exceeded maximum size of {MAX_PART_HEADERS_SIZE // 1024}KB."
            )


async def _close_stream(stream: AsyncGenerator[bytes, None]) -> None:
    # A parse stopped early leaves the body generator suspended; close it now
    # rather than leave it to the garbage collector (which the event loop may
    # no longer be around to run).
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with anyio.CancelScope(shield=True):
            await aclose()


def _resolve_charset(charset: str) -> str:
    """The codec name for the form's `charset`, looked up once per form.

    A failed lookup is not cached by Python, so resolving it for every field would
    repeat the codec search; an unknown charset decodes as latin-1, as the fallback
    of `_user_safe_decode` would.
    """
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return "latin-1"


def _user_safe_decode(src: bytes | bytearray, codec: str) -> str:
    """Decode with the form's charset, falling back to latin-1 (which never fails)."""
    try:
        return src.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return src.decode("latin-1")
