"""A batched sync run writes a constant number of events, not one per fabric (issue 5)."""

from pathlib import Path

import pytest
import yaml
from dagster import DagsterEventType, instance_for_test

from hedgehog_sync.definitions import defs
from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.schedules import RANGE_END_TAG, RANGE_START_TAG
from hedgehog_sync.devlab.demo import DEMO_FABRICS, RUN_CREATOR_ENV

REPO = Path(__file__).resolve().parents[2]


def planned_events(instance, result):
    return instance.all_logs(result.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)


def sync_all(instance, fleet_resource):
    instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
    job = defs.resolve_job_def("sync_fleet")
    keys = instance.get_dynamic_partitions("fabrics")
    return job.execute_in_process(instance=instance, raise_on_error=False,
                                  tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]},
                                  resources={"fleet": fleet_resource, "alerts": AlertSink()})


def test_with_the_shipped_setting_a_batch_plans_one_event_per_asset(demo_fleet, fleet_resource, monkeypatch):
    for name, value in RUN_CREATOR_ENV.items():
        monkeypatch.setenv(name, value)
    with instance_for_test() as instance:
        planned = planned_events(instance, sync_all(instance, fleet_resource))
        assert sorted(e.dagster_event.asset_key.path[0] for e in planned) == ["drift_report", "git_state", "k8s_state"]
        subset = planned[0].dagster_event.event_specific_data.partitions_subset
        assert sorted(subset.get_partition_keys()) == sorted(DEMO_FABRICS)


def test_without_it_dagster_plans_one_event_per_fabric_and_asset(demo_fleet, fleet_resource, monkeypatch):
    """Why the setting ships: this is what grows with the fleet."""
    for name in RUN_CREATOR_ENV:
        monkeypatch.delenv(name, raising=False)
    with instance_for_test() as instance:
        assert len(planned_events(instance, sync_all(instance, fleet_resource))) == 3 * len(DEMO_FABRICS)


@pytest.mark.parametrize("where", ["configmap", "helm"])
def test_the_processes_that_create_runs_get_the_setting_in_production(where):
    config_map = yaml.safe_load((REPO / "deploy/k8s/env-configmap.yaml").read_text())
    assert RUN_CREATOR_ENV.items() <= config_map["data"].items()
    if where == "helm":
        values = yaml.safe_load((REPO / "deploy/helm/values.yaml").read_text())
        name = config_map["metadata"]["name"]
        for component in ("dagsterDaemon", "dagsterWebserver"):
            assert {"name": name} in values[component]["envConfigMaps"], component
