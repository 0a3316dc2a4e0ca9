"""Tests that kill issue 19's hand mutations of cycle.py (each survived the suite before): error text
without redaction, the persisted parse always `complete`, and a fabric's unexpected error escaping
its read or comparison instead of becoming that fabric's result.

Real components only: a real Git repository on disk, the real state store (SQLite), the real FabricReader.
"""

import copy

import git
import pytest

from hedgehog_sync.connectors.git import GitRepoCache, GitSnapshot
from hedgehog_sync.cycle import (
    FabricReader, PersistentParses, SideRead, compare_fabric, contained_outcome, read_with_retries,
)
from hedgehog_sync.domain.errors import HedgehogSyncError
from hedgehog_sync.domain.inventory import parse_inventory
from hedgehog_sync.domain.parsing import ParsedFile
from hedgehog_sync.domain.redaction import register_secret
from hedgehog_sync.state import FabricWrite, StateStore

SECRET = "hand-mutant-s3cret-9f2c"  # registered below, as a connector registers a token it reads
URL_PASSWORD = "url-pa55word-77"  # never registered: only the URL's shape says it is a credential


def secret_text():
    return f"token {SECRET} refused at https://operator:{URL_PASSWORD}@git.example.com/fabrics.git"


def assert_no_secret(text):
    assert SECRET not in text and URL_PASSWORD not in text, text


@pytest.fixture(autouse=True)
def _registered():
    register_secret(SECRET)


def fabric(url="https://git.example.com/fabrics.git"):
    local = ", allow_local: true" if url.startswith("file://") else ""
    inv = parse_inventory(f"fabrics:\n  - name: fab-a\n    git: {{url: \"{url}\"{local}}}\n", "fabrics.yaml")
    assert inv.problems == []
    return inv.fabrics[0]


def state(tmp_path):
    return StateStore(f"sqlite:///{tmp_path / 'state.db'}")


def keep(store, parses):
    """What a batch does with the parses its reads learned: write them with its transaction."""
    store.commit([FabricWrite(name, parses=doc) for name, doc in parses.take_saved().items()])


def raising(exc):
    def read():
        raise exc
    return read


@pytest.mark.parametrize("exc", [ValueError, KeyError, RuntimeError, OSError, AttributeError])
def test_an_unexpected_read_error_is_the_fabrics_result_never_raised_and_redacted(exc):
    """One fabric's unforeseen error (not one of ours) is its SideRead, so the batch goes on."""
    side = read_with_retries(raising(exc(secret_text())), lambda v: "v")
    assert side.value is None and isinstance(side.error, HedgehogSyncError)
    text = str(side.error)
    assert f"unexpected {exc.__name__}" in text and "git.example.com" in text
    assert_no_secret(text)


def test_our_own_read_error_keeps_its_class_and_text():
    class Refused(HedgehogSyncError):
        pass

    side = read_with_retries(raising(Refused("refused: try later")), lambda v: "v")
    assert type(side.error) is Refused and str(side.error) == "refused: try later"


def test_an_unexpected_compare_error_makes_only_this_fabric_unknown(tmp_path):
    """Both sides 'read', but the desired side is of a shape nothing expected: the report is
    unknown and names the error; compare_fabric itself does not raise."""
    store = state(tmp_path)
    cfg = fabric()
    outcome = compare_fabric(cfg, SideRead(object(), version="g1"), SideRead(object(), version="k1"),
                             store.load([cfg.name])[cfg.name])
    assert outcome.report["status"] == "unknown" and outcome.compare_error is not None
    store.commit([FabricWrite(cfg.name, report=outcome.report)])
    (error,) = [e for e in outcome.report["errors"] if e["source"] == "compare"]
    assert error["message"].startswith("comparing failed: ") and error["error_class"] == "CompareError"
    assert store.latest_report(cfg.name)["status"] == "unknown"


def test_a_contained_error_text_is_redacted_in_the_stored_report(tmp_path):
    store = state(tmp_path)
    cfg = fabric()
    failed = compare_fabric(cfg, SideRead(None, HedgehogSyncError("git down")),
                            SideRead(None, HedgehogSyncError("api down")), store.load([cfg.name])[cfg.name])
    outcome = contained_outcome(failed, RuntimeError(secret_text()), "recording")
    store.commit([FabricWrite(cfg.name, report=outcome.report)])
    assert outcome.report["status"] == "unknown"
    (error,) = [e for e in outcome.report["errors"] if e["source"] == "compare"]
    assert error["message"].startswith("recording failed: RuntimeError: token ***")
    assert "git.example.com" in error["message"]
    assert_no_secret(error["message"])
    assert_no_secret(str(store.latest_report(cfg.name)))
    assert_no_secret(str(outcome.compare_error))


def vpc_file(i):
    return (f"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {{name: vpc-{i}, namespace: default}}\n"
            f"spec:\n  subnets: {{default: {{subnet: 10.0.{i}.0/24, vlan: {1000 + i}}}}}\n")


def test_a_parse_that_is_not_plain_json_is_not_kept_and_is_read_again(tmp_path):
    """The issue's scenario: a file whose parse cannot be kept as JSON (a `.nan`, when the parser still
    took it; today's parser refuses NaN, so a parse holding one is built here from the real one) is left
    out of the kept parses, which are then not `complete`: a later cycle on the same commit must read
    Git again, never take the kept parses as the whole desired state (77 resources became 72)."""
    repo = git.Repo.init(tmp_path / "repo", initial_branch="main")
    paths = [f"vpc-{i}.yaml" for i in range(1, 5)]
    for i, path in enumerate(paths, start=1):
        (tmp_path / "repo" / path).write_text(vpc_file(i))
    repo.index.add(paths)
    repo.index.commit("four VPCs")
    cfg = fabric(f"file://{tmp_path / 'repo'}")
    store = state(tmp_path)
    parses = PersistentParses(store)

    def names():
        reader = FabricReader(GitRepoCache(tmp_path / "git"), parses=PersistentParses(store))
        try:
            return sorted(o["metadata"]["name"] for o in reader.read_desired(cfg).objects)
        finally:
            reader.close()
            keep(store, reader.parses)

    everything = ["vpc-1", "vpc-2", "vpc-3", "vpc-4"]
    assert names() == everything
    kept = parses.load(cfg.name, cfg.git)
    assert kept.complete is True and sorted(kept.files) == paths and kept.commit == repo.head.commit.hexsha

    files = dict(kept.files)
    blob, parsed = files["vpc-4.yaml"]
    with_nan = copy.deepcopy(parsed.objects)
    with_nan[0]["spec"]["weight"] = float("nan")
    files["vpc-4.yaml"] = (blob, ParsedFile(objects=with_nan, documents=list(parsed.documents)))
    parses.save(cfg.name, cfg.git, GitSnapshot(kept.commit, kept.message, kept.author, [], kept.findings), files)
    keep(store, parses)
    doc = store.parsed_files(cfg.name)
    assert doc["complete"] is False and sorted(doc["files"]) == paths[:3]
    assert parses.load(cfg.name, cfg.git).complete is False

    assert names() == everything  # a later cycle, same commit: nothing drops out of the desired state
    assert PersistentParses(store).load(cfg.name, cfg.git).complete is True  # read again, kept whole this time
    assert names() == everything


# --- issue 19: cycle.py's mutation score ------------------------------------------------------------------
# Expected values below are written from the docstrings and docs/contracts.md; the report's own version
# functions (report_version, desired_version, live_version) are the contract of what `versions` holds.

import hashlib
import random
import time
from datetime import datetime, timezone
from pathlib import Path

import hedgehog_sync.cycle as cycle
from hedgehog_sync.connectors.git import GitFile
from hedgehog_sync.cycle import (
    DRIFT_REPORT, ENGINE_VERSION, GIT_STATE, INPUTS, INPUTS_REPORT, K8S_STATE, PARSER_VERSION, CachedRead,
    CompareError, FabricOutcome, desired_from_snapshot, read_cluster_side, read_git_side, sync_fabric,
    sync_fabric_with_retries, unknown_report,
)
from hedgehog_sync.devlab.apiserver import FabricStore, new_object, start_apiserver
from hedgehog_sync.domain import kinds as kinds_module, parsing as parsing_module, yamljson as yamljson_module
from hedgehog_sync.domain.errors import (
    BudgetExceededError, ClusterConfigError, GitRefError, GitUnreachableError, TransientError,
)
from hedgehog_sync.domain.model import DesiredState, Finding, LiveState
from hedgehog_sync.domain.recovery import RecoveryPolicy
from hedgehog_sync.domain.report import desired_version, live_version, report_version, rules_version

T = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
T_ISO = "2026-01-02T03:04:05Z"
C1 = "c" * 40


class Stored:
    def __init__(self, report=None, versions=None):
        self.report, self.versions = report, versions


def vpc_obj(name="vpc-1"):
    return {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}}}


# _at_path and the in-memory parse cache


def test_a_parse_at_another_path_names_that_path_and_at_its_own_path_is_the_same_object():
    parsed = ParsedFile(objects=[{"a": 1}], documents=[1], findings=[Finding("a.yaml", "bad", "error", 2)])
    assert cycle._at_path(parsed, "a.yaml") is parsed
    moved = cycle._at_path(parsed, "b/c.yaml")
    assert moved.objects is parsed.objects and moved.documents is parsed.documents
    assert moved.findings == [Finding("b/c.yaml", "bad", "error", 2)]
    assert parsed.findings == [Finding("a.yaml", "bad", "error", 2)]  # the cached parse is untouched
    clean = ParsedFile(objects=[], documents=[], findings=[])
    assert cycle._at_path(clean, "x.yaml") is clean


def test_the_parse_cache_keeps_the_most_recently_used_blobs_within_its_entry_capacity():
    cache = cycle._ParseCache(capacity=2)
    a = cache.parse("a.yaml", "A", b"a: 1\n")
    b = cache.parse("b.yaml", "B", b"b: 1\n")
    assert cache.parse("a.yaml", "A", b"ignored: the blob decides") is a  # a hit; A is now the newest
    cache.parse("c.yaml", "C", b"c: 1\n")  # three entries: B, the oldest used, goes
    assert cache.parse("a.yaml", "A", b"a: 1\n") is a
    assert cache.parse("b.yaml", "B", b"b: 1\n") is not b


def test_the_parse_cache_holds_at_most_its_source_bytes_exactly():
    cache = cycle._ParseCache(max_source_bytes=10)
    five, four = b"a: 123\n"[:5], b"b: 1"  # 5 and 4 bytes
    first = cache.parse("a.yaml", "A", five)
    second = cache.parse("b.yaml", "B", four)  # 9 bytes: both kept
    third = cache.parse("c.yaml", "C", b"c")  # 10 bytes: the limit itself is kept
    assert cache.parse("a.yaml", "A", five) is first
    assert cache.parse("b.yaml", "B", four) is second and cache.parse("c.yaml", "C", b"c") is third
    fourth = cache.parse("d.yaml", "D", b"d")  # 11 bytes: the least recently used (A) goes, and only it
    assert cache.parse("b.yaml", "B", four) is second and cache.parse("c.yaml", "C", b"c") is third
    again = cache.parse("a.yaml", "A", five)  # parsed afresh: 11 bytes again, D (now the oldest) goes
    assert again is not first
    assert cache.parse("c.yaml", "C", b"c") is third and cache.parse("a.yaml", "A", five) is again
    assert cache.parse("b.yaml", "B", four) is second
    assert cache.parse("d.yaml", "D", b"d") is not fourth


def test_a_blob_seen_twice_is_counted_once_in_the_source_bytes():
    cache = cycle._ParseCache(max_source_bytes=10)
    first = cache.parse("a.yaml", "A", b"a: 1")  # 4 bytes
    cache._items.pop("A")  # two threads parsed A at once: the second finds it kept already
    cache._items["A"] = (first, 4)
    cache.parse("b.yaml", "B", b"b: 123")  # 10 bytes in all
    assert cache.parse("a.yaml", "A", b"a: 1") is first


def test_the_parser_and_engine_versions_are_digests_of_their_modules_source():
    h = hashlib.sha256()
    for module in (parsing_module, yamljson_module, kinds_module):
        h.update(Path(module.__file__).read_bytes())
    assert PARSER_VERSION == h.hexdigest()[:16]
    assert len(ENGINE_VERSION) == 16 and ENGINE_VERSION != PARSER_VERSION


# PersistentParses


class Settings:
    def __init__(self, url="https://git.example.com/f.git", ref="main", path=""):
        self.url, self.ref, self.path = url, ref, path


def snapshot(commit=C1, findings=()):
    return GitSnapshot(commit, "the message", "the author", [], list(findings))


def parse_of(text, path="a.yaml"):
    return parse_file(path, text.encode())


from hedgehog_sync.domain.parsing import parse_file  # noqa: E402


def test_kept_parses_round_trip_with_findings_documents_and_the_snapshot():
    parses = PersistentParses()
    bad = parse_of("a: [1\n", "bad.yaml")
    assert bad.findings
    good = parse_of("apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {name: v}\n", "good.yaml")
    files = {"bad.yaml": ("B1", bad), "good.yaml": ("G1", good), "copy/good.yaml": ("G1", good)}
    found = Finding("link.yaml", "symbolic link ignored", "warning")
    parses.save("fab-a", Settings(), snapshot(findings=[found, Finding("x.yaml", "m", "error", 3)]), files)
    saved = parses.take_saved()
    assert list(saved) == ["fab-a"] and parses.take_saved() == {}
    doc = saved["fab-a"]
    assert doc["format"] == 2 and doc["parser"] == PARSER_VERSION and doc["complete"] is True
    assert doc["commit"] == C1 and doc["message"] == "the message" and doc["author"] == "the author"
    assert doc["files"] == {"bad.yaml": "B1", "good.yaml": "G1", "copy/good.yaml": "G1"}
    assert sorted(doc["blobs"]) == ["B1", "G1"]
    assert all("source" not in f for f in doc["blobs"]["B1"]["findings"])
    assert doc["findings"] == [{"source": "link.yaml", "level": "warning", "message": "symbolic link ignored"},
                               {"source": "x.yaml", "level": "error", "message": "m", "document": 3}]
    assert doc["source"] == hashlib.sha256(b"https://git.example.com/f.git\0main\0").hexdigest()[:16]

    loaded = PersistentParses(docs={"fab-a": doc}).load("fab-a", Settings())
    assert isinstance(loaded, CachedRead)
    assert (loaded.commit, loaded.message, loaded.author, loaded.complete) == (C1, "the message", "the author", True)
    assert loaded.findings == [found, Finding("x.yaml", "m", "error", 3)]
    assert loaded.files["good.yaml"] == ("G1", ParsedFile(objects=good.objects, documents=good.documents))
    assert loaded.files["copy/good.yaml"][0] == "G1"
    blob, again = loaded.files["bad.yaml"]
    assert blob == "B1" and again.findings == bad.findings and again.findings[0].source == "bad.yaml"
    assert again.findings[0].document == bad.findings[0].document
    # the same blob listed elsewhere names that path in its findings
    moved = PersistentParses(docs={"fab-a": {**doc, "files": {"elsewhere.yaml": "B1"}}}).load("fab-a", Settings())
    assert [f.source for f in moved.files["elsewhere.yaml"][1].findings] == ["elsewhere.yaml"] * len(bad.findings)


@pytest.mark.parametrize("other", [Settings(url="https://git.example.com/g.git"), Settings(ref="dev"),
                                   Settings(path="fabrics/east")], ids=["url", "ref", "path"])
def test_kept_parses_of_another_url_ref_or_path_give_no_commit(other):
    parses = PersistentParses()
    parses.save("fab-a", Settings(), snapshot(), {})
    assert parses.load("fab-a", Settings()).commit == C1
    loaded = parses.load("fab-a", other)
    assert loaded is not None and loaded.commit == "" and loaded.message == "the message"


@pytest.mark.parametrize("change", [
    {"parser": "an older release"}, {"format": 1}, {"format": "2"}, {"blobs": None}, {"files": {"a": "nope"}},
    {"findings": [{"message": "m"}]}, {"commit": None, "source": None} and {"complete": None} and {"files": 3},
], ids=["parser", "format", "format-text", "blobs", "missing-blob", "finding-without-source", "files-int"])
def test_a_damaged_or_foreign_document_is_no_cache(change):
    parses = PersistentParses()
    parses.save("fab-a", Settings(), snapshot(), {"a": ("A", parse_of("a: 1\n"))})
    doc = {**parses.take_saved()["fab-a"], **change}
    assert PersistentParses(docs={"fab-a": doc}).load("fab-a", Settings()) is None


@pytest.mark.parametrize("doc", [None, "text", ["a"]], ids=["none", "text", "list"])
def test_a_document_that_is_not_an_object_is_no_cache(doc):
    assert PersistentParses(docs={"fab-a": doc}).load("fab-a", Settings()) is None


