"""Drift engine fidelity: what the cluster does on every write is never drift, and a real change is
named exactly (path, both values, state, severity), nothing more.

The live side of every test here is made the way a Hedgehog fabric's API server stores an object:
the webhook's defaulting, Go's JSON encoding (omitempty, map entries kept), the derived labels the
webhook adds, kubectl's last-applied annotation, server bookkeeping, status, and a JSON round trip.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from hedgehog_sync.devlab.generator import FabricSpec, generate_controller_objects, generate_fabric
from hedgehog_sync.domain.defaults import ORDER_INSENSITIVE, SORTED_LISTS
from hedgehog_sync.domain.diff import MASK, compare
from hedgehog_sync.domain.inventory import parse_inventory
from hedgehog_sync.domain.kinds import GATEWAY, KINDS, VPC, WIRING, split_api_version
from hedgehog_sync.domain.model import DesiredState, Finding, LiveState
from hedgehog_sync.domain.normalize import split_pointer
from hedgehog_sync.domain.parsing import parse_files
from hedgehog_sync.domain.render import report_markdown, report_table
from hedgehog_sync.domain.report import ReadFailure, build_report

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "hedgehog-samples"
SAMPLES_ABSENT = f"shared Hedgehog samples not found at {SAMPLES}: they live in the project workspace, not in clones"
NOW = "2026-11-28T10:00:00Z"

# --- the live copy, as the API server stores it ---------------------------------------------------

# From the Go types of githedgehog/fabric at the commit defaults.py names (api/*/v1beta1, gateway v1alpha1).
# Map-typed fields (keys are data): Go writes every entry, even a zero value ({} or false).
MAP_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    (WIRING, "Switch"): ("/spec/portGroupSpeeds", "/spec/portSpeeds", "/spec/portBreakouts",
                         "/spec/portAutoNegs", "/spec/portFECs"),
    (WIRING, "SwitchProfile"): ("/spec/ports", "/spec/portGroups", "/spec/portProfiles", "/spec/pipelines"),
    (VPC, "VPC"): ("/spec/subnets", "/spec/subnets/*/dhcp/static", "/spec/subnets/*/hostBGPExtraPrefixes"),
    (VPC, "VPCPeering"): ("/spec/permit/*",),
    (GATEWAY, "Gateway"): ("/spec/interfaces", "/spec/logs/tags"),
    (GATEWAY, "GatewayPeering"): ("/spec/peering",),
}
# Pointer-typed fields (*bool, *uint8, *uint32, *struct{}): an explicit false, 0 or {} is written.
POINTER_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    (WIRING, "Switch"): ("/spec/linkFlapErrDisable/*",),
    (VPC, "VPC"): ("/spec/subnets/*/isolated", "/spec/subnets/*/restricted"),
    (VPC, "ExternalAttachment"): ("/spec/inboundACL/statements/*/icmpType", "/spec/inboundACL/statements/*/icmpCode"),
    (GATEWAY, "GatewayPeering"): ("/spec/peering/*/expose/*/nat/static",),
}
# Slices without omitempty: an empty one is written as [].
NOT_OMITTED: dict[tuple[str, str], tuple[str, ...]] = {
    (VPC, "VPC"): ("/spec/subnets/*/dhcp/options/dnsServers", "/spec/subnets/*/dhcp/options/timeServers"),
}
COMMON_MAPS = ("/metadata/labels", "/metadata/annotations")


def _patterns(table: dict[tuple[str, str], tuple[str, ...]], gk: tuple[str, str]) -> list[list[str]]:
    return [split_pointer(p) for p in table.get(gk, ())]


def _matches(tokens: list[str], patterns: list[list[str]]) -> bool:
    return any(len(p) == len(tokens) and all(a in ("*", b) for a, b in zip(p, tokens)) for p in patterns)


def _go_encoded(value: Any, tokens: list[str], maps, pointers, kept) -> Any:
    """What Go's encoding/json writes back for a decoded object: omitempty drops zero scalars and empty
    slices and maps, never a struct ({} stays) and never a map entry."""
    if isinstance(value, dict):
        is_map = _matches(tokens, maps)
        out = {}
        for key, item in value.items():
            here = tokens + [str(key)]
            encoded = _go_encoded(item, here, maps, pointers, kept)
            if is_map or (encoded is not None and (_matches(here, pointers) or _matches(here, kept))):
                out[key] = encoded
            elif encoded is None or encoded == "" or encoded is False or encoded == []:
                continue
            elif type(encoded) in (int, float) and encoded == 0:
                continue
            else:
                out[key] = encoded
        return out
    if isinstance(value, list):
        return [_go_encoded(v, tokens + [str(i)], maps, pointers, kept) for i, v in enumerate(value)]
    return value


def _ports(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in ([v] if k == "port" and isinstance(v, str) else _ports(v))]
    if isinstance(value, list):
        return [p for v in value for p in _ports(v)]
    return []


def derived_labels(obj: dict) -> dict[str, str]:
    """Labels Hedgehog's webhooks add from the spec (ListLabel* and Label* upstream), plus the NetBox plugin's."""
    group, _ = split_api_version(obj["apiVersion"])
    kind, spec = obj["kind"], obj.get("spec") or {}
    labels = {"hnp.githedgehog.com/managed": "true"}
    if (group, kind) == (WIRING, "Switch"):
        labels["fabric.githedgehog.com/profile"] = str(spec.get("profile", ""))
        labels.update({f"vlanns.fabric.githedgehog.com/{ns}": "true" for ns in spec.get("vlanNamespaces", [])})
        labels.update({f"switchgroup.fabric.githedgehog.com/{g}": "true" for g in spec.get("groups", [])})
    elif (group, kind) == (WIRING, "Connection"):
        labels["fabric.githedgehog.com/connection-type"] = next(iter(spec), "")
        for port in _ports(spec):
            device = port.split("/", 1)[0]
            role = "server" if "enp" in port or "eth" in port else "switch"
            labels[f"{role}.fabric.githedgehog.com/{device}"] = "true"
    elif (group, kind) == (VPC, "VPC"):
        labels["fabric.githedgehog.com/ipv4ns"] = spec.get("ipv4Namespace", "")
        labels["fabric.githedgehog.com/vlanns"] = spec.get("vlanNamespace", "")
    elif (group, kind) == (VPC, "VPCAttachment"):
        vpc_name, _, subnet = str(spec.get("subnet", "")).partition("/")
        labels.update({"fabric.githedgehog.com/vpc": vpc_name, "fabric.githedgehog.com/subnet": subnet,
                       "fabric.githedgehog.com/connection": str(spec.get("connection", ""))})
    elif (group, kind) == (VPC, "VPCPeering"):
        for policy in spec.get("permit", []):
            labels.update({f"vpc.fabric.githedgehog.com/{vpc_name}": "true" for vpc_name in policy})
    elif (group, kind) in ((VPC, "External"), (VPC, "IPv4Namespace")):
        labels["fabric.githedgehog.com/ipv4ns"] = spec.get("ipv4Namespace", "default")
    elif (group, kind) == (VPC, "ExternalPeering"):
        permit = spec.get("permit", {})
        labels["fabric.githedgehog.com/vpc"] = permit.get("vpc", {}).get("name", "")
        labels["fabric.githedgehog.com/external"] = permit.get("external", {}).get("name", "")
    elif (group, kind) == (GATEWAY, "GatewayPeering"):
        labels.update({f"vpc.gateway.githedgehog.com/{v}": "true" for v in spec.get("peering", {})})
    return {k: v[:63] for k, v in labels.items()}


# --- the mutating webhook, written again from the Go source --------------------------------------------
#
# A reference for these tests only, deliberately independent of hedgehog_sync.domain.defaults (issue 19:
# a live side built with the production defaulting would make a wrong rule pass). Each function follows
# the `Default()` method it names in githedgehog/fabric at commit 78827debafabbd0fafc6f6abd154a89da7fb69da
# (api/wiring/v1beta1, api/vpc/v1beta1, api/gateway/v1alpha1, with api/meta/vlan.go and
# pkg/util/iputil/ip.go), literally: Go's encoding (omitempty, ...) is applied afterwards by _go_encoded.
# Input the Go decoder would reject is left as written (no live object could result from it), except
# where writing it back would not be what was written: a Duration that does not decode raises
# WebhookDenies, as _go_encoded would drop `idleTimeout: ""` and so make it a field left out, which
# Default() does fill.


class WebhookDenies(Exception):
    """The mutating webhook refuses the object (its decoder fails): the cluster stores nothing of it."""


_FABRIC_LABEL = "fabric.githedgehog.com/"


def _go_cleanup_fabric_labels(obj: dict) -> None:
    """wiringapi.CleanupFabricLabels: drop every label whose key contains fabric.githedgehog.com/."""
    labels = obj["metadata"].get("labels")
    if isinstance(labels, dict):
        obj["metadata"]["labels"] = {k: v for k, v in labels.items() if _FABRIC_LABEL not in str(k)}


def _go_switch(obj: dict, spec: dict) -> None:  # Switch.Default(), switch_types.go
    _go_cleanup_fabric_labels(obj)
    for field in ("portGroupSpeeds", "portSpeeds"):
        for name, value in list((spec.get(field) or {}).items()):
            spec[field][name] = value[len("SPEED_"):] if isinstance(value, str) and value.startswith("SPEED_") else value
    if not spec.get("vlanNamespaces"):
        spec["vlanNamespaces"] = ["default"]
    group = (spec.get("redundancy") or {}).get("group")
    if group and group not in (spec.get("groups") or []):
        spec["groups"] = list(spec.get("groups") or []) + [group]
    flap = spec.get("linkFlapErrDisable")
    if isinstance(flap, dict):
        for field, value in (("flapThreshold", 3), ("samplingInterval", 30), ("recoveryInterval", 300)):
            if flap.get(field) is None:
                flap[field] = value
    for field in ("groups", "vlanNamespaces"):  # sort.Strings
        if isinstance(spec.get(field), list):
            spec[field] = sorted(spec[field])


def _go_vlan_namespace(obj: dict, spec: dict) -> None:  # VLANNamespace.Default() + meta.NormalizedVLANRanges
    _go_cleanup_fabric_labels(obj)
    ranges = spec.get("ranges")
    if not ranges:
        return
    for item in ranges:
        if not item.get("to"):
            item["to"] = item.get("from") or 0
        low, high = item.get("from") or 0, item["to"]
        if low > high or not 1 <= low <= 4094 or not 1 <= high <= 4094:
            spec["ranges"] = None  # `if ranges, err := ...; err != nil { Ranges = ranges }`: nil on error
            return
    if len(ranges) >= 2:
        ranges.sort(key=lambda r: (r.get("from") or 0, r["to"]))  # SortVLANRanges, in place; merges are discarded


def _go_parse_cidr(text: Any) -> Any:
    """iputil.ParseCIDR (netip.ParsePrefix, masked), IPv4 only; None when Go would fail."""
    if not isinstance(text, str) or "/" not in text:
        return None
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return net if net.version == 4 and str(net.prefixlen) == text.rsplit("/", 1)[1] else None


def _go_mac(text: str) -> str | None:
    """net.ParseMAC(...).String() for the 6-octet colon and hyphen spellings."""
    parts = text.replace("-", ":").split(":")
    if len(parts) == 6 and all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        return ":".join(parts).lower()
    return None


def _go_vpc(obj: dict, spec: dict) -> None:  # VPC.Default(), vpc_types.go
    spec["ipv4Namespace"] = spec.get("ipv4Namespace") or "default"
    spec["vlanNamespace"] = spec.get("vlanNamespace") or "default"
    _go_cleanup_fabric_labels(obj)
    for subnet in (spec.get("subnets") or {}).values():
        if subnet is None:
            continue
        cidr = _go_parse_cidr(subnet.get("subnet"))
        if cidr is None:
            continue
        if not subnet.get("gateway") and not subnet.get("hostBGP"):
            subnet["gateway"] = str(cidr.network_address + 1)
        if cidr.prefixlen > 30:
            continue
        dhcp = subnet.get("dhcp") or {}
        subnet["dhcp"] = dhcp  # a struct by value: written back even when empty
        if not dhcp.get("enable"):
            dhcp["range"] = None
            dhcp["options"] = None
            continue  # upstream's `continue`: MACs of a subnet without DHCP stay as written
        else:
            dhcp["range"] = dhcp.get("range") or {}
            dhcp["range"]["start"] = dhcp["range"].get("start") or str(cidr.network_address + 2)
            dhcp["range"]["end"] = dhcp["range"].get("end") or str(cidr.broadcast_address)
            options = dhcp.get("options")
            if options is not None:
                if (not options.get("pxeURL") and options.get("dnsServers") is None
                        and options.get("timeServers") is None and not options.get("interfaceMTU")
                        and not options.get("leaseTimeSeconds") and not options.get("disableDefaultRoute")
                        and options.get("advertisedRoutes") is None):
                    dhcp["options"] = None
                    continue  # upstream's `continue`: the MACs below wait for the next write
                options["interfaceMTU"] = options.get("interfaceMTU") or 9036
                options["dnsServers"] = sorted(options.get("dnsServers") or [])
                options["timeServers"] = sorted(options.get("timeServers") or [])
                options["leaseTimeSeconds"] = options.get("leaseTimeSeconds") or 3600
                options["advertisedRoutes"] = sorted(options.get("advertisedRoutes") or [],
                                                     key=lambda r: (r.get("destination", ""), r.get("gateway", "")))
        static = dhcp.get("static")
        for mac in list(static or {}):
            canonical = _go_mac(mac) if isinstance(mac, str) else None
            if canonical is not None and canonical != mac:
                static[canonical] = static.pop(mac)


def _go_vpc_attachment(obj: dict, spec: dict) -> None:  # VPCAttachment.Default()
    vpc_name, slash, _ = str(spec.get("subnet") or "").partition("/")
    if not vpc_name:
        return
    if not slash:
        spec["subnet"] = f"{vpc_name}/default"
    _go_cleanup_fabric_labels(obj)


def _go_vpc_peering(obj: dict, spec: dict) -> None:  # VPCPeering.Default(); `vpc-1:` decodes to VPCPeer{}
    _go_cleanup_fabric_labels(obj)
    for policy in spec.get("permit") or []:
        for name in list(policy or {}):
            if policy[name] is None:
                policy[name] = {}


def _go_ipv4_namespace(obj: dict, spec: dict) -> None:  # IPv4Namespace.Default(): sort.Strings(Subnets)
    _go_cleanup_fabric_labels(obj)
    if isinstance(spec.get("subnets"), list):
        spec["subnets"] = sorted(spec["subnets"])


def _go_external(obj: dict, spec: dict) -> None:  # External.Default()
    spec["ipv4Namespace"] = spec.get("ipv4Namespace") or "default"
    _go_cleanup_fabric_labels(obj)


def _go_external_peering(obj: dict, spec: dict) -> None:  # ExternalPeering.Default()
    _go_cleanup_fabric_labels(obj)
    permit = spec.get("permit") or {}
    vpc, external = permit.get("vpc") or {}, permit.get("external") or {}
    if isinstance(vpc.get("subnets"), list):
        vpc["subnets"] = sorted(vpc["subnets"])
    if isinstance(external.get("prefixes"), list):
        external["prefixes"] = sorted(external["prefixes"], key=lambda p: p.get("prefix", ""))


def _go_gateway(obj: dict, spec: dict) -> None:  # Gateway.Default(), gateway_types.go
    logs = spec.get("logs") or {}
    spec["logs"] = logs
    logs["default"] = logs.get("default") or "info"
    if not logs.get("tags"):
        logs["tags"] = {"all": "info"}
    if isinstance(logs.get("rateLimit"), dict):
        logs["rateLimit"]["burst"] = logs["rateLimit"].get("burst") or 50
        logs["rateLimit"]["replenishPerSecond"] = logs["rateLimit"].get("replenishPerSecond") or 5
    spec["workers"] = spec.get("workers") or 4
    spec["groups"] = sorted(spec.get("groups") or [], key=lambda g: g.get("name", ""))
    if not spec["groups"]:
        spec["groups"] = [{"name": "default", "priority": 0}]


_GO_ZERO_DURATION = re.compile(r"[-+]?0")  # time.ParseDuration's special case: a bare "0" (after the sign)
_GO_NO_UNIT = re.compile(r"[-+]?[0-9.]*")  # "", "5", "1.5", "-": rejected by time.ParseDuration
_GO_DURATION = re.compile(r"([-+]?)(?=\d)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def _go_duration(value: Any) -> Any:
    """A metav1.Duration field (`IdleTimeout kmetav1.Duration`) as the webhook stores it.

    Absent, or null (which the API server prunes, as the CRD schema is not nullable), decodes to 0.
    A string goes through metav1.Duration.UnmarshalJSON, i.e. time.ParseDuration: "" fails there ("time:
    invalid duration"), as do a number without a unit ("missing unit") and any value that is not a string,
    so the webhook's decoder denies the write before Default() runs: WebhookDenies. Default() replaces a
    zero Duration ("0", "-0", "0s", "0h0m0s" parse to 0) with 2 minutes; anything else is stored as
    Duration.String() spells it. This reference spells only whole h/m/s values; other forms are left as
    written.
    """
    if value is None:
        return "2m0s"  # DefaultMasqueradeIdleTimeout = DefaultPortForwardIdleTimeout = 2 * time.Minute
    if not isinstance(value, str):
        raise WebhookDenies(f"idleTimeout: json: cannot unmarshal {type(value).__name__} into a string")
    if _GO_ZERO_DURATION.fullmatch(value):
        return "2m0s"
    if _GO_NO_UNIT.fullmatch(value):
        raise WebhookDenies(f"idleTimeout: time: invalid duration or missing unit in {value!r}")
    match = _GO_DURATION.fullmatch(value)
    if match is None or not any(match.groups()[1:]):
        return value  # not a form this reference knows: as written
    sign, h, m, s = match.group(1), *(int(g or 0) for g in match.groups()[1:])
    total = h * 3600 + m * 60 + s
    if total == 0:
        return "2m0s"
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours}h{minutes}m{seconds}s" if hours else f"{minutes}m{seconds}s" if minutes else f"{seconds}s"
    return f"-{text}" if sign == "-" else text


def _go_gateway_peering(obj: dict, spec: dict) -> None:  # GatewayPeering.Default(), gatewaypeering_types.go
    peering = spec.get("peering") or {}
    if len(peering) != 2:
        return
    for entry in peering.values():
        for expose in (entry or {}).get("expose") or []:
            nat = expose.get("nat")
            for mode in ("masquerade", "portForward"):
                if isinstance(nat, dict) and isinstance(nat.get(mode), dict):
                    nat[mode]["idleTimeout"] = _go_duration(nat[mode].get("idleTimeout"))
    spec["gatewayGroup"] = spec.get("gatewayGroup") or "default"
    acl = spec.get("acl")
    if isinstance(acl, dict):
        acl["default"] = acl.get("default") or "deny-unless-exposed"
        for rule in acl.get("rules") or []:
            rule["scope"] = rule.get("scope") or "flow"


def _go_switch_profile(obj: dict, spec: dict) -> None:  # SwitchProfile.Default(): the ports summary annotation
    obj["metadata"].setdefault("annotations", {})["fabric.githedgehog.com/ports"] = f"{len(spec.get('ports') or {})} ports"


_GO_DEFAULT = {
    (WIRING, "Switch"): _go_switch, (WIRING, "VLANNamespace"): _go_vlan_namespace,
    (WIRING, "Server"): lambda o, s: _go_cleanup_fabric_labels(o),
    (WIRING, "Connection"): lambda o, s: _go_cleanup_fabric_labels(o),
    (WIRING, "SwitchProfile"): _go_switch_profile,
    (VPC, "VPC"): _go_vpc, (VPC, "VPCAttachment"): _go_vpc_attachment, (VPC, "VPCPeering"): _go_vpc_peering,
    (VPC, "IPv4Namespace"): _go_ipv4_namespace, (VPC, "External"): _go_external,
    (VPC, "ExternalAttachment"): lambda o, s: _go_cleanup_fabric_labels(o),
    (VPC, "ExternalPeering"): _go_external_peering,
    (GATEWAY, "Gateway"): _go_gateway, (GATEWAY, "GatewayPeering"): _go_gateway_peering,
}


def go_default(obj: dict) -> dict:
    """A copy of obj as the mutating webhook stores it (before Go's encoding): the reference above.
    Raises WebhookDenies for an object the webhook refuses."""
    out = copy.deepcopy(obj)
    group, _ = split_api_version(out["apiVersion"])
    meta = out.setdefault("metadata", {})
    if not meta.get("namespace"):
        meta["namespace"] = "default"  # meta.DefaultObjectMetadata
    if out.get("spec") is None:
        out["spec"] = {}  # every kind holds its Spec by value: a nil spec is the zero struct
    default = _GO_DEFAULT.get((group, out["kind"]))
    if default is not None and isinstance(out["spec"], dict):
        default(out, out["spec"])
    return out


def stored(obj: dict, *, generation: int = 1, reorder_sets: bool = False) -> dict:
    """The object as the fabric's API server hands it back after `kubectl apply` of `obj`."""
    group, _ = split_api_version(obj["apiVersion"])
    gk = (group, obj["kind"])
    out = go_default(obj)  # the mutating webhook (the tests' own reference, not the production defaulting)
    maps = _patterns(MAP_FIELDS, gk) + [split_pointer(p) for p in COMMON_MAPS]
    out = _go_encoded(out, [], maps, _patterns(POINTER_FIELDS, gk), _patterns(NOT_OMITTED, gk))
    meta = out.setdefault("metadata", {})
    meta.setdefault("namespace", "default")
    meta.setdefault("labels", {}).update(derived_labels(out))
    meta.setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(obj)
    name = str(meta.get("name"))
    meta.update(
        uid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{gk}/{name}")), resourceVersion=str(1000 + generation),
        generation=generation, creationTimestamp=NOW,
        managedFields=[{"manager": "kubectl-client-side-apply", "operation": "Update", "time": NOW,
                        "apiVersion": obj["apiVersion"], "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}],
    )
    out["status"] = {"observedGeneration": generation, "conditions": [{"type": "Ready", "status": "True"}]}
    if reorder_sets:
        # Lists that are sets by meaning come back in whatever order the last writer used.
        for pointer in ORDER_INSENSITIVE.get(gk, ()):
            if pointer not in dict(SORTED_LISTS.get(gk, ())):
                _reverse_lists_at(out, split_pointer(pointer))
    return json.loads(json.dumps(out, sort_keys=True))  # Go writes struct fields in its own order


def _reverse_lists_at(node: Any, tokens: list[str]) -> None:
    """Reverse the lists a pointer (with `*` wildcards) names in node."""
    if not tokens:
        return
    head, rest = tokens[0], tokens[1:]
    if isinstance(node, dict):
        keys = list(node) if head == "*" else [head] if head in node else []
    elif isinstance(node, list) and head == "*":
        keys = list(range(len(node)))
    else:
        return
    for key in keys:
        if rest:
            _reverse_lists_at(node[key], rest)
        elif isinstance(node[key], list):
            node[key] = node[key][::-1]


_DELETE = object()


def pointer_set(obj: Any, pointer: str, value: Any) -> None:
    """Set (or, with _DELETE, delete) what an RFC 6901 pointer names, making maps on the way."""
    *parents, last = split_pointer(pointer)
    for token in parents:
        obj = obj[int(token)] if isinstance(obj, list) else obj.setdefault(token, {})
    if value is _DELETE:
        del obj[int(last) if isinstance(obj, list) else last]
    else:
        obj[int(last) if isinstance(obj, list) else last] = value


def edited(live: dict, edits: dict[str, Any]) -> dict:
    """A copy of a live object with JSON-pointer edits (a value of _DELETE deletes)."""
    out = copy.deepcopy(live)
    for pointer, value in edits.items():
        pointer_set(out, pointer, value)
    return out


def changes_of(desired: list[dict], live: list[dict], **kw: Any) -> dict[tuple[str, str], tuple]:
    """{(kind, name): (state, severity, [(op, path, desired, actual, severity), ...])} of drifted resources."""
    result = compare(desired, live, **kw)
    return {(d.rid.kind, d.rid.name): (d.state, d.severity,
                                       [(c.op, c.path, c.desired, c.actual, c.severity) for c in d.changes])
            for d in result.drifts}


# --- authored objects for the tables ------------------------------------------------------------------


def authored(group: str, kind: str, name: str, spec: Any, *, labels=None, annotations=None,
             namespace: str | None = None) -> dict:
    version = "v1alpha1" if group == GATEWAY else "v1beta1"
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": f"{group}/{version}", "kind": kind, "metadata": meta, "spec": spec}


LEAF = authored(WIRING, "Switch", "leaf-01", {
    "role": "server-leaf", "profile": "celestica-ds3000", "boot": {"mac": "0c:20:12:ff:00:00"},
    "groups": ["rack-1"], "redundancy": {"group": "mclag-1", "type": "mclag"},
    "portSpeeds": {"E1/1": "SPEED_25GB"}, "portAutoNegs": {"E1/2": False},
    "linkFlapErrDisable": {}, "description": "",
}, labels={"rack": "r1", "fabric.githedgehog.com/profile": "stale"},
    annotations={"fabric.githedgehog.com/route-summ": "true"})
SERVER = authored(WIRING, "Server", "server-01", {"description": "compute node"},
                  labels={"server.fabric.githedgehog.com/old": "true"})
BUNDLED = authored(WIRING, "Connection", "server-01--bundled--leaf-01", {"bundled": {"links": [
    {"server": {"port": "server-01/enp2s1"}, "switch": {"port": "leaf-01/E1/1"}},
    {"server": {"port": "server-01/enp2s2"}, "switch": {"port": "leaf-01/E1/2"}},
], "mtu": 0}})
FABRIC_LINKS = authored(WIRING, "Connection", "spine-01--fabric--leaf-01", {"fabric": {"links": [
    {"leaf": {"ip": "172.30.128.1/31", "port": "leaf-01/E1/48"}, "spine": {"ip": "172.30.128.0/31", "port": "spine-01/E1/1"}},
    {"leaf": {"ip": "172.30.128.3/31", "port": "leaf-01/E1/49"}, "spine": {"ip": "172.30.128.2/31", "port": "spine-01/E1/2"}},
    {"leaf": {"ip": "172.30.128.5/31", "port": "leaf-01/E1/50"}, "spine": {"ip": "172.30.128.4/31", "port": "spine-01/E1/3"}},
]}})
SWITCH_GROUP = authored(WIRING, "SwitchGroup", "mclag-1", {})
VLAN_NS = authored(WIRING, "VLANNamespace", "default", {"ranges": [{"from": 2000, "to": 2999}, {"from": 1000}]})
BAD_VLAN_NS = authored(WIRING, "VLANNamespace", "broken", {"ranges": [{"from": 3000, "to": 1000}]})
SWITCH_PROFILE = authored(WIRING, "SwitchProfile", "custom-profile", {"displayName": "Custom", "ports": {}})
SERVER_PROFILE = authored(WIRING, "ServerProfile", "gpu-node", {"description": "GPU node"})
VPC_1 = authored(VPC, "VPC", "vpc-1", {
    "defaultIsolated": True,
    "subnets": {
        "default": {"subnet": "10.0.1.0/24", "vlan": 1001, "dhcp": {"enable": True, "options": {
            "dnsServers": ["10.255.1.53", "10.255.0.53"], "leaseTimeSeconds": 0,
            "advertisedRoutes": [{"destination": "10.2.0.0/16", "gateway": "10.0.1.3"},
                                 {"destination": "10.1.0.0/16", "gateway": "10.0.1.2"}]}}},
        "backend": {"subnet": "10.0.2.0/25", "vlan": 1002, "isolated": False,
                    "dhcp": {"enable": False, "range": {"start": "10.0.2.5"}}},
        "hosts": {"subnet": "10.0.3.0/24", "vlan": 1003, "hostBGP": True,
                  "dhcp": {"enable": True, "static": {"0C-20-12-FF-00-01": {"ip": "10.0.3.9"}}}},
    },
})
ATTACHMENT = authored(VPC, "VPCAttachment", "vpc-1--server-01",
                      {"connection": "server-01--bundled--leaf-01", "subnet": "vpc-1"})
PEERING = authored(VPC, "VPCPeering", "vpc-1--vpc-2", {"permit": [
    {"vpc-1": None, "vpc-2": {"subnets": ["web", "db", "app"]}}]})
IPV4_NS = authored(VPC, "IPv4Namespace", "default", {"subnets": ["10.1.0.0/16", "10.0.0.0/16"]})
EXTERNAL = authored(VPC, "External", "internet", {"inboundCommunity": "65102:5000", "outboundCommunity": "5000:65102"})
EXTERNAL_ATTACHMENT = authored(VPC, "ExternalAttachment", "internet--leaf-01", {
    "connection": "leaf-01--external--internet", "external": "internet",
    "neighbor": {"asn": 64102, "ip": "100.100.0.6"}, "switch": {"ip": "100.100.0.5/30", "vlan": 100}})
EXTERNAL_PEERING = authored(VPC, "ExternalPeering", "vpc-1--internet", {"permit": {
    "external": {"name": "internet", "prefixes": [{"prefix": "10.9.0.0/16"}, {"prefix": "0.0.0.0/0"}]},
    "vpc": {"name": "vpc-1", "subnets": ["default", "backend"]}}})
GATEWAY_1 = authored(GATEWAY, "Gateway", "gateway-1", {
    "protocolIP": "172.30.8.10/32", "vtepIP": "172.30.12.10/32", "vtepMAC": "ca:fe:00:00:00:01", "asn": 65534,
    "interfaces": {"enp2s1": {"ips": ["172.30.128.9/31"]}, "enp2s2": {}},
    "neighbors": [{"ip": "172.30.128.8", "asn": 65100}], "logs": {}})
GATEWAY_GROUP = authored(GATEWAY, "GatewayGroup", "edge", {})
GATEWAY_PEERING = authored(GATEWAY, "GatewayPeering", "vpc-1--vpc-2", {"peering": {
    "vpc-1": {"expose": [{"ips": [{"cidr": "10.0.1.0/24"}], "nat": {"masquerade": {"idleTimeout": "120s"}}}]},
    "vpc-2": {"expose": [{"ips": [{"cidr": "10.0.2.0/24"}]}]}},
    "acl": {"rules": [{"action": "allow"}]}})

H, M, L = "high", "medium", "low"
R, A, D = "replace", "add", "remove"

# (desired as authored, live as the cluster stores it, expected changes). `stored(x)` alone must be in sync:
# every default the webhook fills in, every label it derives, every list it sorts.
TABLE = [
    # Switch: vlanNamespaces default, redundancy group joins groups (sorted), SPEED_ prefix cut, link-flap
    # defaults, derived labels replaced, empty description omitted; route-summ is an operator's annotation.
    pytest.param(LEAF, stored(LEAF), [], id="switch: as stored"),
    pytest.param(LEAF, edited(stored(LEAF), {"/spec/vlanNamespaces": ["vl-2"]}),
                 [(R, "/spec/vlanNamespaces/0", "default", "vl-2", H)], id="switch: defaulted vlanNamespaces changed"),
    pytest.param(LEAF, stored(edited(LEAF, {"/spec/redundancy/group": "mclag-2"})),
                 [(R, "/spec/groups/0", "mclag-1", "mclag-2", H), (R, "/spec/redundancy/group", "mclag-1", "mclag-2", H)],
                 id="switch: redundancy group changed live"),
    pytest.param(LEAF, edited(stored(LEAF), {"/spec/portSpeeds/E1~11": "10G"}),
                 [(R, "/spec/portSpeeds/E1~11", "25GB", "10G", H)], id="switch: speed changed"),
    pytest.param(LEAF, edited(stored(LEAF), {"/spec/linkFlapErrDisable/recoveryInterval": 0}),
                 [(R, "/spec/linkFlapErrDisable/recoveryInterval", 300, 0, H)],
                 id="switch: defaulted link-flap recovery set to 0 (never)"),
    pytest.param(LEAF, edited(stored(LEAF), {"/spec/portAutoNegs/E1~12": True}),
                 [(R, "/spec/portAutoNegs/E1~12", False, True, H)], id="switch: auto-neg false -> true"),
    pytest.param(LEAF, edited(stored(LEAF), {"/spec/portAutoNegs": {}}),
                 [(D, "/spec/portAutoNegs", {"E1/2": False}, None, H)], id="switch: auto-neg entry removed"),
    pytest.param(LEAF, edited(stored(LEAF), {"/metadata/labels/rack": "r2", "/metadata/labels/fabric.githedgehog.com~1profile": "x"}),
                 [(R, "/metadata/labels/rack", "r1", "r2", M)], id="switch: own label changed, system label not"),
    pytest.param(LEAF, edited(stored(LEAF), {"/metadata/annotations/fabric.githedgehog.com~1route-summ": "false"}),
                 [(R, "/metadata/annotations/fabric.githedgehog.com~1route-summ", "true", "false", L)],
                 id="switch: operator annotation route-summ changed"),
    # Server: fabric labels cleaned up.
    pytest.param(SERVER, stored(SERVER), [], id="server: as stored"),
    pytest.param(SERVER, edited(stored(SERVER), {"/spec/description": "storage node"}),
                 [(R, "/spec/description", "compute node", "storage node", H)], id="server: description changed"),
    # Connection: links are a set; mtu 0 is omitted on the wire.
    pytest.param(BUNDLED, stored(BUNDLED, reorder_sets=True), [], id="connection: links in another order"),
    pytest.param(BUNDLED, edited(stored(BUNDLED, reorder_sets=True), {"/spec/bundled/links/1/switch/port": "leaf-01/E1/7"}),
                 [(R, "/spec/bundled/links/0/switch/port", "leaf-01/E1/1", "leaf-01/E1/7", H)],
                 id="connection: one link's port changed"),
    pytest.param(FABRIC_LINKS, edited(stored(FABRIC_LINKS), {"/spec/fabric/links/0/leaf/ip": "172.30.128.7/31"}),
                 [(R, "/spec/fabric/links/0/leaf/ip", "172.30.128.1/31", "172.30.128.7/31", H)],
                 id="connection: a change that reorders the links"),
    pytest.param(FABRIC_LINKS, edited(stored(FABRIC_LINKS), {"/spec/fabric/links/0": _DELETE}),
                 [(D, "/spec/fabric/links/0", FABRIC_LINKS["spec"]["fabric"]["links"][0], None, H)],
                 id="connection: one link removed live"),
    pytest.param(BUNDLED, edited(stored(BUNDLED), {"/spec/bundled/mtu": 9000}),
                 [(A, "/spec/bundled/mtu", None, 9000, H)], id="connection: mtu set live"),
    # SwitchGroup, profiles.
    pytest.param(SWITCH_GROUP, stored(SWITCH_GROUP), [], id="switchgroup: as stored"),
    pytest.param(SWITCH_GROUP, edited(stored(SWITCH_GROUP), {"/metadata/labels/owner": "netops"}),
                 [(A, "/metadata/labels/owner", None, "netops", M)], id="switchgroup: label added live"),
    pytest.param(SWITCH_PROFILE, edited(stored(SWITCH_PROFILE), {"/metadata/annotations/fabric.githedgehog.com~1ports": "E1/1-48"}), [],
                 id="switchprofile: ports annotation is derived"),
    pytest.param(SERVER_PROFILE, edited(stored(SERVER_PROFILE), {"/spec/description": "GPU"}),
                 [(R, "/spec/description", "GPU node", "GPU", H)], id="serverprofile: changed"),
    # VLANNamespace: `to` defaults to `from`, ranges sorted; invalid ranges are dropped by the webhook.
    pytest.param(VLAN_NS, stored(VLAN_NS), [], id="vlannamespace: as stored"),
    # The stored ranges are sorted; the change is named at the range's position in Git (docs/contracts.md#changes).
    pytest.param(VLAN_NS, edited(stored(VLAN_NS), {"/spec/ranges/0/to": 1999}),
                 [(R, "/spec/ranges/1/to", 1000, 1999, H)], id="vlannamespace: defaulted `to` changed"),
    pytest.param(BAD_VLAN_NS, stored(BAD_VLAN_NS), [], id="vlannamespace: invalid ranges dropped"),
    # VPC: namespaces, gateway, DHCP range and options, sorted lists, MAC spelling, explicit isolated: false.
    pytest.param(VPC_1, stored(VPC_1), [], id="vpc: as stored"),
    pytest.param(VPC_1, edited(stored(VPC_1), {"/spec/ipv4Namespace": "ns-2"}),
                 [(R, "/spec/ipv4Namespace", "default", "ns-2", H)], id="vpc: defaulted ipv4Namespace changed"),
    pytest.param(VPC_1, edited(stored(VPC_1), {"/spec/subnets/default/gateway": "10.0.1.254"}),
                 [(R, "/spec/subnets/default/gateway", "10.0.1.1", "10.0.1.254", H)],
                 id="vpc: defaulted gateway changed"),
    pytest.param(VPC_1, edited(stored(VPC_1), {"/spec/subnets/default/dhcp/range/end": "10.0.1.99"}),
                 [(R, "/spec/subnets/default/dhcp/range/end", "10.0.1.255", "10.0.1.99", H)],
                 id="vpc: defaulted DHCP range end changed"),
    pytest.param(VPC_1, edited(stored(VPC_1), {"/spec/subnets/default/dhcp/options/leaseTimeSeconds": 60}),
                 [(R, "/spec/subnets/default/dhcp/options/leaseTimeSeconds", 3600, 60, H)],
                 id="vpc: defaulted lease time changed"),
    pytest.param(VPC_1, edited(stored(VPC_1), {"/spec/subnets/default/dhcp/options/interfaceMTU": 1500}),
                 [(R, "/spec/subnets/default/dhcp/options/interfaceMTU", 9036, 1500, H)],
                 id="vpc: defaulted DHCP MTU changed"),
    pytest.param(VPC_1, edited(stored(VPC_1), {"/spec/subnets/backend/isolated": _DELETE}),
                 [(D, "/spec/subnets/backend/isolated", False, None, H)],
                 id="vpc: explicit isolated false removed live"),
    pytest.param(VPC_1, edited(stored(VPC_1), {"/spec/subnets/hosts/dhcp/static/0c:20:12:ff:00:01": {"ip": "10.0.3.8"}}),
                 [(R, "/spec/subnets/hosts/dhcp/static/0c:20:12:ff:00:01/ip", "10.0.3.9", "10.0.3.8", H)],
                 id="vpc: static lease under the canonical MAC changed"),
    pytest.param(VPC_1, edited(stored(VPC_1), {"/spec/subnets/default/vlan": 1002}),
                 [(R, "/spec/subnets/default/vlan", 1001, 1002, H)], id="vpc: vlan changed"),
    # VPCAttachment: `subnet: vpc-1` means vpc-1/default.
    pytest.param(ATTACHMENT, stored(ATTACHMENT), [], id="vpcattachment: as stored"),
    pytest.param(ATTACHMENT, edited(stored(ATTACHMENT), {"/spec/subnet": "vpc-1/backend"}),
                 [(R, "/spec/subnet", "vpc-1/default", "vpc-1/backend", H)], id="vpcattachment: moved subnet"),
    # VPCPeering: `vpc-1:` with nothing is {}; subnet lists are sets.
    pytest.param(PEERING, stored(PEERING, reorder_sets=True), [], id="vpcpeering: as stored"),
    pytest.param(PEERING, edited(stored(PEERING), {"/spec/permit/0/vpc-2/subnets": ["web"]}),
                 # named at their positions in Git (web, db, app), not after sorting
                 [(D, "/spec/permit/0/vpc-2/subnets/2", "app", None, H), (D, "/spec/permit/0/vpc-2/subnets/1", "db", None, H)],
                 id="vpcpeering: subnets narrowed live"),
    pytest.param(PEERING, edited(stored(PEERING), {"/spec/permit": [{"vpc-1": {}, "vpc-3": {}}]}),
                 [(D, "/spec/permit/0/vpc-2", {"subnets": ["app", "db", "web"]}, None, H),
                  (A, "/spec/permit/0/vpc-3", None, {}, H)],
                 id="vpcpeering: peer VPC replaced"),
    # IPv4Namespace: subnets sorted.
    pytest.param(IPV4_NS, stored(IPV4_NS), [], id="ipv4namespace: as stored"),
    pytest.param(IPV4_NS, edited(stored(IPV4_NS), {"/spec/subnets": ["10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16"]}),
                 [(A, "/spec/subnets/2", None, "10.2.0.0/16", H)], id="ipv4namespace: subnet added live"),
    # External, ExternalAttachment, ExternalPeering.
    pytest.param(EXTERNAL, stored(EXTERNAL), [], id="external: as stored"),
    pytest.param(EXTERNAL, edited(stored(EXTERNAL), {"/spec/ipv4Namespace": "other"}),
                 [(R, "/spec/ipv4Namespace", "default", "other", H)], id="external: defaulted namespace changed"),
    pytest.param(EXTERNAL_ATTACHMENT, edited(stored(EXTERNAL_ATTACHMENT), {"/spec/neighbor/asn": 64103}),
                 [(R, "/spec/neighbor/asn", 64102, 64103, H)], id="externalattachment: neighbor ASN changed"),
    pytest.param(EXTERNAL_PEERING, stored(EXTERNAL_PEERING), [], id="externalpeering: as stored"),
    pytest.param(EXTERNAL_PEERING, edited(stored(EXTERNAL_PEERING), {"/spec/permit/external/prefixes": [{"prefix": "0.0.0.0/0"}]}),
                 [(D, "/spec/permit/external/prefixes/0", {"prefix": "10.9.0.0/16"}, None, H)],  # first in Git
                 id="externalpeering: prefix removed live"),
    # Gateway: logs, workers and group defaults; interfaces are a map whose empty entries count.
    pytest.param(GATEWAY_1, stored(GATEWAY_1), [], id="gateway: as stored"),
    pytest.param(GATEWAY_1, edited(stored(GATEWAY_1), {"/spec/workers": 8}),
                 [(R, "/spec/workers", 4, 8, H)], id="gateway: defaulted workers changed"),
    pytest.param(GATEWAY_1, edited(stored(GATEWAY_1), {"/spec/logs/tags/all": "debug"}),
                 [(R, "/spec/logs/tags/all", "info", "debug", H)], id="gateway: defaulted log tag changed"),
    pytest.param(GATEWAY_1, edited(stored(GATEWAY_1), {"/spec/groups": [{"name": "edge"}]}),
                 [(D, "/spec/groups/0", {"name": "default"}, None, H), (A, "/spec/groups/0", None, {"name": "edge"}, H)],
                 id="gateway: defaulted group changed"),
    pytest.param(GATEWAY_1, edited(stored(GATEWAY_1), {"/spec/interfaces/enp2s2": _DELETE}),
                 [(D, "/spec/interfaces/enp2s2", {}, None, H)], id="gateway: interface removed live"),
    pytest.param(GATEWAY_GROUP, stored(GATEWAY_GROUP), [], id="gatewaygroup: as stored"),
    # GatewayPeering: idle timeout spelled as Go does, group and ACL defaults.
    pytest.param(GATEWAY_PEERING, stored(GATEWAY_PEERING), [], id="gatewaypeering: as stored"),
    pytest.param(GATEWAY_PEERING, edited(stored(GATEWAY_PEERING), {"/spec/peering/vpc-1/expose/0/nat/masquerade/idleTimeout": "5m0s"}),
                 [(R, "/spec/peering/vpc-1/expose/0/nat/masquerade/idleTimeout", "2m0s", "5m0s", H)],
                 id="gatewaypeering: defaulted idle timeout changed"),
    pytest.param(GATEWAY_PEERING, edited(stored(GATEWAY_PEERING), {"/spec/acl/rules/0/scope": "session"}),
                 [(R, "/spec/acl/rules/0/scope", "flow", "session", H)], id="gatewaypeering: defaulted scope changed"),
    pytest.param(GATEWAY_PEERING, edited(stored(GATEWAY_PEERING), {"/spec/gatewayGroup": "edge"}),
                 [(R, "/spec/gatewayGroup", "default", "edge", H)], id="gatewaypeering: defaulted group changed"),
]


@pytest.mark.parametrize(("desired", "live", "expected"), TABLE)
def test_change_table(desired: dict, live: dict, expected: list[tuple]) -> None:
    before = copy.deepcopy((desired, live))
    found = changes_of([desired], [live])
    assert (desired, live) == before, "comparing must not change its inputs"
    if not expected:
        assert found == {}
        return
    ((key, (state, severity, changes)),) = found.items()
    assert key == (desired["kind"], desired["metadata"]["name"])
    assert state == "modified"
    assert changes == expected
    assert severity == max((c[4] for c in expected), key=("low", "medium", "high").index)


def test_table_covers_every_authored_kind() -> None:
    covered = {(split_api_version(p.values[0]["apiVersion"])[0], p.values[0]["kind"]) for p in TABLE}
    assert covered == {(k.group, k.kind) for k in KINDS if k.authored}


# --- a Duration written empty is not a Duration left out ----------------------------------------------
#
# GatewayPeering's idleTimeout fields are `IdleTimeout kmetav1.Duration `json:"idleTimeout,omitempty"``
# (api/gateway/v1alpha1/gatewaypeering_types.go at the commit above). Left out (or null, which the API
# server prunes), the field decodes to 0 and Default() sets DefaultMasqueradeIdleTimeout = 2 * time.Minute,
# stored as "2m0s"; "0", "-0" and "0s" parse to 0 and get the same. Written as "", metav1.Duration's
# UnmarshalJSON calls time.ParseDuration(""), which fails ("time: invalid duration"): controller-runtime's
# defaulter answers 400 before Default() runs, so `kubectl apply` of that file is refused and the cluster
# keeps what it had. Expected values written from that Go source, not from the production defaulting.

MASQUERADE = "/spec/peering/vpc-1/expose/0/nat/masquerade"


def _masquerade(obj: dict) -> Any:
    return obj["spec"]["peering"]["vpc-1"]["expose"][0]["nat"]["masquerade"]


@pytest.mark.parametrize("written", [_DELETE, None, "0", "-0", "0s", "0h0m0s"],
                         ids=["absent", "null", "0", "-0", "0s", "0h0m0s"])
def test_an_absent_or_zero_idle_timeout_is_stored_as_two_minutes_and_is_in_sync(written: Any) -> None:
    desired = edited(GATEWAY_PEERING, {f"{MASQUERADE}/idleTimeout": written})
    live = stored(desired)
    assert _masquerade(live) == {"idleTimeout": "2m0s"}
    assert changes_of([desired], [live]) == {}


def test_an_empty_idle_timeout_in_git_is_drift_from_what_the_cluster_holds() -> None:
    # The webhook refuses "", so nothing of this file reaches the cluster ...
    empty = edited(GATEWAY_PEERING, {f"{MASQUERADE}/idleTimeout": ""})
    with pytest.raises(WebhookDenies):
        stored(empty)
    # ... and the cluster still holds the peering as applied before, here without the field: "2m0s".
    live = stored(edited(GATEWAY_PEERING, {f"{MASQUERADE}/idleTimeout": _DELETE}))
    assert _masquerade(live) == {"idleTimeout": "2m0s"}
    # Git cannot be applied as written, so it is not in sync; what differs is that masquerade section.
    ((state, severity, changes),) = changes_of([empty], [live]).values()
    assert state == "modified" and severity == "high"
    assert changes and all(c[1].startswith(MASQUERADE) for c in changes)


# --- whole fabrics: the shared Hedgehog samples and the project's generator ---------------------------


def _sample_files() -> list[tuple[str, bytes]]:
    return [(str(p.relative_to(SAMPLES)), p.read_bytes()) for p in sorted(SAMPLES.rglob("*.yaml"))]


SAMPLE_FILES = [name for name, _ in _sample_files()] if SAMPLES.is_dir() else []


def _needs_samples() -> None:
    if not SAMPLES.is_dir():
        pytest.skip(SAMPLES_ABSENT)


def sample_fabric() -> list[dict]:
    """Every sample file read as one fabric's Git folder (an identity defined twice keeps its first)."""
    _needs_samples()
    return parse_files(_sample_files()).objects


def live_fabric(desired: list[dict], **kw: Any) -> list[dict]:
    return [stored(obj, generation=1 + i % 5, **kw) for i, obj in enumerate(desired)]


@pytest.mark.parametrize("name", SAMPLE_FILES or ["none"])
@pytest.mark.parametrize("reorder_sets", [False, True], ids=["as-stored", "sets-reordered"])
def test_each_sample_file_is_in_sync_with_its_stored_copy(name: str, reorder_sets: bool) -> None:
    _needs_samples()
    parsed = parse_files([(name, (SAMPLES / name).read_bytes())])
    assert parsed.objects, f"{name} holds Hedgehog objects"
    result = compare(parsed.objects, live_fabric(parsed.objects, reorder_sets=reorder_sets),
                     sources=parsed.sources)
    assert result.drifts == []
    assert result.counts["in_sync"] == len(parsed.objects)


def test_every_sample_document_is_in_sync_alone() -> None:
    """Documents parse_files drops as duplicates (the docs repeat `vpc-1--vpc-2`) are covered too."""
    _needs_samples()
    checked = 0
    for name, data in _sample_files():
        for doc in yaml.safe_load_all(data):
            if isinstance(doc, dict) and "kind" in doc:
                assert compare([doc], [stored(doc)]).drifts == [], f"{name}: {doc['kind']} {doc['metadata']['name']}"
                checked += 1
    assert checked >= 40  # 48 documents in the samples at the time of writing


GENERATED_SPECS = [
    pytest.param(FabricSpec(), id="default"),
    pytest.param(FabricSpec(external=True, lagging_agents=2, seed=3), id="external-lagging"),
    pytest.param(FabricSpec.sized(500, seed=7), id="sized-500"),
    pytest.param(FabricSpec(spines=1, leaves=3, mclag_share=0.0, eslag_share=1.0, dhcp_share=1.0, seed=11),
                 id="eslag-all-dhcp"),
]


@pytest.mark.parametrize("spec", GENERATED_SPECS)
def test_generated_fabric_is_in_sync_with_its_stored_copy(spec: FabricSpec) -> None:
    desired = generate_fabric("fab-gen", spec)
    controller = generate_controller_objects("fab-gen", spec, desired)
    live = live_fabric(desired, reorder_sets=True) + controller
    result = compare(desired, live)
    assert result.drifts == []
    assert result.counts == {"in_sync": len(desired), "modified": 0, "missing": 0, "extra": 0}


# --- known mutations give exactly those changes -----------------------------------------------------


def _find(objs: list[dict], kind: str, name: str | None = None, where=lambda o: True) -> dict:
    return next(o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name) and where(o))


def _replace(objs: list[dict], new: dict) -> None:
    for i, o in enumerate(objs):
        if (o["kind"], o["metadata"]["name"]) == (new["kind"], new["metadata"]["name"]):
            objs[i] = new
            return
    raise AssertionError(f"no {new['kind']} {new['metadata']['name']}")


def mutate(desired: list[dict], *, vpc: str, attachment: str, new_subnet: str, connection: str,
           fabric_connection: str, switch: str) -> tuple[list[dict], list[dict], dict]:
    """(desired, live, expected) with six changes people make by hand, plus noise that is not drift."""
    desired = copy.deepcopy(desired)
    labelled = _find(desired, "Switch", where=lambda o: o["metadata"]["name"] != switch)
    labelled["metadata"]["labels"] = {"rack": "r1"}  # the label is authored in Git ...
    live = live_fabric(desired)
    expected: dict[tuple[str, str], tuple] = {}

    # A VLAN changed.
    obj = copy.deepcopy(_find(live, "VPC", vpc))
    subnet = sorted(obj["spec"]["subnets"])[0]
    vlan = obj["spec"]["subnets"][subnet]["vlan"]
    obj["spec"]["subnets"][subnet]["vlan"] = vlan + 1
    _replace(live, obj)
    expected[("VPC", vpc)] = ("modified", "high", [("replace", f"/spec/subnets/{subnet}/vlan", vlan, vlan + 1, "high")])

    # An attachment moved to another subnet.
    obj = copy.deepcopy(_find(live, "VPCAttachment", attachment))
    old_subnet = obj["spec"]["subnet"]
    obj["spec"]["subnet"] = new_subnet
    _replace(live, obj)
    expected[("VPCAttachment", attachment)] = ("modified", "high", [("replace", "/spec/subnet", old_subnet, new_subnet, "high")])

    # A server connection's switch port changed.
    obj = copy.deepcopy(_find(live, "Connection", connection))
    link = obj["spec"]["unbundled"]["link"]["switch"]
    old_port = link["port"]
    link["port"] = old_port.rsplit("/", 1)[0] + "/47"
    _replace(live, obj)
    expected[("Connection", connection)] = ("modified", "high", [
        ("replace", "/spec/unbundled/link/switch/port", old_port, link["port"], "high")])

    # A fabric link moved to another leaf port, which sorts it elsewhere among the links.
    obj = copy.deepcopy(_find(live, "Connection", fabric_connection))
    links = obj["spec"]["fabric"]["links"]
    old_leaf_port = links[-1]["leaf"]["port"]
    links[-1]["leaf"]["port"] = old_leaf_port.rsplit("/", 1)[0] + "/1"
    _replace(live, obj)
    index = len(_find(desired, "Connection", fabric_connection)["spec"]["fabric"]["links"]) - 1  # as in Git
    expected[("Connection", fabric_connection)] = ("modified", "high", [
        ("replace", f"/spec/fabric/links/{index}/leaf/port", old_leaf_port, links[-1]["leaf"]["port"], "high")])

    # A switch deleted live.
    live = [o for o in live if (o["kind"], o["metadata"]["name"]) != ("Switch", switch)]
    expected[("Switch", switch)] = ("missing", "critical", [])

    # A VPC added live.
    rogue = copy.deepcopy(_find(desired, "VPC", vpc))
    rogue["metadata"] = {"name": "rogue-vpc", "namespace": "default"}
    for sub in rogue["spec"]["subnets"].values():
        sub["vlan"] += 2000
    live.append(stored(rogue))
    expected[("VPC", "rogue-vpc")] = ("extra", "critical", [])

    # A label changed ... while a system label and the server's bookkeeping churn: not drift.
    obj = copy.deepcopy(_find(live, "Switch", labelled["metadata"]["name"]))
    obj["metadata"]["labels"]["rack"] = "r2"
    obj["metadata"]["labels"]["fabric.githedgehog.com/profile"] = "changed-by-controller"
    obj["metadata"]["resourceVersion"] = "99999"
    obj["status"] = {"applied": "now"}
    _replace(live, obj)
    expected[("Switch", labelled["metadata"]["name"])] = ("modified", "medium", [
        ("replace", "/metadata/labels/rack", "r1", "r2", "medium")])
    return desired, live, expected


def _sample_mutations() -> tuple[list[dict], list[dict], dict]:
    return mutate(sample_fabric(), vpc="vpc-test", attachment="demo-vpc-3--server-3--bundled--s5248-01",
                  new_subnet="demo-vpc-3/subnet-2", connection="server-4--unbundled--s5248-02",
                  fabric_connection="spine-01--fabric--leaf-01", switch="leaf-04")


def _generated_mutations() -> tuple[list[dict], list[dict], dict]:
    spec = FabricSpec(seed=5)
    desired = generate_fabric("fab-mut", spec)
    attachment = _find(desired, "VPCAttachment")
    vpc_name = attachment["spec"]["subnet"].split("/")[0]
    other = next(s for s in _find(desired, "VPC", vpc_name)["spec"]["subnets"]
                 if f"{vpc_name}/{s}" != attachment["spec"]["subnet"])
    desired_live = desired + generate_controller_objects("fab-mut", spec, desired)
    desired_, live, expected = mutate(
        desired, vpc=_find(desired, "VPC")["metadata"]["name"], attachment=attachment["metadata"]["name"],
        new_subnet=f"{vpc_name}/{other}",
        connection=_find(desired, "Connection", where=lambda o: "unbundled" in o["spec"])["metadata"]["name"],
        fabric_connection=_find(desired, "Connection", where=lambda o: "fabric" in o["spec"])["metadata"]["name"],
        switch=_find(desired, "Switch", where=lambda o: o["spec"]["role"] == "server-leaf")["metadata"]["name"])
    controller = [o for o in desired_live if o["kind"] in ("Agent", "DHCPSubnet")]
    return desired_, live + controller, expected


MUTATED = [pytest.param(_sample_mutations, id="samples"), pytest.param(_generated_mutations, id="generator")]


@pytest.mark.parametrize("make", MUTATED)
def test_known_mutations_give_exactly_those_changes(make) -> None:
    desired, live, expected = make()
    assert changes_of(desired, live) == expected


@pytest.mark.parametrize("make", MUTATED)
def test_known_mutations_in_the_report(make) -> None:
    desired, live, expected = make()
    state = DesiredState(commit="c0ffee" * 6 + "abcd", ref="main", objects=desired,
                         sources=[("fabric.yaml", i + 1) for i in range(len(desired))])
    report = build_report("fab-mut", state, LiveState(server="https://fab:6443", objects=live),
                          now=datetime(2026, 11, 28, 12, tzinfo=timezone.utc), ref="main")
    assert report["status"] == "drifted" and report["severity"] == "critical"
    assert report["summary"] == {"in_sync": len(desired) - 6, "modified": 5, "missing": 1, "extra": 1}
    got = {(r["kind"], r["name"]): (r["state"], r["severity"],
                                    [(c["op"], c["path"], c.get("desired"), c.get("actual"), c["severity"])
                                     for c in r["changes"]]) for r in report["resources"]}
    assert got == expected
    missing = next(r for r in report["resources"] if r["state"] == "missing")
    assert missing["source"].startswith("fabric.yaml#")
    table, markdown = report_table(report), report_markdown(report)
    for kind, name in expected:
        assert name in table and name in markdown


# --- secrets are masked wherever a change shows them ----------------------------------------------

SECRET_DESIRED, SECRET_LIVE = "s3cret-from-git-4411", "s3cret-live-9922"


def _with_secrets() -> tuple[list[dict], list[dict]]:
    desired = authored(VPC, "ExternalAttachment", "internet--leaf-01", {
        "connection": "leaf-01--external--internet", "external": "internet",
        "neighbor": {"asn": 64102, "ip": "100.100.0.6", "password": SECRET_DESIRED},
        "switch": {"ip": "100.100.0.5/30", "vlan": 100}})
    other = authored(VPC, "External", "internet", {"inboundCommunity": "65102:5000"},
                     annotations={"example.com/api-token": SECRET_DESIRED})
    live = [edited(stored(desired), {"/spec/neighbor/password": SECRET_LIVE,
                                     "/spec/bgpAuth": {"md5Key": "k", "authKey": SECRET_LIVE, "keyId": 7}}),
            edited(stored(other), {"/metadata/annotations/example.com~1api-token": SECRET_LIVE,
                                   "/spec/static": {"peers": [{"user": "ops", "secret": SECRET_LIVE}]}})]
    return [desired, other], live


def test_secret_values_are_masked_in_changes_at_any_depth() -> None:
    desired, live = _with_secrets()
    found = changes_of(desired, live)
    assert found[("ExternalAttachment", "internet--leaf-01")][2] == [
        ("add", "/spec/bgpAuth", None, {"md5Key": "k", "authKey": MASK, "keyId": 7}, "high"),
        ("replace", "/spec/neighbor/password", MASK, MASK, "high"),
    ]
    assert found[("External", "internet")][2] == [
        ("replace", "/metadata/annotations/example.com~1api-token", MASK, MASK, "low"),
        ("add", "/spec/static", None, {"peers": [{"user": "ops", "secret": MASK}]}, "high"),
    ]


def test_secret_values_never_reach_the_report_or_its_renderings() -> None:
    desired, live = _with_secrets()
    report = build_report("fab-sec", DesiredState(commit="c" * 40, ref="main", objects=desired),
                          LiveState(server="https://fab:6443", objects=live),
                          now=datetime(2026, 11, 28, 12, tzinfo=timezone.utc), ref="main")
    assert report["summary"]["modified"] == 2
    for text in (json.dumps(report), report_markdown(report), report_table(report)):
        assert SECRET_DESIRED not in text and SECRET_LIVE not in text
        assert MASK in text


# --- per-fabric ignore rules from the inventory, end to end ----------------------------------------

INVENTORY = """
fabrics:
  - name: fab-east
    git: {url: "file:///srv/git/fab-east", allow_local: true}
    ignore:
      - {kind: VPC, pointer: /spec/subnets/*/vlan}
      - {pointer: /metadata/labels/owner}
      - {kind: Connection, group: wiring.githedgehog.com, pointer: /spec/unbundled/mtu}
      - {kind: Connection, group: other.example.com, pointer: /spec/unbundled/link}
"""


def test_inventory_ignore_rules_apply_through_the_report() -> None:
    inventory = parse_inventory(INVENTORY, "fabrics.yaml")
    assert inventory.problems == []
    (cfg,) = inventory.fabrics
    vpc = authored(VPC, "VPC", "vpc-1", {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}})
    conn = authored(WIRING, "Connection", "server-01--unbundled--leaf-01", {"unbundled": {
        "link": {"server": {"port": "server-01/enp2s1"}, "switch": {"port": "leaf-01/E1/1"}}}},
        labels={"owner": "netops"})
    live = [edited(stored(vpc), {"/spec/subnets/default/vlan": 1999, "/spec/subnets/default/gateway": "10.0.1.254",
                                 "/metadata/labels/owner": "someone"}),
            edited(stored(conn), {"/spec/unbundled/mtu": 9000, "/metadata/labels/owner": "other-team",
                                  "/spec/unbundled/link/switch/port": "leaf-01/E1/2"})]

    def report_with(rules):
        return build_report("fab-east", DesiredState(commit="c" * 40, ref="main", objects=[vpc, conn]),
                            LiveState(server="https://fab:6443", objects=live),
                            now=datetime(2026, 11, 28, 12, tzinfo=timezone.utc), ref="main", **rules)

    def paths(report):
        return sorted(c["path"] for r in report["resources"] for c in r["changes"])

    assert paths(report_with({})) == ["/metadata/labels/owner", "/metadata/labels/owner",
                                      "/spec/subnets/default/gateway", "/spec/subnets/default/vlan",
                                      "/spec/unbundled/link/switch/port", "/spec/unbundled/mtu"]
    # What the rules name goes; a rule for another group does not apply; everything else stays.
    assert paths(report_with({"rules": cfg.rules})) == ["/spec/subnets/default/gateway",
                                                       "/spec/unbundled/link/switch/port"]


# --- drift_since ------------------------------------------------------------------------------------


def test_drift_since_follows_each_drift_across_reports_and_outages() -> None:
    t0 = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)
    vpc1 = authored(VPC, "VPC", "vpc-1", {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}})
    vpc2 = authored(VPC, "VPC", "vpc-2", {"subnets": {"default": {"subnet": "10.0.2.0/24", "vlan": 1002}}})
    desired = DesiredState(commit="c" * 40, ref="main", objects=[vpc1, vpc2])
    drifted = [edited(stored(vpc1), {"/spec/subnets/default/vlan": 1501}), stored(vpc2)]
    rogue = stored(authored(VPC, "VPC", "rogue", {"subnets": {"default": {"subnet": "10.0.9.0/24", "vlan": 1900}}}))

    def report(minute, live, previous, desired_state=desired, **kw):
        return build_report("fab", desired_state, live and LiveState(server="https://fab:6443", objects=live),
                            now=t0 + timedelta(minutes=minute), ref="main", previous=previous, **kw)

    def since(r):
        return {(x["name"], x["state"]): x["drift_since"] for x in r["resources"]}

    r0 = report(0, drifted + [rogue], None)
    assert r0["drift_since"] == "2026-11-28T12:00:00Z"
    assert since(r0) == {("vpc-1", "modified"): "2026-11-28T12:00:00Z", ("rogue", "extra"): "2026-11-28T12:00:00Z"}
    # The cluster cannot be read: unknown, nothing listed, but the drift is remembered with its time.
    r1 = report(1, None, r0, cluster_failure=ReadFailure("cluster unreachable", "ClusterUnreachableError"))
    assert r1["status"] == "unknown" and r1["resources"] == [] and r1["drift_since"] == "2026-11-28T12:00:00Z"
    # A broken file in Git: modified/missing are checked, extras are not.
    broken = DesiredState(commit="d" * 40, ref="main", objects=[vpc1, vpc2],
                          findings=[Finding("vpcs/bad.yaml", "YAML syntax error at line 3")])
    r2 = report(2, drifted + [rogue], r1, desired_state=broken)
    assert r2["status"] == "unknown" and since(r2) == {("vpc-1", "modified"): "2026-11-28T12:00:00Z"}
    # Both sides readable again, the same drift: every time is the first one.
    r3 = report(3, drifted + [rogue], r2)
    assert r3["status"] == "drifted" and r3["drift_since"] == "2026-11-28T12:00:00Z"
    assert since(r3) == {("vpc-1", "modified"): "2026-11-28T12:00:00Z", ("rogue", "extra"): "2026-11-28T12:00:00Z"}
    assert "unchecked_drift" not in r3
    # vpc-1 now missing instead of modified: a new drift with a new time; the rogue VPC keeps its own.
    r4 = report(4, [stored(vpc2), rogue], r3)
    assert since(r4) == {("vpc-1", "missing"): "2026-11-28T12:04:00Z", ("rogue", "extra"): "2026-11-28T12:00:00Z"}
    # Healed: no drift, no time; drift again later starts a new time.
    r5 = report(5, [stored(vpc1), stored(vpc2)], r4)
    assert r5["status"] == "in_sync" and r5["drift_since"] is None
    r6 = report(6, drifted, r5)
    assert r6["drift_since"] == "2026-11-28T12:06:00Z" and since(r6) == {("vpc-1", "modified"): "2026-11-28T12:06:00Z"}


