"""The mutation run's plugin (hedgehog_sync_tests/mutation_plugin.py) changes cost, never verdicts:
it caps a property's examples without touching its other settings, leaves ordinary tests alone,
and orders tests by measured cost with the unmeasured last."""

from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings, strategies as st

from hedgehog_sync_tests.mutation_plugin import cap_examples, cheapest_first, clear_product_caches, equivalent_mutants

SEEN = []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers())
def _property(value):
    SEEN.append(value)


@settings(max_examples=5)
@given(st.integers())
def _small_property(value):
    pass


def test_a_property_is_capped_and_keeps_its_other_settings():
    assert cap_examples(_property, max_examples=7)
    capped = _property._hypothesis_internal_use_settings
    assert capped.max_examples == 7
    assert capped.deadline is None
    assert HealthCheck.too_slow in capped.suppress_health_check
    SEEN.clear()
    _property()
    assert 1 <= len(SEEN) <= 7


def test_a_property_under_the_cap_keeps_its_count():
    assert cap_examples(_small_property, max_examples=7)
    assert _small_property._hypothesis_internal_use_settings.max_examples == 5


def test_ordinary_tests_and_methods_are_left_alone():
    def plain():
        pass

    class Holder:
        @settings(max_examples=50)
        @given(st.integers())
        def method(self, value):
            pass

    assert not cap_examples(plain)
    assert not cap_examples(None)
    assert cap_examples(Holder().method, max_examples=3)
    assert Holder.method._hypothesis_internal_use_settings.max_examples == 3


def test_cheapest_first_puts_unmeasured_tests_last_in_their_order():
    items = [SimpleNamespace(nodeid=name) for name in ("slow", "new-a", "fast", "middle", "new-b")]
    durations = {"slow": 3.0, "fast": 0.01, "middle": 0.5}
    assert [i.nodeid for i in cheapest_first(items, durations)] == ["fast", "middle", "slow", "new-a", "new-b"]


def test_the_plugin_leaves_out_cli_child_tests_and_caps_properties_in_a_real_pytest(tmp_path):
    """Loaded as mutmut loads it (`-p hedgehog_sync_tests.mutation_plugin`), in a pytest of its own."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "test_sample.py").write_text(
        "import pytest\n"
        "from hypothesis import given, settings, strategies as st\n"
        "CALLS = []\n"
        "@pytest.mark.cli_child\n"
        "def test_through_the_cli():\n"
        "    raise AssertionError('a cli_child test must not run under the plugin')\n"
        "@settings(max_examples=500, database=None)\n"
        "@given(st.integers())\n"
        "def test_property(value):\n"
        "    CALLS.append(value)\n"
        "def test_examples_were_capped():\n"
        "    assert 1 <= len(CALLS) <= 3, len(CALLS)\n")
    (tmp_path / "conftest.py").write_text(
        "def pytest_configure(config):\n"
        "    config.addinivalue_line('markers', 'cli_child: verdict from a child process')\n")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "HEDGEHOG_SYNC_MUTATION_EXAMPLES": "3"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                           "-p", "hedgehog_sync_tests.mutation_plugin", "--rootdir", str(tmp_path), str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed, 1 deselected" in proc.stdout, proc.stdout


def test_equivalent_mutants_are_the_first_column_of_every_listing(tmp_path):
    (tmp_path / "a.txt").write_text("# a comment\n\nm.x_f__mutmut_1\tno caller passes a negative width\n")
    (tmp_path / "b.txt").write_text("m.x_g__mutmut_12 \tthe same value either way\n")
    (tmp_path / "notes.md").write_text("m.x_h__mutmut_3\tnot a listing\n")
    assert equivalent_mutants(str(tmp_path)) == {"m.x_f__mutmut_1", "m.x_g__mutmut_12"}
    assert equivalent_mutants(None) == frozenset()
    assert equivalent_mutants("") == frozenset()


def _run_sample(tmp_path, **env_extra):
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "test_sample.py").write_text("def test_one():\n    pass\ndef test_two():\n    pass\n")
    root = Path(__file__).resolve().parent.parent
    env = {name: value for name, value in os.environ.items()
           if name not in ("HEDGEHOG_SYNC_MUTATION_EQUIVALENTS", "MUTANT_UNDER_TEST")}
    env.update(PYTHONPATH=str(root), **env_extra)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                           "-p", "hedgehog_sync_tests.mutation_plugin", "--rootdir", str(tmp_path), str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_listed_equivalent_mutant_runs_no_test_and_an_unlisted_one_runs_them_all(tmp_path):
    """pytest's "no tests" (exit 5) is what benchmarks/mutation.sh counts as equivalent for a listed mutant."""
    listings = tmp_path / "equivalents"
    listings.mkdir()
    (listings / "m.txt").write_text("hedgehog_sync.domain.m.x_f__mutmut_2\tthe same value either way\n")
    listed = _run_sample(tmp_path, HEDGEHOG_SYNC_MUTATION_EQUIVALENTS=str(listings),
                         MUTANT_UNDER_TEST="hedgehog_sync.domain.m.x_f__mutmut_2")
    assert listed.returncode == 5, listed.stdout + listed.stderr
    assert "2 deselected" in listed.stdout, listed.stdout
    other = _run_sample(tmp_path, HEDGEHOG_SYNC_MUTATION_EQUIVALENTS=str(listings),
                        MUTANT_UNDER_TEST="hedgehog_sync.domain.m.x_f__mutmut_3")
    assert other.returncode == 0 and "2 passed" in other.stdout, other.stdout + other.stderr
    # --check-equivalents: no folder named, every mutant runs its tests
    unset = _run_sample(tmp_path, MUTANT_UNDER_TEST="hedgehog_sync.domain.m.x_f__mutmut_2")
    assert unset.returncode == 0 and "2 passed" in unset.stdout, unset.stdout + unset.stderr


