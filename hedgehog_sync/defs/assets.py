"""git_state, k8s_state and drift_report per fabric, computed in batches, recorded only on change."""


import time
from dataclasses import dataclass
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from typing import Any, Iterator

from dagster import (
    AssetCheckEvaluation, AssetExecutionContext, AssetMaterialization, AssetSpec, BackfillPolicy, Backoff,
    Failure, Jitter, MetadataValue, RetryPolicy, multi_asset,
)

from hedgehog_sync.cycle import (
    DRIFT_REPORT, GIT_STATE, K8S_STATE, FabricOutcome, sync_fabric_with_retries,
)
from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.checks import (
    NO_CRITICAL_DRIFT, REPORT_FRESH, critical_drift_outcome, evaluation, freshness_outcome, latest_report,
)
from hedgehog_sync.defs.fleet import fleet_row, merge_rows
from hedgehog_sync.defs.partitions import fabrics
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.defs.tables import CHANGED_RESOURCE_COLUMNS, changed_resources_frame, table_metadata
from hedgehog_sync.domain.health import health_score, parse_time
from hedgehog_sync.domain.inventory import FabricConfig
from hedgehog_sync.domain.metrics import RunStats, roll_up
from hedgehog_sync.domain.priority import Schedule, schedule_for
from hedgehog_sync.domain.recovery import CycleResult, FabricHealthRecord, RecoveryPolicy, record_cycle
from hedgehog_sync.domain.render import SourceLinks, report_markdown
from hedgehog_sync.store import ReportStore

DATA_VERSION_TAG = "dagster/data_version"
GROUP = "fabric_drift"
SCHEDULER_METRICS = "scheduler_metrics"
HEALTH_VERSION = "health"
OWNERS = ["team:netops"]

git_state_spec = AssetSpec(
    GIT_STATE, partitions_def=fabrics, skippable=True, group_name=GROUP, owners=OWNERS,
    kinds={"git", "yaml"},
    description="Desired Hedgehog resources of a fabric, read from its GitOps repository at the "
                "commit its ref points to. Recorded when the commit (or what it parses to) changes.",
)
k8s_state_spec = AssetSpec(
    K8S_STATE, partitions_def=fabrics, skippable=True, group_name=GROUP, owners=OWNERS,
    kinds={"kubernetes"},
    description="Live Hedgehog resources of a fabric, listed from its Kubernetes API. Recorded when "
                "the live objects change (ignoring server bookkeeping such as resourceVersion).",
)
drift_report_spec = AssetSpec(
    DRIFT_REPORT, partitions_def=fabrics, skippable=True, group_name=GROUP, owners=OWNERS,
    deps=[GIT_STATE, K8S_STATE], kinds={"pandas"},
    description="What differs between a fabric's Git and its cluster: per-resource state "
                "(modified/missing/extra), JSON-pointer changes, severity, score and drift_since. "
                "Status is unknown whenever a side could not be read completely. Each materialization "
                "shows a summary, a table of the changed resources (worst first, each with its file in "
                "Git), numbers that plot (counts, score, health, duration) and the commit.",
)

# Unpartitioned, reported by every sync run: the fleet-level "checked" record that costs one event.
scheduler_metrics_spec = AssetSpec(
    SCHEDULER_METRICS, group_name="fleet", owners=OWNERS, kinds={"dagster"},
    description="What each sync run did: duration, queue wait, fabrics checked/changed/failed, and "
                "success rate and means over the last 100 runs. Reset with `hedgehog-sync metrics --reset`.",
)


