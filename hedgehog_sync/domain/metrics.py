"""Scheduler metrics: what each sync run did, rolled up over a window of recent runs."""

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
    checked: int
    changed: int
    failed: int


def roll_up(metrics: dict[str, Any] | None, run: RunStats, window: int = WINDOW) -> dict[str, Any]:
    """New metrics after one more run; totals since the last reset, rates over the window."""
    m = dict(metrics or {})
    recent = list(m.get("recent", []))[-(window - 1):] + [asdict(run)]
    checked = sum(r["checked"] for r in recent)
    failed = sum(r["failed"] for r in recent)
    return {
        "runs_total": int(m.get("runs_total", 0)) + 1,
        "fabrics_checked_total": int(m.get("fabrics_checked_total", 0)) + run.checked,
        "fabrics_changed_total": int(m.get("fabrics_changed_total", 0)) + run.changed,
        "fabrics_failed_total": int(m.get("fabrics_failed_total", 0)) + run.failed,
        "success_rate": round(1.0 - failed / checked, 4) if checked else 1.0,
        "mean_duration_s": round(sum(r["duration_s"] for r in recent) / len(recent), 3),
        "mean_queue_wait_s": round(sum(r["queue_wait_s"] for r in recent) / len(recent), 3),
        "last_run": asdict(run),
        "recent": recent,
        "since": m.get("since") or run.finished_at,
    }
