"""The fabric generator: deterministic, sized as asked, and consistent like a fabric that the
Hedgehog webhooks would accept."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from hedgehog_sync.devlab.generator import (
    DEFAULT_NOW,
    VLAN_FROM,
    VLAN_TO,
    FabricSpec,
    derive_seed,
    generate_controller_objects,
    generate_fabric,
    render_yaml,
    split_into_files,
)
from hedgehog_sync.domain.kinds import KINDS, kind_for, split_api_version

Obj = dict[str, Any]

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SERVER_FACING = {"unbundled", "bundled", "mclag", "eslag"}
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "hedgehog-samples"

# Shapes worth checking across seeds: the default, and ones that stress each layer.
SPECS = [
    FabricSpec(),
    FabricSpec(external=True, seed=7),
    FabricSpec(spines=1, leaves=1, servers_per_leaf=1, vpcs=1, subnets_per_vpc=1, peerings=0),
    FabricSpec(leaves=7, mclag_share=0.3, eslag_share=0.3, vpcs=6, subnets_per_vpc=5, peerings=20),
    FabricSpec(spines=4, leaves=40, servers_per_leaf=6, vpcs=30, peerings=10, external=True),  # breakouts
    FabricSpec(leaves=3, mclag_share=0.0, eslag_share=0.0, vpcs=0, peerings=3, external=True),
    FabricSpec.sized(200, seed=3),
]


def by_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def names(objects: list[Obj], kind: str) -> set[str]:
    return {o["metadata"]["name"] for o in by_kind(objects, kind)}


def connection_type(conn: Obj) -> str:
    (key,) = conn["spec"].keys()
    return {"mclagDomain": "mclag-domain"}.get(key, key)


def ports_of(value: Any) -> Iterator[str]:
    """Every `port: device/port` value anywhere under a spec."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "port":
                yield item
            else:
                yield from ports_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from ports_of(item)


