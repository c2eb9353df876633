from __future__ import annotations

import threading
from collections.abc import Iterator

import anyio
import anyio.lowlevel
import pytest

from stellate_asgi.exceptions import StellateDeprecationWarning
from stellate_http.concurrency import (
    create_collapsing_task_group,
    iterate_in_threadpool,
    run_in_threadpool,
    run_until_first_complete,
)


@pytest.mark.anyio
async def test_run_in_threadpool_passes_args_and_kwargs() -> None:
    def combine(a: int, b: int, *, scale: int) -> tuple[int, int]:
        return (a + b) * scale, threading.get_ident()

    result, thread_id = await run_in_threadpool(combine, 1, 2, scale=10)

    assert result == 30
    assert thread_id != threading.get_ident()


@pytest.mark.anyio
async def test_run_in_threadpool_propagates_exceptions() -> None:
    def fail() -> None:
        raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        await run_in_threadpool(fail)


@pytest.mark.anyio
async def test_iterate_in_threadpool_yields_every_item_from_worker_threads() -> None:
    threads: list[int] = []

    def numbers() -> Iterator[int]:
        for number in range(3):
            threads.append(threading.get_ident())
            yield number

    items = [item async for item in iterate_in_threadpool(numbers())]

    assert items == [0, 1, 2]
    assert threading.get_ident() not in threads


@pytest.mark.anyio
async def test_iterate_in_threadpool_accepts_any_iterable() -> None:
    assert [item async for item in iterate_in_threadpool(["a", "b"])] == ["a", "b"]
    empty: list[str] = []
    assert [item async for item in iterate_in_threadpool(empty)] == []


@pytest.mark.anyio
async def test_iterate_in_threadpool_propagates_errors_of_the_iterator() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("broken iterator")

    iterator = iterate_in_threadpool(broken())
    assert await iterator.__anext__() == 1
    with pytest.raises(ValueError, match="broken iterator"):
        await iterator.__anext__()


@pytest.mark.anyio
async def test_run_until_first_complete_cancels_the_others_and_warns() -> None:
    finished: list[str] = []

    async def quick(name: str) -> None:
        finished.append(name)

    async def slow(name: str) -> None:
        await anyio.sleep(10)
        finished.append(name)  # pragma: no cover

    with anyio.fail_after(5):
        with pytest.warns(StellateDeprecationWarning, match="run_until_first_complete"):
            await run_until_first_complete((slow, {"name": "slow"}), (quick, {"name": "quick"}))

    assert finished == ["quick"]


@pytest.mark.anyio
async def test_collapsing_task_group_runs_tasks() -> None:
    results: list[int] = []

    async def work(value: int) -> None:
        await anyio.lowlevel.checkpoint()
        results.append(value)

    async with create_collapsing_task_group() as task_group:
        task_group.start_soon(work, 1)
        task_group.start_soon(work, 2)

    assert sorted(results) == [1, 2]


@pytest.mark.anyio
async def test_collapsing_task_group_raises_a_lone_child_error_itself() -> None:
    async def fail() -> None:
        raise KeyError("child")

    with pytest.raises(KeyError, match="child") as info:  # noqa: PT012
        async with create_collapsing_task_group() as task_group:
            task_group.start_soon(fail)
            await anyio.sleep_forever()

    # The group that carried it is not chained in as a confusing context.
    assert not isinstance(info.value.__context__, BaseExceptionGroup)


@pytest.mark.anyio
async def test_collapsing_task_group_raises_a_lone_body_error_itself() -> None:
    with pytest.raises(RuntimeError, match="body"):
        async with create_collapsing_task_group():
            raise RuntimeError("body")


@pytest.mark.anyio
async def test_collapsing_task_group_keeps_the_original_context() -> None:
    with pytest.raises(RuntimeError) as info:  # noqa: PT012
        async with create_collapsing_task_group():
            try:
                raise ValueError("first")
            except ValueError:
                raise RuntimeError("second")

    assert isinstance(info.value.__context__, ValueError)


@pytest.mark.anyio
async def test_collapsing_task_group_keeps_several_errors_grouped() -> None:
    async def fail(exc: Exception) -> None:
        raise exc

    with pytest.raises(ExceptionGroup) as info:  # noqa: PT012
        async with create_collapsing_task_group() as task_group:
            task_group.start_soon(fail, KeyError("a"))
            task_group.start_soon(fail, ValueError("b"))

    assert {type(exc) for exc in info.value.exceptions} == {KeyError, ValueError}


@pytest.mark.anyio
async def test_collapsing_task_group_leaves_user_exception_groups_intact() -> None:
    inner = ValueError("inner")

    with pytest.raises(ExceptionGroup) as info:
        async with create_collapsing_task_group():
            raise ExceptionGroup("raised on purpose", [inner])

    # Only the task group's own wrapper is removed (trio may copy the user's group).
    assert info.value.message == "raised on purpose"
    assert info.value.exceptions == (inner,)


@pytest.mark.anyio
async def test_collapsing_task_group_cancel_scope_cancels_quietly() -> None:
    async with create_collapsing_task_group() as task_group:
        task_group.start_soon(anyio.sleep_forever)
        task_group.cancel_scope.cancel()
