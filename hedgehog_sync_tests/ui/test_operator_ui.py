"""The operator's Dagster UI, for real: `hedgehog-sync demo --churn` (dagster dev with webserver and daemon)
started once for this module, checked through the webserver's GraphQL API and in headless Chromium.

The tests share the demo's first sync cycle and run in file order: what needs only the first reports
first, the schedule toggles (each leaves the schedule running), and last the churn test, which waits
for fab-east's drift to appear and clear in its history. README screenshots:
HEDGEHOG_SYNC_SCREENSHOTS=docs/screenshots .venv/bin/pytest hedgehog_sync_tests/ui -k screenshots
"""

import json

import pytest
import yaml

from hedgehog_sync.devlab.churn import CHURN_FABRIC, CHURN_VPC
from hedgehog_sync.devlab.demo import BROKEN_FABRIC, DEMO_FABRICS, DRIFTED_FABRIC, EXTRA_VPC
from hedgehog_sync_tests.ui.conftest import CHURN_EVERY, wait_for
from hedgehog_sync_tests.ui.graphql import (
    ASSET_NODES, RESET_SCHEDULE, SCHEDULE_SELECTOR, START_SCHEDULE, STOP_SCHEDULE, partition_statuses,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

PARTITIONED = ("git_state", "k8s_state", "drift_report")
FIRST_CYCLE_S = 420  # about 90 s on an idle machine; generous for a busy shared one
REPORT_KEYS = {"fabric", "status", "generated_at", "git", "cluster", "summary", "score", "severity",
               "drift_since", "resources", "errors"}  # DESIGN section 6


@pytest.fixture(scope="module")
def first_reports(demo):
    """Every demo fabric's newest drift_report materialization, once the first cycle recorded them."""
    def all_reported():
        found = {f: demo.graphql.materializations("drift_report", f, limit=1) for f in DEMO_FABRICS}
        assert demo.alive(), "the demo exited"
        return found if all(found.values()) else None
    found = wait_for("a drift_report of every demo fabric", all_reported, FIRST_CYCLE_S, context=demo.log_tail)
    return {fabric: events[0] for fabric, events in found.items()}


# --- through the webserver's GraphQL API ------------------------------------------------------------

def test_demo_syncs_every_fabric_with_no_clicks(demo, first_reports):
    expected = {(d["kind"], d["name"], d["state"]) for d in yaml.safe_load((demo.root / "drift.yaml").read_text())}
    west = first_reports[DRIFTED_FABRIC]["metadata"]["report"]
    assert west["status"] == "drifted"
    assert {(r["kind"], r["name"], r["state"]) for r in west["resources"]} == expected
    assert first_reports[BROKEN_FABRIC]["metadata"]["status"] == "unknown"


def test_asset_graph_has_the_partitioned_assets_their_edges_and_the_fabrics(demo, first_reports):
    nodes = {"/".join(n["assetKey"]["path"]): n for n in demo.graphql(ASSET_NODES)["assetNodes"]}
    assert set(PARTITIONED) | {"fleet_summary", "scheduler_metrics"} == set(nodes)
    for key in PARTITIONED:
        node = nodes[key]
        assert node["isPartitioned"] and node["partitionDefinition"] == {"name": "fabrics", "type": "DYNAMIC"}
        assert sorted(node["partitionKeys"]) == sorted(DEMO_FABRICS)
        assert node["groupName"] == "fabric_drift" and node["owners"] == [{"team": "netops"}] and node["description"]
    edges = {(d["path"][0], key) for key, n in nodes.items() for d in n["dependencyKeys"]}
    assert edges == {("git_state", "drift_report"), ("k8s_state", "drift_report"), ("drift_report", "fleet_summary")}
    assert {k: set(nodes[k]["kinds"]) for k in PARTITIONED} == {
        "git_state": {"git", "yaml"}, "k8s_state": {"kubernetes"}, "drift_report": {"pandas"}}


def test_each_fabric_materialization_carries_the_contract_fields(demo, first_reports):
    for fabric, event in first_reports.items():
        meta, tags = event["metadata"], {t["key"]: t["value"] for t in event["tags"]}
        report = meta["report"]
        assert REPORT_KEYS <= set(report), fabric
        assert set(report["summary"]) == {"in_sync", "modified", "missing", "extra"}
        assert {"commit", "ref", "resources"} <= set(report["git"]) and {"resources", "server"} <= set(report["cluster"])
        assert (event["partition"], report["fabric"], meta["status"]) == (fabric, fabric, report["status"])
        assert (meta["severity"], meta["score"]) == (report["severity"], report["score"])
        assert meta["commit"] == report["git"]["commit"] and len(meta["commit"]) == 40
        assert meta["commit_message"] == f"{fabric}: initial wiring and VPCs"
        assert meta["commit_author"] == "hedgehog-sync devlab"
        assert tags["dagster/data_version"]
        assert meta["summary"].startswith("### ") and fabric in meta["summary"]
        assert [c["name"] for c in meta["changed_resources"]["columns"]][:4] == ["severity", "state", "kind", "name"]
        assert len(meta["changed_resources"]["records"]) == len(report["resources"])
        for number in ("in_sync", "modified", "missing", "extra", "health", "git_resources", "live_resources"):
            assert isinstance(meta[number], (int, float)), (fabric, number)
    west = first_reports[DRIFTED_FABRIC]["metadata"]["changed_resources"]["records"]
    assert (west[0]["severity"], west[0]["name"]) == ("critical", EXTRA_VPC)  # worst first


def test_checks_show_a_result_per_fabric(demo, first_reports):
    west = demo.graphql.check_executions("no_critical_drift", DRIFTED_FABRIC)
    assert west[0]["status"] == "FAILED" and EXTRA_VPC in west[0]["evaluation"]["description"]

    def every_fabric_has_a_status():  # what the check's Partitions tab shows
        statuses = partition_statuses(demo.graphql)
        shown = {name: set(s["succeededPartitions"]) | set(s["failedPartitions"]) for name, s in statuses.items()}
        return statuses if all(v == set(DEMO_FABRICS) for v in shown.values()) else None
    statuses = wait_for("both checks to show a status on every fabric", every_fabric_has_a_status, 300,
                        context=demo.log_tail)
    assert {s["partitions"] for s in statuses.values()} == {"fabrics"}
    assert DRIFTED_FABRIC in statuses["no_critical_drift"]["failedPartitions"]
    assert BROKEN_FABRIC in statuses["no_critical_drift"]["succeededPartitions"]
    assert set(statuses["report_fresh"]["succeededPartitions"]) == set(DEMO_FABRICS)


def test_fleet_summary_lists_every_fabric(demo, first_reports):
    def summary_with_reports():
        events = demo.graphql.materializations("fleet_summary", limit=1)
        meta = events[0]["metadata"] if events else {}
        return meta if meta.get("fabrics") == len(DEMO_FABRICS) and meta["pending"] == 0 else None
    meta = wait_for("a fleet_summary with every fabric reported", summary_with_reports, 300, context=demo.log_tail)
    rows = {r["fabric"]: r for r in meta["fabrics_table"]["records"]}
    assert set(rows) == set(DEMO_FABRICS) and meta["fabrics"] == 3
    assert rows[DRIFTED_FABRIC]["status"] == "drifted" and rows[DRIFTED_FABRIC]["severity"] == "critical"
    assert rows[BROKEN_FABRIC]["status"] == "unknown"
    assert {"health", "priority", "isolated", "commit", "drift_since", "fresh"} <= set(rows[DRIFTED_FABRIC])
    assert meta["summary"].startswith("### Fleet: 3 fabrics")


def test_schedule_stops_and_starts_through_graphql(demo):
    state = demo.graphql.schedule_state()
    assert state["status"] == "RUNNING"  # on by default, with no clicks
    try:
        stopped = demo.graphql(STOP_SCHEDULE, id=state["id"])["stopRunningSchedule"]
        assert stopped["__typename"] == "ScheduleStateResult", stopped
        assert demo.graphql.schedule_state()["status"] == "STOPPED"
    finally:
        started = demo.graphql(START_SCHEDULE, selector=SCHEDULE_SELECTOR)["startSchedule"]
    assert started["__typename"] == "ScheduleStateResult", started
    assert demo.graphql.schedule_state()["status"] == "RUNNING"
    restore_default_schedule_state(demo)


def restore_default_schedule_state(demo):
    """Back to the state the code declares (running by default), as if never toggled."""
    reset = demo.graphql(RESET_SCHEDULE, selector=SCHEDULE_SELECTOR)["resetSchedule"]
    assert reset["__typename"] == "ScheduleStateResult", reset
    assert demo.graphql.schedule_state()["status"] == "RUNNING"


# --- in headless Chromium ---------------------------------------------------------------------------

def open_page(browser, demo, path, *texts, timeout=180):
    """Load a UI page and wait until every text is on it and nothing says Loading (the UI renders
    after its own GraphQL calls)."""
    browser.get(demo.url + path)

    def shown():
        body = browser.find_element("tag name", "body").text
        return all(t in body for t in texts) and "Loading" not in body
    return wait_for(f"{path} to show {texts}", shown, timeout, interval=1.0, context=demo.log_tail)


def scroll_to(browser, element, above=90):
    """Scroll the element's scrolling container so the element sits near the top, `above` px below it."""
    browser.execute_script("""
        const el = arguments[0]; el.scrollIntoView({block: 'start'});
        let box = el.parentElement;
        while (box && !(box.scrollHeight > box.clientHeight && /auto|scroll/.test(getComputedStyle(box).overflowY))) {
            box = box.parentElement;
        }
        if (box) { box.scrollTop = Math.max(0, box.scrollTop - arguments[1]); }""", element, above)


ASSET_GRAPH = "/asset-groups?expanded=global@global:fabric_drift,global@global:fleet"
REPORT_PAGE = f"/assets/drift_report?view=partitions&partition={DRIFTED_FABRIC}"
SCHEDULE_PAGE = "/locations/hedgehog_sync/schedules/fleet_sync_every_minute"


def test_browser_asset_graph_renders_the_assets(browser, demo, first_reports, screenshot):
    open_page(browser, demo, ASSET_GRAPH, *PARTITIONED, "fleet_summary")
    screenshot(browser, "asset-graph")


def test_browser_partition_page_shows_the_markdown_report(browser, demo, first_reports, screenshot):
    open_page(browser, demo, REPORT_PAGE, f"{DRIFTED_FABRIC}: 3 resources differ from Git")
    heading = browser.find_element("xpath", f"//h3[contains(., '{DRIFTED_FABRIC}: 3 resources differ')]")
    table = heading.find_element("xpath", "following::table[1]")  # markdown rendered, not shown as text
    assert "modified" in table.text and "missing" in table.text
    drift = heading.find_element("xpath", f"following::table[.//td[contains(., '{EXTRA_VPC}')]][1]")
    assert "critical" in drift.text and "vpcs/vpc-01.yaml#1" in drift.text
    scroll_to(browser, heading)
    screenshot(browser, "drifted-report")


def schedule_switch(browser):
    return browser.find_element("css selector", "label input[type=checkbox]")


def test_browser_schedule_toggles_off_and_on_by_clicking(browser, demo, screenshot):
    open_page(browser, demo, SCHEDULE_PAGE, "fleet_sync_every_minute", "Running")
    switch = schedule_switch(browser)
    assert switch.is_selected() and demo.graphql.schedule_state()["status"] == "RUNNING"
    try:
        switch.find_element("xpath", "..").click()  # the label is what a person clicks
        wait_for("the schedule to stop", lambda: demo.graphql.schedule_state()["status"] == "STOPPED", 60)
        wait_for("the switch to show it", lambda: not schedule_switch(browser).is_selected(), 60, interval=0.5)
        screenshot(browser, "schedule-stopped")
        schedule_switch(browser).find_element("xpath", "..").click()
        wait_for("the schedule to run again", lambda: demo.graphql.schedule_state()["status"] == "RUNNING", 60)
        wait_for("the switch to show it", lambda: schedule_switch(browser).is_selected(), 60, interval=0.5)
        screenshot(browser, "schedule-running")
    finally:
        restore_default_schedule_state(demo)  # never leave the demo without its schedule


def test_screenshots_for_the_readme(browser, demo, first_reports, screenshot):
    """The README's tour, regenerated with HEDGEHOG_SYNC_SCREENSHOTS=docs/screenshots."""
    open_page(browser, demo, ASSET_GRAPH, *PARTITIONED, "fleet_summary")
    screenshot(browser, "asset-graph", readme=True)
    open_page(browser, demo, REPORT_PAGE, f"{DRIFTED_FABRIC}: 3 resources differ from Git")
    heading = browser.find_element("xpath", f"//h3[contains(., '{DRIFTED_FABRIC}: 3 resources differ')]")
    scroll_to(browser, heading)
    screenshot(browser, "drifted-report", readme=True)
    open_page(browser, demo, "/assets/fleet_summary", "Fleet: 3 fabrics", "fabrics_table")
    screenshot(browser, "fleet-summary", readme=True)
    open_page(browser, demo, SCHEDULE_PAGE, "fleet_sync_every_minute", "Running", "Tick history")
    screenshot(browser, "schedule", readme=True)


# --- last: the churn makes drift appear and clear in fab-east's history -------------------------------

def test_churn_drift_appears_and_clears_in_the_history(demo, first_reports):
    def appeared_and_cleared():
        history = list(reversed(demo.graphql.materializations("drift_report", CHURN_FABRIC, limit=50)))
        statuses = [e["metadata"]["status"] for e in history]
        if "drifted" in statuses and "in_sync" in statuses[statuses.index("drifted"):]:
            return history
        return None
    # two churn steps and the syncs after them; generous for a busy machine
    history = wait_for(f"{CHURN_FABRIC} to drift and come back in sync", appeared_and_cleared,
                       6 * CHURN_EVERY + FIRST_CYCLE_S, interval=5, context=demo.log_tail)
    drifted = next(e for e in history if e["metadata"]["status"] == "drifted")["metadata"]["report"]
    churned = {(r["kind"], r["name"]) for r in drifted["resources"]}
    assert churned <= {("VPC", "vpc-01"), ("VPC", CHURN_VPC)}, churned
    log = demo.log_path.read_text()
    assert "churn step 0" in log and "churn step 1" in log
    print(json.dumps([(e["metadata"]["status"], e["timestamp"]) for e in history]))
