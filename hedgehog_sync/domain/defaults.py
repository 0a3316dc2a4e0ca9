"""Hedgehog's admission defaulting, reproduced so that what the webhooks add on every write is not drift.

Every write to a Hedgehog resource passes a mutating webhook that calls the type's ``Default()``
method and stores the result, so the live object differs from what the operator wrote in Git.
Applying the same defaulting to both sides before comparing removes that difference while a
real change still shows.

Upstream read: githedgehog/fabric at commit 78827debafabbd0fafc6f6abd154a89da7fb69da
(v0.126.0-15-g78827deb, 2026-07-23), files ``api/vpc/v1beta1/*_types.go``,
``api/wiring/v1beta1/*_types.go``, ``api/gateway/v1alpha1/*_types.go``, with the helpers they call
(``api/meta/validation.go``, ``api/meta/vlan.go``, ``pkg/util/iputil/ip.go``) and the webhooks that
call them (``pkg/ctrl/*_wh.go``). The gateway API lived in githedgehog/gateway until
commit 8e80c43e675c02e70131c020664b7bb307f5ae46 ("merged into fabric"); its ``Default()`` methods
there are a subset of fabric's (no log rate limit, no peering ACL), so one rule set serves both.

Where this deliberately differs from upstream (each is marked "deviation" below):

* Labels the webhook derives from the spec (``fabric.githedgehog.com/vpc``,
  ``switch.fabric.githedgehog.com/<name>``, ``vpc.gateway.githedgehog.com/<vpc>``, ...) are removed
  rather than recomputed. They restate the spec, so comparing the spec is enough; recomputing them
  would report one operator change twice, once as a medium-severity label change the operator never
  made. Upstream's ``CleanupFabricLabels`` (drop every label whose key contains
  ``fabric.githedgehog.com/``) is kept for the kinds that call it.
* The result is idempotent where upstream's is not (VPC DHCP static MACs, see ``_default_vpc_subnet``).
* Odd input is left as it is instead of panicking or being rejected as the Go decoder would.

Pure functions over plain JSON-like data: no I/O, no Dagster.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import re
import string
from typing import Any, Callable

from hedgehog_sync.domain.kinds import GATEWAY, VPC, WIRING, split_api_version

Obj = dict[str, Any]
GroupKind = tuple[str, str]

# How to order a list: () orders by the items themselves; otherwise by these (field, value if unset)
# pairs of each item, in turn. The unset value also fixes the type every item's field must have.
SortKey = tuple[tuple[str, object], ...]
BY_VALUE: SortKey = ()

DEFAULT_NAMESPACE = "default"  # meta.DefaultObjectMetadata and the gateway kinds
DEFAULT_IPV4_NAMESPACE = "default"  # vpcapi.DefaultIPv4Namespace
DEFAULT_VLAN_NAMESPACE = "default"  # wiringapi.DefaultVLANNamespace
DEFAULT_DHCP_INTERFACE_MTU = 9036
DEFAULT_DHCP_LEASE_TIME_SECONDS = 3600
DEFAULT_LINK_FLAP = {"flapThreshold": 3, "samplingInterval": 30, "recoveryInterval": 300}
DEFAULT_GATEWAY_GROUP = "default"
DEFAULT_GATEWAY_LOG_LEVEL = "info"
DEFAULT_GATEWAY_WORKERS = 4
DEFAULT_GATEWAY_LOG_RATE_LIMIT = {"burst": 50, "replenishPerSecond": 5}
DEFAULT_NAT_IDLE_TIMEOUT = "2m0s"  # DefaultMasqueradeIdleTimeout = DefaultPortForwardIdleTimeout = 2m
DEFAULT_PEERING_ACL_ACTION = "deny-unless-exposed"
DEFAULT_PEERING_ACL_SCOPE = "flow"

# wiringapi.CleanupFabricLabels drops every label whose key *contains* this, so the list labels
# ("switch.fabric.githedgehog.com/leaf-1") go too, not only keys that start with it.
FABRIC_LABEL_MARKER = "fabric.githedgehog.com/"
# GatewayPeering.Default() adds ListLabelVPC labels and never cleans them up, so old ones linger live.
GATEWAY_VPC_LIST_LABEL_PREFIX = "vpc.gateway.githedgehog.com/"
# SwitchProfile.Default() writes a summary of spec.ports here (wiringapi.AnnotationPorts).
SWITCH_PROFILE_PORTS_ANNOTATION = "fabric.githedgehog.com/ports"


# Lists Default() sorts on every write, whatever else it does: (group, kind) -> (pointer, order).
# Conditional sorts (VPC DHCP options) live in their kind's function.
SORTED_LISTS: dict[GroupKind, tuple[tuple[str, SortKey], ...]] = {
    # Switch.Default(): sort.Strings(Groups), sort.Strings(VLANNamespaces)
    (WIRING, "Switch"): (("/spec/groups", BY_VALUE), ("/spec/vlanNamespaces", BY_VALUE)),
    # VLANNamespace.Default() -> meta.NormalizedVLANRanges -> SortVLANRanges, by (from, to)
    (WIRING, "VLANNamespace"): (("/spec/ranges", (("from", 0), ("to", 0))),),
    # IPv4Namespace.Default(): sort.Strings(Subnets)
    (VPC, "IPv4Namespace"): (("/spec/subnets", BY_VALUE),),
    # ExternalPeering.Default(): sort.Strings(VPC.Subnets), sort.Slice(External.Prefixes) by prefix
    (VPC, "ExternalPeering"): (
        ("/spec/permit/vpc/subnets", BY_VALUE),
        ("/spec/permit/external/prefixes", (("prefix", ""),)),
    ),
    # Gateway.Default(): slices.SortFunc(Groups) by name; priority breaks ties, which Go leaves unspecified
    (GATEWAY, "Gateway"): (("/spec/groups", (("name", ""), ("priority", 0))),),
}

# Lists whose order Hedgehog does not preserve (sorted above) or that are sets by meaning, for the
# diff to compare without regard to order. RFC 6901 pointers; `*` is any map key or list index.
# Inner lists come before the lists that hold them, so that sorting in the order given puts each
# inner list in order before its container is ordered by it.
ORDER_INSENSITIVE: dict[GroupKind, tuple[str, ...]] = {
    (WIRING, "Switch"): ("/spec/groups", "/spec/vlanNamespaces"),
    (WIRING, "VLANNamespace"): ("/spec/ranges",),
    # Links of one connection are a set: nothing in the API or the agent reads their position.
    (WIRING, "Connection"): (
        "/spec/bundled/links",
        "/spec/mclag/links",
        "/spec/eslag/links",
        "/spec/fabric/links",
        "/spec/mesh/links",
        "/spec/gateway/links",
        "/spec/vpcLoopback/links",
        "/spec/mclagDomain/peerLinks",
        "/spec/mclagDomain/sessionLinks",
        "/spec/staticExternal/link/switch/subnets",
    ),
    (VPC, "VPC"): (
        "/spec/permit/*",  # each policy is a set of subnet names ...
        "/spec/permit",  # ... and the policies a set of them
        "/spec/staticRoutes/*/nextHops",
        "/spec/staticRoutes",
        "/spec/subnets/*/dhcp/options/dnsServers",
        "/spec/subnets/*/dhcp/options/timeServers",
        "/spec/subnets/*/dhcp/options/advertisedRoutes",
    ),
    (VPC, "VPCPeering"): ("/spec/permit/*/*/subnets", "/spec/permit"),
    (VPC, "IPv4Namespace"): ("/spec/subnets",),
    (VPC, "External"): ("/spec/static/prefixes",),
    # Statements are ordered by their `seq`, not by their position.
    (VPC, "ExternalAttachment"): ("/spec/inboundACL/statements",),
    (VPC, "ExternalPeering"): ("/spec/permit/vpc/subnets", "/spec/permit/external/prefixes"),
    (GATEWAY, "Gateway"): ("/spec/interfaces/*/ips", "/spec/groups", "/spec/neighbors"),
    # Rule order may decide which rule applies, so it counts; the endpoints and ports of one match do not.
    (GATEWAY, "GatewayPeering"): (
        "/spec/acl/rules/*/match/src/*/ports",
        "/spec/acl/rules/*/match/dst/*/ports",
        "/spec/acl/rules/*/match/src",
        "/spec/acl/rules/*/match/dst",
    ),
}

# Live-side fields the controller or webhook writes and an operator does not, beyond what the
# normalizer drops anyway (status, server metadata, fabric.githedgehog.com/ and other system
# labels/annotations). None found at the commit above: controllers of authored kinds update only
# status, except the Gateway and GatewayPeering controllers, which write back exactly Default()'s
# result, and derived labels are removed by apply_defaults itself.
IGNORED_POINTERS: dict[GroupKind, tuple[str, ...]] = {}


# How much of `spec` each kind's Default() can change, so that a caller that copies what it keeps anyway
# (normalize) need not have it copied twice: nothing at all, or only values directly under spec.
# Kinds not named here may change anything. Checked against the defaulters by the tests.
SPEC_UNTOUCHED: frozenset[GroupKind] = frozenset({
    (WIRING, "Server"), (WIRING, "Connection"), (WIRING, "SwitchGroup"), (WIRING, "SwitchProfile"),
    (WIRING, "ServerProfile"), (VPC, "ExternalAttachment"), (GATEWAY, "GatewayGroup"),
})
SPEC_TOP_LEVEL_ONLY: frozenset[GroupKind] = frozenset({(VPC, "VPCAttachment"), (VPC, "External")})


def apply_defaults(obj: Obj, *, share_unchanged: bool = False) -> Obj:
    """A new object with Hedgehog's defaulting for its (group, kind) applied; others come back copied.

    Idempotent, never mutates its input, and never raises: what it cannot interpret stays as it is.
    With share_unchanged, parts of `spec` that Default() never changes may be shared with the input
    instead of copied: only for callers that copy what they keep.
    """
    if share_unchanged and isinstance(obj, dict):
        out = _copy_for_defaults(obj)
    else:
        out = _copy(obj)
    if not isinstance(out, dict):
        return out
    api_version, kind = out.get("apiVersion"), out.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return out
    group, _ = split_api_version(api_version)
    defaulter = _DEFAULTERS.get((group, kind))
    if defaulter is None:
        return out
    if out.get("spec") is None:
        # Every Hedgehog kind holds its Spec by value (`Spec XSpec`), so a document without `spec`
        # (or with `spec: null`) decodes to the zero spec and Default() fills it like an empty one.
        out["spec"] = {}
    defaulter(out)
    for pointer, order in SORTED_LISTS.get((group, kind), ()):
        for items in _lists_at(out, pointer):
            _sort_in_place(items, order)
    return out


def _copy_for_defaults(obj: Obj) -> Obj:
    """A copy of obj in which Default() can change nothing of obj: spec shared or shallow where it may."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    group = split_api_version(api_version)[0] if isinstance(api_version, str) else ""
    spec = obj.get("spec")
    if not isinstance(spec, dict) or not isinstance(kind, str):
        return _copy(obj)
    if (group, kind) in SPEC_UNTOUCHED:
        shared = spec
    elif (group, kind) in SPEC_TOP_LEVEL_ONLY:
        shared = dict(spec)
    else:
        return _copy(obj)
    out = _copy({k: v for k, v in obj.items() if k != "spec"})
    out["spec"] = shared
    return out


