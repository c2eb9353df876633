"""Starlette-compatible behaviour of `WSGIMiddleware` and `build_environ`, through the
umbrella.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from stellate.exceptions import StellateDeprecationWarning

with warnings.catch_warnings():
    # Importing the module warns that it is deprecated, as Starlette's does.
    warnings.simplefilter("ignore", StellateDeprecationWarning)
    from stellate.middleware.wsgi import WSGIMiddleware, build_environ

from tests.conftest import TestClientFactory

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def hello(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    body = b"Hello from WSGI\n"
    start_response(
        "200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "16")]
    )
    return [body]


def echo(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [body]


def broken(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    raise RuntimeError("the WSGI app broke")


def error_page(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    try:
        raise RuntimeError("the WSGI app broke")
    except RuntimeError:
        start_response(
            "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
        )
        return [b"Internal Server Error"]


def test_get(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(WSGIMiddleware(hello)).get("/")
    assert response.status_code == 200
    assert response.text == "Hello from WSGI\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_post_body_reaches_the_app(test_client_factory: TestClientFactory) -> None:
    response = test_client_factory(WSGIMiddleware(echo)).post("/", json={"example": 123})
    assert response.status_code == 200
    assert response.text == '{"example":123}'


def test_app_exception_propagates(test_client_factory: TestClientFactory) -> None:
    client = test_client_factory(WSGIMiddleware(broken))
    with pytest.raises(RuntimeError, match="the WSGI app broke"):
        client.get("/")


def test_exc_info_is_sent_then_raised(test_client_factory: TestClientFactory) -> None:
    with pytest.raises(RuntimeError, match="the WSGI app broke"):
        test_client_factory(WSGIMiddleware(error_page)).get("/")

    client = test_client_factory(WSGIMiddleware(error_page), raise_server_exceptions=False)
    response = client.get("/")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


def test_build_environ() -> None:
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/app/items",
        "root_path": "/app",
        "query_string": b"page=2&size=10",
        "headers": [
            (b"host", b"www.example.org"),
            (b"content-type", b"application/json"),
            (b"content-length", b"11"),
            (b"accept", b"application/json"),
            (b"accept", b"text/plain"),
        ],
        "client": ("134.56.78.4", 1453),
        "server": ("www.example.org", 443),
    }
    environ = build_environ(scope, b'{"a": true}')
    assert environ.pop("wsgi.input").read() == b'{"a": true}'
    errors = environ.pop("wsgi.errors")
    assert errors is sys.stdout
    assert environ == {
        "CONTENT_LENGTH": "11",
        "CONTENT_TYPE": "application/json",
        "HTTP_ACCEPT": "application/json,text/plain",
        "HTTP_HOST": "www.example.org",
        "PATH_INFO": "/items",
        "QUERY_STRING": "page=2&size=10",
        "REMOTE_ADDR": "134.56.78.4",
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "/app",
        "SERVER_NAME": "www.example.org",
        "SERVER_PORT": 443,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.multiprocess": True,
        "wsgi.multithread": True,
        "wsgi.run_once": False,
        "wsgi.url_scheme": "https",
        "wsgi.version": (1, 0),
    }


def test_build_environ_encodes_paths_as_native_strings() -> None:
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": "/café/menü",
        "root_path": "/café",
        "query_string": b"",
        "headers": [],
    }
    environ = build_environ(scope, b"")
    assert environ["SCRIPT_NAME"] == "/café".encode().decode("latin-1")
    assert environ["PATH_INFO"] == "/menü".encode().decode("latin-1")


def test_build_environ_defaults_the_server() -> None:
    scope = {"type": "http", "http_version": "2", "method": "GET", "path": "/", "query_string": b""}
    environ = build_environ(scope, b"")
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("localhost", 80)
    assert environ["SERVER_PROTOCOL"] == "HTTP/2"
    assert "REMOTE_ADDR" not in environ
