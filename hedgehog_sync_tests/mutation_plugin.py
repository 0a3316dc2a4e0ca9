"""A pytest plugin for the mutation run only (benchmarks/mutation.sh; [tool.mutmut]'s pytest_add_cli_args
loads it with `-p`). It makes each mutant cheaper to judge; the suite itself never loads it.

mutmut hands each mutant the node ids of every test that reached the mutated function, pytest runs
them in file order and stops at the first failure (`-x`). A mutant of the parser or the defaulting
rules is reached by up to 1,300 tests, Hypothesis properties among them, so a killed one waited for
whatever came first in the file and a surviving one paid every property's full example count. Here:

- the tests run cheapest first, by the call durations mutmut measured in its own stats run (still in
  memory in the forked worker that runs the mutant): the first failing test is usually a cheap one;
- each Hypothesis property runs at most HEDGEHOG_SYNC_MUTATION_EXAMPLES examples (default 25; explicit
  `@example`s always run; the suite keeps the full counts);
- tests marked `cli_child` are left out: their verdict comes from a `hedgehog-sync` child process,
  which imports the unmutated code (mutmut's trampolines act only in-process), so they can kill no
  mutant and only cost time (the CLI budget tests, up to 45 s each);
- the product's memoized functions (`functools.lru_cache`: normalize's rule plans, diff's pointer
  splits, defaults' tokens) start empty in each mutant's run: mutmut forks every mutant from the
  process that ran the stats and clean runs, whose caches already hold every plan the tests ask for,
  so a mutant of a function only a cached function calls (normalize's `_compile`) was never run and
  survived whatever the tests checked;
- a mutant written down as equivalent (benchmarks/mutation-equivalents/, each with its reason; the
  script names that folder in HEDGEHOG_SYNC_MUTATION_EQUIVALENTS) runs no test: pytest answers "no
  tests" (exit 5) and the script counts it equivalent. Such a mutant survives by definition, so it
  would otherwise pay every test that reaches its function (up to half a minute each).
  `benchmarks/mutation.sh --check-equivalents` leaves the variable unset and runs them all, to find a
  listed mutant that a new test now kills.

The order is safe because the suite passes in any order (pytest-randomly) and the properties are
derandomized under CI=true with --hypothesis-seed=0, so every mutant meets the same examples.
"""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

MAX_EXAMPLES = int(os.environ.get("HEDGEHOG_SYNC_MUTATION_EXAMPLES") or 25)


def _durations():
    try:
        from mutmut.state import state
    except ImportError:  # the plugin outside mutmut: keep pytest's order
        return {}
    return state().duration_by_test


def equivalent_mutants(folder):
    """The names listed in `folder`'s *.txt files (a name, a tab, the reason, one a line)."""
    if not folder:
        return frozenset()
    names = set()
    for listing in sorted(Path(folder).glob("*.txt")):
        for line in listing.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                names.add(line.partition("\t")[0].strip())
    return frozenset(names)


def _mutant_under_test():
    try:
        from mutmut.mutation.trampoline import get_mutant_under_test
    except ImportError:
        return os.environ.get("MUTANT_UNDER_TEST", "")
    return get_mutant_under_test()


def clear_product_caches(prefix="hedgehog_sync."):
    """Empty every memoized module-level function of the product's loaded modules; their names."""
    cleared = []
    for name, module in list(sys.modules.items()):
        if not name.startswith(prefix) or module is None:
            continue
        for attribute, value in list(vars(module).items()):
            if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", None) == name:
                value.cache_clear()
                cleared.append(f"{name}.{attribute}")
    return sorted(cleared)


def pytest_sessionstart(session):
    clear_product_caches()


def cap_examples(function, max_examples=MAX_EXAMPLES):
    """Cap a Hypothesis test's examples in place; False if `function` is not one."""
    function = getattr(function, "__func__", function)
    current = getattr(function, "_hypothesis_internal_use_settings", None)
    if not getattr(function, "is_hypothesis_test", False) or current is None:
        return False
    if current.max_examples > max_examples:
        function._hypothesis_internal_use_settings = settings(current, max_examples=max_examples)
    return True


def cheapest_first(items, durations):
    """Items sorted by measured duration; unmeasured ones last, pytest's order kept among equals."""
    unknown = float("inf")
    return sorted(items, key=lambda item: durations.get(item.nodeid, unknown))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    if _mutant_under_test() in equivalent_mutants(os.environ.get("HEDGEHOG_SYNC_MUTATION_EQUIVALENTS")):
        config.hook.pytest_deselected(items=list(items))
        items[:] = []
        return
    child = [item for item in items if item.get_closest_marker("cli_child")]
    if child:
        config.hook.pytest_deselected(items=child)
        items[:] = [item for item in items if not item.get_closest_marker("cli_child")]
    for item in items:
        cap_examples(getattr(item, "obj", None))
    durations = _durations()
    if durations:
        items[:] = cheapest_first(items, durations)
