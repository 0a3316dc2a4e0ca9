"""The production instance for real: deploy/dagster.yaml on PostgreSQL, the daemon and the webserver.

Only the run launcher is swapped (for Dagster's default: runs as local processes, since no cluster
runs here) and the storage is pointed, through the same DAGSTER_PG_* variables production uses, at
a fresh database on the local PostgreSQL. With the demo fleet served from this process, every
fabric gets a drift_report; then both processes are stopped and started again, and the history is
still there and the schedule goes on.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

from hedgehog_sync.defs.schedules import IN_FLIGHT  # the product's own in-flight statuses
from hedgehog_sync.devlab.demo import DEMO_FABRICS, DRIFTED_FABRIC, WORKSPACE_YAML
from hedgehog_sync_tests.deploy import chart
from hedgehog_sync_tests.pg import dagster_pg_env, throwaway_database

pytestmark = pytest.mark.slow

FIRST_REPORTS_WITHIN = 240.0   # seconds; the demo's own test allows 180 on an idle machine
NEXT_RUN_WITHIN = 240.0


@pytest.fixture
def pg_database() -> Iterator[str]:
    with throwaway_database("hhsync_deploy") as name:
        yield name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_home(home: Path) -> Path:
    """DAGSTER_HOME holding deploy/dagster.yaml with the default run launcher in place of K8sRunLauncher."""
    config = yaml.safe_load(chart.DAGSTER_YAML.read_text())
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    config["run_launcher"] = {"module": "dagster.core.launcher", "class": "DefaultRunLauncher"}
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (home / "workspace.yaml").write_text(WORKSPACE_YAML)
    return home


class Deployment:
    """`dagster-daemon run` and `dagster-webserver`, as the chart runs them, as local processes."""

    def __init__(self, home: Path, env: dict[str, str], logs: Path, port: int):
        self.home, self.env, self.logs, self.port = home, env, logs, port
        self.procs: list[subprocess.Popen] = []
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        workspace = str(self.home / "workspace.yaml")
        bin_dir = Path(sys.executable).parent
        commands = {
            "daemon": [str(bin_dir / "dagster-daemon"), "run", "-w", workspace],
            "webserver": [str(bin_dir / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1",
                          "-p", str(self.port)],
        }
        for name, command in commands.items():
            log = open(self.logs / f"{name}-{self.starts}.log", "w")
            self.procs.append(subprocess.Popen(command, env=self.env, cwd=self.home, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True))
            log.close()

    def assert_running(self) -> None:
        for proc in self.procs:
            assert proc.poll() is None, f"{proc.args[0]} exited with {proc.returncode}:\n{self.tail()}"

    def stop(self) -> None:
        """SIGINT, as Kubernetes' stop does with SIGTERM: both shut down cleanly, else are killed.

        Each was started in its own session, so its code server and run workers go with it.
        """
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            deadline = time.monotonic() + 30
            while group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.5)
            if group_alive(proc.pid):
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs = []

    def tail(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in sorted(self.logs.glob("*.log")))


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def open_instance(home: Path) -> DagsterInstance:
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def latest_reports(instance: DagsterInstance) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for record in instance.fetch_materializations(AssetKey("drift_report"), limit=1000).records:
        mat = record.asset_materialization
        out.setdefault(mat.partition, mat.metadata["report"].value)
    return out


def materialization_ids(instance: DagsterInstance) -> set[int]:
    return {r.storage_id for r in instance.fetch_materializations(AssetKey("drift_report"), limit=10_000).records}


def sync_runs(instance: DagsterInstance, statuses=None) -> list:
    return instance.get_run_records(RunsFilter(job_name="sync_fleet", statuses=statuses or []))


def wait_until_quiet(home: Path, deployment: Deployment, timeout: float = 90.0) -> None:
    """Stop between runs where possible: a run cut off by the stop would be a crash to recover from."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deployment.assert_running()
        with open_instance(home) as instance:
            if not sync_runs(instance, IN_FLIGHT):
                return
        time.sleep(2)


def test_production_instance_on_postgres_syncs_and_survives_a_restart(demo_fleet, pg_database, tmp_path,
                                                                      monkeypatch):
    fleet, _ = demo_fleet
    pg_env = dagster_pg_env(pg_database)
    for name, value in pg_env.items():
        monkeypatch.setenv(name, value)  # this process reads the same instance
    home = production_home(tmp_path / "dagster_home")
    env = {**os.environ, **pg_env, "DAGSTER_HOME": str(home), "HEDGEHOG_SYNC_INVENTORY": str(fleet.inventory), "PYTHONUNBUFFERED": "1"}
    logs = tmp_path / "logs"
    logs.mkdir()
    deployment = Deployment(home, env, logs, free_port())
    try:
        with open_instance(home) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
            assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        deployment.start()

        # 1. Every demo fabric gets a report, with no clicks, in PostgreSQL.
        deadline = time.monotonic() + FIRST_REPORTS_WITHIN
        reports: dict[str, dict] = {}
        while time.monotonic() < deadline and set(reports) != set(DEMO_FABRICS):
            time.sleep(5)
            deployment.assert_running()
            with open_instance(home) as instance:
                reports = latest_reports(instance)
        assert set(reports) == set(DEMO_FABRICS), deployment.tail()
        assert reports[DRIFTED_FABRIC]["status"] == "drifted"
        with urllib.request.urlopen(f"http://127.0.0.1:{deployment.port}/server_info", timeout=30) as resp:
            assert resp.status == 200  # the UI is served from the same instance

        # 2. Stop both, between runs where possible.
        wait_until_quiet(home, deployment)
        deployment.stop()
        with open_instance(home) as instance:
            runs_before = {r.dagster_run.run_id: r for r in sync_runs(instance)}
            materializations_before = materialization_ids(instance)
            for record in runs_before.values():
                # Every run went through the daemon's queue, tagged with its batch (the tag limit's key).
                assert "hedgehog-sync/batch" in record.dagster_run.tags
                assert instance.get_records_for_run(record.dagster_run.run_id,
                                                    of_type=DagsterEventType.RUN_ENQUEUED).records
        assert runs_before and materializations_before

        # 3. Start again: the history is all there, and the schedule goes on with a new run.
        restarted_at = time.time()
        deployment.start()
        deadline = time.monotonic() + NEXT_RUN_WITHIN
        succeeded: list = []
        while time.monotonic() < deadline and not succeeded:
            time.sleep(5)
            deployment.assert_running()
            with open_instance(home) as instance:
                succeeded = [r for r in sync_runs(instance, [DagsterRunStatus.SUCCESS])
                             if r.create_timestamp.timestamp() > restarted_at]
        assert succeeded, "no sync run succeeded after the restart\n" + deployment.tail()
        with open_instance(home) as instance:
            runs_after = {r.dagster_run.run_id: r for r in sync_runs(instance)}
            assert set(runs_before) <= set(runs_after)
            for run_id, record in runs_before.items():
                assert runs_after[run_id].dagster_run.status == record.dagster_run.status
            assert materializations_before <= materialization_ids(instance)
            assert set(latest_reports(instance)) == set(DEMO_FABRICS)
    finally:
        deployment.stop()
