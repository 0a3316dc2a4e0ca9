"""The health score of one fabric (docs/contracts.md#health-score): six weighted signals folded into 0..1.

Each component is a factor in 0..1 (1 = no sign of trouble); the score is the weighted sum.
Signals nobody has observed yet (no cycle run) count as no trouble, except "time since last
good sync", which is fixed at 0.1 for a fabric that never synced: a fresh fabric scores
0.82, above the escalation threshold, and drops as soon as a cycle fails.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterable

from hedgehog_sync.domain.health_record import FabricHealthRecord
from hedgehog_sync.domain.kinds import AGENT, split_api_version
from hedgehog_sync.domain.model import Obj
from hedgehog_sync.domain.vocabulary import UNKNOWN

HEALTH_WEIGHTS: dict[str, float] = {
    "last_cycle": 0.25,
    "cluster": 0.20,
    "last_good_sync": 0.20,
    "failure_rate": 0.15,
    "file_errors": 0.10,
    "drift": 0.10,
}

# (older than, factor), oldest first; younger than the last threshold scores 1.0
_SYNC_AGE_STEPS = ((timedelta(hours=24), 0.2), (timedelta(hours=6), 0.5), (timedelta(hours=1), 0.8))
ESCALATE_BELOW = 0.5  # below this a fabric is escalated one priority class
NEVER_SYNCED_FACTOR = 0.1
PARTIAL_CYCLE_FACTOR = 0.5
LAGGING_AGENTS_FLOOR = 0.5  # a reachable API whose agents all lag still beats an unreachable one


def parse_time(value: str | None) -> datetime | None:
    """An ISO-8601 time as stored in a record (`...Z` or with offset); naive times are taken as UTC."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def last_cycle_factor(record: FabricHealthRecord) -> float:
    """1.0 after an in_sync or drifted cycle (drift has its own component), 0.5 after a partial read
    (status unknown though both sides answered: a broken file, a plural not listed to the end),
    0.0 after a failed cycle (a side could not be read). 1.0 before the first cycle."""
    if record.consecutive_failures > 0:
        return 0.0
    if record.last_status == UNKNOWN:
        return PARTIAL_CYCLE_FACTOR
    return 1.0


def cluster_factor(record: FabricHealthRecord) -> float:
    """Reachability of the fabric's API server, with agent convergence folded in.

    Unreachable (or refusing us) 0.0. Reachable: 0.5 + 0.5 x converged/total agents, so a fabric
    whose switches have not applied their config scores lower than one whose have, and still
    higher than one we cannot reach. Reachable with no agents known, or before the first cycle: 1.0.
    Convergence lives here rather than in the last-cycle component because it is a property of the
    live fabric, not of our read of it.
    """
    if record.cluster_reachable is False:
        return 0.0
    total, converged = record.agents_total, record.agents_converged
    if not total or converged is None:
        return 1.0
    ratio = min(max(converged / total, 0.0), 1.0)
    return LAGGING_AGENTS_FLOOR + (1.0 - LAGGING_AGENTS_FLOOR) * ratio


def last_good_sync_factor(record: FabricHealthRecord, now: datetime) -> float:
    """never 0.1; older than 24 h 0.2; older than 6 h 0.5; older than 1 h 0.8; else 1.0."""
    last_good = parse_time(record.last_good_sync)
    if last_good is None:
        return NEVER_SYNCED_FACTOR
    age = now - last_good
    for older_than, factor in _SYNC_AGE_STEPS:
        if age > older_than:
            return factor
    return 1.0


def failure_rate_factor(record: FabricHealthRecord) -> float:
    """1 - 2 x failed/total over the record's window of recent cycles, floored at 0 (half failed
    scores 0). No cycles yet: 1.0."""
    window = record.recent_failed
    if not window:
        return 1.0
    return max(0.0, 1.0 - 2.0 * sum(window) / len(window))


def file_errors_factor(record: FabricHealthRecord) -> float:
    """1 / (1 + n) for n files (or documents) with parse/validation errors: 1.0 with none, 0.5
    with one, 0.25 with three. Smooth and monotone: each further broken file still costs a little."""
    return 1.0 / (1.0 + max(record.file_errors, 0))


def drift_factor(record: FabricHealthRecord) -> float:
    """1 - drift score (the score is 0..1 and monotone in the weighted count of changes)."""
    return min(max(1.0 - record.drift_score, 0.0), 1.0)


def health_components(record: FabricHealthRecord, now: datetime) -> dict[str, float]:
    """Each component's factor in 0..1, keyed like HEALTH_WEIGHTS, for display next to the score."""
    return {
        "last_cycle": last_cycle_factor(record),
        "cluster": cluster_factor(record),
        "last_good_sync": last_good_sync_factor(record, now),
        "failure_rate": failure_rate_factor(record),
        "file_errors": file_errors_factor(record),
        "drift": drift_factor(record),
    }


def health_score(record: FabricHealthRecord, now: datetime) -> float:
    """The fabric's health in 0..1 (1 = healthy): the weighted sum of its components, 4 decimals."""
    components = health_components(record, now)
    score = sum(HEALTH_WEIGHTS[name] * factor for name, factor in components.items())
    return round(min(max(score, 0.0), 1.0), 4)


def agent_convergence(live_objects: Iterable[Obj]) -> tuple[int, int]:
    """(agents, converged agents) among live objects: an Agent has converged when
    `.status.lastAppliedGen == .metadata.generation` (an Agent with no status has not)."""
    total = converged = 0
    for obj in live_objects:
        group, _ = split_api_version(str(obj.get("apiVersion", "")))
        if group != AGENT or obj.get("kind") != "Agent":
            continue
        total += 1
        generation = (obj.get("metadata") or {}).get("generation")
        applied = (obj.get("status") or {}).get("lastAppliedGen")
        if generation is not None and applied == generation:
            converged += 1
    return total, converged
