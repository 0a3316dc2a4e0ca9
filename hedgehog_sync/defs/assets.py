"""git_state, k8s_state and drift_report per fabric, computed in batches, recorded only on change."""


import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass, field, replace
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Optional

from dagster import (
    BetaWarning,
    AssetCheckEvaluation, AssetKey, AssetMaterialization, AssetsDefinition, AssetSpec, BackfillPolicy, Backoff, Failure,
    In, InputContext, IOManager, Jitter, MetadataValue, OpExecutionContext, Out, Output, OutputContext, GraphOut,
    RetryPolicy, graph, io_manager, op,
)

from hedgehog_sync.batch import FabricHealth, FabricResult, contain, sync_batch
from hedgehog_sync.cycle import (
    DRIFT_REPORT, GIT_STATE, K8S_STATE, FabricOutcome, SideRead, read_cluster_side, read_git_side,
)
from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.checks import IN_SYNC, evaluation, latest_report, unknown_cause
from hedgehog_sync.defs.history import recent_reports_markdown, report_label
from hedgehog_sync.defs.partitions import fabrics
from hedgehog_sync.domain.limits import GIT_POOL, KUBERNETES_POOL
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.defs.tables import CHANGED_RESOURCE_COLUMNS, changed_resources_frame, table_metadata
from hedgehog_sync.defs.worker import tune_run_worker
from hedgehog_sync.domain.errors import InventoryError
from hedgehog_sync.domain.inventory import FabricConfig
from hedgehog_sync.domain.metrics import RunStats, roll_up
from hedgehog_sync.domain.model import DesiredState, LiveState
from hedgehog_sync.domain.redaction import redact
from hedgehog_sync.domain.render import SourceLinks, report_markdown

DATA_VERSION_TAG = "dagster/data_version"
GROUP = "fabric_drift"
SCHEDULER_METRICS = "scheduler_metrics"
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


def _report_event(result: FabricResult) -> AssetMaterialization | None:
    """drift_report's new point, if the report moved or the fabric's health did (isolation,
    escalation, a falling score are points in the report's history too). Its description is the
    label the asset's event list shows on each row: status, severity, counts, score, health."""
    if not result.record_report:
        return None
    o, health, links = result.outcome, result.health, _links(result.config)
    r = o.report
    cause = unknown_cause(r) if r["status"] == "unknown" else None
    return AssetMaterialization(DRIFT_REPORT, partition=o.fabric,
                                description=report_label(r["status"], r["severity"], r["summary"], float(r["score"]),
                                                         health.score, cause),
                                metadata={**_report_metadata(o, links), **_health_metadata(health)},
                                tags={DATA_VERSION_TAG: o.versions[DRIFT_REPORT]})


def _checks(r: FabricResult, context: OpExecutionContext) -> list[AssetCheckEvaluation]:
    """drift_report's checks for the report just recorded (and written: log_event writes at once);
    `in_sync` carries the fabric's recent reports, its trend in one table."""
    target = latest_report(context.instance, r.fabric)
    verdicts = dict(r.checks)
    trend = recent_reports_markdown(context.instance, r.fabric)
    if trend:
        verdicts[IN_SYNC] = replace(verdicts[IN_SYNC], metadata={**verdicts[IN_SYNC].metadata,
                                                                 "recent_reports": MetadataValue.md(trend)})
    return [evaluation(name, r.fabric, verdict, target) for name, verdict in verdicts.items()]


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
    parses: dict[str, Any] = field(default_factory=dict)  # what Git reads parsed, written with the batch


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
    tune_run_worker(context.instance)  # once per run worker process (defs/worker.py)
    todo = _batch(context, fleet, announce)
    names = [cfg.name for cfg in todo]
    store = fleet.state_store(context.instance)
    stored = store.load(names)  # one query for the batch
    reader = fleet.reader(context.instance, store)
    if asset == GIT_STATE and reader.parses is not None:
        reader.parses.prime(store.load_parses(names), names)
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
                if side.value is not None and (every or stored[fabric].versions.get(asset) != side.version):
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
    parses = reader.parses.take_saved() if reader.parses is not None else {}
    return BatchReads({c.name: c for c in todo}, reads, parses)


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


def _log_fabric(context: OpExecutionContext, r: FabricResult) -> None:
    """The fabric's events: its report (when it is a new point) and its check results, which go
    with each new report and with every failed cycle (a fabric that could not be read or compared
    has a failing check for its partition, also when its report did not move)."""
    event = _report_event(r)
    if event is not None:
        context.log_event(event)
    if r.record_report or r.outcome.failed:
        for check in _checks(r, context):
            context.log_event(check)


def batch_configs(git: BatchReads, cluster: BatchReads) -> dict[str, FabricConfig]:
    """The fabrics either read step took, in the Git step's order: when the inventory changed between
    the two steps, a fabric only one of them read is named as "not read on both sides", whichever it is."""
    return {**git.configs, **{name: cfg for name, cfg in cluster.configs.items() if name not in git.configs}}