def test_the_products_memoized_functions_start_empty():
    """A mutant run forked from a process whose caches hold every plan would never run the functions
    behind them: the plugin empties them at session start."""
    import importlib

    for loaded in ("defaults", "diff"):  # loaded for their caches
        importlib.import_module(f"hedgehog_sync.domain.{loaded}")
    from hedgehog_sync.domain import normalize
    normalize._plan.cache_clear()
    normalize.normalize({"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC",
                         "metadata": {"name": "v"}, "spec": {}})
    assert normalize._plan.cache_info().currsize > 0
    cleared = clear_product_caches()
    assert "hedgehog_sync.domain.normalize._plan" in cleared
    assert {"hedgehog_sync.domain.diff._split_all", "hedgehog_sync.domain.defaults._tokens"} <= set(cleared)
    assert normalize._plan.cache_info().currsize == 0


def test_stages_take_the_cheapest_first_and_keep_the_order_of_the_rest():
    from hedgehog_sync_tests.mutation_plugin import stages

    ids = ["a::slow", "b::cheap", "c::new", "d::middle"]
    durations = {"a::slow": 3.0, "b::cheap": 0.01, "d::middle": 0.5}
    assert stages(ids, durations, first=2) == (["b::cheap", "d::middle"], ["a::slow", "c::new"])
    assert stages(ids, durations, first=4) == (ids, [])
    assert stages(ids, {}, first=1) == (ids, [])
    assert stages(ids, durations, first=0) == (ids, [])


def _staged_sample(tmp_path, failing):
    """Three test files; importing one leaves a marker, so a file never collected leaves none."""
    for name in ("a", "b", "c"):
        body = f"def test_{name}():\n    assert {name!r} != {failing!r}\n"
        (tmp_path / f"test_{name}.py").write_text(
            f"open({str(tmp_path / ('imported-' + name))!r}, 'w').close()\n" + body)
    (tmp_path / "durations.json").write_text(
        '{"test_a.py::test_a": 0.001, "test_b.py::test_b": 0.002, "test_c.py::test_c": 0.003}')
    return [f"test_{name}.py::test_{name}" for name in ("c", "b", "a")]


