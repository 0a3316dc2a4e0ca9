"""Hedgehog's defaulting: a table case for every rule, then the properties every input must keep."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hedgehog_sync.domain.defaults import IGNORED_POINTERS, ORDER_INSENSITIVE, SORTED_LISTS, apply_defaults
from hedgehog_sync.domain.kinds import GATEWAY, KINDS, VPC, WIRING, kind_for

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "hedgehog-samples"

NO_SPEC = object()
API = {WIRING: f"{WIRING}/v1beta1", VPC: f"{VPC}/v1beta1", GATEWAY: f"{GATEWAY}/v1alpha1"}
AUTHORED = [k for k in KINDS if k.authored and k.group in API]


def obj(group: str, kind: str, spec: Any = NO_SPEC, *, labels: Any = None, annotations: Any = None) -> dict:
    meta: dict[str, Any] = {"name": "x", "namespace": "default"}
    if labels is not None:
        meta["labels"] = labels
    if annotations is not None:
        meta["annotations"] = annotations
    out: dict[str, Any] = {"apiVersion": API[group], "kind": kind, "metadata": meta}
    if spec is not NO_SPEC:
        out["spec"] = spec
    return out


NS = {"ipv4Namespace": "default", "vlanNamespace": "default"}


def vpc(spec: Any = NO_SPEC, **meta: Any) -> dict:
    return obj(VPC, "VPC", spec, **meta)


def vpc_subnet(subnet: dict) -> dict:
    """A VPC whose namespaces are already set, so a case shows only what happens to its one subnet."""
    return vpc({**NS, "subnets": {"s": subnet}})


def with_dhcp(dhcp: Any) -> dict:
    """A VPC with one subnet, 10.0.2.0/24 with its gateway set, and this DHCP section."""
    return vpc_subnet({"subnet": "10.0.2.0/24", "gateway": "10.0.2.1", "dhcp": dhcp})


def dhcp_on(**fields: Any) -> dict:
    """DHCP enabled with its range set, plus fields."""
    return {"enable": True, "range": {"start": "10.0.2.2", "end": "10.0.2.9"}, **fields}


OPTION_DEFAULTS = {"dnsServers": [], "timeServers": [], "interfaceMTU": 9036, "leaseTimeSeconds": 3600}
SYSTEM_AND_OWN_LABELS = {
    "fabric.githedgehog.com/vpc": "vpc-1",
    "vpc.fabric.githedgehog.com/vpc-1": "true",
    "switch.fabric.githedgehog.com/leaf-1": "true",
    "team": "netops",
}
OWN_LABELS = {"team": "netops"}
UNPARSED_SUBNETS = {
    "leading zero in an octet": {"subnet": "10.0.01.0/24", "dhcp": {"enable": True}},
    "leading zero in the length": {"subnet": "10.0.1.0/024"},
    "no length": {"subnet": "10.0.1.0"},
    "length past 32": {"subnet": "10.0.1.0/33"},
    "netmask form": {"subnet": "10.0.1.0/255.255.255.0"},
    "IPv6": {"subnet": "fd00::/64", "dhcp": {"enable": True}},
    "not a string": {"subnet": 42},
}

VPC_CASES = [
    pytest.param(vpc({"subnets": {}}), vpc({"subnets": {}, **NS}), id="vpc: namespaces default to 'default'"),
    pytest.param(
        vpc({"ipv4Namespace": "", "vlanNamespace": ""}),
        vpc(dict(NS)),
        id="vpc: empty namespaces become 'default'",
    ),
    pytest.param(
        vpc({"ipv4Namespace": "ns-a", "vlanNamespace": "vl-b"}),
        vpc({"ipv4Namespace": "ns-a", "vlanNamespace": "vl-b"}),
        id="vpc: explicit namespaces stay",
    ),
    pytest.param(
        vpc(dict(NS), labels=dict(SYSTEM_AND_OWN_LABELS)),
        vpc(dict(NS), labels=dict(OWN_LABELS)),
        id="vpc: labels containing fabric.githedgehog.com/ are cleaned up",
    ),
    pytest.param(
        vpc_subnet({"subnet": "10.0.1.0/24", "vlan": 1001}),
        vpc_subnet({"subnet": "10.0.1.0/24", "vlan": 1001, "gateway": "10.0.1.1"}),
        id="vpc: gateway is the first address of the subnet",
    ),
    pytest.param(
        vpc_subnet({"subnet": "10.0.1.77/24", "gateway": ""}),
        vpc_subnet({"subnet": "10.0.1.77/24", "gateway": "10.0.1.1"}),
        id="vpc: gateway comes from the masked subnet",
    ),
    pytest.param(
        vpc_subnet({"subnet": "10.0.1.0/24", "gateway": "10.0.1.254"}),
        vpc_subnet({"subnet": "10.0.1.0/24", "gateway": "10.0.1.254"}),
        id="vpc: explicit gateway stays",
    ),
    pytest.param(
        vpc_subnet({"subnet": "10.0.1.0/24", "hostBGP": True}),
        vpc_subnet({"subnet": "10.0.1.0/24", "hostBGP": True}),
        id="vpc: hostBGP subnet gets no gateway",
    ),
    pytest.param(
        vpc_subnet({"subnet": "10.0.1.0/31", "dhcp": {"enable": True}}),
        vpc_subnet({"subnet": "10.0.1.0/31", "gateway": "10.0.1.1", "dhcp": {"enable": True}}),
        id="vpc: prefix longer than /30 gets a gateway but no DHCP defaults",
    ),
    pytest.param(
        with_dhcp({"enable": True}),
        with_dhcp({"enable": True, "range": {"start": "10.0.2.2", "end": "10.0.2.255"}}),
        id="vpc: DHCP range runs from the second to the last address",
    ),
    pytest.param(
        with_dhcp({"enable": True, "range": {"start": "10.0.2.10"}}),
        with_dhcp({"enable": True, "range": {"start": "10.0.2.10", "end": "10.0.2.255"}}),
        id="vpc: DHCP range end filled in, explicit start kept",
    ),
    pytest.param(
        with_dhcp({"range": {"start": "10.0.2.10"}, "options": {"dnsServers": ["1.1.1.1"]}}),
        with_dhcp({}),
        id="vpc: DHCP off drops range and options",
    ),
    pytest.param(
        with_dhcp(dhcp_on(options={})),
        with_dhcp(dhcp_on()),
        id="vpc: DHCP options with nothing set are dropped",
    ),
    pytest.param(
        with_dhcp(dhcp_on(options={"pxeURL": "", "interfaceMTU": 0, "disableDefaultRoute": False})),
        with_dhcp(dhcp_on()),
        id="vpc: DHCP options holding only zero values are dropped",
    ),
    pytest.param(
        with_dhcp(dhcp_on(options={"pxeURL": "tftp://10.0.2.5/boot"})),
        with_dhcp(dhcp_on(options={"pxeURL": "tftp://10.0.2.5/boot", **OPTION_DEFAULTS})),
        id="vpc: DHCP options get MTU 9036, lease 3600 s and empty server lists",
    ),
    pytest.param(
        with_dhcp(dhcp_on(options={"dnsServers": []})),
        with_dhcp(dhcp_on(options=dict(OPTION_DEFAULTS))),
        id="vpc: an explicit empty server list counts as set, so the options stay",
    ),
    pytest.param(
        with_dhcp(
            dhcp_on(
                options={
                    "dnsServers": ["9.9.9.9", "1.1.1.1"],
                    "timeServers": ["10.0.0.2", "10.0.0.1"],
                    "interfaceMTU": 1500,
                    "leaseTimeSeconds": 600,
                    "advertisedRoutes": [
                        {"destination": "10.9.0.0/16", "gateway": "10.0.2.3"},
                        {"destination": "10.8.0.0/16", "gateway": "10.0.2.4"},
                        {"destination": "10.8.0.0/16", "gateway": "10.0.2.2"},
                    ],
                }
            )
        ),
        with_dhcp(
            dhcp_on(
                options={
                    "dnsServers": ["1.1.1.1", "9.9.9.9"],
                    "timeServers": ["10.0.0.1", "10.0.0.2"],
                    "interfaceMTU": 1500,
                    "leaseTimeSeconds": 600,
                    "advertisedRoutes": [
                        {"destination": "10.8.0.0/16", "gateway": "10.0.2.2"},
                        {"destination": "10.8.0.0/16", "gateway": "10.0.2.4"},
                        {"destination": "10.9.0.0/16", "gateway": "10.0.2.3"},
                    ],
                }
            )
        ),
        id="vpc: DHCP server lists and advertised routes are sorted, explicit values kept",
    ),
    pytest.param(
        with_dhcp(dhcp_on(options={"leaseTimeSeconds": 60, "advertisedRoutes": []})),
        with_dhcp(dhcp_on(options={**OPTION_DEFAULTS, "leaseTimeSeconds": 60})),
        id="vpc: an empty advertisedRoutes list is omitted like Go's omitempty does",
    ),
    pytest.param(
        with_dhcp(
            dhcp_on(
                static={
                    "AA-BB-CC-00-11-22": {"ip": "10.0.2.20"},
                    "0a0b.0c0d.0e0f": {"ip": "10.0.2.21"},
                    "not-a-mac": {"ip": "10.0.2.22"},
                }
            )
        ),
        with_dhcp(
            dhcp_on(
                static={
                    "aa:bb:cc:00:11:22": {"ip": "10.0.2.20"},
                    "0a:0b:0c:0d:0e:0f": {"ip": "10.0.2.21"},
                    "not-a-mac": {"ip": "10.0.2.22"},
                }
            )
        ),
        id="vpc: static DHCP MACs are spelled like Go's net.HardwareAddr",
    ),
    pytest.param(
        with_dhcp(dhcp_on(options={}, static={"AA:BB:CC:00:11:22": {"ip": "10.0.2.20"}})),
        with_dhcp(dhcp_on(static={"aa:bb:cc:00:11:22": {"ip": "10.0.2.20"}})),
        id="vpc: MACs normalized even when empty options are dropped (upstream waits for the next write)",
    ),
    pytest.param(
        with_dhcp({"static": {"AA:BB:CC:00:11:22": {"ip": "10.0.2.20"}}}),
        with_dhcp({"static": {"AA:BB:CC:00:11:22": {"ip": "10.0.2.20"}}}),
        id="vpc: DHCP off leaves static MACs as written",
    ),
    pytest.param(
        vpc({**NS, "subnets": copy.deepcopy(UNPARSED_SUBNETS)}),
        vpc({**NS, "subnets": copy.deepcopy(UNPARSED_SUBNETS)}),
        id="vpc: subnets Go's netip.ParsePrefix rejects (or IPv6) are left as written",
    ),
    pytest.param(
        vpc_subnet({"subnet": "10.0.2.0/24", "dhcp": {"enable": "yes"}}),
        vpc_subnet({"subnet": "10.0.2.0/24", "gateway": "10.0.2.1", "dhcp": {"enable": "yes"}}),
        id="vpc: a DHCP enable that is not a boolean is left alone",
    ),
]


VPC_ATTACHMENT_CASES = [
    pytest.param(
        obj(VPC, "VPCAttachment", {"connection": "srv-1--unbundled--leaf-1", "subnet": "vpc-1"}),
        obj(VPC, "VPCAttachment", {"connection": "srv-1--unbundled--leaf-1", "subnet": "vpc-1/default"}),
        id="vpcattachment: a bare VPC name means its 'default' subnet",
    ),
    pytest.param(
        obj(VPC, "VPCAttachment", {"subnet": "vpc-1/sub-2"}),
        obj(VPC, "VPCAttachment", {"subnet": "vpc-1/sub-2"}),
        id="vpcattachment: vpc/subnet stays",
    ),
    pytest.param(
        obj(VPC, "VPCAttachment", {"subnet": "vpc-1/"}),
        obj(VPC, "VPCAttachment", {"subnet": "vpc-1/"}),
        id="vpcattachment: an empty subnet after the slash is not completed",
    ),
    pytest.param(
        obj(VPC, "VPCAttachment", {"subnet": "vpc-1"}, labels=dict(SYSTEM_AND_OWN_LABELS)),
        obj(VPC, "VPCAttachment", {"subnet": "vpc-1/default"}, labels=dict(OWN_LABELS)),
        id="vpcattachment: labels cleaned up",
    ),
    pytest.param(
        obj(VPC, "VPCAttachment", {"subnet": "/sub"}, labels=dict(SYSTEM_AND_OWN_LABELS)),
        obj(VPC, "VPCAttachment", {"subnet": "/sub"}, labels=dict(SYSTEM_AND_OWN_LABELS)),
        id="vpcattachment: no VPC name, upstream returns before touching labels",
    ),
]

UNSORTED_PERMIT = [{"vpc-2": {"subnets": ["b", "a"]}, "vpc-1": {}}, {"vpc-1": {"subnets": ["z"]}, "vpc-2": {}}]
VPC_PEERING_CASES = [
    pytest.param(
        obj(VPC, "VPCPeering", {"permit": [{"vpc-1": None, "vpc-2": None}]}),
        obj(VPC, "VPCPeering", {"permit": [{"vpc-1": {}, "vpc-2": {}}]}),
        id="vpcpeering: an empty peer is stored as {}",
    ),
    pytest.param(
        obj(VPC, "VPCPeering", {"permit": copy.deepcopy(UNSORTED_PERMIT)}),
        obj(VPC, "VPCPeering", {"permit": copy.deepcopy(UNSORTED_PERMIT)}),
        id="vpcpeering: upstream sorts nothing (order is left to ORDER_INSENSITIVE)",
    ),
    pytest.param(
        obj(VPC, "VPCPeering", {"permit": []}, labels=dict(SYSTEM_AND_OWN_LABELS)),
        obj(VPC, "VPCPeering", {"permit": []}, labels=dict(OWN_LABELS)),
        id="vpcpeering: labels cleaned up",
    ),
]

IPV4_NAMESPACE_CASES = [
    pytest.param(
        obj(VPC, "IPv4Namespace", {"subnets": ["10.2.0.0/16", "10.10.0.0/16", "10.1.0.0/16"]}),
        obj(VPC, "IPv4Namespace", {"subnets": ["10.1.0.0/16", "10.10.0.0/16", "10.2.0.0/16"]}),
        id="ipv4namespace: subnets sorted as strings",
    ),
    pytest.param(
        obj(VPC, "IPv4Namespace", {"subnets": []}, labels=dict(SYSTEM_AND_OWN_LABELS)),
        obj(VPC, "IPv4Namespace", {"subnets": []}, labels=dict(OWN_LABELS)),
        id="ipv4namespace: labels cleaned up",
    ),
]

STATIC_EXTERNAL = {"static": {"prefixes": ["10.9.0.0/16", "10.1.0.0/16"]}}
EXTERNAL_CASES = [
    pytest.param(
        obj(VPC, "External", copy.deepcopy(STATIC_EXTERNAL)),
        obj(VPC, "External", {**copy.deepcopy(STATIC_EXTERNAL), "ipv4Namespace": "default"}),
        id="external: ipv4Namespace defaults to 'default', prefixes not sorted",
    ),
    pytest.param(
        obj(VPC, "External", {"ipv4Namespace": "other"}, labels=dict(SYSTEM_AND_OWN_LABELS)),
        obj(VPC, "External", {"ipv4Namespace": "other"}, labels=dict(OWN_LABELS)),
        id="external: explicit ipv4Namespace stays, labels cleaned up",
    ),
]

EXTERNAL_ATTACHMENT = {"connection": "c", "external": "e", "switch": {"vlan": 100}}
EXTERNAL_ATTACHMENT_CASES = [
    pytest.param(
        obj(VPC, "ExternalAttachment", dict(EXTERNAL_ATTACHMENT), labels=dict(SYSTEM_AND_OWN_LABELS)),
        obj(VPC, "ExternalAttachment", dict(EXTERNAL_ATTACHMENT), labels=dict(OWN_LABELS)),
        id="externalattachment: labels cleaned up, spec untouched",
    ),
]


def external_permit(subnets: list[str], prefixes: list[str]) -> dict:
    return {
        "permit": {
            "vpc": {"name": "vpc-1", "subnets": subnets},
            "external": {"name": "ext", "prefixes": [{"prefix": p} for p in prefixes]},
        }
    }


EXTERNAL_PEERING_CASES = [
    pytest.param(
        obj(
            VPC,
            "ExternalPeering",
            external_permit(["sub-b", "default", "sub-a"], ["10.9.0.0/16", "0.0.0.0/0", "10.1.0.0/16"]),
            labels=dict(SYSTEM_AND_OWN_LABELS),
        ),
        obj(
            VPC,
            "ExternalPeering",
            external_permit(["default", "sub-a", "sub-b"], ["0.0.0.0/0", "10.1.0.0/16", "10.9.0.0/16"]),
            labels=dict(OWN_LABELS),
        ),
        id="externalpeering: VPC subnets and external prefixes sorted, labels cleaned up",
    ),
]


def switch(**spec: Any) -> dict:
    """A Switch whose vlanNamespaces are already set unless the case sets them."""
    return obj(WIRING, "Switch", {"vlanNamespaces": ["default"], **spec})


SWITCH_CASES = [
    pytest.param(
        obj(WIRING, "Switch", {"role": "spine"}),
        obj(WIRING, "Switch", {"role": "spine", "vlanNamespaces": ["default"]}),
        id="switch: vlanNamespaces default to ['default']",
    ),
    pytest.param(
        switch(vlanNamespaces=[]),
        switch(vlanNamespaces=["default"]),
        id="switch: an empty vlanNamespaces list is defaulted too",
    ),
    pytest.param(
        switch(vlanNamespaces=["vl-b", "vl-a"], groups=["g-2", "g-1"]),
        switch(vlanNamespaces=["vl-a", "vl-b"], groups=["g-1", "g-2"]),
        id="switch: groups and vlanNamespaces sorted",
    ),
    pytest.param(
        switch(groups=["spine"], redundancy={"group": "mclag-1", "type": "mclag"}),
        switch(groups=["mclag-1", "spine"], redundancy={"group": "mclag-1", "type": "mclag"}),
        id="switch: the redundancy group joins groups",
    ),
    pytest.param(
        switch(redundancy={"group": "eslag-1"}),
        switch(redundancy={"group": "eslag-1"}, groups=["eslag-1"]),
        id="switch: the redundancy group creates groups",
    ),
    pytest.param(
        switch(groups=["eslag-1"], redundancy={"group": "eslag-1"}),
        switch(groups=["eslag-1"], redundancy={"group": "eslag-1"}),
        id="switch: the redundancy group is not added twice",
    ),
    pytest.param(
        switch(portSpeeds={"E1/1": "SPEED_25GB", "E1/2": "10G"}, portGroupSpeeds={"1": "SPEED_10GB"}),
        switch(portSpeeds={"E1/1": "25GB", "E1/2": "10G"}, portGroupSpeeds={"1": "10GB"}),
        id="switch: SPEED_ prefix stripped from port and port group speeds",
    ),
    pytest.param(
        switch(linkFlapErrDisable={}),
        switch(linkFlapErrDisable={"flapThreshold": 3, "samplingInterval": 30, "recoveryInterval": 300}),
        id="switch: link-flap errdisable gets 3 flaps / 30 s / 300 s",
    ),
    pytest.param(
        switch(linkFlapErrDisable={"flapThreshold": 5, "recoveryInterval": 0}),
        switch(linkFlapErrDisable={"flapThreshold": 5, "recoveryInterval": 0, "samplingInterval": 30}),
        id="switch: recoveryInterval 0 (never) is a value, not unset",
    ),
    pytest.param(
        obj(WIRING, "Switch", {"vlanNamespaces": ["default"]}, labels=dict(SYSTEM_AND_OWN_LABELS)),
        obj(WIRING, "Switch", {"vlanNamespaces": ["default"]}, labels=dict(OWN_LABELS)),
        id="switch: labels cleaned up",
    ),
]

SERVER_CASES = [
    pytest.param(
        obj(WIRING, "Server", {"description": "srv"}, labels=dict(SYSTEM_AND_OWN_LABELS)),
        obj(WIRING, "Server", {"description": "srv"}, labels=dict(OWN_LABELS)),
        id="server: labels cleaned up, spec untouched",
    ),
]

FABRIC_LINKS = {
    "links": [
        {"spine": {"port": "spine-1/E1/2"}, "leaf": {"port": "leaf-1/E1/9"}},
        {"spine": {"port": "spine-1/E1/1"}, "leaf": {"port": "leaf-1/E1/8"}},
    ]
}
CONNECTION_LABELS = {
    "fabric.githedgehog.com/connection-type": "fabric",
    "switch.fabric.githedgehog.com/leaf-1": "true",
    "team": "netops",
}
CONNECTION_CASES = [
    pytest.param(
        obj(WIRING, "Connection", {"fabric": copy.deepcopy(FABRIC_LINKS)}, labels=dict(CONNECTION_LABELS)),
        obj(WIRING, "Connection", {"fabric": copy.deepcopy(FABRIC_LINKS)}, labels=dict(OWN_LABELS)),
        id="connection: derived labels go, links keep their order",
    ),
]

PROFILE_AND_GROUP_CASES = [
    pytest.param(
        obj(WIRING, "SwitchProfile", {"ports": {}}, annotations={"fabric.githedgehog.com/ports": "4x25G", "n": "lab"}),
        obj(WIRING, "SwitchProfile", {"ports": {}}, annotations={"n": "lab"}),
        id="switchprofile: the derived ports annotation goes",
    ),
    pytest.param(
        obj(WIRING, "SwitchGroup", {}, labels={"fabric.githedgehog.com/x": "y"}),
        obj(WIRING, "SwitchGroup", {}, labels={"fabric.githedgehog.com/x": "y"}),
        id="switchgroup: only the namespace is defaulted (no label cleanup upstream)",
    ),
    pytest.param(
        obj(WIRING, "ServerProfile", {"nics": []}),
        obj(WIRING, "ServerProfile", {"nics": []}),
        id="serverprofile: spec untouched",
    ),
    pytest.param(
        obj(GATEWAY, "GatewayGroup", {}),
        obj(GATEWAY, "GatewayGroup", {}),
        id="gatewaygroup: spec untouched",
    ),
]


def vlan_ranges(*ranges: tuple[Any, Any]) -> dict:
    return obj(WIRING, "VLANNamespace", {"ranges": [{"from": f, "to": t} for f, t in ranges]})


VLAN_NAMESPACE_CASES = [
    pytest.param(
        obj(WIRING, "VLANNamespace", {"ranges": [{"from": 1500}]}),
        vlan_ranges((1500, 1500)),
        id="vlannamespace: a range without 'to' is one VLAN",
    ),
    pytest.param(
        vlan_ranges((2000, 2999), (1000, 2500), (1000, 1099)),
        vlan_ranges((1000, 1099), (1000, 2500), (2000, 2999)),
        id="vlannamespace: ranges sorted by from then to, never merged",
    ),
    pytest.param(
        vlan_ranges((1000, 1999), (5000, 5001)),
        obj(WIRING, "VLANNamespace", {}),
        id="vlannamespace: invalid ranges are dropped, as upstream's inverted error check does",
    ),
    pytest.param(
        vlan_ranges(("1000", 1999), (3000, 2000)),
        vlan_ranges(("1000", 1999), (3000, 2000)),
        id="vlannamespace: ranges the Go decoder rejects are left as written",
    ),
    pytest.param(
        obj(WIRING, "VLANNamespace", {"ranges": []}, labels=dict(SYSTEM_AND_OWN_LABELS)),
        obj(WIRING, "VLANNamespace", {"ranges": []}, labels=dict(OWN_LABELS)),
        id="vlannamespace: labels cleaned up",
    ),
]


def gateway(**spec: Any) -> dict:
    return obj(GATEWAY, "Gateway", spec)


GATEWAY_DEFAULTED = {
    "logs": {"default": "info", "tags": {"all": "info"}},
    "workers": 4,
    "groups": [{"name": "default"}],
}
GATEWAY_CASES = [
    pytest.param(
        gateway(protocolIP="172.30.8.1/32"),
        gateway(protocolIP="172.30.8.1/32", **GATEWAY_DEFAULTED),
        id="gateway: logs info for all, 4 workers, the default group",
    ),
    pytest.param(
        gateway(logs={"default": "debug", "tags": {"nat": "trace"}, "rateLimit": {}}, workers=8),
        gateway(
            logs={"default": "debug", "tags": {"nat": "trace"}, "rateLimit": {"burst": 50, "replenishPerSecond": 5}},
            workers=8,
            groups=[{"name": "default"}],
        ),
        id="gateway: explicit log levels and workers stay, rate limit gets 50 / 5 per s",
    ),
    pytest.param(
        gateway(**{**GATEWAY_DEFAULTED, "groups": [{"name": "gw-b", "priority": 1}, {"name": "gw-a"}]}),
        gateway(**{**GATEWAY_DEFAULTED, "groups": [{"name": "gw-a"}, {"name": "gw-b", "priority": 1}]}),
        id="gateway: groups sorted by name",
    ),
]


def gateway_peering(spec: Any, **meta: Any) -> dict:
    return obj(GATEWAY, "GatewayPeering", spec, **meta)


def nat(**modes: Any) -> dict:
    """One VPC's side of a peering that exposes with these NAT modes."""
    return {"expose": [{"nat": modes}]}


