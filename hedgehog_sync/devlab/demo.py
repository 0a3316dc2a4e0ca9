"""The demo fleet: three fabrics in local Git repositories and a local API server, then `dagster dev`.

- fab-east: Git and cluster agree (in sync);
- fab-west: the cluster drifted: one VPC's VLAN changed, one VPCAttachment deleted, one VPC added;
- fab-lab: Git holds a broken file (a YAML syntax error, a v1alpha2 object and a ConfigMap).
"""

from __future__ import annotations

import copy
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hedgehog_sync.devlab.apiserver import ApiServerHandle, FabricStore, start_apiserver
from hedgehog_sync.devlab.churn import CHURN_FABRIC, Churner
from hedgehog_sync.devlab.generator import (
    FabricSpec, generate_controller_objects, generate_fabric, split_into_files,
)
from hedgehog_sync.devlab.gitrepos import commit_files, init_repo
from hedgehog_sync.domain.defaults import apply_defaults
from hedgehog_sync.domain.limits import describe_pool_limits

# fab-east is the one `--churn` changes (devlab/churn.py): in sync until the churn starts.
IN_SYNC_FABRIC, DRIFTED_FABRIC, BROKEN_FABRIC = CHURN_FABRIC, "fab-west", "fab-lab"
DEMO_FABRICS = (IN_SYNC_FABRIC, DRIFTED_FABRIC, BROKEN_FABRIC)
EXTRA_VPC = "rogue-vpc"

BROKEN_FILES = {
    "vpcs/broken.yaml": "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: vpc-x\n"
                        "spec:\n  subnets: {default: {subnet: 10.9.0.0/24\n",
    "legacy/old-switch.yaml": "apiVersion: wiring.githedgehog.com/v1alpha2\nkind: Switch\n"
                              "metadata:\n  name: old-leaf\nspec:\n  role: server-leaf\n",
    "misc/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  owner: netops\n",
}

# The instance settings `dagster dev` runs with in the demo (SQLite, the embedded default), shipped
# as deploy/dagster.local.yaml too. The soak and the daemon tests start from these (dagster_yaml).
LOCAL_DAGSTER_YAML = f"""\
# Written by `hedgehog-sync demo`: the embedded default (SQLite under this folder).
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 4
    dequeue_interval_seconds: 1  # a queued sync run starts within a second, not five
    dequeue_use_threads: true
# Pools {describe_pool_limits()} hold the sync steps: fabric_discovery sets them (`hedgehog-sync pools`).
run_monitoring:
  enabled: true                # enforces each run's dagster/max_runtime tag (the run time budget)
  poll_interval_seconds: 30
run_retries:
  enabled: true                # a crashed run (worker killed, OOM) is run again
  max_retries: 2
  # Only crashed runs: a fabric that cannot be read is reported unknown by a run that succeeds,
  # and the next tick tries it anyway.
  retry_on_asset_or_op_failure: false
sensors:
  use_threads: true
  num_workers: 2
schedules:
  use_threads: true
  num_workers: 2
"""



