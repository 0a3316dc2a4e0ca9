"""One pause for all automatic syncing: the real schedule and fast-path sensor on a real instance, the
pause set and lifted through the installed `hedgehog-sync` command, and the tick logs they write."""

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import git
import pytest
import yaml
from dagster import (
    DagsterInstance, ScheduleEvaluationContext, SensorEvaluationContext, materialize,
)
from dagster._core.definitions.instigation_logger import get_instigation_log_records
from dagster._core.instance.ref import InstanceRef
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin, RemoteInstigatorOrigin, RemoteRepositoryOrigin,
)
from dagster._core.scheduler.instigation import (
    InstigatorState, InstigatorStatus, InstigatorType, ScheduleInstigatorData,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.defs.fast_path import urgent_git_changes
from hedgehog_sync.defs.pause import Pause, clear_pause, fabric_pauses, fleet_pause, set_pause
from hedgehog_sync.defs.schedules import RANGE_END_TAG, RANGE_START_TAG, fleet_sync_schedule
from hedgehog_sync.devlab.demo import DEMO_FABRICS, DRIFTED_FABRIC, IN_SYNC_FABRIC
from hedgehog_sync.devlab.gitrepos import commit_files
from hedgehog_sync_tests.pg import instance_storage_yaml, throwaway_database

CLI = str(Path(sys.executable).with_name("hedgehog-sync"))
NOON = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def home(tmp_path):
    """A DAGSTER_HOME on disk, as an operator's: the CLI and the schedule/sensor share its instance."""
    path = tmp_path / "dagster_home"
    path.mkdir()
    (path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(path))) as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        yield path, instance


def cli(home_dir, *args, check=True):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["DAGSTER_HOME"] = str(home_dir)
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def schedule_tick(instance, fleet_resource, when=NOON, log_key=None):
    with ScheduleEvaluationContext(instance.get_ref(), when, log_key=log_key, repository_name="__repository__",
                                   schedule_name=fleet_sync_schedule.name,
                                   resources={"fleet": fleet_resource}) as ctx:
        return fleet_sync_schedule.evaluate_tick(ctx)


def sensor_tick(instance, fleet_resource, cursor=None, log_key=None, location=None):
    origin = None if location is None else InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="hedgehog_sync.definitions"), location_name=location)
    with SensorEvaluationContext(instance.get_ref(), cursor=cursor, log_key=log_key, repository_name="__repository__",
                                 sensor_name=urgent_git_changes.name, resources={"fleet": fleet_resource},
                                 code_location_origin=origin) as ctx:
        return urgent_git_changes.evaluate_tick(ctx)


def skipped(result) -> str:
    """The tick's skip message; fails when the tick requested a run."""
    assert not result.run_requests, requested_ranges(result)
    assert result.skip_message
    return result.skip_message


