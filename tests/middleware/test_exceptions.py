from __future__ import annotations

import threading
from typing import Any

import pytest

from stellate_asgi.exceptions import HTTPException, WebSocketDisconnect, WebSocketException
from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, PlainTextResponse, Response
from stellate_middleware.exceptions import (
    ExceptionHandler,
    ExceptionMiddleware,
    wrap_app_handling_exceptions,
)
from stellate_testclient import WebSocketDenialResponse
from stellate_websockets.websockets import WebSocket
from tests.conftest import TestClientFactory


class TeapotError(Exception):
    pass


class SmallTeapotError(TeapotError):
    pass


class PaymentRequired(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=402)


def raising(exc: Exception) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise exc

    return app


async def teapot_handler(request: Request, exc: Exception) -> Response:
    return PlainTextResponse(f"teapot: {type(exc).__name__}", status_code=418)


def sync_teapot_handler(request: Request, exc: Exception) -> Response:
    return PlainTextResponse(f"sync teapot: {type(exc).__name__}", status_code=418)


# --- the default handlers --------------------------------------------------------


def test_http_exception_becomes_a_plain_text_response(
    test_client_factory: TestClientFactory,
) -> None:
    app = ExceptionMiddleware(raising(HTTPException(status_code=406)))
    response = test_client_factory(app).get("/")
    assert response.status_code == 406
    assert response.text == "Not Acceptable"
    assert response.headers["content-type"].startswith("text/plain")


def test_http_exception_detail_and_headers_are_sent(
    test_client_factory: TestClientFactory,
) -> None:
    exc = HTTPException(status_code=429, detail="Slow down", headers={"retry-after": "30"})
    response = test_client_factory(ExceptionMiddleware(raising(exc))).get("/")
    assert response.status_code == 429
    assert response.text == "Slow down"
    assert response.headers["retry-after"] == "30"


def test_http_exception_headers_with_a_success_status(
    test_client_factory: TestClientFactory,
) -> None:
    exc = HTTPException(status_code=200, headers={"x-potato": "always"})
    response = test_client_factory(ExceptionMiddleware(raising(exc))).get("/")
    assert response.status_code == 200
    assert response.headers["x-potato"] == "always"


@pytest.mark.parametrize("status_code", [204, 304])
def test_bodiless_status_codes_send_no_body(
    test_client_factory: TestClientFactory, status_code: int
) -> None:
    exc = HTTPException(status_code=status_code, headers={"x-reason": "none"})
    response = test_client_factory(ExceptionMiddleware(raising(exc))).get("/")
    assert response.status_code == status_code
    assert response.content == b""
    assert "content-length" not in response.headers
    assert response.headers["x-reason"] == "none"


@pytest.mark.anyio
async def test_http_exception_handler_refuses_other_exceptions() -> None:
    middleware = ExceptionMiddleware(raising(RuntimeError()))
    request = Request({"type": "http", "headers": []})
    with pytest.raises(TypeError, match="HTTPException"):
        await middleware.http_exception(request, RuntimeError("nope"))


@pytest.mark.anyio
async def test_websocket_exception_handler_refuses_other_exceptions() -> None:
    middleware = ExceptionMiddleware(raising(RuntimeError()))

    async def receive() -> Message:
        return {"type": "websocket.connect"}  # pragma: no cover

    async def send(message: Message) -> None:
        pass  # pragma: no cover

    websocket = WebSocket({"type": "websocket", "headers": []}, receive, send)
    with pytest.raises(TypeError, match="WebSocketException"):
        await middleware.websocket_exception(websocket, RuntimeError("nope"))


# --- looking handlers up ---------------------------------------------------------


def test_handler_is_found_by_exception_class(test_client_factory: TestClientFactory) -> None:
    app = ExceptionMiddleware(raising(TeapotError()), handlers={TeapotError: teapot_handler})
    response = test_client_factory(app).get("/")
    assert response.status_code == 418
    assert response.text == "teapot: TeapotError"


def test_handler_is_found_through_a_base_class(test_client_factory: TestClientFactory) -> None:
    app = ExceptionMiddleware(raising(SmallTeapotError()), handlers={TeapotError: teapot_handler})
    response = test_client_factory(app).get("/")
    assert response.status_code == 418
    assert response.text == "teapot: SmallTeapotError"


