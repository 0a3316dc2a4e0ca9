"""domain/notify, pinned exactly (issue 19): the settings and their bounds, the decision table at its
boundaries, the notification's every field, and the JSON and Slack bodies of docs/notifications.md."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from hedgehog_sync.domain.notify import (
    BECAME_STALE, BECAME_UNKNOWN, DEFAULT_ROUTE_ENV, DRIFT_APPEARED, DRIFT_CLEARED, KINDS, RECOVERED, REMINDER,
    SEVERITY_ROSE, STALE, TITLES, Notification, Notified, NotifySettings, Route, _esc, _kind, _resource_line, _short,
    changed_resources, current_state, decide, json_payload, needs_report, parse_settings, payload, retry_delay,
    slack_payload, slack_text,
)

NOW = datetime(2026, 11, 30, 21, 0, 5, tzinfo=timezone.utc)
LINK = "http://127.0.0.1:3000/assets/drift_report?view=partitions&partition=fab-west"
DOCS = Path(__file__).parents[2] / "docs"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(seconds: float) -> str:
    return iso(NOW - timedelta(seconds=seconds))


# --- the documented notification -----------------------------------------------------------------------

WEST = {
    "fabric": "fab-west", "status": "drifted", "severity": "critical", "generated_at": "2026-11-30T21:00:00Z",
    "git": {"commit": "05b29743f5b90bc5558967e8d6cee17a2f63d6f7", "message": "fab-west: initial wiring and VPCs",
            "author": "hedgehog-sync devlab"},
    "summary": {"modified": 1, "missing": 1, "extra": 1, "in_sync": 40},
    "drift_since": "2026-11-30T20:58:30Z",
    "resources": [
        {"kind": "VPC", "name": "vpc-01", "namespace": "default", "state": "modified", "severity": "high",
         "changes": [{"path": "/spec/subnets/subnet-01/vlan", "desired": 1001, "actual": 1501}]},
        {"kind": "VPC", "name": "rogue-vpc", "namespace": "default", "state": "extra", "severity": "critical",
         "changes": []},
        {"kind": "VPCAttachment", "name": "vpc-01--server-01", "namespace": "default", "state": "missing",
         "severity": "high"},
    ],
    "errors": [],
}


def west_note() -> Notification:
    notes, state = decide(None, WEST, priority="high", last_cycle_at="2026-11-30T21:00:00Z", interval_seconds=60,
                          link=LINK, now=NOW)
    assert state == Notified("drifted", "critical", "2026-11-30T21:00:05Z", "2026-11-30T21:00:00Z")
    (note,) = notes
    return note


def test_the_json_body_is_the_one_documented() -> None:
    (sample,) = re.findall(r"```json\n(.*?)```", (DOCS / "notifications.md").read_text(), re.S)
    assert json_payload(west_note()) == json.loads(sample)
    assert payload(west_note(), "json") == json.loads(sample)


def test_the_slack_message_is_the_one_documented() -> None:
    text = "\n".join([
        "*fab-west: drift appeared* — priority high, status drifted, worst critical",
        "commit `05b29743f5b9` by hedgehog-sync devlab: fab-west: initial wiring and VPCs",
        "3 resources differ since 2026-11-30T20:58:30Z",
        "• `VPC default/rogue-vpc` extra (critical)",
        "• `VPC default/vpc-01` modified (high)",
        "    `/spec/subnets/subnet-01/vlan`: `1001` → `1501`",
        "• `VPCAttachment default/vpc-01--server-01` missing (high)",
        f"<{LINK}|Open fab-west in Dagster>",
    ])
    assert slack_text(west_note()) == text
    body = {"text": "hedgehog-sync: fab-west: drift appeared",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
    assert slack_payload(west_note()) == body
    assert payload(west_note(), "slack") == body


def note(**overrides: Any) -> Notification:
    base: dict[str, Any] = dict(
        kind=DRIFT_CLEARED, fabric="fab-a", priority="low", status="in_sync", severity="none",
        previous_status=None, previous_severity=None, at="2026-11-30T21:00:05Z", link="http://ui/a",
        commit={"sha": None, "message": None, "author": None}, differ=0, drift_since=None)
    base.update(overrides)
    return Notification(**base)


@pytest.mark.parametrize("overrides, lines", [
    ({}, ["*fab-a: drift cleared* — priority low, status in_sync", "<http://ui/a|Open fab-a in Dagster>"]),
    ({"previous_status": "drifted", "previous_severity": "high", "commit": {"sha": "abc", "message": None,
                                                                            "author": None}},
     ["*fab-a: drift cleared* — priority low, status in_sync", "was drifted (high)", "commit `abc` by unknown:",
      "<http://ui/a|Open fab-a in Dagster>"]),
    ({"kind": BECAME_UNKNOWN, "status": "unknown", "previous_status": "in_sync", "previous_severity": "none",
      "errors": ["HTTP <401> `x` & y", "second"]},
     ["*fab-a: status unknown* — priority low, status unknown", "was in_sync",
      "error: HTTP &lt;401&gt; 'x' &amp; y", "error: second", "<http://ui/a|Open fab-a in Dagster>"]),
    ({"kind": REMINDER, "status": "drifted", "severity": "low", "previous_status": "drifted",
      "previous_severity": "low", "differ": 7, "resources_omitted": 4,
      "commit": {"sha": "a" * 40, "message": "<!channel> hi", "author": "Bob <b@x>"}},
     ["*fab-a: still drifted* — priority low, status drifted, worst low", "was drifted (low)",
      "commit `aaaaaaaaaaaa` by Bob &lt;b@x&gt;: &lt;!channel&gt; hi", "7 resources differ",
      "…and 4 more resources", "<http://ui/a|Open fab-a in Dagster>"]),
])
def test_the_slack_text_line_by_line(overrides, lines) -> None:
    assert slack_text(note(**overrides)) == "\n".join(lines)


def test_the_slack_block_is_cut_at_2900_characters() -> None:
    long = note(errors=["x" * 300] * 3, fabric="f" * 63,
                commit={"sha": "s", "message": "m" * 300, "author": "a" * 120},
                status="drifted", kind=DRIFT_APPEARED, differ=1, drift_since="t",
                resources=[{"kind": "K" * 80, "name": "n" * 120, "namespace": "d" * 80, "state": "modified",
                            "severity": "low", "changes": [{"pointer": "p" * 200, "desired": "v" * 120,
                                                            "live": "w" * 120}] * 3, "changes_omitted": 9}] * 5)
    text = slack_text(long)
    assert len(text) > 2900
    assert slack_payload(long)["blocks"][0]["text"]["text"] == text[:2900]


def test_a_resource_line_escapes_what_slack_would_read() -> None:
    r = {"kind": "VPC", "name": "<x|y>", "namespace": None, "state": "extra", "severity": "high", "changes": [],
         "changes_omitted": 0}
    assert _resource_line(r) == "• `VPC &lt;x|y&gt;` extra (high)"
    r = {"kind": "V`", "name": "n", "namespace": "a&b", "state": "modified", "severity": "low",
         "changes": [{"pointer": "/p", "desired": None, "live": "`"}], "changes_omitted": 2}
    assert _resource_line(r) == "• `V' a&amp;b/n` modified (low)\n    `/p`: `None` → `'`\n    …and 2 more changes"
    assert _esc("<&>`") == "&lt;&amp;&gt;'"
    assert _esc(3) == "3"


# --- changed resources ---------------------------------------------------------------------------------

def test_changed_resources_are_worst_first_bounded_and_counted() -> None:
    rep = {"resources_omitted": 10, "resources": [
        {"kind": "A", "name": "odd", "state": "extra", "severity": "bogus"},  # an unknown severity ranks lowest
        {"kind": "A", "name": "low", "state": "modified", "severity": "low",
         "changes": [{"path": f"/p{i}", "desired": i, "actual": None} for i in range(5)], "changes_omitted": 6},
        {"kind": "A", "name": "crit", "namespace": "ns", "state": "missing", "severity": "critical",
         "changes": [{"path": "/q"}], "changes_omitted": None},
        {"kind": "A", "name": "med", "state": "modified", "severity": "medium", "changes": None},
        {"kind": "A", "name": "high", "namespace": "", "state": "extra", "severity": "high"},
    ]}
    out, omitted = changed_resources(rep, 3)
    assert out == [
        {"kind": "A", "name": "crit", "namespace": "ns", "state": "missing", "severity": "critical",
         "changes": [{"pointer": "/q", "desired": None, "live": None}], "changes_omitted": 0},
        {"kind": "A", "name": "high", "namespace": None, "state": "extra", "severity": "high", "changes": [],
         "changes_omitted": 0},
        {"kind": "A", "name": "med", "namespace": None, "state": "modified", "severity": "medium", "changes": [],
         "changes_omitted": 0},
    ]
    assert omitted == 2 + 10
    out, omitted = changed_resources(rep, 5)
    assert omitted == 10
    assert [r["name"] for r in out] == ["crit", "high", "med", "low", "odd"]
    assert out[3] == {"kind": "A", "name": "low", "namespace": None, "state": "modified", "severity": "low",
                      "changes": [{"pointer": "/p0", "desired": "0", "live": "null"},  # live null, shown
                                  {"pointer": "/p1", "desired": "1", "live": "null"},
                                  {"pointer": "/p2", "desired": "2", "live": "null"}],
                      "changes_omitted": 2 + 6}
    assert changed_resources({}, 5) == ([], 0)
    assert changed_resources({"resources": None, "resources_omitted": None}, 5) == ([], 0)


def test_changed_resources_shorten_names_pointers_and_values() -> None:
    rep = {"resources": [{"kind": "K" * 81, "name": "n" * 121, "namespace": "s" * 81, "state": "modified",
                          "severity": "low", "changes": [{"path": "p" * 201, "desired": "d" * 121,
                                                          "actual": {"b": [1, 2], "a": "é\n  x"}}]}]}
    (r,), _ = changed_resources(rep, 1)
    assert (r["kind"], r["name"], r["namespace"]) == ("K" * 79 + "…", "n" * 119 + "…", "s" * 79 + "…")
    assert r["changes"] == [{"pointer": "p" * 199 + "…", "desired": "d" * 119 + "…",
                             "live": '{"a": "é\\n x", "b": [1, 2]}'}]


@pytest.mark.parametrize("value, limit, expected", [
    ("a  b\n\tc", 120, "a b c"),
    ("x" * 120, 120, "x" * 120),
    ("x" * 121, 120, "x" * 119 + "…"),
    ("abcdef", 5, "abcd…"),
    (None, 120, "null"),
    (12, 120, "12"),
    ({"b": 1, "a": "é"}, 120, '{"a": "é", "b": 1}'),
    (datetime(2026, 1, 2, tzinfo=timezone.utc), 120, '"2026-01-02 00:00:00+00:00"'),
    ({"t": datetime(2026, 1, 2)}, 120, '{"t": "2026-01-02 00:00:00"}'),
])
def test_values_are_shortened_to_one_line(value, limit, expected) -> None:
    assert _short(value, limit) == expected


def test_the_default_value_limit_is_120() -> None:
    assert _short("y" * 121) == "y" * 119 + "…"
    assert _short("y" * 120) == "y" * 120


# --- state and decisions --------------------------------------------------------------------------------

@pytest.mark.parametrize("rep, last_cycle, held, expected", [
    ({"status": "drifted"}, ago(180), False, "drifted"),  # exactly 3 intervals: not yet stale
    ({"status": "drifted"}, ago(181), False, STALE),
    ({"status": "drifted"}, ago(181), True, "drifted"),
    ({"status": "in_sync", "generated_at": ago(181)}, None, False, STALE),
    ({"status": "in_sync", "generated_at": ago(10)}, ago(500), False, STALE),  # the cycle time wins
    ({"status": "in_sync", "generated_at": ago(500)}, ago(10), False, "in_sync"),
    ({"status": "in_sync"}, None, False, "in_sync"),
    ({"status": "pending"}, None, False, "unknown"),
    ({}, None, False, "unknown"),
    ({"status": "unknown"}, ago(1), False, "unknown"),
])
def test_the_current_state(rep, last_cycle, held, expected) -> None:
    assert current_state(rep, last_cycle, 60, 3, NOW, held) == expected


def test_the_current_state_multiplies_interval_and_intervals() -> None:
    assert current_state({"status": "in_sync"}, ago(599), 100, 6, NOW) == "in_sync"
    assert current_state({"status": "in_sync"}, ago(601), 100, 6, NOW) == STALE
    assert current_state({"status": "in_sync"}, ago(601), 100, 6, NOW, held=False) == STALE


DAY = 24 * 3600.0


@pytest.mark.parametrize("previous, status, severity, reminder, expected", [
    (None, "drifted", "low", DAY, DRIFT_APPEARED),
    (Notified("stale"), "drifted", "low", DAY, DRIFT_APPEARED),
    (Notified("drifted", "low", ago(10)), "drifted", "medium", DAY, SEVERITY_ROSE),
    (Notified("drifted", "low", ago(10)), "drifted", "low", DAY, None),
    (Notified("drifted", "high", ago(10)), "drifted", "low", DAY, None),
    (Notified("drifted", "bogus", ago(10)), "drifted", "low", DAY, SEVERITY_ROSE),  # unknown ranks as none
    (Notified("drifted", "low", ago(10)), "drifted", "bogus", DAY, None),
    (Notified("drifted", "none", ago(10)), "drifted", "bogus", DAY, None),
    (Notified("drifted", "low", ago(DAY)), "drifted", "low", DAY, REMINDER),  # exactly due
    (Notified("drifted", "low", ago(DAY - 1)), "drifted", "low", DAY, None),
    (Notified("drifted", "low", ago(DAY * 9)), "drifted", "low", 0.0, None),
    (Notified("drifted", "low", ago(2)), "drifted", "low", 1.0, REMINDER),
    (Notified("drifted", "low", ago(1)), "drifted", "low", 1.0, REMINDER),
    (None, "in_sync", "none", DAY, None),
    (Notified("in_sync"), "in_sync", "none", DAY, None),
    (Notified("drifted", "low", ago(1)), "in_sync", "none", DAY, DRIFT_CLEARED),
    (Notified("unknown"), "in_sync", "none", DAY, RECOVERED),
    (Notified("stale"), "in_sync", "none", DAY, RECOVERED),
    (None, "unknown", "none", DAY, BECAME_UNKNOWN),
    (Notified("drifted", "low", ago(1)), "unknown", "none", DAY, BECAME_UNKNOWN),
    (Notified("unknown"), "unknown", "none", DAY, None),
    (None, STALE, "none", DAY, BECAME_STALE),
    (Notified("unknown"), STALE, "none", DAY, BECAME_STALE),
    (Notified("stale"), STALE, "none", DAY, None),
])
def test_the_kind_of_each_change(previous, status, severity, reminder, expected) -> None:
    assert _kind(previous, status, severity, NOW, reminder) == expected


def test_no_reminder_without_a_time_last_notified() -> None:
    assert _kind(Notified("drifted", "low", None), "drifted", "low", NOW, 1.0) is None  # type: ignore[arg-type]


CYCLE = ago(30)


@pytest.mark.parametrize("previous, last_cycle, interval, settings, held, key, needed", [
    (None, CYCLE, 60, NotifySettings(), False, None, True),
    (Notified("in_sync", "none", ago(5), CYCLE), None, 60, NotifySettings(), False, None, True),
    (Notified("in_sync", "none", ago(5), CYCLE), CYCLE, 60, NotifySettings(), False, None, False),
    (Notified("in_sync", "none", ago(5), "k1"), CYCLE, 60, NotifySettings(), False, "k1", False),
    (Notified("in_sync", "none", ago(5), "k1"), CYCLE, 60, NotifySettings(), False, "k2", True),
    (Notified("in_sync", "none", ago(5), ago(180)), ago(180), 60, NotifySettings(), False, None, False),
    (Notified("in_sync", "none", ago(5), ago(181)), ago(181), 60, NotifySettings(), False, None, True),
    (Notified("in_sync", "none", ago(5), ago(181)), ago(181), 60, NotifySettings(stale_after_intervals=4),
     False, None, False),
    (Notified("in_sync", "none", ago(5), ago(241)), ago(241), 60, NotifySettings(stale_after_intervals=4),
     False, None, True),
    (Notified("in_sync", "none", ago(5), ago(181)), ago(181), 61, NotifySettings(), False, None, False),
    (Notified("in_sync", "none", ago(5), ago(181)), ago(181), 60, NotifySettings(), True, None, False),
    (Notified("stale", "none", ago(5), ago(181)), ago(181), 60, NotifySettings(), False, None, False),
    (Notified("drifted", "low", ago(DAY), CYCLE), CYCLE, 60, NotifySettings(), False, None, True),
    (Notified("drifted", "low", ago(DAY - 1), CYCLE), CYCLE, 60, NotifySettings(), False, None, False),
    (Notified("drifted", "low", ago(3600), CYCLE), CYCLE, 60, NotifySettings(reminder_hours=1), False, None, True),
    (Notified("drifted", "low", ago(DAY * 3), CYCLE), CYCLE, 60, NotifySettings(reminder_hours=0), False, None,
     False),
    (Notified("in_sync", "none", ago(DAY * 3), CYCLE), CYCLE, 60, NotifySettings(), False, None, False),
    (Notified("drifted", "low", ago(1), CYCLE), CYCLE, 60, NotifySettings(reminder_hours=0.0001), False, None, True),
])
def test_whether_the_report_is_needed(previous, last_cycle, interval, settings, held, key, needed) -> None:
    assert needs_report(previous, last_cycle, interval, NOW, settings, held, key) is needed


def test_the_report_is_needed_by_default_settings() -> None:
    assert needs_report(Notified("drifted", "low", ago(DAY), CYCLE), CYCLE, 60, NOW) is True
    assert needs_report(Notified("in_sync", "none", ago(5), ago(181)), ago(181), 60, NOW) is True


def rep(status: str = "drifted", **extra: Any) -> dict[str, Any]:
    base = {"fabric": "fab-a", "status": status, "severity": "high" if status == "drifted" else "none",
            "generated_at": iso(NOW), "git": {}, "summary": {}, "resources": [], "errors": []}
    base.update(extra)
    return base


def decided(previous, report, last_cycle=None, **kwargs):
    return decide(previous, report, priority="medium", last_cycle_at=last_cycle or iso(NOW), interval_seconds=60,
                  link="http://ui/a", now=NOW, **kwargs)


def test_every_field_of_a_notification() -> None:
    errors = [{"message": f"error {i}\n  of {'x' * 400}"} for i in range(4)]
    report = rep("unknown", errors=errors, drift_since="2026-01-01T00:00:00Z",
                 git={"commit": "c" * 40, "message": "m" * 301, "author": "a" * 121},
                 summary={"modified": 1, "missing": 2, "extra": 3, "in_sync": 9},
                 resources=[{"kind": "VPC", "name": "v", "state": "extra", "severity": "low"}])
    (n,), state = decided(Notified("drifted", "high", ago(100), "old"), report)
    short = "error 0 of " + "x" * 288 + "…"
    assert json_payload(n) == {
        "source": "hedgehog-sync", "schema_version": 1, "type": "drift", "title": "fab-a: status unknown",
        "kind": BECAME_UNKNOWN, "fabric": "fab-a", "priority": "medium", "status": "unknown", "severity": "none",
        "previous_status": "drifted", "previous_severity": "high", "at": iso(NOW), "link": "http://ui/a",
        "commit": {"sha": "c" * 40, "message": "m" * 299 + "…", "author": "a" * 119 + "…"},
        "differ": 6, "drift_since": "2026-01-01T00:00:00Z", "resources": [], "resources_omitted": 0,
        "errors": [short, short.replace("error 0", "error 1"), short.replace("error 0", "error 2")],
    }
    assert state == Notified("unknown", "none", iso(NOW), iso(NOW))


def test_a_drifted_notification_carries_resources_and_no_errors() -> None:
    report = rep(severity="critical", errors=[{"message": "a warning-like error"}], resources_omitted=2,
                 git={"commit": None, "message": "", "author": ""},
                 resources=[{"kind": "VPC", "name": f"v{i}", "state": "extra", "severity": "low"} for i in range(7)])
    (n,), _ = decided(None, report, settings=NotifySettings(max_resources=6))
    assert [r["name"] for r in n.resources] == ["v0", "v1", "v2", "v3", "v4", "v5"]
    assert n.resources_omitted == 1 + 2
    assert n.errors == [] and n.severity == "critical"
    assert n.commit == {"sha": None, "message": None, "author": None}
    assert (n.previous_status, n.previous_severity, n.kind, n.title) == (None, None, DRIFT_APPEARED,
                                                                          "fab-a: drift appeared")
    (n,), _ = decided(None, rep(severity=None))
    assert n.severity == "none"


def test_a_stale_notification_carries_the_reports_errors() -> None:
    report = rep("in_sync", errors=[{"message": "old"}], generated_at=ago(1000))
    (n,), state = decided(Notified("in_sync", "none", ago(2000)), report, last_cycle=ago(1000))
    assert (n.kind, n.status, n.errors, n.severity) == (BECAME_STALE, STALE, ["old"], "none")
    assert state == Notified(STALE, "none", iso(NOW), ago(1000))


def test_what_is_remembered_without_news() -> None:
    assert decided(None, None) == ([], None)
    previous = Notified("in_sync", "none", ago(50), "c")
    assert decided(previous, None) == ([], previous)
    assert decided(None, rep("in_sync")) == ([], Notified("in_sync", "none", iso(NOW), iso(NOW)))
    assert decided(Notified("drifted", "critical", ago(50), "c"), rep()) == (
        [], Notified("drifted", "high", ago(50), iso(NOW)))
    assert decided(None, rep("in_sync"), cycle_key="k#2") == ([], Notified("in_sync", "none", iso(NOW), "k#2"))


@pytest.mark.parametrize("generated, last_cycle, key, remembered", [
    (iso(NOW), ago(1), None, ago(1)),
    (ago(1), ago(1), None, ago(1)),  # made at the cycle's time: its own report
    (ago(2), ago(1), None, None),  # older than the cycle: read it again next tick
    (ago(1), ago(1), "k", "k"),
    (ago(2), ago(1), "k", None),
])
def test_the_cycle_is_remembered_with_its_own_report(generated, last_cycle, key, remembered) -> None:
    _, state = decided(None, rep("in_sync", generated_at=generated), last_cycle=last_cycle, cycle_key=key)
    assert state.cycle == remembered


def test_no_cycle_is_remembered_without_a_report_time() -> None:
    report = rep("in_sync")
    del report["generated_at"]
    _, state = decided(None, report)
    assert state.cycle is None


def test_decide_uses_the_settings_for_staleness_and_reminders() -> None:
    report = rep("in_sync", generated_at=ago(200))
    assert decided(Notified("in_sync", "none", ago(10)), report, last_cycle=ago(200))[0][0].kind == BECAME_STALE
    assert decided(Notified("in_sync", "none", ago(10)), report, last_cycle=ago(200),
                   settings=NotifySettings(stale_after_intervals=4))[0] == []
    assert decided(Notified("in_sync", "none", ago(10)), report, last_cycle=ago(200), held=True)[0] == []
    due = Notified("drifted", "high", ago(3600))
    assert decided(due, rep())[0] == []
    (n,), _ = decided(due, rep(), settings=NotifySettings(reminder_hours=1))
    assert n.kind == REMINDER and n.title == "fab-a: still drifted"


# --- remembered state -----------------------------------------------------------------------------------

def test_notified_round_trips_and_reads_old_cursors() -> None:
    assert Notified("drifted", "high", "t", "c").to_dict() == {"status": "drifted", "severity": "high", "at": "t",
                                                                "cycle": "c"}
    assert Notified("in_sync").to_dict() == {"status": "in_sync", "severity": "none", "at": "", "cycle": None}
    assert Notified.from_dict({"status": "drifted", "severity": "high", "at": "t", "cycle": "c"}) == \
        Notified("drifted", "high", "t", "c")
    assert Notified.from_dict({"status": "stale"}) == Notified("stale", "none", "", None)
    assert Notified.from_dict({"status": "stale", "severity": None, "at": None, "cycle": 3}) == \
        Notified("stale", "none", "", None)
    assert Notified.from_dict({"status": 1}) is None
    assert Notified.from_dict({}) is None
    assert Notified.from_dict(["status"]) is None
    assert Notified.from_dict(None) is None


# --- settings --------------------------------------------------------------------------------------------

def test_the_default_settings() -> None:
    s = parse_settings(None)
    assert s == NotifySettings()
    assert (s.reminder_hours, s.stale_after_intervals, s.max_resources, s.retry_seconds, s.max_attempts) == (
        24.0, 3, 5, 30.0, 5)
    assert s.reminder_seconds == 86400.0
    assert s.routes == (Route(name="default", url_env="HEDGEHOG_SYNC_ALERT_WEBHOOK"),)
    assert DEFAULT_ROUTE_ENV == "HEDGEHOG_SYNC_ALERT_WEBHOOK"
    (route,) = s.routes
    assert (route.format, route.url_file, route.priorities, route.fabrics) == ("json", None, (), ())
    assert parse_settings({}) == NotifySettings()
    assert NotifySettings(reminder_hours=0.5).reminder_seconds == 1800.0
    fields = NotifySettings.model_fields  # what the settings' JSON schema tells a person writing them
    assert fields["reminder_hours"].description == "0 = no reminders"
    assert fields["retry_seconds"].description == "first retry delay, doubled per attempt"


@pytest.mark.parametrize("raw", [
    {"reminder_hours": 0}, {"stale_after_intervals": 1}, {"max_resources": 1}, {"max_resources": 50},
    {"retry_seconds": 0}, {"max_attempts": 1}, {"max_attempts": 20},
    {"routes": [{"name": "a" * 63, "url_env": "HEDGEHOG_SYNC_" + "Z" * 100}]},
    {"routes": [{"name": "0-_", "url_env": "HEDGEHOG_SYNC_9"}]},
    {"routes": []},
])
def test_settings_at_their_bounds_are_taken(raw) -> None:
    assert isinstance(parse_settings(raw), NotifySettings)


@pytest.mark.parametrize("raw, message", [
    ({"reminder_hours": -0.1},
     "invalid notifications section: notifications.reminder_hours: Input should be greater than or equal to 0"),
    ({"stale_after_intervals": 0},
     "invalid notifications section: notifications.stale_after_intervals: Input should be greater than or equal to 1"),
    ({"max_resources": 0},
     "invalid notifications section: notifications.max_resources: Input should be greater than or equal to 1"),
    ({"max_resources": 51},
     "invalid notifications section: notifications.max_resources: Input should be less than or equal to 50"),
    ({"retry_seconds": -1},
     "invalid notifications section: notifications.retry_seconds: Input should be greater than or equal to 0"),
    ({"max_attempts": 0},
     "invalid notifications section: notifications.max_attempts: Input should be greater than or equal to 1"),
    ({"max_attempts": 21},
     "invalid notifications section: notifications.max_attempts: Input should be less than or equal to 20"),
    ({"routes": [{"name": "p", "url_env": "HEDGEHOG_SYNC_" + "Z" * 101}]},
     "invalid notifications section: notifications.routes.0.url_env: Value error, must name an env var starting "
     "with HEDGEHOG_SYNC_ (upper case, digits, '_')"),
    ({"routes": [{"name": "p", "url_env": "HEDGEHOG_SYNC_"}]},
     "invalid notifications section: notifications.routes.0.url_env: Value error, must name an env var starting "
     "with HEDGEHOG_SYNC_ (upper case, digits, '_')"),
    ({"routes": [{"name": "p", "url_env": "HEDGEHOG_SYNC_a"}]},
     "invalid notifications section: notifications.routes.0.url_env: Value error, must name an env var starting "
     "with HEDGEHOG_SYNC_ (upper case, digits, '_')"),
    ({"routes": [{"name": "p", "url_env": "XHEDGEHOG_SYNC_A"}]},
     "invalid notifications section: notifications.routes.0.url_env: Value error, must name an env var starting "
     "with HEDGEHOG_SYNC_ (upper case, digits, '_')"),
    ({"routes": [{"name": "p", "url_env": "HEDGEHOG_SYNC_A", "url_file": "/f"}]},
     "invalid notifications section: notifications.routes.0: Value error, route p: set exactly one of url_env "
     "and url_file"),
    ({"routes": [{"name": "q"}]},
     "invalid notifications section: notifications.routes.0: Value error, route q: set exactly one of url_env "
     "and url_file"),
    ({"routes": [{"name": "p", "url_file": "/f"}, {"name": "p", "url_env": "HEDGEHOG_SYNC_B"}]},
     "invalid notifications section: route names must be unique"),
])
def test_invalid_settings_name_the_field_and_the_fix(raw, message) -> None:
    with pytest.raises(ValueError) as info:
        parse_settings(raw)
    assert str(info.value) == message
    assert info.value.__cause__ is None
    if "notifications." in message:  # pydantic's error is not chained into the message a person reads
        assert info.value.__suppress_context__


@pytest.mark.parametrize("route", [
    {"name": "a" * 64, "url_file": "/f"}, {"name": "Pager", "url_file": "/f"}, {"name": "-p", "url_file": "/f"},
    {"name": "", "url_file": "/f"}, {"name": "p", "url_file": "/f", "format": "xml"},
    {"name": "p", "url_file": "/f", "priorities": ["urgent"]},
])
def test_invalid_routes_are_refused(route) -> None:
    with pytest.raises(ValueError, match=r"^invalid notifications section: notifications\.routes\.0"):
        parse_settings({"routes": [route]})


def test_at_most_five_problems_are_named() -> None:
    raw = {"reminder_hours": -1, "stale_after_intervals": 0, "max_resources": 0, "retry_seconds": -1,
           "max_attempts": 0, "unknown_key": 1}
    with pytest.raises(ValueError) as info:
        parse_settings(raw)
    text = str(info.value)
    assert text.count("notifications.") == 5 and text.count("; ") == 4
    assert "unknown_key" not in text
    assert text.startswith("invalid notifications section: notifications.reminder_hours: ")


@pytest.mark.parametrize("priorities, fabrics, fabric, priority, matches", [
    ((), (), "fab-a", "low", True),
    (("critical",), (), "fab-a", "critical", True),
    (("critical",), (), "fab-a", "low", False),
    ((), ("fab-b",), "fab-b", "low", True),
    ((), ("fab-b",), "fab-a", "low", False),
    (("critical",), ("fab-b",), "fab-b", "low", True),
    (("critical",), ("fab-b",), "fab-a", "critical", True),
    (("critical",), ("fab-b",), "fab-a", "low", False),
])
def test_a_route_takes_what_it_lists_or_everything(priorities, fabrics, fabric, priority, matches) -> None:
    route = Route(name="r", url_file="/f", priorities=priorities, fabrics=fabrics)
    assert route.matches(fabric, priority) is matches
    settings = NotifySettings(routes=(route, Route(name="all", url_env="HEDGEHOG_SYNC_X")))
    assert [r.name for r in settings.routes_for(fabric, priority)] == (["r", "all"] if matches else ["all"])


@pytest.mark.parametrize("attempts, settings, delay", [
    (1, NotifySettings(), 30.0),
    (2, NotifySettings(), 60.0),
    (4, NotifySettings(), 240.0),
    (5, NotifySettings(), None),
    (6, NotifySettings(), None),
    (0, NotifySettings(), 15.0),
    (19, NotifySettings(max_attempts=20), 3600.0),
    (8, NotifySettings(max_attempts=20, retry_seconds=28.125), 3600.0),  # 28.125 * 128 = 3600 exactly
    (8, NotifySettings(max_attempts=20, retry_seconds=28.0), 3584.0),
    (3, NotifySettings(retry_seconds=0), 0.0),
])
def test_the_retry_delay_doubles_up_to_an_hour(attempts, settings, delay) -> None:
    assert retry_delay(attempts, settings) == delay


def test_the_kinds_and_their_titles() -> None:
    assert KINDS == ("drift_appeared", "severity_rose", "drift_cleared", "became_unknown", "became_stale",
                     "recovered", "reminder")
    assert TITLES == {"drift_appeared": "drift appeared", "severity_rose": "drift severity rose",
                      "drift_cleared": "drift cleared", "became_unknown": "status unknown",
                      "became_stale": "no recent report", "recovered": "known again", "reminder": "still drifted"}
    schema = json.loads((DOCS / "notification.schema.json").read_text())
    assert list(KINDS) == schema["properties"]["kind"]["enum"]
    assert STALE == "stale"
