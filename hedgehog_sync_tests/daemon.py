"""A real `dagster-daemon run` over the demo fleet, on a DAGSTER_HOME with shipped instance settings.

`demo_daemon` makes the DAGSTER_HOME the way `hedgehog-sync demo` does (devlab/demo.py's
`dagster_env` writes its dagster.yaml; nothing is re-typed here); `production_daemon` copies
production's deploy/dagster.yaml, its PostgreSQL storage pointed at a throwaway database and, as no
cluster runs here, its K8sRunLauncher swapped for Dagster's default launcher (runs as local
processes): queue, run monitoring and run retries stay as shipped. Either runs the daemon (with its
code server and run workers, all in one process group killed at the end); runs are launched as an
operator would, with `dagster job launch`, for the whole demo fleet.
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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import yaml
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

from hedgehog_sync.devlab.demo import DEMO_FABRICS, RUN_CREATOR_ENV, WORKSPACE_YAML, DemoFleet, dagster_env
from hedgehog_sync_tests.pg import dagster_pg_env, throwaway_database

REPO = Path(__file__).resolve().parents[1]
PRODUCTION_DAGSTER_YAML = REPO / "deploy" / "dagster.yaml"
WAIT_S = 180.0  # generous: only ever waited for, never asserted on
IN_FLIGHT = (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING)
ENDED = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


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
        log.close()
        self.groups.append(self.daemon.pid)

    def kill_daemon(self) -> None:
        """SIGKILL the daemon process alone (its code server and runs live on, as after an OOM kill)."""
        assert self.daemon is not None
        self.daemon.kill()
        self.daemon.wait(timeout=30)

    def daemon_log(self, chars: int = 3000) -> str:
        return sorted(self.home.glob("daemon-*.log"))[-1].read_text(errors="replace")[-chars:]

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

    def settled(self) -> None:
        wait_for("every run to finish", lambda: not self.in_flight())


@contextmanager
def _running(home: Path, env: dict[str, str]) -> Iterator[Deployment]:
    """The daemon on `home` (dagster.yaml already there), with only the runs a test launches."""
    (home / "workspace.yaml").write_text(WORKSPACE_YAML)
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    dep = Deployment(home, env, instance, [])
    try:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        # The every-minute schedule would race the tests' runs for the faults they set up.
        subprocess.run([sys.executable, "-m", "dagster", "schedule", "stop", "fleet_sync_every_minute",
                        "-w", str(home / "workspace.yaml")], env=env, cwd=home, check=True, capture_output=True,
                       timeout=120)
        dep.start_daemon()
        yield dep
    finally:
        for group in dep.groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if dep.daemon is not None:
            dep.daemon.wait(timeout=30)
        instance.dispose()


@contextmanager
def demo_daemon(fleet: DemoFleet, env: dict[str, str]) -> Iterator[Deployment]:
    """The demo's daemon: DAGSTER_HOME and its dagster.yaml made by the demo's own `dagster_env` (the
    fleet's state lives in that instance's database); `env` adds to the demo's environment."""
    demo_env = dagster_env(fleet)
    home = Path(demo_env["DAGSTER_HOME"])
    with _running(home, {**demo_env, **env}) as dep:
        yield dep


def production_settings() -> dict:
    """deploy/dagster.yaml as shipped, but for the run launcher (no cluster here: runs are local processes)."""
    config = yaml.safe_load(PRODUCTION_DAGSTER_YAML.read_text())
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    config["run_launcher"] = {"module": "dagster.core.launcher", "class": "DefaultRunLauncher"}
    return config


@contextmanager
def production_daemon(fleet: DemoFleet, home: Path, env: dict[str, str]) -> Iterator[Deployment]:
    """The daemon on production's settings (`production_settings`) in `home`, on a throwaway
    PostgreSQL database; the environment as the demo sets it (inventory, run creators) plus `env`."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(production_settings(), sort_keys=False))
    with throwaway_database("hhsync_daemon") as name:
        pg = dagster_pg_env(name)
        saved = {k: os.environ.get(k) for k in pg}
        os.environ.update(pg)  # this process opens the instance too
        try:
            full = {**os.environ, "DAGSTER_HOME": str(home), "HEDGEHOG_SYNC_INVENTORY": str(fleet.inventory),
                    **RUN_CREATOR_ENV, **env}
            with _running(home, full) as dep:
                yield dep
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