# --- one function per kind; each changes the fresh copy apply_defaults made -------------------------


# mirrors Switch.Default() in api/wiring/v1beta1/switch_types.go
def _default_switch(obj: Obj) -> None:
    # Derived labels: switchgroup.fabric.../<group>, vlanns.fabric.../<ns>, fabric.../profile.
    # groups and vlanNamespaces are sorted through SORTED_LISTS, after the redundancy group is added.
    _default_namespace(obj)
    _cleanup_fabric_labels(obj)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    for speeds in ("portGroupSpeeds", "portSpeeds"):
        table = spec.get(speeds)
        if isinstance(table, dict):
            for port, speed in table.items():
                if isinstance(speed, str) and speed.startswith("SPEED_"):
                    table[port] = speed[len("SPEED_") :]
    namespaces = spec.get("vlanNamespaces")
    if namespaces is None or namespaces == []:
        spec["vlanNamespaces"] = [DEFAULT_VLAN_NAMESPACE]
    redundancy = spec.get("redundancy")
    group = redundancy.get("group") if isinstance(redundancy, dict) else None
    if isinstance(group, str) and group:
        groups = spec.get("groups")
        if groups is None:
            spec["groups"] = [group]
        elif isinstance(groups, list) and group not in groups:
            groups.append(group)
    link_flap = spec.get("linkFlapErrDisable")
    if isinstance(link_flap, dict):
        # Pointers upstream: only an unset value is filled; recoveryInterval 0 means "never" and stays.
        for field, value in DEFAULT_LINK_FLAP.items():
            if link_flap.get(field) is None:
                link_flap[field] = value


