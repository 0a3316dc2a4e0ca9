"""domain/diff: kills mutants that survived the domain tests (issue 19): the dict forms of a change and
of a drifted resource, field severities, pointer escaping, and how an uncomparable object is named."""

import pytest

from hedgehog_sync.domain.diff import Change, ResourceDrift, change_severity, compare, escape_token
from hedgehog_sync.domain.model import ResourceId

WIRING, VPC, GATEWAY, AGENT = ("wiring.githedgehog.com", "vpc.githedgehog.com", "gateway.githedgehog.com",
                               "agent.githedgehog.com")


def test_a_change_as_a_dict_carries_only_the_sides_it_has():
    assert Change("replace", "/spec/a", 1, 2, "high").as_dict() == {
        "op": "replace", "path": "/spec/a", "desired": 1, "actual": 2, "severity": "high"}
    assert Change("add", "/spec/a", None, 2, "high").as_dict() == {
        "op": "add", "path": "/spec/a", "actual": 2, "severity": "high"}
    assert Change("remove", "/spec/a", 1, None, "low").as_dict() == {
        "op": "remove", "path": "/spec/a", "desired": 1, "severity": "low"}


def test_a_drifted_resource_as_a_dict():
    rid = ResourceId(VPC, "VPC", "team-a", "vpc-1")
    drift = ResourceDrift(rid, "vpc.githedgehog.com/v1beta1", "modified", "high",
                          [Change("replace", "/spec/a", 1, 2, "high")], "vpcs.yaml#2")
    assert drift.as_dict() == {
        "apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "namespace": "team-a", "name": "vpc-1",
        "state": "modified", "severity": "high",
        "changes": [{"op": "replace", "path": "/spec/a", "desired": 1, "actual": 2, "severity": "high"}],
        "source": "vpcs.yaml#2"}
    assert "source" not in ResourceDrift(rid, "v", "extra", "critical").as_dict()


@pytest.mark.parametrize("group,path,severity", [
    (WIRING, "/metadata/labels/rack", "medium"), (VPC, "/metadata/labels", "medium"),
    (WIRING, "/metadata/annotations/note", "low"),
    (WIRING, "/spec/role", "high"), (VPC, "/spec/subnets", "high"), (GATEWAY, "/spec/asn", "high"),
    (AGENT, "/spec/version", "medium"), ("dhcp.githedgehog.com", "/spec/x", "medium"),
    (WIRING, "/metadata/name", "medium"), (WIRING, "/status/x", "medium"),
])
def test_change_severity(group, path, severity):
    assert change_severity(group, path) == severity


@pytest.mark.parametrize("token,escaped", [("a/b", "a~1b"), ("a~b", "a~0b"), ("~/", "~0~1"), ("plain", "plain")])
def test_escape_token_as_rfc_6901_says(token, escaped):
    assert escape_token(token) == escaped


@pytest.mark.parametrize("obj,named", [
    (["not", "an", "object"], "an item"),
    ({"apiVersion": "vpc.githedgehog.com/v1beta1", "metadata": {"name": "vpc-1"}}, "? vpc-1"),
    ({"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": {"name": ""}}, "VPC "),
    ({"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": {"name": 7}}, "VPC ?"),
    ({"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": "x"}, "VPC ?"),
])
def test_an_uncomparable_object_is_named_in_its_finding(obj, named):
    (finding,) = compare([obj], []).findings
    assert finding.message.startswith(f"{named} ") and finding.message.endswith("; not compared")


def test_a_long_name_is_cut_to_120_characters_with_an_ellipsis():
    kind = "K" * 200
    (finding,) = compare([{"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": kind, "metadata": {}}], []).findings
    label = finding.message.split(" has no")[0]
    assert label == "K" * 119 + "…"
    exact = "V" * 118  # "V…V ?" is exactly 120 characters: kept whole
    (finding,) = compare([{"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": exact, "metadata": {}}], []).findings
    assert finding.message.startswith(exact + " ? has no")


# --- whole comparisons, written out (issue 19, second pass) ----------------------------------------------