def requested_ranges(result):
    return sorted((r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in result.run_requests or [])


def commit(fleet, fabric, note):
    commit_files(git.Repo(fleet.root / "git" / fabric), {"notes/change.yaml": f"# {note}\n"}, note)


def test_pausing_stops_the_schedule_and_the_fast_path_and_resuming_restarts_both(demo_fleet, fleet_resource, home):
    fleet, _ = demo_fleet  # fab-west is `high`: watched by the fast path
    home_dir, instance = home
    assert materialize([fabric_sync], partition_key=DRIFTED_FABRIC, instance=instance,
                       resources={"fleet": fleet_resource, "alerts": AlertSink()}).success
    assert skipped(sensor_tick(instance, fleet_resource))  # nothing moved yet

    out = cli(home_dir, "pause", "--reason", "switch upgrade CHG-1234").stdout
    assert "all automatic syncing" in out and "switch upgrade CHG-1234" in out
    commit(fleet, DRIFTED_FABRIC, "a commit during the maintenance window")
    for result in (sensor_tick(instance, fleet_resource), schedule_tick(instance, fleet_resource)):
        # no run: the fast path and the schedule both say who paused, when and why
        message = skipped(result)
        assert "paused by" in message and "switch upgrade CHG-1234" in message, message
    status = cli(home_dir, "pause", "--status").stdout
    assert "all automatic syncing: paused by" in status and "switch upgrade CHG-1234" in status

    assert "resumed" in cli(home_dir, "resume").stdout
    fast = sensor_tick(instance, fleet_resource)
    assert requested_ranges(fast) == [(DRIFTED_FABRIC, DRIFTED_FABRIC)]  # the commit of the window, now
    assert fast.run_requests[0].tags["hedgehog-sync/trigger"] == "fast-path"
    scheduled = schedule_tick(instance, fleet_resource)
    assert scheduled.run_requests  # the every-minute sync is back
    assert "all automatic syncing: running" in cli(home_dir, "pause", "--status").stdout


def test_one_paused_fabric_is_skipped_by_both_paths_and_named_in_their_tick_logs(demo_fleet, fleet_resource, home):
    fleet, _ = demo_fleet
    home_dir, instance = home
    inventory = yaml.safe_load(fleet.inventory.read_text())
    for entry in inventory["fabrics"]:
        entry["priority"] = "high"  # all three watched by the fast path
        if entry["name"] == IN_SYNC_FABRIC:
            entry["enabled"] = False
    fleet.inventory.write_text(yaml.safe_dump(inventory))
    before = fleet.inventory.read_text()

    out = cli(home_dir, "pause", "--fabric", DRIFTED_FABRIC, "--reason", "vendor ticket 42").stdout
    assert f"fabric {DRIFTED_FABRIC}: paused by" in out
    assert fleet.inventory.read_text() == before  # the inventory (its history in Git) is not touched
    assert set(fabric_pauses(instance, DEMO_FABRICS)) == {DRIFTED_FABRIC} and fleet_pause(instance) is None

    schedule_key = ["hedgehog_sync_tests", "schedule", "tick-1"]
    result = schedule_tick(instance, fleet_resource, log_key=schedule_key)
    assert requested_ranges(result) == [("fab-lab", "fab-lab")]  # fab-east disabled, fab-west paused
    logged = [r["msg"] for r in get_instigation_log_records(instance, schedule_key)]
    line = next(m for m in logged if "skipped" in m)
    assert f"disabled 1 ({IN_SYNC_FABRIC})" in line and f"paused 1 ({DRIFTED_FABRIC})" in line, logged
    assert any("requested 1 run(s) for 1 due fabrics (fab-lab)" in m for m in logged), logged

    sensor_key = ["hedgehog_sync_tests", "sensor", "tick-1"]
    fast = sensor_tick(instance, fleet_resource, log_key=sensor_key)
    assert requested_ranges(fast) == [("fab-lab", "fab-lab")]  # never synced: its head is news
    logged = [r["msg"] for r in get_instigation_log_records(instance, sensor_key)]
    assert any(f"disabled 1 ({IN_SYNC_FABRIC})" in m and f"paused 1 ({DRIFTED_FABRIC})" in m for m in logged), logged

    # the next tick: fab-lab's run is in flight (its cursor has the head): the log says so
    cursor = fast.cursor
    second_key = ["hedgehog_sync_tests", "sensor", "tick-2"]
    again = sensor_tick(instance, fleet_resource, cursor=cursor, log_key=second_key)
    assert "no new commit 1 (fab-lab)" in skipped(again)

    assert "resumed" in cli(home_dir, "resume", "--fabric", DRIFTED_FABRIC).stdout
    result = schedule_tick(instance, fleet_resource)
    assert requested_ranges(result) == [(DRIFTED_FABRIC, "fab-lab")]  # back in its batch


def test_stopping_the_schedule_in_the_ui_holds_the_fast_path_too(demo_fleet, fleet_resource, home):
    """The schedule's description says: stop it for a maintenance window. Its stored state, as the UI's
    switch (or `dagster schedule stop`) leaves it, must hold the fast path too."""
    fleet, _ = demo_fleet
    _, instance = home
    origin = RemoteInstigatorOrigin(
        RemoteRepositoryOrigin(InProcessCodeLocationOrigin(
            LoadableTargetOrigin(module_name="hedgehog_sync.definitions"), location_name="hedgehog_sync"),
            "__repository__"),
        fleet_sync_schedule.name)
    state = instance.add_instigator_state(InstigatorState(origin, InstigatorType.SCHEDULE, InstigatorStatus.STOPPED,
                                                          ScheduleInstigatorData("* * * * *")))
    held = sensor_tick(instance, fleet_resource, location="hedgehog_sync")
    assert "fleet_sync_every_minute is stopped" in skipped(held)
    # the same schedule name in another code location is not ours
    assert requested_ranges(sensor_tick(instance, fleet_resource, location="elsewhere")) == [
        (DRIFTED_FABRIC, DRIFTED_FABRIC)]

    instance.update_instigator_state(state.with_status(InstigatorStatus.RUNNING))  # switched on again
    assert requested_ranges(sensor_tick(instance, fleet_resource, location="hedgehog_sync")) == [
        (DRIFTED_FABRIC, DRIFTED_FABRIC)]
    assert requested_ranges(sensor_tick(instance, fleet_resource)) == [(DRIFTED_FABRIC, DRIFTED_FABRIC)]


def test_pause_records_are_plain_bounded_and_fail_closed(home):
    _, instance = home
    pause = set_pause(instance, None, by="alice", reason="line one\nline two\x1b[31m " + "x" * 1000, now=NOON)
    assert pause.at == "2026-11-30T12:00:00Z" and "\n" not in pause.reason and "\x1b" not in pause.reason
    assert len(pause.reason) <= 300 and fleet_pause(instance) == pause
    assert clear_pause(instance, None) == pause and fleet_pause(instance) is None
    assert clear_pause(instance, None) is None  # resuming twice is harmless
    # a record we cannot read still holds: resuming is the operator's call, not a parser's
    instance.run_storage.set_cursor_values({"hedgehog_sync/pause/fleet": "{not json"})
    assert "unreadable" in fleet_pause(instance).describe()
    with pytest.raises(ValueError, match="DNS label"):
        set_pause(instance, "../etc", by="mallory")
    assert Pause.from_stored("") is None


def test_cli_refuses_an_unknown_fabric_and_a_missing_dagster_home(home, tmp_path):
    home_dir, _ = home
    done = cli(home_dir, "pause", "--fabric", "fab-typo", check=False)
    assert done.returncode == 2 and "no fabric 'fab-typo'" in done.stderr
    done = cli(home_dir, "resume", "--fabric", "../etc", check=False)
    assert done.returncode == 2 and "DNS label" in done.stderr and "Traceback" not in done.stderr
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    for args in (["pause"], ["resume"], ["pause", "--status"]):
        done = subprocess.run([CLI, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "DAGSTER_HOME is not set" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_with_the_real_daemon_a_commit_during_the_pause_starts_no_run_and_resuming_syncs_it(demo_fleet):
    """`dagster-daemon run` over the demo's instance settings: paused, a commit on the high fabric gets
    no run and both automatic paths' ticks say who paused; resumed, the fast path syncs it; with the
    schedule stopped as the UI's switch does (`dagster schedule stop`), the fast path holds again."""
    import signal
    import time

    from dagster import RunsFilter

    from hedgehog_sync.devlab.demo import WORKSPACE_YAML, dagster_env

    fleet, _ = demo_fleet
    env = dagster_env(fleet)  # the demo's dagster.yaml, DAGSTER_HOME and inventory
    home_dir = Path(env["DAGSTER_HOME"])
    (home_dir / "workspace.yaml").write_text(WORKSPACE_YAML)
    deadline_s = 150.0

    def wait_for(what, check):
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(1)
        raise AssertionError(f"timed out after {deadline_s:g} s waiting for {what}")

    def ticks(instance, name):
        for state in instance.all_instigator_state():
            if state.name == name:
                return instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=20)
        return []

    def tick_saying(instance, name, words, after):
        return next((t for t in ticks(instance, name)
                     if t.timestamp > after and words in (t.skip_reason or "")), None)

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home_dir))) as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        cli(home_dir, "pause", "--reason", "window CHG-7")
        paused_at = time.time()
        commit(fleet, DRIFTED_FABRIC, "pushed during the window")
        log = open(home_dir / "daemon.log", "wb")
        daemon = subprocess.Popen([sys.executable, "-m", "dagster._daemon", "run", "-w", str(home_dir / "workspace.yaml")],
                                  env=env, cwd=home_dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            sensor_tick_ = wait_for("a paused fast-path tick",
                                    lambda: tick_saying(instance, "urgent_git_changes", "window CHG-7", paused_at))
            schedule_tick_ = wait_for("a paused schedule tick",
                                      lambda: tick_saying(instance, "fleet_sync_every_minute", "window CHG-7", paused_at))
            assert "paused by" in sensor_tick_.skip_reason and "paused by" in schedule_tick_.skip_reason
            logged = [r["msg"] for r in get_instigation_log_records(instance, schedule_tick_.log_key)]
            assert any("paused by" in m for m in logged), logged  # the tick's own log says it too
            assert not instance.get_runs(RunsFilter(job_name="sync_fleet"))  # the commit started no run

            assert "resumed" in cli(home_dir, "resume").stdout  # no run existed before this
            fast = wait_for("the fast path's run", lambda: instance.get_runs(
                RunsFilter(job_name="sync_fleet", tags={"hedgehog-sync/trigger": "fast-path"})))
            assert fast[0].tags["dagster/asset_partition_range_start"] == DRIFTED_FABRIC

            subprocess.run([sys.executable, "-m", "dagster", "schedule", "stop", "fleet_sync_every_minute",
                            "-w", str(home_dir / "workspace.yaml")], env=env, cwd=home_dir, check=True,
                           capture_output=True, timeout=120)
            stopped_at = time.time()
            assert "stopped (the fast path holds too)" in cli(home_dir, "pause", "--status").stdout
            wait_for("a held fast-path tick",
                     lambda: tick_saying(instance, "urgent_git_changes", "fleet_sync_every_minute is stopped",
                                         stopped_at))
        finally:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=30)
            log.close()


