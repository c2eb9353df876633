from __future__ import annotations

import functools
import threading

import pytest

from stellate_http.background import BackgroundTask, BackgroundTasks


@pytest.mark.anyio
async def test_async_task_is_awaited_with_its_arguments() -> None:
    calls: list[tuple[int, str]] = []

    async def record(number: int, *, label: str) -> None:
        calls.append((number, label))

    task = BackgroundTask(record, 1, label="one")
    assert task.is_async
    await task()

    assert calls == [(1, "one")]


@pytest.mark.anyio
async def test_sync_task_runs_in_a_worker_thread() -> None:
    threads: list[int] = []

    def record(value: int) -> None:
        threads.append(value)
        threads.append(threading.get_ident())

    task = BackgroundTask(record, 7)
    assert not task.is_async
    await task()

    assert threads[0] == 7
    assert threads[1] != threading.get_ident()


@pytest.mark.anyio
async def test_partial_of_async_function_is_awaited() -> None:
    calls: list[str] = []

    async def record(value: str) -> None:
        calls.append(value)

    task = BackgroundTask(functools.partial(record, "partial"))
    assert task.is_async
    await task()

    assert calls == ["partial"]


@pytest.mark.anyio
async def test_background_tasks_run_in_order() -> None:
    calls: list[str] = []

    async def async_record(value: str) -> None:
        calls.append(value)

    def sync_record(value: str) -> None:
        calls.append(value)

    tasks = BackgroundTasks(tasks=[BackgroundTask(sync_record, "first")])
    tasks.add_task(async_record, "second")
    tasks.add_task(sync_record, value="third")
    await tasks()

    assert calls == ["first", "second", "third"]


@pytest.mark.anyio
async def test_background_tasks_start_empty() -> None:
    tasks = BackgroundTasks()
    assert tasks.tasks == []
    await tasks()


@pytest.mark.anyio
async def test_failing_task_stops_the_rest_and_propagates() -> None:
    calls: list[str] = []

    def fail() -> None:
        raise RuntimeError("task failed")

    async def record() -> None:
        calls.append("ran")  # pragma: no cover

    tasks = BackgroundTasks()
    tasks.add_task(fail)
    tasks.add_task(record)

    with pytest.raises(RuntimeError, match="task failed"):
        await tasks()
    assert calls == []