# mirrors Server.Default() in api/wiring/v1beta1/server_types.go
def _default_server(obj: Obj) -> None:
    _default_namespace(obj)
    _cleanup_fabric_labels(obj)


# mirrors Connection.Default() in api/wiring/v1beta1/connection_types.go
def _default_connection(obj: Obj) -> None:
    # Everything it sets is a derived label: connection-type, vpc, switch.fabric.../<sw>, server.fabric.../<srv>.
    _default_namespace(obj)
    _cleanup_fabric_labels(obj)


# mirrors SwitchGroup.Default() in api/wiring/v1beta1/switchgroup_types.go
def _default_switch_group(obj: Obj) -> None:
    # No webhook calls it at the commit read; harmless, as the namespace is always "default" anyway.
    _default_namespace(obj)


# mirrors ServerProfile.Default() in api/wiring/v1beta1/serverprofile_types.go
def _default_server_profile(obj: Obj) -> None:
    _default_namespace(obj)


# mirrors SwitchProfile.Default() in api/wiring/v1beta1/switchprofile_types.go
def _default_switch_profile(obj: Obj) -> None:
    _default_namespace(obj)
    # The ports annotation summarises spec.ports, so it goes like a derived label.
    annotations = _metadata(obj).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(SWITCH_PROFILE_PORTS_ANNOTATION, None)


