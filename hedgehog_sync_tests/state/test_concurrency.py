"""Several processes write the same fabrics at once, on a database none of them has opened before:
no update is lost (every fold counted, every metrics change counted) and every record is whole."""

import multiprocessing
import signal

from hedgehog_sync.domain.health_record import FabricHealthRecord
from hedgehog_sync.state import FabricWrite, StateStore
from hedgehog_sync_tests.state.workers import PAYLOAD, count, die_inside_commit, one_more_cycle, write_batches

PROCESSES, COMMITS = 4, 25
FABRICS = ["fab-a", "fab-b", "fab-c", "fab-d", "fab-e"]


def test_concurrent_batches_lose_no_update_and_tear_no_record(state_url):
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    procs = [ctx.Process(target=write_batches, args=(state_url, w, COMMITS, FABRICS, start)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * PROCESSES

    store = StateStore(state_url)
    loaded = store.load(FABRICS)
    parses = store.load_parses(FABRICS)
    rows = store.fleet_rows()["rows"]
    for fabric in FABRICS:
        state = loaded[fabric]
        assert state.health.total_cycles == PROCESSES * COMMITS
        assert state.health.consecutive_failures == PROCESSES * COMMITS
        assert FabricHealthRecord.from_dict(state.health.to_dict()) == state.health
        assert state.report["fabric"] == fabric and state.report["payload"] == PAYLOAD
        assert state.versions == {"writer": str(state.report["writer"]), "n": str(state.report["n"])}
        assert parses[fabric]["payload"] == PAYLOAD and parses[fabric]["commit"] == state.git_commit
        assert rows[fabric]["payload"] == PAYLOAD and rows[fabric]["fabric"] == fabric
    metrics = store.metrics()
    assert metrics["batches"] == PROCESSES * COMMITS
    assert metrics["updates"] == PROCESSES * len(range(0, COMMITS, 5))
    assert metrics["payload"] == PAYLOAD


def test_a_writer_killed_inside_its_transaction_leaves_every_fabric_as_before(state_url):
    store = StateStore(state_url)
    store.commit([FabricWrite(f, report={"fabric": f, "status": "drifted"}, versions={"v": "1"}, health=one_more_cycle,
                              parses={"commit": "before"}, fleet_row={"fabric": f}) for f in FABRICS],
                 metrics=count("batches"))
    before = (store.load(FABRICS), store.load_parses(FABRICS), store.fleet_rows(), store.metrics())
    worker = multiprocessing.get_context("spawn").Process(target=die_inside_commit, args=(state_url, FABRICS))
    worker.start()
    worker.join(timeout=120)
    assert worker.exitcode == -signal.SIGKILL
    assert (store.load(FABRICS), store.load_parses(FABRICS), store.fleet_rows(), store.metrics()) == before
    # nothing is left locked: the next batch goes through and counts from the state before
    health = store.commit([FabricWrite(f, health=one_more_cycle) for f in FABRICS], metrics=count("batches"))
    assert {record.total_cycles for record in health.values()} == {2}
    assert store.metrics()["batches"] == 2
