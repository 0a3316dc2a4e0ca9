"""drift_report's asset checks: the verdicts as tables, and per-fabric results in a real instance."""

from datetime import datetime, timedelta, timezone

import pytest
from dagster import (
    AssetCheckKey, AssetKey, AssetRecordsFilter, AssetSelection, DagsterInstance, Definitions, define_asset_job,
    materialize,
)

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.defs.checks import (
    IN_SYNC, NO_CRITICAL_DRIFT, REPORT_FRESH, critical_drift_outcome, fleet_outcome, freshness_outcome,
    in_sync, in_sync_outcome, no_critical_drift, report_fresh,
)
from hedgehog_sync.defs.history import report_label, trend_markdown
from hedgehog_sync.devlab.demo import BROKEN_FABRIC, DEMO_FABRICS, DRIFTED_FABRIC, IN_SYNC_FABRIC

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def report(status="drifted", *resources, errors=()):
    severities = [r[2] for r in resources]
    worst = max(severities, key=["none", "low", "medium", "high", "critical"].index) if severities else "none"
    return {"fabric": "fab-x", "status": status, "severity": worst, "score": 0.5 if resources else 0.0,
            "summary": {"in_sync": 4, "modified": 0, "missing": 0, "extra": len(resources)},
            "resources": [{"kind": k, "name": n, "severity": s, "state": st} for k, n, s, st in
                          [(k, n, s, "extra") for k, n, s in resources]],
            "errors": [{"source": side, "level": "error", "message": m, "error_class": "X"} for side, m in errors]}


UNAUTHORIZED = ("cluster", "HTTP 401 Unauthorized: check the fabric's token")


@pytest.mark.parametrize("given, passed, words", [
    (report("drifted", ("VPC", "rogue", "critical"), ("VPC", "vpc-1", "high")), False, ["1 critical", "VPC rogue"]),
    (report("drifted", ("VPC", "vpc-1", "high")), True, ["no critical drift", "worst high"]),
    (report("in_sync"), True, ["no critical drift"]),
    # unknown never passes: what could not be read may be critical (issue 18: it passed on a 401)
    (report("unknown", ("Switch", "leaf-1", "medium"), errors=[UNAUTHORIZED]), False,
     ["status unknown: the cluster/Git could not be read", "the cluster: HTTP 401"]),
    (report("unknown"), False, ["status unknown", "read only partly"]),
])
def test_no_critical_drift_verdicts(given, passed, words):
    outcome = critical_drift_outcome(given)
    assert outcome.passed is passed and outcome.severity == "ERROR"
    assert all(w in outcome.description for w in words), outcome.description
    assert outcome.description.startswith("fab-x: ")  # the asset's latest results name their fabric


@pytest.mark.parametrize("given, passed, severity, words", [
    (report("in_sync"), True, "WARN", ["in sync"]),
    (report("drifted", ("VPC", "vpc-1", "high")), False, "WARN", ["drifted, worst high", "1 resources differ"]),
    (report("drifted", ("VPC", "rogue", "critical")), False, "ERROR", ["drifted, worst critical"]),
    (report("unknown", errors=[UNAUTHORIZED, ("git", "ref main not found")]), False, "ERROR",
     ["status unknown", "HTTP 401", "and 1 more errors"]),
    (report("unknown", errors=[("git", "x" * 1000)]), False, "ERROR", ["Git: xxx", "…"]),
])
def test_in_sync_verdicts_say_drift_with_warn_and_critical_or_unknown_with_error(given, passed, severity, words):
    outcome = in_sync_outcome(given)
    assert (outcome.passed, outcome.severity) == (passed, severity)
    assert all(w in outcome.description for w in words), outcome.description
    assert outcome.description.startswith("fab-x: ") and len(outcome.description) < 500
    assert outcome.metadata["fabric"] == "fab-x" and outcome.metadata["status"] == given["status"]


def fleet_row(name, status, severity="none", fresh=True):
    return {"fabric": name, "status": status, "severity": severity, "fresh": fresh}


@pytest.mark.parametrize("rows, passed, severity, words", [
    ([fleet_row("a", "in_sync"), fleet_row("b", "pending")], True, "WARN", ["1 fabrics: 1 in sync"]),
    ([fleet_row("a", "in_sync"), fleet_row("b", "drifted", "high")], False, "WARN", ["1 drifted (b)"]),
    ([fleet_row("a", "drifted", "high"), fleet_row("b", "drifted", "critical")], False, "ERROR",
     ["1 critically drifted (b)", "1 drifted (a)"]),
    ([fleet_row("a", "in_sync"), fleet_row("b", "unknown")], False, "ERROR", ["1 unknown (b)"]),
    ([fleet_row("a", "in_sync"), fleet_row("b", "unknown", fresh=None)], True, "WARN", ["1 in sync"]),  # disabled
    ([fleet_row(f"f{i:03}", "unknown") for i in range(50)], False, "ERROR", ["50 unknown", "and 30 more"]),
])
def test_the_fleet_check_says_the_worst_fabric(rows, passed, severity, words):
    outcome = fleet_outcome(rows)
    assert (outcome.passed, outcome.severity) == (passed, severity)
    assert all(w in outcome.description for w in words), outcome.description


