"""Failures are results (issue 18.2, issue 12.4): one fabric's trouble is that fabric's report, never
its batch's failed run, and one hostile value never costs the rest of the batch their reports.

The instance is configured from the shipped settings (the demo's dagster.yaml, LOCAL_DAGSTER_YAML,
never re-typed here), the runs are real runs of the shipped `sync_fleet` job on it (`execute_job`
of hedgehog_sync.definitions), and a run retry is what Dagster's run-retry daemon would launch: a
re-execution of the same run (same root run id), of all steps or of the compare step alone.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import yaml
from dagster import (
    DagsterEventType, DagsterInstance, DagsterRunStatus, ReexecutionOptions, build_schedule_context, execute_job,
    reconstructable,
)
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import filter_runs_to_should_retry

from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.devlab.demo import DEMO_FABRICS, LOCAL_DAGSTER_YAML
from hedgehog_sync_tests.reliability.conftest import FAULTED, OTHERS, FaultLab, _start_lab, _stop_lab

RANGE = {"dagster/asset_partition_range_start": DEMO_FABRICS[0],
         "dagster/asset_partition_range_end": DEMO_FABRICS[-1]}
ISOLATE_AFTER = FleetResource().isolate_after


def shipped_sync_job():
    """The sync job exactly as the code location defines it (resources configured from the env)."""
    from hedgehog_sync.definitions import defs

    return defs.resolve_job_def("sync_fleet")


SYNC_JOB = reconstructable(shipped_sync_job)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """The fault lab's fleet, synced by the shipped job on an instance made from the shipped settings."""
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("results")
    lab = _start_lab(root, monkeypatch)
    home = root / "shipped_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(LOCAL_DAGSTER_YAML)
    instance = DagsterInstance.from_config(str(home))
    instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
    lab.instance.dispose()
    lab.instance = instance
    # The shipped Definitions configure FleetResource from the environment, as a deployment does.
    monkeypatch.setenv("HEDGEHOG_SYNC_INVENTORY", str(lab.fleet.inventory))
    try:
        yield lab
    finally:
        _stop_lab(lab)
        monkeypatch.undo()


def run_cycle(lab: FaultLab, *, retry_steps: list[str] | None = None) -> list[Any]:
    """One cycle: a run of the whole batch; with retry_steps, also the run retry Dagster would launch
    for it (a re-execution with the same root run id). Returns the runs' records."""
    with execute_job(SYNC_JOB, lab.instance, tags=RANGE) as result:
        run_ids = [result.run_id]
    if retry_steps is not None:
        options = ReexecutionOptions(parent_run_id=run_ids[0], step_selection=retry_steps)
        # The run-retry daemon keeps the parent run's tags (its batch range among them).
        with execute_job(SYNC_JOB, lab.instance, reexecution_options=options, tags=RANGE) as again:
            run_ids.append(again.run_id)
    return [lab.instance.get_run_record_by_id(run_id) for run_id in run_ids]


def check_results(lab: FaultLab, run_id: str, fabric: str) -> list[Any]:
    events = lab.instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    found = [e.dagster_event.event_specific_data for e in events]
    return [c for c in found if c.partition == fabric]


def wrong_token(lab: FaultLab) -> bytes:
    """Give FAULTED's kubeconfig a wrong bearer token (the API server answers 401); returns the original."""
    path = lab.fleet.root / "kube" / f"{FAULTED}.kubeconfig"
    original = path.read_bytes()
    doc = yaml.safe_load(original)
    for user in doc["users"]:
        user["user"]["token"] = "wrong-" + secrets.token_hex(16)
    path.write_text(yaml.safe_dump(doc))
    return original


def generated(lab: FaultLab) -> dict[str, str]:
    """Each fabric's report time; returns once the clock has left their second, so a report
    compared after this call always has a later generated_at (it has a resolution of one second)."""
    stamps = {f: lab.report(f)["generated_at"] for f in DEMO_FABRICS}
    latest = max(datetime.fromisoformat(v.replace("Z", "+00:00")) for v in stamps.values())
    time.sleep(max(0.0, (latest + timedelta(seconds=1) - datetime.now(timezone.utc)).total_seconds()))
    return stamps


