"""Pools `git` and `kubernetes`: the steps that use those APIs wait for a slot, across runs."""

import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance, build_sensor_context, instance_for_test, materialize
from dagster._core.instance.config import PoolGranularity

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync, read_git, read_kubernetes
from hedgehog_sync.defs.pools import POOL_LIMITS, ensure_pool_limits, pool_limits
from hedgehog_sync.defs.schedules import sync_fleet_job
from hedgehog_sync.defs.sensors import fabric_discovery
from hedgehog_sync.devlab.demo import IN_SYNC_FABRIC, LOCAL_DAGSTER_YAML
from hedgehog_sync_tests.daemon import PRODUCTION_DAGSTER_YAML
from hedgehog_sync_tests.pg import dagster_pg_env, throwaway_database

CLI = str(Path(sys.executable).with_name("hedgehog-sync"))


def shipped_instance_settings():
    """The instance the project ships for the demo (deploy/dagster.local.yaml)."""
    return yaml.safe_load(LOCAL_DAGSTER_YAML)


@contextmanager
def production_instance(home: Path, monkeypatch: pytest.MonkeyPatch):
    """An instance made from deploy/dagster.yaml as shipped (copied, not re-typed), its PostgreSQL storage
    pointed through the DAGSTER_PG_* variables that file reads at a throwaway database on the local
    server. Its K8sRunLauncher is only built when a run is launched, which these tests never do."""
    with throwaway_database("hhsync_pools") as name:
        for var, value in dagster_pg_env(name).items():
            monkeypatch.setenv(var, value)
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PRODUCTION_DAGSTER_YAML, home / "dagster.yaml")
        with DagsterInstance.from_config(str(home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            yield instance


@contextmanager
def shipped_instance(which: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The demo's instance settings (SQLite) or production's (PostgreSQL), as each ships."""
    if which == "production":
        with production_instance(tmp_path / "production_home", monkeypatch) as instance:
            yield instance
    else:
        with instance_for_test(overrides=shipped_instance_settings()) as instance:
            yield instance


def waiting_steps(instance):
    """Steps of other runs than the slot holder that wait for a git slot (not yet assigned one)."""
    info = instance.event_log_storage.get_concurrency_info("git")
    return [p.step_key for p in info.pending_steps if p.run_id != "other-run" and p.assigned_timestamp is None]


def test_sync_steps_are_in_their_pools():
    assert (read_git.pool, read_kubernetes.pool) == ("git", "kubernetes")
    plan_pools = {n.name: getattr(n.definition, "pool", None) for n in fabric_sync.node_def.nodes}
    assert plan_pools == {"read_git": "git", "read_kubernetes": "kubernetes", "compare": None}
    assert POOL_LIMITS == {"git": 4, "kubernetes": 3}
    # A crashed run is re-run from its first step: the snapshots are handed over in memory.
    assert sync_fleet_job.tags["dagster/retry_strategy"] == "ALL_STEPS"


@pytest.mark.parametrize("which", ["local", "production"])
def test_shipped_instances_enforce_pools_per_step(which, tmp_path, monkeypatch):
    """No `granularity: run`: each step claims its slot (the run queue does not hold whole runs)."""
    settings = PRODUCTION_DAGSTER_YAML.read_text() if which == "production" else LOCAL_DAGSTER_YAML
    pools = (yaml.safe_load(settings).get("concurrency") or {}).get("pools") or {}
    assert pools.get("granularity", "op") == "op"
    with shipped_instance(which, tmp_path, monkeypatch) as instance:
        assert instance.get_concurrency_config().pool_config.pool_granularity != PoolGranularity.RUN


@pytest.mark.parametrize("which", ["local", "production"])
def test_discovery_sets_missing_limits_and_keeps_an_operators(which, tmp_path, monkeypatch):
    (tmp_path / "fabrics.yaml").write_text(yaml.safe_dump({"fabrics": []}))
    from hedgehog_sync.defs.resources import FleetResource

    fleet = FleetResource(inventory_path=str(tmp_path / "fabrics.yaml"))
    with shipped_instance(which, tmp_path, monkeypatch) as instance:
        assert pool_limits(instance) == {"git": None, "kubernetes": None}
        instance.event_log_storage.set_concurrency_slots("git", 8)  # an operator's choice
        fabric_discovery(build_sensor_context(instance=instance, resources={"fleet": fleet}))
        assert pool_limits(instance) == {"git": 8, "kubernetes": 3}
        assert ensure_pool_limits(instance) == {}  # nothing left to set


def test_a_full_git_pool_holds_the_git_step_until_a_slot_frees(demo_fleet, fleet_resource):
    with instance_for_test(overrides=shipped_instance_settings()) as instance:
        instance.add_dynamic_partitions("fabrics", [IN_SYNC_FABRIC])
        instance.event_log_storage.set_concurrency_slots("git", 1)
        instance.event_log_storage.set_concurrency_slots("kubernetes", 3)
        # Another run holds the only git slot.
        claim = instance.event_log_storage.claim_concurrency_slot("git", "other-run", "read_git")
        assert claim.is_claimed
        outcome = {}

        def sync():
            outcome["result"] = materialize([fabric_sync], partition_key=IN_SYNC_FABRIC, instance=instance,
                                            resources={"fleet": fleet_resource, "alerts": AlertSink()})

        worker = threading.Thread(target=sync)
        worker.start()
        try:
            deadline = time.monotonic() + 120
            while not (waiting := waiting_steps(instance)):
                assert time.monotonic() < deadline, "the git step never asked for a slot"
                time.sleep(0.2)
            assert waiting == ["fabric_sync.read_git"]
            time.sleep(1.0)  # it keeps waiting while the slot is held: no report yet
            assert instance.get_latest_materialization_event(AssetKey("drift_report")) is None
        finally:
            instance.event_log_storage.free_concurrency_slot_for_step("other-run", "read_git")
        worker.join(timeout=300)
        assert outcome["result"].success
        assert instance.get_latest_materialization_event(AssetKey("drift_report")) is not None
        info = instance.event_log_storage.get_concurrency_info("git")
        assert (info.slot_count, info.claimed_slots, info.pending_steps) == (1, [], [])


def test_pools_command_sets_and_shows_the_limits_of_a_real_instance(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(LOCAL_DAGSTER_YAML)
    env = dict(os.environ, DAGSTER_HOME=str(home))
    first = subprocess.run([CLI, "pools"], env=env, capture_output=True, text=True, check=True).stdout
    assert first.splitlines() == ["git: 4 (set now)", "kubernetes: 3 (set now)"]
    with DagsterInstance.from_config(str(home)) as instance:
        instance.event_log_storage.set_concurrency_slots("kubernetes", 6)
    again = subprocess.run([CLI, "pools"], env=env, capture_output=True, text=True, check=True).stdout
    assert again.splitlines() == ["git: 4", "kubernetes: 6"]
