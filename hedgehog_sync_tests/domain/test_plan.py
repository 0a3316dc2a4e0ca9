"""Table tests of the remediation plan: (Git as written, live, expected plan), through the real report."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

import pytest
import yaml

from hedgehog_sync.domain.defaults import apply_defaults
from hedgehog_sync.domain.model import DesiredState, LiveState
from hedgehog_sync.domain.plan import apply_yaml, delete_yaml, kubectl_commands, plan_for
from hedgehog_sync.domain.report import build_report

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
VPC_API = "vpc.githedgehog.com/v1beta1"
COMMIT = "c0ffee" * 6 + "abcd"


def vpc(name: str, vlan: int = 1001, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": name},
            "spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": vlan}}, **spec}}


def stored(obj: dict[str, Any]) -> dict[str, Any]:
    """As the cluster keeps it: defaulted by the webhook, with the server's bookkeeping."""
    out = apply_defaults(copy.deepcopy(obj))
    out["metadata"].update(namespace="default", uid="u-1", resourceVersion="7", generation=1,
                           creationTimestamp="2026-11-30T00:00:00Z")
    out["status"] = {"state": "ok"}
    return out


def plan_of(git: list[dict[str, Any]], live: list[dict[str, Any]], complete: bool = True):
    desired = DesiredState(commit=COMMIT, ref="main", objects=git, sources=[(f"f{i}.yaml", 1) for i in range(len(git))])
    report = build_report("fab-1", desired, LiveState("https://127.0.0.1", live, complete=complete), now=NOW, ref="main")
    return report, plan_for(report, desired)


def names(objects: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(o["kind"], o["metadata"]["name"]) for o in objects]


def with_vlan(obj: dict[str, Any], vlan: int) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["spec"]["subnets"]["default"]["vlan"] = vlan
    return out


def with_label(obj: dict[str, Any], key: str, value: str) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"].setdefault("labels", {})[key] = value
    return out


def with_spec(obj: dict[str, Any], **spec: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["spec"].update(spec)
    return out


A, B = vpc("vpc-a"), vpc("vpc-b", 1002)
AGENT = {"apiVersion": "agent.githedgehog.com/v1beta1", "kind": "Agent", "metadata": {"name": "leaf-01"},
         "spec": {"role": "server-leaf"}}

# (case, Git as written, live, objects to apply, objects to delete)
CASES = [
    ("in sync", [A], [stored(A)], [], []),
    ("modified field", [A, B], [stored(with_vlan(A, 1500)), stored(B)], [("VPC", "vpc-a")], []),
    ("missing resource", [A, B], [stored(A)], [("VPC", "vpc-b")], []),
    ("extra resource", [A], [stored(A), stored(B)], [], [("VPC", "vpc-b")]),
    ("label added live", [A], [stored(with_label(A, "team", "netops"))], [("VPC", "vpc-a")], []),
    ("label missing live", [with_label(A, "team", "netops")], [stored(A)], [("VPC", "vpc-a")], []),
    ("every kind at once", [A, vpc("vpc-c", 1003)], [stored(with_label(with_vlan(A, 1009), "x", "y")), stored(B)],
     [("VPC", "vpc-a"), ("VPC", "vpc-c")], [("VPC", "vpc-b")]),
    ("controller-generated in Git", [A, AGENT], [stored(A)], [], []),
]


@pytest.mark.parametrize("case, git, live, to_apply, to_delete", CASES, ids=[c[0] for c in CASES])
def test_a_plan_applies_what_git_holds_and_deletes_what_it_does_not(case, git, live, to_apply, to_delete) -> None:
    report, plan = plan_of(git, live)
    assert plan.reason is None
    assert names(plan.apply) == to_apply
    assert names(plan.delete) == to_delete
    assert all(set(ref) == {"apiVersion", "kind", "metadata"} and set(ref["metadata"]) == {"name", "namespace"}
               for ref in plan.delete), "a deletion is a reference, never an object's values"
    assert (plan.version is None) == (report["status"] == "in_sync")


def test_the_applied_object_is_the_git_object_as_written_not_defaulted() -> None:
    written = copy.deepcopy(A)
    written["metadata"].update(uid="from-an-export", resourceVersion="42", generation=3, managedFields=[{}],
                               annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}", "note": "x"})
    written["status"] = {"state": "exported"}
    _, plan = plan_of([written], [stored(with_vlan(A, 1500))])
    (obj,) = plan.apply
    assert obj["spec"] == A["spec"]  # no ipv4Namespace/vlanNamespace: the webhook defaults them
    assert obj["metadata"] == {"name": "vpc-a", "namespace": "default", "annotations": {"note": "x"}}
    assert "status" not in obj
    assert written["metadata"]["uid"] == "from-an-export", "the Git object is never changed"


@pytest.mark.parametrize("live, path, expected", [
    (with_label(A, "team", "netops"), ["metadata", "labels", "team"], {"team": None}),
    (with_spec(A, ipv4Namespace="other"), ["spec", "ipv4Namespace"], None),  # Git leaves it to the default
])
def test_a_field_only_live_is_nulled_so_a_merge_patch_removes_it(live, path, expected) -> None:
    report, plan = plan_of([A], [stored(live)])
    assert report["status"] == "drifted"
    node: Any = plan.apply[0]
    for token in path[:-1]:
        node = node[token]
    assert path[-1] in node and node[path[-1]] is None
    if expected is not None:
        assert node == expected


def test_nothing_below_a_list_is_nulled_the_list_is_replaced_whole() -> None:
    git = with_spec(A, permit=[["vpc-a", "vpc-b"]])
    live = with_spec(A, permit=[["vpc-a", "vpc-b", "vpc-c"]])
    _, plan = plan_of([git], [stored(live)])
    assert plan.apply[0]["spec"]["permit"] == [["vpc-a", "vpc-b"]]


def test_a_controller_generated_object_is_never_in_a_plan() -> None:
    _, plan = plan_of([A, AGENT], [])
    assert names(plan.apply) == [("VPC", "vpc-a")]
    assert [(h.kind, h.name) for h in plan.held] == [("Agent", "leaf-01")]
    assert "Agent" not in apply_yaml(plan) and "Agent" not in delete_yaml(plan)


SECRET = "s3cr3t-value-for-the-plan-0123"


@pytest.mark.parametrize("where", [
    {"spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}, "authKey": SECRET}},
    {"spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001,
                                      "dhcp": {"options": {"password": SECRET}}}}}},
    {"metadata": {"name": "vpc-a", "annotations": {"api-token": SECRET}}},
])
def test_a_git_object_with_a_secret_like_value_is_held_back_naming_its_file(where) -> None:
    git = copy.deepcopy(A)
    for key, value in where.items():
        git[key] = value
    _, plan = plan_of([git], [stored(with_vlan(A, 1500))])
    assert plan.apply == []
    (held,) = plan.held
    assert held.name == "vpc-a" and held.source == "f0.yaml#1" and "Secret" in held.reason
    for text in (apply_yaml(plan), delete_yaml(plan), str(plan.summary()), str([h.as_dict() for h in plan.held])):
        assert SECRET not in text