# mirrors VLANNamespace.Default() in api/wiring/v1beta1/vlannamespace_types.go
def _default_vlan_namespace(obj: Obj) -> None:
    _default_namespace(obj)
    _cleanup_fabric_labels(obj)
    spec = obj.get("spec")
    ranges = spec.get("ranges") if isinstance(spec, dict) else None
    if not isinstance(ranges, list) or not all(_is_vlan_range(r) for r in ranges):
        return  # the Go decoder would reject it, so no live object can result from it
    for item in ranges:
        if not item.get("to"):
            item["to"] = item.get("from") or 0
    if not all(1 <= (r.get("from") or 0) <= r["to"] <= 4094 for r in ranges):
        # Upstream writes `if ranges, err := NormalizedVLANRanges(...); err != nil { Ranges = ranges }`:
        # invalid ranges are replaced by nil (and then pass validation) while valid ones are only
        # filled and sorted in place, never merged. The live object holds no ranges, so neither do we.
        del spec["ranges"]


# mirrors VPC.Default() in api/vpc/v1beta1/vpc_types.go
def _default_vpc(obj: Obj) -> None:
    # Derived labels: fabric.githedgehog.com/ipv4ns and /vlanns.
    _default_namespace(obj)
    _cleanup_fabric_labels(obj)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    _default_string(spec, "ipv4Namespace", DEFAULT_IPV4_NAMESPACE)
    _default_string(spec, "vlanNamespace", DEFAULT_VLAN_NAMESPACE)
    subnets = spec.get("subnets")
    if isinstance(subnets, dict):
        for subnet in subnets.values():
            if isinstance(subnet, dict):
                _default_vpc_subnet(subnet)


def _default_vpc_subnet(subnet: Obj) -> None:
    """The per-subnet loop of VPC.Default(): gateway, DHCP range and options, static MAC spelling."""
    network = _parse_ipv4_prefix(subnet.get("subnet"))
    host_bgp = subnet.get("hostBGP")
    if network is None or not (host_bgp is None or isinstance(host_bgp, bool)):
        return
    if _is_unset_string(subnet.get("gateway")) and not host_bgp:
        gateway = _address_after(network.network_address, 1)
        if gateway is not None:
            subnet["gateway"] = gateway
    if network.prefixlen > 30:
        return
    dhcp = subnet.get("dhcp")
    if not isinstance(dhcp, dict):
        return  # absent means DHCP off with no range or options: nothing to do
    enable = dhcp.get("enable")
    if not (enable is None or isinstance(enable, bool)):
        return
    if not enable:
        dhcp.pop("range", None)
        dhcp.pop("options", None)
        return
    if dhcp.get("range") is None:
        dhcp["range"] = {}
    dhcp_range = dhcp["range"]
    if isinstance(dhcp_range, dict):
        if _is_unset_string(dhcp_range.get("start")):
            dhcp_range["start"] = _address_after(network.network_address, 2)
        if _is_unset_string(dhcp_range.get("end")):
            dhcp_range["end"] = str(network.broadcast_address)  # iputil.LastIPNetip: the last address
    options = dhcp.get("options")
    if isinstance(options, dict):
        if _dhcp_options_unset(options):
            del dhcp["options"]
        else:
            _default_dhcp_options(options)
    # Deviation: upstream's `continue` after dropping all-empty options skips this, so the MACs get
    # normalized only on the next write; doing it always keeps apply_defaults idempotent.
    static = dhcp.get("static")
    if isinstance(static, dict):
        for mac in sorted(key for key in static if isinstance(key, str)):
            canonical = _canonical_mac(mac)
            if canonical is not None and canonical != mac:
                static[canonical] = static.pop(mac)


def _dhcp_options_unset(options: Obj) -> bool:
    # Go compares the slices with nil: an explicit [] counts as set, null or absent does not.
    return (
        _is_unset_string(options.get("pxeURL"))
        and options.get("dnsServers") is None
        and options.get("timeServers") is None
        and _is_unset_int(options.get("interfaceMTU"))
        and _is_unset_int(options.get("leaseTimeSeconds"))
        and (options.get("disableDefaultRoute") is None or options.get("disableDefaultRoute") is False)
        and options.get("advertisedRoutes") is None
    )


