"""Kills the mutants of the rule modules that survived the domain tests (issue 19): recovery (retry, isolation,
escalation and the alerts a person reads), priority (schedules and the tick log line), health (each factor at its
boundaries), the health record's JSON, batching's estimate, the error classes, the model and the kinds.
Expected values are worked out by hand from docs/contracts.md and the docstrings."""

import math
import random
from datetime import datetime, timedelta, timezone

import pytest

from hedgehog_sync.domain import errors as E
from hedgehog_sync.domain.batching import plan_batches, seconds_per_fabric
from hedgehog_sync.domain.health import (
    HEALTH_WEIGHTS, cluster_factor, drift_factor, failure_rate_factor, file_errors_factor, health_components,
    health_score, last_cycle_factor, last_good_sync_factor, parse_time,
)
from hedgehog_sync.domain.health_record import FabricHealthRecord
from hedgehog_sync.domain.kinds import KINDS, ResourceKind, kind_for, split_api_version
from hedgehog_sync.domain.model import DesiredState, LiveState, ResourceId
from hedgehog_sync.domain.priority import (
    FabricPlanInput, describe_names, describe_skipped, due_by_run_priority, effective_priority, is_due, plan_tick,
    run_priority_tag, schedule_for, seconds_until_due, skipped_by_reason,
)
from hedgehog_sync.domain.recovery import (
    DEFAULT_POLICY, FAIL, RETRY, Alert, CycleResult, RecoveryPolicy, action_for, record_cycle, retry_delay,
)

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
AT = "2026-11-28T12:00:00Z"


# --- recovery: the policy ----------------------------------------------------------------------------

def test_the_default_policy():
    p = DEFAULT_POLICY
    assert (p.isolate_after, p.base_delay, p.max_delay, p.max_attempts, p.jitter, p.retry_after_cap,
            p.escalate_below, p.deescalate_after, p.window) == (5, 1.0, 60.0, 3, 0.5, 120.0, 0.5, 3, 20)
    assert p.max_retries == 2 and RecoveryPolicy(max_attempts=1).max_retries == 0


COUNTS = "isolate_after, max_attempts, window and deescalate_after must be at least 1"
DELAYS = "delays must satisfy 0 <= base_delay <= max_delay and retry_after_cap >= 0"


@pytest.mark.parametrize("knobs,message", [
    ({"isolate_after": 0}, COUNTS), ({"max_attempts": 0}, COUNTS), ({"window": 0}, COUNTS),
    ({"deescalate_after": 0}, COUNTS),
    ({"base_delay": -0.1}, DELAYS), ({"base_delay": 2.0, "max_delay": 1.0}, DELAYS), ({"retry_after_cap": -1}, DELAYS),
    ({"jitter": -0.01}, "jitter is a fraction in 0..1"), ({"jitter": 1.01}, "jitter is a fraction in 0..1"),
    ({"escalate_below": -0.01}, "escalate_below is a health in 0..1"),
    ({"escalate_below": 1.01}, "escalate_below is a health in 0..1"),
], ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else "msg")
def test_a_policy_out_of_range_is_refused_saying_which_rule(knobs, message):
    with pytest.raises(ValueError) as caught:
        RecoveryPolicy(**knobs)
    assert str(caught.value) == message


def test_the_edges_of_every_policy_range_are_allowed():
    RecoveryPolicy(isolate_after=1, max_attempts=1, window=1, deescalate_after=1, base_delay=0.0, max_delay=0.0,
                   retry_after_cap=0.0, jitter=0.0, escalate_below=0.0)
    RecoveryPolicy(base_delay=5.0, max_delay=5.0, jitter=1.0, escalate_below=1.0)


@pytest.mark.parametrize("error,action", [
    (E.TransientError("t"), RETRY), (E.GitTimeoutError("t"), RETRY), (E.RateLimitedError("t"), RETRY),
    (E.ClusterUnreachableError("t"), RETRY), (E.GitUnreachableError("t"), RETRY),
    (E.PermanentError("p"), FAIL), (E.GitAuthError("p"), FAIL), (E.InventoryError("p"), FAIL),
    (E.HedgehogSyncError("base"), FAIL), (ValueError("bug"), FAIL), (TimeoutError("os"), FAIL),
], ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v)
def test_action_for(error, action):
    assert action_for(error) == action
    assert (RETRY, FAIL) == ("retry", "fail")


NO_JITTER = RecoveryPolicy(base_delay=1.0, max_delay=60.0, max_attempts=100, jitter=0.0)


@pytest.mark.parametrize("attempt,delay", [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (99, 60.0)])
def test_backoff_doubles_up_to_max_delay(attempt, delay):
    assert retry_delay(E.TransientError("t"), attempt, NO_JITTER) == delay


def test_backoff_from_another_base_and_a_huge_attempt():
    policy = RecoveryPolicy(base_delay=0.5, max_delay=10.0, max_attempts=10 ** 6, jitter=0.0)
    assert [retry_delay(E.TransientError("t"), a, policy) for a in (1, 2, 3, 5, 6)] == [0.5, 1.0, 2.0, 8.0, 10.0]
    assert retry_delay(E.TransientError("t"), 10 ** 5, policy) == 10.0  # no overflow: 2 ** 99999 is never built


def test_without_an_upper_bound_the_backoff_stops_doubling_at_2_to_the_64():
    """max_delay may be infinite: the exponent is capped so the delay stays a finite float (no OverflowError)."""
    policy = RecoveryPolicy(base_delay=1.0, max_delay=math.inf, max_attempts=10 ** 6, jitter=0.0)
    assert retry_delay(E.TransientError("t"), 65, policy) == 2.0 ** 64
    assert retry_delay(E.TransientError("t"), 66, policy) == 2.0 ** 64
    assert retry_delay(E.TransientError("t"), 5000, policy) == 18446744073709551616.0


