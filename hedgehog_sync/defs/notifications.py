"""The drift_notifications sensor: tells operators when a fabric's drift state changes.

Every tick it reads each fabric's latest report and health record from the state store (no run),
decides with domain/notify.decide what changed since the state it last notified (kept in its cursor),
and POSTs the notifications to the routes of the inventory's `notifications:` section (by default the
webhook of AlertSink, HEDGEHOG_SYNC_ALERT_WEBHOOK). Like AlertSink, a URL is read from its env var
(or file) at send time, registered as a secret, and never logged; a failed send never touches a sync:
it stays in the cursor's outbox and is retried with backoff, then dropped with a log line.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, sensor

from hedgehog_sync.defs.partitions import FABRICS_PARTITION
from hedgehog_sync.defs.pause import fabric_pauses, fleet_pause
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.domain.errors import InventoryError
from hedgehog_sync.domain.health import health_score, parse_time
from hedgehog_sync.domain.notify import (
    Notified, NotifySettings, Route, decide, needs_report, parse_settings, payload, retry_delay,
)
from hedgehog_sync.domain.priority import schedule_for
from hedgehog_sync.domain.redaction import redact, register_secret
from hedgehog_sync.domain.report import utc_iso

TICK_SECONDS = 20
SEND_TIMEOUT_SECONDS = 5.0
TICK_SEND_BUDGET_SECONDS = 25.0  # stop sending in a tick after this; the rest waits in the outbox
MAX_OUTBOX = 100  # notifications waiting for a retry; the oldest are dropped (with a log line) beyond
MAX_URL_FILE_BYTES = 4096


class RouteUnavailable(Exception):
    """The route's URL is not configured here (env var unset, file unreadable)."""


def route_url(route: Route) -> str:
    """The route's URL, read now from its env var or file and registered as a secret."""
    if route.url_env:
        url = (os.environ.get(route.url_env) or "").strip()
        if not url:
            raise RouteUnavailable(f"route {route.name}: env var {route.url_env} is not set")
    else:
        try:
            with open(Path(route.url_file or ""), "rb") as f:
                url = f.read(MAX_URL_FILE_BYTES + 1).decode("utf-8", "replace").strip()
        except OSError as exc:
            raise RouteUnavailable(f"route {route.name}: cannot read url_file ({type(exc).__name__})") from None
        if len(url) > MAX_URL_FILE_BYTES or not url:
            raise RouteUnavailable(f"route {route.name}: url_file is empty or over {MAX_URL_FILE_BYTES} bytes")
    register_secret(url)
    if not url.startswith(("http://", "https://")):
        raise RouteUnavailable(f"route {route.name}: the URL is not http(s)")
    return url


def post(url: str, body: dict[str, Any], timeout: float = SEND_TIMEOUT_SECONDS) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 (http(s) checked above)
        resp.read(65536)


def deliver(outbox: list[dict[str, Any]], settings: NotifySettings, now: datetime, log: Any,
            budget_seconds: float = TICK_SEND_BUDGET_SECONDS) -> list[dict[str, Any]]:
    """Send what is due in the outbox; returns what must wait (retries). Never raises."""
    routes = {r.name: r for r in settings.routes}
    waiting: list[dict[str, Any]] = []
    started = time.monotonic()
    for item in outbox:
        due = parse_time(item.get("next_at")) or now
        route = routes.get(item.get("route"))
        if route is None:
            log.warning(f"notification for {item.get('fabric')} dropped: route {item.get('route')} is gone")
            continue
        if due > now or time.monotonic() - started > budget_seconds:
            waiting.append(item)
            continue
        try:
            post(route_url(route), item["body"])
            log.info(f"notified {item.get('fabric')} ({item.get('kind')}) via route {route.name}")
            continue
        except RouteUnavailable as exc:
            problem = str(exc)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            problem = f"{type(exc).__name__}: {redact(str(exc))[:200]}"
        attempts = int(item.get("attempts", 0)) + 1
        delay = retry_delay(attempts, settings)
        if delay is None:
            log.warning(f"notification for {item.get('fabric')} ({item.get('kind')}) via route {route.name} "
                        f"dropped after {attempts} attempts: {problem}")
            continue
        log.warning(f"notification for {item.get('fabric')} via route {route.name} failed ({problem}); "
                    f"retry in {delay:.0f}s")
        waiting.append({**item, "attempts": attempts, "next_at": utc_iso(now + timedelta(seconds=delay))})
    if len(waiting) > MAX_OUTBOX:
        log.warning(f"{len(waiting) - MAX_OUTBOX} waiting notifications dropped: the outbox keeps {MAX_OUTBOX}")
        waiting = waiting[-MAX_OUTBOX:]
    return waiting


