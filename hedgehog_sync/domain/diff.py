"""Compare desired and live objects: per-resource state and RFC 6902 style changes with severities.

Operations describe how the live object differs from the desired one (what drifted): `replace` a
value the cluster holds differently, `add` a value only the cluster has, `remove` a value the
cluster lacks. Each carries both sides: `desired` and `actual`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from hedgehog_sync.domain.kinds import AGENT, DHCP, GATEWAY, GWINT, VPC, WIRING, kind_for
from hedgehog_sync.domain.model import Obj, ResourceId
from hedgehog_sync.domain.normalize import DEFAULT_RULES, NormalizeRules, normalize

SEVERITIES = ("none", "low", "medium", "high", "critical")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
# Weight of a change of each severity in the fabric's drift score.
SEVERITY_WEIGHT = {"none": 0.0, "low": 0.25, "medium": 0.5, "high": 1.0, "critical": 4.0}

# Losing or gaining one of these changes what the fabric forwards: critical when missing/extra.
CRITICAL_KINDS = frozenset({(WIRING, "Switch"), (WIRING, "Connection"), (VPC, "VPC")})
SPEC_HIGH_GROUPS = frozenset({WIRING, VPC, GATEWAY})

MASK = "***"
# Keys whose values are credentials: reported as changed, never shown.
SECRET_KEY = re.compile(r"(password|passwd|secret|token|credential|psk|private[-_]?key|auth[-_]?key)",
                        re.IGNORECASE)

IN_SYNC, MODIFIED, MISSING, EXTRA = "in_sync", "modified", "missing", "extra"
STATES = (IN_SYNC, MODIFIED, MISSING, EXTRA)


@dataclass(frozen=True)
class Change:
    op: str  # replace | add | remove
    path: str  # JSON pointer (RFC 6901)
    desired: Any
    actual: Any
    severity: str

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "path": self.path}
        if self.op != "add":
            out["desired"] = self.desired
        if self.op != "remove":
            out["actual"] = self.actual
        out["severity"] = self.severity
        return out


@dataclass
class ResourceDrift:
    rid: ResourceId
    api_version: str
    state: str
    severity: str
    changes: list[Change] = field(default_factory=list)
    source: str | None = None  # "path/in/repo.yaml#3" when the desired side came from Git

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "apiVersion": self.api_version, "kind": self.rid.kind, "namespace": self.rid.namespace,
            "name": self.rid.name, "state": self.state, "severity": self.severity,
            "changes": [c.as_dict() for c in self.changes],
        }
        if self.source:
            out["source"] = self.source
        return out


def escape_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def change_severity(group: str, path: str) -> str:
    """Severity of one changed field: spec of wiring/VPC/gateway kinds high, labels medium, ..."""
    if path.startswith("/metadata/labels"):
        return "medium"
    if path.startswith("/metadata/annotations"):
        return "low"
    if path.startswith("/spec") and group in SPEC_HIGH_GROUPS:
        return "high"
    return "medium"


def presence_severity(group: str, kind: str) -> str:
    """Severity of a whole resource missing from, or extra in, the cluster."""
    return "critical" if (group, kind) in CRITICAL_KINDS else "high"


def max_severity(severities: Iterable[str]) -> str:
    best = "none"
    for s in severities:
        if SEVERITY_RANK[s] > SEVERITY_RANK[best]:
            best = s
    return best


def _is_secret_path(path_tokens: list[str]) -> bool:
    return any(SECRET_KEY.search(t) for t in path_tokens)


def diff_values(desired: Any, actual: Any, group: str) -> list[Change]:
    """Changes between two normalized values, as JSON-pointer operations (desired -> actual)."""
    changes: list[Change] = []
    _diff(desired, actual, [], group, changes)
    return changes


def _pointer(tokens: list[str]) -> str:
    return "".join("/" + escape_token(t) for t in tokens)


def _emit(op: str, tokens: list[str], desired: Any, actual: Any, group: str, out: list[Change]) -> None:
    path = _pointer(tokens)
    if _is_secret_path(tokens):
        desired = MASK if desired is not None else None
        actual = MASK if actual is not None else None
    out.append(Change(op, path, desired, actual, change_severity(group, path)))


# Maps whose keys are reported one by one even when the whole map is absent on one side.
_PER_KEY_MAPS = (["metadata", "labels"], ["metadata", "annotations"])


def _diff(desired: Any, actual: Any, tokens: list[str], group: str, out: list[Change]) -> None:
    if isinstance(desired, dict) and isinstance(actual, dict):
        for key in sorted(desired.keys() | actual.keys()):
            here = tokens + [key]
            if here in _PER_KEY_MAPS:
                _diff(desired.get(key, {}), actual.get(key, {}), here, group, out)
            elif key not in actual:
                _emit("remove", here, desired[key], None, group, out)
            elif key not in desired:
                _emit("add", here, None, actual[key], group, out)
            else:
                _diff(desired[key], actual[key], here, group, out)
        return
    if isinstance(desired, list) and isinstance(actual, list):
        if len(desired) != len(actual) and not _same_prefix(desired, actual):
            # Elements shifted: one replace of the list reads better than a cascade per index.
            _emit("replace", tokens, desired, actual, group, out)
            return
        common = min(len(desired), len(actual))
        for i in range(common):
            _diff(desired[i], actual[i], tokens + [str(i)], group, out)
        for i in range(common, len(desired)):
            _emit("remove", tokens + [str(i)], desired[i], None, group, out)
        for i in range(common, len(actual)):
            _emit("add", tokens + [str(i)], None, actual[i], group, out)
        return
    if desired != actual or type(desired) is not type(actual) and not _same_number(desired, actual):
        _emit("replace", tokens, desired, actual, group, out)


def _same_prefix(a: list[Any], b: list[Any]) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _same_number(a: Any, b: Any) -> bool:
    numeric = (int, float)
    return (isinstance(a, numeric) and isinstance(b, numeric)
            and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def is_controller_generated(obj: Obj) -> bool:
    """Objects the fabric controller creates itself: never 'extra in cluster'."""
    rid = ResourceId.of(obj)
    if rid.group in (AGENT, DHCP, GWINT):
        return True
    known = kind_for(rid.group, rid.kind)
    if known is not None and not known.authored:
        return True
    if (rid.group, rid.kind, rid.name) == (GATEWAY, "GatewayGroup", "default"):
        return True  # the gateway controller creates the default group itself
    if (rid.group, rid.kind) == (WIRING, "SwitchProfile"):
        # Built-in profiles ship with the controller (they carry fabric.githedgehog.com labels).
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return any(str(k).startswith("fabric.githedgehog.com/") for k in labels)
    return False


@dataclass
class Comparison:
    """The result of comparing one fabric's desired objects with its live objects."""

    drifts: list[ResourceDrift]
    counts: dict[str, int]


