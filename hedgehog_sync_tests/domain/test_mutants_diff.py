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
