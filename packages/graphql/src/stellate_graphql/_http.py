"""GraphQL over HTTP: the transport of the GraphQL-over-HTTP specification.

One request goes: method and media types (405, 406, 415), CSRF prevention (400),
the body under a size limit (413), the request parameters (400), then the
executor. The status of a GraphQL answer depends on the negotiated media type:
with `application/graphql-response+json` a response without `data` (the document
did not parse or validate, or the variables did not coerce) is a 400; with
`application/json` every GraphQL answer is a 200, as the specification says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import aclosing
from typing import Any, NoReturn, Protocol

from graphql import GraphQLError, OperationType

from stellate_asgi.exceptions import HTTPException
from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_asgi.utils import parse_digits
from stellate_graphql._execution import (
    DocumentError,
    Executor,
    PersistedQueryNotFound,
    RequestError,
)
from stellate_graphql._graphiql import graphiql_page
from stellate_graphql._uploads import operations_with_files
from stellate_http.background import BackgroundTasks
from stellate_http.formparsers import MultiPartException
from stellate_http.requests import ClientDisconnect, Request
from stellate_http.responses import HTMLResponse, Response

__all__ = [
    "GRAPHQL_RESPONSE_JSON",
    "JSON",
    "PREFLIGHT_HEADERS",
    "HTTPApp",
    "negotiate",
    "serve_http",
]

#: The media type of the GraphQL-over-HTTP specification.
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
#: The legacy media type every client understands; the default.
JSON = "application/json"
#: Headers a browser only sends after a CORS preflight; any of them, non-empty,
#: proves a request is not a cross-site "simple" request.
PREFLIGHT_HEADERS = (
    "graphql-require-preflight",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)
#: Authorization schemes a browser attaches by itself once the user logged in.
AMBIENT_AUTH_SCHEMES = frozenset({"basic", "digest", "negotiate", "ntlm"})
#: `Sec-Fetch-Site` values with which the browser vouches for a same-origin request
#: ("none": the user typed the address or used a bookmark).
SAME_ORIGIN_SITES = frozenset({"same-origin", "none"})
#: Non-file fields of a multipart request: `operations` and `map`.
MAX_UPLOAD_FIELDS = 2

_UTF8 = frozenset({"utf-8", "utf8"})


class HTTPApp(Protocol):
    """What the HTTP transport reads from the `GraphQL` app."""

    @property
    def executor(self) -> Executor: ...
    @property
    def graphiql(self) -> bool: ...
    @property
    def graphiql_assets_url(self) -> str: ...
    @property
    def allow_get(self) -> bool: ...
    @property
    def batching(self) -> bool: ...
    @property
    def max_batch_size(self) -> int: ...
    @property
    def uploads(self) -> bool: ...
    @property
    def max_upload_size(self) -> int: ...
    @property
    def max_files(self) -> int: ...
    @property
    def max_body_size(self) -> int: ...
    @property
    def csrf_prevention(self) -> bool: ...
    @property
    def subscriptions(self) -> bool: ...
    async def context_for(self, connection: Request) -> Any: ...
    async def root_for(self, connection: Request) -> Any: ...


class _Refusal(Exception):
    """Stops a request with a plain HTTP error (not a GraphQL answer)."""

    def __init__(
        self, status_code: int, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = dict(headers or {})


class _BodyTooLarge(Exception):
    pass


async def serve_http(app: HTTPApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one HTTP request to the GraphQL endpoint."""
    request: Request = Request(scope, receive)
    accept = request.headers.get("accept")
    media_type = negotiate(accept)
    try:
        if request.method == "GET":
            if app.graphiql and _prefers_html(accept):
                response: Response = HTMLResponse(
                    graphiql_page(app.graphiql_assets_url, subscriptions=app.subscriptions),
                    headers={"vary": "Accept"},
                )
            else:
                response = await _serve_get(app, request, media_type)
        elif request.method == "POST":
            response = await _serve_post(app, request, media_type)
        else:
            allow = "GET, POST" if app.allow_get else "POST"
            raise _Refusal(405, f"GraphQL requests use {allow}.", {"allow": allow})
    except _Refusal as refusal:
        response = _error_response(refusal.status_code, refusal.message, refusal.headers)
    except ClientDisconnect:
        return
    try:
        await response(scope, receive, send)
    finally:
        await request.close()