EXPOSE_IPS = {"expose": [{"ips": [{"cidr": "10.0.1.0/24"}]}]}
GATEWAY_PEERING_CASES = [
    pytest.param(
        gateway_peering({"peering": {"vpc-1": copy.deepcopy(EXPOSE_IPS), "vpc-2": {}}}),
        gateway_peering({"peering": {"vpc-1": copy.deepcopy(EXPOSE_IPS), "vpc-2": {}}, "gatewayGroup": "default"}),
        id="gatewaypeering: gatewayGroup defaults to 'default'",
    ),
    pytest.param(
        gateway_peering(
            {
                "gatewayGroup": "g",
                "peering": {
                    "vpc-1": nat(masquerade={}, portForward={"idleTimeout": "0s"}),
                    "vpc-2": nat(masquerade={"idleTimeout": "90s"}),
                },
            }
        ),
        gateway_peering(
            {
                "gatewayGroup": "g",
                "peering": {
                    "vpc-1": nat(masquerade={"idleTimeout": "2m0s"}, portForward={"idleTimeout": "2m0s"}),
                    "vpc-2": nat(masquerade={"idleTimeout": "1m30s"}),
                },
            }
        ),
        id="gatewaypeering: NAT idle timeouts default to 2m and are stored as Go spells durations",
    ),
    pytest.param(
        gateway_peering(
            {
                "gatewayGroup": "g",
                "peering": {"vpc-1": {}, "vpc-2": {}},
                "acl": {"rules": [{"action": "allow"}, {"action": "deny", "scope": "packet"}]},
            }
        ),
        gateway_peering(
            {
                "gatewayGroup": "g",
                "peering": {"vpc-1": {}, "vpc-2": {}},
                "acl": {
                    "default": "deny-unless-exposed",
                    "rules": [{"action": "allow", "scope": "flow"}, {"action": "deny", "scope": "packet"}],
                },
            }
        ),
        id="gatewaypeering: ACL default action and rule scope",
    ),
    pytest.param(
        gateway_peering({"peering": {"vpc-1": nat(masquerade={})}}),
        gateway_peering({"peering": {"vpc-1": nat(masquerade={})}}),
        id="gatewaypeering: without exactly two VPCs upstream defaults nothing",
    ),
    pytest.param(
        gateway_peering(
            {"gatewayGroup": "g", "peering": {"vpc-1": {}, "vpc-3": {}}},
            labels={
                "vpc.gateway.githedgehog.com/vpc-1": "true",
                "vpc.gateway.githedgehog.com/vpc-2": "true",  # left from an earlier spec
                "team": "netops",
            },
        ),
        gateway_peering({"gatewayGroup": "g", "peering": {"vpc-1": {}, "vpc-3": {}}}, labels=dict(OWN_LABELS)),
        id="gatewaypeering: derived VPC list labels go, stale ones included",
    ),
]