# --- what the controller creates is never extra -----------------------------------------------------


def test_controller_objects_are_never_extra_but_look_alikes_are() -> None:
    builtin_profile = authored(WIRING, "SwitchProfile", "dell-s5248f-on", {"displayName": "Dell S5248F-ON"},
                               labels={"fabric.githedgehog.com/profile-builtin": "true"})
    live = [
        stored(authored(GATEWAY, "GatewayGroup", "default", {})),  # the gateway controller's own group
        stored(builtin_profile),
        {"apiVersion": "agent.githedgehog.com/v1beta1", "kind": "Agent", "metadata": {"name": "leaf-01"}},
        {"apiVersion": "agent.githedgehog.com/v1beta1", "kind": "Catalog", "metadata": {"name": "leaf-01"}},
        {"apiVersion": "dhcp.githedgehog.com/v1beta1", "kind": "DHCPSubnet", "metadata": {"name": "vpc-1--default"}},
        {"apiVersion": "gateway.githedgehog.com/v1alpha1", "kind": "VPCInfo", "metadata": {"name": "vpc-1"}},
        {"apiVersion": "gwint.githedgehog.com/v1alpha1", "kind": "GatewayAgent", "metadata": {"name": "gw-1"}},
        # Created by hand, so extra:
        stored(authored(GATEWAY, "GatewayGroup", "edge", {})),
        stored(authored(WIRING, "SwitchProfile", "hand-made", {"displayName": "Hand made"})),
        stored(authored(WIRING, "Switch", "leaf-99", {"role": "server-leaf"})),
    ]
    assert changes_of([], live) == {
        ("GatewayGroup", "edge"): ("extra", "high", []),
        ("SwitchProfile", "hand-made"): ("extra", "high", []),
        ("Switch", "leaf-99"): ("extra", "critical", []),
    }