def assert_consistent(objects: list[Obj]) -> None:
    """What the Hedgehog webhooks check across objects, plus naming and uniqueness."""
    identities = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(identities) == len(set(identities)), "duplicate objects"
    for obj in objects:
        name = obj["metadata"]["name"]
        assert obj["metadata"]["namespace"] == "default"
        assert len(name) <= 253 and DNS1123_SUBDOMAIN.match(name), name
        if obj["kind"] in ("VPC", "External"):
            assert len(name) <= 11, name

    (vlan_ns,) = by_kind(objects, "VLANNamespace")
    (ip_ns,) = by_kind(objects, "IPv4Namespace")
    assert vlan_ns["spec"]["ranges"] == [{"from": VLAN_FROM, "to": VLAN_TO}]
    namespace_nets = [ipaddress.ip_network(s) for s in ip_ns["spec"]["subnets"]]

    # Switches.
    switches = {o["metadata"]["name"]: o["spec"] for o in by_kind(objects, "Switch")}
    groups = names(objects, "SwitchGroup")
    macs = [s["boot"]["mac"] for s in switches.values()]
    assert len(macs) == len(set(macs)), "boot MACs must be unique"
    for field in ("ip", "protocolIP"):
        values = [s[field] for s in switches.values()]
        assert len(values) == len(set(values)), f"{field} must be unique"
    members: dict[str, list[str]] = defaultdict(list)
    for name, sw in switches.items():
        assert sw["profile"] and sw["role"] in ("spine", "server-leaf")
        assert ipaddress.ip_interface(sw["protocolIP"]).network.prefixlen == 32
        if sw["role"] == "spine":
            assert sw["asn"] == 65100 and "vtepIP" not in sw
        else:
            assert 65101 <= sw["asn"] <= 65534 and sw["vlanNamespaces"] == ["default"]
            assert ipaddress.ip_interface(sw["vtepIP"]).network.prefixlen == 32
        redundancy = sw.get("redundancy")
        if redundancy:
            assert redundancy["group"] in groups and redundancy["group"] in sw["groups"]
            assert redundancy["type"] in ("mclag", "eslag")
            members[redundancy["group"]].append(name)
    assert all(len(m) == 2 for m in members.values()) and set(members) == groups
    # Leaves share an ASN and VTEP only with their MCLAG peer.
    for field in ("asn", "vtepIP"):
        owners: dict[Any, set[str]] = defaultdict(set)
        for name, sw in switches.items():
            if sw["role"] != "spine":
                owners[sw[field]].add(sw.get("redundancy", {}).get("group") or name)
        assert all(len(o) == 1 for o in owners.values()), f"leaf {field} shared across groups"

    # Connections: every port on a known device, used once, of the right role.
    servers = names(objects, "Server")
    connections = {o["metadata"]["name"]: o for o in by_kind(objects, "Connection")}
    used_ports: Counter[str] = Counter()
    link_ips: list[str] = []
    for conn_name, conn in connections.items():
        kind = connection_type(conn)
        body = next(iter(conn["spec"].values()))
        ports = list(ports_of(body))
        assert ports, conn_name
        used_ports.update(ports)
        for port in ports:
            device, local = port.split("/", 1)
            assert device in switches or device in servers, port
            if device in servers:
                assert re.fullmatch(r"enp2s[12]", local), port
            elif switches[device]["role"] == "spine":
                assert re.fullmatch(r"E1/\d+(/[1-4])?", local), port
                if local.count("/") == 2:
                    assert local.rsplit("/", 1)[0] in switches[device]["portBreakouts"], port
            else:
                assert re.fullmatch(r"E1/\d+", local) and 1 <= int(local[3:]) <= 56, port
        devices = {p.split("/", 1)[0] for p in ports}
        if kind == "fabric":
            spine, leaf = conn_name.split("--fabric--")
            assert devices == {spine, leaf}
            assert switches[spine]["role"] == "spine" and switches[leaf]["role"] == "server-leaf"
            for link in body["links"]:
                spine_ip = ipaddress.ip_interface(link["spine"]["ip"])
                leaf_ip = ipaddress.ip_interface(link["leaf"]["ip"])
                assert spine_ip.network == leaf_ip.network and spine_ip.network.prefixlen == 31
                link_ips += [link["spine"]["ip"], link["leaf"]["ip"]]
        elif kind == "mclag-domain":
            pair = {switches[d]["redundancy"]["group"] for d in devices}
            assert len(devices) == 2 and len(pair) == 1
            assert members[pair.pop()] and switches[next(iter(devices))]["redundancy"]["type"] == "mclag"
        elif kind in SERVER_FACING:
            server = conn_name.split("--", 1)[0]
            assert server in servers and server in devices
            leaves = devices - {server}
            assert conn_name == "--".join([server, kind, *sorted(leaves)])
            if kind in ("mclag", "eslag"):
                (group,) = {switches[leaf]["redundancy"]["group"] for leaf in leaves}
                assert sorted(leaves) == sorted(members[group])
                assert {switches[leaf]["redundancy"]["type"] for leaf in leaves} == {kind}
            else:
                assert len(leaves) == 1
        else:
            assert kind == "external" and devices <= set(switches)
    assert not [p for p, n in used_ports.items() if n > 1], "a port is used twice"
    assert len(link_ips) == len(set(link_ips))
    # Every server is connected exactly once.
    server_facing = [n for n, c in connections.items() if connection_type(c) in SERVER_FACING]
    homed = Counter(n.split("--", 1)[0] for n in server_facing)
    assert set(homed) == servers and set(homed.values()) == {1}

    # VPCs: subnets inside the IPv4Namespace and disjoint, VLANs unique inside the VLANNamespace.
    vpcs = {o["metadata"]["name"]: o["spec"] for o in by_kind(objects, "VPC")}
    nets: list[ipaddress.IPv4Network] = []
    vlans: list[int] = []
    for vpc_name, vpc in vpcs.items():
        assert 1 <= len(vpc["subnets"]) <= 20
        assert vpc.get("ipv4Namespace", "default") == "default" == vpc.get("vlanNamespace", "default")
        for subnet_name, subnet in vpc["subnets"].items():
            net = ipaddress.ip_network(subnet["subnet"])  # strict: no host bits set
            assert any(net.subnet_of(ns) for ns in namespace_nets), subnet["subnet"]
            assert net.prefixlen <= 30
            nets.append(net)
            vlans.append(subnet["vlan"])
            gateway = ipaddress.ip_address(subnet.get("gateway", str(net.network_address + 1)))
            assert gateway in net
            dhcp_range = (subnet.get("dhcp") or {}).get("range")
            if dhcp_range:
                start = ipaddress.ip_address(dhcp_range["start"])
                end = ipaddress.ip_address(dhcp_range["end"])
                assert start in net and end in net and start < end
                assert gateway not in (start, end) and net.network_address not in (start, end)
        for permit in vpc.get("permit", []):
            assert len(permit) >= 2 and set(permit) <= set(vpc["subnets"])
    assert len(vlans) == len(set(vlans)), "VLANs must be unique in the VLANNamespace"
    assert all(VLAN_FROM <= v <= VLAN_TO for v in vlans)
    nets.sort()
    assert all(not a.overlaps(b) for a, b in zip(nets, nets[1:])), "VPC subnets overlap"

    # Attachments reference real server-facing connections and real subnets.
    attached: set[tuple[str, str]] = set()
    native: Counter[str] = Counter()
    for attachment in by_kind(objects, "VPCAttachment"):
        spec = attachment["spec"]
        assert spec["connection"] in connections
        assert connection_type(connections[spec["connection"]]) in SERVER_FACING
        vpc_name, subnet_name = spec["subnet"].split("/")
        assert subnet_name in vpcs[vpc_name]["subnets"]
        assert (spec["connection"], spec["subnet"]) not in attached
        attached.add((spec["connection"], spec["subnet"]))
        native[spec["connection"]] += bool(spec.get("nativeVLAN"))
    assert all(n <= 1 for n in native.values())

    for peering in by_kind(objects, "VPCPeering"):
        for permit in peering["spec"]["permit"]:
            assert len(permit) == 2
            assert peering["metadata"]["name"] == "--".join(sorted(permit))
            for vpc_name, peer in permit.items():
                assert set((peer or {}).get("subnets", [])) <= set(vpcs[vpc_name]["subnets"])

    externals = names(objects, "External")
    for attachment in by_kind(objects, "ExternalAttachment"):
        assert attachment["spec"]["external"] in externals
        assert connection_type(connections[attachment["spec"]["connection"]]) == "external"
    for peering in by_kind(objects, "ExternalPeering"):
        permit = peering["spec"]["permit"]
        assert permit["external"]["name"] in externals
        assert set(permit["vpc"]["subnets"]) <= set(vpcs[permit["vpc"]["name"]]["subnets"])


