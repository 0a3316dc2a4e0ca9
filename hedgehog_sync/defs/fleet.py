"""The fleet at a glance: the fleet_summary asset and the sensor that records it and each report's freshness.

Why a sensor, not a run: a sensor tick costs no run start (about 1.4 s each), it sees the whole fleet
whichever batch ran, and it keeps looking when the schedule is stopped, which is exactly when
reports go stale. Sync runs only keep one row per fabric in a small JSON document (no events); the
sensor turns the rows into a fleet_summary materialization when the table's content changed (it
keeps a hash in its cursor, and reports the materialization itself: no run), and into a report_fresh
check result per fabric when one flips without a new report. Those results go through a small
`record_freshness` run, requested only on a flip: Dagster 1.13 stores at most one run-less result per
check and partition (a unique index on run id and partition), so a sensor cannot report them itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any, Iterable

from dagster import (
    AssetCheckKey, AssetKey, AssetMaterialization, AssetSpec, DagsterInstance, DefaultSensorStatus, MetadataValue,
    SensorEvaluationContext, SensorResult, sensor,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from hedgehog_sync.cycle import DRIFT_REPORT
from hedgehog_sync.defs.checks import (
    FLEET_IN_SYNC, fleet_outcome, freshness_outcome, freshness_run, record_freshness_job,
)
from hedgehog_sync.defs.partitions import FABRICS_PARTITION
from hedgehog_sync.defs.pause import syncing_status
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.defs.tables import FLEET_COLUMNS, fleet_frame, table_metadata
from hedgehog_sync.domain.errors import InventoryError
from hedgehog_sync.domain.health import parse_time
from hedgehog_sync.domain.inventory import FabricConfig
from hedgehog_sync.domain.priority import REFRESH_INTERVAL_SECONDS, Schedule
from hedgehog_sync.domain.recovery import FabricHealthRecord
from hedgehog_sync.domain.render import fleet_markdown
from hedgehog_sync.domain.report import utc_iso

FLEET_SUMMARY = "fleet_summary"
FLEET_GROUP = "fleet"
PENDING = "pending"
# Row fields that change every cycle without news: never part of the summary's hash.
VOLATILE = ("last_cycle_at", "interval_seconds")

fleet_summary_spec = AssetSpec(
    FLEET_SUMMARY, group_name=FLEET_GROUP, owners=["team:netops"], kinds={"pandas"}, deps=[DRIFT_REPORT],
    description="Every fabric of the inventory in one table: status, severity, health, priority, "
                "isolation, freshness, last commit and drift since; counts that plot over time. "
                "Recorded by the fleet_watch sensor when the table changed.",
)


def fleet_row(report: dict[str, Any], record: FabricHealthRecord, health: float, schedule: Schedule) -> dict[str, Any]:
    """A fabric's line in the fleet summary, from its latest report and health record."""
    summary = report["summary"]
    return {
        "fabric": report["fabric"], "status": report["status"], "severity": report["severity"],
        "score": float(report["score"]), "health": round(health, 2), "priority": schedule.configured,
        "effective_priority": schedule.priority, "isolated": record.isolated,
        "differ": summary["modified"] + summary["missing"] + summary["extra"],
        "commit": (report["git"].get("commit") or "")[:12], "drift_since": report.get("drift_since") or "",
        "last_cycle_at": record.last_cycle_at, "interval_seconds": schedule.interval_seconds,
    }


def pending_row(cfg: FabricConfig) -> dict[str, Any]:
    return {"fabric": cfg.name, "status": PENDING, "severity": "none", "score": 0.0, "health": None,
            "priority": cfg.priority, "effective_priority": cfg.priority, "isolated": False, "differ": 0,
            "commit": "", "drift_since": "", "last_cycle_at": None,
            "interval_seconds": REFRESH_INTERVAL_SECONDS[cfg.priority]}


def merge_rows(doc: dict[str, Any] | None, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The rows document with these fabrics' rows replaced (what a sync run writes)."""
    merged = dict((doc or {}).get("rows") or {})
    merged.update(rows)
    return {"rows": merged}


def summary_hash(rows: Iterable[dict[str, Any]]) -> str:
    stable = [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]
    raw = json.dumps(sorted(stable, key=lambda r: r["fabric"]), sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def fleet_view(inventory_fabrics: Iterable[FabricConfig], partitions: Iterable[str],
               doc: dict[str, Any] | None, first_seen: dict[str, str], now: datetime
               ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The summary rows of every fabric in the inventory that has a partition, with its freshness
    (None for disabled fabrics: nothing is expected of them), and the updated first-seen times of
    fabrics without a report yet."""
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


def fleet_now(instance: DagsterInstance, fleet: FleetResource) -> list[dict[str, Any]]:
    """The summary rows as of now (fabrics without a report yet count from now)."""
    rows, _ = fleet_view(fleet.load_inventory().fabrics, instance.get_dynamic_partitions(FABRICS_PARTITION),
                         fleet.fleet_rows(instance).load(), {}, datetime.now(timezone.utc))
    for row in rows:
        row.pop("_freshness", None)
    return rows


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
        "in_sync": MetadataValue.int(count(status="in_sync")),
        "drifted": MetadataValue.int(count(status="drifted")),
        "unknown": MetadataValue.int(count(status="unknown")),
        "pending": MetadataValue.int(count(status=PENDING)),
        "critical": MetadataValue.int(count(severity="critical")),
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
    rows, first_seen = fleet_view(inventory.fabrics, partitions, fleet.fleet_rows(context.instance).load(),
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
