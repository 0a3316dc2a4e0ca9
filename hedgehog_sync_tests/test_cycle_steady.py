"""The steady cycle's savings: unchanged blobs are not parsed again, unchanged inputs not compared again,
and neither ever changes what a report says."""

import copy
from datetime import datetime, timedelta, timezone

import git
import pytest

import hedgehog_sync.cycle as cycle
from hedgehog_sync.connectors.git import GitRepoCache
from hedgehog_sync.cycle import FabricReader, PersistentParses, sync_fabric
from hedgehog_sync.devlab.demo import DRIFTED_FABRIC
from hedgehog_sync.domain.inventory import IgnoreEntry, load_inventory
from hedgehog_sync.domain.model import LiveState
from hedgehog_sync.domain.plan import plan_for
from hedgehog_sync.domain.report import build_report, live_version
from hedgehog_sync.state import StateStore

T0 = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)


class Counted:
    """Wraps a real function of hedgehog_sync.cycle and counts its calls."""

    def __init__(self, monkeypatch, name):
        self.calls = 0
        real = getattr(cycle, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(cycle, name, counted)


@pytest.fixture
def drifted(demo_fleet, tmp_path):
    fleet, _ = demo_fleet
    cfg = load_inventory(str(fleet.inventory)).by_name()[DRIFTED_FABRIC]
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    reader = FabricReader(GitRepoCache(tmp_path / "git"), parses=PersistentParses(store))
    clock = [T0]

    def sync(config=cfg, save_versions=True):
        clock[0] += timedelta(minutes=1)
        outcome = sync_fabric(config, reader, store, now=clock[0])
        if save_versions:
            store.save_versions(config.name, outcome.versions)
        return outcome

    yield cfg, store, sync
    reader.close()


def repo_of(cfg):
    return git.Repo(cfg.git.url.removeprefix("file://"))


def test_only_blobs_that_changed_are_parsed_again(drifted, monkeypatch):
    cfg, store, sync = drifted
    parses = Counted(monkeypatch, "parse_file")
    first = sync()
    files = parses.calls
    assert files > 1 and set(store.parsed_files(cfg.name)["files"]) == {s for s, _ in first.desired.sources}
    second = sync()
    assert parses.calls == files  # nothing parsed: every blob was known
    assert second.desired.objects == first.desired.objects and second.desired.sources == first.desired.sources
    repo = repo_of(cfg)
    path = sorted({s for s, _ in first.desired.sources})[0]
    with open(f"{repo.working_tree_dir}/{path}", "a") as f:
        f.write("# reviewed\n")
    repo.index.add([path])
    repo.index.commit("a comment")
    third = sync()
    assert parses.calls == files + 1  # just the changed file
    assert third.desired.commit != first.desired.commit and third.desired.objects == first.desired.objects


def test_a_damaged_or_foreign_parse_cache_is_parsed_afresh(drifted, monkeypatch):
    cfg, store, sync = drifted
    first = sync()
    store.save_parsed_files(cfg.name, {"parser": "an older release", "files": {"x": 1}})
    assert sync().desired.objects == first.desired.objects
    store.save_parsed_files(cfg.name, {"parser": cycle.PARSER_VERSION, "format": 2, "commit": first.desired.commit,
                                       "files": ["not", "a", "cache"], "blobs": 7})
    assert sync().desired.objects == first.desired.objects


def test_unchanged_inputs_give_the_full_comparisons_report_restamped(drifted, monkeypatch):
    cfg, store, sync = drifted
    first = sync()
    assert first.report["status"] == "drifted"
    builds = Counted(monkeypatch, "build_report")
    second = sync()
    assert builds.calls == 0  # the comparison was skipped...
    full = build_report(cfg.name, second.desired, second.live, now=T0 + timedelta(minutes=2), ref=cfg.git.ref,
                        previous=first.report, rules=cfg.rules, git_url=cfg.git.url)
    full["plan_version"] = plan_for(full, second.desired).version  # the core records the plan's version too
    assert second.report == full  # ...and the report is exactly what it would have computed
    assert second.report["generated_at"] != first.report["generated_at"]
    assert second.versions["drift_report"] == first.versions["drift_report"]  # nothing new to record


def test_other_rules_or_a_report_saved_without_its_versions_compare_afresh(drifted, monkeypatch):
    cfg, store, sync = drifted
    sync()
    builds = Counted(monkeypatch, "build_report")
    ignoring = cfg.model_copy(update={"ignore": (*cfg.ignore, IgnoreEntry(kind="VPC", pointer="/spec/subnets"))})
    assert ignoring.rules != cfg.rules
    sync(ignoring)
    assert builds.calls == 1
    # A crash between saving a report and its versions: the next cycle must not trust the old pairing.
    before = builds.calls
    sync(save_versions=False)
    store.save_report(cfg.name, {**store.latest_report(cfg.name), "score": 0.0})
    sync()
    assert builds.calls == before + 2


def test_live_version_ignores_server_bookkeeping_and_status_but_not_spec():
    obj = {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC",
           "metadata": {"name": "v", "namespace": "default", "resourceVersion": "1", "uid": "a",
                        "managedFields": [{"manager": "kubectl"}], "labels": {"team": "a"}},
           "spec": {"subnets": {"s": {"subnet": "10.0.0.0/24"}}}, "status": {"ready": True}}
    base = live_version(LiveState(server="s", objects=[obj]))
    bumped = copy.deepcopy(obj)
    bumped["metadata"].update(resourceVersion="2", generation=3)
    bumped["status"] = {"ready": False}
    assert live_version(LiveState(server="s", objects=[bumped])) == base
    edited = copy.deepcopy(obj)
    edited["spec"]["subnets"]["s"]["subnet"] = "10.0.1.0/24"
    relabelled = copy.deepcopy(obj)
    relabelled["metadata"]["labels"]["team"] = "b"
    assert len({base, live_version(LiveState(objects=[edited], server="s")),
                live_version(LiveState(objects=[relabelled], server="s"))}) == 3


def test_an_unmoved_ref_costs_one_ls_remote_and_no_fetch(drifted, monkeypatch):
    cfg, store, sync = drifted
    reader_calls = {"read": 0, "remote_commit": 0}
    first = sync()
    for name in reader_calls:
        real = getattr(GitRepoCache, name)

        def counted(self, *args, _real=real, _name=name, **kwargs):
            reader_calls[_name] += 1
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(GitRepoCache, name, counted)
    second = sync()
    assert reader_calls == {"read": 0, "remote_commit": 1}
    assert (second.desired.commit, second.desired.objects, second.desired.findings) == \
        (first.desired.commit, first.desired.objects, first.desired.findings)
    assert second.report["status"] == first.report["status"] == "drifted"
    repo = repo_of(cfg)
    path = sorted({s for s, _ in first.desired.sources})[-1]
    with open(f"{repo.working_tree_dir}/{path}", "a") as f:
        f.write("# moved\n")
    repo.index.add([path])
    moved = repo.index.commit("moved").hexsha
    third = sync()
    assert reader_calls == {"read": 1, "remote_commit": 2}
    assert third.desired.commit == moved
