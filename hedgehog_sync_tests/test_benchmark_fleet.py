"""The fleet benchmark still runs end to end: a tiny fleet through the real daemon on PostgreSQL.

No timing is asserted (figures live in the benchmark's results, STYLE.md): only that the harness
builds the fleet, the reports it checks are right, and the result file holds each figure it promises.
Every fabric is critical here, so the fast-path sensor syncs the fleet within seconds instead of
waiting for the schedule's next minute.
"""

import json
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_fleet_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    try:
        psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432 for user postgres: {exc}")
    out = tmp_path / "fleet.json"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "fleet.py"), "--fabrics", "3", "--resources", "20",
         "--critical", "3", "--drifted", "0.5", "--phases", "cold,engine", "--engine-fabrics", "2",
         "--engine-runs", "1", "--workdir", str(tmp_path), "--output", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=170,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())

    check = result["final_check"]
    assert check["ok"], check["problems"]
    assert check["drifted_expected"] >= 1 and check["drifted_correct"] == check["drifted_expected"]
    assert check["drifted_correct"] + check["in_sync_correct"] == 3

    cold = result["cold"]
    assert cold["complete"] and cold["wall_s"] > 0 and cold["runs"] >= 1 and cold["events"] > 0
    peaks = result["peak_memory_batched"]
    assert {"daemon", "code_server", "run_worker", "apiserver"} <= set(peaks)
    assert result["engine"]["engine_resources_per_s"] > 0 and result["engine"]["yaml_c_loader_resources_per_s"] > 0
    assert result["machine"]["nproc"] and result["date"] and "load_at_start" in result
    assert not list(tmp_path.glob("hh-fleet-*")), "the benchmark's temporary folder was left behind"
