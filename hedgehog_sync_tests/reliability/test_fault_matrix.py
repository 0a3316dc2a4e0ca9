"""The fault matrix (docs/reliability.md): one fault at a time against one fabric of a live fleet.

Each test asserts the report status (unknown, never a false in_sync), the error class, the retry
behaviour (how many times the failing server was asked), that the other fabrics did not notice,
that the last good report and the whole materialization history are still there, and that one
cycle after the fault is gone the fabric is back to its good report.
"""

from __future__ import annotations

import shutil
import socket

import pytest

from hedgehog_sync.domain.recovery import DEFAULT_POLICY
from hedgehog_sync_tests.reliability.conftest import (
    FAULTED, FAULTED_GIT, FAULTED_VPCS, assert_contained, assert_nothing_lost, assert_recovered,
    error_classes,
)

ATTEMPTS = DEFAULT_POLICY.max_attempts  # a transient fault is tried this many times per cycle


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Git ----------------------------------------------------------------------------------------
def test_git_unreachable_is_transient_retried_then_unknown(lab):
    before = lab.snapshot()
    entry = lab.entry()
    broken = {**entry, "git": {**entry["git"], "url": f"http://127.0.0.1:{closed_port()}/{FAULTED}.git"}}
    lab.set_entry(FAULTED, broken)
    assert lab.sync().success  # the fabric's fault is its result (unknown), not the run's
    assert_contained(lab, before, error_class="GitUnreachableError", side="git")
    assert lab.latest_metadata()["attempts"] == ATTEMPTS
    lab.set_entry(FAULTED, entry)
    assert_recovered(lab, before)


def test_git_server_dropping_connections_is_transient(lab):
    before = lab.snapshot()
    fault = lab.gitserver.faults.add(path=FAULTED_GIT, drop=True)
    assert lab.sync().success  # the fabric's fault is its result (unknown), not the run's
    assert_contained(lab, before, error_class="GitUnreachableError", side="git")
    assert fault.hits == ATTEMPTS
    lab.gitserver.faults.clear()
    assert_recovered(lab, before)


@pytest.mark.parametrize("status", [503])
def test_git_server_5xx_is_transient(lab, status):
    before = lab.snapshot()
    fault = lab.gitserver.faults.add(path=FAULTED_GIT, status=status)
    assert lab.sync().success  # the fabric's fault is its result (unknown), not the run's
    assert_contained(lab, before, error_class="GitUnreachableError", side="git")
    assert fault.hits == ATTEMPTS
    lab.gitserver.faults.clear()
    assert_recovered(lab, before)


def test_git_auth_failure_is_permanent_and_not_retried(lab):
    before = lab.snapshot()
    lab.monkeypatch.setenv("HEDGEHOG_SYNC_RELIABILITY_WRONG_TOKEN", "ghs_wrong_" + "x" * 20)
    entry = lab.entry()
    lab.set_entry(FAULTED, {**entry, "git": {**entry["git"],
                                             "token_env": "HEDGEHOG_SYNC_RELIABILITY_WRONG_TOKEN"}})
    requests = lab.gitserver.requests_to(FAULTED)
    assert lab.sync().success  # the fabric's fault is its result (unknown), not the run's
    report = assert_contained(lab, before, error_class="GitAuthError", side="git")
    assert lab.latest_metadata()["attempts"] == 1
    # one git fetch, never repeated: git itself asks at most twice (its header, then askpass's empty answer)
    assert 1 <= lab.gitserver.requests_to(FAULTED) - requests <= 2
    assert "ghs_wrong" not in str(report)
    lab.set_entry(FAULTED, entry)
    assert_recovered(lab, before)


def test_git_timeout_is_transient(lab):
    before = lab.snapshot()
    fault = lab.gitserver.faults.add(path=FAULTED_GIT, latency=2)  # past the 1 s limit of the lab
    assert lab.sync().success  # the fabric's fault is its result (unknown), not the run's
    assert_contained(lab, before, error_class="GitTimeoutError", side="git")
    assert fault.hits == ATTEMPTS
    lab.gitserver.faults.clear()
    assert_recovered(lab, before)


def test_deleted_ref_is_permanent_and_names_the_ref(lab):
    before = lab.snapshot()
    lab.served_repo().git.update_ref("-d", "refs/heads/main")
    assert lab.sync().success  # the fabric's fault is its result (unknown), not the run's
    report = assert_contained(lab, before, error_class="GitRefError", side="git")
    assert "'main'" in report["errors"][0]["message"]
    assert lab.latest_metadata()["attempts"] == 1
    lab.publish()
    assert_recovered(lab, before)


