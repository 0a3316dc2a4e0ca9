"""The fleet summary's rows: one line per fabric from its latest report and health record, the
rows document a sync run merges its fabrics into, and the view with each fabric's freshness
(docs/contracts.md#fleet-rows). Plain data: defs/fleet.py turns the rows into a materialization.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Iterable, Mapping

from hedgehog_sync.domain.check_outcomes import freshness_outcome
from hedgehog_sync.domain.drift_report import DriftReport, as_report_json
from hedgehog_sync.domain.health import parse_time
from hedgehog_sync.domain.health_record import FabricHealthRecord
from hedgehog_sync.domain.inventory import FabricConfig
from hedgehog_sync.domain.priority import REFRESH_INTERVAL_SECONDS, Schedule
from hedgehog_sync.domain.report import utc_iso
from hedgehog_sync.domain.vocabulary import NONE, PENDING, drifted_count

# Row fields that change every cycle without news: never part of the summary's hash.
VOLATILE = ("last_cycle_at", "interval_seconds")


def fleet_row(report: DriftReport | Mapping[str, Any], record: FabricHealthRecord, health: float,
              schedule: Schedule) -> dict[str, Any]:
    """A fabric's line in the fleet summary, from its latest report and health record."""
    report = as_report_json(report)
    return {
        "fabric": report["fabric"], "status": report["status"], "severity": report["severity"],
        "score": float(report["score"]), "health": round(health, 2), "priority": schedule.configured,
        "effective_priority": schedule.priority, "isolated": record.isolated,
        "differ": drifted_count(report["summary"]),
        "commit": (report["git"].get("commit") or "")[:12], "drift_since": report.get("drift_since") or "",
        "last_cycle_at": record.last_cycle_at, "interval_seconds": schedule.interval_seconds,
    }


def pending_row(cfg: FabricConfig) -> dict[str, Any]:
    """The line of a fabric with no report yet."""
    return {"fabric": cfg.name, "status": PENDING, "severity": NONE, "score": 0.0, "health": None,
            "priority": cfg.priority, "effective_priority": cfg.priority, "isolated": False, "differ": 0,
            "commit": "", "drift_since": "", "last_cycle_at": None,
            "interval_seconds": REFRESH_INTERVAL_SECONDS[cfg.priority]}


def merge_rows(doc: dict[str, Any] | None, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The rows document with these fabrics' rows replaced (what a sync run writes)."""
    merged = dict((doc or {}).get("rows") or {})
    merged.update(rows)
    return {"rows": merged}


def summary_hash(rows: Iterable[dict[str, Any]]) -> str:
    """A digest of the rows without their volatile fields: the summary is recorded when it changes."""
    stable = [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]
    raw = json.dumps(sorted(stable, key=lambda r: r["fabric"]), sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def fleet_view(inventory_fabrics: Iterable[FabricConfig], partitions: Iterable[str],
               doc: dict[str, Any] | None, first_seen: dict[str, str], now: datetime
               ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The summary rows of every fabric in the inventory that has a partition, with its freshness
    (None for disabled fabrics: nothing is expected of them), and the updated first-seen times of
    fabrics without a report yet. Each enabled fabric's row carries its freshness verdict under
    `_freshness` (a CheckOutcome) for the caller to take out."""
    stored = (doc or {}).get("rows") or {}
    present = set(partitions)
    rows, seen = [], {}
    for cfg in inventory_fabrics:
        if cfg.name not in present:
            continue
        row = dict(stored.get(cfg.name) or pending_row(cfg))
        row["priority"] = cfg.priority  # the inventory may have changed since the last sync
        if row["last_cycle_at"] is None:
            seen[cfg.name] = first_seen.get(cfg.name) or utc_iso(now)
        if cfg.enabled:
            outcome = freshness_outcome(cfg.name, parse_time(row["last_cycle_at"]), row["interval_seconds"], now,
                                        since=parse_time(seen.get(cfg.name)))
            row["fresh"] = outcome.passed
            row["_freshness"] = outcome
        else:
            row["fresh"] = None
        rows.append(row)
    return rows, seen