def _default_dhcp_options(options: Obj) -> None:
    if _is_unset_int(options.get("interfaceMTU")):
        options["interfaceMTU"] = DEFAULT_DHCP_INTERFACE_MTU
    for servers in ("dnsServers", "timeServers"):
        if options.get(servers) is None:
            options[servers] = []  # no omitempty on these: the live object shows []
        if isinstance(options[servers], list):
            _sort_in_place(options[servers], BY_VALUE)
    if _is_unset_int(options.get("leaseTimeSeconds")):
        options["leaseTimeSeconds"] = DEFAULT_DHCP_LEASE_TIME_SECONDS
    routes = options.get("advertisedRoutes")
    if routes is None or routes == []:
        options.pop("advertisedRoutes", None)  # omitempty: an empty list never reaches the live object
    elif isinstance(routes, list):
        _sort_in_place(routes, (("destination", ""), ("gateway", "")))


# mirrors VPCAttachment.Default() in api/vpc/v1beta1/vpcattachment_types.go
def _default_vpc_attachment(obj: Obj) -> None:
    # Derived labels: fabric.githedgehog.com/vpc, /subnet, /connection, /nativevlan.
    _default_namespace(obj)
    spec = obj.get("spec")
    subnet = spec.get("subnet") if isinstance(spec, dict) else None
    if subnet is not None and not isinstance(subnet, str):
        return
    vpc_name, slash, _ = (subnet or "").partition("/")
    if not vpc_name:
        return  # upstream returns here, before touching labels; validation rejects the object
    if not slash:
        spec["subnet"] = f"{vpc_name}/default"
    # "vpc-1/" stays: upstream only completes a missing slash, and validation rejects the empty name.
    _cleanup_fabric_labels(obj)


# mirrors VPCPeering.Default() in api/vpc/v1beta1/vpcpeering_types.go
def _default_vpc_peering(obj: Obj) -> None:
    # Derived labels: fabric.githedgehog.com/vpc1, /vpc2, vpc.fabric.githedgehog.com/<vpc>. No list is sorted.
    _default_namespace(obj)
    _cleanup_fabric_labels(obj)
    spec = obj.get("spec")
    permit = spec.get("permit") if isinstance(spec, dict) else None
    if isinstance(permit, list):
        for policy in permit:
            if isinstance(policy, dict):
                # `vpc-1:` with nothing after it decodes to an empty VPCPeer, stored back as {}.
                for vpc_name, peer in policy.items():
                    if peer is None:
                        policy[vpc_name] = {}


# mirrors IPv4Namespace.Default() in api/vpc/v1beta1/ipv4namespace_types.go
def _default_ipv4_namespace(obj: Obj) -> None:
    _default_namespace(obj)
    _cleanup_fabric_labels(obj)


# mirrors External.Default() in api/vpc/v1beta1/external_types.go
def _default_external(obj: Obj) -> None:
    # Derived label: fabric.githedgehog.com/ipv4ns.
    _default_namespace(obj)
    _cleanup_fabric_labels(obj)
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _default_string(spec, "ipv4Namespace", DEFAULT_IPV4_NAMESPACE)


# mirrors ExternalAttachment.Default() in api/vpc/v1beta1/externalattachment_types.go
def _default_external_attachment(obj: Obj) -> None:
    # Derived labels: fabric.githedgehog.com/connection, /external.
    _default_namespace(obj)
    _cleanup_fabric_labels(obj)


# mirrors ExternalPeering.Default() in api/vpc/v1beta1/externalpeering_types.go
def _default_external_peering(obj: Obj) -> None:
    # Derived labels: fabric.githedgehog.com/vpc, /external. Subnets and prefixes: SORTED_LISTS.
    _default_namespace(obj)
    _cleanup_fabric_labels(obj)


# mirrors Gateway.Default() in api/gateway/v1alpha1/gateway_types.go
def _default_gateway(obj: Obj) -> None:
    # The gateway controller also runs it and writes the result back. Groups: SORTED_LISTS.
    _default_namespace(obj)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("logs") is None:
        spec["logs"] = {}
    logs = spec["logs"]
    if isinstance(logs, dict):
        _default_string(logs, "default", DEFAULT_GATEWAY_LOG_LEVEL)
        if logs.get("tags") is None or logs.get("tags") == {}:
            logs["tags"] = {"all": DEFAULT_GATEWAY_LOG_LEVEL}
        rate_limit = logs.get("rateLimit")
        if isinstance(rate_limit, dict):
            for field, value in DEFAULT_GATEWAY_LOG_RATE_LIMIT.items():
                if _is_unset_int(rate_limit.get(field)):
                    rate_limit[field] = value
    if _is_unset_int(spec.get("workers")):
        spec["workers"] = DEFAULT_GATEWAY_WORKERS
    if spec.get("groups") is None or spec.get("groups") == []:
        spec["groups"] = [{"name": DEFAULT_GATEWAY_GROUP}]  # priority 0 is omitted on the wire


