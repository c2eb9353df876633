"""Starlette-compatibility checks for background tasks and the thread-pool helpers,
through the umbrella."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from pathlib import Path

import anyio
import pytest

from stellate.applications import Stellate
from stellate.background import BackgroundTask, BackgroundTasks
from stellate.concurrency import iterate_in_threadpool, run_in_threadpool, run_until_first_complete
from stellate.exceptions import StellateDeprecationWarning
from stellate.requests import Request
from stellate.responses import FileResponse, Response, StreamingResponse
from stellate.routing import Route
from stellate.types import ASGIApp, Receive, Scope, Send
from tests.conftest import TestClientFactory


def plain_app(task: BackgroundTask, _: Path) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = Response(b"started", media_type="text/plain", background=task)
        await response(scope, receive, send)

    return app


def streaming_app(task: BackgroundTask, _: Path) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async def body() -> AsyncIterator[bytes]:
            yield b"start"
            yield b"ed"

        response = StreamingResponse(body(), media_type="text/plain", background=task)
        await response(scope, receive, send)

    return app


def file_app(task: BackgroundTask, tmp_path: Path) -> ASGIApp:
    path = tmp_path / "body.txt"
    path.write_bytes(b"started")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = FileResponse(path, media_type="text/plain", background=task)
        await response(scope, receive, send)

    return app


@pytest.mark.parametrize("make_app", [plain_app, streaming_app, file_app])
def test_async_background_task_runs_after_the_response(
    test_client_factory: TestClientFactory,
    tmp_path: Path,
    make_app: Callable[[BackgroundTask, Path], ASGIApp],
) -> None:
    done: list[str] = []

    async def task(label: str) -> None:
        done.append(label)

    client = test_client_factory(make_app(BackgroundTask(task, "cleanup"), tmp_path))
    assert client.get("/").text == "started"
    assert done == ["cleanup"]


def test_sync_background_task_runs_in_a_worker_thread(
    test_client_factory: TestClientFactory,
) -> None:
    threads: list[int] = []

    def task() -> None:
        threads.append(threading.get_ident())

    client = test_client_factory(plain_app(BackgroundTask(task), Path()))
    assert client.get("/").text == "started"
    assert len(threads) == 1


def test_background_tasks_run_in_order(test_client_factory: TestClientFactory) -> None:
    total: list[int] = []

    def add(amount: int) -> None:
        total.append(amount)

    async def add_async(amount: int) -> None:
        total.append(amount)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        tasks = BackgroundTasks()
        tasks.add_task(add, amount=1)
        tasks.add_task(add_async, 2)
        tasks.add_task(add, amount=3)
        response = Response("queued", media_type="text/plain", background=tasks)
        await response(scope, receive, send)

    client = test_client_factory(app)
    assert client.get("/").text == "queued"
    assert total == [1, 2, 3]


def test_background_tasks_from_a_list(test_client_factory: TestClientFactory) -> None:
    seen: list[str] = []

    async def record(value: str) -> None:
        seen.append(value)

    tasks = BackgroundTasks([BackgroundTask(record, "a"), BackgroundTask(record, "b")])
    client = test_client_factory(plain_app(tasks, Path()))
    client.get("/")
    assert seen == ["a", "b"]


def test_failing_background_task_stops_the_others(test_client_factory: TestClientFactory) -> None:
    calls: list[int] = []

    def fail_first() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise ValueError("task failed")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        tasks = BackgroundTasks()
        tasks.add_task(fail_first)
        tasks.add_task(fail_first)
        response = Response("queued", media_type="text/plain", background=tasks)
        await response(scope, receive, send)

    client = test_client_factory(app)
    with pytest.raises(ValueError, match="task failed"):
        client.get("/")
    assert calls == [0]


def test_background_task_of_an_endpoint(test_client_factory: TestClientFactory) -> None:
    sent: list[str] = []

    async def notify(address: str) -> None:
        sent.append(address)

    async def signup(request: Request) -> Response:
        return Response("welcome", background=BackgroundTask(notify, address="a@example.org"))

    client = test_client_factory(Stellate(routes=[Route("/", signup, methods=["POST"])]))
    assert client.post("/").text == "welcome"
    assert sent == ["a@example.org"]


# Concurrency


@pytest.mark.anyio
async def test_run_until_first_complete_cancels_the_rest() -> None:
    first_done = anyio.Event()
    second_done = anyio.Event()

    async def first() -> None:
        first_done.set()

    async def second() -> None:
        await first_done.wait()
        await anyio.sleep(1)  # pragma: no cover
        second_done.set()  # pragma: no cover

    with pytest.warns(StellateDeprecationWarning, match="run_until_first_complete is deprecated"):
        await run_until_first_complete((first, {}), (second, {}))
    assert first_done.is_set()
    assert not second_done.is_set()


@pytest.mark.anyio
async def test_run_until_first_complete_passes_kwargs() -> None:
    results: list[int] = []

    async def record(value: int) -> None:
        results.append(value)

    with pytest.warns(StellateDeprecationWarning):
        await run_until_first_complete((record, {"value": 5}))
    assert results == [5]


@pytest.mark.anyio
async def test_iterate_in_threadpool_over_a_custom_iterable() -> None:
    class Countdown:
        def __iter__(self) -> Iterator[int]:
            yield from (3, 2, 1)

    assert [value async for value in iterate_in_threadpool(Countdown())] == [3, 2, 1]


@pytest.mark.anyio
async def test_run_in_threadpool_sees_context_variables() -> None:
    request_id: ContextVar[str] = ContextVar("request_id")
    request_id.set("req-7")

    def read() -> tuple[str, int]:
        return request_id.get(), threading.get_ident()

    value, thread = await run_in_threadpool(read)
    assert value == "req-7"
    assert thread != threading.get_ident()


def test_sync_endpoint_sees_context_variables(test_client_factory: TestClientFactory) -> None:
    tenant: ContextVar[bytes] = ContextVar("tenant")
    tenant.set(b"acme")

    def endpoint(request: Request) -> Response:
        return Response(tenant.get())

    client = test_client_factory(Stellate(routes=[Route("/", endpoint)]))
    assert client.get("/").content == b"acme"


def test_patching_run_in_threadpool_on_the_module_reaches_the_tasks(
    test_client_factory: TestClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As tests written for Starlette do to run sync tasks inline: the patch is made on
    # `stellate.background`, the module whose globals the tasks read.
    threads: list[str] = []

    async def inline(func: Callable[..., object], *args: object, **kwargs: object) -> object:
        threads.append("inline")
        return func(*args, **kwargs)

    monkeypatch.setattr("stellate.background.run_in_threadpool", inline)
    ran: list[int] = []
    app = plain_app(BackgroundTask(ran.append, 7), Path())
    assert test_client_factory(app).get("/").text == "started"
    assert (ran, threads) == ([7], ["inline"])
