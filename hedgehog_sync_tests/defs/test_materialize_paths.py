"""The Materialize button's paths (issue 18.1), through the real webserver's GraphQL API.

One `hedgehog-sync demo` (dagster dev: webserver, daemon, code server) per module. Each test sends
exactly what the Dagster UI (1.13) sends: for one fabric, the partition's tags and run config
(`partitionSetOrError` of `__ASSET_JOB_partition_set`), then `LaunchPipelineExecution` of the
implicit asset job `__ASSET_JOB` with the graph's three assets (whichever asset page the button is
on, the UI adds the assets a non-subsettable graph requires) and their checks; for a selection of
fabrics, and for "Materialize all", `launchPartitionBackfill`. Each must end in runs that succeed
and record the fabrics asked for. `hedgehog-sync recheck` launches the same run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from hedgehog_sync.devlab.demo import BROKEN_FABRIC, DEMO_FABRICS, DRIFTED_FABRIC, IN_SYNC_FABRIC
from hedgehog_sync_tests.ui.conftest import DemoProcess, free_port, wait_for
from hedgehog_sync_tests.ui.graphql import LOCATION, REPOSITORY, STOP_SCHEDULE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

ASSET_JOB = "__ASSET_JOB"
ASSETS = ("git_state", "k8s_state", "drift_report")
RUN_WAIT_S = 300  # generous, for a shared machine: waited for, never asserted on
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

# What the UI asks before launching one partition (ConfigEditorConfigPicker's CONFIG_PARTITION_SELECTION_QUERY).
PARTITION_TAGS = """
query ($repositorySelector: RepositorySelector!, $partitionSetName: String!, $partitionName: String!) {
  partitionSetOrError(repositorySelector: $repositorySelector, partitionSetName: $partitionSetName) {
    __typename ... on PartitionSet { partition(partitionName: $partitionName) { name mode
      tagsOrError { __typename ... on PartitionTags { results { key value } } }
      runConfigOrError { __typename ... on PartitionRunConfig { yaml } } } } } }
"""

CHECKS = """
query ($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) { assetKey { path }
  assetChecksOrError { ... on AssetChecks { checks { name jobNames } } } } }
"""

LAUNCH_RUN = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename ... on LaunchRunSuccess { run { runId pipelineName } }
    ... on PythonError { message } ... on Error { message } } }
"""

LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message } ... on Error { message } } }
"""

BACKFILL = """
query ($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { status runs(limit: 20) { runId status tags { key value } } } } }
"""

RUN = """
query ($id: ID!) { runOrError(runId: $id) { __typename
  ... on Run { status pipelineName tags { key value } } } }
"""

RUN_FAILURES = """
query ($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events { __typename
  ... on MessageEvent { message level stepKey } } } } }
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[DemoProcess]:
    """The README's demo, its schedule stopped once it is up: the runs here are the ones the tests launch."""
    folder = tmp_path_factory.mktemp("materialize-demo")
    process = DemoProcess(folder / "devlab", folder / "demo.log", free_port(), [])
    try:
        process.wait_until_served()
        state = process.graphql.schedule_state()
        if state["status"] == "RUNNING":
            process.graphql(STOP_SCHEDULE, id=state["id"])
        yield process
    finally:
        process.stop()


def run_status(demo: DemoProcess, run_id: str) -> dict[str, Any]:
    return demo.graphql(RUN, id=run_id)["runOrError"]


def wait_for_run(demo: DemoProcess, run_id: str) -> dict[str, Any]:
    run = wait_for(f"run {run_id} to end", lambda: (lambda r: r if r.get("status") in TERMINAL else None)(
        run_status(demo, run_id)), RUN_WAIT_S, interval=2, context=lambda: failures(demo, run_id) + demo.log_tail())
    assert run["status"] == "SUCCESS", failures(demo, run_id)
    return run


def failures(demo: DemoProcess, run_id: str) -> str:
    events = demo.graphql(RUN_FAILURES, id=run_id)["logsForRun"].get("events") or []
    return "\n".join(f"{e['__typename']} {e.get('stepKey')}: {(e.get('message') or '')[:400]}" for e in events
                     if e.get("level") == "ERROR" or "Failure" in e["__typename"])


def recorded_by(demo: DemoProcess, run_id: str) -> dict[str, set[str]]:
    """Per asset, the fabrics the run recorded a materialization for."""
    out: dict[str, set[str]] = {}
    for asset in ASSETS:
        events = demo.graphql.materializations(asset, limit=200)
        out[asset] = {e["partition"] for e in events if e["runId"] == run_id}
    return out