def test_jitter_takes_off_a_random_fraction_of_the_delay():
    # random.Random(0).random() is 0.8444218515250481: the first delay loses 0.5 x 0.844... of itself
    delay = retry_delay(E.TransientError("t"), 2, RecoveryPolicy(jitter=0.5), random.Random(0))
    assert delay == pytest.approx(2.0 * (1 - 0.5 * 0.8444218515250481), abs=1e-12)
    delay = retry_delay(E.TransientError("t"), 1, RecoveryPolicy(jitter=1.0), random.Random(0))
    assert delay == pytest.approx(1.0 - 0.8444218515250481, abs=1e-12)
    for _ in range(20):  # without an rng of its own: within [half, whole] of the backoff
        assert 1.0 <= retry_delay(E.TransientError("t"), 2, RecoveryPolicy(jitter=0.5)) <= 2.0


@pytest.mark.parametrize("asked,delay", [
    (30.0, 30.0), (30, 30.0), (500.0, 120.0), (0.5, 1.0), (0.0, 1.0), (-5.0, 1.0), (math.nan, 1.0),
    (math.inf, 1.0), ("30", 1.0), (None, 1.0), (120.0, 120.0),
], ids=["30", "30-int", "over-cap", "below-backoff", "zero", "negative", "nan", "inf", "text", "none", "at-cap"])
def test_retry_after_is_a_floor_capped_at_retry_after_cap(asked, delay):
    error = E.RateLimitedError("429", retry_after=asked)
    assert retry_delay(error, 1, NO_JITTER) == delay


def test_retry_after_is_honoured_past_max_delay():
    policy = RecoveryPolicy(max_delay=10.0, jitter=0.0, retry_after_cap=45.0)
    assert retry_delay(E.RateLimitedError("429", retry_after=30.0), 1, policy) == 30.0
    assert retry_delay(E.RateLimitedError("429", retry_after=60.0), 1, policy) == 45.0


def test_no_retry_for_a_permanent_error_or_after_the_last_attempt():
    assert retry_delay(E.PermanentError("p"), 1) is None
    assert retry_delay(ValueError("bug"), 1) is None
    assert retry_delay(E.TransientError("t"), 3) is None  # max_attempts 3: the third try was the last
    assert retry_delay(E.TransientError("t"), 2, RecoveryPolicy(jitter=0.0)) == 2.0
    assert retry_delay(E.TransientError("t"), 1, RecoveryPolicy(max_attempts=1)) is None
    with pytest.raises(ValueError) as caught:
        retry_delay(E.TransientError("t"), 0)
    assert str(caught.value) == "attempt counts from 1"


# --- recovery: one cycle's outcome -------------------------------------------------------------------

def test_a_cycle_result_with_an_unknown_status_is_refused():
    with pytest.raises(ValueError) as caught:
        CycleResult("f", "broken")
    assert str(caught.value) == "status must be one of ('in_sync', 'drifted', 'unknown'), not 'broken'"


def test_a_cycle_failed_when_any_side_or_the_comparison_failed():
    assert CycleResult("f", "in_sync").failed is False
    assert CycleResult("f", "unknown", git_error=E.GitAuthError("g")).failed is True
    assert CycleResult("f", "unknown", cluster_error=E.ClusterAuthError("c")).failed is True
    assert CycleResult("f", "unknown", compare_error=E.HedgehogSyncError("x")).failed is True
    r = CycleResult("f", "drifted")
    assert (r.file_errors, r.drift_score, r.agents_total, r.agents_converged) == (0, 0.0, None, None)


def test_a_cycle_result_from_a_report():
    report = {"fabric": "fab-a", "status": "drifted", "score": 0.25, "errors": [
        {"source": "a.yaml", "message": "bad"}, {"source": "b.yaml", "message": "bad"},
        {"source": "cluster:vpcs", "message": "x"}, {"source": "git", "message": "y", "error_class": "GitAuthError"},
        {"message": "no source"}]}
    agents = [{"apiVersion": "agent.githedgehog.com/v1beta1", "kind": "Agent",
               "metadata": {"name": "s1", "generation": 2}, "status": {"lastAppliedGen": 2}},
              {"apiVersion": "agent.githedgehog.com/v1beta1", "kind": "Agent",
               "metadata": {"name": "s2", "generation": 2}, "status": {"lastAppliedGen": 1}}]
    error = E.ClusterTimeoutError("t")
    r = CycleResult.from_report(report, cluster_error=error, live_objects=agents)
    assert (r.fabric, r.status, r.file_errors, r.drift_score, r.agents_total, r.agents_converged) == (
        "fab-a", "drifted", 3, 0.25, 2, 1)
    assert r.cluster_error is error and r.git_error is None and r.compare_error is None
    c = CycleResult.from_report({"fabric": "f", "status": "in_sync", "score": None},
                                git_error=E.GitAuthError("g"), compare_error=E.HedgehogSyncError("c"))
    assert (c.file_errors, c.drift_score, c.agents_total, c.agents_converged) == (0, 0.0, None, None)
    assert type(c.git_error).__name__ == "GitAuthError" and str(c.compare_error) == "c"
    assert CycleResult.from_report({"fabric": "f", "status": "in_sync"}, live_objects=[]).agents_total == 0


def test_an_alert_as_a_dict():
    assert Alert("isolated", "f", "error", "m", AT, "GitAuthError", 0.3).to_dict() == {
        "kind": "isolated", "fabric": "f", "severity": "error", "message": "m", "at": AT,
        "error_class": "GitAuthError", "health": 0.3}
    assert Alert("restored", "f", "info", "m", AT).to_dict()["error_class"] is None


