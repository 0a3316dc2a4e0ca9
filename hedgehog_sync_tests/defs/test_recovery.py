"""Recovery with a real Dagster instance and the devlab API server injecting faults."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, materialize

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.devlab.demo import DEMO_FABRICS, DRIFTED_FABRIC, IN_SYNC_FABRIC

EAST_VPCS = rf"/fabrics/{IN_SYNC_FABRIC}/apis/vpc\.githedgehog\.com/v1beta1/namespaces/default/vpcs$"


@pytest.fixture
def webhook(monkeypatch):
    """A loopback HTTP endpoint that keeps every alert posted to it."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HEDGEHOG_SYNC_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/alerts")
    yield received
    server.shutdown()


def run(instance, fleet_resource, fabric=IN_SYNC_FABRIC):
    return materialize([fabric_sync], partition_key=fabric, instance=instance, raise_on_error=False,
                       resources={"fleet": fleet_resource, "alerts": AlertSink()})


def latest_report_metadata(instance, fabric):
    for record in instance.fetch_materializations(AssetKey("drift_report"), limit=100).records:
        if record.asset_materialization.partition == fabric:
            return {k: v.value for k, v in record.asset_materialization.metadata.items()}
    return None


def test_503_then_success_is_retried_inside_the_batch_and_ends_green(demo_fleet, fleet_resource):
    _, handle = demo_fleet
    fault = handle.faults.add(path=EAST_VPCS, status=503, retry_after=1, times=1)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        result = run(instance, fleet_resource)
        assert result.success
        meta = latest_report_metadata(instance, IN_SYNC_FABRIC)
        assert fault.hits == 1
        assert (meta["status"], meta["attempts"]) == ("in_sync", 2)
        assert meta["retry_wait_s"] >= 1.0  # Retry-After: 1 was honoured


def test_401_fails_at_once_without_retry(demo_fleet, fleet_resource):
    _, handle = demo_fleet
    fault = handle.faults.add(path=EAST_VPCS, status=401)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        result = run(instance, fleet_resource)
        assert result.success  # a fabric that cannot be read is a result (unknown), not a failed run
        assert fault.hits == 1  # one attempt: a permanent error is not retried
        types = [e.event_type for e in result.all_events]
        assert DagsterEventType.STEP_RESTARTED not in types and DagsterEventType.STEP_UP_FOR_RETRY not in types
        meta = latest_report_metadata(instance, IN_SYNC_FABRIC)
        assert (meta["status"], meta["attempts"]) == ("unknown", 1)
        report = meta["report"]
        assert report["errors"][0]["error_class"] == "ClusterAuthError"


def test_five_failures_isolate_with_one_alert_and_one_good_cycle_restores(demo_fleet, tmp_path, webhook):
    fleet, handle = demo_fleet
    resource = FleetResource(inventory_path=str(fleet.inventory))
    fault = handle.faults.add(path=EAST_VPCS, status=403)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        for cycle in range(1, 7):
            assert run(instance, resource).success  # each cycle records the fabric unknown
            isolated = resource.state_store(instance).health(IN_SYNC_FABRIC).isolated
            assert isolated is (cycle >= 5)
        assert [a["kind"] for a in webhook if a["kind"] == "isolated"] == ["isolated"]  # once, not per cycle
        alert = next(a for a in webhook if a["kind"] == "isolated")
        assert alert["fabric"] == IN_SYNC_FABRIC and alert["error_class"] == "ClusterAuthError"
        assert fleet.store.token(IN_SYNC_FABRIC) not in json.dumps(webhook)
        meta = latest_report_metadata(instance, IN_SYNC_FABRIC)
        assert meta["isolated"] is True and meta["health"] < 0.5

        fault.times = fault.hits  # the credentials are fixed
        assert run(instance, resource).success
        assert not resource.state_store(instance).health(IN_SYNC_FABRIC).isolated
        assert [a["kind"] for a in webhook].count("restored") == 1
        assert latest_report_metadata(instance, IN_SYNC_FABRIC)["isolated"] is False
        # the other fabrics were never touched by this one's trouble
        assert run(instance, resource, DRIFTED_FABRIC).success
