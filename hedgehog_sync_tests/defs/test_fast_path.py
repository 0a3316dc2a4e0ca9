"""The fast-path sensor against a real git repository and a real instance."""

import git
import pytest
import yaml
from dagster import SkipReason, build_sensor_context, instance_for_test, materialize

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.defs.fast_path import urgent_git_changes
from hedgehog_sync.defs.schedules import RANGE_END_TAG, RANGE_START_TAG
from hedgehog_sync.devlab.demo import DEMO_FABRICS, DRIFTED_FABRIC, IN_SYNC_FABRIC
from hedgehog_sync.devlab.gitrepos import commit_files


def tick(instance, fleet, cursor=None):
    ctx = build_sensor_context(instance=instance, resources={"fleet": fleet}, cursor=cursor)
    return urgent_git_changes(ctx)


@pytest.mark.parametrize(("priority", "run_priority"), [("critical", "2"), ("high", "1")])
def test_a_commit_on_a_critical_or_high_fabric_gets_a_run_within_one_tick_and_nothing_else_does(
        demo_fleet, fleet_resource, priority, run_priority):
    fleet, _ = demo_fleet  # fab-west is `high` in the demo inventory, the others `medium`
    inventory = yaml.safe_load(fleet.inventory.read_text())
    for entry in inventory["fabrics"]:
        if entry["name"] == DRIFTED_FABRIC:
            entry["priority"] = priority
    fleet.inventory.write_text(yaml.safe_dump(inventory))
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        for fabric in DEMO_FABRICS:
            assert materialize([fabric_sync], partition_key=fabric, instance=instance,
                               resources={"fleet": fleet_resource, "alerts": AlertSink()}).success
        assert isinstance(tick(instance, fleet_resource), SkipReason)  # nothing moved

        west = git.Repo(fleet.root / "git" / DRIFTED_FABRIC)
        commit_files(west, {"notes/change.yaml": "# a comment-only file\n"}, "touch fab-west")
        east = git.Repo(fleet.root / "git" / IN_SYNC_FABRIC)
        commit_files(east, {"notes/change.yaml": "# medium fabrics wait for the schedule\n"}, "touch fab-east")

        result = tick(instance, fleet_resource)
        (request,) = result.run_requests
        assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (DRIFTED_FABRIC, DRIFTED_FABRIC)
        assert request.tags["dagster/priority"] == run_priority  # ahead of medium (0)
        assert request.tags["hedgehog-sync/trigger"] == "fast-path"
        # the same commit is not requested twice while its run is pending
        assert isinstance(tick(instance, fleet_resource, cursor=result.cursor), SkipReason)
