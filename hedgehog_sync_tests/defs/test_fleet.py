"""The fleet summary and report freshness: rows kept by sync runs, recorded by the fleet_watch sensor only
when there is news (real instance, real git, the devlab API server)."""

import json
from datetime import datetime, timedelta, timezone

from dagster import (
    AssetCheckKey, AssetKey, DagsterInstance, Definitions, SensorResult, build_sensor_context, materialize,
)

from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.state import FabricWrite
from hedgehog_sync.defs.checks import fleet_in_sync, record_freshness_job
from hedgehog_sync_tests.defs.test_checks import current_status
from hedgehog_sync.defs.fleet import PENDING, fleet_view, fleet_watch, summary_hash
from hedgehog_sync.defs.schedules import RANGE_END_TAG, RANGE_START_TAG, sync_fleet_job
from hedgehog_sync.defs.tables import fleet_frame
from hedgehog_sync.devlab.demo import BROKEN_FABRIC, DEMO_FABRICS, DRIFTED_FABRIC, IN_SYNC_FABRIC
from hedgehog_sync.domain.inventory import FabricConfig
from hedgehog_sync.domain.report import utc_iso

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def cfg(name, priority="medium", enabled=True):
    return FabricConfig(name=name, priority=priority, enabled=enabled, git={"url": f"https://git.example/{name}.git"})


def row(name, status="in_sync", last=NOW - timedelta(seconds=30), **extra):
    return {"fabric": name, "status": status, "severity": "none", "score": 0.0, "health": 0.9, "priority": "medium",
            "effective_priority": "medium", "isolated": False, "differ": 0, "commit": "abc", "drift_since": "",
            "last_cycle_at": utc_iso(last) if last else None, "interval_seconds": 60, **extra}


def test_fleet_view_covers_the_inventory_with_partitions_and_judges_freshness():
    doc = {"rows": {"fab-a": row("fab-a"), "fab-b": row("fab-b", last=NOW - timedelta(minutes=10)),
                    "gone": row("gone")}}
    fabrics = [cfg("fab-a", priority="high"), cfg("fab-b"), cfg("fab-c"), cfg("fab-d", enabled=False), cfg("fab-e")]
    rows, first_seen = fleet_view(fabrics, ["fab-a", "fab-b", "fab-c", "fab-d"], doc,
                                  {"fab-c": utc_iso(NOW - timedelta(minutes=1))}, NOW)
    by_name = {r["fabric"]: r for r in rows}
    assert list(by_name) == ["fab-a", "fab-b", "fab-c", "fab-d"]  # no partition (fab-e), not in inventory (gone)
    assert by_name["fab-a"]["priority"] == "high"  # the inventory's word, not the last run's
    assert [by_name[n]["fresh"] for n in by_name] == [True, False, True, None]
    assert by_name["fab-c"]["status"] == by_name["fab-d"]["status"] == PENDING
    assert first_seen == {"fab-c": utc_iso(NOW - timedelta(minutes=1)), "fab-d": utc_iso(NOW)}


def test_the_summary_hash_ignores_what_changes_every_cycle():
    assert summary_hash([row("fab-a")]) == summary_hash([row("fab-a", last=NOW)])
    assert summary_hash([row("fab-a")]) != summary_hash([row("fab-a", status="drifted")])


def test_the_fleet_frame_puts_fabrics_needing_a_look_first():
    frame = fleet_frame([row("fab-a"), row("fab-b", status="drifted", severity="high"),
                         row("fab-c", status="unknown"), row("fab-d", status="drifted", severity="critical")])
    assert list(frame["fabric"]) == ["fab-c", "fab-d", "fab-b", "fab-a"]
    assert str(frame["isolated"].dtype) == "bool" and str(frame["differ"].dtype) == "int64"


