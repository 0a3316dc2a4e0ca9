"""Kills survivors of the mutation run (issue 19) in the small domain modules: priority (the default
of `escalated`, the plan passing a fabric's sticky escalation and the tick's slack on) and notify
(the severity a stale fabric is reported with, every settings problem named). Batching's and
health's survivors are equivalent (benchmarks/mutation-equivalents/small.txt)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hedgehog_sync.domain.notify import BECAME_STALE, BECAME_UNKNOWN, Notified, decide, parse_settings
from hedgehog_sync.domain.priority import FabricPlanInput, effective_priority, plan_tick, schedule_for

NOW = datetime(2026, 11, 30, 21, 0, 5, tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- priority --------------------------------------------------------------------------------------------

def test_a_healthy_fabric_is_not_escalated_unless_its_record_says_so():
    """Without `escalated`, a healthy medium fabric is checked as medium (60 s, run priority 0): were
    escalation the default, every caller that leaves it out would queue the whole fleet a class up."""
    assert effective_priority("medium", 1.0, False) == "medium"
    assert effective_priority("low", 0.9, False) == "low"
    assert effective_priority("low", 0.9, False, True) == "medium"
    plain = schedule_for("low", 1.0, False)
    assert (plain.priority, plain.interval_seconds, plain.run_priority, plain.escalated) == ("low", 300, -1, False)
    sticky = schedule_for("low", 1.0, False, True)
    assert (sticky.priority, sticky.interval_seconds, sticky.run_priority, sticky.escalated) == (
        "medium", 60, 0, True)


def test_the_plan_applies_a_fabrics_sticky_escalation():
    """A record escalated earlier keeps its fabric a class up (checked sooner, queued earlier) even once
    its health is back above 0.5: the plan must pass the record's flag on, not drop it."""
    planned = plan_tick([FabricPlanInput("fab-a", priority="low", health=1.0, escalated=True),
                         FabricPlanInput("fab-b", priority="low", health=1.0)], NOW)
    by_name = {p.name: p for p in planned}
    assert [p.name for p in planned] == ["fab-a", "fab-b"]  # fab-a runs at medium's priority 0, fab-b at -1
    assert (by_name["fab-a"].schedule.priority, by_name["fab-a"].schedule.escalated,
            by_name["fab-a"].run_priority) == ("medium", True, 0)
    assert (by_name["fab-b"].schedule.priority, by_name["fab-b"].schedule.escalated,
            by_name["fab-b"].run_priority) == ("low", False, -1)


@pytest.mark.parametrize("slack,due,wait", [(0.0, False, 2.0), (5.0, True, 0.0), (1.5, False, 0.5)],
                         ids=["no-slack", "default-slack", "small-slack"])
def test_the_plan_uses_the_ticks_slack(slack, due, wait):
    """A medium fabric (60 s) checked 58 s ago: with no slack it is due in exactly 2 s, with the default
    5 s it is due now. The slack given to the plan must be the one applied."""
    (planned,) = plan_tick([FabricPlanInput("fab-a", last_checked=NOW - timedelta(seconds=58))], NOW,
                           slack_seconds=slack)
    assert (planned.due, planned.reason, planned.seconds_until_due) == (due, "due" if due else "not due", wait)


# --- notify ----------------------------------------------------------------------------------------------

def test_a_drifted_fabric_gone_stale_is_notified_without_the_old_severity():
    """A fabric last seen drifted (critical) with no cycle since: the stale notification and the state
    remembered carry severity none, as for every status other than drifted; an operator must not read
    the old report's severity as a current one, and a later drifted report must count as news."""
    report = {"fabric": "fab-west", "status": "drifted", "severity": "critical",
              "generated_at": iso(NOW - timedelta(hours=1)), "summary": {"modified": 1}, "errors": []}
    previous = Notified("drifted", "critical", iso(NOW - timedelta(hours=1)), iso(NOW - timedelta(hours=1)))
    notes, state = decide(previous, report, priority="high", last_cycle_at=iso(NOW - timedelta(hours=1)),
                          interval_seconds=60, link="http://x", now=NOW)
    (note,) = notes
    assert (note.kind, note.status, note.severity, note.previous_severity) == (
        BECAME_STALE, "stale", "none", "critical")
    assert state == Notified("stale", "none", "2026-11-30T21:00:05Z", "2026-11-30T20:00:05Z")
    unknown = dict(report, status="unknown", generated_at=iso(NOW))
    notes, state = decide(previous, unknown, priority="high", last_cycle_at=iso(NOW), interval_seconds=60,
                          link="http://x", now=NOW)
    assert [(n.kind, n.severity) for n in notes] == [(BECAME_UNKNOWN, "none")]
    assert state.severity == "none"


def test_every_settings_problem_is_named_separated_by_a_semicolon():
    """Two mistakes in `notifications:` are both named, `; ` between them, so an operator fixes both at once."""
    with pytest.raises(ValueError) as caught:
        parse_settings({"reminder_hours": -1, "max_attempts": 0})
    assert str(caught.value) == (
        "invalid notifications section: notifications.reminder_hours: Input should be greater than or equal to 0; "
        "notifications.max_attempts: Input should be greater than or equal to 1")
