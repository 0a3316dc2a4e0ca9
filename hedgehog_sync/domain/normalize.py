"""Bring an object to the form both sides are compared in, so that server bookkeeping is not drift."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

from hedgehog_sync.domain.defaults import IGNORED_POINTERS, ORDER_INSENSITIVE, apply_defaults
from hedgehog_sync.domain.kinds import GATEWAY, VPC, WIRING, split_api_version
from hedgehog_sync.domain.model import Obj

# What the API server writes on every object (docs/contracts.md#what-is-ignored).
SERVER_METADATA = frozenset({
    "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
    "deletionGracePeriodSeconds", "deletionTimestamp", "ownerReferences", "finalizers",
})

# Labels and annotations that controllers, kubectl and the NetBox plugin write, not operators.
# Hedgehog's own list labels look like `vpc.fabric.githedgehog.com/x`: matched anywhere in the key.
SYSTEM_KEY_MARKERS = ("fabric.githedgehog.com/", "kubectl.kubernetes.io/", "hnp.githedgehog.com/")
# ...except these, which operators set and the agents act on (pkg/ctrl/agent_ctrl.go upstream).
OPERATOR_KEYS = frozenset({"fabric.githedgehog.com/p2p-link", "fabric.githedgehog.com/route-summ"})

# What Go's types make of zero values, per kind: RFC 6901 pointers, `*` is any map key or list index.
# Everywhere else an absent field, null, "", false, 0, {} and [] are the same (Go decodes them to one zero
# value and omitempty drops it on the way out), so they are pruned from both sides.
#
# Maps whose keys are data (map[string]T upstream): every entry counts, even with a zero value
# (`enp2s2: {}`, `E1/2: false`), because Go writes every map entry back.
KEYED_MAPS: dict[tuple[str, str], tuple[str, ...]] = {
    (WIRING, "Switch"): ("/spec/portGroupSpeeds", "/spec/portSpeeds", "/spec/portBreakouts",
                         "/spec/portAutoNegs", "/spec/portFECs"),
    (WIRING, "SwitchProfile"): ("/spec/ports", "/spec/portGroups", "/spec/portProfiles", "/spec/pipelines",
                                "/spec/portProfiles/*/breakout/supported"),
    (VPC, "VPCPeering"): ("/spec/permit/*",),
    (VPC, "VPC"): ("/spec/subnets", "/spec/subnets/*/dhcp/static", "/spec/subnets/*/hostBGPExtraPrefixes"),
    (GATEWAY, "Gateway"): ("/spec/interfaces", "/spec/logs/tags"),
    (GATEWAY, "GatewayPeering"): ("/spec/peering",),
}
# Labels and annotations are maps on every kind: `tier: ""` is a label.
KEYED_MAPS_ALL_KINDS: tuple[str, ...] = ("/metadata/labels", "/metadata/annotations")
# Pointer-typed fields (*bool, *uint8, *Struct upstream): an explicit false, 0 or {} is a setting, not
# the absence of one (isolated: false overrides defaultIsolated; ICMP type 0 is echo reply; an empty
# `static: {}` selects static NAT).
EXPLICIT_ZERO: dict[tuple[str, str], tuple[str, ...]] = {
    (WIRING, "Switch"): ("/spec/linkFlapErrDisable/*",),
    (VPC, "VPC"): ("/spec/subnets/*/isolated", "/spec/subnets/*/restricted"),
    (VPC, "ExternalAttachment"): ("/spec/inboundACL/statements/*/icmpType",
                                  "/spec/inboundACL/statements/*/icmpCode"),
    (GATEWAY, "GatewayPeering"): ("/spec/peering/*/expose/*/nat/static",),
}

# Pointer-to-struct fields (`*T` with omitempty upstream) whose mere presence changes what the agents or
# the controller do, so an empty `{}` is a setting and not the same as absent (docs/contracts.md#what-is-ignored). Each
# rule is a pointer and the conditions (pointer, value) under which the presence is read; a rule holds
# on an object when every condition does on that object's own (defaulted) values. Read at the commit
# named in defaults.py; elsewhere a nil and an empty pointer are programmed alike, so `{}` is pruned.
PresenceRule = tuple[str, tuple[tuple[str, Any], ...]]
PRESENCE_MATTERS: dict[tuple[str, str], tuple[PresenceRule, ...]] = {
    (VPC, "ExternalAttachment"): (
        # pkg/agent/dozer/bcm/plan.go (planExternals): a static attachment with proxy programs an ingress
        # ACL only `if attach.InboundACL != nil`, even one without statements; every other attachment
        # gets the hardened ACL whether it is nil or empty.
        ("/spec/inboundACL", (("/spec/static/proxy", True),)),
        # Static != nil makes the attachment static (Validate, plan.go, pkg/ctrl/agent_ctrl.go).
        ("/spec/static", ()),
    ),
    # Static != nil makes the External static (External.Validate, plan.go planExternals).
    (VPC, "External"): (("/spec/static", ()),),
    # Which of the pointers is set is the connection's type (ConnectionSpec.Type(), Validate).
    (WIRING, "Connection"): tuple((f"/spec/{t}", ()) for t in (
        "unbundled", "bundled", "mclag", "eslag", "mclagDomain", "fabric", "mesh", "gateway",
        "vpcLoopback", "external", "staticExternal")),
    # profile.Speed != nil / profile.Breakout != nil choose how a port is configured
    # (switchprofile_types.go, pkg/agent/dozer/bcm/spec_system.go, plan.go).
    (WIRING, "SwitchProfile"): (("/spec/portProfiles/*/speed", ()), ("/spec/portProfiles/*/breakout", ())),
    # PeeringNAT != nil with the mode pointers: which NAT runs (gatewaypeering_types.go Validate).
    (GATEWAY, "GatewayPeering"): (("/spec/peering/*/expose/*/nat", ()),),
}

# Top-level fields that are not desired state.
NON_DESIRED_TOP_LEVEL = frozenset({"status"})


@dataclass(frozen=True)
class IgnoreRule:
    """Ignore a JSON pointer (with `*` wildcards) on objects of one kind, or of every kind ('*')."""

    kind: str
    pointer: str
    group: str = "*"

    def matches(self, group: str, kind: str) -> bool:
        return self.kind in ("*", kind) and self.group in ("*", group)


@dataclass(frozen=True)
class NormalizeRules:
    """Everything normalization takes as data: built-in ignores plus the user's own."""

    ignore: tuple[IgnoreRule, ...] = field(default_factory=tuple)

    def pointers_for(self, group: str, kind: str) -> list[str]:
        pointers = list(IGNORED_POINTERS.get((group, kind), ()))
        pointers.extend(r.pointer for r in self.ignore if r.matches(group, kind))
        return pointers


