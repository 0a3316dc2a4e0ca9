"""Dagster concurrency pools of the sync steps, and their limits on the instance.

`read_git` runs in pool `git` and `read_kubernetes` in pool `kubernetes`: across every run of the
instance, at most that many of those steps run at once (the instance ships `granularity: op`).
dagster.yaml can only hold a default limit for every pool, so the limits themselves live on the
instance: `fabric_discovery` sets any that is missing on each tick, `hedgehog-sync pools` does it
by hand, and a limit an operator has set (UI: Deployment > Concurrency, or `dagster instance
concurrency set git 8`) is never overwritten.
"""

from dagster import DagsterInstance

# The shipped limits are defined once, in the domain; importable from here as before.
from hedgehog_sync.domain.limits import GIT_POOL, KUBERNETES_POOL, POOL_LIMITS  # noqa: F401


def pool_limits(instance: DagsterInstance) -> dict[str, int | None]:
    """The limit of each sync pool on the instance; None where none is set (or only a default)."""
    explicit = {p.name: p.limit for p in instance.event_log_storage.get_pool_limits() if not p.from_default}
    return {pool: explicit.get(pool) for pool in POOL_LIMITS}


def ensure_pool_limits(instance: DagsterInstance) -> dict[str, int]:
    """Set the shipped limit of every sync pool that has none; returns what it set."""
    missing = {pool: POOL_LIMITS[pool] for pool, limit in pool_limits(instance).items() if limit is None}
    for pool, limit in missing.items():
        instance.event_log_storage.set_concurrency_slots(pool, limit)
    return missing
