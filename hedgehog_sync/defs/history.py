"""A fabric's drift_report history as an operator reads it: a one-line label per event, and its last reports in a table.

Dagster's asset event list shows each materialization's description on its row without expanding
it, and its Plots draw one line across partitions; so each event carries a label, and the
fabric's trend is a small table read from its own last materializations (one indexed query,
bounded by RECENT_REPORTS).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from hedgehog_sync.cycle import DRIFT_REPORT
from hedgehog_sync.domain.vocabulary import drifted_count

RECENT_REPORTS = 10
MAX_LABEL_CAUSE = 120


def report_label(status: str, severity: str, summary: dict[str, int], score: float, health: float | None,
                 cause: str | None = None) -> str:
    """`drifted · critical · 3 differ (1 modified, 1 missing, 1 extra) · score 0.62 · health 0.93`."""
    differ = drifted_count(summary)
    parts = [status, severity,
             f"{differ} differ ({summary.get('modified', 0)} modified, {summary.get('missing', 0)} missing, "
             f"{summary.get('extra', 0)} extra)", f"score {score:.2f}"]
    if health is not None:
        parts.append(f"health {health:.2f}")
    if cause:
        parts.append(cause if len(cause) <= MAX_LABEL_CAUSE else cause[:MAX_LABEL_CAUSE] + "…")
    return " · ".join(parts)


def recent_reports_markdown(instance: DagsterInstance, fabric: str, limit: int = RECENT_REPORTS) -> str:
    """The fabric's last `limit` drift_report points, newest first, as a markdown table ('' if none)."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(DRIFT_REPORT), asset_partitions=[fabric]), limit=limit).records
    rows = [_row(r.timestamp, r.asset_materialization.metadata if r.asset_materialization else {}) for r in records]
    return trend_markdown(fabric, rows)


def trend_markdown(fabric: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    out = [f"#### {fabric}: last {len(rows)} reports, newest first", "",
           "| recorded (UTC) | status | severity | modified | missing | extra | score | health |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['time']} | {r['status']} | {r['severity']} | {r['modified']} | {r['missing']} | "
                   f"{r['extra']} | {r['score']} | {r['health']} |")
    return "\n".join(out)


def _row(timestamp: float, metadata: dict[str, Any]) -> dict[str, Any]:
    def value(key: str) -> Any:
        entry = metadata.get(key)
        return getattr(entry, "value", entry) if entry is not None else "—"

    def number(key: str) -> str:
        v = value(key)
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    return {"time": datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            "status": value("status"), "severity": value("severity"), "modified": value("modified"),
            "missing": value("missing"), "extra": value("extra"), "score": number("score"),
            "health": number("health")}