def test_most_specific_class_wins(test_client_factory: TestClientFactory) -> None:
    async def small_handler(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("small", status_code=400)

    handlers: dict[Any, ExceptionHandler] = {
        Exception: teapot_handler,
        TeapotError: teapot_handler,
        SmallTeapotError: small_handler,
    }
    app = ExceptionMiddleware(raising(SmallTeapotError()), handlers=handlers)
    response = test_client_factory(app).get("/")
    assert response.status_code == 400
    assert response.text == "small"


def test_http_exception_subclass_uses_the_default_handler(
    test_client_factory: TestClientFactory,
) -> None:
    response = test_client_factory(ExceptionMiddleware(raising(PaymentRequired()))).get("/")
    assert response.status_code == 402
    assert response.text == "Payment Required"


def test_status_code_handler_wins_over_class_handler(
    test_client_factory: TestClientFactory,
) -> None:
    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"missing": request.url.path}, status_code=exc.status_code)

    app = ExceptionMiddleware(raising(HTTPException(404)), handlers={404: not_found})
    client = test_client_factory(app)
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"missing": "/nowhere"}

    # Other status codes still reach the default `HTTPException` handler.
    app = ExceptionMiddleware(raising(HTTPException(403)), handlers={404: not_found})
    response = test_client_factory(app).get("/")
    assert response.status_code == 403
    assert response.text == "Forbidden"


def test_status_code_handler_ignores_other_exceptions(
    test_client_factory: TestClientFactory,
) -> None:
    # A status handler is only for `HTTPException`: a plain error stays unhandled.
    app = ExceptionMiddleware(raising(RuntimeError("boom")), handlers={500: teapot_handler})
    with pytest.raises(RuntimeError, match="boom"):
        test_client_factory(app).get("/")


def test_add_exception_handler(test_client_factory: TestClientFactory) -> None:
    app = ExceptionMiddleware(raising(HTTPException(409)))
    app.add_exception_handler(409, sync_teapot_handler)
    response = test_client_factory(app).get("/")
    assert response.status_code == 418
    assert response.text == "sync teapot: HTTPException"

    app = ExceptionMiddleware(raising(TeapotError()))
    app.add_exception_handler(TeapotError, teapot_handler)
    assert test_client_factory(app).get("/").text == "teapot: TeapotError"


def test_add_exception_handler_refuses_other_keys() -> None:
    app = ExceptionMiddleware(raising(TeapotError()))
    with pytest.raises(TypeError, match="status code or an Exception subclass"):
        app.add_exception_handler("404", teapot_handler)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        app.add_exception_handler(KeyboardInterrupt, teapot_handler)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        app.add_exception_handler(ValueError(), teapot_handler)  # type: ignore[arg-type]


def test_sync_handler_runs_in_a_worker_thread(test_client_factory: TestClientFactory) -> None:
    threads: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        threads.append(threading.get_ident())
        raise TeapotError()

    def handler(request: Request, exc: Exception) -> Response:
        threads.append(threading.get_ident())
        return PlainTextResponse("handled in a thread", status_code=418)

    middleware = ExceptionMiddleware(app, handlers={TeapotError: handler})
    response = test_client_factory(middleware).get("/")
    assert response.text == "handled in a thread"
    loop_thread, handler_thread = threads
    assert loop_thread != handler_thread


