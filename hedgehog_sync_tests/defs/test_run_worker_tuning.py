"""A run worker tunes itself once (defs/worker.py): its startup heap frozen for the cyclic GC, and
its instance's storage connections pooled instead of one new PostgreSQL connection per statement.

Real run workers (`dagster asset materialize` processes) on a throwaway PostgreSQL database, the devlab
fleet, the real git binary; the connections are counted by PostgreSQL itself (pg_stat_database.sessions).
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from hedgehog_sync.defs.worker import ENV, in_run_worker, tune_run_worker
from hedgehog_sync.devlab.demo import DRIFTED_FABRIC, dagster_env
from hedgehog_sync_tests.pg import admin_connection, instance_storage_yaml, throwaway_database

pytestmark = pytest.mark.slow

DAGSTER = str(Path(sys.executable).with_name("dagster"))


@pytest.mark.parametrize("argv, expected", [
    (["/venv/bin/dagster", "api", "execute_run", "{}"], True),
    (["/venv/lib/python3.11/site-packages/dagster/__main__.py", "api", "execute_run", "{}"], True),  # python -m dagster
    (["dagster", "asset", "materialize", "-m", "x"], True),
    (["dagster", "job", "execute", "-m", "x"], True),
    (["dagster", "api", "grpc", "--port", "1"], False),      # a code server lives on
    (["dagster-daemon", "run"], False),
    (["dagster", "dev"], False),
    (["/venv/bin/pytest", "-q"], False),
    (["python"], False),
], ids=["launcher", "python-m", "asset-materialize", "job-execute", "code-server", "daemon", "dev", "pytest", "bare"])
def test_only_a_process_that_executes_one_run_is_a_run_worker(argv, expected):
    assert in_run_worker(argv, spawned=False) is expected


def _answer_in_run_worker(answers) -> None:  # in the spawned child
    answers.put(in_run_worker())


def test_the_process_a_code_server_spawns_for_a_run_is_a_run_worker(monkeypatch):
    """The default run launcher asks the code server to start the run; the server spawns a
    multiprocessing child for it (which inherits the server's command line): a run worker. The code
    server itself, and a child of any other process, are not."""
    monkeypatch.setattr(sys, "argv", ["/venv/bin/dagster", "api", "grpc", "--port", "4266"])
    assert not in_run_worker()  # the code server itself lives on
    spawn = multiprocessing.get_context("spawn")
    answers = spawn.Queue()
    child = spawn.Process(target=_answer_in_run_worker, args=(answers,))
    child.start()
    try:
        assert answers.get(timeout=120) is True
    finally:
        child.join(timeout=60)
    assert in_run_worker(["/venv/bin/pytest"], spawned=True) is False


def test_outside_a_run_worker_or_switched_off_nothing_is_touched(monkeypatch):
    with DagsterInstance.ephemeral() as instance:
        assert tune_run_worker(instance, argv=["/venv/bin/pytest"]) == []
        monkeypatch.setenv(ENV, "off")
        assert tune_run_worker(instance, argv=["dagster", "api", "execute_run"]) == []


def test_a_run_worker_freezes_its_startup_heap_once_and_at_exit():
    """In a process of its own: freezing is for the rest of a process's life."""
    probe = textwrap.dedent("""
        import atexit, gc, sys
        from dagster import DagsterInstance
        from hedgehog_sync.defs.worker import tune_run_worker
        argv = ["dagster", "api", "execute_run", "{}"]
        with DagsterInstance.ephemeral() as instance:
            print(gc.get_freeze_count() == 0, tune_run_worker(instance, argv), gc.get_freeze_count() > 1000,
                  tune_run_worker(instance, argv), atexit._ncallbacks() >= 1)
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True ['startup heap frozen for the cyclic GC'] True [] True"


def sessions(name: str) -> int:
    """Sessions PostgreSQL has seen established to database `name` (flushed by ended backends)."""
    conn = admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_stat_clear_snapshot()")
            cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (name,))
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def settled_sessions(name: str) -> int:
    """The count once the backends of a process that just ended have reported (about a second)."""
    seen = sessions(name)
    for _ in range(20):
        time.sleep(0.5)
        now = sessions(name)
        if now == seen:
            return now
        seen = now
    return seen


def test_a_run_worker_on_postgresql_uses_pooled_connections(demo_fleet, tmp_path):
    fleet, _ = demo_fleet
    with throwaway_database("hhsync_worker") as name:
        env = dagster_env(fleet)
        home = Path(env["DAGSTER_HOME"])
        (home / "dagster.yaml").write_text(instance_storage_yaml(name) + "telemetry:\n  enabled: false\n")
        env["HEDGEHOG_SYNC_GIT_SCRATCH"] = str(tmp_path / "scratch")
        (tmp_path / "scratch").mkdir()
        with DagsterInstance.from_config(str(home)) as instance:
            instance.add_dynamic_partitions("fabrics", [DRIFTED_FABRIC])
        log = tmp_path / "runs.log"

        def run(tuning: str) -> int:
            before = settled_sessions(name)
            with open(log, "ab") as out:
                proc = subprocess.run([DAGSTER, "asset", "materialize", "-m", "hedgehog_sync.definitions",
                                       "--select", "git_state,k8s_state,drift_report", "--partition", DRIFTED_FABRIC],
                                      env={**env, ENV: tuning}, stdout=out, stderr=subprocess.STDOUT, timeout=300)
            assert proc.returncode == 0, log.read_text()[-3000:]
            return settled_sessions(name) - before

        run("on")  # the cold run: clones, first parses, first reports
        untuned = run("off")
        tuned = run("on")  # the same steady run, tuned
        with DagsterInstance.from_config(str(home)) as instance:
            reports = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=AssetKey("drift_report"), asset_partitions=[DRIFTED_FABRIC]), limit=10)
            assert reports.records  # the runs recorded their reports through the pooled connections
        # Untuned, dagster-postgres opens a connection per statement: dozens for one steady run.
        assert untuned > 2 * tuned, (untuned, tuned)
