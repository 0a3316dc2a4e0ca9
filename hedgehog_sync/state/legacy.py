"""The upgrade path: a state directory written before the database (up to b468fd3), imported once.

The directory held, per fabric, `reports/<fabric>/{report.json, report.good.json, versions.json,
health.json, parsed.json}`, and for the fleet `metrics.json` and `fleet-rows.json` (`{"rows": {...}}`).
The import reads it, writes what the database does not hold yet in one transaction, records what
it did in the document "import", and leaves the directory as it was. A file that cannot be read
is skipped with a warning naming it; it never stops the rest.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hedgehog_sync.domain.inventory import PARTITION_KEY
from hedgehog_sync.domain.health_record import FabricHealthRecord
from hedgehog_sync.state.schema import document_table, fabric_table, fleet_row_table, git_parse_table
from hedgehog_sync.state.store import IMPORT, METRICS, _dumps, _now

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from hedgehog_sync.state.store import StateStore

log = logging.getLogger(__name__)

STATE_DIR_ENV = "HEDGEHOG_SYNC_STATE_DIR"
FABRIC_FILES = {"report.json": "report", "report.good.json": "good_report", "versions.json": "versions",
                "health.json": "health", "parsed.json": "parses"}


@dataclass
class LegacyFabric:
    fabric: str
    report: dict[str, Any] | None = None
    good_report: dict[str, Any] | None = None
    versions: dict[str, Any] | None = None
    health: FabricHealthRecord | None = None
    parses: dict[str, Any] | None = None

    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in FABRIC_FILES.values())


@dataclass
class LegacyState:
    """What a state directory holds, as far as it could be read."""

    root: Path
    fabrics: dict[str, LegacyFabric] = field(default_factory=dict)
    fleet_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    skipped: list[str] = field(default_factory=list)  # one line per file or folder left out, naming it

    def skip(self, path: Path, why: str) -> None:
        line = f"{path}: {why}"
        log.warning("legacy state import skips %s", line)
        self.skipped.append(line)


@dataclass
class ImportSummary:
    """What one import read and wrote."""

    source: str
    imported_at: str
    fabrics: list[str] = field(default_factory=list)         # imported
    already_stored: list[str] = field(default_factory=list)  # in the directory, but the database had them
    reports: int = 0
    good_reports: int = 0
    health_records: int = 0
    versions: int = 0
    parses: int = 0
    fleet_rows: int = 0
    metrics: bool = False
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read_json(state: LegacyState, path: Path, kind: type = dict) -> Any | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        state.skip(path, f"unreadable ({type(exc).__name__})")
        return None
    if not isinstance(value, kind):
        state.skip(path, f"not a JSON {'object' if kind is dict else kind.__name__}")
        return None
    return value


def read_state_dir(path: str | os.PathLike[str]) -> LegacyState:
    """Everything readable in a legacy state directory; the rest is listed in `skipped`."""
    root = Path(path)
    state = LegacyState(root)
    reports = root / "reports"
    if reports.is_dir():
        for folder in sorted(reports.iterdir()):
            if not folder.is_dir():
                continue
            if not PARTITION_KEY.match(folder.name):
                state.skip(folder, "not a fabric name")
                continue
            fabric = LegacyFabric(folder.name)
            for filename, attribute in FABRIC_FILES.items():
                value = _read_json(state, folder / filename)
                if attribute == "health" and value is not None:
                    try:
                        value = FabricHealthRecord.from_dict(value)
                    except ValueError as exc:
                        state.skip(folder / filename, str(exc))
                        value = None
                setattr(fabric, attribute, value)
            if not fabric.empty():
                state.fabrics[fabric.fabric] = fabric
    state.metrics = _read_json(state, root / "metrics.json")
    rows_path = root / "fleet-rows.json"
    doc = _read_json(state, rows_path)
    if doc is not None:
        rows = doc.get("rows")
        if not isinstance(rows, dict):
            state.skip(rows_path, "no \"rows\" object")
            rows = {}
        for name, row in rows.items():
            if isinstance(name, str) and PARTITION_KEY.match(name) and isinstance(row, dict):
                state.fleet_rows[name] = row
            else:
                state.skip(rows_path, f"row {str(name)[:80]!r} is not a fabric's row")
    return state


def import_state_dir(store: "StateStore", path: str | os.PathLike[str], *, once: bool = False
                     ) -> ImportSummary | None:
    """Import a legacy state directory into `store`, in one transaction: fabrics without a row yet,
    fleet rows of fabrics without one, and the metrics when none are stored; then record it in the
    document "import". With once=True, nothing is done (None returned) if any import was recorded."""
    state = read_state_dir(path)
    summary = ImportSummary(source=str(Path(path).resolve()), imported_at=_now(), skipped=list(state.skipped))

    def record(doc: Any) -> dict[str, Any]:
        previous = doc.get("imports") if isinstance(doc, dict) else None
        return {"imports": [*(previous if isinstance(previous, list) else []), summary.to_dict()]}

    with store._write() as conn:
        # The "import" document's row, locked first, orders concurrent imports one after the other.
        store._change_document(conn, IMPORT, lambda doc: doc, summary.imported_at)
        if once and _has_imports(conn):
            return None
        now = summary.imported_at
        names = sorted(state.fabrics)
        stored = set(conn.execute(select(fabric_table.c.fabric).where(fabric_table.c.fabric.in_(names))).scalars()) \
            if names else set()
        summary.already_stored = [n for n in names if n in stored]
        fabric_rows, parse_rows = [], []
        for name in names:
            if name in stored:
                continue
            legacy = state.fabrics[name]
            fabric_rows.append({
                "fabric": name,
                "report": None if legacy.report is None else _dumps(legacy.report),
                "good_report": None if legacy.good_report is None else _dumps(legacy.good_report),
                "versions": None if legacy.versions is None else _dumps(legacy.versions),
                "health": None if legacy.health is None else _dumps(legacy.health.to_dict()),
                "updated_at": now})
            if legacy.parses is not None:
                commit = legacy.parses.get("commit")
                parse_rows.append({"fabric": name, "commit": commit if isinstance(commit, str) else None,
                                   "doc": _dumps(legacy.parses), "updated_at": now})
            summary.fabrics.append(name)
            summary.reports += legacy.report is not None
            summary.good_reports += legacy.good_report is not None
            summary.health_records += legacy.health is not None
            summary.versions += legacy.versions is not None
            summary.parses += legacy.parses is not None
        if fabric_rows:
            conn.execute(store._insert(fabric_table).on_conflict_do_nothing(index_elements=["fabric"]), fabric_rows)
        if parse_rows:
            conn.execute(store._insert(git_parse_table).on_conflict_do_nothing(index_elements=["fabric"]),
                         parse_rows)
        if state.fleet_rows:
            have = set(conn.execute(select(fleet_row_table.c.fabric)
                                    .where(fleet_row_table.c.fabric.in_(sorted(state.fleet_rows)))).scalars())
            rows = [{"fabric": name, "row": _dumps(row), "updated_at": now}
                    for name, row in sorted(state.fleet_rows.items()) if name not in have]
            if rows:
                conn.execute(store._insert(fleet_row_table).on_conflict_do_nothing(index_elements=["fabric"]), rows)
            summary.fleet_rows = len(rows)
        if state.metrics is not None:
            result = conn.execute(store._insert(document_table).on_conflict_do_nothing(index_elements=["name"]),
                                  {"name": METRICS, "doc": _dumps(state.metrics), "updated_at": now})
            summary.metrics = result.rowcount == 1
        store._change_document(conn, IMPORT, record, now)
    log.info("imported the state directory %s into %s: %d fabrics (%d already stored), %d fleet rows, "
             "metrics %s, %d files skipped", summary.source, store.display_url, len(summary.fabrics),
             len(summary.already_stored), summary.fleet_rows, "yes" if summary.metrics else "no",
             len(summary.skipped))
    return summary


def _has_imports(conn: Any) -> bool:
    text = conn.execute(select(document_table.c.doc).where(document_table.c.name == IMPORT)).scalar()
    try:
        doc = json.loads(text) if text else None
    except ValueError:
        return False
    return bool(isinstance(doc, dict) and doc.get("imports"))


def legacy_state_dir(instance: "DagsterInstance") -> Path:
    """Where the state directory of earlier releases was: $HEDGEHOG_SYNC_STATE_DIR, else
    `<instance storage>/hedgehog_sync`."""
    explicit = os.environ.get(STATE_DIR_ENV)
    return Path(explicit) if explicit else Path(instance.storage_directory()) / "hedgehog_sync"


def import_legacy_once(store: "StateStore", instance: "DagsterInstance") -> ImportSummary | None:
    """Import the instance's legacy state directory if there is one and no import was recorded yet."""
    path = legacy_state_dir(instance)
    if not any((path / name).exists() for name in ("reports", "metrics.json", "fleet-rows.json")):
        return None
    doc = store.document(IMPORT)
    if isinstance(doc, dict) and doc.get("imports"):
        return None
    return import_state_dir(store, path, once=True)
