"""Kills survivors of the mutation run (issue 19) in domain/recovery: every field of each alert a person
reads (fabric, time, message), the record a retried run of the same cycle leaves, and a server's short
Retry-After. The survivors that no input tells apart are in benchmarks/mutation-equivalents/recovery.txt."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from hedgehog_sync.domain.errors import ClusterTimeoutError, ClusterUnreachableError, RateLimitedError
from hedgehog_sync.domain.recovery import (
    DEESCALATED, ESCALATED, ISOLATED, RESTORED, Alert, CycleResult, FabricHealthRecord, RecoveryPolicy,
    record_cycle, retry_delay,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
AT = "2026-11-28T12:00:00Z"
EARLIER = "2026-11-28T11:00:00Z"


def ok(fabric: str = "fab-a", status: str = "in_sync") -> CycleResult:
    return CycleResult(fabric, status)


def failed(fabric: str = "fab-a", message: str = "API server timed out") -> CycleResult:
    return CycleResult(fabric, "unknown", cluster_error=ClusterTimeoutError(message))


def test_an_isolation_alert_with_an_error_of_no_text_names_only_its_class():
    """An error whose message is empty is named by its class alone: no dangling ': ' and no filler text
    in the message a pager shows."""
    record = FabricHealthRecord(consecutive_failures=4, total_cycles=4, failed_cycles=4,
                                recent_failed=(True,) * 4, last_status="unknown")
    new, alerts = record_cycle(record, failed(message=""), NOW, RecoveryPolicy(escalate_below=0.0))
    assert (new.isolated, new.isolated_since, new.last_error_class, new.last_error) == (
        True, AT, "ClusterTimeoutError", "")
    assert alerts == [Alert(
        ISOLATED, "fab-a", "error",
        "fab-a: isolated after 5 failed cycles in a row; re-probed slowly until one succeeds, or at once when "
        "its settings change. Last error: ClusterTimeoutError", AT, "ClusterTimeoutError", alerts[0].health)]


def test_the_restore_alert_names_the_fabric_and_the_cycle():
    """RESTORED carries the fabric and the time of the cycle that read both sides: the alert sink routes
    and orders alerts by them."""
    record = FabricHealthRecord(consecutive_failures=6, total_cycles=6, failed_cycles=6,
                                recent_failed=(True,) * 6, last_status="unknown", isolated=True,
                                isolated_since=EARLIER, last_error_class="ClusterTimeoutError", last_error="x")
    new, alerts = record_cycle(record, ok("fab-b"), NOW, RecoveryPolicy(escalate_below=0.0))
    assert (new.isolated, new.isolated_since) == (False, None)
    (alert,) = alerts
    assert (alert.kind, alert.fabric, alert.severity, alert.at, alert.error_class) == (
        RESTORED, "fab-b", "info", AT, None)
    assert alert.message == ("fab-b: restored after 6 failed cycles (isolated since 2026-11-28T11:00:00Z); "
                             "back on its normal schedule.")


def test_escalation_is_stamped_with_the_cycle_and_names_the_fabric():
    """ESCALATED: the record says since when (escalated_since = this cycle, not an older value), and the
    alert carries the fabric and this cycle's time."""
    record = FabricHealthRecord(consecutive_failures=1, total_cycles=1, failed_cycles=1, recent_failed=(True,),
                                last_status="unknown", escalated_since=EARLIER)
    new, alerts = record_cycle(record, failed("fab-c"), NOW)
    assert (new.escalated, new.escalated_since) == (True, AT)
    (alert,) = alerts
    assert (alert.kind, alert.fabric, alert.severity, alert.at, alert.error_class) == (
        ESCALATED, "fab-c", "warning", AT, "ClusterTimeoutError")
    assert alert.message == (f"fab-c: health {alert.health:.2f} fell below 0.5; checked one priority class "
                             "higher until it recovers. Last error: ClusterTimeoutError: API server timed out")


def test_deescalation_clears_the_flag_and_names_the_fabric_and_the_cycle():
    """DEESCALATED: the record's escalated is exactly False again (it is read as a flag and written to JSON),
    and the alert carries the fabric and this cycle's time."""
    record = FabricHealthRecord(total_cycles=5, recent_failed=(False,) * 5, last_status="in_sync",
                                last_good_sync=AT, cluster_reachable=True, escalated=True,
                                escalated_since=EARLIER, healthy_streak=2)
    new, alerts = record_cycle(record, ok("fab-d"), NOW)
    assert new.escalated is False and new.escalated_since is None and new.healthy_streak == 3
    assert new.to_dict()["escalated"] is False
    (alert,) = alerts
    assert (alert.kind, alert.fabric, alert.severity, alert.at, alert.error_class) == (
        DEESCALATED, "fab-d", "info", AT, None)
    assert alert.message == f"fab-d: health {alert.health:.2f} at or above 0.5 for 3 cycles; escalation cleared."


def test_a_retried_run_of_the_same_cycle_records_its_own_time_and_reach():
    """A run retry replaces the cycle's outcome: last_cycle_at becomes the retry's time and
    cluster_reachable what the retry saw (the API answered now, or not), not what the first attempt saw."""
    first = FabricHealthRecord(consecutive_failures=1, total_cycles=3, failed_cycles=1,
                               recent_failed=(False, False, True), last_status="unknown", last_cycle_at=EARLIER,
                               cluster_reachable=False, last_cycle_id="run-1")
    later = NOW + timedelta(minutes=2)
    new, _ = record_cycle(first, ok(), later, cycle_id="run-1")
    assert (new.total_cycles, new.failed_cycles, new.recent_failed) == (3, 0, (False, False, False))
    assert (new.last_cycle_at, new.cluster_reachable) == ("2026-11-28T12:02:00Z", True)
    again, _ = record_cycle(new, failed(), later + timedelta(minutes=1), cycle_id="run-1")
    assert (again.total_cycles, again.failed_cycles, again.consecutive_failures) == (3, 1, 1)
    assert (again.last_cycle_at, again.cluster_reachable) == ("2026-11-28T12:03:00Z", False)


def test_a_retry_after_of_one_second_or_less_is_still_a_floor():
    """A 429 asking for 1 s (or 0.5 s) is honoured even when the backoff would be shorter."""
    policy = RecoveryPolicy(base_delay=0.01, max_delay=0.01, jitter=0.0)
    for asked in (1.0, 0.5, 1):
        assert retry_delay(RateLimitedError("slow down", retry_after=asked), 1, policy, random.Random(1)) == asked
    assert retry_delay(ClusterUnreachableError("down"), 1, policy, random.Random(1)) == 0.01
