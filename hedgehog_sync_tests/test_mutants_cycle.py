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
