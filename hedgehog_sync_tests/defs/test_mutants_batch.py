"""Kills issue 19's batch mutations: "stop comparing at the first failing fabric", and one fabric's
error escaping the batch. The faulty fabric sits first, in the middle and last; every other fabric
must be compared anew by the same run (its report's generated_at advances), not merely left as it was.

Real components: the demo fleet (real git repositories, the devlab API server), a real Dagster instance.
"""

import time

import pytest
from dagster import AssetKey, DagsterInstance, Definitions

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.defs.schedules import RANGE_END_TAG, RANGE_START_TAG, sync_fleet_job
from hedgehog_sync.devlab.demo import BROKEN_FABRIC, DEMO_FABRICS, DRIFTED_FABRIC, IN_SYNC_FABRIC

# What the demo fabrics report while every cluster is reachable (the third has a Git error of its own).
EXPECTED = {IN_SYNC_FABRIC: "in_sync", DRIFTED_FABRIC: "drifted", BROKEN_FABRIC: "unknown"}


def reports(instance, run_id):
    """Each fabric's drift report recorded by run `run_id`: {fabric: report}."""
    out = {}
    for record in instance.fetch_materializations(AssetKey("drift_report"), limit=1000).records:
        mat = record.asset_materialization
        if record.run_id == run_id and mat.partition not in out:
            out[mat.partition] = mat.metadata["report"].value
    return out


@pytest.mark.parametrize("faulty", range(len(DEMO_FABRICS)), ids=["first", "middle", "last"])
def test_one_unreadable_fabric_anywhere_in_the_batch_never_stops_the_others(demo_fleet, tmp_path, faulty):
    fleet, handle = demo_fleet
    faulty = DEMO_FABRICS[faulty]
    resource = FleetResource(inventory_path=str(fleet.inventory))
    defs = Definitions(assets=[fabric_sync], jobs=[sync_fleet_job], resources={"fleet": resource, "alerts": AlertSink()})
    job = defs.resolve_job_def("sync_fleet")
    tags = {RANGE_START_TAG: DEMO_FABRICS[0], RANGE_END_TAG: DEMO_FABRICS[-1]}
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        first = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags)
        assert first.success
        before = reports(instance, first.run_id)
        assert {f: r["status"] for f, r in before.items()} == EXPECTED

        # The faulty fabric's cluster becomes unreachable: its kubeconfig points at a closed port.
        kubeconfig = fleet.root / "kube" / f"{faulty}.kubeconfig"
        kubeconfig.write_text(kubeconfig.read_text().replace(handle.url, "https://127.0.0.1:9"))
        time.sleep(1.1)  # generated_at has whole seconds: the next comparison must show a later one
        second = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags)
        assert second.success  # a fabric that cannot be read is a result, not a failed run
        after = reports(instance, second.run_id)
        for fabric in DEMO_FABRICS:
            report = after.get(fabric) or resource.state_store(instance).latest_report(fabric)
            if fabric == faulty:
                assert report["status"] == "unknown"
                assert any(e["error_class"] == "ClusterUnreachableError" for e in report["errors"])
            else:
                assert report["status"] == EXPECTED[fabric]
                # compared again by this run, not merely left as the first run stored it
                assert report["generated_at"] > before[fabric]["generated_at"], fabric
