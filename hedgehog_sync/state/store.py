"""Each fabric's stored state in the Dagster instance's database (docs/state.md).

A run reads the state of all its fabrics with one query (`load`) and writes its changes in one
transaction (`commit`). The health record is read-modify-write: on PostgreSQL the batch's rows are
locked (`SELECT ... FOR UPDATE`, in fabric order so two runs never deadlock), on SQLite the whole
write is one `BEGIN IMMEDIATE` transaction; either way two runs folding a cycle into the same
fabric's health both count, and a run that dies mid-batch leaves every fabric as it was.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sqlite3
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy import bindparam, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from hedgehog_sync.domain.errors import HedgehogSyncError, TransientError
from hedgehog_sync.domain.inventory import PARTITION_KEY
from hedgehog_sync.domain.health_record import FabricHealthRecord
from hedgehog_sync.domain.redaction import redact
from hedgehog_sync.domain.report import UNKNOWN
from hedgehog_sync.state import schema
from hedgehog_sync.state.schema import (
    document_table, fabric_table, fleet_row_table, git_parse_table,
)

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from hedgehog_sync.state.legacy import ImportSummary

log = logging.getLogger(__name__)

DB_FILE = "hedgehog_sync.db"  # beside Dagster's own SQLite files in instance.storage_directory()
BUSY_TIMEOUT_SECONDS = 30     # how long a SQLite writer waits for another one to finish
PG_POOL_SIZE = 2
METRICS, IMPORT = "metrics", "import"  # names in hedgehog_sync_document
_READ_ONLY = "hedgehog_sync_read_only"  # execution option: a SQLite read begins DEFERRED, not IMMEDIATE


class StateStoreError(HedgehogSyncError):
    """The state database refused or failed a statement. Names the database by display_url only."""


class StateStoreUnavailableError(StateStoreError, TransientError):
    """The state database could not be reached, or stayed locked past the busy timeout."""


@dataclass
class FabricState:
    """What one fabric has stored."""

    fabric: str
    report: dict[str, Any] | None = None       # latest report
    good_report: dict[str, Any] | None = None  # newest report whose status was not "unknown"
    versions: dict[str, str] = field(default_factory=dict)  # data versions by asset/key
    health: FabricHealthRecord = field(default_factory=FabricHealthRecord)
    git_commit: str | None = None  # commit of the stored Git parse, read without the big document


@dataclass
class FabricWrite:
    """What a batch writes for one fabric; None leaves that part as stored."""

    fabric: str
    report: dict[str, Any] | None = None  # also becomes good_report when its status is not unknown
    versions: dict[str, str] | None = None
    # read-modify-write: called inside the transaction with the fabric's current (locked) record
    health: Callable[[FabricHealthRecord], FabricHealthRecord] | None = None
    parses: dict[str, Any] | None = None  # cycle.PersistentParses' document (has key "commit")
    fleet_row: dict[str, Any] | None = None


# --- engines: one per (process, url) ---------------------------------------------------------------

_ENGINES: dict[tuple[int, str], Engine] = {}
_STORES: dict[tuple[int, str], "StateStore"] = {}
_CACHE_LOCK = threading.Lock()


def _configure_sqlite(engine: Engine) -> None:
    """SQLAlchemy's documented pysqlite recipe: pysqlite's own transaction handling off, SQLAlchemy
    emits BEGIN itself; writes take the database lock at BEGIN (IMMEDIATE), so a read-modify-write
    never finds the row changed under it. WAL lets readers go on while one writer writes."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
            # WAL is a property of the file: set once. Switching needs the file to itself, and SQLite
            # may answer "locked" at once while another process opens it: wait that out, bounded.
            deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
            while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                try:
                    cursor.execute("PRAGMA journal_mode = WAL").fetchone()
                    break  # WAL now, or a database that has no WAL (in memory)
                except sqlite3.OperationalError:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(0.05)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")


