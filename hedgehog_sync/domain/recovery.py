"""How a fabric recovers from failed cycles (docs/contracts.md#recovery): retry or not, isolate, escalate.

Everything here reads the error's class, never its message. The per-fabric history is a frozen
dataclass that round-trips through JSON (domain/health_record.py); `record_cycle` folds one cycle into it and says which
alerts that cycle raised. An alert is raised once per change of state (isolated, restored,
escalated, deescalated), never once per cycle.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Iterable

from hedgehog_sync.domain.drift_report import DriftReport, as_report_json
from hedgehog_sync.domain.errors import HedgehogSyncError
from hedgehog_sync.domain.health import ESCALATE_BELOW, agent_convergence, health_score
from hedgehog_sync.domain.health_record import FabricHealthRecord
from hedgehog_sync.domain.model import Obj
from hedgehog_sync.domain.report import utc_iso
from hedgehog_sync.domain.vocabulary import FABRIC_STATUSES, UNKNOWN

STATUSES = FABRIC_STATUSES
RETRY, FAIL = "retry", "fail"
ISOLATED, RESTORED, ESCALATED, DEESCALATED = "isolated", "restored", "escalated", "deescalated"
ALERT_KINDS = (ISOLATED, RESTORED, ESCALATED, DEESCALATED)
ALERT_SEVERITIES = ("info", "warning", "error")
_MAX_MESSAGE = 300  # alerts travel to chat and pagers: keep the error's text short


@dataclass(frozen=True)
class RecoveryPolicy:
    """The knobs of recovery. Delays are seconds; `attempt` counts from 1 (the first try).

    max_attempts counts the first try: 3 means two retries (Dagster's `max_retries` is
    `max_attempts - 1`, see `max_retries`). jitter is the fraction of a backoff delay that may be
    taken off at random. A server's Retry-After is honoured up to retry_after_cap, even past
    max_delay: the server knows its own load. Escalation starts when health falls below
    escalate_below and clears after deescalate_after cycles in a row that read both sides and
    scored at or above it, so a fabric that fails every other cycle raises one alert, not one
    every two minutes.
    """

    isolate_after: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_attempts: int = 3
    jitter: float = 0.5
    retry_after_cap: float = 120.0
    escalate_below: float = ESCALATE_BELOW
    deescalate_after: int = 3
    window: int = 20  # recent cycles kept for the failure rate

    def __post_init__(self) -> None:
        if self.isolate_after < 1 or self.max_attempts < 1 or self.window < 1 or self.deescalate_after < 1:
            raise ValueError("isolate_after, max_attempts, window and deescalate_after must be at least 1")
        if self.base_delay < 0 or self.max_delay < self.base_delay or self.retry_after_cap < 0:
            raise ValueError("delays must satisfy 0 <= base_delay <= max_delay and retry_after_cap >= 0")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter is a fraction in 0..1")
        if not 0.0 <= self.escalate_below <= 1.0:
            raise ValueError("escalate_below is a health in 0..1")

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt, as Dagster's RetryPolicy counts them."""
        return self.max_attempts - 1


DEFAULT_POLICY = RecoveryPolicy()


# --- retry or not -------------------------------------------------------------------------------

def action_for(error: BaseException) -> str:
    """RETRY for transient errors (TransientError and its subclasses: timeouts, 429, 5xx,
    unreachable), FAIL for everything else: permanent errors (credentials, refs, refused URLs,
    invalid inventory or content) need a person, and an unexpected error is a bug that retrying
    would only hide (the next cycle tries the fabric again anyway)."""
    if isinstance(error, HedgehogSyncError) and type(error).transient:
        return RETRY
    return FAIL