AGENT = {"apiVersion": "agent.githedgehog.com/v1beta1", "kind": "Agent", "metadata": {"name": "x"}, "spec": {}}
OTHER_KIND_CASES = [
    pytest.param(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"subnet": "vpc-1"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"subnet": "vpc-1"}},
        id="other: a non-Hedgehog kind comes back unchanged",
    ),
    pytest.param(
        copy.deepcopy(AGENT),
        copy.deepcopy(AGENT),
        id="other: a controller-generated kind comes back unchanged",
    ),
    pytest.param(
        {"apiVersion": "wiring.githedgehog.com/v1beta1", "kind": "Widget", "metadata": {}, "spec": {}},
        {"apiVersion": "wiring.githedgehog.com/v1beta1", "kind": "Widget", "metadata": {}, "spec": {}},
        id="other: an unknown kind of a Hedgehog group comes back unchanged",
    ),
]

ALL_CASES = [
    *VPC_CASES,
    *VPC_ATTACHMENT_CASES,
    *VPC_PEERING_CASES,
    *IPV4_NAMESPACE_CASES,
    *EXTERNAL_CASES,
    *EXTERNAL_ATTACHMENT_CASES,
    *EXTERNAL_PEERING_CASES,
    *SWITCH_CASES,
    *SERVER_CASES,
    *CONNECTION_CASES,
    *PROFILE_AND_GROUP_CASES,
    *VLAN_NAMESPACE_CASES,
    *GATEWAY_CASES,
    *GATEWAY_PEERING_CASES,
    *OTHER_KIND_CASES,
]


