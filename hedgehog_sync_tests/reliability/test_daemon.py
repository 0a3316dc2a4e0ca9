"""Matrix rows that need the real daemon: a run worker killed mid-run, the daemon killed mid-cycle.

One `dagster-daemon run` (with its code server and run workers, all in one process group that is
killed at the end) serves both tests over a SQLite DAGSTER_HOME configured like the demo's: queued
runs, run monitoring and run retries for crashed runs. Runs are submitted as an operator would,
with `dagster job launch`, for the whole demo fleet; a slow API server answer holds a run in its
read step long enough to kill something under it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.devlab.demo import DEMO_FABRICS, WORKSPACE_YAML
from hedgehog_sync_tests.reliability.conftest import (
    FAULTED, FAULTED_VPCS, GIT_TOKEN_ENV, _comparable, assert_nothing_lost,
)

WAIT_S = 180.0  # generous: only ever waited for, never asserted on
IN_FLIGHT = (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING)
DAGSTER_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 4
    dequeue_interval_seconds: 1
run_monitoring:
  enabled: true
  poll_interval_seconds: 2
run_retries:
  enabled: true
  max_retries: 1
  retry_on_asset_or_op_failure: false   # a fabric that cannot be read is not a crash: no rerun
"""


def wait_for(what: str, check, timeout: float = WAIT_S, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@dataclasses.dataclass
class Deployment:
    home: Path
    env: dict[str, str]
    instance: DagsterInstance
    groups: list[int]  # process groups started here, killed at the end
    daemon: subprocess.Popen | None = None

    def start_daemon(self) -> None:
        log = open(self.home / f"daemon-{len(self.groups)}.log", "wb")
        self.daemon = subprocess.Popen(
            [sys.executable, "-m", "dagster._daemon", "run", "-w", str(self.home / "workspace.yaml")],
            env=self.env, cwd=self.home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.groups.append(self.daemon.pid)

    def kill_daemon(self) -> None:
        """SIGKILL the daemon process alone (its code server and runs live on, as after an OOM kill)."""
        assert self.daemon is not None
        self.daemon.kill()
        self.daemon.wait(timeout=30)

    def launch(self) -> str:
        mark = f"launch-{time.monotonic_ns()}"
        tags = {"dagster/asset_partition_range_start": DEMO_FABRICS[0],
                "dagster/asset_partition_range_end": DEMO_FABRICS[-1], "reliability/launch": mark}
        subprocess.run([sys.executable, "-m", "dagster", "job", "launch", "-w", str(self.home / "workspace.yaml"),
                        "-j", "sync_fleet", "--tags", json.dumps(tags)],
                       env=self.env, cwd=self.home, check=True, capture_output=True, timeout=120)
        (run,) = self.instance.get_runs(RunsFilter(tags={"reliability/launch": mark}))
        return run.run_id

    def status(self, run_id: str) -> DagsterRunStatus:
        run = self.instance.get_run_by_id(run_id)
        assert run is not None
        return run.status

    def worker_pid(self, run_id: str) -> int | None:
        for entry in self.instance.all_logs(run_id):
            found = re.search(r"\(pid: (\d+)\)", entry.user_message or "")
            if found:
                return int(found.group(1))
        return None

    def retries_of(self, run_id: str) -> list:
        return self.instance.get_runs(RunsFilter(tags={"dagster/parent_run_id": run_id}))

    def in_flight(self) -> list:
        return self.instance.get_runs(RunsFilter(statuses=list(IN_FLIGHT)))


@pytest.fixture(scope="module")
def deployment(module_lab, tmp_path_factory):
    home = tmp_path_factory.mktemp("daemon_home")
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    (home / "workspace.yaml").write_text(WORKSPACE_YAML)
    state = home / "state"
    env = {**os.environ, "DAGSTER_HOME": str(home), "HEDGEHOG_SYNC_INVENTORY": str(module_lab.fleet.inventory),
           "HEDGEHOG_SYNC_STATE_DIR": str(state), GIT_TOKEN_ENV: module_lab.git_token,
           # A slow answer must hold the run, not time it out.
           "HEDGEHOG_SYNC_KUBERNETES_TIMEOUT_SECONDS": "120", "HEDGEHOG_SYNC_GIT_TIMEOUT_SECONDS": "60"}
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
    dep = Deployment(home, env, instance, [])
    # Only the runs a test launches: the every-minute schedule would race them for the slow answer.
    subprocess.run([sys.executable, "-m", "dagster", "schedule", "stop", "fleet_sync_every_minute",
                    "-w", str(home / "workspace.yaml")], env=env, cwd=home, check=True, capture_output=True,
                   timeout=120)
    try:
        dep.start_daemon()
        yield dep
    finally:
        for group in dep.groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        instance.dispose()


@pytest.fixture
def daemon_lab(lab, deployment):
    """The fleet seen through the daemon's instance and state."""
    resource = FleetResource(inventory_path=str(lab.fleet.inventory),
                             state_dir=deployment.env["HEDGEHOG_SYNC_STATE_DIR"])
    return dataclasses.replace(lab, instance=deployment.instance, resource=resource, results=[])


def _settled(dep: Deployment) -> None:
    wait_for("every run to finish", lambda: not dep.in_flight())


def test_run_worker_killed_mid_run_is_marked_failed_and_run_again(daemon_lab, deployment):
    dep, lab = deployment, daemon_lab
    first = dep.launch()
    wait_for("the first run", lambda: dep.status(first) in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE))
    assert dep.status(first) == DagsterRunStatus.SUCCESS
    before = lab.snapshot()

    hold = lab.apiserver.faults.add(path=FAULTED_VPCS, latency=60, times=1)
    run_id = dep.launch()
    wait_for("the run to reach the cluster read", lambda: hold.hits >= 1)
    pid = wait_for("the run worker's pid", lambda: dep.worker_pid(run_id))
    os.kill(pid, signal.SIGKILL)

    wait_for("the killed run to be marked failed", lambda: dep.status(run_id) == DagsterRunStatus.FAILURE)
    retry = wait_for("a retry run", lambda: dep.retries_of(run_id))[0]
    wait_for("the retry to finish", lambda: dep.status(retry.run_id) in (DagsterRunStatus.SUCCESS,
                                                                         DagsterRunStatus.FAILURE))
    assert dep.status(retry.run_id) == DagsterRunStatus.SUCCESS
    _settled(dep)
    after = lab.snapshot()
    assert_nothing_lost(before, after)
    for fabric in DEMO_FABRICS:
        assert _comparable(after.latest[fabric]) == _comparable(before.latest[fabric])
    assert after.latest[FAULTED]["status"] == "in_sync"


def test_daemon_killed_mid_cycle_loses_no_run_and_no_report(daemon_lab, deployment):
    dep, lab = deployment, daemon_lab
    _settled(dep)
    before = lab.snapshot()
    hold = lab.apiserver.faults.add(path=FAULTED_VPCS, latency=8, times=1)
    running = dep.launch()
    wait_for("the run to reach the cluster read", lambda: hold.hits >= 1)
    dep.kill_daemon()
    # While the daemon is gone: the running run goes on; a new run waits in the queue.
    queued = dep.launch()
    assert dep.status(queued) == DagsterRunStatus.QUEUED
    wait_for("the running run to finish without the daemon",
             lambda: dep.status(running) in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE))
    assert dep.status(running) == DagsterRunStatus.SUCCESS
    assert dep.status(queued) == DagsterRunStatus.QUEUED
    dep.start_daemon()
    wait_for("the queued run to be launched and finish",
             lambda: dep.status(queued) in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE))
    assert dep.status(queued) == DagsterRunStatus.SUCCESS
    _settled(dep)
    after = lab.snapshot()
    assert_nothing_lost(before, after)
    for fabric in DEMO_FABRICS:
        assert _comparable(after.latest[fabric]) == _comparable(before.latest[fabric])
