"""`stellate.templating`: Jinja2 templates rendered into HTML responses.

Every test runs on asyncio and trio (the `test_client_factory` fixture), with the
templates served by a `Stellate` application, a bare `Router` or a plain ASGI callable.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2
import pytest

import stellate.templating
from stellate.applications import Stellate
from stellate.templating import Jinja2Templates
from stellate_asgi.types import Message, Receive, Scope, Send
from stellate_http.background import BackgroundTask
from stellate_http.requests import Request
from stellate_http.responses import PlainTextResponse, Response
from stellate_routing import Mount, Route, Router, WebSocketRoute
from stellate_testclient import WebSocketDenialResponse
from stellate_websockets import WebSocket
from tests.conftest import TestClientFactory

HOSTILE = "<script>alert('x')</script> & \"quoted\""
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;quoted&#34;"

Endpoint = Callable[[Request], Awaitable[Response]]


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def app_with(endpoint: Endpoint, *routes: Any) -> Stellate:
    return Stellate(routes=[Route("/", endpoint), *routes])


async def static_files(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands in for a static files app: url_for only needs the mount's name."""
    await PlainTextResponse(scope["path"])(scope, receive, send)


async def run_asgi(app: Any, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def http_scope(**extra: Any) -> Scope:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [(b"host", b"example.org")],
        "server": ("example.org", 80),
    }
    scope.update(extra)
    return scope


