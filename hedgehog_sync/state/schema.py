"""The state tables (docs/state.md) and the ordered list of migrations that builds them.

Every table is named `hedgehog_sync_*`, so they sit beside Dagster's own tables in the instance's
database without a clash. JSON is stored as TEXT (compact `json.dumps`), the same on SQLite and
PostgreSQL. The schema version is one row of `hedgehog_sync_schema`; `migrate` runs every migration
above it, in order, in one transaction that also holds a lock, so two processes opening a new
database at once do the work once.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, inspect, select
from sqlalchemy.engine import Connection

from hedgehog_sync.domain.errors import PermanentError

SCHEMA_TABLE = "hedgehog_sync_schema"
# A fixed key for pg_advisory_xact_lock: the first 8 bytes of sha256("hedgehog_sync_schema") as a signed int.
PG_MIGRATION_LOCK = 176752785970780818

FABRIC_NAME = 63  # inventory.PARTITION_KEY allows at most 63 characters
TIMESTAMP = 32    # ISO-8601 UTC text, as the rest of the project writes times


def _tables_v1(metadata: MetaData) -> dict[str, Table]:
    """The tables as version 1 created them. A later version that changes a table writes its own
    migration (ALTER ...) and changes `metadata` below; this function stays as it is."""
    return {
        "schema": Table(
            SCHEMA_TABLE, metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),  # always 1: one row
            Column("version", Integer, nullable=False),
        ),
        "fabric": Table(
            "hedgehog_sync_fabric", metadata,
            Column("fabric", String(FABRIC_NAME), primary_key=True),
            Column("report", Text),        # the latest drift report
            Column("good_report", Text),   # the newest report whose status was not unknown
            Column("versions", Text),      # data versions by asset/key
            Column("health", Text),        # domain.recovery.FabricHealthRecord.to_dict()
            Column("updated_at", String(TIMESTAMP), nullable=False),
        ),
        "git_parse": Table(
            "hedgehog_sync_git_parse", metadata,
            Column("fabric", String(FABRIC_NAME), primary_key=True),
            Column("commit", String(64)),   # the commit the parses are of, readable without the doc
            Column("doc", Text, nullable=False),  # cycle.PersistentParses' document
            Column("updated_at", String(TIMESTAMP), nullable=False),
        ),
        "fleet_row": Table(
            "hedgehog_sync_fleet_row", metadata,
            Column("fabric", String(FABRIC_NAME), primary_key=True),
            Column("row", Text, nullable=False),  # one fleet-summary row
            Column("updated_at", String(TIMESTAMP), nullable=False),
        ),
        "document": Table(
            "hedgehog_sync_document", metadata,
            Column("name", String(63), primary_key=True),  # "metrics", "import"
            Column("doc", Text, nullable=False),
            Column("updated_at", String(TIMESTAMP), nullable=False),
        ),
    }


def _upgrade_to_1(conn: Connection) -> None:
    metadata = MetaData()
    _tables_v1(metadata)
    metadata.create_all(conn)


# (version, upgrade): each upgrade takes the database from version-1 to version. Append only.
MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _upgrade_to_1),
]
CURRENT_VERSION = MIGRATIONS[-1][0]

# The tables as the code reads and writes them (the current version's).
metadata = MetaData()
_current = _tables_v1(metadata)
schema_table = _current["schema"]
fabric_table = _current["fabric"]
git_parse_table = _current["git_parse"]
fleet_row_table = _current["fleet_row"]
document_table = _current["document"]


class StateSchemaError(PermanentError):
    """The database's state schema cannot be used by this version of hedgehog-sync."""


def stored_version(conn: Connection) -> int:
    """The schema version the database holds; 0 for a database without our tables."""
    if not inspect(conn).has_table(SCHEMA_TABLE):
        return 0
    version = conn.execute(select(schema_table.c.version).where(schema_table.c.id == 1)).scalar()
    return int(version or 0)


def check_version(version: int, where: str, known: int = CURRENT_VERSION) -> None:
    """Refuse a database written by a newer release: its tables may mean things this code does not know."""
    if version > known:
        raise StateSchemaError(
            f"the hedgehog-sync state in {where} has schema version {version}, newer than version "
            f"{known}, the newest this hedgehog-sync knows: a newer release wrote it. Upgrade "
            f"hedgehog-sync (in every process that opens this database) to that release or later.")


def migrate(conn: Connection, where: str,
            migrations: list[tuple[int, Callable[[Connection], None]]] | None = None) -> int:
    """Bring the schema to the newest version in `migrations` (default: MIGRATIONS), inside the
    caller's transaction, which must already hold the migration lock. Returns the version found."""
    steps = MIGRATIONS if migrations is None else migrations
    target = steps[-1][0]
    found = stored_version(conn)
    check_version(found, where, target)
    for version, upgrade in steps:
        if version > found:
            upgrade(conn)
    if found == 0:
        conn.execute(schema_table.insert().values(id=1, version=target))
    elif target != found:
        conn.execute(schema_table.update().where(schema_table.c.id == 1).values(version=target))
    return found