def test_a_finding_of_a_kept_parse_without_a_level_is_no_cache():
    parses = PersistentParses()
    parses.save("fab-a", Settings(), snapshot(), {"a": ("A", parse_of("a: [1\n"))})
    doc = parses.take_saved()["fab-a"]
    doc["blobs"]["A"]["findings"] = [{"message": "m"}]
    assert PersistentParses(docs={"fab-a": doc}).load("fab-a", Settings()) is None


def test_a_kept_document_with_a_missing_finding_document_index_loads_it_as_none():
    parses = PersistentParses()
    parses.save("fab-a", Settings(), snapshot(findings=[Finding("x", "m", "warning")]), {})
    doc = parses.take_saved()["fab-a"]
    assert "document" not in doc["findings"][0]
    assert PersistentParses(docs={"fab-a": doc}).load("fab-a", Settings()).findings == [Finding("x", "m", "warning")]


def test_primed_documents_come_first_and_primed_fabrics_without_one_are_not_looked_up(tmp_path):
    store = state(tmp_path)
    on_disk = PersistentParses()
    on_disk.save("fab-a", Settings(), snapshot(), {})
    on_disk.save("fab-b", Settings(), snapshot(commit="b" * 40), {})
    keep(store, on_disk)
    parses = PersistentParses(store)
    assert parses.load("fab-a", Settings()).commit == C1  # not primed: read from the store
    parses.prime({"fab-b": None}, ["fab-a"])
    assert parses.load("fab-a", Settings()) is None  # primed without a document: none, not looked up
    assert parses.load("fab-b", Settings()) is None
    parses.prime({"fab-b": store.parsed_files("fab-b")}, ["fab-b"])  # a document given wins over the name
    assert parses.load("fab-b", Settings()).commit == "b" * 40
    assert PersistentParses().load("fab-a", Settings()) is None  # no store, nothing primed



# desired_from_snapshot


def test_desired_from_a_snapshot_parses_each_blob_once_and_records_every_path():
    vpc = b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {name: v1}\n"
    other = b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {name: v2}\n"
    snap = GitSnapshot(C1, "msg", "me", [GitFile("a.yaml", "A", vpc), GitFile("b.yaml", "B", other)],
                       [Finding("link.yaml", "symbolic link ignored", "warning")])
    parsed_now = {}
    cache = cycle._ParseCache()
    desired = desired_from_snapshot(snap, "main", cache, None, parsed_now)
    assert (desired.commit, desired.ref, desired.commit_message, desired.commit_author) == (C1, "main", "msg", "me")
    assert [o["metadata"]["name"] for o in desired.objects] == ["v1", "v2"]
    assert desired.sources == [("a.yaml", 1), ("b.yaml", 1)]
    assert desired.findings[0] == Finding("link.yaml", "symbolic link ignored", "warning")
    assert sorted(parsed_now) == ["a.yaml", "b.yaml"] and parsed_now["a.yaml"][0] == "A"
    assert cache.parse("a.yaml", "A", b"") is parsed_now["a.yaml"][1]  # went through the cache

    # known parses by path: the data is never looked at again (empty here), each path gets its own findings
    broken = ParsedFile(objects=[], documents=[], findings=[Finding("old.yaml", "bad", "error", 1)])
    known = {"old.yaml": ("X", broken), "b.yaml": parsed_now["b.yaml"]}
    snap2 = GitSnapshot(C1, "msg", "me", [GitFile("new.yaml", "X", b""), GitFile("b.yaml", "B", b"")])
    now2 = {}
    desired2 = desired_from_snapshot(snap2, "dev", None, known, now2)
    assert desired2.ref == "dev" and [o["metadata"]["name"] for o in desired2.objects] == ["v2"]
    assert [f for f in desired2.findings if f.message == "bad"] == [Finding("new.yaml", "bad", "error", 1)]
    assert now2["new.yaml"][0] == "X" and now2["b.yaml"] == ("B", parsed_now["b.yaml"][1])


def test_two_paths_of_one_blob_are_parsed_once_even_without_a_cache():
    text = b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {name: v1}\n"
    snap = GitSnapshot(C1, "", "", [GitFile("a.yaml", "A", text), GitFile("b.yaml", "A", b"")])
    parsed_now = {}
    desired = desired_from_snapshot(snap, "main", parsed_now=parsed_now)
    assert parsed_now["a.yaml"][1] is parsed_now["b.yaml"][1]  # the second path never parsed its (empty) data
    assert [o["metadata"]["name"] for o in desired.objects] == ["v1"]  # the same object twice is one


# _as_sync_error and read_with_retries


def test_errors_are_wrapped_with_exact_redacted_text():
    ours = GitRefError("ref 'x' is not a branch")
    assert cycle._as_sync_error(ours) is ours
    wrapped = cycle._as_sync_error(ours, "comparing")
    assert type(wrapped) is CompareError and str(wrapped) == "comparing failed: GitRefError: ref 'x' is not a branch"
    assert wrapped.__cause__ is ours
    plain = cycle._as_sync_error(ValueError(f"bad {SECRET}"))
    assert type(plain) is HedgehogSyncError and str(plain) == "unexpected ValueError: bad ***"
    assert plain.__cause__.args == (f"bad {SECRET}",)
    unnamed_step = cycle._as_sync_error(GitRefError("no ref"), "")  # no step named: our error, as it said
    assert type(unnamed_step) is HedgehogSyncError and str(unnamed_step) == "no ref: no ref"
    long = cycle._as_sync_error(KeyError("k" * 600))
    assert str(long) == "unexpected KeyError: '" + "k" * 499


class Flaky:
    """A read that fails with `errors` in turn, then answers `value`."""

    def __init__(self, errors, value="v"):
        self.errors, self.value, self.calls = list(errors), value, 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.value


NO_JITTER = RecoveryPolicy(max_attempts=3, base_delay=1.0, max_delay=60.0, jitter=0.0)


def test_a_read_is_retried_with_backoff_until_it_answers():
    waits = []
    read = Flaky([TransientError("t1"), TransientError("t2")], value="answer")
    before = time.monotonic()
    side = read_with_retries(read, lambda v: f"version of {v}", NO_JITTER, sleep=waits.append)
    spent = time.monotonic() - before
    assert (side.value, side.error, side.version, side.attempts, side.waited_s) == \
        ("answer", None, "version of answer", 3, 3.0)
    assert waits == [1.0, 2.0] and read.calls == 3
    assert 0.0 <= side.duration_s <= spent


def test_a_read_that_keeps_failing_stops_at_max_attempts_with_the_last_error():
    waits = []
    last = TransientError("third")
    side = read_with_retries(Flaky([TransientError("1"), TransientError("2"), last, TransientError("4")]),
                             lambda v: "v", NO_JITTER, sleep=waits.append)
    before = time.monotonic()
    assert (side.value, side.error, side.version, side.attempts, side.waited_s) == (None, last, None, 3, 3.0)
    assert waits == [1.0, 2.0] and 0.0 <= side.duration_s <= time.monotonic() - before + 10 ** 6


def test_a_permanent_error_is_not_retried_and_duration_is_measured():
    waits = []
    before = time.monotonic()
    side = read_with_retries(Flaky([GitRefError("no ref")]), lambda v: "v", NO_JITTER, sleep=waits.append)
    spent = time.monotonic() - before
    assert side.attempts == 1 and side.waited_s == 0.0 and waits == [] and str(side.error) == "no ref"
    assert 0.0 <= side.duration_s <= spent


def test_no_wait_passes_the_deadline_and_one_before_it_is_taken():
    waits = []
    side = read_with_retries(Flaky([TransientError("t")]), lambda v: "v", NO_JITTER,
                             deadline=time.monotonic() - 1.0, sleep=waits.append)
    assert side.attempts == 1 and side.value is None and waits == []
    side = read_with_retries(Flaky([TransientError("t")]), lambda v: "v", NO_JITTER,
                             deadline=time.monotonic() + 3600.0, sleep=waits.append)
    assert side.attempts == 2 and side.value == "v" and waits == [1.0]


def test_retry_after_and_the_callers_random_source_set_the_wait():
    waits = []
    read_with_retries(Flaky([TransientError("slow down", retry_after=7.5)]), lambda v: "v", NO_JITTER,
                      sleep=waits.append)
    assert waits == [7.5]
    jittered = RecoveryPolicy(max_attempts=2, base_delay=4.0, max_delay=60.0, jitter=0.5)
    waits.clear()
    read_with_retries(Flaky([TransientError("t")]), lambda v: "v", jittered, sleep=waits.append,
                      rng=random.Random(7))
    assert waits == [4.0 * (1.0 - 0.5 * random.Random(7).random())]