def _metrics_metadata(m: dict[str, Any]) -> dict[str, Any]:
    last = m["last_run"]
    return {
        "duration_s": MetadataValue.float(float(last["duration_s"])),
        "queue_wait_s": MetadataValue.float(float(last["queue_wait_s"])),
        "checked": MetadataValue.int(last["checked"]),
        "changed": MetadataValue.int(last["changed"]),
        "failed": MetadataValue.int(last["failed"]),
        "success_rate": MetadataValue.float(float(m["success_rate"])),
        "mean_duration_s": MetadataValue.float(float(m["mean_duration_s"])),
        "runs_total": MetadataValue.int(m["runs_total"]),
        "fabrics_checked_total": MetadataValue.int(m["fabrics_checked_total"]),
    }


def _queue_wait(context: AssetExecutionContext) -> float:
    record = context.instance.get_run_record_by_id(context.run.run_id)
    if record is None or record.start_time is None:
        return 0.0
    return max(0.0, record.start_time - record.create_timestamp.timestamp())


def _git_metadata(o: FabricOutcome) -> dict[str, Any]:
    d = o.desired
    assert d is not None
    errors = sum(1 for f in d.findings if f.level == "error")
    return {
        "commit": MetadataValue.text(d.commit),
        "ref": MetadataValue.text(d.ref),
        "commit_message": MetadataValue.text(d.commit_message),
        "commit_author": MetadataValue.text(d.commit_author),
        "resources": MetadataValue.int(len(d.objects)),
        "files": MetadataValue.int(len({s for s, _ in d.sources})),
        "file_errors": MetadataValue.int(errors),
        "file_warnings": MetadataValue.int(len(d.findings) - errors),
    }


def _live_metadata(o: FabricOutcome) -> dict[str, Any]:
    live = o.live
    assert live is not None
    return {
        "server": MetadataValue.text(live.server),
        "resources": MetadataValue.int(len(live.objects)),
        "complete": MetadataValue.bool(live.complete),
        "findings": MetadataValue.int(len(live.findings)),
    }


# Every materialization's metadata is stored in the event log: keep one fabric's bounded.
MAX_RESOURCES_IN_METADATA = 200


def _bounded(report: dict[str, Any]) -> dict[str, Any]:
    """The report with its long lists cut (drift carried through an outage can be long too)."""
    out = dict(report)
    for key in ("resources", "unchecked_drift"):
        items = report.get(key) or []
        if len(items) > MAX_RESOURCES_IN_METADATA:
            out[key] = items[:MAX_RESOURCES_IN_METADATA]
            out[f"{key}_omitted"] = len(items) - MAX_RESOURCES_IN_METADATA
    return out


def _links(cfg: FabricConfig) -> SourceLinks:
    return SourceLinks(git_url=cfg.git.url, git_path=cfg.git.path, kube_context=cfg.kubernetes.context)


def _report_metadata(o: FabricOutcome, links: SourceLinks) -> dict[str, Any]:
    r = o.report
    s = r["summary"]
    git = r["git"]
    return {
        # First what a person reads, then the table, then numbers that plot over time.
        "summary": MetadataValue.md(report_markdown(r, links=links)),
        "changed_resources": table_metadata(changed_resources_frame(r), CHANGED_RESOURCE_COLUMNS,
                                            limit=MAX_RESOURCES_IN_METADATA),
        "status": MetadataValue.text(r["status"]),
        "severity": MetadataValue.text(r["severity"]),
        "score": MetadataValue.float(float(r["score"])),
        "in_sync": MetadataValue.int(s["in_sync"]),
        "modified": MetadataValue.int(s["modified"]),
        "missing": MetadataValue.int(s["missing"]),
        "extra": MetadataValue.int(s["extra"]),
        "errors": MetadataValue.int(len(r["errors"])),
        "warnings": MetadataValue.int(len(r.get("warnings", []))),
        "git_resources": MetadataValue.int(git.get("resources") or 0),
        "live_resources": MetadataValue.int(r["cluster"].get("resources") or 0),
        "commit": MetadataValue.text(git.get("commit") or ""),
        "commit_message": MetadataValue.text(git.get("message") or ""),
        "commit_author": MetadataValue.text(git.get("author") or ""),
        "ref": MetadataValue.text(git.get("ref") or ""),
        "drift_since": MetadataValue.text(r["drift_since"] or ""),
        "duration_s": MetadataValue.float(round(o.duration_s, 3)),
        "attempts": MetadataValue.int(o.attempts),
        "retry_wait_s": MetadataValue.float(round(o.waited_s, 3)),
        "report": MetadataValue.json(_bounded(r)),
    }


