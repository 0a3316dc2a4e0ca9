"""Matrix rows that need the real daemon: a run worker killed mid-run, the daemon killed mid-cycle.

Each runs twice: on the demo's instance settings (the dagster.yaml `hedgehog-sync demo` writes,
SQLite) and on production's (deploy/dagster.yaml, PostgreSQL, runs as local processes instead of
Kubernetes Jobs); both as shipped, queue, run monitoring and run retries included
(hedgehog_sync_tests/daemon.py). Runs are submitted as an operator would, with `dagster job launch`,
for the whole demo fleet; a slow API server answer holds a run in its read step long enough to kill
something under it.
"""

from __future__ import annotations

import dataclasses
import os
import signal

import pytest
from dagster import DagsterRunStatus

from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.devlab.demo import DEMO_FABRICS
from hedgehog_sync_tests.daemon import ENDED, demo_daemon, production_daemon, wait_for
from hedgehog_sync_tests.reliability.conftest import (
    FAULTED, FAULTED_VPCS, GIT_TOKEN_ENV, _comparable, assert_nothing_lost,
)


@pytest.fixture(scope="module", params=["demo", "production"])
def deployment(request, module_lab, tmp_path_factory):
    env = {GIT_TOKEN_ENV: module_lab.git_token,
           # A slow answer must hold the run, not time it out.
           "HEDGEHOG_SYNC_KUBERNETES_TIMEOUT_SECONDS": "120", "HEDGEHOG_SYNC_GIT_TIMEOUT_SECONDS": "60"}
    if request.param == "demo":
        running = demo_daemon(module_lab.fleet, env)
    else:
        running = production_daemon(module_lab.fleet, tmp_path_factory.mktemp("production_home"), env)
    with running as dep:
        assert dep.instance.run_retries_enabled and not dep.instance.run_retries_retry_on_asset_or_op_failure
        yield dep


@pytest.fixture
def daemon_lab(lab, deployment):
    """The fleet seen through the daemon's instance and state."""
    resource = FleetResource(inventory_path=str(lab.fleet.inventory))  # its state: in the daemon's instance
    return dataclasses.replace(lab, instance=deployment.instance, resource=resource, results=[])


def synced(dep) -> None:
    """One run over the fleet to its end, so every fabric has a report to compare with (whichever
    test comes first)."""
    dep.settled()
    first = dep.launch()
    wait_for("a first run", lambda: dep.status(first) in ENDED)
    assert dep.status(first) == DagsterRunStatus.SUCCESS


def test_run_worker_killed_mid_run_is_marked_failed_and_run_again(daemon_lab, deployment):
    dep, lab = deployment, daemon_lab
    synced(dep)
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
    dep.settled()
    after = lab.snapshot()
    assert_nothing_lost(before, after)
    for fabric in DEMO_FABRICS:
        assert _comparable(after.latest[fabric]) == _comparable(before.latest[fabric])
    assert after.latest[FAULTED]["status"] == "in_sync"


def test_daemon_killed_mid_cycle_loses_no_run_and_no_report(daemon_lab, deployment):
    dep, lab = deployment, daemon_lab
    synced(dep)
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
    dep.settled()
    after = lab.snapshot()
    assert_nothing_lost(before, after)
    for fabric in DEMO_FABRICS:
        assert _comparable(after.latest[fabric]) == _comparable(before.latest[fabric])
