"""Git data is scratch (issue 13, item 3): clones in a per-process directory that may be empty at any
start, a read fetching the one commit it needs at depth 1, `remote_commit` outside any repository,
one lock per clone between threads and none between processes.

Real git throughout: repositories on disk (file://) and the devlab git server on loopback (smart
HTTP with a token); git commands counted by the PATH wrapper in hedgehog_sync_tests/gitcount.py.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import hedgehog_sync.connectors.git as git_connector
from hedgehog_sync.connectors.git import SCRATCH_ENV, GitRepoCache
from hedgehog_sync.devlab.gitrepos import commit_files, init_repo
from hedgehog_sync.devlab.gitserver import publish, start_gitserver
from hedgehog_sync.domain.errors import GitAuthError, GitRefError
from hedgehog_sync.domain.inventory import GitSettings
from hedgehog_sync_tests.gitcount import counting_git

TOKEN_ENV = "HEDGEHOG_SYNC_SCRATCH_GIT_TOKEN"
TOKEN = "ghs_scratch_" + "Qm4" * 8
VPC = """apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata: {{name: {name}}}
spec: {{subnets: {{default: {{subnet: 10.0.1.0/24, vlan: 1001}}}}}}
"""
# Files under fabrics/east that a read returns (YAML, not under unmanaged/): written here, not derived.
READ_PATHS = ["a/vpc-2.yaml", "vpc-1.yaml"]


def git_out(*args: str, git_dir: Path | None = None, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    if git_dir is not None:
        env["GIT_DIR"] = str(git_dir)
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=True,
                          text=True).stdout.strip()


@pytest.fixture
def origin(tmp_path):
    """A work repository with history: three commits, a tag on the first, an annotated tag on the second."""
    repo = init_repo(tmp_path / "origin")
    commit_files(repo, {"fabrics/east/vpc-1.yaml": VPC.format(name="vpc-1"), "fabrics/east/README.md": "# east",
                        "fabrics/west/vpc-9.yaml": VPC.format(name="vpc-9")}, "first")
    repo.create_tag("v1")
    commit_files(repo, {"fabrics/east/a/vpc-2.yaml": VPC.format(name="vpc-2"),
                        "fabrics/east/unmanaged/x.yaml": VPC.format(name="x")}, "second")
    repo.create_tag("v2", message="annotated")
    commit_files(repo, {"fabrics/east/big.bin": os.urandom(600_000).hex(),
                        "fabrics/east/vpc-1.yaml": VPC.format(name="vpc-1").replace("1001", "1002")}, "third")
    return repo


def file_settings(repo, **kw) -> GitSettings:
    return GitSettings(url=f"file://{repo.working_tree_dir}", allow_local=True, path="fabrics/east", **kw)


@pytest.fixture(params=["file", "http"])
def remote(request, tmp_path, origin, monkeypatch):
    """(settings, publish-again) for the origin over file:// or over the devlab git server with a token."""
    if request.param == "file":
        yield file_settings(origin), lambda: None
        return
    publish(origin, tmp_path / "served", "fab-east")
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with start_gitserver(tmp_path / "served", token=TOKEN) as server:
        yield (GitSettings(url=server.url("fab-east"), path="fabrics/east", token_env=TOKEN_ENV, allow_local=True),
               lambda: publish(origin, tmp_path / "served", "fab-east"))


def expected_files(repo, commit: str) -> list[tuple[str, str, bytes]]:
    """(path, blob, bytes) of READ_PATHS at `commit`, as the origin repository itself has them."""
    tree = repo.commit(commit).tree
    out = []
    for rel in READ_PATHS:
        blob = tree / f"fabrics/east/{rel}"
        out.append((rel, blob.hexsha, blob.data_stream.read()))
    return out


def commits_in(clone: Path) -> list[str]:
    return git_out("rev-list", "--all", git_dir=clone).split()


