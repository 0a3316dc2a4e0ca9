"""The state store seen from real run workers: `dagster asset materialize` processes on the demo's
instance settings (SQLite under DAGSTER_HOME), the devlab fleet, the real git binary.

- A run killed (SIGKILL) after it recorded its events and before its one transaction leaves every
  fabric's stored state exactly as it was, and the next cycle completes the change.
- A fresh run worker with an empty Git scratch directory costs one `ls-remote` and no fetch for a
  fabric whose ref did not move: the commit and the parses come from the database.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from hedgehog_sync.devlab.demo import DRIFTED_FABRIC, IN_SYNC_FABRIC, dagster_env
from hedgehog_sync.state import StateStore
from hedgehog_sync_tests.gitcount import counting_git

pytestmark = pytest.mark.slow

DAGSTER = str(Path(sys.executable).with_name("dagster"))
ASSETS = "git_state,k8s_state,drift_report"


def materialize(env: dict[str, str], fabric: str, log: Path) -> subprocess.Popen:
    """One run of the fabric's three assets in a process of its own: the run worker."""
    return subprocess.Popen([DAGSTER, "asset", "materialize", "-m", "hedgehog_sync.definitions",
                             "--select", ASSETS, "--partition", fabric],
                            env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


def run_to_end(env: dict[str, str], fabric: str, log: Path) -> None:
    proc = materialize(env, fabric, log)
    assert proc.wait(timeout=300) == 0, log.read_text()[-3000:]


def stored_state(env: dict[str, str], fabric: str) -> tuple:
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        state = StateStore.for_instance(instance).load([fabric])[fabric]
    return state.report, state.versions, state.health.to_dict()


def report_events(env: dict[str, str], fabric: str) -> int:
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        found = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey("drift_report"), asset_partitions=[fabric]), limit=1000)
    return len(found.records)


@pytest.fixture
def demo_env(demo_fleet, tmp_path):
    fleet, _ = demo_fleet
    env = dagster_env(fleet)
    env["HEDGEHOG_SYNC_GIT_SCRATCH"] = str(tmp_path / "scratch")
    (tmp_path / "scratch").mkdir()
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        instance.add_dynamic_partitions("fabrics", [IN_SYNC_FABRIC, DRIFTED_FABRIC])
    return fleet, env


def test_a_run_killed_between_its_events_and_its_transaction_leaves_the_state_and_the_next_cycle_completes_it(
        demo_env, tmp_path):
    fleet, env = demo_env
    log = tmp_path / "runs.log"
    run_to_end(env, DRIFTED_FABRIC, log)
    before = stored_state(env, DRIFTED_FABRIC)
    assert before[0]["status"] == "drifted"
    events_before = report_events(env, DRIFTED_FABRIC)

    # The cluster changes, so the next cycle has a new report to keep.
    name = next(r["name"] for r in before[0]["resources"] if r["kind"] == "VPC" and r["state"] == "modified")
    vpc = fleet.store.get(DRIFTED_FABRIC, "vpc.githedgehog.com", "vpcs", name)
    vpc["metadata"].setdefault("labels", {})["killed-run-test"] = "yes"
    fleet.store.put(DRIFTED_FABRIC, vpc, manager="kubectl-edit")

    # Hold the state database's write lock: the run reads, compares and records its events, then
    # waits for its transaction; it is killed while it waits.
    db = Path(env["DAGSTER_HOME"]) / "storage" / "hedgehog_sync.db"
    holder = sqlite3.connect(db, isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")
    proc = materialize(env, DRIFTED_FABRIC, log)
    try:
        deadline = time.monotonic() + 240
        while report_events(env, DRIFTED_FABRIC) == events_before:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the run never recorded its report event"
            time.sleep(0.5)
        time.sleep(1.0)  # the run is now in its commit, waiting on the lock
        assert proc.poll() is None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == -signal.SIGKILL
    assert stored_state(env, DRIFTED_FABRIC) == before  # nothing of the killed run was kept

    run_to_end(env, DRIFTED_FABRIC, log)
    report, versions, health = stored_state(env, DRIFTED_FABRIC)
    assert report["generated_at"] > before[0]["generated_at"]
    (changed,) = [r for r in report["resources"] if r["kind"] == "VPC" and r["name"] == name]
    assert changed["state"] == "modified" and "killed-run-test" in json.dumps(changed["changes"])
    assert versions["drift_report"] != before[1]["drift_report"]
    assert health["total_cycles"] > before[2]["total_cycles"]


def test_a_fresh_run_worker_with_an_empty_scratch_costs_one_ls_remote_and_no_fetch(demo_env, tmp_path):
    fleet, env = demo_env
    log = tmp_path / "runs.log"
    run_to_end(env, IN_SYNC_FABRIC, log)  # the first cycle fetches and parses, and keeps the parses
    with counting_git(tmp_path / "count") as counter:
        (tmp_path / "empty-scratch").mkdir()
        fresh = counter.env({**env, "HEDGEHOG_SYNC_GIT_SCRATCH": str(tmp_path / "empty-scratch")})
        counter.clear()
        run_to_end(fresh, IN_SYNC_FABRIC, log)
        ours = [c.subcommand for c in counter.calls]
    assert ours.count("ls-remote") == 1, ours
    assert not {"fetch", "clone", "init", "cat-file", "ls-tree"} & set(ours), ours
    assert not any((tmp_path / "empty-scratch").rglob("*.pack"))  # nothing was fetched into the scratch
    report, _, _ = stored_state(env, IN_SYNC_FABRIC)
    assert report["status"] == "in_sync"
