"""The three assets materialized with a real Dagster instance, real git and the devlab API server."""

import yaml
from dagster import AssetKey, DagsterInstance, Definitions, materialize

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.defs.schedules import RANGE_END_TAG, RANGE_START_TAG, sync_fleet_job
from hedgehog_sync.devlab.demo import BROKEN_FABRIC, DEMO_FABRICS, DRIFTED_FABRIC, IN_SYNC_FABRIC

ASSETS = ("git_state", "k8s_state", "drift_report")


def latest(instance, asset, fabric):
    records = instance.fetch_materializations(AssetKey(asset), limit=100).records
    mats = [r.asset_materialization for r in records if r.asset_materialization.partition == fabric]
    return mats[0] if mats else None


def count(instance, asset, fabric):
    records = instance.fetch_materializations(AssetKey(asset), limit=1000).records
    return sum(1 for r in records if r.asset_materialization.partition == fabric)


def test_materializing_one_fabric_gives_the_expected_report(demo_fleet, fleet_resource):
    fleet, _ = demo_fleet
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        result = materialize([fabric_sync], partition_key=DRIFTED_FABRIC, instance=instance,
                             resources={"fleet": fleet_resource, "alerts": AlertSink()})
        assert result.success
        report = latest(instance, "drift_report", DRIFTED_FABRIC).metadata["report"].value
        assert report["status"] == "drifted" and report["severity"] == "critical"
        named = {(r["kind"], r["name"], r["state"]) for r in report["resources"]}
        assert named == {(d.kind, d.name, d.state) for d in fleet.drifted}
        git = latest(instance, "git_state", DRIFTED_FABRIC)
        assert git.metadata["commit"].value == report["git"]["commit"]
        assert git.tags["dagster/data_version"]
        md = latest(instance, "drift_report", DRIFTED_FABRIC).metadata["summary"].value
        assert "rogue-vpc" in md and "drifted" in md
        # the other fabrics were not part of this run
        assert latest(instance, "drift_report", IN_SYNC_FABRIC) is None


def test_unchanged_fabric_records_nothing_new_and_a_live_change_records_only_what_moved(demo_fleet, fleet_resource):
    fleet, handle = demo_fleet
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        for _ in range(2):
            assert materialize([fabric_sync], partition_key=IN_SYNC_FABRIC, instance=instance,
                               resources={"fleet": fleet_resource, "alerts": AlertSink()}).success
        assert [count(instance, a, IN_SYNC_FABRIC) for a in ASSETS] == [1, 1, 1]
        # someone edits a switch label in the cluster
        switch = next(o for o in fleet.store.list(IN_SYNC_FABRIC, "wiring.githedgehog.com", "switches"))
        switch["metadata"].setdefault("labels", {})["rack"] = "r42"
        fleet.store.put(IN_SYNC_FABRIC, switch)
        assert materialize([fabric_sync], partition_key=IN_SYNC_FABRIC, instance=instance,
                           resources={"fleet": fleet_resource, "alerts": AlertSink()}).success
        assert [count(instance, a, IN_SYNC_FABRIC) for a in ASSETS] == [1, 2, 2]
        report = latest(instance, "drift_report", IN_SYNC_FABRIC).metadata["report"].value
        (changed,) = report["resources"]
        assert changed["changes"] == [{"op": "add", "path": "/metadata/labels/rack", "actual": "r42",
                                       "severity": "medium"}]


def test_a_batch_run_covers_a_range_and_one_failing_fabric_does_not_stop_the_others(demo_fleet, tmp_path):
    fleet, handle = demo_fleet
    # fab-lab's cluster becomes unreachable: its kubeconfig now points at a closed port
    kubeconfig = fleet.root / "kube" / f"{BROKEN_FABRIC}.kubeconfig"
    kubeconfig.write_text(kubeconfig.read_text().replace(handle.url, "http://127.0.0.1:9"))
    resource = FleetResource(inventory_path=str(fleet.inventory))
    defs = Definitions(assets=[fabric_sync], jobs=[sync_fleet_job], resources={"fleet": resource, "alerts": AlertSink()})
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        result = defs.resolve_job_def("sync_fleet").execute_in_process(
            instance=instance, raise_on_error=False,
            tags={RANGE_START_TAG: DEMO_FABRICS[0], RANGE_END_TAG: DEMO_FABRICS[-1]})
        # A fabric that cannot be read is a result, not a failed run (issue 18): the run succeeds...
        assert result.success
        messages = [e.message for e in instance.all_logs(result.run_id) if e.message]
        # ...the read step says what it read and what failed, cause first (no "3/3 fabrics read")...
        assert any(m.startswith("k8s_state: 2 read, 1 failed, ") and f"{BROKEN_FABRIC}: ClusterUnreachableError" in m
                   for m in messages), messages
        assert any(m.startswith("1 of 3 fabrics could not be read or compared, each recorded unknown: " + BROKEN_FABRIC)
                   for m in messages), messages
        # ...while every other fabric was recorded
        assert latest(instance, "drift_report", IN_SYNC_FABRIC).metadata["status"].value == "in_sync"
        assert latest(instance, "drift_report", DRIFTED_FABRIC).metadata["status"].value == "drifted"
        broken = latest(instance, "drift_report", BROKEN_FABRIC).metadata["report"].value
        assert broken["status"] == "unknown"
        assert any(e["error_class"] == "ClusterUnreachableError" for e in broken["errors"])
        assert latest(instance, "k8s_state", BROKEN_FABRIC) is None