# --- determinism ---------------------------------------------------------------------------------


def test_same_name_and_spec_render_byte_for_byte_the_same():
    spec = FabricSpec(external=True)
    first = render_yaml(generate_fabric("fab-east", spec))
    assert first == render_yaml(generate_fabric("fab-east", spec))
    files = split_into_files(generate_fabric("fab-east", spec))
    assert files == split_into_files(generate_fabric("fab-east", spec))


def test_seed_and_name_both_change_the_fabric():
    base = render_yaml(generate_fabric("fab-east", FabricSpec(seed=0)))
    assert render_yaml(generate_fabric("fab-east", FabricSpec(seed=1))) != base
    assert render_yaml(generate_fabric("fab-west", FabricSpec(seed=0))) != base


def _fingerprint(spec: FabricSpec) -> str:
    desired = generate_fabric("fab-east", spec)
    text = render_yaml(desired + generate_controller_objects("fab-east", spec, desired))
    return hashlib.sha256(text.encode()).hexdigest()


def test_output_does_not_depend_on_the_process_hash_seed():
    # Python's hash() of a str changes with PYTHONHASHSEED; the fabric must not.
    script = (
        "from hedgehog_sync.devlab.generator import FabricSpec; "
        "from hedgehog_sync_tests.devlab.test_generator import _fingerprint; "
        "print(_fingerprint(FabricSpec(external=True)))"
    )
    repo = Path(__file__).resolve().parents[2]
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(repo)}
        run = subprocess.run(
            [sys.executable, "-c", script], cwd=repo, env=env, capture_output=True, text=True, check=True
        )
        assert run.stdout.strip() == _fingerprint(FabricSpec(external=True))
    assert derive_seed("fab-east", 0, "controller") != derive_seed("fab-east", 0)


# --- sizes ---------------------------------------------------------------------------------------