def test_each_event_is_labelled_and_the_trend_is_a_table():
    label = report_label("drifted", "critical", {"in_sync": 5, "modified": 1, "missing": 1, "extra": 1}, 0.625, 0.93)
    assert label == "drifted · critical · 3 differ (1 modified, 1 missing, 1 extra) · score 0.62 · health 0.93"
    assert report_label("unknown", "none", {}, 0.0, None, "the cluster: " + "y" * 500).endswith("…")
    assert trend_markdown("fab-x", []) == ""
    table = trend_markdown("fab-x", [{"time": "2026-11-28 12:00:00", "status": "drifted", "severity": "high",
                                      "modified": 1, "missing": 0, "extra": 0, "score": "0.30", "health": "0.90"}])
    assert "| 2026-11-28 12:00:00 | drifted | high | 1 | 0 | 0 | 0.30 | 0.90 |" in table.splitlines()


@pytest.mark.parametrize("last, interval, since, passed", [
    (NOW - timedelta(seconds=60), 60, None, True),
    (NOW - timedelta(seconds=180), 60, None, True),      # exactly three cycles
    (NOW - timedelta(seconds=181), 60, None, False),
    (NOW - timedelta(minutes=14), 300, None, True),     # a low fabric is checked every 5 minutes
    (None, 60, NOW - timedelta(seconds=30), True),      # new: not checked yet, not late either
    (None, 60, NOW - timedelta(minutes=5), False),      # never got a report
])
def test_report_fresh_verdicts(last, interval, since, passed):
    outcome = freshness_outcome("fab-x", last, interval, NOW, since=since)
    assert outcome.passed is passed and outcome.severity == "WARN"
    assert outcome.metadata["allowed_s"] == 3 * interval


def check_history(instance, name):
    return instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(AssetKey("drift_report"), name), limit=100)


def current_status(instance, name):
    """Per fabric, the status the UI shows: only a result that targets the fabric's latest report counts."""
    infos = instance.event_log_storage.get_asset_check_partition_info([AssetCheckKey(AssetKey("drift_report"), name)])
    return {i.partition_key: i.latest_execution_status.value if i.is_current else "MISSING" for i in infos}


def test_each_new_report_is_recorded_with_its_checks_per_fabric(demo_fleet, fleet_resource):
    resources = {"fleet": fleet_resource, "alerts": AlertSink()}
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        for fabric in (DRIFTED_FABRIC, IN_SYNC_FABRIC, BROKEN_FABRIC):
            materialize([fabric_sync], partition_key=fabric, instance=instance, resources=resources,
                        raise_on_error=False)
        failing = {DRIFTED_FABRIC: "FAILED", IN_SYNC_FABRIC: "SUCCEEDED", BROKEN_FABRIC: "FAILED"}
        assert current_status(instance, NO_CRITICAL_DRIFT) == current_status(instance, IN_SYNC) == failing
        assert current_status(instance, REPORT_FRESH) == dict.fromkeys(DEMO_FABRICS, "SUCCEEDED")
        west = next(r for r in check_history(instance, NO_CRITICAL_DRIFT) if r.partition == DRIFTED_FABRIC)
        evaluation = west.event.dagster_event.asset_check_evaluation_data
        assert "rogue-vpc" in evaluation.description and evaluation.metadata["critical_resources"].value == 1
        latest = {r.partition: r.event.dagster_event.asset_check_evaluation_data
                  for r in reversed(check_history(instance, IN_SYNC))}
        assert latest[DRIFTED_FABRIC].severity.value == "ERROR"  # critical drift
        assert latest[BROKEN_FABRIC].severity.value == "ERROR"
        assert latest[BROKEN_FABRIC].description.startswith(f"{BROKEN_FABRIC}: status unknown: the cluster/Git "
                                                           "could not be read: ")
        trend = latest[DRIFTED_FABRIC].metadata["recent_reports"].value
        assert f"{DRIFTED_FABRIC}: last 1 reports" in trend and "| drifted | critical |" in trend
        # each event is labelled with what the event list shows on its row
        (event,) = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey("drift_report"), asset_partitions=[DRIFTED_FABRIC]), limit=5).records
        assert event.asset_materialization.description.startswith("drifted · critical · 3 differ")
        # nothing changed: no new report, so no new check result either
        assert materialize([fabric_sync], partition_key=DRIFTED_FABRIC, instance=instance, resources=resources).success
        assert len(check_history(instance, NO_CRITICAL_DRIFT)) == len(check_history(instance, REPORT_FRESH)) == 3


def test_a_check_executed_for_one_fabric_reevaluates_its_stored_report(demo_fleet, fleet_resource):
    resources = {"fleet": fleet_resource, "alerts": AlertSink()}
    job = define_asset_job("checks_now", selection=AssetSelection.checks(in_sync, no_critical_drift, report_fresh))
    defs = Definitions(assets=[fabric_sync], asset_checks=[in_sync, no_critical_drift, report_fresh], jobs=[job],
                       resources=resources)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        assert materialize([fabric_sync], partition_key=DRIFTED_FABRIC, instance=instance, resources=resources).success
        result = defs.resolve_job_def("checks_now").execute_in_process(
            instance=instance, tags={"dagster/partition": DRIFTED_FABRIC})
        assert result.success
        latest = {name: check_history(instance, name)[0] for name in (IN_SYNC, NO_CRITICAL_DRIFT, REPORT_FRESH)}
        assert {n: (r.partition, r.status.value) for n, r in latest.items()} == {
            IN_SYNC: (DRIFTED_FABRIC, "FAILED"), NO_CRITICAL_DRIFT: (DRIFTED_FABRIC, "FAILED"),
            REPORT_FRESH: (DRIFTED_FABRIC, "SUCCEEDED")}
