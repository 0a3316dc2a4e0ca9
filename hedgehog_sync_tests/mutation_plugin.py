"""A pytest plugin for the mutation run only (benchmarks/mutation.sh; [tool.mutmut]'s pytest_add_cli_args
loads it with `-p`). It makes each mutant cheaper to judge; the suite itself never loads it.

mutmut hands each mutant the node ids of every test that reached the mutated function, pytest runs
them in file order and stops at the first failure (`-x`). A mutant of the parser or the defaulting
rules is reached by up to 1,300 tests, Hypothesis properties among them, so a killed one waited for
whatever came first in the file and a surviving one paid every property's full example count. Here:

- the tests run cheapest first, by the call durations mutmut measured in its own stats run (still in
  memory in the forked worker that runs the mutant): the first failing test is usually a cheap one;
- and they are collected in two stages: first only the HEDGEHOG_SYNC_MUTATION_FIRST_TESTS cheapest
  (default 30) are collected and run; only if none fails are the others collected and run. Collecting
  a test means collecting its whole file, and a mutant of the parser names tests in some 40 files:
  their collection, not the tests, was most of what a killed mutant cost. The verdict is the one the
  whole set gives (a mutant survives only if every test passes);
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
- the tests that killed earlier mutants of the same function run first (HEDGEHOG_SYNC_MUTATION_KILLERS
  names a folder where each kill is written down, one file per mutated function; the script sets it
  to ./mutants/killers): mutmut runs a function's mutants one after another (it orders them by the
  cost of their tests), and most of them fall to the test that killed a sibling, which for the
  functions reached by hundreds of tests is rarely among the cheapest 30; it joins the first stage;
- each test has a time limit, mutmut's own rule applied to one test instead of a mutant's whole set:
  15 x (the test's measured duration + 1 s). A mutant that makes a test loop ends there with
  mutmut's timeout exit code (36, counted killed as mutmut counts its own timeouts) instead of
  running on to mutmut's limit for the whole set (a median 42 s in run 12);
- a mutant written down as equivalent (benchmarks/mutation-equivalents/, each with its reason; the
  script names that folder in HEDGEHOG_SYNC_MUTATION_EQUIVALENTS) runs no test: pytest answers "no
  tests" (exit 5) and the script counts it equivalent. Such a mutant survives by definition, so it
  would otherwise pay every test that reaches its function (up to half a minute each).
  `benchmarks/mutation.sh --check-equivalents` leaves the variable unset and runs them all, to find a
  listed mutant that a new test now kills.

The order is safe because the suite passes in any order (pytest-randomly) and the properties are
derandomized under CI=true with --hypothesis-seed=0, so every mutant meets the same examples.
"""

import hashlib
import json
import os
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import settings

MAX_EXAMPLES = int(os.environ.get("HEDGEHOG_SYNC_MUTATION_EXAMPLES") or 25)
FIRST_TESTS = int(os.environ.get("HEDGEHOG_SYNC_MUTATION_FIRST_TESTS") or 30)
MAX_KILLERS = 10  # of a function's earlier killers, the most frequent run first
TIMEOUT_EXIT_CODE = 36  # mutmut's "timeout" (mutmut.stats.status_by_exit_code)
# mutmut's defaults for a mutant's whole set (timeout_multiplier, timeout_constant), here per test
TIME_LIMIT_MULTIPLIER = float(os.environ.get("HEDGEHOG_SYNC_MUTATION_TIME_LIMIT_MULTIPLIER") or 15.0)
TIME_LIMIT_CONSTANT_S = float(os.environ.get("HEDGEHOG_SYNC_MUTATION_TIME_LIMIT_CONSTANT_S") or 1.0)
_later = pytest.StashKey[list]()  # the node ids of the second stage, when a run is staged
_killers = pytest.StashKey[list]()  # this mutant's function's earlier killers, most frequent first
_recorded = set()  # node ids written down by this process (one mutant: mutmut forks a process for each)


def _durations():
    """mutmut's measured durations by node id; outside mutmut, those of the JSON file named by
    HEDGEHOG_SYNC_MUTATION_DURATIONS (to try the plugin by hand), else none (pytest's order)."""
    try:
        from mutmut.state import state
    except ImportError:
        state = None
    if state is not None and state().duration_by_test:
        return state().duration_by_test
    named = os.environ.get("HEDGEHOG_SYNC_MUTATION_DURATIONS")
    return json.loads(Path(named).read_text()) if named else {}


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


def function_of(mutant):
    """The mutated function's mangled name: the mutant's name without its number."""
    return mutant.rsplit("__mutmut_", 1)[0]


def _killers_file(folder, mutant):
    return Path(folder) / (hashlib.sha256(function_of(mutant).encode()).hexdigest()[:32] + ".txt")


