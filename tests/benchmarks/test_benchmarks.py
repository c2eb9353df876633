"""The benchmark suite stays runnable: every app answers right, and the reports are sound.

Nothing here measures or asserts time; the scenarios' apps are checked (status
and body) on both anyio backends, so an app that breaks is caught by the test
suite rather than by the next `scripts/bench`.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tests.benchmarks import e2e
from tests.benchmarks.__main__ import main, scenarios
from tests.benchmarks.harness import (
    Request,
    Result,
    SanityError,
    Scenario,
    Scope,
    _Receiver,
    check,
    http_scope,
    peak_memory,
    websocket_scope,
)
from tests.benchmarks.plot import ratio_svg
from tests.benchmarks.report import memory_table, replace_section, table, timing_table

WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:8000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.61ms    0.40ms   9.87ms   92.11%
    Req/Sec    24.55k     1.02k   25.93k    84.00%
  122156 requests in 5.00s, 17.01MB read
Requests/sec:  24430.12
Transfer/sec:      3.40MB
"""


@pytest.mark.anyio
async def test_every_scenario_answers_as_expected(tmp_path: Path) -> None:
    checked = []
    for scenario in scenarios(tmp_path):
        await check(scenario)
        checked.append(scenario.name)
    assert len(checked) == len(set(checked)) == 21


@pytest.mark.anyio
async def test_a_wrong_answer_is_reported(tmp_path: Path) -> None:
    plaintext = scenarios(tmp_path)[0]
    wrong_body = Scenario(plaintext.name, plaintext.apps, plaintext.requests, 200, body=b"Hi")
    with pytest.raises(SanityError, match=r"plaintext: raw answered the body b'Hello, world!'"):
        await check(wrong_body)
    wrong_status = Scenario(plaintext.name, plaintext.apps, plaintext.requests, 404)
    with pytest.raises(SanityError, match="plaintext: raw answered 200, expected 404"):
        await check(wrong_status)


@pytest.mark.anyio
async def test_a_chunked_body_arrives_in_pieces_then_a_disconnect() -> None:
    receive = _Receiver(Request(http_scope("POST", "/"), b"0123456789", chunk_size=4))
    messages = [await receive() for _ in range(4)]
    assert messages == [
        {"type": "http.request", "body": b"0123", "more_body": True},
        {"type": "http.request", "body": b"4567", "more_body": True},
        {"type": "http.request", "body": b"89", "more_body": False},
        {"type": "http.disconnect"},
    ]


@pytest.mark.anyio
async def test_a_websocket_client_connects_sends_one_frame_and_leaves() -> None:
    receive = _Receiver(Request(websocket_scope("/ws"), b"hi"))
    assert [await receive() for _ in range(3)] == [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hi"},
        {"type": "websocket.disconnect", "code": 1000},
    ]


@pytest.mark.anyio
async def test_peak_memory_counts_what_the_app_allocates() -> None:
    async def hoarder(scope: Scope, receive: object, send: object) -> None:
        scope["hoard"] = bytearray(3 * 1024 * 1024)
        del scope["hoard"]

    async def frugal(scope: Scope, receive: object, send: object) -> None:
        pass

    scenario = Scenario(
        "memory",
        {"raw": frugal, "stellate": hoarder},
        [Request(http_scope("GET", "/"))],
        200,
    )
    result = Result("memory")
    await peak_memory(scenario, result)
    assert result.memory["raw"] < 64 * 1024
    assert 3 * 1024 * 1024 <= result.memory["stellate"] < 4 * 1024 * 1024


def test_a_smoke_run_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--rounds", "1", "--iterations", "2", "--only", "multipart, 10"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^multipart, 10 MiB file(\s+\d+\.\d){3}(\s+\d+\.\d\dx){3}$", out, re.M)
    assert re.search(r"^multipart, 10 MiB file(\s+\d+ KiB|\s+\d+\.\d\d MiB){3}$", out, re.M)


def test_an_unknown_scenario_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--only", "no such scenario"])
    assert exit_info.value.code == 2


def test_tables_leave_a_dash_where_a_peer_has_no_app() -> None:
    results = [
        _result("plaintext", raw=2.0, stellate=4.0, starlette=8.0, peer=3.0),
        _result("form", raw=10.0, stellate=15.0, starlette=30.0),
    ]
    columns, rows = timing_table(results)
    assert columns == [
        "scenario",
        "raw µs",
        "stellate µs",
        "Starlette µs",
        "peer µs",
        "stellate / raw",
        "Starlette / raw",
        "peer / raw",
        "stellate / Starlette",
    ]
    assert rows == [
        ["plaintext", "2.0", "4.0", "8.0", "3.0", "2.00x", "4.00x", "1.50x", "0.50x"],
        ["form", "10.0", "15.0", "30.0", "—", "1.50x", "3.00x", "—", "0.50x"],
    ]
    assert table(columns[:2], [row[:2] for row in rows], markdown=True) == (
        "| scenario | raw µs |\n|---|---:|\n| plaintext | 2.0 |\n| form | 10.0 |"
    )


