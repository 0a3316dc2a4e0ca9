"""Issue 19, run 12: the bounded kubeconfig and token file readers, called in this process.

read_capped_file reads at most its budget's bytes of a regular file, in reads of at most 64 KiB, and
refuses anything else with a ClusterConfigError naming the file (and for size, the budget and the env var
that raises it). _CappedKubeConfigMerger keeps each entry's file, so relative paths in a kubeconfig
resolve against that file, and the library's errors name the merged file. Real files in tmp_path; the
byte and read-call counts come from the kernel's per-thread I/O accounting (/proc/thread-self/io).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from kubernetes.config.kube_config import ConfigNode, KubeConfigMerger

from hedgehog_sync.connectors import kubernetes as kc
from hedgehog_sync.domain.errors import ClusterConfigError

TOKEN_ENV = "HEDGEHOG_SYNC_KUBERNETES_MAX_TOKEN_FILE_BYTES"
KUBECONFIG_ENV = "HEDGEHOG_SYNC_KUBERNETES_MAX_KUBECONFIG_BYTES"
IO = "/proc/thread-self/io"
ENTRIES = ("clusters", "contexts", "users")


def over_text(what: str, cap: int, key: str = "max_token_file_bytes", env: str = TOKEN_ENV) -> str:
    return (f"{what}: holds more than {cap} bytes, over the budget kubernetes.{key} = {cap} bytes; "
            f"raise it with {env} if this fabric really needs more")


def thread_io() -> tuple[int, int, int]:
    """(rchar, syscr, bytes this reading itself adds to rchar): this thread's read counters, read in
    one read call."""
    fd = os.open(IO, os.O_RDONLY)
    try:
        text = os.read(fd, 4096)
    finally:
        os.close(fd)
    fields = dict(line.split(b":") for line in text.splitlines())
    return int(fields[b"rchar"]), int(fields[b"syscr"]), len(text)


def read_counted(path: Path, what: str) -> tuple[bytes | BaseException, int, int]:
    """read_capped_file's answer (its bytes or the error it raised), and the bytes and read calls it
    cost this thread."""
    rchar, syscr, own = thread_io()
    try:
        result: bytes | BaseException = kc.read_capped_file(str(path), "max_token_file_bytes", what)
    except ClusterConfigError as exc:
        result = exc
    rchar2, syscr2, _ = thread_io()
    return result, rchar2 - rchar - own, syscr2 - syscr - 1


needs_io_accounting = pytest.mark.skipif(not os.path.exists(IO), reason="no per-thread I/O accounting")


# --- read_capped_file: what it returns and refuses ---------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 9, 10], ids=["empty", "one", "below", "at"])
def test_a_regular_file_up_to_the_cap_is_returned_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       size: int) -> None:
    monkeypatch.setenv(TOKEN_ENV, "10")
    path = tmp_path / "token"
    data = bytes(range(65, 65 + size))
    path.write_bytes(data)
    assert kc.read_capped_file(str(path), "max_token_file_bytes", "the token") == data


@pytest.mark.parametrize("size", [11, 12, 5000], ids=["one-over", "two-over", "far-over"])
def test_a_file_over_the_cap_names_the_file_the_budget_and_its_env_var(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    monkeypatch.setenv(TOKEN_ENV, "10")
    path = tmp_path / "token"
    path.write_bytes(b"x" * size)
    with pytest.raises(ClusterConfigError) as caught:
        kc.read_capped_file(str(path), "max_token_file_bytes", f"token file {path}")
    assert str(caught.value) == over_text(f"token file {path}", 10)


def test_a_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"tok\n")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert kc.read_capped_file(str(tmp_path / "link"), "max_token_file_bytes", "the token") == b"tok\n"


@pytest.mark.parametrize("kind", ["fifo", "folder", "fifo-behind-symlink"])
def test_what_is_not_a_regular_file_is_refused_unread(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "thing"
    if kind == "folder":
        target.mkdir()
    else:
        os.mkfifo(target)
    path = tmp_path / "link" if kind.endswith("symlink") else target
    if path != target:
        path.symlink_to(target)
    with pytest.raises(ClusterConfigError) as caught:  # a FIFO without a writer: answered at once, not waited for
        kc.read_capped_file(str(path), "max_token_file_bytes", f"token file {path}")
    assert str(caught.value) == (f"token file {path} is not a regular file (a FIFO, device or folder); "
                                 "refused unread")


def test_a_missing_file_says_why_in_lower_case(tmp_path: Path) -> None:
    path = tmp_path / "nowhere"
    with pytest.raises(ClusterConfigError) as caught:
        kc.read_capped_file(str(path), "max_token_file_bytes", f"token file {path}")
    assert str(caught.value) == f"token file {path} could not be read: no such file or directory"


def test_an_open_failure_without_an_os_reason_says_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An OSError may come without strerror (e.g. raised by an audit hook or a wrapper): the text still
    # ends in a reason, the fallback word "error". Only the open of this one path is failed.
    path = str(tmp_path / "token")
    real_open = os.open

    def failing_open(name, *args, **kwargs):
        if name == path:
            raise OSError()
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing_open)
    with pytest.raises(ClusterConfigError) as caught:
        kc.read_capped_file(path, "max_token_file_bytes", "the token file")
    assert str(caught.value) == "the token file could not be read: error"


@pytest.mark.parametrize("flag", ["O_NOCTTY", "O_CLOEXEC"])
def test_a_platform_without_an_optional_open_flag_still_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             flag: str) -> None:
    # O_NOCTTY and O_CLOEXEC are POSIX extras (Windows has neither): without them, no flag is added.
    monkeypatch.delattr(os, flag)
    path = tmp_path / "token"
    path.write_bytes(b"tok")
    path.chmod(stat.S_IRUSR)
    assert kc.read_capped_file(str(path), "max_token_file_bytes", "the token") == b"tok"


# O_NOCTTY: test_mutants_run13_kubernetes.py (a session leader reading a terminal must not acquire it).


# --- read_capped_file: what reading costs ------------------------------------------------------------


@needs_io_accounting
def test_a_file_over_the_cap_costs_exactly_cap_plus_one_bytes_in_64k_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cap = 64 * 1024 + 10
    monkeypatch.setenv(TOKEN_ENV, str(cap))
    path = tmp_path / "token"
    path.write_bytes(b"x" * 200_000)
    result, nbytes, reads = read_counted(path, "the token")
    assert isinstance(result, ClusterConfigError)
    assert str(result) == over_text("the token", cap)
    assert (nbytes, reads) == (cap + 1, 2)  # 64 KiB, then the 11 bytes that prove it is over


@needs_io_accounting
def test_a_file_at_a_cap_above_64k_is_read_whole_in_64k_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cap = 64 * 1024 + 10
    monkeypatch.setenv(TOKEN_ENV, str(cap))
    path = tmp_path / "token"
    data = os.urandom(cap)
    path.write_bytes(data)
    result, nbytes, reads = read_counted(path, "the token")
    assert result == data
    assert (nbytes, reads) == (cap, 3)  # 64 KiB, the last 10 bytes, the end of the file


@needs_io_accounting
def test_a_file_one_byte_over_64k_takes_two_reads_and_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, str(1024 * 1024))
    path = tmp_path / "token"
    data = os.urandom(64 * 1024 + 1)
    path.write_bytes(data)
    result, nbytes, reads = read_counted(path, "the token")
    assert result == data
    assert (nbytes, reads) == (len(data), 3)  # 64 KiB, 1 byte, the end of the file


# --- kubeconfig files: read under their budget, entries keep their file ---------------------------------


def kubeconfig(path: Path, *, user: dict, cluster: str = "c1", current: str | None = "ctx") -> Path:
    lines = [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: c1",
        "  cluster: {server: 'https://127.0.0.1:6443', insecure-skip-tls-verify: true}",
        "contexts:",
        f"- name: ctx\n  context: {{cluster: {cluster}, user: u1}}",
        "users:",
        f"- name: u1\n  user: {user!r}",
    ]
    if current:
        lines.append(f"current-context: {current}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_relative_token_file_resolves_against_its_kubeconfig_not_the_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = kubeconfig(tmp_path / "kube" / "config", user={"tokenFile": "token"})
    (tmp_path / "kube" / "token").write_text("  tok-in-kube-folder\n")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with kc.api_client_for(str(config), None) as api_client:
        assert api_client.configuration.api_key["authorization"] == "Bearer tok-in-kube-folder"


def test_in_a_kubeconfig_list_each_token_file_resolves_against_its_own_kubeconfig(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = tmp_path / "a" / "config"
    first.parent.mkdir()
    first.write_text("apiVersion: v1\nkind: Config\ncurrent-context: ctx\n")
    second = kubeconfig(tmp_path / "b" / "config", user={"tokenFile": "token"}, current=None)
    (tmp_path / "b" / "token").write_text("tok-b")
    monkeypatch.chdir(tmp_path / "a")
    with kc.api_client_for(f"{first}{os.pathsep}{second}", None) as api_client:
        assert api_client.configuration.api_key["authorization"] == "Bearer tok-b"


def test_a_context_naming_no_cluster_is_reported_in_the_merged_file(tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "config", user={"token": "tok"}, cluster="nowhere")
    with pytest.raises(ClusterConfigError) as caught:
        kc.api_client_for(str(config), None)
    assert str(caught.value) == (f"kubeconfig {config}, current context is unusable: Invalid kube-config file. "
                                 f"Expected object with name nowhere in {config}/clusters list")


def test_the_merger_builds_the_tree_the_library_merger_builds(tmp_path: Path) -> None:
    # KubeConfigLoader finds relative files through each node's path (the file it came from), and names
    # nodes in its errors: the capped merger must hand it the same tree as the library's own merger.
    first = kubeconfig(tmp_path / "a" / "config", user={"token": "tok-a"})
    second = tmp_path / "b" / "config"
    second.parent.mkdir()
    second.write_text("users:\n- name: u2\n  user: {token: tok-b}\n")
    source = f"{first}{os.pathsep}{second}"

    def tree(node: ConfigNode) -> object:
        return (node.name, node.path, {k: [(e.name, e.path, e.value) for e in v] if k in ENTRIES else v
                                       for k, v in node.value.items()})

    ours, theirs = kc._CappedKubeConfigMerger(source).config, KubeConfigMerger(source).config
    assert tree(ours) == tree(theirs)
    assert (ours.name, ours.path) == (str(first), str(first))
    assert [e.path for e in ours.value["users"]] == [str(first), str(second)]


@pytest.mark.parametrize("size", ["at", "over"])
def test_a_kubeconfig_is_read_up_to_its_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: str) -> None:
    config = kubeconfig(tmp_path / "config", user={"token": "tok"})
    cap = len(config.read_bytes()) - (size == "over")
    monkeypatch.setenv(KUBECONFIG_ENV, str(cap))
    if size == "at":
        with kc.api_client_for(str(config), None) as api_client:
            assert api_client.configuration.api_key["authorization"] == "Bearer tok"
        return
    with pytest.raises(ClusterConfigError) as caught:
        kc.api_client_for(str(config), None)
    assert str(caught.value) == over_text(f"kubeconfig {config}", cap, "max_kubeconfig_bytes", KUBECONFIG_ENV)


def test_a_kubeconfig_that_is_a_fifo_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "config"
    os.mkfifo(path)
    with pytest.raises(ClusterConfigError) as caught:
        kc.api_client_for(str(path), None)
    assert str(caught.value) == (f"kubeconfig {path} is not a regular file (a FIFO, device or folder); "
                                 "refused unread")
