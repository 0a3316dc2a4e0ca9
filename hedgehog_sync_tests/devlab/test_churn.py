"""Demo churn, one step at a time: each step leaves the state its next sync must report, and the cycle
repeats exactly (real git repository, the official client against the devlab API server)."""

from datetime import datetime, timedelta, timezone

import git
import pytest

from hedgehog_sync.connectors.git import GitRepoCache
from hedgehog_sync.cycle import FabricReader, sync_fabric
from hedgehog_sync.devlab.churn import ACTIONS, CHURN_FABRIC, CHURN_FILE, CHURN_VPC, Churner, apply_step, plan
from hedgehog_sync.domain.inventory import load_inventory
from hedgehog_sync.state import StateStore

# What the sync after each step of the cycle reports for fab-east: (status, {(kind, name, state)}).
EXPECTED = [
    ("drifted", {("VPC", "vpc-01", "modified")}),
    ("in_sync", set()),
    ("drifted", {("VPC", CHURN_VPC, "missing")}),
    ("in_sync", set()),
    ("drifted", {("VPC", CHURN_VPC, "extra")}),
    ("in_sync", set()),
]


@pytest.fixture
def check_fabric(demo_fleet, tmp_path):
    """Sync fab-east as the schedule would and return its report."""
    fleet, _ = demo_fleet
    cfg = load_inventory(str(fleet.inventory)).by_name()[CHURN_FABRIC]
    reader = FabricReader(GitRepoCache(tmp_path / "git-cache"))
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    clock = [datetime(2026, 11, 28, 12, tzinfo=timezone.utc)]

    def check():
        clock[0] += timedelta(minutes=1)
        return sync_fabric(cfg, reader, store, now=clock[0]).report

    yield check
    reader.close()


def drift_of(report):
    return report["status"], {(r["kind"], r["name"], r["state"]) for r in report["resources"]}


def test_the_plan_alternates_drift_and_recovery_forever():
    assert [plan(i).action for i in range(8)] == [a for a, _ in ACTIONS] + [ACTIONS[0][0], ACTIONS[1][0]]
    assert [plan(i).drifted_after for i in range(6)] == [True, False] * 3
    assert plan(13) == plan(13) and plan(13).index == 13


def test_each_step_leaves_what_the_next_sync_reports_and_the_cycle_repeats(demo_fleet, check_fabric):
    fleet, _ = demo_fleet
    assert drift_of(check_fabric()) == ("in_sync", set())
    repo = git.Repo(fleet.root / "git" / CHURN_FABRIC)
    commits_before = len(list(repo.iter_commits()))
    for index in range(2 * len(ACTIONS)):
        step = plan(index)
        apply_step(fleet, step)
        status, drift = drift_of(check_fabric())
        assert (status, drift) == EXPECTED[index % len(ACTIONS)], step
        assert (status == "drifted") is step.drifted_after
    # Two commits per cycle (the VPC added, then removed), and Git ends where it started.
    assert len(list(repo.iter_commits())) == commits_before + 4
    assert not (fleet.root / "git" / CHURN_FABRIC / CHURN_FILE).exists()
    assert repo.head.commit.message.strip() == f"{CHURN_FABRIC}: remove VPC {CHURN_VPC}"


def test_a_step_run_twice_changes_nothing_more(demo_fleet, check_fabric):
    fleet, _ = demo_fleet
    repo = git.Repo(fleet.root / "git" / CHURN_FABRIC)
    apply_step(fleet, plan(2))  # commit the VPC
    head = repo.head.commit.hexsha
    assert "already has" in apply_step(fleet, plan(2))
    assert repo.head.commit.hexsha == head
    apply_step(fleet, plan(0))
    apply_step(fleet, plan(0))  # the VLAN is set from Git's value, not bumped again
    report = check_fabric()
    assert drift_of(report)[1] == {("VPC", "vpc-01", "modified"), ("VPC", CHURN_VPC, "missing")}
    (change,) = next(r for r in report["resources"] if r["name"] == "vpc-01")["changes"]
    assert change["op"] == "replace" and change["actual"] == change["desired"] + 1000


def test_the_churner_keeps_its_place_across_restarts_and_stops_without_a_step(demo_fleet):
    fleet, _ = demo_fleet
    lines = []
    first = Churner(fleet, every_seconds=3600, log=lines.append)
    assert first.next_index() == 0
    first.step_once()
    first.step_once()
    again = Churner(fleet, every_seconds=3600, log=lines.append)  # the demo restarted
    assert again.next_index() == 2
    assert "churn step 2" in again.step_once() and "drift appears" in lines[-1]
    idle = Churner(fleet, every_seconds=3600, log=lines.append).start()
    idle.stop(timeout=10)
    assert not idle._thread.is_alive() and len(lines) == 3 and idle.next_index() == 3
