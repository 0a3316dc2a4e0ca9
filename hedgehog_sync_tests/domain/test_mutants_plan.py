"""domain/plan, pinned exactly (issue 19): the reasons a fabric gets no plan, what each report entry
becomes, where nulls go, the plan's version, and the files, commands and markdown a person reads
(docs/remediation.md). Pure and in-process: reports are given as their JSON."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import sys
from typing import Any

import pytest

from hedgehog_sync.domain.model import DesiredState
from hedgehog_sync.domain.plan import (
    KUBECTL_ANNOTATION_PREFIX, Held, Plan, _applicable, _fenced, _first_error, _holds_secret,
    _null_where_git_is_silent, _order, apply_yaml, delete_yaml, kubectl_commands, plan_for, plan_markdown,
)

VPC_API = "vpc.githedgehog.com/v1beta1"
WIRING_API = "wiring.githedgehog.com/v1beta1"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def vpc(name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": name, **meta},
            "spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}}}


def report(*resources: dict[str, Any], status: str = "drifted", **extra: Any) -> dict[str, Any]:
    return {"fabric": "fab-1", "status": status, "git": {"commit": COMMIT}, "resources": list(resources), **extra}


def entry(state: str, name: str, kind: str = "VPC", api: str = VPC_API, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "namespace": "default", "name": name, "state": state, **extra}


def desired(*objects: Any, sources: list[tuple[str, int]] | None = None, commit: str = COMMIT) -> DesiredState:
    if sources is None:
        sources = [(f"f{i}.yaml", i + 1) for i in range(len(objects))]
    return DesiredState(commit=commit, ref="main", objects=list(objects), sources=sources)


# --- no plan, and why ----------------------------------------------------------------------------------

@pytest.mark.parametrize("rep, reason", [
    (report(status="unknown", errors=[{"source": "git", "message": "clone failed"}]),
     "the fabric is unknown: git: clone failed; no plan until both sides are read completely"),
    (report(status="unknown", errors=[{"message": "no source"}, {"source": "cluster", "message": "x"}]),
     "the fabric is unknown: ?: no source; no plan until both sides are read completely"),
    (report(status="unknown", errors=[{"source": "cluster"}]),
     "the fabric is unknown: cluster: ; no plan until both sides are read completely"),
    (report(status="unknown", errors=[]),
     "the fabric is unknown: one side could not be read completely; no plan until both sides are read completely"),
    (report(status="unknown"),
     "the fabric is unknown: one side could not be read completely; no plan until both sides are read completely"),
    (report(status="unknown", errors=["a bare string"]),
     "the fabric is unknown: one side could not be read completely; no plan until both sides are read completely"),
    (report(status="pending"), "the report's status is 'pending', not drifted or in_sync"),
    (report(status=None), "the report's status is None, not drifted or in_sync"),
])
def test_a_fabric_that_is_not_drifted_or_in_sync_gets_the_reason(rep, reason) -> None:
    plan = plan_for(rep, desired(vpc("vpc-a")))
    assert plan.reason == reason
    assert (plan.fabric, plan.commit) == ("fab-1", COMMIT)
    assert plan.apply == plan.delete == plan.held == plan.notes == []
    assert plan.version is None
    assert plan.summary() == {"version": None, "apply": 0, "delete": 0, "held": 0, "reason": reason}


def test_the_first_error_is_quoted_up_to_300_characters() -> None:
    long = "e" * 301
    assert _first_error({"errors": [{"source": "git", "message": long}]}) == "git: " + "e" * 300
    assert _first_error({"errors": [{"source": "git", "message": "e" * 300}]}) == "git: " + "e" * 300
    assert _first_error({"errors": None}) == "one side could not be read completely"


def test_a_report_in_sync_gets_an_empty_plan_without_a_reason() -> None:
    plan = plan_for(report(status="in_sync"), None)  # no Git objects needed: nothing to do
    assert (plan.fabric, plan.commit, plan.reason) == ("fab-1", COMMIT, None)
    assert not plan.has_changes and plan.version is None
    assert plan.summary() == {"version": None, "apply": 0, "delete": 0, "held": 0, "reason": None}


def test_without_the_git_objects_or_at_another_commit_there_is_no_plan() -> None:
    rep = report(entry("missing", "vpc-a"))
    assert plan_for(rep, None).reason == "the Git objects of the report's commit were not read"
    moved = plan_for(rep, desired(vpc("vpc-a"), commit="f" * 40))
    assert moved.reason == ("Git was read at commit ffffffffffff, the report is of 0123456789ab: "
                            "check again, then plan")
    no_commit = {"fabric": "fab-1", "status": "drifted", "resources": [entry("missing", "vpc-a")]}
    plan = plan_for(no_commit, desired(vpc("vpc-a")))
    assert plan.commit is None
    assert plan.reason == ("Git was read at commit 0123456789ab, the report is of None: "
                           "check again, then plan")


def test_a_report_without_fabric_or_resources() -> None:
    plan = plan_for({"status": "drifted", "git": {"commit": COMMIT}}, desired())
    assert (plan.fabric, plan.reason, plan.apply, plan.held) == ("", None, [], [])
    plan = plan_for({"fabric": None, "status": "drifted", "git": {"commit": COMMIT}, "resources": None}, desired())
    assert (plan.fabric, plan.reason, plan.apply, plan.held) == ("", None, [], [])


# --- what each entry becomes ---------------------------------------------------------------------------

def test_each_state_becomes_an_apply_a_delete_a_held_entry_or_nothing() -> None:
    git = desired(vpc("vpc-a"), vpc("vpc-b"), vpc("vpc-c"))
    rep = report(
        entry("missing", "vpc-a"), entry("modified", "vpc-b"), entry("extra", "vpc-x"),
        entry("in_sync", "vpc-c"), entry("weird", "vpc-c"), entry("missing", "vpc-gone"),
        entry("extra", "leaf-1", kind="Agent", api="agent.githedgehog.com/v1beta1"),
    )
    plan = plan_for(rep, git)
    assert plan.reason is None and plan.notes == []
    assert plan.apply == [
        {"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": "vpc-a", "namespace": "default"},
         "spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}}},
        {"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": "vpc-b", "namespace": "default"},
         "spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}}},
    ]
    assert plan.delete == [{"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": "vpc-x", "namespace": "default"}}]
    assert [h.as_dict() for h in plan.held] == [
        {"kind": "VPC", "namespace": "default", "name": "vpc-gone", "reason": "not found in Git at the report's commit"},
        {"kind": "Agent", "namespace": "default", "name": "leaf-1", "reason": "controller-generated: never in a plan"},
    ]
    assert plan.summary() == {"version": plan.version, "apply": 2, "delete": 1, "held": 2, "reason": None}


def test_an_entry_without_namespace_or_names_is_read_with_defaults() -> None:
    rep = report({"state": "extra", "apiVersion": VPC_API, "kind": "VPC", "name": "vpc-x"},
                 {"state": "extra"}, {"state": "extra", "apiVersion": None, "kind": None, "namespace": None,
                                      "name": None})
    plan = plan_for(rep, desired())
    assert plan.delete == [
        {"apiVersion": "", "kind": "", "metadata": {"name": "", "namespace": "default"}},
        {"apiVersion": "", "kind": "", "metadata": {"name": "", "namespace": "default"}},
        {"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": "vpc-x", "namespace": "default"}},
    ]


def test_the_git_object_is_matched_by_group_kind_namespace_and_name() -> None:
    other_ns = vpc("vpc-a", namespace="team")
    git = desired(other_ns, {"apiVersion": "other.example/v1", "kind": "VPC", "metadata": {"name": "vpc-a"}},
                  sources=[("ns.yaml", 1), ("other.yaml", 1)])
    plan = plan_for(report(entry("missing", "vpc-a"), {**entry("missing", "vpc-a"), "namespace": "team"}), git)
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in plan.apply] == [("team", "vpc-a")]
    assert [h.as_dict() for h in plan.held] == [
        {"kind": "VPC", "namespace": "default", "name": "vpc-a", "reason": "not found in Git at the report's commit"}]


def test_the_first_git_object_of_an_identity_wins_and_malformed_ones_are_skipped() -> None:
    first = vpc("vpc-a", labels={"n": "1"})
    second = vpc("vpc-a", labels={"n": "2"})
    git = desired("not an object", {"kind": "VPC", "metadata": "vpc-a"}, first, second)
    plan = plan_for(report(entry("missing", "vpc-a")), git)
    assert [o["metadata"]["labels"] for o in plan.apply] == [{"n": "1"}]


def test_a_held_object_names_its_git_file_and_document() -> None:
    secret = vpc("vpc-s", annotations={"api-token": "t0k3n"})
    built_in = {"apiVersion": WIRING_API, "kind": "SwitchProfile",
                "metadata": {"name": "vs", "labels": {"fabric.githedgehog.com/profile": "true"}}}
    git = desired(vpc("vpc-a"), secret, built_in, sources=[("a.yaml", 1), ("dir/s.yaml", 3)])
    rep = report(entry("missing", "vpc-s"), entry("modified", "vs", kind="SwitchProfile", api=WIRING_API))
    plan = plan_for(rep, git)
    assert plan.apply == []
    assert [h.as_dict() for h in plan.held] == [
        {"kind": "VPC", "namespace": "default", "name": "vpc-s",
         "reason": "holds a Secret-like value: apply it from your checkout of Git, never from a plan",
         "source": "dir/s.yaml#3"},
        {"kind": "SwitchProfile", "namespace": "default", "name": "vs",
         "reason": "controller-generated: never in a plan"},  # no source: beyond the sources given
    ]
    assert Held("VPC", "default", "a", "r", "").as_dict() == {"kind": "VPC", "namespace": "default", "name": "a",
                                                               "reason": "r"}


def test_a_report_cut_to_its_bound_and_cut_changes_are_noted() -> None:
    rep = report(
        entry("modified", "vpc-a", changes_omitted=4,
              changes=[{"path": "/spec/subnets/default/dhcp…"}, {"path": None}, {"path": 7},
                       {"path": "/metadata/labels/team"}]),
        resources_omitted=12,
    )
    plan = plan_for(rep, desired(vpc("vpc-a")))
    assert plan.notes == [
        "the report left out 12 drifted resources (its size bound): after applying this plan, check and plan again",
        "VPC vpc-a: the report left out 4 of its changes; a field set only live among them stays until the next plan",
        "VPC vpc-a: a change's path was cut in the report; check again after applying",
    ]
    (obj,) = plan.apply
    assert obj["metadata"] == {"name": "vpc-a", "namespace": "default", "labels": {"team": None}}
    assert obj["spec"] == {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}}  # the cut path: no null


def test_a_missing_resource_gets_no_nulls_from_its_changes() -> None:
    rep = report(entry("missing", "vpc-a", changes=[{"path": "/spec/extra"}], changes_omitted=2))
    plan = plan_for(rep, desired(vpc("vpc-a")))
    assert plan.apply[0]["spec"] == {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}}
    assert plan.notes == []


def test_nothing_is_noted_without_omissions() -> None:
    rep = report(entry("modified", "vpc-a", changes_omitted=0, changes=None), resources_omitted=0)
    assert plan_for(rep, desired(vpc("vpc-a"))).notes == []


# --- secrets, applicable objects, nulls ----------------------------------------------------------------

@pytest.mark.parametrize("value, holds", [
    ({"spec": {"password": "x"}}, True),
    ({"spec": {"PrivateKey": "x"}}, True),
    ({"spec": {"private_key": "x"}}, True),
    ({"spec": {"authKey": 0}}, True),
    ({"spec": {"password": None}}, False),  # a key with nothing under it holds nothing
    ({"spec": {"password": ""}}, True),
    ({"spec": {"items": [{"a": 1}, {"token": "t"}]}}, True),
    ({"spec": {"items": [{"a": 1}, {"b": [1, 2]}]}}, False),
    ({"spec": {"note": "password"}}, False),  # the value, not the key
    ({1: {2: "x"}}, False),
    ("password", False),
    ([], False),
])
def test_a_value_under_a_secret_like_key_anywhere(value, holds) -> None:
    assert _holds_secret(value) is holds


def test_an_object_deeper_than_any_hedgehog_object_is_held_back() -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))  # mutmut's trampolines add frames to every call
    try:
        _deep_objects()
    finally:
        sys.setrecursionlimit(limit)


def _deep_objects() -> None:
    deep: Any = "x"
    for _ in range(200):
        deep = {"a": deep}
    assert _holds_secret(deep) is False  # the deepest dict at depth 199, its value at 200
    assert _holds_secret({"a": deep}) is True
    assert _holds_secret(["x"], depth=201) is True
    assert _holds_secret("x", depth=200) is False
    assert _holds_secret("x", depth=201) is True


def test_the_applicable_object_drops_what_the_server_and_kubectl_own() -> None:
    written = {"apiVersion": VPC_API, "kind": "VPC", "status": {"s": 1}, "spec": {"a": [1]},
               "metadata": {"name": "v", "namespace": "ignored", "uid": "u", "resourceVersion": "1",
                            "generation": 2, "creationTimestamp": "t", "managedFields": [], "selfLink": "l",
                            "deletionGracePeriodSeconds": 0, "deletionTimestamp": "d", "ownerReferences": [],
                            "finalizers": [], "labels": {"l": "1"},
                            "annotations": {KUBECTL_ANNOTATION_PREFIX + "last-applied-configuration": "{}",
                                            "kubectl.kubernetes.io/restartedAt": "now", "keep": "me",
                                            "other.kubectl.kubernetes.io/x": "y"}}}
    before = copy.deepcopy(written)
    obj = _applicable(written, "prod")
    assert obj == {"apiVersion": VPC_API, "kind": "VPC", "spec": {"a": [1]},
                   "metadata": {"name": "v", "namespace": "prod", "labels": {"l": "1"},
                                "annotations": {"keep": "me", "other.kubectl.kubernetes.io/x": "y"}}}
    assert written == before
    obj["spec"]["a"].append(2)
    assert written["spec"]["a"] == [1], "a deep copy: the Git object is never changed"
    only_kubectl = {"metadata": {"name": "v", "annotations": {"kubectl.kubernetes.io/x": "1"}}}
    assert _applicable(only_kubectl, "default") == {"metadata": {"name": "v", "namespace": "default"}}
    odd = {"metadata": {"name": "v", "annotations": "text"}}
    assert _applicable(odd, "default") == {"metadata": {"name": "v", "annotations": "text", "namespace": "default"}}
    assert KUBECTL_ANNOTATION_PREFIX == "kubectl.kubernetes.io/"


@pytest.mark.parametrize("obj, tokens, expected", [
    ({"spec": {"a": 1}}, ["spec", "b"], {"spec": {"a": 1, "b": None}}),
    ({"spec": {"a": 1}}, ["spec", "b", "c"], {"spec": {"a": 1, "b": None}}),
    ({"spec": {"a": {"x": 1}}}, ["spec", "a", "y"], {"spec": {"a": {"x": 1, "y": None}}}),
    ({"metadata": {"name": "v"}}, ["spec"], {"metadata": {"name": "v"}, "spec": None}),
    ({"metadata": {"name": "v"}}, ["metadata", "labels", "team"],
     {"metadata": {"name": "v", "labels": {"team": None}}}),
    ({"metadata": {"name": "v", "labels": None}}, ["metadata", "labels", "team"],
     {"metadata": {"name": "v", "labels": {"team": None}}}),
    ({"metadata": {"name": "v", "labels": {"a": "1"}}}, ["metadata", "labels", "team"],
     {"metadata": {"name": "v", "labels": {"a": "1", "team": None}}}),
    ({"metadata": {"name": "v", "annotations": None}}, ["metadata", "annotations", "a/b"],
     {"metadata": {"name": "v", "annotations": {"a/b": None}}}),
    ({"metadata": {"name": "v"}}, ["metadata", "annotations", "a", "b"],
     {"metadata": {"name": "v", "annotations": {"a": None}}}),
    ({"metadata": {"name": "v"}}, ["metadata", "labels"], {"metadata": {"name": "v", "labels": None}}),
    ({"metadata": {"name": "v", "labels": None}}, ["metadata", "labels"], {"metadata": {"name": "v", "labels": None}}),
    ({"metadata": {"name": "v"}}, ["metadata", "other", "x"], {"metadata": {"name": "v", "other": None}}),
    ({"metadata": {"name": "v", "other": None}}, ["metadata", "other", "x"],
     {"metadata": {"name": "v", "other": None}}),
    ({"spec": {"labels": None}}, ["spec", "labels", "x"], {"spec": {"labels": None}}),  # Git wrote null: kept
    ({"spec": {}}, ["spec", "labels", "x"], {"spec": {"labels": None}}),
    ({"metadata": {"name": "v"}}, ["metadata", "name"], {"metadata": {"name": "v"}}),
    ({"metadata": {"name": "v"}}, ["metadata", "name", "x"], {"metadata": {"name": "v"}}),  # a scalar Git wrote
    ({"spec": {"list": [1, 2]}}, ["spec", "list", "0"], {"spec": {"list": [1, 2]}}),  # a list: replaced whole
    ({"spec": {"a": 1}}, [], {"spec": {"a": 1}}),
    ({"metadata": {"labels": {"t": None}}}, ["metadata", "labels", "t", "x"], {"metadata": {"labels": {"t": None}}}),
])
def test_null_at_the_first_key_git_lacks(obj, tokens, expected) -> None:
    _null_where_git_is_silent(obj, tokens)
    assert obj == expected


# --- order and version ---------------------------------------------------------------------------------

def test_apply_order_follows_references_then_kind_namespace_and_name() -> None:
    def ref(api: str, kind: str, name: str, ns: str = "default") -> dict[str, Any]:
        return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns}}

    gw = "gateway.githedgehog.com/v1alpha2"
    objs = [ref(gw, "GatewayPeering", "p"), ref("other.example/v1", "Widget", "w"), ref(VPC_API, "VPC", "b"),
            ref(VPC_API, "VPC", "a", "z"), ref(VPC_API, "VPC", "a"), ref(WIRING_API, "VLANNamespace", "v"),
            ref(VPC_API, "IPv4Namespace", "i"), ref("other.example/v1", "Apple", "w"), ref(WIRING_API, "VPC", "w")]
    assert [(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in sorted(objs, key=_order)] == [
        ("IPv4Namespace", "default", "i"), ("VLANNamespace", "default", "v"), ("VPC", "default", "a"),
        ("VPC", "default", "b"), ("VPC", "z", "a"), ("GatewayPeering", "default", "p"),
        ("Apple", "default", "w"), ("VPC", "default", "w"), ("Widget", "default", "w"),
    ]
    assert _order({}) == (17, "None", "None", "None")
    assert _order({"apiVersion": VPC_API, "kind": "IPv4Namespace"}) == (0, "IPv4Namespace", "None", "None")
    assert _order({"apiVersion": "gateway.githedgehog.com/v1", "kind": "GatewayPeering",
                   "metadata": {"name": "n", "namespace": "s"}}) == (16, "GatewayPeering", "s", "n")


def test_a_plan_applies_in_order_and_deletes_in_reverse() -> None:
    ns = {"apiVersion": VPC_API, "kind": "IPv4Namespace", "metadata": {"name": "ns"}, "spec": {}}
    att = {"apiVersion": VPC_API, "kind": "VPCAttachment", "metadata": {"name": "att"}, "spec": {}}
    git = desired(att, vpc("vpc-a"), ns)
    rep = report(entry("missing", "att", kind="VPCAttachment"), entry("missing", "vpc-a"),
                 entry("missing", "ns", kind="IPv4Namespace"), entry("extra", "x-att", kind="VPCAttachment"),
                 entry("extra", "x-ns", kind="IPv4Namespace"), entry("extra", "x-vpc"))
    plan = plan_for(rep, git)
    assert [o["metadata"]["name"] for o in plan.apply] == ["ns", "vpc-a", "att"]
    assert [o["metadata"]["name"] for o in plan.delete] == ["x-att", "x-vpc", "x-ns"]


def test_the_version_is_the_sha256_of_the_canonical_plan() -> None:
    obj = {"kind": "VPC", "apiVersion": "v", "metadata": {"name": "é", "namespace": "default"},
           "spec": {"at": dt.date(2026, 12, 1)}}
    plan = Plan("fab", "c", apply=[obj], held=[Held("Agent", "default", "a", "r", "f.yaml#1")])
    canonical = ('{"apply":[{"apiVersion":"v","kind":"VPC","metadata":{"name":"\\u00e9","namespace":"default"},'
                 '"spec":{"at":"2026-12-01"}}],"delete":[],'
                 '"held":[{"kind":"Agent","name":"a","namespace":"default","reason":"r","source":"f.yaml#1"}]}')
    assert plan.version == hashlib.sha256(canonical.encode()).hexdigest()
    only_delete = Plan("fab", "c", delete=[{"kind": "VPC"}])
    assert only_delete.version == hashlib.sha256(b'{"apply":[],"delete":[{"kind":"VPC"}],"held":[]}').hexdigest()
    only_held = Plan("fab", "c", held=[Held("K", "n", "a", "r")])
    assert only_held.has_changes
    assert only_held.version == hashlib.sha256(
        b'{"apply":[],"delete":[],"held":[{"kind":"K","name":"a","namespace":"n","reason":"r"}]}').hexdigest()
    assert Plan("fab", "c", apply=[{"k": 1}], reason="no").version is None
    assert Plan("fab", "c", notes=["a note alone is no change"]).version is None


def test_a_nan_in_git_gives_no_version_rather_than_an_invalid_json_one() -> None:
    with pytest.raises(ValueError):
        _ = Plan("fab", "c", apply=[{"spec": {"x": float("nan")}}]).version


# --- files and commands --------------------------------------------------------------------------------

SMALL = Plan("fab-1", COMMIT,
             apply=[{"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": "vpc-a", "namespace": "default"},
                     "spec": {"note": "héllo", "vlan": 1001}}],
             delete=[{"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": "vpc-x", "namespace": "default"}}])


def test_the_files_have_their_header_then_one_document_per_object() -> None:
    version = SMALL.version
    assert apply_yaml(SMALL) == (
        f"# hedgehog-sync plan for fabric fab-1 at Git commit {COMMIT}: 1 objects to apply (plan {version})\n"
        "---\n"
        f"apiVersion: {VPC_API}\n"
        "kind: VPC\n"
        "metadata:\n"
        "  name: vpc-a\n"
        "  namespace: default\n"
        "spec:\n"
        '  note: "h\\xE9llo"\n'
        "  vlan: 1001\n"
    )
    assert delete_yaml(SMALL) == (
        f"# hedgehog-sync plan for fabric fab-1: 1 objects to delete, after reviewing them (plan {version})\n"
        "---\n"
        f"apiVersion: {VPC_API}\n"
        "kind: VPC\n"
        "metadata:\n"
        "  name: vpc-x\n"
        "  namespace: default\n"
    )
    empty = Plan("fab-2", None)
    assert apply_yaml(empty) == "# hedgehog-sync plan for fabric fab-2 at Git commit None: 0 objects to apply (plan None)\n"
    assert delete_yaml(empty) == "# hedgehog-sync plan for fabric fab-2: 0 objects to delete, after reviewing them (plan None)\n"


def test_long_lines_wrap_at_120_columns() -> None:
    words = " ".join(["word"] * 40)  # 199 characters
    plan = Plan("f", "c", apply=[{"d": words, "a": 1}])
    body = apply_yaml(plan).split("\n", 1)[1]
    # PyYAML breaks at the first space past column 120 (the default would be 80); keys stay as written
    assert body == "---\nd: " + " ".join(["word"] * 24) + "\n  " + " ".join(["word"] * 16) + "\na: 1\n"


@pytest.mark.parametrize("kubeconfig, context, apply_file, delete_file, expected", [
    (None, None, "apply.yaml", "delete.yaml", ["kubectl apply -f apply.yaml", "kubectl delete -f delete.yaml"]),
    ("", "", "apply.yaml", "delete.yaml", ["kubectl apply -f apply.yaml", "kubectl delete -f delete.yaml"]),
    ("/k/a b", None, "out dir/apply.yaml", "d.yaml",
     ["kubectl --kubeconfig '/k/a b' apply -f 'out dir/apply.yaml'", "kubectl --kubeconfig '/k/a b' delete -f d.yaml"]),
    (None, "ctx;rm", "a.yaml", "d e.yaml",
     ["kubectl --context 'ctx;rm' apply -f a.yaml", "kubectl --context 'ctx;rm' delete -f 'd e.yaml'"]),
])
def test_the_commands_quote_every_part(kubeconfig, context, apply_file, delete_file, expected) -> None:
    assert kubectl_commands(SMALL, kubeconfig, context, apply_file, delete_file) == expected


def test_the_commands_name_only_the_files_with_content() -> None:
    only_apply = Plan("f", "c", apply=[{"k": 1}])
    only_delete = Plan("f", "c", delete=[{"k": 1}])
    assert kubectl_commands(only_apply, None, None) == ["kubectl apply -f apply.yaml"]
    assert kubectl_commands(only_delete, None, None) == ["kubectl delete -f delete.yaml"]
    assert kubectl_commands(SMALL, None, None) == ["kubectl apply -f apply.yaml", "kubectl delete -f delete.yaml"]


@pytest.mark.parametrize("text, info, expected", [
    ("a: 1\n\n", "yaml", "```yaml\na: 1\n```"),
    ("x", "", "```\nx\n```"),
    ("a `b` ``c``", "", "```\na `b` ``c``\n```"),
    ("a ```b``` c", "sh", "````sh\na ```b``` c\n````"),
    ("`````", "", "``````\n`````\n``````"),
])
def test_a_fence_no_content_can_close(text, info, expected) -> None:
    assert _fenced(text, info) == expected


def test_a_fence_has_no_info_string_by_default() -> None:
    assert _fenced("x") == "```\nx\n```"


# --- the markdown the UI shows -------------------------------------------------------------------------

def test_the_markdown_of_no_plan_and_of_nothing_to_do() -> None:
    assert plan_markdown(None) == "No remediation plan was computed for this report."
    assert plan_markdown(Plan("f", "c", reason="a *b* [c](d)\nnext")) == \
        "**No remediation plan**: a \\*b\\* \\[c\\](d) next"
    assert plan_markdown(Plan("f", "c", reason="r" * 401)) == "**No remediation plan**: " + "r" * 399 + "…"
    assert plan_markdown(Plan("f", "c")) == "**Remediation plan**: nothing to do, the fabric matches Git."


def test_the_markdown_of_a_plan_pins_every_line() -> None:
    plan = copy.deepcopy(SMALL)
    plan.kubeconfig, plan.context = "/k/fab 1", "fab-1"
    plan.held = [Held("Agent", "default", "leaf-1", "controller-generated: never in a plan"),
                 Held("VPC", "default", "vpc-s", "holds a *Secret*", "dir/s.yaml#3")]
    plan.notes = ["the report left out 3 <drifted> resources"]
    v = plan.version
    assert plan_markdown(plan) == "\n".join([
        f"**Remediation plan** `{v[:12]}` for commit `{COMMIT[:12]}`: 1 to apply, 1 to delete, 2 held back. "
        "Write the files with `hedgehog-sync plan --fabric fab-1 --output DIR`, review them (`kubectl diff -f`), "
        "then run, deleting last and on purpose:",
        "",
        "```sh",
        "kubectl --kubeconfig '/k/fab 1' --context fab-1 apply -f apply.yaml",
        "kubectl --kubeconfig '/k/fab 1' --context fab-1 delete -f delete.yaml",
        "```",
        "",
        "- held back: `Agent` `leaf-1`: controller-generated: never in a plan",
        "- held back: `VPC` `vpc-s`: holds a \\*Secret\\* (Git: `dir/s.yaml#3`)",
        "- note: the report left out 3 \\<drifted\\> resources",
        "",
        "apply.yaml:",
        "",
        "```yaml",
        apply_yaml(plan).rstrip(),
        "```",
        "",
        "delete.yaml:",
        "",
        "```yaml",
        delete_yaml(plan).rstrip(),
        "```",
    ])


def test_a_plan_of_held_objects_only_has_no_commands_and_empty_files() -> None:
    plan = Plan("fab-1", None, held=[Held("VPC", "default", "v", "r")])
    v = plan.version
    assert plan_markdown(plan) == "\n".join([
        f"**Remediation plan** `{v[:12]}` for commit ` `: 0 to apply, 0 to delete, 1 held back. "
        "Write the files with `hedgehog-sync plan --fabric fab-1 --output DIR`, review them (`kubectl diff -f`), "
        "then run, deleting last and on purpose:",
        "",
        "- held back: `VPC` `v`: r",
        "",
        "apply.yaml:",
        "",
        "```yaml",
        f"# hedgehog-sync plan for fabric fab-1 at Git commit None: 0 objects to apply (plan {v})",
        "```",
        "",
        "delete.yaml:",
        "",
        "```yaml",
        f"# hedgehog-sync plan for fabric fab-1: 0 objects to delete, after reviewing them (plan {v})",
        "```",
    ])


def test_the_markdown_bounds_held_lines_notes_names_and_commands() -> None:
    plan = Plan("fab-1", "c", held=[Held("K" * 50, "default", f"h{i:02d}", "r") for i in range(23)],
                notes=[f"n{i}" for i in range(12)])
    lines = plan_markdown(plan).split("\n")
    held = [line for line in lines if line.startswith("- held back")]
    assert len(held) == 20
    assert held[0] == "- held back: `" + "K" * 39 + "…` `h00`: r"
    assert held[-1].endswith("`h19`: r")
    assert "- ... and 3 more held back" in lines
    assert [line for line in lines if line.startswith("- note")] == [f"- note: n{i}" for i in range(10)]
    exactly = Plan("fab-1", "c", held=[Held("K", "default", f"h{i}", "r") for i in range(20)])
    assert not any(line.startswith("- ...") for line in plan_markdown(exactly).split("\n"))
    long_name = Plan("f" * 70, "c", held=[Held("K", "default", "n" * 81, "r" * 201, "s" * 121)])
    text = plan_markdown(long_name)
    assert f"--fabric {'f' * 62}… --output DIR" in text
    assert f"- held back: `K` `{'n' * 79}…`: {'r' * 199}… (Git: `{'s' * 119}…`)" in text
    assert "- note" not in text
    long_note = Plan("f", "c", held=[Held("K", "default", "n", "r")], notes=["x" * 301])
    assert f"- note: {'x' * 299}…" in plan_markdown(long_note).split("\n")


def test_the_markdown_cuts_long_commands_to_600_characters() -> None:
    plan = Plan("f", "c", apply=[{"k": 1}])
    plan.kubeconfig = "k" * 700
    text = plan_markdown(plan)
    assert "```sh\nkubectl --kubeconfig " + "k" * (600 - len("kubectl --kubeconfig ") - 1) + "…\n```" in text


def test_the_files_share_the_markdown_budget() -> None:
    apply_text, delete_text = apply_yaml(SMALL), delete_yaml(SMALL)
    lines = plan_markdown(SMALL, max_chars=len(apply_text) + len(delete_text)).split("\n")
    assert not any("more characters" in line for line in lines)
    budget = len(apply_text) + 10
    cut = plan_markdown(SMALL, max_chars=budget)
    left = budget - len(apply_text)
    assert cut.endswith("```yaml\n" + delete_text[:left] + f"\n# ... {len(delete_text) - left} more characters\n```")
    tiny = plan_markdown(SMALL, max_chars=20)
    shown_apply = apply_text[:20] + f"\n# ... {len(apply_text) - 20} more characters"
    left = 20 - len(shown_apply)  # negative: nothing of delete.yaml is shown
    assert ("apply.yaml:\n\n```yaml\n" + shown_apply + "\n```") in tiny
    assert tiny.endswith("delete.yaml:\n\n```yaml\n\n# ... " + f"{len(delete_text) - left} more characters\n```")


def test_the_default_markdown_budget_is_6000_characters() -> None:
    big = Plan("f", "c", apply=[{"apiVersion": "v1", "kind": "K", "metadata": {"name": f"n{i}"}, "data": "x" * 100}
                                for i in range(80)])
    text = apply_yaml(big)
    assert len(text) > 6000
    md = plan_markdown(big)
    assert f"\n# ... {len(text) - 6000} more characters\n```" in md
    assert text[:6000] in md and text[:6001] not in md


# --- second pass (issue 19): survivors of run 10 ---------------------------------------------------------

def test_no_plan_still_names_its_fabric_and_the_reports_commit() -> None:
    """A fabric without a plan (Git objects unread, or read at another commit) is still named with the
    report's commit: the UI and `hedgehog-sync plan` say which fabric and commit the reason is about."""
    rep = report(entry("missing", "vpc-a"))
    unread = plan_for(rep, None)
    assert (unread.fabric, unread.commit) == ("fab-1", COMMIT)
    moved = plan_for(rep, desired(vpc("vpc-a"), commit="f" * 40))
    assert (moved.fabric, moved.commit) == ("fab-1", COMMIT)


