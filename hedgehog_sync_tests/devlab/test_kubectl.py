"""The real kubectl (Debian's kubernetes-client) against the devlab API server over HTTPS.

Every verb a user reaches for on a fabric (get, describe, edit, apply, delete, label, annotate,
get -w) works through the kubeconfig the devlab writes, and a `kubectl edit` in the demo shows up in
the next `hedgehog-sync check` as exactly that change. kubectl is installed with apt-get when absent
and the tests run as root (as in CI); otherwise they are skipped with the reason.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from hedgehog_sync.devlab.apiserver import store as apiserver_store
from hedgehog_sync.devlab.apiserver import ApiServerHandle, FabricStore, new_object, start_apiserver
from hedgehog_sync.devlab.demo import (
    DRIFTED_FABRIC, IN_SYNC_FABRIC, DemoFleet, build_demo_fleet, demo_banner, kubectl_edit_command, kubectl_problem,
    serve_demo_fleet,
)
from hedgehog_sync_tests.debian import debian_tools

KUBECTL = Path("/usr/bin/kubectl")
CONSOLE_SCRIPT = Path(sys.executable).with_name("hedgehog-sync")
VPC_GROUP = "vpc.githedgehog.com"


@pytest.fixture(scope="session")
def kubectl() -> Path:
    """Debian's kubectl (package kubernetes-client), installed when absent."""
    (path,) = debian_tools([KUBECTL], ["kubernetes-client"])
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[tuple[DemoFleet, ApiServerHandle]]:
    """The demo fleet, served over HTTPS as `hedgehog-sync demo` serves it."""
    fleet = build_demo_fleet(tmp_path_factory.mktemp("kubectl-demo"))
    handle = serve_demo_fleet(fleet)
    yield fleet, handle
    handle.stop()


def kubeconfig(fleet: DemoFleet, fabric: str) -> Path:
    return fleet.root / "kube" / f"{fabric}.kubeconfig"


def run_kubectl(kubectl: Path, fleet: DemoFleet, fabric: str, *args: str, stdin: str | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    cmd = [str(kubectl), "--kubeconfig", str(kubeconfig(fleet, fabric)), "--request-timeout=20s",
           "--cache-dir", str(fleet.root / "kube" / "cache"), *args]
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}"
    return done


def live(fleet: DemoFleet, fabric: str, name: str, plural: str = "vpcs") -> dict[str, Any]:
    found = fleet.store.get(fabric, VPC_GROUP, plural, name)
    assert found is not None, f"{plural}/{name} is not in {fabric}"
    return found


def editor(tmp_path: Path, path: list[str], value: Any) -> dict[str, str]:
    """KUBE_EDITOR for a non-interactive `kubectl edit`: a script that sets one field of the YAML."""
    script = tmp_path / "editor.py"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, yaml\n"
        "doc = yaml.safe_load(open(sys.argv[-1]))\n"
        "node = doc\n"
        f"for key in {path[:-1]!r}:\n"
        "    node = node[key]\n"
        f"node[{path[-1]!r}] = {value!r}\n"
        "open(sys.argv[-1], 'w').write(yaml.safe_dump(doc))\n")
    script.chmod(0o755)
    return {"KUBE_EDITOR": str(script), "EDITOR": str(script)}