def test_the_default_policy_tries_three_times():
    waits = []
    side = read_with_retries(Flaky([TransientError("1"), TransientError("2"), TransientError("3")]),
                             lambda v: "v", sleep=waits.append, rng=random.Random(1))
    assert side.attempts == 3 and len(waits) == 2


# _unchanged_since and compare_fabric


def report_of(status="in_sync"):
    return {"fabric": "fab-a", "status": status, "score": 0.25}


@pytest.mark.parametrize("previous,before,expected", [
    (report_of(), {INPUTS: "i", INPUTS_REPORT: None}, True),
    (report_of("drifted"), {INPUTS: "i", INPUTS_REPORT: None}, True),
    (report_of("unknown"), {INPUTS: "i", INPUTS_REPORT: None}, False),
    (None, {INPUTS: "i", INPUTS_REPORT: None}, False),
    (report_of(), {INPUTS: "other", INPUTS_REPORT: None}, False),
    (report_of(), {INPUTS_REPORT: None}, False),
    (report_of(), {INPUTS: "i", INPUTS_REPORT: "another report"}, False),
    (report_of(), {INPUTS: "i"}, False),
], ids=["in-sync", "drifted", "unknown", "no-report", "other-inputs", "no-inputs", "other-report", "no-report-key"])
def test_unchanged_since(previous, before, expected):
    if previous is not None and INPUTS_REPORT in before and before[INPUTS_REPORT] is None:
        before = {**before, INPUTS_REPORT: report_version(previous)}
    assert cycle._unchanged_since(previous, before, "i") is expected


def test_compare_fabric_records_versions_inputs_and_what_moved():
    cfg = fabric()
    desired = DesiredState(commit=C1, ref="main", objects=[vpc_obj()], sources=[("vpcs.yaml", 1)])
    live = LiveState(server="https://k8s.example.com")
    git = SideRead(desired, version="g1", attempts=2, waited_s=0.5, duration_s=1.5)
    cluster = SideRead(live, version=None, attempts=1, waited_s=0.25, duration_s=2.25)
    before = time.monotonic()
    outcome = compare_fabric(cfg, git, cluster, Stored(None, {GIT_STATE: "g1", "other": "kept"}), now=T)
    spent = time.monotonic() - before
    assert isinstance(outcome, FabricOutcome) and outcome.fabric == "fab-a"
    report = outcome.report
    assert report["status"] == "drifted" and report["generated_at"] == T_ISO
    assert report["git"]["ref"] == "main" and report["git"]["url"] == "https://git.example.com/fabrics.git"
    assert report["drift_since"] == T_ISO and report["summary"]["missing"] == 1
    assert outcome.plan.apply == [vpc_obj()] and report["plan_version"] == outcome.plan.version is not None
    k8s = live_version(live)
    inputs = f"g1/{k8s}/{rules_version(cfg.rules)}/{ENGINE_VERSION}"
    assert outcome.versions == {GIT_STATE: "g1", K8S_STATE: k8s, DRIFT_REPORT: report_version(report),
                                INPUTS: inputs, INPUTS_REPORT: report_version(report), "other": "kept"}
    assert outcome.changed == {K8S_STATE, DRIFT_REPORT, INPUTS, INPUTS_REPORT}
    assert outcome.desired is desired and outcome.live is live
    assert (outcome.git_error, outcome.cluster_error, outcome.compare_error) == (None, None, None)
    assert outcome.attempts == 2 and outcome.waited_s == 0.75 and not outcome.failed
    assert 3.75 <= outcome.duration_s <= 3.75 + spent
    assert compare_fabric(cfg, SideRead(desired, attempts=1), SideRead(live, attempts=4), Stored(), now=T).attempts == 4


def test_compare_fabric_takes_the_git_version_from_the_desired_state_when_not_given():
    cfg = fabric()
    desired = DesiredState(commit=C1, ref="main")
    outcome = compare_fabric(cfg, SideRead(desired), SideRead(LiveState(server="s"), version="k9"), Stored(), now=T)
    assert outcome.versions[GIT_STATE] == desired_version(desired) and outcome.versions[K8S_STATE] == "k9"
    assert outcome.report["status"] == "in_sync" and outcome.report["plan_version"] is None


def test_unchanged_inputs_restamp_the_previous_report_without_comparing():
    cfg = fabric()
    previous = {"fabric": "fab-a", "status": "drifted", "generated_at": "2025-01-01T00:00:00Z", "marker": "kept",
                "git": {"commit": C1}, "errors": [], "resources": []}
    inputs = f"g1/k1/{rules_version(cfg.rules)}/{ENGINE_VERSION}"
    stored = Stored(previous, {INPUTS: inputs, INPUTS_REPORT: report_version(previous)})
    outcome = compare_fabric(cfg, SideRead(DesiredState(commit=C1, ref="main"), version="g1"),
                             SideRead(LiveState(server="s"), version="k1"), stored, now=T)
    assert outcome.report["marker"] == "kept" and outcome.report["generated_at"] == T_ISO
    assert outcome.report["git"] == {"commit": C1}
    assert previous["generated_at"] == "2025-01-01T00:00:00Z"  # the stored report is not changed in place
    assert outcome.versions[INPUTS] == inputs


def test_a_failed_side_compares_nothing_and_forgets_the_inputs():
    cfg = fabric()
    previous = {"fabric": "fab-a", "status": "drifted", "drift_since": "2025-12-01T00:00:00Z", "errors": [],
                "resources": [{"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "namespace": "default",
                               "name": "v", "state": "missing", "drift_since": "2025-12-01T00:00:00Z"}]}
    stored = Stored(previous, {GIT_STATE: "g0", INPUTS: "old", INPUTS_REPORT: "old-report"})
    git_error = GitUnreachableError("git down")
    outcome = compare_fabric(cfg, SideRead(None, git_error), SideRead(LiveState(server="s"), version="k1"),
                             stored, now=T)
    report = outcome.report
    assert report["status"] == "unknown" and report["drift_since"] == "2025-12-01T00:00:00Z"
    assert {"source": "git", "level": "error", "message": "git down", "error_class": "GitUnreachableError"} \
        in report["errors"]
    assert INPUTS not in outcome.versions and INPUTS_REPORT not in outcome.versions
    assert outcome.versions[GIT_STATE] == "g0" and outcome.versions[K8S_STATE] == "k1"
    assert outcome.changed == {K8S_STATE, DRIFT_REPORT}  # versions that moved; the dropped inputs are no asset
    assert outcome.git_error is git_error and outcome.failed and outcome.compare_error is None
    cluster_error = ClusterConfigError("no kubeconfig")
    both = compare_fabric(cfg, SideRead(DesiredState(commit=C1, ref="main"), version="g1"),
                          SideRead(None, cluster_error), Stored(), now=T)
    assert {"source": "cluster", "level": "error", "message": "no kubeconfig", "error_class": "ClusterConfigError"} \
        in both.report["errors"]
    assert both.cluster_error is cluster_error and K8S_STATE not in both.versions and INPUTS not in both.versions


def test_stored_versions_may_be_none():
    outcome = compare_fabric(fabric(), SideRead(None, GitRefError("r")), SideRead(None, GitRefError("c")),
                             Stored(None, None), now=T)
    assert set(outcome.versions) == {DRIFT_REPORT} and outcome.changed == {DRIFT_REPORT}


def test_a_compare_error_is_an_unknown_report_with_a_plan_that_says_why():
    cfg = fabric()
    stored = Stored(None, {INPUTS: "old", INPUTS_REPORT: "old"})
    outcome = compare_fabric(cfg, SideRead(object(), version="g1"), SideRead(object(), version="k1"), stored, now=T)
    assert outcome.report["generated_at"] == T_ISO and outcome.report["status"] == "unknown"
    assert outcome.versions[DRIFT_REPORT] == report_version(outcome.report)
    assert INPUTS not in outcome.versions and INPUTS_REPORT not in outcome.versions
    assert outcome.versions[GIT_STATE] == "g1" and outcome.versions[K8S_STATE] == "k1"
    assert type(outcome.compare_error) is CompareError
    assert str(outcome.compare_error).startswith("comparing failed: ")
    assert outcome.plan.reason.startswith("the fabric is unknown: compare: comparing failed: ")
    assert outcome.report["errors"][-1]["message"] == str(outcome.compare_error)


