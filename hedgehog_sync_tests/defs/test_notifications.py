"""The drift_notifications sensor against the real demo fleet, a real instance and loopback receivers."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest
import yaml
from dagster import DagsterInstance, build_sensor_context, materialize

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.defs.notifications import deliver, drift_notifications
from hedgehog_sync.devlab.demo import DEMO_FABRICS, DRIFTED_FABRIC, IN_SYNC_FABRIC
from hedgehog_sync.domain.notify import parse_settings
from hedgehog_sync_tests.leaks import assert_no_leak

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "notification.schema.json").read_text())
VPCS = ("vpc.githedgehog.com", "vpcs")


class Receiver:
    """A loopback webhook that records each POST body (and can refuse them)."""

    def __init__(self, secret_path: str):
        received = self.received = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((self.path, json.loads(body)))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/{secret_path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> list[dict]:
        out = [body for _, body in self.received]
        self.received.clear()
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers(monkeypatch):
    pager, chat = Receiver(secrets.token_urlsafe(24)), Receiver(secrets.token_urlsafe(24))
    monkeypatch.setenv("HEDGEHOG_SYNC_TEST_PAGER_WEBHOOK", pager.url)
    monkeypatch.setenv("HEDGEHOG_SYNC_TEST_CHAT_WEBHOOK", chat.url)
    try:
        yield pager, chat
    finally:
        pager.close()
        chat.close()


def route_inventory(path: Path, **settings) -> None:
    doc = yaml.safe_load(path.read_text())
    doc["notifications"] = {
        **settings,
        "routes": [
            {"name": "pager", "url_env": "HEDGEHOG_SYNC_TEST_PAGER_WEBHOOK", "format": "json",
             "priorities": ["critical", "high"]},
            {"name": "chat", "url_env": "HEDGEHOG_SYNC_TEST_CHAT_WEBHOOK", "format": "slack",
             "priorities": ["medium", "low", "maintenance"]},
        ]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_a_live_edit_notifies_once_its_revert_once_and_drift_is_reminded(demo_fleet, fleet_resource, receivers,
                                                                         caplog, tmp_path):
    fleet, _ = demo_fleet
    pager, chat = receivers
    route_inventory(fleet.inventory)
    resources = {"fleet": fleet_resource, "alerts": AlertSink()}
    caplog.set_level(logging.DEBUG)
    cursors = []
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))

        def sync(fabric):
            materialize([fabric_sync], partition_key=fabric, instance=instance, resources=resources,
                        raise_on_error=False)

        def tick():
            cursor = cursors[-1] if cursors else None
            result = drift_notifications(build_sensor_context(instance=instance, resources={"fleet": fleet_resource},
                                                              cursor=cursor))
            cursors.append(result.cursor)
            return result

        sync(IN_SYNC_FABRIC)
        sync(DRIFTED_FABRIC)
        tick()
        # the drifted demo fabric (high) is news for the pager; the fabric in sync is not news at all
        (west,) = pager.take()
        jsonschema.validate(west, SCHEMA)
        assert (west["fabric"], west["kind"], west["priority"]) == (DRIFTED_FABRIC, "drift_appeared", "high")
        assert west["commit"]["sha"] and west["commit"]["message"] and west["commit"]["author"]
        assert west["resources"][0]["severity"] == "critical" and west["differ"] == 3
        assert chat.take() == []
        tick()  # nothing changed: nothing sent
        assert pager.take() == chat.take() == []

        # a live edit on the fabric in sync (medium: routed to the chat)
        vpc = fleet.store.list(IN_SYNC_FABRIC, *VPCS)[0]
        name = vpc["metadata"]["name"]
        subnet = sorted(vpc["spec"]["subnets"])[0]
        vlan = int(vpc["spec"]["subnets"][subnet]["vlan"])
        edited = json.loads(json.dumps(vpc))
        edited["spec"]["subnets"][subnet]["vlan"] = vlan + 300
        fleet.store.put(IN_SYNC_FABRIC, edited, manager="kubectl-edit")
        sync(IN_SYNC_FABRIC)
        tick()
        (note,) = chat.take()
        assert pager.take() == []
        text = note["blocks"][0]["text"]["text"]
        assert note["text"] == f"hedgehog-sync: {IN_SYNC_FABRIC}: drift appeared"
        assert f"VPC {vpc['metadata']['namespace']}/{name}" in text and f"/spec/subnets/{subnet}/vlan" in text
        assert f"`{vlan}` → `{vlan + 300}`" in text
        assert f"/assets/drift_report?view=partitions&partition={IN_SYNC_FABRIC}" in text
        tick()
        assert pager.take() == chat.take() == []

        # reverting it: one "cleared"
        fleet.store.put(IN_SYNC_FABRIC, vpc, manager="kubectl-edit")
        sync(IN_SYNC_FABRIC)
        tick()
        (cleared,) = chat.take()
        assert cleared["text"] == f"hedgehog-sync: {IN_SYNC_FABRIC}: drift cleared"
        assert pager.take() == []

        # drift that persists is reminded after the (shortened) interval, once per interval
        route_inventory(fleet.inventory, reminder_hours=1.5 / 3600)
        tick()  # may already remind (the drift was notified a few syncs ago)
        assert [n["kind"] for n in pager.take()] in ([], ["reminder"])
        tick()
        assert pager.take() == []
        time.sleep(1.6)
        tick()
        (reminder,) = pager.take()
        jsonschema.validate(reminder, SCHEMA)
        assert (reminder["fabric"], reminder["kind"]) == (DRIFTED_FABRIC, "reminder")
        assert chat.take() == []
        tick()
        assert pager.take() == []

        for receiver in (pager, chat):
            assert_no_leak(receiver.url.rsplit("/", 1)[1],
                           texts=[caplog.text, *[c or "" for c in cursors],
                                  json.dumps([west, note, cleared, reminder])],
                           paths=[tmp_path / "state", instance.root_directory])


def test_an_outage_is_retried_with_backoff_then_dropped_with_a_log_line(monkeypatch, caplog):
    secret = secrets.token_urlsafe(24)
    receiver = Receiver(secret)
    receiver.status = 503
    monkeypatch.setenv("HEDGEHOG_SYNC_TEST_PAGER_WEBHOOK", receiver.url)
    settings = parse_settings({"retry_seconds": 10, "max_attempts": 3, "routes": [
        {"name": "pager", "url_env": "HEDGEHOG_SYNC_TEST_PAGER_WEBHOOK"}]})
    log = logging.getLogger("test-notify")
    caplog.set_level(logging.INFO)
    from datetime import datetime, timedelta, timezone
    now = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    try:
        outbox = [{"route": "pager", "fabric": "fab-a", "kind": "drift_appeared", "attempts": 0, "body": {"x": 1}}]
        outbox = deliver(outbox, settings, now, log)
        assert [(o["attempts"], o["next_at"]) for o in outbox] == [(1, "2026-11-30T12:00:10Z")]
        assert deliver(outbox, settings, now + timedelta(seconds=5), log) == outbox  # not due yet
        outbox = deliver(outbox, settings, now + timedelta(seconds=10), log)
        assert [(o["attempts"], o["next_at"]) for o in outbox] == [(2, "2026-11-30T12:00:30Z")]  # doubled
        assert deliver(outbox, settings, now + timedelta(seconds=30), log) == []
        assert len(receiver.received) == 3
        assert "dropped after 3 attempts: HTTPError: HTTP Error 503" in caplog.text
        receiver.status = 200
        # an unset URL is an outage too: kept, retried, and says which env var is missing
        monkeypatch.delenv("HEDGEHOG_SYNC_TEST_PAGER_WEBHOOK")
        outbox = deliver([{"route": "pager", "fabric": "fab-a", "kind": "reminder", "body": {}}], settings, now, log)
        assert outbox[0]["attempts"] == 1 and "HEDGEHOG_SYNC_TEST_PAGER_WEBHOOK is not set" in caplog.text
        assert_no_leak(secret, texts=[caplog.text, json.dumps(outbox)])
    finally:
        receiver.close()


def test_a_url_file_route_delivers_and_a_bad_file_is_an_outage_that_names_the_route(tmp_path, caplog):
    from datetime import datetime, timezone

    secret = secrets.token_urlsafe(24)
    receiver = Receiver(secret)
    hook = tmp_path / "hook"
    hook.write_text(receiver.url + "\n")
    settings = parse_settings({"routes": [{"name": "chat", "url_file": str(hook), "format": "slack"},
                                          {"name": "big", "url_file": str(tmp_path / "big")}]})
    (tmp_path / "big").write_text("http://127.0.0.1/" + "x" * 5000)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    log = logging.getLogger("test-notify")
    caplog.set_level(logging.INFO)
    try:
        waiting = deliver([{"route": "chat", "fabric": "fab-a", "kind": "drift_appeared", "body": {"text": "hi"}},
                           {"route": "big", "fabric": "fab-a", "kind": "drift_appeared", "body": {}}],
                          settings, now, log)
        assert [b for _, b in receiver.received] == [{"text": "hi"}]
        assert [w["route"] for w in waiting] == ["big"]
        assert "route big: url_file is empty or over 4096 bytes" in caplog.text
        assert_no_leak(secret, texts=[caplog.text, json.dumps(waiting)])
    finally:
        receiver.close()


def test_an_invalid_notifications_section_skips_the_tick_saying_why(demo_fleet, fleet_resource):
    fleet, _ = demo_fleet
    doc = yaml.safe_load(fleet.inventory.read_text())
    doc["notifications"] = {"routes": [{"name": "pager", "url": "https://hooks.example/secret-in-git"}]}
    fleet.inventory.write_text(yaml.safe_dump(doc))
    assert len(fleet_resource.load_inventory().fabrics) == 3  # the syncs are untouched
    with DagsterInstance.ephemeral() as instance:
        result = drift_notifications(build_sensor_context(instance=instance, resources={"fleet": fleet_resource}))
    assert "invalid notifications section: notifications.routes.0.url: Extra inputs" in result.skip_reason.skip_message
    assert "secret-in-git" not in result.skip_reason.skip_message


def test_a_fabric_without_a_recent_cycle_is_stale_once_unless_paused(demo_fleet, fleet_resource, receivers):
    from datetime import datetime, timedelta, timezone

    from hedgehog_sync.defs.notifications import evaluate
    from hedgehog_sync.defs.pause import set_pause

    fleet, _ = demo_fleet
    pager, chat = receivers
    route_inventory(fleet.inventory, reminder_hours=0)
    log = logging.getLogger("test-notify")
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        for fabric in (IN_SYNC_FABRIC, DRIFTED_FABRIC):
            materialize([fabric_sync], partition_key=fabric, instance=instance,
                        resources={"fleet": fleet_resource, "alerts": AlertSink()})
        now = datetime.now(timezone.utc)
        cursor, raised, _ = evaluate(instance, fleet_resource, None, now, log)
        assert raised == 1 and pager.take() and chat.take() == []  # fab-west's drift
        set_pause(instance, DRIFTED_FABRIC, by="alice", reason="switch upgrade")
        later = now + timedelta(hours=2)  # far past 3 intervals of either fabric
        cursor, raised, _ = evaluate(instance, fleet_resource, cursor, later, log)
        (stale,) = chat.take()
        assert stale["text"] == f"hedgehog-sync: {IN_SYNC_FABRIC}: no recent report"
        assert pager.take() == []  # paused on purpose: not stale
        assert evaluate(instance, fleet_resource, cursor, later + timedelta(minutes=1), log)[1] == 0
