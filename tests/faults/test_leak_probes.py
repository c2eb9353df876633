"""The probes of the fault tests do see leaks: a passing fault test means something."""

from __future__ import annotations

import tempfile

import anyio
import pytest

from tests.faults import _asgi
from tests.faults._asgi import no_leaks


@pytest.mark.anyio
async def test_a_file_left_open_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_asgi, "SETTLE_TIMEOUT", 0.05)
    leaked = None
    with pytest.raises(AssertionError, match="file descriptors left open"):
        async with no_leaks():
            leaked = tempfile.TemporaryFile()  # noqa: SIM115
    assert leaked is not None
    leaked.close()

    async with no_leaks():
        pass


@pytest.mark.anyio
async def test_a_task_left_running_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_asgi, "SETTLE_TIMEOUT", 0.05)
    async with anyio.create_task_group() as task_group:
        with pytest.raises(AssertionError, match="tasks left running"):
            async with no_leaks():
                task_group.start_soon(anyio.sleep_forever)
        task_group.cancel_scope.cancel()

    async with no_leaks():
        pass