# --- recovery: folding cycles into the record ------------------------------------------------------

def failed(fabric="fab-a", error=None):
    return CycleResult(fabric, "unknown", git_error=error or E.GitUnreachableError("git.example.com: refused"))


def test_five_failed_cycles_isolate_once_with_the_error_named():
    record, policy = FabricHealthRecord(), RecoveryPolicy()
    for n in range(1, 5):
        record, alerts = record_cycle(record, failed(), NOW, policy)
        assert alerts[:0] == [] and not record.isolated and record.consecutive_failures == n
    assert (record.total_cycles, record.failed_cycles, record.recent_failed) == (4, 4, (True,) * 4)
    assert (record.last_status, record.last_error_class, record.last_error) == (
        "unknown", "GitUnreachableError", "git.example.com: refused")
    assert record.cluster_reachable is True and record.last_cycle_at == AT
    record, alerts = record_cycle(record, failed(), NOW, policy)
    assert record.isolated and record.isolated_since == AT
    isolated = [a for a in alerts if a.kind == "isolated"]
    assert [a.to_dict() for a in isolated] == [{
        "kind": "isolated", "fabric": "fab-a", "severity": "error",
        "message": "fab-a: isolated after 5 failed cycles in a row; re-probed slowly until one succeeds, or at once "
                   "when its settings change. Last error: GitUnreachableError: git.example.com: refused",
        "at": AT, "error_class": "GitUnreachableError", "health": record_health(record)}]
    record, alerts = record_cycle(record, failed(), NOW + timedelta(minutes=1), policy)
    assert [a.kind for a in alerts if a.kind == "isolated"] == [] and record.isolated_since == AT


def record_health(record):
    return health_score(record, NOW)


def test_a_good_cycle_restores_an_isolated_fabric_and_tells_since_when():
    record = FabricHealthRecord(consecutive_failures=7, isolated=True, isolated_since="2026-11-28T10:00:00Z",
                                total_cycles=7, failed_cycles=7, recent_failed=(True,) * 7,
                                last_error_class="GitAuthError", last_error="denied", last_status="unknown")
    outcome = CycleResult("fab-a", "drifted", file_errors=2, drift_score=0.3, agents_total=4, agents_converged=3)
    new, alerts = record_cycle(record, outcome, NOW)
    assert (new.isolated, new.isolated_since, new.consecutive_failures, new.last_status, new.last_good_sync) == (
        False, None, 0, "drifted", AT)
    assert (new.file_errors, new.drift_score, new.agents_total, new.agents_converged) == (2, 0.3, 4, 3)
    assert (new.last_error_class, new.last_error, new.cluster_reachable) == (None, None, True)
    assert (new.total_cycles, new.failed_cycles, new.recent_failed) == (8, 7, (True,) * 7 + (False,))
    restored = [a for a in alerts if a.kind == "restored"]
    assert len(restored) == 1
    assert (restored[0].severity, restored[0].message, restored[0].at, restored[0].error_class) == (
        "info", "fab-a: restored after 7 failed cycles (isolated since 2026-11-28T10:00:00Z); back on its normal "
                "schedule.", AT, None)
    assert restored[0].health == health_score(new, NOW)


def test_a_partial_cycle_ends_the_streak_but_is_no_good_sync():
    record = FabricHealthRecord(consecutive_failures=2, last_good_sync="2026-11-27T12:00:00Z")
    new, _ = record_cycle(record, CycleResult("f", "unknown"), NOW)
    assert (new.consecutive_failures, new.last_status, new.last_good_sync) == (0, "unknown", "2026-11-27T12:00:00Z")


def test_the_primary_error_is_a_permanent_one_then_git_before_cluster():
    both_transient = CycleResult("f", "unknown", git_error=E.GitTimeoutError("g"),
                                 cluster_error=E.ClusterTimeoutError("c"))
    new, _ = record_cycle(FabricHealthRecord(), both_transient, NOW)
    assert (new.last_error_class, new.last_error, new.cluster_reachable) == ("GitTimeoutError", "g", False)
    permanent_second = CycleResult("f", "unknown", git_error=E.GitTimeoutError("g"),
                                   cluster_error=E.ClusterAuthError("c"))
    new, _ = record_cycle(FabricHealthRecord(), permanent_second, NOW)
    assert (new.last_error_class, new.last_error) == ("ClusterAuthError", "c")
    compare = CycleResult("f", "unknown", compare_error=E.InvalidContentError("x"))
    new, _ = record_cycle(FabricHealthRecord(), compare, NOW)
    assert (new.last_error_class, new.last_error, new.cluster_reachable) == ("InvalidContentError", "x", True)


@pytest.mark.parametrize("length,kept", [(300, 300), (301, 300), (1000, 300)])
def test_a_long_error_is_cut_to_300_characters(length, kept):
    new, _ = record_cycle(FabricHealthRecord(), failed(error=E.GitAuthError("e" * length)), NOW)
    assert len(new.last_error) == kept
    if length > 300:
        assert new.last_error == "e" * 297 + "..."
    else:
        assert new.last_error == "e" * 300