def test_default_spec_produces_a_small_complete_fabric():
    counts = Counter(o["kind"] for o in generate_fabric("fab-east", FabricSpec()))
    assert counts == {
        "VLANNamespace": 1,
        "IPv4Namespace": 1,
        "SwitchGroup": 2,
        "Switch": 6,
        "Server": 16,
        "Connection": 25,  # 8 fabric, 1 mclag-domain, 16 server-facing
        "VPC": 4,
        "VPCAttachment": 20,
        "VPCPeering": 2,
    }


@pytest.mark.parametrize("resources", [50, 100, 200, 500, 1000])
def test_sized_hits_the_requested_number_of_authored_resources(resources):
    spec = FabricSpec.sized(resources)
    objects = generate_fabric("fab-sized", spec)
    assert abs(len(objects) - resources) <= resources * 0.1
    assert len(objects) == spec.authored_count


def test_sized_200_is_within_the_benchmark_band_for_any_seed():
    for seed in range(5):
        assert 180 <= len(generate_fabric(f"fab-{seed}", FabricSpec.sized(200, seed=seed))) <= 220


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.spines}s{s.leaves}l{s.vpcs}v")
def test_authored_count_predicts_the_output(spec):
    assert len(generate_fabric("fab-count", spec)) == spec.authored_count


# --- consistency ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.spines}s{s.leaves}l{s.vpcs}v")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generated_fabrics_are_consistent(spec, seed):
    assert_consistent(generate_fabric(f"fab-{seed}", replace(spec, seed=seed)))


def test_every_connection_type_is_in_the_default_fabric():
    default = generate_fabric("fab-east", FabricSpec())
    types = Counter(connection_type(c) for c in by_kind(default, "Connection"))
    assert set(types) == {"fabric", "mclag-domain", "unbundled", "bundled", "mclag", "eslag"}
    with_external = generate_fabric("fab-east", FabricSpec(external=True))
    assert "external" in {connection_type(c) for c in by_kind(with_external, "Connection")}


def test_every_subnet_has_an_attachment_when_servers_outnumber_subnets():
    objects = generate_fabric("fab-east", FabricSpec())
    subnets = {f"{v['metadata']['name']}/{s}" for v in by_kind(objects, "VPC") for s in v["spec"]["subnets"]}
    assert {a["spec"]["subnet"] for a in by_kind(objects, "VPCAttachment")} == subnets


def test_many_leaves_break_out_spine_ports():
    objects = generate_fabric("fab-big", FabricSpec(leaves=40, servers_per_leaf=2))
    spine = by_kind(objects, "Switch")[0]["spec"]
    assert spine["role"] == "spine" and spine["portBreakouts"]  # 80 links > 32 ports
    assert set(spine["portBreakouts"].values()) <= {"4x25G", "4x100G"}


def test_every_kind_is_known_and_authored_ones_are_marked_authored():
    spec = FabricSpec(external=True)
    desired = generate_fabric("fab-east", spec)
    for obj in desired:
        group, version = split_api_version(obj["apiVersion"])
        known = kind_for(group, obj["kind"])
        assert known is not None and known in KINDS and known.version == version
        assert known.authored, obj["kind"]
    for obj in generate_controller_objects("fab-east", spec, desired):
        group, version = split_api_version(obj["apiVersion"])
        known = kind_for(group, obj["kind"])
        assert known is not None and known.version == version
        assert not known.authored, obj["kind"]


