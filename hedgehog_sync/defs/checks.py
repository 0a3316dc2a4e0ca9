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

import json
import warnings
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
from hedgehog_sync.defs.partitions import FABRICS_PARTITION, fabrics
from hedgehog_sync.defs.resources import FleetResource
# The verdicts themselves are plain data in the domain; importable from here as before.
from hedgehog_sync.domain.check_outcomes import (  # noqa: F401
    FLEET_IN_SYNC, FRESH_CYCLES, IN_SYNC_CHECK, MAX_CAUSE, MAX_NAMED, NO_CRITICAL_DRIFT, REPORT_FRESH, CheckOutcome,
    critical_drift_outcome, fleet_outcome, freshness_outcome, in_sync_outcome, unknown_cause,
)
from hedgehog_sync.domain.fleet_rows import fleet_view
from hedgehog_sync.domain.health import health_score, parse_time
from hedgehog_sync.domain.priority import schedule_for
from hedgehog_sync.domain.report import utc_iso

IN_SYNC = IN_SYNC_CHECK  # the check's name (the status word is domain.vocabulary.IN_SYNC_STATUS)


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
        record = fleet.state_store(context.instance).health(fabric)
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
        return _result(fleet_outcome(fleet_now(context.instance, fleet)))


def fleet_now(instance: DagsterInstance, fleet: FleetResource) -> list[dict[str, Any]]:
    """The fleet summary rows as of now (fabrics without a report yet count from now). Here rather
    than in defs/fleet.py, which builds on this module, so neither imports the other lazily."""
    rows, _ = fleet_view(fleet.load_inventory().fabrics, instance.get_dynamic_partitions(FABRICS_PARTITION),
                         fleet.state_store(instance).fleet_rows(), {}, datetime.now(timezone.utc))
    for row in rows:
        row.pop("_freshness", None)
    return rows


def _stored_report(fleet: FleetResource, context: AssetCheckExecutionContext, fabric: str) -> dict[str, Any]:
    report = fleet.state_store(context.instance).latest_report(fabric)
    if report is None:
        raise Failure(f"fabric {fabric} has no report yet", allow_retries=False)
    return report


drift_report_checks = [in_sync, no_critical_drift, report_fresh, fleet_in_sync]