def test_a_read_with_an_empty_scratch_fetches_one_commit_at_depth_one(tmp_path, origin, remote):
    settings, _ = remote
    head = origin.head.commit.hexsha
    cache = GitRepoCache(tmp_path / "scratch")
    with counting_git(tmp_path / "gitcount") as calls:
        snap = cache.read("fab-east", settings)
    fetches = calls.of("fetch")
    assert len(fetches) == 1 and "--depth=1" in fetches[0].args and "--no-tags" in fetches[0].args
    assert calls.count("ls-remote") == 0 and calls.count("clone") == 0
    clone = cache.repo_dir("fab-east")
    assert (clone / "shallow").read_text().split() == [head]
    assert commits_in(clone) == [head]  # one commit, not the history
    # The same snapshot a full clone gives: the commit, its message and author, each file's blob and bytes.
    assert (snap.commit, snap.message, snap.author) == (head, "third", origin.head.commit.author.name)
    assert [(f.path, f.blob, f.data) for f in snap.files] == expected_files(origin, head)
    assert snap.findings == []


def test_a_moved_ref_fetches_only_the_new_commit_and_what_changed(tmp_path, origin, remote):
    settings, republish = remote
    cache = GitRepoCache(tmp_path / "scratch")
    cache.read("fab-east", settings)
    clone = cache.repo_dir("fab-east")
    packs_before = set((clone / "objects" / "pack").glob("*.idx"))
    big_blob = (origin.head.commit.tree / "fabrics/east/big.bin").hexsha
    moved = commit_files(origin, {"fabrics/east/a/vpc-2.yaml": VPC.format(name="vpc-2b")}, "fourth")
    republish()
    with counting_git(tmp_path / "gitcount") as calls:
        snap = cache.read("fab-east", settings)
    assert calls.count("fetch") == 1 and "--depth=1" in calls.of("fetch")[0].args
    assert snap.commit == moved and [(f.path, f.blob, f.data) for f in snap.files] == expected_files(origin, moved)
    # What the clone had is not sent again: the new pack holds the new commit's objects, not the big blob.
    (new_pack,) = set((clone / "objects" / "pack").glob("*.idx")) - packs_before
    sent = [line.split()[0] for line in git_out("verify-pack", "-v", str(new_pack)).splitlines()
            if len(line.split()) > 1 and line.split()[1] in ("commit", "tree", "blob")]
    assert moved in sent and big_blob not in sent
    # (index-pack completes a thin pack with the few small delta bases it had locally: a few KB, not 1.2 MB)
    assert new_pack.with_suffix(".pack").stat().st_size < 20_000
    assert git_out("rev-list", "refs/hedgehog/fetched", git_dir=clone).split() == [moved]


@pytest.mark.parametrize("ref", ["v1", "v2", "first-sha", "second-sha"])
def test_tags_and_full_commit_shas_are_fetched_at_depth_one_too(tmp_path, origin, ref):
    first, second = origin.commit("HEAD~2").hexsha, origin.commit("HEAD~1").hexsha
    ref_value, commit = {"v1": ("v1", first), "v2": ("v2", second), "first-sha": (first, first),
                         "second-sha": (second, second)}[ref]
    cache = GitRepoCache(tmp_path / "scratch")
    with counting_git(tmp_path / "gitcount") as calls:
        snap = cache.read("fab-east", file_settings(origin, ref=ref_value))
    assert snap.commit == commit
    assert all("--depth=1" in c.args for c in calls.of("fetch"))
    assert commits_in(cache.repo_dir("fab-east")) == [commit]


def test_an_abbreviated_sha_is_still_found_and_an_unknown_full_sha_is_a_ref_error(tmp_path, origin):
    first = origin.commit("HEAD~2").hexsha
    cache = GitRepoCache(tmp_path / "scratch")
    assert cache.read("fab-east", file_settings(origin, ref=first[:10])).commit == first
    with pytest.raises(GitRefError, match="'0123456789"):
        GitRepoCache(tmp_path / "other").read("fab-east", file_settings(origin, ref="0123456789" * 4))
    with pytest.raises(GitRefError, match="'nope'"):
        cache.read("fab-east", file_settings(origin, ref="nope"))


