"""Tests that kill run 12's survivors of cycle.FabricReader (issue 19): read_desired's ref and parse
reuse (the in-memory parse cache, and the parses kept from the last run for a new commit), a fabric
whose ref moved back to the commit it read last time saving nothing; and the survivors of _ask_once and
_read_snapshot since they changed: a repository that does not answer holds up its own fabrics only.

Real components only: real Git repositories on disk (file:// URLs), a loopback HTTP host that never
answers, the real GitRepoCache and FabricReader.
parse_file is wrapped (still the real one) only to count the parses.
"""

import threading
import time
from http.server import ThreadingHTTPServer

import git
import pytest

from hedgehog_sync import cycle
from hedgehog_sync.connectors.git import GitRepoCache
from hedgehog_sync.cycle import FabricReader, PersistentParses
from hedgehog_sync.devlab.gitrepos import commit_files, init_repo
from hedgehog_sync.domain.errors import GitTimeoutError, HedgehogSyncError
from hedgehog_sync.domain.inventory import parse_inventory
from hedgehog_sync_tests.test_shared_ls_remote import _HungGitHost


def vpc(name: str, vlan: int) -> str:
    return (f"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {{name: {name}, namespace: default}}\n"
            f"spec:\n  subnets: {{default: {{subnet: 10.0.{vlan % 250}.0/24, vlan: {vlan}}}}}\n")


def fabrics(url, names=("fab-a", "fab-b"), ref="main"):
    """Fabrics of one repository, all reading the same path (so their parses are interchangeable)."""
    text = "fabrics:\n" + "".join(
        f"  - name: {n}\n    git: {{url: '{url}', ref: {ref}, path: fleet, allow_local: true}}\n" for n in names)
    inventory = parse_inventory(text, "fabrics.yaml")
    assert inventory.problems == []
    return inventory.fabrics


@pytest.fixture
def repo(tmp_path):
    repo = init_repo(tmp_path / "origin")
    commit_files(repo, {"fleet/a.yaml": vpc("vpc-a", 1001)}, "one file")
    return repo


def url_of(repo):
    return f"file://{repo.working_tree_dir}"


class Parses:
    """Counts the real parse_file's calls (by path) made through hedgehog_sync.cycle."""

    def __init__(self, monkeypatch):
        self.paths = []
        real = cycle.parse_file

        def counted(path, data):
            self.paths.append(path)
            return real(path, data)

        monkeypatch.setattr(cycle, "parse_file", counted)


def saved_doc(tmp_path, cfg):
    """The parses document a run that read `cfg` would have kept (its commit now)."""
    reader = FabricReader(GitRepoCache(tmp_path / "scratch-before"), parses=PersistentParses())
    try:
        reader.read_desired(cfg)
    finally:
        reader.close()
    return reader.parses.take_saved()[cfg.name]


@pytest.mark.parametrize("parses", [False, True], ids=["no-kept-parses", "kept-parses"])
def test_the_desired_state_names_the_fabrics_ref(repo, tmp_path, parses):
    """read_desired__mutmut_48, _51: without kept parses the desired state carried no ref (or the cache)."""
    repo.create_head("release")
    cfg = fabrics(url_of(repo), names=("fab-a",), ref="release")[0]
    reader = FabricReader(GitRepoCache(tmp_path / "scratch"), parses=PersistentParses() if parses else None)
    try:
        desired = reader.read_desired(cfg)
    finally:
        reader.close()
    assert desired.ref == "release"
    assert [o["metadata"]["name"] for o in desired.objects] == ["vpc-a"]


@pytest.mark.parametrize("parses", [False, True], ids=["no-kept-parses", "kept-parses"])
def test_a_blob_read_by_one_fabric_is_not_parsed_again_for_another(repo, tmp_path, monkeypatch, parses):
    """read_desired__mutmut_49, _52 (no kept parses) and _61 (kept parses, none yet): the reader's
    parse cache was left out, so each fabric parsed the same blob again."""
    cfgs = fabrics(url_of(repo))
    reader = FabricReader(GitRepoCache(tmp_path / "scratch"), parses=PersistentParses() if parses else None)
    counted = Parses(monkeypatch)
    try:
        got = [reader.read_desired(cfg) for cfg in cfgs]
    finally:
        reader.close()
    assert counted.paths == ["a.yaml"]  # once for both fabrics
    assert [d.objects for d in got] == [got[0].objects, got[0].objects] and got[0].objects


def test_a_new_commit_parses_only_the_blobs_the_kept_parses_lack(repo, tmp_path, monkeypatch):
    """read_desired__mutmut_53, _54, _62: the parses kept from the last run were not used for the
    new commit (a new process: its parse cache is empty), so the unchanged file was parsed again."""
    cfg = fabrics(url_of(repo), names=("fab-a",))[0]
    doc = saved_doc(tmp_path, cfg)
    moved = commit_files(repo, {"fleet/b.yaml": vpc("vpc-b", 1002)}, "a second file")
    reader = FabricReader(GitRepoCache(tmp_path / "scratch"), parses=PersistentParses(docs={cfg.name: doc}))
    counted = Parses(monkeypatch)
    try:
        desired = reader.read_desired(cfg)
    finally:
        reader.close()
    assert desired.commit == moved
    assert counted.paths == ["b.yaml"]
    assert sorted(o["metadata"]["name"] for o in desired.objects) == ["vpc-a", "vpc-b"]
    assert set(reader.parses.take_saved()[cfg.name]["files"]) == {"a.yaml", "b.yaml"}


