"""The fleet at a glance: the fleet_summary asset and the sensor that records it and each report's freshness.

Why a sensor, not a run: a sensor tick costs no run start (about 1.4 s each), it sees the whole fleet
whichever batch ran, and it keeps looking when the schedule is stopped, which is exactly when
reports go stale. Sync runs only keep one row per fabric in the state store (no events; the rows are
in docs/contracts.md#fleet-rows); the sensor turns the rows into a fleet_summary materialization when
the table's content changed (it keeps a hash in its cursor, and reports the materialization itself:
no run), and into a report_fresh check result per fabric when one flips without a new report. Those
results go through a small `record_freshness` run, requested only on a flip: Dagster 1.13 stores at
most one run-less result per check and partition (a unique index on run id and partition), so a
sensor cannot report them itself.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from dagster import (
    AssetCheckKey, AssetKey, AssetMaterialization, AssetSpec, DagsterInstance, DefaultSensorStatus, MetadataValue,
    SensorEvaluationContext, SensorResult, sensor,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from hedgehog_sync.cycle import DRIFT_REPORT
from hedgehog_sync.defs.checks import (  # noqa: F401  (fleet_now: importable from here as before)
    FLEET_IN_SYNC, fleet_now, fleet_outcome, freshness_run, record_freshness_job,
)
from hedgehog_sync.defs.partitions import FABRICS_PARTITION
from hedgehog_sync.defs.pause import syncing_status
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.defs.tables import FLEET_COLUMNS, fleet_frame, table_metadata
from hedgehog_sync.domain.errors import InventoryError
# The rows are plain data in the domain; importable from here as before.
from hedgehog_sync.domain.fleet_rows import (  # noqa: F401
    VOLATILE, fleet_row, fleet_view, merge_rows, pending_row, summary_hash,
)
from hedgehog_sync.domain.render import fleet_markdown
from hedgehog_sync.domain.vocabulary import CRITICAL, DRIFTED, IN_SYNC_STATUS, PENDING, UNKNOWN

FLEET_SUMMARY = "fleet_summary"
FLEET_GROUP = "fleet"

fleet_summary_spec = AssetSpec(
    FLEET_SUMMARY, group_name=FLEET_GROUP, owners=["team:netops"], kinds={"pandas"}, deps=[DRIFT_REPORT],
    description="Every fabric of the inventory in one table: status, severity, health, priority, "
                "isolation, freshness, last commit and drift since; counts that plot over time. "
                "Recorded by the fleet_watch sensor when the table changed.",
)


def fleet_check_left_unevaluated(instance: DagsterInstance) -> bool:
    """Whether fleet_in_sync's latest execution has no result: a run launched from the UI plans every
    check of drift_report and skips those it does not evaluate, which would hide the fleet's verdict."""
    key = AssetCheckKey(AssetKey(DRIFT_REPORT), FLEET_IN_SYNC)
    summary = instance.event_log_storage.get_asset_check_summary_records([key]).get(key)
    latest = summary.last_check_execution_record if summary else None
    return latest is not None and latest.status == AssetCheckExecutionRecordStatus.PLANNED


def link_fabrics(markdown: str, links: dict[str, str]) -> str:
    """The fleet markdown with each table row's fabric name linked to its report page. Fabric names
    are partition keys (letters, digits, `-`, `_`, `.`), so they need no escaping."""
    def linked(line: str) -> str:
        match = _ROW_FABRIC.match(line)
        if not match or match.group(1) not in links:
            return line
        return f"| [`{match.group(1)}`]({links[match.group(1)]}) |" + line[match.end():]
    return "\n".join(linked(line) for line in markdown.split("\n"))


_ROW_FABRIC = re.compile(r"^\| `([A-Za-z0-9._-]+)` \|")


def _under_title(markdown: str, line: str) -> str:
    """`line` as the paragraph right below the markdown's title (its first paragraph)."""
    title, sep, rest = markdown.partition("\n\n")
    return f"{title}\n\n{line}{sep}{rest}" if sep else f"{markdown}\n\n{line}"