def test_remote_commit_needs_no_clone_and_creates_nothing(tmp_path, origin, remote):
    settings, _ = remote
    missing, empty = tmp_path / "missing-scratch", tmp_path / "empty-scratch"
    empty.mkdir()
    with counting_git(tmp_path / "gitcount") as calls:
        assert GitRepoCache(missing).remote_commit("fab-east", settings) == origin.head.commit.hexsha
        assert GitRepoCache(empty).remote_commit("fab-east", settings) == origin.head.commit.hexsha
    assert not missing.exists() and list(empty.iterdir()) == []
    # (the devlab server's own `git http-backend` runs in this process too: not the connector's)
    assert [s for s in calls.subcommands() if s != "http-backend"] == ["ls-remote", "ls-remote"]
    for call in calls.of("ls-remote"):  # outside any repository: no GIT_DIR git could use, run from /
        assert call.git_dir == os.devnull and call.cwd == "/"


def test_a_fresh_cache_asked_about_an_unmoved_ref_runs_one_ls_remote_and_no_fetch(tmp_path, origin, remote):
    """The connector's half of "a fresh run worker with an empty scratch does one ls-remote and no fetch
    for an unchanged fabric": the caller holds the commit; asking where the ref is costs one ls-remote."""
    settings, _ = remote
    known = GitRepoCache(tmp_path / "first-worker").read("fab-east", settings).commit
    fresh = GitRepoCache(tmp_path / "second-worker")
    with counting_git(tmp_path / "gitcount") as calls:
        assert fresh.remote_commit("fab-east", settings) == known
    assert calls.count("ls-remote") == 1 and calls.count("fetch") == 0
    assert not (tmp_path / "second-worker").exists()


def test_the_default_scratch_is_private_made_on_first_read_and_removed_at_exit(tmp_path, origin):
    """In a fresh interpreter, as a run worker starts: $HEDGEHOG_SYNC_GIT_SCRATCH (an emptyDir) holds one
    private directory once something was read, and nothing after the interpreter exits."""
    mount = tmp_path / "emptydir"
    settings = file_settings(origin)
    script = f"""
import json, os, sys
from hedgehog_sync.connectors.git import GitRepoCache
from hedgehog_sync.domain.inventory import GitSettings
settings = GitSettings.model_validate_json({settings.model_dump_json()!r})
out = {{}}
GitRepoCache().remote_commit("fab-east", settings)
out["after_remote_commit"] = sorted(os.listdir({str(mount)!r})) if os.path.exists({str(mount)!r}) else None
cache = GitRepoCache()
out["commit"] = cache.read("fab-east", settings).commit
out["root"] = str(cache.root)
out["same_root"] = str(GitRepoCache().root) == str(cache.root)
out["mode"] = os.stat(cache.root).st_mode & 0o777
out["clone"] = os.path.isdir(cache.repo_dir("fab-east"))
out["entries"] = sorted(os.listdir({str(mount)!r}))
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, SCRATCH_ENV: str(mount)})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["after_remote_commit"] is None  # not even the emptyDir mount point was made
    assert out["commit"] == origin.head.commit.hexsha and out["clone"] and out["same_root"]
    assert Path(out["root"]).parent == mount and out["entries"] == [Path(out["root"]).name]
    assert Path(out["root"]).name.startswith("hedgehog-sync-git-") and out["mode"] == stat.S_IRWXU
    assert list(mount.iterdir()) == []  # removed at exit


def _read_all_at_once(jobs):
    """Run `jobs` (callables) in threads released together; their results, or the first error."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i):
        barrier.wait()
        try:
            results[i] = jobs[i]()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


def test_concurrent_reads_of_one_fabric_in_one_cache_are_serialized(tmp_path, origin, remote):
    """Three threads, one cache, one fabric: never two git commands on its clone at once (every git
    command waits a little first, to widen any window the threads could share)."""
    settings, _ = remote
    cache = GitRepoCache(tmp_path / "scratch", timeout_seconds=120)
    with counting_git(tmp_path / "gitcount", delay_s=0.1) as calls:
        snaps = _read_all_at_once([lambda: cache.read("fab-east", settings)] * 3)
    head = origin.head.commit.hexsha
    assert [s.commit for s in snaps] == [head] * 3
    assert all([(f.path, f.blob, f.data) for f in s.files] == expected_files(origin, head) for s in snaps)
    clone = cache.repo_dir("fab-east")
    assert calls.count("fetch") == 3
    assert calls.max_concurrent(clone) == 1