def test_escalation_is_raised_once_and_cleared_after_healthy_cycles():
    policy = RecoveryPolicy(isolate_after=100, deescalate_after=2)
    record = FabricHealthRecord()
    fail = failed(error=E.ClusterAuthError("401 Unauthorized"))
    escalations = []
    for _ in range(4):
        record, alerts = record_cycle(record, fail, NOW, policy)
        escalations += [a for a in alerts if a.kind == "escalated"]
    assert len(escalations) == 1 and record.escalated
    (first,) = escalations
    assert first.severity == "warning" and first.error_class == "ClusterAuthError"
    assert first.message == (f"fab-a: health {first.health:.2f} fell below 0.5; checked one priority class higher "
                             "until it recovers. Last error: ClusterAuthError: 401 Unauthorized")
    assert first.health < 0.5
    good = CycleResult("fab-a", "in_sync", agents_total=0)
    record = FabricHealthRecord(escalated=True, escalated_since=AT, last_good_sync=AT, recent_failed=(False,) * 4,
                                total_cycles=4, last_status="in_sync")
    record, alerts = record_cycle(record, good, NOW, policy)
    assert alerts == [] and record.escalated and record.healthy_streak == 1
    record, alerts = record_cycle(record, good, NOW, policy)
    assert not record.escalated and record.escalated_since is None and record.healthy_streak == 2
    (cleared,) = alerts
    assert (cleared.kind, cleared.severity, cleared.error_class, cleared.health) == ("deescalated", "info", None, 1.0)
    assert cleared.message == "fab-a: health 1.00 at or above 0.5 for 2 cycles; escalation cleared."


def test_a_failed_cycle_never_counts_toward_clearing_and_resets_the_streak():
    policy = RecoveryPolicy(escalate_below=0.0, isolate_after=100)
    record = FabricHealthRecord(healthy_streak=2, escalated=True)
    new, alerts = record_cycle(record, failed(), NOW, policy)
    assert new.healthy_streak == 0 and new.escalated and alerts == []
    new, _ = record_cycle(FabricHealthRecord(healthy_streak=2), CycleResult("f", "in_sync"), NOW, policy)
    assert new.healthy_streak == 3


def test_a_health_exactly_at_the_threshold_is_healthy():
    policy = RecoveryPolicy(escalate_below=0.82, isolate_after=100)
    new, alerts = record_cycle(FabricHealthRecord(), CycleResult("f", "unknown"), NOW, policy)
    # a partial cycle of a fresh fabric: 0.25 x 0.5 + 0.2 + 0.2 x 0.1 + 0.15 + 0.1 + 0.1 = 0.695 < 0.82
    assert new.escalated and alerts[0].health == 0.695 and alerts[0].message.startswith(
        "f: health 0.69 fell below 0.82; checked one priority class higher until it recovers.")
    assert alerts[0].message.endswith("until it recovers.")  # no error: nothing appended
    policy = RecoveryPolicy(escalate_below=0.695, isolate_after=100)
    new, alerts = record_cycle(FabricHealthRecord(), CycleResult("f", "unknown"), NOW, policy)
    assert not new.escalated and alerts == [] and new.healthy_streak == 1


def test_the_failure_window_keeps_the_last_cycles():
    policy = RecoveryPolicy(window=3, isolate_after=100)
    record = FabricHealthRecord(recent_failed=(True, True, False))
    new, _ = record_cycle(record, CycleResult("f", "in_sync"), NOW, policy)
    assert new.recent_failed == (True, False, False)


def test_a_retried_run_of_the_same_cycle_replaces_its_outcome():
    policy = RecoveryPolicy(isolate_after=2)
    record, _ = record_cycle(FabricHealthRecord(), failed(), NOW, policy, cycle_id="run-1", fingerprint="fp1")
    assert (record.last_cycle_id, record.config_fingerprint, record.consecutive_failures) == ("run-1", "fp1", 1)
    again, alerts = record_cycle(record, failed(), NOW, policy, cycle_id="run-1")
    assert (again.total_cycles, again.failed_cycles, again.consecutive_failures, again.recent_failed) == (
        1, 1, 1, (True,))
    assert not again.isolated and [a for a in alerts if a.kind == "isolated"] == []
    assert again.config_fingerprint == "fp1" and again.last_cycle_id == "run-1"
    fixed, _ = record_cycle(record, CycleResult("fab-a", "in_sync"), NOW, policy, cycle_id="run-1")
    assert (fixed.total_cycles, fixed.failed_cycles, fixed.consecutive_failures, fixed.recent_failed) == (
        1, 0, 0, (False,))
    back, _ = record_cycle(fixed, failed(), NOW, policy, cycle_id="run-1")
    assert (back.failed_cycles, back.consecutive_failures, back.healthy_streak) == (1, 1, 0)
    nxt, alerts = record_cycle(record, failed(), NOW, policy, cycle_id="run-2")
    assert (nxt.total_cycles, nxt.consecutive_failures, nxt.isolated, nxt.last_cycle_id) == (2, 2, True, "run-2")
    assert [a.kind for a in alerts][:1] == ["isolated"]


def test_a_retried_good_cycle_does_not_count_twice_toward_clearing():
    policy = RecoveryPolicy(deescalate_after=3)
    record = FabricHealthRecord(escalated=True, healthy_streak=1, last_cycle_id="r", recent_failed=(False,),
                                total_cycles=1, last_good_sync=AT, last_status="in_sync")
    new, alerts = record_cycle(record, CycleResult("f", "in_sync"), NOW, policy, cycle_id="r")
    assert new.healthy_streak == 1 and new.escalated and alerts == []
    first, _ = record_cycle(FabricHealthRecord(last_cycle_id="r"), CycleResult("f", "in_sync"), NOW, policy,
                            cycle_id="r")  # no cycle in the window yet: not a repeat
    assert (first.total_cycles, first.healthy_streak) == (1, 1)
    zero = FabricHealthRecord(healthy_streak=0, last_cycle_id="r", recent_failed=(False,), total_cycles=1)
    new, _ = record_cycle(zero, CycleResult("f", "in_sync"), NOW, policy, cycle_id="r")
    assert new.healthy_streak == 1


