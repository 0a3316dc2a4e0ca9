"""The state store's API on SQLite and on PostgreSQL: every method round-trips, a batch is read with
one query and written in one transaction, and a batch that fails half-way changes nothing."""

import dataclasses
import logging

import pytest
from sqlalchemy import event, update

from hedgehog_sync.domain.health_record import FabricHealthRecord
from hedgehog_sync.state import FabricState, FabricWrite, StateStore, StateStoreUnavailableError
from hedgehog_sync.state.schema import fabric_table

FABRICS = ["fab-1", "fab-2", "fab-3", "fab-4", "fab-5"]


def report(fabric, status="drifted", n=0):
    return {"fabric": fabric, "status": status, "n": n, "resources": [{"kind": "VPC", "name": "vpc-1"}]}


def parses(commit):
    return {"parser": 3, "format": 2, "commit": commit, "files": {"a.yaml": "b1"}, "blobs": {"b1": {}}}


def failed_once(record: FabricHealthRecord) -> FabricHealthRecord:
    return dataclasses.replace(record, total_cycles=record.total_cycles + 1,
                               consecutive_failures=record.consecutive_failures + 1, last_status="unknown")


def count_metrics(doc):
    return {"commits": (doc or {}).get("commits", 0) + 1}


@pytest.fixture
def state(state_url) -> StateStore:
    return StateStore(state_url)


def snapshot(store: StateStore, fabrics):
    """Everything the store holds for these fabrics, and the fleet's documents."""
    return (store.load(fabrics), store.load_parses(fabrics), store.fleet_rows(), store.metrics(), store.fabrics())


def test_every_single_fabric_method_round_trips(state):
    assert state.fabrics() == [] and state.fleet_rows() == {"rows": {}} and state.metrics() is None
    assert state.latest_report("fab-1") is None and state.last_good_report("fab-1") is None
    assert state.versions("fab-1") == {} and state.health("fab-1") == FabricHealthRecord()
    assert state.parsed_files("fab-1") is None

    state.save_report("fab-1", report("fab-1", "drifted", 1))
    state.save_report("fab-1", report("fab-1", "unknown", 2))  # an outage: the good report stays
    assert state.latest_report("fab-1") == report("fab-1", "unknown", 2)
    assert state.last_good_report("fab-1") == report("fab-1", "drifted", 1)
    state.save_report("fab-1", report("fab-1", "in_sync", 3))
    assert state.last_good_report("fab-1") == state.latest_report("fab-1") == report("fab-1", "in_sync", 3)

    state.save_versions("fab-1", {"git_state": "abc", "k8s_state": "def"})
    assert state.versions("fab-1") == {"git_state": "abc", "k8s_state": "def"}
    record = FabricHealthRecord(consecutive_failures=2, total_cycles=7, recent_failed=(False, True, True),
                                last_status="unknown", drift_score=0.25, last_error="could not connect")
    state.save_health("fab-2", record)
    assert state.health("fab-2") == record
    state.save_parsed_files("fab-3", parses("c0ffee"))
    assert state.parsed_files("fab-3") == parses("c0ffee")
    assert state.fabrics() == ["fab-1", "fab-2", "fab-3"]

    state.close()  # connections closed; the next call opens new ones
    assert state.update_metrics(count_metrics) == {"commits": 1}
    assert state.update_metrics(count_metrics) == {"commits": 2} == state.metrics()
    state.reset_metrics()
    assert state.metrics() is None


def test_a_batch_round_trips_through_load(state):
    health = state.commit([
        FabricWrite("fab-1", report=report("fab-1"), versions={"git_state": "v1"}, health=failed_once,
                    parses=parses("aaa"), fleet_row={"fabric": "fab-1", "status": "drifted"}),
        FabricWrite("fab-2", report=report("fab-2", "unknown"), health=failed_once),
        FabricWrite("fab-3", fleet_row={"fabric": "fab-3", "status": "pending"}),
    ], metrics=count_metrics)
    assert set(health) == {"fab-1", "fab-2", "fab-3"}
    assert health["fab-1"].total_cycles == 1 and health["fab-3"] == FabricHealthRecord()
    loaded = state.load(["fab-3", "fab-1", "fab-2", "fab-9"])
    assert loaded["fab-1"] == FabricState("fab-1", report("fab-1"), report("fab-1"), {"git_state": "v1"},
                                          health["fab-1"], "aaa")
    assert loaded["fab-2"] == FabricState("fab-2", report("fab-2", "unknown"), None, {}, health["fab-2"], None)
    assert loaded["fab-9"] == FabricState("fab-9")  # nothing stored
    assert state.load_parses(["fab-1", "fab-2"]) == {"fab-1": parses("aaa")}
    assert state.fleet_rows() == {"rows": {"fab-1": {"fabric": "fab-1", "status": "drifted"},
                                           "fab-3": {"fabric": "fab-3", "status": "pending"}}}
    assert state.metrics() == {"commits": 1}
    # None leaves a part as stored; the fold sees the stored record
    state.commit([FabricWrite("fab-1", versions={"git_state": "v2"}, health=failed_once)])
    again = state.load(["fab-1"])["fab-1"]
    assert again.report == report("fab-1") and again.versions == {"git_state": "v2"}
    assert again.health.total_cycles == 2 and again.health.consecutive_failures == 2
    assert again.git_commit == "aaa"