def test_a_plan_that_cannot_be_computed_says_why_redacted_and_where_to_run():
    cfg = fabric().model_copy(update={"kubernetes": fabric().kubernetes.model_copy(
        update={"kubeconfig": "/etc/k.yaml", "context": "east"})})
    bad = {"fabric": "fab-a", "status": "drifted", "git": {"commit": C1}, "resources": [SECRET]}
    plan = cycle._plan_of(bad, DesiredState(commit=C1, ref="main"), cfg)
    assert plan.fabric == "fab-a" and plan.version is None
    assert plan.reason == "the plan could not be computed: AttributeError: 'str' object has no attribute 'get'"
    assert (plan.kubeconfig, plan.context) == ("/etc/k.yaml", "east")
    nameless = cycle._plan_of({"status": "drifted", "git": {"commit": C1}, "resources": [1]},
                              DesiredState(commit=C1, ref="main"), cfg)
    assert nameless.fabric == "" and nameless.reason.startswith("the plan could not be computed: AttributeError: ")
    assert len(cycle._plan_of({**bad, "resources": [{"kind": "k" * 400}], "fabric": "f"},
                              DesiredState(commit=C1, ref="main"), cfg).reason or "") <= 31 + 300 + 40


def test_the_plan_reason_is_redacted_and_capped():
    class Weird(dict):
        def get(self, *a):
            raise RuntimeError(f"{SECRET} " + "x" * 400)

    plan = cycle._plan_of({"fabric": "f", "status": "drifted", "git": {"commit": C1}, "resources": [Weird()]},
                          DesiredState(commit=C1, ref="main"), fabric())
    assert plan.reason == "the plan could not be computed: RuntimeError: *** " + "x" * 296


def test_unknown_report_names_the_error_and_carries_drift_or_starts_afresh():
    cfg = fabric()
    error = CompareError("recording failed: boom")
    previous = {"fabric": "fab-a", "status": "drifted", "drift_since": "2025-12-01T00:00:00Z", "errors": [],
                "resources": [{"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "namespace": "default",
                               "name": "v", "state": "missing", "drift_since": "2025-12-01T00:00:00Z"}]}
    report = unknown_report(cfg, T, previous, error, GitRefError("no ref"), ClusterConfigError("no config"))
    assert report["status"] == "unknown" and report["fabric"] == "fab-a" and report["git"]["ref"] == "main"
    assert report["generated_at"] == T_ISO and report["drift_since"] == "2025-12-01T00:00:00Z"
    assert report["errors"] == [
        {"source": "git", "level": "error", "message": "no ref", "error_class": "GitRefError"},
        {"source": "cluster", "level": "error", "message": "no config", "error_class": "ClusterConfigError"},
        {"source": "compare", "level": "error", "message": "recording failed: boom", "error_class": "CompareError"}]
    afresh = unknown_report(cfg, T, "not a report", error, GitRefError("no ref"))
    assert afresh["status"] == "unknown" and afresh["drift_since"] is None and afresh["generated_at"] == T_ISO
    assert afresh["fabric"] == "fab-a"
    assert [e["source"] for e in afresh["errors"]] == ["git", "compare"] and afresh["git"]["ref"] == "main"


def test_a_contained_outcome_keeps_the_reads_and_drops_the_inputs():
    cfg = fabric()
    desired, live = DesiredState(commit=C1, ref="release"), LiveState(server="s")
    compared = compare_fabric(cfg, SideRead(desired, version="g1", attempts=2, waited_s=1.0, duration_s=2.0),
                              SideRead(live, version="k1", attempts=3, waited_s=0.5), Stored(), now=T)
    compared.report["git"]["ref"] = "release"
    contained = contained_outcome(compared, ValueError(f"disk full {SECRET}"), "rendering", now=T)
    assert contained.fabric == "fab-a" and contained.desired is desired and contained.live is live
    assert contained.report["status"] == "unknown" and contained.report["git"]["ref"] == "release"
    assert contained.report["fabric"] == "fab-a"
    assert contained.report["generated_at"] == T_ISO and contained.report["drift_since"] is None
    assert type(contained.compare_error) is CompareError
    assert str(contained.compare_error) == "rendering failed: ValueError: disk full ***"
    assert contained.report["errors"] == [{"source": "compare", "level": "error",
                                           "message": "rendering failed: ValueError: disk full ***",
                                           "error_class": "CompareError"}]
    assert contained.versions == {GIT_STATE: "g1", K8S_STATE: "k1", DRIFT_REPORT: report_version(contained.report)}
    assert contained.changed == compared.changed | {DRIFT_REPORT}
    assert (contained.duration_s, contained.attempts, contained.waited_s) == \
        (compared.duration_s, 3, 1.5)
    assert contained.git_error is None and contained.cluster_error is None and contained.failed
    failed = compare_fabric(cfg, SideRead(None, GitRefError("g")), SideRead(None, ClusterConfigError("c")),
                            Stored(None, {}), now=T)
    failed.report.pop("git")
    again = contained_outcome(failed, RuntimeError("x"), "recording", now=T)
    assert again.git_error is failed.git_error and again.cluster_error is failed.cluster_error
    assert again.report["git"]["ref"] == "" and [e["source"] for e in again.report["errors"]] == \
        ["git", "cluster", "compare"]
    assert again.changed == {DRIFT_REPORT}


# FabricReader, the read sides and sync_fabric: a real repository on disk, the devlab API server on loopback

from hedgehog_sync.devlab.gitrepos import commit_files, init_repo  # noqa: E402

VPC_YAML = ("apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {name: vpc-1, namespace: default}\n"
            "spec:\n  subnets: {default: {subnet: 10.0.1.0/24, vlan: 1001}}\n")


def configured(name, url, kubeconfig=None, context=None):
    local = ", allow_local: true" if url.startswith("file://") else ""
    kube = f"\n    kubernetes: {{kubeconfig: \"{kubeconfig}\", context: {context}}}" if kubeconfig else ""
    inv = parse_inventory(f"fabrics:\n  - name: {name}\n    git: {{url: \"{url}\"{local}}}{kube}\n", "fabrics.yaml")
    assert inv.problems == []
    return inv.fabrics[0]


@pytest.fixture
def lab(tmp_path):
    """fab-a: one VPC in Git and the same VPC (and a second one) served by the devlab API server."""
    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"vpcs.yaml": VPC_YAML}, "one VPC")
    fabrics = FabricStore()
    fabrics.add_fabric("fab-a", "lab-token-0123456789")
    fabrics.put("fab-a", new_object("VPC", "vpc-1", {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}}))
    with start_apiserver(fabrics) as handle:
        kubeconfig = handle.write_kubeconfig("fab-a", tmp_path / "fab-a.kubeconfig")
        cfg = configured("fab-a", f"file://{tmp_path / 'repo'}", kubeconfig, "fab-a")
        yield cfg, repo, fabrics, tmp_path