def known_killers(folder, mutant, limit=MAX_KILLERS):
    """The node ids that killed earlier mutants of `mutant`'s function, most kills first (the most
    recent first among equals); none without a folder."""
    if not folder:
        return []
    try:
        lines = _killers_file(folder, mutant).read_text().splitlines()
    except OSError:
        return []
    counts, last = {}, {}
    for position, node_id in enumerate(lines):
        if node_id:
            counts[node_id] = counts.get(node_id, 0) + 1
            last[node_id] = position
    return sorted(counts, key=lambda n: (-counts[n], -last[n]))[:limit]


def record_killer(folder, mutant, node_id):
    """Write down that `node_id` killed `mutant` (an append of one line: two workers may write at once)."""
    path = _killers_file(folder, mutant)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (node_id.replace("\n", " ") + "\n").encode())
    finally:
        os.close(fd)


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


def stages(node_ids, durations, first=FIRST_TESTS, killers=()):
    """(the `first` cheapest node ids and any of `killers` among them, the others in their order);
    everything first when unmeasured."""
    if first <= 0 or len(node_ids) <= first or not durations:
        return list(node_ids), []
    unknown = float("inf")
    ranked = sorted(range(len(node_ids)), key=lambda i: durations.get(node_ids[i], unknown))
    chosen = set(ranked[:first])
    wanted = set(killers)
    chosen.update(i for i, n in enumerate(node_ids) if n in wanted)
    return ([node_ids[i] for i in sorted(chosen)], [n for i, n in enumerate(node_ids) if i not in chosen])


def _is_mutant_run():
    return "__mutmut_" in _mutant_under_test()


def _is_listed_equivalent():
    return _mutant_under_test() in equivalent_mutants(os.environ.get("HEDGEHOG_SYNC_MUTATION_EQUIVALENTS"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session):
    """First stage only: the cheapest tests' files are collected now, the others if they are needed."""
    if not _is_mutant_run() or _is_listed_equivalent():
        return None
    killers = known_killers(os.environ.get("HEDGEHOG_SYNC_MUTATION_KILLERS"), _mutant_under_test())
    session.stash[_killers] = killers
    first, later = stages(list(session.config.args), _durations(), killers=killers)
    if not later:
        return None
    session.stash[_later] = later
    session.perform_collect(first)
    return True


def _run(session):
    for i, item in enumerate(session.items):  # as pytest's own loop
        nextitem = session.items[i + 1] if i + 1 < len(session.items) else None
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    later = session.stash.get(_later, None)
    if not later:
        return None
    if session.testsfailed:  # a collection error, as pytest's own loop treats it
        raise session.Interrupted(f"{session.testsfailed} errors during collection")
    _run(session)  # under -x a failing test ends the session here: the mutant is killed
    if session.testsfailed:
        return True
    session.perform_collect(later)
    if session.testsfailed:
        raise session.Interrupted(f"{session.testsfailed} errors during collection")
    _run(session)
    return True


def cheapest_first(items, durations, killers=()):
    """Items sorted by measured duration, after `killers` in their order; unmeasured ones last,
    pytest's order kept among equals."""
    unknown = float("inf")
    rank = {node_id: i for i, node_id in enumerate(killers)}
    return sorted(items, key=lambda item: (0, rank[item.nodeid]) if item.nodeid in rank
                  else (1, durations.get(item.nodeid, unknown)))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    if _is_listed_equivalent():
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
        items[:] = cheapest_first(items, durations, session.stash.get(_killers, ()))


def time_limit(duration_s):
    """A test's time limit under a mutant: mutmut's rule for a whole set, for one measured test."""
    return TIME_LIMIT_MULTIPLIER * (duration_s + TIME_LIMIT_CONSTANT_S)


def _out_of_time(node_id, limit_s):
    # From the timer's thread: the test's own thread may be in a loop that never returns. (Under pytest's
    # capture the line goes where the test's own output goes; mutmut sends that to /dev/null.)
    sys.__stderr__.write(f"mutation plugin: {node_id} ran over its limit of {limit_s:.0f} s; mutant timed out\n")
    sys.__stderr__.flush()
    os._exit(TIMEOUT_EXIT_CODE)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    measured = _durations().get(item.nodeid) if _is_mutant_run() else None
    if measured is None:
        yield
        return
    limit_s = time_limit(measured)
    timer = threading.Timer(limit_s, _out_of_time, args=(item.nodeid, limit_s))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def pytest_runtest_logreport(report):
    """The first failing test of a mutant's run is written down as a killer of its function."""
    folder = os.environ.get("HEDGEHOG_SYNC_MUTATION_KILLERS")
    if not (report.failed and folder and _is_mutant_run()) or report.nodeid in _recorded:
        return  # a test failing in setup and teardown is one kill
    _recorded.add(report.nodeid)
    record_killer(folder, _mutant_under_test(), report.nodeid)
