"""The remediation plan, proven: `hedgehog-sync plan`, then the real kubectl against the devlab over HTTPS.

Example tests (real kubectl, Debian's kubernetes-client, installed with apt-get when absent and
root, else skipped): for a fabric drifted with every kind of change, applying apply.yaml leaves
exactly the extra resources, and deleting delete.yaml after it makes the next `hedgehog-sync check`
report in_sync.

The property test (Hypothesis, random drift of a generated fabric) applies the plan through the
devlab store's own semantics instead of spawning kubectl for every example: each object of
apply.yaml is created when absent, else merged in as a JSON merge patch (what a client-side
`kubectl apply` sends for a custom resource with no last-applied-configuration, as the example tests
show it does), each reference of delete.yaml deleted; then the real comparison (the official
kubernetes client over HTTPS, Git read from a repository on disk) must say in_sync.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgehog_sync.connectors.git import GitRepoCache
from hedgehog_sync.cycle import FabricReader, sync_fabric
from hedgehog_sync.devlab.apiserver import MERGE_PATCH, ApiServerHandle, FabricStore, start_apiserver
from hedgehog_sync.devlab.demo import as_stored, seed_fabric_live
from hedgehog_sync.devlab.generator import FabricSpec, generate_fabric, split_into_files
from hedgehog_sync.devlab.gitrepos import commit_files, init_repo
from hedgehog_sync.domain.diff import is_controller_generated
from hedgehog_sync.domain.inventory import load_inventory
from hedgehog_sync.domain.kinds import kind_for, split_api_version
from hedgehog_sync.domain.plan import Plan
from hedgehog_sync.state import StateStore
from hedgehog_sync_tests.fuzz.conftest import FUZZ_EXAMPLES, fuzz_settings
from hedgehog_sync_tests.debian import debian_tools
from hedgehog_sync_tests.leaks import assert_no_leak

KUBECTL = Path("/usr/bin/kubectl")
CONSOLE_SCRIPT = Path(sys.executable).with_name("hedgehog-sync")
VPC_GROUP = "vpc.githedgehog.com"
SPEC = FabricSpec(spines=1, leaves=2, servers_per_leaf=1, vpcs=3, subnets_per_vpc=2, peerings=1, seed=7)


@pytest.fixture(scope="session")
def kubectl() -> Path:
    """Debian's kubectl (package kubernetes-client), installed when absent."""
    (path,) = debian_tools([KUBECTL], ["kubernetes-client"])
    return path


@pytest.fixture(scope="module")
def server() -> Iterator[ApiServerHandle]:
    """One devlab API server over HTTPS; each test adds its own fabric to it."""
    with start_apiserver(FabricStore()) as handle:
        assert handle.fabric_url("x").startswith("https://")
        yield handle


@dataclass
class Fabric:
    name: str
    root: Path
    store: FabricStore
    desired: list[dict[str, Any]]

    @property
    def inventory(self) -> Path:
        return self.root / "fabrics.yaml"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def live(self, plural: str, name: str, group: str = VPC_GROUP) -> dict[str, Any] | None:
        return self.store.get(self.name, group, plural, name)


_made = iter(range(10_000))


SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "hedgehog-samples"
SAMPLE_SETS = sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()) if SAMPLES.is_dir() else []


def sample_files(name: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """A sample repository's YAML files with the objects a fabric accepts (Hedgehog kinds in namespace
    `default`, each defined once), each file's documents kept as written and in order, and those objects."""
    files, objects, seen = {}, [], set()
    for path in sorted((SAMPLES / name).rglob("*.yaml")):
        kept = []
        for d in yaml.safe_load_all(path.read_text()):
            if not (isinstance(d, dict) and isinstance(d.get("metadata"), dict)
                    and kind_for(split_api_version(str(d.get("apiVersion", "")))[0], d.get("kind"))
                    and d["metadata"].get("namespace") in (None, "default")):
                continue
            identity = (split_api_version(d["apiVersion"])[0], d["kind"], d["metadata"].get("name"))
            if identity not in seen:
                seen.add(identity)
                kept.append(d)
        if kept:
            files[str(path.relative_to(SAMPLES / name))] = yaml.safe_dump_all(kept, sort_keys=False)
            objects.extend(kept)
    return files, objects


def make_fabric(server: ApiServerHandle, root: Path, extra_git: dict[str, str] | None = None,
                sample: str | None = None) -> Fabric:
    """A generated fabric (or a sample repository) in Git on disk, live in the devlab as the webhooks leave it."""
    name = f"fab-{next(_made)}"
    root.mkdir(parents=True, exist_ok=True)
    server.store.add_fabric(name, f"token-{name}-0123456789abcdef")
    if sample is None:
        desired = generate_fabric(name, SPEC)
        files = split_into_files(desired)
        seed_fabric_live(server.store, name, desired, SPEC)
    else:
        files, desired = sample_files(sample)
        for obj in desired:
            server.store.put(name, as_stored(obj), manager="hhfab")
    repo = init_repo(root / "git")
    commit_files(repo, {**files, **(extra_git or {})}, "wiring and VPCs")
    server.write_kubeconfig(name, root / "kubeconfig")
    (root / "fabrics.yaml").write_text(yaml.safe_dump({"fabrics": [{
        "name": name, "git": {"url": f"file://{root / 'git'}", "ref": "main", "allow_local": True},
        "kubernetes": {"kubeconfig": str(root / "kubeconfig"), "context": name}}]}))
    return Fabric(name, root, server.store, desired)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("HEDGEHOG_SYNC_INVENTORY", "KUBECONFIG", "HEDGEHOG_SYNC_GIT_SCRATCH", "DAGSTER_HOME")}