def summary_metadata(rows: list[dict[str, Any]], syncing: str | None = None) -> dict[str, Any]:
    """What the fleet_summary materialization shows: what holds automatic syncing (`syncing`, one
    line), the glance (fabric names link to their reports when the rows carry a `report` URL), the
    table, and numbers that plot."""
    links = {r["fabric"]: r["report"] for r in rows if r.get("report")}
    healths = [r["health"] for r in rows if r.get("health") is not None]

    def count(**match: Any) -> int:
        return sum(1 for r in rows if all(r.get(k) == v for k, v in match.items()))

    glance = link_fabrics(fleet_markdown(rows), links)
    return {
        "summary": MetadataValue.md(_under_title(glance, f"**{syncing}**") if syncing else glance),
        **({"automatic_syncing": MetadataValue.text(syncing)} if syncing else {}),
        "fabrics_table": table_metadata(fleet_frame(rows), FLEET_COLUMNS),
        "fabrics": MetadataValue.int(len(rows)),
        "in_sync": MetadataValue.int(count(status=IN_SYNC_STATUS)),
        "drifted": MetadataValue.int(count(status=DRIFTED)),
        "unknown": MetadataValue.int(count(status=UNKNOWN)),
        "pending": MetadataValue.int(count(status=PENDING)),
        "critical": MetadataValue.int(count(severity=CRITICAL)),
        "isolated": MetadataValue.int(count(isolated=True)),
        "stale": MetadataValue.int(count(fresh=False)),
        "mean_health": MetadataValue.float(round(sum(healths) / len(healths), 4) if healths else 1.0),
        "min_health": MetadataValue.float(min(healths) if healths else 1.0),
    }


@sensor(
    name="fleet_watch",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    jobs=[record_freshness_job],
    description="Every minute: records fleet_summary when the fleet's table changed (no run), and "
                "drift_report's report_fresh check for each fabric whose freshness flipped and its "
                "fleet_in_sync check when the fleet's worst changed (a small run, only then).",
)
def fleet_watch(context: SensorEvaluationContext, fleet: FleetResource):
    try:
        inventory = fleet.load_inventory()
    except InventoryError as exc:
        return SensorResult(skip_reason=f"inventory unusable: {exc}")
    cursor = json.loads(context.cursor) if context.cursor else {}
    now = datetime.now(timezone.utc)
    partitions = context.instance.get_dynamic_partitions(FABRICS_PARTITION)
    rows, first_seen = fleet_view(inventory.fabrics, partitions, fleet.state_store(context.instance).fleet_rows(),
                                  cursor.get("first_seen") or {}, now)
    known: dict[str, bool] = cursor.get("fresh") or {}
    fresh: dict[str, bool] = {}
    flipped: list[dict[str, Any]] = []
    # A pause is part of the fleet's picture: the summary says what holds syncing, and which fabrics.
    syncing = syncing_status(context.instance, partitions)
    for row in rows:
        row["report"] = fleet.report_url(row["fabric"])
        paused = syncing.fabrics.get(row["fabric"])
        row["paused"] = paused.describe() if paused is not None else ""
        outcome = row.pop("_freshness", None)
        if outcome is None:
            continue
        fresh[row["fabric"]] = outcome.passed
        if known.get(row["fabric"]) != outcome.passed:
            flipped.append(outcome.as_verdict(row["fabric"]))
    fleet_verdict = fleet_outcome(rows)
    fleet_key = f"{fleet_verdict.passed}/{fleet_verdict.severity}/{fleet_verdict.description}"
    judged = fleet_verdict.metadata["fabrics"] > 0  # not before a fabric has a report
    if judged and (fleet_key != cursor.get("fleet") or fleet_check_left_unevaluated(context.instance)):
        flipped.append(fleet_verdict.as_verdict(None, FLEET_IN_SYNC))
    headline = syncing.headline()
    digest = summary_hash([*rows, {"fabric": "", "automatic_syncing": headline}])
    events = []
    if digest != cursor.get("summary"):
        events.append(AssetMaterialization(FLEET_SUMMARY, metadata=summary_metadata(rows, headline),
                                           tags={"dagster/data_version": digest}))
    new_cursor = json.dumps({"summary": digest, "fresh": fresh, "first_seen": first_seen,
                             "fleet": fleet_key if judged else cursor.get("fleet")}, sort_keys=True)
    if not events and not flipped:
        return SensorResult(skip_reason=f"{len(rows)} fabrics, nothing new", cursor=new_cursor)
    context.log.info(f"fleet_summary {'changed' if events else 'unchanged'}; check results to record: "
                     f"{len(flipped)} (report_fresh flips, fleet_in_sync changes)")
    return SensorResult(asset_events=events, run_requests=[freshness_run(flipped, now)] if flipped else [],
                        cursor=new_cursor)