def test_the_cycle_id_and_fingerprint_are_kept_when_not_given():
    record = FabricHealthRecord(last_cycle_id="old", config_fingerprint="fp")
    new, _ = record_cycle(record, CycleResult("f", "in_sync"), NOW)
    assert (new.last_cycle_id, new.config_fingerprint, new.total_cycles) == ("old", "fp", 1)
    new, _ = record_cycle(record, CycleResult("f", "in_sync"), NOW, cycle_id="new", fingerprint="fp2")
    assert (new.last_cycle_id, new.config_fingerprint) == ("new", "fp2")


# --- priority ----------------------------------------------------------------------------------------

def test_an_unknown_priority_is_refused_listing_the_known_ones():
    with pytest.raises(ValueError) as caught:
        run_priority_tag("urgent")
    assert str(caught.value) == "unknown priority 'urgent'; expected one of critical, high, medium, low, maintenance"
    with pytest.raises(ValueError):
        effective_priority("urgent", 1.0, False)


@pytest.mark.parametrize("priority,tag", [("critical", 2), ("high", 1), ("medium", 0), ("low", -1),
                                          ("maintenance", -2)])
def test_run_priority_tag(priority, tag):
    assert run_priority_tag(priority) == tag


@pytest.mark.parametrize("configured,health,isolated,escalated,effective", [
    ("medium", 1.0, False, False, "medium"), ("medium", 0.5, False, False, "medium"),
    ("medium", 0.49, False, False, "high"), ("medium", 1.0, False, True, "high"),
    ("high", 0.1, False, False, "critical"), ("critical", 0.1, False, False, "critical"),
    ("maintenance", 0.1, False, False, "low"), ("low", 1.0, False, True, "medium"),
    ("medium", 0.1, True, True, "medium"),
])
def test_effective_priority(configured, health, isolated, escalated, effective):
    assert effective_priority(configured, health, isolated, escalated) == effective


@pytest.mark.parametrize("configured,health,isolated,escalated,expected", [
    ("critical", 1.0, False, False, ("critical", "critical", 30, 2, False, False)),
    ("high", 1.0, False, False, ("high", "high", 60, 1, False, False)),
    ("medium", 1.0, False, False, ("medium", "medium", 60, 0, False, False)),
    ("low", 1.0, False, False, ("low", "low", 300, -1, False, False)),
    ("maintenance", 1.0, False, False, ("maintenance", "maintenance", 3600, -2, False, False)),
    ("low", 0.2, False, False, ("low", "medium", 60, 0, False, True)),
    ("critical", 0.2, False, True, ("critical", "critical", 30, 2, False, False)),
    ("critical", 0.2, True, False, ("critical", "critical", 30, -2, True, False)),
    ("high", 1.0, True, True, ("high", "high", 60, -2, True, False)),
    ("medium", 0.2, True, True, ("medium", "medium", 3600, -2, True, False)),
    ("low", 1.0, True, False, ("low", "low", 3600, -2, True, False)),
])
def test_schedule_for(configured, health, isolated, escalated, expected):
    s = schedule_for(configured, health, isolated, escalated)
    assert (s.configured, s.priority, s.interval_seconds, s.run_priority, s.isolated, s.escalated) == expected


@pytest.mark.parametrize("ago,wait", [(None, 0.0), (0, 55.0), (30, 25.0), (54, 1.0), (55, 0.0), (600, 0.0),
                                      (-59, 114.0), (-60, 115.0), (-61, 0.0)])
def test_seconds_until_due_with_a_60_second_interval_and_5_seconds_slack(ago, wait):
    last = None if ago is None else NOW - timedelta(seconds=ago)
    assert seconds_until_due(last, 60, NOW) == wait
    assert is_due(last, 60, NOW) is (wait == 0.0)


def test_the_slack_is_a_parameter():
    assert seconds_until_due(NOW - timedelta(seconds=30), 60, NOW, slack_seconds=0) == 30.0
    assert is_due(NOW - timedelta(seconds=58), 60, NOW, slack_seconds=2) is True
    assert is_due(NOW - timedelta(seconds=57), 60, NOW, slack_seconds=2) is False


def test_plan_tick_decides_every_fabric_and_orders_by_run_priority_then_name():
    fabrics = [
        FabricPlanInput("m-due", last_checked=NOW - timedelta(seconds=100)),
        FabricPlanInput("m-fresh", last_checked=NOW - timedelta(seconds=10)),
        FabricPlanInput("c-new", priority="critical"),
        FabricPlanInput("a-off", enabled=False, priority="critical"),
        FabricPlanInput("b-paused", paused=True, last_checked=NOW - timedelta(seconds=100)),
        FabricPlanInput("l-sick", priority="low", health=0.1, last_checked=NOW - timedelta(seconds=100)),
        FabricPlanInput("h-iso", priority="high", isolated=True, last_checked=NOW - timedelta(seconds=100)),
    ]
    planned = plan_tick(fabrics, NOW)
    assert [(p.name, p.due, p.reason, p.seconds_until_due, p.run_priority) for p in planned] == [
        ("a-off", False, "disabled", None, 2),
        ("c-new", True, "never checked", 0.0, 2),
        ("b-paused", False, "paused", None, 0),
        ("l-sick", True, "due", 0.0, 0),
        ("m-due", True, "due", 0.0, 0),
        ("m-fresh", False, "not due", 45.0, 0),
        ("h-iso", True, "due", 0.0, -2),
    ]
    assert due_by_run_priority(planned) == {2: ["c-new"], 0: ["l-sick", "m-due"], -2: ["h-iso"]}
    assert due_by_run_priority(reversed(planned)) == {2: ["c-new"], 0: ["l-sick", "m-due"], -2: ["h-iso"]}
    assert list(due_by_run_priority(reversed(planned))) == [2, 0, -2]
    with pytest.raises(ValueError) as caught:
        plan_tick([FabricPlanInput("a"), FabricPlanInput("b"), FabricPlanInput("a")], NOW)
    assert str(caught.value) == "fabric 'a' appears twice in one plan"
    assert plan_tick([FabricPlanInput("x", last_checked=NOW - timedelta(seconds=58))], NOW,
                     slack_seconds=2)[0].reason == "due"


