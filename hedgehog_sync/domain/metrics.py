"""Scheduler metrics: what each sync run did, rolled up over a window of recent runs.

Two rates, each named for what it counts: `fabric_check_success_rate` is the share of fabric checks
(one fabric in one run) whose fabric could be read and compared (not `unknown`);
`clean_run_rate` is the share of runs in which every fabric checked could be. `success_rate` is the
first under its old name, kept for readers of earlier metrics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

WINDOW = 100  # runs kept for rates and means


@dataclass(frozen=True)
class RunStats:
    """One sync run: how long it took, how long it queued, and what happened to its fabrics."""

    run_id: str
    finished_at: str
    duration_s: float
    queue_wait_s: float
    checked: int  # fabric checks in this run: fabrics read and compared, or tried
    changed: int
    failed: int  # of those, fabrics that could not be read or compared (reported `unknown`)


@dataclass(frozen=True)
class WindowRates:
    """The rates over the runs kept in the window, with the counts they are made of."""

    runs: int
    clean_runs: int  # runs in which every fabric checked could be read and compared
    fabric_checks: int
    fabric_checks_failed: int

    @property
    def fabric_check_success_rate(self) -> float:
        checks = self.fabric_checks
        return round(1.0 - self.fabric_checks_failed / checks, 4) if checks else 1.0

    @property
    def clean_run_rate(self) -> float:
        return round(self.clean_runs / self.runs, 4) if self.runs else 1.0


def window_rates(recent: list[dict[str, Any]]) -> WindowRates:
    """Rates over `recent` run records (RunStats as dicts), also for metrics written before they existed."""
    return WindowRates(runs=len(recent), clean_runs=sum(1 for r in recent if not r["failed"]),
                       fabric_checks=sum(r["checked"] for r in recent),
                       fabric_checks_failed=sum(r["failed"] for r in recent))


def roll_up(metrics: dict[str, Any] | None, run: RunStats, window: int = WINDOW) -> dict[str, Any]:
    """New metrics after one more run; totals since the last reset, rates over the window."""
    m = dict(metrics or {})
    recent = list(m.get("recent", []))[-(window - 1):] + [asdict(run)]
    rates = window_rates(recent)
    return {
        "runs_total": int(m.get("runs_total", 0)) + 1,
        "fabrics_checked_total": int(m.get("fabrics_checked_total", 0)) + run.checked,
        "fabrics_changed_total": int(m.get("fabrics_changed_total", 0)) + run.changed,
        "fabrics_failed_total": int(m.get("fabrics_failed_total", 0)) + run.failed,
        "fabric_check_success_rate": rates.fabric_check_success_rate,
        "clean_run_rate": rates.clean_run_rate,
        "success_rate": rates.fabric_check_success_rate,  # the old name of fabric_check_success_rate
        "window_runs": rates.runs,
        "window_fabric_checks": rates.fabric_checks,
        "mean_duration_s": round(sum(r["duration_s"] for r in recent) / len(recent), 3),
        "mean_queue_wait_s": round(sum(r["queue_wait_s"] for r in recent) / len(recent), 3),
        "last_run": asdict(run),
        "recent": recent,
        "since": m.get("since") or run.finished_at,
    }
