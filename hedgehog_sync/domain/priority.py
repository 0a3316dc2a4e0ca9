"""Which fabrics a scheduler tick checks, and how urgently (docs/contracts.md#priority-and-schedule).

A fabric's configured priority sets its refresh interval and its Dagster run priority. Two
things move it: a health below 0.5 escalates it one class (checked sooner, queued earlier), and
isolation (N failed cycles in a row) re-probes it slowly. Following the rule "a fabric is
scheduled unless disabled or isolated; critical and high always are", isolated critical and
high fabrics keep their own interval; isolated medium, low and maintenance fabrics are probed at
the maintenance interval. Every isolated fabric runs at the maintenance run priority, so a probe
of a broken fabric never queues ahead of, or shares a batch with, healthy work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping, Sequence

from hedgehog_sync.domain.health import ESCALATE_BELOW
from hedgehog_sync.domain.inventory import PRIORITY_RANK

PRIORITIES: tuple[str, ...] = tuple(sorted(PRIORITY_RANK, key=PRIORITY_RANK.__getitem__))
REFRESH_INTERVAL_SECONDS: dict[str, int] = {
    "critical": 30, "high": 60, "medium": 60, "low": 300, "maintenance": 3600,
}
# Dagster's queued run coordinator dequeues the highest `dagster/priority` first; untagged runs
# count as 0. Medium, the default class, sits at 0, so a run an operator starts by hand from the
# UI queues level with routine medium work, behind critical and high, ahead of low and maintenance.
RUN_PRIORITY: dict[str, int] = {"critical": 2, "high": 1, "medium": 0, "low": -1, "maintenance": -2}
ALWAYS_SCHEDULED = frozenset({"critical", "high"})
DEFAULT_SLACK_SECONDS = 5.0


def _check(priority: str) -> str:
    if priority not in PRIORITY_RANK:
        raise ValueError(f"unknown priority {priority!r}; expected one of {', '.join(PRIORITIES)}")
    return priority


def run_priority_tag(priority: str) -> int:
    """The value for Dagster's `dagster/priority` run tag (set it as a string): higher runs first.
    critical 2, high 1, medium 0 (Dagster's default), low -1, maintenance -2."""
    return RUN_PRIORITY[_check(priority)]


def effective_priority(configured: str, health: float, isolated: bool, escalated: bool = False) -> str:
    """The class a fabric is checked as: one class above `configured` (never above critical) when
    its health is below 0.5 or its record is escalated; `configured` when isolated (isolation,
    not escalation, decides how an isolated fabric is probed)."""
    _check(configured)
    if isolated or not (escalated or health < ESCALATE_BELOW):
        return configured
    return PRIORITIES[max(PRIORITY_RANK[configured] - 2, 0)]  # rank is 1-based


@dataclass(frozen=True)
class Schedule:
    """How one fabric is scheduled now. `configured` is what the inventory says and what to show;
    `priority` is the class whose interval and run priority apply."""

    configured: str
    priority: str
    interval_seconds: int
    run_priority: int
    isolated: bool
    escalated: bool  # priority is one class above configured


def schedule_for(configured: str, health: float, isolated: bool, escalated: bool = False) -> Schedule:
    """A fabric's schedule from its configured priority, health and recovery state (module docstring)."""
    priority = effective_priority(configured, health, isolated, escalated)
    if isolated:
        interval_class = configured if configured in ALWAYS_SCHEDULED else "maintenance"
        return Schedule(configured, priority, REFRESH_INTERVAL_SECONDS[interval_class],
                        RUN_PRIORITY["maintenance"], isolated=True, escalated=False)
    return Schedule(configured, priority, REFRESH_INTERVAL_SECONDS[priority], RUN_PRIORITY[priority],
                    isolated=False, escalated=priority != configured)


def seconds_until_due(last_checked: datetime | None, interval_seconds: float, now: datetime,
                      slack_seconds: float = DEFAULT_SLACK_SECONDS) -> float:
    """0 when due (see is_due), else how many seconds until the fabric is."""
    if last_checked is None:
        return 0.0
    elapsed = (now - last_checked).total_seconds()
    if elapsed < -interval_seconds:  # checked "in the future": the clock moved back; do not starve it
        return 0.0
    return max(0.0, interval_seconds - slack_seconds - elapsed)


def is_due(last_checked: datetime | None, interval_seconds: float, now: datetime,
           slack_seconds: float = DEFAULT_SLACK_SECONDS) -> bool:
    """Due when never checked, or when at least interval - slack seconds have passed. The slack
    keeps a 60 s interval on a 60 s cron tick from skipping a tick over a few seconds of jitter.
    A last check more than one interval in the future (the clock moved back) counts as due.
    Times must be timezone-aware."""
    return seconds_until_due(last_checked, interval_seconds, now, slack_seconds) == 0.0


@dataclass(frozen=True)
class FabricPlanInput:
    """What the planner needs to know about one fabric: inventory settings and recovery state."""

    name: str
    priority: str = "medium"  # as configured in the inventory
    enabled: bool = True
    last_checked: datetime | None = None  # start of the last cycle, timezone-aware
    health: float = 1.0
    isolated: bool = False
    escalated: bool = False  # the record's sticky escalation (recovery.FabricHealthRecord.escalated)
    paused: bool = False  # an operator paused this fabric's automatic syncing (`hedgehog-sync pause --fabric`)


@dataclass(frozen=True)
class PlannedFabric:
    """One fabric's decision for one tick."""

    name: str
    due: bool
    reason: str  # disabled | paused | never checked | due | not due
    schedule: Schedule
    seconds_until_due: float | None  # None when disabled or paused (never due)

    @property
    def run_priority(self) -> int:
        return self.schedule.run_priority


def plan_tick(fabrics: Iterable[FabricPlanInput], now: datetime,
              slack_seconds: float = DEFAULT_SLACK_SECONDS) -> list[PlannedFabric]:
    """Decide for every fabric whether this tick checks it, and at what run priority.

    Disabled and paused fabrics are never due. The result holds every fabric (so skipped ones can be counted
    and shown), highest run priority first, then by name; `due_by_run_priority` groups the due ones.
    """
    planned: list[PlannedFabric] = []
    seen: set[str] = set()
    for f in fabrics:
        if f.name in seen:
            raise ValueError(f"fabric {f.name!r} appears twice in one plan")
        seen.add(f.name)
        schedule = schedule_for(f.priority, f.health, f.isolated, f.escalated)
        if not f.enabled:
            planned.append(PlannedFabric(f.name, False, "disabled", schedule, None))
            continue
        if f.paused:
            planned.append(PlannedFabric(f.name, False, "paused", schedule, None))
            continue
        wait = seconds_until_due(f.last_checked, schedule.interval_seconds, now, slack_seconds)
        if f.last_checked is None:
            reason = "never checked"
        else:
            reason = "due" if wait == 0.0 else "not due"
        planned.append(PlannedFabric(f.name, wait == 0.0, reason, schedule, wait))
    planned.sort(key=lambda p: (-p.run_priority, p.name))
    return planned


def due_by_run_priority(planned: Iterable[PlannedFabric]) -> dict[int, list[str]]:
    """The due fabrics grouped by run priority, highest first: one batch set per group."""
    groups: dict[int, list[str]] = {}
    for p in sorted(planned, key=lambda p: (-p.run_priority, p.name)):
        if p.due:
            groups.setdefault(p.run_priority, []).append(p.name)
    return groups


# The order a tick log lists skipped fabrics in: what the inventory or an operator decided first.
SKIP_REASONS: tuple[str, ...] = ("disabled", "paused", "in flight", "isolated", "not due")
NAMES_SHOWN_PER_REASON = 10


def skipped_by_reason(planned: Iterable[PlannedFabric], in_flight: Iterable[str] = ()) -> dict[str, list[str]]:
    """The fabrics a tick does not request, by why: disabled (inventory), paused (operator), in flight
    (a queued or running sync covers it), isolated (waiting for its slow re-probe), not due (checked
    within its interval). Only reasons that apply appear, in SKIP_REASONS order, names sorted."""
    busy = set(in_flight)
    groups: dict[str, list[str]] = {}
    for p in planned:
        if p.reason in ("disabled", "paused"):
            reason = p.reason
        elif p.name in busy:
            reason = "in flight"
        elif p.due:
            continue
        else:
            reason = "isolated" if p.schedule.isolated else "not due"
        groups.setdefault(reason, []).append(p.name)
    return {r: sorted(groups[r]) for r in SKIP_REASONS if r in groups}


def describe_names(names: Sequence[str], limit: int = NAMES_SHOWN_PER_REASON) -> str:
    """`a, b, c` or, past `limit` names, `a, b, ... and 7 more`: a tick log line stays short at 10,000 fabrics."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def describe_skipped(groups: Mapping[str, Sequence[str]], limit: int = NAMES_SHOWN_PER_REASON) -> str:
    """One line for a tick log: `skipped 3 fabrics: paused 1 (fab-b); not due 2 (fab-c, fab-d)`,
    or `skipped no fabric`."""
    total = sum(len(v) for v in groups.values())
    if not total:
        return "skipped no fabric"
    parts = [f"{reason} {len(names)} ({describe_names(list(names), limit)})"
             for reason, names in groups.items() if names]
    return f"skipped {total} fabric{'s' if total != 1 else ''}: " + "; ".join(parts)


__all__ = [
    "ALWAYS_SCHEDULED", "ESCALATE_BELOW", "FabricPlanInput", "PRIORITIES", "PRIORITY_RANK",
    "PlannedFabric", "REFRESH_INTERVAL_SECONDS", "RUN_PRIORITY", "SKIP_REASONS", "Schedule",
    "describe_names", "describe_skipped", "due_by_run_priority", "effective_priority", "is_due", "plan_tick",
    "run_priority_tag", "schedule_for", "seconds_until_due", "skipped_by_reason",
]
