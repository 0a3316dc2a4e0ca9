"""The upgrade path: a state directory written by b468fd3 (fixtures/make_state_b468fd3.sh) imported
into the database gives the same reports, good reports, health, versions, parses, fleet rows and
metrics as its files; a second import changes nothing; a damaged file is skipped with a warning."""

import hashlib
import json
import logging
import shutil
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.test_utils import instance_for_test

from hedgehog_sync.domain.health_record import FabricHealthRecord
from hedgehog_sync.state import StateStore, import_legacy_once
from hedgehog_sync.state.store import DB_FILE

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "state-b468fd3"
FABRICS = ["fab-east", "fab-lab", "fab-west"]


def read(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def assert_same_as_files(store: StateStore, root: Path, fabrics=FABRICS) -> None:
    loaded = store.load(fabrics)
    for fabric in fabrics:
        folder = root / "reports" / fabric
        state = loaded[fabric]
        assert state.report == read(folder / "report.json") == store.latest_report(fabric)
        assert state.good_report == read(folder / "report.good.json") == store.last_good_report(fabric)
        assert state.versions == read(folder / "versions.json") == store.versions(fabric)
        assert state.health == FabricHealthRecord.from_dict(read(folder / "health.json")) == store.health(fabric)
        assert store.parsed_files(fabric) == read(folder / "parsed.json")
        assert state.git_commit == read(folder / "parsed.json")["commit"]


def test_the_fixture_is_what_b468fd3_wrote():
    """What the import test relies on: a failing fabric, a latest report unlike the good one, no secret."""
    west = FIXTURE / "reports" / "fab-west"
    assert read(west / "report.json")["status"] == "unknown"
    assert read(west / "report.good.json")["status"] == "drifted"
    assert read(west / "health.json")["consecutive_failures"] == 2
    assert not (FIXTURE / "reports" / "fab-lab" / "report.good.json").exists()
    assert set(read(FIXTURE / "fleet-rows.json")["rows"]) == set(FABRICS)
    text = " ".join(p.read_text() for p in FIXTURE.rglob("*") if p.is_file()).lower()
    assert "token" not in text and "password" not in text and "bearer" not in text


def test_importing_a_b468fd3_state_directory_gives_the_same_state(state_url):
    before = digest(FIXTURE)
    store = StateStore(state_url)
    summary = store.import_state_dir(FIXTURE)
    assert summary.fabrics == FABRICS and summary.already_stored == []
    assert (summary.reports, summary.good_reports, summary.health_records, summary.versions, summary.parses,
            summary.fleet_rows, summary.metrics, summary.skipped) == (3, 2, 3, 3, 3, 3, True, [])
    assert_same_as_files(store, FIXTURE)
    assert store.fabrics() == FABRICS
    assert store.fleet_rows() == read(FIXTURE / "fleet-rows.json")
    assert store.metrics() == read(FIXTURE / "metrics.json")
    (recorded,) = store.document("import")["imports"]
    assert recorded["source"] == str(FIXTURE) and recorded["fabrics"] == FABRICS
    assert digest(FIXTURE) == before  # left in place, unchanged


def test_a_second_import_changes_nothing(state_url):
    store = StateStore(state_url)
    store.import_state_dir(FIXTURE)
    newer = {"fabric": "fab-east", "status": "in_sync", "generated_at": "2030-01-01T00:00:00Z"}
    store.save_report("fab-east", newer)
    store.update_metrics(lambda doc: {**doc, "runs_total": 99})
    summary = store.import_state_dir(FIXTURE)
    assert summary.fabrics == [] and summary.already_stored == FABRICS
    assert (summary.fleet_rows, summary.metrics) == (0, False)
    assert store.latest_report("fab-east") == newer and store.metrics()["runs_total"] == 99
    assert_same_as_files(store, FIXTURE, ["fab-lab", "fab-west"])
    assert len(store.document("import")["imports"]) == 2


def test_a_damaged_file_is_skipped_with_a_warning_naming_it(state_url, tmp_path, caplog):
    root = tmp_path / "state"
    shutil.copytree(FIXTURE, root)
    (root / "reports" / "fab-west" / "health.json").write_text('{"consecutive_failures": 2, "recent_fa')
    (root / "reports" / "fab-east" / "report.json").write_text("[1, 2]")
    (root / "reports" / "fab-lab" / "versions.json").write_bytes(b"\xff\xfe not utf-8")
    (root / "reports" / "Not_A_Fabric").mkdir()
    (root / "metrics.json").write_text("")
    caplog.set_level(logging.WARNING)
    store = StateStore(state_url)
    summary = store.import_state_dir(root)
    damaged = [root / "reports" / "fab-west" / "health.json", root / "reports" / "fab-east" / "report.json",
               root / "reports" / "fab-lab" / "versions.json", root / "reports" / "Not_A_Fabric",
               root / "metrics.json"]
    for path in damaged:
        assert any(line.startswith(f"{path}:") for line in summary.skipped), path
        assert str(path) in caplog.text
    assert summary.fabrics == FABRICS and not summary.metrics
    assert store.health("fab-west") == FabricHealthRecord()  # skipped: the fabric starts its health afresh
    assert store.latest_report("fab-west") == read(root / "reports" / "fab-west" / "report.json")
    assert store.latest_report("fab-east") is None
    assert store.last_good_report("fab-east") == read(root / "reports" / "fab-east" / "report.good.json")
    assert store.versions("fab-lab") == {} and store.metrics() is None
    assert store.fleet_rows() == read(root / "fleet-rows.json")


def instance_on(state_url, tmp_path):
    """A Dagster instance whose storage is the test's database kind."""
    if state_url.startswith("sqlite"):
        (tmp_path / "home").mkdir()
        return instance_for_test(temp_dir=str(tmp_path / "home"))
    return instance_for_test(overrides={"storage": {"postgres": {"postgres_url": state_url}}})


def test_the_instance_store_imports_the_legacy_directory_once(state_url, tmp_path, monkeypatch):
    legacy = tmp_path / "legacy"
    shutil.copytree(FIXTURE, legacy)
    monkeypatch.setenv("HEDGEHOG_SYNC_STATE_DIR", str(legacy))
    with instance_on(state_url, tmp_path) as instance:
        store = StateStore.for_instance(instance)
        assert StateStore.for_instance(instance) is store  # one per process and database
        if state_url.startswith("sqlite"):
            assert store.display_url == f"sqlite:///{Path(instance.storage_directory()) / DB_FILE}"
        else:
            assert store.dialect == "postgresql" and store.display_url == StateStore(state_url).display_url
        assert_same_as_files(store, FIXTURE)
        store.save_report("fab-lab", {"fabric": "fab-lab", "status": "in_sync"})
        assert import_legacy_once(store, instance) is None
        assert store.latest_report("fab-lab") == {"fabric": "fab-lab", "status": "in_sync"}
        assert len(store.document("import")["imports"]) == 1
        assert digest(legacy) == digest(FIXTURE)


def test_an_instance_without_a_legacy_directory_imports_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("HEDGEHOG_SYNC_STATE_DIR", raising=False)
    with DagsterInstance.ephemeral() as instance:
        store = StateStore.for_instance(instance)
        assert store.fabrics() == [] and store.document("import") is None
