"""Where a run worker's CPU goes: a real `dagster api execute_run` worker, per bucket, cold and steady.

Builds the fleet as benchmarks/fleet.py does (devlab generator, one local Git repository per fabric,
devlab API server processes, deploy/dagster.yaml's PostgreSQL storage with the default run launcher),
then, for each of --runs pairs, on a fresh PostgreSQL database (nothing stored, no clone: the worker's
Git scratch directory is private to the process):

- creates one sync_fleet run over all --fabrics fabrics (one batch, the schedule's range tags) and
  starts its worker with the exact command the run's ExecuteRunArgs gives (`python -m dagster api
  execute_run <args>`), as a process of this script: the *cold* run;
- then the same batch again with nothing changed: the *steady* run.

Inside the worker a `sitecustomize.py` (written to a temporary folder on PYTHONPATH, active only when
HH_PROFILE_WORKER_OUT is set; product code is untouched) measures:

- **setup**: the process's CPU until the run's first step starts (Dagster's `inner_plan_execution_iterator`
  is entered): interpreter start, imports, CLI, instance and run setup;
- **gc**: cyclic GC during the run (gc.callbacks, the collecting thread's CPU between "start" and "stop");
- **finalization**: the child's total CPU from the parent's wait4 rusage minus (self + children) CPU at
  the atexit hook (registered first, so it runs last);
- **git children**: RUSAGE_CHILDREN between the first step and exit (git is the only child);
- the rest of the run's CPU by a sampling profiler: `signal.setitimer(ITIMER_PROF, 0.001)`; at each
  signal, every Python thread's CPU since the last signal (from /proc/self/task/<tid>/schedstat, minus
  the GC and profiler time it spent) goes to the bucket of that thread's current stack. A stack's
  bucket is the first of this priority list that any of its frames belongs to:
    1. kubernetes: hedgehog_sync/connectors/kubernetes.py, the kubernetes package;
    2. yaml_diff: hedgehog_sync/domain/{parsing,yamljson,kinds,defaults,normalize,diff}.py, PyYAML;
    3. git_python: hedgehog_sync/connectors/git.py (the Python side of the git children);
    4. hash_json: a hedgehog_sync function named *hash*, *digest* or *fingerprint*, or the stdlib json
       module called from hedgehog_sync code (state documents, fingerprints);
    5. state_store: hedgehog_sync/state/ (its SQL through SQLAlchemy and psycopg2);
    6. dagster_events: hedgehog_sync/defs/assets.py's event and metadata helpers, defs/checks.py,
       domain/check_outcomes.py, and Dagster functions named *materializ*, *asset_check*,
       *check_evaluation* or *metadata*;
    7. dagster_orchestration: any other frame of dagster, dagster_postgres, dagster_shared (event
       log writes, step machinery, logs);
    8. other: everything else (report building, the inventory, ...).
  `profiler` is the handler's own CPU; `unattributed` is what no sampled thread accounted for
  (threads that ended between two signals).

Outside the worker: PostgreSQL's CPU over the run (utime+stime of every `postgres` process plus what
they reaped, from /proc, before/after, minus the background rate measured just before the run: the
server is shared), and the sessions opened on the run's database (pg_stat_database.sessions, PG 14+).

Run from the repository root, PostgreSQL on 127.0.0.1:5432 for user postgres (as fleet.py):

    nice -n 15 .venv/bin/python benchmarks/profile_worker.py            # 100 fabrics, 3 pairs

Prints a table (CPU-ms per fabric, median over the pairs) and writes
benchmarks/results/profile_worker-<date>[-label].json (--no-write to skip).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
sys.path.insert(0, str(BENCH_DIR))

import fleet  # noqa: E402  (benchmarks/fleet.py: the fleet, PostgreSQL, instance settings)

CLK_TCK = os.sysconf("SC_CLK_TCK")
ENV_OUT = "HH_PROFILE_WORKER_OUT"
SAMPLED = ("kubernetes", "yaml_diff", "git_python", "hash_json", "state_store", "dagster_events",
           "dagster_orchestration", "other")
# The table's rows, in the order: (key, label).
ROWS = (("finalization", "interpreter finalization at process exit"),
        ("setup", "interpreter start, imports, CLI, instance setup"),
        ("gc", "cyclic GC during the run"),
        ("dagster_events", "Dagster materializations, check evaluations, metadata"),
        ("dagster_orchestration", "Dagster orchestration and logs"),
        ("git_children", "git child processes"),
        ("git_python", "git: Python side"),
        ("kubernetes", "Kubernetes: requests, decode, client"),
        ("yaml_diff", "YAML parse, normalize + diff"),
        ("hash_json", "hashing, state JSON"),
        ("state_store", "state store (SQL)"),
        ("other", "other"),
        ("profiler", "the profiler's own handler"),
        ("unattributed", "unattributed (threads ended between signals, delivery)"))

SITECUSTOMIZE = r'''
"""Injected by benchmarks/profile_worker.py: active only with HH_PROFILE_WORKER_OUT set."""
import os as _os

if _os.environ.get("HH_PROFILE_WORKER_OUT"):
    def _hh_profile_install():
        import atexit, gc, importlib.abc, importlib.machinery, json, resource, signal, sys, threading, time

        out_path = _os.environ.pop("HH_PROFILE_WORKER_OUT")
        interval = float(_os.environ.get("HH_PROFILE_WORKER_INTERVAL", "0.001"))
        stdlib = _os.path.dirname(_os.__file__) + "/"
        S = {"first_step": None, "gc_s": 0.0, "gc_n": 0, "gc_run_s": 0.0, "gc_run_n": 0, "prof_s": 0.0,
             "signals": 0, "weights": {}, "samples": {}, "leaves": {}, "gc_thread": {}, "prof_debt": 0.0}
        gc_start = {}

        def cpu_self():
            r = resource.getrusage(resource.RUSAGE_SELF)
            return r.ru_utime + r.ru_stime

        def cpu_children():
            r = resource.getrusage(resource.RUSAGE_CHILDREN)
            return r.ru_utime + r.ru_stime

        def on_gc(phase, info):
            ident = threading.get_ident()
            if phase == "start":
                gc_start[ident] = time.thread_time()
                return
            began = gc_start.pop(ident, None)
            if began is None:
                return
            spent = time.thread_time() - began
            S["gc_s"] += spent
            S["gc_n"] += 1
            if S["first_step"] is not None:
                S["gc_run_s"] += spent
                S["gc_run_n"] += 1
                S["gc_thread"][ident] = S["gc_thread"].get(ident, 0.0) + spent

        gc.callbacks.append(on_gc)

        tags = {}

        def tag(code):
            got = tags.get(code)
            if got is not None:
                return got
            f, name = code.co_filename, code.co_name
            low = name.lower()
            t = ""
            if "/hedgehog_sync/connectors/kubernetes" in f or "/site-packages/kubernetes/" in f:
                t = "kubernetes"
            elif "/site-packages/yaml/" in f or any("/hedgehog_sync/domain/%s.py" % m in f for m in
                    ("parsing", "yamljson", "kinds", "defaults", "normalize", "diff")):
                t = "yaml_diff"
            elif "/hedgehog_sync/connectors/git" in f:
                t = "git_python"
            elif "/hedgehog_sync/" in f and ("hash" in low or "digest" in low or "fingerprint" in low):
                t = "hash_json"
            elif "/hedgehog_sync/state/" in f:
                t = "state_store"
            elif ("/hedgehog_sync/defs/checks.py" in f or "/hedgehog_sync/domain/check_outcomes.py" in f
                  or ("/hedgehog_sync/defs/assets.py" in f and (name in ("_report_event", "_checks", "_events")
                                                                or "metadata" in low))):
                t = "dagster_events"
            elif "/site-packages/dagster" in f:
                t = "dagster_events" if any(k in low for k in ("materializ", "asset_check", "check_evaluation",
                                                               "metadata")) else "dagster_orchestration"
            elif f.startswith(stdlib + "json/"):
                t = "json"
            elif "/hedgehog_sync/" in f:
                t = "hedgehog"
            elif f.startswith(stdlib) and "/site-packages/" not in f:
                t = "stdlib"
            else:
                t = "lib"
            tags[code] = t
            return t

        order = ("kubernetes", "yaml_diff", "git_python", "hash_json", "state_store", "dagster_events",
                 "dagster_orchestration")

        def classify(frame):
            found = set()
            json_pending = False
            leaf = innermost = None
            while frame is not None:
                code = frame.f_code
                t = tag(code)
                if innermost is None:
                    innermost = "%s:%s" % (code.co_filename.rsplit("/site-packages/", 1)[-1].rsplit("/lib/python", 1)[-1],
                                           code.co_name)
                if leaf is None and t not in ("stdlib", "json", "lib"):
                    leaf = "%s:%s" % (code.co_filename.rsplit("/site-packages/", 1)[-1].rsplit("/lib/python", 1)[-1],
                                      code.co_name)
                if t == "json":
                    json_pending = True
                elif t in ("stdlib", "lib"):
                    pass
                else:
                    if json_pending and (t == "hedgehog" or t in order[:5]):
                        found.add("hash_json")
                    json_pending = False
                    found.add(t)
                frame = frame.f_back
            leaf = leaf or innermost
            for b in order:
                if b in found:
                    return b, leaf
            return "other", leaf

        carry = {}
        last_cpu = {}
        last_gc = {}

        def thread_cpu(ident):
            # A thread in threading._active is alive while this thread holds the GIL (it leaves the
            # dict itself before it ends), so its CPU clock is safe to read; not a _DummyThread's.
            try:
                return time.clock_gettime(time.pthread_getcpuclockid(ident))
            except (OSError, OverflowError):
                return None

        def on_prof(signum, frame):
            t0 = time.thread_time()
            S["signals"] += 1
            main = threading.main_thread().ident
            frames = sys._current_frames()
            active = dict(threading._active)
            for ident, th in active.items():
                if isinstance(th, threading._DummyThread):
                    continue
                now = thread_cpu(ident)
                if now is None:
                    continue
                before = last_cpu.get(ident)
                last_cpu[ident] = now
                g = S["gc_thread"].get(ident, 0.0)
                dg = g - last_gc.get(ident, 0.0)
                last_gc[ident] = g
                if before is None:
                    continue
                w = now - before - dg
                if ident == main:
                    w -= S["prof_debt"]
                    S["prof_debt"] = 0.0
                w += carry.pop(ident, 0.0)
                if w <= 0:
                    carry[ident] = w  # GC or handler time beyond this interval's: taken from the next one
                    continue
                fr = frame if ident == main else frames.get(ident)
                bucket, leaf = classify(fr)
                S["weights"][bucket] = S["weights"].get(bucket, 0.0) + w
                S["samples"][bucket] = S["samples"].get(bucket, 0) + 1
                key = (bucket, leaf)
                S["leaves"][key] = S["leaves"].get(key, 0.0) + w
            spent = time.thread_time() - t0
            S["prof_s"] += spent
            S["prof_debt"] += spent

        def first_step():
            if S["first_step"] is not None:
                return
            S["first_step"] = {"self_s": cpu_self(), "children_s": cpu_children(), "gc_s": S["gc_s"],
                               "gc_n": S["gc_n"], "t": time.monotonic()}
            for ident, th in dict(threading._active).items():
                cpu = None if isinstance(th, threading._DummyThread) else thread_cpu(ident)
                if cpu is not None:
                    last_cpu[ident] = cpu
            signal.signal(signal.SIGPROF, on_prof)
            signal.setitimer(signal.ITIMER_PROF, interval, interval)

        # SIGPROF from ITIMER_PROF goes to the thread that was running, and only the main thread runs
        # Python handlers: a worker thread's signal would wait until the main thread next woke (a future
        # done: a biased moment). Every other thread blocks it, so the kernel wakes the main thread.
        bootstrap = threading.Thread._bootstrap_inner

        def _bootstrap_inner(self):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPROF})
            bootstrap(self)

        threading.Thread._bootstrap_inner = _bootstrap_inner

        target = "dagster._core.execution.plan.execute_plan"

        class Hook(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target_=None):
                if name != target:
                    return None
                sys.meta_path.remove(self)
                spec = importlib.machinery.PathFinder.find_spec(name, path)
                if spec is None or spec.loader is None:
                    return spec
                original = spec.loader.exec_module

                def exec_module(module):
                    original(module)
                    inner = module.inner_plan_execution_iterator

                    def inner_plan_execution_iterator(*args, **kwargs):
                        first_step()
                        yield from inner(*args, **kwargs)

                    module.inner_plan_execution_iterator = inner_plan_execution_iterator

                spec.loader.exec_module = exec_module
                return spec

        sys.meta_path.insert(0, Hook())

        def at_exit():
            signal.setitimer(signal.ITIMER_PROF, 0, 0)
            end = {"self_s": cpu_self(), "children_s": cpu_children(), "t": time.monotonic()}
            leaves = {}
            for (bucket, leaf), w in sorted(S["leaves"].items(), key=lambda kv: -kv[1]):
                if len(leaves.setdefault(bucket, [])) < 8:
                    leaves[bucket].append([leaf, round(w * 1000, 1)])
            doc = {"first_step": S["first_step"], "at_exit": end, "gc_total_s": S["gc_s"], "gc_total_n": S["gc_n"],
                   "gc_run_s": S["gc_run_s"], "gc_run_n": S["gc_run_n"], "profiler_s": S["prof_s"],
                   "signals": S["signals"], "interval_s": interval, "weights_s": S["weights"],
                   "samples": S["samples"], "top_leaves_ms": leaves, "gc_threshold": gc.get_threshold()}
            with open(out_path, "w") as fh:
                json.dump(doc, fh)

        atexit.register(at_exit)

    _hh_profile_install()
'''


# --- PostgreSQL outside the worker -----------------------------------------------------------------------


def postgres_cpu_s() -> float:
    """CPU seconds of every `postgres` process alive now, plus what they reaped (ended backends)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if Path(f"/proc/{entry}/comm").read_text().strip() != "postgres":
                continue
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        total += sum(int(v) for v in fields[11:15]) / CLK_TCK
    return total


