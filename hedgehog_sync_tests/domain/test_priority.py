from datetime import datetime, timedelta, timezone

import pytest

from hedgehog_sync.domain.inventory import PRIORITY_RANK
from hedgehog_sync.domain.priority import (
    PRIORITIES, REFRESH_INTERVAL_SECONDS, FabricPlanInput, Schedule, due_by_run_priority,
    effective_priority, is_due, plan_tick, run_priority_tag, schedule_for, seconds_until_due,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def ago(seconds):
    return NOW - timedelta(seconds=seconds)


def test_classes_ranks_and_intervals():
    assert PRIORITIES == ("critical", "high", "medium", "low", "maintenance")
    assert [PRIORITY_RANK[p] for p in PRIORITIES] == [1, 2, 3, 4, 5]
    assert [REFRESH_INTERVAL_SECONDS[p] for p in PRIORITIES] == [30, 60, 60, 300, 3600]


def test_run_priority_tags_follow_the_classes_and_centre_on_dagsters_default():
    tags = [run_priority_tag(p) for p in PRIORITIES]
    assert tags == [2, 1, 0, -1, -2]
    assert tags == sorted(tags, reverse=True)  # Dagster dequeues the highest first
    assert run_priority_tag("medium") == 0  # an untagged run counts as 0


def test_unknown_priority_is_refused():
    with pytest.raises(ValueError, match="unknown priority 'urgent'"):
        effective_priority("urgent", 1.0, False)
    with pytest.raises(ValueError):
        run_priority_tag("Critical")


@pytest.mark.parametrize("configured,health,isolated,escalated,expected", [
    # healthy: as configured
    ("critical", 1.0, False, False, Schedule("critical", "critical", 30, 2, False, False)),
    ("high", 1.0, False, False, Schedule("high", "high", 60, 1, False, False)),
    ("medium", 1.0, False, False, Schedule("medium", "medium", 60, 0, False, False)),
    ("low", 1.0, False, False, Schedule("low", "low", 300, -1, False, False)),
    ("maintenance", 1.0, False, False, Schedule("maintenance", "maintenance", 3600, -2, False, False)),
    ("medium", 0.5, False, False, Schedule("medium", "medium", 60, 0, False, False)),  # 0.5 is not below
    # health below 0.5: one class up, never above critical
    ("critical", 0.2, False, False, Schedule("critical", "critical", 30, 2, False, False)),
    ("high", 0.49, False, False, Schedule("high", "critical", 30, 2, False, True)),
    ("medium", 0.3, False, False, Schedule("medium", "high", 60, 1, False, True)),
    ("low", 0.0, False, False, Schedule("low", "medium", 60, 0, False, True)),
    ("maintenance", 0.1, False, False, Schedule("maintenance", "low", 300, -1, False, True)),
    # the record's sticky escalation holds while health is back above 0.5
    ("low", 0.7, False, True, Schedule("low", "medium", 60, 0, False, True)),
    # isolated: configured class kept; critical and high keep their interval, the rest are probed
    # hourly; all at the maintenance run priority, escalation ignored
    ("critical", 0.1, True, True, Schedule("critical", "critical", 30, -2, True, False)),
    ("high", 0.1, True, True, Schedule("high", "high", 60, -2, True, False)),
    ("medium", 0.1, True, True, Schedule("medium", "medium", 3600, -2, True, False)),
    ("low", 0.9, True, False, Schedule("low", "low", 3600, -2, True, False)),
    ("maintenance", 0.1, True, False, Schedule("maintenance", "maintenance", 3600, -2, True, False)),
])
def test_schedule_for_every_class(configured, health, isolated, escalated, expected):
    assert schedule_for(configured, health, isolated, escalated) == expected
    assert effective_priority(configured, health, isolated, escalated) == expected.priority


@pytest.mark.parametrize("last_checked,interval,expected", [
    (None, 60, True),
    (ago(0), 60, False),
    (ago(54), 60, False),
    (ago(55), 60, True),  # within the 5 s slack of a 60 s cron tick
    (ago(60), 60, True),
    (ago(600), 60, True),
    (ago(25), 30, True),
    (ago(3000), 3600, False),
    (ago(3595), 3600, True),
    (ago(-2), 60, False),  # a few seconds ahead (another clock): not due yet
    (ago(-7200), 60, True),  # far in the future: the clock moved back; never starve the fabric
])
def test_is_due(last_checked, interval, expected):
    assert is_due(last_checked, interval, NOW) is expected


def test_slack_is_configurable_and_seconds_until_due_counts_down():
    assert not is_due(ago(58), 60, NOW, slack_seconds=0)
    assert is_due(ago(50), 60, NOW, slack_seconds=10)
    assert seconds_until_due(ago(40), 60, NOW) == 15.0
    assert seconds_until_due(None, 60, NOW) == 0.0


def plan(*fabrics):
    return {p.name: p for p in plan_tick(fabrics, NOW)}


@pytest.mark.parametrize("fabric,due,reason,run_priority", [
    (FabricPlanInput("a", "critical", enabled=False), False, "disabled", 2),
    (FabricPlanInput("a", "maintenance"), True, "never checked", -2),
    (FabricPlanInput("a", "critical", last_checked=ago(31)), True, "due", 2),
    (FabricPlanInput("a", "critical", last_checked=ago(20)), False, "not due", 2),
    (FabricPlanInput("a", "medium", last_checked=ago(59)), True, "due", 0),
    (FabricPlanInput("a", "low", last_checked=ago(120)), False, "not due", -1),
    # escalated low is checked at the medium interval
    (FabricPlanInput("a", "low", last_checked=ago(120), health=0.3), True, "due", 0),
    # isolated medium: probed hourly, at the lowest run priority
    (FabricPlanInput("a", "medium", last_checked=ago(600), health=0.1, isolated=True), False, "not due", -2),
    (FabricPlanInput("a", "medium", last_checked=ago(3600), health=0.1, isolated=True), True, "due", -2),
    # isolated critical and high are always scheduled at their own interval
    (FabricPlanInput("a", "critical", last_checked=ago(30), health=0.1, isolated=True), True, "due", -2),
    (FabricPlanInput("a", "high", last_checked=ago(60), health=0.1, isolated=True), True, "due", -2),
    (FabricPlanInput("a", "high", last_checked=ago(60), enabled=False, isolated=True), False, "disabled", -2),
])
def test_plan_one_fabric(fabric, due, reason, run_priority):
    (planned,) = plan_tick([fabric], NOW)
    assert (planned.due, planned.reason, planned.run_priority) == (due, reason, run_priority)
    assert (planned.seconds_until_due is None) == (reason == "disabled")


def test_plan_orders_by_run_priority_and_groups_the_due_ones():
    fabrics = [
        FabricPlanInput("m-2", "medium", last_checked=ago(61)),
        FabricPlanInput("c-1", "critical"),
        FabricPlanInput("m-1", "medium"),
        FabricPlanInput("h-1", "high", last_checked=ago(10)),  # not due
        FabricPlanInput("l-1", "low", last_checked=ago(120), health=0.2),  # escalated to medium
        FabricPlanInput("x-1", "critical", enabled=False),
        FabricPlanInput("i-1", "critical", last_checked=ago(40), isolated=True),
        FabricPlanInput("w-1", "maintenance", last_checked=ago(4000)),
    ]
    planned = plan_tick(fabrics, NOW)
    assert [p.name for p in planned] == ["c-1", "x-1", "h-1", "l-1", "m-1", "m-2", "i-1", "w-1"]
    assert due_by_run_priority(planned) == {2: ["c-1"], 0: ["l-1", "m-1", "m-2"], -2: ["i-1", "w-1"]}
    assert list(due_by_run_priority(planned)) == [2, 0, -2]


def test_plan_refuses_a_fabric_twice():
    with pytest.raises(ValueError, match="twice"):
        plan_tick([FabricPlanInput("a"), FabricPlanInput("a")], NOW)


def test_plan_of_nothing():
    assert plan_tick([], NOW) == [] and due_by_run_priority([]) == {}


def test_paused_fabrics_are_never_due_and_skips_are_grouped_by_reason():
    from hedgehog_sync.domain.priority import describe_skipped, skipped_by_reason

    planned = plan_tick([
        FabricPlanInput("a-off", enabled=False),
        FabricPlanInput("b-held", priority="critical", last_checked=ago(3600), paused=True),
        FabricPlanInput("c-busy", last_checked=ago(3600)),
        FabricPlanInput("d-iso", last_checked=ago(60), isolated=True),
        FabricPlanInput("e-fresh", last_checked=ago(10)),
        FabricPlanInput("f-due", last_checked=ago(120)),
    ], NOW)
    by_name = {p.name: p for p in planned}
    assert (by_name["b-held"].due, by_name["b-held"].reason, by_name["b-held"].seconds_until_due) == (False, "paused", None)
    groups = skipped_by_reason(planned, in_flight=["c-busy"])
    assert groups == {"disabled": ["a-off"], "paused": ["b-held"], "in flight": ["c-busy"],
                      "isolated": ["d-iso"], "not due": ["e-fresh"]}
    assert describe_skipped(groups) == ("skipped 5 fabrics: disabled 1 (a-off); paused 1 (b-held); "
                                        "in flight 1 (c-busy); isolated 1 (d-iso); not due 1 (e-fresh)")
    assert describe_skipped({}) == "skipped no fabric"
    assert describe_skipped({"not due": [f"f{i}" for i in range(12)]}, limit=2) == \
        "skipped 12 fabrics: not due 12 (f0, f1 and 10 more)"