@pytest.mark.parametrize(("desired", "expected"), ALL_CASES)
def test_defaults(desired: dict, expected: dict) -> None:
    assert apply_defaults(desired) == expected


@pytest.mark.parametrize(("desired", "expected"), ALL_CASES)
def test_input_is_not_mutated(desired: dict, expected: dict) -> None:
    before = copy.deepcopy(desired)
    result = apply_defaults(desired)
    assert desired == before
    assert result is not desired


@pytest.mark.parametrize(("desired", "expected"), ALL_CASES)
def test_idempotent(desired: dict, expected: dict) -> None:
    once = apply_defaults(desired)
    assert apply_defaults(once) == once


@pytest.mark.parametrize("kind", AUTHORED, ids=lambda k: k.kind)
def test_namespace_defaults_to_default_for_every_authored_kind(kind) -> None:
    desired = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": {"name": "x"}, "spec": {}}
    assert apply_defaults(desired)["metadata"]["namespace"] == "default"


def masquerade_timeout(written: Any) -> dict:
    return gateway_peering({"gatewayGroup": "g", "peering": {"a": nat(masquerade={"idleTimeout": written}), "b": {}}})


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("2m", "2m0s"),
        ("120s", "2m0s"),
        ("1.5h", "1h30m0s"),
        ("300ms", "300ms"),
        ("1500us", "1.5ms"),
        ("+45s", "45s"),
        ("1h0m0s", "1h0m0s"),
    ],
)
def test_durations_are_stored_as_go_spells_them(written: str, stored: str) -> None:
    result = apply_defaults(masquerade_timeout(written))
    assert result["spec"]["peering"]["a"]["expose"][0]["nat"]["masquerade"]["idleTimeout"] == stored


