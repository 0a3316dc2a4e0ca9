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
from hedgehog_sync.domain.metrics import RunStats, roll_up, window_rates

CLI = str(Path(sys.executable).with_name("hedgehog-sync"))


def test_roll_up_counts_totals_and_rates_over_the_window():
    m = None
    for i in range(5):
        m = roll_up(m, RunStats(f"r{i}", f"2026-11-28T12:0{i}:00Z", 2.0, 1.0, 10, 1, 1 if i == 4 else 0), window=3)
    assert (m["runs_total"], m["fabrics_checked_total"], m["fabrics_failed_total"]) == (5, 50, 1)
    assert len(m["recent"]) == 3 and m["fabric_check_success_rate"] == round(1 - 1 / 30, 4)
    assert m["success_rate"] == m["fabric_check_success_rate"]  # the old name, kept for earlier readers
    assert m["since"] == "2026-11-28T12:00:00Z" and m["last_run"]["run_id"] == "r4"


def test_the_two_rates_count_what_their_names_say():
    """One run of 10 fabrics with 9 failures and nine clean runs of one fabric each: 9 of 19 fabric
    checks failed (53 % read), but 9 of 10 runs read every fabric (90 %): neither may pass for the other."""
    m = roll_up(None, RunStats("big", "2026-11-28T12:00:00Z", 5.0, 0.0, checked=10, changed=0, failed=9))
    for i in range(9):
        m = roll_up(m, RunStats(f"r{i}", "2026-11-28T12:01:00Z", 1.0, 0.0, checked=1, changed=0, failed=0))
    assert (m["window_runs"], m["window_fabric_checks"]) == (10, 19)
    assert m["fabric_check_success_rate"] == round(10 / 19, 4)
    assert m["clean_run_rate"] == 0.9
    rates = window_rates(m["recent"])  # also from runs recorded before these keys existed
    assert (rates.runs, rates.clean_runs, rates.fabric_checks, rates.fabric_checks_failed) == (10, 9, 19, 9)
    assert window_rates([]).fabric_check_success_rate == 1.0 and window_rates([]).clean_run_rate == 1.0


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
    assert (shown["runs_total"], shown["fabrics_checked_total"], shown["fabric_check_success_rate"]) == (2, 2, 1.0)
    assert (shown["clean_run_rate"], shown["window_runs"], shown["window_fabric_checks"]) == (1.0, 2, 2)
    table = subprocess.run([CLI, "metrics"], env=env, capture_output=True, text=True, check=True).stdout
    assert "runs since" in table
    assert "fabric checks read and compared 100.00% (2 of 2)" in table
    assert "runs with every fabric read 100.00% (2 of 2)" in table
    subprocess.run([CLI, "metrics", "--reset"], env=env, capture_output=True, text=True, check=True)
    after = subprocess.run([CLI, "metrics"], env=env, capture_output=True, text=True, check=True).stdout
    assert "no sync run recorded yet" in after


def test_metrics_typed_as_the_readme_shows_works_beside_the_demo_and_says_what_to_do_elsewhere(tmp_path):
    """`.venv/bin/hedgehog-sync metrics` with no DAGSTER_HOME: in the folder where the demo ran it
    reads the demo's instance (.devlab/dagster_home); anywhere else a clear message, no traceback."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "`.venv/bin/hedgehog-sync metrics`" in readme
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME",)}
    elsewhere = subprocess.run([CLI, "metrics"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert elsewhere.returncode == 2 and "Traceback" not in elsewhere.stderr
    assert "DAGSTER_HOME is not set" in elsewhere.stderr and "export DAGSTER_HOME" in elsewhere.stderr

    demo_home = tmp_path / ".devlab" / "dagster_home"  # where `hedgehog-sync demo` (default --dir) keeps it
    demo_home.mkdir(parents=True)
    (demo_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    beside = subprocess.run([CLI, "metrics"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert beside.returncode == 0, beside.stderr
    assert "no sync run recorded yet" in beside.stdout and str(demo_home) in beside.stdout
    assert "using the demo's instance" in beside.stderr
