"""Discovery sensor and the every-minute schedule, evaluated against a real Dagster instance."""

from datetime import datetime, timezone

import yaml
from dagster import SkipReason, build_schedule_context, build_sensor_context, instance_for_test

from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.defs.schedules import RANGE_END_TAG, RANGE_START_TAG, fleet_sync_schedule
from hedgehog_sync.defs.sensors import fabric_discovery


def write_inventory(path, names, disabled=(), extra=()):
    entries = [{"name": n, "enabled": n not in disabled, "git": {"url": f"https://git.example/{n}.git"}}
               for n in names]
    path.write_text(yaml.safe_dump({"fabrics": entries + list(extra)}))
    return FleetResource(inventory_path=str(path), state_dir=str(path.parent / "state"))


def discover(instance, fleet):
    result = fabric_discovery(build_sensor_context(instance=instance, resources={"fleet": fleet}))
    if isinstance(result, SkipReason):
        return result
    for request in result.dynamic_partitions_requests:
        if type(request).__name__ == "AddDynamicPartitionsRequest":
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    return result


def test_discovery_adds_and_deletes_only_the_difference(tmp_path):
    path = tmp_path / "fabrics.yaml"
    with instance_for_test() as instance:
        fleet = write_inventory(path, ["fab-a", "fab-b", "fab-c"])
        result = discover(instance, fleet)
        (add,) = result.dynamic_partitions_requests
        assert list(add.partition_keys) == ["fab-a", "fab-b", "fab-c"]
        assert isinstance(discover(instance, fleet), SkipReason)  # in step: nothing requested

        fleet = write_inventory(path, ["fab-a", "fab-c", "fab-d"])
        result = discover(instance, fleet)
        kinds = {type(r).__name__: list(r.partition_keys) for r in result.dynamic_partitions_requests}
        assert kinds == {"AddDynamicPartitionsRequest": ["fab-d"], "DeleteDynamicPartitionsRequest": ["fab-b"]}
        assert instance.get_dynamic_partitions("fabrics") == ["fab-a", "fab-c", "fab-d"]


def test_an_invalid_entry_keeps_its_partition_and_an_unreadable_file_deletes_nothing(tmp_path):
    path = tmp_path / "fabrics.yaml"
    with instance_for_test() as instance:
        discover(instance, write_inventory(path, ["fab-a", "fab-b"]))
        # a typo in fab-b's entry: it must not lose its partition (and history)
        fleet = write_inventory(path, ["fab-a"], extra=[{"name": "fab-b", "git": {"url": "https://h/r"}, "prio": 1}])
        assert isinstance(discover(instance, fleet), SkipReason)
        assert instance.get_dynamic_partitions("fabrics") == ["fab-a", "fab-b"]
        path.write_text("fabrics: [")
        skip = discover(instance, fleet)
        assert isinstance(skip, SkipReason) and "fabrics.yaml" in skip.skip_message
        assert instance.get_dynamic_partitions("fabrics") == ["fab-a", "fab-b"]


def test_schedule_batches_every_enabled_fabric_into_few_runs(tmp_path):
    names = [f"fab-{i:02d}" for i in range(7)]
    fleet = write_inventory(tmp_path / "fabrics.yaml", names, disabled=["fab-03"])
    fleet = FleetResource(inventory_path=fleet.inventory_path, state_dir=fleet.state_dir, batch_size=2)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("fabrics", names)
        ctx = build_schedule_context(instance=instance, resources={"fleet": fleet},
                                     scheduled_execution_time=datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc))
        requests = list(fleet_sync_schedule.evaluate_tick(ctx).run_requests)
    ranges = [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in requests]
    assert ranges == [("fab-00", "fab-01"), ("fab-02", "fab-02"), ("fab-04", "fab-05"), ("fab-06", "fab-06")]
    covered = set()
    for start, end in ranges:
        covered |= set(names[names.index(start): names.index(end) + 1])
    assert covered == set(names) - {"fab-03"}
    assert len({r.run_key for r in requests}) == len(requests)


def test_schedule_with_the_default_batch_size_makes_one_run_for_a_small_fleet(tmp_path):
    names = [f"fab-{i:02d}" for i in range(30)]
    fleet = write_inventory(tmp_path / "fabrics.yaml", names)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("fabrics", names)
        ctx = build_schedule_context(instance=instance, resources={"fleet": fleet},
                                     scheduled_execution_time=datetime(2026, 11, 28, 12, 1, tzinfo=timezone.utc))
        (request,) = fleet_sync_schedule.evaluate_tick(ctx).run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("fab-00", "fab-29")


def test_schedule_skips_fabrics_whose_previous_sync_is_still_queued_or_running(tmp_path):
    from dagster import DagsterRunStatus

    from hedgehog_sync.definitions import defs

    names = [f"fab-{i:02d}" for i in range(4)]
    fleet = write_inventory(tmp_path / "fabrics.yaml", names)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("fabrics", names)
        job = defs.resolve_job_def("sync_fleet")
        run = instance.create_run_for_job(job, tags={RANGE_START_TAG: "fab-00", RANGE_END_TAG: "fab-01"},
                                          status=DagsterRunStatus.STARTED)
        assert run.status == DagsterRunStatus.STARTED
        ctx = build_schedule_context(instance=instance, resources={"fleet": fleet},
                                     scheduled_execution_time=datetime(2026, 11, 28, 12, 2, tzinfo=timezone.utc))
        (request,) = fleet_sync_schedule.evaluate_tick(ctx).run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("fab-02", "fab-03")
