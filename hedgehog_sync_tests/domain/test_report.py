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


# --- strict, bounded, robust (issue 12) --------------------------------------------------------------

from hedgehog_sync.domain.report import ReportBounds, report_json  # noqa: E402


def test_a_live_nan_is_a_string_with_a_warning_and_the_json_is_strict():
    broken = vpc("vpc-1")
    broken["spec"]["subnets"]["default"]["vlan"] = float("nan")
    r = build_report("f", desired(vpc("vpc-1")), live(broken), now=NOW, ref="main")
    (change,) = r["resources"][0]["changes"]
    assert change["actual"] == "NaN" and change["desired"] == 1001
    assert any("NaN" in w["message"] and "/spec/subnets/default/vlan" in w["message"] for w in r["warnings"])
    text = report_json(r)
    assert "NaN" not in text.replace('"NaN"', "").replace("is NaN", "").replace("'NaN'", "")
    json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(AssertionError(c)))


def test_a_ten_megabyte_annotation_makes_a_small_report():
    big = "x" * (10 * 1024 * 1024)
    want = vpc("vpc-1")
    have = vpc("vpc-1")
    have["metadata"]["annotations"] = {"note": big}
    r = build_report("f", desired(want), live(have), now=NOW, ref="main")
    text = report_json(r)
    assert len(text) < 64 * 1024
    (change,) = r["resources"][0]["changes"]
    assert change["path"] == "/metadata/annotations/note" and change["actual"].endswith("…")
    import hashlib

    raw = json.dumps(big).encode()
    assert change["actual_truncated"] == {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def test_the_resources_list_is_bounded_with_an_omitted_count_worst_first():
    bounds = ReportBounds(resources=3)
    many = [vpc(f"vpc-{i}", 1000 + i) for i in range(10)]
    r = build_report("f", desired(*many), live(*[vpc(f"vpc-{i}", 2000 + i) for i in range(10)], vpc("rogue")),
                     now=NOW, ref="main", bounds=bounds)
    assert len(r["resources"]) == 3 and r["resources_omitted"] == 8
    assert any(x["name"] == "rogue" and x["severity"] == "critical" for x in r["resources"])
    assert r["summary"]["modified"] == 10  # the counts stay whole


def test_the_byte_bound_holds_for_many_large_changes():
    wide = {f"k{i}": "v" * 3000 for i in range(60)}
    want, have = vpc("vpc-1"), vpc("vpc-1")
    have["metadata"]["labels"] = wide
    objs = [(dict(want, metadata={"name": f"v{i}"}), dict(have, metadata={"name": f"v{i}", "labels": wide}))
            for i in range(40)]
    r = build_report("f", desired(*[o[0] for o in objs]), live(*[o[1] for o in objs]), now=NOW, ref="main")
    assert len(report_json(r)) < 700 * 1024
    assert all(len(x["changes"]) <= 50 for x in r["resources"])
    assert any(x.get("changes_omitted") for x in r["resources"]) or r.get("resources_omitted")


def test_git_url_is_shown_without_credentials():
    r = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1")), now=NOW, ref="main",
                     git_url="https://user:s3cret-token-abcdef@git.example.com/netops/fabrics.git?private_token=x")
    assert r["git"]["url"] == "https://git.example.com/netops/fabrics.git"
    assert "s3cret" not in report_json(r) and "private_token" not in report_json(r)


ODD_LIVE = [
    {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": "vpc-1"},
    {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": {"name": 7}},
    {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": ["name", "x"]},
    {"apiVersion": 3, "kind": "VPC", "metadata": {"name": "x"}},
    "just a string",
    ["a", "list"],
    {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": {"name": "vpc-1"}, "spec": ["odd"]},
    {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": {"name": "vpc-1", "labels": ["a"]},
     "spec": {"subnets": ["x"]}},
]


def test_odd_live_shapes_are_errors_of_that_resource_not_exceptions():
    for odd in ODD_LIVE:
        r = build_report("f", desired(vpc("vpc-1"), vpc("vpc-2")), live(odd, vpc("vpc-2")), now=NOW, ref="main")
        report_json(r)
        if isinstance(odd, dict) and isinstance(odd.get("metadata"), dict) and odd["metadata"].get("name") == "vpc-1":
            continue  # a well-formed identity with odd values is compared (and drifted) or named in an error
        assert r["status"] == "unknown", odd
        assert any("not compared" in e["message"] for e in r["errors"]), r["errors"]


def test_live_version_of_odd_items_is_a_version_not_an_exception():
    from hedgehog_sync.domain.report import live_version

    versions = {live_version(live(odd)) for odd in ODD_LIVE}
    assert len(versions) == len(ODD_LIVE)