def test_skipped_fabrics_are_grouped_by_why_in_a_fixed_order():
    fabrics = [
        FabricPlanInput("z-off", enabled=False), FabricPlanInput("a-off", enabled=False),
        FabricPlanInput("p", paused=True),
        FabricPlanInput("busy", last_checked=NOW - timedelta(seconds=100)),
        FabricPlanInput("busy-fresh", last_checked=NOW),
        FabricPlanInput("iso", priority="low", isolated=True, last_checked=NOW - timedelta(seconds=100)),
        FabricPlanInput("fresh", last_checked=NOW), FabricPlanInput("due", last_checked=NOW - timedelta(seconds=100)),
    ]
    groups = skipped_by_reason(plan_tick(fabrics, NOW), in_flight=["busy", "busy-fresh", "z-off"])
    assert groups == {"disabled": ["a-off", "z-off"], "paused": ["p"], "in flight": ["busy", "busy-fresh"],
                      "isolated": ["iso"], "not due": ["fresh"]}
    assert list(groups) == ["disabled", "paused", "in flight", "isolated", "not due"]
    assert skipped_by_reason(plan_tick([FabricPlanInput("d")], NOW)) == {}
    assert describe_skipped(groups) == ("skipped 7 fabrics: disabled 2 (a-off, z-off); paused 1 (p); in flight 2 "
                                        "(busy, busy-fresh); isolated 1 (iso); not due 1 (fresh)")


def test_describe_names_and_skipped_stay_short():
    names = [f"f{i}" for i in range(13)]
    assert describe_names(names) == "f0, f1, f2, f3, f4, f5, f6, f7, f8, f9 and 3 more"
    assert describe_names(names[:10]) == "f0, f1, f2, f3, f4, f5, f6, f7, f8, f9"
    assert describe_names(names[:3], limit=2) == "f0, f1 and 1 more"
    assert describe_names([]) == ""
    assert describe_skipped({}) == "skipped no fabric"
    assert describe_skipped({"paused": []}) == "skipped no fabric"
    assert describe_skipped({"paused": ["a"]}) == "skipped 1 fabric: paused 1 (a)"
    assert describe_skipped({"not due": names[:3], "paused": []}, limit=2) == (
        "skipped 3 fabrics: not due 3 (f0, f1 and 1 more)")
    assert describe_skipped({"not due": tuple(names)}) == (
        "skipped 13 fabrics: not due 13 (f0, f1, f2, f3, f4, f5, f6, f7, f8, f9 and 3 more)")


# --- health ------------------------------------------------------------------------------------------

def test_the_weights_sum_to_one():
    assert HEALTH_WEIGHTS == {"last_cycle": 0.25, "cluster": 0.20, "last_good_sync": 0.20, "failure_rate": 0.15,
                              "file_errors": 0.10, "drift": 0.10}


@pytest.mark.parametrize("value,moment", [
    (None, None), ("2026-11-28T12:00:00Z", NOW), ("2026-11-28T12:00:00", NOW),
    ("2026-11-28T13:00:00+01:00", NOW),
], ids=["none", "utc-z", "naive", "offset"])
def test_parse_time(value, moment):
    assert parse_time(value) == moment
    if moment is not None:
        assert parse_time(value).utcoffset() is not None


@pytest.mark.parametrize("record,factor", [
    (FabricHealthRecord(), 1.0), (FabricHealthRecord(last_status="in_sync"), 1.0),
    (FabricHealthRecord(last_status="drifted"), 1.0), (FabricHealthRecord(last_status="unknown"), 0.5),
    (FabricHealthRecord(consecutive_failures=1, last_status="unknown"), 0.0),
    (FabricHealthRecord(consecutive_failures=1, last_status="in_sync"), 0.0),
], ids=["fresh", "in_sync", "drifted", "partial", "failed", "failed-after-sync"])
def test_last_cycle_factor(record, factor):
    assert last_cycle_factor(record) == factor


@pytest.mark.parametrize("reachable,total,converged,factor", [
    (False, 4, 4, 0.0), (None, None, None, 1.0), (True, None, None, 1.0), (True, 0, 0, 1.0), (True, 4, None, 1.0),
    (True, 4, 4, 1.0), (True, 4, 1, 0.625), (True, 4, 0, 0.5), (True, 4, 6, 1.0), (True, 4, -1, 0.5),
    (None, 2, 1, 0.75),
])
def test_cluster_factor(reachable, total, converged, factor):
    record = FabricHealthRecord(cluster_reachable=reachable, agents_total=total, agents_converged=converged)
    assert cluster_factor(record) == factor