def dagster_yaml(**changes: dict[str, Any]) -> str:
    """The demo's instance settings with some sections changed (each given as a mapping merged into
    that section, e.g. `run_retries={"max_retries": 1}`): the one source of the settings every
    local instance of the project runs with. Without changes, LOCAL_DAGSTER_YAML as it is."""
    if not changes:
        return LOCAL_DAGSTER_YAML
    settings = yaml.safe_load(LOCAL_DAGSTER_YAML)
    for section, values in changes.items():
        merged = settings.get(section)
        settings[section] = _merged(merged, values) if isinstance(merged, dict) else values
    return "# The demo's instance settings (hedgehog_sync.devlab.demo.dagster_yaml), with changes.\n" + \
        yaml.safe_dump(settings, sort_keys=False)


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        out[key] = _merged(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out


WORKSPACE_YAML = """\
load_from:
  - python_module:
      module_name: hedgehog_sync.definitions
      location_name: hedgehog_sync
"""


@dataclass(frozen=True)
class DriftedResource:
    kind: str
    name: str
    state: str


def fabric_spec(fabric: str) -> FabricSpec:
    return FabricSpec(seed=DEMO_FABRICS.index(fabric) + 1)


def as_stored(obj: dict[str, Any]) -> dict[str, Any]:
    """What the cluster keeps after the webhooks ran: Hedgehog's defaults applied."""
    return apply_defaults(obj)


def seed_fabric_live(store: FabricStore, fabric: str, desired: list[dict[str, Any]],
                     spec: FabricSpec) -> None:
    for obj in desired:
        store.put(fabric, as_stored(obj), manager="hhfab")
    for obj in generate_controller_objects(fabric, spec, desired):
        store.put(fabric, obj, manager="fabric-controller")


def inject_drift(store: FabricStore, fabric: str, desired: list[dict[str, Any]]) -> list[DriftedResource]:
    """Change the live side the way people do by hand: edit, delete, create. Returns what changed."""
    vpcs = [o for o in desired if o["kind"] == "VPC"]
    attachments = [o for o in desired if o["kind"] == "VPCAttachment"]
    vpc = copy.deepcopy(store.get(fabric, "vpc.githedgehog.com", "vpcs", vpcs[0]["metadata"]["name"]))
    subnet = sorted(vpc["spec"]["subnets"])[0]
    vpc["spec"]["subnets"][subnet]["vlan"] = int(vpc["spec"]["subnets"][subnet]["vlan"]) + 500
    store.put(fabric, vpc, manager="kubectl-edit")
    gone = attachments[0]["metadata"]["name"]
    store.delete(fabric, "vpc.githedgehog.com", "vpcattachments", gone)
    extra = copy.deepcopy(vpcs[-1])
    extra["metadata"] = {"name": EXTRA_VPC, "namespace": "default"}
    for sub in extra["spec"]["subnets"].values():
        sub["vlan"] = int(sub["vlan"]) + 700
    store.put(fabric, as_stored(extra), manager="kubectl-create")
    return [DriftedResource("VPC", vpc["metadata"]["name"], "modified"),
            DriftedResource("VPCAttachment", gone, "missing"),
            DriftedResource("VPC", EXTRA_VPC, "extra")]


@dataclass
class DemoFleet:
    root: Path
    store: FabricStore
    drifted: list[DriftedResource]

    @property
    def inventory(self) -> Path:
        return self.root / "fabrics.yaml"

    @property
    def state_file(self) -> Path:
        return self.root / "cluster-state.json"

    def desired(self, fabric: str) -> list[dict[str, Any]]:
        """The fabric's generated desired objects, as its first commit holds them."""
        return generate_fabric(fabric, fabric_spec(fabric))

    def stored(self, obj: dict[str, Any]) -> dict[str, Any]:
        return as_stored(obj)


def _token(root: Path, fabric: str) -> str:
    path = root / "tokens" / fabric
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24))
    return path.read_text().strip()


def build_demo_fleet(root: Path) -> DemoFleet:
    """Create (or, when the folder already holds one, reopen) the demo fleet under `root`."""
    root = root.resolve()
    store = FabricStore()
    for fabric in DEMO_FABRICS:
        store.add_fabric(fabric, _token(root, fabric))
    fleet = DemoFleet(root, store, [])
    if (root / "ready").exists() and fleet.state_file.exists():
        store.load(fleet.state_file)
        fleet.drifted = [DriftedResource(**d) for d in yaml.safe_load((root / "drift.yaml").read_text())]
        return fleet
    entries = []
    for fabric in DEMO_FABRICS:
        spec = fabric_spec(fabric)
        desired = generate_fabric(fabric, spec)
        files: dict[str, str | bytes | None] = dict(split_into_files(desired))
        if fabric == BROKEN_FABRIC:
            files.update(BROKEN_FILES)
        repo_dir = root / "git" / fabric
        repo = init_repo(repo_dir)
        commit_files(repo, files, f"{fabric}: initial wiring and VPCs")
        seed_fabric_live(store, fabric, desired, spec)
        if fabric == DRIFTED_FABRIC:
            fleet.drifted = inject_drift(store, fabric, desired)
        entries.append({
            "name": fabric,
            "priority": "high" if fabric == DRIFTED_FABRIC else "medium",
            "git": {"url": f"file://{repo_dir}", "ref": "main", "allow_local": True},
            "kubernetes": {"kubeconfig": str(root / "kube" / f"{fabric}.kubeconfig"), "context": fabric},
        })
    fleet.inventory.write_text("# The demo fleet, written by `hedgehog-sync demo`.\n"
                               + yaml.safe_dump({"fabrics": entries}, sort_keys=False))
    (root / "drift.yaml").write_text(yaml.safe_dump([d.__dict__ for d in fleet.drifted]))
    store.save(fleet.state_file)
    (root / "ready").write_text("ok\n")
    return fleet


