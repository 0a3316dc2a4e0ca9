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