def hedgehog_sync(fabric: Fabric, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CONSOLE_SCRIPT), *args, "--inventory", str(fabric.inventory), "--fabric", fabric.name],
                          capture_output=True, text=True, timeout=120, env=_env())


def check(fabric: Fabric) -> tuple[int, dict[str, Any]]:
    done = hedgehog_sync(fabric, "check", "--format", "json")
    return done.returncode, json.loads(done.stdout)


def drifted(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(r["state"], r["kind"], r["name"]) for r in report["resources"]}


def run_printed(command: str, fabric: Fabric) -> subprocess.CompletedProcess:
    """A command as `hedgehog-sync plan` printed it, run as the operator would (kubectl from PATH)."""
    args = command.split()
    assert args[0] == "kubectl"
    done = subprocess.run([str(KUBECTL), "--request-timeout=20s", "--cache-dir", str(fabric.root / "kube-cache"),
                           *args[1:]], capture_output=True, text=True, timeout=120, env=_env())
    assert done.returncode == 0, f"{command} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


# --- drift as people make it by hand ------------------------------------------------------------------
def modify_vlan(fabric: Fabric) -> set[tuple[str, str, str]]:
    vpc = next(o for o in fabric.desired if o["kind"] == "VPC")
    live = copy.deepcopy(fabric.live("vpcs", vpc["metadata"]["name"]))
    subnet = sorted(live["spec"]["subnets"])[0]
    live["spec"]["subnets"][subnet]["vlan"] += 500
    fabric.store.put(fabric.name, live, manager="kubectl-edit")
    return {("modified", "VPC", vpc["metadata"]["name"])}


def remove_attachment(fabric: Fabric) -> set[tuple[str, str, str]]:
    attachment = next(o for o in fabric.desired if o["kind"] == "VPCAttachment")
    fabric.store.delete(fabric.name, VPC_GROUP, "vpcattachments", attachment["metadata"]["name"])
    return {("missing", "VPCAttachment", attachment["metadata"]["name"])}


def add_rogue_vpc(fabric: Fabric) -> set[tuple[str, str, str]]:
    rogue = copy.deepcopy(next(o for o in fabric.desired if o["kind"] == "VPC"))
    rogue["metadata"] = {"name": "rogue-vpc", "namespace": "default"}
    for sub in rogue["spec"]["subnets"].values():
        sub["vlan"] += 700
    fabric.store.put(fabric.name, as_stored(rogue), manager="kubectl-create")
    return {("extra", "VPC", "rogue-vpc")}


def label_by_hand(fabric: Fabric) -> set[tuple[str, str, str]]:
    vpc = [o for o in fabric.desired if o["kind"] == "VPC"][-1]
    live = copy.deepcopy(fabric.live("vpcs", vpc["metadata"]["name"]))
    live["metadata"].setdefault("labels", {})["team"] = "netops"
    live["spec"]["ipv4Namespace"] = "by-hand"  # Git leaves it to the webhook's default
    fabric.store.put(fabric.name, live, manager="kubectl-label")
    return {("modified", "VPC", vpc["metadata"]["name"])}


DRIFTS = {"modified field": [modify_vlan], "missing resource": [remove_attachment], "extra resource": [add_rogue_vpc],
          "label": [label_by_hand], "every kind": [modify_vlan, remove_attachment, add_rogue_vpc, label_by_hand]}


