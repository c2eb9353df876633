"""In-process benchmarks: the same scenarios as raw ASGI, stellate and Starlette.

Run them with `scripts/bench`; see `docs/performance.md`. Nothing here is
collected by pytest (no module is named `test_*`), and nothing asserts on time.
"""

__all__: list[str] = []