def test_fabric_names_are_checked_before_use(state):
    for bad in ("../etc", "Fab", "", "a" * 64, "fab-1'; DROP TABLE x; --"):
        with pytest.raises(ValueError, match="invalid fabric name"):
            state.load([bad])
        with pytest.raises(ValueError, match="invalid fabric name"):
            state.commit([FabricWrite(bad, report=report("x"))])
    with pytest.raises(ValueError, match="twice"):
        state.commit([FabricWrite("fab-1"), FabricWrite("fab-1")])
    assert state.fabrics() == []


def test_a_damaged_health_record_starts_afresh(state, caplog):
    state.save_health("fab-1", FabricHealthRecord(total_cycles=3))
    with state.engine.begin() as conn:
        conn.execute(update(fabric_table).values(health='{"total_cycles": "many"}'))
    caplog.set_level(logging.WARNING)
    assert state.health("fab-1") == FabricHealthRecord()
    assert "fab-1" in caplog.text
    assert state.commit([FabricWrite("fab-1", health=failed_once)])["fab-1"].total_cycles == 1


def statements(engine):
    """The SQL statements an engine sends, recorded until the returned list is dropped."""
    sent = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, sql, *rest: sent.append(sql))
    return sent


def test_load_reads_a_whole_batch_with_one_query(state):
    state.commit([FabricWrite(f, report=report(f), parses=parses(f), health=failed_once) for f in FABRICS])
    sent = statements(state.engine)
    loaded = state.load(FABRICS + ["fab-new"])
    assert [s for s in sent if s.lstrip().upper().startswith("SELECT")] == sent[-1:]
    assert all(s.strip().upper() == "BEGIN" for s in sent[:-1])  # SQLite's deferred BEGIN, nothing else
    assert [loaded[f].git_commit for f in FABRICS] == FABRICS
    del sent[:]
    assert len(state.load_parses(FABRICS)) == 5
    assert len([s for s in sent if s.strip().upper() != "BEGIN"]) == 1


def test_commit_is_one_transaction(state):
    state.fabrics()  # the schema is in place
    began, committed = [], []
    event.listen(state.engine, "begin", lambda conn: began.append(1))
    event.listen(state.engine, "commit", lambda conn: committed.append(1))
    state.commit([FabricWrite(f, report=report(f), versions={"v": f}, health=failed_once, parses=parses(f),
                              fleet_row={"fabric": f}) for f in FABRICS], metrics=count_metrics)
    assert (len(began), len(committed)) == (1, 1)
    assert all(state.health(f).total_cycles == 1 for f in FABRICS)


def test_a_batch_that_fails_half_way_changes_nothing(state):
    state.commit([FabricWrite(f, report=report(f, n=1), versions={"v": "1"}, health=failed_once, parses=parses("one"),
                              fleet_row={"fabric": f, "n": 1}) for f in FABRICS], metrics=count_metrics)
    before = snapshot(state, FABRICS + ["fab-new"])

    def fold(fabric):
        def change(record):
            if fabric == "fab-3":
                raise RuntimeError("the health fold of the third fabric fails")
            return failed_once(record)
        return change

    writes = [FabricWrite(f, report=report(f, "in_sync", 2), versions={"v": "2"}, health=fold(f), parses=parses("two"),
                          fleet_row={"fabric": f, "n": 2}) for f in ["fab-new", *FABRICS]]
    with pytest.raises(RuntimeError, match="third fabric"):
        state.commit(writes, metrics=count_metrics)
    assert snapshot(state, FABRICS + ["fab-new"]) == before
    with pytest.raises(ZeroDivisionError):  # the metrics change is part of the same transaction
        state.commit([FabricWrite(f, report=report(f, n=3)) for f in FABRICS], metrics=lambda doc: 1 / 0)
    assert snapshot(state, FABRICS + ["fab-new"]) == before


def test_errors_name_the_database_without_its_password():
    store = StateStore("postgresql://hedgehog:s3cr3t-pw@127.0.0.1:1/fleet?password=s3cr3t-pw")
    assert store.display_url == "postgresql://127.0.0.1:1/fleet"
    with pytest.raises(StateStoreUnavailableError) as caught:
        store.fabrics()
    assert "postgresql://127.0.0.1:1/fleet" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_in_memory_store_is_private():
    one, two = StateStore.in_memory(), StateStore.in_memory()
    one.save_report("fab-1", report("fab-1"))
    assert one.fabrics() == ["fab-1"] and two.fabrics() == []
    assert one.display_url == "sqlite:// (in memory)"
