"""Notifications from hostile reports (anything Git or a cluster can hold): always valid against the
schema, bounded, and Slack text that cannot ping a channel or forge a link."""

import json
from pathlib import Path

import jsonschema
from hypothesis import given, strategies as st

from hedgehog_sync.domain.notify import decide, json_payload, slack_payload
from hedgehog_sync_tests.fuzz.conftest import fuzz_settings

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "notification.schema.json").read_text())
text = st.text(max_size=3000) | st.sampled_from(["<!channel>", "<https://evil.example|click>", "`", "&lt;"])
value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner,
                                                                                   max_size=4), max_leaves=20)
change = st.fixed_dictionaries({"path": text, "desired": value, "actual": value})
resource = st.fixed_dictionaries({
    "kind": text, "name": text, "namespace": st.none() | text,
    "state": st.sampled_from(["modified", "missing", "extra"]),
    "severity": st.sampled_from(["none", "low", "medium", "high", "critical"]),
    "changes": st.lists(change, max_size=6)})


@fuzz_settings
@given(resources=st.lists(resource, max_size=30), message=st.none() | text, author=st.none() | text)
def test_any_drift_makes_a_bounded_schema_valid_payload_and_inert_slack_text(resources, message, author):
    from datetime import datetime, timezone

    report = {"fabric": "fab-a", "status": "drifted", "severity": "high", "generated_at": "2026-11-30T12:00:00Z",
              "git": {"commit": "a" * 40, "message": message, "author": author},
              "summary": {"modified": len(resources), "missing": 0, "extra": 0}, "resources": resources}
    (note,), _ = decide(None, report, priority="high", last_cycle_at=None, interval_seconds=60,
                        link="http://ui/x", now=datetime(2026, 11, 30, 12, 0, 1, tzinfo=timezone.utc))
    body = json_payload(note)
    jsonschema.validate(body, SCHEMA)
    assert len(json.dumps(body)) < 20_000
    slack = slack_payload(note)["blocks"][0]["text"]["text"]
    assert "<!" not in slack and "<https://evil" not in slack
    assert slack.count("<") == 1  # only our own link to the UI