def evaluate(instance: Any, fleet: FleetResource, cursor: Optional[str], now: datetime, log: Any
             ) -> tuple[str, int, int]:
    """One tick: returns the new cursor, notifications raised and still waiting."""
    inventory = fleet.load_inventory()
    settings = parse_settings(inventory.notifications)
    state = json.loads(cursor) if cursor else {}
    notified: dict[str, Any] = state.get("fabrics") or {}
    outbox: list[dict[str, Any]] = list(state.get("outbox") or [])
    partitions = set(instance.get_dynamic_partitions(FABRICS_PARTITION))
    raised = 0
    remembered: dict[str, Any] = {}
    names = [cfg.name for cfg in inventory.enabled() if cfg.name in partitions]
    # paused on purpose (defs/pause.py): an old report is expected then, not stale
    paused = set(fabric_pauses(instance, names)) if fleet_pause(instance) is None else set(names)
    stored = fleet.state_store(instance).load(names)  # the fleet's health and reports in one query
    for cfg in inventory.enabled():
        if cfg.name not in partitions:
            continue
        record = stored[cfg.name].health
        schedule = schedule_for(cfg.priority, health_score(record, now), record.isolated, record.escalated)
        previous = Notified.from_dict(notified.get(cfg.name))
        # last_cycle_at has whole seconds; the cycle count tells two cycles of one second apart
        cycle_key = f"{record.last_cycle_at}#{record.total_cycles}" if record.last_cycle_at else None
        if not needs_report(previous, record.last_cycle_at, schedule.interval_seconds, now, settings,
                            held=cfg.name in paused, cycle_key=cycle_key):
            remembered[cfg.name] = previous.to_dict()  # nothing new: the report is not looked at
            continue
        notes, new = decide(previous, stored[cfg.name].report,
                            priority=cfg.priority, last_cycle_at=record.last_cycle_at,
                            interval_seconds=schedule.interval_seconds, link=fleet.report_url(cfg.name),
                            now=now, settings=settings, held=cfg.name in paused, cycle_key=cycle_key)
        if new is not None:
            remembered[cfg.name] = new.to_dict()
        for note in notes:
            raised += 1
            for route in settings.routes_for(cfg.name, cfg.priority):
                outbox.append({"route": route.name, "fabric": cfg.name, "kind": note.kind, "attempts": 0,
                               "body": payload(note, route.format)})
    waiting = deliver(outbox, settings, now, log)
    return json.dumps({"fabrics": remembered, "outbox": waiting}, sort_keys=True), raised, len(waiting)


@sensor(
    name="drift_notifications",
    minimum_interval_seconds=TICK_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Tells operators when a fabric's drift state changes (appeared, severity rose, cleared, "
                "unknown, stale, reminder), from the recorded reports: JSON or Slack webhooks routed "
                "by the inventory's notifications section. Never starts a run.",
)
def drift_notifications(context: SensorEvaluationContext, fleet: FleetResource):
    try:
        new_cursor, raised, waiting = evaluate(context.instance, fleet, context.cursor,
                                               datetime.now(timezone.utc), context.log)
    except (InventoryError, ValueError) as exc:
        return SensorResult(skip_reason=f"inventory unusable for notifications: {redact(str(exc))[:500]}")
    return SensorResult(skip_reason=f"{raised} notifications raised, {waiting} waiting for a retry",
                        cursor=new_cursor)