def _shape(value: Any, prefix: str = "", wildcard: frozenset[str] = frozenset()) -> set[str]:
    """Key paths of a YAML value; list items become [] and keys of `wildcard` maps become *."""
    if isinstance(value, dict):
        out = set()
        for key, item in value.items():
            step = "*" if prefix in wildcard else key
            out |= {f"{prefix}.{step}"} | _shape(item, f"{prefix}.{step}", wildcard)
        return out
    if isinstance(value, list):
        out = {f"{prefix}[]"}
        for item in value:
            out |= _shape(item, f"{prefix}[]", wildcard)
        return out
    return set()


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the shared Hedgehog samples are not checked out here")
def test_shapes_match_the_real_hedgehog_samples():
    samples: list[Obj] = []
    for path in sorted(SAMPLES.rglob("*.yaml")):
        samples += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d.get("spec")]
    wildcard = frozenset({".subnets", ".permit[]"})  # names chosen by the author
    real: dict[str, set[str]] = defaultdict(set)
    for obj in samples:
        key = obj["kind"] + (f"/{connection_type(obj)}" if obj["kind"] == "Connection" else "")
        real[key] |= _shape(obj["spec"], "", wildcard)
    real["Connection/mclag"] = {p.replace(".eslag", ".mclag") for p in real["Connection/eslag"]}
    # Fields the samples do not happen to show but the v1beta1 types define (the wiring sample
    # is from before hydration, which fills in a switch's addresses and ASN).
    optional = {".unbundled.mtu", ".bundled.mtu", ".bundled.fallback", ".mclag.mtu", ".mclag.fallback"}
    optional |= {".eslag.mtu", ".eslag.fallback", ".asn", ".ip", ".protocolIP", ".vtepIP"}
    optional |= {".groups", ".groups[]", ".redundancy.group", ".redundancy.type"}
    optional |= {".vlanNamespaces", ".vlanNamespaces[]"}
    generated = generate_fabric("fab-east", FabricSpec(external=True, vpcs=12, subnets_per_vpc=3, peerings=8))
    checked = set()
    for obj in generated:
        key = obj["kind"] + (f"/{connection_type(obj)}" if obj["kind"] == "Connection" else "")
        if key in real:
            checked.add(key)
            extra = _shape(obj["spec"], "", wildcard) - real[key] - optional
            assert not extra, f"{key} {obj['metadata']['name']} has fields no sample has: {sorted(extra)}"
    assert {"Switch", "VPC", "VPCAttachment", "VPCPeering", "ExternalPeering", "Connection/fabric"} <= checked


# --- controller objects --------------------------------------------------------------------------


def test_controller_objects_have_one_converged_agent_per_switch_and_a_dhcp_subnet_per_dhcp_subnet():
    spec = FabricSpec()
    desired = generate_fabric("fab-east", spec)
    controller = generate_controller_objects("fab-east", spec, desired)
    agents = by_kind(controller, "Agent")
    switches = {s["metadata"]["name"]: s for s in by_kind(desired, "Switch")}
    assert [a["metadata"]["name"] for a in agents] == list(switches)
    for agent in agents:
        assert agent["apiVersion"] == "agent.githedgehog.com/v1beta1"
        assert agent["status"]["lastAppliedGen"] == agent["metadata"]["generation"]
        heartbeat = datetime.strptime(agent["status"]["lastHeartbeat"], "%Y-%m-%dT%H:%M:%SZ")
        assert timedelta(0) < DEFAULT_NOW - heartbeat.replace(tzinfo=timezone.utc) < timedelta(minutes=1)
        switch = switches[agent["metadata"]["name"]]
        assert agent["spec"]["switch"] == switch["spec"] and agent["spec"]["switch"] is not switch["spec"]

    expected = {}
    for vpc in by_kind(desired, "VPC"):
        vpc_name = vpc["metadata"]["name"]
        for subnet_name, subnet in vpc["spec"]["subnets"].items():
            if (subnet.get("dhcp") or {}).get("enable"):
                expected[f"{vpc_name}--{subnet_name}"] = (vpc_name, subnet_name, subnet)
    dhcp_subnets = by_kind(controller, "DHCPSubnet")
    assert {d["metadata"]["name"] for d in dhcp_subnets} == set(expected) and expected
    for dhcp in dhcp_subnets:
        vpc_name, subnet_name, subnet = expected[dhcp["metadata"]["name"]]
        net = ipaddress.ip_network(subnet["subnet"])
        assert dhcp["apiVersion"] == "dhcp.githedgehog.com/v1beta1"
        assert dhcp["spec"]["subnet"] == f"{vpc_name}/{subnet_name}"
        assert dhcp["spec"]["cidrBlock"] == subnet["subnet"]
        assert dhcp["spec"]["circuitID"] == f"Vlan{subnet['vlan']}"
        assert dhcp["spec"]["vrf"] == f"VrfV{vpc_name}"
        for field in ("gateway", "startIP", "endIP"):
            assert ipaddress.ip_address(dhcp["spec"][field]) in net
        for lease in dhcp["status"].get("allocated", {}).values():
            assert ipaddress.ip_address(lease["ip"]) in net


