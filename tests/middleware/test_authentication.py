from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

import pytest

from stellate_asgi.connection import HTTPConnection
from stellate_asgi.exceptions import WebSocketDisconnect
from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_http.requests import Request
from stellate_http.responses import JSONResponse, PlainTextResponse, Response
from stellate_middleware import Middleware
from stellate_middleware.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    AuthenticationMiddleware,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
    has_required_scope,
    requires,
)
from stellate_middleware.exceptions import ExceptionMiddleware
from stellate_routing.endpoints import HTTPEndpoint, WebSocketEndpoint
from stellate_routing.routing import Route, Router, WebSocketRoute
from stellate_websockets.websockets import WebSocket
from tests.conftest import TestClientFactory


class BasicAuth(AuthenticationBackend):
    """`Authorization: Basic ...`; the user "admin" also gets the "admin" scope."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        if "Authorization" not in conn.headers:
            return None
        try:
            scheme, credentials = conn.headers["Authorization"].split()
            decoded = base64.b64decode(credentials, validate=True).decode("ascii")
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise AuthenticationError("Invalid basic auth credentials") from None
        if scheme.lower() != "basic":
            raise AuthenticationError("Unsupported scheme")
        username, _, _password = decoded.partition(":")
        scopes = ["authenticated", "admin"] if username == "admin" else ["authenticated"]
        return AuthCredentials(scopes), SimpleUser(username)


def whoami(conn: HTTPConnection) -> dict[str, Any]:
    return {"authenticated": conn.user.is_authenticated, "user": conn.user.display_name}


def homepage(request: Request) -> Response:
    return JSONResponse(whoami(request))


@requires("authenticated")
async def dashboard(request: Request) -> Response:
    return JSONResponse(whoami(request))


@requires("authenticated")
def dashboard_sync(request: Request) -> Response:
    return JSONResponse(whoami(request))


@requires(["authenticated", "admin"], status_code=404)
async def admin(request: Request) -> Response:
    return JSONResponse(whoami(request))


@requires("authenticated", redirect="homepage")
async def account(request: Request) -> Response:
    return JSONResponse(whoami(request))


@requires("authenticated", redirect="homepage")
def account_sync(request: Request) -> Response:
    return JSONResponse(whoami(request))


class Dashboard(HTTPEndpoint):
    @requires("authenticated")
    async def get(self, request: Request) -> Response:
        return JSONResponse(whoami(request))

    @requires("authenticated")
    def post(self, request: Request) -> Response:
        return JSONResponse(whoami(request))


@requires("authenticated")
async def websocket_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(whoami(websocket))
    await websocket.close()


class Echo(WebSocketEndpoint):
    encoding = "text"

    @requires("authenticated")
    async def on_connect(self, websocket: WebSocket) -> None:
        await websocket.accept()

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_text(f"{websocket.user.display_name}: {data}")


def make_router() -> Router:
    return Router(
        routes=[
            Route("/", homepage, name="homepage"),
            Route("/dashboard", dashboard),
            Route("/dashboard/sync", dashboard_sync),
            Route("/dashboard/class", Dashboard),
            Route("/admin", admin),
            Route("/account", account),
            Route("/account/sync", account_sync),
            WebSocketRoute("/ws", websocket_endpoint),
            WebSocketRoute("/ws/echo", Echo),
        ],
        middleware=[
            Middleware(ExceptionMiddleware),
            Middleware(AuthenticationMiddleware, backend=BasicAuth()),
        ],
    )


def basic(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:secret".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# --- the primitives ---------------------------------------------------------------


def test_users() -> None:
    user = SimpleUser("tomchristie")
    assert user.is_authenticated
    assert user.display_name == "tomchristie"
    assert user.username == "tomchristie"

    anonymous = UnauthenticatedUser()
    assert not anonymous.is_authenticated
    assert anonymous.display_name == ""

    with pytest.raises(NotImplementedError):
        BaseUser().is_authenticated  # noqa: B018
    with pytest.raises(NotImplementedError):
        BaseUser().display_name  # noqa: B018
    with pytest.raises(NotImplementedError):
        BaseUser().identity  # noqa: B018


def test_credentials() -> None:
    assert AuthCredentials().scopes == []
    assert AuthCredentials(("a", "b")).scopes == ["a", "b"]


@pytest.mark.anyio
async def test_base_backend_is_abstract() -> None:
    conn = HTTPConnection({"type": "http", "path": "/", "headers": []})
    with pytest.raises(NotImplementedError):
        await AuthenticationBackend().authenticate(conn)


def test_has_required_scope() -> None:
    conn = HTTPConnection({"type": "http", "auth": AuthCredentials(["a", "b"])})
    assert has_required_scope(conn, [])
    assert has_required_scope(conn, ["a"])
    assert has_required_scope(conn, ["b", "a"])
    assert not has_required_scope(conn, ["a", "c"])


def test_has_required_scope_without_middleware() -> None:
    conn = HTTPConnection({"type": "http"})
    with pytest.raises(AssertionError, match="AuthenticationMiddleware must be installed"):
        has_required_scope(conn, ["a"])


def test_requires_needs_a_connection_parameter() -> None:
    def no_request(conn: Request) -> Response:
        raise NotImplementedError

    with pytest.raises(ValueError, match='No "request" or "websocket" argument on function'):
        requires("authenticated")(no_request)


def test_requires_keeps_the_function_metadata() -> None:
    assert dashboard.__name__ == "dashboard"
    assert dashboard_sync.__name__ == "dashboard_sync"
    assert websocket_endpoint.__name__ == "websocket_endpoint"


@pytest.mark.anyio
async def test_requires_checks_the_argument_type() -> None:
    with pytest.raises(AssertionError, match="required to be of type 'Request' not 'str'"):
        await dashboard("not a request")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="required to be of type 'Request' not 'NoneType'"):
        dashboard_sync()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="required to be of type 'WebSocket' not 'int'"):
        await websocket_endpoint(websocket=1)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_requires_finds_a_keyword_argument() -> None:
    @requires("authenticated")
    async def endpoint(request: Request, extra: str) -> Response:
        return PlainTextResponse(extra)

    scope: Scope = {"type": "http", "auth": AuthCredentials(["authenticated"])}
    response = await endpoint(extra="payload", request=Request(scope))
    assert response.body == b"payload"


# --- the middleware around a bare ASGI app ----------------------------------------


async def report_user(scope: Scope, receive: Receive, send: Send) -> None:
    conn = HTTPConnection(scope)
    body = {"scopes": conn.auth.scopes, **whoami(conn)}
    await JSONResponse(body)(scope, receive, send)


def test_bare_app_anonymous_and_authenticated(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(AuthenticationMiddleware(report_user, backend=BasicAuth()))

    response = client.get("/")
    assert response.json() == {"scopes": [], "authenticated": False, "user": ""}

    response = client.get("/", headers=basic("admin"))
    assert response.json() == {
        "scopes": ["authenticated", "admin"],
        "authenticated": True,
        "user": "admin",
    }


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic not-base64!",
        "Basic",
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Bearer " + base64.b64encode(b"a:b").decode(),
        "Basic " + "A" * 10_000 + " extra",
    ],
)
def test_bare_app_invalid_credentials_get_400(
    test_client_factory: TestClientFactory, authorization: str
) -> None:
    client = test_client_factory(AuthenticationMiddleware(report_user, backend=BasicAuth()))
    response = client.get("/", headers={"Authorization": authorization})
    assert response.status_code == 400
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text in ("Invalid basic auth credentials", "Unsupported scheme")


def test_default_on_error() -> None:
    conn = HTTPConnection({"type": "http"})
    response = AuthenticationMiddleware.default_on_error(conn, AuthenticationError("nope"))
    assert isinstance(response, PlainTextResponse)
    assert response.status_code == 400
    assert response.body == b"nope"


def test_custom_on_error(test_client_factory: TestClientFactory) -> None:
    seen: list[tuple[str, str]] = []

    def on_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
        seen.append((conn.url.path, str(exc)))
        return JSONResponse({"error": str(exc)}, status_code=401)

    app = AuthenticationMiddleware(report_user, backend=BasicAuth(), on_error=on_error)
    response = test_client_factory(app).get("/private", headers={"Authorization": "Basic !"})
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid basic auth credentials"}
    assert seen == [("/private", "Invalid basic auth credentials")]


def test_async_on_error_is_awaited(test_client_factory: TestClientFactory) -> None:
    async def on_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
        return PlainTextResponse("async handler", status_code=401)

    app = AuthenticationMiddleware(
        report_user,
        backend=BasicAuth(),
        on_error=on_error,  # type: ignore[arg-type]
    )
    response = test_client_factory(app).get("/", headers={"Authorization": "Basic !"})
    assert response.status_code == 401
    assert response.text == "async handler"


def test_other_exceptions_propagate(test_client_factory: TestClientFactory) -> None:
    class Broken(AuthenticationBackend):
        async def authenticate(self, conn: HTTPConnection) -> None:
            raise RuntimeError("backend is down")

    client = test_client_factory(AuthenticationMiddleware(report_user, backend=Broken()))
    with pytest.raises(RuntimeError, match="backend is down"):
        client.get("/")


def test_websocket_invalid_credentials_close_with_1000(
    test_client_factory: TestClientFactory,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("never reached")  # pragma: no cover

    calls: list[str] = []

    def on_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
        calls.append(conn.scope["type"])
        return PlainTextResponse("unused", status_code=401)

    client = test_client_factory(
        AuthenticationMiddleware(app, backend=BasicAuth(), on_error=on_error)
    )
    headers = {"Authorization": "Basic !"}
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/", headers=headers):
        pass  # pragma: no cover
    assert info.value.code == 1000
    assert calls == ["websocket"]


@pytest.mark.anyio
async def test_lifespan_passes_through() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    class Refuse(AuthenticationBackend):
        async def authenticate(self, conn: HTTPConnection) -> None:
            raise AssertionError("not for lifespan")  # pragma: no cover

    async def receive() -> Message:
        raise AssertionError("not called")  # pragma: no cover

    async def send(message: Message) -> None:
        raise AssertionError("not called")  # pragma: no cover

    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await AuthenticationMiddleware(app, backend=Refuse())(scope, receive, send)
    assert seen == [scope]
    assert "user" not in scope
    assert "auth" not in scope


# --- inside a Router --------------------------------------------------------------


def test_router_user_interface(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(make_router())
    assert client.get("/").json() == {"authenticated": False, "user": ""}
    assert client.get("/", headers=basic("tom")).json() == {"authenticated": True, "user": "tom"}


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/sync", "/dashboard/class"])
def test_router_requires(test_client_factory: TestClientFactory, path: str) -> None:
    client = test_client_factory(make_router())
    response = client.get(path)
    assert response.status_code == 403
    assert response.text == "Forbidden"

    response = client.get(path, headers=basic("tom"))
    assert response.status_code == 200
    assert response.json() == {"authenticated": True, "user": "tom"}


def test_router_requires_on_a_sync_endpoint_method(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(make_router())
    assert client.post("/dashboard/class").status_code == 403
    assert client.post("/dashboard/class", headers=basic("tom")).status_code == 200


def test_router_requires_every_scope_and_custom_status(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(make_router())
    assert client.get("/admin").status_code == 404
    assert client.get("/admin", headers=basic("tom")).status_code == 404
    response = client.get("/admin", headers=basic("admin"))
    assert response.status_code == 200
    assert response.json() == {"authenticated": True, "user": "admin"}


@pytest.mark.parametrize("path", ["/account", "/account/sync"])
def test_router_requires_redirect(test_client_factory: TestClientFactory, path: str) -> None:
    client = test_client_factory(make_router())
    response = client.get(path + "?tab=1", follow_redirects=False)
    assert response.status_code == 303
    next_url = f"http://testserver{path}?tab=1"
    assert response.headers["location"] == "http://testserver/?" + urlencode({"next": next_url})

    response = client.get(path)
    assert response.status_code == 200
    assert str(response.url) == "http://testserver/?" + urlencode(
        {"next": f"http://testserver{path}"}
    )
    assert response.json() == {"authenticated": False, "user": ""}

    response = client.get(path, headers=basic("tom"))
    assert response.json() == {"authenticated": True, "user": "tom"}


def test_router_websocket_requires(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(make_router())
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/ws"):
        pass  # pragma: no cover
    assert info.value.code == 1000

    headers = {"Authorization": "Basic !"}
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws", headers=headers):
        pass  # pragma: no cover

    with client.websocket_connect("/ws", headers=basic("tom")) as websocket:
        assert websocket.receive_json() == {"authenticated": True, "user": "tom"}


def test_router_websocket_endpoint_requires(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(make_router())
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws/echo"):
        pass  # pragma: no cover

    with client.websocket_connect("/ws/echo", headers=basic("tom")) as websocket:
        websocket.send_text("hello")
        assert websocket.receive_text() == "tom: hello"


def test_requires_without_middleware_is_a_clear_error(
    test_client_factory: TestClientFactory,
) -> None:
    client = test_client_factory(Router([Route("/dashboard", dashboard)]))
    with pytest.raises(AssertionError, match="AuthenticationMiddleware must be installed"):
        client.get("/dashboard")
