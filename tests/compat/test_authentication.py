"""Starlette-compatible authentication through the umbrella: `stellate.authentication`
and `stellate.middleware.authentication` in a `Stellate` application.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import pytest

import stellate.authentication
import stellate.middleware.authentication
from stellate.applications import Stellate
from stellate.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
    requires,
)
from stellate.endpoints import HTTPEndpoint
from stellate.middleware import Middleware
from stellate.middleware.authentication import AuthenticationMiddleware
from stellate.requests import HTTPConnection, Request
from stellate.responses import JSONResponse, Response
from stellate.routing import Route, WebSocketRoute
from stellate.websockets import WebSocket, WebSocketDisconnect
from tests.conftest import TestClientFactory


class BasicAuth(AuthenticationBackend):
    async def authenticate(
        self, request: HTTPConnection
    ) -> tuple[AuthCredentials, SimpleUser] | None:
        if "Authorization" not in request.headers:
            return None
        try:
            _scheme, credentials = request.headers["Authorization"].split()
            decoded = base64.b64decode(credentials).decode("ascii")
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise AuthenticationError("Invalid basic auth credentials") from None
        username, _, _password = decoded.partition(":")
        return AuthCredentials(["authenticated"]), SimpleUser(username)


def user_json(conn: HTTPConnection, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"authenticated": conn.user.is_authenticated, "user": conn.user.display_name, **extra}
    )


def homepage(request: Request) -> JSONResponse:
    return user_json(request)


@requires("authenticated")
async def dashboard(request: Request) -> JSONResponse:
    return user_json(request)


@requires("authenticated", redirect="homepage")
async def admin(request: Request) -> JSONResponse:
    return user_json(request)


@requires("authenticated")
def dashboard_sync(request: Request) -> JSONResponse:
    return user_json(request)


@requires("authenticated", redirect="homepage")
def admin_sync(request: Request) -> JSONResponse:
    return user_json(request)


class Dashboard(HTTPEndpoint):
    @requires("authenticated")
    def get(self, request: Request) -> JSONResponse:
        return user_json(request)


@requires("authenticated")
async def websocket_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(
        {"authenticated": websocket.user.is_authenticated, "user": websocket.user.display_name}
    )


def inject(**kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator outside `requires` that passes the connection by keyword."""

    def wrapper(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        def app(request: Request) -> Any:
            return endpoint(request=request, **kwargs)

        return app

    return wrapper


def inject_async(**kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrapper(endpoint: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def app(request: Request) -> Any:
            return await endpoint(request=request, **kwargs)

        return app

    return wrapper


def inject_websocket(**kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrapper(endpoint: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        async def app(websocket: WebSocket) -> None:
            await endpoint(websocket=websocket, **kwargs)

        return app

    return wrapper


@inject_async(additional="payload")
@requires("authenticated")
async def decorated_async(request: Request, additional: str) -> JSONResponse:
    return user_json(request, additional=additional)


@inject(additional="payload")
@requires("authenticated")
def decorated_sync(request: Request, additional: str) -> JSONResponse:
    return user_json(request, additional=additional)


@inject_websocket(additional="payload")
@requires("authenticated")
async def websocket_decorated(websocket: WebSocket, additional: str) -> None:
    await websocket.accept()
    await websocket.send_json(
        {
            "authenticated": websocket.user.is_authenticated,
            "user": websocket.user.display_name,
            "additional": additional,
        }
    )


app = Stellate(
    middleware=[Middleware(AuthenticationMiddleware, backend=BasicAuth())],
    routes=[
        Route("/", endpoint=homepage),
        Route("/dashboard", endpoint=dashboard),
        Route("/admin", endpoint=admin),
        Route("/dashboard/sync", endpoint=dashboard_sync),
        Route("/dashboard/class", endpoint=Dashboard),
        Route("/admin/sync", endpoint=admin_sync),
        Route("/dashboard/decorated", endpoint=decorated_async),
        Route("/dashboard/decorated/sync", endpoint=decorated_sync),
        WebSocketRoute("/ws", endpoint=websocket_endpoint),
        WebSocketRoute("/ws/decorated", endpoint=websocket_decorated),
    ],
)

AUTH = ("tomchristie", "example")


def test_the_umbrella_modules_share_the_objects() -> None:
    for name in ("AuthCredentials", "AuthenticationBackend", "AuthenticationError"):
        assert getattr(stellate.middleware.authentication, name) is getattr(
            stellate.authentication, name
        )
    assert (
        stellate.middleware.authentication.UnauthenticatedUser
        is stellate.authentication.UnauthenticatedUser
    )


def test_invalid_decorator_usage() -> None:
    with pytest.raises(Exception):  # noqa: B017

        @requires("authenticated")
        def foo() -> None:  # pragma: no cover
            pass


def test_user_interface(test_client_factory: TestClientFactory) -> None:
    with test_client_factory(app) as client:
        response = client.get("/")
        assert response.status_code == 200
        assert response.json() == {"authenticated": False, "user": ""}

        response = client.get("/", auth=AUTH)
        assert response.status_code == 200
        assert response.json() == {"authenticated": True, "user": "tomchristie"}


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/sync", "/dashboard/class"])
def test_authentication_required(test_client_factory: TestClientFactory, path: str) -> None:
    with test_client_factory(app) as client:
        response = client.get(path)
        assert response.status_code == 403

        response = client.get(path, auth=AUTH)
        assert response.status_code == 200
        assert response.json() == {"authenticated": True, "user": "tomchristie"}


@pytest.mark.parametrize("path", ["/dashboard/decorated", "/dashboard/decorated/sync"])
def test_authentication_required_behind_another_decorator(
    test_client_factory: TestClientFactory, path: str
) -> None:
    with test_client_factory(app) as client:
        assert client.get(path).status_code == 403
        response = client.get(path, auth=AUTH)
        assert response.status_code == 200
        assert response.json() == {
            "authenticated": True,
            "user": "tomchristie",
            "additional": "payload",
        }


def test_invalid_credentials(test_client_factory: TestClientFactory) -> None:
    with test_client_factory(app) as client:
        response = client.get("/dashboard", headers={"Authorization": "basic foobar"})
        assert response.status_code == 400
        assert response.text == "Invalid basic auth credentials"


@pytest.mark.parametrize("path", ["/ws", "/ws/decorated"])
def test_websocket_authentication_required(
    test_client_factory: TestClientFactory, path: str
) -> None:
    with test_client_factory(app) as client:
        with pytest.raises(WebSocketDisconnect), client.websocket_connect(path):
            pass  # pragma: no cover

        headers = {"Authorization": "basic foobar"}
        with pytest.raises(WebSocketDisconnect), client.websocket_connect(path, headers=headers):
            pass  # pragma: no cover

        with client.websocket_connect(path, auth=AUTH) as websocket:
            data = websocket.receive_json()
            assert data["authenticated"] is True
            assert data["user"] == "tomchristie"


@pytest.mark.parametrize("path", ["/admin", "/admin/sync"])
def test_authentication_redirect(test_client_factory: TestClientFactory, path: str) -> None:
    with test_client_factory(app) as client:
        response = client.get(path)
        assert response.status_code == 200
        expected = "http://testserver/?" + urlencode({"next": f"http://testserver{path}"})
        assert response.url == expected

        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == expected

        response = client.get(path, auth=AUTH)
        assert response.status_code == 200
        assert response.json() == {"authenticated": True, "user": "tomchristie"}


def on_auth_error(request: HTTPConnection, exc: AuthenticationError) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=401)


@requires("authenticated")
def control_panel(request: Request) -> JSONResponse:
    return user_json(request)


other_app = Stellate(
    routes=[Route("/control-panel", control_panel)],
    middleware=[Middleware(AuthenticationMiddleware, backend=BasicAuth(), on_error=on_auth_error)],
)


def test_custom_on_error(test_client_factory: TestClientFactory) -> None:
    with test_client_factory(other_app) as client:
        response = client.get("/control-panel", auth=AUTH)
        assert response.status_code == 200
        assert response.json() == {"authenticated": True, "user": "tomchristie"}

        response = client.get("/control-panel", headers={"Authorization": "basic foobar"})
        assert response.status_code == 401
        assert response.json() == {"error": "Invalid basic auth credentials"}


def test_auth_and_user_need_the_middleware(test_client_factory: TestClientFactory) -> None:
    def read_user(request: Request) -> Response:
        return JSONResponse({"user": request.user.display_name})

    bare = Stellate(routes=[Route("/", read_user)])
    with pytest.raises(AssertionError, match="AuthenticationMiddleware must be installed"):
        test_client_factory(bare).get("/")
