"""Streaming parsers for `application/x-www-form-urlencoded` and `multipart/form-data`.

Both read the request body chunk by chunk and enforce explicit limits (number of
fields and files, size of a field, size of a part's headers; python-multipart
adds the number of headers of a part, the length of a header line and of the
boundary), so a hostile body ends as a `MultiPartException` (a 400 once inside
an application), never as unbounded memory or a server error.

Urlencoded bodies are split directly (with the semantics of python-multipart's
`QuerystringParser`, without a Python call per event); multipart bodies go
through python-multipart's `MultipartParser`, with file data kept in memory up to
`spool_max_size` and written to disk in batches by a worker thread after that.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from enum import Enum
from tempfile import SpooledTemporaryFile
from typing import TYPE_CHECKING
from urllib.parse import unquote

import anyio
import anyio.to_thread

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

# File data waiting for the worker thread is written once this many bytes are
# queued: one thread hop per batch instead of per chunk, with memory bounded by the
# batch (plus the in-memory spool of `spool_max_size`).
_WRITE_BATCH_SIZE = 256 * 1024

# The shapes that browsers and HTTP clients send, parsed in one regular-expression
# match; anything else (other spacing or case, escapes, `;` or `*` in a value)
# goes through the general parser. The results are the same either way.
_MULTIPART_CONTENT_TYPE = re.compile(r"multipart/form-data; boundary=([^ \t\";\\*]+)")
_FORM_DATA_DISPOSITION = re.compile(rb'form-data; name="([^"\\;*]*)"(?:; filename="([^"\\;*]*)")?')

_MISSING_LIBRARY = "The `python-multipart` library must be installed to use form parsing."


class FormMessage(Enum):
    """The events of the urlencoded parser's callbacks (see `FormParser.messages`)."""

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

    Fields are separated by `&` (empty ones are skipped), a name ends at the first
    `=` (a field without one has an empty value), `+` is a space and percent-escapes
    decode as UTF-8, while a raw byte stays itself (latin-1). Every field counts
    towards `max_fields` as soon as its first byte arrives, and its name and its
    value may each be at most `max_part_size` bytes, checked as each chunk
    arrives, so an unfinished field never grows past the limit.

    The `on_field_*` callbacks queue `(FormMessage, bytes)` pairs in `messages` for
    code that drives a python-multipart `QuerystringParser` itself; `parse` does not
    need them.
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
        self._count_field()
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
        items: list[tuple[str, str | UploadFile]] = []
        # The field still arriving after the last `&`: its pieces (joined only once it
        # ends, so that a field in many small chunks costs time in proportion to its
        # length, not its square), its size, where its first `=` is (-1: none yet),
        # and whether it was counted.
        pending: list[str] = []
        pending_size = 0
        pending_equals = -1
        pending_counted = False
        try:
            async for chunk in self.stream:
                if not chunk:
                    continue
                # latin-1 maps each byte to one character, so a chunk boundary can
                # never split one, and lengths in characters are lengths in bytes.
                text = chunk.decode("latin-1")
                if "+" in text:
                    text = text.replace("+", " ")
                if "&" in text:
                    pending.append(text)
                    fields = "".join(pending).split("&")
                    for index, field_text in enumerate(fields[:-1]):
                        if field_text:
                            if index or not pending_counted:
                                self._count_field()
                            items.append(self._decode_field(field_text))
                    last = fields[-1]
                    pending = [last]
                    pending_size = len(last)
                    pending_equals = last.find("=")
                    pending_counted = False
                else:
                    if pending_equals == -1:
                        equals = text.find("=")
                        if equals != -1:
                            pending_equals = pending_size + equals
                    pending.append(text)
                    pending_size += len(text)
                if pending_size:
                    if not pending_counted:
                        self._count_field()
                        pending_counted = True
                    if pending_equals == -1:
                        self._check_size(pending_size)
                    else:
                        self._check_size(pending_equals)
                        self._check_size(pending_size - pending_equals - 1)
            if pending_size:
                items.append(self._decode_field("".join(pending)))
        except BaseException:
            await _close_stream(self.stream)
            raise
        return FormData(items)

    def _count_field(self) -> None:
        self._current_fields += 1
        if self._current_fields > self.max_fields:
            raise MultiPartException(
                f"Too many fields. Maximum number of fields is {self.max_fields}."
            )

    def _decode_field(self, text: str) -> tuple[str, str]:
        """The `(name, value)` of one whole field, after checking its sizes."""
        name, _, value = text.partition("=")
        self._check_size(len(name))
        self._check_size(len(value))
        # `unquote` decodes percent-escapes as UTF-8 (replacing invalid sequences)
        # and leaves other characters as they are.
        if "%" in name:
            name = unquote(name)
        if "%" in value:
            value = unquote(value)
        return name, value

    def _check_size(self, size: int) -> None:
        if size > self.max_part_size:
            raise MultiPartException(
                f"Field exceeded maximum size of {int(self.max_part_size / 1024)}KB."
            )


