"""The fault lab: the demo fleet served over real transports on loopback, synced by real Dagster runs.

- Git: every fabric's repository is a bare repository behind `git http-backend` (devlab/gitserver.py)
  that wants a token, as GitHub or GitLab would; the inventory names the token's env var.
- Kubernetes: the devlab API server, its fault rules in front of chosen requests.
- Dagster: a SQLite instance in a temporary folder (so tests can read everything it recorded),
  `fabric_sync` materialized over the whole fleet in one run, as the schedule does.

FAULTED is the fabric each fault is aimed at; the other two must not notice. Assertions are on
outcomes only: reports, error class names, fault hit counts and the materialization history.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import pytest
import yaml
from dagster import AssetKey, DagsterInstance, materialize

from hedgehog_sync.connectors.git import scratch_dir
from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.devlab.demo import (
    BROKEN_FABRIC, DEMO_FABRICS, DRIFTED_FABRIC, IN_SYNC_FABRIC, DemoFleet, build_demo_fleet, serve_demo_fleet,
)
from hedgehog_sync.devlab.gitrepos import commit_files
from hedgehog_sync.devlab.gitserver import GitServerHandle, publish, start_gitserver

FAULTED = IN_SYNC_FABRIC
OTHERS = (DRIFTED_FABRIC, BROKEN_FABRIC)
GIT_TOKEN_ENV = "HEDGEHOG_SYNC_RELIABILITY_GIT_TOKEN"
ASSETS = ("git_state", "k8s_state", "drift_report")
GIT_TIMEOUT_S = 1
KUBERNETES_TIMEOUT_S = 1
# The request paths a fault can be aimed at.
FAULTED_VPCS = rf"/fabrics/{FAULTED}/apis/vpc\.githedgehog\.com/v1beta1/namespaces/default/vpcs$"
FAULTED_GIT = rf"^/{FAULTED}\.git/"


@dataclass
class Snapshot:
    """What the fleet looked like at one moment: reports, last good reports, recorded history."""

    latest: dict[str, dict[str, Any] | None]
    good: dict[str, dict[str, Any] | None]
    history: dict[tuple[str, str], list[int]]  # (asset, fabric) -> storage ids of its materializations


@dataclass
class FaultLab:
    root: Path
    fleet: DemoFleet
    apiserver: Any
    gitserver: GitServerHandle
    instance: DagsterInstance
    resource: FleetResource
    git_token: str
    monkeypatch: pytest.MonkeyPatch
    results: list[Any] = field(default_factory=list)
    pristine: dict[Path, bytes] = field(default_factory=dict)
    initial_commits: dict[str, str] = field(default_factory=dict)

    # -- the fleet's sources --
    @property
    def served(self) -> Path:
        return self.root / "served"

    def work_repo(self, fabric: str = FAULTED) -> git.Repo:
        return git.Repo(self.fleet.root / "git" / fabric)

    def served_repo(self, fabric: str = FAULTED) -> git.Repo:
        return git.Repo(self.served / f"{fabric}.git")

    def commit(self, files: dict[str, str | bytes | None], message: str, fabric: str = FAULTED) -> str:
        """Commit to the fabric's work repository and push it to the git server."""
        sha = commit_files(self.work_repo(fabric), files, message)
        publish(self.work_repo(fabric), self.served, fabric)
        return sha

    def publish(self, fabric: str = FAULTED) -> None:
        publish(self.work_repo(fabric), self.served, fabric)

    def inventory(self) -> dict[str, Any]:
        return yaml.safe_load(self.fleet.inventory.read_text())

    def entry(self, fabric: str = FAULTED) -> dict[str, Any]:
        return next(e for e in self.inventory()["fabrics"] if e["name"] == fabric)

    def set_entry(self, fabric: str, entry: dict[str, Any]) -> None:
        doc = self.inventory()
        doc["fabrics"] = [entry if e["name"] == fabric else e for e in doc["fabrics"]]
        self.fleet.inventory.write_text(yaml.safe_dump(doc, sort_keys=False))

    def cache_dir(self, fabric: str = FAULTED) -> Path:
        """The clone a run reads the fabric through, in this process's Git scratch directory (the runs
        are in-process): the run's own reader says where (clones are shared per URL and token_env)."""
        cfg = next(f for f in self.resource.load_inventory().fabrics if f.name == fabric)
        reader = self.resource.reader(self.instance)
        try:
            return reader.git_cache.clone_dir(fabric, cfg.git)
        finally:
            reader.close()

    def state_paths(self) -> list[Path]:
        """Everything the syncs keep on disk: the instance (its SQLite files, our state tables
        included) and this process's Git scratch."""
        return [self.root / "dagster_home", scratch_dir()]

    # -- running --
    def sync(self, fabrics: tuple[str, ...] = DEMO_FABRICS) -> Any:
        """One sync run over `fabrics` (consecutive in partition order), as the schedule launches it."""
        result = materialize(
            [fabric_sync], instance=self.instance, raise_on_error=False,
            resources={"fleet": self.resource, "alerts": AlertSink()},
            tags={"dagster/asset_partition_range_start": fabrics[0],
                  "dagster/asset_partition_range_end": fabrics[-1]},
        )
        self.results.append(result)
        return result

    # -- reading what was recorded --
    @property
    def store(self):
        return self.resource.state_store(self.instance)

    def report(self, fabric: str = FAULTED) -> dict[str, Any]:
        report = self.store.latest_report(fabric)
        assert report is not None, f"no report for {fabric}"
        return report

    def history(self, asset: str, fabric: str) -> list[Any]:
        records = self.instance.fetch_materializations(AssetKey(asset), limit=10_000).records
        return [r for r in records if r.asset_materialization.partition == fabric]

    def run_messages(self, result: Any) -> list[str]:
        return [e.user_message for e in self.instance.all_logs(result.run_id)]

    def latest_metadata(self, fabric: str = FAULTED) -> dict[str, Any]:
        records = self.history("drift_report", fabric)
        assert records, f"no drift_report materialization for {fabric}"
        return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}

    def snapshot(self) -> Snapshot:
        return Snapshot(
            latest={f: self.store.latest_report(f) for f in DEMO_FABRICS},
            good={f: self.store.last_good_report(f) for f in DEMO_FABRICS},
            history={(a, f): sorted(r.storage_id for r in self.history(a, f)) for a in ASSETS for f in DEMO_FABRICS},
        )