# mirrors GatewayGroup.Default() in api/gateway/v1alpha1/gatewaygroup_types.go
def _default_gateway_group(obj: Obj) -> None:
    _default_namespace(obj)


# mirrors GatewayPeering.Default() in api/gateway/v1alpha1/gatewaypeering_types.go
def _default_gateway_peering(obj: Obj) -> None:
    # Its controller also runs it and writes the result back.
    _default_namespace(obj)
    # Deviation: upstream adds vpc.gateway.githedgehog.com/<vpc> labels and never removes old ones, so
    # a live peering keeps labels of VPCs it no longer names. They are derived, so drop them all.
    labels = _metadata(obj).get("labels")
    if isinstance(labels, dict):
        for key in [k for k in labels if isinstance(k, str) and k.startswith(GATEWAY_VPC_LIST_LABEL_PREFIX)]:
            del labels[key]
    spec = obj.get("spec")
    peering = spec.get("peering") if isinstance(spec, dict) else None
    if not isinstance(peering, dict) or len(peering) != 2:
        return  # upstream returns before any other default unless exactly two VPCs are named
    for entry in peering.values():
        exposes = entry.get("expose") if isinstance(entry, dict) else None
        for expose in exposes if isinstance(exposes, list) else ():
            nat = expose.get("nat") if isinstance(expose, dict) else None
            if isinstance(nat, dict):
                for mode in ("masquerade", "portForward"):
                    if isinstance(nat.get(mode), dict):
                        _default_idle_timeout(nat[mode])
    _default_string(spec, "gatewayGroup", DEFAULT_GATEWAY_GROUP)
    acl = spec.get("acl")
    if isinstance(acl, dict):
        _default_string(acl, "default", DEFAULT_PEERING_ACL_ACTION)
        rules = acl.get("rules")
        for rule in rules if isinstance(rules, list) else ():
            if isinstance(rule, dict):
                _default_string(rule, "scope", DEFAULT_PEERING_ACL_SCOPE)


def _default_idle_timeout(nat_mode: Obj) -> None:
    # A metav1.Duration is stored as Go's Duration.String(): "120s" comes back as "2m0s".
    # Absent or null (the API server prunes nulls: the schema is not nullable) decodes to 0, which
    # Default() replaces; so does any string that parses to 0 ("0", "-0", "0s").
    value = nat_mode.get("idleTimeout")
    if value is None:
        nat_mode["idleTimeout"] = DEFAULT_NAT_IDLE_TIMEOUT
        return
    nanoseconds = _parse_go_duration(value) if isinstance(value, str) else None
    if nanoseconds is None:
        # The Go decoder rejects it, "" included: metav1.Duration.UnmarshalJSON fails on
        # time.ParseDuration(""), so the webhook denies the write before Default() runs.
        return
    nat_mode["idleTimeout"] = DEFAULT_NAT_IDLE_TIMEOUT if nanoseconds == 0 else _format_go_duration(nanoseconds)


_DEFAULTERS: dict[GroupKind, Callable[[Obj], None]] = {
    (WIRING, "Switch"): _default_switch,
    (WIRING, "Server"): _default_server,
    (WIRING, "Connection"): _default_connection,
    (WIRING, "SwitchGroup"): _default_switch_group,
    (WIRING, "VLANNamespace"): _default_vlan_namespace,
    (WIRING, "SwitchProfile"): _default_switch_profile,
    (WIRING, "ServerProfile"): _default_server_profile,
    (VPC, "VPC"): _default_vpc,
    (VPC, "VPCAttachment"): _default_vpc_attachment,
    (VPC, "VPCPeering"): _default_vpc_peering,
    (VPC, "IPv4Namespace"): _default_ipv4_namespace,
    (VPC, "External"): _default_external,
    (VPC, "ExternalAttachment"): _default_external_attachment,
    (VPC, "ExternalPeering"): _default_external_peering,
    (GATEWAY, "Gateway"): _default_gateway,
    (GATEWAY, "GatewayGroup"): _default_gateway_group,
    (GATEWAY, "GatewayPeering"): _default_gateway_peering,
}


# --- shared pieces ---------------------------------------------------------------------------------