def test_an_unknown_fabric_gets_no_plan_with_the_reason() -> None:
    report, plan = plan_of([A], [stored(B)], complete=False)
    assert report["status"] == "unknown"
    assert plan.reason and "unknown" in plan.reason
    assert plan.apply == plan.delete == [] and plan.version is None
    assert kubectl_commands(plan, "k", "c") == []


def test_a_report_of_another_commit_gets_no_plan() -> None:
    report, _ = plan_of([A], [stored(B)])
    moved = DesiredState(commit="f" * 40, ref="main", objects=[A])
    assert "commit" in plan_for(report, moved).reason
    assert "not read" in plan_for(report, None).reason


def test_the_plan_version_is_the_sha256_of_its_content() -> None:
    _, one = plan_of([A, B], [stored(with_vlan(A, 1500))])
    _, same = plan_of([A, B], [stored(with_vlan(A, 1500))])
    _, other = plan_of([A, B], [stored(with_vlan(A, 1500)), stored(vpc("vpc-z", 1099))])
    assert one.version == same.version and len(one.version) == 64
    assert other.version != one.version


def test_apply_order_puts_referenced_kinds_first_and_deletes_in_reverse() -> None:
    ns = {"apiVersion": VPC_API, "kind": "IPv4Namespace", "metadata": {"name": "default"},
          "spec": {"subnets": ["10.0.0.0/16"]}}
    att = {"apiVersion": VPC_API, "kind": "VPCAttachment", "metadata": {"name": "att"},
           "spec": {"connection": "c", "subnet": "vpc-a/default"}}
    _, plan = plan_of([att, A, ns], [])
    assert names(plan.apply) == [("IPv4Namespace", "default"), ("VPC", "vpc-a"), ("VPCAttachment", "att")]
    _, gone = plan_of([], [stored(att), stored(A), stored(ns)])
    assert names(gone.delete) == [("VPCAttachment", "att"), ("VPC", "vpc-a"), ("IPv4Namespace", "default")]


def test_the_files_are_yaml_kubectl_reads_and_the_commands_name_the_fabrics_context() -> None:
    _, plan = plan_of([A, B], [stored(with_vlan(A, 1500)), stored(vpc("vpc-z", 1099))])
    assert [d for d in yaml.safe_load_all(apply_yaml(plan)) if d] == plan.apply
    assert [d for d in yaml.safe_load_all(delete_yaml(plan)) if d] == plan.delete
    assert kubectl_commands(plan, "/k/fab 1.kubeconfig", "fab-1", "out/apply.yaml", "out/delete.yaml") == [
        "kubectl --kubeconfig '/k/fab 1.kubeconfig' --context fab-1 apply -f out/apply.yaml",
        "kubectl --kubeconfig '/k/fab 1.kubeconfig' --context fab-1 delete -f out/delete.yaml",
    ]


def test_a_report_that_left_resources_out_says_the_plan_is_incomplete() -> None:
    report, _ = plan_of([A], [stored(with_vlan(A, 1500))])
    report["resources_omitted"] = 3
    plan = plan_for(report, DesiredState(commit=COMMIT, ref="main", objects=[A]))
    assert any("left out 3" in n for n in plan.notes)


def test_labels_are_nulled_key_by_key_so_the_controllers_labels_stay() -> None:
    git = copy.deepcopy(A)
    git["metadata"]["labels"] = None  # written as `labels:` with nothing after it
    _, plan = plan_of([git], [stored(with_label(A, "team", "netops"))])
    assert plan.apply[0]["metadata"]["labels"] == {"team": None}