@pytest.mark.parametrize("written", ["2 minutes", "", "5", "1x", ".s", 120])
def test_durations_go_rejects_are_left_as_written(written: Any) -> None:
    assert apply_defaults(masquerade_timeout(written)) == masquerade_timeout(written)


def test_yaml_aliases_are_defaulted_per_use() -> None:
    # Go decodes each use of an alias into its own value; sharing it here would let one subnet's
    # defaults leak into another.
    text = """
apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata: {name: v, namespace: default}
spec:
  subnets:
    a: {subnet: 10.0.1.0/24, dhcp: &dhcp {enable: true}}
    b: {subnet: 10.0.2.0/24, dhcp: *dhcp}
"""
    result = apply_defaults(yaml.safe_load(text))
    assert result["spec"]["subnets"]["a"]["dhcp"]["range"] == {"start": "10.0.1.2", "end": "10.0.1.255"}
    assert result["spec"]["subnets"]["b"]["dhcp"]["range"] == {"start": "10.0.2.2", "end": "10.0.2.255"}


# --- odd input never raises ------------------------------------------------------------------------

ODD_SPECS = [
    pytest.param(NO_SPEC, id="no spec"),
    pytest.param(None, id="null spec"),
    pytest.param(["a", "b"], id="spec is a list"),
    pytest.param("spec", id="spec is a string"),
    pytest.param(
        {"subnets": ["10.0.0.0/24"], "permit": {"a": 1}, "peering": [], "ranges": "1-2"},
        id="fields of the wrong type",
    ),
    pytest.param(
        {"subnets": {"s": None, "t": [], "u": {"subnet": "not/a/cidr", "dhcp": []}}},
        id="subnets of the wrong type",
    ),
    pytest.param({"subnets": {"s": {"subnet": "255.255.255.255/32"}}}, id="a subnet with no next address"),
    pytest.param(
        {"groups": "g", "vlanNamespaces": 3, "redundancy": [], "linkFlapErrDisable": [], "portSpeeds": []},
        id="switch fields of the wrong type",
    ),
    pytest.param(
        {"logs": "x", "groups": [1, {"name": 2}], "acl": [], "peering": {"a": None, "b": {"expose": "x"}}},
        id="gateway fields of the wrong type",
    ),
]
ODD_METADATA = [
    pytest.param({"name": "x"}, id="no namespace"),
    pytest.param(None, id="null metadata"),
    pytest.param(["x"], id="metadata is a list"),
    pytest.param({"name": "x", "labels": ["a"], "annotations": "b", "namespace": 3}, id="labels of the wrong type"),
    pytest.param({"name": "x", "labels": {1: "a", "fabric.githedgehog.com/x": None}}, id="odd label keys and values"),
]


