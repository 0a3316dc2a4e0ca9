"""Every 60 seconds, every enabled fabric, in a few batched runs (never one run per fabric)."""

from dagster import (
    AssetSelection, DagsterInstance, DagsterRunStatus, DefaultScheduleStatus, RunRequest, RunsFilter,
    ScheduleEvaluationContext, SkipReason, define_asset_job, in_process_executor, schedule,
)

from hedgehog_sync.defs.assets import RETRY_ALL_STEPS_TAGS, fabric_fingerprint, fabric_sync
from hedgehog_sync.defs.pause import fabric_pauses, fleet_pause
from hedgehog_sync.defs.partitions import FABRICS_PARTITION
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.domain.batching import (  # noqa: F401  (seconds_per_fabric: importable from here as before)
    MIN_FABRICS_FOR_ESTIMATE, batch_size_for_budget, plan_batches, seconds_per_fabric,
)
from hedgehog_sync.domain.health import health_score, parse_time
from hedgehog_sync.domain.priority import (
    FabricPlanInput, describe_names, describe_skipped, due_by_run_priority, plan_tick, skipped_by_reason,
)
from hedgehog_sync.domain.errors import InventoryError
from hedgehog_sync.domain.vocabulary import IN_FLIGHT_RUN_STATUSES

PRIORITY_TAG = "dagster/priority"
MAX_RUNTIME_TAG = "dagster/max_runtime"
# A fabric checked at least 10 s before a tick is due at it: a cycle that took 40 s must not push its
# fabrics to every other tick (fabrics still in a queued or running sync are skipped anyway).
TICK_SLACK_SECONDS = 50.0
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

# Three steps in one process per run (read_git, read_kubernetes, compare): the in-process executor
# spares a Python start per step and hands the snapshots over in memory, so a crashed run is re-run
# from its first step. Without the asset checks: a run that selected them would plan a check row per
# fabric per run; the run logs their results itself, and only when there is news (defs/checks.py).
sync_fleet_job = define_asset_job(
    "sync_fleet", selection=AssetSelection.assets(fabric_sync).without_checks(), executor_def=in_process_executor,
    tags=RETRY_ALL_STEPS_TAGS, description="Sync a range of fabrics in one run.",
)


# A sync run still holding its fabrics (queued, starting, running, or being cancelled): the one
# definition, in the domain's words; the fast path and the soak use this list too.
IN_FLIGHT = [DagsterRunStatus(name) for name in IN_FLIGHT_RUN_STATUSES]


def fabrics_in_flight(instance: DagsterInstance, partition_keys: list[str]) -> set[str]:
    """Fabrics covered by a sync run that is queued, running or being cancelled: never start a
    second one on them."""
    busy: set[str] = set()
    index = {k: i for i, k in enumerate(partition_keys)}
    for record in instance.get_run_records(RunsFilter(job_name=sync_fleet_job.name, statuses=IN_FLIGHT)):
        tags = record.dagster_run.tags
        start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
        if start in index and end in index:
            busy.update(partition_keys[index[start]: index[end] + 1])
        elif tags.get("dagster/partition") in index:
            busy.add(tags["dagster/partition"])
    return busy


def batch_run_requests(partition_keys: list[str], wanted: set[str], batch_size: int,
                       tick: str, fill: set[str] = frozenset()) -> list[RunRequest]:
    """One RunRequest per contiguous range of wanted fabrics (with `fill` ones inside), at most
    batch_size each."""
    requests = []
    for start, end in plan_batches(partition_keys, wanted, batch_size, fill):
        requests.append(RunRequest(
            run_key=f"{tick}:{start}..{end}",
            tags={RANGE_START_TAG: start, RANGE_END_TAG: end, "hedgehog-sync/batch": f"{start}..{end}"},
        ))
    return requests