def test_a_plan_carries_the_reports_commit() -> None:
    """The apply file's header names the Git commit the objects come from."""
    plan = plan_for(report(entry("missing", "vpc-a")), desired(vpc("vpc-a")))
    assert (plan.fabric, plan.commit, plan.reason) == ("fab-1", COMMIT, None)
    assert apply_yaml(plan).startswith(f"# hedgehog-sync plan for fabric fab-1 at Git commit {COMMIT}: 1 objects")


def test_a_controller_generated_git_object_is_held_with_its_git_file() -> None:
    """A built-in SwitchProfile written in Git (only its labels say so) is held back, and the held line
    names the Git file and document it came from, so the operator can find and remove it."""
    built_in = {"apiVersion": WIRING_API, "kind": "SwitchProfile",
                "metadata": {"name": "vs", "labels": {"fabric.githedgehog.com/profile": "true"}}}
    plan = plan_for(report(entry("modified", "vs", kind="SwitchProfile", api=WIRING_API)),
                    desired(built_in, sources=[("profiles.yaml", 2)]))
    assert [h.as_dict() for h in plan.held] == [
        {"kind": "SwitchProfile", "namespace": "default", "name": "vs",
         "reason": "controller-generated: never in a plan", "source": "profiles.yaml#2"}]


def test_lists_nested_deeper_than_any_hedgehog_object_are_held_back() -> None:
    """Depth counts lists like maps: a value under 200 nested lists is read, under 201 the object is held
    back rather than searched without end."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))  # mutmut's trampolines add frames to every call
    try:
        deep: Any = "x"
        for _ in range(200):
            deep = [deep]
        assert _holds_secret(deep) is False  # the value at depth 200
        assert _holds_secret([deep]) is True  # at 201
    finally:
        sys.setrecursionlimit(limit)


def test_a_long_value_wraps_at_the_first_space_past_column_120() -> None:
    """PyYAML's width is 120: a line of one-letter words breaks at the first space past column 120."""
    plan = Plan("f", "c", apply=[{"d": " ".join(["w"] * 200), "a": 1}])
    body = apply_yaml(plan).split("\n", 1)[1]
    assert body == ("---\nd: " + " ".join(["w"] * 60) + "\n  " + " ".join(["w"] * 60) + "\n  "
                    + " ".join(["w"] * 60) + "\n  " + " ".join(["w"] * 20) + "\na: 1\n")


def test_an_annotation_only_live_gets_a_null_for_that_key_only() -> None:
    """An annotation set only live becomes `annotations: {key: null}` in the apply object (a merge patch
    removes that key), never a null for the whole map, which would remove the controllers' annotations."""
    rep = report(entry("modified", "vpc-a", changes=[{"op": "add", "path": "/metadata/annotations/note"}]))
    plan = plan_for(rep, desired(vpc("vpc-a")))
    assert plan.apply[0]["metadata"] == {"name": "vpc-a", "namespace": "default", "annotations": {"note": None}}


def test_the_markdown_counts_held_objects_past_20_from_the_21st() -> None:
    """Twenty-one held objects: twenty lines, then `... and 1 more held back`."""
    plan = Plan("fab-1", "c", held=[Held("K", "default", f"h{i}", "r") for i in range(21)])
    lines = plan_markdown(plan).split("\n")
    assert len([line for line in lines if line.startswith("- held back")]) == 20
    assert "- ... and 1 more held back" in lines
