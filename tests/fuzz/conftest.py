"""Hypothesis settings for the parser fuzz tests.

The profile is registered and loaded here, not in the root conftest, so that only
runs that collect `tests/fuzz` change hypothesis' defaults. A run may still pick
another profile with `HYPOTHESIS_PROFILE` (e.g. a long local hunt with `fuzz-long`).
"""

from __future__ import annotations

import os
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps caches (not examples: there is no database) in a `.hypothesis/`
# directory of the working directory; keep the repository free of it.
if "HYPOTHESIS_STORAGE_DIRECTORY" not in os.environ:
    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "stellate-hypothesis"))

settings.register_profile(
    "fuzz",
    # Enough to find shallow parser bugs on every run while keeping the whole
    # directory well under a minute on both anyio backends.
    max_examples=200,
    # A shared 2-core CI machine makes per-example deadlines flaky; the timing
    # tests bound the cost of each parser instead.
    deadline=None,
    # No `.hypothesis/` directory written into the repository.
    database=None,
    # The only function-scoped fixtures used with `@given` are the anyio backend
    # and the test client factory, which hold no state between examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("fuzz-long", parent=settings.get_profile("fuzz"), max_examples=2_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fuzz"))