@op(retry_policy=STEP_RETRY, out={DRIFT_REPORT: Out(is_required=False)},
    ins={"git": In(Optional[BatchReads]), "cluster": In(Optional[BatchReads])},
    description="Compare both sides of each fabric, keep its report and health, record what changed. "
                "A fabric that cannot be read or compared is recorded as unknown; the run goes on.")
def compare(context: OpExecutionContext, fleet: FleetResource, alerts: AlertSink,
            git: Optional[BatchReads], cluster: Optional[BatchReads]) -> Iterator[Output]:
    started = time.monotonic()
    tune_run_worker(context.instance)
    if git is None or cluster is None:
        context.log.info("the read steps' snapshots are not in this process (a re-execution, or another "
                         "executor): reading them here")
        git = git or _read_batch(context, fleet, GIT_STATE, True, read_git_side, _git_metadata)
        cluster = cluster or _read_batch(context, fleet, K8S_STATE, False, read_cluster_side, _live_metadata)
    store = fleet.state_store(context.instance)
    policy = fleet.recovery_policy()
    cycle = context.run.root_run_id or context.run.run_id
    every = _record_every_fabric(context)
    now = datetime.now(timezone.utc)
    stored = store.load(git.configs)  # the batch's state, one query
    fingerprints = {name: _fingerprint_or_none(cfg) for name, cfg in git.configs.items()}

    def progress(done: int, total: int, batch: Any) -> None:
        if done % 50 == 0 and done < total:
            context.log.info(f"{done}/{total} fabrics compared, {len(batch.failed)} could not be read or compared")

    # The whole batch in plain Python: outcomes, health, alerts, checks, rows and the writes.
    batch = sync_batch(batch_configs(git, cluster), git.reads, cluster.reads, stored, policy, cycle, now,
                       fingerprints, record_every=every, parses=git.parses, progress=progress)
    for name in batch.not_read_on_both_sides:
        context.log.warning(f"fabric {name} was not read on both sides this run; the next cycle syncs it")
    # Events first, then one transaction: a run killed in between leaves the stored state as it was
    # and the next cycle records the change again (at least once, never lost).
    for name in list(batch.fabrics):
        r = batch.fabrics[name]
        try:
            _log_fabric(context, r)
        except Exception as exc:
            if r.outcome.compare_error is not None:
                batch.unrecorded[name] = _failure_text(exc)
                del batch.fabrics[name]
                continue
            try:
                r = batch.fabrics[name] = contain(r, exc, "recording", stored[name], policy, cycle, now,
                                                  fingerprints.get(name), every, git.parses)
                context.log.warning(f"fabric {name}: status unknown: {r.outcome.compare_error}")
                _log_fabric(context, r)
            except Exception as again:
                batch.unrecorded[name] = _failure_text(again)
                del batch.fabrics[name]
    for name, why in sorted(batch.unrecorded.items()):
        context.log.error(f"fabric {name}: could not be recorded: {why}")
    if batch.unrecorded and not batch.fabrics:
        # Not one fabric could be kept, not even as unknown: the storage is what failed, not the fabrics.
        first = sorted(batch.unrecorded)[0]
        raise Failure(description=f"no fabric of the batch could be recorded (storage?): {first}: "
                                  f"{batch.unrecorded[first]}")
    run_started = _run_started(context)
    stats = RunStats(run_id=context.run.run_id, finished_at=datetime.now(timezone.utc).isoformat(),
                     duration_s=round(time.time() - run_started if run_started else time.monotonic() - started, 3),
                     queue_wait_s=round(_queue_wait(context), 3),
                     checked=batch.checked, changed=batch.changed, failed=len(batch.failed))
    metrics: dict[str, Any] = {}

    def roll(current: dict[str, Any] | None) -> dict[str, Any]:
        metrics.update(roll_up(current, stats))
        return metrics

    store.commit(batch.writes(), metrics=roll)  # one transaction: every fabric before or after, never half
    for r in batch.fabrics.values():
        for alert in r.alerts:
            alerts.send(alert, context.log)
    context.log.info(f"{len(batch.fabrics)} fabrics compared, {batch.recorded} reports recorded, "
                     f"{len(batch.failed)} could not be read or compared")
    context.log_event(AssetMaterialization(SCHEDULER_METRICS, metadata=_metrics_metadata(metrics)))
    if batch.failed:
        # A result, not a failure of the run: each of these has an unknown report and a failing check.
        failed = batch.failed
        named = "; ".join(f"{n}: {failed[n]}" for n in sorted(failed)[:MAX_NAMED_FAILURES])
        more = f"; and {len(failed) - MAX_NAMED_FAILURES} more" if len(failed) > MAX_NAMED_FAILURES else ""
        context.log.warning(f"{len(failed)} of {batch.checked} fabrics could not be read or compared, each "
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