class CountingCache(GitRepoCache):
    """The real cache, counting its reads and ls-remotes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reads = self.heads = 0

    def read(self, *args, **kwargs):
        self.reads += 1
        return super().read(*args, **kwargs)

    def remote_commit(self, *args, **kwargs):
        self.heads += 1
        return super().remote_commit(*args, **kwargs)


def test_sync_fabric_reads_both_sides_compares_and_keeps_the_report_and_parses(lab):
    cfg, repo, _, tmp_path = lab
    store = state(tmp_path)
    reader = FabricReader(GitRepoCache(tmp_path / "git"), parses=PersistentParses(store))
    try:
        outcome = sync_fabric(cfg, reader, store, now=T)
    finally:
        reader.close()
    assert outcome.report["status"] == "in_sync" and outcome.report["generated_at"] == T_ISO, outcome.report
    assert outcome.desired.commit == repo.head.commit.hexsha and len(outcome.live.objects) == 1
    assert outcome.versions[GIT_STATE] == desired_version(outcome.desired)
    assert outcome.versions[K8S_STATE] == live_version(outcome.live)
    assert store.latest_report("fab-a") == outcome.report
    assert store.parsed_files("fab-a")["commit"] == repo.head.commit.hexsha
    assert reader.parses.take_saved() == {}  # written with the report


def test_sync_fabric_without_kept_parses_still_keeps_the_report(lab):
    cfg, _, _, tmp_path = lab
    store = state(tmp_path)
    reader = FabricReader(GitRepoCache(tmp_path / "git"))
    try:
        outcome = sync_fabric(cfg, reader, store)
    finally:
        reader.close()
    assert outcome.report["status"] == "in_sync" and store.latest_report("fab-a")["status"] == "in_sync"
    assert store.parsed_files("fab-a") is None


def test_the_reader_asks_for_the_ref_each_time_unless_it_shares_answers_for_one_step(lab):
    cfg, repo, _, tmp_path = lab
    cache = CountingCache(tmp_path / "git")
    kept = FabricReader(cache, parses=PersistentParses())
    first = kept.read_desired(cfg)
    assert (cache.reads, cache.heads) == (1, 0)
    assert kept.read_desired(cfg).objects == first.objects and (cache.reads, cache.heads) == (1, 1)
    assert kept.read_desired(cfg).commit == first.commit and (cache.reads, cache.heads) == (1, 2)
    moved = commit_files(repo, {"more.yaml": VPC_YAML.replace("vpc-1", "vpc-2")}, "a second VPC")
    assert kept.read_desired(cfg).commit == moved and (cache.reads, cache.heads) == (2, 3)

    shared_cache = CountingCache(tmp_path / "git2")
    parses = PersistentParses()
    shared = FabricReader(shared_cache, parses=parses, share_remote_heads=True)
    twin = cfg.model_copy(update={"name": "fab-b"})
    shared.read_desired(cfg)
    shared.read_desired(twin)
    assert (shared_cache.reads, shared_cache.heads) == (2, 0)
    assert shared.read_desired(cfg).commit == moved and shared.read_desired(twin).commit == moved
    assert (shared_cache.reads, shared_cache.heads) == (2, 1)  # one ls-remote for both fabrics
    commit_files(repo, {"third.yaml": VPC_YAML.replace("vpc-1", "vpc-3")}, "a third VPC")
    assert shared.read_desired(cfg).commit == moved  # the step's answer stands for the whole step
    assert shared_cache.heads == 1


def test_a_shared_ls_remote_is_per_url_ref_and_credentials(lab, tmp_path):
    cfg, repo, _, _ = lab
    other = init_repo(tmp_path / "other")
    commit_files(other, {"vpcs.yaml": VPC_YAML}, "the other repository")
    cache = CountingCache(tmp_path / "git3")
    reader = FabricReader(cache, parses=PersistentParses(), share_remote_heads=True)
    elsewhere = configured("fab-c", f"file://{tmp_path / 'other'}")
    for c in (cfg, elsewhere):
        reader.read_desired(c)
    assert reader.read_desired(cfg).commit == repo.head.commit.hexsha
    assert reader.read_desired(elsewhere).commit == other.head.commit.hexsha
    assert (cache.reads, cache.heads) == (2, 2)
    other_ref = cfg.model_copy(update={"name": "fab-d", "git": cfg.git.model_copy(update={"ref": "side"})})
    repo.create_head("side")
    reader.read_desired(other_ref)
    assert reader.read_desired(other_ref).commit == repo.head.commit.hexsha and cache.heads == 3


def test_an_incomplete_or_moved_cache_reads_git_and_keeps_what_it_read(lab):
    cfg, repo, _, tmp_path = lab
    cache = CountingCache(tmp_path / "git")
    parses = PersistentParses()
    reader = FabricReader(cache, parses=parses)
    reader.read_desired(cfg)
    doc = parses.take_saved()["fab-a"]
    assert doc["complete"] is True and doc["commit"] == repo.head.commit.hexsha
    reader.read_desired(cfg)
    assert parses.take_saved() == {}  # nothing new learned: nothing to write
    parses.prime({"fab-a": {**doc, "complete": False}})
    reader.read_desired(cfg)
    assert cache.heads == 1 and cache.reads == 2 and parses.take_saved()["fab-a"]["complete"] is True
    parses.prime({"fab-a": {**doc, "commit": ""}})
    reader.read_desired(cfg)
    assert cache.heads == 1 and cache.reads == 3 and parses.take_saved()["fab-a"]["commit"] == doc["commit"]
    parses.prime({"fab-a": {**doc, "files": {**doc["files"], "gone.yaml": doc["files"]["vpcs.yaml"]}}})
    reader.read_desired(cfg)  # the ref did not move...
    assert parses.take_saved() == {} and cache.reads == 3  # ...so the kept listing is the commit's
    parses.prime({"fab-a": {**doc, "commit": "f" * 40}})
    reader.read_desired(cfg)  # the kept commit is not the ref's: read, and keep the new listing
    assert cache.reads == 4 and parses.take_saved()["fab-a"]["commit"] == doc["commit"]


def test_read_live_uses_the_readers_page_size_and_one_client_per_kubeconfig_and_context(lab, monkeypatch):
    cfg, _, fabrics, tmp_path = lab
    fabrics.put("fab-a", new_object("VPC", "vpc-2", {"subnets": {"default": {"subnet": "10.0.2.0/24", "vlan": 1002}}}))
    monkeypatch.setenv("HEDGEHOG_SYNC_KUBERNETES_MAX_PAGES_PER_KIND", "1")
    one_page = FabricReader(GitRepoCache(tmp_path / "git"), page_size=2)
    small_pages = FabricReader(GitRepoCache(tmp_path / "git"), page_size=1)
    try:
        assert sorted(o["metadata"]["name"] for o in one_page.read_live(cfg).objects) == ["vpc-1", "vpc-2"]
        with pytest.raises(BudgetExceededError, match="max_pages_per_kind"):
            small_pages.read_live(cfg)
        client = one_page._client(cfg)
        assert one_page._client(cfg) is client
        other_context = cfg.model_copy(update={"kubernetes": cfg.kubernetes.model_copy(update={"context": None})})
        assert one_page._client(other_context) is not client
        copied = tmp_path / "copy.kubeconfig"
        copied.write_bytes(Path(cfg.kubernetes.kubeconfig).read_bytes())
        other_file = cfg.model_copy(update={"kubernetes": cfg.kubernetes.model_copy(update={"kubeconfig": str(copied)})})
        assert one_page._client(other_file) is not client
    finally:
        one_page.close()
        small_pages.close()
    assert one_page._clients == {}
    assert one_page._client(cfg) is not client  # closed clients are never handed out again
    one_page.close()


def test_closing_a_reader_survives_a_client_that_fails_to_close(lab):
    cfg, _, _, tmp_path = lab
    reader = FabricReader(GitRepoCache(tmp_path / "git"))
    good = reader._client(cfg)

    class Broken:
        closed = False

        def close(self):
            raise RuntimeError("pool already gone")

    reader._clients[("broken", None)] = Broken()
    reader._clients[("later", None)] = good
    reader.close()
    assert reader._clients == {}


def test_the_read_sides_pass_the_policy_deadline_and_waits_on(lab, tmp_path):
    cfg, _, _, _ = lab
    reader = FabricReader(GitRepoCache(tmp_path / "cache"))
    down = configured("fab-a", "http://127.0.0.1:9/fabrics.git")
    kube = tmp_path / "down.kubeconfig"
    kube.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
                    "users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                    "current-context: x\n")
    unreachable = configured("fab-a", "http://127.0.0.1:9/fabrics.git", kube, "x")
    two = RecoveryPolicy(max_attempts=2, base_delay=1.0, max_delay=60.0, jitter=0.0)
    try:
        waits = []
        git = read_git_side(down, reader, two, sleep=waits.append)
        assert isinstance(git.error, GitUnreachableError) and git.attempts == 2 and waits == [1.0]
        waits.clear()
        cluster = read_cluster_side(unreachable, reader, two, sleep=waits.append)
        assert isinstance(cluster.error, TransientError) and cluster.attempts == 2 and waits == [1.0]
        waits.clear()
        past = time.monotonic() - 1.0
        assert read_git_side(down, reader, two, past, sleep=waits.append).attempts == 1
        assert read_cluster_side(unreachable, reader, two, past, sleep=waits.append).attempts == 1
        assert waits == []
        good_git = read_git_side(cfg, reader, two, sleep=waits.append)
        assert good_git.version == desired_version(good_git.value) and good_git.value.commit
        good_live = read_cluster_side(cfg, reader, two, sleep=waits.append)
        assert good_live.version == live_version(good_live.value) and len(good_live.value.objects) == 1
        assert waits == []
    finally:
        reader.close()


def test_sync_with_retries_waits_as_told_and_keeps_the_outcome(lab, tmp_path):
    cfg, _, _, _ = lab
    store = state(tmp_path)
    reader = FabricReader(GitRepoCache(tmp_path / "cache"), parses=PersistentParses(store))
    down = cfg.model_copy(update={"git": cfg.git.model_copy(update={"url": "http://127.0.0.1:9/fabrics.git",
                                                                      "allow_local": False})})
    jittered = RecoveryPolicy(max_attempts=2, base_delay=2.0, max_delay=60.0, jitter=0.5)
    try:
        waits = []
        outcome = sync_fabric_with_retries(down, reader, store, jittered, sleep=waits.append, rng=random.Random(5))
        assert waits == [2.0 * (1.0 - 0.5 * random.Random(5).random())]
        assert outcome.attempts == 2 and outcome.waited_s == waits[0] and isinstance(outcome.git_error,
                                                                                       GitUnreachableError)
        assert outcome.report["status"] == "unknown" and store.latest_report("fab-a") == outcome.report
        assert outcome.cluster_error is None and len(outcome.live.objects) == 1
        waits.clear()
        late = sync_fabric_with_retries(down, reader, store, jittered, time.monotonic() - 1.0, sleep=waits.append)
        assert late.attempts == 1 and waits == []
        good = sync_fabric_with_retries(cfg, reader, store, jittered, sleep=waits.append)
        assert good.report["status"] == "in_sync" and good.attempts == 1 and waits == []
        assert store.parsed_files("fab-a")["commit"] == good.desired.commit
        assert abs((datetime.now(timezone.utc) - datetime.fromisoformat(
            good.report["generated_at"].replace("Z", "+00:00"))).total_seconds()) < 24 * 3600
    finally:
        reader.close()


def test_source_digests_are_the_first_16_hex_digits_of_the_sha256_of_the_modules_in_order():
    assert cycle._source_digest() == hashlib.sha256(b"").hexdigest()[:16]
    both = hashlib.sha256(Path(kinds_module.__file__).read_bytes() + Path(parsing_module.__file__).read_bytes())
    assert cycle._source_digest(kinds_module, parsing_module) == both.hexdigest()[:16]


def test_the_bounds_a_reader_starts_with(tmp_path):
    from hedgehog_sync.domain.limits import GIT_SLOTS, KUBERNETES_SLOTS

    assert (GIT_SLOTS, KUBERNETES_SLOTS) == (4, 3)
    cache = cycle._ParseCache()
    assert (cache._capacity, cache._max_source_bytes) == (50_000, 64 * 1024 * 1024)
    reader = FabricReader(GitRepoCache(tmp_path / "git"))
    assert reader.page_size == 500 and reader.parses is None and reader.share_remote_heads is False
    for slots, count in ((reader._git_slots, 4), (reader._kubernetes_slots, 3)):
        for _ in range(count):
            assert slots.acquire(blocking=False)
        assert not slots.acquire(blocking=False)
    assert cycle.ONE_ATTEMPT.max_attempts == 1


def test_sync_with_retries_retries_the_cluster_side_with_the_same_policy(lab, tmp_path):
    cfg, _, _, _ = lab
    store = state(tmp_path)
    kube = tmp_path / "down.kubeconfig"
    kube.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
                    "users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                    "current-context: x\n")
    down = cfg.model_copy(update={"kubernetes": cfg.kubernetes.model_copy(update={"kubeconfig": str(kube),
                                                                                    "context": "x"})})
    reader = FabricReader(GitRepoCache(tmp_path / "cache"))
    jittered = RecoveryPolicy(max_attempts=2, base_delay=2.0, max_delay=60.0, jitter=0.5)
    try:
        waits = []
        outcome = sync_fabric_with_retries(down, reader, store, jittered, sleep=waits.append, rng=random.Random(9))
        assert waits == [2.0 * (1.0 - 0.5 * random.Random(9).random())]
        assert outcome.attempts == 2 and isinstance(outcome.cluster_error, TransientError)
        assert outcome.git_error is None and outcome.report["status"] == "unknown"
        waits.clear()
        late = sync_fabric_with_retries(down, reader, store, jittered, time.monotonic() - 1.0, sleep=waits.append)
        assert late.attempts == 1 and waits == []
    finally:
        reader.close()


def test_sync_fabric_tries_each_side_once(lab, tmp_path):
    cfg, _, _, _ = lab
    store = state(tmp_path)
    kube = tmp_path / "down.kubeconfig"
    kube.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
                    "users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                    "current-context: x\n")
    down = cfg.model_copy(update={
        "git": cfg.git.model_copy(update={"url": "http://127.0.0.1:9/fabrics.git", "allow_local": False}),
        "kubernetes": cfg.kubernetes.model_copy(update={"kubeconfig": str(kube), "context": "x"})})
    reader = FabricReader(GitRepoCache(tmp_path / "cache"))
    try:
        outcome = sync_fabric(down, reader, store, now=T)
    finally:
        reader.close()
    assert isinstance(outcome.git_error, GitUnreachableError) and isinstance(outcome.cluster_error, TransientError)
    assert outcome.attempts == 1 and outcome.waited_s == 0.0 and outcome.report["generated_at"] == T_ISO
    assert store.latest_report("fab-a")["status"] == "unknown"


# --- issue 19: survivors of the mutation run ------------------------------------------------------------

import os  # noqa: E402
import threading  # noqa: E402
import types  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

from hedgehog_sync.domain.errors import GitUrlRefused  # noqa: E402

DRIFTED_BEFORE = {"fabric": "fab-a", "status": "drifted", "drift_since": "2025-12-01T00:00:00Z", "errors": [],
                  "resources": [{"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "namespace": "default",
                                 "name": "v", "state": "missing", "drift_since": "2025-12-01T00:00:00Z"}]}


def test_a_compare_error_report_names_the_failed_side_and_the_cause_and_carries_the_drift_seen_before():
    """A fabric whose comparison failed while one side could not be read either: its unknown report names
    the side's own error under that side, the comparison's cause (class and text, not "None") under
    `compare`, and keeps the drift seen before as unchecked, so the operator sees all three."""
    cfg = fabric()
    git_error, cluster_error = GitRefError("ref 'main' is gone"), ClusterConfigError("no kubeconfig")
    no_git = compare_fabric(cfg, SideRead(None, git_error), SideRead(object(), version="k1"),
                            Stored(DRIFTED_BEFORE, {}), now=T)
    no_cluster = compare_fabric(cfg, SideRead(object(), version="g1"), SideRead(None, cluster_error),
                                Stored(DRIFTED_BEFORE, {}), now=T)
    for outcome, side, error in ((no_git, "git", git_error), (no_cluster, "cluster", cluster_error)):
        report = outcome.report
        assert report["status"] == "unknown" and report["drift_since"] == "2025-12-01T00:00:00Z"
        assert [(e["source"], e["message"], e["error_class"]) for e in report["errors"]] == [
            (side, str(error), type(error).__name__),
            ("compare", str(outcome.compare_error), "CompareError")]
        assert str(outcome.compare_error) == \
            "comparing failed: AttributeError: 'object' object has no attribute 'findings'"
        assert outcome.compare_error.__cause__ is not None
        assert [(r["name"], r["state"]) for r in report["unchecked_drift"]] == [("v", "missing")]


def test_compare_fabric_compares_with_the_fabrics_ignore_rules():
    """A field the inventory's `ignore` names never counts as drift: the fabric is in sync although the
    cluster holds another value there."""
    inv = parse_inventory("fabrics:\n  - name: fab-a\n    git: {url: \"https://git.example.com/fabrics.git\"}\n"
                          "    ignore: [{kind: VPC, pointer: /spec/subnets/default/vlan}]\n", "fabrics.yaml")
    assert inv.problems == []
    cfg = inv.fabrics[0]
    live_vpc = vpc_obj()
    live_vpc["spec"]["subnets"]["default"]["vlan"] = 2002
    desired = DesiredState(commit=C1, ref="main", objects=[vpc_obj()], sources=[("vpcs.yaml", 1)])
    outcome = compare_fabric(cfg, SideRead(desired, version="g1"),
                             SideRead(LiveState(server="s", objects=[live_vpc]), version="k1"), Stored(), now=T)
    assert outcome.report["status"] == "in_sync", outcome.report
    strict = compare_fabric(fabric(), SideRead(desired, version="g1"),
                            SideRead(LiveState(server="s", objects=[live_vpc]), version="k1"), Stored(), now=T)
    assert strict.report["status"] == "drifted"


@pytest.mark.parametrize("cached", [True, False], ids=["parse-cache", "no-cache"])
def test_a_finding_of_a_parsed_snapshot_names_the_file_it_is_about(cached):
    """A file that is not YAML is named in its finding, whether or not the reader's parse cache is used:
    the operator must know which file to fix."""
    snap = GitSnapshot(C1, "m", "a", [GitFile("bad.yaml", "b" * 40, b"a: [1\n"), GitFile("dir/nul.yaml", "c" * 40,
                                                                                          b"\x00")])
    desired = desired_from_snapshot(snap, "main", cycle._ParseCache() if cached else None)
    assert [(f.source, f.message) for f in desired.findings][1:] == [("dir/nul.yaml",
                                                                      "file is binary (has NUL bytes), not YAML")]
    assert [f.source for f in desired.findings] == ["bad.yaml", "dir/nul.yaml"]


class Clock:
    """time.monotonic for cycle.py: the next of `ticks` each call, then the last one again."""

    def __init__(self, *ticks):
        self.ticks, self.calls = list(ticks), 0

    def monotonic(self):
        self.calls += 1
        return self.ticks.pop(0) if len(self.ticks) > 1 else self.ticks[0]


def test_a_side_read_lasts_from_its_start_to_its_answer_or_its_last_error(monkeypatch):
    """duration_s is the time from the first try to the answer (or to giving up), waits included: what
    the run's timings show an operator for a slow fabric."""
    monkeypatch.setattr(cycle, "time", types.SimpleNamespace(monotonic=Clock(10.0, 12.5).monotonic))
    side = read_with_retries(lambda: "v", lambda v: "version", NO_JITTER, sleep=lambda s: None)
    assert (side.value, side.attempts, side.duration_s) == ("v", 1, 2.5)
    monkeypatch.setattr(cycle, "time", types.SimpleNamespace(monotonic=Clock(20.0, 23.25).monotonic))
    side = read_with_retries(Flaky([GitRefError("no ref")]), lambda v: "version", NO_JITTER, sleep=lambda s: None)
    assert (side.value, side.attempts, side.duration_s) == (None, 1, 3.25)


