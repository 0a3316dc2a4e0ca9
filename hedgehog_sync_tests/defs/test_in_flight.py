"""A fabric whose sync run still holds it (queued, starting, running, or being cancelled) is never
scheduled a second time; a run that has ended frees it. Evaluated on a real Dagster instance."""

from datetime import datetime, timezone

import pytest
import yaml
from dagster import DagsterRunStatus, build_schedule_context, instance_for_test

from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.defs.schedules import IN_FLIGHT, RANGE_END_TAG, RANGE_START_TAG, fleet_sync_schedule
from hedgehog_sync.domain.vocabulary import IN_FLIGHT_RUN_STATUSES

NAMES = [f"fab-{i:02d}" for i in range(4)]
TICK = datetime(2026, 11, 28, 12, 2, tzinfo=timezone.utc)


def test_the_one_definition_holds_every_status_of_a_run_not_yet_ended():
    assert [s.value for s in IN_FLIGHT] == list(IN_FLIGHT_RUN_STATUSES)
    assert DagsterRunStatus.CANCELING in IN_FLIGHT
    assert not {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED} & set(IN_FLIGHT)


def _ranges_requested(tmp_path, status: DagsterRunStatus) -> list[tuple[str, str]]:
    from hedgehog_sync.definitions import defs

    path = tmp_path / "fabrics.yaml"
    path.write_text(yaml.safe_dump({"fabrics": [{"name": n, "git": {"url": f"https://git.example/{n}.git"}}
                                                for n in NAMES]}))
    fleet = FleetResource(inventory_path=str(path))
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("fabrics", NAMES)
        run = instance.create_run_for_job(defs.resolve_job_def("sync_fleet"), status=status,
                                          tags={RANGE_START_TAG: "fab-00", RANGE_END_TAG: "fab-01"})
        assert run.status == status
        with build_schedule_context(instance=instance, resources={"fleet": fleet},
                                    scheduled_execution_time=TICK) as ctx:
            requests = fleet_sync_schedule.evaluate_tick(ctx).run_requests or []
    return [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in requests]


@pytest.mark.parametrize("status", [DagsterRunStatus.CANCELING, DagsterRunStatus.STARTED])
def test_fabrics_of_a_run_in_flight_are_not_scheduled_again(tmp_path, status):
    assert _ranges_requested(tmp_path, status) == [("fab-02", "fab-03")]


def test_fabrics_of_a_cancelled_run_are_scheduled_again(tmp_path):
    assert _ranges_requested(tmp_path, DagsterRunStatus.CANCELED) == [("fab-00", "fab-03")]