from hedgehog_sync.domain.diff import (  # noqa: E402
    SEVERITY_WEIGHT, diff_values, drift_score, is_controller_generated, max_severity, presence_severity,
)


def obj(group_version, kind, name, namespace=None, **rest):
    meta = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update(rest.pop("meta", {}))
    return {"apiVersion": group_version, "kind": kind, "metadata": meta, **rest}


def changes(desired, actual, group=VPC, unordered=()):
    return [c.as_dict() for c in diff_values(desired, actual, group, unordered)]


def test_a_fabric_compared_whole():
    desired = [
        obj("vpc.githedgehog.com/v1beta1", "VPC", "vpc-1", spec={"vni": 1, "subnets": {"a": {"vlan": 10}}}),
        obj("vpc.githedgehog.com/v1beta1", "VPC", "vpc-2", spec={"vni": 2}),
        obj("wiring.githedgehog.com/v1beta1", "Switch", "leaf-1", spec={"role": "leaf"}),
        obj("vpc.githedgehog.com/v1beta1", "VPC", "vpc-1", spec={"vni": 99}),  # a second copy: the first counts
        "not an object",
    ]
    live = [
        obj("vpc.githedgehog.com/v1beta1", "VPC", "vpc-1", spec={"vni": 1, "subnets": {"a": {"vlan": 11}}}),
        obj("vpc.githedgehog.com/v1beta1", "VPC", "vpc-2", spec={"vni": 2}),
        obj("wiring.githedgehog.com/v1beta1", "Server", "srv-1"),
        obj("agent.githedgehog.com/v1beta1", "Agent", "leaf-1"),
        {"apiVersion": "v1", "kind": "X" * 80, "metadata": {}},
    ]
    sources = [("vpcs.yaml", 1), ("vpcs.yaml", 2), ("switches.yaml", 1), ("dup.yaml", 1), ("junk.yaml", 3)]
    result = compare(desired, live, sources=sources)
    assert result.counts == {"in_sync": 1, "modified": 1, "missing": 1, "extra": 1}
    assert [d.as_dict() for d in result.drifts] == [
        {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "namespace": "default", "name": "vpc-1",
         "state": "modified", "severity": "high",
         "changes": [{"op": "replace", "path": "/spec/subnets/a/vlan", "desired": 10, "actual": 11,
                      "severity": "high"}], "source": "vpcs.yaml#1"},
        {"apiVersion": "wiring.githedgehog.com/v1beta1", "kind": "Server", "namespace": "default", "name": "srv-1",
         "state": "extra", "severity": "high", "changes": []},
        {"apiVersion": "wiring.githedgehog.com/v1beta1", "kind": "Switch", "namespace": "default", "name": "leaf-1",
         "state": "missing", "severity": "critical", "changes": [], "source": "switches.yaml#1"},
    ]
    assert [f.as_dict() for f in result.findings] == [
        {"source": "junk.yaml#3", "level": "error", "message": "an item is str, not an object; not compared"},
        {"source": "cluster:" + "X" * 60, "level": "error",
         "message": f"live {'X' * 80} ? has no metadata.name string; not compared"},
    ]
    assert compare(desired, live, include_extra=False).counts == {"in_sync": 1, "modified": 1, "missing": 1,
                                                                   "extra": 0}
    assert [f.source for f in compare(["x"], []).findings] == ["git"]
    assert [f.source for f in compare(["x", "y"], [], sources=[("a.yaml", 1)]).findings] == ["a.yaml#1", "git"]


@pytest.mark.parametrize("obj_,problem", [
    (7, "an item is int, not an object"),
    ({"kind": "VPC", "metadata": {"name": "v"}}, "VPC v has no apiVersion string"),
    ({"apiVersion": "", "kind": "VPC", "metadata": {"name": "v"}}, "VPC v has no apiVersion string"),
    ({"apiVersion": "v1", "kind": 5, "metadata": {"name": "v"}}, "5 v has no kind string"),
    ({"apiVersion": "v1", "kind": "", "metadata": {"name": "v"}}, "? v has no kind string"),
    ({"apiVersion": "v1", "kind": "K", "metadata": ["x"]}, "K ? has metadata of type list, not a mapping"),
    ({"apiVersion": "v1", "kind": "K"}, "K ? has metadata of type NoneType, not a mapping"),
    ({"apiVersion": "v1", "kind": "K", "metadata": {"name": ""}}, "K  has no metadata.name string"),
    ({"apiVersion": "v1", "kind": "K", "metadata": {"name": 3}}, "K ? has no metadata.name string"),
    ({"apiVersion": "v1", "kind": "K", "metadata": {"name": "n", "namespace": 4}},
     "K n has metadata.namespace of type int"),
], ids=["int", "no-api-version", "empty-api-version", "kind-int", "kind-empty", "meta-list", "meta-missing",
        "name-empty", "name-int", "namespace-int"])