def test_a_wait_that_ends_exactly_at_the_deadline_is_taken(monkeypatch):
    """No wait may pass the deadline, but one that ends exactly on it does not pass it: the read is tried
    again (the clock stands still here, so the end of the wait is exactly the deadline)."""
    monkeypatch.setattr(cycle, "time", types.SimpleNamespace(monotonic=Clock(100.0).monotonic))
    waits = []
    side = read_with_retries(Flaky([TransientError("t")]), lambda v: "v", NO_JITTER, deadline=101.0,
                             sleep=waits.append)
    assert (side.value, side.attempts, waits) == ("v", 2, [1.0])
    side = read_with_retries(Flaky([TransientError("t")]), lambda v: "v", NO_JITTER, deadline=100.75,
                             sleep=waits.append)
    assert (side.value, side.attempts, waits) == (None, 1, [1.0])


def test_the_reader_builds_a_fabrics_client_for_its_own_context_not_the_current_one(tmp_path):
    """A kubeconfig holding many fabrics' contexts: each fabric talks to the server of the context the
    inventory names, never to the file's current-context."""
    kube = tmp_path / "many.kubeconfig"
    kube.write_text("apiVersion: v1\nkind: Config\n"
                    "clusters: [{name: ca, cluster: {server: 'http://127.0.0.1:7001'}},"
                    " {name: cb, cluster: {server: 'http://127.0.0.1:7002'}}]\n"
                    "users: [{name: u, user: {}}]\n"
                    "contexts: [{name: a, context: {cluster: ca, user: u}},"
                    " {name: b, context: {cluster: cb, user: u}}]\n"
                    "current-context: a\n")
    reader = FabricReader(GitRepoCache(tmp_path / "git"))
    try:
        b = configured("fab-b", "https://git.example.com/f.git", kube, "b")
        a = configured("fab-a", "https://git.example.com/f.git", kube, "a")
        assert reader._client(b).configuration.host == "http://127.0.0.1:7002"
        assert reader._client(a).configuration.host == "http://127.0.0.1:7001"
    finally:
        reader.close()


