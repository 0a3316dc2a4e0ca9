"""`hedgehog-sync check` end to end: a real Git repository on disk, the devlab API server speaking the
Kubernetes protocol on 127.0.0.1, and the installed console script run as a child process."""

from __future__ import annotations

import copy
import datetime
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from dagster import DagsterInstance

from hedgehog_sync.cli import main
from hedgehog_sync.devlab.apiserver import ApiServerHandle, FabricStore, start_apiserver, write_kubeconfig
from hedgehog_sync.devlab.generator import FabricSpec, generate_controller_objects, generate_fabric, split_into_files
from hedgehog_sync.devlab.gitrepos import commit_files, init_repo
from hedgehog_sync.state import StateStore
from hedgehog_sync_tests.domain.test_fidelity import stored

CONSOLE_SCRIPT = Path(sys.executable).with_name("hedgehog-sync")
# docs/contracts.md#the-report-json: the report's keys, stable for scripts and CI.
REPORT_KEYS = {"fabric", "status", "generated_at", "git", "cluster", "summary", "score", "severity",
               "drift_since", "resources", "errors"}
SPEC = FabricSpec(seed=21)
IN_SYNC, DRIFTED, BROKEN, UNREACHABLE = "fab-sync", "fab-drift", "fab-broken", "fab-gone"
# Issue 12: an unquoted date in Git (the live object holds the string kubectl sent); an object in Git
# whose name carries a carriage return and ANSI escapes (the API server refuses such a name).
DATED, HOSTILE = "fab-dated", "fab-hostile"
EXTRA_VPC = "rogue-vpc"
HOSTILE_NAME = "evil\r\x1b[2K\x1b[31mvpc"


@dataclass
class Fleet:
    root: Path
    inventory: Path
    server: ApiServerHandle
    commits: dict[str, str]
    desired: list[dict]
    drift: dict[tuple[str, str], tuple]  # (kind, name) -> (state, severity, changes)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Fleet:
    root = tmp_path_factory.mktemp("cli-fleet")
    desired = generate_fabric("fab-cli", SPEC)
    store = FabricStore()
    commits: dict[str, str] = {}
    entries = []
    handle = start_apiserver(store, port=0)
    for fabric in (IN_SYNC, DRIFTED, BROKEN, UNREACHABLE, DATED, HOSTILE):
        in_git = copy.deepcopy(desired)
        if fabric == DATED:  # PyYAML writes a date unquoted: `reviewed: 2024-01-01`
            next(o for o in in_git if o["kind"] == "VPC")["metadata"]["annotations"] = {
                "reviewed": datetime.date(2024, 1, 1)}
        if fabric == HOSTILE:
            rogue = copy.deepcopy(next(o for o in desired if o["kind"] == "VPC"))
            rogue["metadata"] = {"name": HOSTILE_NAME}
            in_git.append(rogue)
        files: dict[str, str | bytes | None] = {f"fabrics/{fabric}/{p}": text
                                                  for p, text in split_into_files(in_git).items()}
        files["README.md"] = "# GitOps repository\n"
        if fabric == BROKEN:
            files[f"fabrics/{fabric}/vpcs/broken.yaml"] = "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\n" \
                                                          "metadata: {name: vpc-x\nspec: {}\n"
        repo = init_repo(root / "git" / fabric)
        commits[fabric] = commit_files(repo, files, f"{fabric}: wiring and VPCs")
        store.add_fabric(fabric, f"token-{fabric}-{os.getpid()}")
        for obj in desired:
            live = stored(obj)
            if fabric == DATED and obj is next(o for o in desired if o["kind"] == "VPC"):
                live["metadata"]["annotations"] = {"reviewed": "2024-01-01"}  # what kubectl sends
            store.put(fabric, live, manager="kubectl")
        for obj in generate_controller_objects("fab-cli", SPEC, desired):
            store.put(fabric, obj, manager="fabric-controller")
        kubeconfig = root / "kube" / f"{fabric}.kubeconfig"
        if fabric == UNREACHABLE:
            write_kubeconfig(kubeconfig, f"http://127.0.0.1:{_closed_port()}/fabrics/{fabric}", "t", fabric)
        else:
            handle.write_kubeconfig(fabric, kubeconfig)
        entries.append({"name": fabric, "priority": "high",
                        "git": {"url": f"file://{root / 'git' / fabric}", "ref": "main",
                                "path": f"fabrics/{fabric}", "allow_local": True},
                        "kubernetes": {"kubeconfig": str(kubeconfig), "context": fabric}})
    drift = _drift_by_hand(store, desired)
    inventory = root / "fabrics.yaml"
    inventory.write_text(yaml.safe_dump({"fabrics": entries}, sort_keys=False))
    yield Fleet(root, inventory, handle, commits, desired, drift)
    handle.stop()


