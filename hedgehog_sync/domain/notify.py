"""Drift notifications: what to tell operators when a fabric's state changes (pure decisions).

`decide` takes what was last notified for a fabric, its latest report and health record, and the
time, and returns the notifications to send and the state to remember. One notification per change
of state: drift appeared, severity rose, drift cleared, became unknown, became stale (no cycle within
`stale_after_intervals` of its interval), recovered (known again), plus a reminder while drift
persists. Isolation and restore are sent by the sync run itself (defs/alerts.AlertSink), not here.

Payloads (`json_payload`, `slack_payload`) carry no URL but the Dagster UI link: the webhook URLs
live in env vars or files named by the inventory's `notifications:` section (`parse_settings`).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hedgehog_sync.domain.drift_report import DriftReport, as_report_json
from hedgehog_sync.domain.health import parse_time
from hedgehog_sync.domain.report import utc_iso
from hedgehog_sync.domain.vocabulary import (
    DRIFTED, FABRIC_STATUSES, IN_SYNC_STATUS, NONE, SEVERITY_RANK, UNKNOWN, drifted_count,
)

DRIFT_APPEARED, SEVERITY_ROSE, DRIFT_CLEARED = "drift_appeared", "severity_rose", "drift_cleared"
BECAME_UNKNOWN, BECAME_STALE, RECOVERED, REMINDER = "became_unknown", "became_stale", "recovered", "reminder"
KINDS = (DRIFT_APPEARED, SEVERITY_ROSE, DRIFT_CLEARED, BECAME_UNKNOWN, BECAME_STALE, RECOVERED, REMINDER)
STALE = "stale"
ENV_PREFIX = "HEDGEHOG_SYNC_"
DEFAULT_ROUTE_ENV = "HEDGEHOG_SYNC_ALERT_WEBHOOK"  # AlertSink's webhook: where alerts already go
MAX_VALUE_CHARS = 120
MAX_TEXT_CHARS = 300
_ENV_NAME = re.compile(r"^HEDGEHOG_SYNC_[A-Z0-9_]{1,100}$")

TITLES = {
    DRIFT_APPEARED: "drift appeared", SEVERITY_ROSE: "drift severity rose", DRIFT_CLEARED: "drift cleared",
    BECAME_UNKNOWN: "status unknown", BECAME_STALE: "no recent report", RECOVERED: "known again",
    REMINDER: "still drifted",
}


# --- settings (the inventory's `notifications:` section) ---------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Route(_Strict):
    """Where notifications go. The URL is read at send time from `url_env` or `url_file`, never
    written in the inventory (a webhook URL usually is its own credential)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    url_env: Optional[str] = None
    url_file: Optional[str] = None
    format: Literal["json", "slack"] = "json"
    priorities: tuple[Literal["critical", "high", "medium", "low", "maintenance"], ...] = ()
    fabrics: tuple[str, ...] = ()

    @field_validator("url_env")
    @classmethod
    def _env(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not _ENV_NAME.match(v):
            raise ValueError(f"must name an env var starting with {ENV_PREFIX} (upper case, digits, '_')")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> "Route":
        if (self.url_env is None) == (self.url_file is None):
            raise ValueError(f"route {self.name}: set exactly one of url_env and url_file")
        return self

    def matches(self, fabric: str, priority: str) -> bool:
        """A route without filters takes everything; otherwise a fabric or priority it lists."""
        if not self.priorities and not self.fabrics:
            return True
        return fabric in self.fabrics or priority in self.priorities


class NotifySettings(_Strict):
    reminder_hours: float = Field(default=24.0, ge=0, description="0 = no reminders")
    stale_after_intervals: int = Field(default=3, ge=1)
    max_resources: int = Field(default=5, ge=1, le=50)
    retry_seconds: float = Field(default=30.0, ge=0, description="first retry delay, doubled per attempt")
    max_attempts: int = Field(default=5, ge=1, le=20)
    routes: tuple[Route, ...] = (Route(name="default", url_env=DEFAULT_ROUTE_ENV),)

    @property
    def reminder_seconds(self) -> float:
        return self.reminder_hours * 3600.0

    def routes_for(self, fabric: str, priority: str) -> list[Route]:
        return [r for r in self.routes if r.matches(fabric, priority)]


def parse_settings(raw: Any) -> NotifySettings:
    """The settings from the inventory's `notifications:` value (None = defaults); ValueError names
    the field and the fix."""
    if raw is None:
        return NotifySettings()
    try:
        settings = NotifySettings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"notifications.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors()[:5])
        raise ValueError(f"invalid notifications section: {problems}") from None
    names = [r.name for r in settings.routes]
    if len(names) != len(set(names)):
        raise ValueError("invalid notifications section: route names must be unique")
    return settings


# --- what a fabric looks like now, and what was last notified -----------------------------------------

@dataclass(frozen=True)
class Notified:
    """The state last notified for a fabric (kept in the sensor's cursor)."""

    status: str  # in_sync | drifted | unknown | stale
    severity: str = NONE
    at: str = ""  # when it was last notified (reminders count from here)
    cycle: Optional[str] = None  # the fabric's cycle when this was decided (see decide's cycle_key)

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Optional["Notified"]:
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            return None
        cycle = data.get("cycle")
        return cls(str(data["status"]), str(data.get("severity") or NONE), str(data.get("at") or ""),
                   cycle if isinstance(cycle, str) else None)


@dataclass(frozen=True)
class Notification:
    kind: str
    fabric: str
    priority: str
    status: str
    severity: str
    previous_status: Optional[str]
    previous_severity: Optional[str]
    at: str
    link: str
    commit: dict[str, Optional[str]]
    differ: int
    drift_since: Optional[str]
    resources: list[dict[str, Any]] = field(default_factory=list)
    resources_omitted: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.fabric}: {TITLES[self.kind]}"