def create_state_engine(url: str | sa.URL, token_provider: Any = None) -> Engine:
    """A new engine for the state database at `url`, configured as the store needs it
    (prefer `engine_for`, which keeps one per process and url)."""
    url = sa.make_url(url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            engine = sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        if url.drivername == "postgresql" and importlib.util.find_spec("psycopg") is None:
            # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; dagster-postgres ships psycopg2
            url = url.set(drivername="postgresql+psycopg2")
        kwargs: dict[str, Any] = {"pool_size": PG_POOL_SIZE, "max_overflow": PG_POOL_SIZE, "pool_pre_ping": True,
                                  "pool_recycle": 3600}
        if token_provider is not None:  # short-lived cloud tokens as the password, as Dagster's own storage does
            from dagster_postgres.utils import create_pg_engine
            return create_pg_engine(url.render_as_string(hide_password=False), token_provider, **kwargs)
        return sa.create_engine(url, **kwargs)
    raise StateStoreError(f"the state store needs SQLite or PostgreSQL, not {backend!r} ({display_url(url)})")


def engine_for(url: str, token_provider: Any = None) -> Engine:
    """The engine for `url` in this process (a forked child makes its own: connections never cross)."""
    key = (os.getpid(), url)
    with _CACHE_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = create_state_engine(url, token_provider)
        return engine


def display_url(url: str | sa.URL) -> str:
    """The database as it may be shown: no user, password or query parameters."""
    try:
        url = sa.make_url(url)
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{url.database}" if url.database not in (None, "", ":memory:") else "sqlite:// (in memory)"
    shown = sa.URL.create(url.get_backend_name(), host=url.host, port=url.port, database=url.database)
    return shown.render_as_string(hide_password=True)


def _private_file(path: Path) -> None:
    """The SQLite file readable by its owner only (SQLite gives its -wal and -shm files the same
    mode): the Git parses in it hold what Git holds, Secret-like values included."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)
    except OSError:  # a read-only mount, another owner: SQLite says what is wrong when it opens it
        pass


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fabric_name(fabric: str) -> str:
    if not isinstance(fabric, str) or not PARTITION_KEY.match(fabric):
        raise ValueError(f"invalid fabric name {fabric!r}")
    return fabric


def _names(fabrics: Iterable[str]) -> list[str]:
    if isinstance(fabrics, str):
        raise TypeError("fabrics is an iterable of names, not one name")
    return sorted({_fabric_name(f) for f in fabrics})


class StateStore:
    """The fleet's durable state: reports, health, data versions, Git parses, fleet rows, metrics."""

    def __init__(self, url_or_engine: str | Engine, *, token_provider: Any = None):
        if isinstance(url_or_engine, Engine):
            self.engine = url_or_engine
        else:
            self.engine = engine_for(url_or_engine, token_provider)
        self.display_url = display_url(self.engine.url)
        self.dialect = self.engine.dialect.name
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        self._read_only = False  # read_only_for_instance: never creates or migrates the schema

    def __repr__(self) -> str:
        return f"StateStore({self.display_url})"

    def close(self) -> None:
        """Close this process's pooled connections to the database; the store reconnects if used again."""
        self.engine.dispose()

    # --- opening ---------------------------------------------------------------------------------

    @classmethod
    def for_instance(cls, instance: "DagsterInstance") -> "StateStore":
        """The store in the instance's database: its PostgreSQL when the run storage is
        dagster-postgres, else `<storage directory>/hedgehog_sync.db`. One per process and
        database; the first in a process also imports a legacy state directory (legacy.py) once."""
        storage = instance.run_storage
        url = getattr(storage, "postgres_url", None)
        token_provider = getattr(storage, "_token_provider", None) if url else None
        if not url:
            directory = Path(instance.storage_directory())
            directory.mkdir(parents=True, exist_ok=True)
            _private_file(directory / DB_FILE)
            url = f"sqlite:///{directory / DB_FILE}"
        key = (os.getpid(), url)
        with _CACHE_LOCK:
            store = _STORES.get(key)
        if store is not None:
            return store
        store = cls(url, token_provider=token_provider)
        from hedgehog_sync.state.legacy import import_legacy_once
        import_legacy_once(store, instance)
        with _CACHE_LOCK:
            return _STORES.setdefault(key, store)

    @classmethod
    def read_only_for_instance(cls, instance: "DagsterInstance") -> "StateStore | None":
        """The instance's store for reading only (`hedgehog-sync check` beside a fleet): it never
        creates the database file or the tables, never migrates and never imports a legacy state
        directory; a SQLite file is opened read-only. None when the fleet has stored nothing yet.
        Reading a database whose schema is not the current one raises StateStoreError."""
        storage = instance.run_storage
        url = getattr(storage, "postgres_url", None)
        token_provider = getattr(storage, "_token_provider", None) if url else None
        if not url:
            path = Path(instance.storage_directory()) / DB_FILE
            if not path.is_file():
                return None
            url = sa.URL.create("sqlite", database=f"file:{path}", query={"mode": "ro", "uri": "true"})
        store = cls(create_state_engine(url, token_provider))
        store._read_only = True
        return store

    @classmethod
    def in_memory(cls) -> "StateStore":
        """A private SQLite database in memory (for `hedgehog-sync check`): gone when dropped."""
        return cls(create_state_engine("sqlite://"))

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            with self._errors(), self.engine.connect() as conn:
                conn.execution_options(**{_READ_ONLY: True})
                with conn.begin():
                    found = schema.stored_version(conn)
            schema.check_version(found, self.display_url)
            if found < schema.CURRENT_VERSION and self._read_only:
                raise StateStoreError(f"state database {self.display_url}: schema version {found}, not "
                                      f"{schema.CURRENT_VERSION}; a reader does not migrate it (the fleet's "
                                      "next run does)")
            if found < schema.CURRENT_VERSION:
                with self._errors(), self.engine.begin() as conn:
                    # concurrent openers: one migrates, the others wait for it and then find nothing to do
                    if self.dialect == "postgresql":
                        conn.execute(select(func.pg_advisory_xact_lock(schema.PG_MIGRATION_LOCK)))
                    before = schema.migrate(conn, self.display_url)
                if before < schema.CURRENT_VERSION:
                    log.info("state schema in %s migrated from version %d to %d",
                             self.display_url, before, schema.CURRENT_VERSION)
            self._schema_ready = True

    # --- transactions ----------------------------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Database errors as StateStoreError naming the database by display_url, never its password."""
        try:
            yield
        except sa.exc.DBAPIError as exc:
            cause = getattr(exc, "orig", None) or exc
            lines = str(cause).strip().splitlines()  # the driver's message, without SQLAlchemy's SQL and parameters
            detail = redact(lines[0])[:300] if lines else type(cause).__name__
            kind = StateStoreUnavailableError if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)) \
                else StateStoreError
            raise kind(f"state database {self.display_url}: {detail}") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        self._ensure_schema()
        with self._errors(), self.engine.connect() as conn:
            conn.execution_options(**{_READ_ONLY: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        self._ensure_schema()
        with self._errors(), self.engine.begin() as conn:
            yield conn

    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    def _upsert(self, conn: Connection, table: sa.Table, key: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        stmt = self._insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[key], set_={c.name: stmt.excluded[c.name] for c in table.c if c.name != key})
        conn.execute(stmt, sorted(rows, key=lambda r: r[key]))

    def _lock_fabrics(self, conn: Connection, names: list[str], now: str) -> dict[str, str | None]:
        """Create the batch's missing fabric rows, lock them all (fabric order) and return their health texts."""
        stmt = self._insert(fabric_table).on_conflict_do_nothing(index_elements=["fabric"])
        conn.execute(stmt, [{"fabric": name, "updated_at": now} for name in names])
        query = (select(fabric_table.c.fabric, fabric_table.c.health)
                 .where(fabric_table.c.fabric.in_(names)).order_by(fabric_table.c.fabric))
        if self.dialect == "postgresql":
            query = query.with_for_update()
        return {row.fabric: row.health for row in conn.execute(query)}

    def _change_document(self, conn: Connection, name: str, change: Callable[[Any], Any], now: str) -> Any:
        """Read-modify-write of one document, the row locked for the rest of the transaction."""
        stmt = self._insert(document_table).on_conflict_do_nothing(index_elements=["name"])
        conn.execute(stmt, {"name": name, "doc": "null", "updated_at": now})
        query = select(document_table.c.doc).where(document_table.c.name == name)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        current = _loads(conn.execute(query).scalar(), f"document {name}")
        new = change(current)
        conn.execute(document_table.update().where(document_table.c.name == name)
                     .values(doc=_dumps(new), updated_at=now))
        return new

    # --- one batch -------------------------------------------------------------------------------

    def load(self, fabrics: Iterable[str]) -> dict[str, FabricState]:
        """Every named fabric's state (a fabric with nothing stored gets an empty FabricState), in one query."""
        names = _names(fabrics)
        states = {name: FabricState(name) for name in names}
        if not names:
            return states
        f, g = fabric_table, git_parse_table
        query = (select(f.c.fabric, f.c.report, f.c.good_report, f.c.versions, f.c.health, g.c.commit)
                 .select_from(f.outerjoin(g, g.c.fabric == f.c.fabric))
                 .where(f.c.fabric.in_(names)))
        with self._read() as conn:
            rows = conn.execute(query).all()
        for row in rows:
            states[row.fabric] = FabricState(
                fabric=row.fabric,
                report=_loads_dict(row.report, f"{row.fabric} report"),
                good_report=_loads_dict(row.good_report, f"{row.fabric} good report"),
                versions=_loads_dict(row.versions, f"{row.fabric} versions") or {},
                health=_health(row.health, row.fabric),
                git_commit=row.commit)
        return states

    def load_parses(self, fabrics: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored Git parse documents of the named fabrics that have one, in one query."""
        names = _names(fabrics)
        if not names:
            return {}
        query = select(git_parse_table.c.fabric, git_parse_table.c.doc).where(git_parse_table.c.fabric.in_(names))
        with self._read() as conn:
            rows = conn.execute(query).all()
        docs = {row.fabric: _loads_dict(row.doc, f"{row.fabric} git parse") for row in rows}
        return {name: doc for name, doc in docs.items() if doc is not None}

    def commit(self, writes: Iterable[FabricWrite],
               metrics: Callable[[dict[str, Any] | None], dict[str, Any]] | None = None
               ) -> dict[str, FabricHealthRecord]:
        """Write a batch in one transaction: all of it or, if anything raises, none of it.

        Each write's health fold gets the fabric's current record with its row locked, so
        concurrent batches never lose a cycle; `metrics(current)` gives the new metrics document,
        also inside the transaction. Returns the health record of every fabric written to, after
        the write (the folded one where a fold was given, the stored one otherwise)."""
        return self._commit(list(writes), metrics)[0]

    def _commit(self, writes: list[FabricWrite],
                metrics: Callable[[dict[str, Any] | None], dict[str, Any]] | None
                ) -> tuple[dict[str, FabricHealthRecord], dict[str, Any] | None]:
        by_fabric: dict[str, FabricWrite] = {}
        for write in writes:
            name = _fabric_name(write.fabric)
            if name in by_fabric:
                raise ValueError(f"fabric {name} is written twice in one batch")
            by_fabric[name] = write
        names = sorted(by_fabric)
        now = _now()
        records: dict[str, FabricHealthRecord] = {}
        new_metrics = None
        with self._write() as conn:
            if names:
                current = self._lock_fabrics(conn, names, now)
                updates: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
                parses, fleet_rows = [], []
                for name in names:
                    write = by_fabric[name]
                    values: dict[str, Any] = {"updated_at": now}
                    if write.report is not None:
                        values["report"] = _dumps(write.report)
                        if write.report.get("status") != UNKNOWN:
                            values["good_report"] = values["report"]
                    if write.versions is not None:
                        values["versions"] = _dumps(write.versions)
                    record = _health(current.get(name), name)
                    if write.health is not None:
                        record = write.health(record)
                        if not isinstance(record, FabricHealthRecord):
                            raise TypeError(f"the health fold for {name} returned {type(record).__name__}, "
                                            "not a FabricHealthRecord")
                        values["health"] = _dumps(record.to_dict())
                    records[name] = record
                    updates[tuple(sorted(values))].append({"b_fabric": name, **values})
                    if write.parses is not None:
                        commit = write.parses.get("commit")
                        parses.append({"fabric": name, "commit": commit if isinstance(commit, str) else None,
                                       "doc": _dumps(write.parses), "updated_at": now})
                    if write.fleet_row is not None:
                        fleet_rows.append({"fabric": name, "row": _dumps(write.fleet_row), "updated_at": now})
                for columns, rows in updates.items():
                    conn.execute(fabric_table.update().where(fabric_table.c.fabric == bindparam("b_fabric"))
                                 .values({c: bindparam(c) for c in columns}), rows)
                self._upsert(conn, git_parse_table, "fabric", parses)
                self._upsert(conn, fleet_row_table, "fabric", fleet_rows)
            if metrics is not None:
                new_metrics = self._change_document(conn, METRICS, metrics, now)
        return records, new_metrics

    # --- one fabric at a time (each its own small transaction) -----------------------------------

    def _column(self, table: sa.Table, column: str, fabric: str) -> Any:
        query = select(table.c[column]).where(table.c.fabric == _fabric_name(fabric))
        with self._read() as conn:
            return conn.execute(query).scalar()

    def latest_report(self, fabric: str) -> dict[str, Any] | None:
        return _loads_dict(self._column(fabric_table, "report", fabric), f"{fabric} report")

    def last_good_report(self, fabric: str) -> dict[str, Any] | None:
        """The newest report whose status was not unknown: what an outage must never erase."""
        return _loads_dict(self._column(fabric_table, "good_report", fabric), f"{fabric} good report")

    def save_report(self, fabric: str, report: dict[str, Any]) -> None:
        self.commit([FabricWrite(fabric, report=report)])

    def versions(self, fabric: str) -> dict[str, str]:
        return _loads_dict(self._column(fabric_table, "versions", fabric), f"{fabric} versions") or {}

    def save_versions(self, fabric: str, versions: dict[str, str]) -> None:
        self.commit([FabricWrite(fabric, versions=versions)])

    def health(self, fabric: str) -> FabricHealthRecord:
        return _health(self._column(fabric_table, "health", fabric), fabric)

    def save_health(self, fabric: str, record: FabricHealthRecord) -> None:
        self.commit([FabricWrite(fabric, health=lambda _current: record)])

    def parsed_files(self, fabric: str) -> dict[str, Any] | None:
        """What the last read of the fabric's Git parsed, by file (see cycle.PersistentParses)."""
        return _loads_dict(self._column(git_parse_table, "doc", fabric), f"{fabric} git parse")

    def save_parsed_files(self, fabric: str, doc: dict[str, Any]) -> None:
        self.commit([FabricWrite(fabric, parses=doc)])

    def fabrics(self) -> list[str]:
        """Fabrics with any stored state, sorted."""
        with self._read() as conn:
            return list(conn.execute(select(fabric_table.c.fabric).order_by(fabric_table.c.fabric)).scalars())

    # --- fleet -----------------------------------------------------------------------------------

    def fleet_rows(self) -> dict[str, Any]:
        """{"rows": {fabric: row}}: the fleet summary's stored row of every fabric that has one."""
        with self._read() as conn:
            rows = conn.execute(select(fleet_row_table.c.fabric, fleet_row_table.c.row)
                                .order_by(fleet_row_table.c.fabric)).all()
        parsed = {row.fabric: _loads_dict(row.row, f"{row.fabric} fleet row") for row in rows}
        return {"rows": {name: row for name, row in parsed.items() if row is not None}}

    def metrics(self) -> dict[str, Any] | None:
        return self.document(METRICS)

    def update_metrics(self, change: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
        """metrics = change(metrics), in one transaction that no other metrics update interleaves."""
        return self._commit([], change)[1]

    def reset_metrics(self) -> None:
        with self._write() as conn:
            conn.execute(document_table.delete().where(document_table.c.name == METRICS))

    def document(self, name: str) -> Any | None:
        """A named document of hedgehog_sync_document ("metrics", "import"), None when absent."""
        with self._read() as conn:
            text = conn.execute(select(document_table.c.doc).where(document_table.c.name == name)).scalar()
        return _loads(text, f"document {name}")

    # --- upgrade path ----------------------------------------------------------------------------

    def import_state_dir(self, path: str | os.PathLike[str]) -> "ImportSummary":
        """Import a state directory written by hedgehog-sync before the database (legacy.py):
        only fabrics, fleet rows and metrics not stored yet; the directory is left in place."""
        from hedgehog_sync.state.legacy import import_state_dir
        return import_state_dir(self, path)


def _loads(text: str | None, what: str) -> Any | None:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        log.warning("stored %s is not valid JSON; treated as absent", what)
        return None


def _loads_dict(text: str | None, what: str) -> dict[str, Any] | None:
    value = _loads(text, what)
    if value is not None and not isinstance(value, dict):
        log.warning("stored %s is not a JSON object; treated as absent", what)
        return None
    return value


def _health(text: str | None, fabric: str) -> FabricHealthRecord:
    """The stored record, or a fresh one when there is none or it cannot be read (the fabric starts afresh)."""
    data = _loads_dict(text, f"{fabric} health record")
    if not data:
        return FabricHealthRecord()
    try:
        return FabricHealthRecord.from_dict(data)
    except ValueError as exc:
        log.warning("fabric %s: %s; starting its health afresh", fabric, exc)
        return FabricHealthRecord()
