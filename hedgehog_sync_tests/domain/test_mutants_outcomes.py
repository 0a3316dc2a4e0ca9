"""The plain-data verdicts and rows behind the Dagster checks, the fleet summary and the exporter, pinned
exactly (issue 19): check_outcomes, fleet_rows, metrics, fabric_partitions, limits and vocabulary
(docs/contracts.md#checks, #fleet-rows; docs/notifications.md's metrics). In-process, no Dagster."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest

from hedgehog_sync.domain import limits, vocabulary
from hedgehog_sync.domain.check_outcomes import (
    ERROR, FLEET_IN_SYNC, FRESH_CYCLES, IN_SYNC_CHECK, MAX_CAUSE, MAX_NAMED, NO_CRITICAL_DRIFT, REPORT_FRESH, WARN,
    CheckOutcome, critical_drift_outcome, fleet_outcome, freshness_outcome, in_sync_outcome, unknown_cause,
)
from hedgehog_sync.domain.fabric_partitions import partition_changes
from hedgehog_sync.domain.fleet_rows import VOLATILE, fleet_row, fleet_view, merge_rows, pending_row, summary_hash
from hedgehog_sync.domain.health_record import FabricHealthRecord
from hedgehog_sync.domain.inventory import FabricConfig, Inventory, InventoryProblem
from hedgehog_sync.domain.metrics import WINDOW, RunStats, WindowRates, roll_up, window_rates
from hedgehog_sync.domain.priority import Schedule

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)


def report(status: str = "drifted", severity: str = "high", **extra: Any) -> dict[str, Any]:
    base = {"fabric": "fab-a", "status": status, "severity": severity, "score": 0.25,
            "summary": {"modified": 2, "missing": 1, "extra": 3, "in_sync": 10}, "resources": [], "errors": []}
    base.update(extra)
    return base


META = {"fabric": "fab-a", "status": "drifted", "severity": "high", "score": 0.25, "modified": 2, "missing": 1,
        "extra": 3}


# --- check_outcomes --------------------------------------------------------------------------------------

def test_the_check_names_and_severities() -> None:
    assert (IN_SYNC_CHECK, NO_CRITICAL_DRIFT, REPORT_FRESH, FLEET_IN_SYNC) == (
        "in_sync", "no_critical_drift", "report_fresh", "fleet_in_sync")
    assert (ERROR, WARN, FRESH_CYCLES, MAX_NAMED, MAX_CAUSE) == ("ERROR", "WARN", 3, 20, 300)


@pytest.mark.parametrize("errors, cause", [
    ([], "a side was read only partly"),
    (None, "a side was read only partly"),
    ([{"source": "git", "message": "clone failed"}], "Git: clone failed"),
    ([{"source": "cluster", "message": "HTTP 401"}], "the cluster: HTTP 401"),
    ([{"source": "netbox", "message": "m"}], "netbox: m"),
    ([{"source": None, "message": "m"}], "a source: m"),
    ([{"message": "m"}], "a source: m"),
    ([{"source": "git", "error_class": "GitTimeout"}], "Git: GitTimeout"),
    ([{"source": "git", "message": "", "error_class": "GitTimeout"}], "Git: GitTimeout"),
    ([{"source": "git"}], "Git: unreadable"),
    ([{"source": "git", "message": "a"}, {"source": "cluster", "message": "b"}], "Git: a (and 1 more errors)"),
    ([{"source": "git", "message": "a"}] * 3, "Git: a (and 2 more errors)"),
    ([{"source": "git", "message": "x" * 295}], "Git: " + "x" * 295),  # exactly 300 characters
    ([{"source": "git", "message": "x" * 296}] * 2, "Git: " + "x" * 295 + "…" + " (and 1 more errors)"),
])
def test_why_a_fabric_is_unknown(errors, cause) -> None:
    assert unknown_cause({"errors": errors}) == cause


def test_the_cause_is_read_from_any_mapping() -> None:
    assert unknown_cause(MappingProxyType({"errors": [{"source": "git", "message": "m"}]})) == "Git: m"


def test_in_sync_passes_with_warn_and_its_metadata() -> None:
    outcome = in_sync_outcome(report("in_sync", "none", score=0, summary={"in_sync": 4}))
    assert outcome == CheckOutcome(True, "fab-a: in sync with Git", WARN,
                                   {"fabric": "fab-a", "status": "in_sync", "severity": "none", "score": 0.0,
                                    "modified": 0, "missing": 0, "extra": 0})
    assert isinstance(outcome.metadata["score"], float)


@pytest.mark.parametrize("severity, check_severity", [("high", WARN), ("low", WARN), ("critical", ERROR)])
def test_drift_fails_in_sync_warn_or_error_when_critical(severity, check_severity) -> None:
    outcome = in_sync_outcome(report(severity=severity))
    assert outcome == CheckOutcome(False, f"fab-a: drifted, worst {severity}: 6 resources differ "
                                          "(2 modified, 1 missing, 3 extra)", check_severity,
                                   {**META, "severity": severity})


def test_an_unknown_fabric_fails_in_sync_with_error_and_the_cause() -> None:
    rep = report("unknown", "none", summary=None, errors=[{"source": "cluster", "message": "refused"}])
    outcome = in_sync_outcome(rep)
    assert outcome == CheckOutcome(
        False, "fab-a: status unknown: the cluster/Git could not be read: the cluster: refused", ERROR,
        {"fabric": "fab-a", "status": "unknown", "severity": "none", "score": 0.25, "modified": 0, "missing": 0,
         "extra": 0})


def resource(name: str, severity: str, state: str = "missing", kind: str = "VPC") -> dict[str, Any]:
    return {"kind": kind, "name": name, "state": state, "severity": severity}


def test_critical_drift_names_the_critical_resources() -> None:
    rep = report("drifted", "critical", resources=[resource("a", "critical"), resource("b", "high"),
                                                   resource("c", "critical", "extra", "Switch")])
    assert critical_drift_outcome(rep) == CheckOutcome(
        False, "fab-a: 2 critical: VPC a (missing), Switch c (extra)", ERROR,
        {**META, "severity": "critical", "critical_resources": 2, "critical": "VPC a (missing), Switch c (extra)"})


def test_critical_drift_names_at_most_twenty() -> None:
    rep = report("drifted", "critical", resources=[resource(f"v{i:02d}", "critical") for i in range(23)])
    outcome = critical_drift_outcome(rep)
    named = ", ".join(f"VPC v{i:02d} (missing)" for i in range(20))
    assert outcome.description == f"fab-a: 23 critical: {named} and 3 more"
    assert outcome.metadata["critical"] == named and outcome.metadata["critical_resources"] == 23
    exactly = report("drifted", "critical", resources=[resource(f"v{i:02d}", "critical") for i in range(20)])
    assert critical_drift_outcome(exactly).description == f"fab-a: 20 critical: {named}"


def test_no_critical_drift_passes_and_unknown_fails() -> None:
    assert critical_drift_outcome(report(resources=[resource("b", "high")])) == CheckOutcome(
        True, "fab-a: no critical drift, worst high", ERROR, {**META, "critical_resources": 0})
    unknown = report("unknown", "none", errors=[])
    assert critical_drift_outcome(unknown) == CheckOutcome(
        False, "fab-a: status unknown: the cluster/Git could not be read: a side was read only partly", ERROR,
        {**META, "status": "unknown", "severity": "none", "critical_resources": 0})


def row(fabric: str, status: str, severity: str = "none", **extra: Any) -> dict[str, Any]:
    return {"fabric": fabric, "status": status, "severity": severity, **extra}


def test_the_fleet_outcome_names_the_worst_first() -> None:
    rows = [row("f-in", "in_sync"), row("f-c2", "drifted", "critical"), row("f-u", "unknown"),
            row("f-d", "drifted", "high"), row("f-c1", "drifted", "critical"), row("f-p", "pending"),
            row("f-off", "unknown", fresh=None), row("f-in2", "in_sync", fresh=False)]
    assert fleet_outcome(iter(rows)) == CheckOutcome(
        False, "6 fabrics: 1 unknown (f-u); 2 critically drifted (f-c1, f-c2); 1 drifted (f-d); 2 in sync", ERROR,
        {"fabrics": 6, "in_sync": 2, "drifted": 3, "critical": 2, "unknown": 1})


@pytest.mark.parametrize("rows, outcome", [
    ([row("a", "in_sync"), row("b", "in_sync", fresh=True)],
     CheckOutcome(True, "2 fabrics: 2 in sync", WARN, {"fabrics": 2, "in_sync": 2, "drifted": 0, "critical": 0,
                                                        "unknown": 0})),
    ([], CheckOutcome(True, "0 fabrics: 0 in sync", WARN, {"fabrics": 0, "in_sync": 0, "drifted": 0, "critical": 0,
                                                            "unknown": 0})),
    ([row("b", "drifted", "low"), row("a", "drifted", "medium"), row("c", "in_sync")],
     CheckOutcome(False, "3 fabrics: 2 drifted (a, b); 1 in sync", WARN,
                  {"fabrics": 3, "in_sync": 1, "drifted": 2, "critical": 0, "unknown": 0})),
    ([row("b", "drifted", "critical")],
     CheckOutcome(False, "1 fabrics: 1 critically drifted (b); 0 in sync", ERROR,
                  {"fabrics": 1, "in_sync": 0, "drifted": 1, "critical": 1, "unknown": 0})),
    ([row("u", "unknown"), row("d", "drifted")],
     CheckOutcome(False, "2 fabrics: 1 unknown (u); 1 drifted (d); 0 in sync", ERROR,
                  {"fabrics": 2, "in_sync": 0, "drifted": 1, "critical": 0, "unknown": 1})),
    ([row("p", "pending"), row("off", "drifted", "critical", fresh=None)],
     CheckOutcome(True, "0 fabrics: 0 in sync", WARN, {"fabrics": 0, "in_sync": 0, "drifted": 0, "critical": 0,
                                                        "unknown": 0})),
])
def test_the_fleet_outcome(rows, outcome) -> None:
    assert fleet_outcome(rows) == outcome


def test_the_fleet_outcome_names_at_most_twenty_of_each() -> None:
    rows = [row(f"u{i:02d}", "unknown") for i in range(21)] + [row(f"d{i:02d}", "drifted") for i in range(20)]
    text = fleet_outcome(rows).description
    unknown = ", ".join(f"u{i:02d}" for i in range(20))
    drifted = ", ".join(f"d{i:02d}" for i in range(20))
    assert text == f"41 fabrics: 21 unknown ({unknown} and 1 more); 20 drifted ({drifted}); 0 in sync"


def test_a_verdict_as_the_record_freshness_run_takes_it() -> None:
    outcome = CheckOutcome(False, "d", WARN, {"k": 1})
    assert outcome.as_verdict("fab-a") == {"check": "report_fresh", "fabric": "fab-a", "passed": False,
                                           "description": "d", "severity": "WARN", "metadata": {"k": 1}}
    assert CheckOutcome(True, "x").as_verdict(None, FLEET_IN_SYNC) == {
        "check": "fleet_in_sync", "fabric": None, "passed": True, "description": "x", "severity": "ERROR",
        "metadata": {}}


def test_freshness_within_and_beyond_three_intervals() -> None:
    at = NOW - timedelta(seconds=180)
    assert freshness_outcome("fab-a", at, 60, NOW) == CheckOutcome(
        True, "fab-a: checked 180 s ago, within 3 cycles (180 s)", WARN,
        {"last_checked": "2026-12-01T11:57:00+00:00", "age_s": 180.0, "allowed_s": 180.0, "interval_s": 60.0})
    at = NOW - timedelta(seconds=180.06)
    assert freshness_outcome("fab-a", at, 60, NOW) == CheckOutcome(
        False, "fab-a: last checked 180 s ago, more than 3 cycles (180 s): is the schedule running and the "
               "fabric's run succeeding?", WARN,
        {"last_checked": at.isoformat(), "age_s": 180.1, "allowed_s": 180.0, "interval_s": 60.0})


def test_freshness_of_a_fabric_never_checked_counts_from_when_it_was_expected() -> None:
    assert freshness_outcome("fab-a", None, 30, NOW) == CheckOutcome(
        True, "fab-a: not checked yet, within 3 cycles (90 s)", WARN,
        {"last_checked": "never", "age_s": 0.0, "allowed_s": 90.0, "interval_s": 30.0})
    assert freshness_outcome("fab-a", None, 30, NOW, since=NOW - timedelta(seconds=90)).passed
    late = freshness_outcome("fab-a", None, 30, NOW, since=NOW - timedelta(seconds=500))
    assert late == CheckOutcome(
        False, "fab-a: never checked in 500 s, more than 3 cycles (90 s): is the schedule running and the "
               "fabric's run succeeding?", WARN,
        {"last_checked": "never", "age_s": 500.0, "allowed_s": 90.0, "interval_s": 30.0})


def test_freshness_takes_the_last_check_over_since_and_other_cycle_counts() -> None:
    outcome = freshness_outcome("f", NOW - timedelta(seconds=10), 100, NOW, since=NOW - timedelta(days=9), cycles=1)
    assert outcome.description == "f: checked 10 s ago, within 1 cycles (100 s)"
    assert freshness_outcome("f", NOW + timedelta(seconds=30), 60, NOW).metadata["age_s"] == 0.0  # clock skew
    outcome = freshness_outcome("f", NOW - timedelta(seconds=101), 100, NOW, cycles=1)
    assert outcome.description.startswith("f: last checked 101 s ago, more than 1 cycles (100 s)")


# --- fleet_rows ------------------------------------------------------------------------------------------

def config(name: str, priority: str = "medium", enabled: bool = True) -> FabricConfig:
    return FabricConfig(name=name, priority=priority, enabled=enabled, git={"url": "https://git.example/r.git"})


def test_a_fabrics_row_from_its_report_and_record() -> None:
    rep = report(score=1, git={"commit": "0123456789abcdef"}, drift_since="2026-11-30T00:00:00Z")
    record = FabricHealthRecord(last_cycle_at="2026-12-01T11:59:00Z", isolated=True)
    schedule = Schedule("low", "medium", 60, 5, isolated=True, escalated=True)
    assert fleet_row(rep, record, 0.666, schedule) == {
        "fabric": "fab-a", "status": "drifted", "severity": "high", "score": 1.0, "health": 0.67, "priority": "low",
        "effective_priority": "medium", "isolated": True, "differ": 6, "commit": "0123456789ab",
        "drift_since": "2026-11-30T00:00:00Z", "last_cycle_at": "2026-12-01T11:59:00Z", "interval_seconds": 60}
    bare = fleet_row(report("in_sync", "none", git={"commit": None}, drift_since=None), FabricHealthRecord(), 0.5,
                     Schedule("high", "high", 60, 1, isolated=False, escalated=False))
    assert (bare["commit"], bare["drift_since"], bare["last_cycle_at"], bare["isolated"]) == ("", "", None, False)
    assert isinstance(bare["score"], float)


def test_the_row_of_a_fabric_without_a_report() -> None:
    assert pending_row(config("fab-b", "low")) == {
        "fabric": "fab-b", "status": "pending", "severity": "none", "score": 0.0, "health": None, "priority": "low",
        "effective_priority": "low", "isolated": False, "differ": 0, "commit": "", "drift_since": "",
        "last_cycle_at": None, "interval_seconds": 300}


def test_a_sync_run_merges_its_rows() -> None:
    doc = {"rows": {"a": {"v": 1}, "b": {"v": 2}}, "other": "dropped"}
    assert merge_rows(doc, {"b": {"v": 3}, "c": {"v": 4}}) == {"rows": {"a": {"v": 1}, "b": {"v": 3}, "c": {"v": 4}}}
    assert doc["rows"] == {"a": {"v": 1}, "b": {"v": 2}}, "the stored document is not changed"
    assert merge_rows(None, {"a": {}}) == {"rows": {"a": {}}}
    assert merge_rows({"rows": None}, {}) == {"rows": {}}


def test_the_summary_hash_leaves_out_the_volatile_fields() -> None:
    assert VOLATILE == ("last_cycle_at", "interval_seconds")
    rows = [{"fabric": "b", "status": "drifted", "last_cycle_at": "t1", "interval_seconds": 60},
            {"fabric": "a", "status": "in_sync", "at": datetime(2026, 1, 1)}]
    raw = '[{"at": "2026-01-01 00:00:00", "fabric": "a", "status": "in_sync"}, {"fabric": "b", "status": "drifted"}]'
    assert summary_hash(rows) == hashlib.sha256(raw.encode()).hexdigest()[:16]
    moved = [{**rows[0], "last_cycle_at": "t2", "interval_seconds": 30}, rows[1]]
    assert summary_hash(moved) == summary_hash(rows) == summary_hash(reversed(rows))
    assert summary_hash([{**rows[0], "status": "in_sync"}, rows[1]]) != summary_hash(rows)


def test_the_fleet_view_with_freshness_and_first_seen_times() -> None:
    stored = {"fab-a": {**pending_row(config("fab-a")), "status": "in_sync", "priority": "low",
                        "last_cycle_at": "2026-12-01T11:59:00Z", "interval_seconds": 60},
              "fab-old": {**pending_row(config("fab-old")), "last_cycle_at": "2026-12-01T11:00:00Z"}}
    fabrics = [config("fab-a", "high"), config("fab-b", "critical"), config("fab-c"), config("fab-off", enabled=False),
               config("fab-old")]
    rows, seen = fleet_view(fabrics, ["fab-off", "fab-b", "fab-a", "fab-c", "fab-old"], {"rows": stored},
                            {"fab-c": "2026-12-01T11:56:00Z", "gone": "x"}, NOW)
    assert [r["fabric"] for r in rows] == ["fab-a", "fab-b", "fab-c", "fab-off", "fab-old"]
    assert seen == {"fab-b": "2026-12-01T12:00:00Z", "fab-c": "2026-12-01T11:56:00Z",
                    "fab-off": "2026-12-01T12:00:00Z"}
    a, b, c, off, old = rows
    assert a["priority"] == "high" and a["status"] == "in_sync"
    assert (a["fresh"], a["_freshness"].description) == (True, "fab-a: checked 60 s ago, within 3 cycles (180 s)")
    assert b == {**pending_row(config("fab-b", "critical")), "fresh": True, "_freshness": b["_freshness"]}
    assert b["_freshness"].description == "fab-b: not checked yet, within 3 cycles (90 s)"
    assert (c["fresh"], c["_freshness"].description) == (False, "fab-c: never checked in 240 s, more than 3 cycles "
                                                                "(180 s): is the schedule running and the fabric's "
                                                                "run succeeding?")
    assert off == {**pending_row(config("fab-off")), "fresh": None}
    assert (old["fresh"], old["_freshness"].metadata["age_s"]) == (False, 3600.0)
    assert stored["fab-a"]["priority"] == "low", "the stored rows are not changed"


def test_the_fleet_view_leaves_out_fabrics_without_a_partition() -> None:
    rows, seen = fleet_view([config("fab-a"), config("fab-b")], ["fab-b", "fab-z"], None, {}, NOW)
    assert [r["fabric"] for r in rows] == ["fab-b"] and seen == {"fab-b": "2026-12-01T12:00:00Z"}
    assert fleet_view([config("fab-a")], [], {"rows": None}, {}, NOW) == ([], {})


# --- metrics ---------------------------------------------------------------------------------------------

def run(i: int, checked: int = 4, failed: int = 0, changed: int = 1, duration: float = 10.0,
        wait: float = 1.0) -> RunStats:
    return RunStats(f"r{i}", f"2026-12-01T00:00:{i:02d}Z", duration, wait, checked, changed, failed)


def test_the_first_run_starts_the_totals_and_the_window() -> None:
    first = run(1, checked=4, failed=1, changed=2, duration=12.3456, wait=0.5)
    record = {"run_id": "r1", "finished_at": "2026-12-01T00:00:01Z", "duration_s": 12.3456, "queue_wait_s": 0.5,
              "checked": 4, "changed": 2, "failed": 1}
    assert roll_up(None, first) == {
        "runs_total": 1, "fabrics_checked_total": 4, "fabrics_changed_total": 2, "fabrics_failed_total": 1,
        "fabric_check_success_rate": 0.75, "clean_run_rate": 0.0, "success_rate": 0.75, "window_runs": 1,
        "window_fabric_checks": 4, "mean_duration_s": 12.346, "mean_queue_wait_s": 0.5, "last_run": record,
        "recent": [record], "since": "2026-12-01T00:00:01Z"}


def test_totals_add_up_and_rates_cover_the_window() -> None:
    m = roll_up({}, run(1, checked=3, failed=0, duration=1.0, wait=0.0))
    m = roll_up(m, run(2, checked=3, failed=1, duration=2.0, wait=3.0))
    m = roll_up(m, run(3, checked=0, failed=0, changed=0, duration=4.0, wait=0.25))
    assert {k: v for k, v in m.items() if k not in ("recent", "last_run")} == {
        "runs_total": 3, "fabrics_checked_total": 6, "fabrics_changed_total": 2, "fabrics_failed_total": 1,
        "fabric_check_success_rate": 0.8333, "clean_run_rate": 0.6667, "success_rate": 0.8333, "window_runs": 3,
        "window_fabric_checks": 6, "mean_duration_s": 2.333, "mean_queue_wait_s": 1.083,
        "since": "2026-12-01T00:00:01Z"}
    assert [r["run_id"] for r in m["recent"]] == ["r1", "r2", "r3"]


def test_the_window_keeps_the_latest_runs() -> None:
    m: dict[str, Any] = {"runs_total": 500, "since": "2026-01-01T00:00:00Z",
                         "fabrics_checked_total": 10, "fabrics_changed_total": 1, "fabrics_failed_total": 2}
    for i in range(5):
        m = roll_up(m, run(i, failed=1 if i == 0 else 0, duration=float(i)), window=3)
    assert [r["run_id"] for r in m["recent"]] == ["r2", "r3", "r4"]
    assert (m["window_runs"], m["clean_run_rate"], m["mean_duration_s"], m["runs_total"]) == (3, 1.0, 3.0, 505)
    assert (m["fabrics_checked_total"], m["fabrics_changed_total"], m["fabrics_failed_total"]) == (30, 6, 3)
    assert m["since"] == "2026-01-01T00:00:00Z"
    assert WINDOW == 100
    m = None
    for i in range(102):
        m = roll_up(m, run(i % 60))
    assert len(m["recent"]) == 100 and m["window_runs"] == 100 and m["runs_total"] == 102
    assert [r["run_id"] for r in m["recent"][:2]] == ["r2", "r3"]


def test_rates_without_checks_or_runs_are_perfect() -> None:
    assert WindowRates(0, 0, 0, 0).fabric_check_success_rate == 1.0
    assert WindowRates(0, 0, 0, 0).clean_run_rate == 1.0
    assert WindowRates(3, 1, 7, 2).fabric_check_success_rate == 0.7143
    assert WindowRates(3, 1, 7, 2).clean_run_rate == 0.3333
    assert window_rates([{"checked": 2, "failed": 0}, {"checked": 5, "failed": 2}, {"checked": 0, "failed": 0}]) == \
        WindowRates(runs=3, clean_runs=2, fabric_checks=7, fabric_checks_failed=2)
    assert window_rates([]) == WindowRates(0, 0, 0, 0)
    m = roll_up(None, run(1, checked=0, failed=0))
    assert (m["fabric_check_success_rate"], m["clean_run_rate"], m["success_rate"]) == (1.0, 1.0, 1.0)


# --- fabric_partitions, limits, vocabulary ---------------------------------------------------------------

def test_partitions_follow_the_inventory_and_keep_invalid_entries() -> None:
    inventory = Inventory("f.yaml", fabrics=[config("fab-c"), config("fab-a"), config("fab-b")],
                          problems=[InventoryProblem("f.yaml", 4, "fab-typo", "bad"),
                                    InventoryProblem("f.yaml", 5, "fab-new-bad", "bad"),
                                    InventoryProblem("f.yaml", None, None, "file")])
    to_add, to_delete = partition_changes(inventory, ["fab-z", "fab-a", "fab-typo", "fab-y"])
    assert to_add == ["fab-c", "fab-b"]
    assert to_delete == ["fab-y", "fab-z"]
    assert partition_changes(Inventory("f.yaml"), []) == ([], [])
    assert partition_changes(Inventory("f.yaml", fabrics=[config("fab-a")]), ["fab-a"]) == ([], [])


def test_the_pool_limits() -> None:
    assert limits.POOL_LIMITS == {"git": 4, "kubernetes": 3}
    assert (limits.GIT_POOL, limits.KUBERNETES_POOL, limits.GIT_SLOTS, limits.KUBERNETES_SLOTS) == (
        "git", "kubernetes", 4, 3)
    assert limits.describe_pool_limits() == "git (4) and kubernetes (3)"


def test_the_vocabulary_of_docs_contracts() -> None:
    v = vocabulary
    assert v.FABRIC_STATUSES == ("in_sync", "drifted", "unknown")
    assert v.ROW_STATUSES == ("in_sync", "drifted", "unknown", "pending")
    assert v.STATES == ("in_sync", "modified", "missing", "extra")
    assert v.DRIFT_STATES == ("modified", "missing", "extra")
    assert v.SEVERITY_RANK == {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
    assert (v.GIT_SIDE, v.CLUSTER_SIDE) == ("git", "cluster")
    assert v.IN_FLIGHT_RUN_STATUSES == ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")


@pytest.mark.parametrize("summary, count", [
    ({"modified": 2, "missing": 1, "extra": 3, "in_sync": 100}, 6),
    ({}, 0),
    ({"modified": None, "missing": "4", "extra": 0}, 4),
    ({"in_sync": 7}, 0),
])
def test_how_many_resources_differ(summary, count) -> None:
    assert vocabulary.drifted_count(summary) == count
    assert json.dumps(count) == str(count)
