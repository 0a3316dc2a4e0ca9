"""Tabular views as pandas frames (a fabric's changed resources, the fleet), and frames as Dagster tables.

The frames are what users export (`changed_resources_frame(report).to_csv(...)`); the UI shows them
through `table_metadata`. pandas is imported when a table is built, not when the code location
loads: it costs about 0.7 s, and only a run that records a change builds one.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

from dagster import MetadataValue, TableColumn, TableMetadataValue, TableRecord, TableSchema

from hedgehog_sync.domain.drift_report import DriftReport, as_report_json
from hedgehog_sync.domain.render import terminal_change_lines, worst_fabrics_first, worst_first

if TYPE_CHECKING:
    import pandas as pd

CHANGED_RESOURCE_COLUMNS = {
    "severity": "critical, high, medium or low",
    "state": "modified, missing (in Git only) or extra (in the cluster only)",
    "kind": "Hedgehog kind",
    "name": "object name",
    "namespace": "namespace",
    "changes": "changed fields (modified resources)",
    "first_change": "the first change: JSON pointer, desired → live",
    "source": "where Git defines it: file#document, relative to the fabric's folder",
    "drift_since": "when this drift was first seen",
}

FLEET_COLUMNS = {
    "fabric": "partition key",
    "status": "in_sync, drifted, unknown, or pending (not checked yet)",
    "severity": "worst drift",
    "score": "drift score 0..1",
    "health": "health score 0..1 (1 = healthy)",
    "priority": "configured priority",
    "effective_priority": "the class it is checked as (escalated one class when unhealthy)",
    "isolated": "failed too often in a row: re-probed slowly",
    "fresh": "report not older than 3 of its refresh intervals",
    "differ": "resources that differ (modified + missing + extra)",
    "commit": "Git commit of the last report",
    "drift_since": "when the fabric's drift was first seen",
    "report": "the fabric's latest report in the Dagster UI",
    "paused": "who paused this fabric's automatic syncing, when and why (`hedgehog-sync pause`)",
}

_DTYPES = {"i": "int", "u": "int", "f": "float", "b": "bool"}


def changed_resources_frame(report: DriftReport | dict[str, Any]) -> "pd.DataFrame":
    """One row per drifted resource of a report, worst first."""
    import pandas as pd

    report = as_report_json(report)

    rows = [{
        "severity": r["severity"], "state": r["state"], "kind": r["kind"], "name": r["name"],
        "namespace": r.get("namespace") or "default", "changes": len(r.get("changes") or []),
        "first_change": terminal_change_lines(r, limit=1)[0], "source": r.get("source") or "",
        "drift_since": r.get("drift_since") or "",
    } for r in worst_first(report["resources"])]
    return pd.DataFrame(rows, columns=list(CHANGED_RESOURCE_COLUMNS)).astype({"changes": "int64"})


def fleet_frame(rows: Iterable[dict[str, Any]]) -> "pd.DataFrame":
    """One row per fabric, those needing a look first."""
    import pandas as pd

    ordered = worst_fabrics_first(rows)
    frame = pd.DataFrame([{c: r.get(c) for c in FLEET_COLUMNS} for r in ordered], columns=list(FLEET_COLUMNS))
    return frame.astype({"isolated": "bool", "differ": "int64"})


def table_metadata(frame: "pd.DataFrame", descriptions: dict[str, str] | None = None,
                   limit: int | None = None) -> TableMetadataValue:
    """A frame as a Dagster table: column types from the dtypes, NaN and None as empty cells."""
    descriptions = descriptions or {}
    columns = [TableColumn(name=str(c), type=_DTYPES.get(frame[c].dtype.kind, "string"),
                           description=descriptions.get(str(c))) for c in frame.columns]
    records = []
    for row in frame.head(limit).to_dict(orient="records") if limit else frame.to_dict(orient="records"):
        records.append(TableRecord({str(k): _cell(v) for k, v in row.items()}))
    return MetadataValue.table(records=records, schema=TableSchema(columns=columns))


def _cell(value: Any) -> str | int | float | bool | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return value if isinstance(value, (str, int, float, bool)) else str(value)
