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
    return FleetResource(inventory_path=str(path))


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
    fleet = FleetResource(inventory_path=fleet.inventory_path, batch_size=2)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("fabrics", names)
        with build_schedule_context(instance=instance, resources={"fleet": fleet},
                                    scheduled_execution_time=datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)) as ctx:
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
        with build_schedule_context(instance=instance, resources={"fleet": fleet},
                                    scheduled_execution_time=datetime(2026, 11, 28, 12, 1, tzinfo=timezone.utc)) as ctx:
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
        with build_schedule_context(instance=instance, resources={"fleet": fleet},
                                    scheduled_execution_time=datetime(2026, 11, 28, 12, 2, tzinfo=timezone.utc)) as ctx:
            (request,) = fleet_sync_schedule.evaluate_tick(ctx).run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("fab-02", "fab-03")


def test_priorities_decide_membership_run_tags_and_queue_order(tmp_path):
    from datetime import timedelta

    from dagster import DagsterRun, DagsterRunStatus
    from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.utils import make_new_run_id
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

    from hedgehog_sync.domain.recovery import FabricHealthRecord

    now = datetime(2026, 11, 28, 12, 10, tzinfo=timezone.utc)
    names = ["crit-1", "high-1", "med-1", "low-1", "low-new", "maint-1"]
    priorities = ["critical", "high", "medium", "low", "low", "maintenance"]
    path = tmp_path / "fabrics.yaml"
    path.write_text(yaml.safe_dump({"fabrics": [
        {"name": n, "priority": p, "git": {"url": f"https://git.example/{n}.git"}} for n, p in zip(names, priorities)]}))
    fleet = FleetResource(inventory_path=str(path))
    overrides = {"run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator",
                                     "config": {"max_concurrent_runs": 10}}}
    with instance_for_test(overrides=overrides) as instance:
        instance.add_dynamic_partitions("fabrics", names)
        store = fleet.state_store(instance)
        two_minutes_ago = (now - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for name in names:
            if name != "low-new":  # every fabric but one was checked two minutes ago, and healthy
                store.save_health(name, FabricHealthRecord(total_cycles=10, last_cycle_at=two_minutes_ago,
                                                           last_status="in_sync", last_good_sync=two_minutes_ago,
                                                           cluster_reachable=True))
        with build_schedule_context(instance=instance, resources={"fleet": fleet},
                                    scheduled_execution_time=now) as ctx:
            requests = list(fleet_sync_schedule.evaluate_tick(ctx).run_requests)
        members = {}
        for r in requests:
            covered = names[names.index(r.tags[RANGE_START_TAG]): names.index(r.tags[RANGE_END_TAG]) + 1]
            members.setdefault(r.tags["dagster/priority"], []).extend(covered)
            assert r.tags["dagster/max_runtime"] == str(fleet.run_budget_seconds)
        # low (300 s) and maintenance (3600 s) checked 2 min ago are not due; a never-checked low one is
        assert members == {"2": ["crit-1"], "1": ["high-1"], "0": ["med-1"], "-1": ["low-new"]}

        # Dagster's queue starts the higher priority first, whatever the order they were queued in
        origin = RemoteJobOrigin(
            repository_origin=RemoteRepositoryOrigin(
                code_location_origin=InProcessCodeLocationOrigin(
                    LoadableTargetOrigin(module_name="hedgehog_sync.definitions")),
                repository_name="__repository__"),
            job_name="sync_fleet")
        for r in reversed(requests):  # queued lowest first
            instance.run_storage.add_run(DagsterRun(job_name="sync_fleet", run_id=make_new_run_id(),
                                                    status=DagsterRunStatus.QUEUED, tags=r.tags,
                                                    remote_job_origin=origin))
        daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
        order = daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None)
        assert [run.tags["dagster/priority"] for run in order] == ["2", "1", "0", "-1"]


def test_escalated_fabrics_scattered_among_their_class_make_one_run_not_one_each(tmp_path):
    """Health below 0.5 escalates a medium fabric to high: scattered among medium ones, each used to
    end up alone in a run (the soak under faults ended in one run per fabric)."""
    from hedgehog_sync.domain.recovery import FabricHealthRecord

    names = [f"fab-{i:02d}" for i in range(20)]
    fleet = write_inventory(tmp_path / "fabrics.yaml", names)
    now = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    a_minute_ago = "2026-11-28T11:59:00Z"
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("fabrics", names)
        store = fleet.state_store(instance)
        for i, name in enumerate(names):
            sick = i in (3, 9, 15)  # four failed cycles in a row: escalated, not yet isolated
            store.save_health(name, FabricHealthRecord(
                total_cycles=10, failed_cycles=5 if sick else 0, consecutive_failures=4 if sick else 0,
                last_cycle_at=a_minute_ago, last_status="unknown" if sick else "in_sync",
                last_good_sync=None if sick else a_minute_ago, cluster_reachable=not sick, escalated=sick))
        with build_schedule_context(instance=instance, resources={"fleet": fleet},
                                    scheduled_execution_time=now) as ctx:
            requests = list(fleet_sync_schedule.evaluate_tick(ctx).run_requests)
    covered = [names[names.index(r.tags[RANGE_START_TAG]): names.index(r.tags[RANGE_END_TAG]) + 1] for r in requests]
    assert sorted(n for batch in covered for n in batch) == names  # every fabric exactly once
    assert len(requests) <= 3, [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG], r.tags["dagster/priority"])
                                for r in requests]


