"""domain/diff: kills mutants of mutation run 13 that survived the domain tests (issue 19): equal maps and
lists that still differ (True is not 1), the 400-pair limit on matching set elements by likeness, one live
element never the partner of two, and a set's equal elements matched once each."""

from __future__ import annotations

from collections import Counter

import pytest

from hedgehog_sync.domain.diff import Change, _pair, _unmatched, diff_values


# --- _diff ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("desired,actual,path", [
    ({"x": {"b": True}}, {"x": {"b": 1}}, "/x/b"),
    ({"x": [True]}, {"x": [1]}, "/x/0"),
    ({"x": {"b": 1}}, {"x": {"b": True}}, "/x/b"),
], ids=["map-true-vs-1", "list-true-vs-1", "map-1-vs-true"])
def test_a_map_or_list_equal_in_python_still_holds_a_change(desired, actual, path):
    # {"b": True} == {"b": 1} in Python, yet True is not 1: the containers are compared field by field.
    want, have = desired["x"], actual["x"]
    assert want == have
    leaf_want = want["b"] if isinstance(want, dict) else want[0]
    leaf_have = have["b"] if isinstance(have, dict) else have[0]
    assert diff_values(desired, actual, "g") == [Change("replace", path, leaf_want, leaf_have, "medium")]


class _Unordered(str):
    """A key that sorts before no other (sorted() then keeps the order it is given) with a fixed hash."""

    def __new__(cls, text: str, slot: int) -> "_Unordered":
        key = super().__new__(cls, text)
        key.slot = slot
        return key

    def __hash__(self) -> int:
        return self.slot

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other)

    def __lt__(self, other: object) -> bool:
        return False


def test_the_changes_of_two_maps_with_the_same_keys_follow_the_desired_keys():
    # With the same keys on both sides the desired map's keys are walked (no union of the two key sets):
    # keys that do not order keep the desired map's order, not a set's (here, by hash: k0 k1 k2 k3).
    keys = [_Unordered(f"k{n}", n) for n in (3, 1, 2, 0)]
    desired = {k: 1 for k in keys}
    actual = {k: 2 for k in keys}
    assert [c.path for c in diff_values(desired, actual, "g")] == ["/k3", "/k1", "/k2", "/k0"]


# --- _pair ----------------------------------------------------------------------------------------------

def _reversed_sets(n_desired: int, n_actual: int) -> tuple[list, list]:
    """Desired element i shares its one field with live element n_actual - 1 - i (none for i >= n_actual)."""
    desired = [{"a": n_actual - 1 - i} for i in range(n_desired)]
    actual = [{"a": j} for j in range(n_actual)]
    return desired, actual


def test_20_by_20_unmatched_structures_are_still_paired_by_likeness():
    desired, actual = _reversed_sets(20, 20)
    pairs = _pair(desired, actual, list(range(20)), list(range(20)))
    assert pairs == [(i, 19 - i) for i in range(20)]


def test_21_by_20_unmatched_structures_are_past_the_limit_and_pair_in_order():
    desired, actual = _reversed_sets(21, 20)
    assert _pair(desired, actual, list(range(21)), list(range(20))) == [(i, i) for i in range(20)]


def test_1_by_401_unmatched_structures_are_past_the_limit_and_pair_in_order():
    desired = [{"a": 400}]
    actual = [{"a": j} for j in range(401)]
    assert _pair(desired, actual, [0], list(range(401))) == [(0, 0)]


def test_1_by_400_unmatched_structures_are_paired_by_likeness():
    desired = [{"a": 399}]
    actual = [{"a": j} for j in range(400)]
    assert _pair(desired, actual, [0], list(range(400))) == [(0, 399)]


def test_a_structure_is_not_paired_with_a_scalar_it_shares_nothing_with():
    # Structured on one side is enough to pair by likeness: a map and a string share no field.
    assert _pair([{"a": 1}], ["x"], [0], [0]) == []
    assert _pair(["x"], [{"a": 1}], [0], [0]) == []


def test_a_live_element_is_the_partner_of_one_desired_element_only():
    desired = [{"a": 1, "b": 1}, {"a": 1, "c": 1}]
    actual = [{"a": 1, "b": 1, "c": 1}, {"z": 0}]
    assert _pair(desired, actual, [0, 1], [0, 1]) == [(0, 0)]


def test_a_live_element_partnered_once_in_a_whole_diff():
    desired = {"spec": {"items": [{"a": 1, "b": 1}, {"a": 1, "c": 1}]}}
    actual = {"spec": {"items": [{"a": 1, "b": 1, "c": 1}, {"z": 0}]}}
    changes = [(c.op, c.path) for c in diff_values(desired, actual, "g", ["/spec/items"])]
    assert changes == [("add", "/spec/items/0/c"), ("remove", "/spec/items/1"), ("add", "/spec/items/1")]


# --- _unmatched -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("keys,other,unmatched", [
    (["a", "a"], {"a": 1}, [1]),
    (["a", "a", "a"], {"a": 1}, [1, 2]),
    (["a", "a"], {"a": 2}, []),
    (["a", "a", "a"], {"a": 2}, [2]),
    (["a", "b", "a"], {"a": 2, "b": 0}, [1]),
], ids=["two-of-one", "three-of-one", "two-of-two", "three-of-two", "mixed"])
def test_each_equal_element_matches_one_on_the_other_side(keys, other, unmatched):
    assert _unmatched(keys, Counter(other)) == unmatched


def test_a_set_with_a_repeated_element_live_once_lacks_one():
    changes = diff_values({"s": ["a", "a"]}, {"s": ["a"]}, "g", ["/s"])
    assert [(c.op, c.path, c.desired) for c in changes] == [("remove", "/s/1", "a")]
