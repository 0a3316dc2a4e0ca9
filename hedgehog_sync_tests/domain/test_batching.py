import pytest

from hedgehog_sync.domain.batching import batch_size_for_budget, plan_batches


@pytest.mark.parametrize("keys,wanted,size,expected", [
    (["a", "b", "c", "d"], "abcd", 10, [("a", "d")]),
    (["a", "b", "c", "d"], "abcd", 2, [("a", "b"), ("c", "d")]),
    (["a", "b", "c", "d", "e"], "abde", 10, [("a", "b"), ("d", "e")]),
    (["a", "b", "c"], "", 10, []),
    (["a", "b", "c"], "c", 1, [("c", "c")]),
    (["a", "b", "c", "d", "e"], "abcde", 3, [("a", "c"), ("d", "e")]),
])
def test_ranges_cover_exactly_the_wanted_keys(keys, wanted, size, expected):
    assert plan_batches(keys, set(wanted), size) == expected


def test_every_wanted_key_in_exactly_one_range():
    keys = [f"f{i:04d}" for i in range(1000)]
    wanted = {k for i, k in enumerate(keys) if i % 7}
    ranges = plan_batches(keys, wanted, 100)
    covered = []
    for start, end in ranges:
        covered += keys[keys.index(start): keys.index(end) + 1]
    assert sorted(covered) == sorted(wanted)
    assert all(keys.index(e) - keys.index(s) < 100 for s, e in ranges)


def test_fill_keys_ride_along_inside_a_range_but_never_start_or_end_one():
    keys = [f"f{i}" for i in range(10)]
    wanted = {"f1", "f3", "f6", "f9"}
    # Scattered due fabrics between recently checked ones: without fill, four runs.
    assert plan_batches(keys, wanted, 100) == [("f1", "f1"), ("f3", "f3"), ("f6", "f6"), ("f9", "f9")]
    fill = {"f0", "f2", "f4", "f5", "f8"}  # f7 is in another run: it still ends a range
    assert plan_batches(keys, wanted, 100, fill) == [("f1", "f6"), ("f9", "f9")]
    # Fill counts toward the batch size.
    assert plan_batches(keys, wanted, 3, fill) == [("f1", "f3"), ("f6", "f6"), ("f9", "f9")]
    # Fill alone never makes a run.
    assert plan_batches(keys, set(), 100, set(keys)) == []


def test_the_budget_estimate_ignores_small_runs_so_batches_do_not_spiral_down():
    from hedgehog_sync.domain.batching import MIN_FABRICS_FOR_ESTIMATE, seconds_per_fabric

    small = [{"checked": 1, "duration_s": 9.0}] * 50  # one-fabric runs: mostly the run's own start
    assert seconds_per_fabric({"recent": small}) is None
    big = {"checked": MIN_FABRICS_FOR_ESTIMATE * 10, "duration_s": 20.0}
    assert seconds_per_fabric({"recent": small + [big]}) == 20.0 / big["checked"]
    assert batch_size_for_budget(100, 300, seconds_per_fabric({"recent": small + [big]})) == 100
