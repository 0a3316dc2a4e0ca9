"""The code location loads and passes Dagster's own validation."""

import os
import subprocess
import sys
from pathlib import Path

from hedgehog_sync.definitions import defs

REPO = Path(__file__).resolve().parents[2]


def test_one_definitions_object_with_the_fleet_pieces():
    from dagster import AssetKey

    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == {
        "git_state", "k8s_state", "drift_report", "fleet_summary", "scheduler_metrics"}
    drift = graph.get(AssetKey("drift_report"))
    assert {p.to_user_string() for p in drift.parent_keys} == {"git_state", "k8s_state"}
    assert {p.to_user_string() for p in graph.get(AssetKey("fleet_summary")).parent_keys} == {"drift_report"}
    assert {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys} == {
        ("drift_report", "in_sync"), ("drift_report", "no_critical_drift"), ("drift_report", "report_fresh"),
        ("drift_report", "fleet_in_sync")}
    assert repo.get_schedule_def("fleet_sync_every_minute").cron_schedule == "* * * * *"
    assert repo.has_sensor_def("fabric_discovery") and repo.has_sensor_def("fleet_watch")


def test_assets_read_well_in_the_graph():
    from dagster import AssetKey

    graph = defs.get_repository_def().asset_graph
    expected = {"git_state": ("fabric_drift", {"git", "yaml"}), "k8s_state": ("fabric_drift", {"kubernetes"}),
                "drift_report": ("fabric_drift", {"pandas"}), "fleet_summary": ("fleet", {"pandas"}),
                "scheduler_metrics": ("fleet", {"dagster"})}
    for key, (group, kinds) in expected.items():
        node = graph.get(AssetKey(key))
        assert node.group_name == group and set(node.kinds) == kinds, key
        assert node.owners == ["team:netops"] and len(node.description) > 40, key


def test_the_sync_job_never_plans_the_checks():
    # A planned check writes a row per fabric per run and shows "skipped" over the real result.
    job = defs.resolve_job_def("sync_fleet")
    assert [n.name for n in job.graph.nodes] == ["fabric_sync"]  # the check ops are not in it


def test_dagster_definitions_validate_passes(tmp_path):
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run([str(dagster), "definitions", "validate", "-w", str(REPO / "workspace.yaml")],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr
