"""One batch of fabrics, from what was read to what is kept: plain Python, no Dagster here.

`sync_batch` takes what the read steps found of each fabric (both sides) and what the state store
holds for them (one query), and returns plain results: each fabric's outcome (report, versions,
plan), its health and schedule, the alerts it raised, its check verdicts, its fleet-summary row,
and the writes the caller commits in one transaction (docs/state.md). The Dagster op turns these
into events; nothing here records anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Callable, Iterable, Mapping

from hedgehog_sync.cycle import (
    DRIFT_REPORT, GIT_STATE, K8S_STATE, FabricOutcome, SideRead, compare_fabric, contained_outcome,
)
from hedgehog_sync.domain.check_outcomes import (
    IN_SYNC_CHECK, NO_CRITICAL_DRIFT, REPORT_FRESH, CheckOutcome, critical_drift_outcome, freshness_outcome,
    in_sync_outcome,
)
from hedgehog_sync.domain.fleet_rows import fleet_row
from hedgehog_sync.domain.health import health_score, parse_time
from hedgehog_sync.domain.inventory import FabricConfig
from hedgehog_sync.domain.priority import Schedule, schedule_for
from hedgehog_sync.domain.recovery import Alert, CycleResult, FabricHealthRecord, RecoveryPolicy, record_cycle
from hedgehog_sync.domain.redaction import redact
from hedgehog_sync.state import FabricState, FabricWrite

HEALTH_VERSION = "health"  # the versions key of a fabric's health: a move is a point in its report's history


@dataclass(frozen=True)
class FabricHealth:
    score: float
    record: FabricHealthRecord
    schedule: Schedule
    row: dict[str, Any]  # the fabric's line in the fleet summary


@dataclass
class FabricResult:
    """Everything one fabric's cycle produced; `record_report` says whether its report is a new point."""

    config: FabricConfig
    outcome: FabricOutcome
    health: FabricHealth
    alerts: list[Alert]
    checks: dict[str, CheckOutcome]  # by check name: in_sync, no_critical_drift, report_fresh
    record_report: bool
    write: FabricWrite

    @property
    def fabric(self) -> str:
        return self.outcome.fabric

    @property
    def failure(self) -> str | None:
        """Why the fabric could not be read or compared, redacted; None when it could."""
        if not self.outcome.failed:
            return None
        return "; ".join(redact(str(e.get("message", ""))) for e in self.outcome.report["errors"]
                         if e.get("error_class")) or "unknown"


@dataclass
class BatchResult:
    fabrics: dict[str, FabricResult] = field(default_factory=dict)  # in the order compared
    unrecorded: dict[str, str] = field(default_factory=dict)  # fabric -> why not even unknown could be kept
    not_read_on_both_sides: list[str] = field(default_factory=list)  # the inventory changed mid-run

    @property
    def checked(self) -> int:
        return len(self.fabrics) + len(self.unrecorded)

    @property
    def failed(self) -> dict[str, str]:
        out = {name: r.failure for name, r in self.fabrics.items() if r.failure is not None}
        out.update(self.unrecorded)
        return out

    @property
    def changed(self) -> int:
        """Fabrics with any new point this cycle (git_state and k8s_state were recorded by their steps)."""
        return sum(1 for r in self.fabrics.values() if r.record_report or r.outcome.changed & {GIT_STATE, K8S_STATE})

    @property
    def recorded(self) -> int:
        return sum(1 for r in self.fabrics.values() if r.record_report)

    def writes(self) -> list[FabricWrite]:
        return [r.write for r in self.fabrics.values()]


def _nothing_stored(fabric: str) -> FabricState:
    return FabricState(fabric, report=None, good_report=None, versions={}, health=FabricHealthRecord(),
                       git_commit=None)


def _refold(result: CycleResult, now: datetime, policy: RecoveryPolicy, cycle: str, fingerprint: str | None,
            current: FabricHealthRecord) -> FabricHealthRecord:
    """The cycle folded into the record as stored at commit time (another run may have moved it)."""
    return record_cycle(current, result, now, policy, cycle_id=cycle, fingerprint=fingerprint)[0]


def fabric_result(cfg: FabricConfig, outcome: FabricOutcome, stored: FabricState, policy: RecoveryPolicy,
                  cycle: str, now: datetime, fingerprint: str | None, record_every: bool,
                  parses: Mapping[str, Any]) -> FabricResult:
    """Fold one compared fabric into its health, checks, row and write. Raises only on a bug (the
    caller contains it)."""
    if record_every:
        outcome.changed.add(DRIFT_REPORT)
    cycle_result = CycleResult.from_report(outcome.report, outcome.git_error, outcome.cluster_error,
                                           outcome.live.objects if outcome.live else None,
                                           compare_error=outcome.compare_error)
    record, raised = record_cycle(stored.health, cycle_result, now, policy, cycle_id=cycle, fingerprint=fingerprint)
    score = health_score(record, now)
    version = f"{score:.2f}/{record.isolated}/{record.escalated}"
    if outcome.versions.get(HEALTH_VERSION) != version:
        outcome.versions[HEALTH_VERSION] = version
        outcome.changed.add(HEALTH_VERSION)
    schedule = schedule_for(cfg.priority, score, record.isolated, record.escalated)
    health = FabricHealth(score, record, schedule, fleet_row(outcome.report, record, score, schedule))
    record_report = bool(outcome.changed & {DRIFT_REPORT, HEALTH_VERSION})
    checks = {
        IN_SYNC_CHECK: in_sync_outcome(outcome.report),
        NO_CRITICAL_DRIFT: critical_drift_outcome(outcome.report),
        REPORT_FRESH: freshness_outcome(cfg.name, parse_time(record.last_cycle_at), schedule.interval_seconds, now),
    }
    write = FabricWrite(cfg.name, report=outcome.report, versions=dict(outcome.versions),
                        health=partial(_refold, cycle_result, now, policy, cycle, fingerprint),
                        parses=parses.get(cfg.name), fleet_row=health.row)
    return FabricResult(cfg, outcome, health, raised, checks, record_report, write)


def contain(result: FabricResult, error: BaseException, doing: str, stored: FabricState, policy: RecoveryPolicy,
            cycle: str, now: datetime, fingerprint: str | None, record_every: bool,
            parses: Mapping[str, Any]) -> FabricResult:
    """The fabric's result turned `unknown` because `doing` failed after the comparison (rendering
    its events, say): the same cycle id, so its health counts this cycle once."""
    outcome = contained_outcome(result.outcome, error, doing, now)
    return fabric_result(result.config, outcome, stored, policy, cycle, now, fingerprint, record_every, parses)


def sync_batch(configs: Mapping[str, FabricConfig], git: Mapping[str, SideRead], cluster: Mapping[str, SideRead],
               stored: Mapping[str, FabricState], policy: RecoveryPolicy, cycle: str, now: datetime,
               fingerprints: Mapping[str, str | None] | None = None, record_every: bool = False,
               parses: Mapping[str, Any] | None = None,
               progress: Callable[[int, int, BatchResult], None] | None = None) -> BatchResult:
    """Compare every fabric read on both sides and fold each into its stored state.

    `configs` are the fabrics of the batch (in order); `git` and `cluster` what their steps read;
    `stored` their stored state (StateStore.load). `cycle` is the run's root run id: a run retry
    of the same batch replaces that cycle's outcome in each health record instead of counting it
    again. `record_every`: every fabric's report is a new point (a person asked for these fabrics).
    One fabric's fault never stops the others: a fabric whose comparison or folding fails gets an
    unknown report naming the error; one that cannot even get that is named in `unrecorded`.
    """
    fingerprints = fingerprints or {}
    parses = parses or {}
    out = BatchResult()
    names = [n for n in configs if n in git and n in cluster]
    out.not_read_on_both_sides = sorted(set(configs) - set(names))
    for done, name in enumerate(names, start=1):
        cfg, state = configs[name], stored.get(name) or _nothing_stored(name)
        args = (state, policy, cycle, now, fingerprints.get(name), record_every, parses)
        try:
            outcome = compare_fabric(cfg, git[name], cluster[name], state, now)
            try:
                out.fabrics[name] = fabric_result(cfg, outcome, *args)
            except Exception as exc:  # a bug in folding this fabric: contained, the batch goes on
                if outcome.compare_error is not None:
                    raise
                contained = contained_outcome(outcome, exc, "recording", now)
                out.fabrics[name] = fabric_result(cfg, contained, *args)
        except Exception as exc:  # even the contained path failed: name it, keep going
            out.unrecorded[name] = redact(f"{type(exc).__name__}: {exc}")
        if progress is not None:
            progress(done, len(names), out)
    return out


def fabrics_in(results: Iterable[FabricResult]) -> list[str]:
    return [r.fabric for r in results]
