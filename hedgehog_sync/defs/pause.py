"""Pausing automatic syncing, for the whole fleet or single fabrics, kept on the Dagster instance.

Both automatic paths read it: the every-minute schedule and the fast-path sensor. The pauses live in
the instance's key-value store (the run storage's cursor table, where Dagster keeps its own daemon
cursors), so they work on SQLite and PostgreSQL alike, survive restarts and are seen by every
process of a deployment with no shared file system. One key per fabric, never a read-modify-write of
a shared document, so two operators pausing two fabrics at once cannot undo each other.

A pause is not `enabled: false`: the inventory owns that (it is history in Git); a pause is an
operator's temporary hold, with who, when and why, lifted with `hedgehog-sync resume`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Iterable

from dagster import DagsterInstance
from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

from hedgehog_sync.domain.inventory import PARTITION_KEY

KEY_PREFIX = "hedgehog_sync/pause/"
FLEET_KEY = KEY_PREFIX + "fleet"
MAX_REASON_CHARS = 300
MAX_BY_CHARS = 100
MAX_STORED_CHARS = 4096  # a stored value longer than this was not written by us
KEYS_PER_QUERY = 500  # one IN (...) query per that many fabrics
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def clean_text(text: str, limit: int) -> str:
    """One line of plain text, at most `limit` characters: a reason is shown in tick logs and tables."""
    one_line = " ".join(_CONTROL.sub(" ", text or "").split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


@dataclass(frozen=True)
class Pause:
    """Who paused, when (UTC, ISO 8601) and why."""

    by: str
    at: str
    reason: str = ""

    def describe(self) -> str:
        """`paused by alice at 2026-11-30T20:00:00Z: switch upgrade` — what a skipped tick says."""
        return f"paused by {self.by} at {self.at}: {self.reason or 'no reason given'}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_stored(cls, value: str | None) -> Pause | None:
        """None when not paused (no value, or the empty value `resume` leaves). A value we cannot read
        still counts as a pause: an operator meant to stop syncing, and guessing otherwise would sync."""
        if not value:
            return None
        try:
            if len(value) > MAX_STORED_CHARS:
                raise ValueError("too long")
            data = json.loads(value)
            return cls(by=clean_text(str(data["by"]), MAX_BY_CHARS), at=clean_text(str(data["at"]), 40),
                       reason=clean_text(str(data.get("reason") or ""), MAX_REASON_CHARS))
        except (TypeError, ValueError, KeyError):
            return cls(by="unknown", at="unknown", reason="unreadable pause record; `hedgehog-sync resume` clears it")


def fabric_key(fabric: str) -> str:
    if not PARTITION_KEY.match(fabric):  # never build a key from an unchecked name
        raise ValueError(f"invalid fabric name {fabric!r}: a fabric name is a DNS label (lowercase, digits, '-')")
    return f"{KEY_PREFIX}fabric/{fabric}"


def fleet_pause(instance: DagsterInstance) -> Pause | None:
    """The pause of all automatic syncing, or None."""
    return Pause.from_stored(instance.run_storage.get_cursor_values({FLEET_KEY}).get(FLEET_KEY))


def fabric_pauses(instance: DagsterInstance, fabrics: Iterable[str]) -> dict[str, Pause]:
    """The paused ones among `fabrics` (invalid names are never paused: they have no partition)."""
    keys = {fabric_key(f): f for f in fabrics if PARTITION_KEY.match(f)}
    found: dict[str, Pause] = {}
    names = sorted(keys)
    for i in range(0, len(names), KEYS_PER_QUERY):
        for key, value in instance.run_storage.get_cursor_values(set(names[i:i + KEYS_PER_QUERY])).items():
            pause = Pause.from_stored(value)
            if pause is not None:
                found[keys[key]] = pause
    return dict(sorted(found.items()))


def set_pause(instance: DagsterInstance, fabric: str | None, by: str, reason: str = "",
              now: datetime | None = None) -> Pause:
    """Pause the fleet (fabric None) or one fabric; a second pause replaces the first's who/when/why."""
    at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    pause = Pause(by=clean_text(by, MAX_BY_CHARS) or "unknown", at=at, reason=clean_text(reason, MAX_REASON_CHARS))
    instance.run_storage.set_cursor_values({fabric_key(fabric) if fabric else FLEET_KEY: pause.to_json()})
    return pause


def clear_pause(instance: DagsterInstance, fabric: str | None) -> Pause | None:
    """Lift the fleet's (fabric None) or one fabric's pause; returns the pause lifted, or None."""
    key = fabric_key(fabric) if fabric else FLEET_KEY
    before = Pause.from_stored(instance.run_storage.get_cursor_values({key}).get(key))
    if before is not None:
        instance.run_storage.set_cursor_values({key: ""})  # the store has no delete; empty = not paused
    return before


def schedule_stopped(instance: DagsterInstance, schedule_name: str, repository_name: str | None = None,
                     location_name: str | None = None) -> bool:
    """Whether the schedule was stopped (in the UI, or `dagster schedule stop`): the documented switch
    for a maintenance window, which must hold the fast path too. Stored states of other code locations
    or repositories are ignored when ours are known; a schedule never toggled has no state and runs.
    An instance without schedule storage (an ephemeral one) has no switch to read."""
    if instance.schedule_storage is None:
        return False
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE):
        origin = state.origin.repository_origin
        if state.name != schedule_name:
            continue
        if repository_name and origin.repository_name != repository_name:
            continue
        if location_name and origin.code_location_origin.location_name != location_name:
            continue
        if state.status == InstigatorStatus.STOPPED:
            return True
    return False


@dataclass(frozen=True)
class SyncingStatus:
    """Everything that holds automatic syncing now: what `pause --status` prints and the fleet summary shows."""

    fleet: Pause | None
    schedule_stopped: bool
    fabrics: dict[str, Pause]

    def headline(self) -> str:
        """One line: `automatic syncing: running`, or what holds it (and how many fabrics are paused)."""
        held = []
        if self.fleet is not None:
            held.append(f"all {self.fleet.describe()}")
        if self.schedule_stopped:
            held.append("fleet_sync_every_minute is stopped (the fast path holds too)")
        if self.fabrics:
            held.append(f"{len(self.fabrics)} fabric(s) paused")
        return "automatic syncing: " + ("; ".join(held) if held else "running")


def syncing_status(instance: DagsterInstance, fabrics: Iterable[str],
                   schedule_name: str = "fleet_sync_every_minute") -> SyncingStatus:
    return SyncingStatus(fleet_pause(instance), schedule_stopped(instance, schedule_name),
                         fabric_pauses(instance, fabrics))
