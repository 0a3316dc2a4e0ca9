"""drift_report's asset checks: the verdicts as tables, and per-fabric results in a real instance."""

from datetime import datetime, timedelta, timezone

import pytest
from dagster import AssetCheckKey, AssetKey, AssetSelection, DagsterInstance, Definitions, define_asset_job, materialize

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.defs.checks import (
    NO_CRITICAL_DRIFT, REPORT_FRESH, critical_drift_outcome, freshness_outcome, no_critical_drift, report_fresh,
)
from hedgehog_sync.devlab.demo import BROKEN_FABRIC, DEMO_FABRICS, DRIFTED_FABRIC, IN_SYNC_FABRIC

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def report(status="drifted", *resources):
    severities = [r[2] for r in resources]
    worst = max(severities, key=["none", "low", "medium", "high", "critical"].index) if severities else "none"
    return {"fabric": "fab-x", "status": status, "severity": worst, "score": 0.5 if resources else 0.0,
            "resources": [{"kind": k, "name": n, "severity": s, "state": st} for k, n, s, st in
                          [(k, n, s, "extra") for k, n, s in resources]]}


@pytest.mark.parametrize("given, passed, words", [
    (report("drifted", ("VPC", "rogue", "critical"), ("VPC", "vpc-1", "high")), False, ["1 critical", "VPC rogue"]),
    (report("drifted", ("VPC", "vpc-1", "high")), True, ["no critical drift", "worst high"]),
    (report("in_sync"), True, ["no critical drift"]),
    (report("unknown", ("Switch", "leaf-1", "medium")), True, ["status unknown"]),
])
def test_no_critical_drift_verdicts(given, passed, words):
    outcome = critical_drift_outcome(given)
    assert outcome.passed is passed and outcome.severity == "ERROR"
    assert all(w in outcome.description for w in words), outcome.description


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


def test_each_new_report_is_recorded_with_both_checks_per_fabric(demo_fleet, fleet_resource):
    resources = {"fleet": fleet_resource, "alerts": AlertSink()}
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        for fabric in (DRIFTED_FABRIC, IN_SYNC_FABRIC, BROKEN_FABRIC):
            materialize([fabric_sync], partition_key=fabric, instance=instance, resources=resources,
                        raise_on_error=False)
        assert current_status(instance, NO_CRITICAL_DRIFT) == {
            DRIFTED_FABRIC: "FAILED", IN_SYNC_FABRIC: "SUCCEEDED", BROKEN_FABRIC: "SUCCEEDED"}
        assert current_status(instance, REPORT_FRESH) == dict.fromkeys(DEMO_FABRICS, "SUCCEEDED")
        west = next(r for r in check_history(instance, NO_CRITICAL_DRIFT) if r.partition == DRIFTED_FABRIC)
        evaluation = west.event.dagster_event.asset_check_evaluation_data
        assert "rogue-vpc" in evaluation.description and evaluation.metadata["critical_resources"].value == 1
        # nothing changed: no new report, so no new check result either
        assert materialize([fabric_sync], partition_key=DRIFTED_FABRIC, instance=instance, resources=resources).success
        assert len(check_history(instance, NO_CRITICAL_DRIFT)) == len(check_history(instance, REPORT_FRESH)) == 3


def test_a_check_executed_for_one_fabric_reevaluates_its_stored_report(demo_fleet, fleet_resource):
    resources = {"fleet": fleet_resource, "alerts": AlertSink()}
    job = define_asset_job("checks_now", selection=AssetSelection.checks(no_critical_drift, report_fresh))
    defs = Definitions(assets=[fabric_sync], asset_checks=[no_critical_drift, report_fresh], jobs=[job],
                       resources=resources)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        assert materialize([fabric_sync], partition_key=DRIFTED_FABRIC, instance=instance, resources=resources).success
        result = defs.resolve_job_def("checks_now").execute_in_process(
            instance=instance, tags={"dagster/partition": DRIFTED_FABRIC})
        assert result.success
        latest = {name: check_history(instance, name)[0] for name in (NO_CRITICAL_DRIFT, REPORT_FRESH)}
        assert {n: (r.partition, r.status.value) for n, r in latest.items()} == {
            NO_CRITICAL_DRIFT: (DRIFTED_FABRIC, "FAILED"), REPORT_FRESH: (DRIFTED_FABRIC, "SUCCEEDED")}
