"""State store cost per fabric: the database (StateStore, SQLite and PostgreSQL) against the JSON files it replaced.

A sync run of 100 fabrics reads and writes each fabric's state. This times exactly that state work,
as one run worker process does it, in a fresh process per sample (the first connection, the schema
check and the per-run metrics document are part of each sample), several samples per case,
interleaved, medians, and ratios against the baseline measured in the same invocation:

- **json** (baseline): the JSON-file store of commit fcf3baf (`ReportStore`, `MetricsStore`), loaded
  from git history into a temporary module, driven the way that release's sync run drove it per fabric:
  read `parsed.json`, `versions.json` (three times: once per step), `report.json`, `health.json`; write
  `report.json`, `report.good.json`, `health.json`, `versions.json` (and `parsed.json` when the ref
  moved); then per run the whole `fleet-rows.json` and `metrics.json` under their `fcntl` locks.
- **sqlite** and **postgresql**: `StateStore` driven the way batch.py and defs/assets.py drive it per
  run: `load` (read_git) + `load_parses` (read_git) + `load` (read_kubernetes) + `load` (compare), then
  one `commit` of every fabric's report, versions, health fold, fleet row (and Git parse when the ref
  moved) and the metrics document.

Cases: **steady** (nothing moved: no parse document written), **changed** (every fabric's ref moved: a
new parse document written for each) and **cold** (nothing stored yet for the batch's fabrics).
Documents are real: a few fabrics (`--distinct`) are generated with `hedgehog_sync.devlab.generator`
(R resources, one local Git repository each, the live side in an in-process devlab API server, 10 %
drifted as fleet.py does), read and compared by the product's own code (`read_git_side`,
`read_cluster_side`, `batch.sync_batch`) for two cycles, and their reports, versions, health records,
Git parses, fleet rows and metrics are the templates of every fabric of the fleet (`--fleet`, default
1,000: the stores hold the whole fleet's state, the batch is `--fabrics` of them).

Run from the repository root, with PostgreSQL at 127.0.0.1:5432 (user postgres, no password; a
throwaway database is created and dropped):

    .venv/bin/python benchmarks/state_store.py

Prints a table and writes benchmarks/results/state_store-<date>.json (use --no-write to skip).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
BASELINE_COMMIT = "fcf3baf"  # the last commit whose state lived in JSON files (hedgehog_sync/store.py)
BACKENDS = ("json", "sqlite", "postgresql")
KINDS = ("steady", "changed", "cold")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# --- documents from a real sync ---------------------------------------------------------------------


def make_templates(distinct: int, resources: int, workdir: Path) -> dict[str, Any]:
    """Sync `distinct` generated fabrics twice with the product's own code; return what a run stores
    for each: report, versions, health record, Git parse document, fleet row, and the metrics."""
    sys.path.insert(0, str(BENCH_DIR))
    import fleet as fleet_bench  # write_repo, drifted_indexes: the fleet benchmark's own fleet
    from fleet_apiserver import build_store

    from hedgehog_sync.batch import sync_batch
    from hedgehog_sync.connectors.git import GitRepoCache
    from hedgehog_sync.cycle import ONE_ATTEMPT, FabricReader, PersistentParses, read_cluster_side, read_git_side
    from hedgehog_sync.devlab.apiserver import start_apiserver, write_kubeconfig
    from hedgehog_sync.domain.inventory import parse_inventory
    from hedgehog_sync.domain.metrics import RunStats, roll_up
    from hedgehog_sync.domain.recovery import DEFAULT_POLICY
    from hedgehog_sync.state import StateStore

    drifted = fleet_bench.drifted_indexes(distinct, 0.1)
    fabrics = [fleet_bench.Fabric(i, f"tpl-{i:04d}", "medium", i in drifted, workdir / "git" / f"tpl-{i:04d}")
               for i in range(distinct)]
    for f in fabrics:
        fleet_bench.write_repo(f, resources)
    tokens = {f.name: os.urandom(16).hex() for f in fabrics}
    store, expected = build_store({"resources": resources, "fabrics": [
        {"name": f.name, "seed": f.index, "token": tokens[f.name], "drifted": f.drifted} for f in fabrics]})
    handle = start_apiserver(store, port=0, plain_http=True)
    try:
        entries = []
        for f in fabrics:
            kube = write_kubeconfig(workdir / "kube" / f"{f.name}.kubeconfig",
                                    f"http://127.0.0.1:{handle.port}/fabrics/{f.name}", tokens[f.name], f.name)
            entries.append({"name": f.name, "priority": f.priority,
                            "git": {"url": f"file://{f.repo}", "ref": "main", "allow_local": True},
                            "kubernetes": {"kubeconfig": str(kube), "context": f.name}})
        import yaml
        inventory = parse_inventory(yaml.safe_dump({"fabrics": entries}), str(workdir / "fabrics.yaml"))
        if inventory.problems:
            raise RuntimeError(f"template inventory: {inventory.problems}")
        configs = {cfg.name: cfg for cfg in inventory.fabrics}
        state = StateStore.in_memory()
        cycles = []
        for cycle in ("template-cycle-1", "template-cycle-2"):
            names = list(configs)
            stored = state.load(names)
            parses = PersistentParses(state)
            parses.prime(state.load_parses(names), names)
            reader = FabricReader(GitRepoCache(workdir / "scratch"), parses=parses)
            try:
                git = {n: read_git_side(configs[n], reader, ONE_ATTEMPT) for n in names}
                cluster = {n: read_cluster_side(configs[n], reader, ONE_ATTEMPT) for n in names}
            finally:
                reader.close()
            saved = parses.take_saved()
            batch = sync_batch(configs, git, cluster, stored, DEFAULT_POLICY, cycle, datetime.now(timezone.utc),
                               parses=saved)
            if batch.unrecorded or batch.failed:
                raise RuntimeError(f"template sync failed: {batch.unrecorded or batch.failed}")
            stats = RunStats(run_id=cycle, finished_at=datetime.now(timezone.utc).isoformat(), duration_s=5.0,
                             queue_wait_s=1.0, checked=batch.checked, changed=batch.changed, failed=0)
            state.commit(batch.writes(), metrics=lambda m, s=stats: roll_up(m, s))
            cycles.append({"parses_written": len(saved), "recorded": batch.recorded})
        for f in fabrics:
            got = sorted((x["kind"], x["name"], x["state"]) for x in state.latest_report(f.name)["resources"]
                         if x["state"] != "in_sync")
            want = sorted(tuple(c) for c in expected.get(f.name, []))
            if got != want:
                raise RuntimeError(f"template {f.name}: report names {got}, injected {want}")
        rows = state.fleet_rows()["rows"]
        out = {"fabrics": [], "metrics": state.metrics(), "cycles": cycles, "expected": expected}
        for f in fabrics:
            out["fabrics"].append({
                "name": f.name, "drifted": f.drifted,
                "report": state.latest_report(f.name), "versions": state.versions(f.name),
                "health": state.health(f.name).to_dict(), "parses": state.parsed_files(f.name),
                "fleet_row": rows[f.name]})
        state.close()
        return out
    finally:
        handle.stop()


def renamed(value: Any, old: str, new: str) -> Any:
    """A template document for another fabric: its name replaced wherever it appears as a value."""
    return json.loads(json.dumps(value).replace(json.dumps(old)[1:-1], new))


def fabric_docs(templates: dict[str, Any], name: str, index: int) -> dict[str, Any]:
    t = templates["fabrics"][index % len(templates["fabrics"])]
    return {k: renamed(t[k], t["name"], name) for k in ("report", "versions", "health", "parses", "fleet_row")}


def sizes(templates: dict[str, Any]) -> dict[str, Any]:
    """Median compact-JSON bytes of each document kind (what one fabric's row or file holds)."""
    def size(v: Any) -> int:
        return len(json.dumps(v, separators=(",", ":"), default=str).encode())
    out = {k: int(statistics.median(size(t[k]) for t in templates["fabrics"]))
           for k in ("report", "versions", "health", "parses", "fleet_row")}
    drifted = [size(t["report"]) for t in templates["fabrics"] if t["drifted"]]
    out["report_drifted"] = int(statistics.median(drifted)) if drifted else None
    out["metrics"] = size(templates["metrics"])
    return out


# --- the baseline: the JSON-file store, from git history --------------------------------------------


def write_baseline_module(workdir: Path) -> Path:
    source = subprocess.run(["git", "-C", str(REPO_ROOT), "show", f"{BASELINE_COMMIT}:hedgehog_sync/store.py"],
                            check=True, capture_output=True, text=True).stdout
    path = workdir / f"store_{BASELINE_COMMIT}.py"
    path.write_text(source)
    return path


def load_baseline(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"hedgehog_sync_store_{BASELINE_COMMIT}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imports only domain modules that still exist (inventory, recovery, report)
    return module


# --- preparing the stores: the whole fleet's state -------------------------------------------------


def fleet_names(count: int) -> list[str]:
    return [f"fab-{i:04d}" for i in range(count)]


def prepare_json(root: Path, templates: dict[str, Any], count: int, baseline: Any) -> None:
    from hedgehog_sync.domain.fleet_rows import merge_rows
    from hedgehog_sync.domain.health_record import FabricHealthRecord

    reports = baseline.ReportStore(root / "reports")
    rows = {}
    for i, name in enumerate(fleet_names(count)):
        d = fabric_docs(templates, name, i)
        reports.save_parsed_files(name, d["parses"])
        reports.save_report(name, d["report"])
        reports.save_health(name, FabricHealthRecord.from_dict(d["health"]))
        reports.save_versions(name, d["versions"])
        rows[name] = d["fleet_row"]
    baseline.MetricsStore(root / "fleet-rows.json").update(lambda doc: merge_rows(doc, rows))
    baseline.MetricsStore(root / "metrics.json").update(lambda _m: templates["metrics"])


def prepare_db(url: str, templates: dict[str, Any], count: int) -> None:
    from hedgehog_sync.domain.health_record import FabricHealthRecord
    from hedgehog_sync.state import FabricWrite, StateStore

    store = StateStore(url)
    names = fleet_names(count)
    for start in range(0, count, 100):
        writes = []
        for i in range(start, min(count, start + 100)):
            d = fabric_docs(templates, names[i], i)
            record = FabricHealthRecord.from_dict(d["health"])
            writes.append(FabricWrite(names[i], report=d["report"], versions=d["versions"],
                                      health=lambda _current, r=record: r, parses=d["parses"],
                                      fleet_row=d["fleet_row"]))
        store.commit(writes, metrics=(lambda _m: templates["metrics"]) if start == 0 else None)
    store.close()


def forget(names: list[str], backend: str, json_root: Path, url: str | None) -> None:
    """Remove a cold sample's fabrics again, so that every sample finds the fleet as prepared (the
    whole fleet's rows, not more)."""
    if backend == "json":
        for name in names:
            shutil.rmtree(json_root / "reports" / name, ignore_errors=True)
        path = json_root / "fleet-rows.json"
        doc = json.loads(path.read_text())
        doc["rows"] = {k: v for k, v in doc["rows"].items() if k not in set(names)}
        path.write_text(json.dumps(doc))
        return
    import sqlalchemy as sa

    from hedgehog_sync.state.schema import fabric_table, fleet_row_table, git_parse_table

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in (fabric_table, git_parse_table, fleet_row_table):
                conn.execute(table.delete().where(table.c.fabric.in_(names)))
    finally:
        engine.dispose()


class Postgres:
    """A throwaway database, dropped at the end."""

    def __init__(self, host: str, port: int, user: str):
        self.host, self.port, self.user = host, port, user
        self.db = f"hhstate_{os.getpid()}_{int(time.time())}"
        self._admin(f'CREATE DATABASE "{self.db}"')

    def _admin(self, sql: str) -> None:
        import psycopg2

        admin = psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname="postgres")
        admin.autocommit = True
        try:
            with admin.cursor() as cur:
                cur.execute(sql)
        finally:
            admin.close()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{self.db}"

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')


# --- one sample: a fresh process doing one run's state work ----------------------------------------


def _proc_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def _backend_cpu(store: Any) -> tuple[float | None, int]:
    """CPU seconds of every PostgreSQL backend serving this database (this process's only: samples run
    one at a time), read from /proc; and how many there were."""
    from sqlalchemy import text

    with store.engine.connect() as conn:
        pids = [r[0] for r in conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))]
    cpu = [_proc_cpu(p) for p in pids]
    if any(c is None for c in cpu):
        return None, len(pids)
    return sum(cpu), len(pids)