def compare(desired: list[Obj], live: list[Obj], rules: NormalizeRules = DEFAULT_RULES,
            sources: list[tuple[str, int]] | None = None, include_extra: bool = True) -> Comparison:
    """Per-resource states for a fabric. `include_extra=False` when the desired side is partial."""
    desired_by_id: dict[ResourceId, tuple[Obj, str | None]] = {}
    for i, obj in enumerate(desired):
        src = f"{sources[i][0]}#{sources[i][1]}" if sources else None
        desired_by_id.setdefault(ResourceId.of(obj), (obj, src))
    live_by_id: dict[ResourceId, Obj] = {ResourceId.of(o): o for o in live}

    counts = dict.fromkeys(STATES, 0)
    drifts: list[ResourceDrift] = []
    for rid in sorted(desired_by_id.keys() | live_by_id.keys()):
        want = desired_by_id.get(rid)
        have = live_by_id.get(rid)
        if want is not None and have is not None:
            changes = diff_values(normalize(want[0], rules), normalize(have, rules), rid.group)
            if not changes:
                counts[IN_SYNC] += 1
                continue
            drift = ResourceDrift(rid, str(have.get("apiVersion")), MODIFIED,
                                  max_severity(c.severity for c in changes), changes, want[1])
        elif want is not None:
            drift = ResourceDrift(rid, str(want[0].get("apiVersion")), MISSING,
                                  presence_severity(rid.group, rid.kind), source=want[1])
        else:
            assert have is not None
            if is_controller_generated(have) or not include_extra:
                continue
            drift = ResourceDrift(rid, str(have.get("apiVersion")), EXTRA,
                                  presence_severity(rid.group, rid.kind))
        counts[drift.state] += 1
        drifts.append(drift)
    return Comparison(drifts, counts)


def drift_score(drifts: Iterable[ResourceDrift]) -> float:
    """0 in sync, towards 1 as weighted drift grows; monotone in the weighted count of changes."""
    weight = 0.0
    for d in drifts:
        if d.state == MODIFIED:
            weight += sum(SEVERITY_WEIGHT[c.severity] for c in d.changes)
        else:
            weight += SEVERITY_WEIGHT[d.severity]
    return round(weight / (weight + 10.0), 4)
