"""Hostile Git trees: Hypothesis draws a tree (sizes around and over the budgets, one blob at many
paths, odd names: unicode, spaces, leading dashes, newlines and tabs, symlinks, deep folders, files
that are not YAML), commits it to a real repository on disk with `git fast-import`, and reads it
with GitRepoCache and desired_from_snapshot under small budgets.

Every example must end with a DesiredState or a HedgehogSyncError (a budget one names its budget
and how to raise it), within the deadline plus a margin, having read and parsed each blob once.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import event, example, given, strategies as st

from hedgehog_sync import cycle
from hedgehog_sync.connectors.git import GitBudgets, GitRepoCache
from hedgehog_sync.cycle import desired_from_snapshot
from hedgehog_sync.domain.errors import BudgetExceededError, GitRefError, HedgehogSyncError
from hedgehog_sync.domain.inventory import GitSettings
from hedgehog_sync.domain.model import DesiredState
from hedgehog_sync_tests.fuzz.conftest import fuzz_settings

BUDGETS = GitBudgets(max_bytes=100_000, max_files=25, max_documents=400)
TIMEOUT_S = 30
MARGIN_S = 10

VPC = "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {{name: {name}}}\nspec: {{}}\n"
SHARED = VPC.format(name="vpc-shared").encode()  # one blob, drawn at many paths

# A path component git (and fast-import) accepts: no '/', no NUL, not '.' or '..' or empty.
name_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0")
component = st.one_of(
    st.text(name_chars, min_size=1, max_size=12),
    st.sampled_from(["-rf", "--upload-pack=x", " space ", "new\nline", "tab\there", "unmanaged", ".hnp", "raw",
                     "managed", "ü-ñ-漢字", "a" * 200]),
).filter(lambda c: c not in (".", "..") and c.lower() != ".git")
suffix = st.sampled_from([".yaml", ".yaml", ".yaml", ".yml", ".YAML", ".md", ".txt", "", ".yaml.bak"])
path = st.builds(lambda folders, leaf, ext: "/".join([*folders, leaf + ext]),
                 st.lists(component, max_size=8), component, suffix)

content = st.one_of(
    st.builds(lambda n: VPC.format(name=n).encode(), st.from_regex(r"\Avpc-[a-z0-9]{1,8}\Z")),
    st.just(SHARED),
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    # sizes and document counts around the budgets, where off-by-one mistakes live
    st.sampled_from([0, 1, 199, 200, 201, 399, 401, 900]).map(lambda n: b"---\na: 1\n" * n),
    st.sampled_from([0, 1_000, 49_999, 99_990, 100_001, 250_000]).map(lambda n: b"# " + b"x" * n + b"\n"),
)
entry = st.one_of(
    st.tuples(st.just("file"), path, content),
    st.tuples(st.just("symlink"), path, st.sampled_from([b"/etc/passwd", b"../../x.yaml", b"vpc.yaml"])),
    # one blob at many paths: <folder>/copy-<i>.yaml
    st.tuples(st.just("copies"), component, st.integers(1, 40)),
)


def expand(entries: list[tuple]) -> list[tuple[str, str, bytes]]:
    out = []
    for kind, p, what in entries:
        if kind == "copies":
            out += [("file", f"{p}/copy-{i}.yaml", SHARED) for i in range(what)]
        else:
            out.append((kind, p, what))
    return out


def _quote(p: str) -> bytes:
    """A path as fast-import reads it: C-style quoted, control characters as octal."""
    out = bytearray(b'"')
    for byte in p.encode("utf-8", "surrogatepass"):
        if byte in (0x22, 0x5C):
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte == 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    return bytes(out + b'"')


def commit_tree(bare: Path, entries: list[tuple[str, str, bytes]]) -> None:
    stream = bytearray(b"commit refs/heads/main\ncommitter t <t@t> 0 +0000\ndata 4\nfuzz\n")
    for kind, p, data in entries:
        mode = b"120000" if kind == "symlink" else b"100644"
        stream += b"M " + mode + b" inline " + _quote(p) + b"\n" + b"data %d\n" % len(data) + data + b"\n"
    subprocess.run(["git", "init", "--bare", "--quiet", "--initial-branch=main", str(bare)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=bare, input=bytes(stream), check=True,
                   capture_output=True, timeout=60)


@pytest.fixture
def parses(monkeypatch):
    calls: list[str] = []
    real = cycle.parse_file
    monkeypatch.setattr(cycle, "parse_file", lambda p, data: calls.append(p) or real(p, data))
    return calls


@fuzz_settings
@example(entries=[("file", "a/big.yaml", b"# " + b"x" * 100_001 + b"\n")], path_choice="root")
@example(entries=[("file", "many.yaml", b"---\na: 1\n" * 401)], path_choice="root")
@example(entries=[("copies", "dup", 40)], path_choice="first folder")
@example(entries=[("file", "-rf/new\nline/ü.yaml", SHARED), ("symlink", "x.yaml", b"/etc/passwd")],
         path_choice="first folder")
@given(entries=st.lists(entry, max_size=40), path_choice=st.sampled_from(["root", "first folder", "missing"]))
def test_any_git_tree_ends_in_desired_state_or_a_clear_error_within_budget(tmp_path_factory, parses, entries,
                                                                          path_choice):
    root = tmp_path_factory.mktemp("tree")
    entries = expand(entries)
    if not entries:
        entries = [("file", "vpc.yaml", SHARED)]
    commit_tree(root / "origin.git", entries)
    fabric_path = {"root": "", "first folder": entries[0][1].split("/")[0] if "/" in entries[0][1] else "",
                   "missing": "no/such/folder"}[path_choice]
    settings = GitSettings.model_construct(url=f"file://{root / 'origin.git'}", ref="main", path=fabric_path.strip("/"),
                                           token_env=None, allow_local=True)
    cache = GitRepoCache(root / "cache", timeout_seconds=TIMEOUT_S, budgets=BUDGETS)
    parses.clear()
    started = time.monotonic()
    try:
        snap = cache.read("fab-fuzz", settings)
        outcome: object = desired_from_snapshot(snap, "main")
    except HedgehogSyncError as exc:
        outcome = exc
    elapsed = time.monotonic() - started
    event(f"{path_choice}: {type(outcome).__name__} {getattr(outcome, 'budget', '')}")
    assert elapsed < TIMEOUT_S + MARGIN_S

    if path_choice == "missing":
        assert isinstance(outcome, GitRefError) and "no/such/folder" in str(outcome)
        return
    if isinstance(outcome, BudgetExceededError):
        assert outcome.budget in ("git.max_bytes", "git.max_files", "git.max_documents")
        assert "HEDGEHOG_SYNC_GIT_" + outcome.budget.split(".")[1].upper() in str(outcome)
        assert "fab-fuzz" in str(outcome)
        return
    if isinstance(outcome, HedgehogSyncError):  # e.g. a path git.path names but that holds no file
        assert str(outcome)
        return
    assert isinstance(outcome, DesiredState)
    blobs = {f.blob: f.data for f in snap.files}
    assert len(snap.files) <= BUDGETS.max_files
    assert sum(len(d) for d in blobs.values()) <= BUDGETS.max_bytes
    assert len(parses) <= len(blobs)  # each distinct blob parsed at most once
    assert len({f.path for f in snap.files}) == len(snap.files)
    for f in snap.files:  # one bytes object per blob, whatever the number of paths
        assert f.data is blobs[f.blob]