def serve_demo_fleet(fleet: DemoFleet, port: int = 0) -> ApiServerHandle:
    """Start the local API server for the fleet and (re)write each fabric's kubeconfig for its port."""
    handle = start_apiserver(fleet.store, port=port, state_path=fleet.state_file)
    for fabric in DEMO_FABRICS:
        handle.write_kubeconfig(fabric, fleet.root / "kube" / f"{fabric}.kubeconfig")
    return handle


# For the processes that create runs (daemon, webserver): one "materialization planned" event per
# asset of a batched run, not one per fabric and asset (deploy/k8s/env-configmap.yaml does the same).
RUN_CREATOR_ENV = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}


def dagster_env(fleet: DemoFleet) -> dict[str, str]:
    home = fleet.root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(LOCAL_DAGSTER_YAML)
    env = dict(os.environ)
    env.update({"DAGSTER_HOME": str(home), "HEDGEHOG_SYNC_INVENTORY": str(fleet.inventory), **RUN_CREATOR_ENV})
    return env


def console_script() -> str:
    """The hedgehog-sync command beside this Python (the venv's, as the README installs it), else the name."""
    beside = Path(sys.executable).with_name("hedgehog-sync")
    return str(beside) if beside.exists() else "hedgehog-sync"


def kubectl_command(fleet: DemoFleet, fabric: str = DRIFTED_FABRIC) -> list[str]:
    return ["kubectl", "--kubeconfig", str(fleet.root / "kube" / f"{fabric}.kubeconfig"),
            "get", "vpcs.vpc.githedgehog.com"]


def kubectl_edit_command(fleet: DemoFleet, fabric: str = DRIFTED_FABRIC, vpc: str = "vpc-01") -> list[str]:
    """How a user makes drift themselves, as on a fabric: edit a live object with kubectl."""
    return ["kubectl", "--kubeconfig", str(fleet.root / "kube" / f"{fabric}.kubeconfig"), "edit", "vpc", vpc]


