"""Asset checks on drift_report, per fabric: no critical drift, and a report fresh within 3 cycles.

Results are recorded per fabric partition (AssetCheckEvaluation with `partition`, which Dagster 1.13
stores and shows per partition) and only when there is news, following the cost model: both with
each new drift_report of a fabric (the sync run logs them beside it: a new report is fresh by
definition), and `report_fresh` again when a fabric's freshness flips without a new report (the
fleet_watch sensor, which keeps looking when runs stop, requests a small run of
`record_report_freshness` for those). Each result names the fabric's latest drift_report
materialization as its target: the UI shows a partition's check status only for results that
target the partition's latest materialization.
Executing a check from the UI for one fabric re-evaluates it from the fabric's stored report.
"""

import warnings
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from dagster import (
    AssetCheckEvaluation, AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, AssetKey,
    AssetRecordsFilter, Config, DagsterInstance, Failure, MetadataValue, OpExecutionContext, RunConfig,
    RunRequest, asset_check, in_process_executor, job, op,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from pydantic import Field

from hedgehog_sync.cycle import DRIFT_REPORT
from hedgehog_sync.defs.partitions import fabrics
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.domain.health import health_score, parse_time
from hedgehog_sync.domain.priority import schedule_for
from hedgehog_sync.domain.report import utc_iso

NO_CRITICAL_DRIFT = "no_critical_drift"
REPORT_FRESH = "report_fresh"
FRESH_CYCLES = 3
MAX_NAMED = 20


@dataclass(frozen=True)
class CheckOutcome:
    """One check's verdict on one fabric, as plain data."""

    passed: bool
    description: str
    severity: str = "ERROR"  # ERROR or WARN, as Dagster's AssetCheckSeverity
    metadata: dict[str, Any] = field(default_factory=dict)

    def as_verdict(self, fabric: str) -> dict[str, Any]:
        return {"fabric": fabric, "passed": self.passed, "description": self.description,
                "severity": self.severity, "metadata": self.metadata}


def critical_drift_outcome(report: dict[str, Any]) -> CheckOutcome:
    """Fails when any drifted resource is critical (a Switch, Connection or VPC missing or extra, ...)."""
    critical = [r for r in report["resources"] if r["severity"] == "critical"]
    named = [f"{r['kind']} {r['name']} ({r['state']})" for r in critical[:MAX_NAMED]]
    metadata = {"status": report["status"], "severity": report["severity"], "score": float(report["score"]),
                "critical_resources": len(critical)}
    if critical:
        more = f" and {len(critical) - MAX_NAMED} more" if len(critical) > MAX_NAMED else ""
        return CheckOutcome(False, f"{report['fabric']}: {len(critical)} critical: {', '.join(named)}{more}",
                            "ERROR", {**metadata, "critical": ", ".join(named)})
    unknown = " (status unknown: only what could be read was compared)" if report["status"] == "unknown" else ""
    return CheckOutcome(True, f"{report['fabric']}: no critical drift, worst {report['severity']}{unknown}",
                        "ERROR", metadata)


def freshness_outcome(fabric: str, last_checked: datetime | None, interval_seconds: float, now: datetime,
                      since: datetime | None = None, cycles: int = FRESH_CYCLES) -> CheckOutcome:
    """Passes while the fabric's last completed cycle is at most `cycles` refresh intervals old.

    A fabric never checked counts from `since` (when it was first expected), so one that never
    gets a report goes stale too.
    """
    allowed = cycles * interval_seconds
    reference = last_checked or since or now
    age = max(0.0, (now - reference).total_seconds())
    metadata = {"last_checked": last_checked.isoformat() if last_checked else "never",
                "age_s": round(age, 1), "allowed_s": float(allowed), "interval_s": float(interval_seconds)}
    if age <= allowed:
        what = f"checked {age:.0f} s ago" if last_checked else "not checked yet"
        return CheckOutcome(True, f"{fabric}: {what}, within {cycles} cycles ({allowed:.0f} s)", "WARN", metadata)
    what = f"last checked {age:.0f} s ago" if last_checked else f"never checked in {age:.0f} s"
    return CheckOutcome(False, f"{fabric}: {what}, more than {cycles} cycles ({allowed:.0f} s): is the "
                               "schedule running and the fabric's run succeeding?", "WARN", metadata)


def latest_report(instance: DagsterInstance, fabric: str) -> AssetCheckEvaluationTargetMaterializationData | None:
    """The fabric's latest drift_report materialization, as the target of a check result."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(DRIFT_REPORT), asset_partitions=[fabric]), limit=1).records
    if not records:
        return None
    record = records[0]
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp)


def evaluation(check_name: str, fabric: str, outcome: CheckOutcome,
               target: AssetCheckEvaluationTargetMaterializationData | None = None) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(
        asset_key=AssetKey(DRIFT_REPORT), check_name=check_name, passed=outcome.passed, partition=fabric,
        severity=AssetCheckSeverity(outcome.severity), description=outcome.description,
        metadata={k: _metadata_value(v) for k, v in outcome.metadata.items()}, target_materialization_data=target)


def _metadata_value(v: Any) -> Any:
    return MetadataValue.text(v) if isinstance(v, str) else v


def _result(outcome: CheckOutcome) -> AssetCheckResult:
    return AssetCheckResult(passed=outcome.passed, severity=AssetCheckSeverity(outcome.severity),
                            description=outcome.description,
                            metadata={k: _metadata_value(v) for k, v in outcome.metadata.items()})


# Dagster 1.13 keeps at most one run-less result per check and partition (its index includes the run id,
# which is empty for run-less events), so report_fresh results are logged by this small run.
class FreshnessVerdicts(Config):
    verdicts_json: str = Field(description="JSON list of {fabric, passed, description, severity, metadata}")


@op(name="record_report_freshness",
    description="Records the report_fresh check results the fleet_watch sensor found flipped, one per fabric.")
def record_report_freshness(context: OpExecutionContext, config: FreshnessVerdicts) -> None:
    for verdict in json.loads(config.verdicts_json):
        fabric = verdict.pop("fabric")
        context.log_event(evaluation(REPORT_FRESH, fabric, CheckOutcome(**verdict),
                                     latest_report(context.instance, fabric)))


@job(name="record_freshness", executor_def=in_process_executor,
     description="Started by the fleet_watch sensor when a fabric's report turns stale or fresh again.")
def record_freshness_job() -> None:
    record_report_freshness()


def freshness_run(verdicts: list[dict[str, Any]], now: datetime) -> RunRequest:
    config = FreshnessVerdicts(verdicts_json=json.dumps(verdicts, sort_keys=True))
    stale = sorted(v["fabric"] for v in verdicts if not v["passed"])
    return RunRequest(run_key=f"freshness:{utc_iso(now)}", job_name=record_freshness_job.name,
                      run_config=RunConfig(ops={"record_report_freshness": config}),
                      tags={"hedgehog-sync/stale": ",".join(stale)[:200] or "none"})


def _one_fabric(context: AssetCheckExecutionContext) -> str:
    op_context = context.op_execution_context
    if not op_context.has_partition_key:
        raise Failure("Execute this check for one fabric (one partition) at a time.", allow_retries=False)
    return op_context.partition_key


with warnings.catch_warnings():
    # Partitioned asset checks are a preview feature in Dagster 1.13; they are what shows results per fabric.
    warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*")

    @asset_check(
        asset=DRIFT_REPORT, name=NO_CRITICAL_DRIFT, partitions_def=fabrics,
        description="Fails while the fabric's cluster has critical drift: a Switch, Connection or VPC "
                    "missing or extra. Recorded with every new drift_report of the fabric.",
    )
    def no_critical_drift(context: AssetCheckExecutionContext, fleet: FleetResource) -> AssetCheckResult:
        fabric = _one_fabric(context)
        report = fleet.report_store(context.instance).latest_report(fabric)
        if report is None:
            raise Failure(f"fabric {fabric} has no report yet", allow_retries=False)
        return _result(critical_drift_outcome(report))

    @asset_check(
        asset=DRIFT_REPORT, name=REPORT_FRESH, partitions_def=fabrics,
        description=f"Warns when the fabric's last completed sync is older than {FRESH_CYCLES} of its "
                    "refresh intervals (60 s for critical/high/medium, 5 min low, 1 h maintenance or "
                    "isolated). Recorded when it flips, by the fleet_watch sensor.",
    )
    def report_fresh(context: AssetCheckExecutionContext, fleet: FleetResource) -> AssetCheckResult:
        fabric = _one_fabric(context)
        cfg = fleet.load_inventory().by_name().get(fabric)
        record = fleet.report_store(context.instance).health(fabric)
        now = datetime.now(timezone.utc)
        priority = cfg.priority if cfg else "medium"
        schedule = schedule_for(priority, health_score(record, now), record.isolated, record.escalated)
        return _result(freshness_outcome(fabric, parse_time(record.last_cycle_at), schedule.interval_seconds, now))


drift_report_checks = [no_critical_drift, report_fresh]
