"""Demo churn: drift that appears and clears in one demo fabric, so the UI's history has a story.

A fixed cycle of six steps on fab-east, each leaving a state the next sync sees, alternately
drifted and back in sync: a VLAN edited live and reverted; a VPC committed to Git and then created
live; the VPC removed from Git and then deleted live. Live changes go through the FabricStore's
Python API (what `kubectl` would do to a real fabric), Git changes are real commits.

Deterministic: step n is always STEPS[n % 6], and each step sets its target state from the
generated fabric rather than toggling what is there, so running a step twice, or restarting the
demo half way (the next step number is kept in the demo folder), gives the same result.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import git  # GitPython

from hedgehog_sync.devlab.apiserver import FabricStore
from hedgehog_sync.devlab.generator import render_yaml
from hedgehog_sync.devlab.gitrepos import commit_files

# The demo's fab-east: in sync until the churn starts (devlab/demo.py names it IN_SYNC_FABRIC from
# here, so the two modules share one name and only the demo imports the churn).
CHURN_FABRIC = "fab-east"
CHURN_VPC = "churn-vpc"
CHURN_FILE = f"vpcs/{CHURN_VPC}.yaml"
VLAN_OFFSET = 1000
VPC = "vpc.githedgehog.com"


class ChurnFleet(Protocol):
    """What the churn needs of a fleet (devlab/demo.py's DemoFleet is one): its folder (Git repos
    under `git/<fabric>`), its live store, a fabric's generated desired objects, and an object as
    the cluster keeps it."""

    root: Path
    store: FabricStore

    def desired(self, fabric: str) -> list[dict[str, Any]]: ...

    def stored(self, obj: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ChurnStep:
    index: int  # position in the endless sequence: 0, 1, 2, ...
    action: str
    drifted_after: bool  # what the next sync of the fabric reports: drifted, or back in sync


ACTIONS = (
    ("edit_vlan_live", True),     # modified (high)
    ("revert_vlan_live", False),
    ("commit_vpc", True),         # missing (critical): in Git, not yet in the cluster
    ("create_vpc_live", False),
    ("remove_vpc_from_git", True),  # extra (critical): in the cluster, no longer in Git
    ("delete_vpc_live", False),
)


def plan(index: int) -> ChurnStep:
    """The step at position `index` of the cycle."""
    action, drifted = ACTIONS[index % len(ACTIONS)]
    return ChurnStep(index, action, drifted)


def _edited_vpc(fleet: ChurnFleet) -> dict[str, Any]:
    return next(o for o in fleet.desired(CHURN_FABRIC) if o["kind"] == "VPC")


def churn_vpc(fleet: ChurnFleet) -> dict[str, Any]:
    """The VPC the churn adds and removes, as authored in Git: a copy of the fabric's last VPC."""
    vpc = copy.deepcopy([o for o in fleet.desired(CHURN_FABRIC) if o["kind"] == "VPC"][-1])
    vpc["metadata"] = {"name": CHURN_VPC, "namespace": "default"}
    for subnet in vpc["spec"]["subnets"].values():
        subnet["vlan"] = int(subnet["vlan"]) + VLAN_OFFSET + 500
    return vpc


def _repo(fleet: ChurnFleet) -> git.Repo:
    return git.Repo(fleet.root / "git" / CHURN_FABRIC)


def _commit_if_changed(repo: git.Repo, path: str, content: str | None, message: str) -> str:
    target = Path(repo.working_tree_dir or ".") / path
    present = target.read_text() if target.exists() else None
    if present == content:
        return f"Git already {'has' if content else 'lacks'} {path}"
    sha = commit_files(repo, {path: content}, message)
    return f"committed {sha[:12]} ({message})"


def apply_step(fleet: ChurnFleet, step: ChurnStep) -> str:
    """Carry out one step on the demo fleet; returns what it did, for the demo's log."""
    store, fabric = fleet.store, CHURN_FABRIC
    vpc = _edited_vpc(fleet)
    name = vpc["metadata"]["name"]
    if step.action in ("edit_vlan_live", "revert_vlan_live"):
        live = fleet.stored(vpc)
        subnet = sorted(live["spec"]["subnets"])[0]
        vlan = int(live["spec"]["subnets"][subnet]["vlan"])
        if step.action == "edit_vlan_live":
            live["spec"]["subnets"][subnet]["vlan"] = vlan + VLAN_OFFSET
            store.put(fabric, live, manager="kubectl-edit")
            return f"{fabric}: VPC {name} subnet {subnet} VLAN set to {vlan + VLAN_OFFSET} live (Git says {vlan})"
        store.put(fabric, live, manager="kubectl-apply")
        return f"{fabric}: VPC {name} subnet {subnet} VLAN back to {vlan} live, as in Git"
    if step.action == "commit_vpc":
        return f"{fabric}: " + _commit_if_changed(_repo(fleet), CHURN_FILE, render_yaml([churn_vpc(fleet)]),
                                                  f"{fabric}: add VPC {CHURN_VPC}")
    if step.action == "create_vpc_live":
        store.put(fabric, fleet.stored(churn_vpc(fleet)), manager="kubectl-apply")
        return f"{fabric}: VPC {CHURN_VPC} created live, as in Git"
    if step.action == "remove_vpc_from_git":
        return f"{fabric}: " + _commit_if_changed(_repo(fleet), CHURN_FILE, None,
                                                  f"{fabric}: remove VPC {CHURN_VPC}")
    if step.action == "delete_vpc_live":
        store.delete(fabric, VPC, "vpcs", CHURN_VPC)
        return f"{fabric}: VPC {CHURN_VPC} deleted live, as in Git"
    raise ValueError(f"unknown churn action {step.action!r}")


class Churner:
    """Runs one churn step every `every_seconds` (the first after one interval) in a background
    thread, until stop(). The next step's number is kept in `<demo>/churn.json`."""

    def __init__(self, fleet: ChurnFleet, every_seconds: float, log: Callable[[str], None] = print):
        if every_seconds <= 0:
            raise ValueError("every_seconds must be positive")
        self.fleet, self.every_seconds, self.log = fleet, every_seconds, log
        self.state_file = fleet.root / "churn.json"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="devlab-churn", daemon=True)

    def next_index(self) -> int:
        try:
            return int(json.loads(self.state_file.read_text())["next"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return 0

    def step_once(self) -> str:
        step = plan(self.next_index())
        done = apply_step(self.fleet, step)
        self.state_file.write_text(json.dumps({"next": step.index + 1}) + "\n")
        expect = "drift appears" if step.drifted_after else "drift clears"
        line = f"churn step {step.index}: {done} ({expect} at the next sync)"
        self.log(line)
        return line

    def _run(self) -> None:
        while not self._stop.wait(self.every_seconds):
            try:
                self.step_once()
            except Exception as exc:  # the demo keeps serving; the next step tries again
                self.log(f"churn step failed: {type(exc).__name__}: {exc}")

    def start(self) -> "Churner":
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