@pytest.mark.parametrize("spec", ODD_SPECS)
@pytest.mark.parametrize("meta", ODD_METADATA)
@pytest.mark.parametrize("kind", AUTHORED, ids=lambda k: k.kind)
def test_odd_input_does_not_raise(kind, meta: Any, spec: Any) -> None:
    desired: dict[str, Any] = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta}
    if spec is not NO_SPEC:
        desired["spec"] = spec
    before = copy.deepcopy(desired)
    once = apply_defaults(desired)
    assert desired == before
    assert apply_defaults(once) == once


@pytest.mark.parametrize(
    "value",
    [None, [], "VPC", 3, {}, {"apiVersion": 1, "kind": "VPC"}, {"apiVersion": "vpc.githedgehog.com/v1beta1"}],
)
def test_not_an_object_comes_back_as_it_was(value: Any) -> None:
    assert apply_defaults(value) == value


def test_cyclic_input_does_not_raise_and_shares_nothing() -> None:
    desired = vpc({"subnets": {"s": {"subnet": "10.0.1.0/24"}}})
    desired["spec"]["subnets"]["loop"] = desired["spec"]
    result = apply_defaults(desired)
    assert result["spec"]["subnets"]["s"]["gateway"] == "10.0.1.1"
    assert "gateway" not in desired["spec"]["subnets"]["s"]
    assert result["spec"]["subnets"]["loop"] is result["spec"]


