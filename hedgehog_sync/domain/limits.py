"""How many sync steps of each kind run at once across an instance: the shipped limits of the
Dagster pools `git` and `kubernetes`, and the in-process slots a cycle outside Dagster uses.

Defined once here: defs/pools.py sets them on the instance, the demo's instance settings name
them, and a cycle run outside Dagster bounds its threads by the same numbers.
"""

from __future__ import annotations

GIT_POOL, KUBERNETES_POOL = "git", "kubernetes"
GIT_SLOTS, KUBERNETES_SLOTS = 4, 3  # concurrent Git reads; concurrent API server reads
POOL_LIMITS = {GIT_POOL: GIT_SLOTS, KUBERNETES_POOL: KUBERNETES_SLOTS}


def describe_pool_limits() -> str:
    """The limits as one phrase: `git (4) and kubernetes (3)`."""
    return " and ".join(f"{pool} ({limit})" for pool, limit in POOL_LIMITS.items())