def tick(instance, fleet, cursor=None):
    """One sensor tick, carried out as the daemon would: report its events, launch its runs."""
    result = fleet_watch(build_sensor_context(instance=instance, resources={"fleet": fleet}, cursor=cursor))
    assert isinstance(result, SensorResult)
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    for request in result.run_requests:
        assert record_freshness_job.execute_in_process(instance=instance, run_config=request.run_config).success
    return result


def fleet_check(instance):
    return instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(AssetKey("drift_report"), "fleet_in_sync"), limit=100)


def freshness(instance):
    records = instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(AssetKey("drift_report"), "report_fresh"), limit=100)
    return [(r.partition, r.status.value) for r in records]


def set_last_cycle(fleet_resource, instance, when: datetime) -> None:
    """fab-east's row as if its last cycle was at `when` (what a sync run writes with its batch)."""
    store = fleet_resource.state_store(instance)
    row = store.fleet_rows()["rows"][IN_SYNC_FABRIC]
    store.commit([FabricWrite(IN_SYNC_FABRIC, fleet_row={**row, "last_cycle_at": utc_iso(when)})])


def test_the_sensor_records_the_summary_and_freshness_once_then_only_news(demo_fleet, fleet_resource):
    defs = Definitions(assets=[fabric_sync], jobs=[sync_fleet_job],
                       resources={"fleet": fleet_resource, "alerts": AlertSink()})
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        first = tick(instance, fleet_resource)  # before any sync: every fabric pending, none late yet
        (summary,) = first.asset_events
        assert summary.metadata["pending"].value == 3
        assert sorted(freshness(instance)) == [(f, "SUCCEEDED") for f in sorted(DEMO_FABRICS)]
        assert fleet_check(instance) == []  # no fabric judged yet
        defs.resolve_job_def("sync_fleet").execute_in_process(
            instance=instance, raise_on_error=False,
            tags={RANGE_START_TAG: DEMO_FABRICS[0], RANGE_END_TAG: DEMO_FABRICS[-1]})
        assert len(freshness(instance)) == 6  # each new report comes with its checks
        rows = fleet_resource.state_store(instance).fleet_rows()["rows"]
        assert {n: r["status"] for n, r in rows.items()} == {
            IN_SYNC_FABRIC: "in_sync", DRIFTED_FABRIC: "drifted", BROKEN_FABRIC: "unknown"}

        second = tick(instance, fleet_resource, first.cursor)
        (summary,) = second.asset_events
        counts = {k: summary.metadata[k].value for k in ("fabrics", "in_sync", "drifted", "unknown", "critical", "stale")}
        assert counts == {"fabrics": 3, "in_sync": 1, "drifted": 1, "unknown": 1, "critical": 1, "stale": 0}
        table = summary.metadata["fabrics_table"]
        assert [r.data["fabric"] for r in table.records] == [BROKEN_FABRIC, DRIFTED_FABRIC, IN_SYNC_FABRIC]
        assert {c.name for c in table.schema.columns} >= {"status", "severity", "health", "priority", "isolated",
                                                          "commit", "drift_since", "fresh"}
        assert "fab-west" in summary.metadata["summary"].value
        # every fabric links to its report page in the UI (HEDGEHOG_SYNC_UI_URL, default port 3000)
        report_url = f"http://127.0.0.1:3000/assets/drift_report?view=partitions&partition={DRIFTED_FABRIC}"
        assert f"| [`{DRIFTED_FABRIC}`]({report_url}) |" in summary.metadata["summary"].value
        assert {r.data["fabric"]: r.data["report"] for r in table.records}[DRIFTED_FABRIC] == report_url
        # still fresh: only the fleet-wide check, now that fabrics have reports
        (request,) = second.run_requests
        assert request.tags["hedgehog-sync/stale"] == "none"
        (fleet_result,) = fleet_check(instance)
        assert (fleet_result.status.value, fleet_result.partition) == ("FAILED", None)
        evaluation = fleet_result.event.dagster_event.asset_check_evaluation_data
        assert evaluation.severity.value == "ERROR"
        assert evaluation.description == (f"3 fabrics: 1 unknown ({BROKEN_FABRIC}); 1 critically drifted "
                                          f"({DRIFTED_FABRIC}); 1 in sync")

        third = tick(instance, fleet_resource, second.cursor)
        assert third.asset_events == [] and third.run_requests == [] and third.skip_reason  # no news, no event

        # fab-east's runs stop (its last cycle ten minutes ago): its report_fresh flips, and the summary shows it
        set_last_cycle(fleet_resource, instance, datetime.now(timezone.utc) - timedelta(minutes=10))
        fourth = tick(instance, fleet_resource, third.cursor)
        (summary,) = fourth.asset_events
        assert summary.metadata["stale"].value == 1
        assert freshness(instance)[0] == (IN_SYNC_FABRIC, "FAILED") and len(freshness(instance)) == 7
        assert current_status(instance, "report_fresh")[IN_SYNC_FABRIC] == "FAILED"  # shown on its partition
        assert json.loads(fourth.cursor)["fresh"][IN_SYNC_FABRIC] is False
        # and when it syncs again, it flips back: a second result for the same fabric is recorded too
        set_last_cycle(fleet_resource, instance, datetime.now(timezone.utc))
        fifth = tick(instance, fleet_resource, fourth.cursor)
        assert freshness(instance)[0] == (IN_SYNC_FABRIC, "SUCCEEDED") and len(freshness(instance)) == 8
        assert len(fleet_check(instance)) == 1  # the fleet's worst never changed: recorded once

        # Materialize from the UI plans every check of drift_report and skips fleet_in_sync (the graph
        # yields no drift_report output): the next tick records the fleet's verdict again
        assert materialize([fabric_sync, fleet_in_sync], partition_key=DRIFTED_FABRIC, instance=instance,
                           resources={"fleet": fleet_resource, "alerts": AlertSink()}).success
        assert fleet_check(instance)[0].status.value == "PLANNED"
        sixth = tick(instance, fleet_resource, fifth.cursor)
        assert len(sixth.run_requests) == 1 and fleet_check(instance)[0].status.value == "FAILED"
        assert tick(instance, fleet_resource, sixth.cursor).run_requests == []