DEFAULT_RULES = NormalizeRules()


def normalize(obj: Obj, rules: NormalizeRules = DEFAULT_RULES, also_present: frozenset[str] = frozenset()) -> Obj:
    """The comparable form of an object: defaults applied, bookkeeping, status and empties dropped,
    ignored fields removed, lists that are sets sorted. Never mutates its input, shares nothing with it.

    also_present: PRESENCE_MATTERS pointers to keep an empty value at although their conditions do not
    hold on this object (they hold on the other side of a comparison: see presence_pointers).
    """
    group, _ = split_api_version(str(obj.get("apiVersion", "")))
    kind = str(obj.get("kind", ""))
    # Shallow views without what is never compared.
    meta = obj.get("metadata")
    shaped: Obj = {k: v for k, v in obj.items() if k not in NON_DESIRED_TOP_LEVEL}
    shaped["metadata"] = ({k: v for k, v in meta.items() if k not in SERVER_METADATA}
                          if isinstance(meta, dict) else {})
    # Defaulted parts are fresh copies; shared ones are only read, as _canonical_tracked builds anew.
    out = apply_defaults(shaped, share_unchanged=True)
    meta_out = out["metadata"]
    if not meta_out.get("namespace"):
        meta_out["namespace"] = "default"
    # System labels go after defaulting: Default() itself may add some.
    _drop_system_keys(meta_out)
    return _canonical_tracked(out, _plan(group, kind, rules, _present(out, group, kind) | also_present))


