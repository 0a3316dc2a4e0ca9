"""The run-worker profile (benchmarks/profile_worker.py) still runs end to end: a tiny fleet, one cold
and one steady `dagster api execute_run` worker on PostgreSQL, the per-bucket table printed.

No figure is asserted (they live in the benchmark's results, STYLE.md): only that every bucket of the
table is there, the worker did spend CPU, PostgreSQL sessions were counted, and the benchmark's
temporary folder is gone afterwards. Skipped without a local PostgreSQL, failed instead under CI.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hedgehog_sync_tests.pg import admin_connection

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
ROW_LABELS = (
    "interpreter finalization at process exit", "interpreter start, imports, CLI, instance setup",
    "cyclic GC during the run", "Dagster materializations, check evaluations, metadata",
    "Dagster orchestration and logs", "git child processes", "git: Python side",
    "Kubernetes: requests, decode, client", "YAML parse, normalize + diff", "hashing, state JSON",
    "state store (SQL)", "other", "the profiler's own handler", "total in the worker (wait4 rusage)",
    "PostgreSQL: the run database backends (lower bound)", "PostgreSQL sessions opened per fabric",
)


def _row(stdout: str, label: str) -> tuple[float, float]:
    match = re.search(rf"^{re.escape(label)}\s+(-?[\d.]+)\s+(-?[\d.]+)", stdout, re.MULTILINE)
    assert match, f"no row {label!r} in:\n{stdout[-3000:]}"
    return float(match.group(1)), float(match.group(2))


def test_profile_worker_runs_end_to_end(tmp_path: Path) -> None:
    admin_connection().close()  # skip (or fail under CI) without PostgreSQL
    proc = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "profile_worker.py"), "--fabrics", "3", "--runs", "1",
         "--resources", "20", "--background-s", "0", "--no-write", "--workdir", str(tmp_path)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=480)  # 290 s measured at load 50 on 2 cores; far less idle
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the benchmark stops its worker and API server and drops its database
        stdout, stderr = proc.communicate(timeout=60)
        pytest.fail("profile_worker.py took over 480 s:\n" + stdout[-2000:] + stderr[-2000:])
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    for label in ROW_LABELS:
        _row(stdout, label)
    cold_total, steady_total = _row(stdout, "total in the worker (wait4 rusage)")
    assert cold_total > 0 and steady_total > 0
    cold_setup, _ = _row(stdout, "interpreter start, imports, CLI, instance setup")
    assert 0 < cold_setup < cold_total
    cold_sessions, steady_sessions = _row(stdout, "PostgreSQL sessions opened per fabric")
    assert cold_sessions > 0 and steady_sessions > 0  # the worker's own connections, counted by PostgreSQL
    assert "load average at start" in stdout
    assert "wrote" not in stdout  # --no-write
    assert not list(tmp_path.glob("hh-fleet-*")), "the benchmark's temporary folder was left behind"