def _drift_by_hand(store: FabricStore, desired: list[dict]) -> dict[tuple[str, str], tuple]:
    """kubectl edit a VLAN, kubectl delete an attachment, kubectl create a VPC: what the report must say."""
    vpc = next(o for o in desired if o["kind"] == "VPC")
    name = vpc["metadata"]["name"]
    live = store.get(DRIFTED, "vpc.githedgehog.com", "vpcs", name)
    subnet = sorted(live["spec"]["subnets"])[0]
    vlan = live["spec"]["subnets"][subnet]["vlan"]
    live["spec"]["subnets"][subnet]["vlan"] = vlan + 500
    store.put(DRIFTED, live, manager="kubectl-edit")
    attachment = next(o for o in desired if o["kind"] == "VPCAttachment")["metadata"]["name"]
    store.delete(DRIFTED, "vpc.githedgehog.com", "vpcattachments", attachment)
    rogue = copy.deepcopy(vpc)
    rogue["metadata"] = {"name": EXTRA_VPC}
    for sub in rogue["spec"]["subnets"].values():
        sub["vlan"] += 1000
    store.put(DRIFTED, stored(rogue), manager="kubectl-create")
    return {
        ("VPC", name): ("modified", "high",
                        [{"op": "replace", "path": f"/spec/subnets/{subnet}/vlan", "desired": vlan,
                          "actual": vlan + 500, "severity": "high"}]),
        ("VPCAttachment", attachment): ("missing", "high", []),
        ("VPC", EXTRA_VPC): ("extra", "critical", []),
    }


@pytest.fixture(autouse=True)
def _no_fleet_state(monkeypatch) -> None:
    """`check` reads the fleet's last report from these when set: each test says which it uses."""
    for name in ("HEDGEHOG_SYNC_GIT_SCRATCH", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)