def test_why_an_object_is_not_compared(obj_, problem):
    (finding,) = compare([obj_], []).findings
    assert (finding.source, finding.message, finding.level) == ("git", f"{problem}; not compared", "error")
    (live,) = compare([], [obj_]).findings
    kind = obj_.get("kind") if isinstance(obj_, dict) and isinstance(obj_.get("kind"), str) else "?"
    assert (live.source, live.message) == (f"cluster:{kind}", f"live {problem}; not compared")


def test_a_namespace_given_as_a_string_is_compared():
    o = obj("v1", "K", "n", namespace="ns")
    assert compare([o], [o]).counts["in_sync"] == 1 and compare([o], [o]).findings == []


class Exploding:
    """Labels that cannot be read: what an API server answering nonsense could give."""

    def __init__(self, message):
        self.message = message

    def __iter__(self):
        raise RuntimeError(self.message)


@pytest.mark.parametrize("length,text", [
    (286, "RuntimeError: " + "x" * 286), (287, "RuntimeError: " + "x" * 285 + "…"),
    (1000, "RuntimeError: " + "x" * 285 + "…"),
], ids=["kept-at-300", "cut-at-301", "cut-at-1014"])
def test_an_object_that_cannot_be_compared_is_its_own_finding_cut_to_300_characters(length, text):
    odd = obj("wiring.githedgehog.com/v1beta1", "SwitchProfile", "p", meta={"labels": Exploding("x" * length)})
    result = compare([], [odd])
    assert [(f.source, f.message) for f in result.findings] == [
        ("cluster:SwitchProfile", f"SwitchProfile p could not be compared: {text}")]
    assert result.drifts == [] and result.counts["extra"] == 0


@pytest.mark.parametrize("live,generated", [
    (obj("agent.githedgehog.com/v1beta1", "Anything", "a"), True),
    (obj("dhcp.githedgehog.com/v1beta1", "DHCPSubnet", "a"), True),
    (obj("gwint.githedgehog.com/v1alpha1", "GatewayAgent", "a"), True),
    (obj("gateway.githedgehog.com/v1alpha1", "VPCInfo", "a"), True),
    (obj("gateway.githedgehog.com/v1alpha1", "GatewayGroup", "default"), True),
    (obj("gateway.githedgehog.com/v1alpha1", "GatewayGroup", "other"), False),
    (obj("gateway.githedgehog.com/v1alpha1", "Gateway", "default"), False),
    (obj("wiring.githedgehog.com/v1beta1", "SwitchProfile", "p", meta={"labels": {"fabric.githedgehog.com/x": "1"}}),
     True),
    (obj("wiring.githedgehog.com/v1beta1", "SwitchProfile", "p", meta={"labels": {"team": "1"}}), False),
    (obj("wiring.githedgehog.com/v1beta1", "SwitchProfile", "p", meta={"labels": None}), False),
    (obj("wiring.githedgehog.com/v1beta1", "SwitchProfile", "p"), False),
    (obj("wiring.githedgehog.com/v1beta1", "Switch", "p", meta={"labels": {"fabric.githedgehog.com/x": "1"}}), False),
    ({"apiVersion": "wiring.githedgehog.com/v1beta1", "kind": "SwitchProfile", "metadata": None}, False),
    (obj("vpc.githedgehog.com/v1beta1", "VPC", "default"), False),
], ids=["agent-group", "dhcp", "gwint", "vpcinfo", "default-gateway-group", "other-gateway-group", "gateway",
        "builtin-profile", "own-profile", "profile-null-labels", "profile-no-labels", "switch", "null-metadata", "vpc"])