def test_a_wrong_token_is_one_unknown_fabric_in_a_green_run_isolated_after_five_cycles_and_back_after_the_fix(shipped):
    lab = shipped
    instance = lab.instance
    assert instance.run_retries_enabled and not instance.run_retries_retry_on_asset_or_op_failure  # as shipped
    (good,) = run_cycle(lab)
    assert good.dagster_run.status == DagsterRunStatus.SUCCESS
    statuses = {f: lab.report(f)["status"] for f in OTHERS}
    kubeconfig = lab.fleet.root / "kube" / f"{FAULTED}.kubeconfig"
    original = wrong_token(lab)
    try:
        runs = []
        for cycle in range(1, ISOLATE_AFTER + 1):
            before = generated(lab)
            # Every cycle but the last is also retried as Dagster's run retries would (all steps, or the
            # compare step alone, which reads the snapshots again): attempts, not cycles.
            retry = None if cycle == ISOLATE_AFTER else (["fabric_sync.compare"] if cycle % 2 else [])
            records = run_cycle(lab, retry_steps=retry)
            runs += records
            for record in records:
                assert record.dagster_run.status == DagsterRunStatus.SUCCESS, record.dagster_run.run_id
            # The other two fabrics were compared and recorded again (not just left as they were).
            after = generated(lab)
            for other in OTHERS:
                assert after[other] > before[other], other
                assert lab.report(other)["status"] == statuses[other], lab.report(other)["errors"]
            report = lab.report(FAULTED)
            assert report["status"] == "unknown"
            assert [e["error_class"] for e in report["errors"] if e.get("error_class")] == ["ClusterAuthError"]
            # Every attempt logged a failing check for the fabric's partition.
            for record in records:
                results = check_results(lab, record.dagster_run.run_id, FAULTED)
                assert results and any(not r.passed for r in results), results
            health = lab.store.health(FAULTED)
            assert health.consecutive_failures == cycle, (cycle, health)
            assert health.isolated is (cycle >= ISOLATE_AFTER)
        # Dagster's run-retry daemon retries none of these runs: each of them succeeded.
        assert list(filter_runs_to_should_retry([r.dagster_run for r in runs], instance)) == []
        messages = [e.user_message for e in instance.all_logs(runs[-1].dagster_run.run_id)]
        assert any(m.startswith("k8s_state: 2 read, 1 failed, ") and f"{FAULTED}: ClusterAuthError" in m
                   for m in messages), messages

        # Isolated, the fabric waits for the slow re-probe...
        now = datetime.now(timezone.utc) + timedelta(seconds=61)
        assert FAULTED not in scheduled(lab, now)
        # ...until its credentials are fixed: the next tick probes it, and one cycle brings it back.
        kubeconfig.write_bytes(original)
        assert FAULTED in scheduled(lab, now)
        (fixed,) = run_cycle(lab)
        assert fixed.dagster_run.status == DagsterRunStatus.SUCCESS
        assert lab.report(FAULTED)["status"] == "in_sync"
        health = lab.store.health(FAULTED)
        assert not health.isolated and health.consecutive_failures == 0
    finally:
        kubeconfig.write_bytes(original)


def scheduled(lab: FaultLab, now: datetime) -> set[str]:
    """The fabrics the shipped schedule's tick at `now` would sync."""
    from hedgehog_sync.defs.schedules import RANGE_END_TAG, RANGE_START_TAG, fleet_sync_schedule

    keys = lab.instance.get_dynamic_partitions("fabrics")
    with build_schedule_context(instance=lab.instance, resources={"fleet": lab.resource},
                                scheduled_execution_time=now) as context:
        result = fleet_sync_schedule.evaluate_tick(context)
    covered: set[str] = set()
    for request in result.run_requests or []:
        start, end = keys.index(request.tags[RANGE_START_TAG]), keys.index(request.tags[RANGE_END_TAG])
        covered.update(keys[start:end + 1])
    return covered


def test_an_unusable_inventory_fails_the_run_and_run_retries_leave_it_alone(shipped):
    lab = shipped
    inventory = lab.fleet.inventory
    original = inventory.read_bytes()
    inventory.write_bytes(b"fabrics: [\x00")
    try:
        with execute_job(SYNC_JOB, lab.instance, tags=RANGE, raise_on_error=False) as result:
            assert not result.success  # the run could not do its job: that is a failed run
            run = lab.instance.get_run_by_id(result.run_id)
    finally:
        inventory.write_bytes(original)
    # A step failure is not a crash: with the shipped settings, Dagster's run retries skip it.
    assert list(filter_runs_to_should_retry([run], lab.instance)) == []


# Values of types nothing downstream expects (YAML 1.1 dates and binary data, as Git can hold them):
# whatever they do to the comparison, the report or its metadata stays with their fabric.
HOSTILE_VPC = """\
apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata:
  name: hostile-value
  annotations: {reviewed: 2024-01-01, at: 2024-01-01 10:00:00}
spec:
  subnets:
    default: {subnet: 10.99.0.0/24, vlan: 3999}
  blob: !!binary aGVkZ2Vob2c=
  when: 2024-01-01
"""


def inject_bug(monkeypatch: pytest.MonkeyPatch, fabric: str, where: str) -> None:
    """Make comparing or rendering `fabric` raise, as a value nothing expected did in issue 12 (a
    `DagsterInvalidMetadata` for a YAML date in the report's metadata): a bug whose class no test can
    foresee, so containment must not depend on which one it is."""
    import hedgehog_sync.cycle as cycle
    import hedgehog_sync.defs.assets as assets

    if where == "comparing":
        real_build = cycle.build_report

        def build_report(name, desired, live, **kw):
            if name == fabric and desired is not None and live is not None:
                raise TypeError("'<' not supported between instances of 'datetime.date' and 'str'")
            return real_build(name, desired, live, **kw)

        monkeypatch.setattr(cycle, "build_report", build_report)
    else:
        from dagster._core.errors import DagsterInvalidMetadata

        real_metadata = assets._report_metadata

        def report_metadata(o, links):
            if o.fabric == fabric and o.compare_error is None:
                raise DagsterInvalidMetadata("Could not resolve the metadata value for 'report' to a known type. "
                                             "Value is not JSON serializable: datetime.date(2024, 1, 1)")
            return real_metadata(o, links)

        monkeypatch.setattr(assets, "_report_metadata", report_metadata)