@pytest.mark.parametrize("drift", list(DRIFTS), ids=list(DRIFTS))
def test_applying_then_deleting_the_plan_with_kubectl_makes_check_in_sync(
    kubectl: Path, server: ApiServerHandle, tmp_path: Path, drift: str
) -> None:
    fabric = make_fabric(server, tmp_path / "fabric")
    made: set[tuple[str, str, str]] = set()
    for step in DRIFTS[drift]:
        made |= step(fabric)
    code, before = check(fabric)
    assert code == 1 and drifted(before) == made, before
    out = tmp_path / "plan"
    planned = hedgehog_sync(fabric, "plan", "--output", str(out))
    assert planned.returncode == 1, planned.stderr
    applied = [d for d in yaml.safe_load_all((out / "apply.yaml").read_text()) if d]
    deleted = [d for d in yaml.safe_load_all((out / "delete.yaml").read_text()) if d]
    assert {("extra", d["kind"], d["metadata"]["name"]) for d in deleted} == {m for m in made if m[0] == "extra"}
    assert {(o["kind"], o["metadata"]["name"]) for o in applied} == {(k, n) for s, k, n in made if s != "extra"}
    assert not any(is_controller_generated(o) for o in applied + deleted)
    commands = [line for line in planned.stdout.splitlines() if line.startswith("kubectl ")]
    apply_cmds = [c for c in commands if " apply -f " in c]
    delete_cmds = [c for c in commands if " delete -f " in c]
    assert commands == apply_cmds + delete_cmds, "deleting is the last, separate step"
    for command in commands:
        assert f"--kubeconfig {fabric.kubeconfig} --context {fabric.name} " in command
    for command in apply_cmds:
        run_printed(command, fabric)
    code, middle = check(fabric)
    assert drifted(middle) == {m for m in made if m[0] == "extra"}, "apply.yaml leaves exactly the extra ones"
    assert code == (1 if delete_cmds else 0)
    for command in delete_cmds:
        run_printed(command, fabric)
    code, after = check(fabric)
    assert (code, after["status"], after["resources"]) == (0, "in_sync", []), after
    again = hedgehog_sync(fabric, "plan", "--output", str(tmp_path / "plan-again"))
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_an_unknown_fabric_gets_no_plan_and_no_files(server: ApiServerHandle, tmp_path: Path) -> None:
    fabric = make_fabric(server, tmp_path / "fabric", {"vpcs/broken.yaml": "kind: VPC\nmetadata: [\n"})
    add_rogue_vpc(fabric)
    code, report = check(fabric)
    assert (code, report["status"]) == (2, "unknown")
    out = tmp_path / "plan"
    planned = hedgehog_sync(fabric, "plan", "--output", str(out))
    assert planned.returncode == 2 and "no plan" in planned.stderr and "unknown" in planned.stderr, planned.stderr
    assert not out.exists() and planned.stdout == ""


SECRET = "psk-9f8e7d6c5b4a39281706f5e4"


def test_a_plan_never_holds_a_secret_value(server: ApiServerHandle, tmp_path: Path) -> None:
    keyed = {"apiVersion": f"{VPC_GROUP}/v1beta1", "kind": "VPC",
             "metadata": {"name": "vpc-keyed", "annotations": {"vpn-psk": SECRET}},
             "spec": {"subnets": {"default": {"subnet": "10.99.0.0/24", "vlan": 2999}}}}
    fabric = make_fabric(server, tmp_path / "fabric", {"vpcs/keyed.yaml": yaml.safe_dump(keyed)})
    modify_vlan(fabric)  # drifted, and vpc-keyed is missing live
    out = tmp_path / "plan"
    planned = hedgehog_sync(fabric, "plan", "--output", str(out))
    assert planned.returncode == 1, planned.stderr
    assert "held back: VPC vpc-keyed" in planned.stdout and "vpcs/keyed.yaml#1" in planned.stdout
    assert "vpc-keyed" not in (out / "apply.yaml").read_text()
    assert_no_leak(SECRET, texts=[planned.stdout, planned.stderr], paths=[out])


# --- the property: any drift, planned and applied, checks in sync --------------------------------------
def apply_through_the_store(fabric: Fabric, plan: Plan) -> None:
    """What kubectl apply / delete -f do to a custom resource with no last-applied-configuration."""
    for obj in plan.apply:
        group, _ = split_api_version(obj["apiVersion"])
        kind = kind_for(group, obj["kind"])
        name = obj["metadata"]["name"]
        if fabric.store.get(fabric.name, group, kind.plural, name) is None:
            fabric.store.create(fabric.name, obj, manager="kubectl-client-side-apply")
        else:
            fabric.store.patch(fabric.name, kind, name, obj, content_type=MERGE_PATCH,
                               manager="kubectl-client-side-apply")
    for ref in plan.delete:
        group, _ = split_api_version(ref["apiVersion"])
        fabric.store.delete(fabric.name, group, kind_for(group, ref["kind"]).plural, ref["metadata"]["name"])