def test_the_syncing_status_headline_names_everything_that_holds_syncing(home):
    from hedgehog_sync.defs.pause import syncing_status

    _, instance = home
    assert syncing_status(instance, DEMO_FABRICS).headline() == "automatic syncing: running"
    set_pause(instance, None, by="alice", reason="window", now=NOON)
    set_pause(instance, DRIFTED_FABRIC, by="bob", reason="ticket", now=NOON)
    status = syncing_status(instance, DEMO_FABRICS)
    assert status.headline() == ("automatic syncing: all paused by alice at 2026-11-30T12:00:00Z: window; "
                                 "1 fabric(s) paused")
    assert list(status.fabrics) == [DRIFTED_FABRIC] and not status.schedule_stopped


def test_pauses_live_in_postgresql_storage_as_in_sqlite(tmp_path):
    """Production storage: the same key-value table in PostgreSQL (dagster-postgres upserts where SQLite
    updates after a conflict): set, replace, list and lift, read back by the installed CLI."""
    home_dir = tmp_path / "pg_home"
    home_dir.mkdir()
    with throwaway_database("hhsync_pause") as name:
        (home_dir / "dagster.yaml").write_text(instance_storage_yaml(name) + "telemetry:\n  enabled: false\n")
        with DagsterInstance.from_ref(InstanceRef.from_dir(str(home_dir))) as instance:
            instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
            set_pause(instance, None, by="alice", reason="first", now=NOON)
            second = set_pause(instance, None, by="bob", reason="second", now=NOON)  # replaces the first
            set_pause(instance, DRIFTED_FABRIC, by="carol", reason="one fabric", now=NOON)
            assert fleet_pause(instance) == second and list(fabric_pauses(instance, DEMO_FABRICS)) == [DRIFTED_FABRIC]
            status = cli(home_dir, "pause", "--status").stdout
            assert "paused by bob" in status and f"{DRIFTED_FABRIC}: paused by carol" in status
            assert clear_pause(instance, None) == second and fleet_pause(instance) is None
            assert "all automatic syncing: running" in cli(home_dir, "pause", "--status").stdout