def child(spec: dict[str, Any]) -> dict[str, Any]:
    from hedgehog_sync.domain.fleet_rows import merge_rows
    from hedgehog_sync.domain.health_record import FabricHealthRecord
    from hedgehog_sync.domain.metrics import RunStats, roll_up
    from hedgehog_sync.domain.recovery import DEFAULT_POLICY, CycleResult, record_cycle
    from hedgehog_sync.state import FabricWrite, StateStore

    templates = json.loads(Path(spec["templates"]).read_text())
    backend, kind, names = spec["backend"], spec["kind"], spec["names"]
    now = datetime.now(timezone.utc)
    cycle = f"bench-{spec['sample']}"
    docs = {}
    for name, index in zip(names, spec["indexes"]):
        d = fabric_docs(templates, name, index)
        d["report"]["generated_at"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        if kind != "steady":  # the ref moved: a new commit, its parses written
            d["parses"]["commit"] = f"{spec['sample']:08x}" + d["parses"]["commit"][8:]
        d["result"] = CycleResult.from_report(d["report"])
        docs[name] = d
    stats = RunStats(run_id=cycle, finished_at=now.isoformat(), duration_s=5.0, queue_wait_s=1.0,
                     checked=len(names), changed=len(names) if kind != "steady" else 0, failed=0)

    def fold(result: Any, current: FabricHealthRecord) -> FabricHealthRecord:
        return record_cycle(current, result, now, DEFAULT_POLICY, cycle_id=cycle)[0]

    if backend == "json":
        baseline = load_baseline(Path(spec["baseline"]))
        root = Path(spec["json_root"])
        reports = baseline.ReportStore(root / "reports")
    gc.collect()
    phases: dict[str, float] = {}
    phases_cpu: dict[str, float] = {}
    statements: dict[str, int] = {}  # SQL statements the store sent, by verb (an executemany counts once)
    statement_rows = 0  # parameter sets of those statements (an executemany's rows)
    server_cpu = backends = None
    cpu0, t0 = time.process_time(), time.perf_counter()
    last_cpu = [cpu0]
    # What was read stays alive until the run ends, as in a run (the parses become the desired state
    # that the batch holds): the cyclic GC's passes over it are part of reading it.
    kept: list[Any] = []

    def mark(phase: str, since: float) -> float:
        now_, cpu = time.perf_counter(), time.process_time()
        phases[phase] = (now_ - since) * 1000
        phases_cpu[phase] = (cpu - last_cpu[0]) * 1000
        last_cpu[0] = cpu
        return now_

    if backend == "json":
        t = t0
        # read_git: the parse document, then the versions (is git_state a new data version?)
        for name in names:
            kept.append(reports.parsed_files(name))
            kept.append(reports.versions(name))
            if kind != "steady":
                reports.save_parsed_files(name, docs[name]["parses"])
        t = mark("read_git", t)
        for name in names:  # read_kubernetes: is k8s_state a new data version?
            kept.append(reports.versions(name))
        t = mark("read_kubernetes", t)
        rows = {}
        for name in names:  # compare: report and versions, health folded, all written back
            kept.append(reports.latest_report(name))
            kept.append(reports.versions(name))
            reports.save_report(name, docs[name]["report"])
            record = fold(docs[name]["result"], reports.health(name))
            reports.save_health(name, record)
            reports.save_versions(name, docs[name]["versions"])
            rows[name] = docs[name]["fleet_row"]
        baseline.MetricsStore(root / "fleet-rows.json").update(lambda doc: merge_rows(doc, rows))
        baseline.MetricsStore(root / "metrics.json").update(lambda m: roll_up(m, stats))
        t = mark("compare", t)
    else:
        store = StateStore(spec["url"])
        from sqlalchemy import event

        def count(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
            nonlocal statement_rows
            verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
            statements[verb] = statements.get(verb, 0) + 1
            statement_rows += len(parameters) if many else 1

        event.listen(store.engine, "before_cursor_execute", count)
        t = t0
        kept.append(store.load(names))  # read_git (the first statement also connects and checks the schema version)
        t = mark("connect_load", t)
        kept.append(store.load_parses(names))
        t = mark("load_parses", t)
        kept.append(store.load(names))  # read_kubernetes
        kept.append(store.load(names))  # compare
        t = mark("load_load", t)
        writes = [FabricWrite(name, report=docs[name]["report"], versions=docs[name]["versions"],
                              health=lambda current, r=docs[name]["result"]: fold(r, current),
                              parses=docs[name]["parses"] if kind != "steady" else None,
                              fleet_row=docs[name]["fleet_row"]) for name in names]
        store.commit(writes, metrics=lambda m: roll_up(m, stats))
        t = mark("commit", t)
    wall_ms = (time.perf_counter() - t0) * 1000
    cpu_ms = (time.process_time() - cpu0) * 1000
    del kept
    if backend != "json":
        event.remove(store.engine, "before_cursor_execute", count)
    if backend == "postgresql":
        server_cpu, backends = _backend_cpu(store)
    if backend != "json":
        store.close()
    # the health folds alone (domain work both designs do), to state apart from the store's cost
    records = [FabricHealthRecord.from_dict(docs[n]["health"]) for n in names]
    f0 = time.process_time()
    for n, r in zip(names, records):
        fold(docs[n]["result"], r)
    fold_ms = (time.process_time() - f0) * 1000
    return {"backend": backend, "kind": kind, "sample": spec["sample"], "fabrics": len(names),
            "wall_ms": round(wall_ms, 2), "cpu_ms": round(cpu_ms, 2),
            "server_cpu_ms": round(server_cpu * 1000, 1) if server_cpu is not None else None,
            "server_backends": backends, "fold_cpu_ms": round(fold_ms, 2),
            "phases_ms": {k: round(v, 2) for k, v in phases.items()},
            "phases_cpu_ms": {k: round(v, 2) for k, v in phases_cpu.items()},
            "statements": statements or None, "statement_rows": statement_rows if statements else None}


def run_sample(spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    path = workdir / "sample.json"
    path.write_text(json.dumps(spec))
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(path)],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    process_ms = (time.perf_counter() - started) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"sample {spec['backend']}/{spec['kind']} failed:\n{proc.stderr[-4000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_ms"] = round(process_ms, 1)  # the whole child: interpreter start, imports, the work, exit
    return out


# --- summary ---------------------------------------------------------------------------------------


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(samples: list[dict[str, Any]], fabrics: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    by = {}
    for s in samples:
        by.setdefault((s["backend"], s["kind"]), []).append(s)
    for (backend, kind), group in sorted(by.items()):
        def per_fabric(key: str) -> float | None:
            m = _median([g[key] for g in group])
            return round(m / fabrics, 3) if m is not None else None

        phases = {p: round(_median([g["phases_ms"][p] for g in group]), 2) for p in group[0]["phases_ms"]}
        phases_cpu = {p: round(_median([g["phases_cpu_ms"][p] for g in group]), 2) for p in group[0]["phases_cpu_ms"]}
        out.setdefault(kind, {})[backend] = {
            "samples": len(group),
            "wall_ms_per_batch": round(_median([g["wall_ms"] for g in group]), 1),
            "wall_ms_per_fabric": per_fabric("wall_ms"),
            "cpu_ms_per_fabric": per_fabric("cpu_ms"),
            "server_cpu_ms_per_fabric": per_fabric("server_cpu_ms"),
            "fold_cpu_ms_per_fabric": per_fabric("fold_cpu_ms"),
            "process_ms": round(_median([g["process_ms"] for g in group]), 0),
            "phases_ms": phases,
            "phases_cpu_ms": phases_cpu,
            "statements": group[-1]["statements"], "statement_rows": group[-1]["statement_rows"],
            "wall_ms_all": [g["wall_ms"] for g in group],
        }
    for kind, row in out.items():
        base = row.get("json")
        for backend, r in row.items():
            if base is None or backend == "json":
                continue
            r["wall_ratio_to_json"] = round(r["wall_ms_per_fabric"] / base["wall_ms_per_fabric"], 2)
            r["cpu_ratio_to_json"] = round(r["cpu_ms_per_fabric"] / base["cpu_ms_per_fabric"], 2)
            if r["server_cpu_ms_per_fabric"] is not None:
                r["cpu_with_server_ratio_to_json"] = round(
                    (r["cpu_ms_per_fabric"] + r["server_cpu_ms_per_fabric"]) / base["cpu_ms_per_fabric"], 2)
            # the same round's pair: each sample against the json sample of its round
            pairs = {s["sample"]: s["wall_ms"] for s in samples if s["backend"] == "json" and s["kind"] == kind}
            ratios = [s["wall_ms"] / pairs[s["sample"]] for s in samples
                      if s["backend"] == backend and s["kind"] == kind and s["sample"] in pairs]
            r["paired_wall_ratio_median"] = round(statistics.median(ratios), 2) if ratios else None
    return out


def print_table(summary: dict[str, Any], fabrics: int) -> None:
    print(f"\nState work of one run of {fabrics} fabrics, medians, ms per fabric (the batch's total / {fabrics}):")
    print(f"{'case':<8} {'store':<11} {'wall':>7} {'CPU':>7} {'PG CPU':>7} {'wall/json':>10} {'CPU/json':>9}")
    for kind in KINDS:
        for backend in BACKENDS:
            r = summary.get(kind, {}).get(backend)
            if r is None:
                continue
            pg = f"{r['server_cpu_ms_per_fabric']:.2f}" if r["server_cpu_ms_per_fabric"] is not None else "-"
            print(f"{kind:<8} {backend:<11} {r['wall_ms_per_fabric']:>7.2f} {r['cpu_ms_per_fabric']:>7.2f} {pg:>7} "
                  f"{r.get('wall_ratio_to_json', 1.0):>10.2f} {r.get('cpu_ratio_to_json', 1.0):>9.2f}")


def machine() -> dict[str, Any]:
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), None)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import sqlalchemy

    return {"cpus": os.cpu_count(), "cpu": cpu, "mem_gib": round(int(mem) / 2**20, 1) if mem else None,
            "python": platform.python_version(), "sqlalchemy": sqlalchemy.__version__,
            "sqlite": __import__("sqlite3").sqlite_version, "platform": platform.platform(),
            "load_average": list(os.getloadavg())}


