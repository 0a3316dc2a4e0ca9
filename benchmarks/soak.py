"""Soak: a fleet under random faults for a long time, run by the real daemon and schedule.

    .venv/bin/python benchmarks/soak.py --fabrics 100 --minutes 30 --fault-rate 0.05

Builds N fabrics (generated wiring and VPCs; every fourth one with known drift: a VPC edited, a
VPCAttachment deleted, a VPC added by hand), serves their Git over the loopback git server (with a
token) and their clusters from the devlab API server, and starts `dagster-daemon run` on a fresh
DAGSTER_HOME (SQLite, or PostgreSQL with --postgres) with the every-minute schedule on. For
--minutes, a share --fault-rate of all requests to both servers fails at random: 503 and 429 with
Retry-After, 500, a cut or garbled body, a dropped connection, a slow answer. Then faults stop, and
the soak waits for one clean cycle of every fabric and for every run to finish, and checks:

- no lost report: every fabric has a report, and no materialization seen during the soak is gone;
- no stuck run: nothing left QUEUED/STARTING/STARTED/CANCELING;
- every fabric's last report is correct: the status and the exact drifted resources it was given.

The figures go to stdout and, with --results, to a JSON file. Exit status 0 only if all three hold.
Only 127.0.0.1 is used. Every process started here is killed at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dagster import AssetKey, DagsterInstance, RunsFilter  # noqa: E402
from dagster._core.instance.ref import InstanceRef  # noqa: E402

from hedgehog_sync.devlab.apiserver import FabricStore, FaultRule, seed_faults, start_apiserver  # noqa: E402
from hedgehog_sync.defs.schedules import IN_FLIGHT  # noqa: E402
from hedgehog_sync.devlab.demo import WORKSPACE_YAML, dagster_yaml, inject_drift, seed_fabric_live  # noqa: E402
from hedgehog_sync.devlab.generator import FabricSpec, generate_fabric, split_into_files  # noqa: E402
from hedgehog_sync.devlab.gitrepos import commit_files, init_repo  # noqa: E402
from hedgehog_sync.devlab.gitserver import GitFault, publish, start_gitserver  # noqa: E402
from hedgehog_sync.state import StateStore  # noqa: E402

TOKEN_ENV = "HEDGEHOG_SYNC_SOAK_GIT_TOKEN"
POSTGRES_YAML = """\
storage:
  postgres:
    postgres_db:
      hostname: 127.0.0.1
      port: 5432
      username: postgres
      password: ''
      db_name: {db}
      scheme: postgresql+psycopg2
"""


def log(message: str) -> None:
    print(f"soak {datetime.now(timezone.utc):%H:%M:%S}: {message}", flush=True)


def build_fleet(root: Path, count: int, store: FabricStore, gitserver_url, served: Path) -> dict[str, Any]:
    """N fabrics in Git and in the cluster; returns what each one's report must say."""
    expected: dict[str, Any] = {}
    entries = []
    for i in range(count):
        fabric = f"soak-{i:03d}"
        spec = FabricSpec(seed=1000 + i)
        desired = generate_fabric(fabric, spec)
        repo = init_repo(root / "git" / fabric)
        commit_files(repo, dict(split_into_files(desired)), f"{fabric}: initial")
        publish(repo, served, fabric)
        store.add_fabric(fabric, secrets.token_urlsafe(24))
        seed_fabric_live(store, fabric, desired, spec)
        drifted = inject_drift(store, fabric, desired) if i % 4 == 3 else []
        expected[fabric] = {"status": "drifted" if drifted else "in_sync",
                            "resources": sorted((d.kind, d.name, d.state) for d in drifted)}
        entries.append({"name": fabric, "git": {"url": gitserver_url(fabric), "ref": "main", "token_env": TOKEN_ENV,
                                                "allow_local": True},
                        "kubernetes": {"kubeconfig": str(root / "kube" / f"{fabric}.kubeconfig"),
                                       "context": fabric}})
    (root / "fabrics.yaml").write_text(yaml.safe_dump({"fabrics": entries}, sort_keys=False))
    return expected