def test_two_caches_with_their_own_scratch_read_one_fabric_at_once_without_interfering(tmp_path, origin, remote):
    """Two "processes" (two caches, two scratch roots) reading the same fabric at the same time: each
    works in its own clone, and each reads the right snapshot."""
    settings, _ = remote
    caches = [GitRepoCache(tmp_path / "pod-a"), GitRepoCache(tmp_path / "pod-b")]
    with counting_git(tmp_path / "gitcount", delay_s=0.05) as calls:
        snaps = _read_all_at_once([lambda c=c: c.read("fab-east", settings) for c in caches for _ in range(2)])
    head = origin.head.commit.hexsha
    assert all(s.commit == head and [(f.path, f.blob, f.data) for f in s.files] == expected_files(origin, head)
               for s in snaps)
    clones = [c.repo_dir("fab-east") for c in caches]
    for clone in clones:
        assert commits_in(clone) == [head]
        assert calls.max_concurrent(clone) == 1
    assert {Path(c.git_dir).resolve() for c in calls.of("fetch")} == {c.resolve() for c in clones}


def test_a_new_commit_after_the_scratch_was_emptied_is_read_again_from_nothing(tmp_path, origin):
    """The scratch may be empty at any start (a new pod): the next read simply fetches again."""
    cache = GitRepoCache(tmp_path / "scratch")
    cache.read("fab-east", file_settings(origin))
    shutil.rmtree(tmp_path / "scratch")
    moved = commit_files(origin, {"fabrics/east/vpc-1.yaml": VPC.format(name="vpc-1")}, "fourth")
    snap = cache.read("fab-east", file_settings(origin))
    assert snap.commit == moved and commits_in(cache.repo_dir("fab-east")) == [moved]


