import copy

import pytest

from hedgehog_sync.domain.diff import MASK, compare, diff_values, drift_score
from hedgehog_sync.domain.normalize import IgnoreRule, NormalizeRules, normalize


def vpc(name="vpc-1", vlan=1001, **extra_spec):
    return {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": vlan}}, **extra_spec}}


def switch(name="leaf-01"):
    return {"apiVersion": "wiring.githedgehog.com/v1beta1", "kind": "Switch",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"role": "server-leaf", "profile": "celestica-ds3000", "boot": {"mac": "0c:20:12:ff:00:00"}}}


def as_stored(obj):
    """What the API server hands back: bookkeeping, status, system labels added."""
    live = copy.deepcopy(obj)
    meta = live["metadata"]
    meta.update(uid="4c0e…", resourceVersion="12345", generation=3, creationTimestamp="2026-11-28T10:00:00Z",
                managedFields=[{"manager": "kubectl", "operation": "Apply"}])
    meta.setdefault("labels", {})["fabric.githedgehog.com/vpc"] = "true"
    meta.setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    live["status"] = {"applied": True}
    return live


def test_server_bookkeeping_status_and_system_labels_are_not_drift():
    for obj in (vpc(), switch()):
        assert diff_values(normalize(obj), normalize(as_stored(obj)), "x") == []


# (name, desired, live, expected [(op, path, desired, actual, severity)])
CASES = [
    ("vlan changed", vpc(vlan=1001), vpc(vlan=1002),
     [("replace", "/spec/subnets/default/vlan", 1001, 1002, "high")]),
    ("number by value", vpc(vlan=1001), vpc(vlan=1001.0), []),
    ("absent equals empty", vpc(), vpc(permit=[]), []),
    ("false equals absent", vpc(), {**vpc(), "spec": {**vpc()["spec"], "isolated": False}}, []),
    ("field added live", vpc(), vpc(permit=[["default", "other"]]),
     [("add", "/spec/permit", None, [["default", "other"]], "high")]),
    ("field removed live", vpc(permit=[["a", "b"]]), vpc(),
     [("remove", "/spec/permit", [["a", "b"]], None, "high")]),
    ("label changed", {**switch(), "metadata": {"name": "leaf-01", "labels": {"rack": "r1"}}},
     {**switch(), "metadata": {"name": "leaf-01", "labels": {"rack": "r2"}}},
     [("replace", "/metadata/labels/rack", "r1", "r2", "medium")]),
    ("annotation added", switch(), {**switch(), "metadata": {"name": "leaf-01", "annotations": {"note": "x"}}},
     [("add", "/metadata/annotations/note", None, "x", "low")]),
    ("key with slash is escaped", {**switch(), "metadata": {"name": "leaf-01", "labels": {"a/b": "1"}}},
     {**switch(), "metadata": {"name": "leaf-01", "labels": {"a/b": "2"}}},
     [("replace", "/metadata/labels/a~1b", "1", "2", "medium")]),
]


@pytest.mark.parametrize("name,desired,live,expected", CASES, ids=[c[0] for c in CASES])
def test_change_table(name, desired, live, expected):
    changes = diff_values(normalize(desired), normalize(as_stored(live)), "vpc.githedgehog.com"
                          if desired["kind"] == "VPC" else "wiring.githedgehog.com")
    assert [(c.op, c.path, c.desired, c.actual, c.severity) for c in changes] == expected


def test_secret_like_values_are_masked_but_still_reported():
    d = {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "External", "metadata": {"name": "e"},
         "spec": {"bgp": {"password": "hunter2"}}}
    live = copy.deepcopy(d)
    live["spec"]["bgp"]["password"] = "s3cret-live"
    (change,) = diff_values(normalize(d), normalize(live), "vpc.githedgehog.com")
    assert (change.path, change.desired, change.actual) == ("/spec/bgp/password", MASK, MASK)
    assert "hunter2" not in repr(change) and "s3cret-live" not in repr(change)


def test_user_ignore_rule_drops_a_live_only_field():
    rules = NormalizeRules((IgnoreRule("VPC", "/spec/subnets/*/vlan"),))
    assert diff_values(normalize(vpc(vlan=1), rules), normalize(vpc(vlan=2), rules), "g") == []


def test_compare_states_and_severities():
    agent = {"apiVersion": "agent.githedgehog.com/v1beta1", "kind": "Agent", "metadata": {"name": "leaf-01"}}
    desired = [vpc("vpc-1", 1001), vpc("vpc-2"), switch("leaf-01")]
    live = [as_stored(vpc("vpc-1", 1002)), as_stored(switch("leaf-01")), as_stored(vpc("vpc-9")), agent]
    result = compare(desired, live, sources=[("vpcs.yaml", 1), ("vpcs.yaml", 2), ("sw.yaml", 1)])
    assert result.counts == {"in_sync": 1, "modified": 1, "missing": 1, "extra": 1}
    states = {(d.rid.name, d.state, d.severity, d.source) for d in result.drifts}
    assert states == {("vpc-1", "modified", "high", "vpcs.yaml#1"), ("vpc-2", "missing", "critical", "vpcs.yaml#2"),
                      ("vpc-9", "extra", "critical", None)}


def test_extra_is_not_claimed_when_desired_side_is_partial():
    result = compare([], [as_stored(vpc("vpc-9"))], include_extra=False)
    assert result.drifts == [] and result.counts["extra"] == 0


def test_score_is_zero_in_sync_and_grows_with_drift():
    assert drift_score([]) == 0.0
    one = compare([vpc(vlan=1)], [vpc(vlan=2)]).drifts
    two = compare([vpc(vlan=1, permit=[["a", "b"]])], [vpc(vlan=2)]).drifts
    assert 0 < drift_score(one) < drift_score(two) < 1