def check(fleet: DemoFleet, fabric: str) -> tuple[int, dict[str, Any]]:
    """The installed console script, as the demo's banner tells the user to run it."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HEDGEHOG_SYNC_INVENTORY", "KUBECONFIG", "HEDGEHOG_SYNC_GIT_SCRATCH", "DAGSTER_HOME")}
    done = subprocess.run([str(CONSOLE_SCRIPT), "check", "--inventory", str(fleet.inventory), "--fabric", fabric,
                           "--format", "json"], capture_output=True, text=True, timeout=120, env=env)
    return done.returncode, json.loads(done.stdout)


def changes_by_resource(report: dict[str, Any]) -> dict[tuple[str, str], tuple[str, list]]:
    return {(r["kind"], r["name"]): (r["state"], r["changes"]) for r in report["resources"]
            if r["state"] != "in_sync"}


# --- the kubeconfig ---------------------------------------------------------------------------------
def test_the_demo_prints_kubectl_commands_because_kubectl_reads_the_devlab(kubectl: Path, demo) -> None:
    fleet, handle = demo
    assert kubectl_problem(fleet, handle.url) is None
    banner = demo_banner(fleet, handle.url, "http://127.0.0.1:3000", str(fleet.root / "dagster_home"), None)
    hint = next(line for line in banner if " edit vpc vpc-01" in line)
    assert hint.startswith("devlab: make drift yourself: kubectl --kubeconfig ")
    assert f"watch the {DRIFTED_FABRIC} report change within a minute" in hint



def test_the_demo_kubeconfig_speaks_https_and_carries_the_devlab_ca(demo) -> None:
    fleet, handle = demo
    config = yaml.safe_load(kubeconfig(fleet, DRIFTED_FABRIC).read_text())
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"].startswith("https://127.0.0.1:")
    assert base64.b64decode(cluster["certificate-authority-data"]) == handle.ca_pem
    assert "insecure-skip-tls-verify" not in cluster


def test_kubectl_checks_the_servers_certificate(kubectl: Path, demo, tmp_path: Path) -> None:
    fleet, _ = demo
    config = yaml.safe_load(kubeconfig(fleet, DRIFTED_FABRIC).read_text())
    del config["clusters"][0]["cluster"]["certificate-authority-data"]
    untrusting = tmp_path / "no-ca.kubeconfig"
    untrusting.write_text(yaml.safe_dump(config))
    done = subprocess.run([str(kubectl), "--kubeconfig", str(untrusting), "--request-timeout=10s", "get", "vpcs"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "x509" in done.stderr, done.stderr


# --- each verb ----------------------------------------------------------------------------------
def test_kubectl_get_lists_and_reads_objects(kubectl: Path, demo) -> None:
    fleet, _ = demo
    listed = run_kubectl(kubectl, fleet, DRIFTED_FABRIC, "get", "vpcs", "-o", "name").stdout.split()
    assert "vpc.vpc.githedgehog.com/vpc-01" in listed and "vpc.vpc.githedgehog.com/rogue-vpc" in listed
    table = run_kubectl(kubectl, fleet, DRIFTED_FABRIC, "get", "vpcs.vpc.githedgehog.com").stdout
    assert table.splitlines()[0].split()[:2] == ["NAME", "AGE"] and "vpc-02" in table
    shown = json.loads(run_kubectl(kubectl, fleet, DRIFTED_FABRIC, "get", "vpc", "vpc-02", "-o", "json").stdout)
    stored = live(fleet, DRIFTED_FABRIC, "vpc-02")
    del stored["metadata"]["managedFields"]  # kubectl hides them unless --show-managed-fields
    assert shown == stored
    switches = run_kubectl(kubectl, fleet, DRIFTED_FABRIC, "get", "switches", "-o", "name").stdout.split()
    assert switches and all(s.startswith("switch.wiring.githedgehog.com/") for s in switches)


def test_kubectl_describe_shows_an_object_without_errors(kubectl: Path, demo) -> None:
    fleet, _ = demo
    done = run_kubectl(kubectl, fleet, DRIFTED_FABRIC, "describe", "vpc", "vpc-02")
    assert "Name:         vpc-02" in done.stdout and "Kind:         VPC" in done.stdout
    assert "Subnets:" in done.stdout and "Events:" in done.stdout
    assert "error" not in done.stderr.lower(), done.stderr


def test_kubectl_label_and_annotate_write_metadata(kubectl: Path, demo) -> None:
    fleet, _ = demo
    run_kubectl(kubectl, fleet, DRIFTED_FABRIC, "label", "vpc", "vpc-03", "team=netops")
    run_kubectl(kubectl, fleet, DRIFTED_FABRIC, "annotate", "vpc", "vpc-03", "ticket=NET-42")
    meta = live(fleet, DRIFTED_FABRIC, "vpc-03")["metadata"]
    assert meta["labels"]["team"] == "netops" and meta["annotations"]["ticket"] == "NET-42"
    selected = run_kubectl(kubectl, fleet, DRIFTED_FABRIC, "get", "vpcs", "-l", "team=netops", "-o", "name")
    assert selected.stdout.split() == ["vpc.vpc.githedgehog.com/vpc-03"]
    run_kubectl(kubectl, fleet, DRIFTED_FABRIC, "label", "vpc", "vpc-03", "team-")
    assert "team" not in (live(fleet, DRIFTED_FABRIC, "vpc-03")["metadata"].get("labels") or {})


def test_kubectl_apply_creates_then_updates_client_side(kubectl: Path, demo, tmp_path: Path) -> None:
    fleet, _ = demo
    body = new_object("VPC", "vpc-applied", {"subnets": {"default": {"subnet": "10.77.0.0/24", "vlan": 1777}}})
    manifest = tmp_path / "vpc.yaml"
    manifest.write_text(yaml.safe_dump(body))
    created = run_kubectl(kubectl, fleet, IN_SYNC_FABRIC, "apply", "-f", str(manifest))
    assert "vpc.vpc.githedgehog.com/vpc-applied created" in created.stdout
    stored = live(fleet, IN_SYNC_FABRIC, "vpc-applied")
    assert stored["spec"] == body["spec"]
    last_applied = stored["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert json.loads(last_applied)["spec"] == body["spec"]
    body["spec"]["subnets"]["default"]["vlan"] = 1778
    manifest.write_text(yaml.safe_dump(body))
    updated = run_kubectl(kubectl, fleet, IN_SYNC_FABRIC, "apply", "-f", str(manifest))
    assert "vpc.vpc.githedgehog.com/vpc-applied configured" in updated.stdout
    assert live(fleet, IN_SYNC_FABRIC, "vpc-applied")["spec"]["subnets"]["default"]["vlan"] == 1778
    again = run_kubectl(kubectl, fleet, IN_SYNC_FABRIC, "apply", "-f", str(manifest))
    assert "vpc.vpc.githedgehog.com/vpc-applied unchanged" in again.stdout


def test_kubectl_delete_removes_and_waits_for_the_object(kubectl: Path, demo) -> None:
    fleet, _ = demo
    fleet.store.put(IN_SYNC_FABRIC, new_object("VPC", "vpc-doomed", {"subnets": {}}))
    # kubectl waits for the deletion with a watch on metadata.name
    done = run_kubectl(kubectl, fleet, IN_SYNC_FABRIC, "delete", "vpc", "vpc-doomed", "--wait=true", "--timeout=20s")
    assert 'vpc.vpc.githedgehog.com "vpc-doomed" deleted' in done.stdout
    assert fleet.store.get(IN_SYNC_FABRIC, VPC_GROUP, "vpcs", "vpc-doomed") is None


def test_kubectl_get_watch_streams_changes(kubectl: Path, demo) -> None:
    fleet, _ = demo
    fleet.store.put(IN_SYNC_FABRIC, new_object("VPC", "vpc-watched", {"subnets": {}}))
    cmd = [str(kubectl), "--kubeconfig", str(kubeconfig(fleet, IN_SYNC_FABRIC)), "--cache-dir",
           str(fleet.root / "kube" / "cache"), "get", "vpcs", "-w", "--output-watch-events",
           "--field-selector", "metadata.name=vpc-watched", "-o", "custom-columns=EVENT:.type,NAME:.object.metadata.name"]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not any("ADDED" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
        fleet.store.put(IN_SYNC_FABRIC, new_object("VPC", "vpc-watched", {"subnets": {}}, labels={"x": "y"}))
        fleet.store.delete(IN_SYNC_FABRIC, VPC_GROUP, "vpcs", "vpc-watched")
        while not any("DELETED" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=10)
    events = [line.split() for line in lines if line.strip()]
    assert events == [["EVENT", "NAME"], ["ADDED", "vpc-watched"], ["MODIFIED", "vpc-watched"], ["DELETED", "vpc-watched"]], (
        events, process.stderr.read())  # type: ignore[union-attr]


def test_kubectl_edit_writes_the_change(kubectl: Path, demo, tmp_path: Path) -> None:
    fleet, _ = demo
    before = live(fleet, IN_SYNC_FABRIC, "vpc-02")
    subnet = sorted(before["spec"]["subnets"])[0]
    vlan = before["spec"]["subnets"][subnet]["vlan"]
    env = editor(tmp_path, ["spec", "subnets", subnet, "vlan"], vlan + 1)
    done = run_kubectl(kubectl, fleet, IN_SYNC_FABRIC, "edit", "vpc", "vpc-02", env=env)
    assert "vpc.vpc.githedgehog.com/vpc-02 edited" in done.stdout
    after = live(fleet, IN_SYNC_FABRIC, "vpc-02")
    assert after["spec"]["subnets"][subnet]["vlan"] == vlan + 1
    assert int(after["metadata"]["generation"]) == int(before["metadata"]["generation"]) + 1
    assert any(m["manager"] == "kubectl-edit" for m in after["metadata"]["managedFields"])
    run_kubectl(kubectl, fleet, IN_SYNC_FABRIC, "edit", "vpc", "vpc-02",
                env=editor(tmp_path, ["spec", "subnets", subnet, "vlan"], vlan))


# --- the acceptance: a kubectl edit in the demo is exactly that change in the next report -------------
def test_a_kubectl_edit_in_the_demo_is_exactly_that_change_in_the_next_report(
    kubectl: Path, demo, tmp_path: Path
) -> None:
    fleet, _ = demo
    code, before = check(fleet, DRIFTED_FABRIC)
    assert code == 1 and before["status"] == "drifted", before
    vpc = live(fleet, DRIFTED_FABRIC, "vpc-01")
    # a field the demo's drift left alone: the subnet whose VLAN is still as in Git
    drifted_paths = {c["path"] for c in changes_by_resource(before).get(("VPC", "vpc-01"), ("", []))[1]}
    subnet = next(s for s in sorted(vpc["spec"]["subnets"]) if f"/spec/subnets/{s}/vlan" not in drifted_paths)
    vlan = vpc["spec"]["subnets"][subnet]["vlan"]
    # what the demo tells the user, run as printed: kubectl --kubeconfig ... edit vpc vpc-01
    hint = kubectl_edit_command(fleet)
    assert any(" ".join(hint) in line for line in demo_banner(fleet, "", "", "", kubectl_problem(fleet, "")))
    edited = subprocess.run([*hint, "--cache-dir", str(fleet.root / "kube" / "cache")], capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, **editor(tmp_path, ["spec", "subnets", subnet, "vlan"], vlan + 7)})
    assert edited.returncode == 0 and "vpc-01 edited" in edited.stdout, edited.stderr
    code, after = check(fleet, DRIFTED_FABRIC)
    assert code == 1 and after["status"] == "drifted", after
    was, now = changes_by_resource(before), changes_by_resource(after)
    assert set(now) == set(was)  # no other resource moved
    for key in was:
        if key != ("VPC", "vpc-01"):
            assert now[key] == was[key]
    added = [c for c in now[("VPC", "vpc-01")][1] if c not in was[("VPC", "vpc-01")][1]]
    assert [(c["op"], c["path"], c["desired"], c["actual"]) for c in added] == [
        ("replace", f"/spec/subnets/{subnet}/vlan", vlan, vlan + 7)]
    assert len(now[("VPC", "vpc-01")][1]) == len(was[("VPC", "vpc-01")][1]) + 1
    # and an edit back makes that change disappear again
    run_kubectl(kubectl, fleet, DRIFTED_FABRIC, "edit", "vpc", "vpc-01",
                env=editor(tmp_path, ["spec", "subnets", subnet, "vlan"], vlan))
    code, again = check(fleet, DRIFTED_FABRIC)
    assert changes_by_resource(again) == was


# --- the watch protocol, through the official client ----------------------------------------------
def _objects_api(handle: ApiServerHandle, tmp_path: Path) -> k8s_client.CustomObjectsApi:
    path = handle.write_kubeconfig("fab-w", tmp_path / "w.kubeconfig")
    return k8s_client.CustomObjectsApi(k8s_config.new_client_from_config(str(path), persist_config=False))


@pytest.fixture
def watched(monkeypatch, tmp_path: Path) -> Iterator[tuple[ApiServerHandle, k8s_client.CustomObjectsApi]]:
    """A fabric whose server remembers only three changes, with a bookmark every 0.2 s."""
    monkeypatch.setattr(apiserver_store, "WATCH_HISTORY", 3)
    store = FabricStore()
    store.add_fabric("fab-w", "watch-token-0123456789abcdef")
    with start_apiserver(store) as handle:
        handle.app.bookmark_seconds = 0.2
        objects = _objects_api(handle, tmp_path)
        yield handle, objects
        objects.api_client.close()


def test_a_watch_resumes_from_a_resource_version_and_sends_bookmarks(watched) -> None:
    handle, objects = watched
    handle.store.put("fab-w", new_object("VPC", "vpc-a", {"subnets": {}}))
    listed = objects.list_namespaced_custom_object(VPC_GROUP, "v1beta1", "default", "vpcs")
    version = listed["metadata"]["resourceVersion"]
    handle.store.put("fab-w", new_object("VPC", "vpc-b", {"subnets": {}}))
    seen = []
    for event in k8s_watch.Watch().stream(
        objects.list_namespaced_custom_object, VPC_GROUP, "v1beta1", "default", "vpcs",
        resource_version=version, allow_watch_bookmarks=True, timeout_seconds=2,
    ):
        seen.append((event["type"], event["object"]["metadata"].get("name")))
        if event["type"] == "BOOKMARK":
            assert int(event["object"]["metadata"]["resourceVersion"]) == handle.store._fabric("fab-w").resource_version
            break
    assert seen == [("ADDED", "vpc-b"), ("BOOKMARK", None)]


def test_a_watch_from_a_resource_version_too_old_gets_410_gone(watched) -> None:
    handle, objects = watched
    handle.store.put("fab-w", new_object("VPC", "vpc-a", {"subnets": {}}))
    first = handle.store.get("fab-w", VPC_GROUP, "vpcs", "vpc-a")["metadata"]["resourceVersion"]
    for vlan in range(5):  # more changes than the server remembers
        handle.store.put("fab-w", new_object("VPC", "vpc-a", {"subnets": {"d": {"vlan": 1000 + vlan}}}))
    with pytest.raises(ApiException) as caught:
        for _ in k8s_watch.Watch().stream(objects.list_namespaced_custom_object, VPC_GROUP, "v1beta1", "default",
                                          "vpcs", resource_version=first, timeout_seconds=2):
            pass
    assert caught.value.status == 410