# --- the rule tables hold together -----------------------------------------------------------------


def test_every_sorted_list_is_compared_without_order() -> None:
    # A list Hedgehog sorts cannot carry meaning in its order, so the diff must not report one.
    for group_kind, sorts in SORTED_LISTS.items():
        for pointer, _ in sorts:
            assert pointer in ORDER_INSENSITIVE.get(group_kind, ()), (group_kind, pointer)


def test_inner_lists_are_listed_before_their_containers() -> None:
    for group_kind, pointers in ORDER_INSENSITIVE.items():
        for position, pointer in enumerate(pointers):
            for later in pointers[position + 1 :]:
                assert not later.startswith(pointer + "/"), (group_kind, pointer, later)


def test_rule_tables_name_known_kinds_and_valid_pointers() -> None:
    for table in (ORDER_INSENSITIVE, IGNORED_POINTERS, SORTED_LISTS):
        for (group, kind), entries in table.items():
            assert kind_for(group, kind) is not None, (group, kind)
            for entry in entries:
                pointer = entry[0] if isinstance(entry, tuple) else entry
                assert pointer.startswith("/") and not pointer.endswith("/"), pointer


# --- real samples ------------------------------------------------------------------------------------

SAMPLES_ABSENT = f"shared Hedgehog samples not found at {SAMPLES}: they live in the project workspace, not in clones"


def _sample_documents() -> list[tuple[str, dict]]:
    if not SAMPLES.is_dir():
        return []
    docs = []
    for path in sorted(SAMPLES.rglob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text()), start=1):
            if isinstance(doc, dict):
                docs.append((f"{path.relative_to(SAMPLES)}#{index}", doc))
    return docs


SAMPLE_DOCUMENTS = _sample_documents()


@pytest.mark.parametrize(
    ("where", "doc"), SAMPLE_DOCUMENTS or [("none", {})], ids=[w for w, _ in SAMPLE_DOCUMENTS] or ["none"]
)
def test_samples_are_idempotent_and_not_mutated(where: str, doc: dict) -> None:
    if not SAMPLES.is_dir():
        pytest.skip(SAMPLES_ABSENT)
    before = copy.deepcopy(doc)
    once = apply_defaults(doc)
    assert doc == before
    assert apply_defaults(once) == once