def _metadata(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _default_namespace(obj: Obj) -> None:
    # meta.DefaultObjectMetadata; an object without a metadata map is left alone.
    meta = obj.get("metadata")
    if isinstance(meta, dict) and meta.get("namespace") in (None, ""):
        meta["namespace"] = DEFAULT_NAMESPACE


def _cleanup_fabric_labels(obj: Obj) -> None:
    # wiringapi.CleanupFabricLabels, which most fabric kinds' Default() run before adding their labels.
    labels = _metadata(obj).get("labels")
    if isinstance(labels, dict):
        for key in [k for k in labels if isinstance(k, str) and FABRIC_LABEL_MARKER in k]:
            del labels[key]


def _default_string(table: Obj, key: str, value: str) -> None:
    if _is_unset_string(table.get(key)):
        table[key] = value


def _is_unset_string(value: Any) -> bool:
    return value is None or value == ""


def _is_unset_int(value: Any) -> bool:
    return value is None or (type(value) is int and value == 0)


def _is_vlan_range(item: Any) -> bool:
    # Fields are uint16 upstream; anything else fails to decode.
    return isinstance(item, dict) and all(
        item.get(f) is None or (type(item.get(f)) is int and 0 <= item[f] <= 0xFFFF) for f in ("from", "to")
    )


class _Cycle(Exception):
    """The input contains itself (only YAML aliases can build that)."""


class _Unusual(Exception):
    """Deeper than any decodable object, or not plain dicts and lists: take the careful path."""


_FAST_COPY_DEPTH = 100  # parsing refuses documents nested deeper than 64


def _copy(value: Any) -> Any:
    try:
        return _plain_copy(value, 0)
    except _Unusual:
        pass
    try:
        return _tree_copy(value, frozenset())
    except _Cycle:
        return copy.deepcopy(value)  # keeps the cycle, and still shares nothing with the input


def _plain_copy(value: Any, depth: int) -> Any:
    """_tree_copy for the usual input: plain dicts and lists, not too deep (so no cycle). Fast."""
    kind = type(value)
    if kind is dict:
        if depth > _FAST_COPY_DEPTH:
            raise _Unusual
        return {k: (_plain_copy(v, depth + 1) if isinstance(v, _CONTAINERS) else v)
                for k, v in value.items()}
    if kind is list:
        if depth > _FAST_COPY_DEPTH:
            raise _Unusual
        return [_plain_copy(v, depth + 1) if isinstance(v, _CONTAINERS) else v
                for v in value]
    if isinstance(value, _CONTAINERS):
        raise _Unusual  # a subclass: _tree_copy turns it into the plain type
    return value


_CONTAINERS = (dict, list)


def _tree_copy(value: Any, path: frozenset[int]) -> Any:
    """A copy of nested dicts and lists that shares nothing, as the Go decoder would build it.

    copy.deepcopy keeps YAML aliases shared, so defaulting one subnet could change another.
    Scalars are immutable and returned as they are.
    """
    if isinstance(value, (dict, list)):
        if id(value) in path:
            raise _Cycle
        inner = path | {id(value)}
        if isinstance(value, dict):
            return {k: _tree_copy(v, inner) for k, v in value.items()}
        return [_tree_copy(v, inner) for v in value]
    return value


@functools.lru_cache(maxsize=256)
def _tokens(pointer: str) -> tuple[str, ...]:
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in pointer.lstrip("/").split("/")) if pointer else ()


def _lists_at(node: Any, pointer: str) -> list[list[Any]]:
    """The lists an RFC 6901 pointer with `*` wildcards names in node."""
    found: list[Any] = [node]
    for token in _tokens(pointer):
        step: list[Any] = []
        for current in found:
            if isinstance(current, dict):
                step.extend(current.values() if token == "*" else ([current[token]] if token in current else []))
            elif isinstance(current, list):
                if token == "*":
                    step.extend(current)
                elif token.isdigit() and int(token) < len(current):
                    step.append(current[int(token)])
        found = step
    return [item for item in found if isinstance(item, list)]


def _sort_in_place(items: list[Any], order: SortKey) -> None:
    """Sort as Go would when every item has the expected shape; otherwise leave the list alone."""
    if order == BY_VALUE:
        if all(isinstance(i, str) for i in items) or all(type(i) is int for i in items):
            items.sort()
        return
    keys = []
    for item in items:
        if not isinstance(item, dict):
            return
        key = []
        for field, unset in order:
            value = item.get(field)
            if value is None:
                value = unset
            if type(value) is not type(unset):
                return
            key.append(value)
        keys.append(tuple(key))
    ordered = [item for _, item in sorted(zip(keys, items), key=lambda pair: pair[0])]
    items[:] = ordered


# --- values the Go types rewrite ---------------------------------------------------------------------

# netip.ParsePrefix, IPv4 only: no leading zeros in octets or prefix length, no netmask form.
_OCTET = r"(0|[1-9][0-9]{0,2})"
_IPV4_PREFIX = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}/(0|[1-9][0-9]?)")