def run_check(fleet: Fleet, fabric: str, *args: str, inventory: Path | None = None,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The installed console script, in its own process, the way CI pipelines call it."""
    assert CONSOLE_SCRIPT.exists(), f"console script not installed at {CONSOLE_SCRIPT}"
    env = {**{k: v for k, v in os.environ.items()
              if k not in ("HEDGEHOG_SYNC_INVENTORY", "KUBECONFIG", "HEDGEHOG_SYNC_GIT_SCRATCH", "DAGSTER_HOME")},
           **(env or {})}
    return subprocess.run(
        [str(CONSOLE_SCRIPT), "check", "--inventory", str(inventory or fleet.inventory), "--fabric", fabric, *args],
        capture_output=True, text=True, timeout=120, env=env, cwd=fleet.root)


def test_in_sync_fabric_exits_0_with_the_report_contract(fleet: Fleet) -> None:
    done = run_check(fleet, IN_SYNC, "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert REPORT_KEYS <= set(report)
    assert report["fabric"] == IN_SYNC and report["status"] == "in_sync"
    assert report["git"]["commit"] == fleet.commits[IN_SYNC] and report["git"]["ref"] == "main"
    assert report["git"]["resources"] == len(fleet.desired)
    assert report["cluster"]["server"] == fleet.server.fabric_url(IN_SYNC)
    # The cluster also holds the controller's Agents and DHCPSubnets: never extra.
    assert report["cluster"]["resources"] > len(fleet.desired)
    assert report["summary"] == {"in_sync": len(fleet.desired), "modified": 0, "missing": 0, "extra": 0}
    assert (report["score"], report["severity"], report["drift_since"]) == (0.0, "none", None)
    assert report["resources"] == [] and report["errors"] == []


def test_drifted_fabric_exits_1_and_names_every_change(fleet: Fleet) -> None:
    done = run_check(fleet, DRIFTED, "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert REPORT_KEYS <= set(report)
    assert report["status"] == "drifted" and report["severity"] == "critical"
    assert report["summary"] == {"in_sync": len(fleet.desired) - 2, "modified": 1, "missing": 1, "extra": 1}
    assert 0 < report["score"] < 1 and report["drift_since"] == report["generated_at"]
    got = {(r["kind"], r["name"]): (r["state"], r["severity"], r["changes"]) for r in report["resources"]}
    assert got == fleet.drift
    for r in report["resources"]:
        assert r["apiVersion"] == "vpc.githedgehog.com/v1beta1" and r["namespace"] == "default"
        assert r["drift_since"] == report["generated_at"]
        assert r["state"] == "extra" or r["source"].startswith("vpcs/")


def test_table_format_is_for_people(fleet: Fleet) -> None:
    done = run_check(fleet, DRIFTED, "--format", "table")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == next(line for line in lines if line.startswith(f"fabric {DRIFTED}: drifted (severity critical"))
    assert f"git {fleet.commits[DRIFTED][:12]} (main)" in lines[1]
    header = next(i for i, line in enumerate(lines) if line.split()[:4] == ["SEVERITY", "STATE", "KIND", "NAME"])
    rows = [line.split() for line in lines[header + 1:] if line.strip()]
    # Worst first, then by kind and name.
    assert [row[:3] for row in rows] == [["critical", "extra", "VPC"], ["high", "modified", "VPC"],
                                         ["high", "missing", "VPCAttachment"]]
    # Where each resource is in Git (file#document); only the cluster has the extra one.
    assert rows[0][4] == "—" and rows[1][4].startswith("vpcs/") and "#" in rows[1][4]
    ((vpc_kind, vpc_name),) = [k for k, v in fleet.drift.items() if v[0] == "modified"]
    change = fleet.drift[(vpc_kind, vpc_name)][2][0]
    assert f"replace `{change['path']}`: {change['desired']} → {change['actual']}" in done.stdout


def test_unreadable_side_exits_2_and_says_why(fleet: Fleet) -> None:
    done = run_check(fleet, BROKEN, "--format", "json")
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "unknown"
    assert [e["source"] for e in report["errors"]] == ["vpcs/broken.yaml"]
    assert "YAML syntax error" in report["errors"][0]["message"]
    # What could be checked still is: Git's other files agree with the cluster.
    assert report["summary"]["in_sync"] == len(fleet.desired)


def test_unreachable_cluster_exits_2(fleet: Fleet) -> None:
    result = CliRunner().invoke(main, ["check", "--inventory", str(fleet.inventory), "--fabric", UNREACHABLE,
                                       "--format", "json"])
    assert result.exit_code == 2, result.output
    report = json.loads(result.output)
    assert report["status"] == "unknown" and report["resources"] == []
    assert [e["source"] for e in report["errors"]] == ["cluster"]
    assert report["errors"][0]["error_class"] == "ClusterUnreachableError"


BAD_INVENTORIES = {
    "bad entry": ("fabrics:\n  - name: fab-ok\n    git: {url: 'https://git.example.com/x.git'}\n"
                  "  - name: Fab_West\n    git: {url: 'https://git.example.com/y.git'}\n",
                  "Fab_West", ["fabrics[2] (Fab_West): field 'name' must be a DNS label",
                               "fabric 'Fab_West' is not (validly) defined in"]),
    "unknown key": ("fabrics:\n  - name: fab-east\n    gti: {url: 'https://git.example.com/x.git'}\n",
                    "fab-east", ["fabrics[1] (fab-east): unknown field 'gti'",
                                 "fabrics[1] (fab-east): missing required field 'git'"]),
    "not YAML": ("fabrics:\n  - name: fab-east\n    git: {url: [\n", "fab-east", ["not valid YAML at line"]),
    "local git without consent": ("fabrics:\n  - name: fab-east\n    git: {url: 'file:///srv/git/x'}\n",
                                  "fab-east", ["fabrics[1] (fab-east): git.url is a local path or file:// URL; set git.allow_local"]),
}


@pytest.mark.parametrize(("text", "fabric", "messages"), BAD_INVENTORIES.values(), ids=BAD_INVENTORIES.keys())
def test_invalid_inventory_exits_2_naming_file_and_entry(tmp_path: Path, text: str, fabric: str,
                                                         messages: list[str]) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["check", "--inventory", str(path), "--fabric", fabric])
    assert result.exit_code == 2
    assert result.stdout == ""
    for message in messages:
        assert f"{path}" in result.stderr and message in result.stderr, result.stderr


def test_invalid_inventory_through_the_console_script(fleet: Fleet, tmp_path: Path) -> None:
    path = tmp_path / "fabrics.yaml"
    path.write_text(BAD_INVENTORIES["bad entry"][0])
    done = run_check(fleet, "Fab_West", inventory=path)
    assert done.returncode == 2 and done.stdout == ""
    assert f"error: {path}: fabrics[2] (Fab_West): field 'name' must be a DNS label" in done.stderr


def test_missing_inventory_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check", "--inventory", str(tmp_path / "nope.yaml"), "--fabric", "fab-east"])
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.yaml'}: inventory file not found" in result.stderr


# --- issue 12 / issue 18: one odd value, hostile names, every error exits 2, drift_since -----------------


def _strict(text: str) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"not strict JSON: bare {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_an_unquoted_date_in_git_is_the_string_kubectl_sends(fleet: Fleet, fmt: str) -> None:
    done = run_check(fleet, DATED, "--format", fmt)
    assert done.returncode == 0, done.stdout + done.stderr
    if fmt == "json":
        report = _strict(done.stdout)
        assert report["status"] == "in_sync" and report["errors"] == []
        assert report["git"]["url"] == f"file://{fleet.root / 'git' / DATED}"
    else:
        assert done.stdout.startswith(f"fabric {DATED}: in_sync")


def test_control_characters_in_names_reach_the_terminal_as_escapes(fleet: Fleet) -> None:
    done = run_check(fleet, HOSTILE, "--format", "table")
    assert done.returncode == 1, done.stderr
    assert "\x1b" not in done.stdout and "\r" not in done.stdout
    assert "evil\\r\\x1b[2K\\x1b[31mvpc" in done.stdout
    assert "is not a DNS-1123 subdomain" in done.stdout  # the warning names file and document
    report = _strict(run_check(fleet, HOSTILE, "--format", "json").stdout)
    assert [(r["name"], r["state"]) for r in report["resources"]] == [(HOSTILE_NAME, "missing")]
    (warning,) = [w for w in report["warnings"] if "DNS-1123" in w["message"]]
    assert warning["source"].startswith("vpcs/") and warning["document"] >= 1


def test_a_git_scratch_that_cannot_be_made_is_unknown_and_exits_2(fleet: Fleet, tmp_path: Path) -> None:
    """A failure on the way to the fabric's Git (here: its scratch folder cannot be created) is the
    fabric's read error: the report says unknown and names it, the exit is 2, never 1."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    done = run_check(fleet, DRIFTED, "--format", "json", env={"HEDGEHOG_SYNC_GIT_SCRATCH": str(blocker / "git")})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    report = _strict(done.stdout)
    assert report["status"] == "unknown" and [e["source"] for e in report["errors"]] == ["git"]
    assert "NotADirectoryError" in report["errors"][0]["message"] or "FileExistsError" in report["errors"][0]["message"]


def test_drift_since_comes_from_the_fleets_last_report(fleet: Fleet, tmp_path: Path) -> None:
    """Issue 18: `check` keeps nothing, so drift_since was always "now"; it starts from the fleet's
    last report of the fabric, read from the instance's database ($DAGSTER_HOME), which it never writes."""
    first = _strict(run_check(fleet, DRIFTED, "--format", "json").stdout)
    home = tmp_path / "dagster_home"
    home.mkdir()
    with DagsterInstance.from_config(str(home)) as instance:
        fleet_store = StateStore.for_instance(instance)
        fleet_store.save_report(DRIFTED, first)  # what the fleet's sync recorded earlier
        before = fleet_store.latest_report(DRIFTED)
    time.sleep(1.1)  # generated_at has whole seconds: a new check is a new second
    later = run_check(fleet, DRIFTED, "--format", "json", env={"DAGSTER_HOME": str(home)})
    second = _strict(later.stdout)
    assert second["generated_at"] != first["generated_at"]
    assert second["drift_since"] == first["drift_since"]
    assert {r["name"]: r["drift_since"] for r in second["resources"]} == \
        {r["name"]: r["drift_since"] for r in first["resources"]}
    with DagsterInstance.from_config(str(home)) as instance:
        assert StateStore.for_instance(instance).latest_report(DRIFTED) == before  # the fleet's state is untouched
    table = run_check(fleet, DRIFTED, "--format", "table", env={"DAGSTER_HOME": str(home)})
    assert f"drifted since {first['drift_since']})" in table.stdout.splitlines()[0]