def test_is_controller_generated(live, generated):
    assert is_controller_generated(live) is generated


def test_presence_and_max_severity_and_the_score():
    assert [presence_severity(WIRING, k) for k in ("Switch", "Connection", "Server")] == ["critical", "critical", "high"]
    assert [presence_severity(VPC, k) for k in ("VPC", "VPCAttachment")] == ["critical", "high"]
    assert presence_severity(GATEWAY, "VPC") == "high"
    assert max_severity([]) == "none"
    assert max_severity(["low", "high", "medium"]) == "high"
    assert max_severity(["low", "low"]) == "low" and max_severity(["critical", "low"]) == "critical"
    assert SEVERITY_WEIGHT == {"none": 0.0, "low": 0.25, "medium": 0.5, "high": 1.0, "critical": 4.0}
    rid = ResourceId(VPC, "VPC", "default", "v")
    modified = ResourceDrift(rid, "v", "modified", "high", [Change("replace", "/a", 1, 2, "high"),
                                                            Change("replace", "/b", 1, 2, "low")])
    missing = ResourceDrift(rid, "v", "missing", "critical")
    assert drift_score([]) == 0.0
    assert drift_score([modified]) == round(1.25 / 11.25, 4) == 0.1111
    assert drift_score([modified, missing]) == round(5.25 / 15.25, 4) == 0.3443


@pytest.mark.parametrize("desired,actual,expected", [
    ({"a": 1}, {"a": 1.0}, []),
    ({"a": 1.0}, {"a": 1}, []),
    ({"a": True}, {"a": 1}, [("replace", "/a", True, 1)]),
    ({"a": 1}, {"a": True}, [("replace", "/a", 1, True)]),
    ({"a": 0.0}, {"a": False}, [("replace", "/a", 0.0, False)]),
    ({"a": "1"}, {"a": 1}, [("replace", "/a", "1", 1)]),
    ({"a": [1, 2]}, {"a": [1, 2, 3]}, [("add", "/a/2", None, 3)]),
    ({"a": [1, 2, 3]}, {"a": [1, 2]}, [("remove", "/a/2", 3, None)]),
    ({"a": [1, 2]}, {"a": [0, 1, 2]}, [("replace", "/a", [1, 2], [0, 1, 2])]),
    ({"a": [1, 2]}, {"a": [1, 3]}, [("replace", "/a/1", 2, 3)]),
    ({"a": {"x": 1}}, {"a": {"y": 1}}, [("remove", "/a/x", 1, None), ("add", "/a/y", None, 1)]),
    ({"a/b": {"c~d": 1}}, {"a/b": {"c~d": 2}}, [("replace", "/a~1b/c~0d", 1, 2)]),
    ({"a": {}}, {"a": []}, [("replace", "/a", {}, [])]),
    ({"a": None}, {"a": 0}, [("replace", "/a", None, 0)]),
], ids=["int-float", "float-int", "bool-int", "int-bool", "float-bool", "str-int", "appended", "dropped", "shifted",
        "changed-element", "renamed-key", "escaped", "map-list", "null-zero"])
def test_diff_values(desired, actual, expected):
    assert [(c.op, c.path, c.desired, c.actual) for c in diff_values(desired, actual, VPC)] == expected