def test_a_ref_moved_back_to_the_commit_read_last_time_keeps_nothing_new(repo, tmp_path, monkeypatch):
    """read_desired__mutmut_75 (and _53, _54): heads shared for the step, clones of their own. fab-a's
    `ls-remote` finds the ref moved; the ref is moved back before fab-b reads: fab-b is told the moved
    commit but its own fetch finds the commit its kept parses hold, every blob the same, so nothing is
    saved for it (the mutant saved it, or failed on the missing parses)."""
    url = url_of(repo)
    fab_a, fab_b = fabrics(url)
    before = repo.head.commit.hexsha
    doc = saved_doc(tmp_path, fab_a)
    assert doc["commit"] == before and doc["complete"]
    moved = commit_files(repo, {"fleet/b.yaml": vpc("vpc-b", 1002)}, "moved")
    reader = FabricReader(GitRepoCache(tmp_path / "scratch"), share_remote_heads=True,
                          parses=PersistentParses(docs={fab_a.name: doc, fab_b.name: doc}))
    counted = Parses(monkeypatch)
    try:
        first = reader.read_desired(fab_a)
        git.Repo(repo.working_tree_dir).git.update_ref("refs/heads/main", before)  # moved back
        second = reader.read_desired(fab_b)
    finally:
        reader.close()
    assert (first.commit, second.commit) == (moved, before)
    assert [o["metadata"]["name"] for o in second.objects] == ["vpc-a"]
    assert counted.paths == ["b.yaml"]  # fab-a's new file; fab-b's file was known
    assert set(reader.parses.take_saved()) == {fab_a.name}


@pytest.fixture
def hung_url():
    handler = type("Hung", (_HungGitHost,), {"requests": [], "release": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fleet.git", handler.requests, handler.release
    finally:
        handler.release.set()
        server.shutdown()
        server.server_close()


def test_a_hung_repository_holds_up_its_own_fabrics_only_and_says_so(repo, tmp_path, hung_url):
    """_ask_once__mutmut_7, _8, _9: the error of a fabric not asked names the repository's URL and the
    setting, word for word. _read_snapshot__mutmut_14: a fetch that timed out was remembered for every
    repository, so a fabric of another one (answering) was not asked either."""
    url, requests, _ = hung_url
    hung_a, hung_b = fabrics(url)
    other = fabrics(url_of(repo), names=("fab-c",))[0]
    reader = FabricReader(GitRepoCache(tmp_path / "scratch", timeout_seconds=0.5, share_clones=True),
                          share_remote_heads=True)  # one step's reader: clones and heads shared
    try:
        with pytest.raises(GitTimeoutError) as own:
            reader.read_desired(hung_a)
        assert "was not asked" not in str(own.value)
        with pytest.raises(GitTimeoutError) as not_asked:
            reader.read_desired(hung_b)
        desired = reader.read_desired(other)
    finally:
        reader.close()
    assert str(not_asked.value) == (
        f"fabric fab-b: git was not asked: {url} did not answer fabric fab-a's request within 0.5 s in this run "
        "(HEDGEHOG_SYNC_GIT_TIMEOUT_SECONDS); the next run asks again")
    assert len(requests) == 1
    assert [o["metadata"]["name"] for o in desired.objects] == ["vpc-a"]


def test_a_fetch_hung_on_one_repository_does_not_hold_up_another_repositorys_fabric(repo, tmp_path, hung_url):
    """_read_snapshot__mutmut_9 (listed as equivalent in cycle.txt): one gate for every repository, so a
    fabric of an answering repository waited out the other repository's hung fetch before reading."""
    url, requests, release = hung_url
    hung = fabrics(url, names=("fab-a",))[0]
    other = fabrics(url_of(repo), names=("fab-c",))[0]
    reader = FabricReader(GitRepoCache(tmp_path / "scratch", timeout_seconds=5, share_clones=True),
                          share_remote_heads=True)
    errors = []

    def read_hung():
        try:
            reader.read_desired(hung)
        except HedgehogSyncError as exc:
            errors.append(exc)

    stuck = threading.Thread(target=read_hung, daemon=True)
    stuck.start()
    try:
        for _ in range(500):  # until the hung host holds fab-a's fetch
            if requests:
                break
            time.sleep(0.01)
        assert requests
        desired = reader.read_desired(other)
        still_hung = stuck.is_alive()
    finally:
        release.set()  # the host answers (nothing): fab-a's fetch fails at once
        stuck.join(10)
        reader.close()
    assert still_hung  # read while fab-a's fetch was still waiting for its host
    assert [o["metadata"]["name"] for o in desired.objects] == ["vpc-a"]
