"""The remediation plan of one fabric: what to apply and what to delete to make the cluster match Git.

Pure: it reads a drift report and the Git objects at the report's commit, nothing else. hedgehog-sync
stays read-only; a person reviews the plan and runs kubectl (docs/remediation.md).

Choices, each for a reason:
- Objects to apply are the Git objects as written (not defaulted): the webhooks default them on the
  way in, exactly as when they were first applied. Only what the API server owns is taken out
  (server-managed metadata, `status`, kubectl's own annotations), and the namespace is made explicit.
- A field the report shows live but absent from Git (a label added by hand, a field Git leaves to a
  default but that was set by hand) is written as `null` at the first key Git lacks: a client-side
  `kubectl apply` of an object that has no last-applied-configuration (created by hhfab, the NetBox
  plugin or `kubectl create`) would otherwise keep it, and the fabric would stay drifted. A JSON merge
  patch removes a null key; a defaulted field comes back from the webhook. Lists are replaced whole by
  a merge patch, so nothing below a list needs a null.
- Deletions are references only (apiVersion, kind, namespace, name), in a separate list: deleting is
  a deliberate second step.
- Controller-generated objects (Agents, DHCPSubnets, built-in profiles, ...) are never in a plan.
- A Git object holding a value under a Secret-like key (the report's own pattern) is never put in a
  plan, which is shown in the UI and written to files: masking the value would write the mask into the
  cluster, so the object is held back, naming its Git file, to be applied from the checkout itself.
- An `unknown` fabric gets no plan, with the reason: a partial read cannot say what to change.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

import yaml

from hedgehog_sync.domain.diff import EXTRA, MISSING, MODIFIED, SECRET_KEY, is_controller_generated
from hedgehog_sync.domain.drift_report import DriftReport, as_report_json
from hedgehog_sync.domain.kinds import GATEWAY, VPC, WIRING, split_api_version
from hedgehog_sync.domain.model import DesiredState, Obj, ResourceId
from hedgehog_sync.domain.normalize import SERVER_METADATA, split_pointer
from hedgehog_sync.domain.render import md_code, md_text, visible
from hedgehog_sync.domain.vocabulary import DRIFTED, IN_SYNC_STATUS, UNKNOWN

# What kubectl and the API server keep in an object's annotations about applies: never re-applied.
KUBECTL_ANNOTATION_PREFIX = "kubectl.kubernetes.io/"

# Applied in this order (referenced kinds first, as the webhooks check references); deleted in reverse.
_APPLY_ORDER = [
    (VPC, "IPv4Namespace"), (WIRING, "VLANNamespace"), (WIRING, "SwitchProfile"), (WIRING, "ServerProfile"),
    (WIRING, "SwitchGroup"), (WIRING, "Switch"), (WIRING, "Server"), (WIRING, "Connection"), (VPC, "VPC"),
    (VPC, "External"), (VPC, "VPCAttachment"), (VPC, "VPCPeering"), (VPC, "ExternalAttachment"),
    (VPC, "ExternalPeering"), (GATEWAY, "GatewayGroup"), (GATEWAY, "Gateway"), (GATEWAY, "GatewayPeering"),
]
_RANK = {gk: i for i, gk in enumerate(_APPLY_ORDER)}


@dataclass(frozen=True)
class Held:
    """A drifted resource the plan leaves out, and why."""

    kind: str
    namespace: str
    name: str
    reason: str
    source: str | None = None  # "path/in/repo.yaml#3": where to apply it from, when it is in Git

    def as_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "namespace": self.namespace, "name": self.name, "reason": self.reason}
        if self.source:
            out["source"] = self.source
        return out


@dataclass
class Plan:
    """What to run to make one fabric match Git again. `reason` set: there is no plan, and why."""

    fabric: str
    commit: str | None = None
    apply: list[Obj] = field(default_factory=list)  # objects for `kubectl apply -f`
    delete: list[Obj] = field(default_factory=list)  # references for `kubectl delete -f`
    held: list[Held] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what makes the plan incomplete
    reason: str | None = None
    # Where to run it (the fabric's inventory entry): shown with the commands, not part of the version.
    kubeconfig: str | None = None
    context: str | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.apply or self.delete or self.held)

    @property
    def version(self) -> str | None:
        """sha256 of the canonical plan; None when there is nothing to do or no plan."""
        if self.reason is not None or not self.has_changes:
            return None
        canonical = json.dumps({"apply": self.apply, "delete": self.delete,
                                "held": [h.as_dict() for h in self.held]},
                               sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def summary(self) -> dict[str, Any]:
        return {"version": self.version, "apply": len(self.apply), "delete": len(self.delete),
                "held": len(self.held), "reason": self.reason}


def plan_for(report: DriftReport | dict[str, Any], desired: DesiredState | None) -> Plan:
    """The plan for a fabric's report, from the Git objects the report was computed from."""
    report = as_report_json(report)
    fabric = str(report.get("fabric") or "")
    status = report.get("status")
    commit = (report.get("git") or {}).get("commit")
    if status == UNKNOWN:
        return Plan(fabric, commit, reason=f"the fabric is unknown: {_first_error(report)}; "
                                           "no plan until both sides are read completely")
    if status == IN_SYNC_STATUS:
        return Plan(fabric, commit)
    if status != DRIFTED:
        return Plan(fabric, commit, reason=f"the report's status is {status!r}, not drifted or in_sync")
    if desired is None:
        return Plan(fabric, commit, reason="the Git objects of the report's commit were not read")
    if commit != desired.commit:
        return Plan(fabric, commit, reason=f"Git was read at commit {desired.commit[:12]}, the report is of "
                                           f"{str(commit)[:12]}: check again, then plan")
    in_git: dict[ResourceId, tuple[Obj, str | None]] = {}
    for i, obj in enumerate(desired.objects):
        if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
            src = desired.sources[i] if i < len(desired.sources) else None
            in_git.setdefault(ResourceId.of(obj), (obj, f"{src[0]}#{src[1]}" if src else None))
    plan = Plan(fabric, commit)
    if report.get("resources_omitted"):
        plan.notes.append(f"the report left out {report['resources_omitted']} drifted resources (its size "
                          "bound): after applying this plan, check and plan again")
    for entry in report.get("resources") or []:
        _add(plan, entry, in_git)
    plan.apply.sort(key=_order)
    plan.delete.sort(key=_order, reverse=True)
    return plan


