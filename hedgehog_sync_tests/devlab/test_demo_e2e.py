"""The README's first command, for real: `hedgehog-sync demo` runs `dagster dev` (webserver and daemon)
and, with no clicks, every demo fabric gets a drift_report within 3 minutes."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance
from dagster._core.instance.ref import InstanceRef

from hedgehog_sync.devlab.demo import DEMO_FABRICS, DRIFTED_FABRIC

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reports(home: Path) -> dict:
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        out = {}
        for record in instance.fetch_materializations(AssetKey("drift_report"), limit=100).records:
            mat = record.asset_materialization
            out.setdefault(mat.partition, mat.metadata["report"].value)
        return out


def test_demo_syncs_every_fabric_with_no_clicks(tmp_path):
    exe = shutil.which("hedgehog-sync", path=os.path.dirname(sys.executable))
    assert exe, "the console script is installed beside this Python"
    port = free_port()
    root = tmp_path / "devlab"
    log = open(tmp_path / "demo.log", "w")
    proc = subprocess.Popen([exe, "demo", "--dir", str(root), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        found: dict = {}
        while time.monotonic() < deadline and set(found) != set(DEMO_FABRICS):
            time.sleep(5)
            assert proc.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
            if (root / "dagster_home" / "history").exists():
                found = reports(root / "dagster_home")
        assert set(found) == set(DEMO_FABRICS), (tmp_path / "demo.log").read_text()[-3000:]
        expected = {(d["kind"], d["name"], d["state"]) for d in yaml.safe_load((root / "drift.yaml").read_text())}
        drifted = found[DRIFTED_FABRIC]
        assert drifted["status"] == "drifted"
        assert {(r["kind"], r["name"], r["state"]) for r in drifted["resources"]} == expected
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=10) as resp:
            assert resp.status == 200  # the UI is being served
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