def load_without_jinja2(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A fresh copy of `stellate.templating`, imported as if jinja2 were not installed.

    `None` in `sys.modules` makes `import jinja2` raise `ModuleNotFoundError`; the copy
    lives under another name, so the real module is left as it is.
    """
    monkeypatch.setitem(sys.modules, "jinja2", None)
    spec = importlib.util.spec_from_file_location(
        "_stellate_templating_without_jinja2", stellate.templating.__file__
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Rendering


def test_renders_a_template_through_the_application(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    write(tmp_path, "index.html", "<h1>Hello, {{ name }}</h1><p>{{ request.url.path }}</p>")
    templates = Jinja2Templates(directory=tmp_path)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html", {"name": "Ünïcode"})

    response = test_client_factory(app_with(page)).get("/")
    assert response.status_code == 200
    assert response.text == "<h1>Hello, Ünïcode</h1><p>/</p>"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-length"] == str(len(response.content))


def test_renders_inside_a_bare_router(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    write(tmp_path, "item.html", "item {{ request.path_params['item_id'] }}")
    templates = Jinja2Templates(directory=str(tmp_path))

    async def item(request: Request) -> Response:
        return templates.TemplateResponse(request, "item.html")

    router = Router(routes=[Route("/items/{item_id:int}", item)])
    response = test_client_factory(router).get("/items/42")
    assert response.text == "item 42"
    assert response.template.name == "item.html"  # type: ignore[attr-defined]


def test_renders_from_a_bare_asgi_callable(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    write(tmp_path, "raw.html", "{{ request.method }} {{ greeting }}")
    templates = Jinja2Templates(directory=tmp_path)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = templates.TemplateResponse(request, "raw.html", {"greeting": "hi"})
        await response(scope, receive, send)

    response = test_client_factory(app).post("/")
    assert response.text == "POST hi"
    assert response.template.name == "raw.html"  # type: ignore[attr-defined]
    assert response.context["greeting"] == "hi"  # type: ignore[attr-defined]


def test_response_keeps_its_template_and_context(tmp_path: Path) -> None:
    write(tmp_path, "page.html", "{{ value }}")
    templates = Jinja2Templates(directory=tmp_path)
    request = Request(http_scope())

    response = templates.TemplateResponse(request, "page.html", {"value": 3})
    assert response.body == b"3"
    assert response.template is templates.get_template("page.html")
    assert response.context == {"value": 3, "request": request}


def test_template_inheritance_and_includes(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    write(tmp_path, "base.html", "<main>{% block body %}{% endblock %}</main>")
    write(tmp_path, "parts/footer.html", "<footer>{{ who }}</footer>")
    write(
        tmp_path,
        "child.html",
        '{% extends "base.html" %}{% block body %}{% include "parts/footer.html" %}{% endblock %}',
    )
    templates = Jinja2Templates(directory=tmp_path)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "child.html", {"who": "<me>"})

    response = test_client_factory(app_with(page)).get("/")
    assert response.text == "<main><footer>&lt;me&gt;</footer></main>"


# Autoescaping


def test_autoescapes_html_templates(tmp_path: Path, test_client_factory: TestClientFactory) -> None:
    write(tmp_path, "page.html", "<p>{{ value }}</p><p>{{ value|safe }}</p>")
    write(tmp_path, "page.xml", "<v>{{ value }}</v>")
    write(tmp_path, "page.htm", "{{ value }}")
    templates = Jinja2Templates(directory=tmp_path)

    async def page(request: Request) -> Response:
        name = request.query_params["name"]
        return templates.TemplateResponse(request, name, {"value": request.query_params["v"]})

    client = test_client_factory(app_with(page))
    response = client.get("/", params={"name": "page.html", "v": HOSTILE})
    assert response.text == f"<p>{ESCAPED}</p><p>{HOSTILE}</p>"
    assert client.get("/", params={"name": "page.xml", "v": HOSTILE}).text == f"<v>{ESCAPED}</v>"
    assert client.get("/", params={"name": "page.htm", "v": HOSTILE}).text == ESCAPED


def test_autoescape_follows_the_template_extension(tmp_path: Path) -> None:
    # As in Starlette 1.x (`jinja2.select_autoescape()`): plain-text templates are not
    # escaped, templates built from strings are.
    write(tmp_path, "mail.txt", "{{ value }}")
    templates = Jinja2Templates(directory=tmp_path)
    assert templates.get_template("mail.txt").render(value=HOSTILE) == HOSTILE
    assert templates.env.from_string("{{ value }}").render(value=HOSTILE) == ESCAPED


def test_a_given_environment_keeps_its_own_autoescape_setting(tmp_path: Path) -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"a.html": "{{ v }}"}), autoescape=False)
    templates = Jinja2Templates(env=env)
    assert templates.get_template("a.html").render(v="<b>") == "<b>"


# url_for


def test_url_for_with_path_params_and_mounts(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    write(
        tmp_path,
        "links.html",
        "{{ url_for('static', path='/css/site.css') }}\n"
        "{{ url_for('user', name='bob') }}\n"
        "{{ url_for('admin:report', report_id=7) }}\n"
        "{{ url_for('home') }}",
    )
    templates = Jinja2Templates(directory=tmp_path)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "links.html")

    async def user(request: Request) -> Response:
        return PlainTextResponse(request.path_params["name"])

    app = Stellate(
        routes=[
            Route("/", page, name="home"),
            Route("/users/{name}", user, name="user"),
            Mount("/static", app=static_files, name="static"),
            Mount(
                "/admin",
                routes=[Route("/reports/{report_id:int}", user, name="report")],
                name="admin",
            ),
        ]
    )
    response = test_client_factory(app).get("/")
    assert response.text.splitlines() == [
        "http://testserver/static/css/site.css",
        "http://testserver/users/bob",
        "http://testserver/admin/reports/7",
        "http://testserver/",
    ]


def test_url_for_inside_a_bare_router_and_escaped(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    write(tmp_path, "a.html", "<a href=\"{{ url_for('search', term=term) }}\">x</a>")
    templates = Jinja2Templates(directory=tmp_path)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "a.html", {"term": 'a"b'})

    async def search(request: Request) -> Response:
        return PlainTextResponse("")

    router = Router(routes=[Route("/", page), Route("/search/{term}", search, name="search")])
    response = test_client_factory(router, base_url="https://example.org").get("/")
    # The double quote cannot close the attribute: escaped as `&#34;`.
    assert response.text == '<a href="https://example.org/search/a&#34;b">x</a>'


def test_url_for_unknown_route_raises(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    from stellate_routing import NoMatchFound

    write(tmp_path, "a.html", "{{ url_for('nowhere') }}")
    templates = Jinja2Templates(directory=tmp_path)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "a.html")

    with pytest.raises(NoMatchFound):
        test_client_factory(app_with(page)).get("/")


def test_an_environment_keeps_its_own_url_for() -> None:
    def own_url_for(name: str) -> str:
        return f"/own/{name}"

    env = jinja2.Environment(
        loader=jinja2.DictLoader({"a.html": "{{ url_for('x') }}"}), autoescape=True
    )
    env.globals["url_for"] = own_url_for
    templates = Jinja2Templates(env=env)
    assert templates.env is env
    assert templates.get_template("a.html").render() == "/own/x"


# Context processors


def test_context_processors_get_the_request_and_are_merged(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    write(tmp_path, "p.html", "{{ user }} {{ site }} {{ title }}")
    seen: list[Request] = []

    def user(request: Request) -> dict[str, Any]:
        seen.append(request)
        return {"user": request.headers.get("x-user", "anonymous"), "title": "processor"}

    def site(request: Request) -> dict[str, Any]:
        return {"site": "<Stellate>"}

    templates = Jinja2Templates(directory=tmp_path, context_processors=[user, site])

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "p.html", {"title": "page"})

    response = test_client_factory(app_with(page)).get("/", headers={"x-user": "ada"})
    # Processors run after the context is set, so their values win.
    assert response.text == "ada &lt;Stellate&gt; processor"
    assert response.context["user"] == "ada"  # type: ignore[attr-defined]
    assert len(seen) == 1
    assert seen[0] is response.context["request"]  # type: ignore[attr-defined]
    assert seen[0].url.path == "/"


class _Awaitable:
    """An awaitable that is not a coroutine (no `close`)."""

    def __await__(self) -> Any:
        yield from ()


def test_an_async_context_processor_is_refused_clearly(tmp_path: Path) -> None:
    write(tmp_path, "p.html", "")

    async def coroutine_processor(request: Request) -> dict[str, Any]:
        return {}  # pragma: no cover (closed unawaited)

    def awaitable_processor(request: Request) -> Any:
        return _Awaitable()

    for processor in (coroutine_processor, awaitable_processor):
        templates = Jinja2Templates(
            directory=tmp_path,
            context_processors=[processor],  # type: ignore[list-item]
        )
        with pytest.raises(TypeError, match="returned an awaitable"):
            templates.TemplateResponse(Request(http_scope()), "p.html")


def test_the_callers_context_is_not_changed(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    write(tmp_path, "p.html", "{{ request.query_params['n'] }} {{ extra }}")
    shared = {"extra": "shared"}
    templates = Jinja2Templates(directory=tmp_path, context_processors=[lambda r: {"p": 1}])

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "p.html", shared)

    client = test_client_factory(app_with(page))
    assert client.get("/?n=1").text == "1 shared"
    # A reused context dictionary does not carry the first request into the second.
    assert client.get("/?n=2").text == "2 shared"
    assert shared == {"extra": "shared"}


def test_a_request_in_the_context_is_kept(tmp_path: Path) -> None:
    write(tmp_path, "p.html", "{{ request }}")
    templates = Jinja2Templates(directory=tmp_path)
    response = templates.TemplateResponse(Request(http_scope()), "p.html", {"request": "mine"})
    assert response.body == b"mine"


# Environments and directories


def test_with_a_given_environment(test_client_factory: TestClientFactory) -> None:
    env = jinja2.Environment(
        loader=jinja2.DictLoader({"env.html": "{{ 'x'|shout }} {{ url_for('home') }}"}),
        autoescape=jinja2.select_autoescape(),
    )
    env.filters["shout"] = lambda value: f"{value.upper()}!"
    templates = Jinja2Templates(env=env)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "env.html")

    app = Stellate(routes=[Route("/", page, name="home")])
    assert test_client_factory(app).get("/").text == "X! http://testserver/"


def test_several_directories_are_searched_in_order(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write(first, "both.html", "first")
    write(second, "both.html", "second")
    write(second, "only.html", "only in second")
    templates = Jinja2Templates(directory=[first, str(second)])

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, request.query_params["t"])

    client = test_client_factory(app_with(page))
    assert client.get("/?t=both.html").text == "first"
    assert client.get("/?t=only.html").text == "only in second"


@pytest.mark.parametrize(
    ("directory", "env"),
    [
        pytest.param(None, None, id="neither"),
        pytest.param("templates", jinja2.Environment(), id="both"),
        pytest.param("", None, id="empty-directory"),
        pytest.param([], None, id="no-directories"),
    ],
)
def test_exactly_one_of_directory_and_env(directory: Any, env: Any) -> None:
    with pytest.raises(
        AssertionError, match="either 'directory' or 'env' arguments must be passed"
    ):
        Jinja2Templates(directory=directory, env=env)  # type: ignore[call-overload]


def test_empty_directory_with_an_environment_uses_the_environment() -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"a.html": "env"}))
    templates = Jinja2Templates(directory="", env=env)  # type: ignore[call-overload]
    assert templates.env is env


# TemplateResponse options


def test_status_headers_media_type_and_background(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    write(tmp_path, "p.html", "created {{ n }}")
    ran: list[str] = []

    async def record(label: str) -> None:
        ran.append(label)

    templates = Jinja2Templates(directory=tmp_path)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(
            request,
            "p.html",
            {"n": 1},
            status_code=201,
            headers={"x-template": "yes"},
            media_type="text/plain",
            background=BackgroundTask(record, "done"),
        )

    response = test_client_factory(app_with(page)).get("/")
    assert response.status_code == 201
    assert response.text == "created 1"
    assert response.headers["x-template"] == "yes"
    # The media type is the one given, never guessed from the template name.
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert ran == ["done"]


def test_media_type_is_html_whatever_the_template_name(tmp_path: Path) -> None:
    write(tmp_path, "data.json", '{"a": 1}')
    templates = Jinja2Templates(directory=tmp_path)
    response = templates.TemplateResponse(Request(http_scope()), "data.json")
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_a_content_type_header_wins_over_the_media_type(tmp_path: Path) -> None:
    write(tmp_path, "feed.xml", "<feed/>")
    templates = Jinja2Templates(directory=tmp_path)
    response = templates.TemplateResponse(
        Request(http_scope()), "feed.xml", headers={"content-type": "application/atom+xml"}
    )
    assert response.headers.getlist("content-type") == ["application/atom+xml"]


# The debug extension


@pytest.mark.anyio
async def test_debug_message_only_when_the_server_offers_it(tmp_path: Path) -> None:
    write(tmp_path, "p.html", "body")
    templates = Jinja2Templates(directory=tmp_path)

    plain = http_scope()
    response = templates.TemplateResponse(Request(plain), "p.html")
    assert [m["type"] for m in await run_asgi(response, plain)] == [
        "http.response.start",
        "http.response.body",
    ]

    offered = http_scope(extensions={"http.response.debug": {}})
    response = templates.TemplateResponse(Request(offered), "p.html", {"k": "v"})
    messages = await run_asgi(response, offered)
    assert [m["type"] for m in messages] == [
        "http.response.debug",
        "http.response.start",
        "http.response.body",
    ]
    info = messages[0]["info"]
    assert info["template"] is response.template
    assert info["context"] is response.context
    assert info["context"]["k"] == "v"


@pytest.mark.anyio
async def test_debug_message_follows_the_scope_not_the_context(tmp_path: Path) -> None:
    write(tmp_path, "p.html", "{{ request }}")
    templates = Jinja2Templates(directory=tmp_path)
    response = templates.TemplateResponse(Request(http_scope()), "p.html", {"request": "text"})
    messages = await run_asgi(response, http_scope(extensions={"http.response.debug": {}}))
    assert messages[0]["type"] == "http.response.debug"
    assert messages[-1]["body"] == b"text"


def test_template_and_context_through_middleware(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    from stellate_middleware import Middleware
    from stellate_middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

    write(tmp_path, "p.html", "{{ v }}")
    templates = Jinja2Templates(directory=tmp_path)

    class Passing(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            response = await call_next(request)
            response.headers["x-passed"] = "1"
            return response

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "p.html", {"v": "through"})

    app = Stellate(routes=[Route("/", page)], middleware=[Middleware(Passing)])
    response = test_client_factory(app).get("/")
    assert response.text == "through"
    assert response.headers["x-passed"] == "1"
    assert response.template.name == "p.html"  # type: ignore[attr-defined]
    assert response.context["v"] == "through"  # type: ignore[attr-defined]


def test_a_template_as_a_websocket_denial(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    write(tmp_path, "denied.html", "<p>{{ why }}</p>")
    templates = Jinja2Templates(directory=tmp_path)

    async def ws(websocket: WebSocket) -> None:
        request = Request({**websocket.scope, "type": "http", "method": "GET"})
        response = templates.TemplateResponse(request, "denied.html", {"why": "<no>"}, 403)
        await websocket.send_denial_response(response)

    client = test_client_factory(Router(routes=[WebSocketRoute("/ws", ws)]))
    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect("/ws"):
        pass  # pragma: no cover
    assert info.value.status_code == 403
    assert info.value.text == "<p>&lt;no&gt;</p>"


# Refusals


def test_missing_template_raises_template_not_found(
    tmp_path: Path, test_client_factory: TestClientFactory
) -> None:
    templates = Jinja2Templates(directory=tmp_path)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "missing.html")

    with pytest.raises(jinja2.TemplateNotFound, match=r"missing\.html"):
        test_client_factory(app_with(page)).get("/")
    client = test_client_factory(app_with(page), raise_server_exceptions=False)
    assert client.get("/").status_code == 500
    with pytest.raises(jinja2.TemplateNotFound):
        templates.get_template("missing.html")


@pytest.mark.parametrize(
    "name",
    [
        "../secret.html",
        "sub/../../secret.html",
        "/etc/passwd",
        "..",
        "a\x00.html",
        "\\\\server\\share\\secret.html",
        "C:/secret.html",
        "a" * 5000 + ".html",
    ],
)
def test_template_names_cannot_leave_the_directory(tmp_path: Path, name: str) -> None:
    root = tmp_path / "templates"
    write(root, "sub/ok.html", "ok")
    write(tmp_path, "secret.html", "secret")
    templates = Jinja2Templates(directory=root)
    with pytest.raises(jinja2.TemplateNotFound):
        templates.TemplateResponse(Request(http_scope()), name)
    assert templates.TemplateResponse(Request(http_scope()), "sub/ok.html").body == b"ok"


def test_the_removed_calling_style_fails_clearly(tmp_path: Path) -> None:
    write(tmp_path, "p.html", "")
    templates = Jinja2Templates(directory=tmp_path)
    request = Request(http_scope())
    with pytest.raises(TypeError, match=r"removed in Starlette 1\.0"):
        templates.TemplateResponse("p.html", {"request": request})  # type: ignore[arg-type]


def test_missing_jinja2_fails_on_use_with_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = load_without_jinja2(monkeypatch)
    # The module itself imports, with its re-exported names.
    assert module.Request is Request
    assert module.BackgroundTask is BackgroundTask
    for kwargs in ({"directory": "templates"}, {}):
        with pytest.raises(
            ModuleNotFoundError, match=r"pip install 'stellate\[templates\]'"
        ) as info:
            module.Jinja2Templates(**kwargs)
        assert info.value.name == "jinja2"
        assert isinstance(info.value.__cause__, ModuleNotFoundError)
    # The real module is untouched.
    assert sys.modules["stellate.templating"] is stellate.templating
    assert stellate.templating._IMPORT_ERROR is None
