"""domain/notify: one notification per change of a fabric's state, as a table; settings and payloads."""

from datetime import datetime, timedelta, timezone

import pytest

from hedgehog_sync.domain.notify import (
    BECAME_STALE, BECAME_UNKNOWN, DRIFT_APPEARED, DRIFT_CLEARED, RECOVERED, REMINDER, SEVERITY_ROSE, Notified,
    NotifySettings, decide, parse_settings, slack_text,
)
from hedgehog_sync.domain.report import utc_iso

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
HOUR_AGO = utc_iso(NOW - timedelta(hours=1))
DAY_AGO = utc_iso(NOW - timedelta(hours=25))


def report(status="drifted", severity="high", n=1, generated=NOW):
    resources = [{"kind": "VPC", "name": f"vpc-{i}", "namespace": "default", "state": "modified",
                  "severity": "critical" if i == n - 1 and severity == "critical" else "low",
                  "changes": [{"path": f"/spec/subnets/s{j}/vlan", "desired": 1000 + j, "actual": 1300 + j}
                              for j in range(5)]}
                 for i in range(n)] if status == "drifted" else []
    return {"fabric": "fab-a", "status": status, "severity": severity if status == "drifted" else "none",
            "generated_at": utc_iso(generated), "git": {"commit": "a" * 40, "message": "wire it", "author": "Ann"},
            "summary": {"modified": n if status == "drifted" else 0, "missing": 0, "extra": 0},
            "drift_since": HOUR_AGO if status == "drifted" else None, "resources": resources,
            "errors": [{"message": "HTTP 401 Unauthorized"}] if status == "unknown" else []}


def run(previous, rep, last_cycle=None, settings=NotifySettings()):
    return decide(previous, rep, priority="high", last_cycle_at=last_cycle or utc_iso(NOW), interval_seconds=60,
                  link="http://ui/x", now=NOW, settings=settings)


@pytest.mark.parametrize("previous, rep, last_cycle, kinds, remembered", [
    (None, None, None, [], None),  # no report yet: nothing known, nothing to say
    (None, report("in_sync"), None, [], "in_sync"),  # a fabric in sync is no news
    (None, report("drifted"), None, [DRIFT_APPEARED], "drifted"),
    (Notified("in_sync", "none", HOUR_AGO), report("drifted"), None, [DRIFT_APPEARED], "drifted"),
    (Notified("drifted", "high", HOUR_AGO), report("drifted"), None, [], "drifted"),  # unchanged
    (Notified("drifted", "medium", HOUR_AGO), report("drifted", "high"), None, [SEVERITY_ROSE], "drifted"),
    (Notified("drifted", "critical", HOUR_AGO), report("drifted", "high"), None, [], "drifted"),  # fell: quiet
    (Notified("drifted", "high", DAY_AGO), report("drifted"), None, [REMINDER], "drifted"),
    (Notified("drifted", "high", HOUR_AGO), report("in_sync"), None, [DRIFT_CLEARED], "in_sync"),
    (Notified("in_sync", "none", HOUR_AGO), report("unknown"), None, [BECAME_UNKNOWN], "unknown"),
    (Notified("unknown", "none", HOUR_AGO), report("unknown"), None, [], "unknown"),
    (Notified("unknown", "none", HOUR_AGO), report("in_sync"), None, [RECOVERED], "in_sync"),
    # no cycle within 3 intervals (180 s): stale, once
    (Notified("in_sync", "none", HOUR_AGO), report("in_sync"), utc_iso(NOW - timedelta(seconds=181)),
     [BECAME_STALE], "stale"),
    (Notified("stale", "none", HOUR_AGO), report("in_sync"), utc_iso(NOW - timedelta(seconds=400)), [], "stale"),
    (Notified("in_sync", "none", HOUR_AGO), report("in_sync"), utc_iso(NOW - timedelta(seconds=179)), [], "in_sync"),
])
def test_one_notification_per_change_of_state(previous, rep, last_cycle, kinds, remembered):
    notes, state = run(previous, rep, last_cycle)
    assert [n.kind for n in notes] == kinds
    assert (state.status if state else None) == remembered


def test_reminders_can_be_switched_off_and_a_lower_severity_is_remembered():
    off = NotifySettings(reminder_hours=0)
    assert run(Notified("drifted", "high", DAY_AGO), report("drifted"), settings=off)[0] == []
    _, lower = run(Notified("drifted", "critical", HOUR_AGO), report("drifted", "medium"))
    assert (lower.severity, lower.at) == ("medium", HOUR_AGO)  # rising again is news; reminders keep counting
    assert [n.kind for n in run(lower, report("drifted", "high"))[0]] == [SEVERITY_ROSE]


def test_the_changes_are_bounded_worst_first_with_the_count_of_the_rest():
    (note,), _ = run(None, report("drifted", "critical", n=8))
    assert len(note.resources) == 5 and note.resources_omitted == 3
    assert note.resources[0]["name"] == "vpc-7" and note.resources[0]["severity"] == "critical"
    first = note.resources[0]
    assert len(first["changes"]) == 3 and first["changes_omitted"] == 2
    assert first["changes"][0] == {"pointer": "/spec/subnets/s0/vlan", "desired": "1000", "live": "1300"}
    text = slack_text(note)
    assert "`/spec/subnets/s0/vlan`: `1000` → `1300`" in text and "…and 3 more resources" in text
    assert "commit `aaaaaaaaaaaa` by Ann: wire it" in text and "<http://ui/x|Open fab-a in Dagster>" in text


