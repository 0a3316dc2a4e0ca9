"""One devlab API server process of the fleet benchmark, serving its share of the fabrics' live state.

Started by benchmarks/fleet.py, one process per share, so that the API servers' CPU and memory are
measured apart from hedgehog-sync's own processes. It generates each fabric's live side itself (the
generator is deterministic, so it matches the Git side the benchmark writes), injects the drift the
plan asks for, serves on a free port of 127.0.0.1, and writes a ready file with the port and exactly
what was changed in each drifted fabric. It serves until SIGTERM or SIGINT.

    python benchmarks/fleet_apiserver.py --plan plan.json --ready ready.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from hedgehog_sync.devlab.apiserver import FabricStore, start_apiserver
from hedgehog_sync.devlab.demo import inject_drift, seed_fabric_live
from hedgehog_sync.devlab.generator import FabricSpec, generate_fabric


def build_store(plan: dict) -> tuple[FabricStore, dict[str, list[list[str]]]]:
    """The live state of the plan's fabrics, and the injected changes of each drifted one."""
    store = FabricStore()
    expected: dict[str, list[list[str]]] = {}
    for fabric in plan["fabrics"]:
        name = fabric["name"]
        spec = FabricSpec.sized(plan["resources"], seed=fabric["seed"])
        desired = generate_fabric(name, spec)
        store.add_fabric(name, fabric["token"])
        seed_fabric_live(store, name, desired, spec)
        if fabric["drifted"]:
            expected[name] = [[d.kind, d.name, d.state] for d in inject_drift(store, name, desired)]
    return store, expected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=Path, required=True, help="JSON: {resources, fabrics: [{name, seed, token, drifted}]}")
    parser.add_argument("--ready", type=Path, required=True, help="written once serving: {port, expected}")
    args = parser.parse_args(argv)
    store, expected = build_store(json.loads(args.plan.read_text()))
    # plain HTTP, as fleet.py's kubeconfigs say: the recorded figures were measured without TLS
    handle = start_apiserver(store, port=0, plain_http=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    scratch = args.ready.with_suffix(".tmp")
    scratch.write_text(json.dumps({"port": handle.port, "pid": os.getpid(), "expected": expected}))
    os.replace(scratch, args.ready)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