@pytest.mark.parametrize("where", ["comparing", "rendering"])
@pytest.mark.parametrize("position", [0, 1, 2], ids=["first", "middle", "last"])
def test_a_hostile_value_stays_with_its_fabric_and_the_batch_is_recorded(shipped, monkeypatch, position, where):
    lab = shipped
    faulty = DEMO_FABRICS[position]
    run_cycle(lab)
    before = {f: len(lab.history("drift_report", f)) for f in DEMO_FABRICS}
    stamps = generated(lab)
    statuses = {f: lab.report(f)["status"] for f in DEMO_FABRICS}
    # The value in Git, as a push would bring it, and the failure it caused, wherever it strikes.
    lab.commit({"vpcs/hostile-value.yaml": HOSTILE_VPC}, "a value of an unexpected type", fabric=faulty)
    inject_bug(monkeypatch, faulty, where)
    try:
        (record,) = run_cycle(lab)
        assert record.dagster_run.status == DagsterRunStatus.SUCCESS
        after = generated(lab)
        for other in DEMO_FABRICS:
            if other != faulty:
                # Compared again this run and recorded (its report and history are there, as before).
                assert after[other] > stamps[other], other
                assert lab.report(other)["status"] == statuses[other], lab.report(other)["errors"]
                assert len(lab.history("drift_report", other)) >= before[other]
        # The faulty fabric is unknown, its report names what failed, and that is a new point in its history.
        report = lab.report(faulty)
        assert report["status"] == "unknown" and after[faulty] > stamps[faulty]
        (error,) = [e for e in report["errors"] if e.get("error_class") == "CompareError"]
        doing = {"comparing": "comparing", "rendering": "recording"}[where]  # the step of the op that failed
        assert error["message"].startswith(f"{doing} failed: "), error
        assert len(lab.history("drift_report", faulty)) == before[faulty] + 1
        assert lab.latest_metadata(faulty)["status"] == "unknown"
        assert any(not r.passed for r in check_results(lab, record.dagster_run.run_id, faulty))
        messages = [e.user_message for e in lab.instance.all_logs(record.dagster_run.run_id)]
        assert any(m.startswith(f"fabric {faulty}: status unknown") or f"{faulty}: " in m for m in messages)
        assert not any("Traceback" in m for m in messages)
    finally:
        monkeypatch.undo()
        lab.commit({"vpcs/hostile-value.yaml": None}, "remove it", fabric=faulty)


# --- with the real daemon: what Dagster's run retries do with these runs ------------------------------

@pytest.fixture(scope="module")
def daemon(shipped):
    """`dagster-daemon run` (queue, monitoring, run retries) on the demo's DAGSTER_HOME for this fleet."""
    from hedgehog_sync_tests.daemon import demo_daemon
    from hedgehog_sync_tests.reliability.conftest import GIT_TOKEN_ENV

    with demo_daemon(shipped.fleet, {GIT_TOKEN_ENV: shipped.git_token}) as dep:
        yield dep


def test_the_daemon_retries_neither_a_run_with_an_unread_fabric_nor_a_step_failure(shipped, daemon):
    from hedgehog_sync_tests.daemon import ENDED, wait_for

    lab, dep = shipped, daemon
    original = wrong_token(lab)
    try:
        run_id = dep.launch()
        wait_for("the run with one unreadable fabric", lambda: dep.status(run_id) in ENDED)
    finally:
        (lab.fleet.root / "kube" / f"{FAULTED}.kubeconfig").write_bytes(original)
    assert dep.status(run_id) == DagsterRunStatus.SUCCESS
    store = FleetResource().state_store(dep.instance)
    assert store.latest_report(FAULTED)["status"] == "unknown"
    assert all(store.latest_report(f) is not None for f in OTHERS)  # the rest of the batch was recorded

    # A run that fails on a step (the inventory unusable) is not a crash: the daemon says so, no retry.
    inventory = lab.fleet.inventory
    text = inventory.read_bytes()
    inventory.write_bytes(b"fabrics: [\x00")
    try:
        failed = dep.launch()
        wait_for("the run on an unusable inventory", lambda: dep.status(failed) in ENDED)
    finally:
        inventory.write_bytes(text)
    assert dep.status(failed) == DagsterRunStatus.FAILURE
    decided = lambda: any("Not retrying run since it failed due to an asset or op failure" in (e.message or "")
                          for e in dep.instance.all_logs(failed))
    try:
        wait_for("the daemon's run-retry decision", decided, timeout=420)
    except AssertionError:
        raise AssertionError(f"no run-retry decision; daemon alive: {dep.daemon.poll() is None}\n"
                             f"{dep.daemon_log()}") from None
    # By then the daemon has looked at both runs: neither was run again.
    assert dep.retries_of(run_id) == [] and dep.retries_of(failed) == []