@pytest.mark.parametrize("raw, problem", [
    ({"routes": [{"name": "p", "url_env": "PAGER_URL"}]}, "must name an env var starting with HEDGEHOG_SYNC_"),
    ({"routes": [{"name": "p"}]}, "set exactly one of url_env and url_file"),
    ({"routes": [{"name": "p", "url": "https://hooks.example/x"}]}, "notifications.routes.0.url: Extra inputs"),
    ({"reminder_hours": -1}, "notifications.reminder_hours"),
    ({"routes": [{"name": "p", "url_env": "HEDGEHOG_SYNC_A"}, {"name": "p", "url_env": "HEDGEHOG_SYNC_B"}]},
     "route names must be unique"),
])
def test_settings_refuse_urls_in_the_inventory_and_say_the_fix(raw, problem):
    with pytest.raises(ValueError, match="invalid notifications section") as info:
        parse_settings(raw)
    assert problem in str(info.value)


def test_routes_by_priority_and_fabric():
    settings = parse_settings({"routes": [
        {"name": "pager", "url_env": "HEDGEHOG_SYNC_PAGER", "priorities": ["critical"], "fabrics": ["fab-b"]},
        {"name": "chat", "url_file": "/run/secrets/chat", "format": "slack"}]})
    assert [r.name for r in settings.routes_for("fab-a", "critical")] == ["pager", "chat"]
    assert [r.name for r in settings.routes_for("fab-b", "low")] == ["pager", "chat"]
    assert [r.name for r in settings.routes_for("fab-a", "high")] == ["chat"]
    assert [r.url_env for r in parse_settings(None).routes] == ["HEDGEHOG_SYNC_ALERT_WEBHOOK"]


def test_the_documented_payload_is_valid_against_the_schema():
    import json
    import re
    from pathlib import Path

    import jsonschema

    docs = Path(__file__).parents[2] / "docs"
    schema = json.loads((docs / "notification.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    (sample,) = re.findall(r"```json\n(.*?)```", (docs / "notifications.md").read_text(), re.S)
    jsonschema.validate(json.loads(sample), schema)


@pytest.mark.parametrize("previous, rep", [
    (None, report("drifted", "critical", n=8)),
    (Notified("drifted", "high", HOUR_AGO), report("in_sync")),
    (Notified("in_sync", "none", HOUR_AGO), report("unknown")),
    (Notified("drifted", "low", HOUR_AGO), report("drifted", "critical", n=2)),
])
def test_every_kind_of_payload_matches_the_schema(previous, rep):
    import json
    from pathlib import Path

    import jsonschema

    from hedgehog_sync.domain.notify import json_payload

    schema = json.loads((Path(__file__).parents[2] / "docs" / "notification.schema.json").read_text())
    (note,), _ = run(previous, rep)
    jsonschema.validate(json_payload(note), schema)


def test_a_paused_fabric_is_never_stale():
    old = utc_iso(NOW - timedelta(hours=3))
    notes, state = decide(Notified("in_sync", "none", HOUR_AGO), report("in_sync"), priority="high",
                          last_cycle_at=old, interval_seconds=60, link="http://ui/x", now=NOW, held=True)
    assert notes == [] and state.status == "in_sync"


CYCLE = utc_iso(NOW - timedelta(seconds=30))


@pytest.mark.parametrize("previous, last_cycle, held, needed", [
    (None, CYCLE, False, True),  # nothing known yet
    (Notified("in_sync", "none", HOUR_AGO, CYCLE), CYCLE, False, False),  # no new cycle, nothing due
    (Notified("in_sync", "none", HOUR_AGO, HOUR_AGO), CYCLE, False, True),  # a new cycle
    (Notified("drifted", "high", DAY_AGO, CYCLE), CYCLE, False, True),  # a reminder is due
    (Notified("in_sync", "none", HOUR_AGO, HOUR_AGO), HOUR_AGO, False, True),  # turned stale
    (Notified("stale", "none", HOUR_AGO, HOUR_AGO), HOUR_AGO, False, False),  # already said
    (Notified("in_sync", "none", HOUR_AGO, HOUR_AGO), HOUR_AGO, True, False),  # paused: not stale
])
def test_the_report_is_read_only_when_a_decision_can_change(previous, last_cycle, held, needed):
    from hedgehog_sync.domain.notify import needs_report

    assert needs_report(previous, last_cycle, 60, NOW, held=held) is needed


def test_a_cycle_is_remembered_only_with_its_own_report():
    older = report("in_sync", generated=NOW - timedelta(seconds=60))
    _, state = run(None, older, last_cycle=CYCLE)  # the health record is newer than the report read
    assert state.cycle is None
    _, state = run(None, report("in_sync", generated=NOW - timedelta(seconds=30)), last_cycle=CYCLE)
    assert state.cycle == CYCLE


def test_two_cycles_in_one_second_are_told_apart_by_the_cycle_key():
    from hedgehog_sync.domain.notify import needs_report

    seen = Notified("drifted", "high", HOUR_AGO, f"{CYCLE}#7")
    assert needs_report(seen, CYCLE, 60, NOW, cycle_key=f"{CYCLE}#8")
    assert not needs_report(seen, CYCLE, 60, NOW, cycle_key=f"{CYCLE}#7")