def _health_metadata(h: "FabricHealth") -> dict[str, Any]:
    return {
        "health": MetadataValue.float(h.score),
        "isolated": MetadataValue.bool(h.record.isolated),
        "escalated": MetadataValue.bool(h.record.escalated),
        "priority": MetadataValue.text(h.schedule.configured),
        "effective_priority": MetadataValue.text(h.schedule.priority),
        "consecutive_failures": MetadataValue.int(h.record.consecutive_failures),
        "failure_rate": MetadataValue.float(round(h.record.failure_rate, 4)),
    }


def _events(o: FabricOutcome, health: "FabricHealth", links: SourceLinks) -> Iterator[AssetMaterialization]:
    builders = ((GIT_STATE, o.desired is not None, _git_metadata),
                (K8S_STATE, o.live is not None, _live_metadata),
                (DRIFT_REPORT, True, lambda o: {**_report_metadata(o, links), **_health_metadata(health)}))
    for asset, readable, metadata in builders:
        # A health change (isolation, escalation, a falling score) is a new point in the report's history.
        moved = asset in o.changed or (asset == DRIFT_REPORT and HEALTH_VERSION in o.changed)
        if readable and moved:
            yield AssetMaterialization(asset, partition=o.fabric, metadata=metadata(o),
                                       tags={DATA_VERSION_TAG: o.versions[asset]})


def _checks(o: FabricOutcome, health: "FabricHealth", context: AssetExecutionContext) -> list[AssetCheckEvaluation]:
    """drift_report's checks for the report just recorded (and written: log_event writes at once)."""
    target = latest_report(context.instance, o.fabric)
    fresh = freshness_outcome(o.fabric, parse_time(health.record.last_cycle_at), health.schedule.interval_seconds,
                              datetime.now(timezone.utc))
    return [evaluation(NO_CRITICAL_DRIFT, o.fabric, critical_drift_outcome(o.report), target),
            evaluation(REPORT_FRESH, o.fabric, fresh, target)]


@dataclass(frozen=True)
class FabricHealth:
    score: float
    record: FabricHealthRecord
    schedule: Schedule
    row: dict[str, Any]  # the fabric's line in the fleet summary


def _record_health(o: FabricOutcome, cfg: FabricConfig, store: ReportStore, policy: RecoveryPolicy,
                   alerts: AlertSink, context: AssetExecutionContext) -> FabricHealth:
    """Fold the cycle into the fabric's health record, raise its alerts, and version the result."""
    now = datetime.now(timezone.utc)
    result = CycleResult.from_report(o.report, o.git_error, o.cluster_error,
                                     o.live.objects if o.live else None)
    record, raised = record_cycle(store.health(o.fabric), result, now, policy)
    store.save_health(o.fabric, record)
    for alert in raised:
        alerts.send(alert, context.log)
    score = health_score(record, now)
    version = f"{score:.2f}/{record.isolated}/{record.escalated}"
    if o.versions.get(HEALTH_VERSION) != version:
        o.versions[HEALTH_VERSION] = version
        o.changed.add(HEALTH_VERSION)
    schedule = schedule_for(cfg.priority, score, record.isolated, record.escalated)
    return FabricHealth(score, record, schedule, fleet_row(o.report, record, score, schedule))