def test_handler_may_read_the_request(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise TeapotError()

    async def handler(request: Request, exc: Exception) -> Response:
        return JSONResponse(
            {"body": (await request.body()).decode(), "q": request.query_params["q"]},
            status_code=422,
        )

    middleware = ExceptionMiddleware(app, handlers={TeapotError: handler})
    response = test_client_factory(middleware).post("/?q=1", content=b"hello")
    assert response.status_code == 422
    assert response.json() == {"body": "hello", "q": "1"}


def test_unhandled_exception_propagates(test_client_factory: TestClientFactory) -> None:
    app = ExceptionMiddleware(raising(RuntimeError("Yikes")))
    with pytest.raises(RuntimeError, match="Yikes"):
        test_client_factory(app).get("/")

    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500


def test_handled_exception_after_response_started(test_client_factory: TestClientFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("OK")(scope, receive, send)
        raise HTTPException(status_code=406)

    middleware = ExceptionMiddleware(app)
    with pytest.raises(
        RuntimeError, match=r"Caught handled exception, but response already started\."
    ):
        test_client_factory(middleware).get("/")

    # The client still sees the response that went out first.
    response = test_client_factory(middleware, raise_server_exceptions=False).get("/")
    assert response.status_code == 200
    assert response.text == "OK"


def test_handler_returning_none_sends_nothing_more(
    test_client_factory: TestClientFactory,
) -> None:
    calls: list[str] = []

    async def handler(request: Request, exc: Exception) -> None:
        calls.append(str(exc))

    app = ExceptionMiddleware(raising(TeapotError("quiet")), handlers={TeapotError: handler})  # type: ignore[dict-item]
    response = test_client_factory(app, raise_server_exceptions=False).get("/")
    assert calls == ["quiet"]
    assert response.status_code == 500  # The test client's answer when nothing was sent.


@pytest.mark.anyio
async def test_other_scope_types_pass_through() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Message:
        return {"type": "lifespan.startup"}  # pragma: no cover

    async def send(message: Message) -> None:
        pass  # pragma: no cover

    scope: Scope = {"type": "lifespan"}
    await ExceptionMiddleware(app)(scope, receive, send)
    assert seen == [scope]
    assert "stellate.exception_handlers" not in scope


# --- wrap_app_handling_exceptions ------------------------------------------------


def test_wrap_publishes_handlers_in_the_scope(test_client_factory: TestClientFactory) -> None:
    published: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        published.append(scope["stellate.exception_handlers"])
        await PlainTextResponse("ok")(scope, receive, send)

    middleware = ExceptionMiddleware(
        app, handlers={TeapotError: teapot_handler, 418: teapot_handler}
    )
    assert test_client_factory(middleware).get("/").text == "ok"
    [(exception_handlers, status_handlers)] = published
    assert exception_handlers[TeapotError] is teapot_handler
    assert HTTPException in exception_handlers
    assert WebSocketException in exception_handlers
    assert status_handlers == {418: teapot_handler}


def test_wrap_passes_the_given_connection_to_handlers(
    test_client_factory: TestClientFactory,
) -> None:
    # Routing wraps each endpoint with the endpoint's own Request, so a handler sees
    # exactly the object (and cached body) the endpoint used.
    seen: list[Request] = []

    async def handler(request: Request, exc: Exception) -> Response:
        seen.append(request)
        return PlainTextResponse((await request.body()).decode(), status_code=422)

    async def outer(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)

        async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            await request.body()
            seen.append(request)
            raise TeapotError()

        await wrap_app_handling_exceptions(endpoint, request)(scope, receive, send)

    middleware = ExceptionMiddleware(outer, handlers={TeapotError: handler})
    response = test_client_factory(middleware).post("/", content=b"Hello!")
    assert response.status_code == 422
    assert response.text == "Hello!"
    first, second = seen
    assert first is second


def test_wrap_without_handlers_in_the_scope_reraises(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        conn = Request(scope, receive, send)
        await wrap_app_handling_exceptions(raising(HTTPException(404)), conn)(scope, receive, send)

    with pytest.raises(HTTPException) as info:
        test_client_factory(app).get("/")
    assert info.value.status_code == 404


def test_wrap_passes_messages_through(test_client_factory: TestClientFactory) -> None:
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        body = (await receive())["body"]
        await PlainTextResponse(body.decode().upper())(scope, receive, send)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        conn = Request(scope, receive, send)
        await wrap_app_handling_exceptions(endpoint, conn)(scope, receive, send)

    response = test_client_factory(ExceptionMiddleware(app)).post("/", content=b"shout")
    assert response.text == "SHOUT"


# --- WebSockets ------------------------------------------------------------------


def test_websocket_exception_closes_with_code_and_reason(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        raise WebSocketException(code=1008, reason="Policy Violation")

    client = test_client_factory(ExceptionMiddleware(app))
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/") as session:
        session.receive_text()
    assert info.value.code == 1008
    assert info.value.reason == "Policy Violation"


def test_websocket_exception_before_accept_closes(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(ExceptionMiddleware(raising(WebSocketException(code=1013))))
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.code == 1013


def test_websocket_custom_handler(test_client_factory: TestClientFactory) -> None:
    async def handler(websocket: WebSocket, exc: Exception) -> None:
        await websocket.close(code=4418, reason=f"handled: {exc}")

    client = test_client_factory(
        ExceptionMiddleware(raising(TeapotError("short")), {TeapotError: handler})
    )
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.code == 4418
    assert info.value.reason == "handled: short"


def test_websocket_handler_gets_the_session_of_the_endpoint(
    test_client_factory: TestClientFactory,
) -> None:
    # As routing does: the endpoint's own WebSocket is handed to the handler, so the
    # handler can keep talking on the accepted connection.
    async def handler(websocket: WebSocket, exc: Exception) -> None:
        await websocket.send_text(f"handled: {exc}")
        await websocket.close(code=4418)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)

        async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            await websocket.accept()
            raise TeapotError("short and stout")

        await wrap_app_handling_exceptions(endpoint, websocket)(scope, receive, send)

    client = test_client_factory(ExceptionMiddleware(app, handlers={TeapotError: handler}))
    with client.websocket_connect("/") as session:
        assert session.receive_text() == "handled: short and stout"
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_text()
    assert info.value.code == 4418


def test_http_exception_before_accept_is_a_denial_response(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(ExceptionMiddleware(raising(HTTPException(403, "go away"))))
    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect("/"):
        pass  # pragma: no cover
    assert info.value.status_code == 403
    assert info.value.text == "go away"


def test_websocket_unhandled_exception_propagates(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(ExceptionMiddleware(raising(RuntimeError("ws boom"))))
    with pytest.raises(RuntimeError, match="ws boom"), client.websocket_connect("/"):
        pass  # pragma: no cover
