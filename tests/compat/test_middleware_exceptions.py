"""Starlette-compatible exception handling, through the umbrella: `HTTPException` and
`WebSocketException` themselves, `ExceptionMiddleware` with its handlers, and
`ServerErrorMiddleware` with its plain and debug responses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from stellate import status
from stellate.applications import Stellate
from stellate.background import BackgroundTask
from stellate.exceptions import HTTPException, WebSocketException
from stellate.middleware.errors import ServerErrorMiddleware
from stellate.middleware.exceptions import ExceptionMiddleware
from stellate.requests import Request
from stellate.responses import JSONResponse, PlainTextResponse, Response
from stellate.routing import Route, Router, WebSocketRoute
from stellate.testclient import TestClient, WebSocketDenialResponse
from stellate.types import Receive, Scope, Send
from stellate.websockets import WebSocket, WebSocketDisconnect
from tests.conftest import TestClientFactory

# --- an application in the style of Starlette's exception tests ---------------------


def raise_runtime_error(request: Request) -> None:
    raise RuntimeError("Yikes")


def not_acceptable(request: Request) -> None:
    raise HTTPException(status_code=406)


def no_content(request: Request) -> None:
    raise HTTPException(status_code=204)


def not_modified(request: Request) -> None:
    raise HTTPException(status_code=304)


def with_headers(request: Request) -> None:
    raise HTTPException(status_code=200, headers={"x-potato": "always"})


class BadBodyError(HTTPException):
    pass


async def read_body_then_raise(request: Request) -> None:
    await request.body()
    raise BadBodyError(422)


async def handler_reading_the_body(request: Request, exc: Exception) -> Response:
    # The body was consumed by the endpoint: this is the same Request, so it is cached.
    body = await request.body()
    return JSONResponse({"body": body.decode()}, status_code=422)


class RaiseAfterResponse:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("OK")(scope, receive, send)
        raise HTTPException(status_code=406)


router = Router(
    routes=[
        Route("/runtime_error", raise_runtime_error),
        Route("/not_acceptable", not_acceptable),
        Route("/no_content", no_content),
        Route("/not_modified", not_modified),
        Route("/with_headers", with_headers),
        Route("/handled_exc_after_response", RaiseAfterResponse()),
        WebSocketRoute("/runtime_error", raise_runtime_error),
        Route("/consume_body", read_body_then_raise, methods=["POST"]),
    ]
)

app = ExceptionMiddleware(router, handlers={BadBodyError: handler_reading_the_body})


@pytest.fixture
def client(test_client_factory: TestClientFactory) -> Iterator[TestClient]:
    with test_client_factory(app) as client:
        yield client


def test_not_acceptable(client: TestClient) -> None:
    response = client.get("/not_acceptable")
    assert response.status_code == 406
    assert response.text == "Not Acceptable"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_no_content_has_no_body(client: TestClient) -> None:
    response = client.get("/no_content")
    assert response.status_code == 204
    assert "content-length" not in response.headers
    assert response.content == b""


def test_not_modified_has_no_body(client: TestClient) -> None:
    response = client.get("/not_modified")
    assert response.status_code == 304
    assert response.text == ""


def test_exception_headers(client: TestClient) -> None:
    response = client.get("/with_headers")
    assert response.status_code == 200
    assert response.headers["x-potato"] == "always"


def test_unhandled_errors_propagate(client: TestClient) -> None:
    with pytest.raises(RuntimeError, match="Yikes"):
        client.get("/runtime_error")


def test_unhandled_websocket_errors_propagate(client: TestClient) -> None:
    with pytest.raises(RuntimeError, match="Yikes"), client.websocket_connect("/runtime_error"):
        pass  # pragma: no cover


def test_handled_exception_after_response_started(
    test_client_factory: TestClientFactory, client: TestClient
) -> None:
    message = "Caught handled exception, but response already started."
    with pytest.raises(RuntimeError, match=re.escape(message)):
        client.get("/handled_exc_after_response")
    # What the client saw: the response that had been sent.
    response = test_client_factory(app, raise_server_exceptions=False).get(
        "/handled_exc_after_response"
    )
    assert response.status_code == 200
    assert response.text == "OK"


def test_handler_gets_the_request_the_endpoint_used(client: TestClient) -> None:
    response = client.post("/consume_body", content=b"Hello!")
    assert response.status_code == 422
    assert response.json() == {"body": "Hello!"}


@pytest.mark.parametrize(
    ("status_code", "detail", "expected"),
    [
        (404, None, "Not Found"),
        (499, None, ""),
        (599, None, ""),
        (499, "Client Closed Request", "Client Closed Request"),
        (499, "", ""),
        (404, "", ""),
    ],
)
def test_http_exception_detail(
    test_client_factory: TestClientFactory, status_code: int, detail: str | None, expected: str
) -> None:
    async def endpoint(request: Request) -> None:
        raise HTTPException(status_code, detail=detail, headers={"x-potato": "always"})

    with test_client_factory(ExceptionMiddleware(Router([Route("/", endpoint)]))) as client:
        response = client.get("/")
    assert response.status_code == status_code
    assert response.text == expected
    assert response.headers["x-potato"] == "always"


def test_http_exception_does_not_use_the_threadpool(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stellate import _exception_handler

    def fail(*args: Any, **kwargs: Any) -> None:
        pytest.fail("the default HTTPException handler is async")  # pragma: no cover

    monkeypatch.setattr(_exception_handler, "run_in_threadpool", fail)
    assert client.get("/not_acceptable").status_code == 406


# --- the exceptions themselves ------------------------------------------------------


def test_http_exception_str_and_repr() -> None:
    assert str(HTTPException(status_code=404)) == "404: Not Found"
    assert str(HTTPException(404, "Not Found: foo")) == "404: Not Found: foo"
    assert str(HTTPException(404, headers={"key": "value"})) == "404: Not Found"
    assert repr(HTTPException(404)) == "HTTPException(status_code=404, detail='Not Found')"
    assert (
        repr(HTTPException(404, detail="Not Found: foo"))
        == "HTTPException(status_code=404, detail='Not Found: foo')"
    )

    class CustomHTTPException(HTTPException):
        pass

    assert (
        repr(CustomHTTPException(500, detail="Something custom"))
        == "CustomHTTPException(status_code=500, detail='Something custom')"
    )


def test_http_exception_attributes() -> None:
    exc = HTTPException(401, headers={"WWW-Authenticate": "Bearer"})
    assert exc.status_code == 401
    assert exc.detail == "Unauthorized"
    assert exc.headers == {"WWW-Authenticate": "Bearer"}
    assert HTTPException(600, detail="Custom").detail == "Custom"


def test_websocket_exception_str_and_repr() -> None:
    assert str(WebSocketException(1008)) == "1008: "
    assert str(WebSocketException(1008, "Policy Violation")) == "1008: Policy Violation"
    assert (
        repr(WebSocketException(1008, reason="Policy Violation"))
        == "WebSocketException(code=1008, reason='Policy Violation')"
    )

    class CustomWebSocketException(WebSocketException):
        pass

    assert (
        repr(CustomWebSocketException(1013, reason="Something custom"))
        == "CustomWebSocketException(code=1013, reason='Something custom')"
    )


# --- handlers by status code and by class -------------------------------------------


class ParentError(Exception):
    pass


class ChildError(ParentError):
    pass


def test_handlers_by_status_code_and_class(test_client_factory: TestClientFactory) -> None:
    async def by_status(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"status": exc.status_code}, status_code=exc.status_code)

    def by_class(request: Request, exc: Exception) -> Response:  # a sync handler
        return PlainTextResponse(f"class {type(exc).__name__}", status_code=418)

    async def missing(request: Request) -> None:
        raise HTTPException(404)

    async def forbidden(request: Request) -> None:
        raise HTTPException(403, detail="no")

    async def child(request: Request) -> None:
        raise ChildError()

    routes = [Route("/404", missing), Route("/403", forbidden), Route("/child", child)]
    middleware = ExceptionMiddleware(
        Router(routes), handlers={404: by_status, ParentError: by_class}
    )
    client = test_client_factory(middleware)
    response = client.get("/404")
    assert (response.status_code, response.json()) == (404, {"status": 404})
    # Not registered by code: the default HTTPException handler answers.
    response = client.get("/403")
    assert (response.status_code, response.text) == (403, "no")
    response = client.get("/child")
    assert (response.status_code, response.text) == (418, "class ChildError")


def test_most_specific_class_handler_wins(test_client_factory: TestClientFactory) -> None:
    def parent(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("parent", status_code=500)

    def child(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("child", status_code=500)

    async def endpoint(request: Request) -> None:
        raise ChildError()

    handlers: dict[Any, Any] = {ParentError: parent, ChildError: child}
    client = test_client_factory(ExceptionMiddleware(Router([Route("/", endpoint)]), handlers))
    assert client.get("/").text == "child"


def test_status_handler_takes_precedence_over_class_handler(
    test_client_factory: TestClientFactory,
) -> None:
    def by_class(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("class", status_code=400)

    def by_status(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("status", status_code=400)

    async def endpoint(request: Request) -> None:
        raise HTTPException(400)

    handlers: dict[Any, Any] = {HTTPException: by_class, 400: by_status}
    client = test_client_factory(ExceptionMiddleware(Router([Route("/", endpoint)]), handlers))
    assert client.get("/").text == "status"


def test_add_exception_handler(test_client_factory: TestClientFactory) -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("handled value error", status_code=400)

    async def endpoint(request: Request) -> None:
        raise ValueError("bad")

    middleware = ExceptionMiddleware(Router([Route("/", endpoint)]))
    middleware.add_exception_handler(ValueError, handler)
    response = test_client_factory(middleware).get("/")
    assert (response.status_code, response.text) == (400, "handled value error")


def test_handlers_annotations_accept_sync_and_async() -> None:
    async def async_handler(request: Request, exc: Exception) -> Response:
        raise NotImplementedError  # pragma: no cover

    def sync_handler(request: Request, exc: Exception) -> Response:
        raise NotImplementedError  # pragma: no cover

    ExceptionMiddleware(router, handlers={Exception: sync_handler})
    ExceptionMiddleware(router, handlers={Exception: async_handler})


# --- WebSockets ---------------------------------------------------------------------


def test_websocket_exception_closes_with_its_code(test_client_factory: TestClientFactory) -> None:
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        raise WebSocketException(code=status.WS_1003_UNSUPPORTED_DATA, reason="no")

    client = test_client_factory(ExceptionMiddleware(Router([WebSocketRoute("/", endpoint)])))
    with client.websocket_connect("/") as session:
        assert session.receive() == {
            "type": "websocket.close",
            "code": status.WS_1003_UNSUPPORTED_DATA,
            "reason": "no",
        }


def test_websocket_exception_before_accept_rejects(test_client_factory: TestClientFactory) -> None:
    async def endpoint(websocket: WebSocket) -> None:
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)

    client = test_client_factory(ExceptionMiddleware(Router([WebSocketRoute("/", endpoint)])))
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.code == status.WS_1008_POLICY_VIOLATION


def test_http_exception_in_websocket_is_a_denial_response(
    test_client_factory: TestClientFactory,
) -> None:
    async def endpoint(websocket: WebSocket) -> None:
        raise HTTPException(status_code=401, detail="Unauthorized", headers={"x-why": "token"})

    client = test_client_factory(ExceptionMiddleware(Router([WebSocketRoute("/", endpoint)])))
    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.status_code == 401
    assert info.value.text == "Unauthorized"
    assert info.value.headers["x-why"] == "token"


def test_custom_http_exception_handler_for_websockets(
    test_client_factory: TestClientFactory,
) -> None:
    def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    async def endpoint(websocket: WebSocket) -> None:
        raise HTTPException(status_code=401, detail="Unauthorized")

    handlers: dict[Any, Any] = {HTTPException: handler}
    client = test_client_factory(
        ExceptionMiddleware(Router([WebSocketRoute("/", endpoint)]), handlers)
    )
    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.status_code == 401
    assert info.value.content == b'{"detail":"Unauthorized"}'


def test_websocket_handler_closes_the_socket(test_client_factory: TestClientFactory) -> None:
    class CustomWSError(Exception):
        pass

    async def handler(websocket: WebSocket, exc: Exception) -> None:
        await websocket.close(code=status.WS_1013_TRY_AGAIN_LATER, reason="later")

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        raise CustomWSError()

    client = test_client_factory(
        ExceptionMiddleware(Router([WebSocketRoute("/", endpoint)]), {CustomWSError: handler})
    )
    with client.websocket_connect("/") as session, pytest.raises(WebSocketDisconnect) as info:
        session.receive_text()
    assert (info.value.code, info.value.reason) == (1013, "later")


def test_exception_middleware_passes_lifespan_through(
    test_client_factory: TestClientFactory,
) -> None:
    seen: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])
        assert "stellate.exception_handlers" not in scope
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        message = await receive()
        await send({"type": message["type"] + ".complete"})

    with test_client_factory(ExceptionMiddleware(inner)):
        pass
    assert seen == ["lifespan"]


def test_exception_handlers_are_published_in_the_scope(
    test_client_factory: TestClientFactory,
) -> None:
    def handler(request: Request, exc: Exception) -> Response:
        raise NotImplementedError  # pragma: no cover

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        exception_handlers, status_handlers = scope["stellate.exception_handlers"]
        data = {
            "classes": sorted(cls.__name__ for cls in exception_handlers),
            "codes": sorted(status_handlers),
        }
        await JSONResponse(data)(scope, receive, send)

    middleware = ExceptionMiddleware(inner, handlers={418: handler, KeyError: handler})
    assert test_client_factory(middleware).get("/").json() == {
        "classes": ["HTTPException", "KeyError", "WebSocketException"],
        "codes": [418],
    }


# --- ServerErrorMiddleware ----------------------------------------------------------


async def _failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("Something went wrong")


@pytest.mark.parametrize("is_async", [False, True])
def test_server_error_handler(test_client_factory: TestClientFactory, is_async: bool) -> None:
    def sync_handler(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": "Server Error"}, status_code=500)

    async def async_handler(request: Request, exc: Exception) -> Response:
        return sync_handler(request, exc)

    handler = async_handler if is_async else sync_handler
    middleware = ServerErrorMiddleware(_failing_app, handler=handler)
    response = test_client_factory(middleware, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Server Error"}


def test_server_error_default_response(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(ServerErrorMiddleware(_failing_app), raise_server_exceptions=False)
    response = client.get("/")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_server_error_is_reraised(test_client_factory: TestClientFactory) -> None:
    with pytest.raises(RuntimeError, match="Something went wrong"):
        test_client_factory(ServerErrorMiddleware(_failing_app)).get("/")


def test_debug_plain_text(test_client_factory: TestClientFactory) -> None:
    middleware = ServerErrorMiddleware(_failing_app, debug=True)
    response = test_client_factory(middleware, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/plain")
    assert "RuntimeError: Something went wrong" in response.text
    assert response.text.startswith("Traceback (most recent call last):")


def test_debug_html(test_client_factory: TestClientFactory) -> None:
    middleware = ServerErrorMiddleware(_failing_app, debug=True)
    client = test_client_factory(middleware, raise_server_exceptions=False)
    response = client.get("/", headers={"Accept": "text/html, */*"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>500 Server Error</h1>" in response.text
    assert "<h2>RuntimeError: Something went wrong</h2>" in response.text
    assert "_failing_app" in response.text


def test_debug_html_escapes_the_message(test_client_factory: TestClientFactory) -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("<script>alert(1)</script>")

    middleware = ServerErrorMiddleware(failing, debug=True)
    client = test_client_factory(middleware, raise_server_exceptions=False)
    response = client.get("/", headers={"Accept": "text/html"})
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_debug_ignores_the_handler(test_client_factory: TestClientFactory) -> None:
    def handler(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("handler", status_code=500)  # pragma: no cover

    middleware = ServerErrorMiddleware(_failing_app, handler=handler, debug=True)
    response = test_client_factory(middleware, raise_server_exceptions=False).get("/")
    assert "RuntimeError: Something went wrong" in response.text


def test_debug_after_response_sent(test_client_factory: TestClientFactory) -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        await Response(b"", status_code=204)(scope, receive, send)
        raise RuntimeError("Something went wrong")

    client = test_client_factory(ServerErrorMiddleware(failing, debug=True))
    with pytest.raises(RuntimeError):
        client.get("/")
    response = test_client_factory(
        ServerErrorMiddleware(failing, debug=True), raise_server_exceptions=False
    ).get("/")
    assert response.status_code == 204


def test_not_http_passes_through(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(ServerErrorMiddleware(_failing_app))
    with pytest.raises(RuntimeError), client.websocket_connect("/"):
        pass  # pragma: no cover


def test_error_in_background_task_reaches_the_handler(
    test_client_factory: TestClientFactory,
) -> None:
    called = False

    def handler(request: Request, exc: Exception) -> Any:
        nonlocal called
        called = True

    def fail() -> None:
        raise Exception("Something went wrong")

    async def endpoint(request: Request) -> Response:
        return Response(status_code=204, background=BackgroundTask(fail))

    application = Stellate(routes=[Route("/", endpoint)], exception_handlers={Exception: handler})
    response = test_client_factory(application, raise_server_exceptions=False).get("/")
    assert response.status_code == 204
    assert called


def test_generate_html_and_plain_text_directly() -> None:
    middleware = ServerErrorMiddleware(_failing_app)
    try:
        raise KeyError("missing")
    except KeyError as exc:
        page = middleware.generate_html(exc)
        text = middleware.generate_plain_text(exc)
    assert "KeyError: &#x27;missing&#x27;" in page
    assert "test_generate_html_and_plain_text_directly" in page
    assert "KeyError: 'missing'" in text
