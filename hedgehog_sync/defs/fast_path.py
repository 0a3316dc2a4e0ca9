"""The fast path: a new commit on a critical or high fabric's ref gets a run within seconds, not a minute."""

import json
from concurrent.futures import ThreadPoolExecutor

from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from hedgehog_sync.connectors.git import GitRepoCache
from hedgehog_sync.defs.partitions import FABRICS_PARTITION
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.defs.schedules import (
    PRIORITY_TAG, batch_run_requests, fabrics_in_flight, sync_fleet_job,
)
from hedgehog_sync.domain.errors import HedgehogSyncError, InventoryError
from hedgehog_sync.domain.priority import run_priority_tag

FAST_PATH_PRIORITIES = ("critical", "high")


@sensor(
    name="urgent_git_changes",
    job=sync_fleet_job,
    minimum_interval_seconds=15,
    default_status=DefaultSensorStatus.RUNNING,
    description="Every 15 s, asks the Git remote of each critical or high fabric where its ref points "
                "(ls-remote, no fetch); a new commit gets a run for just those fabrics at high run priority.",
)
def urgent_git_changes(context: SensorEvaluationContext, fleet: FleetResource):
    try:
        inventory = fleet.load_inventory()
    except InventoryError as exc:
        return SkipReason(f"inventory unusable: {exc}")
    keys = context.instance.get_dynamic_partitions(FABRICS_PARTITION)
    watched = [f for f in inventory.enabled() if f.priority in FAST_PATH_PRIORITIES and f.name in keys]
    if not watched:
        return SkipReason("no enabled critical or high fabric")
    cache = GitRepoCache(fleet.state_root(context.instance) / "git")
    store = fleet.report_store(context.instance)
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
        known = ((store.latest_report(cfg.name) or {}).get("git") or {}).get("commit")
        if head is None or head == known or requested.get(cfg.name) == head or cfg.name in busy:
            continue
        moved.setdefault(cfg.priority, []).append(cfg.name)
        requested[cfg.name] = head
    if not moved:
        return SkipReason(f"no new commit on {len(watched)} critical/high fabrics")
    run_requests = []
    for priority, names in moved.items():
        context.log.info(f"new commits on {priority} fabrics {names}: requesting a run now")
        for request in batch_run_requests(keys, set(names), fleet.batch_size, f"fast:{context.cursor or ''}"):
            run_requests.append(request.with_replaced_attrs(
                run_key=None,
                tags={**request.tags, PRIORITY_TAG: str(run_priority_tag(priority)),
                      "hedgehog-sync/trigger": "fast-path"}))
    return SensorResult(run_requests=run_requests, cursor=json.dumps(requested, sort_keys=True))