def test_metadata_maps_and_an_empty_spec_are_compared_key_by_key():
    assert changes({"metadata": {"name": "a"}}, {"metadata": {"name": "a", "labels": {"x": "1"}}}) == [
        {"op": "add", "path": "/metadata/labels/x", "actual": "1", "severity": "medium"}]
    assert changes({"metadata": {"annotations": {"n": "1"}}}, {"metadata": {}}) == [
        {"op": "remove", "path": "/metadata/annotations/n", "desired": "1", "severity": "low"}]
    assert changes({"metadata": {"owner": {"x": "1"}}}, {"metadata": {}}) == [
        {"op": "remove", "path": "/metadata/owner", "desired": {"x": "1"}, "severity": "medium"}]
    assert changes({"x": {"labels": {"a": 1}}}, {"x": {}}) == [
        {"op": "remove", "path": "/x/labels", "desired": {"a": 1}, "severity": "medium"}]
    assert changes({}, {"spec": {"vni": 3}}) == [{"op": "add", "path": "/spec/vni", "actual": 3, "severity": "high"}]
    assert changes({"spec": {"vni": 3}}, {}) == [
        {"op": "remove", "path": "/spec/vni", "desired": 3, "severity": "high"}]
    assert changes({"spec": [1]}, {}) == [{"op": "remove", "path": "/spec", "desired": [1], "severity": "high"}]
    assert changes({}, {"spec": 5}) == [{"op": "add", "path": "/spec", "actual": 5, "severity": "high"}]
    assert changes({"a": {"spec": {"x": 1}}}, {"a": {}}) == [
        {"op": "remove", "path": "/a/spec", "desired": {"x": 1}, "severity": "medium"}]


def test_credentials_are_masked_wherever_they_are():
    assert changes({"spec": {"password": "old"}}, {"spec": {"password": "new"}}) == [
        {"op": "replace", "path": "/spec/password", "desired": "***", "actual": "***", "severity": "high"}]
    assert changes({"spec": {"auth": {"Token": "a"}}}, {"spec": {"auth": {}}}) == [
        {"op": "remove", "path": "/spec/auth/Token", "desired": "***", "severity": "high"}]
    assert changes({"spec": {}}, {"spec": {"bgp": {"secret": "s", "peer": "p", "none": None, "list": [{"psk": 1}],
                                                   "x": {"private_key": "k", "authKey": None}}}}) == [
        {"op": "add", "path": "/spec/bgp", "severity": "high",
         "actual": {"secret": "***", "peer": "p", "none": None, "list": [{"psk": "***"}],
                    "x": {"private_key": "***", "authKey": None}}}]
    assert changes({"spec": {"password": None}}, {"spec": {"password": "x"}}) == [
        {"op": "replace", "path": "/spec/password", "desired": None, "actual": "***", "severity": "high"}]


SWITCH = "wiring.githedgehog.com"


def test_a_set_names_its_elements_as_written():
    unordered = ("/spec/groups",)
    assert changes({"spec": {"groups": ["a", "b", "c"]}}, {"spec": {"groups": ["c", "a", "b"]}}, SWITCH,
                   unordered) == []
    assert changes({"spec": {"groups": ["a", "b"]}}, {"spec": {"groups": ["b", "x"]}}, SWITCH, unordered) == [
        {"op": "replace", "path": "/spec/groups/0", "desired": "a", "actual": "x", "severity": "high"}]
    assert changes({"spec": {"groups": ["a", "b", "c"]}}, {"spec": {"groups": ["b"]}}, SWITCH, unordered) == [
        {"op": "remove", "path": "/spec/groups/0", "desired": "a", "severity": "high"},
        {"op": "remove", "path": "/spec/groups/2", "desired": "c", "severity": "high"}]
    assert changes({"spec": {"groups": ["b"]}}, {"spec": {"groups": ["b", "a", "a"]}}, SWITCH, unordered) == [
        {"op": "add", "path": "/spec/groups/1", "actual": "a", "severity": "high"},
        {"op": "add", "path": "/spec/groups/2", "actual": "a", "severity": "high"}]
    assert changes({"spec": {"other": ["a", "b"]}}, {"spec": {"other": ["b", "a"]}}, SWITCH, unordered) == [
        {"op": "replace", "path": "/spec/other/0", "desired": "a", "actual": "b", "severity": "high"},
        {"op": "replace", "path": "/spec/other/1", "desired": "b", "actual": "a", "severity": "high"}]
    star = ("/spec/*/links",)
    assert changes({"spec": {"x": {"links": [1, 2]}}}, {"spec": {"x": {"links": [2, 1]}}}, SWITCH, star) == []