def negotiate(accept: str | None) -> str | None:
    """The response media type for an `Accept` header, or None when none fits (406).

    No header (or an empty one) means `application/json`; so do `*/*` and
    `application/*`. Otherwise the acceptable type with the highest quality wins,
    the earlier one on a tie. A `charset` other than UTF-8 makes an entry unusable.
    """
    if accept is None or not accept.strip():
        return JSON
    best: tuple[float, int, str] | None = None
    wildcard: tuple[float, int] | None = None
    explicit: dict[str, tuple[float, int]] = {}
    for index, (media, quality) in enumerate(_parse_accept(accept)):
        if media in (GRAPHQL_RESPONSE_JSON, JSON):
            if media not in explicit:
                explicit[media] = (quality, index)
        elif media in ("*/*", "application/*") and (wildcard is None or quality > wildcard[0]):
            wildcard = (quality, index)
    candidates = dict(explicit)
    if JSON not in candidates and wildcard is not None:
        candidates[JSON] = wildcard
    for media, (quality, index) in candidates.items():
        if quality <= 0:
            continue
        if best is None or quality > best[0] or (quality == best[0] and index < best[1]):
            best = (quality, index, media)
    return None if best is None else best[2]


# -- GET ----------------------------------------------------------------------------


async def _serve_get(app: HTTPApp, request: Request, media_type: str | None) -> Response:
    if not app.allow_get:
        raise _Refusal(405, "GraphQL requests use POST.", {"allow": "POST"})
    if media_type is None:
        _not_acceptable()
    if app.csrf_prevention and _get_needs_preflight(request):
        raise _Refusal(400, _csrf_message("This GET request carries credentials"))
    params: dict[str, Any] = {}
    query_params = request.query_params
    try:
        for name in ("query", "operationName"):
            if name in query_params:
                params[name] = query_params[name]
        for name in ("variables", "extensions"):
            if name in query_params:
                params[name] = _json_parameter(name, query_params[name])
        operation = app.executor.prepare(params)
    except (RequestError, DocumentError) as error:
        return _prepare_error_response(app, request, error, media_type)
    if operation.operation_type is not OperationType.QUERY:
        kind = operation.operation_type.value
        if operation.operation_type is OperationType.SUBSCRIPTION:
            return _request_error_response("Subscriptions are served over WebSocket.", media_type)
        raise _Refusal(405, f"A {kind} cannot be sent with GET: use POST.", {"allow": "POST"})
    return await _run_single(app, request, operation, media_type)


