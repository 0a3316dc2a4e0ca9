"""The git connector against real repositories on disk (file:// transport, allow_local)."""

import os
import socket

import pytest

from hedgehog_sync.connectors.git import GitRepoCache
from hedgehog_sync.domain.redaction import redact
from hedgehog_sync.devlab.gitrepos import commit_files, init_repo
from hedgehog_sync.devlab.gitserver import start_gitserver
from hedgehog_sync.domain.errors import (
    GitRefError, GitUnreachableError, GitUrlRefused, PermanentError, TransientError,
)
from hedgehog_sync.domain.inventory import GitSettings

VPC = """apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata: {name: vpc-1}
spec: {subnets: {default: {subnet: 10.0.1.0/24, vlan: 1001}}}
"""


@pytest.fixture
def origin(tmp_path):
    repo = init_repo(tmp_path / "origin")
    commit_files(repo, {"fabrics/east/vpcs.yaml": VPC, "fabrics/east/README.md": "# east",
                        "fabrics/west/vpcs.yaml": VPC, "fabrics/east/unmanaged/x.yaml": VPC}, "initial")
    return repo


def settings(origin, **kw):
    return GitSettings(url=f"file://{origin.working_tree_dir}", allow_local=True, **kw)


def test_clone_once_then_fetch_reads_files_under_path(tmp_path, origin):
    cache = GitRepoCache(tmp_path / "cache")
    snap = cache.read("east", settings(origin, path="fabrics/east"))
    assert snap.commit == origin.head.commit.hexsha and snap.message == "initial"
    assert [f.path for f in snap.files] == ["vpcs.yaml"]
    assert snap.files[0].data.decode() == VPC
    second = commit_files(origin, {"fabrics/east/more.yaml": VPC.replace("vpc-1", "vpc-2")}, "add vpc-2")
    snap2 = cache.read("east", settings(origin, path="fabrics/east"))
    assert snap2.commit == second and sorted(f.path for f in snap2.files) == ["more.yaml", "vpcs.yaml"]
    # the unchanged file keeps its blob SHA: nothing to parse again
    assert {f.path: f.blob for f in snap.files}["vpcs.yaml"] == {f.path: f.blob for f in snap2.files}["vpcs.yaml"]


def test_tag_and_commit_refs(tmp_path, origin):
    first = origin.head.commit.hexsha
    origin.create_tag("v1")
    commit_files(origin, {"fabrics/east/vpcs.yaml": None}, "remove")
    cache = GitRepoCache(tmp_path / "cache")
    assert cache.read("east", settings(origin, ref="v1", path="fabrics/east")).commit == first
    assert cache.read("east", settings(origin, ref=first[:12], path="fabrics/east")).commit == first
    assert cache.read("east", settings(origin, path="fabrics/east")).files == []


def test_unknown_ref_is_a_permanent_error(tmp_path, origin):
    with pytest.raises(GitRefError, match="'nope'"):
        GitRepoCache(tmp_path / "c").read("east", settings(origin, ref="nope"))


@pytest.mark.parametrize("operation", ["read", "remote_commit"])
def test_unreachable_repository(tmp_path, operation):
    """Nobody answers at the repository's host (connection refused): transient, so retried and then
    `unknown` until the host is back (docs/reliability.md), never taken for a wrong URL or ref."""
    with socket.socket() as sock:  # a loopback port nobody listens on once this block ends
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = GitSettings(url=f"http://127.0.0.1:{port}/fabrics.git")
    with pytest.raises(GitUnreachableError) as caught:
        getattr(GitRepoCache(tmp_path / "c"), operation)("east", s)
    assert type(caught.value) is GitUnreachableError and caught.value.transient
    assert isinstance(caught.value, TransientError) and not isinstance(caught.value, PermanentError)


@pytest.mark.parametrize("where", ["file", "http"])
@pytest.mark.parametrize("operation", ["read", "remote_commit"])
def test_a_repository_that_does_not_exist_is_a_permanent_error(tmp_path, operation, where):
    """The host answers, the repository is not there: only a person fixing git.url changes that."""
    (tmp_path / "served").mkdir()
    with start_gitserver(tmp_path / "served") as server:  # serves no repository at all
        url = f"file://{tmp_path}/missing" if where == "file" else server.url("missing")
        with pytest.raises(GitRefError) as caught:
            getattr(GitRepoCache(tmp_path / "c"), operation)("east", GitSettings(url=url, allow_local=True))
    assert not caught.value.transient and isinstance(caught.value, PermanentError)
    assert "not found" in str(caught.value)


