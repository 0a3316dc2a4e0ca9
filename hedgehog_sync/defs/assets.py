"""git_state, k8s_state and drift_report per fabric, computed in batches, recorded only on change."""


import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass, replace
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Optional

from dagster import (
    BetaWarning,
    AssetCheckEvaluation, AssetKey, AssetMaterialization, AssetsDefinition, AssetSpec, BackfillPolicy, Backoff, Failure,
    In, InputContext, IOManager, Jitter, MetadataValue, OpExecutionContext, Out, Output, OutputContext, GraphOut,
    RetryPolicy, graph, io_manager, op,
)

from hedgehog_sync.cycle import (
    DRIFT_REPORT, GIT_STATE, K8S_STATE, FabricOutcome, SideRead, compare_fabric, contained_outcome,
    read_cluster_side, read_git_side,
)
from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.checks import (
    IN_SYNC, NO_CRITICAL_DRIFT, REPORT_FRESH, critical_drift_outcome, evaluation, freshness_outcome, in_sync_outcome,
    latest_report, unknown_cause,
)
from hedgehog_sync.defs.history import recent_reports_markdown, report_label
from hedgehog_sync.defs.fleet import fleet_row, merge_rows
from hedgehog_sync.defs.partitions import fabrics
from hedgehog_sync.defs.pools import GIT_POOL, KUBERNETES_POOL
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.defs.tables import CHANGED_RESOURCE_COLUMNS, changed_resources_frame, table_metadata
from hedgehog_sync.domain.errors import InventoryError
from hedgehog_sync.domain.health import health_score, parse_time
from hedgehog_sync.domain.inventory import FabricConfig
from hedgehog_sync.domain.metrics import RunStats, roll_up
from hedgehog_sync.domain.model import DesiredState, LiveState
from hedgehog_sync.domain.priority import Schedule, schedule_for
from hedgehog_sync.domain.recovery import Alert, CycleResult, FabricHealthRecord, RecoveryPolicy, record_cycle
from hedgehog_sync.domain.redaction import redact
from hedgehog_sync.domain.render import SourceLinks, report_markdown
from hedgehog_sync.store import ReportStore

DATA_VERSION_TAG = "dagster/data_version"
GROUP = "fabric_drift"
SCHEDULER_METRICS = "scheduler_metrics"
HEALTH_VERSION = "health"
OWNERS = ["team:netops"]

KINDS = {GIT_STATE: {"git", "yaml"}, K8S_STATE: {"kubernetes"}, DRIFT_REPORT: {"pandas"}}
DESCRIPTIONS = {
    GIT_STATE: "Desired Hedgehog resources of a fabric, read from its GitOps repository at the commit "
               "its ref points to. Recorded when the commit (or what it parses to) changes.",
    K8S_STATE: "Live Hedgehog resources of a fabric, listed from its Kubernetes API. Recorded when the "
               "live objects change (ignoring server bookkeeping such as resourceVersion).",
    DRIFT_REPORT: "What differs between a fabric's Git and its cluster: per-resource state "
                  "(modified/missing/extra), JSON-pointer changes, severity, score and drift_since. "
                  "Status is unknown whenever a side could not be read completely. Each materialization "
                  "shows a summary, a table of the changed resources (worst first, each with its file in "
                  "Git), numbers that plot (counts, score, health, duration) and the commit.",
}

# Unpartitioned, reported by every sync run: the fleet-level "checked" record that costs one event.
scheduler_metrics_spec = AssetSpec(
    SCHEDULER_METRICS, group_name="fleet", owners=OWNERS, kinds={"dagster"},
    description="What each sync run did: duration, queue wait, fabrics checked/changed/failed; over the "
                "last 100 runs, fabric_check_success_rate (share of fabric checks whose fabric could be "
                "read and compared), clean_run_rate (share of runs in which every fabric could) and "
                "means. Reset with `hedgehog-sync metrics --reset`.",
)


def _metrics_metadata(m: dict[str, Any]) -> dict[str, Any]:
    last = m["last_run"]
    return {
        "duration_s": MetadataValue.float(float(last["duration_s"])),
        "queue_wait_s": MetadataValue.float(float(last["queue_wait_s"])),
        "checked": MetadataValue.int(last["checked"]),
        "changed": MetadataValue.int(last["changed"]),
        "failed": MetadataValue.int(last["failed"]),
        "fabric_check_success_rate": MetadataValue.float(float(m.get("fabric_check_success_rate",
                                                                      m["success_rate"]))),
        "clean_run_rate": MetadataValue.float(float(m.get("clean_run_rate", m["success_rate"]))),
        "mean_duration_s": MetadataValue.float(float(m["mean_duration_s"])),
        "runs_total": MetadataValue.int(m["runs_total"]),
        "fabrics_checked_total": MetadataValue.int(m["fabrics_checked_total"]),
    }