def _parse_ipv4_prefix(value: Any) -> ipaddress.IPv4Network | None:
    """The masked network of an IPv4 CIDR as Go's netip.ParsePrefix reads it, or None.

    IPv6 subnets are not interpreted: validation checks VPC subnets against an IPv4Namespace, so
    one can never reach the cluster and there is no live object to match.
    """
    match = _IPV4_PREFIX.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    *octets, bits = (int(g) for g in match.groups())
    if any(o > 255 for o in octets) or bits > 32:
        return None
    return ipaddress.IPv4Network(f"{'.'.join(map(str, octets))}/{bits}", strict=False)


def _address_after(address: ipaddress.IPv4Address, offset: int) -> str | None:
    try:
        return str(address + offset)
    except ipaddress.AddressValueError:
        return None  # past 255.255.255.255: Go yields an invalid address, we leave the field empty


def _canonical_mac(value: str) -> str | None:
    """A MAC address as Go's net.ParseMAC(...).String() spells it (lower case, colons), or None."""
    if not value.isascii() or len(value) < 14:
        return None
    if value[2] in ":-":
        groups, width = value.split(value[2]), 2
    elif value[4] == ".":
        groups, width = value.split("."), 4
    else:
        return None
    if any(len(g) != width or not all(c in string.hexdigits for c in g) for g in groups):
        return None
    octets = [g[i : i + 2].lower() for g in groups for i in range(0, width, 2)]
    if len(octets) not in (6, 8, 20):
        return None
    return ":".join(octets)


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_INT64_LIMIT = 1 << 63


def _parse_go_duration(text: str) -> int | None:
    """Nanoseconds of a Go duration string ("1h2m3.5s", "300ms"), as time.ParseDuration reads it, or None."""
    rest, negative = text, False
    if rest[:1] in ("-", "+"):
        negative, rest = rest[0] == "-", rest[1:]
    if rest == "0":
        return 0
    if rest == "":
        return None
    total = 0
    while rest:
        if not (rest[0] == "." or "0" <= rest[0] <= "9"):
            return None
        digits = _leading_digits(rest)
        whole_text, rest = rest[: len(digits)], rest[len(digits) :]
        whole = int(whole_text) if whole_text else 0
        if whole > _INT64_LIMIT:
            return None
        fraction, scale, has_fraction = 0, 1.0, False
        if rest[:1] == ".":
            frac_digits = _leading_digits(rest[1:])
            rest = rest[1 + len(frac_digits) :]
            has_fraction = bool(frac_digits)
            for digit in frac_digits:  # like Go, digits that would overflow are ignored
                if fraction > _INT64_LIMIT // 10 or fraction * 10 + int(digit) > _INT64_LIMIT:
                    break
                fraction, scale = fraction * 10 + int(digit), scale * 10
        if not whole_text and not has_fraction:
            return None
        unit_len = 0
        while unit_len < len(rest) and not (rest[unit_len] == "." or "0" <= rest[unit_len] <= "9"):
            unit_len += 1
        unit = _DURATION_UNITS.get(rest[:unit_len])
        rest = rest[unit_len:]
        if unit is None or whole > _INT64_LIMIT // unit:
            return None
        value = whole * unit
        if fraction > 0:
            value += int(float(fraction) * (float(unit) / scale))  # float64, as Go computes it
        total += value
        if value > _INT64_LIMIT or total > _INT64_LIMIT:
            return None
    if not negative and total > _INT64_LIMIT - 1:
        return None
    return -total if negative else total


def _leading_digits(text: str) -> str:
    end = 0
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    return text[:end]


def _format_go_duration(nanoseconds: int) -> str:
    """Go's time.Duration.String(): 120 s is "2m0s", 1.5 ms is "1.5ms", zero is "0s"."""
    negative = nanoseconds < 0
    u = -nanoseconds if negative else nanoseconds
    if u == 0:
        return "0s"
    if u < 1_000:
        text = f"{u}ns"
    elif u < 1_000_000:
        fraction, u = _fraction(u, 3)
        text = f"{u}{fraction}\u00b5s"
    elif u < 1_000_000_000:
        fraction, u = _fraction(u, 6)
        text = f"{u}{fraction}ms"
    else:
        fraction, u = _fraction(u, 9)
        text = f"{u % 60}{fraction}s"
        u //= 60
        if u:
            text = f"{u % 60}m{text}"
            u //= 60
            if u:
                text = f"{u}h{text}"
    return f"-{text}" if negative else text


def _fraction(value: int, precision: int) -> tuple[str, int]:
    """The decimal fraction of value / 10**precision without trailing zeros, and the integer part."""
    whole, remainder = divmod(value, 10**precision)
    digits = f"{remainder:0{precision}d}".rstrip("0")
    return (f".{digits}" if digits else ""), whole