def test_corrupted_cache_is_rebuilt(tmp_path, origin):
    cache = GitRepoCache(tmp_path / "cache")
    cache.read("east", settings(origin))
    d = cache.repo_dir("east")
    for p in (d / "HEAD", d / "config"):
        p.write_text("garbage")
    assert cache.read("east", settings(origin)).commit == origin.head.commit.hexsha


def test_symlink_pointing_out_of_the_repo_is_not_followed(tmp_path, origin):
    os.symlink("/etc/passwd", os.path.join(origin.working_tree_dir, "fabrics/east/passwd.yaml"))
    origin.index.add(["fabrics/east/passwd.yaml"])
    origin.index.commit("symlink")
    snap = GitRepoCache(tmp_path / "c").read("east", settings(origin, path="fabrics/east"))
    assert [f.path for f in snap.files] == ["vpcs.yaml"]
    assert "symbolic link" in snap.findings[0].message


def test_local_url_without_consent_and_ext_transport_are_refused(tmp_path, origin):
    with pytest.raises(GitUrlRefused):
        GitRepoCache(tmp_path / "c").read("east", GitSettings.model_construct(
            url=f"file://{origin.working_tree_dir}", ref="main", path="", token_env=None, allow_local=False))
    with pytest.raises(GitUrlRefused):
        GitRepoCache(tmp_path / "c").read("east", GitSettings.model_construct(
            url="ext::sh -c 'touch /tmp/pwned'", ref="main", path="", token_env=None, allow_local=True))
    assert not os.path.exists("/tmp/pwned")


def test_bad_fabric_names_never_become_paths(tmp_path):
    with pytest.raises(ValueError):
        GitRepoCache(tmp_path).repo_dir("../escape")


def test_redact_url():
    assert redact("fatal: https://u:tok@h/r.git x") == "fatal: https://***@h/r.git x"


def test_remote_commit_sees_a_new_commit_without_fetching(tmp_path, origin):
    cache = GitRepoCache(tmp_path / "cache")
    s = settings(origin, path="fabrics/east")
    assert cache.remote_commit("east", s) == origin.head.commit.hexsha
    new = commit_files(origin, {"fabrics/east/more.yaml": VPC.replace("vpc-1", "vpc-2")}, "more")
    assert cache.remote_commit("east", s) == new
    origin.create_tag("v2")
    assert cache.remote_commit("east", settings(origin, ref="v2")) == new
    with pytest.raises(GitRefError):
        cache.remote_commit("east", settings(origin, ref="nope"))


def test_the_cached_repository_never_holds_the_url(tmp_path, origin):
    """The URL is given on the command line, never written to the cache's config or FETCH_HEAD."""
    cache = GitRepoCache(tmp_path / "cache")
    s = settings(origin, path="fabrics/east")
    cache.read("east", s)
    cache.read("east", s)  # the second read fetches into the existing cache
    d = cache.repo_dir("east")
    assert not (d / "FETCH_HEAD").exists()
    for f in d.rglob("*"):
        if f.is_file():
            assert origin.working_tree_dir.encode() not in f.read_bytes(), f


def test_a_cache_made_for_another_url_is_made_again(tmp_path, origin):
    other = init_repo(tmp_path / "other")
    commit_files(other, {"fabrics/east/other.yaml": VPC}, "other")
    cache = GitRepoCache(tmp_path / "cache")
    assert [f.path for f in cache.read("east", settings(origin, path="fabrics/east")).files] == ["vpcs.yaml"]
    assert [f.path for f in cache.read("east", settings(other, path="fabrics/east")).files] == ["other.yaml"]


def test_every_git_process_ends_with_the_read(tmp_path, origin):
    """No git (cat-file --batch, fetch helpers) outlives a read: each runs in its own group, ended."""
    cache = GitRepoCache(tmp_path / "cache")
    cache.read("east", settings(origin, path="fabrics/east"))
    mine = []  # (the origin fixture's own GitPython helpers live in tmp_path/origin, not in the cache)
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.readlink(f"/proc/{pid}/cwd").startswith(str(tmp_path / "cache")):
                mine.append(pid)
        except OSError:
            continue
    assert mine == []