@multi_asset(
    name="fabric_sync",
    specs=[git_state_spec, k8s_state_spec, drift_report_spec],
    backfill_policy=BackfillPolicy.single_run(),
    # For a step that crashed (storage hiccup, a bug): per-fabric read errors are retried inside the
    # batch instead, and end in Failure(allow_retries=False), so a broken fabric never storms.
    retry_policy=RetryPolicy(max_retries=2, delay=5, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS),
    description="Sync a batch of fabrics: read Git and the cluster of each, in parallel, and record "
                "what changed. One fabric's failure never stops the others.",
)
def fabric_sync(context: AssetExecutionContext, fleet: FleetResource, alerts: AlertSink) -> Iterator[Any]:
    inventory = fleet.load_inventory()
    by_name = inventory.by_name()
    keys = context.partition_keys
    todo = []
    for key in keys:
        cfg = by_name.get(key)
        if cfg is None:
            context.log.warning(f"fabric {key} is not (validly) in {inventory.path}; skipped")
        elif not cfg.enabled:
            context.log.info(f"fabric {key} is disabled in the inventory; skipped")
        else:
            todo.append(cfg)
    started = time.monotonic()
    store = fleet.report_store(context.instance)
    reader = fleet.reader(context.instance)
    policy = fleet.recovery_policy()
    # Retries inside the batch stop well before the run's budget: the next cycle tries again anyway.
    deadline = started + 0.8 * fleet.run_budget_seconds
    failed: list[FabricOutcome] = []
    rows: dict[str, dict[str, Any]] = {}
    recorded = changed_fabrics = 0
    try:
        with ThreadPoolExecutor(max_workers=fleet.workers, thread_name_prefix="fabric") as pool:
            futures = [pool.submit(sync_fabric_with_retries, cfg, reader, store, policy, deadline)
                       for cfg in todo]
            for done, future in enumerate(as_completed(futures), start=1):
                outcome = future.result()
                cfg = by_name[outcome.fabric]
                health = _record_health(outcome, cfg, store, policy, alerts, context)
                rows[outcome.fabric] = health.row
                if outcome.attempts > 1:
                    context.log.info(f"fabric {outcome.fabric}: {outcome.attempts} attempts, "
                                     f"waited {outcome.waited_s:.1f} s (backoff / Retry-After)")
                events = list(_events(outcome, health, _links(cfg)))
                for event in events:
                    context.log_event(event)
                if any(e.asset_key.path == [DRIFT_REPORT] for e in events):  # checks go with each new report
                    for result in _checks(outcome, health, context):
                        context.log_event(result)
                recorded += len(events)
                changed_fabrics += bool(events)
                store.save_versions(outcome.fabric, outcome.versions)
                if outcome.failed:
                    failed.append(outcome)
                    context.log.warning(f"fabric {outcome.fabric}: status unknown: "
                                        + "; ".join(e["message"] for e in outcome.report["errors"]))
                if done % 50 == 0 or done == len(futures):
                    context.log.info(f"{done}/{len(futures)} fabrics checked, {recorded} changes recorded")
    finally:
        reader.close()
        if rows:  # no event: the fleet_watch sensor records fleet_summary when the table changed
            fleet.fleet_rows(context.instance).update(lambda doc: merge_rows(doc, rows))
    stats = RunStats(run_id=context.run.run_id, finished_at=datetime.now(timezone.utc).isoformat(),
                     duration_s=round(time.monotonic() - started, 3), queue_wait_s=round(_queue_wait(context), 3),
                     checked=len(todo), changed=changed_fabrics, failed=len(failed))
    metrics = fleet.metrics_store(context.instance).update(lambda m: roll_up(m, stats))
    context.log_event(AssetMaterialization(SCHEDULER_METRICS, metadata=_metrics_metadata(metrics)))
    if failed:
        names = ", ".join(sorted(o.fabric for o in failed))
        raise Failure(
            description=f"{len(failed)} of {len(todo)} fabrics could not be read completely: {names}. "
                        "Their drift_report says status unknown; the last good report is kept.",
            allow_retries=False,
        )
    if False:  # pragma: no cover - outputs are skippable: changes are recorded as events above
        yield
