"""The demo starts the exporter: /metrics is scraped over HTTP while `hedgehog-sync demo` runs, and
promtool accepts it."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from hedgehog_sync.devlab.demo import console_script
from hedgehog_sync_tests.promtool import promtool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_metrics_are_served_while_the_demo_runs(tmp_path):
    port, metrics_port = free_port(), free_port()
    log = open(tmp_path / "demo.log", "wb")
    proc = subprocess.Popen([console_script(), "demo", "--dir", str(tmp_path / "demo"), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "HEDGEHOG_SYNC_METRICS_PORT": str(metrics_port)})
    text, fabrics = "", set()
    try:
        deadline = time.monotonic() + 240  # the discovery sensor adds the fabrics at its first tick
        while time.monotonic() < deadline and len(fabrics) < 3:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as resp:
                    text = resp.read().decode()
                fabrics = {s.labels["fabric"] for f in text_string_to_metric_families(text)
                           if f.name == "hedgehog_sync_fabric_info" for s in f.samples}
            except OSError:
                pass
            time.sleep(2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
    output = Path(tmp_path / "demo.log").read_text(errors="replace")
    assert f"devlab: Prometheus metrics at http://127.0.0.1:{metrics_port}/metrics" in output
    assert fabrics == {"fab-east", "fab-west", "fab-lab"}, output[-3000:]
    assert "hedgehog_sync_exporter_read_ok 1.0" in text
    check = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
