"""Two matrix rows that need more than a fault rule: storage going away mid-run, and a list that
changes between its pages."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import psycopg2
import pytest
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from psycopg2 import sql

from hedgehog_sync.connectors.git import GitRepoCache
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.cycle import FabricReader, sync_fabric_with_retries
from hedgehog_sync.devlab.demo import DEMO_FABRICS, EXTRA_VPC
from hedgehog_sync.devlab.apiserver import new_object
from hedgehog_sync.domain.inventory import load_inventory
from hedgehog_sync.state import StateStore
from hedgehog_sync_tests.pg import (
    PG_HOST, PG_PORT, PG_USER, admin_connection, instance_storage_yaml, throwaway_database,
)
from hedgehog_sync_tests.reliability.conftest import (
    FAULTED, FAULTED_VPCS, _comparable, assert_nothing_lost,
)

OUTAGE_S = 2.0  # within dagster-postgres' connection retries (about 6 s of exponential backoff)


@pytest.fixture
def pg_database() -> Iterator[str]:
    with throwaway_database("hhsync_reliability") as name:
        yield name


def _set_connections(name: str, allowed: bool) -> None:
    admin = admin_connection()
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.SQL("true" if allowed else "false")))
            if not allowed:  # and cut every connection already open
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
    finally:
        admin.close()


def test_storage_briefly_unavailable_mid_run_loses_nothing(lab, pg_database, tmp_path):
    home = tmp_path / "pg_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_storage_yaml(pg_database) + "telemetry:\n  enabled: false\n")
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    try:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        pg = dataclasses.replace(lab, instance=instance, results=[],
                                 resource=FleetResource(inventory_path=str(lab.fleet.inventory)))
        assert pg.sync().success
        before = pg.snapshot()
        refused: list[str] = []

        def outage() -> None:  # while the run reads the cluster, its storage goes away
            _set_connections(pg_database, False)
            try:
                psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=pg_database,
                                 connect_timeout=5).close()
            except psycopg2.OperationalError as exc:
                refused.append(str(exc))
            threading.Timer(OUTAGE_S, _set_connections, (pg_database, True)).start()

        fault = lab.apiserver.faults.add(path=FAULTED_VPCS, on_apply=outage, times=1)
        # New commit: the run has materializations to write once storage is back.
        pg.commit({"notes/outage.yaml": "# written during a storage outage\n"}, "during the outage")
        result = pg.sync()
        assert fault.hits == 1 and refused and "not currently accepting connections" in refused[0]
        assert result.success
        after = pg.snapshot()
        assert_nothing_lost(before, after)
        for fabric in DEMO_FABRICS:
            assert after.latest[fabric] is not None
            assert _comparable(after.latest[fabric]) == _comparable(before.latest[fabric])
        assert after.latest[FAULTED]["git"]["commit"] == pg.work_repo().head.commit.hexsha
        assert len(after.history[("git_state", FAULTED)]) == len(before.history[("git_state", FAULTED)]) + 1
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.is_success
    finally:
        instance.dispose()


def test_a_list_that_changes_between_pages_is_read_again_consistently(lab, tmp_path):
    """A real API server never mixes two snapshots in one list: once the objects changed, the old
    continue token gets 410 Expired. The reader starts the list again and reports the new state."""
    cfg = load_inventory(str(lab.fleet.inventory)).by_name()[FAULTED]
    reader = FabricReader(GitRepoCache(tmp_path / "git"), page_size=2)  # many pages
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    assert sync_fabric_with_retries(cfg, reader, store).report["status"] == "in_sync"

    def someone_adds_a_vpc() -> None:
        lab.fleet.store.put(FAULTED, new_object("VPC", EXTRA_VPC, {"subnets": {}}), manager="kubectl")

    changed = lab.apiserver.faults.add(path=FAULTED_VPCS, query="continue=", on_apply=someone_adds_a_vpc,
                                       action="expire-if-changed", times=1)
    try:
        outcome = sync_fabric_with_retries(cfg, reader, store)
    finally:
        reader.close()
        lab.fleet.store.delete(FAULTED, "vpc.githedgehog.com", "vpcs", EXTRA_VPC)
    assert changed.hits == 1
    report = outcome.report
    assert report["status"] == "drifted" and report["errors"] == []
    assert [(r["name"], r["state"]) for r in report["resources"]] == [(EXTRA_VPC, "extra")]
    assert report["summary"]["missing"] == 0
