"""Asset checks on drift_report: per fabric in sync, no critical drift and a report fresh within 3
cycles; and one for the whole fleet, which is what the Catalog's health of drift_report reads.

Severity is Dagster's own signal: a drifted fabric fails `in_sync` with WARN (the asset shows a
warning), critical drift or an unknown status (Git or the cluster could not be read) fail with
ERROR (the asset shows degraded). Dagster 1.13 derives an asset's health from each check's latest
result, whichever partition it came from; so `fleet_in_sync` (not partitioned) says what the worst
fabric says, and each per-fabric result names its fabric.

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
from typing import Any, Iterable

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

IN_SYNC = "in_sync"
NO_CRITICAL_DRIFT = "no_critical_drift"
REPORT_FRESH = "report_fresh"
FLEET_IN_SYNC = "fleet_in_sync"
FRESH_CYCLES = 3
MAX_NAMED = 20
MAX_CAUSE = 300  # characters of a read error quoted in a check's description


@dataclass(frozen=True)
class CheckOutcome:
    """One check's verdict on one fabric, as plain data."""

    passed: bool
    description: str
    severity: str = "ERROR"  # ERROR or WARN, as Dagster's AssetCheckSeverity
    metadata: dict[str, Any] = field(default_factory=dict)

    def as_verdict(self, fabric: str | None, check: str = REPORT_FRESH) -> dict[str, Any]:
        """As the record_freshness run takes it: fabric None for the fleet-wide check."""
        return {"check": check, "fabric": fabric, "passed": self.passed, "description": self.description,
                "severity": self.severity, "metadata": self.metadata}


def unknown_cause(report: dict[str, Any]) -> str:
    """Why a fabric's status is unknown, from its report's errors (already redacted), shortened."""
    errors = report.get("errors") or []
    if not errors:
        return "a side was read only partly"
    first = errors[0]
    side = {"git": "Git", "cluster": "the cluster"}.get(first.get("source"), first.get("source") or "a source")
    cause = f"{side}: {first.get('message') or first.get('error_class') or 'unreadable'}"
    more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
    return (cause[:MAX_CAUSE] + "…" if len(cause) > MAX_CAUSE else cause) + more


def _unknown_outcome(report: dict[str, Any], metadata: dict[str, Any]) -> CheckOutcome:
    return CheckOutcome(False, f"{report['fabric']}: status unknown: the cluster/Git could not be read: "
                               f"{unknown_cause(report)}", "ERROR", metadata)


def _verdict_metadata(report: dict[str, Any]) -> dict[str, Any]:
    s = report.get("summary") or {}
    return {"fabric": report["fabric"], "status": report["status"], "severity": report["severity"],
            "score": float(report["score"]), "modified": int(s.get("modified", 0)),
            "missing": int(s.get("missing", 0)), "extra": int(s.get("extra", 0))}


def in_sync_outcome(report: dict[str, Any]) -> CheckOutcome:
    """Passes only in sync: drift fails with WARN, critical drift and an unknown status with ERROR."""
    metadata = _verdict_metadata(report)
    if report["status"] == "unknown":
        return _unknown_outcome(report, metadata)
    if report["status"] == "in_sync":
        return CheckOutcome(True, f"{report['fabric']}: in sync with Git", "WARN", metadata)
    differ = metadata["modified"] + metadata["missing"] + metadata["extra"]
    severity = "ERROR" if report["severity"] == "critical" else "WARN"
    return CheckOutcome(False, f"{report['fabric']}: drifted, worst {report['severity']}: {differ} resources differ "
                               f"({metadata['modified']} modified, {metadata['missing']} missing, "
                               f"{metadata['extra']} extra)", severity, metadata)


def critical_drift_outcome(report: dict[str, Any]) -> CheckOutcome:
    """Fails when any drifted resource is critical (a Switch, Connection or VPC missing or extra, ...),
    and when the status is unknown: what could not be read may be critical."""
    critical = [r for r in report["resources"] if r["severity"] == "critical"]
    named = [f"{r['kind']} {r['name']} ({r['state']})" for r in critical[:MAX_NAMED]]
    metadata = {**_verdict_metadata(report), "critical_resources": len(critical)}
    if critical:
        more = f" and {len(critical) - MAX_NAMED} more" if len(critical) > MAX_NAMED else ""
        return CheckOutcome(False, f"{report['fabric']}: {len(critical)} critical: {', '.join(named)}{more}",
                            "ERROR", {**metadata, "critical": ", ".join(named)})
    if report["status"] == "unknown":
        return _unknown_outcome(report, metadata)
    return CheckOutcome(True, f"{report['fabric']}: no critical drift, worst {report['severity']}", "ERROR", metadata)