def _postmaster() -> int | None:
    """The pid of the postgres process whose parent is not a postgres process."""
    comms: dict[int, tuple[str, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                comm = Path(f"/proc/{entry}/comm").read_text().strip()
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            comms[int(entry)] = (comm, int(raw[raw.rindex(")") + 2:].split()[1]))
    for pid, (comm, ppid) in comms.items():
        if comm == "postgres" and comms.get(ppid, ("", 0))[0] != "postgres":
            return pid
    return None


class Backends(threading.Thread):
    """Polls the postmaster's children every `interval` s; for the backends of one database (its name
    is in their process title), keeps the CPU each had when last seen (/proc/<pid>/schedstat, ns).
    A lower bound of what that database's backends spent: a backend that lived less than one interval
    is missed, and one's last instants before it ended. `coverage` says how many sessions were seen."""

    def __init__(self, db: str, interval: float = 0.002):
        super().__init__(name="postgres-backends", daemon=True)
        self.db, self.interval = f" {db} ", interval
        self.postmaster = _postmaster()
        self.cpu: dict[int, tuple[float, float]] = {}  # pid -> (CPU when first seen if alive at start else 0, last)
        self.other: set[int] = set()
        self.at_start: set[int] = set()
        self._halt = threading.Event()
        self._began = False

    def _poll(self) -> None:
        if self.postmaster is None:
            return
        try:
            pids = Path(f"/proc/{self.postmaster}/task/{self.postmaster}/children").read_text().split()
        except OSError:
            return
        for text in pids:
            pid = int(text)
            if pid in self.other:
                continue
            if pid not in self.cpu:
                try:
                    title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if not title.startswith("postgres: "):
                    continue  # just forked: still the postmaster's title; decided at the next look
                if self.db not in title:
                    self.other.add(pid)
                    continue
            try:
                now = int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
            except OSError:
                continue
            first = self.cpu.get(pid, (now if not self._began else 0.0, 0.0))[0]
            if not self._began:
                self.at_start.add(pid)
            self.cpu[pid] = (first, now)

    def run(self) -> None:
        self._poll()
        self._began = True
        while not self._halt.wait(self.interval):
            self._poll()

    def finish(self) -> dict[str, Any]:
        self._halt.set()
        self.join(timeout=5)
        self._poll()
        new = [pid for pid in self.cpu if pid not in self.at_start]
        return {"cpu_s": sum(last - first for first, last in self.cpu.values()), "backends_seen": len(new)}


def sessions(pg: fleet.Postgres) -> int:
    """Sessions ever opened on the run's database (read from the `postgres` database: not counted)."""
    import psycopg2

    conn = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, dbname="postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (pg.db,))
            row = cur.fetchone()
        return int(row[0]) if row else 0
    finally:
        conn.close()


# --- one measured worker -----------------------------------------------------------------------------------


class _FleetArgs(argparse.Namespace):
    """fleet.py's options for building the fleet; any option it grows later is off (None) here."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None


class Profiler:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        fleet_args = _FleetArgs(
            fabrics=args.fabrics, resources=args.resources, drifted=args.drifted, apiservers=0,
            critical=args.fabrics, workdir=args.workdir, pg_host=args.pg_host, pg_port=args.pg_port,
            pg_user=args.pg_user, instance_config=args.instance_config, env=[], keep=False, monorepo=False)
        self.bench = fleet.FleetBenchmark(fleet_args)
        self.bench.monitor.stop()  # fleet.py's /proc sampler: not needed here
        self.root = self.bench.root
        self.site = self.root / "profile-site"
        self.site.mkdir()
        (self.site / "sitecustomize.py").write_text(SITECUSTOMIZE)

    def fresh_instance(self, pair: int) -> tuple[fleet.Postgres, Any, dict[str, str]]:
        from dagster import DagsterInstance

        from hedgehog_sync.defs.pools import ensure_pool_limits
        from hedgehog_sync.devlab.demo import RUN_CREATOR_ENV
        from hedgehog_sync.state import StateStore

        pg = fleet.Postgres(self.args.pg_host, self.args.pg_port, self.args.pg_user)
        home = self.root / f"dagster_home-{pair}"
        home.mkdir()
        (home / "dagster.yaml").write_text(fleet.instance_yaml(self.args.instance_config))
        env = {**os.environ, **RUN_CREATOR_ENV, **pg.env(), "DAGSTER_HOME": str(home),
               "HEDGEHOG_SYNC_INVENTORY": str(self.root / "fabrics.yaml")}
        os.environ.update({k: env[k] for k in ("DAGSTER_HOME", *pg.env())})
        instance = DagsterInstance.from_config(str(home))
        ensure_pool_limits(instance)  # what the discovery sensor does before any run
        StateStore.for_instance(instance).metrics()  # the fleet's tables, as a running deployment has them
        instance.add_dynamic_partitions("fabrics", [f.name for f in self.bench.fabrics])
        return pg, instance, env

    def create_run(self, instance: Any) -> tuple[str, list[str]]:
        from dagster._core.definitions.reconstruct import ReconstructableRepository
        from dagster._grpc.types import ExecuteRunArgs

        from hedgehog_sync.definitions import defs
        from hedgehog_sync.defs.schedules import RANGE_END_TAG, RANGE_START_TAG

        names = [f.name for f in self.bench.fabrics]
        job = defs.resolve_job_def("sync_fleet")
        origin = ReconstructableRepository.for_module("hedgehog_sync.definitions", "defs", str(REPO_ROOT)) \
            .get_reconstructable_job("sync_fleet").get_python_origin()
        run = instance.create_run_for_job(
            job_def=job, job_code_origin=origin,
            tags={**job.tags, RANGE_START_TAG: names[0], RANGE_END_TAG: names[-1],
                  "hedgehog-sync/batch": f"{names[0]}..{names[-1]}"})
        args = ExecuteRunArgs(job_origin=origin, run_id=run.run_id, instance_ref=instance.get_ref(),
                              set_exit_code_on_failure=True)
        return run.run_id, list(args.get_command_args())

    def measure(self, pg: fleet.Postgres, instance: Any, env: dict[str, str], label: str) -> dict[str, Any]:
        run_id, command = self.create_run(instance)
        out = self.root / f"profile-{label}.json"
        # The command starts with `dagster` (the origin's entry point): this venv's, as in a deployed image.
        worker_env = {**env, ENV_OUT: str(out),
                      "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
                      "PYTHONPATH": os.pathsep.join([str(self.site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        ev0 = pg.last_event_id()
        s0 = sessions(pg)
        b0, bt0 = postgres_cpu_s(), time.monotonic()
        time.sleep(self.args.background_s)
        backends = Backends(pg.db)
        backends.start()
        p0, t0 = postgres_cpu_s(), time.monotonic()
        background_rate = (p0 - b0) / (t0 - bt0) if t0 - bt0 >= 0.5 else 0.0
        proc = subprocess.Popen(command, env=worker_env, cwd=self.root, stdout=subprocess.DEVNULL,
                                stderr=open(self.root / f"worker-{label}.log", "w"))
        try:
            _, status, rusage = os.wait4(proc.pid, 0)
        except BaseException:  # stopped (SIGTERM, Ctrl-C): no worker left behind
            proc.kill()
            proc.wait()
            backends.finish()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        t1 = time.monotonic()
        p1 = postgres_cpu_s()
        time.sleep(0.2)  # the last backends end
        seen = backends.finish()
        time.sleep(1.5)  # a backend's statistics reach pg_stat_database when it ends, within a second
        s1 = sessions(pg)
        ev1 = pg.last_event_id()
        record = instance.get_run_by_id(run_id)
        status_name = record.status.value if record else None
        if proc.returncode != 0 or status_name != "SUCCESS" or not out.exists():
            raise RuntimeError(f"{label} worker: exit {proc.returncode}, run {status_name}; "
                               f"see {self.root}/worker-{label}.log (run with --keep)")
        doc = json.loads(out.read_text())
        n = len(self.bench.fabrics)
        total = rusage.ru_utime + rusage.ru_stime
        first, end = doc["first_step"], doc["at_exit"]
        buckets = {
            "setup": first["self_s"] + first["children_s"],
            "gc": doc["gc_run_s"],
            "finalization": total - (end["self_s"] + end["children_s"]),
            "git_children": end["children_s"] - first["children_s"],
            "profiler": doc["profiler_s"],
            **{b: doc["weights_s"].get(b, 0.0) for b in SAMPLED},
        }
        run_self = end["self_s"] - first["self_s"]
        buckets["unattributed"] = run_self - doc["gc_run_s"] - doc["profiler_s"] - sum(doc["weights_s"].values())
        wall = t1 - t0
        pg_all = (p1 - p0) - background_rate * wall
        pg_cpu = seen["cpu_s"]
        self.bench.instance = instance
        check = self.bench.check_reports()
        return {
            "run_id": run_id, "exit": proc.returncode, "run_status": status_name, "wall_s": round(wall, 2),
            "worker_cpu_s": round(total, 3), "worker_peak_mib": round(rusage.ru_maxrss / 1024, 1),
            "buckets_s": {k: round(v, 4) for k, v in buckets.items()},
            "ms_per_fabric": {k: round(v * 1000 / n, 2) for k, v in buckets.items()},
            "total_ms_per_fabric": round(total * 1000 / n, 2),
            "samples": doc["samples"], "signals": doc["signals"], "gc_collections_in_run": doc["gc_run_n"],
            "gc_total_s": round(doc["gc_total_s"], 4), "gc_threshold": doc["gc_threshold"],
            "top_leaves_ms": doc["top_leaves_ms"],
            "postgres": {"cpu_s": round(pg_cpu, 3), "ms_per_fabric": round(pg_cpu * 1000 / n, 2),
                         "backends_seen": seen["backends_seen"], "sessions": s1 - s0,
                         "sessions_per_fabric": round((s1 - s0) / n, 2),
                         "all_postgres_cpu_s": round(p1 - p0, 3),
                         "all_postgres_background_cpu_s_per_s": round(background_rate, 4),
                         "all_postgres_minus_background_ms_per_fabric": round(pg_all * 1000 / n, 2)},
            "events": sum(pg.events_between(ev0, ev1).values()),
            "events_by_type": pg.events_between(ev0, ev1),
            "reports": {"ok": check["ok"], "drifted_correct": check["drifted_correct"],
                        "in_sync_correct": check["in_sync_correct"], "problems": check["problems"][:5]},
        }

    def run(self) -> dict[str, Any]:
        result: dict[str, Any] = {"pairs": []}
        try:
            self.bench.build()
            for pair in range(self.args.runs):
                pg, instance, env = self.fresh_instance(pair)
                try:
                    cold = self.measure(pg, instance, env, f"{pair}-cold")
                    fleet.log(f"pair {pair}: cold {cold['total_ms_per_fabric']} ms/fabric in the worker, "
                              f"PostgreSQL {cold['postgres']['ms_per_fabric']}")
                    steady = self.measure(pg, instance, env, f"{pair}-steady")
                    fleet.log(f"pair {pair}: steady {steady['total_ms_per_fabric']} ms/fabric in the worker, "
                              f"PostgreSQL {steady['postgres']['ms_per_fabric']}")
                    result["pairs"].append({"cold": cold, "steady": steady})
                finally:
                    instance.dispose()
                    pg.drop()
        except SystemExit as exc:  # SIGTERM: keep the pairs measured so far
            if not result["pairs"]:
                raise
            result["stopped"] = f"{exc} after {len(result['pairs'])} of {self.args.runs} pairs"
            fleet.log(result["stopped"])
        finally:
            for proc in self.bench.apiservers:
                fleet.stop_process(proc, grace=10)
            if self.args.keep:
                fleet.log(f"kept {self.root}")
            else:
                shutil.rmtree(self.root, ignore_errors=True)
        return result


def medians(pairs: list[dict[str, Any]], phase: str) -> dict[str, Any]:
    runs = [p[phase] for p in pairs]
    keys = [k for k, _ in ROWS]
    out = {k: round(statistics.median(r["ms_per_fabric"][k] for r in runs), 2) for k in keys}
    out["total"] = round(statistics.median(r["total_ms_per_fabric"] for r in runs), 2)
    out["postgres"] = round(statistics.median(r["postgres"]["ms_per_fabric"] for r in runs), 2)
    out["postgres_all_minus_background"] = round(statistics.median(
        r["postgres"]["all_postgres_minus_background_ms_per_fabric"] for r in runs), 2)
    out["postgres_sessions_seen"] = int(statistics.median(r["postgres"]["backends_seen"] for r in runs))
    out["postgres_sessions"] = int(statistics.median(r["postgres"]["sessions"] for r in runs))
    out["postgres_sessions_per_fabric"] = round(statistics.median(r["postgres"]["sessions_per_fabric"] for r in runs), 2)
    out["samples"] = {b: int(statistics.median(r["samples"].get(b, 0) for r in runs)) for b in SAMPLED}
    return out


def print_table(summary: dict[str, Any], fabrics: int, runs: int) -> None:
    cold, steady = summary["cold"], summary["steady"]
    print(f"\nCPU-ms per fabric, {fabrics} fabrics in one run, median of {runs} cold/steady pair(s)")
    print(f"{'bucket':<56} {'cold':>8} {'steady':>8}  samples cold/steady")
    for key, label in ROWS:
        samples = f"{cold['samples'][key]}/{steady['samples'][key]}" if key in SAMPLED else "measured"
        print(f"{label:<56} {cold[key]:>8} {steady[key]:>8}  {samples}")
    print(f"{'total in the worker (wait4 rusage)':<56} {cold['total']:>8} {steady['total']:>8}")
    print(f"{'PostgreSQL: the run database backends (lower bound)':<56} {cold['postgres']:>8} {steady['postgres']:>8}"
          f"  sessions seen {cold['postgres_sessions_seen']}/{cold['postgres_sessions']}, "
          f"{steady['postgres_sessions_seen']}/{steady['postgres_sessions']}")
    print(f"{'PostgreSQL sessions opened per fabric':<56} {cold['postgres_sessions_per_fabric']:>8} "
          f"{steady['postgres_sessions_per_fabric']:>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fabrics", type=int, default=100, help="fabrics in the fleet, all in one run")
    parser.add_argument("--resources", type=int, default=200, help="R: authored resources per fabric")
    parser.add_argument("--runs", type=int, default=3, help="cold/steady pairs (medians per bucket)")
    parser.add_argument("--drifted", type=float, default=0.1, help="share of fabrics drifted live by hand")
    parser.add_argument("--background-s", type=float, default=3.0,
                        help="seconds PostgreSQL's background CPU is measured before each run")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default=os.environ.get("PGUSER", "postgres"))
    parser.add_argument("--instance-config", type=Path, default=REPO_ROOT / "deploy" / "dagster.yaml")
    parser.add_argument("--workdir", default=None, help="parent of the temporary folder (default: the system's)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, raw profiles)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write a result file")
    parser.add_argument("--output", type=Path, help="write the result here instead of benchmarks/results/")
    parser.add_argument("--label", default="", help="added to the result file's name")
    parser.add_argument("--note", default="", help="a sentence kept in the result file")
    args = parser.parse_args(argv)
    if args.fabrics < 2 or args.runs < 1:
        parser.error("--fabrics must be at least 2 and --runs at least 1")
    def _terminated(signum: int, frame: Any) -> None:
        raise SystemExit(f"stopped by signal {signum}")  # runs the clean-up: worker, API servers, databases

    signal.signal(signal.SIGTERM, _terminated)
    now = datetime.now(timezone.utc)
    load_start = os.getloadavg()
    result = Profiler(args).run()
    summary = {phase: medians(result["pairs"], phase) for phase in ("cold", "steady")}
    out = {
        "benchmark": "profile_worker", "date": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": shlex.join(["nice", "-n", "15", ".venv/bin/python", "benchmarks/profile_worker.py",
                               *(argv if argv is not None else sys.argv[1:])]),
        "machine": fleet.machine(), "code": fleet.code_version(), "note": args.note,
        "input": {"fabrics": args.fabrics, "resources_per_fabric": args.resources, "runs": args.runs,
                  "drifted_share": args.drifted, "fabrics_per_run": args.fabrics},
        "load_at_start": load_start, "load_at_end": os.getloadavg(),
        "unit": "CPU-ms per fabric; medians over the pairs; samples = signals that charged a bucket",
        "stopped": result.get("stopped"), "summary": summary, "pairs": result["pairs"],
    }
    print_table(summary, args.fabrics, len(result["pairs"]))
    print(f"load average at start {load_start}, at end {out['load_at_end']}")
    bad = [f"pair {i} {ph}" for i, p in enumerate(result["pairs"]) for ph in ("cold", "steady") if not p[ph]["reports"]["ok"]]
    if bad:
        print(f"reports wrong after: {bad}")
    if not args.no_write:
        target = args.output or RESULTS / f"profile_worker-{now:%Y-%m-%d}{'-' + args.label if args.label else ''}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {target}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
