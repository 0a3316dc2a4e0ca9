"""Kills the mutants of normalize.py's rule compilation that survived (issue 19): NormalizeRules.pointers_for,
and the per-kind plan _plan builds from the rule pointers (_Pattern, _compile, _Step).

Why they survived although every normalize() call compiles a plan: _plan is an lru_cache, and mutmut runs
its stats and clean runs in the process it then forks once per mutant, so every (group, kind, rules,
present) the suite uses is already compiled when a mutant's tests run, and _compile is never reached.
The fixture below empties that cache before each test here, so these tests compile their plans afresh
under the mutant. Expected values are written by hand from the rule tables (KEYED_MAPS_ALL_KINDS,
EXPLICIT_ZERO, PRESENCE_MATTERS, ORDER_INSENSITIVE) and normalize()'s docstring.
"""

import pytest

from hedgehog_sync.domain import normalize as normalize_module
from hedgehog_sync.domain.kinds import VPC, WIRING
from hedgehog_sync.domain.normalize import IgnoreRule, NormalizeRules, normalize


@pytest.fixture(autouse=True)
def fresh_plans():
    normalize_module._plan.cache_clear()
    yield


THING = {"apiVersion": "example.com/v1", "kind": "Thing"}


# --- pointers_for ------------------------------------------------------------------------------------

def test_pointers_for_takes_the_rules_of_the_kind_and_its_group_in_order():
    rules = NormalizeRules((
        IgnoreRule("Switch", "/spec/a", WIRING),
        IgnoreRule("Switch", "/spec/b", VPC),
        IgnoreRule("*", "/spec/c"),
        IgnoreRule("VPC", "/spec/d"),
        IgnoreRule("*", "/spec/e", WIRING),
        IgnoreRule("Switch", "/spec/f"),
    ))
    assert rules.pointers_for(WIRING, "Switch") == ["/spec/a", "/spec/c", "/spec/e", "/spec/f"]
    assert rules.pointers_for(VPC, "Switch") == ["/spec/b", "/spec/c", "/spec/f"]
    assert rules.pointers_for(VPC, "VPC") == ["/spec/c", "/spec/d"]
    assert NormalizeRules().pointers_for(WIRING, "Switch") == []


# --- the compiled plan, through normalize() ---------------------------------------------------------

def test_ignore_rules_named_and_wildcard_drop_only_their_fields():
    rules = NormalizeRules((
        IgnoreRule("Thing", "/spec/token"),
        IgnoreRule("Thing", "/spec/items/*/secret", "example.com"),
    ))
    obj = {**THING, "metadata": {"name": "x", "labels": {"tier": ""}},
           "spec": {"token": "t", "keep": "k",
                    "items": [{"secret": "s1", "name": "a"}, {"secret": "s2", "name": "b"}]}}
    assert normalize(obj, rules) == {
        **THING,
        "metadata": {"name": "x", "namespace": "default", "labels": {"tier": ""}},
        "spec": {"keep": "k", "items": [{"name": "a"}, {"name": "b"}]},
    }


def test_a_wildcard_rule_and_a_named_rule_below_the_same_key_both_apply():
    # /spec/items/0/name (exact index) and /spec/items/*/secret meet at index 0: the state there holds both.
    rules = NormalizeRules((
        IgnoreRule("Thing", "/spec/items/*/secret"),
        IgnoreRule("Thing", "/spec/items/0/name"),
    ))
    obj = {**THING, "metadata": {"name": "x"},
           "spec": {"items": [{"secret": "s1", "name": "a", "port": 1},
                              {"secret": "s2", "name": "b", "port": 2}]}}
    assert normalize(obj, rules) == {
        **THING,
        "metadata": {"name": "x", "namespace": "default"},
        "spec": {"items": [{"port": 1}, {"name": "b", "port": 2}]},
    }


def test_labels_and_annotations_keep_entries_with_empty_values_and_elsewhere_empties_go():
    obj = {**THING, "metadata": {"name": "x", "labels": {"tier": "", "zone": "a"}, "annotations": {"note": ""}},
           "spec": {"empty": "", "zero": 0, "off": False, "none": None, "map": {}, "list": [], "on": True}}
    assert normalize(obj) == {
        **THING,
        "metadata": {"name": "x", "namespace": "default", "labels": {"tier": "", "zone": "a"},
                     "annotations": {"note": ""}},
        "spec": {"on": True},
    }


def test_external_attachment_explicit_zeros_presence_and_unordered_statements():
    # EXPLICIT_ZERO: icmpType/icmpCode 0 is a setting; PRESENCE_MATTERS: `static: {}` is kept;
    # ORDER_INSENSITIVE: the statements are a set, sorted by their canonical JSON.
    obj = {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "ExternalAttachment",
           "metadata": {"name": "ea", "namespace": "default"},
           "spec": {"connection": "c", "static": {},
                    "inboundACL": {"statements": [
                        {"seq": 1, "action": "permit", "icmpType": 8, "icmpCode": 0, "ports": ""},
                        {"seq": 2, "action": "deny", "icmpType": 0, "icmpCode": 0},
                    ]}}}
    assert normalize(obj) == {
        "apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "ExternalAttachment",
        "metadata": {"name": "ea", "namespace": "default"},
        "spec": {"connection": "c", "static": {},
                 "inboundACL": {"statements": [
                     {"action": "deny", "icmpCode": 0, "icmpType": 0, "seq": 2},
                     {"action": "permit", "icmpCode": 0, "icmpType": 8, "seq": 1},
                 ]}}}


def test_a_list_not_named_by_any_rule_keeps_its_order():
    obj = {**THING, "metadata": {"name": "x"}, "spec": {"names": ["b", "a"], "items": [{"n": 2}, {"n": 1}]}}
    assert normalize(obj) == {**THING, "metadata": {"name": "x", "namespace": "default"},
                              "spec": {"names": ["b", "a"], "items": [{"n": 2}, {"n": 1}]}}
