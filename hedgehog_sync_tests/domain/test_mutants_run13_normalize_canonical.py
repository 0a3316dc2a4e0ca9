"""Survivors of mutation run 13 (issue 19) in domain/normalize's canonical forms, killed: _canonical,
_canonical_tracked, sort_key and split_pointer.

They survived because the suite only feeds these functions what YAML decodes to (plain dict, list, str,
int, float, bool, None, dates): the mutants differ only on values of other types, subclasses of dict and
list, tuples, values json cannot write without a fallback, or pointers whose first token starts with "X".
Expected values are written by hand from the docstrings and the zero-value rule (absent, null, "", false,
0, {} and [] are pruned; anything else is kept as it is). The survivors no input tells apart are in
benchmarks/mutation-equivalents/run13.txt.
"""

from __future__ import annotations

import datetime
from collections import OrderedDict

import pytest

from hedgehog_sync.domain import normalize as n


@pytest.fixture(autouse=True)
def fresh_plans():
    n._plan.cache_clear()
    n._presence_plan.cache_clear()
    yield


class _Map(dict):
    pass


class _List(list):
    pass


# --- _canonical: which map values are canonicalized and pruned ----------------------------------------

def test_a_map_value_of_a_dict_subclass_is_canonicalized_and_pruned_when_empty():
    # A dict subclass is a map like any other: its own zero values go, and then it is empty (mutant 7 kept
    # it as written because its type is not exactly dict).
    assert n._canonical({"a": OrderedDict(b=None, c=""), "d": OrderedDict(e=2.0, f=0)}) == {"d": {"e": 2}}
    assert type(n._canonical({"d": _Map(e=1)})["d"]) is dict


@pytest.mark.parametrize("value", [(), frozenset(), b""], ids=["empty-tuple", "empty-frozenset", "empty-bytes"])
def test_a_falsy_map_value_that_is_no_zero_value_is_kept(value):
    # Only None, False, "", 0, 0.0, {} and [] are pruned; other falsy values are not Go's zero values and
    # pass through (mutants 9 and 10 sent them through the map/list branch, which prunes anything falsy).
    assert n._canonical({"a": value, "b": "x"}) == {"a": value, "b": "x"}


def test_a_list_subclass_is_canonicalized_as_a_list():
    # mutant 48 canonicalized None in its place, mutant 49 called list(None).
    assert n._canonical(_List([1.0, {"a": None, "b": 2}, "x"])) == [1, {"b": 2}, "x"]
    assert n._canonical({"k": _List([3.0])}) == {"k": [3]}
    assert n._canonical({"k": _List()}) == {}


# --- _canonical_tracked: a set of one element is not sorted -------------------------------------------

def test_a_set_of_one_element_is_returned_without_computing_its_sort_key():
    # A set of one element is already in order. Its one element here cannot be given a sort key at all (a
    # map with keys json cannot order, inside a tuple, which canonicalizing leaves as it is): sorting it
    # (mutant 52, `len(items) >= 1`) raises TypeError.
    step = n._Step()
    step.unordered = True
    element = ({1: "a", "b": 2},)
    with pytest.raises(TypeError):
        n.sort_key(element)
    assert n._canonical_tracked([element], step) == [element]
    assert n._canonical_tracked([], step) == []


# --- sort_key: values json has no form for ------------------------------------------------------------

def test_sort_key_writes_values_json_has_no_form_for_as_their_text():
    # YAML dates stay dates through normalize; a set of them still needs an order (mutants 3 and 6 dropped
    # default=str, so json.dumps raised TypeError).
    assert n.sort_key(datetime.date(2024, 3, 1)) == '"2024-03-01"'
    assert n.sort_key({"b": [datetime.date(2024, 3, 1)], "a": 1}) == '{"a": 1, "b": ["2024-03-01"]}'


def test_a_set_of_dates_is_sorted_by_their_text():
    step = n._Step()
    step.unordered = True
    dates = [datetime.date(2024, 3, 2), datetime.date(2023, 12, 31), datetime.date(2024, 3, 1)]
    assert n._canonical_tracked(dates, step) == [
        datetime.date(2023, 12, 31), datetime.date(2024, 3, 1), datetime.date(2024, 3, 2)]


# --- split_pointer: only the leading "/" is taken off -------------------------------------------------

@pytest.mark.parametrize("pointer,tokens", [
    ("/Xa", ["Xa"]),
    ("/XX/y", ["XX", "y"]),
    ("X/y", ["X", "y"]),
    ("/spec/a~1b/c~0d", ["spec", "a/b", "c~d"]),
    ("", []),
    ("/", []),
], ids=["x-first", "xx-token", "no-slash", "escapes", "empty", "root"])
def test_split_pointer_strips_only_leading_slashes(pointer, tokens):
    # mutant 20 stripped "X" as well as "/" from the left (lstrip("XX/XX")).
    assert n.split_pointer(pointer) == tokens


def test_an_ignore_rule_on_a_field_starting_with_x_ignores_that_field():
    rules = n.NormalizeRules((n.IgnoreRule("Thing", "/Xtra"), n.IgnoreRule("Thing", "/spec/keep")))
    obj = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "a"},
           "Xtra": "drop", "tra": "keep", "spec": {"keep": 1, "other": 2}}
    assert n.normalize(obj, rules) == {
        "apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "a", "namespace": "default"},
        "tra": "keep", "spec": {"other": 2}}