def _json_parameter(name: str, value: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise RequestError(f"The '{name}' parameter must be a JSON-encoded object.") from None


def _get_needs_preflight(request: Request) -> bool:
    """A GET is refused when a browser may have sent it cross-site with the user's
    credentials: it has no preflight header, the browser does not vouch for it as
    same-origin, and it is cross-site or carries cookies or browser-managed
    authorization. A credential-less GET (a script, a CDN, the audit) passes."""
    if _has_preflight_header(request):
        return False
    site = request.headers.get("sec-fetch-site")
    if site in SAME_ORIGIN_SITES:
        return False
    if site is not None:
        return True  # "cross-site" or "same-site"
    if "cookie" in request.headers:
        return True
    scheme = request.headers.get("authorization", "").partition(" ")[0].lower()
    return scheme in AMBIENT_AUTH_SCHEMES


# -- POST ---------------------------------------------------------------------------


async def _serve_post(app: HTTPApp, request: Request, media_type: str | None) -> Response:
    content_type, content_params = _parse_content_type(request.headers.get("content-type"))
    if content_type == JSON:
        charset = content_params.get("charset", "utf-8").lower()
        if charset not in _UTF8:
            raise _Refusal(415, "A GraphQL request body must be UTF-8 encoded application/json.")
        if media_type is None:
            _not_acceptable()
        _check_content_length(request, app.max_body_size)
        try:
            body = await _read_body(request, app.max_body_size)
        except _BodyTooLarge:
            raise _too_large(app.max_body_size) from None
        try:
            payload = _parse_json_body(body)
        except RequestError as error:
            return _request_error_response(error.message, media_type)
        return await _run_payload(app, request, payload, media_type)
    if content_type == "multipart/form-data" and app.uploads:
        if media_type is None:
            _not_acceptable()
        if app.csrf_prevention and _post_needs_preflight(request):
            raise _Refusal(400, _csrf_message("A multipart request"))
        return await _serve_multipart(app, request, media_type)
    if content_type is None:
        raise _Refusal(415, "A GraphQL POST needs a Content-Type: use application/json.")
    accepted = "application/json or multipart/form-data" if app.uploads else "application/json"
    raise _Refusal(415, f"Unsupported Content-Type {content_type!r}: use {accepted}.")


def _post_needs_preflight(request: Request) -> bool:
    """A POST whose content type a form can send is refused without a preflight
    header, unless the browser vouches for it as same-origin."""
    if _has_preflight_header(request):
        return False
    return request.headers.get("sec-fetch-site") not in SAME_ORIGIN_SITES


def _parse_json_body(body: bytes) -> Any:
    if not body.strip():
        raise RequestError("The request body is empty: send a JSON object with a 'query'.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("The request body is not valid UTF-8.") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise RequestError("The request body is nested too deeply.") from None
    except ValueError as error:
        raise RequestError(f"The request body is not valid JSON: {error}.") from None


async def _run_payload(app: HTTPApp, request: Request, payload: Any, media_type: str) -> Response:
    if isinstance(payload, dict):
        try:
            operation = app.executor.prepare(payload)
        except (RequestError, DocumentError) as error:
            return _prepare_error_response(app, request, error, media_type)
        if operation.operation_type is OperationType.SUBSCRIPTION:
            return _request_error_response("Subscriptions are served over WebSocket.", media_type)
        return await _run_single(app, request, operation, media_type)
    if isinstance(payload, list):
        if not app.batching:
            return _request_error_response(
                "Batched requests are not enabled: send one JSON object.", media_type
            )
        if not payload:
            return _request_error_response("The batch is empty.", media_type)
        if len(payload) > app.max_batch_size:
            return _request_error_response(
                f"The batch has {len(payload)} operations;"
                f" at most {app.max_batch_size} are allowed.",
                media_type,
            )
        return await _run_batch(app, request, payload, media_type)
    return _request_error_response(
        "The request body must be a JSON object (a GraphQL request).", media_type
    )


# -- running ------------------------------------------------------------------------


async def _run_single(app: HTTPApp, request: Request, operation: Any, media_type: str) -> Response:
    context = await app.context_for(request)
    root = await app.root_for(request)
    result = await app.executor.execute(operation, context_value=context, root_value=root)
    body = app.executor.format_result(result)
    status = 400 if media_type == GRAPHQL_RESPONSE_JSON and "data" not in body else 200
    return _json_response(body, status, media_type, background=_background(context))


async def _run_batch(
    app: HTTPApp, request: Request, payloads: Sequence[Any], media_type: str
) -> Response:
    """Each operation of a batch answers in its own slot, in order; they run one
    after the other (mutations in a batch keep their order) with one context."""
    context = await app.context_for(request)
    root = await app.root_for(request)
    results: list[dict[str, Any]] = []
    for payload in payloads:
        try:
            if not isinstance(payload, dict):
                raise RequestError("Each operation of a batch must be a JSON object.")
            operation = app.executor.prepare(payload)
            if operation.operation_type is OperationType.SUBSCRIPTION:
                raise RequestError("Subscriptions are served over WebSocket.")
        except RequestError as error:
            results.append({"errors": app.executor.format_errors([GraphQLError(error.message)])})
            continue
        except DocumentError as error:
            results.append({"errors": app.executor.format_errors(error.errors)})
            continue
        result = await app.executor.execute(operation, context_value=context, root_value=root)
        results.append(app.executor.format_result(result))
    return _json_response(results, 200, media_type, background=_background(context))


def _background(context: Any) -> BackgroundTasks | None:
    if isinstance(context, dict):
        tasks = context.get("background")
        if isinstance(tasks, BackgroundTasks) and tasks.tasks:
            return tasks
    return None


# -- uploads (the GraphQL multipart request specification) --------------------------


async def _serve_multipart(app: HTTPApp, request: Request, media_type: str) -> Response:
    _check_content_length(request, app.max_upload_size)
    limited: Request = Request(
        request.scope, _limited_receive(request.receive, app.max_upload_size)
    )
    try:
        form = await limited.form(
            max_files=app.max_files,
            max_fields=MAX_UPLOAD_FIELDS,
            max_part_size=app.max_body_size,
        )
    except _BodyTooLarge:
        raise _too_large(app.max_upload_size) from None
    except (MultiPartException, HTTPException) as error:
        detail = getattr(error, "message", None) or getattr(error, "detail", "")
        return _request_error_response(f"Invalid multipart request: {detail}", media_type)
    try:
        try:
            payload = operations_with_files(form)
        except RequestError as error:
            return _request_error_response(error.message, media_type)
        return await _run_payload(app, request, payload, media_type)
    finally:
        await form.close()


# -- bodies -------------------------------------------------------------------------


def _check_content_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    # A hostile length of thousands of digits must be a 413, never a 500.
    length = None if declared is None else parse_digits(declared, len(str(limit)), limit + 1)
    if length is not None and length > limit:
        raise _too_large(limit)


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async with aclosing(request.stream()) as stream:
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge()
            chunks.append(chunk)
    return b"".join(chunks)


def _limited_receive(receive: Receive, limit: int) -> Receive:
    received = 0

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyTooLarge()
        return message

    return limited


def _too_large(limit: int) -> _Refusal:
    return _Refusal(413, f"The request body is larger than the limit of {limit} bytes.")


# -- responses ----------------------------------------------------------------------


def _prepare_error_response(
    app: HTTPApp, request: Request, error: RequestError | DocumentError, media_type: str
) -> Response:
    if isinstance(error, RequestError):
        return _request_error_response(error.message, media_type)
    body = {"errors": app.executor.format_errors(error.errors)}
    if isinstance(error, PersistedQueryNotFound) and _accepts_json(request.headers.get("accept")):
        # Apollo's clients retry with the query text on a 200 but stop sending
        # hashes after a 400: answer in application/json, which the client takes.
        return _json_response(
            body, 200, JSON, headers={"cache-control": "private, no-cache, must-revalidate"}
        )
    status = 400 if media_type == GRAPHQL_RESPONSE_JSON else 200
    return _json_response(body, status, media_type)


def _request_error_response(message: str, media_type: str) -> Response:
    return _json_response({"errors": [{"message": message}]}, 400, media_type)


def _error_response(status_code: int, message: str, headers: Mapping[str, str]) -> Response:
    return _json_response({"errors": [{"message": message}]}, status_code, JSON, headers=headers)


def _json_response(
    content: Any,
    status_code: int,
    media_type: str,
    *,
    headers: Mapping[str, str] | None = None,
    background: BackgroundTasks | None = None,
) -> Response:
    try:
        body = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        # a lone surrogate (from a client's own string) cannot be UTF-8: escape it
        body = json.dumps(content, separators=(",", ":")).encode("ascii")
    all_headers = {"content-type": f"{media_type}; charset=utf-8", "vary": "Accept"}
    all_headers.update(headers or {})
    return Response(body, status_code, headers=all_headers, background=background)


def _not_acceptable() -> NoReturn:
    raise _Refusal(
        406,
        f"Not Acceptable: GraphQL responses are {GRAPHQL_RESPONSE_JSON} or {JSON}.",
    )


def _csrf_message(what: str) -> str:
    names = ", ".join(name.title() for name in PREFLIGHT_HEADERS[:2])
    return (
        f"{what} but could have been sent cross-site without a CORS preflight, so it is"
        f" refused (CSRF prevention). Send a non-empty {names} header, or POST application/json."
    )


def _has_preflight_header(request: Request) -> bool:
    return any(request.headers.get(name, "").strip() for name in PREFLIGHT_HEADERS)


def _accepts_json(accept: str | None) -> bool:
    if accept is None or not accept.strip():
        return True
    return any(
        media in (JSON, "application/*", "*/*") and quality > 0
        for media, quality in _parse_accept(accept)
    )


def _prefers_html(accept: str | None) -> bool:
    """Whether the client asks for HTML at least as much as for JSON (a browser
    navigating to the endpoint), so GraphiQL is the answer."""
    if not accept:
        return False
    html: tuple[float, int] | None = None
    data: tuple[float, int] | None = None
    for index, (media, quality) in enumerate(_parse_accept(accept)):
        if media == "text/html" and html is None:
            html = (quality, index)
        elif media in (GRAPHQL_RESPONSE_JSON, JSON, "*/*", "application/*") and (
            data is None or quality > data[0]
        ):
            data = (quality, index)
    if html is None or html[0] <= 0:
        return False
    return data is None or html[0] > data[0] or (html[0] == data[0] and html[1] < data[1])


def _parse_accept(accept: str) -> list[tuple[str, float]]:
    """(media type, quality) per entry; entries whose `charset` is not UTF-8 and
    entries with a malformed quality are dropped."""
    entries: list[tuple[str, float]] = []
    for item in accept.split(","):
        media, _, rest = item.partition(";")
        media = media.strip().lower()
        if not media:
            continue
        quality = 1.0
        usable = True
        for param in rest.split(";"):
            key, _, value = param.partition("=")
            key = key.strip().lower()
            value = value.strip().strip('"').lower()
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    usable = False
                if not 0 <= quality <= 1:
                    usable = False
            elif key == "charset" and value not in _UTF8:
                usable = False
        if usable:
            entries.append((media, quality))
    return entries


def _parse_content_type(header: str | None) -> tuple[str | None, dict[str, str]]:
    if header is None or not header.strip():
        return None, {}
    media, _, rest = header.partition(";")
    params: dict[str, str] = {}
    for param in rest.split(";"):
        key, _, value = param.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), params