def _first_error(report: dict[str, Any]) -> str:
    errors = report.get("errors") or []
    if errors and isinstance(errors[0], dict):
        first = errors[0]
        return f"{first.get('source', '?')}: {str(first.get('message', ''))[:300]}"
    return "one side could not be read completely"


def _order(obj: Obj) -> tuple[int, str, str, str]:
    group, _ = split_api_version(str(obj.get("apiVersion", "")))
    meta = obj.get("metadata") or {}
    return (_RANK.get((group, str(obj.get("kind"))), len(_RANK)), str(obj.get("kind")),
            str(meta.get("namespace")), str(meta.get("name")))


def _add(plan: Plan, entry: dict[str, Any], in_git: dict[ResourceId, tuple[Obj, str | None]]) -> None:
    state = entry.get("state")
    api_version, kind = str(entry.get("apiVersion") or ""), str(entry.get("kind") or "")
    namespace, name = str(entry.get("namespace") or "default"), str(entry.get("name") or "")
    group, _ = split_api_version(api_version)
    ref = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}}
    if is_controller_generated(ref):
        plan.held.append(Held(kind, namespace, name, "controller-generated: never in a plan"))
        return
    if state == EXTRA:
        plan.delete.append(ref)
        return
    if state not in (MODIFIED, MISSING):
        return
    found = in_git.get(ResourceId(group, kind, namespace, name))
    if found is None:
        plan.held.append(Held(kind, namespace, name, "not found in Git at the report's commit"))
        return
    written, source = found
    if is_controller_generated(written):
        plan.held.append(Held(kind, namespace, name, "controller-generated: never in a plan", source))
        return
    if _holds_secret(written):
        plan.held.append(Held(kind, namespace, name, "holds a Secret-like value: apply it from your checkout of "
                                                     "Git, never from a plan", source))
        return
    obj = _applicable(written, namespace)
    if state == MODIFIED:
        if entry.get("changes_omitted"):
            plan.notes.append(f"{kind} {name}: the report left out {entry['changes_omitted']} of its changes; "
                              "a field set only live among them stays until the next plan")
        for change in entry.get("changes") or []:
            path = change.get("path")
            if isinstance(path, str) and path.endswith("…"):
                plan.notes.append(f"{kind} {name}: a change's path was cut in the report; check again after applying")
                continue
            if isinstance(path, str):
                _null_where_git_is_silent(obj, split_pointer(path))
    plan.apply.append(obj)


def _holds_secret(value: Any, depth: int = 0) -> bool:
    """A value under a Secret-like key anywhere in the object (the key pattern the report masks)."""
    if depth > 200:
        return True  # deeper than any Hedgehog object: refuse rather than recurse without end
    if isinstance(value, dict):
        return any((v is not None and SECRET_KEY.search(str(k))) or _holds_secret(v, depth + 1)
                   for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_secret(v, depth + 1) for v in value)
    return False


