"""What each process of the concurrency test does (a module of its own: "spawn" imports it fresh)."""

import dataclasses

from hedgehog_sync.domain.health_record import FabricHealthRecord
from hedgehog_sync.state import FabricWrite, StateStore

PAYLOAD = "x" * 4000  # big enough that a torn write would show


def one_more_cycle(record: FabricHealthRecord) -> FabricHealthRecord:
    return dataclasses.replace(record, total_cycles=record.total_cycles + 1,
                               consecutive_failures=record.consecutive_failures + 1,
                               recent_failed=(record.recent_failed + (True,))[-20:], last_status="unknown")


def count(key):
    def change(doc):
        doc = dict(doc or {})
        doc[key] = doc.get(key, 0) + 1
        doc["payload"] = PAYLOAD
        return doc
    return change


def write_batches(url: str, writer: int, commits: int, fabrics: list[str], start) -> None:
    """`commits` batches over the same fabrics, each folding one cycle into every fabric's health."""
    store = StateStore(url)
    start.wait()
    for n in range(commits):
        writes = [FabricWrite(f, report={"fabric": f, "status": "unknown", "writer": writer, "n": n,
                                         "payload": PAYLOAD},
                              versions={"writer": str(writer), "n": str(n)}, health=one_more_cycle,
                              parses={"commit": f"{writer}-{n}", "payload": PAYLOAD},
                              fleet_row={"fabric": f, "writer": writer, "n": n, "payload": PAYLOAD})
                  for f in fabrics]
        store.commit(writes, metrics=count("batches"))
        if n % 5 == 0:
            store.update_metrics(count("updates"))


def die_inside_commit(url: str, fabrics: list[str]) -> None:
    """A run worker SIGKILLed in the middle of its batch's transaction: after every fabric's row
    was updated, while the metrics document is being changed."""
    import os
    import signal

    def killed(_doc):
        os.kill(os.getpid(), signal.SIGKILL)

    store = StateStore(url)
    store.commit([FabricWrite(f, report={"fabric": f, "status": "in_sync", "payload": PAYLOAD},
                              versions={"killed": "yes"}, health=one_more_cycle,
                              parses={"commit": "killed", "payload": PAYLOAD}, fleet_row={"fabric": f, "killed": True})
                  for f in fabrics], metrics=killed)
