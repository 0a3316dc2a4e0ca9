"""Compare desired and live objects: per-resource state and RFC 6902 style changes with severities.

Operations describe how the live object differs from the desired one (what drifted): `replace` a
value the cluster holds differently, `add` a value only the cluster has, `remove` a value the
cluster lacks. Each carries both sides: `desired` and `actual`.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from hedgehog_sync.domain.defaults import ORDER_INSENSITIVE
from hedgehog_sync.domain.kinds import AGENT, DHCP, GATEWAY, GWINT, VPC, WIRING, kind_for
from hedgehog_sync.domain.model import Finding, Obj, ResourceId
from hedgehog_sync.domain.normalize import (
    DEFAULT_RULES, NormalizeRules, Positions, normalize, normalize_with_positions, presence_pointers, sort_key,
    split_pointer,
)
from hedgehog_sync.domain.vocabulary import (  # noqa: F401  (STATES, SEVERITIES: importable from here too)
    CRITICAL, EXTRA, HIGH, IN_SYNC, LOW, MEDIUM, MISSING, MODIFIED, NONE, SEVERITIES, SEVERITY_RANK, STATES,
)

# Weight of a change of each severity in the fabric's drift score.
SEVERITY_WEIGHT = {NONE: 0.0, LOW: 0.25, MEDIUM: 0.5, HIGH: 1.0, CRITICAL: 4.0}

# Losing or gaining one of these changes what the fabric forwards: critical when missing/extra.
CRITICAL_KINDS = frozenset({(WIRING, "Switch"), (WIRING, "Connection"), (VPC, "VPC")})
SPEC_HIGH_GROUPS = frozenset({WIRING, VPC, GATEWAY})

MASK = "***"
# Keys whose values are credentials: reported as changed, never shown.
SECRET_KEY = re.compile(r"(password|passwd|secret|token|credential|psk|private[-_]?key|auth[-_]?key)",
                        re.IGNORECASE)

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
        return MEDIUM
    if path.startswith("/metadata/annotations"):
        return LOW
    if path.startswith("/spec") and group in SPEC_HIGH_GROUPS:
        return HIGH
    return MEDIUM


def presence_severity(group: str, kind: str) -> str:
    """Severity of a whole resource missing from, or extra in, the cluster."""
    return CRITICAL if (group, kind) in CRITICAL_KINDS else HIGH


def max_severity(severities: Iterable[str]) -> str:
    best = NONE
    for s in severities:
        if SEVERITY_RANK[s] > SEVERITY_RANK[best]:
            best = s
    return best


def _is_secret_path(path_tokens: list[str]) -> bool:
    return any(SECRET_KEY.search(t) for t in path_tokens)


def _masked(value: Any) -> Any:
    """The value with everything under a secret-like key replaced by the mask, at any depth."""
    if isinstance(value, dict):
        return {k: (MASK if v is not None and SECRET_KEY.search(str(k)) else _masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def diff_values(desired: Any, actual: Any, group: str, unordered: Iterable[str] = (),
                positions: tuple[Positions, Positions] | None = None) -> list[Change]:
    """Changes between two normalized values, as JSON-pointer operations (desired -> actual).

    `unordered` names lists (RFC 6901 pointers, `*` for any key or index) that are sets: their
    elements are matched by value, so a changed element is one change wherever sorting put it.
    An element of a set is named by its index in the desired list for `replace` and `remove`, and in
    the live list for `add`: as written (in Git, or live) when `positions` (from
    normalize_with_positions, for desired and actual) knows it, else in the normalized list.
    At the top level, `spec` is compared field by field also when one side has none, so that a change
    to an object whose Git spec is empty names the field.
    """
    changes: list[Change] = []
    desired_at, actual_at = positions if positions is not None else ({}, {})
    _diff(desired, actual, [], _Context(group, _split_all(tuple(unordered)), changes, desired_at, actual_at))
    return changes


@functools.lru_cache(maxsize=256)
def _split_all(pointers: tuple[str, ...]) -> list[list[str]]:
    return [split_pointer(p) for p in pointers]


@dataclass
class _Context:
    group: str
    unordered: list[list[str]]
    out: list[Change]
    desired_at: Positions = field(default_factory=dict)
    actual_at: Positions = field(default_factory=dict)


def _pointer(tokens: list[str]) -> str:
    return "".join("/" + escape_token(t) for t in tokens)


def _emit(op: str, tokens: list[str], desired: Any, actual: Any, ctx: _Context) -> None:
    path = _pointer(tokens)
    if _is_secret_path(tokens):
        desired = MASK if desired is not None else None
        actual = MASK if actual is not None else None
    else:
        desired, actual = _masked(desired), _masked(actual)
    ctx.out.append(Change(op, path, desired, actual, change_severity(ctx.group, path)))


# Maps under metadata whose keys are reported one by one even when the whole map is absent on one side.
_PER_KEY_MAPS = ("labels", "annotations")
# Values compared as they are: equal only with the same type (True is not 1) or as numbers (1 == 1.0).
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _diff(desired: Any, actual: Any, tokens: list[str], ctx: _Context) -> None:
    if isinstance(desired, dict) and isinstance(actual, dict):
        per_key = len(tokens) == 1 and tokens[0] == "metadata"
        top = not tokens
        keys = desired.keys() | actual.keys() if desired.keys() != actual.keys() else desired.keys()
        for key in sorted(keys):
            if key in desired and key in actual:
                want, have = desired[key], actual[key]
                if type(want) is type(have) and type(want) in _SCALARS and want == have:
                    continue  # the common case, without a call per field
            tokens.append(key)
            if per_key and key in _PER_KEY_MAPS:
                _diff(desired.get(key, {}), actual.get(key, {}), tokens, ctx)
            elif top and key == "spec" and isinstance(desired.get(key, {}), dict) and isinstance(
                    actual.get(key, {}), dict):
                # An empty spec is pruned to nothing; its fields are still what changed.
                _diff(desired.get(key, {}), actual.get(key, {}), tokens, ctx)
            elif key not in actual:
                _emit("remove", tokens, desired[key], None, ctx)
            elif key not in desired:
                _emit("add", tokens, None, actual[key], ctx)
            else:
                _diff(desired[key], actual[key], tokens, ctx)
            tokens.pop()
        return
    if isinstance(desired, list) and isinstance(actual, list):
        if ctx.unordered and _matches(tokens, ctx.unordered):
            _diff_set(desired, actual, tokens, ctx)
            return
        if len(desired) != len(actual) and not _same_prefix(desired, actual):
            # Elements shifted: one replace of the list reads better than a cascade per index.
            _emit("replace", tokens, desired, actual, ctx)
            return
        common = min(len(desired), len(actual))
        for i in range(common):
            tokens.append(str(i))
            _diff(desired[i], actual[i], tokens, ctx)
            tokens.pop()
        for i in range(common, len(desired)):
            _emit("remove", tokens + [str(i)], desired[i], None, ctx)
        for i in range(common, len(actual)):
            _emit("add", tokens + [str(i)], None, actual[i], ctx)
        return
    if desired != actual or type(desired) is not type(actual) and not _same_number(desired, actual):
        _emit("replace", tokens, desired, actual, ctx)


def _matches(tokens: list[str], patterns: list[list[str]]) -> bool:
    return any(len(p) == len(tokens) and all(a == "*" or a == b for a, b in zip(p, tokens)) for p in patterns)


def _diff_set(desired: list[Any], actual: list[Any], tokens: list[str], ctx: _Context) -> None:
    """A list that is a set: equal elements match wherever they are; the rest pair up by likeness."""
    desired_keys = [sort_key(v) for v in desired]
    actual_keys = [sort_key(v) for v in actual]
    only_desired = _unmatched(desired_keys, Counter(actual_keys))
    only_actual = _unmatched(actual_keys, Counter(desired_keys))
    pairs = _pair(desired, actual, only_desired, only_actual)
    paired_desired = {i for i, _ in pairs}
    paired_actual = {j for _, j in pairs}
    partner = dict(pairs)
    desired_at = ctx.desired_at.get(id(desired))
    actual_at = ctx.actual_at.get(id(actual))
    for i in only_desired:
        tokens.append(str(_as_written(desired_at, i)))
        if i in paired_desired:
            _diff(desired[i], actual[partner[i]], tokens, ctx)
        else:
            _emit("remove", tokens, desired[i], None, ctx)
        tokens.pop()
    for j in only_actual:
        if j not in paired_actual:
            _emit("add", tokens + [str(_as_written(actual_at, j))], None, actual[j], ctx)


def _as_written(where: list[int | None] | None, index: int) -> int:
    """The index an element of a normalized set had where it was written, or its normalized one."""
    if where is None or index >= len(where) or where[index] is None:
        return index
    return where[index]  # type: ignore[return-value]


def _unmatched(keys: list[str], other: Counter[str]) -> list[int]:
    out = []
    for index, key in enumerate(keys):
        if other[key] > 0:
            other[key] -= 1
        else:
            out.append(index)
    return out


def _pair(desired: list[Any], actual: list[Any], only_desired: list[int], only_actual: list[int]) -> list[tuple[int, int]]:
    """Which unmatched elements are one element changed: scalars in order, structures by shared fields."""
    if not only_desired or not only_actual:
        return []
    structured = any(isinstance(desired[i], (dict, list)) for i in only_desired) or any(
        isinstance(actual[j], (dict, list)) for j in only_actual)
    if not structured or len(only_desired) * len(only_actual) > 400:
        return list(zip(only_desired, only_actual))
    leaves_d = {i: _leaves(desired[i]) for i in only_desired}
    leaves_a = {j: _leaves(actual[j]) for j in only_actual}
    scored = sorted(((-sum((leaves_d[i] & leaves_a[j]).values()), i, j) for i in only_desired for j in only_actual))
    pairs, used_d, used_a = [], set(), set()
    for score, i, j in scored:
        if score < 0 and i not in used_d and j not in used_a:
            pairs.append((i, j))
            used_d.add(i)
            used_a.add(j)
    return sorted(pairs)


def _leaves(value: Any, prefix: str = "") -> Counter[str]:
    """(place, value) of every scalar in a structure, list positions ignored: what two elements share."""
    out: Counter[str] = Counter()
    stack = [(prefix, value)]
    while stack:
        place, item = stack.pop()
        if isinstance(item, (dict, list)) and not item:
            out[f"{place}={sort_key(item)}"] += 1  # `vpc-1: {}` is a fact two elements can share
        elif isinstance(item, dict):
            stack.extend((f"{place}/{escape_token(str(k))}", v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((f"{place}/*", v) for v in item)
        else:
            out[f"{place}={sort_key(item)}"] += 1
    return out


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
    # Objects that could not be compared (a malformed live item, a value of an unexpected type): each an
    # error, so the fabric is never reported in sync while one of them is unchecked.
    findings: list[Finding] = field(default_factory=list)


def _shape_problem(obj: Any) -> str | None:
    """Why an object cannot be compared at all, or None when it has the shape of a Kubernetes object."""
    if not isinstance(obj, dict):
        return f"is {type(obj).__name__}, not an object"
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str) or not obj.get(key):
            return f"has no {key} string"
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return f"has metadata of type {type(meta).__name__}, not a mapping"
    if not isinstance(meta.get("name"), str) or not meta.get("name"):
        return "has no metadata.name string"
    if meta.get("namespace") is not None and not isinstance(meta.get("namespace"), str):
        return f"has metadata.namespace of type {type(meta.get('namespace')).__name__}"
    return None


def _label(obj: Any) -> str:
    if not isinstance(obj, dict):
        return "an item"
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    text = f"{obj.get('kind') or '?'} {name if isinstance(name, str) else '?'}"
    return text if len(text) <= 120 else text[:119] + "…"


def _short_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:299] + "…"


def compare(desired: list[Obj], live: list[Obj], rules: NormalizeRules = DEFAULT_RULES,
            sources: list[tuple[str, int]] | None = None, include_extra: bool = True) -> Comparison:
    """Per-resource states for a fabric. `include_extra=False` when the desired side is partial."""
    findings: list[Finding] = []
    desired_by_id: dict[ResourceId, tuple[Obj, str | None]] = {}
    for i, obj in enumerate(desired):
        src = f"{sources[i][0]}#{sources[i][1]}" if sources and i < len(sources) else None
        problem = _shape_problem(obj)
        if problem:
            findings.append(Finding(src or "git", f"{_label(obj)} {problem}; not compared"))
            continue
        desired_by_id.setdefault(ResourceId.of(obj), (obj, src))
    live_by_id: dict[ResourceId, Obj] = {}
    for obj in live:
        problem = _shape_problem(obj)
        if problem:
            kind = obj.get("kind") if isinstance(obj, dict) and isinstance(obj.get("kind"), str) else "?"
            findings.append(Finding(f"cluster:{kind[:60]}", f"live {_label(obj)} {problem}; not compared"))
            continue
        live_by_id[ResourceId.of(obj)] = obj

    counts = dict.fromkeys(STATES, 0)
    drifts: list[ResourceDrift] = []
    # ResourceId orders as the tuple of its fields; sorting by that tuple avoids a Python __lt__ per step.
    for rid in sorted(desired_by_id.keys() | live_by_id.keys(),
                      key=lambda r: (r.group, r.kind, r.namespace, r.name)):
        want = desired_by_id.get(rid)
        have = live_by_id.get(rid)
        if want is not None and have is not None:
            try:
                unordered = ORDER_INSENSITIVE.get((rid.group, rid.kind), ())
                present = presence_pointers(want[0]) | presence_pointers(have)
                changes = diff_values(normalize(want[0], rules, present), normalize(have, rules, present),
                                      rid.group, unordered)
                if changes and unordered:
                    # Name set elements as written: worth the second pass only where something changed.
                    desired_n, desired_at = normalize_with_positions(want[0], rules, present)
                    actual_n, actual_at = normalize_with_positions(have, rules, present)
                    changes = diff_values(desired_n, actual_n, rid.group, unordered, (desired_at, actual_at))
            except Exception as exc:  # one odd value (a list where a map belongs) is that resource's error
                findings.append(Finding(want[1] or f"cluster:{rid.kind}",
                                        f"{rid.kind} {rid.name} could not be compared: {_short_error(exc)}"))
                continue
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
            try:
                generated = is_controller_generated(have)
            except Exception as exc:
                findings.append(Finding(f"cluster:{rid.kind}", f"{rid.kind} {rid.name} could not be compared: "
                                                               f"{_short_error(exc)}"))
                continue
            if generated or not include_extra:
                continue
            drift = ResourceDrift(rid, str(have.get("apiVersion")), EXTRA,
                                  presence_severity(rid.group, rid.kind))
        counts[drift.state] += 1
        drifts.append(drift)
    return Comparison(drifts, counts, findings)


def drift_score(drifts: Iterable[ResourceDrift]) -> float:
    """0 in sync, towards 1 as weighted drift grows; monotone in the weighted count of changes."""
    weight = 0.0
    for d in drifts:
        if d.state == MODIFIED:
            weight += sum(SEVERITY_WEIGHT[c.severity] for c in d.changes)
        else:
            weight += SEVERITY_WEIGHT[d.severity]
    return round(weight / (weight + 10.0), 4)