def _run_staged(tmp_path, node_ids, mutant="hedgehog_sync.domain.m.x_f__mutmut_1", **env_extra):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {name: value for name, value in os.environ.items() if not name.startswith("HEDGEHOG_SYNC_MUTATION")}
    env.update(PYTHONPATH=str(root), MUTANT_UNDER_TEST=mutant, HEDGEHOG_SYNC_MUTATION_FIRST_TESTS="1",
               HEDGEHOG_SYNC_MUTATION_DURATIONS=str(tmp_path / "durations.json"), **env_extra)
    return subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                           "-p", "hedgehog_sync_tests.mutation_plugin", "--rootdir", str(tmp_path), *node_ids],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_mutant_killed_by_the_cheapest_test_never_collects_the_other_files(tmp_path):
    proc = _run_staged(tmp_path, _staged_sample(tmp_path, failing="a"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed" in proc.stdout and "passed" not in proc.stdout, proc.stdout
    assert sorted(p.name for p in tmp_path.glob("imported-*")) == ["imported-a"]


def test_a_mutant_only_a_later_test_kills_is_still_killed(tmp_path):
    proc = _run_staged(tmp_path, _staged_sample(tmp_path, failing="c"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # the second stage runs cheapest first too: b passes, c fails
    assert "1 failed, 2 passed" in proc.stdout, proc.stdout


def test_a_surviving_mutant_ran_every_test(tmp_path):
    proc = _run_staged(tmp_path, _staged_sample(tmp_path, failing="none"))
    assert proc.returncode == 0 and "3 passed" in proc.stdout, proc.stdout + proc.stderr


def test_runs_that_are_not_a_mutants_are_not_staged(tmp_path):
    """mutmut's stats and clean runs collect everything at once, as pytest does."""
    proc = _run_staged(tmp_path, _staged_sample(tmp_path, failing="a"), mutant="stats")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert sorted(p.name for p in tmp_path.glob("imported-*")) == ["imported-a", "imported-b", "imported-c"]


def test_killers_rank_by_kills_then_recency_per_function(tmp_path):
    from hedgehog_sync_tests.mutation_plugin import known_killers, record_killer

    folder = tmp_path / "killers"
    assert known_killers(str(folder), "m.x_f__mutmut_1") == []
    for node_id in ("t::a", "t::b", "t::b", "t::c"):
        record_killer(str(folder), "m.x_f__mutmut_7", node_id)
    record_killer(str(folder), "m.x_g__mutmut_1", "t::z")  # another function's
    assert known_killers(str(folder), "m.x_f__mutmut_99") == ["t::b", "t::c", "t::a"]
    assert known_killers(str(folder), "m.x_f__mutmut_99", limit=2) == ["t::b", "t::c"]
    assert known_killers(str(folder), "m.x_g__mutmut_3") == ["t::z"]
    assert known_killers(None, "m.x_f__mutmut_1") == []


def test_a_known_killer_joins_the_first_stage():
    from hedgehog_sync_tests.mutation_plugin import stages

    ids = ["a::slow", "b::cheap", "c::new", "d::middle"]
    durations = {"a::slow": 3.0, "b::cheap": 0.01, "d::middle": 0.5}
    assert stages(ids, durations, first=1, killers=["a::slow", "x::not-this-mutants"]) == (
        ["a::slow", "b::cheap"], ["c::new", "d::middle"])


def test_known_killers_run_first_in_their_order():
    items = [SimpleNamespace(nodeid=name) for name in ("slow", "new", "fast", "middle")]
    durations = {"slow": 3.0, "fast": 0.01, "middle": 0.5}
    assert [i.nodeid for i in cheapest_first(items, durations, killers=["new", "slow"])] == [
        "new", "slow", "fast", "middle"]


def test_a_function_s_killer_runs_first_for_its_next_mutant_and_is_written_down(tmp_path):
    """The killer of mutant 1 (the costliest test, c) runs first for mutant 2: b's file is never collected."""
    killers = tmp_path / "killers"
    node_ids = _staged_sample(tmp_path, failing="c")
    first = _run_staged(tmp_path, node_ids, HEDGEHOG_SYNC_MUTATION_KILLERS=str(killers))
    assert first.returncode == 1 and "1 failed, 2 passed" in first.stdout, first.stdout + first.stderr
    (written,) = killers.glob("*.txt")
    assert written.read_text() == "test_c.py::test_c\n"
    for marker in tmp_path.glob("imported-*"):
        marker.unlink()
    second = _run_staged(tmp_path, node_ids, mutant="hedgehog_sync.domain.m.x_f__mutmut_2",
                         HEDGEHOG_SYNC_MUTATION_KILLERS=str(killers))
    assert second.returncode == 1 and "1 failed" in second.stdout and "passed" not in second.stdout, second.stdout
    assert sorted(p.name for p in tmp_path.glob("imported-*")) == ["imported-a", "imported-c"]
    assert written.read_text() == "test_c.py::test_c\n" * 2
    # the stats and clean runs (no mutant) write nothing down
    _run_staged(tmp_path, node_ids, mutant="stats", HEDGEHOG_SYNC_MUTATION_KILLERS=str(killers))
    assert written.read_text() == "test_c.py::test_c\n" * 2


def _looping_sample(tmp_path):
    (tmp_path / "test_loop.py").write_text(
        "import time\n"
        "def test_quick():\n    pass\n"
        "def test_loops():\n    time.sleep(60)\n")
    (tmp_path / "durations.json").write_text('{"test_loop.py::test_quick": 0.01, "test_loop.py::test_loops": 0.01}')
    return ["test_loop.py::test_quick", "test_loop.py::test_loops"]


def test_a_test_over_its_time_limit_ends_the_mutant_as_mutmut_s_timeout(tmp_path):
    from mutmut.stats import status_by_exit_code

    from hedgehog_sync_tests.mutation_plugin import TIMEOUT_EXIT_CODE, time_limit

    assert status_by_exit_code[TIMEOUT_EXIT_CODE] == "timeout"
    assert time_limit(0.5) == 15 * (0.5 + 1)  # mutmut's own rule (15 x (estimate + 1 s)), for one test
    limits = {"HEDGEHOG_SYNC_MUTATION_TIME_LIMIT_MULTIPLIER": "1", "HEDGEHOG_SYNC_MUTATION_TIME_LIMIT_CONSTANT_S": "1"}
    proc = _run_staged(tmp_path, _looping_sample(tmp_path), **limits)
    assert proc.returncode == TIMEOUT_EXIT_CODE, proc.stdout + proc.stderr
    assert proc.stdout.startswith("."), proc.stdout  # the quick one passed; the loop ended the process
    # outside a mutant's run (mutmut's stats and clean runs) no test has a limit
    (tmp_path / "test_loop.py").write_text("import time\ndef test_loops():\n    time.sleep(2)\n")
    stats = _run_staged(tmp_path, ["test_loop.py::test_loops"], mutant="stats", **limits)
    assert stats.returncode == 0 and "1 passed" in stats.stdout, stats.stdout + stats.stderr
