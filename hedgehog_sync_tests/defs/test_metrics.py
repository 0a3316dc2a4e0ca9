"""Scheduler metrics: recorded by every sync run, shown and reset by `hedgehog-sync metrics`."""

import json
import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey, DagsterInstance, materialize
from dagster._core.instance.ref import InstanceRef

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.devlab.demo import DEMO_FABRICS, DRIFTED_FABRIC, IN_SYNC_FABRIC
from hedgehog_sync.domain.metrics import RunStats, roll_up

CLI = str(Path(sys.executable).with_name("hedgehog-sync"))


def test_roll_up_counts_totals_and_rates_over_the_window():
    m = None
    for i in range(5):
        m = roll_up(m, RunStats(f"r{i}", f"2026-11-28T12:0{i}:00Z", 2.0, 1.0, 10, 1, 1 if i == 4 else 0), window=3)
    assert (m["runs_total"], m["fabrics_checked_total"], m["fabrics_failed_total"]) == (5, 50, 1)
    assert len(m["recent"]) == 3 and m["success_rate"] == round(1 - 1 / 30, 4)
    assert m["since"] == "2026-11-28T12:00:00Z" and m["last_run"]["run_id"] == "r4"


def test_runs_record_metrics_that_the_cli_shows_and_resets(demo_fleet, tmp_path):
    fleet, _ = demo_fleet
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    resource = FleetResource(inventory_path=str(fleet.inventory))  # state in the instance's storage
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        for fabric in (IN_SYNC_FABRIC, DRIFTED_FABRIC):
            assert materialize([fabric_sync], partition_key=fabric, instance=instance,
                               resources={"fleet": resource, "alerts": AlertSink()}).success
        mats = instance.fetch_materializations(AssetKey("scheduler_metrics"), limit=10).records
        assert len(mats) == 2
        assert mats[0].asset_materialization.metadata["runs_total"].value == 2
    env = dict(os.environ, DAGSTER_HOME=str(home))
    out = subprocess.run([CLI, "metrics", "--format", "json"], env=env, capture_output=True, text=True, check=True)
    shown = json.loads(out.stdout)
    assert (shown["runs_total"], shown["fabrics_checked_total"], shown["success_rate"]) == (2, 2, 1.0)
    table = subprocess.run([CLI, "metrics"], env=env, capture_output=True, text=True, check=True).stdout
    assert "runs since" in table and "success rate 100.00%" in table
    subprocess.run([CLI, "metrics", "--reset"], env=env, capture_output=True, text=True, check=True)
    after = subprocess.run([CLI, "metrics"], env=env, capture_output=True, text=True, check=True).stdout
    assert "no sync run recorded yet" in after