def presence_pointers(obj: Obj) -> frozenset[str]:
    """The PRESENCE_MATTERS pointers whose conditions hold on obj as it is (before defaulting).

    A comparison keeps an empty value on both sides where the conditions hold on either: when only the
    condition changed live (proxy switched off), the unchanged empty value is not reported as removed.
    """
    group, _ = split_api_version(str(obj.get("apiVersion", "")))
    return _present(obj, group, str(obj.get("kind", "")))


def _present(obj: Obj, group: str, kind: str) -> frozenset[str]:
    """The PRESENCE_MATTERS pointers whose conditions hold on this (defaulted) object."""
    rules = PRESENCE_MATTERS.get((group, kind))
    if not rules:
        return frozenset()
    always, conditional = _presence_plan(group, kind)
    if not conditional:
        return always
    held = [pointer for pointer, conditions in conditional
            if all(_holds(_value_at(obj, tokens), value) for tokens, value in conditions)]
    return always | frozenset(held) if held else always


@functools.lru_cache(maxsize=64)
def _presence_plan(group: str, kind: str) -> tuple[frozenset[str], tuple[tuple[str, tuple[tuple[list[str], Any], ...]], ...]]:
    """A kind's presence rules split once: the unconditional pointers, and the others with split conditions."""
    rules = PRESENCE_MATTERS.get((group, kind), ())
    always = frozenset(pointer for pointer, conditions in rules if not conditions)
    conditional = tuple((pointer, tuple((split_pointer(p), v) for p, v in conditions))
                        for pointer, conditions in rules if conditions)
    return always, conditional


def _holds(found: Any, wanted: Any) -> bool:
    return type(found) is type(wanted) and found == wanted


def _value_at(obj: Any, tokens: list[str]) -> Any:
    for token in tokens:
        if isinstance(obj, dict):
            obj = obj.get(token)
        elif isinstance(obj, list) and token.isdigit() and int(token) < len(obj):
            obj = obj[int(token)]
        else:
            return None
    return obj


# --- where each element of a set-like list stands in the object as written (docs/contracts.md#changes) ---

# Marks a map in a set-like list with its position in the object as written, while it is normalized
# (defaulting and sorting keep it with its element). A key no decoded document can clash with unless it
# holds this very string, in which case that list simply is not tracked.
_POSITION_TAG = "\x00hedgehog-sync:position"

# id() of a normalized list that is a set -> for each of its elements, the index it has in the object as
# written, or None where it has none (an element defaulting added). Valid while the normalized object lives.
Positions = dict[int, list[int | None]]


def normalize_with_positions(obj: Obj, rules: NormalizeRules = DEFAULT_RULES,
                             also_present: frozenset[str] = frozenset()) -> tuple[Obj, Positions]:
    """normalize(obj, rules), and where each element of its set-like lists was in obj.

    Sorting a set puts its elements in an order the user never wrote; the diff names elements by these
    positions so that a pointer leads to the element as written. Maps carry a tag through defaulting and
    sorting; scalars and lists are found by value.
    """
    group, _ = split_api_version(str(obj.get("apiVersion", "")))
    kind = str(obj.get("kind", ""))
    plan = _plan(group, kind, rules, frozenset())
    tagged = _tag(obj, plan)
    out = normalize(tagged, rules, also_present)
    positions: Positions = {}
    _untag(out, plan, obj, positions)
    return out, positions


def _tag(value: Any, step: _Step | None) -> Any:
    if step is None:
        return value
    if isinstance(value, dict):
        out = dict(value)
        for k, v in value.items():
            below = step.exact.get(k if type(k) is str else str(k), step.other)
            if below is not None and isinstance(v, (dict, list)):
                out[k] = _tag(v, below)
        return out
    if isinstance(value, list):
        items = []
        for i, v in enumerate(value):
            below = step.exact.get(str(i), step.other) if step.exact else step.other
            items.append(_tag(v, below) if below is not None and isinstance(v, (dict, list)) else v)
        if step.unordered:
            items = [{**v, _POSITION_TAG: i + 1} if isinstance(v, dict) and _POSITION_TAG not in v else v
                     for i, v in enumerate(items)]
        return items
    return value


