"""The schema version: an empty database migrates to the current version, opening it again changes
nothing, migrations run in order in one transaction, and a newer database is refused."""

import pytest
import sqlalchemy as sa
from sqlalchemy import event, inspect, select

from hedgehog_sync.state import CURRENT_VERSION, StateSchemaError, StateStore
from hedgehog_sync.state import schema


def version_of(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(schema.schema_table.c.version)).scalar_one()


def test_an_empty_database_migrates_to_the_current_version(state_url):
    store = StateStore(state_url)
    assert store.fabrics() == []
    assert version_of(store.engine) == CURRENT_VERSION
    with store.engine.connect() as conn:
        assert conn.execute(select(sa.func.count()).select_from(schema.schema_table)).scalar() == 1
        found = inspect(conn)
        for table in schema.metadata.sorted_tables:
            assert table.name.startswith("hedgehog_sync_")
            assert {c["name"] for c in found.get_columns(table.name)} == set(table.c.keys()), table.name
            assert found.get_pk_constraint(table.name)["constrained_columns"] == [c.name for c in table.primary_key]


def test_opening_a_migrated_database_again_only_reads_its_version(state_url):
    StateStore(state_url).save_report("fab-1", {"status": "in_sync"})
    again = StateStore(state_url)
    sent = []
    event.listen(again.engine, "before_cursor_execute", lambda conn, cursor, sql, *rest: sent.append(sql))
    assert again.latest_report("fab-1") == {"status": "in_sync"}
    assert not [s for s in sent if s.lstrip().upper().startswith(("CREATE", "ALTER", "INSERT", "UPDATE"))]
    assert version_of(again.engine) == CURRENT_VERSION


def test_a_database_from_a_newer_release_is_refused(state_url):
    store = StateStore(state_url)
    store.save_report("fab-1", {"status": "in_sync"})
    with store.engine.begin() as conn:
        conn.execute(schema.schema_table.update().values(version=CURRENT_VERSION + 1))
    with pytest.raises(StateSchemaError) as caught:
        StateStore(state_url).latest_report("fab-1")
    message = str(caught.value)
    assert f"schema version {CURRENT_VERSION + 1}" in message and f"version {CURRENT_VERSION}," in message
    assert "Upgrade hedgehog-sync" in message and StateStore(state_url).display_url in message
    assert version_of(store.engine) == CURRENT_VERSION + 1  # refused, not touched


def test_migrations_run_in_order_and_a_failing_one_leaves_the_database_as_it_was(state_url):
    engine = StateStore(state_url).engine  # not used through the store: nothing migrated yet
    ran = []

    def add_notes(conn):
        ran.append(2)
        conn.execute(sa.text("ALTER TABLE hedgehog_sync_fabric ADD COLUMN notes TEXT"))

    def broken(conn):
        ran.append(3)
        conn.execute(sa.text("CREATE TABLE hedgehog_sync_half_done (id INTEGER)"))
        raise RuntimeError("migration 3 fails half-way")

    steps = [*schema.MIGRATIONS, (2, add_notes)]
    with engine.begin() as conn:
        assert schema.migrate(conn, "test", steps) == 0
    assert version_of(engine) == 2 and ran == [2]
    with pytest.raises(RuntimeError, match="half-way"):
        with engine.begin() as conn:
            schema.migrate(conn, "test", [*steps, (3, broken)])
    assert version_of(engine) == 2 and ran == [2, 3]
    with engine.connect() as conn:
        assert not inspect(conn).has_table("hedgehog_sync_half_done")
        assert "notes" in {c["name"] for c in inspect(conn).get_columns("hedgehog_sync_fabric")}
    with engine.begin() as conn:  # already there: a no-op
        assert schema.migrate(conn, "test", steps) == 2
    assert ran == [2, 3]
    with pytest.raises(StateSchemaError, match="newer than version 2"):  # this code knows 2; 3 was rolled back
        with engine.begin() as conn:
            conn.execute(schema.schema_table.update().values(version=3))
            schema.migrate(conn, "test", steps)
