"""Every 60 seconds, every enabled fabric, in a few batched runs (never one run per fabric)."""

from dagster import (
    DagsterInstance, DagsterRunStatus, DefaultScheduleStatus, RunRequest, RunsFilter,
    ScheduleEvaluationContext, SkipReason, define_asset_job, in_process_executor, schedule,
)

from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.defs.partitions import FABRICS_PARTITION
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.domain.batching import plan_batches
from hedgehog_sync.domain.errors import InventoryError

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

# One step per run: the in-process executor spares a second Python start per run.
sync_fleet_job = define_asset_job(
    "sync_fleet", selection=[fabric_sync], executor_def=in_process_executor,
    description="Sync a range of fabrics in one run.",
)


IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED]


def fabrics_in_flight(instance: DagsterInstance, partition_keys: list[str]) -> set[str]:
    """Fabrics covered by a sync run that is queued or running: never start a second one on them."""
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
                       tick: str) -> list[RunRequest]:
    """One RunRequest per contiguous range of wanted fabrics, at most batch_size each."""
    requests = []
    for start, end in plan_batches(partition_keys, wanted, batch_size):
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
    description="Refreshes git_state, k8s_state and drift_report of every enabled fabric every 60 s. "
                "Stop it here for a maintenance window; start it again to resume.",
)
def fleet_sync_schedule(context: ScheduleEvaluationContext, fleet: FleetResource):
    try:
        inventory = fleet.load_inventory()
    except InventoryError as exc:
        return SkipReason(f"inventory unusable: {exc}")
    keys = context.instance.get_dynamic_partitions(FABRICS_PARTITION)
    wanted = {f.name for f in inventory.enabled()} & set(keys)
    if not wanted:
        return SkipReason("no enabled fabric has a partition yet (the discovery sensor adds them)")
    busy = fabrics_in_flight(context.instance, keys)
    if busy:
        context.log.info(f"{len(busy & wanted)} fabrics still in a queued or running sync; skipped this tick")
        wanted -= busy
        if not wanted:
            return SkipReason("every enabled fabric is still in a queued or running sync")
    return batch_run_requests(keys, wanted, fleet.batch_size, context.scheduled_execution_time.isoformat())
