"""The instance's SQLite state file holds the Git parses (what Git holds, Secret-like values
included): like the old parsed.json, it and SQLite's -wal and -shm files are its owner's only."""

import stat

from dagster import DagsterInstance

from hedgehog_sync.state import StateStore


def test_the_sqlite_state_and_its_wal_are_readable_by_their_owner_only(tmp_path):
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        store = StateStore.for_instance(instance)
        store.save_parsed_files("fab-east", {"commit": "c0ffee", "format": 2})
        files = sorted(tmp_path.rglob("hedgehog_sync.db*"))
        assert [f.name for f in files][:1] == ["hedgehog_sync.db"] and len(files) >= 2  # the WAL too
        for f in files:
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        store.close()