def retry_delay(error: BaseException, attempt: int, policy: RecoveryPolicy = DEFAULT_POLICY,
                rng: random.Random | None = None) -> float | None:
    """Seconds to wait before trying again after `attempt` (1 = the first try) failed with `error`,
    or None when it must not be retried: a permanent error, or attempts used up.

    Backoff is base_delay x 2**(attempt-1), capped at max_delay, minus up to `jitter` of itself
    ("subtractive" jitter: the cap stays a true upper bound, and with the default jitter of 0.5
    each uncapped attempt's range starts where the previous one's ended, so delays still grow).
    A TransientError's retry_after (HTTP Retry-After) is a floor, capped at retry_after_cap.
    With Dagster, attempt is `context.retry_number + 1`.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if action_for(error) != RETRY or attempt >= policy.max_attempts:
        return None
    rng = rng or random.Random()
    backoff = min(policy.max_delay, policy.base_delay * 2.0 ** min(attempt - 1, 64))
    delay = backoff * (1.0 - policy.jitter * rng.random())
    asked = getattr(error, "retry_after", None)
    if isinstance(asked, (int, float)) and math.isfinite(asked) and asked > 0:
        delay = max(delay, min(float(asked), policy.retry_after_cap))
    return delay


# --- one cycle's outcome, as plain data ------------------------------------------------------------

@dataclass(frozen=True)
class CycleResult:
    """What one sync cycle of one fabric found. A cycle failed when a side could not be read."""

    fabric: str
    status: str  # in_sync | drifted | unknown
    git_error: HedgehogSyncError | None = None
    cluster_error: HedgehogSyncError | None = None
    file_errors: int = 0  # files/documents in Git with parse or validation errors
    drift_score: float = 0.0
    agents_total: int | None = None
    agents_converged: int | None = None
    compare_error: HedgehogSyncError | None = None  # both sides read; comparing or recording failed

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")

    @property
    def failed(self) -> bool:
        return self.git_error is not None or self.cluster_error is not None or self.compare_error is not None

    @classmethod
    def from_report(cls, report: DriftReport | dict[str, Any], git_error: HedgehogSyncError | None = None,
                    cluster_error: HedgehogSyncError | None = None,
                    live_objects: Iterable[Obj] | None = None,
                    compare_error: HedgehogSyncError | None = None) -> "CycleResult":
        """From a drift report (docs/contracts.md#the-report-json) and the read errors of the same cycle.

        file_errors counts the report's error-level findings from Git files; read failures
        (entries with an error_class) and cluster findings (`cluster:<plural>`) are not file errors.
        Agents are counted from live_objects when given.
        """
        report = as_report_json(report)
        file_errors = sum(
            1 for e in report.get("errors", [])
            if "error_class" not in e and not str(e.get("source", "")).startswith("cluster:"))
        total = converged = None
        if live_objects is not None:
            total, converged = agent_convergence(live_objects)
        return cls(fabric=report["fabric"], status=report["status"], git_error=git_error,
                   cluster_error=cluster_error, compare_error=compare_error, file_errors=file_errors,
                   drift_score=float(report.get("score") or 0.0),
                   agents_total=total, agents_converged=converged)


@dataclass(frozen=True)
class Alert:
    """A change of a fabric's recovery state worth telling a person. Carries error class names
    and the connectors' already-redacted messages, never credentials."""

    kind: str  # isolated | restored | escalated | deescalated
    fabric: str
    severity: str  # info | warning | error
    message: str
    at: str  # ISO time of the cycle that raised it
    error_class: str | None = None
    health: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _primary_error(outcome: CycleResult) -> HedgehogSyncError | None:
    """The error a person should see first: a permanent one (it needs them), Git before cluster."""
    errors = [e for e in (outcome.git_error, outcome.cluster_error, outcome.compare_error) if e is not None]
    permanent = [e for e in errors if action_for(e) == FAIL]
    return (permanent or errors or [None])[0]


def _describe(record: FabricHealthRecord) -> str:
    if record.last_error_class is None:
        return ""
    detail = f": {record.last_error}" if record.last_error else ""
    return f" Last error: {record.last_error_class}{detail}"


def record_cycle(record: FabricHealthRecord, outcome: CycleResult, now: datetime,
                 policy: RecoveryPolicy = DEFAULT_POLICY, cycle_id: str | None = None,
                 fingerprint: str | None = None) -> tuple[FabricHealthRecord, list[Alert]]:
    """Fold one cycle into a fabric's record; returns the new record and the alerts it raised.

    - A failed cycle (a side unread, or the comparison failed) counts toward isolation; its status
      is always `unknown`.
    - After policy.isolate_after failed cycles in a row the fabric is isolated: one ISOLATED alert.
    - One cycle that reads both sides (even partially: a broken file is a content problem, not an
      outage) ends the streak and the isolation: one RESTORED alert.
    - Health below policy.escalate_below escalates (one ESCALATED alert); deescalate_after cycles
      in a row that did not fail and scored at or above it clear that (one DEESCALATED alert).
    - The same `cycle_id` as the last cycle folded in (a run retried by Dagster) replaces that
      cycle's outcome: counters move only by the difference, so attempts never count as cycles.
    The input record is not changed.
    """
    at = utc_iso(now)
    failed = outcome.failed
    repeat = cycle_id is not None and record.last_cycle_id == cycle_id and bool(record.recent_failed)
    if repeat:
        was_failed = record.recent_failed[-1]
        window = record.recent_failed[:-1] + (failed,)
        new = replace(record, failed_cycles=record.failed_cycles + int(failed) - int(was_failed),
                      recent_failed=window, last_cycle_at=at, cluster_reachable=outcome.cluster_error is None)
        streak_before = record.consecutive_failures - int(was_failed)
        healthy_before = max(0, record.healthy_streak - int(not was_failed and record.healthy_streak > 0))
    else:
        window = (record.recent_failed + (failed,))[-policy.window:]
        new = replace(record, total_cycles=record.total_cycles + 1,
                      failed_cycles=record.failed_cycles + int(failed), recent_failed=window,
                      last_cycle_at=at, cluster_reachable=outcome.cluster_error is None)
        streak_before = record.consecutive_failures
        healthy_before = record.healthy_streak
    new = replace(new, last_cycle_id=cycle_id if cycle_id is not None else record.last_cycle_id,
                  config_fingerprint=fingerprint if fingerprint is not None else record.config_fingerprint)
    alerts: list[Alert] = []

    if failed:
        error = _primary_error(outcome)
        assert error is not None
        new = replace(new, consecutive_failures=streak_before + 1, last_status=UNKNOWN,
                      last_error_class=type(error).__name__, last_error=_short(str(error)))
        if not new.isolated and new.consecutive_failures >= policy.isolate_after:
            new = replace(new, isolated=True, isolated_since=at)
            alerts.append(Alert(
                ISOLATED, outcome.fabric, "error",
                f"{outcome.fabric}: isolated after {new.consecutive_failures} failed cycles in a row; "
                f"re-probed slowly until one succeeds, or at once when its settings change.{_describe(new)}",
                at, new.last_error_class))
    else:
        new = replace(new, consecutive_failures=0, last_status=outcome.status,
                      file_errors=outcome.file_errors, drift_score=outcome.drift_score,
                      agents_total=outcome.agents_total, agents_converged=outcome.agents_converged,
                      last_error_class=None, last_error=None)
        if outcome.status != UNKNOWN:
            new = replace(new, last_good_sync=at)
        if record.isolated:
            new = replace(new, isolated=False, isolated_since=None)
            alerts.append(Alert(
                RESTORED, outcome.fabric, "info",
                f"{outcome.fabric}: restored after {record.consecutive_failures} failed cycles "
                f"(isolated since {record.isolated_since}); back on its normal schedule.", at))

    health = health_score(new, now)
    alerts = [replace(alert, health=health) for alert in alerts]
    healthy = health >= policy.escalate_below and not failed  # a failed cycle never counts toward clearing
    new = replace(new, healthy_streak=healthy_before + 1 if healthy else 0)
    if health < policy.escalate_below and not new.escalated:
        new = replace(new, escalated=True, escalated_since=at)
        alerts.append(Alert(
            ESCALATED, outcome.fabric, "warning",
            f"{outcome.fabric}: health {health:.2f} fell below {policy.escalate_below:g}; "
            f"checked one priority class higher until it recovers.{_describe(new)}",
            at, new.last_error_class, health))
    elif new.escalated and new.healthy_streak >= policy.deescalate_after:
        new = replace(new, escalated=False, escalated_since=None)
        alerts.append(Alert(
            DEESCALATED, outcome.fabric, "info",
            f"{outcome.fabric}: health {health:.2f} at or above {policy.escalate_below:g} for "
            f"{new.healthy_streak} cycles; escalation cleared.", at, None, health))
    return new, alerts


__all__ = [
    "ALERT_KINDS", "ALERT_SEVERITIES", "Alert", "CycleResult", "DEFAULT_POLICY", "DEESCALATED",
    "ESCALATED", "FAIL", "FabricHealthRecord", "ISOLATED", "RESTORED", "RETRY", "RecoveryPolicy",
    "STATUSES", "action_for", "record_cycle", "retry_delay",
]