def test_no_fcntl_lock_is_left_in_the_git_connector():
    tree = ast.parse(Path(git_connector.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names} | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "fcntl" not in imported
    assert "flock" not in Path(git_connector.__file__).read_text()


# Clones shared per repository (issue 14: a fleet monorepo's fabrics fetched the whole repository once
# each). A run's reader shares one clone per (URL, token_env); a read given the commit the ref points
# at that the clone holds fetches nothing.

def _west(settings: GitSettings) -> GitSettings:
    return settings.model_copy(update={"path": "fabrics/west"})


def test_fabrics_of_one_repository_share_a_clone_and_the_second_read_fetches_nothing(tmp_path, origin, remote):
    settings, _ = remote
    head = origin.head.commit.hexsha
    cache = GitRepoCache(tmp_path / "scratch", share_clones=True)
    assert cache.clone_dir("fab-east", settings) == cache.clone_dir("fab-west", _west(settings))
    assert cache.clone_dir("fab-east", settings).parent.parent.name == "_shared"
    with counting_git(tmp_path / "gitcount") as calls:
        east = cache.read("fab-east", settings, commit=head)  # the clone is empty: one fetch
        west = cache.read("fab-west", _west(settings), commit=head)  # found in the shared clone
    assert calls.count("fetch") == 1 and calls.count("ls-remote") == 0
    assert east.commit == west.commit == head
    assert [(f.path, f.blob, f.data) for f in east.files] == expected_files(origin, head)
    vpc9 = (origin.commit(head).tree / "fabrics/west/vpc-9.yaml")
    assert [(f.path, f.blob, f.data) for f in west.files] == [("vpc-9.yaml", vpc9.hexsha, vpc9.data_stream.read())]
    assert list((tmp_path / "scratch").iterdir()) == [tmp_path / "scratch" / "_shared"]  # no clone per fabric


def test_a_commit_the_shared_clone_lacks_is_fetched(tmp_path, origin, remote):
    """The ref moved between two fabrics' reads: the one told the new commit fetches it."""
    settings, publish_again = remote
    cache = GitRepoCache(tmp_path / "scratch", share_clones=True)
    old = cache.read("fab-east", settings).commit
    commit_files(origin, {"fabrics/west/vpc-9.yaml": VPC.format(name="vpc-9").replace("1001", "1009")}, "moved")
    publish_again()
    moved = origin.head.commit.hexsha
    with counting_git(tmp_path / "gitcount") as calls:
        snap = cache.read("fab-west", _west(settings), commit=moved)
    assert old != moved and snap.commit == moved and calls.count("fetch") == 1
    assert snap.files[0].data == VPC.format(name="vpc-9").replace("1001", "1009").encode()


def test_without_share_clones_every_fabric_has_its_own_clone_and_fetches(tmp_path, origin):
    settings = file_settings(origin)
    head = origin.head.commit.hexsha
    cache = GitRepoCache(tmp_path / "scratch")
    assert cache.clone_dir("fab-east", settings) == cache.repo_dir("fab-east")
    cache.read("fab-east", settings, commit=head)
    with counting_git(tmp_path / "gitcount") as calls:
        cache.read("fab-west", _west(settings), commit=head)
    assert calls.count("fetch") == 1


def test_different_credentials_or_urls_never_share_a_clone(tmp_path, origin):
    cache = GitRepoCache(tmp_path / "scratch", share_clones=True)
    plain = file_settings(origin)
    dirs = {cache.clone_dir("fab-east", plain),
            cache.clone_dir("fab-east", plain.model_copy(update={"token_env": "HEDGEHOG_SYNC_GIT_TOKEN_A"})),
            cache.clone_dir("fab-east", plain.model_copy(update={"token_env": "HEDGEHOG_SYNC_GIT_TOKEN_B"})),
            cache.clone_dir("fab-east", plain.model_copy(update={"url": plain.url + "/"}))}
    assert len(dirs) == 4
    # ref and path do not split a clone: they are read from it
    assert cache.clone_dir("fab-a", plain.model_copy(update={"ref": "v1", "path": "x"})) == cache.clone_dir("fab-b", plain)


def test_a_fabric_with_a_wrong_token_reads_nothing_another_fabrics_token_fetched(tmp_path, origin, monkeypatch):
    """Same URL, two token variables: the shared clones differ, so the fabric whose token the server
    refuses gets its own credentials error, not the other fabric's data."""
    publish(origin, tmp_path / "served", "fleet")
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(TOKEN_ENV + "_OLD", "ghs_revoked_" + "Zz9" * 8)
    cache = GitRepoCache(tmp_path / "scratch", share_clones=True)
    with start_gitserver(tmp_path / "served", token=TOKEN) as server:
        good = GitSettings(url=server.url("fleet"), path="fabrics/east", token_env=TOKEN_ENV, allow_local=True)
        revoked = good.model_copy(update={"path": "fabrics/west", "token_env": TOKEN_ENV + "_OLD"})
        head = cache.read("fab-east", good).commit
        with pytest.raises(GitAuthError):
            cache.read("fab-west", revoked, commit=head)


def test_two_refs_of_one_repository_keep_their_commits_in_the_shared_clone(tmp_path, origin):
    cache = GitRepoCache(tmp_path / "scratch", share_clones=True)
    main, tagged = file_settings(origin), file_settings(origin, ref="v1")
    head, first = origin.head.commit.hexsha, origin.commit("HEAD~2").hexsha
    assert cache.read("fab-east", main).commit == head
    assert cache.read("fab-west", _west(tagged)).commit == first
    with counting_git(tmp_path / "gitcount") as calls:  # the tag's fetch left main's commit in reach
        assert cache.read("fab-north", main, commit=head).commit == head
        assert cache.read("fab-south", _west(tagged), commit=first).commit == first
    assert calls.count("fetch") == 0


@pytest.mark.parametrize("commit", ["abc1234", "HEAD", "0" * 39, "g" * 40, "--upload-pack=touch x" + "0" * 19],
                         ids=["abbreviated", "a-name", "39-hex", "not-hex", "an-option"])
def test_a_commit_hint_must_be_a_full_sha(tmp_path, origin, commit):
    with pytest.raises(ValueError, match="not a full commit SHA"):
        GitRepoCache(tmp_path / "scratch", share_clones=True).read("fab-east", file_settings(origin), commit=commit)
    assert not (tmp_path / "scratch").exists()
