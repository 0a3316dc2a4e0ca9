"""The report JSON is a fixed contract (docs/contracts.md#the-report-json): exact JSON for small fixed
inputs, every field's meaning, the bounds, the data versions, and DriftReport.from_json of malformed
and older documents. Expected values are written by hand from the contract (issue 19)."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import pickle
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest

from hedgehog_sync.domain.drift_report import (
    ABSENT, ChangeEntry, ClusterSide, DriftReport, DriftSummary, GitSide, ReportFinding, ReportFormatError,
    ResourceEntry, UncheckedDrift, ValueDigest, as_report, as_report_json, copy_json,
)
from hedgehog_sync.domain.model import DesiredState, Finding, LiveState
from hedgehog_sync.domain.normalize import IgnoreRule, NormalizeRules
from hedgehog_sync.domain.report import (
    ReadFailure, ReportBounds, build_drift_report, build_report, desired_version, failure_from, json_safe,
    live_version, report_json, report_version, rules_version, utc_iso,
)

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 28, 12, 0, 30, tzinfo=UTC)
LATER = dt.datetime(2026, 11, 28, 12, 5, 0, tzinfo=UTC)
T0 = "2026-11-28T12:00:30Z"
T1 = "2026-11-28T12:05:00Z"
VPC_API = "vpc.githedgehog.com/v1beta1"


def vpc(name: str, vlan: int = 1001, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": name, **meta},
            "spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": vlan}}}}


def attachment(name: str) -> dict[str, Any]:
    return {"apiVersion": VPC_API, "kind": "VPCAttachment", "metadata": {"name": name},
            "spec": {"connection": "c1", "subnet": "vpc-1/default"}}


def desired(*objs: dict[str, Any], findings=(), message: str = "Add VPC vpc-2", author: str = "netops",
            commit: str = "c0ffee") -> DesiredState:
    return DesiredState(commit=commit, ref="main", objects=list(objs),
                        sources=[("vpcs.yaml", i + 1) for i in range(len(objs))], findings=list(findings),
                        commit_message=message, commit_author=author)


def live(*objs: dict[str, Any], complete: bool = True, findings=(),
         server: str = "https://fab.example:6443") -> LiveState:
    return LiveState(server=server, objects=list(objs), findings=list(findings), complete=complete)


def same_json(got: Any, want: Any) -> None:
    """Equal, with the keys in the same order (the text is the contract)."""
    assert got == want
    assert json.dumps(got) == json.dumps(want)


def resource(name: str, state: str, severity: str, *, kind: str = "VPC", changes=(), source: Any = None,
             since: str = T0) -> dict[str, Any]:
    return {"apiVersion": VPC_API, "kind": kind, "namespace": "default", "name": name, "state": state,
            "severity": severity, "changes": list(changes), "source": source, "drift_since": since}


VLAN = {"op": "replace", "path": "/spec/subnets/default/vlan", "desired": 1001, "actual": 1002, "severity": "high"}
ZERO = {"in_sync": 0, "modified": 0, "missing": 0, "extra": 0}


# --- the report, exactly ---------------------------------------------------------------------------------

def test_a_drifted_report_is_exactly_the_contract_json() -> None:
    now = dt.datetime(2026, 11, 28, 13, 0, 30, 987654, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    r = build_report("fab-east", desired(vpc("vpc-0"), vpc("vpc-1"), vpc("vpc-2")),
                     live(vpc("vpc-0"), vpc("vpc-1", 1002), vpc("vpc-3"), server="https://admin:pw@fab.example:6443/?x#y"),
                     now=now, ref="main", git_url="https://tok@git.example.com/netops/fabrics.git?a=b#c")
    same_json(r, {
        "fabric": "fab-east", "status": "drifted", "generated_at": T0,
        "git": {"commit": "c0ffee", "ref": "main", "resources": 3, "message": "Add VPC vpc-2", "author": "netops",
                "url": "https://git.example.com/netops/fabrics.git"},
        "cluster": {"resources": 3, "server": "https://fab.example:6443/"},
        "summary": {"in_sync": 1, "modified": 1, "missing": 1, "extra": 1},
        "score": 0.4737,  # high 1 + critical 4 + critical 4 = 9; 9 / 19
        "severity": "critical", "drift_since": T0,
        "resources": [resource("vpc-1", "modified", "high", changes=[VLAN], source="vpcs.yaml#2"),
                      resource("vpc-2", "missing", "critical", source="vpcs.yaml#3"),
                      resource("vpc-3", "extra", "critical")],
        "errors": [], "warnings": [],
    })
    assert report_json(r) == json.dumps(r)  # compact, ASCII, these keys in this order
    typed = build_drift_report("fab-east", desired(vpc("vpc-1")), live(vpc("vpc-1", 1002)), now=NOW, ref="main")
    assert isinstance(typed, DriftReport) and typed.is_drifted and not typed.is_unknown and not typed.is_in_sync


def test_an_in_sync_report_is_exactly_the_contract_json() -> None:
    r = build_report("f", desired(vpc("vpc-1"), message="", author=""), live(vpc("vpc-1"), server=""), now=NOW,
                     ref="release")
    same_json(r, {
        "fabric": "f", "status": "in_sync", "generated_at": T0,
        "git": {"commit": "c0ffee", "ref": "release", "resources": 1, "message": "", "author": "", "url": None},
        "cluster": {"resources": 1, "server": None},
        "summary": {"in_sync": 1, "modified": 0, "missing": 0, "extra": 0},
        "score": 0.0, "severity": "none", "drift_since": None, "resources": [], "errors": [], "warnings": [],
    })
    typed = as_report(r)
    assert typed.is_in_sync and not typed.is_drifted and not typed.is_unknown and typed.differ == 0


def test_both_sides_unread_is_unknown_with_nulls_and_the_known_drift_carried() -> None:
    previous = build_report("f", desired(vpc("vpc-1"), vpc("vpc-2")), live(vpc("vpc-1", 1002), vpc("vpc-9")),
                            now=NOW, ref="main")
    r = build_report("f", None, None, now=LATER, ref="main", previous=previous,
                     git_failure=ReadFailure("git clone failed", "GitReadError"),
                     cluster_failure=ReadFailure("cluster unreachable", "ClusterUnreachableError"))
    carried = [{"apiVersion": VPC_API, "kind": "VPC", "namespace": "default", "name": name, "state": state,
                "drift_since": T0} for name, state in (("vpc-1", "modified"), ("vpc-2", "missing"),
                                                       ("vpc-9", "extra"))]
    same_json(r, {
        "fabric": "f", "status": "unknown", "generated_at": T1,
        "git": {"commit": None, "ref": "main", "resources": None, "message": None, "author": None, "url": None},
        "cluster": {"resources": None, "server": None},
        "summary": ZERO, "score": 0.0, "severity": "none", "drift_since": T0, "resources": [],
        "errors": [{"source": "git", "level": "error", "message": "git clone failed", "error_class": "GitReadError"},
                   {"source": "cluster", "level": "error", "message": "cluster unreachable",
                    "error_class": "ClusterUnreachableError"}],
        "warnings": [], "unchecked_drift": carried,
    })
    typed = as_report(r)
    assert typed.is_unknown and not typed.is_in_sync and not typed.is_drifted


def test_one_side_unread_zeroes_the_counts_and_carries_checked_and_unchecked_drift() -> None:
    previous = {
        "drift_since": "2026-11-01T00:00:00Z",
        "unchecked_drift": [
            {"apiVersion": VPC_API, "kind": "VPC", "namespace": "default", "name": "old", "state": "missing",
             "drift_since": "2026-10-01T00:00:00Z"},
            {"apiVersion": VPC_API, "kind": "VPC", "namespace": "default", "name": "both", "state": "extra",
             "drift_since": "2026-10-02T00:00:00Z", "zz": 1},
            {"apiVersion": VPC_API, "kind": "VPC", "namespace": "default", "name": "no-time", "state": "extra",
             "drift_since": None},
            "not an entry",
        ],
        "resources": [
            {"apiVersion": "vpc.githedgehog.com/v1alpha2", "kind": "VPC", "namespace": "default", "name": "both",
             "state": "extra", "drift_since": "2026-10-03T00:00:00Z", "severity": "critical", "changes": []},
        ],
    }
    r = build_report("f", desired(vpc("vpc-1"), vpc("vpc-2")), None, now=LATER, ref="main", previous=previous)
    assert (r["status"], r["summary"], r["resources"], r["score"], r["severity"]) == ("unknown", ZERO, [], 0.0, "none")
    assert r["git"]["resources"] == 2 and r["cluster"] == {"resources": None, "server": None}
    assert r["drift_since"] == "2026-11-01T00:00:00Z"  # unknown without drift of its own: the previous value
    same_json(r["unchecked_drift"], [
        {"apiVersion": VPC_API, "kind": "VPC", "namespace": "default", "name": "old", "state": "missing",
         "drift_since": "2026-10-01T00:00:00Z"},
        {"apiVersion": "vpc.githedgehog.com/v1alpha2", "kind": "VPC", "namespace": "default", "name": "both",
         "state": "extra", "drift_since": "2026-10-03T00:00:00Z"},  # the checked entry, the later one read
    ])
    assert r["errors"] == [] and r["warnings"] == []
    only_git = build_report("f", None, live(vpc("vpc-1")), now=LATER, ref="main", previous=previous,
                            bounds=ReportBounds(resources=1))
    assert only_git["summary"] == ZERO and only_git["cluster"] == {"resources": 1, "server": "https://fab.example:6443"}
    assert [u["name"] for u in only_git["unchecked_drift"]] == ["old"]  # bounded like the resources
    assert only_git["git"] == {"commit": None, "ref": "main", "resources": None, "message": None, "author": None,
                               "url": None}


def test_a_partial_git_side_reports_no_extra_and_carries_only_extra_drift() -> None:
    previous = build_report("f", desired(vpc("vpc-1"), vpc("vpc-2")), live(vpc("vpc-1", 1002), vpc("vpc-9")),
                            now=NOW, ref="main")
    broken = desired(vpc("vpc-1"), vpc("vpc-2"), findings=[
        Finding("bad.yaml", "YAML syntax error at line 2", document=3),
        Finding("odd.yaml", "a kind this version does not know", level="warning")])
    r = build_report("f", broken, live(vpc("vpc-1", 1002), vpc("vpc-9")), now=LATER, ref="main", previous=previous)
    assert r["status"] == "unknown" and r["summary"] == {"in_sync": 0, "modified": 1, "missing": 1, "extra": 0}
    assert [x["name"] for x in r["resources"]] == ["vpc-1", "vpc-2"]
    assert [x["drift_since"] for x in r["resources"]] == [T0, T0]
    assert r["drift_since"] == T0
    same_json(r["errors"], [{"source": "bad.yaml", "level": "error", "message": "YAML syntax error at line 2",
                             "document": 3}])
    same_json(r["warnings"], [{"source": "odd.yaml", "level": "warning",
                               "message": "a kind this version does not know"}])
    same_json(r["unchecked_drift"], [{"apiVersion": VPC_API, "kind": "VPC", "namespace": "default", "name": "vpc-9",
                                      "state": "extra", "drift_since": T0}])


def test_an_incomplete_cluster_read_is_unknown_and_carries_nothing() -> None:
    previous = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1", 1002)), now=NOW, ref="main")
    r = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1"), complete=False,
                                                       findings=[Finding("cluster:vpcs", "listing cut short")]),
                     now=LATER, ref="main", previous=previous)
    assert r["status"] == "unknown" and r["summary"]["in_sync"] == 1 and "unchecked_drift" not in r
    assert r["drift_since"] == T0 and r["resources"] == []
    assert r["errors"] == [{"source": "cluster:vpcs", "level": "error", "message": "listing cut short"}]
    # a complete read with a warning only is in sync; its drift_since is null whatever came before
    ok = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1"), findings=[
        Finding("cluster:switches", "kind skipped", level="warning")]), now=LATER, ref="main", previous=previous)
    assert ok["status"] == "in_sync" and ok["drift_since"] is None and ok["errors"] == []
    assert ok["warnings"] == [{"source": "cluster:switches", "level": "warning", "message": "kind skipped"}]


def test_an_object_the_comparison_cannot_use_is_an_error_and_unknown() -> None:
    r = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1"), "just a string"), now=NOW, ref="main")
    assert r["status"] == "unknown" and r["summary"]["in_sync"] == 1
    assert r["errors"] == [{"source": "cluster:?", "level": "error",
                            "message": "live an item is str, not an object; not compared"}]


def test_findings_come_in_order_failures_first_then_git_then_cluster_then_comparison() -> None:
    r = build_report("f", desired(vpc("vpc-1"), findings=[Finding("a.yaml", "git error")]),
                     live(vpc("vpc-1"), "x", findings=[Finding("cluster:vpcs", "live error"),
                                                       Finding("cluster:x", "live warning", level="warning")]),
                     now=NOW, ref="main", git_failure=ReadFailure("g", "G"), cluster_failure=ReadFailure("c", "C"))
    assert [e["source"] for e in r["errors"]] == ["git", "cluster", "a.yaml", "cluster:vpcs", "cluster:?"]
    assert [w["source"] for w in r["warnings"]] == ["cluster:x"]


def test_drift_since_per_resource_and_per_report() -> None:
    first = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1", 1002)), now=NOW, ref="main")
    # a new drift beside the old one: the old keeps its time, the new one is seen now
    second = build_report("f", desired(vpc("vpc-1"), vpc("vpc-2")), live(vpc("vpc-1", 1002)), now=LATER,
                          ref="main", previous=first)
    assert [(x["name"], x["drift_since"]) for x in second["resources"]] == [("vpc-1", T0), ("vpc-2", T1)]
    assert second["drift_since"] == T0
    # same resource, another state: a new drift
    third = build_report("f", desired(vpc("vpc-1")), live(), now=LATER, ref="main", previous=first)
    assert third["resources"][0]["state"] == "missing" and third["resources"][0]["drift_since"] == T1
    # another apiVersion of the same group is the same resource
    moved = copy.deepcopy(first)
    moved["resources"][0]["apiVersion"] = "vpc.githedgehog.com/v1alpha2"
    moved["resources"][0]["drift_since"] = "2026-01-01T00:00:00Z"
    moved["drift_since"] = None
    again = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1", 1002)), now=LATER, ref="main", previous=moved)
    assert again["resources"][0]["drift_since"] == "2026-01-01T00:00:00Z"
    assert again["drift_since"] == T1  # the report's own drift_since: previous null, so now
    # another group is another resource
    moved["resources"][0]["apiVersion"] = "wiring.githedgehog.com/v1beta1"
    other = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1", 1002)), now=LATER, ref="main", previous=moved)
    assert other["resources"][0]["drift_since"] == T1
    # a typed previous report is read the same way
    typed = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1", 1002)), now=LATER, ref="main",
                         previous=as_report(first))
    assert typed["drift_since"] == T0 and typed["resources"][0]["drift_since"] == T0
    # a previous value that is not a report dict is no drift
    assert build_report("f", None, None, now=LATER, ref="main", previous=None)["drift_since"] is None


def test_utc_iso_is_utc_whole_seconds_with_z() -> None:
    assert utc_iso(dt.datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-5)))) \
        == "2026-01-02T08:04:05Z"
    assert utc_iso(dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)) == "2026-12-31T23:59:59Z"


def test_read_failures() -> None:
    assert ReadFailure("m", "E").as_dict("git") == {"source": "git", "level": "error", "message": "m",
                                                    "error_class": "E"}
    assert failure_from(TimeoutError("took too long")) == ReadFailure("took too long", "TimeoutError")


# --- bounds ------------------------------------------------------------------------------------------------

def test_names_texts_and_paths_are_shortened_to_their_bounds() -> None:
    bounds = ReportBounds(name_chars=7, text_chars=6)
    r = build_report("f", desired(vpc("vpc-1", 1001), message="Add VPC vpc-1", author="netops-bot"),
                     live(vpc("vpc-1", 1002), vpc("vpc-long")), now=NOW, ref="main", bounds=bounds,
                     git_url="https://git.example.com/x.git")
    assert r["git"]["message"] == "Add V…" and r["git"]["author"] == "netops…"
    assert r["git"]["url"] == "https://git.example.com/x.git"  # the URL is never shortened
    assert r["cluster"]["server"] == "https:…"
    modified, extra = r["resources"]
    assert (modified["apiVersion"], modified["kind"], modified["namespace"], modified["name"], modified["source"]) \
        == ("vpc.gi…", "VPC", "default", "vpc-1", "vpcs.y…")
    assert modified["changes"][0]["path"] == "/spec/…"
    assert extra["name"] == "vpc-lo…" and extra["source"] is None
    exact = build_report("f", desired(message="123456", author="1234567"), live(server="http://a"), now=NOW,
                         ref="main", bounds=bounds)
    assert exact["git"]["message"] == "123456" and exact["git"]["author"] == "1234567"
    assert build_report("f", None, live(server="http://a"), now=NOW, ref="main", bounds=ReportBounds(name_chars=8)
                        )["cluster"]["server"] == "http://a"


def test_changes_per_resource_are_bounded_with_a_count() -> None:
    want, have = vpc("vpc-1", 1001), vpc("vpc-1", 1002, labels={"a": "1", "b": "2"})
    r = build_report("f", desired(want), live(have), now=NOW, ref="main", bounds=ReportBounds(changes_per_resource=2))
    (entry,) = r["resources"]
    assert [c["path"] for c in entry["changes"]] == ["/metadata/labels/a", "/metadata/labels/b"]
    assert entry["changes_omitted"] == 1 and entry["severity"] == "high"
    assert list(entry)[-1] == "changes_omitted"
    whole = build_report("f", desired(want), live(have), now=NOW, ref="main", bounds=ReportBounds(changes_per_resource=3))
    assert len(whole["resources"][0]["changes"]) == 3 and "changes_omitted" not in whole["resources"][0]


def _label_drift(value: Any) -> dict[str, Any]:
    return vpc("vpc-1", labels={"note": value})


def _change(bounds: ReportBounds, actual: Any, wanted: Any = "w") -> dict[str, Any]:
    r = build_report("f", desired(_label_drift(wanted)), live(_label_drift(actual)), now=NOW, ref="main",
                     bounds=bounds)
    (entry,) = r["resources"]
    (change,) = entry["changes"]
    return change


def _digest_of(text: str) -> dict[str, Any]:
    raw = text.encode()
    return {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def test_a_large_value_becomes_a_preview_with_its_size_and_sha256() -> None:
    bounds = ReportBounds(value_bytes=16, preview_chars=4)
    # 14 characters are 16 bytes serialized: kept whole
    same_json(_change(bounds, "abcdefghijklmn"), {"op": "replace", "path": "/metadata/labels/note", "desired": "w",
                                                  "actual": "abcdefghijklmn", "severity": "medium"})
    # 15 characters are 17: a preview of the serialized text, with the digest of that text (UTF-8)
    same_json(_change(bounds, "abcdefghijklmno"), {
        "op": "replace", "path": "/metadata/labels/note", "desired": "w", "actual": '"abc…', "severity": "medium",
        "actual_truncated": _digest_of('"abcdefghijklmno"')})
    # both sides, non-ASCII counted in UTF-8 bytes (not escapes)
    same_json(_change(bounds, "ééééééé", "ÿÿÿÿÿÿÿÿ"), {
        "op": "replace", "path": "/metadata/labels/note", "desired": '"ÿÿÿ…', "actual": "ééééééé", "severity": "medium",
        "desired_truncated": _digest_of('"ÿÿÿÿÿÿÿÿ"')})
    # a structured value is serialized with sorted keys
    big = {"b": 1, "a": "xxxxxxxxxxxx"}
    change = _change(bounds, big)
    assert change["actual"] == '{"a"…'
    assert change["actual_truncated"] == _digest_of('{"a": "xxxxxxxxxxxx", "b": 1}')
    assert _change(bounds, {"a": 1})["actual"] == {"a": 1}  # 8 bytes
    assert _change(bounds, 10 ** 30)["actual"] == 10 ** 30  # a number is small for sure
    assert _change(ReportBounds(value_bytes=16, preview_chars=6), "abcdefghijklmno")["actual"] == '"abcde…'


def test_an_added_or_removed_value_is_bounded_on_its_only_side() -> None:
    bounds = ReportBounds(value_bytes=8, preview_chars=2)
    r = build_report("f", desired(vpc("vpc-1", labels={"gone": "123456789"})),
                     live(vpc("vpc-1", labels={"new": "987654321"})), now=NOW, ref="main", bounds=bounds)
    added, removed = r["resources"][0]["changes"]
    same_json(added, {"op": "remove", "path": "/metadata/labels/gone", "desired": '"1…', "severity": "medium",
                      "desired_truncated": _digest_of('"123456789"')})
    same_json(removed, {"op": "add", "path": "/metadata/labels/new", "actual": '"9…', "severity": "medium",
                        "actual_truncated": _digest_of('"987654321"')})


def test_values_json_cannot_hold_become_strings_with_a_warning_each() -> None:
    r = build_report("f", desired(_label_drift("w")), live(_label_drift(float("-inf"))), now=NOW, ref="main")
    assert r["resources"][0]["changes"][0]["actual"] == "-Infinity"
    same_json(r["warnings"], [{"source": "report", "level": "warning",
                               "message": "/metadata/labels/note of VPC vpc-1 (actual) is -Infinity, which JSON "
                                          "cannot hold; shown as the string '-Infinity'"}])
    nested = build_report("f", desired(_label_drift("w")), live(_label_drift({"x": [1, float("nan")]})), now=NOW,
                          ref="main", bounds=ReportBounds(text_chars=60))
    assert nested["resources"][0]["changes"][0]["actual"] == {"x": [1, "NaN"]}
    assert [w["message"] for w in nested["warnings"]] == ["/metadata/labels/note of VPC vpc-1 (actual)/x/1 is NaN, whi…"]
    # notes are findings too: bounded in number
    two = build_report("f", desired(vpc("vpc-1", labels={"a": "w", "b": "w"})),
                       live(vpc("vpc-1", labels={"a": float("nan"), "b": float("inf")})), now=NOW, ref="main",
                       bounds=ReportBounds(findings=1))
    assert len(two["warnings"]) == 1 and "warnings_omitted" not in two
    assert two["warnings"][0]["message"].startswith("/metadata/labels/a of VPC vpc-1 (actual) is NaN")


def test_findings_are_bounded_with_counts_and_shortened() -> None:
    errs = [Finding(f"file-{i}.yaml", f"error number {i}") for i in range(3)]
    warns = [Finding("w.yaml", "warn", level="warning") for _ in range(2)]
    bounds = ReportBounds(findings=2, text_chars=8, name_chars=6)
    r = build_report("f", desired(vpc("vpc-1"), findings=errs), live(vpc("vpc-1"), findings=warns), now=NOW,
                     ref="main", bounds=bounds)
    same_json(r["errors"], [{"source": "file-…", "level": "error", "message": "error n…"},
                            {"source": "file-…", "level": "error", "message": "error n…"}])
    same_json(r["warnings"], [{"source": "w.yaml", "level": "warning", "message": "warn"}] * 2)
    assert r["errors_omitted"] == 1 and "warnings_omitted" not in r
    assert list(r)[-1] == "errors_omitted"
    more = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1"), findings=warns * 2), now=NOW, ref="main",
                        bounds=ReportBounds(findings=3))
    assert more["warnings_omitted"] == 1 and "errors_omitted" not in more and len(more["warnings"]) == 3


def test_resources_are_bounded_worst_first_and_kept_in_their_order() -> None:
    want = [attachment("a-1"), vpc("vpc-1", labels={"t": "x"}), vpc("vpc-2")]
    have = [vpc("vpc-1", labels={"t": "y"}), attachment("a-2")]
    # VPC vpc-1 modified (medium), VPC vpc-2 missing (critical), VPCAttachment a-1 missing, a-2 extra (high)
    full = build_report("f", desired(*want), live(*have), now=NOW, ref="main")
    assert [(x["name"], x["severity"]) for x in full["resources"]] == [
        ("vpc-1", "medium"), ("vpc-2", "critical"), ("a-1", "high"), ("a-2", "high")]
    assert "resources_omitted" not in full
    two = build_report("f", desired(*want), live(*have), now=NOW, ref="main", bounds=ReportBounds(resources=2))
    assert [x["name"] for x in two["resources"]] == ["vpc-2", "a-1"] and two["resources_omitted"] == 2
    assert two["summary"] == {"in_sync": 0, "modified": 1, "missing": 2, "extra": 1}  # the counts stay whole
    assert two["severity"] == "critical" and two["score"] == full["score"] == 0.3939  # 0.5 + 4 + 1 + 1 = 6.5; 6.5 / 16.5
    three = build_report("f", desired(*want), live(*have), now=NOW, ref="main", bounds=ReportBounds(resources=3))
    assert [x["name"] for x in three["resources"]] == ["vpc-2", "a-1", "a-2"] and three["resources_omitted"] == 1


def _entry_bytes(entry: dict[str, Any]) -> int:
    return len(json.dumps(entry))  # as report_json writes it: ASCII, escapes counted


def test_the_byte_bound_drops_changes_first_then_whole_entries() -> None:
    missing = [resource("vpc-a", "missing", "critical", source="vpcs.yaml#1"),
               resource("vpc-b", "missing", "critical", source="vpcs.yaml#2")]
    size = _entry_bytes(missing[0])
    assert size == _entry_bytes(missing[1])
    objs = (vpc("vpc-a"), vpc("vpc-b"))
    both = build_report("f", desired(*objs), live(), now=NOW, ref="main", bounds=ReportBounds(resources_bytes=2 * size))
    same_json(both["resources"], missing)
    one = build_report("f", desired(*objs), live(), now=NOW, ref="main",
                       bounds=ReportBounds(resources_bytes=2 * size - 1))
    same_json(one["resources"], missing[:1])
    assert one["resources_omitted"] == 1
    assert build_report("f", desired(*objs), live(), now=NOW, ref="main",
                        bounds=ReportBounds(resources_bytes=size - 1))["resources_omitted"] == 2
    # a modified entry too large keeps its identity and counts its changes instead
    bare = resource("vpc-1", "modified", "medium", source="vpcs.yaml#1", changes=[])
    bare["changes_omitted"] = 2
    labels_want, labels_have = {"a": "1", "b": "2"}, {"a": "é" * 50, "b": "3"}
    r = build_report("f", desired(vpc("vpc-1", labels=labels_want)), live(vpc("vpc-1", labels=labels_have)), now=NOW,
                     ref="main", bounds=ReportBounds(resources_bytes=_entry_bytes(bare)))
    same_json(r["resources"], [bare])
    assert "resources_omitted" not in r
    assert build_report("f", desired(vpc("vpc-1", labels=labels_want)), live(vpc("vpc-1", labels=labels_have)),
                        now=NOW, ref="main", bounds=ReportBounds(resources_bytes=_entry_bytes(bare) - 1)
                        )["resources_omitted"] == 1
    # changes already cut by count add to the count
    cut = build_report("f", desired(vpc("vpc-1", labels=labels_want)), live(vpc("vpc-1", labels=labels_have)),
                       now=NOW, ref="main", bounds=ReportBounds(changes_per_resource=1,
                                                                resources_bytes=_entry_bytes(bare)))
    assert cut["resources"][0]["changes"] == [] and cut["resources"][0]["changes_omitted"] == 2
    # the entry that fits is kept whole, the escapes of non-ASCII counted
    whole = build_report("f", desired(vpc("vpc-1", labels=labels_want)), live(vpc("vpc-1", labels=labels_have)),
                         now=NOW, ref="main")["resources"][0]
    fits = build_report("f", desired(vpc("vpc-1", labels=labels_want)), live(vpc("vpc-1", labels=labels_have)),
                        now=NOW, ref="main", bounds=ReportBounds(resources_bytes=_entry_bytes(whole)))
    same_json(fits["resources"], [whole])
    assert _entry_bytes(whole) > len(json.dumps(whole, ensure_ascii=False).encode())
    tight = build_report("f", desired(vpc("vpc-1", labels=labels_want)), live(vpc("vpc-1", labels=labels_have)),
                         now=NOW, ref="main", bounds=ReportBounds(resources_bytes=_entry_bytes(whole) - 1))
    same_json(tight["resources"], [bare])


# --- strict JSON ---------------------------------------------------------------------------------------------

def test_json_safe_makes_strict_json_data_and_notes_what_it_changed() -> None:
    notes: list[str] = []
    value = {"a": [1.5, float("inf")], 2: float("-inf"), "t": (1, "x"), "s": {"b", "a"}, "n": {10, 9},
             "f": frozenset({"z"}), "b": b"\xffok", "ba": bytearray(b"hi"), "d": dt.date(2026, 1, 2),
             "dt": dt.datetime(2026, 1, 2, 3, 4, 5), "dec": Decimal("1.50"), "ok": [True, None, "s", 3]}
    same_json(json_safe(value, notes, "/x"), {
        "a": [1.5, "Infinity"], "2": "-Infinity", "t": [1, "x"], "s": ["a", "b"], "n": [10, 9], "f": ["z"],
        "b": "\ufffdok", "ba": "hi", "d": "2026-01-02", "dt": "2026-01-02T03:04:05", "dec": "1.50",
        "ok": [True, None, "s", 3]})
    assert notes == ["/x/a/1 is Infinity, which JSON cannot hold; shown as the string 'Infinity'",
                     "/x/2 is -Infinity, which JSON cannot hold; shown as the string '-Infinity'"]
    alone: list[str] = []
    assert json_safe(float("nan"), alone) == "NaN"
    assert alone == ["a value is NaN, which JSON cannot hold; shown as the string 'NaN'"]
    assert json_safe(float("nan")) == "NaN" and json_safe([float("inf")]) == ["Infinity"]  # no notes asked for
    assert json_safe(-0.0) == 0.0 and json_safe(True) is True and json_safe(None) is None
    assert json_safe(10 ** 4000 - 1) == 10 ** 4000 - 1
    assert json_safe(10 ** 4000) == "1" + "0" * 39 + "…"
    assert json_safe(-(10 ** 4000)) == "-1" + "0" * 38 + "…"
    assert json_safe(-(10 ** 4000) + 1) == -(10 ** 4000) + 1


def test_report_json_is_strict_ascii_json() -> None:
    r = build_report("fäb", desired(vpc("vpc-1")), live(vpc("vpc-1")), now=NOW, ref="main")
    text = report_json(r)
    assert text.startswith('{"fabric": "f\\u00e4b", "status": "in_sync"')
    assert report_json(as_report(r)) == text
    assert report_json(r, indent=1).startswith('{\n "fabric": "f\\u00e4b",\n "status"')
    with pytest.raises(ValueError):
        report_json({**r, "score": float("nan")})


# --- data versions -------------------------------------------------------------------------------------------

def _sha16(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_desired_version_is_the_commit_and_its_findings() -> None:
    assert desired_version(desired(commit="abc")) == _sha16('{"commit":"abc","findings":[]}')
    with_finding = desired(commit="abc", findings=[Finding("a.yaml", "bad", document=2)])
    assert desired_version(with_finding) == _sha16(
        '{"commit":"abc","findings":[{"document":2,"level":"error","message":"bad","source":"a.yaml"}]}')
    assert desired_version(desired(vpc("x"), commit="abc", message="other")) == desired_version(desired(commit="abc"))


def test_live_version_ignores_what_the_server_writes_and_nothing_else() -> None:
    base = vpc("vpc-1")
    served = copy.deepcopy(base)
    served["status"] = {"ready": True}
    served["metadata"].update(resourceVersion="7", uid="u", managedFields=[{"m": 1}], generation=3)
    assert live_version(live(base)) == live_version(live(served))
    assert live_version(live(base, vpc("vpc-2"))) == live_version(live(vpc("vpc-2"), base))  # order does not matter
    labelled = vpc("vpc-1", labels={"a": "b"})
    assert live_version(live(labelled)) != live_version(live(base))
    assert live_version(live(base, complete=False)) != live_version(live(base))
    assert live_version(live(base, findings=[Finding("cluster:x", "m")])) != live_version(live(base))
    line = json.dumps({"apiVersion": VPC_API, "kind": "VPC", "spec": base["spec"], "metadata": {"name": "vpc-1"}},
                      sort_keys=True, separators=(",", ":"))
    objects = hashlib.sha256((line + "\n").encode()).hexdigest()
    assert live_version(live(served)) == _sha16(f'{{"complete":true,"findings":[],"objects":"{objects}"}}')
    two = sorted([line, json.dumps(["odd"])])
    objects2 = hashlib.sha256("".join(x + "\n" for x in two).encode()).hexdigest()
    assert live_version(live(served, ["odd"])) == _sha16(f'{{"complete":true,"findings":[],"objects":"{objects2}"}}')
    odd_meta = {"apiVersion": "v1", "kind": "X", "metadata": "m", "status": 1}
    odd_line = '{"apiVersion":"v1","kind":"X","metadata":"m"}'
    assert live_version(live(odd_meta)) == _sha16(
        '{"complete":true,"findings":[],"objects":"%s"}' % hashlib.sha256((odd_line + "\n").encode()).hexdigest())
    assert live_version(live(served, ["odd"])) != live_version(live(served, ["odd "]))


def test_rules_and_report_versions() -> None:
    assert rules_version(NormalizeRules()) == _sha16(json.dumps(repr(NormalizeRules())))
    assert rules_version(NormalizeRules()) != rules_version(
        NormalizeRules((IgnoreRule(group="vpc.githedgehog.com", kind="VPC", pointer="/spec/x"),)))
    r = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1", 1002)), now=NOW, ref="main")
    later = build_report("f", desired(vpc("vpc-1")), live(vpc("vpc-1", 1002)), now=LATER, ref="main", previous=r)
    assert report_version(r) == report_version(later) == report_version(as_report(later))
    assert report_version(r) == _sha16(json.dumps({k: v for k, v in r.items() if k != "generated_at"},
                                                  sort_keys=True, separators=(",", ":")))
    assert report_version({**r, "fabric": "g"}) != report_version(r)


# --- DriftReport: the typed value and its one JSON form ---------------------------------------------------------

FULL = {
    "fabric": "fab-west", "status": "drifted", "generated_at": T0,
    "git": {"commit": "9f1c", "ref": "main", "resources": 2, "message": "m", "author": "a", "url": None,
            "signed": True},
    "cluster": {"resources": 3, "server": "https://fab.example:6443", "version": "1.30"},
    "summary": {"in_sync": 1, "modified": 1, "missing": 0, "extra": 1, "ignored": 4},
    "score": 0.3, "severity": "critical", "drift_since": T0,
    "resources": [
        {"apiVersion": VPC_API, "kind": "VPC", "namespace": "default", "name": "vpc-1", "state": "modified",
         "severity": "high",
         "changes": [{"op": "replace", "path": "/spec/a", "desired": '"12…', "actual": None, "severity": "high",
                      "desired_truncated": {"bytes": 300, "sha256": "ab", "algo": "x"},
                      "actual_truncated": {"bytes": 4, "sha256": "cd"}, "why": "w"},
                     {"op": "add", "path": "/spec/b", "actual": [1, {"k": "v"}], "severity": "medium"},
                     {"op": "remove", "path": "/spec/c", "desired": {"x": 1}, "severity": "low"}],
         "source": "vpcs.yaml#1", "drift_since": T0, "changes_omitted": 3, "owner": "team-a"},
        {"apiVersion": VPC_API, "kind": "VPC", "namespace": "default", "name": "rogue", "state": "extra",
         "severity": "critical", "changes": [], "source": None, "drift_since": None},
    ],
    "errors": [{"source": "git", "level": "error", "message": "m", "error_class": "GitAuthError", "hint": "h"},
               {"source": "a.yaml", "level": "error", "message": "bad", "document": 2}],
    "warnings": [{"source": "report", "level": "warning", "message": "w"}],
    "resources_omitted": 5, "errors_omitted": 6, "warnings_omitted": 7,
    "unchecked_drift": [{"apiVersion": "v1", "kind": "K", "namespace": "n", "name": "x", "state": "missing",
                         "drift_since": T0, "note": [1]}],
    "zz_new": {"a": [1]},
}


def test_every_field_is_read_to_its_meaning() -> None:
    r = DriftReport.from_json(FULL)
    assert (r.fabric, r.status, r.generated_at, r.score, r.severity, r.drift_since) == (
        "fab-west", "drifted", T0, 0.3, "critical", T0)
    assert r.git == GitSide("9f1c", "main", 2, "m", "a", None, (("signed", True),))
    assert r.cluster == ClusterSide(3, "https://fab.example:6443", (("version", "1.30"),))
    assert r.summary == DriftSummary(1, 1, 0, 1, (("ignored", 4),))
    assert r.differ == 2 and r.summary.differ == 2
    first, rogue = r.resources
    assert (first.api_version, first.kind, first.namespace, first.name, first.state, first.severity, first.source,
            first.drift_since, first.changes_omitted, first.other) == (
        VPC_API, "VPC", "default", "vpc-1", "modified", "high", "vpcs.yaml#1", T0, 3, (("owner", "team-a"),))
    replace, add, remove = first.changes
    assert replace == ChangeEntry("replace", "/spec/a", "high", '"12…', None, ValueDigest(300, "ab", (("algo", "x"),)),
                                  ValueDigest(4, "cd"), (("why", "w"),))
    assert add == ChangeEntry("add", "/spec/b", "medium", actual=[1, {"k": "v"}])
    assert add.desired is ABSENT and add.desired_truncated is ABSENT and add.actual_truncated is ABSENT
    assert remove == ChangeEntry("remove", "/spec/c", "low", desired={"x": 1})
    assert remove.actual is ABSENT
    assert rogue.source is None and rogue.drift_since is None and rogue.changes_omitted is ABSENT
    assert rogue.changes == () and rogue.other == ()
    assert r.critical_resources == (rogue,)
    assert r.errors == (ReportFinding("git", "error", "m", error_class="GitAuthError", other=(("hint", "h"),)),
                        ReportFinding("a.yaml", "error", "bad", document=2))
    assert r.errors[1].error_class is ABSENT and r.errors[0].document is ABSENT
    assert r.warnings == (ReportFinding("report", "warning", "w"),)
    assert (r.resources_omitted, r.errors_omitted, r.warnings_omitted) == (5, 6, 7)
    assert r.unchecked_drift == (UncheckedDrift("v1", "K", "n", "x", "missing", T0, (("note", [1]),)),)
    assert r.other == (("zz_new", {"a": [1]}),)
    same_json(r.to_json(), FULL)


def test_the_typed_value_writes_the_keys_in_the_contract_order() -> None:
    shuffled = {k: FULL[k] for k in reversed(list(FULL))}
    shuffled["git"] = {k: FULL["git"][k] for k in reversed(list(FULL["git"]))}
    shuffled["summary"] = {k: FULL["summary"][k] for k in reversed(list(FULL["summary"]))}
    shuffled["cluster"] = {k: FULL["cluster"][k] for k in reversed(list(FULL["cluster"]))}
    res = FULL["resources"][0]
    shuffled["resources"] = [{k: res[k] for k in reversed(list(res))}, FULL["resources"][1]]
    shuffled["resources"][0]["changes"] = [{k: c[k] for k in reversed(list(c))} for c in res["changes"]]
    shuffled["errors"] = [{k: e[k] for k in reversed(list(e))} for e in FULL["errors"]]
    shuffled["unchecked_drift"] = [{k: u[k] for k in reversed(list(u))} for u in FULL["unchecked_drift"]]
    digest = FULL["resources"][0]["changes"][0]["desired_truncated"]
    shuffled["resources"][0]["changes"][0]["desired_truncated"] = {k: digest[k] for k in reversed(list(digest))}
    same_json(DriftReport.from_json(shuffled).to_json(), FULL)


def test_known_keys_win_over_others_of_the_same_name() -> None:
    r = DriftReport.from_json(FULL)
    clash = (("fabric", "other"), ("later", 1))
    assert GitSide("c", "r", 1, other=(("commit", "x"),)).to_json() == {"commit": "c", "ref": "r", "resources": 1}
    assert ClusterSide(1, "s", (("server", "x"),)).to_json() == {"resources": 1, "server": "s"}
    assert DriftSummary(1, 2, 3, 4, (("extra", 9),)).to_json() == {"in_sync": 1, "modified": 2, "missing": 3, "extra": 4}
    assert ValueDigest(1, "a", (("bytes", 2),)).to_json() == {"bytes": 1, "sha256": "a"}
    assert ReportFinding("s", "l", "m", other=(("level", "x"),)).to_json() == {"source": "s", "level": "l", "message": "m"}
    assert UncheckedDrift(1, 2, 3, 4, 5, 6, (("kind", 0),)).to_json() == {
        "apiVersion": 1, "kind": 2, "namespace": 3, "name": 4, "state": 5, "drift_since": 6}
    assert ChangeEntry("add", "/p", "low", other=(("op", "x"),)).to_json() == {"op": "add", "path": "/p", "severity": "low"}
    assert ResourceEntry("v", "k", "n", "x", "missing", "high", other=(("kind", "y"),)).to_json() == {
        "apiVersion": "v", "kind": "k", "namespace": "n", "name": "x", "state": "missing", "severity": "high",
        "changes": []}
    import dataclasses
    written = dataclasses.replace(r, other=clash).to_json()
    assert written["fabric"] == "fab-west" and list(written)[-1] == "later"


def test_optional_keys_are_absent_exactly_when_they_were() -> None:
    old = {k: v for k, v in FULL.items() if k not in (
        "warnings", "resources_omitted", "errors_omitted", "warnings_omitted", "unchecked_drift", "zz_new")}
    old["git"] = {"commit": None, "ref": None, "resources": None}
    old["resources"] = [{k: v for k, v in FULL["resources"][1].items() if k not in ("source", "drift_since")}]
    old["resources"][0].pop("changes")  # a resource without changes reads as none
    r = DriftReport.from_json(old)
    assert r.warnings is ABSENT and r.resources_omitted is ABSENT and r.errors_omitted is ABSENT
    assert r.warnings_omitted is ABSENT and r.unchecked_drift is ABSENT and r.other == ()
    assert r.git.message is ABSENT and r.git.author is ABSENT and r.git.url is ABSENT and r.git.other == ()
    assert r.resources[0].source is ABSENT and r.resources[0].drift_since is ABSENT
    written = r.to_json()
    assert "warnings" not in written and "unchecked_drift" not in written and "resources_omitted" not in written
    assert written["git"] == {"commit": None, "ref": None, "resources": None}
    same_json(written["resources"], [{"apiVersion": VPC_API, "kind": "VPC", "namespace": "default", "name": "rogue",
                                      "state": "extra", "severity": "critical", "changes": []}])
    empty = DriftReport.from_json({**old, "warnings": [], "unchecked_drift": []}).to_json()
    assert empty["warnings"] == [] and empty["unchecked_drift"] == []


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


def _at(path: tuple, value: Any) -> dict[str, Any]:
    """FULL with the part at path replaced (or removed when value is DROP)."""
    data = copy.deepcopy(FULL)
    node = data
    for step in path[:-1]:
        node = node[step]
    if value is DROP:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


DROP = object()
MALFORMED = [
    ("a list", [], "report must be an object, not list"),
    ("text", "{}", "report must be an object, not str"),
    *((f"no {k}", _without(FULL, k), f"report lacks '{k}'")
      for k in ("fabric", "status", "generated_at", "git", "cluster", "summary", "score", "severity", "drift_since",
                "resources", "errors")),
    ("git a list", _at(("git",), []), "git must be an object, not list"),
    ("git no commit", _at(("git", "commit"), DROP), "git lacks 'commit'"),
    ("git no ref", _at(("git", "ref"), DROP), "git lacks 'ref'"),
    ("git no resources", _at(("git", "resources"), DROP), "git lacks 'resources'"),
    ("cluster null", _at(("cluster",), None), "cluster must be an object, not NoneType"),
    ("cluster no server", _at(("cluster", "server"), DROP), "cluster lacks 'server'"),
    ("cluster no resources", _at(("cluster", "resources"), DROP), "cluster lacks 'resources'"),
    ("summary a number", _at(("summary",), 3), "summary must be an object, not int"),
    *((f"summary no {k}", _at(("summary", k), DROP), f"summary lacks '{k}'")
      for k in ("in_sync", "modified", "missing", "extra")),
    ("resources an object", _at(("resources",), {}), "resources must be a list, not dict"),
    ("resource a string", _at(("resources", 1), "x"), "resources[1] must be an object, not str"),
    *((f"resource no {k}", _at(("resources", 1, k), DROP), f"resources[1] lacks '{k}'")
      for k in ("apiVersion", "kind", "namespace", "name", "state", "severity")),
    ("changes an object", _at(("resources", 0, "changes"), {}), "resources[0].changes must be a list, not dict"),
    ("change a list", _at(("resources", 0, "changes", 2), []), "resources[0].changes[2] must be an object, not list"),
    *((f"change no {k}", _at(("resources", 0, "changes", 1, k), DROP), f"resources[0].changes[1] lacks '{k}'")
      for k in ("op", "path", "severity")),
    ("digest a string", _at(("resources", 0, "changes", 0, "actual_truncated"), "x"),
     "resources[0].changes[0].actual_truncated must be an object, not str"),
    ("digest no bytes", _at(("resources", 0, "changes", 0, "desired_truncated", "bytes"), DROP),
     "resources[0].changes[0].desired_truncated lacks 'bytes'"),
    ("digest no sha256", _at(("resources", 0, "changes", 0, "actual_truncated", "sha256"), DROP),
     "resources[0].changes[0].actual_truncated lacks 'sha256'"),
    ("errors an object", _at(("errors",), {}), "errors must be a list, not dict"),
    ("error a string", _at(("errors", 1), "x"), "errors[1] must be an object, not str"),
    *((f"error no {k}", _at(("errors", 1, k), DROP), f"errors[1] lacks '{k}'") for k in ("source", "level", "message")),
    ("warnings null", _at(("warnings",), None), "warnings must be a list, not NoneType"),
    ("warning no level", _at(("warnings", 0, "level"), DROP), "warnings[0] lacks 'level'"),
    ("unchecked an object", _at(("unchecked_drift",), {}), "unchecked_drift must be a list, not dict"),
    ("unchecked a number", _at(("unchecked_drift", 0), 1), "unchecked_drift[0] must be an object, not int"),
    *((f"unchecked no {k}", _at(("unchecked_drift", 0, k), DROP), f"unchecked_drift[0] lacks '{k}'")
      for k in ("apiVersion", "kind", "namespace", "name", "state", "drift_since")),
]


@pytest.mark.parametrize("data, says", [(d, s) for _, d, s in MALFORMED], ids=[n for n, _, _ in MALFORMED])
def test_what_is_not_a_report_is_refused_with_where_and_why(data: Any, says: str) -> None:
    with pytest.raises(ReportFormatError) as refused:
        DriftReport.from_json(data)
    assert str(refused.value) == says
    assert isinstance(refused.value, ValueError)


def test_each_part_read_alone_names_itself() -> None:
    cases = [
        (ValueDigest.from_json, {"bytes": 1}, "value digest lacks 'sha256'"),
        (ValueDigest.from_json, [], "value digest must be an object, not list"),
        (ChangeEntry.from_json, {"op": "add"}, "change lacks 'path'"),
        (ChangeEntry.from_json, {"op": "add", "path": "/a", "severity": "low", "desired_truncated": {}},
         "change.desired_truncated lacks 'bytes'"),
        (ResourceEntry.from_json, {"apiVersion": "v1"}, "resource lacks 'kind'"),
        (ResourceEntry.from_json, {"changes": [1]}, "resource.changes[0] must be an object, not int"),
        (UncheckedDrift.from_json, {}, "unchecked drift lacks 'apiVersion'"),
        (ReportFinding.from_json, {"source": "s"}, "finding lacks 'level'"),
        (GitSide.from_json, {}, "git lacks 'commit'"),
        (ClusterSide.from_json, {"resources": 1}, "cluster lacks 'server'"),
        (DriftSummary.from_json, {"in_sync": 1}, "summary lacks 'modified'"),
    ]
    for read, data, says in cases:
        with pytest.raises(ReportFormatError) as refused:
            read(data)
        assert str(refused.value) == says


def test_a_mapping_that_is_not_a_dict_is_read_too() -> None:
    proxy = MappingProxyType(copy.deepcopy(FULL))
    assert as_report_json(proxy) == FULL and type(as_report_json(proxy)) is dict
    assert DriftReport.from_json(proxy).to_json() == FULL
    assert as_report_json(None) is None
    data = copy.deepcopy(FULL)
    assert as_report_json(data) is data  # a dict is taken as it is
    typed = as_report(data)
    assert as_report(typed) is typed and as_report_json(typed) == FULL


def test_the_value_shares_nothing_with_what_it_was_read_from_or_written_to() -> None:
    data = copy.deepcopy(FULL)
    r = DriftReport.from_json(data)
    first = r.to_json()
    for node in (data, first):
        node["git"]["signed"] = False
        node["cluster"]["version"] = "x"
        node["summary"]["ignored"] = 0
        node["zz_new"]["a"].append(2)
        res = node["resources"][0]
        res["changes"][1]["actual"][1]["k"] = "changed"
        res["changes"][2]["desired"]["x"] = 2
        res["changes"][0]["desired_truncated"]["algo"] = "y"
        res["changes"][0]["why"] = "changed"
        res["owner"] = "changed"
        node["errors"][0]["hint"] = "changed"
        node["unchecked_drift"][0]["note"].append(2)
    same_json(r.to_json(), FULL)
    same_json(DriftReport(
        "f", "in_sync", T0, GitSide(None, None, None), ClusterSide(None, None), DriftSummary(0, 0, 0, 0), 0.0,
        "none", None, unchecked_drift=(UncheckedDrift([1], 2, 3, 4, 5, 6),)).to_json(), {
        "fabric": "f", "status": "in_sync", "generated_at": T0,
        "git": {"commit": None, "ref": None, "resources": None}, "cluster": {"resources": None, "server": None},
        "summary": ZERO, "score": 0.0, "severity": "none", "drift_since": None, "resources": [], "errors": [],
        "warnings": [], "unchecked_drift": [{"apiVersion": [1], "kind": 2, "namespace": 3, "name": 4, "state": 5,
                                             "drift_since": 6}]})
    shared = [1]
    written = UncheckedDrift(shared, 2, 3, 4, 5, 6).to_json()
    written["apiVersion"].append(2)
    assert shared == [1]
    desired_value = {"a": [1]}
    change = ChangeEntry("replace", "/p", "low", desired_value, desired_value).to_json()
    change["desired"]["a"].append(2)
    change["actual"]["b"] = 1
    assert desired_value == {"a": [1]}
    extra = (("k", {"a": [1]}),)
    out = GitSide("c", "r", 1, other=extra).to_json()
    out["k"]["a"].append(2)
    assert extra == (("k", {"a": [1]}),)


def test_copy_json_is_deep_for_dicts_and_lists() -> None:
    src = {"a": [{"b": [1]}], "c": "s"}
    out = copy_json(src)
    assert out == src and out is not src and out["a"] is not src["a"] and out["a"][0]["b"] is not src["a"][0]["b"]
    assert copy_json(5) == 5 and copy_json(None) is None


def test_absent_is_one_falsy_marker_that_survives_pickling_and_copies() -> None:
    from hedgehog_sync.domain import drift_report

    assert repr(ABSENT) == "ABSENT" and not ABSENT and bool(ABSENT) is False
    assert type(ABSENT)() is ABSENT
    assert pickle.loads(pickle.dumps(ABSENT)) is ABSENT
    assert copy.deepcopy(ABSENT) is ABSENT and copy.copy(ABSENT) is ABSENT
    typed = DriftReport.from_json(_without(FULL, "warnings"))
    again = pickle.loads(pickle.dumps(typed))
    assert again == typed and again.warnings is ABSENT and again.to_json() == typed.to_json()
    assert drift_report.ABSENT is ABSENT


# --- more of the same contract (survivors of the first screen) -------------------------------------------------

def test_utc_iso_does_not_depend_on_the_local_zone() -> None:
    import os
    import time

    before = os.environ.get("TZ")
    os.environ["TZ"] = "IST-5:30"  # POSIX form: no zone database needed
    time.tzset()
    try:
        assert utc_iso(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_the_users_rules_decide_what_is_drift() -> None:
    rules = NormalizeRules((IgnoreRule(kind="VPC", pointer="/spec/subnets/default/vlan"),))
    args = ("f", desired(vpc("vpc-1")), live(vpc("vpc-1", 1002)))
    assert build_report(*args, now=NOW, ref="main", rules=rules)["status"] == "in_sync"
    assert build_drift_report(*args, now=NOW, ref="main", rules=rules).is_in_sync
    assert build_report(*args, now=NOW, ref="main")["status"] == "drifted"


def test_a_git_warning_alone_leaves_the_git_side_complete() -> None:
    r = build_report("f", desired(vpc("vpc-1"), findings=[Finding("odd.yaml", "kind skipped", level="warning")]),
                     live(vpc("vpc-1"), vpc("vpc-9")), now=NOW, ref="main")
    assert r["status"] == "drifted" and r["summary"]["extra"] == 1 and "unchecked_drift" not in r
    assert r["warnings"] == [{"source": "odd.yaml", "level": "warning", "message": "kind skipped"}]
    assert r["errors"] == []


def test_a_value_of_control_characters_or_emoji_is_bounded_by_its_serialized_bytes() -> None:
    # Regression: a string was taken as small when 4 bytes a character fit, but a control character
    # serializes to 6 bytes (\u00XX) and the quotes add 2: 1,024 NULs made a 6 KB value under a 4 KB bound.
    nuls = "\x00" * 3  # '"\u0000\u0000\u0000"': 20 bytes
    assert _change(ReportBounds(value_bytes=20, preview_chars=4), nuls)["actual"] == nuls
    same_json(_change(ReportBounds(value_bytes=19, preview_chars=4), nuls), {
        "op": "replace", "path": "/metadata/labels/note", "desired": "w", "actual": '"\\u0…', "severity": "medium",
        "actual_truncated": _digest_of('"\\u0000\\u0000\\u0000"')})
    assert _change(ReportBounds(value_bytes=17, preview_chars=4), nuls)["actual_truncated"]["bytes"] == 20
    emoji = "\U0001F600" * 4  # 16 bytes of UTF-8, 18 with the quotes
    assert _change(ReportBounds(value_bytes=18), emoji)["actual"] == emoji
    assert _change(ReportBounds(value_bytes=17, preview_chars=2), emoji)["actual_truncated"] == _digest_of(f'"{emoji}"')
    default = _change(ReportBounds(), "\x00" * 1024)
    assert default["actual_truncated"]["bytes"] == 6 * 1024 + 2 and len(default["actual"]) == 257


def test_the_byte_bound_counts_every_entry_kept_and_skips_one_too_large_for_smaller_ones() -> None:
    objs = (vpc("vpc-a"), vpc("vpc-b"), vpc("vpc-c"))
    size = _entry_bytes(resource("vpc-a", "missing", "critical", source="vpcs.yaml#1"))
    r = build_report("f", desired(*objs), live(), now=NOW, ref="main", bounds=ReportBounds(resources_bytes=2 * size))
    assert [x["name"] for x in r["resources"]] == ["vpc-a", "vpc-b"] and r["resources_omitted"] == 1
    # the worst entry (a critical VPC with a long name) does not fit; the smaller high one after it does
    big = vpc("vpc-with-a-much-longer-name-than-the-other")
    small = resource("a", "missing", "high", kind="VPCAttachment", source="vpcs.yaml#2")
    r = build_report("f", desired(big, attachment("a")), live(), now=NOW, ref="main",
                     bounds=ReportBounds(resources_bytes=_entry_bytes(small)))
    same_json(r["resources"], [small])
    assert r["resources_omitted"] == 1


def test_a_core_kind_keeps_its_drift_since_across_versions() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ops"}, "data": {}}
    previous = {"resources": [{"apiVersion": "v1beta1", "kind": "ConfigMap", "namespace": "ops", "name": "cm",
                               "state": "extra", "drift_since": "2026-01-01T00:00:00Z"}]}
    r = build_report("f", desired(), live(cm), now=NOW, ref="main", previous=previous)
    same_json(r["resources"], [{"apiVersion": "v1", "kind": "ConfigMap", "namespace": "ops", "name": "cm",
                                "state": "extra", "severity": "high", "changes": [], "source": None,
                                "drift_since": "2026-01-01T00:00:00Z"}])


def test_drift_since_is_kept_per_kind_namespace_and_name() -> None:
    def seen(kind: str, ns: str, name: str, day: int) -> dict[str, Any]:
        return {"apiVersion": VPC_API, "kind": kind, "namespace": ns, "name": name, "state": "missing",
                "drift_since": f"2026-01-0{day}T00:00:00Z"}

    previous = {"resources": [seen("VPC", "default", "a", 1), seen("VPC", "default", "b", 2),
                              seen("VPC", "other", "a", 3), seen("VPCAttachment", "default", "a", 4)]}
    r = build_report("f", desired(vpc("a"), vpc("b"), vpc("a", namespace="other"), attachment("a")), live(),
                     now=NOW, ref="main", previous=previous)
    assert [(x["kind"], x["namespace"], x["name"], x["drift_since"]) for x in r["resources"]] == [
        ("VPC", "default", "a", "2026-01-01T00:00:00Z"), ("VPC", "default", "b", "2026-01-02T00:00:00Z"),
        ("VPC", "other", "a", "2026-01-03T00:00:00Z"), ("VPCAttachment", "default", "a", "2026-01-04T00:00:00Z")]


def _live_objects_version(*lines: str) -> str:
    objects = hashlib.sha256("".join(line + "\n" for line in sorted(lines)).encode()).hexdigest()
    return _sha16(f'{{"complete":true,"findings":[],"objects":"{objects}"}}')


def test_a_malformed_live_item_has_one_canonical_fingerprint() -> None:
    """An item the API server served that is not an object (a list holding a map, a value JSON cannot
    hold) still gets a fingerprint, written with sorted keys, no spaces and values JSON cannot hold as
    their text: the live version must not depend on the map's order, and must not fail the read."""
    item = ["x", {"b": 1, "a": dt.date(2026, 11, 28)}]
    assert live_version(live(item)) == _live_objects_version('["x",{"a":"2026-11-28","b":1}]')
    reordered = ["x", {"a": dt.date(2026, 11, 28), "b": 1}]
    assert live_version(live(reordered)) == live_version(live(item))


def test_a_live_object_with_a_value_json_cannot_hold_gets_a_version() -> None:
    """A live value JSON cannot hold (a date a YAML-reading client made of a timestamp) is fingerprinted
    as its text rather than failing the whole fabric's data version."""
    obj = {"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": "vpc-1"},
           "spec": {"since": dt.date(2026, 11, 28)}}
    assert live_version(live(obj)) == _live_objects_version(
        '{"apiVersion":"%s","kind":"VPC","metadata":{"name":"vpc-1"},"spec":{"since":"2026-11-28"}}' % VPC_API)


def test_a_report_holding_a_value_json_cannot_hold_gets_a_version() -> None:
    """A report read back by a loader that makes Decimals of numbers still gets its version (the value
    as its text), rather than failing the materialization it decides."""
    assert report_version({"generated_at": T0, "score": Decimal("0.5")}) == _sha16('{"score":"0.5"}')
    assert report_version({"score": Decimal("0.5")}) != report_version({"score": Decimal("0.50")})