def test_rewritten_history_is_followed_and_old_reports_stay(lab):
    before = lab.snapshot()
    repo = lab.work_repo()
    old = repo.head.commit.hexsha
    # A force-push that replaces the last commit with one that changes a VLAN: the cluster now drifts.
    work = lab.fleet.root / "git" / FAULTED
    vpc_file = next(p for p in sorted(repo.git.ls_files().splitlines())
                    if "kind: VPC\n" in (work / p).read_text() and "vlan: " in (work / p).read_text())
    text = (work / vpc_file).read_text()
    line = next(l for l in text.splitlines() if "vlan: " in l)
    changed = text.replace(line, line.split("vlan: ")[0] + "vlan: 3999", 1)
    (work / vpc_file).write_text(changed)
    repo.git.add(vpc_file)
    repo.git.commit("--amend", "-m", "rewritten: vlan 3999")
    rewritten = repo.head.commit.hexsha
    lab.publish()
    assert old not in lab.served_repo().git.rev_list("--all").split()
    assert lab.sync().success
    report = lab.report()
    assert report["git"]["commit"] == rewritten and report["status"] == "drifted"
    assert [r["state"] for r in report["resources"]] == ["modified"]
    assert_nothing_lost(before, lab.snapshot())
    # ... and back: force-push the old commit again
    repo.git.reset("--hard", old)
    lab.publish()
    assert_recovered(lab, before)
    assert lab.report()["git"]["commit"] == old