def _comparable(report: dict[str, Any] | None) -> Any:
    """What a report says about the fabric (not when, nor at which commit it was read)."""
    if report is None:
        return None
    out = {k: report.get(k) for k in ("status", "summary", "severity", "resources", "drift_since")}
    out["git_resources"] = (report.get("git") or {}).get("resources")
    return out


def error_classes(report: dict[str, Any]) -> list[str]:
    return [e["error_class"] for e in report["errors"] if e.get("error_class")]


def assert_nothing_lost(before: Snapshot, after: Snapshot) -> None:
    """Every report kept, every good report kept or newer, every materialization still recorded."""
    for key, ids in before.history.items():
        assert set(ids) <= set(after.history[key]), f"materializations of {key} lost"
    for fabric, good in before.good.items():
        if good is not None:
            assert after.good[fabric] is not None, f"last good report of {fabric} lost"


def assert_contained(lab: FaultLab, before: Snapshot, *, error_class: str | None, side: str | None = None) -> dict:
    """The faulted fabric shows unknown (never a false in_sync) with the error class; its last good
    report is the one from before the fault; the other fabrics' reports are as before; nothing lost."""
    after = lab.snapshot()
    report = lab.report(FAULTED)
    assert report["status"] == "unknown", report["errors"]
    if error_class is not None:
        assert error_classes(report) == [error_class]
        if side is not None:
            assert [e["source"] for e in report["errors"] if e.get("error_class")] == [side]
    # The dashboard shows it too: the newest drift_report materialization says unknown.
    assert lab.latest_metadata(FAULTED)["status"] == "unknown"
    assert after.good[FAULTED] == before.good[FAULTED], "the last good report must stay as it was"
    for other in OTHERS:
        assert _comparable(after.latest[other]) == _comparable(before.latest[other]), f"{other} was affected"
    assert_nothing_lost(before, after)
    return report


