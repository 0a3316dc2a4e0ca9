"""`hedgehog-sync exporter`: /metrics scraped over HTTP from the running command, checked by promtool,
and its numbers equal to the fleet summary's rows for the same moment."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request

import pytest
from dagster import DagsterInstance, materialize
from prometheus_client.parser import text_string_to_metric_families

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.defs.fleet import fleet_now
from hedgehog_sync.devlab.demo import BROKEN_FABRIC, DEMO_FABRICS, DRIFTED_FABRIC, IN_SYNC_FABRIC, console_script
from hedgehog_sync_tests.promtool import promtool

SEVERITY = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return resp.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def exporter_home(demo_fleet, fleet_resource, tmp_path):
    """A persistent instance with two fabrics synced and a broken one that failed."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    resources = {"fleet": fleet_resource, "alerts": AlertSink()}
    with DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        for fabric in (IN_SYNC_FABRIC, DRIFTED_FABRIC, BROKEN_FABRIC):
            materialize([fabric_sync], partition_key=fabric, instance=instance, resources=resources,
                        raise_on_error=False)
    return home


def test_the_exporter_serves_the_fleet_summarys_numbers_in_promtool_clean_metrics(
        demo_fleet, fleet_resource, exporter_home, tmp_path):
    fleet, _ = demo_fleet
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(exporter_home), "HEDGEHOG_SYNC_INVENTORY": str(fleet.inventory)}
    log = open(tmp_path / "exporter.log", "wb")
    proc = subprocess.Popen([console_script(), "exporter", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        text = scrape(f"http://127.0.0.1:{port}/metrics", time.monotonic() + 60)
        with DagsterInstance.from_config(str(exporter_home)) as instance:
            rows = fleet_now(instance, fleet_resource)
        again = scrape(f"http://127.0.0.1:{port}/metrics", time.monotonic() + 10)
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0, (tmp_path / "exporter.log").read_text()[-2000:]
        log.close()
    assert "serving http://127.0.0.1:" in (tmp_path / "exporter.log").read_text()

    check = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr

    got = samples(text)
    assert got[("hedgehog_sync_exporter_read_ok", ())] == 1

    def value(name, **labels):
        return got[(name, tuple(sorted(labels.items())))]

    assert len(rows) == 3
    for row in rows:
        f = row["fabric"]
        assert value("hedgehog_sync_fabric_status", fabric=f, status=row["status"]) == 1
        assert sum(value("hedgehog_sync_fabric_status", fabric=f, status=s)
                   for s in ("in_sync", "drifted", "unknown", "pending")) == 1
        assert value("hedgehog_sync_fabric_drift_severity", fabric=f) == SEVERITY[row["severity"]]
        assert value("hedgehog_sync_fabric_drift_score", fabric=f) == row["score"]
        assert value("hedgehog_sync_fabric_health_ratio", fabric=f) == row["health"]
        assert value("hedgehog_sync_fabric_isolated", fabric=f) == int(row["isolated"])
        assert value("hedgehog_sync_fabric_stale", fabric=f) == int(not row["fresh"])
        assert value("hedgehog_sync_fabric_info", fabric=f, priority=row["priority"],
                     effective_priority=row["effective_priority"]) == 1
        assert sum(value("hedgehog_sync_fabric_drifted_resources", fabric=f, state=s)
                   for s in ("modified", "missing", "extra")) == row["differ"]
        assert 0 <= value("hedgehog_sync_fabric_last_report_age_seconds", fabric=f) < 600
    assert [r["status"] for r in rows] == ["in_sync", "drifted", "unknown"]
    assert value("hedgehog_sync_fabric_drift_severity", fabric=DRIFTED_FABRIC) == 4
    # fab-lab never read both sides: it has no last good report to be old
    assert ("hedgehog_sync_fabric_last_good_report_age_seconds", (("fabric", BROKEN_FABRIC),)) not in got
    # per fleet: the scheduler metrics the three sync runs recorded
    with DagsterInstance.from_config(str(exporter_home)) as instance:
        recorded = fleet_resource.state_store(instance).metrics()
    assert value("hedgehog_sync_runs_total") == recorded["runs_total"] == 3
    assert value("hedgehog_sync_fabric_checks_total") == recorded["fabrics_checked_total"]
    assert value("hedgehog_sync_fabric_check_failures_total") == recorded["fabrics_failed_total"]
    assert value("hedgehog_sync_last_run_duration_seconds") == recorded["last_run"]["duration_s"]
    assert value("hedgehog_sync_fabric_check_success_ratio") == recorded["fabric_check_success_rate"]
    assert value("hedgehog_sync_last_run_duration_seconds") > 0
    assert value("hedgehog_sync_queued_runs") == 0
    # a second scrape reads afresh and agrees
    assert samples(again)[("hedgehog_sync_fabric_status", (("fabric", DRIFTED_FABRIC), ("status", "drifted")))] == 1
