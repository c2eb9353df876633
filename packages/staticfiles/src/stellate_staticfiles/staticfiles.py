"""`StaticFiles`: an ASGI app serving the files of directories and packages.

Every file system call runs in a worker thread. Requested paths are contained in
the served directories by whole path components; anything that could name a file
outside them (`..`, NUL bytes, absolute, drive or UNC paths, backslashes where they
are not separators, over-long names, symlinks leaving the root unless
`follow_symlink=True`) is answered 404. Precompressed siblings (`name.zst`,
`name.br`, `name.gz`) are served to clients that accept their encoding.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import re
import stat
from dataclasses import dataclass
from email.utils import mktime_tz, parsedate_tz
from mimetypes import guess_type

import anyio.to_thread

from stellate_asgi.datastructures import URL, Headers, MutableHeaders
from stellate_asgi.exceptions import HTTPException
from stellate_asgi.types import Receive, Scope, Send
from stellate_asgi.utils import get_route_path
from stellate_http._ranges import likely_region
from stellate_http._sending import Prefetched, read_ahead
from stellate_http.responses import FileResponse, RedirectResponse, Response

__all__ = ["NotModifiedResponse", "PathLike", "StaticFiles"]

PathLike = str | os.PathLike[str]

# A relative path longer than this names no servable file (Linux's PATH_MAX is 4096);
# refusing it up front bounds the work a hostile URL can cause.
_MAX_PATH_LENGTH = 4096
# Errors that mean "no such file here", however odd the path that caused them.
_NOT_FOUND_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.ELOOP, errno.EINVAL})
# RFC 9110 `qvalue`: 0 to 1 with at most three decimals.
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")


class NotModifiedResponse(Response):
    """A 304 answer that keeps only the headers RFC 9110 (15.4.5) lets it repeat."""

    NOT_MODIFIED_HEADERS = (
        "cache-control",
        "content-location",
        "date",
        "etag",
        "expires",
        "vary",
    )

    def __init__(self, headers: Headers) -> None:
        super().__init__(
            status_code=304,
            headers={
                name: value for name, value in headers.items() if name in self.NOT_MODIFIED_HEADERS
            },
        )


class StaticFiles:
    """Serve the files of `directory` and of the `statics` folders of `packages`.

    `packages` items are package names (their `statics` folder is served) or
    `(package, folder)` pairs. With `html=True`, a directory URL serves its
    `index.html` (redirecting to add the trailing slash) and a miss serves the root
    `404.html` when there is one. `check_dir` checks `directory` when the app is built;
    `follow_symlink=True` lets symlinks inside the tree point anywhere.
    """

    # The precompressed siblings looked for, as (content-coding, file suffix), in the
    # order preferred when the client rates several encodings equally. Set it to `()`
    # (on a subclass or an instance) to serve only the files as named.
    precompressed: tuple[tuple[str, str], ...] = (("zstd", ".zst"), ("br", ".br"), ("gzip", ".gz"))

    def __init__(
        self,
        *,
        directory: PathLike | None = None,
        packages: list[str | tuple[str, str]] | None = None,
        html: bool = False,
        check_dir: bool = True,
        follow_symlink: bool = False,
    ) -> None:
        self.directory = directory
        self.packages = packages
        self.all_directories = self.get_directories(directory, packages)
        self.html = html
        self.config_checked = False
        self.follow_symlink = follow_symlink
        if check_dir and directory is not None and not os.path.isdir(directory):
            raise RuntimeError(f"Directory '{directory}' does not exist")

    def get_directories(
        self,
        directory: PathLike | None = None,
        packages: list[str | tuple[str, str]] | None = None,
    ) -> list[PathLike]:
        """Every directory to serve from: `directory`, then each package's folder.

        Raises `AssertionError` (as Starlette does) for a package that cannot be found
        or that has no such folder.
        """
        directories: list[PathLike] = []
        if directory is not None:
            directories.append(directory)
        for package in packages or []:
            if isinstance(package, tuple):
                package, statics_dir = package
            else:
                statics_dir = "statics"
            origin = _package_origin(package)
            if origin is None:
                raise AssertionError(f"Package {package!r} could not be found.")
            package_directory = os.path.normpath(os.path.join(origin, "..", statics_dir))
            if not os.path.isdir(package_directory):
                raise AssertionError(
                    f"Directory '{statics_dir!r}' in package {package!r} could not be found."
                )
            directories.append(package_directory)
        return directories

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # A `Mount` passes websockets on too: refuse the handshake (servers answer
            # 403), before any configuration or file system check.
            await send({"type": "websocket.close", "code": 1000, "reason": ""})
            return
        if scope["type"] != "http":
            raise AssertionError(f"StaticFiles cannot serve a {scope['type']!r} scope.")
        if not self.config_checked:
            await self.check_config()
            self.config_checked = True
        path = self.get_path(scope)
        response = await self.get_response(path, scope)
        await response(scope, receive, send)

    def get_path(self, scope: Scope) -> str:
        """The route path as a relative OS path, with `.` and inner `..` folded away.

        A leading `..` survives (`/../x` gives `../x`); `lookup_path` refuses it.
        """
        route_path = get_route_path(scope)
        return os.path.normpath(os.path.join(*route_path.split("/")))

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The response for `path`; raises `HTTPException` (404, 405, 401) otherwise."""
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=405, headers={"Allow": "GET, HEAD"})

        region = _likely_region(scope)
        found = await self._lookup(path, with_siblings=True, region=region)
        if (file_stat := found.file_stat()) is not None:
            return self._negotiated_file_response(found, file_stat, scope)

        if found.stat_result is not None and stat.S_ISDIR(found.stat_result.st_mode) and self.html:
            index_path = os.path.join(path, "index.html")
            found = await self._lookup(index_path, with_siblings=True, region=region)
            if (file_stat := found.file_stat()) is not None:
                if not scope["path"].endswith("/"):
                    # Relative links in the page resolve against the directory only
                    # when its URL ends in "/".
                    url = URL(scope=scope)
                    return RedirectResponse(url=url.replace(path=url.path + "/"))
                return self._negotiated_file_response(found, file_stat, scope)

        if self.html:
            found = await self._lookup(
                "404.html", with_siblings=False, region=likely_region(scope, 404)
            )
            if (file_stat := found.file_stat()) is not None:
                response = FileResponse(found.full_path, stat_result=file_stat, status_code=404)
                response._prefetched = found.prefetched
                return response
        raise HTTPException(status_code=404)

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        """The full path and `os.stat` of `path` in the first directory holding it.

        `("", None)` when no directory holds it, or when `path` is not a plain relative
        path that stays inside the directory (see the module docstring). Blocking:
        call it in a worker thread.
        """
        if not _is_plain_relative(path):
            return "", None
        for directory in self.all_directories:
            joined_path = os.path.join(directory, path)
            if self.follow_symlink:
                full_path = os.path.abspath(joined_path)
                root = os.path.abspath(directory)
            else:
                root = os.path.realpath(directory)
                found = _resolve_plain(root, path)
                if found is not None:
                    return found
                full_path = os.path.realpath(joined_path)
            if not _is_within(full_path, root):
                continue
            try:
                return full_path, os.stat(full_path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                if exc.errno in _NOT_FOUND_ERRNOS:
                    continue
                raise
        return "", None

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """A `FileResponse` for the file, or a `NotModifiedResponse` when the request's
        validators show the client already has it."""
        request_headers = Headers(scope=scope)
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        if self.is_not_modified(response.headers, request_headers):
            return NotModifiedResponse(response.headers)
        return response

    async def check_config(self) -> None:
        """Check once, on the first request, that `directory` exists and is a directory.

        Raises `RuntimeError` rather than answering every request with a 404.
        """
        if self.directory is None:
            return
        try:
            stat_result = await anyio.to_thread.run_sync(os.stat, self.directory)
        except FileNotFoundError:
            raise RuntimeError(f"StaticFiles directory '{self.directory}' does not exist.")
        if not (stat.S_ISDIR(stat_result.st_mode) or stat.S_ISLNK(stat_result.st_mode)):
            raise RuntimeError(f"StaticFiles path '{self.directory}' is not a directory.")

    def is_not_modified(self, response_headers: Headers, request_headers: Headers) -> bool:
        """Whether the request's `If-None-Match` (or, without one, `If-Modified-Since`)
        shows that the client's copy is current (RFC 9110, 13.1.2 and 13.1.3)."""
        if if_none_match := request_headers.get("if-none-match"):
            tags = [tag.strip() for tag in if_none_match.split(",")]
            if "*" in tags:
                return True
            etag = response_headers.get("etag")
            # If-None-Match uses the weak comparison: `W/"x"` matches `"x"`.
            return etag is not None and _opaque_tag(etag) in {_opaque_tag(tag) for tag in tags}

        if_modified_since = _http_timestamp(request_headers.get("if-modified-since"))
        last_modified = _http_timestamp(response_headers.get("last-modified"))
        return (
            if_modified_since is not None
            and last_modified is not None
            and if_modified_since >= last_modified
        )

    # Helpers

    async def _lookup(
        self, path: str, *, with_siblings: bool, region: tuple[int, int | None] | None
    ) -> _Found:
        """`lookup_path`, the precompressed siblings and the file's likely `region` (when
        it has no sibling to stand in for it) in one worker-thread trip."""

        def lookup() -> _Found:
            full_path, stat_result = self.lookup_path(path)
            found = _Found(full_path, stat_result, {}, None)
            if (file_stat := found.file_stat()) is None:
                return found
            if with_siblings:
                found.siblings = self._find_siblings(full_path, file_stat)
            if not found.siblings:
                # Read now rather than in a worker-thread call of its own when sent.
                found.prefetched = read_ahead(full_path, file_stat, region, FileResponse.chunk_size)
            return found

        try:
            return await anyio.to_thread.run_sync(lookup)
        except PermissionError:
            raise HTTPException(status_code=401)
        except ValueError:
            # NUL bytes or other characters the OS refuses in a path.
            raise HTTPException(status_code=404)
        except OSError as exc:
            if exc.errno in _NOT_FOUND_ERRNOS:
                raise HTTPException(status_code=404)
            raise

    def _find_siblings(
        self, full_path: str, stat_result: os.stat_result
    ) -> dict[str, tuple[str, os.stat_result]]:
        """The precompressed siblings of `full_path` that may stand in for it, by encoding.

        A sibling counts when it is a regular file at least as new as the original (a
        stale one is ignored) and, unless `follow_symlink`, not itself a symlink (the
        original's directory is already resolved, so it stays inside the root).
        """
        siblings: dict[str, tuple[str, os.stat_result]] = {}
        check = os.stat if self.follow_symlink else os.lstat
        for encoding, suffix in self.precompressed:
            candidate = full_path + suffix
            try:
                candidate_stat = check(candidate)
            except (OSError, ValueError):
                continue
            if (
                stat.S_ISREG(candidate_stat.st_mode)
                and candidate_stat.st_mtime >= stat_result.st_mtime
            ):
                siblings[encoding] = (candidate, candidate_stat)
        return siblings

    def _negotiated_file_response(
        self, found: _Found, stat_result: os.stat_result, scope: Scope
    ) -> Response:
        """`file_response` for the file found (whose stat is `stat_result`), or for the
        precompressed sibling the client prefers; `Vary: Accept-Encoding` whenever a
        sibling exists."""
        full_path, siblings = found.full_path, found.siblings
        if not siblings:
            response = self.file_response(full_path, stat_result, scope)
            # (Unless a subclass's `file_response` made a response of its own.)
            if type(response) is FileResponse and response.path == full_path:
                response._prefetched = found.prefetched
            return response
        request_headers = Headers(scope=scope)
        encoding = None
        # Byte ranges always address the file as named, so a resumed download or a
        # media seek never depends on which encoding the client happens to accept.
        if "range" not in request_headers:
            encoding = _choose_encoding(
                request_headers.get("accept-encoding"),
                [name for name, _ in self.precompressed if name in siblings],
            )
        if encoding is None:
            response = self.file_response(full_path, stat_result, scope)
        else:
            sibling_path, sibling_stat = siblings[encoding]
            response = self.file_response(sibling_path, sibling_stat, scope)
            if response.status_code != 304:
                response.headers["content-encoding"] = encoding
                response.headers["content-type"] = _content_type(full_path, response.charset)
        _add_vary(response.headers, "Accept-Encoding")
        return response


@dataclass(slots=True)
class _Found:
    """What `StaticFiles._lookup` found for a path (`stat_result` None for nothing)."""

    full_path: str
    stat_result: os.stat_result | None
    # The precompressed siblings that may stand in for the file, by encoding.
    siblings: dict[str, tuple[str, os.stat_result]]
    # The file's likely body, read along (see `_likely_region`).
    prefetched: Prefetched | None

    def file_stat(self) -> os.stat_result | None:
        """`stat_result` if what was found is a regular file, else None."""
        if self.stat_result is not None and stat.S_ISREG(self.stat_result.st_mode):
            return self.stat_result
        return None


def _likely_region(scope: Scope) -> tuple[int, int | None] | None:
    # The region of the file a request will likely get, to read with the lookup; none
    # for a conditional request, which is likely to be answered 304, and none for a
    # bare scope given to `get_response` (whose answer may need no headers).
    if "headers" not in scope:
        return None
    headers = Headers(scope=scope)
    if "if-none-match" in headers or "if-modified-since" in headers:
        return None
    return likely_region(scope)


def _package_origin(package: str) -> str | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        # A missing parent package ("missing.sub"), or an empty or relative name.
        return None
    if spec is None:
        return None
    return spec.origin


def _is_plain_relative(path: str) -> bool:
    """Whether `path` is relative, free of `..` and characters the OS would mistreat."""
    if len(path) > _MAX_PATH_LENGTH or "\x00" in path:
        return False
    separators = {os.sep, os.altsep} - {None}
    # A backslash that is not a separator here is one on Windows: refuse it everywhere,
    # so the same tree is served the same way on every OS.
    if "\\" in path and "\\" not in separators:
        return False
    # ":" names a drive or an NTFS alternate data stream on Windows.
    if os.name == "nt" and ":" in path:
        return False
    if os.path.isabs(path) or os.path.splitdrive(path)[0]:
        return False
    if os.altsep:
        path = path.replace(os.altsep, os.sep)
    return ".." not in path.split(os.sep)


def _resolve_plain(root: str, path: str) -> tuple[str, os.stat_result] | None:
    """The real path and `stat` of `path` under the real directory `root`, when no
    component of `path` is a symlink (or empty, `.` or `..`); None otherwise.

    Such a path's real path is `root` joined with it, inside `root` by construction, and
    the `lstat` of its last component is its `stat`: one call per component, where
    `realpath` makes one for every component of `root` as well, then `stat` one more.
    Anything else (a symlink, an error, Windows) is left to `realpath`, which gives the
    answer it always gave.
    """
    if os.sep != "/" or os.altsep is not None:
        return None
    full_path = root
    stat_result: os.stat_result | None = None
    for name in path.split("/"):
        if name in ("", ".", ".."):
            return None
        full_path = os.path.join(full_path, name)
        try:
            stat_result = os.lstat(full_path)
        except (OSError, ValueError):
            return None
        if stat.S_ISLNK(stat_result.st_mode):
            return None
    return None if stat_result is None else (full_path, stat_result)


def _is_within(full_path: str, root: str) -> bool:
    """Whether `full_path` is `root` or below it, compared by whole path components."""
    try:
        return os.path.commonpath([full_path, root]) == root
    except ValueError:
        # Different drives, or one path absolute and the other not.
        return False


def _opaque_tag(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def _http_timestamp(value: str | None) -> float | None:
    """The POSIX time of an HTTP date; `None` when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = parsedate_tz(value)
        return None if parsed is None else float(mktime_tz(parsed))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _choose_encoding(accept_encoding: str | None, available: list[str]) -> str | None:
    """The content-coding of `available` (in server preference order) that the
    `Accept-Encoding` value rates highest, or `None` for the file as it is."""
    if not accept_encoding or not available:
        return None
    ratings: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, parameters = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                # An unreadable weight rates the coding "not acceptable".
                quality = float(value) if _QVALUE.fullmatch(value) else 0.0
        if coding == "x-gzip":  # RFC 9110, 8.4.1.3: the same coding as gzip.
            coding = "gzip"
        ratings[coding] = max(quality, ratings.get(coding, 0.0))
    fallback = ratings.get("*", 0.0)
    best, best_quality = None, 0.0
    for encoding in available:
        quality = ratings.get(encoding, fallback)
        if quality > best_quality:
            best, best_quality = encoding, quality
    # The file as it is wins only when the client rates "identity" above the rest.
    if best is not None and ratings.get("identity", 0.0) > best_quality:
        return None
    return best


def _content_type(path: str, charset: str) -> str:
    """The `content-type` that `FileResponse` gives the file at `path`."""
    media_type = guess_type(path)[0] or "application/octet-stream"
    if media_type.startswith("text/"):
        media_type += f"; charset={charset}"
    return media_type


def _add_vary(headers: MutableHeaders, name: str) -> None:
    present = {
        part.strip().lower() for value in headers.getlist("vary") for part in value.split(",")
    }
    if name.lower() not in present and "*" not in present:
        headers.add_vary_header(name)
