"""`hedgehog-sync check` reads the fleet's last report of a fabric (for drift_since) from the fleet's
instance, and writes nothing there: no database file, no tables, no migration, no legacy import.
`StateStore.read_only_for_instance` on a real Dagster instance, SQLite and PostgreSQL; `_fleet_previous_report`
is the function `check` calls."""

from pathlib import Path

import pytest
from dagster import DagsterInstance
from sqlalchemy import inspect

from hedgehog_sync.cli import _fleet_previous_report
from hedgehog_sync.state import StateStore
from hedgehog_sync.state.store import DB_FILE, StateStoreError, create_state_engine
from hedgehog_sync_tests.pg import instance_storage_yaml, sqlalchemy_url, throwaway_database

REPORT = {"fabric": "fab-east", "status": "drifted", "generated_at": "2026-12-01T12:00:00Z",
          "drift_since": "2026-12-01T11:00:00Z"}


def test_nothing_stored_yet_reads_as_nothing_and_creates_no_database(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.from_config(str(home)) as instance:
        assert StateStore.read_only_for_instance(instance) is None
        db = Path(instance.storage_directory()) / DB_FILE
    assert _fleet_previous_report("fab-east") is None
    assert not db.exists()


def test_a_stored_report_is_read_and_the_reader_cannot_write(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    with DagsterInstance.from_config(str(home)) as instance:
        fleet = StateStore.for_instance(instance)
        fleet.save_report("fab-east", REPORT)
        fleet.close()
        reader = StateStore.read_only_for_instance(instance)
        assert reader is not None
        try:
            assert reader.latest_report("fab-east") == REPORT
            assert reader.latest_report("fab-west") is None
            with pytest.raises(StateStoreError, match="readonly|read-only|read only"):
                reader.save_report("fab-east", {**REPORT, "status": "in_sync"})
        finally:
            reader.close()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert _fleet_previous_report("fab-east") == REPORT


def test_a_postgresql_fleet_without_our_tables_is_read_as_nothing_and_left_without_them(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    with throwaway_database("hs_readonly") as name:
        (home / "dagster.yaml").write_text(instance_storage_yaml(name) + "telemetry:\n  enabled: false\n")
        with DagsterInstance.from_config(str(home)) as instance:
            reader = StateStore.read_only_for_instance(instance)
            assert reader is not None
            try:
                with pytest.raises(StateStoreError, match="a reader does not migrate it"):
                    reader.latest_report("fab-east")
            finally:
                reader.close()
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        assert _fleet_previous_report("fab-east") is None
        engine = create_state_engine(sqlalchemy_url(name))
        try:
            assert not [t for t in inspect(engine).get_table_names() if t.startswith("hedgehog_sync")]
        finally:
            engine.dispose()