@schedule(
    name="fleet_sync_every_minute",
    cron_schedule="* * * * *",
    job=sync_fleet_job,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every 60 s: each enabled fabric that is due by its priority (critical/high/medium "
                "every tick, low every 5 min, maintenance and isolated ones hourly), batched into few "
                "runs per run priority. Stop it here for a maintenance window (the urgent_git_changes fast path "
                "holds too; `hedgehog-sync pause` does the same from a shell); start it to resume.",
)
def fleet_sync_schedule(context: ScheduleEvaluationContext, fleet: FleetResource):
    paused = fleet_pause(context.instance)
    if paused is not None:  # `hedgehog-sync pause`: the fast-path sensor holds too
        context.log.info(f"all automatic syncing {paused.describe()}")
        return SkipReason(f"all automatic syncing {paused.describe()}; `hedgehog-sync resume` resumes it")
    try:
        inventory = fleet.load_inventory()
    except InventoryError as exc:
        return SkipReason(f"inventory unusable: {exc}")
    keys = context.instance.get_dynamic_partitions(FABRICS_PARTITION)
    present = set(keys)
    now = context.scheduled_execution_time
    # Every fabric's health in one query of the state store.
    stored = fleet.state_store(context.instance).load([c.name for c in inventory.fabrics if c.name in present])
    held = fabric_pauses(context.instance, present)  # `hedgehog-sync pause --fabric`
    inputs = []
    for cfg in inventory.fabrics:
        if cfg.name not in present:
            continue
        rec = stored[cfg.name].health
        isolated, last_checked = rec.isolated, parse_time(rec.last_cycle_at)
        if isolated and rec.config_fingerprint and rec.config_fingerprint != fabric_fingerprint(cfg):
            # Its inventory entry or credentials changed since it was last tried: probe it now, once
            # (the probe's cycle isolates it again if it still fails).
            isolated, last_checked = False, None
        inputs.append(FabricPlanInput(cfg.name, cfg.priority, cfg.enabled, last_checked,
                                      health_score(rec, now), isolated, rec.escalated,
                                      paused=cfg.name in held))
    if not inputs:
        return SkipReason("no fabric has a partition yet (the discovery sensor adds them)")
    planned = plan_tick(inputs, now, slack_seconds=TICK_SLACK_SECONDS)
    busy = fabrics_in_flight(context.instance, keys)
    due = due_by_run_priority(p for p in planned if p.name not in busy)
    skips = skipped_by_reason(planned, busy)  # the tick's log says who waits, and why
    if not due:
        context.log.info(describe_skipped(skips))
        return SkipReason(f"no fabric due; {describe_skipped(skips)}")
    size = batch_size_for_budget(fleet.batch_size, fleet.run_budget_seconds,
                                 seconds_per_fabric(fleet.state_store(context.instance).metrics()))
    # Free fabrics that may ride along inside a batch between due ones (plan_batches): any due one,
    # and any of an every-minute class checked a little while ago. Without this, fabrics escalated
    # one class (health below 0.5) scatter among their neighbours and each makes a run of its own.
    index = {k: i for i, k in enumerate(keys)}
    fillable = {p.name for p in planned
                if p.name not in busy and p.reason not in ("disabled", "paused") and not p.schedule.isolated
                and (p.due or p.schedule.interval_seconds <= 60)}
    covered: set[str] = set()
    requests = []
    for run_priority, names in due.items():  # highest first: a batch covers lower classes' fabrics too
        wanted = set(names) - covered
        if not wanted:
            continue
        for request in batch_run_requests(keys, wanted, size, f"{now.isoformat()}:p{run_priority}",
                                          fill=fillable - covered):
            covered.update(keys[index[request.tags[RANGE_START_TAG]]: index[request.tags[RANGE_END_TAG]] + 1])
            requests.append(request.with_replaced_attrs(tags={
                **request.tags, PRIORITY_TAG: str(run_priority),
                MAX_RUNTIME_TAG: str(fleet.run_budget_seconds)}))
    wanted = sorted(n for names in due.values() for n in names)
    context.log.info(f"requested {len(requests)} run(s) for {len(wanted)} due fabrics ({describe_names(wanted)}); "
                     f"{len(covered) - len(wanted)} not yet due ride along inside their batches")
    context.log.info(describe_skipped({r: [n for n in names if n not in covered] for r, names in skips.items()}))
    return requests
