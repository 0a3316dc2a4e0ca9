"""The drift report's metadata in Dagster shows the remediation plan, and records its version."""

from __future__ import annotations

from dagster import AssetKey, DagsterInstance, materialize

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.devlab.demo import BROKEN_FABRIC, DEMO_FABRICS, DRIFTED_FABRIC, EXTRA_VPC, IN_SYNC_FABRIC


def metadata(instance: DagsterInstance, fabric: str) -> dict:
    for record in instance.fetch_materializations(AssetKey("drift_report"), limit=100).records:
        if record.asset_materialization.partition == fabric:
            return {k: v.value for k, v in record.asset_materialization.metadata.items()}
    raise AssertionError(f"no drift_report for {fabric}")


def test_the_report_shows_the_plan_with_its_commands_and_records_its_version(demo_fleet, fleet_resource) -> None:
    fleet, _ = demo_fleet
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        for fabric in (DRIFTED_FABRIC, IN_SYNC_FABRIC, BROKEN_FABRIC):
            assert materialize([fabric_sync], partition_key=fabric, instance=instance,
                               resources={"fleet": fleet_resource, "alerts": AlertSink()}).success
        drifted = metadata(instance, DRIFTED_FABRIC)
        version = drifted["report"]["plan_version"]
        assert len(version) == 64 and drifted["plan_version"] == version  # the history keeps each fix
        md = drifted["plan"]
        kubeconfig = fleet.root / "kube" / f"{DRIFTED_FABRIC}.kubeconfig"
        apply_at = md.index(f"kubectl --kubeconfig {kubeconfig} --context {DRIFTED_FABRIC} apply -f apply.yaml")
        assert apply_at < md.index(f"--context {DRIFTED_FABRIC} delete -f delete.yaml")
        assert f"`{version[:12]}`" in md and "2 to apply, 1 to delete" in md
        assert f"name: {EXTRA_VPC}" in md.split("delete.yaml:")[1]
        assert len(md) < 10_000  # bounded, whatever the fabric's size
        assert "Agent" not in md and "DHCPSubnet" not in md
        in_sync = metadata(instance, IN_SYNC_FABRIC)
        assert in_sync["plan_version"] == "" and "nothing to do" in in_sync["plan"]
        broken = metadata(instance, BROKEN_FABRIC)
        assert broken["report"]["status"] == "unknown" and broken["plan_version"] == ""
        assert broken["plan"].startswith("**No remediation plan**") and "unknown" in broken["plan"]