def _applicable(written: Obj, namespace: str) -> Obj:
    """The Git object as written, without what the API server or kubectl own, its namespace explicit."""
    obj = {k: copy.deepcopy(v) for k, v in written.items() if k != "status"}
    meta = obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k not in SERVER_METADATA}
    meta["namespace"] = namespace
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        kept = {k: v for k, v in annotations.items() if not str(k).startswith(KUBECTL_ANNOTATION_PREFIX)}
        if kept:
            meta["annotations"] = kept
        else:
            meta.pop("annotations")
    return obj


def _null_where_git_is_silent(obj: Obj, tokens: list[str]) -> None:
    """Set null at the first key of `tokens` the written object lacks, so a merge patch removes it live."""
    node: Any = obj
    for depth, token in enumerate(tokens):
        if not isinstance(node, dict):
            return  # a list (replaced whole by a merge patch) or a scalar Git wrote: the Git value wins
        if token not in node or (node[token] is None and depth == 1 and tokens[0] == "metadata"):
            if depth == 1 and tokens[0] == "metadata" and token in ("labels", "annotations") and len(tokens) > 2:
                node[token] = {}  # one key, never the whole map: controllers keep their own labels there
            else:
                node[token] = None
                return
        node = node[token]


# --- what a person sees and runs ----------------------------------------------------------------------

def _documents(objects: list[Obj], header: str) -> str:
    body = yaml.safe_dump_all(objects, sort_keys=False, explicit_start=True, allow_unicode=False, width=120)
    return header + (body if objects else "")


def apply_yaml(plan: Plan) -> str:
    return _documents(plan.apply, f"# hedgehog-sync plan for fabric {plan.fabric} at Git commit {plan.commit}: "
                                  f"{len(plan.apply)} objects to apply (plan {plan.version})\n")


def delete_yaml(plan: Plan) -> str:
    return _documents(plan.delete, f"# hedgehog-sync plan for fabric {plan.fabric}: {len(plan.delete)} objects "
                                   f"to delete, after reviewing them (plan {plan.version})\n")


def kubectl_commands(plan: Plan, kubeconfig: str | None, context: str | None,
                     apply_file: str = "apply.yaml", delete_file: str = "delete.yaml") -> list[str]:
    """The commands to run, in order; the deletion last and on its own (`kubectl diff -f` the same
    files first shows what each would change)."""
    base = ["kubectl"]
    if kubeconfig:
        base += ["--kubeconfig", kubeconfig]
    if context:
        base += ["--context", context]
    prefix = " ".join(shlex.quote(part) for part in base)
    out = []
    if plan.apply:
        out.append(f"{prefix} apply -f {shlex.quote(apply_file)}")
    if plan.delete:
        out.append(f"{prefix} delete -f {shlex.quote(delete_file)}")
    return out


def _fenced(text: str, info: str = "") -> str:
    """A code block no content can close early: its fence is longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def plan_markdown(plan: Plan | None, max_chars: int = 6000) -> str:
    """The plan as the UI shows it: what it does, the commands, then the files, each cut to a bound."""
    if plan is None:
        return "No remediation plan was computed for this report."
    if plan.reason is not None:
        return f"**No remediation plan**: {md_text(plan.reason, 400)}"
    if not plan.has_changes:
        return "**Remediation plan**: nothing to do, the fabric matches Git."
    lines = [f"**Remediation plan** {md_code((plan.version or '')[:12])} for commit {md_code((plan.commit or '')[:12])}: "
             f"{len(plan.apply)} to apply, {len(plan.delete)} to delete, {len(plan.held)} held back. "
             f"Write the files with `hedgehog-sync plan --fabric {visible(plan.fabric, 63)} --output DIR`, "
             "review them (`kubectl diff -f`), then run, deleting last and on purpose:", ""]
    commands = kubectl_commands(plan, plan.kubeconfig, plan.context)
    if commands:
        lines += [_fenced("\n".join(visible(c, 600) for c in commands), "sh"), ""]
    for held in plan.held[:20]:
        lines.append(f"- held back: {md_code(held.kind, 40)} {md_code(held.name, 80)}: {md_text(held.reason, 200)}"
                     + (f" (Git: {md_code(held.source, 120)})" if held.source else ""))
    if len(plan.held) > 20:
        lines.append(f"- ... and {len(plan.held) - 20} more held back")
    for note in plan.notes[:10]:
        lines.append(f"- note: {md_text(note, 300)}")
    budget = max_chars
    for name, text in (("apply.yaml", apply_yaml(plan)), ("delete.yaml", delete_yaml(plan))):
        shown = text if len(text) <= budget else text[:max(budget, 0)] + f"\n# ... {len(text) - budget} more characters"
        budget -= len(shown)
        lines += ["", f"{name}:", "", _fenced(shown, "yaml")]
    return "\n".join(lines)