def _short(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def changed_resources(report: DriftReport | dict[str, Any], limit: int) -> tuple[list[dict[str, Any]], int]:
    """The report's drifted resources, worst first, at most `limit` (each with at most 3 changes,
    values shortened), and how many more there are."""
    report = as_report_json(report)
    resources = list(report.get("resources") or [])
    resources.sort(key=lambda r: -SEVERITY_RANK.get(r.get("severity"), 0))
    out = []
    for r in resources[:limit]:
        changes = r.get("changes") or []
        out.append({
            "kind": _short(r.get("kind"), 80), "name": _short(r.get("name"), 120),
            "namespace": _short(r.get("namespace"), 80) if r.get("namespace") else None,
            "state": r.get("state"), "severity": r.get("severity"),
            "changes": [{"pointer": _short(c.get("path"), 200),
                         "desired": _short(c.get("desired")) if "desired" in c else None,
                         "live": _short(c.get("actual")) if "actual" in c else None} for c in changes[:3]],
            "changes_omitted": max(len(changes) - 3, 0) + int(r.get("changes_omitted") or 0),
        })
    omitted = len(resources) - len(out) + int(report.get("resources_omitted") or 0)
    return out, omitted


def current_state(report: DriftReport | dict[str, Any], last_cycle_at: Optional[str], interval_seconds: float,
                  stale_after_intervals: int, now: datetime, held: bool = False) -> str:
    """in_sync | drifted | unknown from the report, or stale when no cycle ran within
    stale_after_intervals of the fabric's interval (never while syncing is held on purpose: paused)."""
    report = as_report_json(report)
    last = parse_time(last_cycle_at) or parse_time(report.get("generated_at"))
    if not held and last is not None and now - last > timedelta(seconds=interval_seconds * stale_after_intervals):
        return STALE
    return report.get("status") if report.get("status") in FABRIC_STATUSES else UNKNOWN


def _kind(previous: Optional[Notified], status: str, severity: str, now: datetime,
          reminder_seconds: float) -> Optional[str]:
    before = previous.status if previous else None
    if status == DRIFTED:
        if before != DRIFTED:
            return DRIFT_APPEARED
        if SEVERITY_RANK.get(severity, 0) > SEVERITY_RANK.get(previous.severity, 0):
            return SEVERITY_ROSE
        last = parse_time(previous.at)
        if reminder_seconds > 0 and last is not None and (now - last).total_seconds() >= reminder_seconds:
            return REMINDER
        return None
    if status == IN_SYNC_STATUS:
        if before == DRIFTED:
            return DRIFT_CLEARED
        return RECOVERED if before in (UNKNOWN, STALE) else None
    if status == UNKNOWN:
        return BECAME_UNKNOWN if before != UNKNOWN else None
    return BECAME_STALE if before != STALE else None


def needs_report(previous: Optional[Notified], last_cycle_at: Optional[str], interval_seconds: float,
                 now: datetime, settings: NotifySettings = NotifySettings(), held: bool = False,
                 cycle_key: Optional[str] = None) -> bool:
    """Whether deciding needs the fabric's report: a new cycle, or a change that time alone makes
    (becoming stale, a reminder due). Otherwise the sensor skips reading it: a tick stays cheap."""
    cycle_key = cycle_key or last_cycle_at
    if previous is None or cycle_key is None or previous.cycle != cycle_key:
        return True
    last = parse_time(last_cycle_at)
    if (not held and previous.status != STALE and last is not None
            and now - last > timedelta(seconds=interval_seconds * settings.stale_after_intervals)):
        return True
    at = parse_time(previous.at)
    return (previous.status == DRIFTED and settings.reminder_seconds > 0 and at is not None
            and (now - at).total_seconds() >= settings.reminder_seconds)


def decide(previous: Optional[Notified], report: DriftReport | dict[str, Any] | None, *, priority: str,
           last_cycle_at: Optional[str], interval_seconds: float, link: str, now: datetime,
           settings: NotifySettings = NotifySettings(), held: bool = False, cycle_key: Optional[str] = None
           ) -> tuple[list[Notification], Optional[Notified]]:
    """The notifications for one fabric and the state to remember (None: nothing known yet). `held`:
    an operator paused its syncing, so an old report is expected, not stale. `cycle_key` names the
    cycle uniquely (default last_cycle_at, which has whole seconds: two cycles can share it)."""
    if report is None:
        return [], previous
    report = as_report_json(report)
    status = current_state(report, last_cycle_at, interval_seconds, settings.stale_after_intervals, now, held)
    # The cycle is remembered only once its report is the one read: were the health record written
    # before the report, the next tick must read the report again.
    made, cycle_at = parse_time(report.get("generated_at")), parse_time(last_cycle_at)
    seen_cycle = (cycle_key or last_cycle_at) if made is not None and cycle_at is not None and made >= cycle_at \
        else None
    severity = str(report.get("severity") or NONE) if status == DRIFTED else NONE
    kind = _kind(previous, status, severity, now, settings.reminder_seconds)
    if kind is None:
        if previous is None:
            return [], Notified(status, severity, utc_iso(now), seen_cycle)
        # a lower severity is remembered, so rising again is news
        return [], Notified(status, severity, previous.at, seen_cycle)
    resources, omitted = changed_resources(report, settings.max_resources) if status == DRIFTED else ([], 0)
    summary = report.get("summary") or {}
    git = report.get("git") or {}
    errors = [_short(e.get("message"), MAX_TEXT_CHARS) for e in (report.get("errors") or [])[:3]
              if status in (UNKNOWN, STALE)]
    note = Notification(
        kind=kind, fabric=str(report.get("fabric")), priority=priority, status=status, severity=severity,
        previous_status=previous.status if previous else None,
        previous_severity=previous.severity if previous else None, at=utc_iso(now), link=link,
        commit={"sha": git.get("commit"),
                "message": _short(git.get("message"), MAX_TEXT_CHARS) if git.get("message") else None,
                "author": _short(git.get("author"), 120) if git.get("author") else None},
        differ=drifted_count(summary),
        drift_since=report.get("drift_since"), resources=resources, resources_omitted=omitted, errors=errors)
    return [note], Notified(status, severity, utc_iso(now), seen_cycle)


# --- payloads -------------------------------------------------------------------------------------------

SCHEMA_VERSION = 1


def json_payload(note: Notification) -> dict[str, Any]:
    """The generic webhook body (docs/notification.schema.json)."""
    return {"source": "hedgehog-sync", "schema_version": SCHEMA_VERSION, "type": "drift", "title": note.title,
            **asdict(note)}


def _esc(value: Any) -> str:
    """Text from Git or the cluster, safe in Slack mrkdwn: `<!channel>` or `<url|label>` written into a
    live object must not ping a channel or forge a link, and a backtick must not end a code span."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def _resource_line(r: dict[str, Any]) -> str:
    where = f"{_esc(r['namespace'])}/" if r.get("namespace") else ""
    head = f"• `{_esc(r['kind'])} {where}{_esc(r['name'])}` {_esc(r['state'])} ({_esc(r['severity'])})"
    lines = [head] + [f"    `{_esc(c['pointer'])}`: `{_esc(c['desired'])}` → `{_esc(c['live'])}`"
                      for c in r["changes"]]
    if r.get("changes_omitted"):
        lines.append(f"    …and {r['changes_omitted']} more changes")
    return "\n".join(lines)


def slack_text(note: Notification) -> str:
    """The message as Slack mrkdwn (also what a plain chat webhook shows)."""
    sha = (note.commit.get("sha") or "")[:12]
    lines = [f"*{note.title}* — priority {note.priority}, status {note.status}"
             + (f", worst {note.severity}" if note.status == DRIFTED else "")]
    if note.previous_status:
        was = f" ({note.previous_severity})" if note.previous_status == DRIFTED else ""
        lines.append(f"was {note.previous_status}{was}")
    if sha:
        lines.append(f"commit `{_esc(sha)}` by {_esc(note.commit.get('author') or 'unknown')}: "
                     f"{_esc(note.commit.get('message') or '')}".rstrip())
    if note.status == DRIFTED:
        lines.append(f"{note.differ} resources differ" + (f" since {note.drift_since}" if note.drift_since else ""))
        lines.extend(_resource_line(r) for r in note.resources)
        if note.resources_omitted:
            lines.append(f"…and {note.resources_omitted} more resources")
    lines.extend(f"error: {_esc(e)}" for e in note.errors)
    lines.append(f"<{note.link}|Open {note.fabric} in Dagster>")
    return "\n".join(lines)


def slack_payload(note: Notification) -> dict[str, Any]:
    """A Slack incoming-webhook body: `text` for notifications, one section block for the channel."""
    text = slack_text(note)
    return {"text": f"hedgehog-sync: {note.title}",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}]}


def payload(note: Notification, fmt: str) -> dict[str, Any]:
    return slack_payload(note) if fmt == "slack" else json_payload(note)


def retry_delay(attempts: int, settings: NotifySettings) -> Optional[float]:
    """Seconds before the next try after `attempts` failed ones, or None: give up (and log it)."""
    if attempts >= settings.max_attempts:
        return None
    return min(settings.retry_seconds * 2.0 ** (attempts - 1), 3600.0)