class MultiPartParser:
    """Parser of `multipart/form-data` bodies.

    Fields become strings; parts with a `filename` become `UploadFile`s backed by
    a `SpooledTemporaryFile` that holds up to `spool_max_size` bytes in memory.
    Past that, the data of files is queued and written by a worker thread in
    batches (the rollover to disk included), so the event loop never waits for the
    disk and memory stays bounded whatever the size of the upload.
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
        # Whether the current file's data has all gone straight to its in-memory spool.
        self._current_file_in_memory = False
        self._charset = ""
        self._ended = False
        # File writes (`None`: rewind) for the worker thread, in order, and their bytes.
        self._queued_writes: list[tuple[SpooledTemporaryFile[bytes], memoryview | None]] = []
        self._queued_size = 0
        self._files_to_close_on_error: list[SpooledTemporaryFile[bytes]] = []

    def on_part_begin(self) -> None:
        self._current_part = MultipartPart()
        self._current_headers_size = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current_part
        # A view, not a copy: a file's data is copied once, into its file.
        piece = memoryview(data)[start:end]
        upload = part.file
        if upload is None:
            if len(part.data) + len(piece) > self.max_part_size:
                raise MultiPartException(
                    f"Part exceeded maximum size of {int(self.max_part_size / 1024)}KB."
                )
            part.data += piece
            return
        assert upload.size is not None
        upload.size += len(piece)
        spool: SpooledTemporaryFile[bytes] = upload.file  # type: ignore[assignment]
        if (
            self._current_file_in_memory
            and not self._queued_writes
            and upload.size <= self.spool_max_size
        ):
            # Below the spool threshold the write is a memory copy: no reason to wait
            # for a thread.
            spool.write(piece)
        else:
            self._current_file_in_memory = False
            self._queued_writes.append((spool, piece))
            self._queued_size += len(piece)

    def on_part_end(self) -> None:
        part = self._current_part
        upload = part.file
        if upload is None:
            self.items.append((part.field_name, _user_safe_decode(part.data, self._charset)))
            return
        if self._current_file_in_memory:
            upload.file.seek(0)
        else:
            self._queued_writes.append((upload.file, None))  # type: ignore[arg-type]
        # The item is complete once `parse` has run the queued writes.
        self.items.append((part.field_name, upload))

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
        disposition = part.content_disposition
        simple = _FORM_DATA_DISPOSITION.fullmatch(disposition) if disposition else None
        if simple is not None:
            name, raw_filename = simple.groups()
        else:
            _, options = _parse_options_header(disposition)
            name, raw_filename = options.get(b"name"), options.get(b"filename")
        if name is None:
            raise MultiPartException(
                'The Content-Disposition header field "name" must be provided.'
            )
        part.field_name = _user_safe_decode(name, self._charset)
        if raw_filename is not None:
            self._current_files += 1
            if self._current_files > self.max_files:
                raise MultiPartException(
                    f"Too many files. Maximum number of files is {self.max_files}."
                )
            filename = _user_safe_decode(raw_filename, self._charset)
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
            self._current_file_in_memory = True
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
        _, params = _parse_options_header(self.headers.get("Content-Type"))
        return await self._parse(params)

    async def _parse(self, params: dict[bytes, bytes]) -> FormData:
        """`parse`, given the parameters of the body's Content-Type.

        A `Request` has parsed the header already, to read the media type.
        """
        charset = params.get(b"charset")
        self._charset = "utf-8" if charset is None else _resolve_charset(charset.decode("latin-1"))
        boundary = params.get(b"boundary")
        if not boundary:
            raise MultiPartException("Missing boundary in multipart.")

        handlers: dict[str, Callable[..., None]] = {
            "part_begin": self.on_part_begin,
            "part_data": self.on_part_data,
            "part_end": self.on_part_end,
            "header_field": self.on_header_field,
            "header_value": self.on_header_value,
            "header_end": self.on_header_end,
            "headers_finished": self.on_headers_finished,
            "end": self.on_end,
        }
        received = 0
        try:
            try:
                parser = _MultipartParser(boundary, handlers)
                async for chunk in self.stream:
                    if chunk:
                        if type(chunk) is not bytes:
                            # Queued file writes keep views of the chunk: it must not
                            # change under them.
                            chunk = bytes(chunk)
                        received += len(chunk)
                        parser.write(chunk)
                        if self._queued_size >= _WRITE_BATCH_SIZE:
                            await self._write_queued()
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
            await self._write_queued()
        except BaseException:
            self._close_files()
            await _close_stream(self.stream)
            raise
        return FormData(self.items)

    async def _write_queued(self) -> None:
        if self._queued_writes:
            writes = self._queued_writes
            self._queued_writes = []
            self._queued_size = 0
            await anyio.to_thread.run_sync(_write_files, writes, self.spool_max_size)

    def _count_header_bytes(self, size: int) -> None:
        self._current_headers_size += size
        if self._current_headers_size > MAX_PART_HEADERS_SIZE:
            raise MultiPartException(
                f"Part headers exceeded maximum size of {MAX_PART_HEADERS_SIZE // 1024}KB."
            )

    def _close_files(self) -> None:
        for file in self._files_to_close_on_error:
            # Closing must never hide the error that stopped the parse.
            with contextlib.suppress(OSError):
                file.close()


# Defined only where python-multipart is installed (`MultiPartParser` asserts it is).
if multipart is not None:  # pragma: no branch

    class _MultipartParser(multipart.MultipartParser):
        """python-multipart's parser, calling the handlers of `MultiPartParser` directly.

        The base class looks each event's callback up by building its name and casts
        it on every call; about twenty events per part make that a visible cost.
        """

        def __init__(self, boundary: bytes, handlers: dict[str, Callable[..., None]]) -> None:
            super().__init__(boundary)
            self._handlers = handlers

        def callback(
            self,
            name: str,
            data: bytes | None = None,
            start: int | None = None,
            end: int | None = None,
        ) -> None:
            handler = self._handlers.get(name)
            if handler is not None:
                if data is None:
                    handler()
                else:
                    handler(data, start, end)


def _write_files(
    writes: list[tuple[SpooledTemporaryFile[bytes], memoryview | None]], spool_max_size: int
) -> None:
    """Run queued file writes and rewinds, in order (in a worker thread)."""
    for file, data in writes:
        if data is None:
            file.seek(0)
        else:
            if file.tell() + len(data) > spool_max_size:
                # Move to disk before writing, so the in-memory spool never grows past
                # its threshold (a no-op once on disk).
                file.rollover()
            file.write(data)


async def _close_stream(stream: AsyncGenerator[bytes, None]) -> None:
    # A parse stopped early leaves the body generator suspended; close it now
    # rather than leave it to the garbage collector (which the event loop may
    # no longer be around to run).
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with anyio.CancelScope(shield=True):
            await aclose()


def _parse_options_header(value: str | bytes | None) -> tuple[bytes, dict[bytes, bytes]]:
    """python-multipart's `parse_options_header`, with a quicker path for common values.

    Values with a backslash (escapes, Windows paths), an `*` (extended parameters)
    or a `;` inside quotes take the library's parser; the others are split here
    with the same results: `type; key=value; key="quoted value"` gives the
    lowercase type and the parameters, keys lowercased, quotes removed.
    """
    if not value:
        return b"", {}
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    multipart_type = _MULTIPART_CONTENT_TYPE.fullmatch(value)
    if multipart_type is not None:
        return b"multipart/form-data", {b"boundary": multipart_type[1].encode("latin-1")}
    if "\\" in value or "*" in value:
        return parse_options_header(value)
    content_type, *parameters = value.split(";")
    if not parameters:
        return value.lower().strip(" \t").encode("latin-1"), {}
    if "=" in content_type or '"' in content_type:
        return parse_options_header(value)
    options: dict[bytes, bytes] = {}
    for parameter in parameters:
        if parameter.count('"') % 2:
            return parse_options_header(value)
        key, equals, option = parameter.partition("=")
        if equals:
            key = key.strip(" \t").lower()
            option = option.strip(" \t")
            if len(option) >= 2 and option[0] == '"' and option[-1] == '"':
                option = option[1:-1]
        else:
            key = key.strip(" \t")
        options[key.encode("latin-1")] = option.encode("latin-1")
    return content_type.lower().strip(" \t").encode("latin-1"), options


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