def test_sample_vpcs_gain_gateway_and_dhcp_range() -> None:
    if not SAMPLES.is_dir():
        pytest.skip(SAMPLES_ABSENT)
    vpcs = [doc for _, doc in SAMPLE_DOCUMENTS if doc.get("kind") == "VPC"]
    assert vpcs, "the samples hold VPCs"
    for doc in vpcs:
        result = apply_defaults(doc)
        assert result["spec"]["ipv4Namespace"] and result["spec"]["vlanNamespace"]
        for subnet in result["spec"]["subnets"].values():
            if not subnet.get("hostBGP"):
                assert subnet["gateway"]
            if subnet.get("dhcp", {}).get("enable"):
                assert subnet["dhcp"]["range"]["start"] and subnet["dhcp"]["range"]["end"]


# --- properties over generated objects --------------------------------------------------------------

_octet = st.integers(0, 255)
_cidr = st.one_of(
    st.builds("{}.{}.{}.{}/{}".format, _octet, _octet, _octet, _octet, st.integers(0, 32)),
    st.sampled_from(["10.0.01.0/24", "10.0.0.0/33", "fd00::/64", "10.0.0.0", "", "x"]),
    st.none(),
)
_ip = st.builds("10.0.{}.{}".format, _octet, _octet)
_mac = st.one_of(
    st.builds(
        lambda octets, sep: sep.join(f"{x:02X}" for x in octets),
        st.lists(_octet, min_size=6, max_size=6),
        st.sampled_from([":", "-"]),
    ),
    st.text(max_size=20),
)
_route = st.fixed_dictionaries({"destination": st.sampled_from(["10.1.0.0/16", "10.2.0.0/16"]), "gateway": _ip})
_options = st.fixed_dictionaries(
    {},
    optional={
        "pxeURL": st.sampled_from(["", "tftp://10.0.0.1/boot"]),
        "dnsServers": st.one_of(st.none(), st.lists(_ip, max_size=3)),
        "timeServers": st.one_of(st.none(), st.lists(_ip, max_size=3)),
        "interfaceMTU": st.sampled_from([0, 1500, 9036]),
        "leaseTimeSeconds": st.sampled_from([0, 60]),
        "disableDefaultRoute": st.booleans(),
        "advertisedRoutes": st.one_of(st.none(), st.lists(_route, max_size=3)),
    },
)
_range = st.fixed_dictionaries({}, optional={"start": st.one_of(_ip, st.just("")), "end": _ip})
_dhcp = st.fixed_dictionaries(
    {},
    optional={
        "enable": st.one_of(st.booleans(), st.none()),
        "range": st.one_of(st.none(), _range),
        "options": st.one_of(st.none(), _options),
        "static": st.dictionaries(_mac, st.fixed_dictionaries({"ip": _ip}), max_size=3),
        "relay": st.just("10.0.9.1/32"),
    },
)
_subnet = st.fixed_dictionaries(
    {},
    optional={
        "subnet": _cidr,
        "gateway": st.one_of(st.just(""), _ip),
        "vlan": st.integers(0, 4094),
        "hostBGP": st.booleans(),
        "isolated": st.booleans(),
        "dhcp": st.one_of(st.none(), _dhcp),
    },
)
_vpc_spec = st.fixed_dictionaries(
    {},
    optional={
        "ipv4Namespace": st.sampled_from(["", "default", "ns-a"]),
        "vlanNamespace": st.sampled_from(["", "default", "vl-a"]),
        "mode": st.sampled_from(["", "l3vni"]),
        "subnets": st.dictionaries(st.text(min_size=1, max_size=8), _subnet, max_size=4),
        "permit": st.lists(st.lists(st.text(max_size=5), max_size=3), max_size=2),
    },
)
_labels = st.dictionaries(
    st.sampled_from(["team", "fabric.githedgehog.com/vpc", "vpc.fabric.githedgehog.com/a"]), st.text(max_size=5)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=_vpc_spec, labels=_labels)
def test_vpc_defaults_are_idempotent(spec: dict, labels: dict) -> None:
    desired = vpc(spec, labels=labels)
    before = copy.deepcopy(desired)
    once = apply_defaults(desired)
    assert desired == before
    assert apply_defaults(once) == once


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=False), st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(AUTHORED), spec=_json, meta=_json)
def test_any_json_is_taken_without_raising_and_idempotently(kind, spec: Any, meta: Any) -> None:
    desired = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta, "spec": spec}
    once = apply_defaults(desired)
    assert apply_defaults(once) == once


# A document without `spec`, or with `spec: null`: every kind holds its Spec by value (`Spec XSpec` in
# each *_types.go), so Go decodes the zero spec and Default() fills it like an empty one (issue 15).
# Expected values written from the Default() methods at the commit defaults.py names.
NIL_SPEC_EXPECTED = {
    (VPC, "External"): {"ipv4Namespace": "default"},  # External.Default()
    (VPC, "VPC"): {"ipv4Namespace": "default", "vlanNamespace": "default"},  # VPC.Default()
    (WIRING, "Switch"): {"vlanNamespaces": ["default"]},  # Switch.Default()
    # Gateway.Default(): logs, workers, the default group
    (GATEWAY, "Gateway"): {"logs": {"default": "info", "tags": {"all": "info"}}, "workers": 4,
                           "groups": [{"name": "default"}]},
}


@pytest.mark.parametrize("spec_key", ["absent", "null"])
@pytest.mark.parametrize("kind", AUTHORED, ids=lambda k: k.kind)
def test_a_missing_or_null_spec_is_defaulted_as_an_empty_one(kind, spec_key: str) -> None:
    desired: dict[str, Any] = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": {"name": "x"}}
    if spec_key == "null":
        desired["spec"] = None
    result = apply_defaults(desired)
    assert result["spec"] == NIL_SPEC_EXPECTED.get((kind.group, kind.kind), {})