def _untag(value: Any, step: _Step | None, written: Any, positions: Positions) -> None:
    """Remove the tags _tag added, re-sort the sets without them, and record where each element was."""
    if step is None:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            below = step.exact.get(k, step.other)
            if below is not None and isinstance(v, (dict, list)):
                _untag(v, below, written.get(k) if isinstance(written, dict) else None, positions)
        return
    if not isinstance(value, list):
        return
    as_written = written if isinstance(written, list) else []
    where: list[int | None] = [None] * len(value)
    if step.unordered:
        for i, v in enumerate(value):
            tag = v.get(_POSITION_TAG) if isinstance(v, dict) else None
            if type(tag) is int and 1 <= tag <= len(as_written):
                where[i] = tag - 1
        _match_by_value(value, step, as_written, where)
    else:
        where = [i if i < len(as_written) else None for i in range(len(value))]
    for i, v in enumerate(value):
        below = step.exact.get(str(i), step.other) if step.exact else step.other
        if below is not None and isinstance(v, (dict, list)):
            _untag(v, below, as_written[where[i]] if where[i] is not None else None, positions)
    if not step.unordered:
        return
    for v in value:
        if isinstance(v, dict):
            v.pop(_POSITION_TAG, None)
    order = sorted(range(len(value)), key=lambda i: sort_key(value[i]))
    value[:] = [value[i] for i in order]
    positions[id(value)] = [where[i] for i in order]


def _match_by_value(value: list[Any], step: _Step, as_written: list[Any], where: list[int | None]) -> None:
    """Positions of the elements that are not maps: the written element with the same canonical value."""
    if all(isinstance(v, dict) for v in value):
        return
    free: dict[str, list[int]] = {}
    taken = {w for w in where if w is not None}
    for j, raw in enumerate(as_written):
        if j in taken or isinstance(raw, dict):
            continue
        below = step.exact.get(str(j), step.other) if step.exact else step.other
        try:
            canonical = _canonical_tracked(raw, below) if below is not None else _canonical(raw)
            free.setdefault(sort_key(canonical), []).append(j)
        except Exception:  # an odd written value only loses its position
            continue
    for i, v in enumerate(value):
        if where[i] is None and not isinstance(v, dict):
            candidates = free.get(sort_key(v))
            if candidates:
                where[i] = candidates.pop(0)


def is_system_key(key: str) -> bool:
    return key not in OPERATOR_KEYS and any(marker in key for marker in SYSTEM_KEY_MARKERS)


def _drop_system_keys(meta: dict[str, Any]) -> None:
    for field_name in ("labels", "annotations"):
        value = meta.get(field_name)
        if isinstance(value, dict):
            meta[field_name] = {k: v for k, v in value.items() if not is_system_key(str(k))}


# --- the per-kind plan: every rule that applies to a kind, compiled once into an automaton over keys ---


class _Step:
    """What holds at one place of an object of a kind, and where each key below leads.

    A deterministic automaton over the rule pointers (`*` is any key or index): `exact` for keys some
    pointer names, `other` for any other key; None where no rule applies at or below.
    """

    __slots__ = ("exact", "other", "keyed", "explicit_zero", "ignored", "unordered")

    def __init__(self) -> None:
        self.exact: dict[str, _Step | None] = {}
        self.other: _Step | None = None
        self.keyed = False  # a map whose entries count whatever their value
        self.explicit_zero = False  # a zero value here is a setting
        self.ignored = False  # not compared
        self.unordered = False  # a list that is a set: sorted


class _Pattern:
    """A node of the rule pointers as written: children by token, `*` included."""

    def __init__(self) -> None:
        self.children: dict[str, _Pattern] = {}
        self.flags: set[str] = set()


