from __future__ import annotations

import pytest

from stellate_asgi.types import ASGIApp, Message, Receive, Scope, Send
from stellate_middleware import Middleware


class TagMiddleware:
    """Appends `tag` to `scope["tags"]` on the way in."""

    def __init__(self, app: ASGIApp, tag: str, *, upper: bool = False) -> None:
        self.app = app
        self.tag = tag.upper() if upper else tag

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("tags", []).append(self.tag)
        await self.app(scope, receive, send)


def plain_factory(app: ASGIApp) -> ASGIApp:
    return app


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    scope["tags"].append("endpoint")


async def _receive() -> Message:
    return {"type": "http.disconnect"}  # pragma: no cover


async def _send(message: Message) -> None:
    pass  # pragma: no cover


def test_middleware_stores_its_parts() -> None:
    middleware = Middleware(TagMiddleware, "a", upper=True)
    assert middleware.cls is TagMiddleware
    assert middleware.args == ("a",)
    assert middleware.kwargs == {"upper": True}


def test_middleware_unpacks_as_a_triple() -> None:
    cls, args, kwargs = Middleware(TagMiddleware, "a", upper=True)
    assert cls is TagMiddleware
    assert args == ("a",)
    assert kwargs == {"upper": True}

    cls, args, kwargs = Middleware(plain_factory)
    assert cls is plain_factory
    assert args == ()
    assert kwargs == {}


def test_middleware_repr() -> None:
    assert repr(Middleware(plain_factory)) == "Middleware(plain_factory)"
    assert repr(Middleware(TagMiddleware, "a")) == "Middleware(TagMiddleware, 'a')"
    assert (
        repr(Middleware(TagMiddleware, "a", upper=True))
        == "Middleware(TagMiddleware, 'a', upper=True)"
    )
    assert repr(Middleware(TagMiddleware, tag="b")) == "Middleware(TagMiddleware, tag='b')"


def test_middleware_repr_of_a_subclass_uses_its_name() -> None:
    class Spec(Middleware):
        pass

    assert repr(Spec(plain_factory)) == "Spec(plain_factory)"


@pytest.mark.anyio
async def test_middleware_builds_a_stack_outermost_first() -> None:
    middleware = [
        Middleware(TagMiddleware, "outer"),
        Middleware(TagMiddleware, tag="inner", upper=True),
    ]
    app: ASGIApp = endpoint
    for cls, args, kwargs in reversed(middleware):
        app = cls(app, *args, **kwargs)

    scope: Scope = {"type": "http"}
    await app(scope, _receive, _send)
    assert scope["tags"] == ["outer", "INNER", "endpoint"]


def test_middleware_options_are_checked_when_the_stack_is_built() -> None:
    # The type checker refuses the unknown option (the ignore below is required by
    # `warn_unused_ignores`); at run time the factory refuses it when it is called.
    middleware = Middleware(TagMiddleware, "a", colour="red")  # type: ignore[call-arg]
    cls, args, kwargs = middleware
    with pytest.raises(TypeError):
        cls(endpoint, *args, **kwargs)