def test_set_elements_that_are_structures_pair_up_by_what_they_share():
    unordered = ("/spec/links",)
    desired = {"spec": {"links": [{"port": "e1", "speed": 10}, {"port": "e2", "speed": 10}]}}
    actual = {"spec": {"links": [{"port": "e2", "speed": 25}, {"port": "e1", "speed": 10}]}}
    assert changes(desired, actual, SWITCH, unordered) == [
        {"op": "replace", "path": "/spec/links/1/speed", "desired": 10, "actual": 25, "severity": "high"}]
    nothing_shared = {"spec": {"links": [{"a": 1}]}}
    other = {"spec": {"links": [{"b": 2}]}}
    assert changes(nothing_shared, other, SWITCH, unordered) == [
        {"op": "remove", "path": "/spec/links/0", "desired": {"a": 1}, "severity": "high"},
        {"op": "add", "path": "/spec/links/0", "actual": {"b": 2}, "severity": "high"}]
    empty_shared = {"spec": {"links": [{"a": {}, "b": 1}]}}
    assert changes(empty_shared, {"spec": {"links": [{"a": {}, "b": 2}]}}, SWITCH, unordered) == [
        {"op": "replace", "path": "/spec/links/0/b", "desired": 1, "actual": 2, "severity": "high"}]
    nested = {"spec": {"links": [{"p": [{"x": 1}, {"y": 2}], "q": 1}]}}
    assert changes(nested, {"spec": {"links": [{"p": [{"x": 1}, {"y": 2}], "q": 2}]}}, SWITCH, unordered) == [
        {"op": "replace", "path": "/spec/links/0/q", "desired": 1, "actual": 2, "severity": "high"}]


def test_a_set_element_changed_in_a_whole_comparison_is_named_by_its_place_in_git():
    desired = obj("wiring.githedgehog.com/v1beta1", "Switch", "leaf-1", spec={"groups": ["z", "b", "a"]})
    live = obj("wiring.githedgehog.com/v1beta1", "Switch", "leaf-1", spec={"groups": ["a", "b", "y"]})
    (drift,) = compare([desired], [live]).drifts
    assert [c.as_dict() for c in drift.changes] == [
        {"op": "replace", "path": "/spec/groups/0", "desired": "z", "actual": "y", "severity": "high"}]
    live2 = obj("wiring.githedgehog.com/v1beta1", "Switch", "leaf-1", spec={"groups": ["q", "a", "b", "z"]})
    (drift,) = compare([desired], [live2]).drifts
    assert [c.as_dict() for c in drift.changes] == [
        {"op": "add", "path": "/spec/groups/0", "actual": "q", "severity": "high"}]


# --- which unmatched set elements are one element changed: the leaves they share ----------------------------

def _set_changes(desired_elements, actual_elements):
    return changes({"spec": {"l": desired_elements}}, {"spec": {"l": actual_elements}}, SWITCH, ("/spec/l",))