def add_faults(apiserver, gitserver, rate: float) -> list:
    """Background faults: together about `rate` of all requests to each server."""
    api_mix = [dict(status=503, retry_after=1), dict(status=429, retry_after=1), dict(status=500),
               dict(action="truncate"), dict(action="garbage"), dict(action="drop"), dict(latency=2.0)]
    rules = []
    for kind in api_mix:  # first matching rule applies: rule k sees what rules before it let through
        left = 1.0 - rate * len(rules) / len(api_mix)
        rules.append(apiserver.faults.add(FaultRule(path=r"^/fabrics/", probability=rate / len(api_mix) / left,
                                                    **kind)))
    git_mix = [dict(status=503), dict(drop=True), dict(status=500)]
    for n, kind in enumerate(git_mix):
        left = 1.0 - rate * n / len(git_mix)
        rules.append(gitserver.faults.add(GitFault(probability=rate / len(git_mix) / left, **kind)))
    return rules


def check(instance: DagsterInstance, store: StateStore, expected: dict[str, Any], seen: dict[str, set[int]],
          since: datetime) -> dict[str, Any]:
    lost, wrong, stale = [], [], []
    history = _history(instance)
    for fabric, want in expected.items():
        report = store.latest_report(fabric)
        if report is None or not history.get(fabric):
            lost.append(fabric)
            continue
        if seen.get(fabric, set()) - history[fabric]:
            lost.append(fabric)
        got = {"status": report["status"],
               "resources": sorted((r["kind"], r["name"], r["state"]) for r in report.get("resources", []))}
        if got != want:
            wrong.append({"fabric": fabric, "expected": want, "got": got,
                          "errors": [e.get("message") for e in report.get("errors", [])][:3]})
        if datetime.fromisoformat(report["generated_at"].replace("Z", "+00:00")) < since:
            stale.append(fabric)
    stuck = [(r.run_id, r.status.value) for r in instance.get_runs(RunsFilter(statuses=IN_FLIGHT))]
    return {"lost_reports": lost, "wrong_reports": wrong, "stale_reports": stale, "stuck_runs": stuck}


