"""The mutation run's plugin (hedgehog_sync_tests/mutation_plugin.py) changes cost, never verdicts:
it caps a property's examples without touching its other settings, leaves ordinary tests alone,
and orders tests by measured cost with the unmeasured last."""

from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings, strategies as st

from hedgehog_sync_tests.mutation_plugin import cap_examples, cheapest_first

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
