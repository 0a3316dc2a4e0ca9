"""The operator's Dagster UI, for real: `hedgehog-sync demo --churn` (dagster dev with webserver and daemon)
started once for this module, checked through the webserver's GraphQL API and in headless Chromium.

The tests share the demo's first sync cycle and run in file order: what needs only the first reports
first, the schedule toggles (each leaves the schedule running), and last the churn test, which waits
for fab-east's drift to appear and clear in its history. README screenshots:
HEDGEHOG_SYNC_SCREENSHOTS=docs/screenshots .venv/bin/pytest hedgehog_sync_tests/ui -k screenshots
"""

import json
import re
import time

import pytest
import yaml

from hedgehog_sync.devlab.churn import CHURN_FABRIC, CHURN_VPC
from hedgehog_sync.devlab.demo import BROKEN_FABRIC, DEMO_FABRICS, DRIFTED_FABRIC, EXTRA_VPC, IN_SYNC_FABRIC
from hedgehog_sync.domain.health import parse_time
from hedgehog_sync.state import StateStore
from hedgehog_sync_tests.ui.conftest import CHURN_EVERY, WINDOW, wait_for
from hedgehog_sync_tests.ui.graphql import (
    ASSET_NODES, RESET_SCHEDULE, SCHEDULE_SELECTOR, START_SCHEDULE, STOP_SCHEDULE, partition_statuses,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

PARTITIONED = ("git_state", "k8s_state", "drift_report")
PER_FABRIC_CHECKS = ("in_sync", "no_critical_drift", "report_fresh")
EVENT_DESCRIPTIONS = """
query ($partitions: [String!]) { assetOrError(assetKey: {path: ["drift_report"]}) {
  ... on Asset { assetMaterializations(partitions: $partitions, limit: 1) { partition description } } } }
"""
FIRST_CYCLE_S = 420  # about 90 s on an idle machine; generous for a busy shared one
REPORT_KEYS = {"fabric", "status", "generated_at", "git", "cluster", "summary", "score", "severity",
               "drift_since", "resources", "errors"}  # docs/contracts.md#the-report-json


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

    def every_fabric_has_a_status():  # what each per-fabric check's Partitions tab shows
        statuses = {n: c for n, c in partition_statuses(demo.graphql).items() if n in PER_FABRIC_CHECKS}
        shown = {name: set(s["succeededPartitions"]) | set(s["failedPartitions"]) for name, s in statuses.items()}
        return statuses if all(v == set(DEMO_FABRICS) for v in shown.values()) else None
    statuses = wait_for("the per-fabric checks to show a status on every fabric", every_fabric_has_a_status, 300,
                        context=demo.log_tail)
    assert set(statuses) == set(PER_FABRIC_CHECKS) and {s["partitions"] for s in statuses.values()} == {"fabrics"}
    assert {DRIFTED_FABRIC, BROKEN_FABRIC} <= set(statuses["no_critical_drift"]["failedPartitions"])
    assert set(statuses["report_fresh"]["succeededPartitions"]) == set(DEMO_FABRICS)


def test_drifted_and_unknown_fabrics_fail_their_checks_and_the_fleet_check(demo, first_reports):
    """Issue 18: drift and unknown are Dagster's own signals: per fabric (the check's partition view)
    with the severity that says how bad, and for the whole fleet (fleet_in_sync)."""
    def settled():  # churn may move fab-east: judge it by its own latest report
        statuses = partition_statuses(demo.graphql)["in_sync"]
        latest = {f: demo.graphql.materializations("drift_report", f, limit=1)[0]["metadata"]["status"]
                  for f in DEMO_FABRICS}
        failing = {f for f, status in latest.items() if status != "in_sync"}
        return (statuses, latest) if set(statuses["failedPartitions"]) == failing and \
            set(statuses["succeededPartitions"]) == set(DEMO_FABRICS) - failing else None
    statuses, latest = wait_for("in_sync to fail exactly the fabrics not in sync", settled, 300,
                                context=demo.log_tail)
    assert {DRIFTED_FABRIC, BROKEN_FABRIC} <= set(statuses["failedPartitions"])
    for fabric, severity, words in ((DRIFTED_FABRIC, "ERROR", "drifted, worst critical"),
                                    (BROKEN_FABRIC, "ERROR", "status unknown: the cluster/Git could not be read: ")):
        result = demo.graphql.check_executions("in_sync", fabric, limit=1)[0]
        assert result["status"] == "FAILED" and result["partition"] == fabric
        assert result["evaluation"]["severity"] == severity
        assert result["evaluation"]["description"].startswith(f"{fabric}: ") and words in result["evaluation"]["description"]
        trend = {m["label"]: m.get("mdStr") for m in result["evaluation"]["metadataEntries"]}["recent_reports"]
        assert f"{fabric}: last " in trend and f"| {latest[fabric]} |" in trend  # the fabric's trend, newest first
    broken = demo.graphql.check_executions("no_critical_drift", BROKEN_FABRIC, limit=1)[0]
    assert broken["status"] == "FAILED" and "status unknown" in broken["evaluation"]["description"]

    fleet = fleet_check_result(demo)
    assert fleet["status"] == "FAILED" and fleet["evaluation"]["severity"] == "ERROR"
    assert f"unknown ({BROKEN_FABRIC})" in fleet["evaluation"]["description"]
    assert DRIFTED_FABRIC in fleet["evaluation"]["description"]


def test_each_drift_report_event_is_labelled_with_status_severity_and_counts(demo, first_reports):
    west = first_reports[DRIFTED_FABRIC]
    (event,) = demo.graphql(EVENT_DESCRIPTIONS, partitions=[DRIFTED_FABRIC])["assetOrError"]["assetMaterializations"]
    assert event["description"].startswith("drifted · critical · 3 differ (1 modified, 1 missing, 1 extra) · score ")
    assert "· health " in event["description"] and west["metadata"]["status"] == "drifted"


def fleet_summary_with_reports(demo) -> dict:
    def summary_with_reports():
        events = demo.graphql.materializations("fleet_summary", limit=1)
        meta = events[0]["metadata"] if events else {}
        return meta if meta.get("fabrics") == len(DEMO_FABRICS) and meta["pending"] == 0 else None
    return wait_for("a fleet_summary with every fabric reported", summary_with_reports, 300, context=demo.log_tail)


def fleet_check_result(demo) -> dict:
    def fleet_verdict():
        found = demo.graphql.check_executions("fleet_in_sync", None, limit=1)
        return found[0] if found and found[0]["status"] in ("FAILED", "SUCCEEDED") else None
    return wait_for("fleet_in_sync to be recorded by the fleet_watch sensor", fleet_verdict, 300, context=demo.log_tail)


def test_fleet_summary_lists_every_fabric(demo, first_reports):
    meta = fleet_summary_with_reports(demo)
    rows = {r["fabric"]: r for r in meta["fabrics_table"]["records"]}
    assert set(rows) == set(DEMO_FABRICS) and meta["fabrics"] == 3
    assert rows[DRIFTED_FABRIC]["status"] == "drifted" and rows[DRIFTED_FABRIC]["severity"] == "critical"
    assert rows[BROKEN_FABRIC]["status"] == "unknown"
    assert {"health", "priority", "isolated", "commit", "drift_since", "fresh"} <= set(rows[DRIFTED_FABRIC])
    assert meta["summary"].startswith("### Fleet: 3 fabrics")
    for fabric in DEMO_FABRICS:  # each fabric links to its report page in this UI
        url = f"{demo.url}/assets/drift_report?view=partitions&partition={fabric}"
        assert f"[`{fabric}`]({url})" in meta["summary"] and rows[fabric]["report"] == url


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


def test_browser_fleet_rows_link_to_each_fabric_report(browser, demo, first_reports):
    open_page(browser, demo, "/assets/fleet_summary", "Fleet: 3 fabrics", "fabrics_table")
    link = wait_for("fab-west's link in the fleet table", lambda: browser.find_element(
        "xpath", f"//a[normalize-space(.)='{DRIFTED_FABRIC}' and contains(@href, 'partition={DRIFTED_FABRIC}')]"),
        120, interval=1.0)
    assert link.get_attribute("href") == f"{demo.url}/assets/drift_report?view=partitions&partition={DRIFTED_FABRIC}"
    browser.get(link.get_attribute("href"))  # the same page the link opens (a markdown link may open a new tab)
    open_page(browser, demo, REPORT_PAGE, f"{DRIFTED_FABRIC}: 3 resources differ from Git")


def test_browser_check_partitions_show_drifted_and_unknown_fabrics_failing(browser, demo, first_reports, screenshot):
    """The in_sync check's Partitions view: one dot per fabric, red while it is drifted or unknown."""
    open_page(browser, demo, "/assets/drift_report?view=checks&checkDetail=in_sync", "in_sync", "Partitions")
    browser.find_element("xpath", "//button[normalize-space(.)='Partitions']").click()
    body = wait_for("the check's partition statuses", lambda: (lambda t: t if "Failed (" in t and "Passed (" in t
                    else None)(browser.find_element("tag name", "body").text), 120, interval=1.0)
    failed = int(re.search(r"(?<!Execution )Failed \((\d+)\)", body).group(1))
    assert failed >= 2, body[:2000]  # fab-west (drifted, critical) and fab-lab (unknown); fab-east when churned
    assert "fleet_in_sync" in body and "no_critical_drift" in body
    screenshot(browser, "check-partitions")


def launch_materialize(browser, demo, path: str, button: str, launch: str) -> float:
    """Click `button` on the page, confirm the graph's other assets, then `launch`; the time it was clicked."""
    open_page(browser, demo, path, button)
    browser.find_element("xpath", f"//button[contains(normalize-space(.), '{button}')]").click()

    def dialog_ready():
        confirm = browser.find_elements("xpath", "//div[@role='dialog']//button[normalize-space(.)='Confirm']")
        if confirm:  # "Additional assets will be materialized": the graph's three assets go together
            confirm[0].click()
            return None
        found = browser.find_elements("xpath", f"//div[@role='dialog']//button[normalize-space(.)='{launch}']")
        return found[0] if found and found[0].is_enabled() else None
    if launch == "Launch backfill":  # nothing preselected: pick every fabric
        wait_for("the launch dialog", lambda: dialog_ready() or browser.find_elements(
            "xpath", "//div[@role='dialog']//button[normalize-space(.)='All']"), 60, interval=1.0)
        browser.find_element("xpath", "//div[@role='dialog']//button[normalize-space(.)='All']").click()
    clicked = time.time()
    wait_for(f"the dialog's {launch!r} button", dialog_ready, 120, interval=1.0).click()
    return clicked


def fabric_store(demo) -> StateStore:
    """The demo's state store, opened as another process would (the demo's SQLite file)."""
    return StateStore(f"sqlite:///{demo.root / 'dagster_home' / 'storage' / 'hedgehog_sync.db'}")


def wait_for_cycle_recorded(demo, fabrics, since: float, runs_of: str) -> list[dict]:
    """Wait until each fabric's cycle after `since` is recorded and the runs of `runs_of` since then ended;
    returns those runs."""
    def done():
        runs = [r for r in demo.graphql.runs(limit=20, pipelineName=runs_of) if r["creationTime"] >= since - 1]
        if not runs or any(r["status"] not in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
            return None
        checked = {f: parse_time(fabric_store(demo).health(f).last_cycle_at) for f in fabrics}
        return runs if all(t and t.timestamp() >= since - 1 for t in checked.values()) else None
    return wait_for(f"{runs_of} runs to record {fabrics}", done, 420, interval=3.0, context=demo.log_tail)


@pytest.mark.parametrize("asset, fabric", [("drift_report", DRIFTED_FABRIC), ("git_state", IN_SYNC_FABRIC),
                                           ("k8s_state", BROKEN_FABRIC)])
def test_browser_materialize_one_fabric_from_its_asset_page(browser, demo, first_reports, asset, fabric):
    """Issue 18: the first button an operator presses. One fabric, from each asset's partition page."""
    clicked = launch_materialize(browser, demo, f"/assets/{asset}?view=partitions&partition={fabric}",
                                 "Materialize", "Launch 1 run")
    runs = wait_for_cycle_recorded(demo, [fabric], clicked, "__ASSET_JOB")
    mine = [r for r in runs if r["tags"].get("dagster/partition") == fabric]
    assert mine and all(r["status"] == "SUCCESS" for r in mine), runs  # the unknown fab-lab too: a result


def test_browser_materialize_all_from_the_asset_graph(browser, demo, first_reports, screenshot):
    clicked = launch_materialize(browser, demo, ASSET_GRAPH, "Materialize all", "Launch backfill")
    runs = wait_for_cycle_recorded(demo, list(DEMO_FABRICS), clicked, "__ASSET_JOB")
    assert all(r["status"] == "SUCCESS" for r in runs), runs
    backfill = demo.graphql.backfills(limit=1)[0]
    assert sorted(backfill["partitionNames"] or []) == sorted(DEMO_FABRICS)


def schedule_switch(browser):
    return browser.find_element("css selector", "label input[type=checkbox]")


def test_browser_schedule_toggles_off_and_on_by_clicking(browser, demo, screenshot):
    open_page(browser, demo, SCHEDULE_PAGE, "fleet_sync_every_minute", "Running")
    # "Running" may be on the page before the switch is (runs launched by earlier tests say it too)
    wait_for("the schedule's switch", lambda: browser.find_elements("css selector", "label input[type=checkbox]"),
             120, interval=1.0)
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
    fleet_summary_with_reports(demo)  # every fabric reported, and the fleet's verdict recorded
    fleet_check_result(demo)
    open_page(browser, demo, ASSET_GRAPH, *PARTITIONED, "fleet_summary")
    screenshot(browser, "asset-graph", readme=True)
    open_page(browser, demo, REPORT_PAGE, f"{DRIFTED_FABRIC}: 3 resources differ from Git")
    heading = browser.find_element("xpath", f"//h3[contains(., '{DRIFTED_FABRIC}: 3 resources differ')]")
    scroll_to(browser, heading)
    screenshot(browser, "drifted-report", readme=True)
    open_page(browser, demo, "/assets/fleet_summary", "Fleet: 3 fabrics", "fabrics_table")
    screenshot(browser, "fleet-summary", readme=True)
    try:  # the churn drifts fab-east every other step: show it in sync, as the caption says, when it is
        wait_for(f"{IN_SYNC_FABRIC} in sync", lambda: IN_SYNC_FABRIC in partition_statuses(demo.graphql)["in_sync"][
            "succeededPartitions"], 2 * CHURN_EVERY + 60, interval=2.0)
    except AssertionError:
        pass
    open_page(browser, demo, "/assets/drift_report?view=checks&checkDetail=in_sync", "in_sync", "Partitions")
    browser.find_element("xpath", "//button[normalize-space(.)='Partitions']").click()
    wait_for("the check's partition statuses", lambda: "Failed (" in browser.find_element("tag name", "body").text,
             120, interval=1.0)
    shown = [e for e in browser.find_elements("xpath", f"//*[normalize-space(text())='{DRIFTED_FABRIC}']")
             if e.is_displayed()]
    shown[-1].click()  # the partition list's row (the filter's chip comes first)
    wait_for("fab-west's in_sync result and trend", lambda: "recent_reports" in browser.find_element(
        "tag name", "body").text, 120, interval=1.0)
    screenshot(browser, "check-partitions", readme=True)
    open_page(browser, demo, "/assets/drift_report?view=events", "Description", DRIFTED_FABRIC)
    rows = [e for e in browser.find_elements("xpath", f"//*[normalize-space(text())='{DRIFTED_FABRIC}']")
            if e.is_displayed()]
    rows[0].click()  # the newest fab-west event in the list: its label is the first thing on the right
    wait_for("fab-west's event label", lambda: "drifted · critical · 3 differ" in browser.find_element(
        "tag name", "body").text, 60, interval=1.0)
    screenshot(browser, "events", readme=True)
    open_page(browser, demo, SCHEDULE_PAGE, "fleet_sync_every_minute", "Running", "Tick history")
    screenshot(browser, "schedule", readme=True)
    # the report at a 1600 px wide window, for a person to look at: the "in Git" column and the kubectl hint
    browser.set_window_size(1600, 1000)
    try:
        open_page(browser, demo, REPORT_PAGE, f"{DRIFTED_FABRIC}: 3 resources differ from Git")
        scroll_to(browser, browser.find_element("xpath", f"//h3[contains(., '{DRIFTED_FABRIC}: 3 resources differ')]"))
        screenshot(browser, "drifted-report-1600")
    finally:
        browser.set_window_size(*WINDOW)


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
