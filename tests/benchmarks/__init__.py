"""Benchmarks: the same scenarios as raw ASGI, stellate, Starlette and installed peers.

Run them with `scripts/bench`; see `docs/performance.md`. Only `test_benchmarks`
is collected by pytest: it checks that every scenario's apps answer as expected
and that the reports are sound, and asserts nothing about time.
"""

__all__: list[str] = []