@pytest.mark.parametrize("age,factor", [
    (None, 0.1), (timedelta(0), 1.0), (timedelta(hours=1), 1.0), (timedelta(hours=1, seconds=1), 0.8),
    (timedelta(hours=6), 0.8), (timedelta(hours=6, seconds=1), 0.5), (timedelta(hours=24), 0.5),
    (timedelta(hours=24, seconds=1), 0.2), (timedelta(days=30), 0.2),
], ids=["never", "now", "1h", "1h1s", "6h", "6h1s", "24h", "24h1s", "30d"])
def test_last_good_sync_factor(age, factor):
    last = None if age is None else (NOW - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert last_good_sync_factor(FabricHealthRecord(last_good_sync=last), NOW) == factor


@pytest.mark.parametrize("window,factor", [((), 1.0), ((False,) * 4, 1.0), ((True, False, False, False), 0.5),
                                           ((True, True, False, False), 0.0), ((True,) * 3, 0.0),
                                           ((True,) + (False,) * 9, 0.8)])
def test_failure_rate_factor(window, factor):
    assert failure_rate_factor(FabricHealthRecord(recent_failed=window)) == pytest.approx(factor, abs=1e-12)


@pytest.mark.parametrize("n,factor", [(0, 1.0), (1, 0.5), (3, 0.25), (-2, 1.0)])
def test_file_errors_factor(n, factor):
    assert file_errors_factor(FabricHealthRecord(file_errors=n)) == factor


@pytest.mark.parametrize("score,factor", [(0.0, 1.0), (0.25, 0.75), (1.0, 0.0), (1.5, 0.0), (-0.5, 1.0)])
def test_drift_factor(score, factor):
    assert drift_factor(FabricHealthRecord(drift_score=score)) == factor


def test_a_fresh_fabric_scores_0_82_and_the_score_is_rounded_to_4_decimals():
    assert health_components(FabricHealthRecord(), NOW) == {
        "last_cycle": 1.0, "cluster": 1.0, "last_good_sync": 0.1, "failure_rate": 1.0, "file_errors": 1.0,
        "drift": 1.0}
    assert health_score(FabricHealthRecord(), NOW) == 0.82
    # cluster 0.5 + 0.5 x 1/3: 0.25 + 0.2 x 0.6667 + 0.2 x 0.1 + 0.15 + 0.1 + 0.1 = 0.75333...
    assert health_score(FabricHealthRecord(agents_total=3, agents_converged=1), NOW) == 0.7533
    worst = FabricHealthRecord(consecutive_failures=3, cluster_reachable=False, recent_failed=(True,) * 3,
                               file_errors=1, drift_score=1.0)
    assert health_score(worst, NOW) == 0.07  # 0.2 x 0.1 + 0.1 x 0.5
    best = FabricHealthRecord(last_good_sync=AT, last_status="in_sync", recent_failed=(False,))
    assert health_score(best, NOW) == 1.0


# --- the health record's JSON --------------------------------------------------------------------------

def test_a_record_round_trips_through_json_with_the_window_as_a_list():
    record = FabricHealthRecord(consecutive_failures=2, recent_failed=(True, False), last_status="drifted",
                                agents_total=3, agents_converged=2, drift_score=0.25, last_cycle_id="r")
    data = record.to_dict()
    assert data["recent_failed"] == [True, False] and type(data["recent_failed"]) is list
    assert data["consecutive_failures"] == 2 and data["last_cycle_id"] == "r" and len(data) == 21
    assert FabricHealthRecord.from_dict(data) == record


def test_from_dict_coerces_types_ignores_unknown_keys_and_defaults_missing_ones():
    record = FabricHealthRecord.from_dict({
        "consecutive_failures": "3", "total_cycles": 4.0, "failed_cycles": "1", "file_errors": "2",
        "healthy_streak": "5", "agents_total": "6", "agents_converged": None, "drift_score": "0.5",
        "recent_failed": [1, 0, "", "x"], "written_by": "a newer version", "last_status": None})
    assert (record.consecutive_failures, record.total_cycles, record.failed_cycles, record.file_errors,
            record.healthy_streak) == (3, 4, 1, 2, 5)
    assert (record.agents_total, record.agents_converged, record.drift_score) == (6, None, 0.5)
    assert record.recent_failed == (True, False, False, True)
    assert FabricHealthRecord.from_dict({}) == FabricHealthRecord()


@pytest.mark.parametrize("data,message", [
    ({"consecutive_failures": "x"},
     "stored fabric health record is malformed: invalid literal for int() with base 10: 'x'"),
    ({"healthy_streak": None},
     "stored fabric health record is malformed: int() argument must be a string, a bytes-like object or a real "
     "number, not 'NoneType'"),
    ({"agents_converged": "two"},
     "stored fabric health record is malformed: invalid literal for int() with base 10: 'two'"),
    ({"drift_score": "much"}, "stored fabric health record is malformed: could not convert string to float: 'much'"),
    ({"recent_failed": 3}, "stored fabric health record is malformed: 'int' object is not iterable"),
    ({"last_status": "weird"}, "stored fabric health record has unknown status 'weird'"),
], ids=["int", "none", "agents", "float", "window", "status"])
def test_a_malformed_record_says_what_is_wrong(data, message):
    with pytest.raises(ValueError) as caught:
        FabricHealthRecord.from_dict(data)
    assert str(caught.value) == message


def test_failure_rate_of_the_window():
    assert FabricHealthRecord().failure_rate == 0.0
    assert FabricHealthRecord(recent_failed=(True, False, False, False)).failure_rate == 0.25


# --- batching ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("metrics,estimate", [
    (None, None), ({}, None), ({"recent": None}, None), ({"recent": []}, None),
    ({"recent": [{"checked": 9, "duration_s": 90.0}]}, None),
    ({"recent": [{"checked": 10, "duration_s": 50.0}]}, 5.0),
    ({"recent": [{"checked": 10, "duration_s": 50.0}, {"checked": 30, "duration_s": 30.0},
                 {"checked": 1, "duration_s": 500.0}]}, 2.0),
], ids=["none", "empty", "recent-none", "recent-empty", "too-small", "one", "mixed"])
def test_seconds_per_fabric_counts_runs_of_ten_fabrics_or_more(metrics, estimate):
    assert seconds_per_fabric(metrics) == estimate