def kubectl_problem(fleet: DemoFleet, api_url: str, timeout_s: float = 15.0) -> str | None:
    """None when the kubectl command the demo prints works against the devlab now (tried once, bounded),
    else why not. kubectl never sends a bearer token over plain HTTP (the devlab's --plain-http)."""
    cmd = kubectl_command(fleet)
    if shutil.which(cmd[0]) is None:
        return "kubectl is not installed"
    try:
        done = subprocess.run([*cmd, "--request-timeout=5s", "--cache-dir", str(fleet.root / "kube" / "cache")],
                              capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"kubectl got no answer within {timeout_s:g} s"
    if done.returncode == 0:
        return None
    # kubectl's own words are not repeated: they could quote a kubeconfig
    if api_url.startswith("http://"):
        return (f"kubectl cannot read the devlab yet (exit {done.returncode}): it sends its token only over "
                "HTTPS, and the devlab API server speaks plain HTTP; the hedgehog-sync commands above read it")
    return f"kubectl could not read the devlab (exit {done.returncode}); the hedgehog-sync commands above do"


def demo_banner(fleet: DemoFleet, api_url: str, ui_url: str, dagster_home: str,
                kubectl_note: str | None) -> list[str]:
    """What the demo prints: where things are, and commands ready to paste into another shell."""
    cli, q = console_script(), shlex.quote
    lines = [
        f"devlab: {len(DEMO_FABRICS)} fabrics in {fleet.root}, API server at {api_url}",
        f"devlab: inventory {fleet.inventory}",
        f"devlab: Dagster UI {ui_url} (first reports within about two minutes)",
        f"devlab: DAGSTER_HOME {dagster_home}",
        "devlab: in another shell, ready to paste:",
        f"  export DAGSTER_HOME={q(dagster_home)} HEDGEHOG_SYNC_INVENTORY={q(str(fleet.inventory))}",
        f"  {q(cli)} check --fabric {DRIFTED_FABRIC}          # its drift now (exit 1: drifted)",
        f"  {q(cli)} recheck --fabric {DRIFTED_FABRIC} --url {q(ui_url)}   # a Dagster run for it now",
        f"  {q(cli)} metrics                          # what the sync runs did",
        f"  {q(cli)} pause --reason 'maintenance'     # hold all automatic syncing",
        f"  {q(cli)} pause --status",
        f"  {q(cli)} resume",
    ]
    if kubectl_note is None:
        lines.append("  " + " ".join(q(a) for a in kubectl_command(fleet)))
        # not indented: it opens an editor, so it is a hint to follow, not a line to paste blindly
        lines.append(f"devlab: make drift yourself: {' '.join(q(a) for a in kubectl_edit_command(fleet))} "
                     f"(change a vlan, save), then watch the {DRIFTED_FABRIC} report change within a minute")
    else:
        lines.append(f"devlab: no kubectl command: {kubectl_note}")
    return lines


EXPORTER_PORT = 9464  # `hedgehog-sync exporter`'s default port; $HEDGEHOG_SYNC_METRICS_PORT overrides it


def prepare_storage(home: str) -> None:
    """Create the instance's storage (Dagster's tables and the fleet's state tables) in this process,
    before `dagster dev` and the exporter start: two processes creating a fresh SQLite instance at
    the same moment can both stamp Dagster's schema version, which then refuses to open."""
    from dagster import DagsterInstance

    from hedgehog_sync.state import StateStore

    with DagsterInstance.from_config(home) as instance:
        StateStore.for_instance(instance).close()


def run_demo(root: Path, host: str = "127.0.0.1", port: int = 3000, apiserver_port: int = 0,
             churn_every: float | None = None) -> int:
    """Build or reopen the fleet, serve it, and run `dagster dev` until interrupted; with churn_every,
    also change fab-east every that many seconds (devlab/churn.py) so drift appears and clears."""
    fleet = build_demo_fleet(root)
    handle = serve_demo_fleet(fleet, apiserver_port)
    env = dagster_env(fleet)
    ui_host = f"[{host}]" if ":" in host else host
    env.setdefault("HEDGEHOG_SYNC_UI_URL", f"http://{ui_host}:{port}")  # fleet_summary links to this UI
    for line in demo_banner(fleet, handle.url, f"http://{ui_host}:{port}", env["DAGSTER_HOME"],
                            kubectl_problem(fleet, handle.url)):
        print(line, flush=True)
    workspace = Path(env["DAGSTER_HOME"]) / "workspace.yaml"
    workspace.write_text(WORKSPACE_YAML)
    prepare_storage(env["DAGSTER_HOME"])
    cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(workspace), "-h", host, "-p", str(port)]
    # Started in the background of a script, this process inherits SIGINT ignored, and so would
    # `dagster dev` and its webserver and daemon, which then never stop. Ctrl-C must always work.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    proc = subprocess.Popen(cmd, env=env, cwd=fleet.root)
    # The fleet's Prometheus metrics beside the UI (docs/notifications.md); the demo runs on without it.
    metrics_port = int(os.environ.get("HEDGEHOG_SYNC_METRICS_PORT") or EXPORTER_PORT)
    exporter = subprocess.Popen([console_script(), "exporter", "--host", host, "--port", str(metrics_port)],
                                env=env, cwd=fleet.root)
    print(f"devlab: Prometheus metrics at http://{ui_host}:{metrics_port}/metrics", flush=True)
    churner = None
    if churn_every:
        churner = Churner(fleet, churn_every, log=lambda line: print(f"devlab: {line}", flush=True)).start()
        print(f"devlab: churn on: every {churn_every:g} s {CHURN_FABRIC} drifts or comes back in sync "
              f"(first change in {churn_every:g} s)", flush=True)

    def _forward(signum: int, _frame: Any) -> None:
        proc.send_signal(signum)

    signal.signal(signal.SIGTERM, _forward)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        return proc.wait()
    finally:
        exporter.terminate()
        if churner is not None:
            churner.stop()
        handle.stop()
        fleet.store.save(fleet.state_file)
