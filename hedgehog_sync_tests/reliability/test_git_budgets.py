"""Git reads under hostile remotes and trees (issue 12, findings 4, 5, 6 and the low git ones), against
real processes: `git` over the loopback git server, repositories on disk, the installed console script.

- A server that answers one byte a second: `check`, `GitRepoCache.read` and `remote_commit` (the
  fast-path sensor's ls-remote) end within the deadline, and no git or git-remote-http is left.
- One blob listed at 300 paths: read once, parsed once, bounded memory; budgets on bytes, files and
  documents make the fabric `unknown` with a message naming the budget and how to raise it.
- Tokens: trimmed, never over plain http to another host, never in any output or in the git cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from hedgehog_sync import cycle
from hedgehog_sync.connectors.git import GitBudgets, GitRepoCache, _Result
from hedgehog_sync.cycle import FabricReader, PersistentParses, desired_from_snapshot
from hedgehog_sync.devlab.gitrepos import commit_files, init_repo
from hedgehog_sync.devlab.gitserver import publish, start_gitserver
from hedgehog_sync.domain.errors import (
    BudgetExceededError, GitAuthError, GitRefError, GitTimeoutError, GitUnreachableError, GitUrlRefused,
)
from hedgehog_sync.domain.inventory import FabricConfig, GitSettings
from hedgehog_sync_tests.leaks import assert_no_leak

CLI = str(Path(sys.executable).with_name("hedgehog-sync"))
TOKEN_ENV = "HEDGEHOG_SYNC_BUDGETS_GIT_TOKEN"
TOKEN = "ghs_budgets_" + "Zq7" * 8
DEADLINE_S = 3
# The CLI imports Dagster-free code but still takes seconds to start on a busy 2-core machine. Deadline
# tests bound an operation that never ends by itself (a server trickling one byte a second): ending at all,
# with the deadline's own error, is the behaviour; the margin keeps a busy machine from failing them.
MARGIN_S = 30

VPC = """apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata: {{name: {name}}}
spec: {{subnets: {{default: {{subnet: 10.0.1.0/24, vlan: 1001}}}}}}
"""


def _git(*args: str, cwd: Path | None = None, data: bytes | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, check=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}).stdout.decode().strip()


def one_blob_at_many_paths(bare: Path, data: bytes, paths: int, folder: str = "fabrics/east") -> str:
    """A bare repository whose `folder` lists one blob at `paths` paths (d000/vpc.yaml, ...): tiny on
    disk, huge when read path by path."""
    _git("init", "--bare", "--quiet", "--initial-branch=main", str(bare))
    blob = _git("hash-object", "-w", "--stdin", cwd=bare, data=data)
    leaf = _git("mktree", cwd=bare, data=f"100644 blob {blob}\tvpc.yaml\n".encode())
    tree = _git("mktree", cwd=bare, data="".join(f"040000 tree {leaf}\td{i:03}\n" for i in range(paths)).encode())
    for part in reversed(folder.split("/")):
        tree = _git("mktree", cwd=bare, data=f"040000 tree {tree}\t{part}\n".encode())
    commit = _git("commit-tree", tree, "-m", "one blob, many paths", cwd=bare)
    _git("update-ref", "refs/heads/main", commit, cwd=bare)
    return commit


def big_vpc(size: int) -> bytes:
    """One VPC document of `size` bytes: annotations of 1,000 characters each."""
    head = "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: vpc-big\n  annotations:\n"
    line = "    a{:07d}: " + "x" * 1000 + "\n"
    count = (size - len(head)) // len(line.format(0))
    text = head + "".join(line.format(i) for i in range(count))
    return (text + "#" * (size - len(text) - 1) + "\n").encode()


def orphans(marker: str) -> list[str]:
    """Processes whose command line names `marker` (the test server's unique URL)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(pid + ": " + cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


def wait_no_orphans(marker: str) -> list[str]:
    for _ in range(20):  # a killed process may take a moment to be reaped by its parent
        left = orphans(marker)
        if not left:
            return []
        time.sleep(0.1)
    return orphans(marker)


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A fabric repository behind the loopback git server that wants TOKEN."""
    repo = init_repo(tmp_path / "work")
    commit_files(repo, {"fabrics/east/vpcs.yaml": VPC.format(name="vpc-1")}, "initial")
    publish(repo, tmp_path / "served", "fab-east")
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with start_gitserver(tmp_path / "served", token=TOKEN) as server:
        yield server


def http_settings(server, **kw) -> GitSettings:
    return GitSettings(url=server.url("fab-east"), path="fabrics/east", token_env=TOKEN_ENV, allow_local=True, **kw)


def write_inventory(tmp_path: Path, git: dict) -> Path:
    kubeconfig = tmp_path / "kubeconfig"
    # A cluster that refuses at once (a closed loopback port): these tests are about the Git side.
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "cluster-token-not-under-test"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    inventory = tmp_path / "fabrics.yaml"
    inventory.write_text(yaml.safe_dump({"fabrics": [
        {"name": "fab-east", "git": git, "kubernetes": {"kubeconfig": str(kubeconfig), "context": "c"}}]}))
    return inventory


def run_check(tmp_path: Path, inventory: Path, env: dict[str, str] | None = None,
              timeout: float = DEADLINE_S + MARGIN_S) -> tuple[subprocess.CompletedProcess, float, dict]:
    scratch = tmp_path / "state"  # the check's private Git scratch goes under it (removed when it exits)
    started = time.monotonic()
    proc = subprocess.run([CLI, "check", "--inventory", str(inventory), "--fabric", "fab-east", "--format", "json"],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HEDGEHOG_SYNC_GIT_TIMEOUT_SECONDS": str(DEADLINE_S),
                               "HEDGEHOG_SYNC_GIT_SCRATCH": str(scratch), **(env or {})})
    elapsed = time.monotonic() - started
    report = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    return proc, elapsed, report


# --- finding 5: a slow git server -------------------------------------------------------------------


@pytest.mark.cli_child
def test_check_against_a_one_byte_a_second_git_server_ends_at_its_deadline_with_no_orphan(tmp_path, served):
    served.faults.add(trickle=1.0)
    inventory = write_inventory(tmp_path, {"url": served.url("fab-east"), "path": "fabrics/east",
                                           "token_env": TOKEN_ENV, "allow_local": True})
    proc, elapsed, report = run_check(tmp_path, inventory)
    assert proc.returncode == 2, proc.stderr
    assert report["status"] == "unknown"
    git_errors = [e for e in report["errors"] if e.get("source") == "git"]
    assert [e["error_class"] for e in git_errors] == ["GitTimeoutError"], report["errors"]
    assert "HEDGEHOG_SYNC_GIT_TIMEOUT_SECONDS" in git_errors[0]["message"]
    assert elapsed < DEADLINE_S + MARGIN_S
    assert wait_no_orphans(served.url("fab-east")) == []
    assert_no_leak(TOKEN, texts=[proc.stdout, proc.stderr], paths=[tmp_path / "state"])


@pytest.mark.parametrize("operation", ["remote_commit", "read"])
def test_ls_remote_and_fetch_from_a_stalling_server_end_at_the_deadline_with_no_orphan(tmp_path, served, operation):
    """remote_commit is what the fast-path sensor calls every 15 s."""
    served.faults.add(trickle=1.0)
    cache = GitRepoCache(tmp_path / "cache", timeout_seconds=2)
    started = time.monotonic()
    with pytest.raises(GitTimeoutError, match="longer than 2 s"):
        getattr(cache, operation)("fab-east", http_settings(served))
    assert time.monotonic() - started < 2 + MARGIN_S  # ended by its deadline: the server never stops trickling
    assert wait_no_orphans(served.url("fab-east")) == []


def test_the_fast_path_sensor_tick_ends_at_the_deadline_with_no_orphan(tmp_path, served, monkeypatch):
    """The real sensor, on a real instance, asking a stalling server where a critical fabric's ref is."""
    from dagster import SkipReason, build_sensor_context, instance_for_test

    from hedgehog_sync.defs.fast_path import urgent_git_changes
    from hedgehog_sync.defs.resources import FleetResource

    served.faults.add(trickle=1.0)
    monkeypatch.setenv("HEDGEHOG_SYNC_GIT_TIMEOUT_SECONDS", "2")
    inventory = write_inventory(tmp_path, {"url": served.url("fab-east"), "path": "fabrics/east",
                                           "token_env": TOKEN_ENV, "allow_local": True})
    doc = yaml.safe_load(inventory.read_text())
    doc["fabrics"][0]["priority"] = "critical"
    inventory.write_text(yaml.safe_dump(doc))
    fleet = FleetResource(inventory_path=str(inventory))
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("fabrics", ["fab-east"])
        started = time.monotonic()
        result = urgent_git_changes(build_sensor_context(instance=instance, resources={"fleet": fleet}))
        assert time.monotonic() - started < 2 + MARGIN_S  # ended by its deadline, not the server
    assert isinstance(result, SkipReason)
    assert wait_no_orphans(served.url("fab-east")) == []


def test_a_second_reader_waits_for_the_clone_only_until_its_deadline(tmp_path, served):
    """A thread reading a fabric from a stalled server holds its clone; another thread's read of the
    same fabric (another cache object on the same scratch root, too) gives up at its own deadline,
    while the first is still waiting for the server."""
    import threading

    served.faults.add(trickle=1.0)
    first_error: list[BaseException] = []

    def first_read() -> None:
        try:
            GitRepoCache(tmp_path / "cache", timeout_seconds=6).read("fab-east", http_settings(served))
        except BaseException as exc:  # noqa: BLE001 - checked below
            first_error.append(exc)

    first = threading.Thread(target=first_read)
    first.start()
    try:
        while served.requests_to("fab-east") == 0 and first.is_alive():  # the first is fetching now
            time.sleep(0.01)
        with pytest.raises(GitTimeoutError, match="locked by another read for 1 s"):
            GitRepoCache(tmp_path / "cache", timeout_seconds=1).read("fab-east", http_settings(served))
        assert first.is_alive()  # the second gave up on its own deadline, not when the first let go
    finally:
        first.join(timeout=30)
    assert [type(e) for e in first_error] == [GitTimeoutError]
    assert wait_no_orphans(served.url("fab-east")) == []


# --- finding 4: budgets -----------------------------------------------------------------------------


def test_one_8_mb_blob_at_300_paths_is_read_once_and_parsed_once(tmp_path, monkeypatch):
    data = big_vpc(8_000_000)
    commit = one_blob_at_many_paths(tmp_path / "many.git", data, 300)
    calls = []
    real_parse = cycle.parse_file
    monkeypatch.setattr(cycle, "parse_file", lambda path, blob: calls.append(path) or real_parse(path, blob))
    settings = GitSettings(url=f"file://{tmp_path / 'many.git'}", path="fabrics/east", allow_local=True)
    snap = GitRepoCache(tmp_path / "cache").read("fab-east", settings)
    assert snap.commit == commit and len(snap.files) == 300
    assert len({id(f.data) for f in snap.files}) == 1  # one copy of the bytes, shared by every path
    desired = desired_from_snapshot(snap, "main")
    assert len(calls) == 1
    assert [o["metadata"]["name"] for o in desired.objects] == ["vpc-big"]
    duplicates = [f for f in desired.findings if "defined twice" in f.message]
    assert len(duplicates) == 299 and duplicates[0].source == "d001/vpc.yaml"

    # The parse kept between runs holds the blob once, not once per path.
    reader = FabricReader(GitRepoCache(tmp_path / "cache"), parses=PersistentParses())
    calls.clear()
    assert len(reader.read_desired(FabricConfig(name="fab-east", git=settings)).objects) == 1
    assert len(calls) == 1
    (doc,) = reader.parses.take_saved().values()  # what the batch writes to the state store
    stored = len(json.dumps(doc))
    assert stored < 2 * len(data)


@pytest.mark.cli_child
def test_check_of_one_8_mb_blob_at_300_paths_stays_small(tmp_path):
    one_blob_at_many_paths(tmp_path / "many.git", big_vpc(8_000_000), 300)
    inventory = write_inventory(tmp_path, {"url": f"file://{tmp_path / 'many.git'}", "path": "fabrics/east",
                                           "allow_local": True})
    # Peak memory of the CLI and of git, measured by a parent that waits for them.
    measure = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True); "
               "sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + '\\n' + "
               "p.stdout.decode()); sys.exit(p.returncode)")
    proc = subprocess.run([sys.executable, "-c", measure, CLI, "check", "--inventory", str(inventory), "--fabric",
                           "fab-east", "--format", "json"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HEDGEHOG_SYNC_GIT_SCRATCH": str(tmp_path / "state")})
    peak_kib, _, out = proc.stdout.partition("\n")
    report = json.loads(out)
    assert proc.returncode == 2  # duplicates, and no cluster
    assert report["git"]["resources"] == 1
    assert int(peak_kib) < 512 * 1024, f"peak RSS {int(peak_kib) // 1024} MiB"


@pytest.mark.parametrize("budget, env, value", [
    ("git.max_documents", "HEDGEHOG_SYNC_GIT_MAX_DOCUMENTS", "1000"),
    ("git.max_files", "HEDGEHOG_SYNC_GIT_MAX_FILES", "100"),
    ("git.max_bytes", "HEDGEHOG_SYNC_GIT_MAX_BYTES", "100000"),
])
@pytest.mark.cli_child
def test_a_budget_exceeded_makes_the_fabric_unknown_naming_the_budget_and_the_fix(tmp_path, budget, env, value):
    docs = "---\n".join(VPC.format(name=f"vpc-{i}") for i in range(10))  # 10 documents, at 300 paths
    one_blob_at_many_paths(tmp_path / "many.git", docs.encode() if budget != "git.max_bytes" else big_vpc(200_000),
                           300)
    inventory = write_inventory(tmp_path, {"url": f"file://{tmp_path / 'many.git'}", "path": "fabrics/east",
                                           "allow_local": True})
    proc, _, report = run_check(tmp_path, inventory, env={env: value})
    assert proc.returncode == 2
    (error,) = [e for e in report["errors"] if e.get("source") == "git"]
    assert error["error_class"] == "BudgetExceededError"
    assert budget in error["message"] and env in error["message"] and value in error["message"]
    assert "fab-east" in error["message"] and f"file://{tmp_path / 'many.git'}" in error["message"]


def test_budgets_are_checked_before_any_blob_is_read(tmp_path):
    one_blob_at_many_paths(tmp_path / "many.git", big_vpc(4_000_000), 300)
    settings = GitSettings(url=f"file://{tmp_path / 'many.git'}", path="fabrics/east", allow_local=True)
    cache = GitRepoCache(tmp_path / "cache", budgets=GitBudgets(max_bytes=1_000_000))
    with pytest.raises(BudgetExceededError) as caught:
        cache.read("fab-east", settings)
    assert caught.value.budget == "git.max_bytes" and "4000000 bytes" in str(caught.value)


@pytest.mark.skipif(not shutil.which("prlimit"), reason="the fetch budget needs prlimit (util-linux)")
def test_a_fetch_larger_than_its_budget_is_cut_by_the_kernel_and_named(tmp_path, served):
    repo = init_repo(tmp_path / "work2")
    commit_files(repo, {"fabrics/east/vpcs.yaml": VPC.format(name="vpc-1"), "blob.bin": os.urandom(3_000_000)}, "big")
    publish(repo, served.root, "fab-east")
    cache = GitRepoCache(tmp_path / "cache", budgets=GitBudgets(max_fetch_bytes=1_000_000))
    with pytest.raises(BudgetExceededError) as caught:
        cache.read("fab-east", http_settings(served))
    assert caught.value.budget == "git.max_fetch_bytes" and "HEDGEHOG_SYNC_GIT_MAX_FETCH_BYTES" in str(caught.value)
    assert not list((cache.repo_dir("fab-east") / "objects" / "pack").glob("tmp_*"))  # nothing cut left behind
    # Within its budget the same repository reads, and many fetches stay compact.
    cache = GitRepoCache(tmp_path / "cache", budgets=GitBudgets(max_fetch_bytes=10_000_000))
    assert [f.path for f in cache.read("fab-east", http_settings(served)).files] == ["vpcs.yaml"]


def test_budgets_from_env_fall_back_to_the_defaults_on_nonsense(monkeypatch):
    monkeypatch.setenv("HEDGEHOG_SYNC_GIT_MAX_FILES", "12")
    monkeypatch.setenv("HEDGEHOG_SYNC_GIT_MAX_BYTES", "lots")
    monkeypatch.setenv("HEDGEHOG_SYNC_GIT_MAX_DOCUMENTS", "-5")
    assert GitBudgets.from_env() == GitBudgets(max_files=12)


# --- low: a git.path that does not exist ------------------------------------------------------------


def test_a_git_path_that_does_not_exist_is_an_error_naming_path_commit_and_fix(tmp_path, served):
    cache = GitRepoCache(tmp_path / "cache")
    with pytest.raises(GitRefError) as caught:
        cache.read("fab-east", http_settings(served).model_copy(update={"path": "fabrics/East"}))
    message = str(caught.value)
    commit = served.root / "fab-east.git"
    head = _git("rev-parse", "main", cwd=commit)
    assert "'fabrics/East'" in message and head[:12] in message and "fix git.path" in message


@pytest.mark.cli_child
def test_check_with_a_missing_git_path_is_unknown_not_an_empty_in_sync(tmp_path, served):
    inventory = write_inventory(tmp_path, {"url": served.url("fab-east"), "path": "fabrics/nope",
                                           "token_env": TOKEN_ENV, "allow_local": True})
    proc, _, report = run_check(tmp_path, inventory)
    assert proc.returncode == 2 and report["status"] == "unknown"
    assert any("git.path 'fabrics/nope' does not exist" in e["message"] for e in report["errors"])


# --- low: ssh failures say what failed --------------------------------------------------------------


def test_ssh_connection_refused_says_so(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = GitSettings(url=f"ssh://git@127.0.0.1:{port}/fab.git")
    with pytest.raises(GitUnreachableError, match="the connection was refused"):
        GitRepoCache(tmp_path / "cache", timeout_seconds=10).read("fab-east", settings)


@pytest.fixture
def sshd():
    """A real SSH server on loopback (asyncssh) that refuses every key: (port, its host key line)."""
    asyncssh = pytest.importorskip("asyncssh")
    import asyncio
    import threading

    class Refuse(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def public_key_auth_supported(self) -> bool:
            return True

        def validate_public_key(self, username: str, key) -> bool:
            return False

    key = asyncssh.generate_private_key("ssh-ed25519")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    async def start():
        return await asyncssh.listen("127.0.0.1", 0, server_factory=Refuse, server_host_keys=[key])

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    port = server.sockets[0].getsockname()[1]
    yield port, f"[127.0.0.1]:{port} {key.export_public_key('openssh').decode().strip()}\n"
    loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


def test_ssh_host_key_unknown_and_key_refused_are_named_against_a_real_ssh_server(tmp_path, sshd, monkeypatch):
    port, host_key = sshd
    known_hosts = tmp_path / "known hosts"  # a space: the path is quoted for the shell git runs ssh with
    monkeypatch.setenv("HEDGEHOG_SYNC_GIT_SSH_KNOWN_HOSTS", str(known_hosts))
    settings = GitSettings(url=f"ssh://git@127.0.0.1:{port}/fab.git")
    cache = GitRepoCache(tmp_path / "cache", timeout_seconds=20)
    known_hosts.write_text("")
    with pytest.raises(GitAuthError, match="host key is not known") as caught:
        cache.read("fab-east", settings)
    assert "and the repository exists" not in str(caught.value)
    known_hosts.write_text(host_key)
    with pytest.raises(GitAuthError, match="ssh authentication was refused"):
        cache.read("fab-east", settings)
    with pytest.raises(GitAuthError, match="ssh authentication was refused"):
        cache.remote_commit("fab-east", settings)


SSH_STDERR = {
    "host key": ("No ED25519 host key is known for git.example.com and you have requested strict checking.\n"
                 "Host key verification failed.\nfatal: Could not read from remote repository.\n\n"
                 "Please make sure you have the correct access rights\nand the repository exists.\n",
                 GitAuthError, "host key is not known"),
    "auth": ("git@git.example.com: Permission denied (publickey).\nfatal: Could not read from remote repository."
             "\n\nPlease make sure you have the correct access rights\nand the repository exists.\n",
             GitAuthError, "ssh authentication was refused"),
    "dns": ("ssh: Could not resolve hostname git.example.invalid: Name or service not known\n"
            "fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\n"
            "and the repository exists.\n", GitUnreachableError, "could not be resolved"),
    "refused": ("ssh: connect to host 127.0.0.1 port 9: Connection refused\nfatal: Could not read from remote "
                "repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n",
                GitUnreachableError, "connection was refused"),
}


@pytest.mark.parametrize("case", SSH_STDERR)
def test_ssh_failures_are_named_from_the_whole_stderr_not_its_last_line(case):
    stderr, cls, meaning = SSH_STDERR[case]
    error = GitRepoCache("/nonexistent")._classify(_Result(128, b"", stderr, False, False),
                                                   GitSettings(url="ssh://git@git.example.com/f.git"), "fetch")
    assert type(error) is cls and meaning in str(error)
    assert "and the repository exists" not in str(error)


# --- finding 6 and the low ones: tokens -------------------------------------------------------------


@pytest.mark.cli_child
def test_a_token_with_a_trailing_newline_works_and_never_leaves_the_process(tmp_path, served, monkeypatch):
    inventory = write_inventory(tmp_path, {"url": served.url("fab-east"), "path": "fabrics/east",
                                           "token_env": TOKEN_ENV, "allow_local": True})
    proc, _, report = run_check(tmp_path, inventory, env={TOKEN_ENV: TOKEN + "\n"})  # as `echo` writes it
    assert report["git"]["resources"] == 1, report["errors"]
    assert_no_leak(TOKEN, texts=[proc.stdout, proc.stderr], paths=[tmp_path / "state"])
    # The clone itself, read here in this process so it can be looked at: no URL, no header in its config.
    settings = GitSettings(url=served.url("fab-east"), path="fabrics/east", token_env=TOKEN_ENV, allow_local=True)
    monkeypatch.setenv(TOKEN_ENV, TOKEN + "\n")
    cache = GitRepoCache(tmp_path / "clone")
    assert cache.read("fab-east", settings).files
    config = (cache.repo_dir("fab-east") / "config").read_text()
    assert "url" not in config and "extraheader" not in config.lower()
    assert_no_leak(TOKEN, paths=[tmp_path / "clone"])


@pytest.mark.cli_child
def test_a_wrong_token_is_an_auth_error_that_shows_no_token(tmp_path, served):
    wrong = "ghs_wrong_" + "Yk2" * 8
    inventory = write_inventory(tmp_path, {"url": served.url("fab-east"), "path": "fabrics/east",
                                           "token_env": TOKEN_ENV, "allow_local": True})
    proc, _, report = run_check(tmp_path, inventory, env={TOKEN_ENV: wrong})
    assert [e["error_class"] for e in report["errors"] if e.get("source") == "git"] == ["GitAuthError"]
    for secret in (wrong, TOKEN):
        assert_no_leak(secret, texts=[proc.stdout, proc.stderr], paths=[tmp_path / "state"])


@pytest.mark.parametrize("url, allow_local, token_env", [
    ("http://git.example.com/f.git", False, TOKEN_ENV),  # clear text to another host
    ("http://git.example.com/f.git", True, TOKEN_ENV),  # allow_local does not make a remote host local
    ("http://127.0.0.1:9/f.git", False, TOKEN_ENV),  # loopback, but without consent
    ("https://git.example.com/f.git", False, "PGPASSWORD"),  # not a variable set aside for git tokens
    ("https://git.example.com/f.git?private_token=" + TOKEN, False, None),
])
def test_the_connector_refuses_what_the_inventory_refuses_before_git_runs(tmp_path, url, allow_local, token_env):
    settings = GitSettings.model_construct(url=url, ref="main", path="", token_env=token_env, allow_local=allow_local)
    cache = GitRepoCache(tmp_path / "cache", timeout_seconds=2)
    for operation in (cache.read, cache.remote_commit):
        with pytest.raises(GitUrlRefused) as caught:
            operation("fab-east", settings)
        assert TOKEN not in str(caught.value)
    assert not (tmp_path / "cache" / "fab-east" / "repo.git").exists()  # refused before git ran


@pytest.mark.cli_child
@pytest.mark.parametrize("command", [["check", "--fabric", "fab-east", "--format", "json"], ["inventory", "validate"]])
def test_a_token_in_a_url_query_string_is_refused_and_never_echoed(tmp_path, served, command):
    inventory = write_inventory(tmp_path, {"url": served.url("fab-east") + "?private_token=" + TOKEN,
                                           "allow_local": True})
    proc = subprocess.run([CLI, *command, "--inventory", str(inventory)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HEDGEHOG_SYNC_GIT_SCRATCH": str(tmp_path / "state")})
    assert proc.returncode == (2 if command[0] == "check" else 1)
    assert "query string" in proc.stderr
    assert_no_leak(TOKEN, texts=[proc.stdout, proc.stderr], paths=[tmp_path / "state"])


@pytest.mark.cli_child
def test_inventory_validate_warns_about_an_unset_token_env(tmp_path, monkeypatch):
    inventory = write_inventory(tmp_path, {"url": "https://git.example.com/f.git",
                                           "token_env": "HEDGEHOG_SYNC_NOT_SET_TOKEN"})
    env = {k: v for k, v in os.environ.items() if k != "HEDGEHOG_SYNC_NOT_SET_TOKEN"}
    proc = subprocess.run([CLI, "inventory", "validate", "--inventory", str(inventory)], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "warning:" in proc.stderr and "fabrics[1] (fab-east)" in proc.stderr
    assert "HEDGEHOG_SYNC_NOT_SET_TOKEN is not set" in proc.stderr
    proc = subprocess.run([CLI, "inventory", "validate", "--inventory", str(inventory)], capture_output=True,
                          text=True, timeout=60, env={**env, "HEDGEHOG_SYNC_NOT_SET_TOKEN": "ghs_" + "a" * 20})
    assert proc.returncode == 0 and "warning" not in proc.stderr


@pytest.mark.cli_child
def test_inventory_validate_refuses_a_token_env_outside_the_prefix_naming_entry_and_fix(tmp_path):
    inventory = write_inventory(tmp_path, {"url": "https://git.example.com/f.git", "token_env": "PGPASSWORD"})
    proc = subprocess.run([CLI, "inventory", "validate", "--inventory", str(inventory)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    assert "fabrics[1] (fab-east)" in proc.stderr and "HEDGEHOG_SYNC_PGPASSWORD" in proc.stderr
    assert "HEDGEHOG_SYNC_TOKEN_ENV_PREFIX" in proc.stderr


# --- low: the inventory size cap reads bytes, not st_size --------------------------------------------


@pytest.mark.cli_child
@pytest.mark.parametrize("command", [["inventory", "validate"], ["check", "--fabric", "fab-east"]])
@pytest.mark.parametrize("source", ["/dev/zero", "fifo"])
def test_an_inventory_that_is_a_device_or_a_fifo_is_refused_at_once(tmp_path, command, source):
    path = source
    if source == "fifo":
        path = str(tmp_path / "inventory.fifo")
        os.mkfifo(path)  # nobody ever writes to it
    proc = subprocess.run([CLI, *command, "--inventory", path], capture_output=True, text=True, timeout=60)
    assert proc.returncode == (1 if command[0] == "inventory" else 2)
    assert "not a regular file" in proc.stderr and path in proc.stderr