def _history(instance: DagsterInstance) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    cursor = None
    while True:
        page = instance.fetch_materializations(AssetKey("drift_report"), limit=10_000, cursor=cursor)
        for record in page.records:
            out.setdefault(record.asset_materialization.partition, set()).add(record.storage_id)
        if not page.has_more:
            return out
        cursor = page.cursor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fabrics", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--settle-minutes", type=float, default=6.0,
                        help="after faults stop: longest wait for a clean cycle of every fabric")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL storage at 127.0.0.1:5432 (trust)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--root", type=Path, default=None, help="work folder (default: a new temporary one)")
    parser.add_argument("--results", type=Path, default=None, help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    # Dropped connections are the point here: uvicorn would log each one as an error.
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    random.seed(args.seed)
    seed_faults(args.seed)

    root = (args.root or Path(tempfile.mkdtemp(prefix="hh-soak-"))).resolve()
    home, served = root / "dagster_home", root / "served"
    home.mkdir(parents=True, exist_ok=True)
    token = "ghs_" + secrets.token_urlsafe(24)
    store = FabricStore()
    gitserver = start_gitserver(served, token=token)
    log(f"building {args.fabrics} fabrics under {root}")
    expected = build_fleet(root, args.fabrics, store, gitserver.url, served)
    apiserver = start_apiserver(store)
    for fabric in expected:
        apiserver.write_kubeconfig(fabric, root / "kube" / f"{fabric}.kubeconfig")

    pg_db = None
    # The demo's instance, with run monitoring polling more often: a crashed run is noticed sooner.
    config = dagster_yaml(run_monitoring={"poll_interval_seconds": 10})
    if args.postgres:
        import psycopg2
        pg_db = f"hhsync_soak_{os.getpid()}"
        admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
        admin.autocommit = True
        admin.cursor().execute(f"CREATE DATABASE {pg_db}")
        admin.close()
        config += POSTGRES_YAML.format(db=pg_db)
    (home / "dagster.yaml").write_text(config)
    (home / "workspace.yaml").write_text(WORKSPACE_YAML)
    env = {**os.environ, "DAGSTER_HOME": str(home), "HEDGEHOG_SYNC_INVENTORY": str(root / "fabrics.yaml"),
           TOKEN_ENV: token,
           "HEDGEHOG_SYNC_KUBERNETES_TIMEOUT_SECONDS": "10", "HEDGEHOG_SYNC_GIT_TIMEOUT_SECONDS": "30"}
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    instance.add_dynamic_partitions("fabrics", list(expected))
    report_store = StateStore.for_instance(instance)  # the reports the runs wrote, in the instance's database
    daemon = subprocess.Popen([sys.executable, "-m", "dagster._daemon", "run", "-w", str(home / "workspace.yaml")],
                              env=env, cwd=root, stdout=open(root / "daemon.log", "wb"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    figures: dict[str, Any] = {"fabrics": args.fabrics, "minutes": args.minutes, "fault_rate": args.fault_rate,
                               "storage": "postgresql" if args.postgres else "sqlite", "root": str(root)}
    started = time.monotonic()
    try:
        rules = add_faults(apiserver, gitserver, args.fault_rate)
        counter_api = apiserver.faults.add(FaultRule(path=r"^/fabrics/"))  # no failure: counts the rest
        git_requests_before = gitserver.requests
        log(f"daemon pid {daemon.pid}; faults at {args.fault_rate:.0%} of requests for {args.minutes:g} min")
        seen: dict[str, set[int]] = {}
        deadline = started + args.minutes * 60
        while time.monotonic() < deadline:
            time.sleep(min(30.0, max(0.0, deadline - time.monotonic())))
            for fabric, ids in _history(instance).items():
                seen.setdefault(fabric, set()).update(ids)
            runs = Counter(r.status.value for r in instance.get_runs())
            log(f"{(time.monotonic() - started) / 60:.1f} min: runs {dict(runs)}, "
                f"faults injected {sum(r.hits for r in rules)}")
            if daemon.poll() is not None:
                raise SystemExit(f"the daemon exited ({daemon.returncode}); see {root / 'daemon.log'}")
        faults_injected = {f"{type(r).__name__}:{getattr(r, 'status', None) or getattr(r, 'action', None) or ('drop' if getattr(r, 'drop', False) else 'latency')}": r.hits for r in rules}
        api_requests = counter_api.hits + sum(r.hits for r in rules if isinstance(r, FaultRule))
        git_requests = gitserver.requests - git_requests_before
        apiserver.faults.clear()
        gitserver.faults.clear()
        clean_from = datetime.now(timezone.utc)
        log("faults stopped; waiting for a clean cycle of every fabric and for every run to finish")
        settle_deadline = time.monotonic() + args.settle_minutes * 60
        result = check(instance, report_store, expected, seen, clean_from)
        while time.monotonic() < settle_deadline and (result["stale_reports"] or result["stuck_runs"]
                                                       or result["wrong_reports"]):
            time.sleep(10)
            result = check(instance, report_store, expected, seen, clean_from)
        runs = instance.get_runs()
        retries = [r for r in runs if r.tags.get("dagster/parent_run_id")]
        figures.update({
            "duration_s": round(time.monotonic() - started, 1),
            "runs": dict(Counter(r.status.value for r in runs)),
            "run_retries": len(retries),
            "api_requests": api_requests, "git_requests": git_requests,
            "faults_injected": faults_injected, "faults_total": sum(faults_injected.values()),
            "drift_report_materializations": sum(len(v) for v in _history(instance).values()),
            "lost_reports": len(result["lost_reports"]), "stuck_runs": len(result["stuck_runs"]),
            "wrong_reports": len(result["wrong_reports"]), "stale_reports": len(result["stale_reports"]),
            "correct_reports": args.fabrics - len(set(result["lost_reports"])
                                                  | {w["fabric"] for w in result["wrong_reports"]}),
            "details": {k: v[:10] for k, v in result.items() if v},
        })
    finally:
        try:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(daemon.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        instance.dispose()
        apiserver.stop()
        gitserver.stop()
        if pg_db:
            import psycopg2
            admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
            admin.autocommit = True
            admin.cursor().execute(f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")
            admin.close()
    print(json.dumps(figures, indent=2))
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(figures, indent=2) + "\n")
    ok = not (figures["lost_reports"] or figures["stuck_runs"] or figures["wrong_reports"])
    log("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