def sync(fabric: Fabric, reader: FabricReader) -> Any:
    cfg = load_inventory(str(fabric.inventory)).by_name()[fabric.name]
    return sync_fabric(cfg, reader, StateStore.in_memory())


_EDITS = st.sampled_from(["delete", "label", "annotate", "spec", "vlan", "extra"])


# Each example builds a fabric and reads it twice: 6 by default, HEDGEHOG_SYNC_FUZZ_EXAMPLES to explore longer.
@settings(fuzz_settings, max_examples=FUZZ_EXAMPLES if os.environ.get("HEDGEHOG_SYNC_FUZZ_EXAMPLES") else 6)
@given(source=st.sampled_from([None, *SAMPLE_SETS]),
       edits=st.lists(st.tuples(_EDITS, st.integers(0, 10_000), st.text("abcxyz-", min_size=1, max_size=8)),
                      min_size=1, max_size=6))
def test_any_drift_planned_and_applied_checks_in_sync(server: ApiServerHandle, tmp_path_factory, source, edits) -> None:
    """Over a generated fabric and each sample repository (/work/shared fixtures, when present)."""
    fabric = make_fabric(server, tmp_path_factory.mktemp("prop"), sample=source)
    authored = [o for o in fabric.desired if not is_controller_generated(o)]
    for what, pick, text in edits:
        target = authored[pick % len(authored)]
        group, _ = split_api_version(target["apiVersion"])
        plural = kind_for(group, target["kind"]).plural
        live = fabric.live(plural, target["metadata"]["name"], group)
        if what == "extra":
            rogue = copy.deepcopy(target)
            rogue["metadata"] = {"name": f"rogue-{text}-{pick}", "namespace": "default"}
            fabric.store.put(fabric.name, as_stored(rogue), manager="kubectl-create")
            continue
        if live is None:
            continue  # deleted by an earlier edit
        if what == "delete":
            fabric.store.delete(fabric.name, group, plural, target["metadata"]["name"])
            continue
        if what in ("label", "annotate"):
            live["metadata"].setdefault("labels" if what == "label" else "annotations", {})[f"drift-{text}"] = text
        elif what == "vlan" and target["kind"] == "VPC":
            subnet = sorted(live["spec"]["subnets"])[pick % len(live["spec"]["subnets"])]
            live["spec"]["subnets"][subnet]["vlan"] = 1000 + pick % 2000
        else:
            live.setdefault("spec", {})[f"drift{text.replace('-', '')}"] = pick  # a field only live
        fabric.store.put(fabric.name, live, manager="kubectl-edit")
    reader = FabricReader(GitRepoCache(fabric.root / "git-cache"))
    try:
        outcome = sync(fabric, reader)
        assert outcome.report["status"] in ("drifted", "in_sync"), outcome.report["errors"]
        plan = outcome.plan
        assert plan is not None and plan.reason is None and plan.held == []
        assert outcome.report["plan_version"] == plan.version
        assert not any(is_controller_generated(o) for o in plan.apply + plan.delete)
        apply_through_the_store(fabric, plan)
        after = sync(fabric, reader)
    finally:
        reader.close()
    assert after.report["status"] == "in_sync", after.report["resources"]
    assert after.report["plan_version"] is None and not after.plan.has_changes


def test_a_printed_plan_is_safe_to_pipe_into_kubectl_apply(server: ApiServerHandle, tmp_path: Path) -> None:
    fabric = make_fabric(server, tmp_path / "fabric")
    made = modify_vlan(fabric) | add_rogue_vpc(fabric)
    printed = hedgehog_sync(fabric, "plan")
    assert printed.returncode == 1, printed.stderr
    documents = [d for d in yaml.safe_load_all(printed.stdout) if d]
    assert {(d["kind"], d["metadata"]["name"]) for d in documents} == {(k, n) for s, k, n in made if s == "modified"}
    assert "#   name: rogue-vpc" in printed.stdout  # the deletion is shown, commented out
    assert not [line for line in printed.stdout.splitlines() if line.startswith("kubectl ")]
    assert f"#   kubectl --kubeconfig {fabric.kubeconfig} --context {fabric.name} delete -f delete.yaml" in printed.stdout