def test_lagging_agents_have_not_applied_their_generation():
    spec = FabricSpec(lagging_agents=2)
    desired = generate_fabric("fab-east", spec)
    agents = by_kind(generate_controller_objects("fab-east", spec, desired), "Agent")
    lagging = [a for a in agents if a["status"]["lastAppliedGen"] != a["metadata"]["generation"]]
    assert len(lagging) == 2
    assert all(a["status"]["lastAppliedGen"] < a["metadata"]["generation"] for a in lagging)


def test_controller_objects_are_deterministic_and_follow_now():
    spec = FabricSpec()
    desired = generate_fabric("fab-east", spec)
    first = render_yaml(generate_controller_objects("fab-east", spec, desired))
    assert first == render_yaml(generate_controller_objects("fab-east", spec, desired))
    later = generate_controller_objects("fab-east", spec, desired, now=DEFAULT_NOW + timedelta(hours=1))
    assert render_yaml(later) != first
    assert later[0]["status"]["lastAppliedGen"] == generate_controller_objects("fab-east", spec, desired)[0][
        "status"
    ]["lastAppliedGen"]


# --- YAML and files ------------------------------------------------------------------------------


def test_render_yaml_parses_back_to_the_same_objects():
    spec = FabricSpec(external=True, lagging_agents=1)
    desired = generate_fabric("fab-east", spec)
    objects = desired + generate_controller_objects("fab-east", spec, desired)
    text = render_yaml(objects)
    assert text.startswith("---\n")
    assert "&id" not in text and "*id" not in text, "no YAML anchors or aliases"
    assert list(yaml.safe_load_all(text)) == objects
    # What yaml.safe_dump writes, even where libyaml's emitter does the work.
    assert text == yaml.safe_dump_all(objects, sort_keys=False, explicit_start=True)


def test_split_into_files_lays_out_a_gitops_repository():
    spec = FabricSpec(external=True)
    objects = generate_fabric("fab-east", spec)
    files = split_into_files(objects)
    assert list(files) == sorted(files)
    vpc_names = sorted(names(objects, "VPC"))
    assert set(files) == {
        "namespaces.yaml",
        "wiring/switch-groups.yaml",
        "wiring/switches.yaml",
        "wiring/servers.yaml",
        "wiring/connections.yaml",
        "vpc-peerings.yaml",
        "externals/internet.yaml",
        *(f"vpcs/{name}.yaml" for name in vpc_names),
    }
    parsed = {path: list(yaml.safe_load_all(text)) for path, text in files.items()}
    assert sorted(map(repr, (o for docs in parsed.values() for o in docs))) == sorted(map(repr, objects))
    for name in vpc_names:
        docs = parsed[f"vpcs/{name}.yaml"]
        assert docs[0]["kind"] == "VPC" and docs[0]["metadata"]["name"] == name
        for doc in docs[1:]:
            assert doc["kind"] == "VPCAttachment" and doc["spec"]["subnet"].startswith(f"{name}/")
    external_kinds = {d["kind"] for d in parsed["externals/internet.yaml"]}
    assert external_kinds == {"External", "ExternalAttachment", "ExternalPeering"}


def test_split_into_files_puts_controller_kinds_under_their_group():
    spec = FabricSpec()
    desired = generate_fabric("fab-east", spec)
    files = split_into_files(generate_controller_objects("fab-east", spec, desired))
    assert set(files) == {"agent/agents.yaml", "dhcp/dhcpsubnets.yaml"}


# --- the spec ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"spines": 0},
        {"leaves": 0},
        {"servers_per_leaf": -1},
        {"subnets_per_vpc": 21},
        {"mclag_share": 1.5},
        {"vpcs": 1001, "subnets_per_vpc": 2},  # more subnets than VLANs
        {"leaves": 65, "fabric_links": 2},  # more links than a spine's broken-out ports
        {"servers_per_leaf": 30},  # more server ports than a leaf has
        {"leaves": 2.5},
    ],
)
def test_impossible_specs_are_refused(bad):
    with pytest.raises(ValueError):
        FabricSpec(**bad)


def test_fabric_spec_is_frozen_and_hashable():
    spec = FabricSpec()
    assert hash(spec) == hash(FabricSpec())
    with pytest.raises(AttributeError):
        spec.leaves = 5  # type: ignore[misc]