def test_the_summary_says_what_holds_automatic_syncing_and_which_fabrics_are_paused(demo_fleet, fleet_resource):
    from hedgehog_sync.defs.pause import clear_pause, set_pause

    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fabrics", list(DEMO_FABRICS))
        first = tick(instance, fleet_resource)
        (summary,) = first.asset_events
        assert summary.metadata["automatic_syncing"].value == "automatic syncing: running"
        assert tick(instance, fleet_resource, first.cursor).asset_events == []  # no news

        set_pause(instance, DRIFTED_FABRIC, by="alice", reason="cabling in rack 4")
        second = tick(instance, fleet_resource, first.cursor)
        (summary,) = second.asset_events  # a pause is news for the summary
        assert summary.metadata["automatic_syncing"].value == "automatic syncing: 1 fabric(s) paused"
        glance = summary.metadata["summary"].value
        assert glance.startswith("### Fleet: 3 fabrics")  # the title first, then what holds syncing
        assert glance.split("\n\n")[1] == "**automatic syncing: 1 fabric(s) paused**"
        paused = {r.data["fabric"]: r.data["paused"] for r in summary.metadata["fabrics_table"].records}
        assert "alice" in paused[DRIFTED_FABRIC] and "cabling in rack 4" in paused[DRIFTED_FABRIC]
        assert paused[IN_SYNC_FABRIC] in ("", None)

        set_pause(instance, None, by="bob", reason="change window")
        third = tick(instance, fleet_resource, second.cursor)
        (summary,) = third.asset_events
        assert summary.metadata["automatic_syncing"].value.startswith("automatic syncing: all paused by bob")

        clear_pause(instance, None)
        clear_pause(instance, DRIFTED_FABRIC)
        (summary,) = tick(instance, fleet_resource, third.cursor).asset_events
        assert summary.metadata["automatic_syncing"].value == "automatic syncing: running"
