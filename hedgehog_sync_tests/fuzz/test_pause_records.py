"""Pause records: whatever an operator types as a reason, or whatever is found under a pause key,
a tick shows one bounded line and a stored value never stops the schedule or the sensor with an error."""

import json

from dagster import instance_for_test
from hypothesis import given
from hypothesis import strategies as st

from hedgehog_sync.defs.pause import MAX_REASON_CHARS, Pause, fleet_pause, set_pause
from hedgehog_sync_tests.fuzz.conftest import fuzz_settings

stored_values = st.one_of(
    st.text(max_size=300),
    st.text(max_size=50).map(lambda t: "x" * 5000 + t),  # longer than any record we write
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["by", "at", "reason"]),
                                                                             inner, max_size=3),
                 max_leaves=8).map(json.dumps),
)


@fuzz_settings
@given(value=stored_values)
def test_any_stored_value_reads_as_not_paused_or_as_a_one_line_pause(value):
    pause = Pause.from_stored(value)
    if not value:
        assert pause is None
        return
    assert pause is not None  # fail closed: something is stored, so syncing holds
    line = pause.describe()
    assert "\n" not in line and "\r" not in line and len(line) < 600


def test_any_reason_round_trips_through_the_instance_as_one_bounded_line():
    with instance_for_test() as instance:  # one instance for all examples: each costs a second to open

        @fuzz_settings
        @given(reason=st.text(max_size=2000), by=st.text(max_size=300))
        def round_trip(reason, by):
            written = set_pause(instance, None, by=by, reason=reason)
            assert fleet_pause(instance) == written
            assert len(written.reason) <= MAX_REASON_CHARS and written.by
            assert not any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in written.describe())

        round_trip()