@pytest.mark.parametrize("damage", ["deleted", "head-garbage", "objects-deleted", "config-garbage", "packs-cut"])
def test_damaged_git_cache_is_rebuilt_without_an_error(lab, damage):
    before = lab.snapshot()
    cache = lab.cache_dir()
    assert cache.is_dir()
    if damage == "deleted":
        shutil.rmtree(cache)
    elif damage == "head-garbage":
        (cache / "HEAD").write_text("garbage\n")
    elif damage == "config-garbage":
        (cache / "config").write_text("[[[ not a config\n")
    elif damage == "objects-deleted":
        shutil.rmtree(cache / "objects")
        (cache / "objects").mkdir()
    else:
        for pack in (cache / "objects" / "pack").glob("*.pack"):
            data = pack.read_bytes()
            pack.chmod(0o644)
            pack.write_bytes(data[: len(data) // 2])
        for loose in (cache / "objects").glob("??/*"):
            loose.chmod(0o644)
            loose.write_bytes(b"x")
    # A new commit makes the cycle fetch and read blobs again, through the damaged cache.
    lab.commit({"notes/README.yaml": "# not a resource\n"}, "touch")
    assert lab.sync().success
    report = lab.report()
    assert report["status"] == "in_sync" and report["errors"] == []
    assert report["git"]["commit"] == lab.work_repo().head.commit.hexsha
    assert_nothing_lost(before, lab.snapshot())


def test_yaml_syntax_error_in_one_file_makes_only_that_fabric_unknown(lab):
    before = lab.snapshot()
    lab.commit({"vpcs/zz-broken.yaml": "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\n"
                                       "metadata: {name: [unclosed\n"}, "a typo")
    assert lab.sync().success  # a content problem is the fabric's finding, not a failed run
    report = assert_contained(lab, before, error_class=None)
    bad = [e for e in report["errors"] if e["source"] == "vpcs/zz-broken.yaml"]
    assert len(bad) == 1 and "line" in bad[0]["message"]
    # nothing already synced is accused: no resource is reported missing or extra because of it
    assert all(r["state"] != "extra" for r in report["resources"])
    lab.commit({"vpcs/zz-broken.yaml": None}, "fix the typo")
    assert_recovered(lab, before)


# --- Kubernetes ---------------------------------------------------------------------------------
def test_cluster_unreachable_is_transient_retried_then_unknown(lab):
    before = lab.snapshot()
    kubeconfig = lab.fleet.root / "kube" / f"{FAULTED}.kubeconfig"
    original = kubeconfig.read_text()
    kubeconfig.write_text(original.replace(lab.apiserver.url, f"http://127.0.0.1:{closed_port()}"))
    assert lab.sync().success  # the fabric's fault is its result (unknown), not the run's
    assert_contained(lab, before, error_class="ClusterUnreachableError", side="cluster")
    assert lab.latest_metadata()["attempts"] == ATTEMPTS
    kubeconfig.write_text(original)
    assert_recovered(lab, before)


@pytest.mark.parametrize("status", [401, 403])
def test_cluster_auth_failure_is_permanent_and_not_retried(lab, status):
    before = lab.snapshot()
    fault = lab.apiserver.faults.add(path=FAULTED_VPCS, status=status)
    assert lab.sync().success  # the fabric's fault is its result (unknown), not the run's
    assert_contained(lab, before, error_class="ClusterAuthError", side="cluster")
    assert fault.hits == 1
    lab.apiserver.faults.clear()
    assert_recovered(lab, before)


def test_a_plural_answering_404_is_a_warning_and_never_a_false_in_sync(lab):
    before = lab.snapshot()
    lab.apiserver.faults.add(path=FAULTED_VPCS, status=404)
    lab.sync()
    report = lab.report()
    # The cluster does not serve VPCs: every VPC in Git is missing there. That is drift, loudly.
    assert report["status"] == "drifted" and report["severity"] == "critical"
    assert {r["kind"] for r in report["resources"]} == {"VPC"}
    assert {r["state"] for r in report["resources"]} == {"missing"}
    assert any("vpcs" in w["source"] and "404" in w["message"] for w in report["warnings"])
    assert_nothing_lost(before, lab.snapshot())
    lab.apiserver.faults.clear()
    assert_recovered(lab, before)


def test_429_with_retry_after_is_waited_out_within_the_cycle(lab):
    before = lab.snapshot()
    fault = lab.apiserver.faults.add(path=FAULTED_VPCS, status=429, retry_after=1, times=1)
    served = lab.apiserver.faults.add(path=FAULTED_VPCS)  # no failure: counts the requests that got through
    result = lab.sync()
    assert result.success
    assert (fault.hits, served.hits) == (1, 1)
    assert lab.report()["status"] == "in_sync" and lab.report()["errors"] == []
    waits = [m for m in lab.run_messages(result) if m.startswith(f"fabric {FAULTED}: k8s_state took 2 attempts")]
    assert len(waits) == 1 and float(waits[0].split("waited ")[1].split()[0]) >= 1.0  # Retry-After honoured
    assert_nothing_lost(before, lab.snapshot())


def test_429_that_persists_is_rate_limited_unknown(lab):
    before = lab.snapshot()
    fault = lab.apiserver.faults.add(path=FAULTED_VPCS, status=429, retry_after=0)
    assert lab.sync().success  # the fabric's fault is its result (unknown), not the run's
    assert_contained(lab, before, error_class="RateLimitedError", side="cluster")
    assert fault.hits == ATTEMPTS
    lab.apiserver.faults.clear()
    assert_recovered(lab, before)


@pytest.mark.parametrize("status", [500, 503])
def test_cluster_5xx_is_transient(lab, status):
    before = lab.snapshot()
    fault = lab.apiserver.faults.add(path=FAULTED_VPCS, status=status)
    assert lab.sync().success  # the fabric's fault is its result (unknown), not the run's
    assert_contained(lab, before, error_class="ClusterUnreachableError", side="cluster")
    assert fault.hits == ATTEMPTS
    lab.apiserver.faults.clear()
    assert_recovered(lab, before)


def test_cluster_timeout_is_transient(lab):
    before = lab.snapshot()
    fault = lab.apiserver.faults.add(path=FAULTED_VPCS, latency=1.5)  # past the 1 s limit of the lab
    assert lab.sync().success  # the fabric's fault is its result (unknown), not the run's
    assert_contained(lab, before, error_class="ClusterTimeoutError", side="cluster")
    assert fault.hits == ATTEMPTS
    lab.apiserver.faults.clear()
    assert_recovered(lab, before)


@pytest.mark.parametrize("action", ["truncate", "garbage", "drop"])
def test_partial_or_garbled_list_is_never_taken_as_complete(lab, action):
    before = lab.snapshot()
    fault = lab.apiserver.faults.add(path=FAULTED_VPCS, action=action)
    assert lab.sync().success  # the fabric's fault is its result (unknown), not the run's
    assert_contained(lab, before, error_class="ClusterUnreachableError", side="cluster")
    assert fault.hits >= ATTEMPTS  # a dropped connection is also retried once by the transport
    lab.apiserver.faults.clear()
    assert_recovered(lab, before)


def test_a_transient_fault_that_clears_within_the_cycle_leaves_no_trace(lab):
    before = lab.snapshot()
    fault = lab.apiserver.faults.add(path=FAULTED_VPCS, status=503, times=1)
    served = lab.apiserver.faults.add(path=FAULTED_VPCS)
    git_fault = lab.gitserver.faults.add(path=FAULTED_GIT, status=502, times=1)
    result = lab.sync()
    assert result.success
    assert (fault.hits, served.hits, git_fault.hits) == (1, 1, 1)
    assert lab.report()["status"] == "in_sync" and error_classes(lab.report()) == []
    retried = [m for m in lab.run_messages(result) if m.startswith(f"fabric {FAULTED}:") and "2 attempts" in m]
    assert len(retried) == 2  # git_state and k8s_state each took a second attempt
    assert_nothing_lost(before, lab.snapshot())