@pytest.mark.parametrize("desired_element, first, second, expected", [
    # An empty map shared counts once, like a scalar: a tie, and the first live element wins.
    ({"e": {}, "n": 1, "k": "d"}, {"e": 5, "n": 1, "k": "a0"}, {"e": {}, "n": 2, "k": "a1"},
     [{"op": "replace", "path": "/spec/l/0/e", "desired": {}, "actual": 5, "severity": "high"},
      {"op": "replace", "path": "/spec/l/0/k", "desired": "d", "actual": "a0", "severity": "high"},
      {"op": "add", "path": "/spec/l/1", "actual": {"e": {}, "n": 2, "k": "a1"}, "severity": "high"}]),
    # An empty map is not a null: the second element, sharing n, is the changed one.
    ({"e": {}, "n": 1, "k": "d"}, {"e": None, "n": 2, "k": "a0"}, {"e": 7, "n": 1, "k": "a1"},
     [{"op": "replace", "path": "/spec/l/0/e", "desired": {}, "actual": 7, "severity": "high"},
      {"op": "replace", "path": "/spec/l/0/k", "desired": "d", "actual": "a1", "severity": "high"},
      {"op": "add", "path": "/spec/l/0", "actual": {"e": None, "n": 2, "k": "a0"}, "severity": "high"}]),
    # The same value under another key is not shared.
    ({"a": 1, "k": "d"}, {"b": 1, "k": "a0"}, {"a": 1, "k": "a1"},
     [{"op": "replace", "path": "/spec/l/0/k", "desired": "d", "actual": "a1", "severity": "high"},
      {"op": "add", "path": "/spec/l/0", "actual": {"b": 1, "k": "a0"}, "severity": "high"}]),
    # Two empty maps in a list are two shared facts, more than one.
    ({"e": [{}, {}], "n": 1, "k": "d"}, {"e": [], "n": 1, "k": "a0"}, {"e": [{}, {}], "n": 2, "k": "a1"},
     [{"op": "replace", "path": "/spec/l/0/k", "desired": "d", "actual": "a1", "severity": "high"},
      {"op": "replace", "path": "/spec/l/0/n", "desired": 1, "actual": 2, "severity": "high"},
      {"op": "add", "path": "/spec/l/0", "actual": {"e": [], "n": 1, "k": "a0"}, "severity": "high"}]),
    # A value twice in a list is shared twice.
    ({"v": [1, 1], "k": "d"}, {"v": [1], "k": "a0"}, {"v": [1, 1, 2], "k": "a1"},
     [{"op": "replace", "path": "/spec/l/0/k", "desired": "d", "actual": "a1", "severity": "high"},
      {"op": "add", "path": "/spec/l/0/v/2", "actual": 2, "severity": "high"},
      {"op": "add", "path": "/spec/l/0", "actual": {"v": [1], "k": "a0"}, "severity": "high"}]),
    # Two shared empty containers outweigh one shared scalar: a scalar counts one, like an empty one.
    ({"e": {}, "f": [], "n": 1, "k": "d"}, {"n": 1, "k": "a0"}, {"e": {}, "f": [], "k": "a1"},
     [{"op": "replace", "path": "/spec/l/0/k", "desired": "d", "actual": "a1", "severity": "high"},
      {"op": "remove", "path": "/spec/l/0/n", "desired": 1, "severity": "high"},
      {"op": "add", "path": "/spec/l/0", "actual": {"n": 1, "k": "a0"}, "severity": "high"}]),
], ids=["empty-map-counts-once", "empty-map-is-not-null", "key-matters", "two-empty-maps-count-twice",
        "a-value-twice-counts-twice", "scalar-and-empty-weigh-the-same"])
def test_a_changed_set_element_pairs_with_the_live_element_sharing_most_leaves(desired_element, first, second,
                                                                                expected):
    """A set element changed live is reported as its field changes when one live element shares the most
    (place, value) facts with it, the rest as added: each shared fact counts once per occurrence, an
    empty map or list is a fact of its own (not a null), and a tie goes to the first live element. An
    operator then reads `replace /spec/l/0/k` instead of a remove and an add of whole elements."""
    assert _set_changes([desired_element], [first, second]) == expected


def test_a_set_element_beyond_the_known_positions_keeps_its_normalized_index():
    """Positions that know fewer elements than the set (a position list cut short) name the others by
    their normalized index instead of failing the comparison."""
    written = ["y", "z"]  # the positions know element 0 (written at 7), not element 1
    assert [c.as_dict() for c in diff_values({"spec": {"l": written}}, {"spec": {"l": ["x"]}}, SWITCH, ("/spec/l",),
                                             ({id(written): [7]}, {}))] == [
        {"op": "replace", "path": "/spec/l/7", "desired": "y", "actual": "x", "severity": "high"},
        {"op": "remove", "path": "/spec/l/1", "desired": "z", "severity": "high"}]


def test_a_label_of_121_characters_is_cut_to_120():
    """How an uncomparable object is named in its finding is bounded at 120 characters: 120 stay whole,
    121 become 119 and an ellipsis."""
    at_120 = {"kind": "VPC", "metadata": {"name": "n" * 116}}
    at_121 = {"kind": "VPC", "metadata": {"name": "n" * 117}}
    found = compare([at_120, at_121], [], sources=[("a.yaml", 1), ("a.yaml", 2)]).findings
    assert [f.message for f in found] == [
        f"VPC {'n' * 116} has no apiVersion string; not compared",
        f"VPC {'n' * 115}… has no apiVersion string; not compared"]
