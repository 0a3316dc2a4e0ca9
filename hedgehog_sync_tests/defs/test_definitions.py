"""The code location loads and passes Dagster's own validation."""

import os
import subprocess
import sys
from pathlib import Path

from hedgehog_sync.definitions import defs

REPO = Path(__file__).resolve().parents[2]


def test_one_definitions_object_with_the_fleet_pieces():
    repo = defs.get_repository_def()
    assert {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()} == {
        "git_state", "k8s_state", "drift_report", "scheduler_metrics"}
    from dagster import AssetKey

    drift = repo.asset_graph.get(AssetKey("drift_report"))
    assert {p.to_user_string() for p in drift.parent_keys} == {"git_state", "k8s_state"}
    assert repo.get_schedule_def("fleet_sync_every_minute").cron_schedule == "* * * * *"
    assert repo.has_sensor_def("fabric_discovery")


def test_dagster_definitions_validate_passes(tmp_path):
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run([str(dagster), "definitions", "validate", "-w", str(REPO / "workspace.yaml")],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr
