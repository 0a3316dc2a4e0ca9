import json
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from hedgehog_sync.domain.errors import (
    ClusterAuthError, ClusterConfigError, ClusterTimeoutError, ClusterUnreachableError, GitAuthError,
    GitRefError, GitTimeoutError, GitUnreachableError, GitUrlRefused, HedgehogSyncError,
    InvalidContentError, InventoryError, PermanentError, RateLimitedError, TransientError,
    error_for_http_status,
)
from hedgehog_sync.domain.recovery import (
    ALERT_KINDS, ALERT_SEVERITIES, DEESCALATED, ESCALATED, FAIL, ISOLATED, RESTORED, RETRY,
    CycleResult, FabricHealthRecord, RecoveryPolicy, action_for, record_cycle, retry_delay,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


# --- retry or not: by class ---------------------------------------------------------------------

@pytest.mark.parametrize("status,error_class,action", [
    (401, ClusterAuthError, FAIL),
    (403, ClusterAuthError, FAIL),
    (404, PermanentError, FAIL),
    (408, ClusterTimeoutError, RETRY),
    (409, PermanentError, FAIL),
    (410, PermanentError, FAIL),
    (429, RateLimitedError, RETRY),
    (500, ClusterUnreachableError, RETRY),
    (502, ClusterUnreachableError, RETRY),
    (503, ClusterUnreachableError, RETRY),
    (504, ClusterTimeoutError, RETRY),
])
def test_action_for_http_status(status, error_class, action):
    error = error_for_http_status(status, f"GET /apis/... answered {status}", retry_after=7.0)
    assert type(error) is error_class
    assert action_for(error) == action


@pytest.mark.parametrize("error,action", [
    (GitAuthError("git fetch was refused (credentials or host key)"), FAIL),
    (GitRefError("ref 'mian' is not a branch, tag or commit"), FAIL),
    (GitUrlRefused("git URL refused: ext:: transport"), FAIL),
    (GitUnreachableError("git fetch failed: connection reset"), RETRY),
    (GitTimeoutError("git fetch timed out"), RETRY),
    (ClusterConfigError("kubeconfig not found"), FAIL),
    (InventoryError("fabrics.yaml: not valid YAML"), FAIL),
    (InvalidContentError("file too large"), FAIL),
    (TransientError("connection reset"), RETRY),
    (HedgehogSyncError("unexpected KeyError: 'x'"), FAIL),  # a bug: retrying would hide it
    (ValueError("not ours"), FAIL),
    (TimeoutError("a builtin that escaped a connector"), FAIL),
])
def test_action_for_error_class(error, action):
    assert action_for(error) == action


def test_action_reads_the_class_never_the_message():
    assert action_for(GitAuthError("timed out; connection reset; 503; try again")) == FAIL
    assert action_for(ClusterUnreachableError("401 Unauthorized: permission denied")) == RETRY


# --- retry delays -------------------------------------------------------------------------------

LONG = RecoveryPolicy(max_attempts=20)


def delays(error, policy, seed=7, attempts=range(1, 20)):
    rng = random.Random(seed)
    return [retry_delay(error, n, policy, rng) for n in attempts]


def test_delay_doubles_and_is_capped_without_jitter():
    policy = replace(LONG, jitter=0.0)
    assert delays(GitTimeoutError("slow"), policy, attempts=range(1, 10)) == \
        [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_jittered_delay_grows_stays_in_its_band_and_under_the_cap():
    got = delays(ClusterUnreachableError("down"), LONG)
    for attempt, delay in enumerate(got, start=1):
        backoff = min(60.0, 2.0 ** (attempt - 1))
        assert backoff * 0.5 <= delay <= backoff
    uncapped = got[:6]  # backoffs 1..32 s
    assert uncapped == sorted(uncapped)  # with jitter 0.5 the bands only touch: delays still grow
    assert max(got) <= 60.0
    assert len(set(got)) == len(got)  # jitter does vary the delays


def test_delays_are_reproducible_with_a_seed():
    assert delays(GitTimeoutError("slow"), LONG, seed=1) == delays(GitTimeoutError("slow"), LONG, seed=1)
    assert delays(GitTimeoutError("slow"), LONG, seed=1) != delays(GitTimeoutError("slow"), LONG, seed=2)


@pytest.mark.parametrize("retry_after,attempt,expected_min,expected_max", [
    (30.0, 1, 30.0, 30.0),  # the server's ask beats a 1 s backoff
    (90.0, 1, 90.0, 90.0),  # past max_delay (60) but within the cap (120)
    (500.0, 1, 120.0, 120.0),  # capped
    (0.5, 3, 2.0, 4.0),  # shorter than the backoff: backoff wins
    (0.0, 1, 0.5, 1.0),  # 0 or negative: as if not given
    (-5.0, 1, 0.5, 1.0),
    (float("inf"), 1, 0.5, 1.0),
])
def test_retry_after_is_a_floor_up_to_a_cap(retry_after, attempt, expected_min, expected_max):
    error = error_for_http_status(429, "too many requests", retry_after=retry_after)
    delay = retry_delay(error, attempt, LONG, random.Random(3))
    assert expected_min <= delay <= expected_max


def test_default_policy_allows_three_attempts():
    policy, rng = RecoveryPolicy(), random.Random(0)
    error = error_for_http_status(503, "unavailable")
    assert retry_delay(error, 1, policy, rng) is not None
    assert retry_delay(error, 2, policy, rng) is not None
    assert retry_delay(error, 3, policy, rng) is None  # the third attempt was the last
    assert retry_delay(error, 10, policy, rng) is None
    assert policy.max_retries == 2


@pytest.mark.parametrize("error", [
    error_for_http_status(401, "unauthorized"), error_for_http_status(403, "forbidden"),
    GitAuthError("refused"), GitRefError("no such ref"), GitUrlRefused("ext::"),
    HedgehogSyncError("unexpected"), ValueError("x"),
])
def test_no_delay_for_what_must_not_be_retried(error):
    assert retry_delay(error, 1, LONG, random.Random(0)) is None


def test_attempts_count_from_one():
    with pytest.raises(ValueError):
        retry_delay(GitTimeoutError("slow"), 0)


def test_huge_attempt_numbers_do_not_overflow():
    policy = RecoveryPolicy(max_attempts=10_000)
    assert retry_delay(GitTimeoutError("slow"), 5000, policy, random.Random(0)) <= 60.0


@pytest.mark.parametrize("changes", [
    {"isolate_after": 0}, {"max_attempts": 0}, {"jitter": 1.5}, {"base_delay": -1.0},
    {"base_delay": 90.0}, {"escalate_below": 2.0}, {"window": 0}, {"deescalate_after": 0},
])
def test_policy_refuses_nonsense(changes):
    with pytest.raises(ValueError):
        RecoveryPolicy(**changes)


# --- the per-fabric record ------------------------------------------------------------------------

def good(status="in_sync", **kw):
    return CycleResult("fab-east", status, **kw)


def failed(git_error=None, cluster_error=None):
    if git_error is None and cluster_error is None:
        cluster_error = ClusterUnreachableError("GET https://fab-east:6443/apis failed: connection refused")
    return CycleResult("fab-east", "unknown", git_error=git_error, cluster_error=cluster_error)


def run(cycles, record=None, policy=RecoveryPolicy(), start=NOW, step=60):
    """Record cycles one minute apart; returns the final record and the alerts of each cycle."""
    record = record or FabricHealthRecord()
    per_cycle = []
    for i, cycle in enumerate(cycles):
        record, alerts = record_cycle(record, cycle, start + timedelta(seconds=step * i), policy)
        per_cycle.append([a.kind for a in alerts])
    return record, per_cycle


def test_good_cycle():
    record, alerts = record_cycle(FabricHealthRecord(), good("drifted", file_errors=1, drift_score=0.2,
                                                             agents_total=4, agents_converged=3), NOW)
    assert alerts == []
    assert record.total_cycles == 1 and record.failed_cycles == 0 and record.consecutive_failures == 0
    assert record.last_status == "drifted" and record.cluster_reachable is True
    assert record.last_good_sync == record.last_cycle_at == "2026-11-28T12:00:00Z"
    assert (record.file_errors, record.drift_score) == (1, 0.2)
    assert (record.agents_total, record.agents_converged) == (4, 3)


def test_failed_cycle_keeps_the_last_good_observations():
    before, _ = run([good("drifted", file_errors=2, drift_score=0.4, agents_total=4, agents_converged=4)])
    after, _ = record_cycle(before, CycleResult("fab-east", "in_sync", git_error=GitAuthError("refused")),
                            NOW + timedelta(minutes=1))
    assert after.last_status == "unknown"  # a failed read is never in sync
    assert after.consecutive_failures == 1 and after.failed_cycles == 1 and after.total_cycles == 2
    assert after.cluster_reachable is True  # only Git failed
    assert (after.file_errors, after.drift_score, after.agents_total) == (2, 0.4, 4)
    assert after.last_good_sync == before.last_good_sync
    assert after.last_error_class == "GitAuthError" and after.last_error == "refused"


def test_partial_cycle_is_not_a_failure_and_not_a_good_sync():
    record, _ = run([good(), good("unknown", file_errors=3)])
    assert record.consecutive_failures == 0 and record.failed_cycles == 0
    assert record.last_status == "unknown" and record.file_errors == 3
    assert record.last_good_sync == "2026-11-28T12:00:00Z"  # the first cycle, not the partial one


@pytest.mark.parametrize("git_error,cluster_error,expected", [
    (GitTimeoutError("slow"), ClusterAuthError("403"), "ClusterAuthError"),  # a person is needed: shown first
    (GitAuthError("refused"), ClusterAuthError("403"), "GitAuthError"),
    (GitTimeoutError("slow"), ClusterUnreachableError("down"), "GitTimeoutError"),
    (None, ClusterUnreachableError("down"), "ClusterUnreachableError"),
])
def test_the_error_shown_first(git_error, cluster_error, expected):
    record, _ = record_cycle(FabricHealthRecord(), failed(git_error, cluster_error), NOW)
    assert record.last_error_class == expected


def test_isolated_after_exactly_five_failures_with_one_alert():
    record, alerts = run([good()] + [failed()] * 9)
    first_isolated = [i for i, kinds in enumerate(alerts) if ISOLATED in kinds]
    assert first_isolated == [5]  # the fifth failed cycle, and only then
    assert record.isolated and record.isolated_since == "2026-11-28T12:05:00Z"
    assert record.consecutive_failures == 9


def test_four_failures_then_success_never_isolates():
    record, alerts = run([failed()] * 4 + [good()] + [failed()] * 4)
    assert not record.isolated and not any(ISOLATED in kinds for kinds in alerts)


def test_isolate_after_is_a_policy():
    _, alerts = run([failed()] * 3, policy=RecoveryPolicy(isolate_after=2))
    assert [ISOLATED in kinds for kinds in alerts] == [False, True, False]


def test_one_good_cycle_restores_with_one_alert():
    isolated, _ = run([failed()] * 6)
    record, alerts = run([good(), good(), good()], record=isolated, start=NOW + timedelta(hours=1))
    assert [RESTORED in kinds for kinds in alerts] == [True, False, False]
    assert not record.isolated and record.isolated_since is None
    assert record.consecutive_failures == 0 and record.last_error_class is None


def test_a_partial_cycle_restores_too():
    isolated, _ = run([failed()] * 5)
    record, alerts = record_cycle(isolated, good("unknown", file_errors=1), NOW + timedelta(hours=1))
    assert not record.isolated and RESTORED in [a.kind for a in alerts]


def test_escalation_alert_once_then_cleared_once():
    history, _ = run([good()] * 3)
    record, alerts = run([failed()] * 8 + [good()] * 6, record=history, start=NOW + timedelta(minutes=3))
    escalated = [i for i, kinds in enumerate(alerts) if ESCALATED in kinds]
    cleared = [i for i, kinds in enumerate(alerts) if DEESCALATED in kinds]
    assert len(escalated) == 1 and escalated[0] < 8
    assert len(cleared) == 1 and cleared[0] == 8 + 2  # the third healthy cycle in a row
    assert not record.escalated and record.escalated_since is None


def test_a_failed_cycle_never_counts_toward_clearing_escalation():
    # cluster down, then only Git failing: health climbs back over 0.5 while the fabric still fails
    record, _ = run([good()] * 3 + [failed()] * 3 + [failed(git_error=GitAuthError("refused"))] * 4)
    assert record.escalated and record.healthy_streak == 0
    record, alerts = run([good()] * 3, record=record, start=NOW + timedelta(hours=1))
    assert [DEESCALATED in kinds for kinds in alerts] == [False, False, True]


def test_a_flapping_fabric_raises_one_escalation_not_one_per_flap():
    _, alerts = run([good()] + [failed(), good()] * 10)
    kinds = [k for cycle in alerts for k in cycle]
    assert kinds.count(ESCALATED) == 1 and kinds.count(DEESCALATED) == 0


def test_record_is_not_changed_in_place():
    record = FabricHealthRecord()
    record_cycle(record, failed(), NOW)
    assert record == FabricHealthRecord()


def test_window_is_bounded():
    record, _ = run([failed()] * 3 + [good()] * 30, policy=RecoveryPolicy(window=20))
    assert record.recent_failed == (False,) * 20 and record.failure_rate == 0.0
    assert record.total_cycles == 33 and record.failed_cycles == 3


def test_alerts_carry_class_names_and_serialize():
    error = GitAuthError("git fetch from https://***@git.example.com/netops/fabrics.git was refused")
    record, _ = run([failed(git_error=error)] * 4)
    _, alerts = record_cycle(record, failed(git_error=error), NOW + timedelta(minutes=4))
    isolated = next(a for a in alerts if a.kind == ISOLATED)
    assert isolated.fabric == "fab-east" and isolated.severity == "error"
    assert isolated.error_class == "GitAuthError" and "GitAuthError" in isolated.message
    assert 0.0 <= isolated.health <= 1.0
    data = json.loads(json.dumps(isolated.to_dict()))
    assert set(data) == {"kind", "fabric", "severity", "message", "at", "error_class", "health"}
    assert data["kind"] in ALERT_KINDS and data["severity"] in ALERT_SEVERITIES


def test_long_error_messages_are_shortened_in_alerts():
    _, alerts = record_cycle(FabricHealthRecord(), failed(git_error=GitAuthError("x" * 5000)), NOW,
                             RecoveryPolicy(isolate_after=1))
    assert all(len(a.message) < 600 for a in alerts)


# --- JSON round trip ------------------------------------------------------------------------------

def test_record_round_trips_through_json():
    record, _ = run([good("drifted", drift_score=0.3, agents_total=2, agents_converged=1)] + [failed()] * 6)
    assert record.isolated and record.escalated
    data = json.loads(json.dumps(record.to_dict()))
    assert isinstance(data["recent_failed"], list)
    assert FabricHealthRecord.from_dict(data) == record


def test_from_dict_ignores_unknown_keys_and_fills_missing_ones():
    record = FabricHealthRecord.from_dict({"consecutive_failures": 2, "added_by_a_newer_version": 1})
    assert record == FabricHealthRecord(consecutive_failures=2)
    assert FabricHealthRecord.from_dict({}) == FabricHealthRecord()


@pytest.mark.parametrize("data", [{"total_cycles": "many"}, {"recent_failed": 3}, {"last_status": "green"}])
def test_from_dict_refuses_malformed_records(data):
    with pytest.raises(ValueError, match="malformed|unknown status"):
        FabricHealthRecord.from_dict(data)


# --- from a drift report --------------------------------------------------------------------------

def test_cycle_result_from_report():
    report = {"fabric": "fab-east", "status": "unknown", "score": 0.07, "errors": [
        {"source": "git", "level": "error", "message": "refused", "error_class": "GitAuthError"},
        {"source": "vpcs/bad.yaml", "level": "error", "message": "not YAML"},
        {"source": "switches.yaml", "level": "error", "message": "no kind", "document": 2},
        {"source": "cluster:vpcs", "level": "error", "message": "list stopped at page 3"},
    ]}
    agents = [{"apiVersion": "agent.githedgehog.com/v1beta1", "kind": "Agent",
               "metadata": {"name": "leaf-1", "generation": 2}, "status": {"lastAppliedGen": 2}}]
    error = GitAuthError("refused")
    result = CycleResult.from_report(report, git_error=error, live_objects=agents)
    assert result == CycleResult("fab-east", "unknown", error, None, 2, 0.07, 1, 1)
    assert result.failed
    clean = {"fabric": "f", "status": "in_sync", "score": 0.0, "errors": []}
    assert CycleResult.from_report(clean).agents_total is None


def test_cycle_result_refuses_an_unknown_status():
    with pytest.raises(ValueError):
        CycleResult("fab-east", "green")


# --- a run retried by Dagster is the cycle it retries, not another (issue 18) --------------------------

def _fold(record, outcomes, policy=RecoveryPolicy()):
    start = NOW
    for i, (cycle_id, failed) in enumerate(outcomes):
        result = CycleResult("fab-east", "unknown", ClusterAuthError("401 Unauthorized")) if failed else \
            CycleResult("fab-east", "in_sync")
        record, _ = record_cycle(record, result, start + timedelta(seconds=i), policy, cycle_id=cycle_id)
    return record


@pytest.mark.parametrize("outcomes, failures, total, isolated", [
    # every cycle attempted three times (a run and two run retries): still five cycles to isolate
    ([(f"run-{c}", True) for c in range(4) for _ in range(3)], 4, 4, False),
    ([(f"run-{c}", True) for c in range(5) for _ in range(3)], 5, 5, True),
    # a retry that succeeds replaces its failed attempt: the streak ends, the window holds one good cycle
    ([("run-0", True), ("run-1", True), ("run-1", False)], 0, 2, False),
    # without a cycle id every fold is a cycle, as before
    ([(None, True)] * 5, 5, 5, True),
])
def test_a_run_retry_is_the_cycle_it_retries(outcomes, failures, total, isolated):
    record = _fold(FabricHealthRecord(), outcomes)
    assert (record.consecutive_failures, record.total_cycles, record.isolated) == (failures, total, isolated)
    assert record.failed_cycles == sum(record.recent_failed)


def test_the_config_fingerprint_is_kept_and_only_replaced_by_a_new_one():
    now = NOW
    record, _ = record_cycle(FabricHealthRecord(), CycleResult("fab-east", "in_sync"), now, fingerprint="abc")
    assert record.config_fingerprint == "abc"
    record, _ = record_cycle(record, CycleResult("fab-east", "in_sync"), now)
    assert record.config_fingerprint == "abc"
    assert FabricHealthRecord.from_dict(record.to_dict()) == record