def test_memory_table_lists_only_the_scenarios_that_measured_it() -> None:
    measured = _result("upload", raw=1.0, stellate=2.0, starlette=3.0)
    measured.memory = {"raw": 4096, "stellate": 1536 * 1024, "starlette": 3 * 1024 * 1024}
    columns, rows = memory_table([_result("plaintext", raw=1.0, stellate=1.0), measured])
    assert columns == ["scenario", "raw", "stellate", "Starlette"]
    assert rows == [["upload", "4 KiB", "1.50 MiB", "3.00 MiB"]]


def test_a_docs_section_is_replaced_between_its_markers() -> None:
    text = "intro\n<!-- bench:x -->\nold\nlines\n<!-- /bench:x -->\noutro\n"
    assert replace_section(text, "bench:x", "new\n") == (
        "intro\n<!-- bench:x -->\nnew\n<!-- /bench:x -->\noutro\n"
    )
    with pytest.raises(ValueError, match="bench:y"):
        replace_section(text, "bench:y", "new")


def test_the_docs_page_has_both_results_sections() -> None:
    text = (Path(__file__).parents[2] / "docs" / "performance.md").read_text("utf-8")
    for marker in ("bench:in-process", "bench:e2e"):
        assert replace_section(text, marker, "") != text


def test_the_plot_draws_log_scaled_bars_from_one() -> None:
    results = [
        _result("fast", raw=1.0, stellate=10.0, starlette=100.0),
        _result("faster than raw", raw=4.0, stellate=2.0, starlette=40.0),
    ]
    root = ElementTree.fromstring(ratio_svg(results))
    namespace = {"svg": "http://www.w3.org/2000/svg"}
    bars = [
        rect
        for rect in root.findall("svg:rect", namespace)
        if rect.find("svg:title", namespace) is not None
    ]
    titles = [bar.findtext("svg:title", namespaces=namespace) for bar in bars]
    assert titles == [
        "stellate: 10.00x",
        "Starlette: 100.00x",
        "stellate: 0.50x",
        "Starlette: 10.00x",
    ]
    widths = [float(bar.attrib["width"]) for bar in bars]
    starts = [float(bar.attrib["x"]) for bar in bars]
    # Log scale: 100x is twice as far from 1x as 10x; 0.5x lies left of 1x.
    assert math.isclose(widths[1], 2 * widths[0], rel_tol=1e-3)
    assert math.isclose(widths[0], widths[3], rel_tol=1e-3)
    assert starts[2] + widths[2] == pytest.approx(starts[0], abs=0.2)
    assert math.isclose(widths[2], widths[0] * math.log10(2), rel_tol=1e-2)


def test_wrk_output_gives_requests_per_second() -> None:
    assert e2e.parse_wrk(WRK_OUTPUT) == 24430.12
    failing = WRK_OUTPUT.replace("Requests/sec", "  Non-2xx or 3xx responses: 12\nRequests/sec")
    with pytest.raises(RuntimeError, match="12 responses were not 2xx"):
        e2e.parse_wrk(failing)
    broken = WRK_OUTPUT.replace(
        "Requests/sec", "  Socket errors: connect 0, read 3, write 0, timeout 0\nRequests/sec"
    )
    with pytest.raises(RuntimeError, match="socket errors"):
        e2e.parse_wrk(broken)
    with pytest.raises(RuntimeError, match="no Requests/sec"):
        e2e.parse_wrk("wrk: connection refused")


def test_the_end_to_end_table_gives_each_share_of_raw() -> None:
    case = e2e.Case("uvicorn", "plaintext", {"raw": [100.0, 90.0, 110.0], "stellate": [85.0]})
    assert e2e.table_rows([case]) == (
        ["server", "app", "raw req/s", "stellate req/s", "stellate / raw"],
        [["uvicorn", "plaintext", "100", "85", "85%"]],
    )
    assert e2e.implementations()[:3] == ["raw", "stellate", "starlette"]


# Helpers


def _result(name: str, **medians: float) -> Result:
    return Result(name, {implementation: [value] for implementation, value in medians.items()})