def test_invalid_inventory_entries_are_named_and_the_other_fabrics_still_sync(demo_fleet, tmp_path):
    fleet, _ = demo_fleet
    inv = yaml.safe_load(fleet.inventory.read_text())
    inv["fabrics"] += [
        {"name": "Bad_Name", "git": {"url": "https://h/r.git"}},
        {"name": "typo", "git": {"url": "https://h/r.git"}, "kubernets": {}},
        {"name": DRIFTED_FABRIC, "git": {"url": "https://h/other.git"}},
    ]
    path = tmp_path / "fabrics.yaml"
    path.write_text(yaml.safe_dump(inv))
    resource = FleetResource(inventory_path=str(path))
    problems = [str(p) for p in resource.load_inventory().problems]
    assert any("fabrics[4] (Bad_Name): field 'name'" in p for p in problems)
    assert any("fabrics[5] (typo): unknown field 'kubernets'" in p for p in problems)
    assert any(f"fabrics[6] ({DRIFTED_FABRIC}): duplicate name" in p for p in problems)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        result = materialize([fabric_sync], partition_key=IN_SYNC_FABRIC, instance=instance,
                             resources={"fleet": resource, "alerts": AlertSink()})
        assert result.success
        assert latest(instance, "drift_report", IN_SYNC_FABRIC).metadata["status"].value == "in_sync"


def test_a_drift_report_reads_in_five_seconds_and_plots_over_time(demo_fleet, fleet_resource):
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        assert materialize([fabric_sync], partition_key=DRIFTED_FABRIC, instance=instance,
                           resources={"fleet": fleet_resource, "alerts": AlertSink()}).success
        meta = latest(instance, "drift_report", DRIFTED_FABRIC).metadata
        # what a person reads comes first: the summary, then the table of changed resources
        assert list(meta)[:2] == ["summary", "changed_resources"]
        md = meta["summary"].value
        assert md.startswith(f"### ⚠ drifted · {DRIFTED_FABRIC}: 3 resources differ")
        assert md.index("rogue-vpc") < md.index("vpc-01--default")  # critical before high
        assert "`vpcs/vpc-01.yaml#2`" in md  # where Git defines the missing attachment
        table = meta["changed_resources"]
        assert [(r.data["severity"], r.data["state"], r.data["kind"]) for r in table.records] == [
            ("critical", "extra", "VPC"), ("high", "modified", "VPC"), ("high", "missing", "VPCAttachment")]
        types = {c.name: c.type for c in table.schema.columns}
        assert types["changes"] == "int" and types["source"] == "string"
        assert table.records[1].data["first_change"].startswith("replace `/spec/subnets/")
        report = meta["report"].value
        assert meta["commit"].value == report["git"]["commit"]
        assert meta["commit_message"].value == f"{DRIFTED_FABRIC}: initial wiring and VPCs"
        assert meta["commit_author"].value == "hedgehog-sync devlab"
        numbers = {k: meta[k].value for k in ("in_sync", "modified", "missing", "extra", "git_resources",
                                              "live_resources", "score", "health", "duration_s")}
        assert all(isinstance(v, (int, float)) for v in numbers.values()), numbers
        assert (numbers["modified"], numbers["missing"], numbers["extra"]) == (1, 1, 1)


def test_report_metadata_keeps_long_lists_bounded():
    from hedgehog_sync.defs.assets import MAX_RESOURCES_IN_METADATA, _bounded

    many = [{"kind": "VPC", "name": f"v{i}"} for i in range(MAX_RESOURCES_IN_METADATA + 5)]
    small = {"fabric": "f", "resources": many[:3], "unchecked_drift": []}
    assert _bounded(small) == small
    cut = _bounded({"fabric": "f", "resources": many, "unchecked_drift": many})
    assert len(cut["resources"]) == len(cut["unchecked_drift"]) == MAX_RESOURCES_IN_METADATA
    assert cut["resources_omitted"] == cut["unchecked_drift_omitted"] == 5
