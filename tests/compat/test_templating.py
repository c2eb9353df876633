"""Starlette-compatibility checks for `Jinja2Templates`, through the umbrella.

Each test pins a behaviour of Starlette 1.x that a ported application or test relies on:
the rendered text, `response.template` / `response.context` on the test client, the
assertion message of the constructor, `url_for` in templates and autoescaping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from stellate.applications import Stellate
from stellate.background import BackgroundTask
from stellate.middleware import Middleware
from stellate.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from stellate.requests import Request
from stellate.responses import HTMLResponse, PlainTextResponse, Response
from stellate.routing import Mount, Route, Router
from stellate.staticfiles import StaticFiles
from stellate.templating import Jinja2Templates
from stellate.types import Receive, Scope, Send
from tests.conftest import TestClientFactory

LINK = "<html>Hello, <a href='{{ url_for('homepage') }}'>world</a></html>"
LINKED = "<html>Hello, <a href='http://testserver/'>world</a></html>"


def test_template_response_with_url_for(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    (tmp_path / "index.html").write_text(LINK)
    templates = Jinja2Templates(directory=str(tmp_path))

    async def homepage(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html")

    app = Stellate(debug=True, routes=[Route("/", endpoint=homepage)])
    response = test_client_factory(app).get("/")
    assert response.text == LINKED
    assert response.template.name == "index.html"  # type: ignore[attr-defined]
    assert set(response.context) == {"request"}  # type: ignore[attr-defined]
    assert isinstance(response.context["request"], Request)  # type: ignore[attr-defined]


def test_template_response_is_an_html_response(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("x")
    templates = Jinja2Templates(directory=tmp_path)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    response = templates.TemplateResponse(Request(scope), "index.html")
    assert isinstance(response, HTMLResponse)
    assert response.media_type == "text/html"
    assert response.status_code == 200


def test_context_processors_add_to_the_context(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    (tmp_path / "index.html").write_text("<html>Hello {{ username }}</html>")
    requests: list[Any] = []

    def username(request: Request) -> dict[str, str]:
        requests.append(request)
        return {"username": "World"}

    templates = Jinja2Templates(directory=tmp_path, context_processors=[username])

    async def homepage(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html")

    response = test_client_factory(Stellate(routes=[Route("/", homepage)])).get("/")
    assert response.text == "<html>Hello World</html>"
    assert set(response.context) == {"request", "username"}  # type: ignore[attr-defined]
    assert isinstance(requests[0], Request)


def test_template_and_context_pass_through_base_http_middleware(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    (tmp_path / "index.html").write_text(LINK)
    templates = Jinja2Templates(directory=str(tmp_path))

    class Noop(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            return await call_next(request)

    async def homepage(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html")

    app = Stellate(routes=[Route("/", homepage)], middleware=[Middleware(Noop)])
    response = test_client_factory(app).get("/")
    assert response.text == LINKED
    assert response.template.name == "index.html"  # type: ignore[attr-defined]
    assert set(response.context) == {"request"}  # type: ignore[attr-defined]


def test_several_directories(tmp_path: Path, test_client_factory: TestClientFactory) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "a.html").write_text("<a href='{{ url_for('page_a') }}'>a</a>")
    (second / "b.html").write_text("<a href='{{ url_for('page_b') }}'>b</a>")
    templates = Jinja2Templates(directory=[first, second])

    async def page_a(request: Request) -> Response:
        return templates.TemplateResponse(request, "a.html")

    async def page_b(request: Request) -> Response:
        return templates.TemplateResponse(request, "b.html")

    app = Stellate(routes=[Route("/a", page_a), Route("/b", page_b)])
    client = test_client_factory(app)
    assert client.get("/a").text == "<a href='http://testserver/a'>a</a>"
    assert client.get("/b").text == "<a href='http://testserver/b'>b</a>"
    assert client.get("/b").template.name == "b.html"  # type: ignore[attr-defined]


def test_directory_or_environment_is_required() -> None:
    with pytest.raises(
        AssertionError, match="either 'directory' or 'env' arguments must be passed"
    ):
        Jinja2Templates()  # type: ignore[call-overload]


def test_directory_and_environment_together_are_refused() -> None:
    with pytest.raises(
        AssertionError, match="either 'directory' or 'env' arguments must be passed"
    ):
        Jinja2Templates(directory="dir", env=jinja2.Environment())  # type: ignore[call-overload]


def test_get_template(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("Hello")
    templates = Jinja2Templates(directory=str(tmp_path))
    assert templates.get_template("index.html").render({}) == "Hello"


def test_with_an_environment(tmp_path: Path, test_client_factory: TestClientFactory) -> None:
    (tmp_path / "index.html").write_text(LINK)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(tmp_path)))
    templates = Jinja2Templates(env=env)
    assert templates.env is env
    assert "url_for" in env.globals

    async def homepage(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html")

    response = test_client_factory(Stellate(routes=[Route("/", homepage)])).get("/")
    assert response.text == LINKED
    assert response.template.name == "index.html"  # type: ignore[attr-defined]


def test_html_templates_are_autoescaped(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    (tmp_path / "index.html").write_text("<p>{{ comment }}</p>")
    templates = Jinja2Templates(directory=tmp_path)

    async def homepage(request: Request) -> Response:
        comment = request.query_params["c"]
        return templates.TemplateResponse(request, "index.html", {"comment": comment})

    response = test_client_factory(Stellate(routes=[Route("/", homepage)])).get(
        "/", params={"c": "<img src=x onerror=alert(1)>"}
    )
    assert response.text == "<p>&lt;img src=x onerror=alert(1)&gt;</p>"


def test_url_for_static_files_mount(tmp_path: Path, test_client_factory: TestClientFactory) -> None:
    (tmp_path / "index.html").write_text(
        "<link href=\"{{ url_for('static', path='/css/site.css') }}\" rel=\"stylesheet\">"
    )
    templates = Jinja2Templates(directory=tmp_path)

    async def files(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse(scope["path"])(scope, receive, send)

    async def homepage(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html")

    app = Stellate(routes=[Route("/", homepage), Mount("/static", app=files, name="static")])
    response = test_client_factory(app).get("/")
    assert response.text == '<link href="http://testserver/static/css/site.css" rel="stylesheet">'


def test_url_for_a_mounted_static_files_app(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    templates_dir, static_dir = tmp_path / "templates", tmp_path / "static"
    (static_dir / "css").mkdir(parents=True)
    (static_dir / "css" / "site.css").write_text("body {}")
    templates_dir.mkdir()
    (templates_dir / "index.html").write_text("{{ url_for('static', path='css/site.css') }}")
    templates = Jinja2Templates(directory=templates_dir)

    async def homepage(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html")

    app = Stellate(
        routes=[
            Route("/", homepage),
            Mount("/static", app=StaticFiles(directory=static_dir), name="static"),
        ]
    )
    client = test_client_factory(app)
    url = client.get("/").text
    assert url == "http://testserver/static/css/site.css"
    assert client.get(url).text == "body {}"


def test_url_for_path_params_in_a_router(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    (tmp_path / "user.html").write_text("{{ url_for('user', username=username) }}")
    templates = Jinja2Templates(directory=tmp_path)

    async def user(request: Request) -> Response:
        username = request.path_params["username"]
        return templates.TemplateResponse(request, "user.html", {"username": username})

    router = Router(routes=[Mount("/users", routes=[Route("/{username}", user, name="user")])])
    assert test_client_factory(router).get("/users/tom").text == "http://testserver/users/tom"


def test_template_response_options(tmp_path: Path, test_client_factory: TestClientFactory) -> None:
    (tmp_path / "index.html").write_text("gone")
    templates = Jinja2Templates(directory=tmp_path)
    tasks: list[int] = []

    async def homepage(request: Request) -> Response:
        return templates.TemplateResponse(
            request,
            "index.html",
            status_code=410,
            headers={"cache-control": "no-store"},
            media_type="text/plain",
            background=BackgroundTask(tasks.append, 1),
        )

    response = test_client_factory(Stellate(routes=[Route("/", homepage)])).get("/")
    assert response.status_code == 410
    assert response.text == "gone"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert tasks == [1]


def test_missing_template(tmp_path: Path, test_client_factory: TestClientFactory) -> None:
    templates = Jinja2Templates(directory=tmp_path)

    async def homepage(request: Request) -> Response:
        return templates.TemplateResponse(request, "nope.html")

    with pytest.raises(jinja2.TemplateNotFound):
        test_client_factory(Stellate(routes=[Route("/", homepage)])).get("/")


def test_name_first_calling_style_is_gone(tmp_path: Path) -> None:
    # Starlette 1.0 removed `TemplateResponse(name, {"request": request})`: it fails with
    # a TypeError there, and here too (with a message saying why).
    (tmp_path / "index.html").write_text("x")
    templates = Jinja2Templates(directory=tmp_path)
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    with pytest.raises(TypeError):
        templates.TemplateResponse("index.html", {"request": request})  # type: ignore[arg-type]
