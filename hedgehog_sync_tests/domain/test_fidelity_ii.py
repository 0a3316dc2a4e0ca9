"""Drift fidelity II (issue 15, docs/contracts.md#drift-semantics): four classes the engine used to get wrong.

1. A Hedgehog object without `spec` is defaulted as Go defaults it: every kind holds its Spec by value
   (`Spec XSpec` in api/*/v1beta1/*_types.go and api/gateway/v1alpha1/*_types.go), so a document
   without one decodes to the zero spec and the webhook's Default() fills it like an empty one.
2. A change inside a list compared as a set is named at the element's position as written: in Git
   (`replace`, `remove`), or live for an element only live (`add`), never at its index after sorting.
3. An empty pointer-to-struct whose presence the agents or the controller read (`inboundACL: {}` on a
   static attachment with proxy, ...) is a setting: removing it live is drift.
4. When the Git spec is empty (or defaults to nothing), a live change is reported at the field, not as
   `add /spec {...}`.

Every expected value here is written by hand from the Go source of githedgehog/fabric at commit
78827debafabbd0fafc6f6abd154a89da7fb69da (each table row names the function it follows). The live side
is written out as the API server would store it (Default() applied by hand, Go's encoding, bookkeeping,
derived labels, status); no production defaulting or normalization builds any expectation.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hedgehog_sync.domain.diff import compare, diff_values
from hedgehog_sync.domain.kinds import GATEWAY, VPC, WIRING
from hedgehog_sync.domain.normalize import PRESENCE_MATTERS, normalize, normalize_with_positions

H = "high"
NO_SPEC = object()  # the document has no `spec` key at all


def git(group: str, kind: str, name: str, spec: Any = NO_SPEC) -> dict:
    """An object as written in Git."""
    version = "v1alpha1" if group == GATEWAY else "v1beta1"
    obj: dict[str, Any] = {"apiVersion": f"{group}/{version}", "kind": kind, "metadata": {"name": name}}
    if spec is not NO_SPEC:
        obj["spec"] = spec
    return obj


def served(desired: dict, spec: Any = NO_SPEC, labels: dict[str, str] | None = None) -> dict:
    """The object as the API server hands it back: the given (hand-defaulted) spec, bookkeeping, status."""
    meta = {"name": desired["metadata"]["name"], "namespace": "default", "uid": "0c6f3a4e-1111-4b7a-9d1e-5a0b1c2d3e4f",
            "resourceVersion": "4711", "generation": 1, "creationTimestamp": "2026-11-28T10:00:00Z",
            "labels": dict(labels or {})}
    obj: dict[str, Any] = {"apiVersion": desired["apiVersion"], "kind": desired["kind"], "metadata": meta,
                           "status": {}}
    if spec is not NO_SPEC:
        obj["spec"] = spec
    return json.loads(json.dumps(obj))


def changes(desired: dict, live: dict) -> list[tuple]:
    result = compare([desired], [live])
    assert not result.findings
    if not result.drifts:
        return []
    (drift,) = result.drifts
    assert drift.state == "modified"
    return [(c.op, c.path, c.desired, c.actual, c.severity) for c in drift.changes]


# --- 1. no spec at all ---------------------------------------------------------------------------------

EXTERNAL = git(VPC, "External", "internet")
NIL_SPEC = [
    # External.Default() (external_types.go): IPv4Namespace "" -> DefaultIPv4Namespace ("default"),
    # label fabric.githedgehog.com/ipv4ns.
    pytest.param(EXTERNAL, served(EXTERNAL, {"ipv4Namespace": "default"}, {"fabric.githedgehog.com/ipv4ns": "default"}),
                 [], id="external: no spec, stored with the default namespace"),
    pytest.param(git(VPC, "External", "internet", None),
                 served(EXTERNAL, {"ipv4Namespace": "default"}, {"fabric.githedgehog.com/ipv4ns": "default"}),
                 [], id="external: spec null, as no spec"),
    pytest.param(EXTERNAL, served(EXTERNAL, {"ipv4Namespace": "ns-2"}, {"fabric.githedgehog.com/ipv4ns": "ns-2"}),
                 [("replace", "/spec/ipv4Namespace", "default", "ns-2", H)], id="external: no spec, namespace changed live"),
    # VPC.Default() (vpc_types.go): IPv4Namespace and VLANNamespace default to "default".
    pytest.param(git(VPC, "VPC", "vpc-9"),
                 served(git(VPC, "VPC", "vpc-9"), {"ipv4Namespace": "default", "vlanNamespace": "default"},
                        {"fabric.githedgehog.com/ipv4ns": "default", "fabric.githedgehog.com/vlanns": "default"}),
                 [], id="vpc: no spec, stored with both namespaces"),
    # Switch.Default() (switch_types.go): len(VLANNamespaces) == 0 -> ["default"]; LabelProfile = "".
    pytest.param(git(WIRING, "Switch", "leaf-09"),
                 served(git(WIRING, "Switch", "leaf-09"), {"vlanNamespaces": ["default"]},
                        {"fabric.githedgehog.com/profile": "", "vlanns.fabric.githedgehog.com/default": "true"}),
                 [], id="switch: no spec, stored with the default VLAN namespace"),
    # Gateway.Default() (gateway_types.go): logs.default info, logs.tags {all: info}, workers 4,
    # groups [{name: default, priority 0}] (priority omitempty).
    pytest.param(git(GATEWAY, "Gateway", "gw-9"),
                 served(git(GATEWAY, "Gateway", "gw-9"), {"logs": {"default": "info", "tags": {"all": "info"}},
                                                          "workers": 4, "groups": [{"name": "default"}]}),
                 [], id="gateway: no spec, stored with logs, workers and group"),
    pytest.param(git(GATEWAY, "Gateway", "gw-9"),
                 served(git(GATEWAY, "Gateway", "gw-9"), {"logs": {"default": "info", "tags": {"all": "info"}},
                                                          "workers": 8, "groups": [{"name": "default"}]}),
                 [("replace", "/spec/workers", 4, 8, H)], id="gateway: no spec, workers changed live"),
    # ExternalAttachment.Default() touches no spec field; Switch and Neighbor are structs without
    # omitempty, so Go writes them as {}.
    pytest.param(git(VPC, "ExternalAttachment", "ext-att"),
                 served(git(VPC, "ExternalAttachment", "ext-att"), {"switch": {}, "neighbor": {}},
                        {"fabric.githedgehog.com/connection": "", "fabric.githedgehog.com/external": ""}),
                 [], id="externalattachment: no spec, stored with empty structs"),
]


@pytest.mark.parametrize(("desired", "live", "expected"), NIL_SPEC)
def test_an_object_without_spec_is_defaulted_as_go_defaults_a_nil_spec(desired: dict, live: dict,
                                                                        expected: list[tuple]) -> None:
    assert changes(desired, live) == expected


# --- 2. set elements named at their position as written ----------------------------------------------

SW = git(WIRING, "Switch", "leaf-01", {"profile": "p", "groups": ["zz-rack", "aa-rack"], "vlanNamespaces": ["default"]})
VLAN_NS = git(WIRING, "VLANNamespace", "default", {"ranges": [{"from": 3000, "to": 3099}, {"from": 1000, "to": 1099}]})
ROUTES = git(VPC, "VPC", "vpc-1", {"ipv4Namespace": "default", "vlanNamespace": "default",
                                   "permit": [["d", "c"], ["b", "a"]],
                                   "staticRoutes": [{"prefix": "10.99.0.0/16", "nextHops": ["10.0.0.2", "10.0.0.1"]},
                                                    {"prefix": "10.50.0.0/16", "nextHops": ["10.0.0.1"]}]})
STATIC_EXT = git(VPC, "External", "static-ext", {"ipv4Namespace": "default", "static": {"prefixes": ["10.9.0.0/16", "10.1.0.0/16"]}})
ACL_ATTACH = git(VPC, "ExternalAttachment", "att-1", {
    "external": "static-ext", "connection": "leaf-01--static-external",
    "static": {"remoteIP": "100.100.0.1", "ip": "100.100.0.2/30"},
    "inboundACL": {"statements": [
        {"seq": 20, "action": "permit", "protocol": "ip", "srcPrefix": "any", "dstPrefix": "10.9.0.0/16"},
        {"seq": 10, "action": "permit", "protocol": "ip", "srcPrefix": "any", "dstPrefix": "10.1.0.0/16"}]}})
FABRIC_CONN = git(WIRING, "Connection", "spine-01--fabric--leaf-01", {"fabric": {"links": [
    {"spine": {"port": "spine-01/E1/2", "ip": "172.30.128.2/31"}, "leaf": {"port": "leaf-01/E1/2", "ip": "172.30.128.3/31"}},
    {"spine": {"port": "spine-01/E1/1", "ip": "172.30.128.0/31"}, "leaf": {"port": "leaf-01/E1/1", "ip": "172.30.128.1/31"}}]}})
GW = git(GATEWAY, "Gateway", "gw-1", {
    "logs": {"default": "info", "tags": {"all": "info"}}, "workers": 4,
    "groups": [{"name": "zeta", "priority": 1}, {"name": "alpha"}],
    "neighbors": [{"ip": "172.30.128.8", "asn": 65100}, {"ip": "172.30.128.10", "asn": 65100}]})
VPC_LABELS = {"fabric.githedgehog.com/ipv4ns": "default", "fabric.githedgehog.com/vlanns": "default"}

SET_POSITIONS = [
    # Switch.Default(): sort.Strings(Groups) -- stored sorted, ["aa-rack", "zz-rack"]; zz-rack is first in Git.
    pytest.param(SW, served(SW, {"profile": "p", "groups": ["aa-rack", "yy-rack"], "vlanNamespaces": ["default"]}),
                 [("replace", "/spec/groups/0", "zz-rack", "yy-rack", H)], id="switch: group renamed live"),
    pytest.param(SW, served(SW, {"profile": "p", "groups": ["aa-rack"], "vlanNamespaces": ["default"]}),
                 [("remove", "/spec/groups/0", "zz-rack", None, H)], id="switch: group removed live"),
    # VLANNamespace.Default() -> meta.NormalizedVLANRanges sorts by (from, to): stored [1000.., 3000..].
    pytest.param(VLAN_NS, served(VLAN_NS, {"ranges": [{"from": 1000, "to": 1099}, {"from": 3000, "to": 3050}]}),
                 [("replace", "/spec/ranges/0/to", 3099, 3050, H)], id="vlannamespace: range changed live"),
    # VPC.Default() sorts neither staticRoutes nor nextHops nor permit: stored as written, then edited.
    pytest.param(ROUTES, served(ROUTES, {"ipv4Namespace": "default", "vlanNamespace": "default",
                                         "permit": [["d", "c"], ["b", "a"]],
                                         "staticRoutes": [{"prefix": "10.99.0.0/16", "nextHops": ["10.0.0.3", "10.0.0.1"]},
                                                          {"prefix": "10.50.0.0/16", "nextHops": ["10.0.0.1"]}]}, VPC_LABELS),
                 [("replace", "/spec/staticRoutes/0/nextHops/0", "10.0.0.2", "10.0.0.3", H)],
                 id="vpc: next hop changed live, inside a route"),
    pytest.param(ROUTES, served(ROUTES, {"ipv4Namespace": "default", "vlanNamespace": "default",
                                         "permit": [["e", "c"], ["b", "a"]],
                                         "staticRoutes": [{"prefix": "10.99.0.0/16", "nextHops": ["10.0.0.2", "10.0.0.1"]},
                                                          {"prefix": "10.50.0.0/16", "nextHops": ["10.0.0.1"]}]}, VPC_LABELS),
                 [("replace", "/spec/permit/0/0", "d", "e", H)], id="vpc: subnet of a permit policy changed live"),
    # External.Default() does not sort static prefixes: the live list is as written, then edited.
    pytest.param(STATIC_EXT, served(STATIC_EXT, {"ipv4Namespace": "default", "static": {"prefixes": ["10.8.0.0/16", "10.1.0.0/16"]}}),
                 [("replace", "/spec/static/prefixes/0", "10.9.0.0/16", "10.8.0.0/16", H)], id="external: prefix changed live"),
    pytest.param(STATIC_EXT, served(STATIC_EXT, {"ipv4Namespace": "default",
                                                 "static": {"prefixes": ["10.9.0.0/16", "10.1.0.0/16", "10.0.0.0/8"]}}),
                 [("add", "/spec/static/prefixes/2", None, "10.0.0.0/8", H)], id="external: prefix only live, at its live index"),
    # ExternalAttachment: statements are ordered by seq, not position (plan.go planInboundACL keys by Seq).
    pytest.param(ACL_ATTACH, served(ACL_ATTACH, {
        "external": "static-ext", "connection": "leaf-01--static-external", "switch": {}, "neighbor": {},
        "static": {"remoteIP": "100.100.0.1", "ip": "100.100.0.2/30"},
        "inboundACL": {"statements": [
            {"seq": 20, "action": "permit", "protocol": "ip", "srcPrefix": "any", "dstPrefix": "10.8.0.0/16"},
            {"seq": 10, "action": "permit", "protocol": "ip", "srcPrefix": "any", "dstPrefix": "10.1.0.0/16"}]}}),
        [("replace", "/spec/inboundACL/statements/0/dstPrefix", "10.9.0.0/16", "10.8.0.0/16", H)],
        id="externalattachment: ACL statement changed live"),
    # Connection.Default() leaves links as written.
    pytest.param(FABRIC_CONN, served(FABRIC_CONN, {"fabric": {"links": [
        {"spine": {"port": "spine-01/E1/2", "ip": "172.30.128.2/31"}, "leaf": {"port": "leaf-01/E1/2", "ip": "172.30.128.3/31"}},
        {"spine": {"port": "spine-01/E1/1", "ip": "172.30.128.0/31"}, "leaf": {"port": "leaf-01/E1/5", "ip": "172.30.128.1/31"}}]}}),
        [("replace", "/spec/fabric/links/1/leaf/port", "leaf-01/E1/1", "leaf-01/E1/5", H)],
        id="connection: link port changed live"),
    # Gateway.Default(): slices.SortFunc(Groups) by name -> stored [alpha, zeta]; neighbors not sorted.
    pytest.param(GW, served(GW, {"logs": {"default": "info", "tags": {"all": "info"}}, "workers": 4,
                                 "groups": [{"name": "alpha"}, {"name": "zeta", "priority": 2}],
                                 "neighbors": [{"ip": "172.30.128.8", "asn": 65200}, {"ip": "172.30.128.10", "asn": 65100}]}),
                 [("replace", "/spec/groups/0/priority", 1, 2, H), ("replace", "/spec/neighbors/0/asn", 65100, 65200, H)],
                 id="gateway: group priority and neighbor ASN changed live"),
]


@pytest.mark.parametrize(("desired", "live", "expected"), SET_POSITIONS)
def test_a_set_element_is_named_at_its_position_as_written(desired: dict, live: dict, expected: list[tuple]) -> None:
    assert changes(desired, live) == expected


def test_a_live_only_element_is_named_at_its_live_position_after_live_reordering() -> None:
    """The live list is in an order Git never had; the added element is named where it is live."""
    live = served(STATIC_EXT, {"ipv4Namespace": "default", "static": {"prefixes": ["10.1.0.0/16", "10.0.0.0/8", "10.9.0.0/16"]}})
    assert changes(STATIC_EXT, live) == [("add", "/spec/static/prefixes/1", None, "10.0.0.0/8", H)]


@pytest.mark.parametrize("obj", [SW, VLAN_NS, ROUTES, STATIC_EXT, ACL_ATTACH, FABRIC_CONN, GW],
                         ids=lambda o: o["kind"])
def test_tracking_positions_does_not_change_the_normalized_form(obj: dict) -> None:
    tracked, _ = normalize_with_positions(obj)
    assert tracked == normalize(obj)


def test_without_positions_the_diff_names_normalized_indexes() -> None:
    """diff_values alone (no positions) keeps its documented behaviour: normalized indexes."""
    found = diff_values({"spec": {"l": ["a", "b"]}}, {"spec": {"l": ["a", "c"]}}, VPC, ["/spec/l"])
    assert [(c.op, c.path) for c in found] == [("replace", "/spec/l/1")]


# --- 3. empty objects whose presence the agents read ---------------------------------------------------

PROXY = git(VPC, "ExternalAttachment", "att-proxy", {
    "external": "static-ext", "connection": "leaf-01--static-external",
    "static": {"remoteIP": "100.100.0.1", "proxy": True}, "inboundACL": {}})
PROXY_LIVE_SPEC = {"external": "static-ext", "connection": "leaf-01--static-external", "switch": {}, "neighbor": {},
                   "static": {"remoteIP": "100.100.0.1", "proxy": True}}
NO_PROXY = git(VPC, "ExternalAttachment", "att-plain", {
    "external": "static-ext", "connection": "leaf-01--static-external",
    "static": {"remoteIP": "100.100.0.1", "ip": "100.100.0.2/30"}, "inboundACL": {}})
BGP = git(VPC, "ExternalAttachment", "att-bgp", {
    "external": "internet", "connection": "leaf-01--external",
    "switch": {"ip": "100.100.0.5/30"}, "neighbor": {"asn": 64102, "ip": "100.100.0.6"}, "inboundACL": {}})
UNBUNDLED = git(WIRING, "Connection", "server-01--unbundled--leaf-01", {"unbundled": {}})
PROFILE = git(WIRING, "SwitchProfile", "custom", {"portProfiles": {"SFP28-25G": {"speed": {}}}})
NAT_PEERING = git(GATEWAY, "GatewayPeering", "vpc-1--vpc-2", {"peering": {
    "vpc-1": {"expose": [{"ips": [{"cidr": "10.0.1.0/24"}], "as": [{"cidr": "192.168.1.0/24"}], "nat": {}}]},
    "vpc-2": {"expose": [{"ips": [{"cidr": "10.0.2.0/24"}]}]}}})
# GatewayPeering.Default() with exactly two VPCs: gatewayGroup "default" (gatewaypeering_types.go).
NAT_LIVE_NO_NAT = {"gatewayGroup": "default", "peering": {
    "vpc-1": {"expose": [{"ips": [{"cidr": "10.0.1.0/24"}], "as": [{"cidr": "192.168.1.0/24"}]}]},
    "vpc-2": {"expose": [{"ips": [{"cidr": "10.0.2.0/24"}]}]}}}

PRESENCE = [
    # plan.go (planExternals, static branch): with Static.Proxy an ingress ACL is programmed only
    # `else if attach.InboundACL != nil`, so `inboundACL: {}` binds an (empty) ACL; removed, none is bound.
    pytest.param(PROXY, served(PROXY, PROXY_LIVE_SPEC), [("remove", "/spec/inboundACL", {}, None, H)],
                 id="externalattachment: empty inboundACL removed live on a proxy attachment"),
    pytest.param(git(VPC, "ExternalAttachment", "att-proxy", {k: v for k, v in PROXY["spec"].items() if k != "inboundACL"}),
                 served(PROXY, {**PROXY_LIVE_SPEC, "inboundACL": {}}), [("add", "/spec/inboundACL", None, {}, H)],
                 id="externalattachment: empty inboundACL added live on a proxy attachment"),
    pytest.param(PROXY, served(PROXY, {**PROXY_LIVE_SPEC, "inboundACL": {}}), [],
                 id="externalattachment: empty inboundACL kept live"),
    # Only the proxy switched off live: the unchanged `inboundACL: {}` is not reported as removed.
    pytest.param(PROXY, served(PROXY, {**PROXY_LIVE_SPEC, "static": {"remoteIP": "100.100.0.1"}, "inboundACL": {}}),
                 [("remove", "/spec/static/proxy", True, None, H)],
                 id="externalattachment: proxy switched off live, empty inboundACL kept"),
    pytest.param(PROXY, served(PROXY, {**PROXY_LIVE_SPEC, "static": {"remoteIP": "100.100.0.1"}}),
                 [("remove", "/spec/inboundACL", {}, None, H), ("remove", "/spec/static/proxy", True, None, H)],
                 id="externalattachment: proxy switched off and inboundACL removed live"),
    # Without proxy, and on BGP attachments, planHardenedInboundACL runs either way and reads only
    # `if userACL != nil { for ... Statements }`: nil and empty program the same.
    pytest.param(NO_PROXY, served(NO_PROXY, {"external": "static-ext", "connection": "leaf-01--static-external",
                                             "switch": {}, "neighbor": {},
                                             "static": {"remoteIP": "100.100.0.1", "ip": "100.100.0.2/30"}}),
                 [], id="externalattachment: empty inboundACL removed live, no proxy: same program"),
    pytest.param(BGP, served(BGP, {"external": "internet", "connection": "leaf-01--external",
                                   "switch": {"ip": "100.100.0.5/30"}, "neighbor": {"asn": 64102, "ip": "100.100.0.6"}}),
                 [], id="externalattachment: empty inboundACL removed live, BGP: same program"),
    # Connection: which pointer is set is the connection type (ConnectionSpec.Type()).
    pytest.param(UNBUNDLED, served(UNBUNDLED, {}), [("remove", "/spec/unbundled", {}, None, H)],
                 id="connection: empty type struct removed live"),
    # SwitchProfile: profile.Speed != nil chooses speed configuration (switchprofile_types.go, spec_system.go).
    pytest.param(PROFILE, served(PROFILE, {"portProfiles": {"SFP28-25G": {}}}),
                 [("remove", "/spec/portProfiles/SFP28-25G/speed", {}, None, H)],
                 id="switchprofile: empty speed removed live"),
    # GatewayPeering: expose.NAT != nil is read by Validate ((len(As) == 0) != (NAT == nil)).
    pytest.param(NAT_PEERING, served(NAT_PEERING, NAT_LIVE_NO_NAT),
                 [("remove", "/spec/peering/vpc-1/expose/0/nat", {}, None, H)],
                 id="gatewaypeering: empty nat removed live"),
    # External: Static != nil makes the External static (External.Validate, plan.go).
    pytest.param(git(VPC, "External", "ext-s", {"ipv4Namespace": "default", "static": {}}),
                 served(git(VPC, "External", "ext-s"), {"ipv4Namespace": "default"}, {"fabric.githedgehog.com/ipv4ns": "default"}),
                 [("remove", "/spec/static", {}, None, H)], id="external: empty static removed live"),
]


@pytest.mark.parametrize(("desired", "live", "expected"), PRESENCE)
def test_an_empty_object_whose_presence_matters_is_not_absent(desired: dict, live: dict, expected: list[tuple]) -> None:
    assert changes(desired, live) == expected


def test_presence_rules_are_data_per_kind() -> None:
    """The rules are a table of pointers with conditions, one entry per affected kind."""
    assert ("/spec/inboundACL", (("/spec/static/proxy", True),)) in PRESENCE_MATTERS[(VPC, "ExternalAttachment")]
    for rules in PRESENCE_MATTERS.values():
        for pointer, conditions in rules:
            assert pointer.startswith("/spec/")
            assert all(p.startswith("/spec/") for p, _ in conditions)


# --- 4. an empty Git spec: changes at the field ---------------------------------------------------------

SERVER = git(WIRING, "Server", "server-01", {})
EA_EMPTY = git(VPC, "ExternalAttachment", "att-empty", {})
PEERING_EMPTY = git(GATEWAY, "GatewayPeering", "p-empty")
EMPTY_SPEC = [
    # Server.Default() sets no spec field (server_types.go).
    pytest.param(SERVER, served(SERVER, {"description": "rack 1"}), [("add", "/spec/description", None, "rack 1", H)],
                 id="server: empty spec, description added live"),
    pytest.param(git(WIRING, "Server", "server-01", {"description": "rack 1"}), served(SERVER),
                 [("remove", "/spec/description", "rack 1", None, H)], id="server: spec removed live, named per field"),
    # ExternalAttachment.Default() sets no spec field; Switch/Neighbor are written as {}.
    pytest.param(EA_EMPTY, served(EA_EMPTY, {"switch": {}, "neighbor": {"asn": 65001}}),
                 [("add", "/spec/neighbor", None, {"asn": 65001}, H)], id="externalattachment: empty spec, neighbor set live"),
    # GatewayPeering.Default() returns before any spec default unless exactly two VPCs are peered.
    pytest.param(PEERING_EMPTY, served(PEERING_EMPTY, {"gatewayGroup": "gg-2"}),
                 [("add", "/spec/gatewayGroup", None, "gg-2", H)], id="gatewaypeering: no spec, group set live"),
    # VPC.Default() fills the namespaces; an edited one is named at the field.
    pytest.param(git(VPC, "VPC", "vpc-9", {}),
                 served(git(VPC, "VPC", "vpc-9"), {"ipv4Namespace": "default", "vlanNamespace": "vlan-2"}, VPC_LABELS),
                 [("replace", "/spec/vlanNamespace", "default", "vlan-2", H)], id="vpc: empty spec, VLAN namespace changed live"),
]


@pytest.mark.parametrize(("desired", "live", "expected"), EMPTY_SPEC)
def test_a_change_to_an_empty_git_spec_is_named_at_the_field(desired: dict, live: dict, expected: list[tuple]) -> None:
    assert changes(desired, live) == expected
