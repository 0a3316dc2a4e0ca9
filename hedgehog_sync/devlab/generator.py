"""Realistic Hedgehog fabrics generated from a seed, as plain objects and as YAML files.

Feeds the local demo, the tests and the fleet benchmark. Everything here is pure and
deterministic: the same (fabric name, FabricSpec) gives the same objects, byte for byte once
rendered. The only randomness is a `random.Random` seeded from a SHA-256 of the name and seed.

Shapes follow githedgehog/fabric `api/*/v1beta1` and the samples in
shared/fixtures/hedgehog-samples (wiring as hhfab writes it, VPCs as an operator writes them).
Conventions of a VLAB-like fabric: spine ASN 65100, leaf ASNs from 65101, management IPs in
172.30.0.0/21, protocol IPs in 172.30.8.0/22, VTEP IPs in 172.30.12.0/22, fabric /31 links in
172.30.128.0/17, VPC subnets in the `default` IPv4Namespace (10.0.0.0/16 and up), VLANs in the
`default` VLANNamespace (1000-2999).
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Any

import yaml

from hedgehog_sync.domain.kinds import AGENT, DHCP, VPC, WIRING

Obj = dict[str, Any]

NAMESPACE = "default"
WIRING_API = f"{WIRING}/v1beta1"
VPC_API = f"{VPC}/v1beta1"
AGENT_API = f"{AGENT}/v1beta1"
DHCP_API = f"{DHCP}/v1beta1"

VLAN_FROM, VLAN_TO = 1000, 2999
SPINE_ASN = 65100
LEAF_ASN_START = 65101
EXTERNAL_NAME = "internet"

# Fixed so that controller objects are reproducible; callers pass `now` for live timestamps.
DEFAULT_NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
AGENT_VERSION = "v0.87.4"

_MGMT_FIRST = (172 << 24) | (30 << 16) | 10  # 172.30.0.10, below the management DHCP range
_PROTOCOL_BASE = (172 << 24) | (30 << 16) | (8 << 8)  # 172.30.8.0/22
_VTEP_BASE = (172 << 24) | (30 << 16) | (12 << 8)  # 172.30.12.0/22
_FABRIC_LINK_BASE = (172 << 24) | (30 << 16) | (128 << 8)  # 172.30.128.0/17
_VPC_SPACE_BASE = 10 << 24  # 10.0.0.0, handed out one /16 at a time
_MAX_SWITCHES = 1000  # the protocol and VTEP /22s hold 1024 addresses

# Switch models. Leaves have 48 access ports E1/1-E1/48 and 8 uplinks E1/49-E1/56; spines have
# 32 ports E1/1-E1/32, each of which can be broken out in 4 (profile, breakout mode).
_LEAF_PROFILES = ("dell-s5248f-on", "edgecore-dcs203", "celestica-ds2000")
_LEAF_ACCESS_PORTS = 48
_LEAF_UPLINK_PORTS = 8
_SPINE_PROFILES = (("dell-s5232f-on", "4x25G"), ("celestica-ds4000", "4x100G"), ("edgecore-dcs204", "4x25G"))
_SPINE_PORTS = 32
_MAX_SPINE_LINKS = _SPINE_PORTS * 4
_SERVER_ROLES = ("compute", "storage", "gpu", "database", "web", "cache")
_SUBNET_NAMES = ("web", "app", "db", "cache", "storage", "backup", "mgmt", "batch", "frontend", "backend")
_DNS_SERVERS = ("10.255.0.53", "10.255.1.53", "1.1.1.1", "8.8.8.8")
_NTP_SERVERS = ("10.255.0.123", "10.255.1.123")


@dataclass(frozen=True)
class FabricSpec:
    """How big and what shape a generated fabric is. Shares are fractions in [0, 1]."""

    spines: int = 2
    leaves: int = 4
    servers_per_leaf: int = 4
    # Share of leaves paired for MCLAG / for ESLAG (a pair is two leaves and one SwitchGroup).
    mclag_share: float = 0.5
    eslag_share: float = 0.5
    # Links in each spine-to-leaf fabric Connection.
    fabric_links: int = 2
    # Of the servers behind a redundancy pair, the share connected to both leaves (mclag/eslag).
    multihomed_share: float = 0.5
    # Of the servers connected to one leaf, the share with a bundled (LACP) connection.
    bundled_share: float = 0.34
    vpcs: int = 4
    subnets_per_vpc: int = 2
    # Share of VPC subnets with the fabric's DHCP server enabled.
    dhcp_share: float = 0.5
    # Every server connection is attached to one subnet; this share gets a second one.
    second_attachment_share: float = 0.25
    peerings: int = 2
    # Add an External with its Connection, ExternalAttachment and one ExternalPeering.
    external: bool = False
    # Agents whose last applied generation lags their generation (controller objects only).
    lagging_agents: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", int) and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError(f"FabricSpec.{f.name} must be an int, got {value!r}")
            if f.type in ("float", float):
                if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                    raise ValueError(f"FabricSpec.{f.name} must be a share in [0, 1], got {value!r}")
        if self.spines < 1 or self.leaves < 1:
            raise ValueError("a fabric needs at least one spine and one leaf")
        if min(self.servers_per_leaf, self.vpcs, self.peerings, self.lagging_agents) < 0:
            raise ValueError("counts in FabricSpec cannot be negative")
        if not 1 <= self.subnets_per_vpc <= 20:
            raise ValueError("subnets_per_vpc must be 1..20 (Hedgehog allows at most 20 per VPC)")
        if not 1 <= self.fabric_links <= _LEAF_UPLINK_PORTS:
            raise ValueError(f"fabric_links must be 1..{_LEAF_UPLINK_PORTS}")
        if self.spines + self.leaves > _MAX_SWITCHES:
            raise ValueError(f"at most {_MAX_SWITCHES} switches per fabric")
        if self.leaves * self.fabric_links > _MAX_SPINE_LINKS:
            raise ValueError(
                f"{self.leaves} leaves x {self.fabric_links} links do not fit the "
                f"{_MAX_SPINE_LINKS} (broken-out) ports of a spine"
            )
        if self.vpcs * self.subnets_per_vpc > VLAN_TO - VLAN_FROM + 1:
            raise ValueError("more VPC subnets than VLANs in the default VLANNamespace")
        if self.vpcs > 9_999_999:
            raise ValueError("VPC names are limited to 11 characters")
        mclag, eslag = self.redundancy_pairs
        uplinks = self.spines * self.fabric_links
        peer_ports = 4 if mclag else 0
        # Worst case per leaf: every server behind it uses two ports (bundled).
        access_needed = max(0, uplinks - _LEAF_UPLINK_PORTS) + peer_ports + 2 * self.servers_per_leaf
        if access_needed > _LEAF_ACCESS_PORTS:
            raise ValueError(
                f"servers_per_leaf={self.servers_per_leaf} with {self.spines} spines does not fit "
                f"the {_LEAF_ACCESS_PORTS} access ports of a leaf"
            )

    @property
    def redundancy_pairs(self) -> tuple[int, int]:
        """(MCLAG pairs, ESLAG pairs) of leaves."""
        mclag = int(self.leaves * self.mclag_share) // 2
        eslag = min(int(self.leaves * self.eslag_share) // 2, (self.leaves - 2 * mclag) // 2)
        return mclag, eslag

    @property
    def authored_count(self) -> int:
        """How many objects generate_fabric returns for this spec (whatever the seed)."""
        mclag, eslag = self.redundancy_pairs
        servers = self.leaves * self.servers_per_leaf
        subnets = self.vpcs * self.subnets_per_vpc
        attachments = 0
        if subnets:
            attachments = servers
            if subnets > 1:
                attachments += int(servers * self.second_attachment_share)
        peerings = min(self.peerings, self.vpcs * (self.vpcs - 1) // 2)
        external = (3 + (1 if self.vpcs else 0)) if self.external else 0
        return (
            2  # VLANNamespace, IPv4Namespace
            + mclag
            + eslag  # SwitchGroups
            + self.spines
            + self.leaves
            + servers
            + self.spines * self.leaves
            + mclag
            + servers  # Connections: fabric, mclag-domain, one per server
            + self.vpcs
            + attachments
            + peerings
            + external
        )

    @classmethod
    def sized(cls, resources: int, seed: int = 0, *, external: bool = False) -> "FabricSpec":
        """A spec whose fabric has about `resources` authored objects.

        Exact or within a few objects from 20 to about 5,000 resources; shape grows with size
        (more servers per leaf, 4 spines from 1,000, 3 subnets per VPC from 500).
        """
        if resources < 1:
            raise ValueError("resources must be positive")
        spines = 2 if resources < 1000 else 4
        if resources < 400:
            # Small fabrics also try fewer servers per leaf: one leaf more or less is a big step.
            servers_choices = (4, 3, 2, 1) if resources < 80 else (4,)
        else:
            servers_choices = (8,) if resources < 1500 else ((12,) if resources < 2500 else (16,))
        subnets_per_vpc = 2 if resources < 500 else 3
        fabric_links = 2 if resources < 3500 else 1
        base_vpcs = max(1, round(resources * 0.04))

        def make(leaves: int, servers_per_leaf: int, vpcs: int) -> FabricSpec:
            return cls(
                spines=spines,
                leaves=leaves,
                servers_per_leaf=servers_per_leaf,
                fabric_links=fabric_links,
                vpcs=vpcs,
                subnets_per_vpc=subnets_per_vpc,
                peerings=base_vpcs // 2,
                external=external,
                seed=seed,
            )

        def miss(candidate: FabricSpec) -> int:
            return abs(candidate.authored_count - resources)

        best: FabricSpec | None = None
        for servers_per_leaf in servers_choices:
            # The most leaves that stay under the target, then VPCs (one object each) fill the rest.
            under = make(1, servers_per_leaf, base_vpcs)
            for leaves in range(2, _MAX_SPINE_LINKS // fabric_links + 1):
                candidate = make(leaves, servers_per_leaf, base_vpcs)
                if candidate.authored_count > resources:
                    break
                under = candidate
            vpcs = base_vpcs + resources - under.authored_count
            vpcs = max(1, min(vpcs, 2 * base_vpcs + 10, (VLAN_TO - VLAN_FROM + 1) // subnets_per_vpc))
            candidates = [make(under.leaves, servers_per_leaf, vpcs)]
            if (under.leaves + 1) * fabric_links <= _MAX_SPINE_LINKS:
                candidates.append(make(under.leaves + 1, servers_per_leaf, base_vpcs))
            for candidate in candidates:
                if best is None or miss(candidate) < miss(best):
                    best = candidate
        assert best is not None
        return best


def derive_seed(name: str, seed: int, stream: str = "desired") -> int:
    """A stable 64-bit seed for one random stream of one fabric (never Python's salted hash())."""
    digest = hashlib.sha256(f"{name}\x00{seed}\x00{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


# --- small helpers -------------------------------------------------------------------------------


def _ip(value: int) -> str:
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def _addr(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def _meta(name: str) -> Obj:
    return {"name": name, "namespace": NAMESPACE}


def _obj(api_version: str, kind: str, name: str, spec: Obj) -> Obj:
    return {"apiVersion": api_version, "kind": kind, "metadata": _meta(name), "spec": spec}


def _numbered(prefix: str, count: int) -> list[str]:
    width = max(2, len(str(count)))
    return [f"{prefix}-{i:0{width}d}" for i in range(1, count + 1)]


def _quota(count: int, share: float) -> int:
    return int(round(count * share))


class _LeafPorts:
    """Hands out a leaf's ports: uplinks E1/49-56 first, MCLAG peer links from the top of the
    access range, server ports from E1/1 upward."""

    __slots__ = ("switch", "next_access", "top_access", "next_uplink")

    def __init__(self, switch: str) -> None:
        self.switch = switch
        self.next_access = 1
        self.top_access = _LEAF_ACCESS_PORTS
        self.next_uplink = _LEAF_ACCESS_PORTS + 1

    def _check(self) -> None:
        if self.next_access > self.top_access:
            raise ValueError(f"leaf {self.switch} has run out of ports")

    def uplink(self) -> str:
        if self.next_uplink <= _LEAF_ACCESS_PORTS + _LEAF_UPLINK_PORTS:
            port, self.next_uplink = self.next_uplink, self.next_uplink + 1
        else:
            self._check()
            port, self.top_access = self.top_access, self.top_access - 1
        return f"{self.switch}/E1/{port}"

    def peer_link(self) -> str:
        self._check()
        port, self.top_access = self.top_access, self.top_access - 1
        return f"{self.switch}/E1/{port}"

    def server(self) -> str:
        self._check()
        port, self.next_access = self.next_access, self.next_access + 1
        return f"{self.switch}/E1/{port}"


def _spine_ports(switch: str, needed: int) -> tuple[list[str], int]:
    """Port names of one spine in allocation order, and how many ports (E1/1 up) are broken out."""
    broken = max(0, math.ceil((needed - _SPINE_PORTS) / 3))
    names = [f"{switch}/E1/{p}/{s}" for p in range(1, broken + 1) for s in range(1, 5)]
    names += [f"{switch}/E1/{p}" for p in range(broken + 1, _SPINE_PORTS + 1)]
    return names, broken


class _Subnets:
    """Hands out aligned, non-overlapping IPv4 blocks from consecutive /16s of 10.0.0.0/8."""

    def __init__(self, rng: random.Random, count: int) -> None:
        self.rng = rng
        # A subnet with its alignment padding and gap takes under 3 x 256 addresses, and the
        # start is at most 3 x 256 in: count + 1 of those always fit.
        self.blocks = math.ceil((count + 1) * 3 / 256)
        self.end = _VPC_SPACE_BASE + self.blocks * 65536
        self.cursor = _VPC_SPACE_BASE + 256 * rng.randint(0, 3)

    def namespace(self) -> list[str]:
        return [_ip(_VPC_SPACE_BASE + i * 65536) + "/16" for i in range(self.blocks)]

    def take(self, prefix_len: int) -> int:
        size = 1 << (32 - prefix_len)
        start = (self.cursor + size - 1) // size * size
        if self.rng.random() < 0.2:
            start += size  # people leave gaps for growth
        if start + size > self.end:
            raise ValueError("IPv4 namespace exhausted")  # unreachable by construction
        self.cursor = start + size
        return start


# --- the authored objects ------------------------------------------------------------------------


def generate_fabric(name: str, spec: FabricSpec) -> list[Obj]:
    """The desired objects of fabric `name` as a person would author them in Git, in file order:
    namespaces, switch groups, switches, servers, connections, VPCs, attachments, peerings,
    then the External and its attachment and peering when `spec.external` is set."""
    return _FabricBuilder(name, spec).build()


@dataclass
class _LeafGroup:
    """Leaves racked together: a redundancy pair (MCLAG or ESLAG) or a single leaf."""

    leaves: list[str]
    group: str | None = None
    redundancy: str | None = None  # "mclag" | "eslag"
    rack: int = 0


class _FabricBuilder:
    """One pass over a fabric's layers; every random choice comes from one seeded stream, in
    a fixed order, so the output depends only on (name, spec)."""

    def __init__(self, name: str, spec: FabricSpec) -> None:
        self.spec = spec
        self.rng = random.Random(derive_seed(name, spec.seed, "desired"))
        self.row = self.rng.choice("ABCDEFGH")
        self.leaf_profile = self.rng.choice(_LEAF_PROFILES)
        self.spine_profile, self.breakout_mode = self.rng.choice(_SPINE_PROFILES)
        self.mac_prefix = f"0c:20:12:{self.rng.randrange(256):02x}"
        self.subnet_count = spec.vpcs * spec.subnets_per_vpc
        self.space = _Subnets(self.rng, self.subnet_count)
        self.spines = _numbered("spine", spec.spines)
        self.leaves = _numbered("leaf", spec.leaves)
        self.leaf_ports = {leaf: _LeafPorts(leaf) for leaf in self.leaves}
        self.groups = self._leaf_groups()

    def build(self) -> list[Obj]:
        namespaces = [
            _obj(WIRING_API, "VLANNamespace", "default", {"ranges": [{"from": VLAN_FROM, "to": VLAN_TO}]}),
            _obj(VPC_API, "IPv4Namespace", "default", {"subnets": self.space.namespace()}),
        ]
        switch_groups = [_obj(WIRING_API, "SwitchGroup", g.group, {}) for g in self.groups if g.group]
        spines, leaves = self._spines(), self._leaves()
        # Ports are handed out in this order: uplinks, MCLAG peer links, servers, the external.
        fabric = self._fabric_connections(spines)
        mclag_domains = self._mclag_domains()
        servers, server_connections = self._servers()
        external_connection = self._external_connection() if self.spec.external else None
        vpcs = self._vpcs()
        attachments = self._attachments(vpcs, server_connections)
        peerings = self._peerings(vpcs)

        objects = namespaces + switch_groups + spines + leaves + servers
        objects += fabric + mclag_domains + server_connections
        if external_connection:
            objects.append(external_connection)
        objects += vpcs + attachments + peerings
        if external_connection:
            objects += self._external(external_connection, vpcs)
        return objects

    # --- wiring ------------------------------------------------------------------------------

    def _leaf_groups(self) -> list[_LeafGroup]:
        """MCLAG pairs first, then ESLAG pairs, then single leaves; one rack per group."""
        mclag, eslag = self.spec.redundancy_pairs
        groups: list[_LeafGroup] = []
        index = 0
        for redundancy, count in (("mclag", mclag), ("eslag", eslag)):
            for i in range(1, count + 1):
                groups.append(_LeafGroup(self.leaves[index : index + 2], f"{redundancy}-{i}", redundancy))
                index += 2
        groups += [_LeafGroup([leaf]) for leaf in self.leaves[index:]]
        for rack, group in enumerate(groups, start=2):  # rack 01 holds the spines
            group.rack = rack
        return groups

    def _boot(self, index: int) -> Obj:
        return {"mac": f"{self.mac_prefix}:{index >> 8:02x}:{index & 255:02x}"}

    def _spines(self) -> list[Obj]:
        out = []
        for index, spine in enumerate(self.spines):
            spec = {
                "role": "spine",
                "description": f"spine, row {self.row} rack 01",
                "profile": self.spine_profile,
                "boot": self._boot(index),
                "asn": SPINE_ASN,
                "ip": _ip(_MGMT_FIRST + index) + "/21",
                "protocolIP": _ip(_PROTOCOL_BASE + index) + "/32",
            }
            out.append(_obj(WIRING_API, "Switch", spine, spec))
        return out

    def _leaves(self) -> list[Obj]:
        out = []
        index = len(self.spines)
        asn, vtep = LEAF_ASN_START, 0
        for group in self.groups:
            for leaf in group.leaves:
                description = f"server leaf, row {self.row} rack {group.rack:02d}"
                spec: Obj = {"role": "server-leaf", "description": description, "profile": self.leaf_profile}
                if group.group:
                    spec["description"] += f", {str(group.redundancy).upper()} {group.group}"
                    spec["groups"] = [group.group]
                    spec["redundancy"] = {"group": group.group, "type": group.redundancy}
                spec["boot"] = self._boot(index)
                spec["asn"] = asn
                spec["ip"] = _ip(_MGMT_FIRST + index) + "/21"
                spec["protocolIP"] = _ip(_PROTOCOL_BASE + index) + "/32"
                spec["vtepIP"] = _ip(_VTEP_BASE + vtep) + "/32"
                spec["vlanNamespaces"] = ["default"]
                out.append(_obj(WIRING_API, "Switch", leaf, spec))
                index += 1
                # MCLAG peers share their ASN and anycast VTEP; every other leaf has its own.
                if group.redundancy != "mclag" or leaf == group.leaves[-1]:
                    asn, vtep = asn + 1, vtep + 1
        return out

    def _fabric_connections(self, spines: list[Obj]) -> list[Obj]:
        """Spine-leaf links with /31s; spine ports are broken out when the leaves need more
        ports than the front panel has."""
        out = []
        link_ip = _FABRIC_LINK_BASE
        for spine, spine_obj in zip(self.spines, spines):
            ports, broken = _spine_ports(spine, len(self.leaves) * self.spec.fabric_links)
            if broken:
                breakouts = {f"E1/{p}": self.breakout_mode for p in range(1, broken + 1)}
                spine_obj["spec"]["portBreakouts"] = breakouts
            next_port = 0
            for leaf in self.leaves:
                links = []
                for _ in range(self.spec.fabric_links):
                    leaf_end = {"ip": _ip(link_ip + 1) + "/31", "port": self.leaf_ports[leaf].uplink()}
                    spine_end = {"ip": _ip(link_ip) + "/31", "port": ports[next_port]}
                    links.append({"leaf": leaf_end, "spine": spine_end})
                    next_port += 1
                    link_ip += 2
                name = f"{spine}--fabric--{leaf}"
                out.append(_obj(WIRING_API, "Connection", name, {"fabric": {"links": links}}))
        return out

    def _mclag_domains(self) -> list[Obj]:
        out = []
        for group in self.groups:
            if group.redundancy != "mclag":
                continue
            first, second = (self.leaf_ports[leaf] for leaf in group.leaves)

            def link() -> Obj:
                return {"switch1": {"port": first.peer_link()}, "switch2": {"port": second.peer_link()}}

            domain = {"peerLinks": [link(), link()], "sessionLinks": [link(), link()]}
            name = f"{first.switch}--mclag-domain--{second.switch}"
            out.append(_obj(WIRING_API, "Connection", name, {"mclagDomain": domain}))
        return out

    def _servers(self) -> tuple[list[Obj], list[Obj]]:
        """Servers with one connection each: per leaf group a quota of every connection type
        it allows, in a seeded order."""
        spec, rng = self.spec, self.rng
        names = iter(_numbered("server", len(self.leaves) * spec.servers_per_leaf))
        servers: list[Obj] = []
        connections: list[Obj] = []
        for group in self.groups:
            count = spec.servers_per_leaf * len(group.leaves)
            multihomed = _quota(count, spec.multihomed_share) if group.redundancy else 0
            bundled = _quota(count - multihomed, spec.bundled_share)
            kinds = [str(group.redundancy)] * multihomed + ["bundled"] * bundled
            kinds += ["unbundled"] * (count - multihomed - bundled)
            rng.shuffle(kinds)
            single_homed = 0
            for kind in kinds:
                server = next(names)
                description = f"{rng.choice(_SERVER_ROLES)} node, row {self.row} rack {group.rack:02d}"
                servers.append(_obj(WIRING_API, "Server", server, {"description": description}))
                if kind in ("mclag", "eslag"):
                    leaves = group.leaves
                    links = [self._server_link(server, nic, leaf) for nic, leaf in enumerate(leaves, 1)]
                    conn: Obj = {"links": links}
                    if rng.random() < 0.25:
                        conn["fallback"] = True
                else:
                    # Single-homed servers alternate between the leaves of their group.
                    leaves = [group.leaves[single_homed % len(group.leaves)]]
                    single_homed += 1
                    if kind == "bundled":
                        conn = {"links": [self._server_link(server, n, leaves[0]) for n in (1, 2)]}
                    else:
                        conn = {"link": self._server_link(server, 1, leaves[0])}
                if rng.random() < 0.15:
                    conn["mtu"] = 9000
                name = "--".join([server, kind, *leaves])
                connections.append(_obj(WIRING_API, "Connection", name, {kind: conn}))
        return servers, connections

    def _server_link(self, server: str, nic: int, leaf: str) -> Obj:
        switch_port = self.leaf_ports[leaf].server()
        return {"server": {"port": f"{server}/enp2s{nic}"}, "switch": {"port": switch_port}}

    # --- VPCs --------------------------------------------------------------------------------

    def _vpcs(self) -> list[Obj]:
        """VPCs whose subnets have unique VLANs (increasing, as people hand them out) and
        non-overlapping blocks of the IPv4Namespace; some with DHCP, some isolated."""
        spec, rng = self.spec, self.rng
        vlans = iter(sorted(rng.sample(range(VLAN_FROM, VLAN_TO + 1), self.subnet_count)))
        dhcp_flags = [True] * _quota(self.subnet_count, spec.dhcp_share)
        dhcp_flags += [False] * (self.subnet_count - len(dhcp_flags))
        rng.shuffle(dhcp_flags)
        dhcp_iter = iter(dhcp_flags)
        out = []
        for vpc in _numbered("vpc", spec.vpcs):
            names = ["default"] + rng.sample(_SUBNET_NAMES, min(spec.subnets_per_vpc - 1, len(_SUBNET_NAMES)))
            names += [f"subnet-{i:02d}" for i in range(len(names), spec.subnets_per_vpc)]
            subnets = {name: self._subnet(next(vlans), next(dhcp_iter), len(names) > 1) for name in names}
            vpc_spec: Obj = {}
            if rng.random() < 0.5:  # the other half leave the namespaces to Hedgehog's defaulting
                vpc_spec["ipv4Namespace"] = "default"
                vpc_spec["vlanNamespace"] = "default"
            vpc_spec["subnets"] = subnets
            if any(subnet.get("isolated") for subnet in subnets.values()):
                vpc_spec["permit"] = [sorted(subnets)]
            out.append(_obj(VPC_API, "VPC", vpc, vpc_spec))
        return out

    def _subnet(self, vlan: int, dhcp_enabled: bool, may_isolate: bool) -> Obj:
        rng = self.rng
        prefix_len = rng.choice((24, 24, 24, 25, 26))
        network = self.space.take(prefix_len)
        size = 1 << (32 - prefix_len)
        subnet: Obj = {"subnet": f"{_ip(network)}/{prefix_len}"}
        if rng.random() < 0.5:  # the other half rely on the default gateway, the first address
            subnet["gateway"] = _ip(network + 1)
        subnet["vlan"] = vlan
        if dhcp_enabled:
            dhcp: Obj = {"enable": True}
            if rng.random() < 0.6:
                end = network + min(size - 2, 10 + rng.randrange(40, 240))
                dhcp["range"] = {"start": _ip(network + 10), "end": _ip(end)}
            if rng.random() < 0.3:
                dhcp["options"] = {
                    "dnsServers": sorted(rng.sample(_DNS_SERVERS, 2)),
                    "timeServers": [rng.choice(_NTP_SERVERS)],
                    "leaseTimeSeconds": rng.choice((3600, 7200, 86400)),
                }
            subnet["dhcp"] = dhcp
        if may_isolate and rng.random() < 0.2:
            subnet["isolated"] = True
        if rng.random() < 0.1:
            subnet["restricted"] = True
        return subnet

    def _attachments(self, vpcs: list[Obj], server_connections: list[Obj]) -> list[Obj]:
        """Every server connection attached to one subnet, round robin over a seeded order of
        all subnets (so each is used when there are enough servers); some get a second one.
        Grouped by VPC, as they are kept next to their VPC in Git."""
        rng = self.rng
        subnets = [(vpc["metadata"]["name"], subnet) for vpc in vpcs for subnet in vpc["spec"]["subnets"]]
        if not subnets:
            return []
        rng.shuffle(subnets)
        count = len(server_connections)
        second = set(rng.sample(range(count), int(count * self.spec.second_attachment_share)))
        by_vpc: dict[str, list[Obj]] = {vpc["metadata"]["name"]: [] for vpc in vpcs}
        for i, conn in enumerate(server_connections):
            conn_name = conn["metadata"]["name"]
            server = conn_name.split("--", 1)[0]
            targets = [subnets[i % len(subnets)]]
            if i in second and len(subnets) > 1:
                targets.append(subnets[(i + 1 + rng.randrange(len(subnets) - 1)) % len(subnets)])
            for vpc, subnet in targets:
                attach: Obj = {"connection": conn_name, "subnet": f"{vpc}/{subnet}"}
                if len(targets) == 1 and rng.random() < 0.1:
                    attach["nativeVLAN"] = True
                by_vpc[vpc].append(_obj(VPC_API, "VPCAttachment", f"{vpc}--{subnet}--{server}", attach))
        return [attachment for attachments in by_vpc.values() for attachment in attachments]

    def _peerings(self, vpcs: list[Obj]) -> list[Obj]:
        """Peerings between distinct VPC pairs, some permitting only chosen subnets."""
        rng = self.rng
        out = []
        for a, b in _peered_pairs(rng, len(vpcs), self.spec.peerings):
            first, second = vpcs[a]["metadata"]["name"], vpcs[b]["metadata"]["name"]
            if rng.random() < 0.6:
                permit: list[Obj] = [{first: {}, second: {}}]
            else:
                permit = [
                    {
                        first: {"subnets": _some_subnets(rng, vpcs[a]["spec"]["subnets"])},
                        second: {"subnets": _some_subnets(rng, vpcs[b]["spec"]["subnets"])},
                    }
                ]
            out.append(_obj(VPC_API, "VPCPeering", f"{first}--{second}", {"permit": permit}))
        return out

    # --- external ----------------------------------------------------------------------------

    def _external_connection(self) -> Obj:
        leaf = self.groups[-1].leaves[-1]
        port = self.leaf_ports[leaf].uplink()
        name = f"{leaf}--external--{EXTERNAL_NAME}"
        return _obj(WIRING_API, "Connection", name, {"external": {"link": {"switch": {"port": port}}}})

    def _external(self, connection: Obj, vpcs: list[Obj]) -> list[Obj]:
        leaf = connection["spec"]["external"]["link"]["switch"]["port"].split("/", 1)[0]
        out = [
            _obj(
                VPC_API,
                "External",
                EXTERNAL_NAME,
                {
                    "ipv4Namespace": "default",
                    "inboundCommunity": "65102:5000",
                    "outboundCommunity": "5000:65102",
                },
            ),
            _obj(
                VPC_API,
                "ExternalAttachment",
                f"{EXTERNAL_NAME}--{leaf}",
                {
                    "connection": connection["metadata"]["name"],
                    "external": EXTERNAL_NAME,
                    "neighbor": {"asn": 64102, "ip": "100.100.0.6"},
                    "switch": {"ip": "100.100.0.5/30", "vlan": 100},
                },
            ),
        ]
        if vpcs:
            vpc = self.rng.choice(vpcs)
            permit = {
                "external": {"name": EXTERNAL_NAME, "prefixes": [{"prefix": "0.0.0.0/0"}]},
                "vpc": {"name": vpc["metadata"]["name"], "subnets": sorted(vpc["spec"]["subnets"])},
            }
            name = f"{vpc['metadata']['name']}--{EXTERNAL_NAME}"
            out.append(_obj(VPC_API, "ExternalPeering", name, {"permit": permit}))
        return out


def _some_subnets(rng: random.Random, subnets: Obj) -> list[str]:
    names = list(subnets)
    return sorted(rng.sample(names, rng.randint(1, min(len(names), 10))))


def _peered_pairs(rng: random.Random, vpcs: int, count: int) -> list[tuple[int, int]]:
    """`count` distinct pairs (i < j) of VPC indexes, sorted, without listing every pair when few
    of many are wanted."""
    total = vpcs * (vpcs - 1) // 2
    count = min(count, total)
    if total <= 4 * count:
        pairs = [(i, j) for i in range(vpcs) for j in range(i + 1, vpcs)]
        return sorted(rng.sample(pairs, count))
    chosen: set[tuple[int, int]] = set()
    while len(chosen) < count:
        i, j = sorted(rng.sample(range(vpcs), 2))
        chosen.add((i, j))
    return sorted(chosen)


# --- what the fabric controller adds -------------------------------------------------------------


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _mac(rng: random.Random) -> str:
    return "02:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(5))


def generate_controller_objects(
    name: str, spec: FabricSpec, desired: list[Obj], *, now: datetime | None = None
) -> list[Obj]:
    """Objects the fabric controller creates for `desired` and that are never authored in Git:
    one Agent per Switch, one DHCPSubnet per DHCP-enabled VPC subnet.

    Timestamps count back from `now` (default: the fixed DEFAULT_NOW, so output is reproducible).
    Agents have converged (status.lastAppliedGen == metadata.generation) except
    `spec.lagging_agents` of them, chosen by the seed.
    """
    rng = random.Random(derive_seed(name, spec.seed, "controller"))
    now = now or DEFAULT_NOW
    switches = [o for o in desired if o.get("kind") == "Switch" and o.get("apiVersion") == WIRING_API]
    lagging = set(rng.sample(range(len(switches)), min(spec.lagging_agents, len(switches))))
    groups: dict[str, list[str]] = {}
    for sw in switches:
        group = (sw["spec"].get("redundancy") or {}).get("group")
        if group:
            groups.setdefault(group, []).append(sw["metadata"]["name"])

    out: list[Obj] = []
    for index, sw in enumerate(switches):
        sw_name = sw["metadata"]["name"]
        sw_spec = sw["spec"]
        generation = rng.randint(1, 40)
        applied_gen = generation - rng.randint(1, 3) if index in lagging else generation
        applied_at = now - timedelta(seconds=rng.randint(120, 86_400))
        attempted_at = applied_at + timedelta(seconds=rng.randint(30, 90)) if index in lagging else applied_at
        agent_spec: Obj = {
            "role": sw_spec.get("role"),
            "description": sw_spec.get("description", ""),
            "config": {
                "controlVIP": "172.30.0.1/32",
                "spineLeaf": {},
                "baseVPCCommunity": "50000:0",
                "vpcLoopbackSubnet": "172.30.240.0/20",
                "fabricMTU": 9100,
                "serverFacingMTUOffset": 64,
                "eslagMACBase": "f2:00:00:00:00:00",
                "eslagESIPrefix": "00:f2:00:00:",
                "defaultMaxPathsEBGP": 64,
            },
            "version": {"default": AGENT_VERSION, "repo": "ghcr.io/githedgehog/agent"},
            # A copy: the agent's view must not change when a test mutates the desired Switch.
            "switch": _copy(sw_spec),
        }
        group = (sw_spec.get("redundancy") or {}).get("group")
        if group:
            agent_spec["redundancyGroupPeers"] = [peer for peer in groups[group] if peer != sw_name]
        converged = applied_gen == generation
        out.append(
            {
                "apiVersion": AGENT_API,
                "kind": "Agent",
                "metadata": {"name": sw_name, "namespace": NAMESPACE, "generation": generation},
                "spec": agent_spec,
                "status": {
                    "version": AGENT_VERSION,
                    "installID": _uuid(rng),
                    "runID": _uuid(rng),
                    "bootID": _uuid(rng),
                    "lastHeartbeat": _timestamp(now - timedelta(seconds=rng.randint(1, 25))),
                    "lastAttemptTime": _timestamp(attempted_at),
                    "lastAttemptGen": generation,
                    "lastAppliedTime": _timestamp(applied_at),
                    "lastAppliedGen": applied_gen,
                    "conditions": [
                        {
                            "type": "Applied",
                            "status": "True" if converged else "False",
                            "reason": "ApplySucceeded" if converged else "ApplyPending",
                            "message": f"Config applied, gen={applied_gen}"
                            if converged
                            else f"Waiting to apply gen={generation}",
                            "lastTransitionTime": _timestamp(attempted_at),
                            "observedGeneration": generation,
                        }
                    ],
                },
            }
        )

    attached: dict[str, list[str]] = {}
    for o in desired:
        if o.get("kind") == "VPCAttachment" and o.get("apiVersion") == VPC_API:
            server = str(o["spec"].get("connection", "")).split("--", 1)[0]
            attached.setdefault(o["spec"].get("subnet", ""), []).append(server)
    for o in desired:
        if o.get("kind") != "VPC" or o.get("apiVersion") != VPC_API:
            continue
        vpc = o["metadata"]["name"]
        for subnet_name, subnet in (o["spec"].get("subnets") or {}).items():
            dhcp = subnet.get("dhcp") or {}
            if not dhcp.get("enable"):
                continue
            servers = attached.get(f"{vpc}/{subnet_name}", [])
            out.append(_dhcp_subnet(rng, now, vpc, subnet_name, subnet, servers))
    return out


def _dhcp_subnet(
    rng: random.Random, now: datetime, vpc: str, subnet_name: str, subnet: Obj, servers: list[str]
) -> Obj:
    cidr = subnet["subnet"]
    address, prefix_len = cidr.split("/")
    network = _addr(address)
    last = network + (1 << (32 - int(prefix_len))) - 1
    dhcp = subnet.get("dhcp") or {}
    dhcp_range = dhcp.get("range") or {}
    options = dhcp.get("options") or {}
    # Hedgehog's defaults: gateway is the first address, the range runs from the second to the last.
    start = dhcp_range.get("start") or _ip(network + 2)
    end = dhcp_range.get("end") or _ip(last)
    allocated: Obj = {}
    for lease_ip, server in zip(range(_addr(start), _addr(end) + 1), sorted(servers)):
        allocated[_mac(rng)] = {
            "ip": _ip(lease_ip),
            "expiry": _timestamp(now + timedelta(seconds=rng.randint(600, 3600))),
            "hostname": server,
        }
    return {
        "apiVersion": DHCP_API,
        "kind": "DHCPSubnet",
        "metadata": {"name": f"{vpc}--{subnet_name}", "namespace": NAMESPACE},
        "spec": {
            "subnet": f"{vpc}/{subnet_name}",
            "cidrBlock": cidr,
            "gateway": subnet.get("gateway") or _ip(network + 1),
            "startIP": start,
            "endIP": end,
            "leaseTimeSeconds": options.get("leaseTimeSeconds", 3600),
            "vrf": f"VrfV{vpc}",
            "circuitID": f"Vlan{subnet.get('vlan', 0)}",
            "pxeURL": "",
            "dnsServers": list(options.get("dnsServers", [])),
            "timeServers": list(options.get("timeServers", [])),
            "interfaceMTU": options.get("interfaceMTU", 9036),
            "defaultURL": "",
        },
        "status": {"allocated": allocated} if allocated else {},
    }


def _copy(value: Any) -> Any:
    """Deep copy of plain YAML data (dicts, lists, scalars); much faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# --- YAML ----------------------------------------------------------------------------------------

# libyaml's emitter when PyYAML has it (several times faster); same output as yaml.safe_dump.
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    # Shared sub-objects must be written out in full, never as &id001 anchors and aliases.
    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_yaml(objects: list[Obj]) -> str:
    """Multi-document YAML, one `---` document per object, keys in insertion order."""
    return yaml.dump_all(
        objects,
        Dumper=_Dumper,
        sort_keys=False,
        explicit_start=True,
        default_flow_style=False,
        allow_unicode=True,
    )


_WIRING_FILES = {
    "SwitchGroup": "wiring/switch-groups.yaml",
    "Switch": "wiring/switches.yaml",
    "Server": "wiring/servers.yaml",
    "Connection": "wiring/connections.yaml",
    "SwitchProfile": "wiring/switch-profiles.yaml",
    "ServerProfile": "wiring/server-profiles.yaml",
}


def _file_for(obj: Obj) -> str:
    api_version = str(obj.get("apiVersion", ""))
    kind = str(obj.get("kind", ""))
    name = str((obj.get("metadata") or {}).get("name", ""))
    spec = obj.get("spec") or {}
    if kind in ("VLANNamespace", "IPv4Namespace"):
        return "namespaces.yaml"
    if api_version == WIRING_API and kind in _WIRING_FILES:
        return _WIRING_FILES[kind]
    if api_version == VPC_API:
        if kind == "VPC":
            return f"vpcs/{name}.yaml"
        if kind == "VPCAttachment":
            return f"vpcs/{str(spec.get('subnet', '')).split('/', 1)[0]}.yaml"
        if kind == "VPCPeering":
            return "vpc-peerings.yaml"
        if kind == "External":
            return f"externals/{name}.yaml"
        if kind == "ExternalAttachment":
            return f"externals/{spec.get('external', '')}.yaml"
        if kind == "ExternalPeering":
            return f"externals/{((spec.get('permit') or {}).get('external') or {}).get('name', '')}.yaml"
    group = api_version.rpartition("/")[0].split(".", 1)[0] or "core"
    return f"{group}/{kind.lower()}s.yaml"


def split_into_files(objects: list[Obj]) -> dict[str, str]:
    """A GitOps repository layout for `objects`: path -> rendered YAML, paths sorted.

    namespaces.yaml, wiring/{switch-groups,switches,servers,connections}.yaml,
    vpcs/<vpc>.yaml (a VPC with its attachments), vpc-peerings.yaml, externals/<external>.yaml
    (an External with its attachments and peerings); any other kind goes to <group>/<kind>s.yaml.
    Objects keep their order within a file.
    """
    files: dict[str, list[Obj]] = {}
    for obj in objects:
        files.setdefault(_file_for(obj), []).append(obj)
    return {path: render_yaml(files[path]) for path in sorted(files)}