def _run_started(context: OpExecutionContext) -> float | None:
    record = context.instance.get_run_record_by_id(context.run.run_id)
    return record.start_time if record is not None else None


def _queue_wait(context: OpExecutionContext) -> float:
    record = context.instance.get_run_record_by_id(context.run.run_id)
    if record is None or record.start_time is None:
        return 0.0
    return max(0.0, record.start_time - record.create_timestamp.timestamp())


def _git_metadata(d: DesiredState) -> dict[str, Any]:
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


def _live_metadata(live: LiveState) -> dict[str, Any]:
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
    from hedgehog_sync.domain.plan import plan_markdown  # issue 17: the remediation plan beside the report

    r = o.report
    s = r["summary"]
    git = r["git"]
    return {
        # First what a person reads, then the table, then numbers that plot over time.
        "summary": MetadataValue.md(report_markdown(r, links=links)),
        "changed_resources": table_metadata(changed_resources_frame(r), CHANGED_RESOURCE_COLUMNS,
                                            limit=MAX_RESOURCES_IN_METADATA),
        "plan": MetadataValue.md(plan_markdown(o.plan)),
        "plan_version": MetadataValue.text(r.get("plan_version") or ""),
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


def _report_event(o: FabricOutcome, health: "FabricHealth", links: SourceLinks) -> AssetMaterialization | None:
    """drift_report's new point, if the report moved or the fabric's health did (isolation,
    escalation, a falling score are points in the report's history too). Its description is the
    label the asset's event list shows on each row: status, severity, counts, score, health."""
    if DRIFT_REPORT not in o.changed and HEALTH_VERSION not in o.changed:
        return None
    r = o.report
    cause = unknown_cause(r) if r["status"] == "unknown" else None
    return AssetMaterialization(DRIFT_REPORT, partition=o.fabric,
                                description=report_label(r["status"], r["severity"], r["summary"], float(r["score"]),
                                                         health.score, cause),
                                metadata={**_report_metadata(o, links), **_health_metadata(health)},
                                tags={DATA_VERSION_TAG: o.versions[DRIFT_REPORT]})


def _checks(o: FabricOutcome, health: "FabricHealth", context: OpExecutionContext) -> list[AssetCheckEvaluation]:
    """drift_report's checks for the report just recorded (and written: log_event writes at once);
    `in_sync` carries the fabric's recent reports, its trend in one table."""
    target = latest_report(context.instance, o.fabric)
    fresh = freshness_outcome(o.fabric, parse_time(health.record.last_cycle_at), health.schedule.interval_seconds,
                              datetime.now(timezone.utc))
    verdict = in_sync_outcome(o.report)
    trend = recent_reports_markdown(context.instance, o.fabric)
    if trend:
        verdict = replace(verdict, metadata={**verdict.metadata, "recent_reports": MetadataValue.md(trend)})
    return [evaluation(IN_SYNC, o.fabric, verdict, target),
            evaluation(NO_CRITICAL_DRIFT, o.fabric, critical_drift_outcome(o.report), target),
            evaluation(REPORT_FRESH, o.fabric, fresh, target)]


@dataclass(frozen=True)
class FabricHealth:
    score: float
    record: FabricHealthRecord
    schedule: Schedule
    row: dict[str, Any]  # the fabric's line in the fleet summary


def _fold_health(o: FabricOutcome, cfg: FabricConfig, store: ReportStore, policy: RecoveryPolicy,
                 cycle: str, fingerprint: str | None) -> tuple[FabricHealth, list[Alert]]:
    """Fold the cycle into the fabric's health record and version the result; nothing is saved yet.

    `cycle` is the run's root run id: a run retry of the same batch replaces that cycle's outcome
    in the record instead of counting as another failed cycle."""
    now = datetime.now(timezone.utc)
    result = CycleResult.from_report(o.report, o.git_error, o.cluster_error,
                                     o.live.objects if o.live else None, compare_error=o.compare_error)
    record, raised = record_cycle(store.health(o.fabric), result, now, policy, cycle_id=cycle,
                                  fingerprint=fingerprint)
    score = health_score(record, now)
    version = f"{score:.2f}/{record.isolated}/{record.escalated}"
    if o.versions.get(HEALTH_VERSION) != version:
        o.versions[HEALTH_VERSION] = version
        o.changed.add(HEALTH_VERSION)
    schedule = schedule_for(cfg.priority, score, record.isolated, record.escalated)
    return FabricHealth(score, record, schedule, fleet_row(o.report, record, score, schedule)), raised


def fabric_fingerprint(cfg: FabricConfig) -> str:
    """A digest of what decides whether a fabric can be read: its inventory entry, its kubeconfig
    file's content and its Git token's value. Only a digest is kept: no secret is stored or shown,
    and a changed one tells the schedule to probe an isolated fabric again at once."""
    h = hashlib.sha256(json.dumps(cfg.model_dump(mode="json"), sort_keys=True, default=str).encode())
    if cfg.kubernetes.kubeconfig:
        try:
            with open(cfg.kubernetes.kubeconfig, "rb") as f:
                h.update(b"\0kubeconfig\0" + f.read(FINGERPRINT_READ_LIMIT))
        except OSError as exc:
            h.update(f"\0kubeconfig-unreadable\0{type(exc).__name__}".encode())
    token_env = getattr(cfg.git, "token_env", None)
    if token_env:
        h.update(b"\0token\0" + (os.environ.get(token_env) or "").encode())
    return h.hexdigest()[:24]


def _fingerprint_or_none(cfg: FabricConfig) -> str | None:
    try:
        return fabric_fingerprint(cfg)
    except Exception:  # only a hint for the schedule: never what stops a fabric from being compared
        return None


FINGERPRINT_READ_LIMIT = 1 << 20  # a kubeconfig is a few KiB; read no more than this of one


# Snapshots go from the I/O steps to the compare step in memory: the three steps run in one process
# (in-process executor, for the schedule's job and for the UI's implicit asset job alike), and a
# crashed run is re-run from its first step (RETRY_ALL_STEPS_TAGS). Where a step's output is not in
# this process (a re-execution from failure, or another executor picked in the launchpad), the
# compare step reads that side itself: the run is slower, never wrong.
HANDOFF_IO = "fabric_sync_handoff"
RETRY_ALL_STEPS_TAGS = {"dagster/retry_strategy": "ALL_STEPS"}
# Crashed steps only (storage hiccup, a bug): a fabric's own read errors are retried inside its step
# and end in its report (status unknown), so a broken fabric never fails or storms a run.
STEP_RETRY = RetryPolicy(max_retries=2, delay=5, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)


# The job the UI's Materialize button, its backfills and `hedgehog-sync recheck` launch (Dagster's
# implicit asset job). A person asked for these fabrics: each one read is recorded, changed or not,
# so the asset shows the new point and a backfill counts the partition as materialized.
ASKED_BY_A_PERSON_JOB = "__ASSET_JOB"


def _record_every_fabric(context: OpExecutionContext) -> bool:
    return context.job_name == ASKED_BY_A_PERSON_JOB


class _InMemoryHandoff(IOManager):
    """Keeps step outputs in this process; a miss loads as None (the consumer reads it again)."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, ...], Any] = {}

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self._values[tuple(context.get_identifier())] = obj

    def load_input(self, context: InputContext) -> Any:
        return self._values.get(tuple(context.upstream_output.get_identifier()))


@io_manager(description="Hands a batch's snapshots from the read steps to the compare step, in memory.")
def handoff_io_manager(_) -> _InMemoryHandoff:
    return _InMemoryHandoff()


@dataclass
class BatchReads:
    """What an I/O step read of its batch: one SideRead per fabric, with the configs it used."""

    configs: dict[str, FabricConfig]
    reads: dict[str, SideRead]


def _batch(context: OpExecutionContext, fleet: FleetResource, announce: bool) -> list[FabricConfig]:
    """The run's fabrics that are in the inventory and enabled (said once per run, by the first step)."""
    try:
        inventory = fleet.load_inventory()
    except InventoryError as exc:  # permanent: retrying the step cannot fix the file
        raise Failure(description=f"{type(exc).__name__}: {exc}", allow_retries=False) from None
    by_name = inventory.by_name()
    todo = []
    for key in context.partition_keys:
        cfg = by_name.get(key)
        if cfg is None:
            if announce:
                context.log.warning(f"fabric {key} is not (validly) in {inventory.path}; skipped")
        elif not cfg.enabled:
            if announce:
                context.log.info(f"fabric {key} is disabled in the inventory; skipped")
        else:
            todo.append(cfg)
    return todo


def _deadline(context: OpExecutionContext, fleet: FleetResource) -> float:
    """time.monotonic() at which in-batch retries stop: well before the run's budget runs out."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    started = record.start_time if record is not None and record.start_time else time.time()
    return time.monotonic() + started + 0.8 * fleet.run_budget_seconds - time.time()


def _failure_text(error: Exception) -> str:
    """An expected failure as a person reads it: its cause first, no stack trace, no secret."""
    return redact(f"{type(error).__name__}: {error}")


def _read_batch(context: OpExecutionContext, fleet: FleetResource, asset: str, announce: bool,
                read: Callable[..., SideRead], metadata: Callable[[Any], dict[str, Any]]) -> BatchReads:
    """Read one side of every fabric of the batch, in parallel within the pool's slots; record the
    asset for each fabric whose data version moved. A fabric that cannot be read is a result (its
    report will say unknown), never an exception."""
    todo = _batch(context, fleet, announce)
    store = fleet.report_store(context.instance)
    reader = fleet.reader(context.instance)
    policy = fleet.recovery_policy()
    deadline = _deadline(context, fleet)
    every = _record_every_fabric(context)
    reads: dict[str, SideRead] = {}
    failed: dict[str, Exception] = {}
    recorded = 0
    try:
        with ThreadPoolExecutor(max_workers=fleet.workers, thread_name_prefix=asset) as pool:
            futures = {pool.submit(read, cfg, reader, policy, deadline): cfg.name for cfg in todo}
            for done, future in enumerate(as_completed(futures), start=1):
                fabric = futures[future]
                side = reads[fabric] = future.result()
                if side.error is not None:
                    failed[fabric] = side.error
                    context.log.warning(f"fabric {fabric}: {asset} not read: {_failure_text(side.error)}")
                elif side.attempts > 1:
                    context.log.info(f"fabric {fabric}: {asset} took {side.attempts} attempts, waited "
                                     f"{side.waited_s:.1f} s (backoff / Retry-After)")
                if side.value is not None and (every or store.versions(fabric).get(asset) != side.version):
                    context.log_event(AssetMaterialization(asset, partition=fabric, metadata=metadata(side.value),
                                                           tags={DATA_VERSION_TAG: side.version or ""}))
                    recorded += 1
                if done % 50 == 0 and done < len(futures):
                    context.log.info(f"{asset}: {done}/{len(futures)} fabrics tried, {len(failed)} failed so far")
    finally:
        reader.close()
    summary = f"{asset}: {len(reads) - len(failed)} read, {len(failed)} failed, {recorded} changed"
    if failed:
        named = "; ".join(f"{name}: {_failure_text(failed[name])}" for name in sorted(failed)[:MAX_NAMED_FAILURES])
        more = f"; and {len(failed) - MAX_NAMED_FAILURES} more" if len(failed) > MAX_NAMED_FAILURES else ""
        context.log.warning(f"{summary}: {named}{more}. Their drift_report says unknown; the run goes on.")
    else:
        context.log.info(summary)
    return BatchReads({c.name: c for c in todo}, reads)


MAX_NAMED_FAILURES = 10  # in one log line; each fabric's own line names its error in full


def _read_side(context: OpExecutionContext, fleet: FleetResource, asset: str, announce: bool,
               read: Callable[..., SideRead], metadata: Callable[[Any], dict[str, Any]]) -> Iterator[Output]:
    yield Output(_read_batch(context, fleet, asset, announce, read, metadata), "reads")


@op(pool=GIT_POOL, retry_policy=STEP_RETRY,
    out={GIT_STATE: Out(is_required=False), "reads": Out(io_manager_key=HANDOFF_IO)},
    description="Read each fabric's GitOps repository at its ref (in pool `git`).")
def read_git(context: OpExecutionContext, fleet: FleetResource) -> Iterator[Output]:
    yield from _read_side(context, fleet, GIT_STATE, True, read_git_side, _git_metadata)


@op(pool=KUBERNETES_POOL, retry_policy=STEP_RETRY,
    out={K8S_STATE: Out(is_required=False), "reads": Out(io_manager_key=HANDOFF_IO)},
    description="List each fabric's live Hedgehog resources from its Kubernetes API (in pool `kubernetes`).")
def read_kubernetes(context: OpExecutionContext, fleet: FleetResource) -> Iterator[Output]:
    yield from _read_side(context, fleet, K8S_STATE, False, read_cluster_side, _live_metadata)


def _record(context: OpExecutionContext, outcome: FabricOutcome, cfg: FabricConfig, store: ReportStore,
            policy: RecoveryPolicy, alerts: AlertSink, cycle: str, fingerprint: str | None) -> tuple[FabricHealth, bool]:
    """Keep one fabric's health, report event and check results; True when a report was recorded.
    Everything that can fail on the fabric's data (building metadata) runs before anything is kept."""
    health, raised = _fold_health(outcome, cfg, store, policy, cycle, fingerprint)
    event = _report_event(outcome, health, _links(cfg))
    store.save_health(outcome.fabric, health.record)
    for alert in raised:
        alerts.send(alert, context.log)
    if event is not None:
        context.log_event(event)
    # Checks go with each new report, and with every failed cycle: a fabric that could not be read
    # or compared has a failing check for its partition, also when its report did not move.
    if event is not None or outcome.failed:
        for result in _checks(outcome, health, context):
            context.log_event(result)
    return health, event is not None


def _compare_one(context: OpExecutionContext, cfg: FabricConfig, git: SideRead, cluster: SideRead,
                 store: ReportStore, policy: RecoveryPolicy, alerts: AlertSink, cycle: str,
                 fingerprint: str | None) -> tuple[FabricOutcome, FabricHealth, bool]:
    """Compare and record one fabric. Whatever fails on its data (comparing, rendering, recording)
    makes its report unknown, naming the error; the caller goes on with the next fabric."""
    outcome = compare_fabric(cfg, git, cluster, store)
    if _record_every_fabric(context):
        outcome.changed.add(DRIFT_REPORT)
    try:
        health, recorded = _record(context, outcome, cfg, store, policy, alerts, cycle, fingerprint)
    except Exception as exc:
        if outcome.compare_error is not None:
            raise  # the contained report failed too: not this fabric's data
        outcome = contained_outcome(outcome, exc, store, "recording")
        context.log.warning(f"fabric {cfg.name}: status unknown: {outcome.compare_error}")
        # The same cycle id: the health record replaces the half-recorded outcome, never counts it twice.
        health, recorded = _record(context, outcome, cfg, store, policy, alerts, cycle, fingerprint)
    return outcome, health, recorded


@op(retry_policy=STEP_RETRY, out={DRIFT_REPORT: Out(is_required=False)},
    ins={"git": In(Optional[BatchReads]), "cluster": In(Optional[BatchReads])},
    description="Compare both sides of each fabric, keep its report and health, record what changed. "
                "A fabric that cannot be read or compared is recorded as unknown; the run goes on.")
def compare(context: OpExecutionContext, fleet: FleetResource, alerts: AlertSink,
            git: Optional[BatchReads], cluster: Optional[BatchReads]) -> Iterator[Output]:
    started = time.monotonic()
    if git is None or cluster is None:
        context.log.info("the read steps' snapshots are not in this process (a re-execution, or another "
                         "executor): reading them here")
        git = git or _read_batch(context, fleet, GIT_STATE, True, read_git_side, _git_metadata)
        cluster = cluster or _read_batch(context, fleet, K8S_STATE, False, read_cluster_side, _live_metadata)
    store = fleet.report_store(context.instance)
    policy = fleet.recovery_policy()
    cycle = context.run.root_run_id or context.run.run_id
    fabrics_read = [name for name in git.configs if name in cluster.configs]
    for name in sorted(git.configs.keys() ^ cluster.configs.keys()):  # the inventory changed mid-run
        context.log.warning(f"fabric {name} was not read on both sides this run; the next cycle syncs it")
    failed: dict[str, str] = {}
    unrecorded: dict[str, str] = {}  # not even an unknown report could be kept for these
    rows: dict[str, dict[str, Any]] = {}
    recorded = changed_fabrics = 0
    try:
        for done, name in enumerate(fabrics_read, start=1):
            cfg = git.configs[name]
            try:
                outcome, health, new_report = _compare_one(context, cfg, git.reads[name], cluster.reads[name],
                                                           store, policy, alerts, cycle, _fingerprint_or_none(cfg))
            except Exception as exc:  # even the contained path failed: name it, keep going
                failed[name] = unrecorded[name] = _failure_text(exc)
                context.log.error(f"fabric {name}: could not be recorded: {failed[name]}")
                continue
            rows[name] = health.row
            recorded += new_report
            # git_state and k8s_state were recorded by their steps; this step records the report.
            changed_fabrics += bool(new_report or outcome.changed & {GIT_STATE, K8S_STATE})
            store.save_versions(name, outcome.versions)
            if outcome.failed:
                failed[name] = "; ".join(redact(str(e.get("message", ""))) for e in outcome.report["errors"]
                                         if e.get("error_class")) or "unknown"
            if done % 50 == 0 or done == len(fabrics_read):
                context.log.info(f"{done}/{len(fabrics_read)} fabrics compared, {recorded} reports recorded, "
                                 f"{len(failed)} could not be read or compared")
    finally:
        if rows:  # no event: the fleet_watch sensor records fleet_summary when the table changed
            fleet.fleet_rows(context.instance).update(lambda doc: merge_rows(doc, rows))
    if unrecorded and len(unrecorded) == len(fabrics_read):
        # Not one fabric could be kept, not even as unknown: the storage is what failed, not the fabrics.
        first = sorted(unrecorded)[0]
        raise Failure(description=f"no fabric of the batch could be recorded (storage?): {first}: {unrecorded[first]}")
    run_started = _run_started(context)
    stats = RunStats(run_id=context.run.run_id, finished_at=datetime.now(timezone.utc).isoformat(),
                     duration_s=round(time.time() - run_started if run_started else time.monotonic() - started, 3),
                     queue_wait_s=round(_queue_wait(context), 3),
                     checked=len(fabrics_read), changed=changed_fabrics, failed=len(failed))
    metrics = fleet.metrics_store(context.instance).update(lambda m: roll_up(m, stats))
    context.log_event(AssetMaterialization(SCHEDULER_METRICS, metadata=_metrics_metadata(metrics)))
    if failed:
        # A result, not a failure of the run: each of these has an unknown report and a failing check.
        named = "; ".join(f"{n}: {failed[n]}" for n in sorted(failed)[:MAX_NAMED_FAILURES])
        more = f"; and {len(failed) - MAX_NAMED_FAILURES} more" if len(failed) > MAX_NAMED_FAILURES else ""
        context.log.warning(f"{len(failed)} of {len(fabrics_read)} fabrics could not be read or compared, each "
                            f"recorded unknown: {named}{more}. The last good report of each is kept; the next "
                            "cycle tries again.")
    if False:  # pragma: no cover - outputs are skippable: changes are recorded as events above
        yield


@graph(name="fabric_sync", out={name: GraphOut() for name in (GIT_STATE, K8S_STATE, DRIFT_REPORT)})
def _fabric_sync_graph():
    """Sync a batch of fabrics: read Git (pool `git`) and the clusters (pool `kubernetes`), in
    parallel within each step, then compare and record what changed. One fabric's failure never
    stops the others."""
    git_state, git = read_git()
    k8s_state, cluster = read_kubernetes()
    drift_report = compare(git, cluster)
    return {GIT_STATE: git_state, K8S_STATE: k8s_state, DRIFT_REPORT: drift_report}


ASSETS = (GIT_STATE, K8S_STATE, DRIFT_REPORT)
with warnings.catch_warnings():  # resource_defs of from_graph is marked beta; it carries the handoff
    warnings.simplefilter("ignore", BetaWarning)
    fabric_sync = AssetsDefinition.from_graph(
        _fabric_sync_graph,
        keys_by_output_name={name: AssetKey(name) for name in ASSETS},
        # The report is computed from both snapshots, which reach it in memory rather than through the
        # asset outputs (those are recorded as events, only when they change): say so for the graph.
        internal_asset_deps={GIT_STATE: set(), K8S_STATE: set(),
                             DRIFT_REPORT: {AssetKey(GIT_STATE), AssetKey(K8S_STATE)}},
        partitions_def=fabrics,
        backfill_policy=BackfillPolicy.single_run(),
        resource_defs={HANDOFF_IO: handoff_io_manager},
        group_name=GROUP,
        descriptions_by_output_name=DESCRIPTIONS,
        owners_by_output_name={name: OWNERS for name in ASSETS},
        tags_by_output_name={name: {f"dagster/kind/{k}": "" for k in kinds} for name, kinds in KINDS.items()},
    )