def test_the_schedule_tick_log_says_which_fabrics_it_skipped_and_why(tmp_path):
    """Isolated (waiting for its hourly probe), in flight, not due: each named in the tick's own log
    (the log view of the tick in the UI), bounded for a large fleet."""
    from dagster import DagsterRunStatus, ScheduleEvaluationContext
    from dagster._core.definitions.instigation_logger import get_instigation_log_records

    from hedgehog_sync.definitions import defs
    from hedgehog_sync.domain.recovery import FabricHealthRecord

    names = [f"fab-{i:02d}" for i in range(40)]
    fleet = write_inventory(tmp_path / "fabrics.yaml", names)
    now = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("fabrics", names)
        store = fleet.state_store(instance)
        for name in names[2:]:  # checked 5 s ago: not due
            store.save_health(name, FabricHealthRecord(total_cycles=3, last_cycle_at="2026-11-28T11:59:55Z",
                                                       last_status="in_sync", cluster_reachable=True))
        store.save_health("fab-39", FabricHealthRecord(  # isolated, probed 10 min ago: next probe in 50 min
            total_cycles=9, failed_cycles=9, consecutive_failures=9, last_cycle_at="2026-11-28T11:50:00Z",
            last_status="unknown", isolated=True))
        instance.create_run_for_job(defs.resolve_job_def("sync_fleet"), status=DagsterRunStatus.STARTED,
                                    tags={RANGE_START_TAG: "fab-00", RANGE_END_TAG: "fab-00"})
        log_key = ["hedgehog_sync_tests", "schedule", "skips"]
        with ScheduleEvaluationContext(instance.get_ref(), now, log_key=log_key, repository_name="__repository__",
                                       schedule_name=fleet_sync_schedule.name, resources={"fleet": fleet}) as ctx:
            (request,) = fleet_sync_schedule.evaluate_tick(ctx).run_requests
        logged = [r["msg"] for r in get_instigation_log_records(instance, log_key)]
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("fab-01", "fab-01")
    assert any("requested 1 run(s) for 1 due fabrics (fab-01); 0 not yet due ride along" in m for m in logged), logged
    (line,) = [m for m in logged if " - skipped" in m]
    assert "skipped 39 fabrics: in flight 1 (fab-00); isolated 1 (fab-39); not due 37 (fab-02, " in line, line
    assert "fab-11 and 27 more" in line and "fab-12" not in line  # ten names per reason, then a count


def test_a_quiet_tick_says_why_each_fabric_waits_with_names_bounded(tmp_path):
    from dagster import ScheduleEvaluationContext
    from dagster._core.definitions.instigation_logger import get_instigation_log_records

    from hedgehog_sync.domain.recovery import FabricHealthRecord

    names = [f"fab-{i:02d}" for i in range(30)]
    fleet = write_inventory(tmp_path / "fabrics.yaml", names, disabled=["fab-29"])
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("fabrics", names)
        for name in names:
            fleet.state_store(instance).save_health(name, FabricHealthRecord(
                total_cycles=3, last_cycle_at="2026-11-28T11:59:55Z", last_status="in_sync", cluster_reachable=True))
        log_key = ["hedgehog_sync_tests", "schedule", "quiet"]
        with ScheduleEvaluationContext(instance.get_ref(), datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc),
                                       log_key=log_key, repository_name="__repository__",
                                       schedule_name=fleet_sync_schedule.name, resources={"fleet": fleet}) as ctx:
            result = fleet_sync_schedule.evaluate_tick(ctx)
        logged = [r["msg"] for r in get_instigation_log_records(instance, log_key)]
    assert not result.run_requests
    assert result.skip_message.startswith("no fabric due; skipped 30 fabrics: disabled 1 (fab-29); not due 29 (")
    assert "fab-09 and 19 more" in result.skip_message and "fab-10" not in result.skip_message  # ten names, a count
    assert any("not due 29 (fab-00," in m for m in logged), logged