def test_a_range_never_starts_or_ends_on_a_fill_key():
    keys = list("abcdefgh")
    assert plan_batches(keys, ["b", "e"], 10, fill=["a", "c", "d", "f", "g"]) == [("b", "e")]
    assert plan_batches(keys, ["a", "b"], 10, fill=["a", "c"]) == [("a", "b")]  # wanted wins over fill
    assert plan_batches(keys, ["a", "d"], 3, fill=["b", "c"]) == [("a", "a"), ("d", "d")]
    assert plan_batches(keys, ["a", "c", "d"], 2, fill=["b"]) == [("a", "a"), ("c", "d")]
    assert plan_batches(keys, ["a", "h"], 10, fill=["b", "c"]) == [("a", "a"), ("h", "h")]
    assert plan_batches(keys, [], 3) == []
    assert plan_batches(keys, ["a", "b", "c"], 1) == [("a", "a"), ("b", "b"), ("c", "c")]


# --- errors, model, kinds --------------------------------------------------------------------------------

@pytest.mark.parametrize("cls,transient,bases", [
    (E.HedgehogSyncError, False, (Exception,)), (E.TransientError, True, (E.HedgehogSyncError,)),
    (E.PermanentError, False, (E.HedgehogSyncError,)), (E.InventoryError, False, (E.PermanentError,)),
    (E.GitUnreachableError, True, (E.GitError, E.TransientError)),
    (E.GitTimeoutError, True, (E.GitError, E.TransientError)),
    (E.GitAuthError, False, (E.GitError, E.PermanentError)), (E.GitRefError, False, (E.GitError, E.PermanentError)),
    (E.GitUrlRefused, False, (E.GitError, E.PermanentError)),
    (E.ClusterUnreachableError, True, (E.ClusterError, E.TransientError)),
    (E.ClusterTimeoutError, True, (E.ClusterError, E.TransientError)),
    (E.RateLimitedError, True, (E.ClusterError, E.TransientError)),
    (E.ClusterAuthError, False, (E.ClusterError, E.PermanentError)),
    (E.ClusterConfigError, False, (E.ClusterError, E.PermanentError)),
    (E.InvalidContentError, False, (E.PermanentError,)), (E.BudgetExceededError, False, (E.PermanentError,)),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_error_classes(cls, transient, bases):
    assert cls.transient is transient and all(issubclass(cls, b) for b in bases)


def test_transient_and_budget_errors_keep_their_extras():
    assert E.TransientError("t").retry_after is None and str(E.TransientError("t", 3.0)) == "t"
    assert E.TransientError("t", retry_after=3.0).retry_after == 3.0
    error = E.BudgetExceededError("over 10 bytes", budget="kubernetes.max_response_bytes")
    assert (str(error), error.budget) == ("over 10 bytes", "kubernetes.max_response_bytes")
    assert E.BudgetExceededError("m").budget == ""


@pytest.mark.parametrize("status,cls", [(429, E.RateLimitedError), (401, E.ClusterAuthError),
                                        (403, E.ClusterAuthError), (408, E.ClusterTimeoutError),
                                        (504, E.ClusterTimeoutError), (500, E.ClusterUnreachableError),
                                        (599, E.ClusterUnreachableError), (499, E.PermanentError),
                                        (400, E.PermanentError), (404, E.PermanentError)])
def test_error_for_http_status_without_retry_after(status, cls):
    error = E.error_for_http_status(status, "m")
    assert type(error) is cls and str(error) == "m" and getattr(error, "retry_after", None) is None


@pytest.mark.parametrize("obj,default,rid", [
    ({"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": {"name": "v", "namespace": "n"}},
     "default", ResourceId("vpc.githedgehog.com", "VPC", "n", "v")),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "default",
     ResourceId("", "ConfigMap", "default", "c")),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": None}}, "other",
     ResourceId("", "ConfigMap", "other", "c")),
    ({"metadata": "x"}, "default", ResourceId("", "", "default", "")),
    ({}, "default", ResourceId("", "", "default", "")),
    ({"apiVersion": 7, "kind": 8, "metadata": {"name": 9, "namespace": ""}}, "d", ResourceId("", "8", "d", "9")),
], ids=["namespaced", "core", "custom-default", "bad-metadata", "empty", "odd-types"])
def test_resource_id_of(obj, default, rid):
    assert ResourceId.of(obj, default) == rid


def test_resource_id_text_and_order():
    assert str(ResourceId("vpc.githedgehog.com", "VPC", "default", "vpc-1")) == "VPC/default/vpc-1 (vpc.githedgehog.com)"
    assert ResourceId("a", "K", "n", "x") < ResourceId("b", "A", "a", "a")
    assert ResourceId.of({"metadata": {"name": "x"}}).namespace == "default"


def test_snapshot_defaults():
    live = LiveState("https://k")
    assert (live.server, live.objects, live.findings, live.complete) == ("https://k", [], [], True)
    desired = DesiredState("abc", "main")
    assert (desired.objects, desired.sources, desired.findings, desired.commit_message, desired.commit_author) == (
        [], [], [], "", "")


def test_kinds():
    assert ResourceKind("vpc.githedgehog.com", "v1beta1", "VPC", "vpcs").api_version == "vpc.githedgehog.com/v1beta1"
    assert split_api_version("vpc.githedgehog.com/v1beta1") == ("vpc.githedgehog.com", "v1beta1")
    assert split_api_version("v1") == ("", "v1") and split_api_version("a/b/c") == ("a/b", "c")
    assert kind_for("wiring.githedgehog.com", "Switch").plural == "switches"
    assert kind_for("wiring.githedgehog.com", "VPC") is None
    assert [k.kind for k in KINDS if not k.authored] == ["Agent", "Catalog", "DHCPSubnet", "VPCInfo", "GatewayAgent"]
    assert kind_for("gateway.githedgehog.com", "Gateway").api_version == "gateway.githedgehog.com/v1alpha1"
