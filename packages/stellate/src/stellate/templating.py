"""Jinja2 templates: `Jinja2Templates` renders a template into an HTML response.

jinja2 is an optional dependency (`pip install 'stellate[templates]'`): this module
imports without it, and `Jinja2Templates` says what to install when it is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any, overload

from stellate_asgi.datastructures import URL
from stellate_asgi.types import Receive, Scope, Send
from stellate_http.background import BackgroundTask
from stellate_http.requests import Request
from stellate_http.responses import HTMLResponse

try:
    import jinja2
except ModuleNotFoundError as exc:  # the optional extra is not installed
    _IMPORT_ERROR: ModuleNotFoundError | None = exc
else:
    _IMPORT_ERROR = None

if TYPE_CHECKING:
    from jinja2.runtime import Context

__all__ = [
    "BackgroundTask",
    "HTMLResponse",
    "Jinja2Templates",
    "Request",
    "URL",
]

# The ASGI extension through which a test client learns what a response rendered.
_DEBUG_EXTENSION = "http.response.debug"


class _TemplateResponse(HTMLResponse):
    """An `HTMLResponse` holding the `template` it rendered and the `context` it used.

    When the server offers the `http.response.debug` extension (the test client does),
    the template and context are sent to it before the response itself.
    """

    def __init__(
        self,
        template: jinja2.Template,
        context: dict[str, Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.template = template
        self.context = context
        content = template.render(context)
        super().__init__(content, status_code, headers, media_type, background)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The scope tells what this server offers; the context's "request" may have been
        # replaced by the caller with anything at all.
        extensions = scope.get("extensions") or {}
        if scope.get("type") == "http" and _DEBUG_EXTENSION in extensions:
            await send(
                {
                    "type": _DEBUG_EXTENSION,
                    "info": {"template": self.template, "context": self.context},
                }
            )
        await super().__call__(scope, receive, send)


class Jinja2Templates:
    """Render Jinja2 templates into HTML responses.

    Pass exactly one of `directory` (a folder, or a sequence of folders searched in
    order, loaded with autoescaping on for `.html`, `.htm` and `.xml` templates and for
    templates built from strings) or `env` (a `jinja2.Environment` used as it is).
    `context_processors` are called with the request for each response; the
    dictionaries they return are merged into the template context. Templates get
    `url_for(name, **path_params)`, which calls `request.url_for`.
    """

    @overload
    def __init__(
        self,
        directory: str | PathLike[str] | Sequence[str | PathLike[str]],
        *,
        context_processors: list[Callable[[Request], dict[str, Any]]] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        *,
        context_processors: list[Callable[[Request], dict[str, Any]]] | None = None,
        env: jinja2.Environment,
    ) -> None: ...

    def __init__(
        self,
        directory: str | PathLike[str] | Sequence[str | PathLike[str]] | None = None,
        *,
        context_processors: list[Callable[[Request], dict[str, Any]]] | None = None,
        env: jinja2.Environment | None = None,
    ) -> None:
        if _IMPORT_ERROR is not None:
            raise ModuleNotFoundError(
                "Jinja2Templates requires the `jinja2` package: install it with "
                "`pip install 'stellate[templates]'` (or `pip install jinja2`).",
                name="jinja2",
            ) from _IMPORT_ERROR
        # Starlette asserts here; raising keeps the check under `python -O`.
        if bool(directory) == bool(env):
            raise AssertionError("either 'directory' or 'env' arguments must be passed")
        self.context_processors = context_processors or []
        if directory:
            self.env = jinja2.Environment(
                loader=jinja2.FileSystemLoader(directory),
                autoescape=jinja2.select_autoescape(),
            )
        else:
            assert env is not None
            self.env = env
        # `setdefault`: an environment that brings its own `url_for` keeps it.
        self.env.globals.setdefault("url_for", jinja2.pass_context(_url_for))

    def get_template(self, name: str) -> jinja2.Template:
        """The template `name`, loaded through the environment (cached by jinja2)."""
        return self.env.get_template(name)

    def TemplateResponse(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> _TemplateResponse:
        """Render the template `name` with `context` into an HTML response.

        The context gets `request` (unless it has its own) and what each context
        processor returns. `jinja2.TemplateNotFound` propagates for a missing template.
        """
        if _is_removed_calling_style(request, name):
            raise TypeError(
                "TemplateResponse() takes (request, name, context): the "
                "TemplateResponse(name, {'request': request}) form was removed in "
                "Starlette 1.0."
            )
        # A copy: a dictionary the caller reuses across requests must not keep the
        # first request (and the values of processors) for every later one.
        context = dict(context) if context else {}
        context.setdefault("request", request)
        for context_processor in self.context_processors:
            values = context_processor(request)
            if hasattr(values, "__await__"):
                if hasattr(values, "close"):
                    values.close()  # no "never awaited" warning for the caller's mistake
                raise TypeError(
                    f"Context processor {context_processor!r} returned an awaitable: "
                    "context processors must be plain functions returning a dict."
                )
            context.update(values)
        template = self.get_template(name)
        return _TemplateResponse(
            template,
            context,
            status_code=status_code,
            headers=headers,
            media_type=media_type,
            background=background,
        )


def _url_for(context: Context, name: str, /, **path_params: Any) -> URL:
    # Positional-only `name`, so that a path parameter may itself be called "name".
    request: Request = context["request"]
    return request.url_for(name, **path_params)


def _is_removed_calling_style(request: object, name: object) -> bool:
    # `TemplateResponse("page.html", {"request": request})`, valid before Starlette 1.0.
    return isinstance(request, str) and isinstance(name, Mapping)
