"""Drift engine speed: parsing and diffing ~10,000 Hedgehog resources against PyYAML's C loader alone.

Target (issue 3): parse_files + compare takes less than twice the time of yaml.load_all with
CSafeLoader over the same bytes. Run from the repository root:

    .venv/bin/python benchmarks/drift_engine.py

Prints a table and writes benchmarks/results/drift_engine-<date>.json (use --no-write to skip).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import platform
import shlex
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import yaml

from hedgehog_sync.devlab.generator import FabricSpec, generate_controller_objects, generate_fabric, split_into_files
from hedgehog_sync.domain.defaults import apply_defaults
from hedgehog_sync.domain.diff import compare
from hedgehog_sync.domain.parsing import parse_files

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_RATIO = 2.0


# --- the input: generated fabrics as Git holds them, and as their clusters store them -----------------


def as_stored(obj: dict, generation: int) -> dict:
    """What the API server hands back: webhook defaults, derived labels, kubectl's annotation,
    bookkeeping, status, and Go's JSON (keys in another order)."""
    out = apply_defaults(obj)
    meta = out["metadata"]
    spec = out.get("spec") or {}
    labels = meta.setdefault("labels", {})
    if out["kind"] == "VPCAttachment":
        vpc, _, subnet = str(spec.get("subnet", "")).partition("/")
        labels.update({"fabric.githedgehog.com/vpc": vpc, "fabric.githedgehog.com/subnet": subnet})
    elif out["kind"] == "Switch":
        labels["fabric.githedgehog.com/profile"] = str(spec.get("profile", ""))
        labels.update({f"vlanns.fabric.githedgehog.com/{ns}": "true" for ns in spec.get("vlanNamespaces", [])})
    elif out["kind"] == "VPC":
        labels["fabric.githedgehog.com/ipv4ns"] = spec.get("ipv4Namespace", "")
    meta.setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(obj)
    meta.update(uid=str(uuid.uuid5(uuid.NAMESPACE_URL, meta["name"] + out["kind"])),
                resourceVersion=str(10_000 + generation), generation=generation,
                creationTimestamp="2026-11-28T10:00:00Z",
                managedFields=[{"manager": "kubectl-client-side-apply", "operation": "Update",
                                "apiVersion": out["apiVersion"], "time": "2026-11-28T10:00:00Z",
                                "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}])
    out["status"] = {"observedGeneration": generation}
    return json.loads(json.dumps(out, sort_keys=True))


def inject_drift(live: list[dict]) -> dict[str, int]:
    """Per fabric: a VLAN changed, an attachment moved, a switch deleted, a VPC added, a label changed."""
    vpc = next(o for o in live if o["kind"] == "VPC")
    subnet = sorted(vpc["spec"]["subnets"])[0]
    vpc["spec"]["subnets"][subnet]["vlan"] += 1
    attachment = next(o for o in live if o["kind"] == "VPCAttachment")
    attachment["spec"]["subnet"] = attachment["spec"]["subnet"].split("/")[0] + "/moved"
    leaf = next(i for i, o in enumerate(live) if o["kind"] == "Switch" and o["spec"]["role"] == "server-leaf")
    del live[leaf]
    extra = copy.deepcopy(vpc)
    extra["metadata"]["name"] = "rogue-vpc"
    live.append(extra)
    server = next(o for o in live if o["kind"] == "Server")
    server["metadata"]["labels"]["team"] = "changed-live"
    return {"modified": 3, "missing": 1, "extra": 1}


def build_fleet(fabrics: int, per_fabric: int) -> list[dict[str, Any]]:
    fleet = []
    for index in range(fabrics):
        name = f"fab-{index:03d}"
        spec = FabricSpec.sized(per_fabric, seed=index)
        desired = generate_fabric(name, spec)
        files = [(path, text.encode()) for path, text in split_into_files(desired).items()]
        live = [as_stored(obj, 1 + i % 7) for i, obj in enumerate(desired)]
        expected = inject_drift(live)
        live += generate_controller_objects(name, spec, desired)  # never extra: compared and skipped
        fleet.append({"name": name, "files": files, "live": live, "resources": len(desired), "expected": expected})
    return fleet


# --- what is timed ----------------------------------------------------------------------------------


def yaml_alone(fleet: list[dict[str, Any]]) -> int:
    documents = 0
    for fabric in fleet:
        for _, data in fabric["files"]:
            documents += len(list(yaml.load_all(data, Loader=yaml.CSafeLoader)))
    return documents


def parse_and_compare(fleet: list[dict[str, Any]]) -> int:
    drifted = 0
    for fabric in fleet:
        parsed = parse_files(fabric["files"])
        result = compare(parsed.objects, fabric["live"], sources=parsed.sources)
        drifted += len(result.drifts)
    return drifted


def parse_alone(fleet: list[dict[str, Any]]) -> int:
    return sum(len(parse_files(fabric["files"]).objects) for fabric in fleet)


def time_runs(runs: int, cases: dict[str, Callable[[], Any]]) -> dict[str, dict[str, list[float]]]:
    """Each case `runs` times, interleaved so that the machine's slow moments hit every case alike.

    Wall time (perf_counter) is the figure; CPU time of this process (process_time) is kept beside it,
    as other processes on a small machine inflate wall time but not CPU time.
    """
    times: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in cases}
    for _ in range(runs):
        for name, case in cases.items():
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            case()
            times[name]["cpu"].append(time.process_time() - cpu)
            times[name]["wall"].append(time.perf_counter() - wall)
    return times


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "implementation": platform.python_implementation(), "platform": platform.platform(),
            "pyyaml": yaml.__version__, "libyaml": bool(getattr(yaml, "__with_libyaml__", False))}


def _code_version() -> dict[str, Any]:
    """Which hedgehog_sync was measured: its location, and the Git commit and state of its checkout."""
    import subprocess

    import hedgehog_sync

    where = Path(hedgehog_sync.__file__).resolve().parent
    out: dict[str, Any] = {"package": str(where)}
    try:
        git = ["git", "-C", str(where)]
        out["commit"] = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True,
                                       check=True).stdout.strip()
        dirty = subprocess.run(git + ["status", "--porcelain", "--", "domain"], capture_output=True, text=True,
                               check=True).stdout
        out["domain_modified"] = sorted(line[3:] for line in dirty.splitlines())
    except (OSError, subprocess.CalledProcessError):
        out["commit"] = None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fabrics", type=int, default=50)
    parser.add_argument("--per-fabric", type=int, default=200, help="authored resources per fabric")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only; do not write a result file")
    parser.add_argument("--label", default="", help="added to the result file's name (drift_engine-<date>-<label>.json)")
    parser.add_argument("--note", default="", help="a sentence kept in the result file: what was measured")
    args = parser.parse_args(argv)

    fleet = build_fleet(args.fabrics, args.per_fabric)
    resources = sum(f["resources"] for f in fleet)
    files = sum(len(f["files"]) for f in fleet)
    size = sum(len(data) for f in fleet for _, data in f["files"])

    # Correctness first: the full path finds exactly the injected drift and nothing else.
    for fabric in fleet:
        parsed = parse_files(fabric["files"])
        assert not parsed.findings, parsed.findings
        counts = compare(parsed.objects, fabric["live"], sources=parsed.sources).counts
        expected = fabric["expected"]
        assert {k: counts[k] for k in expected} == expected, (fabric["name"], counts)
        assert counts["in_sync"] == fabric["resources"] - expected["modified"] - expected["missing"]
    documents = yaml_alone(fleet)

    times = time_runs(args.runs, {
        "yaml.load_all (CSafeLoader)": lambda: yaml_alone(fleet),
        "parse_files + compare": lambda: parse_and_compare(fleet),
        "parse_files alone": lambda: parse_alone(fleet),
    })
    yaml_case, full_case = "yaml.load_all (CSafeLoader)", "parse_files + compare"
    medians = {name: statistics.median(t["wall"]) for name, t in times.items()}
    cpu_medians = {name: statistics.median(t["cpu"]) for name, t in times.items()}
    ratio = medians[full_case] / medians[yaml_case]
    cpu_ratio = cpu_medians[full_case] / cpu_medians[yaml_case]
    # Each run's pair was measured back to back, under the same conditions.
    paired_ratio = statistics.median(b / a for a, b in zip(times[yaml_case]["wall"], times[full_case]["wall"]))

    print(f"{args.fabrics} fabrics x ~{args.per_fabric} = {resources} resources, {documents} YAML documents, "
          f"{files} files, {size / 1e6:.1f} MB; live side {sum(len(f['live']) for f in fleet)} objects; "
          f"{args.runs} runs each")
    print(f"{'case':<30} {'median s':>9} {'min s':>8} {'max s':>8} {'cpu s':>8} {'docs/s':>9}")
    for name, t in times.items():
        print(f"{name:<30} {medians[name]:>9.3f} {min(t['wall']):>8.3f} {max(t['wall']):>8.3f} "
              f"{cpu_medians[name]:>8.3f} {documents / medians[name]:>9.0f}")
    verdict = "meets" if ratio < TARGET_RATIO else "MISSES"
    print(f"ratio (parse_files + compare) / (yaml alone) = {ratio:.2f}  ({verdict} the target < {TARGET_RATIO}); "
          f"paired runs {paired_ratio:.2f}, CPU time {cpu_ratio:.2f}")

    if not args.no_write:
        now = datetime.now(timezone.utc)
        RESULTS.mkdir(parents=True, exist_ok=True)
        target = RESULTS / f"drift_engine-{now:%Y-%m-%d}{'-' + args.label if args.label else ''}.json"
        result = {
            "benchmark": "drift_engine", "date": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": shlex.join([".venv/bin/python", "benchmarks/drift_engine.py", *(argv or sys.argv[1:])]),
            "machine": machine(),
            "code": _code_version(),
            "note": args.note,
            "input": {"fabrics": args.fabrics, "per_fabric": args.per_fabric, "resources": resources,
                      "documents": documents, "files": files, "bytes": size,
                      "live_objects": sum(len(f["live"]) for f in fleet),
                      "drift_per_fabric": fleet[0]["expected"]},
            "runs": args.runs,
            "seconds": {name: {"median": round(medians[name], 4), "cpu_median": round(cpu_medians[name], 4),
                               "wall": [round(v, 4) for v in t["wall"]], "cpu": [round(v, 4) for v in t["cpu"]]}
                        for name, t in times.items()},
            "ratio": round(ratio, 3), "paired_ratio": round(paired_ratio, 3), "cpu_ratio": round(cpu_ratio, 3),
            "target_ratio": TARGET_RATIO, "meets_target": ratio < TARGET_RATIO,
        }
        target.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {target.relative_to(Path.cwd()) if target.is_relative_to(Path.cwd()) else target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
