"""Fleet benchmark: N fabrics x R resources through the real Dagster machinery, every 60 seconds.

Builds a fleet with the devlab generator (one local Git repository per fabric, live state in a few
devlab API server processes on 127.0.0.1, a share of fabrics drifted by hand), creates a fresh
PostgreSQL database for a Dagster instance (deploy/dagster.yaml's storage, run queue and settings, with
the default run launcher), starts `dagster-daemon run` on the hedgehog_sync code location, and measures
the cold cycle, a steady cycle, commit-to-report latency, events, CPU and peak memory of every process;
then the same fleet the naive way (benchmarks/naive_defs.py: one run per fabric per tick), and the drift
engine beside PyYAML's C loader. Before any figure is kept it checks every report: each drifted fabric
names exactly the injected changes, every other fabric is in sync. Run from the repository root:

    .venv/bin/python benchmarks/fleet.py --fabrics 100

Prints a table and writes benchmarks/results/fleet-<date>-n<N>.json (use --no-write to skip).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
PHASES = ("cold", "steady", "latency", "naive", "engine")
CRITICAL, MEDIUM = "critical", "medium"
TARGETS = {"cold_cycle_s": 60, "steady_cycle_s": 30, "latency_p95_critical_s": 30, "latency_p95_medium_s": 90,
           "naive_ratio_min": 30, "run_worker_peak_mib": 1024}
CLK_TCK = os.sysconf("SC_CLK_TCK")

GIT_ENV = {"GIT_AUTHOR_NAME": "hedgehog-sync bench", "GIT_AUTHOR_EMAIL": "bench@hedgehog-sync.invalid",
           "GIT_COMMITTER_NAME": "hedgehog-sync bench", "GIT_COMMITTER_EMAIL": "bench@hedgehog-sync.invalid"}


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# --- the fleet -----------------------------------------------------------------------------------------


@dataclass
class Fabric:
    index: int
    name: str
    priority: str
    drifted: bool
    repo: Path
    folder: str = ""  # the fabric's folder in a shared repository (--monorepo); "" for its own repository
    first_file: str = ""
    head: str = ""
    expected: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, name, state) injected live


def drifted_indexes(count: int, share: float) -> set[int]:
    """An evenly spread share of the fleet (never the two latency fabrics' neighbours only)."""
    return {i for i in range(count) if int((i + 1) * share) > int(i * share)}


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def write_files(fabric: Fabric, resources: int) -> None:
    """The fabric's generated objects in the usual layout, in its folder of its repository's work tree."""
    from hedgehog_sync.devlab.generator import FabricSpec, generate_fabric, split_into_files

    files = split_into_files(generate_fabric(fabric.name, FabricSpec.sized(resources, seed=fabric.index)))
    for rel, text in files.items():
        target = fabric.repo / fabric.folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    fabric.first_file = sorted(files)[0]


def write_monorepo(fabrics: list[Fabric]) -> None:
    """One repository for the whole fleet (a fleet monorepo): each fabric's files in its folder, one commit."""
    repo = fabrics[0].repo
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", f"{len(fabrics)} fabrics: initial wiring and VPCs")
    head = _git(repo, "rev-parse", "HEAD")
    for f in fabrics:
        f.head = head


def write_repo(fabric: Fabric, resources: int) -> None:
    """The fabric's GitOps repository: the generated objects in the usual layout, one commit."""
    write_files(fabric, resources)
    _git(fabric.repo, "init", "-q", "-b", "main")
    _git(fabric.repo, "add", "-A")
    _git(fabric.repo, "commit", "-q", "-m", f"{fabric.name}: initial wiring and VPCs")
    fabric.head = _git(fabric.repo, "rev-parse", "HEAD")


def commit_comment(fabric: Fabric, text: str) -> tuple[str, float]:
    """A commit that changes one blob but not what it declares: a comment appended to a file.
    Returns the new head and the time (time.time()) the commit existed."""
    with open(fabric.repo / fabric.folder / fabric.first_file, "a") as out:
        out.write(f"# {text}\n")
    _git(fabric.repo, "commit", "-q", "-a", "-m", text)  # in a monorepo too: only this fabric's folder changed
    at = time.time()
    fabric.head = _git(fabric.repo, "rev-parse", "HEAD")
    return fabric.head, at


# --- processes: start, sample, stop --------------------------------------------------------------------


def _read_stat(pid: int) -> tuple[int, float, float, int] | None:
    """(parent pid, own CPU s, reaped children's CPU s, start time in ticks) of a process, or None
    once it is gone. The start time tells a reused pid from the process that had it before."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return ppid, (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK, int(fields[19])


def _hwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def classify(cmd: str, root_kind: str) -> str:
    if root_kind == "apiserver":
        return "apiserver"
    # DefaultRunLauncher: the code server starts each run with multiprocessing's spawn.
    if "execute_run" in cmd or "execute_step" in cmd or "spawn_main" in cmd:
        return "run_worker"
    if "dagster-daemon" in cmd or "dagster._daemon" in cmd:
        return "daemon"
    if " api grpc" in cmd or "code-server" in cmd or "code_server" in cmd:
        return "code_server"
    if cmd.startswith("git") or "/git" in cmd.split(" ")[0] or cmd.startswith("/bin/sh -c git-"):
        return "git"
    return "other"


# --- per-process CPU: every process in our trees with its role ---------------------------------------------

# The children a process of one role starts: what its reaped time after the children's last sample is.
CHILD_ROLE = {"daemon": "code_server", "code_server": "run_worker", "run_worker": "git", "git": "git"}
RUN_PID_RE = re.compile(r"Started process for run \(pid: (\d+)\)")

# Injected into the Dagster processes by the benchmark only (PYTHONPATH), never by the product: it writes
# (native thread id, Python thread name, target) when a Python thread starts, so that per-thread CPU from
# /proc/<pid>/task/<tid>/stat can be named (every Python thread's comm is the interpreter's name).
THREAD_HOOK = '''"""hedgehog-sync fleet benchmark: name each Python thread's native id (injected by fleet.py)."""
import os, sys, threading

_dir = os.environ.get("HH_BENCH_THREAD_LOG")


def _note(tid, name, what):
    try:
        with open(os.path.join(_dir, "%d.tsv" % os.getpid()), "a") as out:
            out.write("%d\\t%s\\t%s\\n" % (tid, name.replace("\\t", " "), what))
    except Exception:
        pass


if _dir:
    _note(threading.get_native_id(), "MainThread", "main")
    _bootstrap_inner = threading.Thread._bootstrap_inner

    def _named_bootstrap_inner(self):
        target = getattr(self, "_target", None)
        what = getattr(target, "__qualname__", None) or type(self).__qualname__
        _note(threading.get_native_id(), self.name, what)
        _bootstrap_inner(self)

    threading.Thread._bootstrap_inner = _named_bootstrap_inner

# Chain to a sitecustomize this one shadows, if any.
try:
    import importlib.machinery, importlib.util
    _here = os.path.dirname(os.path.abspath(__file__))
    _spec = importlib.machinery.PathFinder.find_spec(
        "sitecustomize", [p for p in sys.path if os.path.abspath(p or ".") != _here])
    if _spec is not None and _spec.loader is not None:
        _spec.loader.exec_module(importlib.util.module_from_spec(_spec))
except Exception:
    pass
'''


def _argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]] if raw.endswith(b"\0") else \
        [a.decode(errors="replace") for a in raw.split(b"\0")]


def _threads(pid: int) -> dict[int, tuple[str, float]]:
    """tid -> (comm, CPU s) of a process's live threads, from /proc/<pid>/task."""
    out: dict[int, tuple[str, float]] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            raw = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        out[int(tid)] = (comm, (int(fields[11]) + int(fields[12])) / CLK_TCK)
    return out


def git_subcommand(argv: list[str]) -> str:
    """`fetch` for `git -c a=b fetch ...`, `upload-pack` for `/bin/sh -c git-upload-pack '...'`."""
    if len(argv) >= 3 and argv[0].endswith("sh") and argv[1] == "-c":
        first = argv[2].split(" ")[0]
        return first[4:] if first.startswith("git-") else first
    base = os.path.basename(argv[0]) if argv else ""
    if base.startswith("git-"):  # git-upload-pack '/path/to/repo', started by the shell above
        return base[4:]
    takes_value = {"-c", "-C", "--shallow-file", "--git-dir", "--work-tree", "--namespace", "--exec-path"}
    i = 1
    while i < len(argv):
        a = argv[i]
        if a in takes_value:
            i += 2
            continue
        if a.startswith("-") or not a:
            i += 1
            continue
        return a
    return "?"


def run_origin(tags: dict[str, str]) -> str:
    """What asked for a run, from its tags: a retry (the run-retry daemon), a schedule, a sensor, a backfill."""
    if tags.get("dagster/parent_run_id") or tags.get("dagster/retry_number"):
        return "retry"
    if tags.get("dagster/schedule_name"):
        return f"schedule {tags['dagster/schedule_name']}"
    if tags.get("dagster/sensor_name"):
        return f"sensor {tags['dagster/sensor_name']}"
    if tags.get("dagster/backfill"):
        return "backfill"
    return "other (manual or API)"


def process_role(kind: str, argv: list[str], location: str | None, run: tuple[str, str] | None) -> str:
    """A process's role from its command line (kind: classify()'s), its daemon's code location, and the run
    it executes ((job, origin), from the run's 'Started process for run (pid: N)' engine event)."""
    cmd = " ".join(argv)
    if kind == "apiserver":
        return "apiserver"
    if kind == "run_worker":
        if run is None:
            return "run_worker (run not found)"
        job, origin = run
        return f"run_worker {job} ({origin})"
    if kind == "code_server":
        return f"code_server {location or '?'}"
    if kind == "git":
        return f"git {git_subcommand(argv)}"
    if kind == "daemon":
        return "daemon"
    if "hedgehog-sync" in cmd or "hedgehog_sync.cli" in cmd:
        return "hedgehog-sync"
    if "multiprocessing.resource_tracker" in cmd:
        return "multiprocessing resource_tracker"
    return "other"


class ProcessMonitor:
    """Samples the process trees of the processes we started: peak memory (VmHWM) of every process,
    and, on demand, CPU seconds by kind. CPU of processes that ended is in their parent's reaped
    time: counted for the run workers when the code server reaped them, else for the parent's kind."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.roots: dict[int, str] = {}  # pid -> "dagster" or "apiserver"
        self.locations: dict[int, str] = {}  # daemon pid -> the code location of its workspace
        self.seen: dict[tuple[int, int], dict[str, Any]] = {}  # (pid, start) -> {kind, cmd, hwm_kib, first, last}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="process-monitor", daemon=True)

    def add_root(self, pid: int, kind: str, location: str | None = None) -> None:
        with self._lock:
            self.roots[pid] = kind
            if location:
                self.locations[pid] = location

    def start(self) -> "ProcessMonitor":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _tree(self) -> dict[tuple[int, int], tuple[str, float, float]]:
        """Live processes under our roots: (pid, start) -> (root kind, own CPU, reaped children's CPU)."""
        return {key: v[:3] for key, v in self._scan().items()}

    def _scan(self) -> dict[tuple[int, int], tuple[str, float, float, tuple[int, int] | None, int]]:
        """Live processes under our roots: (pid, start) -> (root kind, own CPU, reaped children's CPU,
        the parent's key (None for a root), the root's pid)."""
        stats: dict[int, tuple[int, float, float, int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                st = _read_stat(int(entry))
                if st is not None:
                    stats[int(entry)] = st
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _, _) in stats.items():
            children.setdefault(ppid, []).append(pid)
        out: dict[tuple[int, int], tuple[str, float, float, tuple[int, int] | None, int]] = {}
        with self._lock:
            roots = dict(self.roots)
        for root, kind in roots.items():
            todo = [root] if root in stats else []
            while todo:
                pid = todo.pop()
                ppid = stats[pid][0]
                parent = (ppid, stats[ppid][3]) if pid != root and ppid in stats else None
                out[(pid, stats[pid][3])] = (kind, stats[pid][1], stats[pid][2], parent, root)
                todo.extend(children.get(pid, []))
        return out

    def sample(self) -> dict[tuple[int, int], tuple[str, float, float]]:
        scan = self._scan()
        now = time.time()
        with self._lock:
            for key, (root_kind, own, reaped, parent, root) in scan.items():
                pid = key[0]
                info = self.seen.get(key)
                if info is None:
                    argv = _argv(pid)
                    cmd = " ".join(argv).strip()
                    if not cmd:
                        continue  # already a zombie: its time shows in its parent's reaped time
                    info = self.seen[key] = {"kind": classify(cmd, root_kind), "cmd": cmd[:200], "hwm_kib": 0,
                                             "first": now, "last": now, "argv": argv, "parent": parent,
                                             "location": self.locations.get(root), "own": own, "reaped": reaped,
                                             "threads": {}}
                hwm = _hwm_kib(pid)
                if hwm:
                    info["hwm_kib"] = max(info["hwm_kib"], hwm)
                info["last"], info["own"], info["reaped"] = now, own, reaped
                if info["kind"] in ("daemon", "code_server"):
                    for tid, (comm, cpu) in _threads(pid).items():
                        info["threads"][tid] = (comm, cpu)
        return {key: v[:3] for key, v in scan.items()}

    def snapshot(self) -> dict[str, Any]:
        """Every live process's (own CPU, reaped CPU) and its threads' CPU now: one end of a window for
        cpu_by_process."""
        scan = self.sample()
        with self._lock:
            return {"t": time.time(),
                    "procs": {key: (own, reaped) for key, (_, own, reaped) in scan.items()},
                    "threads": {key: {tid: cpu for tid, (_, cpu) in self.seen[key]["threads"].items()}
                                for key in scan if key in self.seen and self.seen[key]["threads"]}}

    def window(self, s0: dict[str, Any], s1: dict[str, Any]) -> dict[tuple[int, int], dict[str, Any]]:
        """Each process alive in the window between two snapshots: its CPU in the window (own), and
        `tail`: what it reaped in the window beyond the last samples of the children that ended in it (the
        CPU of children after their last sample, or of children never sampled, e.g. a git command shorter
        than the sampling interval). The sum of own + tail over the processes is the trees' exact CPU."""
        out: dict[tuple[int, int], dict[str, Any]] = {}
        with self._lock:
            keys = [k for k, info in self.seen.items() if k in s0["procs"] or s0["t"] < info["first"] <= s1["t"]]
            for key in keys:
                info = self.seen[key]
                own0, reaped0 = s0["procs"].get(key, (0.0, 0.0))
                own1, reaped1 = s1["procs"].get(key, (info["own"], info["reaped"]))
                out[key] = {"info": info, "own": own1 - own0, "reaped": reaped1 - reaped0, "tail": reaped1 - reaped0,
                            "started": key not in s0["procs"], "ended": key not in s1["procs"],
                            "own0": own0, "reaped0": reaped0}
            for key, w in out.items():
                parent = w["info"]["parent"]
                if w["ended"] and parent in out:
                    # the parent reaped this child's whole life: less what the child's samples account for
                    out[parent]["tail"] -= w["info"]["own"] + w["info"]["reaped"]
        return out

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception as exc:  # a sampling hiccup must not end the benchmark
                log(f"monitor: {type(exc).__name__}: {exc}")

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each kind of process (live ones plus what they reaped)."""
        totals: dict[str, float] = {}
        tree = self.sample()
        with self._lock:
            for key, (root_kind, own, reaped) in tree.items():
                kind = self.seen[key]["kind"] if key in self.seen else ("apiserver" if root_kind == "apiserver" else "other")
                totals[kind] = totals.get(kind, 0.0) + own
                # The code server starts run workers; the daemon starts (and restarts) code servers.
                reaped_kind = {"code_server": "run_worker", "daemon": "code_server"}.get(kind, kind)
                totals[reaped_kind] = totals.get(reaped_kind, 0.0) + reaped
        return totals

    def peaks(self, since: float = 0.0) -> dict[str, Any]:
        """Peak memory (MiB) by kind: the largest process of each kind seen after `since`."""
        out: dict[str, Any] = {}
        with self._lock:
            for info in self.seen.values():
                if info["last"] < since or not info["hwm_kib"]:
                    continue
                entry = out.setdefault(info["kind"], {"processes": 0, "peak_mib": 0.0})
                entry["processes"] += 1
                entry["peak_mib"] = max(entry["peak_mib"], round(info["hwm_kib"] / 1024, 1))
        return out

    def commands(self) -> dict[str, list[str]]:
        """A few command lines of each kind of process seen, so that a reader can tell what was counted."""
        out: dict[str, set[str]] = {}
        with self._lock:
            for info in self.seen.values():
                out.setdefault(info["kind"], set()).add(info["cmd"][:120])
        return {k: sorted(v)[:5] for k, v in sorted(out.items())}

    def live(self) -> list[tuple[int, str]]:
        """(pid, kind) of every live process in our trees."""
        tree = self.sample()
        with self._lock:
            return [(key[0], self.seen[key]["kind"] if key in self.seen else "other") for key in tree]


def _thread_label(name: str) -> str:
    """Threads of one pool under one label: sensor_daemon_worker_3 -> sensor_daemon_worker_N."""
    return re.sub(r"(?<=[_-])\d+$", "N", re.sub(r"-\d+_\d+$", "-N_N", name))


def cpu_by_process(window: dict[tuple[int, int], dict[str, Any]], runs_by_pid: dict[int, tuple[str, str]],
                   thread_names: dict[int, dict[int, str]], s0: dict[str, Any], s1: dict[str, Any]) -> dict[str, Any]:
    """The window's CPU per role (process_role), each process that is not git, the daemon's and the code
    servers' threads (named by the injected thread hook; native threads by their comm), and what the
    roles' sampled processes leave unexplained (the reaped time after children's last samples)."""
    roles: dict[str, dict[str, Any]] = {}
    processes: list[dict[str, Any]] = []
    threads: list[dict[str, Any]] = []

    def role_entry(role: str) -> dict[str, Any]:
        return roles.setdefault(role, {"cpu_s": 0.0, "processes_seen": 0, "started_in_window": 0,
                                       "ended_in_window": 0, "unsampled_s": 0.0})

    for key, w in window.items():
        info = w["info"]
        role = process_role(info["kind"], info["argv"], info["location"], runs_by_pid.get(key[0]))
        w["role"] = role
        entry = role_entry(role)
        entry["cpu_s"] += w["own"]
        entry["processes_seen"] += 1
        entry["started_in_window"] += w["started"]
        entry["ended_in_window"] += w["ended"]
    for key, w in window.items():
        if abs(w["tail"]) < 1e-9:
            continue
        parent_kind = w["info"]["kind"]
        kids = {x["role"] for x in window.values() if x["info"]["parent"] == key}
        if parent_kind == "code_server" and len(kids) == 1:
            label = kids.pop()  # one run (or none seen): its worker's time after its last sample
        else:
            label = f"{CHILD_ROLE.get(parent_kind, 'other')} (after the last sample, or never sampled)"
        role_entry(label)["unsampled_s"] += w["tail"]
    for key, w in sorted(window.items(), key=lambda kv: -kv[1]["own"]):
        info = w["info"]
        if info["kind"] == "git":
            continue
        processes.append({"pid": key[0], "role": w["role"], "cpu_s": round(w["own"], 2),
                          "reaped_unsampled_s": round(w["tail"], 2), "started_in_window": w["started"],
                          "ended_in_window": w["ended"], "cmd": info["cmd"][:160]})
        if info["kind"] in ("daemon", "code_server"):
            t0 = s0["threads"].get(key, {})
            t1 = s1["threads"].get(key) or {tid: c for tid, (_, c) in info["threads"].items()}
            names = thread_names.get(key[0], {})
            by: dict[str, dict[str, Any]] = {}
            for tid, cpu in (t1 or {}).items():
                comm = info["threads"].get(tid, ("?", 0.0))[0]
                name = names.get(tid)
                label = _thread_label(name) if name else f"native thread '{comm}'"
                e = by.setdefault(label, {"threads": 0, "cpu_s": 0.0})
                e["threads"] += 1
                e["cpu_s"] += cpu - t0.get(tid, 0.0)
            explained = sum(e["cpu_s"] for e in by.values())
            threads.append({"pid": key[0], "role": w["role"], "cpu_s": round(w["own"], 2),
                            "named_by_hook": bool(names),
                            "threads_ended_or_unsampled_s": round(w["own"] - explained, 2),
                            "by_thread": {k: {"threads": v["threads"], "cpu_s": round(v["cpu_s"], 2)}
                                          for k, v in sorted(by.items(), key=lambda kv: -kv[1]["cpu_s"])
                                          if v["cpu_s"] >= 0.005}})
    for entry in roles.values():
        entry["total_s"] = round(entry["cpu_s"] + entry["unsampled_s"], 2)
        entry["cpu_s"], entry["unsampled_s"] = round(entry["cpu_s"], 2), round(entry["unsampled_s"], 2)
    total = sum(w["own"] + w["tail"] for w in window.values())
    return {"total_s": round(total, 2),
            "total_ours_s": round(total - sum(e["total_s"] for r, e in roles.items() if r == "apiserver"), 2),
            "by_role": dict(sorted(roles.items(), key=lambda kv: -kv[1]["total_s"])),
            "processes": processes, "threads": threads}


def _median(values: Iterable[float]) -> float | None:
    got = list(values)
    return round(statistics.median(got), 2) if got else None


def _scheduled_at(record: Any) -> float | None:
    """The scheduled execution time of a schedule's run (a hidden tag the scheduler sets)."""
    value = record.dagster_run.tags.get(".dagster/scheduled_execution_time")
    return datetime.fromisoformat(value).timestamp() if value else None


def cpu_delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: round(after.get(k, 0.0) - before.get(k, 0.0), 2) for k in sorted(set(after) | set(before))}


def ours(cpu: dict[str, float]) -> float:
    return round(sum(v for k, v in cpu.items() if k != "apiserver"), 2)


def stop_process(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM to the process group we started it in, then SIGKILL after `grace` seconds."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def kill_pids(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# --- PostgreSQL and the Dagster instance ---------------------------------------------------------------


class Postgres:
    """A fresh database for one benchmark run, dropped at the end."""

    def __init__(self, host: str, port: int, user: str):
        import psycopg2

        self.host, self.port, self.user = host, port, user
        self.db = f"hhbench_{os.getpid()}_{int(time.time())}"
        admin = psycopg2.connect(host=host, port=port, user=user, dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.db}"')
        admin.close()
        self.conn = psycopg2.connect(host=host, port=port, user=user, dbname=self.db)
        self.conn.autocommit = True

    def env(self) -> dict[str, str]:
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
                "DAGSTER_PG_PASSWORD": os.environ.get("PGPASSWORD", "benchmark"), "DAGSTER_PG_DB": self.db}

    def last_event_id(self) -> int:
        with self.conn.cursor() as cur:
            cur.execute("SELECT coalesce(max(id), 0) FROM event_logs")
            return int(cur.fetchone()[0])

    def events_between(self, first: int, last: int) -> dict[str, int]:
        """Rows written to event_logs with first < id <= last, by event type (LOG: plain log lines)."""
        with self.conn.cursor() as cur:
            cur.execute("SELECT coalesce(dagster_event_type, 'LOG'), count(*) FROM event_logs "
                        "WHERE id > %s AND id <= %s GROUP BY 1 ORDER BY 2 DESC", (first, last))
            return {k: int(v) for k, v in cur.fetchall()}

    def drop(self) -> None:
        import psycopg2

        self.conn.close()
        admin = psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        admin.close()


def instance_yaml(source: Path) -> str:
    """deploy/dagster.yaml (PostgreSQL storage, run queue, monitoring, retries, sensor threads) with
    the default run launcher instead of Kubernetes Jobs: runs are processes on this machine."""
    config = yaml.safe_load(source.read_text())
    config.pop("run_launcher", None)
    return yaml.safe_dump(config, sort_keys=False)


def workspace_yaml(naive: bool) -> str:
    if naive:
        entry = {"python_file": {"relative_path": str(BENCH_DIR / "naive_defs.py"), "location_name": "hedgehog_sync_naive",
                                 "working_directory": str(REPO_ROOT)}}
    else:
        entry = {"python_module": {"module_name": "hedgehog_sync.definitions", "location_name": "hedgehog_sync"}}
    return yaml.safe_dump({"load_from": [entry]})


# --- the benchmark -------------------------------------------------------------------------------------


def _stored_at(updated_at: str | None) -> float | None:
    """A state store row's updated_at (ISO-8601 UTC with microseconds, docs/state.md) as time.time()."""
    if not updated_at:
        return None
    return datetime.fromisoformat(updated_at.replace("Z", "+00:00")).timestamp()


class FleetBenchmark:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.root = Path(tempfile.mkdtemp(prefix="hh-fleet-", dir=args.workdir))
        self.home = self.root / "dagster_home"
        self.monitor = ProcessMonitor().start()
        self.apiservers: list[subprocess.Popen] = []
        self.daemon: subprocess.Popen | None = None
        self.pg: Postgres | None = None
        self.instance = None
        self.fabrics: list[Fabric] = []
        self.result: dict[str, Any] = {}
        self.env: dict[str, str] = {}

    def latency_indexes(self) -> tuple[int, int]:
        """The critical and the medium fabric whose commits the latency phase times (never drifted, so
        that their commits are the only thing that moves)."""
        return 0, min(self.args.critical, self.args.fabrics - 1)

    # -- setup --
    def build(self) -> None:
        a = self.args
        drifted = drifted_indexes(a.fabrics, a.drifted)
        for i in range(a.fabrics):
            priority = CRITICAL if i < a.critical else MEDIUM
            name = f"fab-{i:04d}"
            # --monorepo: one repository, a folder per fabric (the inventory's git.path, docs/contracts.md)
            repo, folder = (self.root / "git" / "fleet", f"fabrics/{name}") if a.monorepo else (self.root / "git" / name, "")
            self.fabrics.append(Fabric(i, name, priority, i in drifted and i not in self.latency_indexes(), repo, folder))
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda f: write_files(f, a.resources) if a.monorepo else write_repo(f, a.resources),
                          self.fabrics))
        if a.monorepo:
            write_monorepo(self.fabrics)
        git_s = time.monotonic() - started
        log(f"{a.fabrics} fabrics written to {'one Git repository' if a.monorepo else 'their Git repositories'} "
            f"in {git_s:.1f} s")
        self.start_apiservers()
        self.write_inventory()
        self.result["setup"] = {"git_repos_s": round(git_s, 1), "apiservers_s": round(time.monotonic() - started - git_s, 1)}

    def start_apiservers(self) -> None:
        from hedgehog_sync.devlab.apiserver import write_kubeconfig

        count = self.args.apiservers or max(1, min(4, -(-len(self.fabrics) // 250)))
        shares = [self.fabrics[i::count] for i in range(count)]
        tokens = {f.name: os.urandom(16).hex() for f in self.fabrics}
        ready_files = []
        for n, share in enumerate(shares):
            plan = self.root / f"apiserver-{n}.plan.json"
            plan.write_text(json.dumps({"resources": self.args.resources, "fabrics": [
                {"name": f.name, "seed": f.index, "token": tokens[f.name], "drifted": f.drifted} for f in share]}))
            ready = self.root / f"apiserver-{n}.ready.json"
            ready_files.append(ready)
            proc = subprocess.Popen([sys.executable, str(BENCH_DIR / "fleet_apiserver.py"), "--plan", str(plan),
                                     "--ready", str(ready)], start_new_session=True, cwd=self.root,
                                    stdout=open(self.root / f"apiserver-{n}.log", "w"), stderr=subprocess.STDOUT)
            self.apiservers.append(proc)
            self.monitor.add_root(proc.pid, "apiserver")
        by_name = {f.name: f for f in self.fabrics}
        deadline = time.monotonic() + 60 + 0.5 * len(self.fabrics)
        for n, ready in enumerate(ready_files):
            while not ready.exists():
                if self.apiservers[n].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"API server {n} did not start; see {self.root}/apiserver-{n}.log")
                time.sleep(0.2)
            info = json.loads(ready.read_text())
            for name, changes in info["expected"].items():
                by_name[name].expected = sorted(tuple(c) for c in changes)
            for f in shares[n]:
                write_kubeconfig(self.root / "kube" / f"{f.name}.kubeconfig",
                                 f"http://127.0.0.1:{info['port']}/fabrics/{f.name}", tokens[f.name], f.name)
        log(f"{count} API server processes serve {len(self.fabrics)} fabrics")
        self.result["apiserver_processes"] = count

    def write_inventory(self) -> None:
        entries = [{"name": f.name, "priority": f.priority,
                    "git": {"url": f"file://{f.repo}", "ref": "main", **({"path": f.folder} if f.folder else {}),
                            "allow_local": True},
                    "kubernetes": {"kubeconfig": str(self.root / "kube" / f"{f.name}.kubeconfig"), "context": f.name}}
                   for f in self.fabrics]
        (self.root / "fabrics.yaml").write_text(yaml.safe_dump({"fabrics": entries}, sort_keys=False))

    def start_instance(self) -> None:
        self.pg = Postgres(self.args.pg_host, self.args.pg_port, self.args.pg_user)
        self.home.mkdir(parents=True)
        (self.home / "dagster.yaml").write_text(instance_yaml(self.args.instance_config))
        from hedgehog_sync.devlab.demo import RUN_CREATOR_ENV

        extra = dict(item.split("=", 1) for item in self.args.env)
        # The daemon's environment as shipped (deploy/k8s/env-configmap.yaml), unless --env overrides.
        self.env = {**os.environ, **RUN_CREATOR_ENV, **extra, **self.pg.env(), "DAGSTER_HOME": str(self.home),
                    "HEDGEHOG_SYNC_INVENTORY": str(self.root / "fabrics.yaml")}
        if not self.args.no_thread_names:
            # the benchmark's own sitecustomize (THREAD_HOOK): names native thread ids, changes nothing else
            hook = self.root / "thread-hook"
            hook.mkdir()
            (hook / "sitecustomize.py").write_text(THREAD_HOOK)
            (self.root / "threads").mkdir()
            self.env["PYTHONPATH"] = os.pathsep.join(p for p in (str(hook), self.env.get("PYTHONPATH", "")) if p)
            self.env["HH_BENCH_THREAD_LOG"] = str(self.root / "threads")
        os.environ.update({k: self.env[k] for k in ("DAGSTER_HOME", *self.pg.env())})
        from dagster import DagsterInstance

        self.instance = DagsterInstance.get()  # creates the schema before any daemon races to

    def start_daemon(self, naive: bool) -> None:
        name = "naive" if naive else "batched"
        workspace = self.home / f"workspace-{name}.yaml"
        workspace.write_text(workspace_yaml(naive))
        daemon = Path(sys.executable).parent / "dagster-daemon"
        self.daemon = subprocess.Popen([str(daemon), "run", "-w", str(workspace)], env=self.env, cwd=self.root,
                                       start_new_session=True, stdout=open(self.root / f"daemon-{name}.log", "w"),
                                       stderr=subprocess.STDOUT)
        self.monitor.add_root(self.daemon.pid, "dagster", location="hedgehog_sync_naive" if naive else "hedgehog_sync")
        log(f"dagster-daemon ({name}) started, pid {self.daemon.pid}")

    def stop_daemon(self) -> None:
        if self.daemon is None:
            return
        leftovers = [pid for pid, kind in self.monitor.live() if kind != "apiserver"]
        stop_process(self.daemon)
        with self.monitor._lock:
            self.monitor.roots.pop(self.daemon.pid, None)
        kill_pids(p for p in leftovers if Path(f"/proc/{p}").exists())
        self.daemon = None

    # -- reading the instance and the reports --
    def sync_runs(self, since: float, schedule_only: bool = False, tick: float | None = None) -> list[Any]:
        """sync_fleet runs created after `since`; with schedule_only, the schedule's; with `tick`, only
        those of the tick at that moment (a later tick may start while the earlier one's runs go on)."""
        from dagster import RunsFilter

        tags = {"dagster/schedule_name": "fleet_sync_every_minute"} if schedule_only or tick else {}
        records = self.instance.get_run_records(RunsFilter(job_name="sync_fleet", tags=tags,
                                                           created_after=datetime.fromtimestamp(since, timezone.utc)))
        if tick is not None:
            records = [r for r in records if _scheduled_at(r) == tick]
        return list(records)

    def in_flight(self) -> int:
        from dagster import RunsFilter

        from hedgehog_sync.defs.schedules import IN_FLIGHT as statuses
        return len(self.instance.get_run_records(RunsFilter(statuses=statuses)))

    def store(self) -> Any:
        from hedgehog_sync.state import StateStore

        store = StateStore.for_instance(self.instance)  # the fleet's tables in the instance's PostgreSQL
        store.metrics()  # the tables exist from here on (the first use migrates an empty database)
        return store

    def report(self, fabric: Fabric) -> dict[str, Any] | None:
        return self.store().latest_report(fabric.name)

    def report_mtime(self, fabric: Fabric) -> float | None:
        """When the fabric's latest report was written (see report_times)."""
        return self.report_times([fabric])[fabric.name]

    def report_times(self, fabrics: list[Fabric]) -> dict[str, float | None]:
        """When each fabric's latest report was written, in one query: its row's `updated_at` in the state
        store (microseconds; only a sync run's batch commit writes a fabric's row, report included), what
        report.json's mtime was before the state moved into the database. Not the report's generated_at:
        that is whole seconds, and the moment the comparison started rather than when the report was kept."""
        from sqlalchemy import select

        from hedgehog_sync.state.schema import fabric_table as t

        names = [f.name for f in fabrics]
        out: dict[str, float | None] = dict.fromkeys(names)
        with self.store().engine.connect() as conn:
            rows = conn.execute(select(t.c.fabric, t.c.updated_at)
                                .where(t.c.fabric.in_(names), t.c.report.is_not(None))).all()
        out.update({row.fabric: _stored_at(row.updated_at) for row in rows})
        return out

    def check_reports(self) -> dict[str, Any]:
        """Every drifted fabric's report names exactly the injected changes; every other one is in sync,
        at its repository's head commit, with no error."""
        bad: list[str] = []
        drifted_ok = in_sync_ok = 0
        for f in self.fabrics:
            r = self.report(f)
            if r is None:
                bad.append(f"{f.name}: no report")
                continue
            got = sorted((x["kind"], x["name"], x["state"]) for x in r.get("resources") or [] if x["state"] != "in_sync")
            problems = []
            if r.get("errors"):
                problems.append(f"errors {r['errors']}")
            commit = (r.get("git") or {}).get("commit")
            if commit != f.head and not (f.folder and self.same_folder(f, commit)):
                problems.append(f"commit {commit} is not head {f.head}")
            if f.drifted and (r["status"] != "drifted" or got != f.expected):
                problems.append(f"status {r['status']}, changes {got}, injected {f.expected}")
            if not f.drifted and (r["status"] != "in_sync" or got):
                problems.append(f"status {r['status']}, changes {got}")
            if problems:
                bad.append(f"{f.name}: " + "; ".join(problems))
            elif f.drifted:
                drifted_ok += 1
            else:
                in_sync_ok += 1
        return {"ok": not bad, "fabrics": len(self.fabrics), "drifted_correct": drifted_ok,
                "drifted_expected": sum(f.drifted for f in self.fabrics), "in_sync_correct": in_sync_ok,
                "problems": bad[:20], "problem_count": len(bad)}

    def same_folder(self, fabric: Fabric, commit: str | None) -> bool:
        """In a monorepo, a commit to another fabric's folder moves every fabric's head: a report at an
        earlier commit is still right if the fabric's folder is the same tree at both."""
        try:
            return bool(commit) and _git(fabric.repo, "rev-parse", f"{commit}:{fabric.folder}") == \
                _git(fabric.repo, "rev-parse", f"{fabric.head}:{fabric.folder}")
        except subprocess.CalledProcessError:
            return False

    # -- CPU per process --
    def runs_by_pid(self) -> dict[int, tuple[str, str]]:
        """pid -> (job, what asked for the run) of every run worker, from the engine event each run logs
        when its process starts ('Started process for run (pid: N).', dagster/_grpc/impl.py)."""
        from dagster import RunsFilter

        with self.pg.conn.cursor() as cur:
            cur.execute("SELECT run_id, event FROM event_logs WHERE dagster_event_type = 'ENGINE_EVENT' "
                        "AND event LIKE %s ORDER BY id", ("%Started process for run (pid:%",))
            rows = cur.fetchall()
        pids = {}
        for run_id, event in rows:
            m = RUN_PID_RE.search(event or "")
            if m:
                pids[int(m.group(1))] = run_id  # a later run on a reused pid wins: runs are in id order
        records = {r.dagster_run.run_id: r.dagster_run for r in
                   self.instance.get_run_records(RunsFilter(run_ids=sorted(set(pids.values()))))} if pids else {}
        return {pid: (records[rid].job_name, run_origin(records[rid].tags)) for pid, rid in pids.items() if rid in records}

    def thread_names(self) -> dict[int, dict[int, str]]:
        """pid -> tid -> Python thread name, from the injected thread hook's files."""
        out: dict[int, dict[int, str]] = {}
        for path in (self.root / "threads").glob("*.tsv") if (self.root / "threads").exists() else []:
            names = out.setdefault(int(path.stem), {})
            for line in path.read_text(errors="replace").splitlines():
                parts = line.split("\t")
                if len(parts) >= 2 and parts[0].isdigit():
                    names[int(parts[0])] = parts[1]
        return out

    def runs_created(self, t0: float, t1: float) -> dict[str, Any]:
        """Runs of every job created in [t0, t1], by job and by what asked for them (schedule, sensor,
        retry); every run is launched by the daemon's run queue (QueuedRunCoordinator) through the code
        server (the default run launcher)."""
        from dagster import RunsFilter

        records = self.instance.get_run_records(RunsFilter(created_after=datetime.fromtimestamp(t0, timezone.utc),
                                                           created_before=datetime.fromtimestamp(t1, timezone.utc)))
        out: dict[str, dict[str, int]] = {}
        for r in records:
            e = out.setdefault(f"{r.dagster_run.job_name} ({run_origin(r.dagster_run.tags)})",
                               {"created": 0, "started": 0, "succeeded": 0})
            e["created"] += 1
            e["started"] += r.start_time is not None
            e["succeeded"] += r.dagster_run.status.value == "SUCCESS"
        return dict(sorted(out.items()))

    def process_cpu(self, s0: dict[str, Any], s1: dict[str, Any]) -> dict[str, Any]:
        out = cpu_by_process(self.monitor.window(s0, s1), self.runs_by_pid(), self.thread_names(), s0, s1)
        out["runs_created"] = self.runs_created(s0["t"], s1["t"])
        return out

    # -- waiting for ticks --
    @staticmethod
    def next_boundary(after: float) -> float:
        return (int(after) // 60 + 1) * 60.0

    def wait_until(self, moment: float) -> None:
        while (left := moment - time.time()) > 0:
            time.sleep(min(left, 1.0))

    def tick_runs(self, boundary: float, timeout: float) -> tuple[list[Any], float]:
        """The schedule's runs of the tick at `boundary`, once all have ended; and when the last ended.
        A tick asks for its runs at once; no new one for 3 s and none in flight means the tick is done."""
        deadline = boundary + timeout
        quiet_since, count = time.time(), -1
        runs: list[Any] = []
        while time.time() < deadline:
            runs = self.sync_runs(boundary - 1, tick=boundary)
            if not runs and time.time() > boundary + 120:
                break  # the tick asked for no run (nothing due) or was skipped: a busy scheduler drops ticks
            done = runs and all(r.dagster_run.is_finished for r in runs)
            if len(runs) != count:
                count, quiet_since = len(runs), time.time()
            if done and time.time() - quiet_since > 3:
                break
            time.sleep(0.5)
        ends = [r.end_time for r in runs if r.end_time]
        return runs, (max(ends) if ends else time.time())

    def wait_quiet(self) -> None:
        """Until no run is queued or running (at most --cold-timeout seconds)."""
        deadline = time.time() + self.args.cold_timeout
        while self.in_flight() and time.time() < deadline:
            time.sleep(0.5)

    def fabrics_covered(self, runs: list[Any]) -> int:
        """How many fabrics these runs synced: the partition ranges in their tags."""
        keys = self.instance.get_dynamic_partitions("fabrics")
        index = {k: i for i, k in enumerate(keys)}
        total = 0
        for r in runs:
            tags = r.dagster_run.tags
            start = tags.get("dagster/asset_partition_range_start")
            end = tags.get("dagster/asset_partition_range_end")
            if start in index and end in index:
                total += index[end] - index[start] + 1
            elif tags.get("dagster/partition") in index:
                total += 1
        return total

    def wait_partitions(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while len(self.instance.get_dynamic_partitions("fabrics")) < len(self.fabrics):
            if time.time() > deadline:
                raise RuntimeError("the discovery sensor did not add every fabric's partition")
            if self.daemon is not None and self.daemon.poll() is not None:
                raise RuntimeError(f"dagster-daemon exited; see {self.root}/daemon-batched.log")
            time.sleep(0.5)

    # -- phases --
    def phase_cold(self) -> None:
        """The first cycle: no Git clone, no parsed blob, no report, no materialization yet. From the
        first sync run's creation (the schedule's tick, or the fast path for the critical fabric) until
        every fabric's report exists."""
        t0 = time.time()
        self.wait_partitions()
        log(f"discovery added {len(self.fabrics)} partitions in {time.time() - t0:.1f} s")
        cpu0, ev0 = self.monitor.cpu(), self.pg.last_event_id()
        snap0 = self.monitor.snapshot()
        deadline = time.time() + self.args.cold_timeout + 60
        missing = list(self.fabrics)
        while missing and time.time() < deadline:
            times = self.report_times(missing)
            missing = [f for f in missing if times.get(f.name) is None]
            time.sleep(1.0)
        runs = self.sync_runs(t0 - 5)
        scheduled = [r for r in runs if r.dagster_run.tags.get("dagster/schedule_name")]
        # The schedule's first tick starts the cycle; a fast-path run for a critical fabric may come
        # before it (and is then already done). Without a scheduled run, the first run starts it.
        if scheduled:  # the tick's moment, not when its runs were created
            first = min(_scheduled_at(r) or r.create_timestamp.timestamp() for r in scheduled)
        else:
            first = min((r.create_timestamp.timestamp() for r in runs), default=t0)
        last_report = max((t or 0) for t in self.report_times(self.fabrics).values())
        while self.in_flight() and time.time() < deadline:
            time.sleep(0.5)
        cpu1, ev1 = self.monitor.cpu(), self.pg.last_event_id()
        snap1 = self.monitor.snapshot()
        check = self.check_reports()
        wall = last_report - first
        cpu = cpu_delta(cpu1, cpu0)
        self.result["cold"] = {
            "wall_s": round(wall, 2), "complete": not missing, "missing_reports": len(missing),
            "runs": len(runs), "scheduled_runs": len(scheduled),
            "fabrics_per_minute": round(len(self.fabrics) / wall * 60, 1) if wall > 0 else None,
            "cpu_s": cpu, "cpu_ours_s": ours(cpu), "events": sum(self.pg.events_between(ev0, ev1).values()),
            "events_by_type": self.pg.events_between(ev0, ev1), "correct": check,
            "cpu_by_process": self.process_cpu(snap0, snap1),
        }
        log(f"cold cycle: {wall:.1f} s for {len(self.fabrics)} fabrics in {len(runs)} runs; "
            f"correctness {'ok' if check['ok'] else 'FAILED: ' + str(check['problems'][:3])}")

    def phase_steady(self) -> None:
        """A tick with nothing changed since the last cycle: wall time from the tick to the end of its
        last run, CPU of our processes and of the API servers in that time, events written; and CPU
        over the whole minute up to the next tick (the load a fleet puts on the machine)."""
        # A tick at which every fabric is due: the schedule skips one synced less than half a minute
        # before it (TICK_SLACK_SECONDS), so the tick must come 30 s after the last report at least.
        last = max((t or 0.0) for t in self.report_times(self.fabrics).values())
        b0 = self.next_boundary(max(time.time() + 2, last + 31))
        self.wait_until(b0 - 0.5)
        cpu0, ev0 = self.monitor.cpu(), self.pg.last_event_id()
        snap0 = self.monitor.snapshot()
        backlog = self.in_flight()
        runs, end = self.tick_runs(b0, timeout=self.args.cold_timeout)
        cpu1, ev1 = self.monitor.cpu(), self.pg.last_event_id()
        snap1 = self.monitor.snapshot()
        b1 = b0 + 60
        minute = by_process_minute = None
        if time.time() < b1 - 0.5:
            self.wait_until(b1 - 0.5)
            cpu2 = self.monitor.cpu()
            minute = cpu_delta(cpu2, cpu0)
            by_process_minute = self.process_cpu(snap0, self.monitor.snapshot())
        events = self.pg.events_between(ev0, ev1)
        wall = end - b0
        cpu = cpu_delta(cpu1, cpu0)
        failed = [r.dagster_run.run_id for r in runs if r.dagster_run.status.value != "SUCCESS"]
        synced = self.fabrics_covered(runs)
        if not runs:
            log("steady cycle: the tick asked for no run within 120 s (skipped, or every fabric still in "
                "flight): the fleet did not reach a steady state")
        self.result["steady"] = {
            "tick": datetime.fromtimestamp(b0, timezone.utc).strftime("%H:%M:%S"),
            "runs_in_flight_at_tick": backlog,
            "wall_s": round(wall, 2), "runs": len(runs), "failed_runs": len(failed), "fabrics_synced": synced,
            "fabrics_per_minute": round(synced / wall * 60, 1) if wall > 0 else None,
            "cpu_s": cpu, "cpu_ours_s": ours(cpu), "cpu_apiserver_s": cpu.get("apiserver", 0.0),
            "cpu_minute_s": minute, "cpu_minute_ours_s": ours(minute) if minute else None,
            "cpu_ours_per_fabric_s": round(ours(cpu) / synced, 4) if synced else None,
            "events": sum(events.values()), "events_by_type": events,
            "events_per_run": round(sum(events.values()) / len(runs), 1) if runs else None,
            "run_durations_s": sorted(round(r.end_time - r.start_time, 2) for r in runs if r.end_time and r.start_time),
            "queue_waits_s": sorted(round(r.start_time - r.create_timestamp.timestamp(), 2) for r in runs if r.start_time),
            "cpu_by_process": self.process_cpu(snap0, snap1),
            "cpu_by_process_minute": by_process_minute,
        }
        log(f"steady cycle: {wall:.1f} s, {synced} fabrics in {len(runs)} runs, {sum(events.values())} events, "
            f"CPU ours {ours(cpu):.1f} s, API servers {cpu.get('apiserver', 0.0):.1f} s")

    def phase_latency(self) -> None:
        """Commits at random moments to a critical and a medium fabric, with the schedule and sensors
        running: from each commit until a report of that fabric is at that commit or a later one."""
        a = self.args
        critical, medium = self.latency_indexes()
        subjects = {CRITICAL: self.fabrics[critical], MEDIUM: self.fabrics[medium]}
        order: dict[str, dict[str, int]] = {k: {} for k in subjects}
        commits: dict[str, list[tuple[int, float]]] = {k: [] for k in subjects}
        seen: dict[str, list[tuple[float, int]]] = {k: [] for k in subjects}
        stop = threading.Event()

        def poll() -> None:
            last: dict[str, float] = {}
            while not stop.is_set():
                for key, f in subjects.items():
                    m = self.report_mtime(f)
                    if m is None or m == last.get(key):
                        continue
                    r = self.report(f)
                    if r is None or self.report_mtime(f) != m:
                        continue  # rewritten while read: the next look gets it
                    last[key] = m
                    index = order[key].get((r.get("git") or {}).get("commit"), -1)
                    seen[key].append((m, index))
                time.sleep(0.1)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        rng = random.Random(a.seed)
        t0 = time.time()
        for k in range(a.latency_commits):
            for key in (CRITICAL, MEDIUM):
                moment = t0 + k * a.latency_spacing + rng.uniform(0, a.latency_spacing)
                moment += 0 if key == CRITICAL else a.latency_spacing / 2
                self.wait_until(moment)
                head, at = commit_comment(subjects[key], f"benchmark commit {k}")
                if self.args.monorepo:  # every fabric of the repository is at the new head now
                    for f in self.fabrics:
                        f.head = head
                    # a report of the other subject at this commit is at that subject's latest commit too
                    other = MEDIUM if key == CRITICAL else CRITICAL
                    order[other][head] = max(order[other].values(), default=-1)
                order[key][head] = k
                commits[key].append((k, at))
        deadline = time.time() + 150
        while time.time() < deadline:
            if all(any(i == a.latency_commits - 1 for _, i in seen[key]) for key in subjects):
                break
            time.sleep(0.5)
        stop.set()
        poller.join()
        out: dict[str, Any] = {"commits_per_fabric": a.latency_commits, "spacing_s": a.latency_spacing}
        for key in subjects:
            lat = []
            for k, at in commits[key]:
                hit = min((m for m, i in seen[key] if i >= k and m >= at), default=None)
                lat.append(round(hit - at, 2) if hit is not None else None)
            out[key] = {"fabric": subjects[key].name, **latency_stats(lat)}
            log(f"commit-to-report, {key} fabric: p50 {out[key]['p50_s']} s, p95 {out[key]['p95_s']} s "
                f"({out[key]['reflected']}/{len(lat)} reflected"
                f"{'; p95 beyond the watch' if out[key]['p95_beyond_watch'] else ''})")
        self.result["latency"] = out

    def phase_naive(self) -> None:
        """The same fleet, warm caches, the naive way: one run per fabric per tick. From its first tick
        until every run of that tick ended (or the window closed): fabrics per minute."""
        self.wait_quiet()
        self.stop_daemon()
        self.start_daemon(naive=True)
        b = self.next_boundary(time.time() + 8)  # the code server needs a few seconds to load
        self.wait_until(b - 0.5)
        cpu0, ev0 = self.monitor.cpu(), self.pg.last_event_id()
        window = self.args.naive_window
        self.tick_runs(b, timeout=window)  # until the tick's runs all ended, or the window closed
        runs = self.sync_runs(b - 1, tick=b)
        cpu1, ev1 = self.monitor.cpu(), self.pg.last_event_id()
        if not runs:
            log(f"naive: no run was requested; see {self.root}/daemon-naive.log (run with --keep)")
        done = [r for r in runs if r.end_time and r.end_time <= b + window]
        all_done = bool(runs) and len(done) == len(runs)
        elapsed = (max(r.end_time for r in done) - b) if all_done else float(window)
        peaks = self.monitor.peaks(since=b)
        events = self.pg.events_between(ev0, ev1)
        cpu = cpu_delta(cpu1, cpu0)
        self.result["naive"] = {
            "window_s": window, "runs_requested": len(runs), "runs_ended": len(done), "tick_done": all_done,
            "elapsed_s": round(elapsed, 2), "fabrics_per_minute": round(len(done) / elapsed * 60, 1) if elapsed else None,
            "events": sum(events.values()), "events_per_run": round(sum(events.values()) / len(done), 1) if done else None,
            "cpu_s": cpu, "cpu_ours_s": ours(cpu), "cpu_ours_per_run_s": round(ours(cpu) / len(done), 2) if done else None,
            "run_worker_peak_mib": (peaks.get("run_worker") or {}).get("peak_mib"),
            "median_run_s": _median(r.end_time - r.start_time for r in done if r.start_time),
            "median_queue_wait_s": _median(r.start_time - r.create_timestamp.timestamp() for r in done if r.start_time),
        }
        log(f"naive: {len(done)} of {len(runs)} one-fabric runs ended in {elapsed:.0f} s "
            f"({self.result['naive']['fabrics_per_minute']} fabrics/min)")
        self.stop_daemon()

    def phase_engine(self) -> None:
        """The drift engine in this process over a sample of fabrics, beside PyYAML's C loader alone
        (benchmarks/drift_engine.py's cases): resources per second."""
        sys.path.insert(0, str(BENCH_DIR))
        import drift_engine

        sample = min(len(self.fabrics), self.args.engine_fabrics)
        fleet = drift_engine.build_fleet(sample, self.args.resources)
        resources = sum(f["resources"] for f in fleet)
        times = drift_engine.time_runs(self.args.engine_runs, {
            "yaml": lambda: drift_engine.yaml_alone(fleet),
            "engine": lambda: drift_engine.parse_and_compare(fleet)})
        med = {k: statistics.median(v["wall"]) for k, v in times.items()}
        self.result["engine"] = {
            "fabrics": sample, "resources": resources, "runs": self.args.engine_runs,
            "engine_resources_per_s": round(resources / med["engine"]),
            "yaml_c_loader_resources_per_s": round(resources / med["yaml"]),
            "ratio": round(med["engine"] / med["yaml"], 2),
        }
        log(f"drift engine: {self.result['engine']['engine_resources_per_s']} resources/s "
            f"(parse + compare), PyYAML CSafeLoader alone {self.result['engine']['yaml_c_loader_resources_per_s']}/s")

    # -- all of it --
    def run(self) -> dict[str, Any]:
        a = self.args
        phases = [p for p in PHASES if p in a.phases]
        self.result.update({"load_at_start": os.getloadavg()})
        started = time.monotonic()
        try:
            self.build()
            self.start_instance()
            self.start_daemon(naive=False)
            batched_since = time.time()
            try:
                if "cold" in phases:
                    self.phase_cold()
                if "steady" in phases:
                    self.phase_steady()
                if "latency" in phases:
                    self.phase_latency()
                if self.instance is not None:
                    self.wait_quiet()
                    self.result["final_check"] = self.check_reports()
                self.result["peak_memory_batched"] = self.monitor.peaks(since=batched_since)
                naive_since = time.time()
                if "naive" in phases:
                    self.phase_naive()
                    self.result["peak_memory_naive"] = self.monitor.peaks(since=naive_since)
            except (Exception, KeyboardInterrupt, SystemExit) as exc:
                # Keep what was measured: a fleet that never settles is a result too.
                self.result["aborted"] = f"{type(exc).__name__}: {exc}"
                self.result.setdefault("peak_memory_batched", self.monitor.peaks(since=batched_since))
                log(f"aborted: {self.result['aborted']}; writing what was measured")
                phases = [p for p in phases if p == "engine" and not isinstance(exc, (KeyboardInterrupt, SystemExit))]
        finally:
            if threading.current_thread() is threading.main_thread():
                # a SIGTERM now would cut the clean-up short and lose what was measured: finish both
                signal.signal(signal.SIGTERM, lambda signum, frame: log("stopping already: cleaning up"))
            self.stop_daemon()
            for proc in self.apiservers:
                stop_process(proc, grace=10)
            self.monitor.stop()
            if self.instance is not None:
                self.instance.dispose()
            if self.pg is not None:
                self.pg.drop()
            if not a.keep:
                shutil.rmtree(self.root, ignore_errors=True)
            else:
                log(f"kept {self.root}")
        self.result["process_commands"] = self.monitor.commands()
        if "engine" in phases:
            self.phase_engine()
        self.result["load_at_end"] = os.getloadavg()
        self.result["total_s"] = round(time.monotonic() - started, 1)
        return self.result


def latency_stats(latencies: list[float | None]) -> dict[str, Any]:
    """p50 and p95 over every commit. A commit no report reflected while it was watched (150 s after the
    last commit) took longer than its watch: it counts as beyond every reflected one, never as absent,
    so a percentile that lands on it is unknown and above any target (`p95_beyond_watch`)."""
    ranked = sorted(math.inf if v is None else v for v in latencies)
    p50, p95 = (percentile(ranked, q) if ranked else None for q in (50, 95))
    return {"latencies_s": latencies, "reflected": sum(v is not None for v in latencies),
            "p50_s": round(p50, 2) if p50 is not None and math.isfinite(p50) else None,
            "p95_s": round(p95, 2) if p95 is not None and math.isfinite(p95) else None,
            "p95_beyond_watch": p95 is not None and not math.isfinite(p95)}


def latency_target_met(block: dict[str, Any] | None, limit: float) -> bool | None:
    if not block:
        return None
    if block.get("p95_beyond_watch"):
        return False
    return None if block.get("p95_s") is None else block["p95_s"] <= limit


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not values:
        raise ValueError("no values")
    rank = max(1, -(-len(values) * q // 100))
    return values[int(rank) - 1]


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    mem = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import dagster

    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gib": mem, "python": platform.python_version(),
            "platform": platform.platform(), "dagster": dagster.__version__,
            "pyyaml": yaml.__version__, "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
            "postgresql": _pg_version()}


def _pg_version() -> str | None:
    try:
        return subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip() or None
    except OSError:
        return None


def code_version() -> dict[str, Any]:
    import hedgehog_sync

    where = Path(hedgehog_sync.__file__).resolve().parent
    out: dict[str, Any] = {"package": str(where)}
    try:
        git = ["git", "-C", str(where)]
        out["commit"] = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(git + ["status", "--porcelain", "--", "."], capture_output=True, text=True).stdout
        out["package_modified"] = sorted(line[3:] for line in dirty.splitlines())
    except (OSError, subprocess.CalledProcessError):
        out["commit"] = None
    return out


def verdicts(r: dict[str, Any]) -> dict[str, Any]:
    """Each target beside what was measured: True met, False missed, None not measured."""
    def le(value: Any, limit: float) -> bool | None:
        return None if value is None else value <= limit

    steady, lat = r.get("steady") or {}, r.get("latency") or {}
    peak = ((r.get("peak_memory_batched") or {}).get("run_worker") or {}).get("peak_mib")
    return {
        "cold_cycle_le_60s": le((r.get("cold") or {}).get("wall_s"), TARGETS["cold_cycle_s"]),
        "steady_cycle_le_30s": le(steady.get("wall_s"), TARGETS["steady_cycle_s"]),
        "latency_p95_critical_le_30s": latency_target_met(lat.get(CRITICAL), TARGETS["latency_p95_critical_s"]),
        "latency_p95_medium_le_90s": latency_target_met(lat.get(MEDIUM), TARGETS["latency_p95_medium_s"]),
        "naive_ratio_ge_30": None if r.get("naive_ratio") is None else r["naive_ratio"] >= TARGETS["naive_ratio_min"],
        "run_worker_peak_lt_1gib": None if peak is None else peak < TARGETS["run_worker_peak_mib"],
        "steady_events_constant": "compare steady.events across the N=10, 100, 1000 results",
    }


def print_table(r: dict[str, Any], fabrics: int, resources: int) -> None:
    rows: list[tuple[str, Any, str]] = []
    cold, steady, lat, naive, eng = (r.get(k) or {} for k in ("cold", "steady", "latency", "naive", "engine"))
    rows += [("cold cycle wall s", cold.get("wall_s"), "<= 60"),
             ("cold cycle CPU s (ours)", cold.get("cpu_ours_s"), ""),
             ("steady cycle wall s", steady.get("wall_s"), "<= 30"),
             ("steady cycle fabrics / runs", f"{steady.get('fabrics_synced')} / {steady.get('runs')}", ""),
             ("steady CPU s ours / API servers", f"{steady.get('cpu_ours_s')} / {steady.get('cpu_apiserver_s')}", ""),
             ("steady CPU s per minute (ours)", steady.get("cpu_minute_ours_s"), "< 120 on 2 cores"),
             ("steady events", steady.get("events"), "constant in N"),
             ("latency critical p50 / p95 s", f"{(lat.get(CRITICAL) or {}).get('p50_s')} / {(lat.get(CRITICAL) or {}).get('p95_s')}", "p95 <= 30"),
             ("latency medium p50 / p95 s", f"{(lat.get(MEDIUM) or {}).get('p50_s')} / {(lat.get(MEDIUM) or {}).get('p95_s')}", "p95 <= 90"),
             ("batched fabrics/min (steady)", steady.get("fabrics_per_minute"), ""),
             ("naive fabrics/min", naive.get("fabrics_per_minute"), ""),
             ("ratio batched / naive", r.get("naive_ratio"), ">= 30"),
             ("engine resources/s", eng.get("engine_resources_per_s"), ""),
             ("PyYAML CSafeLoader resources/s", eng.get("yaml_c_loader_resources_per_s"), "")]
    for kind, peak in sorted((r.get("peak_memory_batched") or {}).items()):
        rows.append((f"peak MiB {kind} (x{peak['processes']})", peak["peak_mib"], "< 1024" if kind == "run_worker" else ""))
    check = r.get("final_check") or {}
    rows.append(("reports correct", f"{check.get('drifted_correct')}+{check.get('in_sync_correct')} of {check.get('fabrics')}",
                 "all"))
    print(f"\n{fabrics} fabrics x {resources} resources, {r.get('apiserver_processes')} API server processes")
    print(f"{'figure':<36} {'measured':>20}  target")
    for name, value, target in rows:
        print(f"{name:<36} {str(value):>20}  {target}")


def print_cpu_by_process(r: dict[str, Any]) -> None:
    """The CPU of each role in the cold and the steady cycle, the daemon's and code servers' threads, and
    the runs created in each window by what asked for them."""
    windows = {k: (r.get(k) or {}).get("cpu_by_process") for k in ("cold", "steady")}
    windows = {k: v for k, v in windows.items() if v}
    if not windows:
        return
    roles: list[str] = []
    for w in windows.values():
        roles += [x for x in w["by_role"] if x not in roles]
    heads = "".join(f" {k + ' CPU s':>12} {'(started)':>9}" for k in windows)
    print(f"\nCPU by process role{'':<50}{heads}")
    for role in roles:
        cells = ""
        for w in windows.values():
            e = w["by_role"].get(role)
            cells += f" {e['total_s']:>12.2f} {e['started_in_window']:>9}" if e else f" {'':>12} {'':>9}"
        print(f"{role[:69]:<69}{cells}")
    print(f"{'total (ours, without API servers)':<69}" + "".join(f" {w['total_ours_s']:>12.2f} {'':>9}" for w in windows.values()))
    for name, w in windows.items():
        for t in w["threads"]:
            top = list(t["by_thread"].items())[:8]
            print(f"\n{name}: {t['role']} pid {t['pid']}: {t['cpu_s']} CPU s; threads"
                  f"{'' if t['named_by_hook'] else ' (no names: hook off)'}; ended or unsampled threads "
                  f"{t['threads_ended_or_unsampled_s']} s")
            for label, v in top:
                print(f"    {label[:60]:<60} x{v['threads']:<3} {v['cpu_s']:>8.2f}")
        print(f"{name}: runs created: " + "; ".join(f"{k}: {v['created']} ({v['started']} started)"
                                                    for k, v in w["runs_created"].items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fabrics", type=int, default=100, help="N: fabrics in the fleet")
    parser.add_argument("--resources", type=int, default=200, help="R: authored resources per fabric")
    parser.add_argument("--drifted", type=float, default=0.1, help="share of fabrics drifted live by hand")
    parser.add_argument("--apiservers", type=int, default=0, help="API server processes (0: one per 250 fabrics, 1..4)")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    parser.add_argument("--critical", type=int, default=1,
                        help="fabrics of priority critical (the first ones); the others are medium")
    parser.add_argument("--latency-commits", type=int, default=10, help="commits to each of the two latency fabrics")
    parser.add_argument("--latency-spacing", type=float, default=10.0, help="seconds between commits (randomised in it)")
    parser.add_argument("--naive-window", type=float, default=120.0, help="seconds the naive design is watched")
    parser.add_argument("--cold-timeout", type=float, default=600.0, help="seconds a cycle may take before giving up")
    parser.add_argument("--engine-fabrics", type=int, default=20)
    parser.add_argument("--engine-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default=os.environ.get("PGUSER", "postgres"))
    parser.add_argument("--instance-config", type=Path, default=REPO_ROOT / "deploy" / "dagster.yaml",
                        help="the production instance settings to start from (its run_launcher is dropped)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the Dagster processes (repeatable), e.g. to try a setting")
    parser.add_argument("--monorepo", action="store_true",
                        help="all fabrics in ONE Git repository, a folder each (the inventory's git.path)")
    parser.add_argument("--no-thread-names", action="store_true",
                        help="do not inject the thread-naming sitecustomize into the Dagster processes")
    parser.add_argument("--workdir", default=None, help="parent of the temporary folder (default: the system's)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (repos, logs, reports)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write a result file")
    parser.add_argument("--output", type=Path, help="write the result here instead of benchmarks/results/")
    parser.add_argument("--label", default="", help="added to the result file's name")
    parser.add_argument("--note", default="", help="a sentence kept in the result file: what was measured")
    args = parser.parse_args(argv)
    args.phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    unknown = args.phases - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}")
    if args.fabrics < 2 or not 1 <= args.critical <= args.fabrics:
        parser.error("--fabrics must be at least 2, and --critical between 1 and --fabrics")
    if "latency" in args.phases and args.critical >= args.fabrics:
        parser.error("the latency phase needs a medium fabric: --critical must be below --fabrics")

    def _terminated(signum: int, frame: Any) -> None:
        raise SystemExit(f"stopped by signal {signum}")  # runs the clean-up: processes, database, folder

    signal.signal(signal.SIGTERM, _terminated)
    now = datetime.now(timezone.utc)
    bench = FleetBenchmark(args)
    result = bench.run()
    steady, naive = result.get("steady") or {}, result.get("naive") or {}
    if steady.get("fabrics_per_minute") and naive.get("fabrics_per_minute"):
        result["naive_ratio"] = round(steady["fabrics_per_minute"] / naive["fabrics_per_minute"], 1)
    out = {
        "benchmark": "fleet", "date": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": shlex.join([".venv/bin/python", "benchmarks/fleet.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(), "code": code_version(), "note": args.note,
        "input": {"fabrics": args.fabrics, "resources_per_fabric": args.resources, "drifted_share": args.drifted,
                  "drifted_fabrics": sum(f.drifted for f in bench.fabrics),
                  "injected_per_drifted_fabric": "a VPC's VLAN edited (modified), a VPCAttachment deleted (missing), a VPC created (extra)",
                  "git_layout": "one repository, a folder per fabric (git.path)" if args.monorepo else "one repository per fabric",
                  "env": args.env, "priorities": {"critical": args.critical, "medium": args.fabrics - args.critical}, "phases": sorted(args.phases)},
        **result,
        "targets": TARGETS,
    }
    out["verdicts"] = verdicts(out)
    print_table(out, args.fabrics, args.resources)
    print_cpu_by_process(out)
    if not args.no_write:
        target = args.output or RESULTS / f"fleet-{now:%Y-%m-%d}-n{args.fabrics}{'-' + args.label if args.label else ''}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {target}")
    check = out.get("final_check") or {}
    return 0 if check.get("ok", True) and not out.get("aborted") else 1


if __name__ == "__main__":
    sys.exit(main())
