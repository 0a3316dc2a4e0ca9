"""Survivors of mutation run 13 (issue 19) in domain/diff.compare, killed.

What compare does with a resource it cannot compare (its own finding, named after its source, and the
comparison goes on with the next resource), which presence pointers each side is normalized with, and
when the second, position-naming pass runs. Expected values are written out, never computed by calling
the code under test. The survivors no input tells apart are in benchmarks/mutation-equivalents/run13.txt.
"""

from __future__ import annotations

import datetime as dt

import pytest

from hedgehog_sync.domain.diff import compare
from hedgehog_sync.domain.normalize import IgnoreRule, NormalizeRules

VPC_V = "vpc.githedgehog.com/v1beta1"
WIRING_V = "wiring.githedgehog.com/v1beta1"


class Unnamable:
    """A map key that cannot be turned into a string: what normalizing a value of an odd type can meet."""

    def __str__(self):
        raise RuntimeError("no name")


class Exploding:
    """Labels that cannot be read (as in test_mutants_diff): is_controller_generated fails on them."""

    def __iter__(self):
        raise RuntimeError("unreadable labels")


def vpc(name, **spec):
    return {"apiVersion": VPC_V, "kind": "VPC", "metadata": {"name": name}, "spec": spec}


def odd_vpc(name):
    return vpc(name, subnets={Unnamable(): {"subnet": "10.0.0.0/24"}})


# --- a pair that cannot be compared (mutants 129-137) -----------------------------------------------------

@pytest.mark.parametrize("odd_side", ["desired", "live"])
def test_a_pair_that_cannot_be_compared_is_a_finding_named_by_its_git_source(odd_side):
    desired = [odd_vpc("vpc-1") if odd_side == "desired" else vpc("vpc-1", vni=1), vpc("vpc-2", vni=2)]
    live = [odd_vpc("vpc-1") if odd_side == "live" else vpc("vpc-1", vni=1)]
    result = compare(desired, live, sources=[("vpcs.yaml", 1), ("vpcs.yaml", 2)])
    assert [f.as_dict() for f in result.findings] == [
        {"source": "vpcs.yaml#1", "level": "error",
         "message": "VPC vpc-1 could not be compared: RuntimeError: no name"}]
    # The comparison goes on with the next resource.
    assert [(d.rid.name, d.state, d.source) for d in result.drifts] == [("vpc-2", "missing", "vpcs.yaml#2")]
    assert result.counts == {"in_sync": 0, "modified": 0, "missing": 1, "extra": 0}


def test_a_pair_that_cannot_be_compared_without_a_git_source_is_named_after_its_kind():
    result = compare([odd_vpc("vpc-1"), vpc("vpc-2")], [vpc("vpc-1"), vpc("vpc-2")])
    assert [(f.source, f.message, f.level) for f in result.findings] == [
        ("cluster:VPC", "VPC vpc-1 could not be compared: RuntimeError: no name", "error")]
    assert result.drifts == [] and result.counts == {"in_sync": 1, "modified": 0, "missing": 0, "extra": 0}


# --- after an odd live object, and after an extra object that cannot be judged (mutants 47, 195) --------

def test_a_malformed_live_item_does_not_hide_the_live_items_after_it():
    good = vpc("vpc-1", vni=1)
    result = compare([good], [{"apiVersion": VPC_V, "kind": "VPC", "metadata": {}}, good])
    assert result.counts == {"in_sync": 1, "modified": 0, "missing": 0, "extra": 0}
    assert [(f.source, f.message) for f in result.findings] == [
        ("cluster:VPC", "live VPC ? has no metadata.name string; not compared")]


def test_an_extra_object_that_cannot_be_judged_does_not_hide_the_extra_objects_after_it():
    odd = {"apiVersion": WIRING_V, "kind": "SwitchProfile", "metadata": {"name": "p", "labels": Exploding()}}
    after = {"apiVersion": WIRING_V, "kind": "SwitchProfile", "metadata": {"name": "q"}}
    result = compare([], [odd, after])
    assert [(f.source, f.message) for f in result.findings] == [
        ("cluster:SwitchProfile", "SwitchProfile p could not be compared: RuntimeError: unreadable labels")]
    assert [(d.rid.name, d.state) for d in result.drifts] == [("q", "extra")]
    assert result.counts == {"in_sync": 0, "modified": 0, "missing": 0, "extra": 1}


# --- presence pointers from the other side (mutants 94, 101, 109) -----------------------------------------

def attachment(static, inbound_acl=None):
    spec = {"connection": "border", "external": "ext-1", "static": static}
    if inbound_acl is not None:
        spec["inboundACL"] = inbound_acl
    return {"apiVersion": VPC_V, "kind": "ExternalAttachment", "metadata": {"name": "att-1"}, "spec": spec}


# The proxy flag ignored, only the empty inbound ACL can differ: it counts where proxy is on on either side.
PROXY_IGNORED = NormalizeRules((IgnoreRule("ExternalAttachment", "/spec/static/proxy"),))


def test_an_empty_inbound_acl_only_live_counts_when_git_turns_the_proxy_on():
    result = compare([attachment({"proxy": True})], [attachment({}, {})], PROXY_IGNORED)
    (drift,) = result.drifts
    assert [c.as_dict() for c in drift.changes] == [
        {"op": "add", "path": "/spec/inboundACL", "actual": {}, "severity": "high"}]


def test_an_empty_inbound_acl_only_in_git_counts_when_the_cluster_turns_the_proxy_on():
    result = compare([attachment({}, {})], [attachment({"proxy": True})], PROXY_IGNORED)
    (drift,) = result.drifts
    assert [c.as_dict() for c in drift.changes] == [
        {"op": "remove", "path": "/spec/inboundACL", "desired": {}, "severity": "high"}]


# --- the two passes over a kind with sets (mutants 88, 102) ------------------------------------------------

def connection(links, **rest):
    return {"apiVersion": WIRING_V, "kind": "Connection", "metadata": {"name": "mesh-1"},
            "spec": {"mesh": {"links": links}}, **rest}


def test_set_elements_are_matched_by_their_canonical_text_from_the_first_pass():
    """Elements of a set match by sort_key (their JSON text): the same instant written in two zones is two
    elements, although the values are equal (==), so an element-wise comparison would find nothing."""
    utc = dt.datetime(2020, 1, 1, 0, 0, tzinfo=dt.timezone.utc)
    plus_one = dt.datetime(2020, 1, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert utc == plus_one
    result = compare([connection([{"at": utc}])], [connection([{"at": plus_one}])])
    (drift,) = result.drifts
    assert [(c.op, c.path) for c in drift.changes] == [("remove", "/spec/mesh/links/0"), ("add", "/spec/mesh/links/0")]


def test_status_is_never_read_when_nothing_changed_even_under_an_ignore_rule_naming_it():
    """The second pass (positions of set elements) runs only where something changed; it tags the object as
    written, status included where a rule names a place in it. An unchanged object stays in sync."""
    rules = NormalizeRules((IgnoreRule("*", "/status/x"),))
    result = compare([connection([{"a": 1}], status={Unnamable(): {"x": 1}})],
                     [connection([{"a": 1}], status={Unnamable(): {"x": 1}})], rules)
    assert result.findings == []
    assert result.counts == {"in_sync": 1, "modified": 0, "missing": 0, "extra": 0}
