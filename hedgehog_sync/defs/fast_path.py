"""The fast path: a new commit on a critical or high fabric's ref gets a run within seconds, not a minute."""

import json
from concurrent.futures import ThreadPoolExecutor

from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from hedgehog_sync.connectors.git import GitRepoCache
from hedgehog_sync.defs.partitions import FABRICS_PARTITION
from hedgehog_sync.defs.pause import fabric_pauses, fleet_pause, schedule_stopped
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.defs.schedules import (
    PRIORITY_TAG, batch_run_requests, fabrics_in_flight, fleet_sync_schedule, sync_fleet_job,
)
from hedgehog_sync.domain.errors import HedgehogSyncError, InventoryError
from hedgehog_sync.domain.priority import describe_names, describe_skipped, run_priority_tag

FAST_PATH_PRIORITIES = ("critical", "high")


@sensor(
    name="urgent_git_changes",
    job=sync_fleet_job,
    minimum_interval_seconds=15,
    default_status=DefaultSensorStatus.RUNNING,
    description="Every 15 s, asks the Git remote of each critical or high fabric where its ref points "
                "(ls-remote, no fetch); a new commit gets a run for just those fabrics at high run priority. "
                "Holds while fleet_sync_every_minute is stopped or `hedgehog-sync pause` is in force.",
)
def urgent_git_changes(context: SensorEvaluationContext, fleet: FleetResource):
    hold = _held(context)
    if hold:
        context.log.info(hold)
        return SkipReason(hold)
    try:
        inventory = fleet.load_inventory()
    except InventoryError as exc:
        return SkipReason(f"inventory unusable: {exc}")
    keys = context.instance.get_dynamic_partitions(FABRICS_PARTITION)
    present = set(keys)
    candidates = [f for f in inventory.fabrics if f.priority in FAST_PATH_PRIORITIES and f.name in present]
    paused = fabric_pauses(context.instance, [f.name for f in candidates if f.enabled])
    skipped: dict[str, list[str]] = {
        "disabled": sorted(f.name for f in candidates if not f.enabled),
        "paused": sorted(paused),
    }
    watched = [f for f in candidates if f.enabled and f.name not in paused]
    if not watched:
        note = describe_skipped({k: v for k, v in skipped.items() if v})
        context.log.info(note)
        return SkipReason(f"no enabled, unpaused critical or high fabric; {note}")
    cache = GitRepoCache()  # ls-remote needs no clone: nothing is written to the scratch directory
    stored = fleet.state_store(context.instance).load([cfg.name for cfg in watched])
    requested: dict[str, str] = json.loads(context.cursor) if context.cursor else {}

    def remote(cfg):
        try:
            return cfg.name, cache.remote_commit(cfg.name, cfg.git)
        except HedgehogSyncError as exc:  # the regular cycle reports it; the fast path just skips
            context.log.warning(f"fabric {cfg.name}: {type(exc).__name__}: {exc}")
            return cfg.name, None

    with ThreadPoolExecutor(max_workers=fleet.workers) as pool:
        heads = dict(pool.map(remote, watched))
    busy = fabrics_in_flight(context.instance, keys)
    moved: dict[str, list[str]] = {}
    for cfg in watched:
        head = heads.get(cfg.name)
        known = ((stored[cfg.name].report or {}).get("git") or {}).get("commit")
        if head is None:
            skipped.setdefault("remote unreadable", []).append(cfg.name)
        elif head == known or requested.get(cfg.name) == head:
            skipped.setdefault("no new commit", []).append(cfg.name)
        elif cfg.name in busy:
            skipped.setdefault("in flight", []).append(cfg.name)
        else:
            moved.setdefault(cfg.priority, []).append(cfg.name)
            requested[cfg.name] = head
    note = describe_skipped({k: sorted(v) for k, v in skipped.items() if v})
    context.log.info(note)
    if not moved:
        return SkipReason(f"no new commit to sync on {len(watched)} critical/high fabrics; {note}")
    run_requests = []
    for priority, names in moved.items():
        context.log.info(f"new commits on {len(names)} {priority} fabrics ({describe_names(sorted(names))}): "
                         "requesting a run now")
        for request in batch_run_requests(keys, set(names), fleet.batch_size, f"fast:{context.cursor or ''}"):
            run_requests.append(request.with_replaced_attrs(
                run_key=None,
                tags={**request.tags, PRIORITY_TAG: str(run_priority_tag(priority)),
                      "hedgehog-sync/trigger": "fast-path"}))
    return SensorResult(run_requests=run_requests, cursor=json.dumps(requested, sort_keys=True))


def _held(context: SensorEvaluationContext) -> str | None:
    """Why the fast path must not run now, or None: all syncing paused, or the schedule stopped (the
    maintenance-window switch the schedule's description documents stops both automatic paths)."""
    paused = fleet_pause(context.instance)
    if paused is not None:
        return f"all automatic syncing {paused.describe()}; `hedgehog-sync resume` resumes it"
    origin = context.code_location_origin
    if schedule_stopped(context.instance, fleet_sync_schedule.name, context.repository_name,
                        origin.location_name if origin is not None else None):
        return (f"{fleet_sync_schedule.name} is stopped (a maintenance window): the fast path holds too "
                "until it is started again")
    return None