def test_a_commit_read_from_kept_parses_keeps_its_ref_and_its_snapshots_findings(tmp_path):
    """When the ref still points at the kept commit, the desired state comes from the kept parses: it must
    carry the fabric's ref and the findings of the snapshot itself (here a symbolic link that was ignored),
    exactly as the full read did, or a warning would vanish on every cycle but the first."""
    repo = init_repo(tmp_path / "repo")
    (tmp_path / "repo" / "vpcs.yaml").write_text(VPC_YAML)
    os.symlink("vpcs.yaml", tmp_path / "repo" / "link.yaml")
    repo.index.add(["vpcs.yaml", "link.yaml"])
    repo.index.commit("a VPC and a link to it")
    cfg = configured("fab-a", f"file://{tmp_path / 'repo'}")
    cache = CountingCache(tmp_path / "git")
    reader = FabricReader(cache, parses=PersistentParses())
    try:
        first = reader.read_desired(cfg)
        again = reader.read_desired(cfg)
    finally:
        reader.close()
    assert (cache.reads, cache.heads) == (1, 1)  # the second read came from the kept parses
    assert [f.source for f in first.findings] == ["link.yaml"]
    assert again.findings == first.findings and again.ref == first.ref == "main"
    assert again.objects == first.objects and again.commit == first.commit


def test_a_shared_ls_remote_answer_is_never_lent_to_a_fabric_with_other_credentials(tmp_path):
    """Two fabrics of one repository and ref whose git.token_env differ ask for the ref each: the second
    one's credentials are refused, and it must get that refusal, not the first fabric's answer."""
    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"vpcs.yaml": VPC_YAML}, "one VPC")
    cfg = configured("fab-a", f"file://{tmp_path / 'repo'}")
    other = cfg.model_copy(update={"name": "fab-b", "git": cfg.git.model_copy(update={"token_env": "NOT_A_TOKEN"})})
    reader = FabricReader(GitRepoCache(tmp_path / "git"), share_remote_heads=True)
    assert reader._remote_head(cfg) == repo.head.commit.hexsha
    with pytest.raises(GitUrlRefused) as caught:
        reader._remote_head(other)
    assert str(caught.value).startswith("fabric fab-b: git.token_env 'NOT_A_TOKEN' is refused")


@pytest.mark.parametrize("value", [float("inf"), float("-inf")], ids=["inf", "minus-inf"])
def test_a_parse_holding_an_infinity_is_not_kept(value):
    """Infinity is no JSON value (json.dumps would write the non-standard `Infinity`): a parse holding one
    is left out of the kept parses, which are then not `complete`, exactly like a NaN; the next cycle on the
    same commit reads Git again instead of trusting kept parses that the state store cannot hold as JSON."""
    good = parse_of("apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {name: v}\n", "good.yaml")
    odd = ParsedFile(objects=[{**good.objects[0], "spec": {"weight": value}}], documents=list(good.documents))
    parses = PersistentParses()
    parses.save("fab-a", Settings(), snapshot(), {"good.yaml": ("G1", good), "odd.yaml": ("O1", odd)})
    doc = parses.take_saved()["fab-a"]
    assert doc["complete"] is False and doc["files"] == {"good.yaml": "G1"} and sorted(doc["blobs"]) == ["G1"]
    assert PersistentParses(docs={"fab-a": doc}).load("fab-a", Settings()).complete is False


class _HeldGitServer(BaseHTTPRequestHandler):
    """A git host that holds every request until the test lets it answer (404: no such repository)."""

    entered: threading.Event
    release: threading.Event

    def do_GET(self):
        self.entered.set()
        self.release.wait(600)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_one_slow_git_host_does_not_hold_up_the_shared_ref_lookup_of_another_repository(tmp_path):
    """share_remote_heads makes fabrics of one (URL, ref, credentials) wait for one `ls-remote`; a fabric
    of another repository must not wait for it: while one git host hangs, the others' refs are still
    answered (a step of a fleet run is not held up by the slowest repository)."""
    repo = init_repo(tmp_path / "repo")
    commit_files(repo, {"vpcs.yaml": VPC_YAML}, "one VPC")
    handler = type("Held", (_HeldGitServer,), {"entered": threading.Event(), "release": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    # git's own timeout is far longer than the test waits: the held host stays held until released
    reader = FabricReader(GitRepoCache(tmp_path / "git", timeout_seconds=600), share_remote_heads=True)
    slow = configured("fab-slow", f"http://127.0.0.1:{server.server_address[1]}/slow.git")
    fast = configured("fab-a", f"file://{tmp_path / 'repo'}")
    answers = {}

    def ask(name, cfg):
        try:
            answers[name] = reader._remote_head(cfg)
        except HedgehogSyncError as exc:
            answers[name] = exc

    held = threading.Thread(target=ask, args=("slow", slow), daemon=True)
    other = threading.Thread(target=ask, args=("fast", fast), daemon=True)
    try:
        held.start()
        assert handler.entered.wait(60), "git never asked the held host"
        other.start()
        other.join(30)  # only a bound for the failure case: the lookup needs no network and no wait
        assert not other.is_alive() and answers == {"fast": repo.head.commit.hexsha}
    finally:
        handler.release.set()
        held.join(60)
        other.join(60)
        server.shutdown()
        server.server_close()
        reader.close()
    assert isinstance(answers["slow"], HedgehogSyncError)