def code_version() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "baseline_commit": git("rev-parse", BASELINE_COMMIT),
            "dirty_state_code": bool(git("status", "--porcelain", "--", "hedgehog_sync/state", "hedgehog_sync/batch.py"))}


def _pg_version(pg: Postgres) -> str | None:
    import psycopg2

    try:
        conn = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, dbname=pg.db)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                return cur.fetchone()[0]
        finally:
            conn.close()
    except Exception:
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fabrics", type=int, default=100, help="fabrics in the run's batch (default 100)")
    p.add_argument("--fleet", type=int, default=1000, help="fabrics with state in each store (default 1000)")
    p.add_argument("--runs", type=int, default=7, help="samples per case, interleaved (default 7)")
    p.add_argument("--distinct", type=int, default=10, help="fabrics synced for real as templates (default 10)")
    p.add_argument("--resources", type=int, default=200, help="authored resources per fabric (default 200)")
    p.add_argument("--backends", default=",".join(BACKENDS))
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--pg-host", default="127.0.0.1")
    p.add_argument("--pg-port", type=int, default=5432)
    p.add_argument("--pg-user", default="postgres")
    p.add_argument("--workdir", default=None, help="where the stores and repositories go (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--seed", type=int, default=13, help="seed of the interleaving order")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--output", type=Path, default=None)
    p.add_argument("--label", default="", help="suffix of the result file's name")
    p.add_argument("--note", default="", help="a sentence saying what was measured, kept in the result")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child is not None:
        print(json.dumps(child(json.loads(a.child.read_text()))))
        return 0

    backends = [b for b in a.backends.split(",") if b]
    kinds = [k for k in a.kinds.split(",") if k]
    if "json" not in backends:
        p.error("the json baseline is needed for the ratios")
    if a.fleet < a.fabrics:
        p.error("--fleet must be at least --fabrics")
    started_at = datetime.now(timezone.utc)
    load_start = list(os.getloadavg())
    workdir = Path(tempfile.mkdtemp(prefix="hh-state-", dir=a.workdir))
    pg: Postgres | None = None
    try:
        log(f"templates: syncing {a.distinct} generated fabrics of {a.resources} resources twice")
        t = time.monotonic()
        templates = make_templates(a.distinct, a.resources, workdir)
        (workdir / "templates.json").write_text(json.dumps(templates))
        log(f"templates ready in {time.monotonic() - t:.1f} s: {sizes(templates)}")
        baseline_path = write_baseline_module(workdir)
        baseline = load_baseline(baseline_path)
        urls: dict[str, str] = {}
        if "json" in backends:
            prepare_json(workdir / "json", templates, a.fleet, baseline)
        if "sqlite" in backends:
            (workdir / "sqlite").mkdir()
            urls["sqlite"] = f"sqlite:///{workdir / 'sqlite' / 'hedgehog_sync.db'}"
            prepare_db(urls["sqlite"], templates, a.fleet)
        if "postgresql" in backends:
            pg = Postgres(a.pg_host, a.pg_port, a.pg_user)
            urls["postgresql"] = pg.url
            prepare_db(urls["postgresql"], templates, a.fleet)
        log(f"stores ready: {a.fleet} fabrics each in {', '.join(backends)}")

        batch = fleet_names(a.fabrics)
        cases = [(b, k) for k in kinds for b in backends]
        rng = random.Random(a.seed)
        samples = []
        for sample in range(a.runs):
            order = cases[:]
            rng.shuffle(order)
            for backend, kind in order:
                names = batch if kind != "cold" else [f"c{sample:02d}-{n}" for n in batch]
                spec = {"backend": backend, "kind": kind, "sample": sample, "names": names,
                        "indexes": list(range(len(names))), "templates": str(workdir / "templates.json"),
                        "baseline": str(baseline_path), "json_root": str(workdir / "json"),
                        "url": urls.get(backend)}
                samples.append(run_sample(spec, workdir))
                if kind == "cold":
                    forget(names, backend, workdir / "json", urls.get(backend))
            log(f"round {sample + 1}/{a.runs} done (load {os.getloadavg()[0]:.1f})")
        summary = summarize(samples, a.fabrics)
        print_table(summary, a.fabrics)
        result = {
            "benchmark": "state_store", "started_at": started_at.isoformat(timespec="seconds"),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(shlex.quote(x) for x in [".venv/bin/python", "benchmarks/state_store.py",
                                                            *(argv if argv is not None else sys.argv[1:])]),
            "note": a.note,
            "parameters": {"fabrics": a.fabrics, "fleet": a.fleet, "runs": a.runs, "distinct": a.distinct,
                           "resources": a.resources, "backends": backends, "kinds": kinds, "seed": a.seed},
            "machine": {**machine(), "load_average_start": load_start, "load_average_end": list(os.getloadavg()),
                        "postgresql": _pg_version(pg) if pg else None},
            "code": code_version(),
            "document_bytes": sizes(templates),
            "templates": {"cycles": templates["cycles"],
                          "drifted": [t["name"] for t in templates["fabrics"] if t["drifted"]]},
            "summary": summary,
            "samples": samples,
        }
        if not a.no_write:
            RESULTS.mkdir(exist_ok=True)
            out = a.output or RESULTS / f"state_store-{started_at:%Y-%m-%d}{('-' + a.label) if a.label else ''}.json"
            if out.exists() and a.output is None:
                raise SystemExit(f"{out} exists: pass --label or --output (results are never overwritten)")
            out.write_text(json.dumps(result, indent=1) + "\n")
            log(f"written {out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out}")
        return 0
    finally:
        if pg is not None:
            pg.drop()
        if a.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
