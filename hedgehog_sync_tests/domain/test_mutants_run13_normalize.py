"""Survivors of mutation run 13 (issue 19) in domain/normalize.normalize, killed.

An object without `kind` is of kind "" (the mutants read it as "None" or "XXXX", so a user's ignore rule
for one kind applied to another); an object without `metadata` still normalizes; a namespace that is set
is kept; and normalize leaves a spec that defaulting never changes where it is instead of copying it, so
an ignored part of it is never walked. The survivors no input tells apart (defaults of an absent
apiVersion or kind that lead to the same group or to no rule) are in benchmarks/mutation-equivalents/run13.txt.
"""

from __future__ import annotations

import pytest

from hedgehog_sync.domain import normalize as normalize_module
from hedgehog_sync.domain.kinds import VPC, WIRING
from hedgehog_sync.domain.normalize import IgnoreRule, NormalizeRules, normalize


@pytest.fixture(autouse=True)
def _fresh_plans():
    normalize_module._plan.cache_clear()
    normalize_module._presence_plan.cache_clear()
    yield
    normalize_module._plan.cache_clear()
    normalize_module._presence_plan.cache_clear()


# --- an object without kind (mutants 15, 17, 20) ----------------------------------------------------

def test_an_ignore_rule_for_the_empty_kind_applies_to_an_object_without_kind():
    obj = {"apiVersion": "v1", "metadata": {"name": "x"}, "spec": {"a": 1, "b": 2}}
    rules = NormalizeRules(ignore=(IgnoreRule(kind="", pointer="/spec/a"),))
    assert normalize(obj, rules) == {"apiVersion": "v1", "metadata": {"name": "x", "namespace": "default"},
                                     "spec": {"b": 2}}


@pytest.mark.parametrize("kind", ["None", "XXXX"], ids=["none", "xxxx"])
def test_an_ignore_rule_for_another_kind_does_not_apply_to_an_object_without_kind(kind):
    obj = {"apiVersion": "v1", "metadata": {"name": "x"}, "spec": {"a": 1, "b": 2}}
    rules = NormalizeRules(ignore=(IgnoreRule(kind=kind, pointer="/spec/a"),))
    assert normalize(obj, rules) == {"apiVersion": "v1", "metadata": {"name": "x", "namespace": "default"},
                                     "spec": {"a": 1, "b": 2}}


# --- metadata that is absent or not a map (mutant 31) ------------------------------------------------

@pytest.mark.parametrize("meta", [None, "x", ["a"]], ids=["null", "string", "list"])
def test_metadata_that_is_not_a_map_normalizes_to_the_default_namespace(meta):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}
    assert normalize(obj) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "default"},
                              "data": {"k": "v"}}


def test_an_object_without_metadata_normalizes_to_the_default_namespace():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}
    assert normalize(obj) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "default"},
                              "data": {"k": "v"}}


# --- a namespace that is set is kept (mutants 43, 44, 45) ---------------------------------------------

@pytest.mark.parametrize("api_version,kind", [("v1", "ConfigMap"), (f"{VPC}/v1beta1", "IPv4Namespace")],
                         ids=["configmap", "ipv4namespace"])
def test_a_namespace_that_is_set_is_kept(api_version, kind):
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": "prod"}}
    assert normalize(obj)["metadata"]["namespace"] == "prod"


@pytest.mark.parametrize("namespace", [None, ""], ids=["null", "empty"])
def test_an_unset_namespace_is_the_default_one(namespace):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": namespace}}
    assert normalize(obj)["metadata"] == {"name": "x", "namespace": "default"}


# --- a spec defaulting never changes is not copied (mutants 35, 37, 38) -------------------------------

def _nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"in": value}
    return value


@pytest.mark.parametrize("group,kind", [(WIRING, "Server"), (VPC, "External")], ids=["untouched", "top-level-only"])
def test_an_ignored_part_of_a_spec_defaulting_leaves_alone_is_never_walked(group, kind):
    """Server's Default() changes nothing in spec and External's only values directly under it, so
    normalize shares (or shallow-copies) the spec with apply_defaults(share_unchanged=True) and then skips
    the ignored `blob`. Copying the whole spec first (share_unchanged False or left out) walks the blob,
    nested deeper than Python's recursion limit, and fails."""
    obj = {"apiVersion": f"{group}/v1beta1", "kind": kind, "metadata": {"name": "x", "namespace": "default"},
           "spec": {"blob": _nested(5000), "keep": "y"}}
    rules = NormalizeRules(ignore=(IgnoreRule(kind=kind, pointer="/spec/blob"),))
    out = normalize(obj, rules)
    assert out["spec"]["keep"] == "y"
    assert "blob" not in out["spec"]
    assert obj["spec"]["keep"] == "y" and "in" in obj["spec"]["blob"]
