import pytest

from hedgehog_sync.domain.batching import plan_batches


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
