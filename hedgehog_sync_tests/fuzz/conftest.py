"""Fuzzing: Hypothesis draws hostile servers, Git trees and YAML; every example must end in a report
or a clear error, within its budgets, with no secret in any output.

CI runs a bounded number of examples per test (HEDGEHOG_SYNC_FUZZ_EXAMPLES, default 20). To fuzz
longer, raise it, and optionally keep Hypothesis' database of failing examples:

    HEDGEHOG_SYNC_FUZZ_EXAMPLES=2000 .venv/bin/pytest hedgehog_sync_tests/fuzz -p no:cacheprovider
"""

import os

from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES = int(os.environ.get("HEDGEHOG_SYNC_FUZZ_EXAMPLES") or 20)

settings.register_profile(
    "hedgehog-sync-fuzz",
    max_examples=FUZZ_EXAMPLES,
    deadline=None,  # examples start servers and processes: time is bounded by the product's budgets
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large],
    derandomize=os.environ.get("CI") == "true",  # CI reproduces; a developer's run explores
)
fuzz_settings = settings.get_profile("hedgehog-sync-fuzz")