def fleet_outcome(rows: Iterable[dict[str, Any]]) -> CheckOutcome:
    """The fleet's worst: ERROR while a fabric is unknown or critically drifted, WARN while one is
    drifted, passed when every checked fabric is in sync (pending and disabled ones are not judged)."""
    rows = [r for r in rows if r.get("status") != "pending" and r.get("fresh", True) is not None]
    unknown = sorted(r["fabric"] for r in rows if r["status"] == "unknown")
    critical = sorted(r["fabric"] for r in rows if r["status"] == "drifted" and r.get("severity") == "critical")
    drifted = sorted(r["fabric"] for r in rows if r["status"] == "drifted" and r.get("severity") != "critical")
    in_sync = sum(1 for r in rows if r["status"] == "in_sync")
    metadata = {"fabrics": len(rows), "in_sync": in_sync, "drifted": len(critical) + len(drifted),
                "critical": len(critical), "unknown": len(unknown)}

    def names(found: list[str]) -> str:
        more = f" and {len(found) - MAX_NAMED} more" if len(found) > MAX_NAMED else ""
        return ", ".join(found[:MAX_NAMED]) + more
    parts = [f"{len(unknown)} unknown ({names(unknown)})" if unknown else "",
             f"{len(critical)} critically drifted ({names(critical)})" if critical else "",
             f"{len(drifted)} drifted ({names(drifted)})" if drifted else "",
             f"{in_sync} in sync"]
    text = f"{len(rows)} fabrics: " + "; ".join(p for p in parts if p)
    if unknown or critical:
        return CheckOutcome(False, text, "ERROR", metadata)
    if drifted:
        return CheckOutcome(False, text, "WARN", metadata)
    return CheckOutcome(True, text, "WARN", metadata)


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


def latest_report(instance: DagsterInstance, fabric: str | None) -> AssetCheckEvaluationTargetMaterializationData | None:
    """The fabric's latest drift_report materialization (any fabric's for None), as the target of a check result."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(DRIFT_REPORT), asset_partitions=[fabric] if fabric else None),
        limit=1).records
    if not records:
        return None
    record = records[0]
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp)


def evaluation(check_name: str, fabric: str | None, outcome: CheckOutcome,
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
    verdicts_json: str = Field(description="JSON list of {check, fabric, passed, description, severity, "
                                           "metadata}; fabric null for fleet_in_sync")


@op(name="record_report_freshness",
    description="Records the check results the fleet_watch sensor found flipped: report_fresh per "
                "fabric, and fleet_in_sync.")
def record_report_freshness(context: OpExecutionContext, config: FreshnessVerdicts) -> None:
    for verdict in json.loads(config.verdicts_json):
        fabric = verdict.pop("fabric")
        check = verdict.pop("check", REPORT_FRESH)
        context.log_event(evaluation(check, fabric, CheckOutcome(**verdict), latest_report(context.instance, fabric)))


@job(name="record_freshness", executor_def=in_process_executor,
     description="Started by the fleet_watch sensor when a fabric's report turns stale or fresh again, "
                 "or the fleet's worst status changes.")
def record_freshness_job() -> None:
    record_report_freshness()


def freshness_run(verdicts: list[dict[str, Any]], now: datetime) -> RunRequest:
    config = FreshnessVerdicts(verdicts_json=json.dumps(verdicts, sort_keys=True))
    stale = sorted(v["fabric"] for v in verdicts if not v["passed"] and v.get("check", REPORT_FRESH) == REPORT_FRESH)
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
        asset=DRIFT_REPORT, name=IN_SYNC, partitions_def=fabrics,
        description="Passes while the fabric's cluster matches Git. Drift fails it with severity WARN; "
                    "critical drift, or a status unknown (Git or the cluster could not be read), with "
                    "ERROR. Recorded with every new drift_report of the fabric; its metadata holds the "
                    "fabric's recent reports.",
    )
    def in_sync(context: AssetCheckExecutionContext, fleet: FleetResource) -> AssetCheckResult:
        fabric = _one_fabric(context)
        return _result(in_sync_outcome(_stored_report(fleet, context, fabric)))

    @asset_check(
        asset=DRIFT_REPORT, name=NO_CRITICAL_DRIFT, partitions_def=fabrics,
        description="Fails while the fabric's cluster has critical drift (a Switch, Connection or VPC "
                    "missing or extra), or while its status is unknown. Recorded with every new "
                    "drift_report of the fabric.",
    )
    def no_critical_drift(context: AssetCheckExecutionContext, fleet: FleetResource) -> AssetCheckResult:
        fabric = _one_fabric(context)
        return _result(critical_drift_outcome(_stored_report(fleet, context, fabric)))

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


    @asset_check(
        asset=DRIFT_REPORT, name=FLEET_IN_SYNC,
        description="The whole fleet's worst: fails with ERROR while any fabric is unknown or critically "
                    "drifted, with WARN while any is drifted; names them. This is the check the Catalog's "
                    "health of drift_report follows. Recorded by the fleet_watch sensor when it changes.",
    )
    def fleet_in_sync(context: AssetCheckExecutionContext, fleet: FleetResource) -> AssetCheckResult:
        from hedgehog_sync.defs.fleet import fleet_now  # fleet.py builds on this module

        return _result(fleet_outcome(fleet_now(context.instance, fleet)))


def _stored_report(fleet: FleetResource, context: AssetCheckExecutionContext, fabric: str) -> dict[str, Any]:
    report = fleet.report_store(context.instance).latest_report(fabric)
    if report is None:
        raise Failure(f"fabric {fabric} has no report yet", allow_retries=False)
    return report


drift_report_checks = [in_sync, no_critical_drift, report_fresh, fleet_in_sync]
