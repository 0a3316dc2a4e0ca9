import json
from datetime import datetime, timedelta, timezone

from hedgehog_sync.domain.model import DesiredState, Finding, LiveState
from hedgehog_sync.domain.report import ReadFailure, build_report, report_version

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def vpc(name, vlan=1001):
    return {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": {"name": name},
            "spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": vlan}}}}


def desired(*objs, findings=()):
    return DesiredState(commit="9f1c" * 10, ref="main", objects=list(objs),
                        sources=[("vpcs.yaml", i + 1) for i in range(len(objs))], findings=list(findings))


def live(*objs, complete=True):
    return LiveState(server="https://fab.example:6443", objects=list(objs), complete=complete)


def test_contract_keys_and_values():
    r = build_report("fab-east", desired(vpc("vpc-1"), vpc("vpc-2")), live(vpc("vpc-1", 1002), vpc("vpc-3")),
                     now=NOW, ref="main")
    assert list(r)[:12] == ["fabric", "status", "generated_at", "git", "cluster", "summary", "score",
                            "severity", "drift_since", "resources", "errors", "warnings"][:12]
    assert r["status"] == "drifted" and r["generated_at"] == "2026-11-28T12:00:00Z"
    assert r["git"]["commit"] == "9f1c" * 10 and r["git"]["resources"] == 2
    assert r["cluster"] == {"resources": 2, "server": "https://fab.example:6443"}
    assert r["summary"] == {"in_sync": 0, "modified": 1, "missing": 1, "extra": 1}
    assert r["severity"] == "critical" and r["drift_since"] == "2026-11-28T12:00:00Z"
    modified = next(x for x in r["resources"] if x["state"] == "modified")
    assert modified["changes"] == [{"op": "replace", "path": "/spec/subnets/default/vlan",
                                    "desired": 1001, "actual": 1002, "severity": "high"}]
    json.dumps(r)  # serializable as is


def test_in_sync():
    r = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1")), now=NOW, ref="main")
    assert (r["status"], r["score"], r["severity"], r["drift_since"], r["resources"]) == ("in_sync", 0.0, "none", None, [])


def test_unreadable_or_partial_side_is_unknown_never_in_sync():
    fail = ReadFailure("cluster https://fab unreachable", "ClusterUnreachableError")
    r = build_report("f", desired(vpc("vpc-1")), None, now=NOW, ref="main", cluster_failure=fail)
    assert r["status"] == "unknown" and r["resources"] == []
    assert r["errors"][0] == {"source": "cluster", "level": "error", "message": "cluster https://fab unreachable",
                              "error_class": "ClusterUnreachableError"}
    assert build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1"), complete=False), now=NOW,
                        ref="main")["status"] == "unknown"
    broken = desired(vpc("vpc-1"), findings=[Finding("bad.yaml", "YAML syntax error at line 2")])
    r = build_report("f", broken, live(vpc("vpc-1"), vpc("from-bad-file")), now=NOW, ref="main")
    assert r["status"] == "unknown" and r["summary"]["extra"] == 0
    assert r["errors"][0]["source"] == "bad.yaml"


def test_drift_since_is_carried_while_the_drift_persists():
    first = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1", 2)), now=NOW, ref="main")
    later = NOW + timedelta(minutes=5)
    second = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1", 2)), now=later, ref="main", previous=first)
    assert second["drift_since"] == first["drift_since"] == "2026-11-28T12:00:00Z"
    assert second["resources"][0]["drift_since"] == "2026-11-28T12:00:00Z"
    assert report_version(first) == report_version(second)  # only generated_at moved: nothing to record
    healed = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1")), now=later, ref="main", previous=second)
    assert healed["drift_since"] is None