def assert_recovered(lab: FaultLab, before: Snapshot) -> None:
    """After the fault is gone, one cycle brings the faulted fabric back to its good state."""
    result = lab.sync()
    assert result.success
    report = lab.report(FAULTED)
    assert report["status"] == "in_sync" and report["errors"] == []
    assert _comparable(report) == _comparable(before.good[FAULTED])
    assert_nothing_lost(before, lab.snapshot())


def _start_lab(root: Path, monkeypatch: pytest.MonkeyPatch) -> FaultLab:
    monkeypatch.setenv("HEDGEHOG_SYNC_GIT_TIMEOUT_SECONDS", str(GIT_TIMEOUT_S))
    monkeypatch.setenv("HEDGEHOG_SYNC_KUBERNETES_TIMEOUT_SECONDS", str(KUBERNETES_TIMEOUT_S))
    fleet = build_demo_fleet(root / "devlab")
    apiserver = serve_demo_fleet(fleet)
    token = "ghs_" + secrets.token_urlsafe(24)
    monkeypatch.setenv(GIT_TOKEN_ENV, token)
    served = root / "served"
    for fabric in DEMO_FABRICS:
        publish(fleet.root / "git" / fabric, served, fabric)
    gitserver = start_gitserver(served, token=token)
    doc = yaml.safe_load(fleet.inventory.read_text())
    for entry in doc["fabrics"]:
        entry["git"] = {"url": gitserver.url(entry["name"]), "ref": "main", "token_env": GIT_TOKEN_ENV,
                        "allow_local": True}  # plain http with a token: loopback only
    fleet.inventory.write_text(yaml.safe_dump(doc, sort_keys=False))
    (root / "dagster_home").mkdir()
    instance = DagsterInstance.local_temp(str(root / "dagster_home"))
    instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
    resource = FleetResource(inventory_path=str(fleet.inventory))
    lab = FaultLab(root, fleet, apiserver, gitserver, instance, resource, token, monkeypatch)
    lab.pristine = {p: p.read_bytes() for p in [fleet.inventory, *sorted((fleet.root / "kube").glob("*"))]}
    lab.initial_commits = {f: lab.work_repo(f).head.commit.hexsha for f in DEMO_FABRICS}
    return lab


def _stop_lab(lab: FaultLab) -> None:
    lab.instance.dispose()
    lab.gitserver.stop()
    lab.apiserver.stop()


def _reset(lab: FaultLab) -> None:
    """Undo whatever the previous test did to the sources, and sync if the faulted fabric is not good."""
    lab.apiserver.faults.clear()
    lab.gitserver.faults.clear()
    lab.gitserver.set_token(lab.git_token)
    for path, text in lab.pristine.items():
        if path.read_bytes() != text:
            path.write_bytes(text)
    for fabric, sha in lab.initial_commits.items():
        repo = lab.work_repo(fabric)
        if repo.head.commit.hexsha != sha or repo.is_dirty(untracked_files=True):
            repo.git.reset("--hard", sha)
            repo.git.clean("-fdx")
        publish(repo, lab.served, fabric)
    report = lab.store.latest_report(FAULTED)
    if report is None or report["status"] != "in_sync" or report["git"]["commit"] != lab.initial_commits[FAULTED]:
        assert lab.sync().success
    assert lab.report(FAULTED)["status"] == "in_sync"
    assert lab.report(DRIFTED_FABRIC)["status"] == "drifted"


@pytest.fixture(scope="module")
def module_lab(tmp_path_factory) -> FaultLab:
    """One fleet per test module (building and first syncing it is the slow part)."""
    monkeypatch = pytest.MonkeyPatch()
    lab = _start_lab(tmp_path_factory.mktemp("lab"), monkeypatch)
    try:
        yield lab
    finally:
        _stop_lab(lab)
        monkeypatch.undo()


@pytest.fixture
def lab(module_lab, monkeypatch) -> FaultLab:
    """The module's fleet, reset to its good state: fab-east in sync, fab-west drifted, fab-lab broken."""
    module_lab.monkeypatch = monkeypatch
    _reset(module_lab)
    yield module_lab
    module_lab.apiserver.faults.clear()
    module_lab.gitserver.faults.clear()
