"""The Python examples in the READMEs run, and the apps they define answer a request."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TestClientFactory

ROOT = Path(__file__).parents[2]
READMES = [ROOT / "README.md", *sorted(ROOT.glob("packages/*/README.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
EXAMPLES = [
    pytest.param(code, id=f"{path.parent.name}-{index}")
    for path in READMES
    for index, code in enumerate(BLOCK.findall(path.read_text()))
]


@pytest.mark.parametrize("code", EXAMPLES)
def test_readme_example(code: str, test_client_factory: TestClientFactory) -> None:
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(code, "<README>", "exec"), namespace)
    if "app" not in namespace:
        return
    client = test_client_factory(namespace["app"])
    if "WebSocket(" in code:
        with client.websocket_connect("/") as websocket:
            websocket.send_json({"n": 1})
            assert websocket.receive_json() == {"echo": {"n": 1}}
    else:
        assert client.get("/").status_code < 500