@functools.lru_cache(maxsize=1024)
def _plan(group: str, kind: str, rules: NormalizeRules, present: frozenset[str] = frozenset()) -> _Step:
    root = _Pattern()
    for flag, pointers in (
        ("keyed", KEYED_MAPS.get((group, kind), ()) + KEYED_MAPS_ALL_KINDS),
        # A present pointer-to-struct keeps its `{}` like an explicit zero.
        ("explicit_zero", EXPLICIT_ZERO.get((group, kind), ()) + tuple(sorted(present))),
        ("ignored", tuple(rules.pointers_for(group, kind))),
        ("unordered", ORDER_INSENSITIVE.get((group, kind), ())),
    ):
        for pointer in pointers:
            node = root
            for token in split_pointer(pointer):
                node = node.children.setdefault(token, _Pattern())
            node.flags.add(flag)
    step = _compile(frozenset([root]), {})
    assert step is not None
    return step


def _compile(nodes: frozenset[_Pattern], done: dict[frozenset[_Pattern], _Step | None]) -> _Step | None:
    """The automaton state for a set of pattern nodes that all apply at one place (subset construction)."""
    if not nodes:
        return None
    if nodes in done:
        return done[nodes]
    step = done[nodes] = _Step()
    for flag in ("keyed", "explicit_zero", "ignored", "unordered"):
        setattr(step, flag, any(flag in n.flags for n in nodes))
    wild = frozenset(n.children["*"] for n in nodes if "*" in n.children)
    for token in {t for n in nodes for t in n.children if t != "*"}:
        step.exact[token] = _compile(frozenset(n.children[token] for n in nodes if token in n.children) | wild, done)
    step.other = _compile(wild, done)
    return step


# --- canonical values: numbers by value, zero values pruned except where they are data ---------------


def _is_zero(value: Any) -> bool:
    # Go decodes absent and zero to the same value, and omitempty drops it on the way out.
    return (value is None or value is False or value == "" or value == {} or value == []
            or (type(value) is int and value == 0) or (type(value) is float and value == 0.0))


def _canonical_tracked(value: Any, step: _Step) -> Any:
    """Canonical form of a value at a place where some rule of the plan applies at or below."""
    if isinstance(value, dict):
        keyed = step.keyed
        exact, other = step.exact, step.other
        out = {}
        for k, v in value.items():
            key = k if type(k) is str else str(k)
            below = exact.get(key, other)
            if below is None:
                c = _canonical(v)
            elif below.ignored:
                continue
            else:
                c = _canonical_tracked(v, below)
                if c is not None and below.explicit_zero:
                    out[key] = c
                    continue
            if keyed or not _is_zero(c):
                out[key] = c  # a map entry exists whatever its value
        return out
    if isinstance(value, list):
        items = []
        for i, v in enumerate(value):
            below = step.exact.get(str(i), step.other) if step.exact else step.other
            if below is None:
                items.append(_canonical(v))
            elif not below.ignored:
                items.append(_canonical_tracked(v, below))
        if step.unordered and len(items) > 1:
            # Inner lists were sorted on the way down, so equal sets give equal keys here.
            items.sort(key=sort_key)
        return items
    return _canonical(value)


def _canonical(value: Any) -> Any:
    """Canonical form where no rule applies: the fast path, which is almost every field (the zero test
    of _is_zero is written out here, as this runs for every value of every object)."""
    kind = type(value)
    if kind is dict:
        out = {}
        for k, v in value.items():
            t = type(v)
            if t is dict or t is list or isinstance(v, (dict, list)):
                v = _canonical(v)
                if not v:
                    continue
            elif t is float:
                if v.is_integer():
                    v = int(v)
                if not v:
                    continue
            elif v is None or v is False or v == "" or (t is int and v == 0):
                continue
            out[k if type(k) is str else str(k)] = v
        return out
    if kind is list:
        return [_canonical(v) if isinstance(v, _CANONICALIZED) else v for v in value]
    if kind is float and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return _canonical(dict(value))
    if isinstance(value, list):
        return _canonical(list(value))
    return value


_CANONICALIZED = (dict, list, float)  # what _canonical may change


def split_pointer(pointer: str) -> list[str]:
    if not pointer or pointer == "/":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]


def sort_key(value: Any) -> str:
    """A total order over normalized values (any mix of types), used for lists that are sets."""
    return json.dumps(value, sort_keys=True, default=str)