def ui_execution_params(demo: DemoProcess, fabric: str) -> dict[str, Any]:
    """What the UI's partition dialog sends for one fabric (LaunchAssetChoosePartitionsDialog,
    onLaunchAsSingleRun, with executionParamsForAssetJob)."""
    repo = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
    found = demo.graphql(PARTITION_TAGS, repositorySelector=repo, partitionSetName=f"{ASSET_JOB}_partition_set",
                         partitionName=fabric)["partitionSetOrError"]
    assert found["__typename"] == "PartitionSet", found
    partition = found["partition"]
    tags = partition["tagsOrError"]["results"]
    assert {"key": "dagster/partition", "value": fabric} in tags
    nodes = demo.graphql(CHECKS, keys=[{"path": [a]} for a in ASSETS])["assetNodes"]
    checks = [{"assetKey": {"path": n["assetKey"]["path"]}, "name": c["name"]}
              for n in nodes for c in (n["assetChecksOrError"] or {}).get("checks") or [] if ASSET_JOB in c["jobNames"]]
    return {"mode": partition["mode"], "runConfigData": partition["runConfigOrError"]["yaml"],
            "executionMetadata": {"tags": tags},
            "selector": {**repo, "pipelineName": ASSET_JOB, "assetSelection": [{"path": [a]} for a in ASSETS],
                         "assetCheckSelection": checks}}


def launch_backfill(demo: DemoProcess, params: dict[str, Any]) -> dict[str, Any]:
    """Launch a backfill as the UI does and wait until its runs end; returns the backfill."""
    launched = demo.graphql(LAUNCH_BACKFILL, backfillParams=params)["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    def done() -> dict[str, Any] | None:
        backfill = demo.graphql(BACKFILL, id=backfill_id)["partitionBackfillOrError"]
        ended = backfill["status"] not in ("REQUESTED",) and backfill["runs"]
        return backfill if ended and all(r["status"] in TERMINAL for r in backfill["runs"]) else None

    return wait_for(f"backfill {backfill_id} to end", done, RUN_WAIT_S, interval=3, context=demo.log_tail)


def test_materialize_one_fabric_runs_in_process_and_records_it(demo):
    launched = demo.graphql(LAUNCH_RUN, executionParams=ui_execution_params(demo, DRIFTED_FABRIC))
    result = launched["launchPipelineExecution"]
    assert result["__typename"] == "LaunchRunSuccess", result
    run_id = result["run"]["runId"]
    run = wait_for_run(demo, run_id)
    assert run["pipelineName"] == ASSET_JOB
    # The fabric asked for is recorded by this run, on all three assets, and no other fabric is.
    assert recorded_by(demo, run_id) == {asset: {DRIFTED_FABRIC} for asset in ASSETS}
    latest = demo.graphql.materializations("drift_report", DRIFTED_FABRIC, limit=1)[0]
    assert latest["runId"] == run_id and latest["metadata"]["status"] == "drifted"
    # Its checks were evaluated in the same run, for that fabric's partition.
    executions = demo.graphql.check_executions("no_critical_drift", DRIFTED_FABRIC, limit=5)
    assert any(e["runId"] == run_id for e in executions), executions


def test_materialize_a_selection_of_fabrics_is_one_backfill_run_that_records_each(demo):
    chosen = [IN_SYNC_FABRIC, DRIFTED_FABRIC]
    backfill = launch_backfill(demo, {"tags": [], "assetSelection": [{"path": [a]} for a in ASSETS],
                                      "partitionNames": chosen, "fromFailure": False})
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    (run,) = backfill["runs"]  # BackfillPolicy.single_run: one run for the selection
    assert run["status"] == "SUCCESS", failures(demo, run["runId"])
    assert recorded_by(demo, run["runId"]) == {asset: set(chosen) for asset in ASSETS}


def test_materialize_all_is_one_run_over_every_fabric(demo):
    backfill = launch_backfill(demo, {"tags": [], "assetSelection": [{"path": [a]} for a in ASSETS],
                                      "allPartitions": True})
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    (run,) = backfill["runs"]
    assert run["status"] == "SUCCESS", failures(demo, run["runId"])
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == \
        (DEMO_FABRICS[0], DEMO_FABRICS[-1])
    recorded = recorded_by(demo, run["runId"])
    assert recorded["drift_report"] == set(DEMO_FABRICS)


def test_recheck_command_launches_the_same_run(demo):
    exe = Path(sys.executable).with_name("hedgehog-sync")
    done = subprocess.run([str(exe), "recheck", "--fabric", BROKEN_FABRIC, "--url", demo.url, "--timeout",
                           str(RUN_WAIT_S)], capture_output=True, text=True, timeout=RUN_WAIT_S + 60)
    assert done.returncode == 0, done.stdout + done.stderr
    first, last = done.stdout.strip().splitlines()[0], done.stdout.strip().splitlines()[-1]
    run_id = first.split("run ", 1)[1].split(":", 1)[0]
    assert first.startswith(f"{BROKEN_FABRIC}: re-check launched, run {run_id}: {demo.url}/runs/{run_id}")
    run = run_status(demo, run_id)
    assert run["status"] == "SUCCESS" and run["pipelineName"] == ASSET_JOB
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags["dagster/partition"] == BROKEN_FABRIC
    latest = demo.graphql.materializations("drift_report", BROKEN_FABRIC, limit=1)[0]
    assert latest["runId"] == run_id
    assert last == f"{BROKEN_FABRIC}: {latest['metadata']['status']} (run {run_id} succeeded)"
    # A name that is no fabric of this instance is refused, naming why, with exit status 2.
    refused = subprocess.run([str(exe), "recheck", "--fabric", "fab-nowhere", "--url", demo.url],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "fab-nowhere" in refused.stderr and "partition" in refused.stderr
