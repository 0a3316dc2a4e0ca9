"""Bring an object to the form both sides are compared in, so that server bookkeeping is not drift."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from hedgehog_sync.domain.defaults import IGNORED_POINTERS, ORDER_INSENSITIVE, apply_defaults
from hedgehog_sync.domain.kinds import split_api_version
from hedgehog_sync.domain.model import Obj

# What the API server writes on every object (DESIGN section 5).
SERVER_METADATA = frozenset({
    "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
    "deletionGracePeriodSeconds", "deletionTimestamp", "ownerReferences", "finalizers",
})

# Labels and annotations that controllers, kubectl and the NetBox plugin write, not operators.
# Hedgehog's own list labels look like `vpc.fabric.githedgehog.com/x`: matched anywhere in the key.
SYSTEM_KEY_MARKERS = ("fabric.githedgehog.com/", "kubectl.kubernetes.io/", "hnp.githedgehog.com/")
# ...except these, which operators set and the agents act on (pkg/ctrl/agent_ctrl.go upstream).
OPERATOR_KEYS = frozenset({"fabric.githedgehog.com/p2p-link", "fabric.githedgehog.com/route-summ"})

# Maps whose keys are data (VPC names, subnet names): an entry with an empty value still counts.
KEYED_MAPS: dict[tuple[str, str], tuple[str, ...]] = {
    ("vpc.githedgehog.com", "VPCPeering"): ("/spec/permit/*",),
    ("vpc.githedgehog.com", "VPC"): ("/spec/subnets",),
    ("gateway.githedgehog.com", "GatewayPeering"): ("/spec/peering",),
}
# Pointer-typed booleans (*bool upstream): an explicit false overrides a default, so it is kept.
KEEP_FALSE: dict[tuple[str, str], tuple[str, ...]] = {
    ("vpc.githedgehog.com", "VPC"): ("/spec/subnets/*/isolated", "/spec/subnets/*/restricted"),
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


def normalize(obj: Obj, rules: NormalizeRules = DEFAULT_RULES) -> Obj:
    """The comparable form of an object: defaults applied, bookkeeping, status and empties dropped."""
    group, _ = split_api_version(str(obj.get("apiVersion", "")))
    kind = str(obj.get("kind", ""))
    out: Obj = {}
    for key, value in obj.items():
        if key in NON_DESIRED_TOP_LEVEL:
            continue
        if key == "metadata":
            out["metadata"] = _normalize_metadata(value if isinstance(value, dict) else {})
        else:
            out[key] = copy.deepcopy(value)
    out = apply_defaults(out)
    # System labels go after defaulting: Default() itself may add some.
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = _drop_system_keys(out["metadata"])
    out = _canonical(out, [], _patterns(KEYED_MAPS, group, kind), _patterns(KEEP_FALSE, group, kind))
    for pointer in rules.pointers_for(group, kind):
        _remove_pointer(out, split_pointer(pointer))
    for pointer in ORDER_INSENSITIVE.get((group, kind), ()):
        _sort_lists_at(out, split_pointer(pointer))
    return out


def _normalize_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in meta.items() if k not in SERVER_METADATA}
    out.setdefault("namespace", "default")
    return out


def is_system_key(key: str) -> bool:
    return key not in OPERATOR_KEYS and any(marker in key for marker in SYSTEM_KEY_MARKERS)


def _drop_system_keys(meta: dict[str, Any]) -> dict[str, Any]:
    for field_name in ("labels", "annotations"):
        value = meta.get(field_name)
        if isinstance(value, dict):
            meta[field_name] = {k: v for k, v in value.items() if not is_system_key(str(k))}
    return meta


def _patterns(table: dict[tuple[str, str], tuple[str, ...]], group: str, kind: str) -> list[list[str]]:
    return [split_pointer(p) for p in table.get((group, kind), ())]


def _matches(tokens: list[str], patterns: list[list[str]]) -> bool:
    return any(len(p) == len(tokens) and all(a in ("*", b) for a, b in zip(p, tokens)) for p in patterns)


def _is_empty(value: Any) -> bool:
    # Go decodes absent and empty to the same zero value (and omitempty drops it on the way out).
    return value is None or value is False or value == "" or value == {} or value == []


def _canonical(value: Any, tokens: list[str], keyed: list[list[str]], keep_false: list[list[str]]) -> Any:
    """Numbers by value (1.0 -> 1) and empties pruned, recursively, except where emptiness is data."""
    if isinstance(value, dict):
        keyed_here = _matches(tokens, keyed)
        out = {}
        for k, v in value.items():
            here = tokens + [str(k)]
            c = _canonical(v, here, keyed, keep_false)
            if keyed_here and isinstance(c, dict):
                out[str(k)] = c  # an entry of a keyed map exists even with nothing set in it
            elif c is False and _matches(here, keep_false):
                out[str(k)] = c
            elif not _is_empty(c):
                out[str(k)] = c
        return out
    if isinstance(value, list):
        return [_canonical(v, tokens + [str(i)], keyed, keep_false) for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def split_pointer(pointer: str) -> list[str]:
    if not pointer or pointer == "/":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]


def _children(node: Any, token: str) -> Iterable[tuple[Any, Any]]:
    """(container, key) pairs that a pointer token addresses in node; `*` means all."""
    if isinstance(node, dict):
        keys = list(node) if token == "*" else ([token] if token in node else [])
        return [(node, k) for k in keys]
    if isinstance(node, list):
        if token == "*":
            return [(node, i) for i in range(len(node))]
        if token.isdigit() and int(token) < len(node):
            return [(node, int(token))]
    return []


def _remove_pointer(node: Any, tokens: list[str]) -> None:
    if not tokens:
        return
    head, rest = tokens[0], tokens[1:]
    for container, key in list(_children(node, head))[::-1]:
        if rest:
            _remove_pointer(container[key], rest)
        else:
            del container[key]


def _sort_lists_at(node: Any, tokens: list[str]) -> None:
    if not tokens:
        return
    head, rest = tokens[0], tokens[1:]
    for container, key in _children(node, head):
        if rest:
            _sort_lists_at(container[key], rest)
        elif isinstance(container[key], list):
            container[key] = sorted(container[key], key=_sort_key)


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
