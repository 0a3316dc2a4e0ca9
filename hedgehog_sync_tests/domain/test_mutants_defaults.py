"""Hedgehog's defaulting against Go's semantics, value by value (issue 19: mutation score of defaults.py).

Every expected value is written from the Go source the rule mirrors (githedgehog/fabric's Default()
methods, Go's time.ParseDuration / Duration.String, net.ParseMAC, netip.ParsePrefix), never computed by
calling the code under test. The helpers are pure, so they are also checked one by one.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hedgehog_sync.domain import defaults as d
from hedgehog_sync.domain.defaults import apply_defaults
from hedgehog_sync.domain.kinds import GATEWAY, VPC, WIRING

def params(names: Any, table: Any) -> Any:
    """parametrize with plain numbered ids: the values hold characters pytest node ids cannot take."""
    table = list(table)
    return pytest.mark.parametrize(names, table, ids=[f"case{i}" for i in range(len(table))])


WIRING_API, VPC_API, GATEWAY_API = f"{WIRING}/v1beta1", f"{VPC}/v1beta1", f"{GATEWAY}/v1alpha1"
NS_H = 1
US = 1_000
MS = 1_000_000
S = 1_000_000_000
MIN = 60 * S
H = 3600 * S


# --- time.ParseDuration ----------------------------------------------------------------------------

@params(("text", "nanoseconds"), [
    ("0", 0), ("-0", 0), ("+0", 0),
    ("0s", 0), ("0ns", 0), ("-0s", 0),
    ("1ns", 1), ("7ns", 7),
    ("1us", US), ("1\u00b5s", US), ("1\u03bcs", US),
    ("1ms", MS), ("1s", S), ("1m", MIN), ("1h", H),
    ("+45s", 45 * S), ("-45s", -45 * S), ("-1h", -H),
    ("1h2m3s", H + 2 * MIN + 3 * S),
    ("2m0s", 2 * MIN), ("120s", 120 * S),
    ("1.5h", H + 30 * MIN), ("1.5s", 1_500 * MS), (".5s", 500 * MS), ("5.s", 5 * S), ("0.5ms", 500 * US),
    ("1.25m", 75 * S), ("10.001s", 10 * S + MS),
    ("1s500ms", 1_500 * MS), ("3h3m3s3ms3us3ns", 3 * H + 3 * MIN + 3 * S + 3 * MS + 3 * US + 3),
    ("100ns", 100), ("1000us", MS), ("0.000000001s", 1),
    # a fraction past what uint64 holds: Go ignores the digits that would overflow
    ("1.00000000000000000000000000001s", S),
    ("0.1000000000000000000000000001s", 100 * MS),
    # int64 bounds: 1<<63 - 1 is the largest positive duration, -(1<<63) the smallest
    ("9223372036854775807ns", 2 ** 63 - 1),
    ("-9223372036854775808ns", -(2 ** 63)),
    ("9223372036s", 9_223_372_036 * S),
    ("2562047h", 2_562_047 * H), ("153722867m", 153_722_867 * MIN),
    ("-2562047h47m16.854775808s", -(2 ** 63)),
    ("2562047h47m16.854775807s", 2 ** 63 - 1),
])
def test_go_parse_duration(text: str, nanoseconds: int) -> None:
    assert d._parse_go_duration(text) == nanoseconds


@params("text", [
    "", "-", "+", "1", "-1", "12", ".", ".s", "-.s", "s", "1x", "1 s", " 1s", "1s ", "1s-", "1S", "1H", "1sec",
    "1.5", "1h2", "1..5s", "1s.", "1e3s", "x1s", "--1s", "+-1s", "1ns2", "\u00b51s", "1ms-1s",
    "9223372036854775808ns",  # 1<<63 is too large for a positive duration
    "9223372036854775809ns", "-9223372036854775809ns",
    "99999999999999999999ns",  # leadingInt overflows
    "2562048h", "9223372037s", "153722868m",
    "2562047h47m16.854775808s",  # exactly 1<<63: only the negative one exists
    "2562047h47m17s",
    "1h9223372036854775807ns",  # the sum overflows
    "9223372036854775807ns1ns",
])
def test_go_parse_duration_refuses(text: str) -> None:
    assert d._parse_go_duration(text) is None


def test_leading_digits() -> None:
    assert d._leading_digits("123abc4") == "123"
    assert d._leading_digits("abc") == ""
    assert d._leading_digits("") == ""
    assert d._leading_digits("0") == "0"
    assert d._leading_digits("09:") == "09"
    assert d._leading_digits("/:") == ""  # the characters either side of 0-9


# --- time.Duration.String --------------------------------------------------------------------------

@params(("nanoseconds", "text"), [
    (0, "0s"),
    (1, "1ns"), (999, "999ns"), (-1, "-1ns"),
    (US, "1\u00b5s"), (1_500, "1.5\u00b5s"), (1_001, "1.001\u00b5s"), (999_999, "999.999\u00b5s"), (-1_500, "-1.5\u00b5s"),
    (MS, "1ms"), (1_500 * US, "1.5ms"), (MS + 1, "1.000001ms"), (999_999_999, "999.999999ms"), (-MS, "-1ms"),
    (S, "1s"), (S + 1, "1.000000001s"), (1_500 * MS, "1.5s"), (59 * S, "59s"), (-S, "-1s"),
    (MIN, "1m0s"), (90 * S, "1m30s"), (2 * MIN, "2m0s"), (59 * MIN + 59 * S, "59m59s"), (-2 * MIN, "-2m0s"),
    (H, "1h0m0s"), (H + 1, "1h0m0.000000001s"), (H + 30 * MIN, "1h30m0s"), (25 * H + MIN + S, "25h1m1s"),
    (100 * H + 500 * MS, "100h0m0.5s"), (-H, "-1h0m0s"),
    (2 ** 63 - 1, "2562047h47m16.854775807s"),
    (-(2 ** 63), "-2562047h47m16.854775808s"),
])
def test_go_duration_string(nanoseconds: int, text: str) -> None:
    assert d._format_go_duration(nanoseconds) == text


@params(("value", "precision", "expected"), [
    (1_500, 3, (".5", 1)), (1_000, 3, ("", 1)), (1_001, 3, (".001", 1)), (999, 3, (".999", 0)),
    (12_340_000, 6, (".34", 12)), (0, 9, ("", 0)), (10, 1, ("", 1)), (15, 1, (".5", 1)),
])
def test_fraction(value: int, precision: int, expected: tuple[str, int]) -> None:
    assert d._fraction(value, precision) == expected


# --- net.ParseMAC(...).String() -------------------------------------------------------------------

@params(("text", "canonical"), [
    ("00:00:5e:00:53:01", "00:00:5e:00:53:01"),
    ("AA:BB:CC:DD:EE:FF", "aa:bb:cc:dd:ee:ff"),
    ("aA-bB-cC-dD-eE-fF", "aa:bb:cc:dd:ee:ff"),
    ("0000.5e00.5301", "00:00:5e:00:53:01"),
    ("AABB.CCDD.EEFF", "aa:bb:cc:dd:ee:ff"),
    ("02:00:5e:10:00:00:00:01", "02:00:5e:10:00:00:00:01"),  # EUI-64
    ("0200.5E10.0000.0001", "02:00:5e:10:00:00:00:01"),
    ("00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
     "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01"),  # 20-octet IP over InfiniBand
    ("0000.0000.FE80.0000.0000.0000.0200.5E10.0000.0001",
     "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01"),
])
def test_go_parse_mac(text: str, canonical: str) -> None:
    assert d._canonical_mac(text) == canonical


@params("text", [
    "", "aa:bb:cc:dd:e", "aa:bb:cc:dd:ee",  # shorter than 14
    "aa:bb:cc:dd:ee:f", "aa:bb:cc:dd:ee:fff", "aa:bb:cc:dd:ee:fg", "aa:bb:cc:dd:ee:ff:", ":aa:bb:cc:dd:ee:ff",
    "aa:bb:cc:dd:ee:ff:00",  # 7 octets
    "aa:bb:cc:dd:ee:ff:00:11:22",  # 9 octets
    "aa:bb-cc:dd:ee:ff", "aa-bb-cc-dd-ee:ff",  # mixed separators
    "aabb.ccdd.eef", "aabb.ccdd.eeff.", "aabb.ccdd.eefg", "aabb.ccdd.ee:ff", "aabb.ccdd.eeff.00", "aabb.ccdd.eeff0",
    "aabb:ccdd:eeff", "aabbccddeeff00", "aa.bb.cc.dd.ee.ff",
    "\u00e0a:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:\uff10\uff10",
    "+a:bb:cc:dd:ee:ff", " a:bb:cc:dd:ee:ff",
])
def test_go_parse_mac_refuses(text: str) -> None:
    assert d._canonical_mac(text) is None


# --- netip.ParsePrefix (IPv4), masked ---------------------------------------------------------------

@params(("text", "network"), [
    ("10.0.0.0/8", "10.0.0.0/8"), ("10.1.2.3/8", "10.0.0.0/8"), ("0.0.0.0/0", "0.0.0.0/0"),
    ("255.255.255.255/32", "255.255.255.255/32"), ("192.168.7.9/31", "192.168.7.8/31"),
    ("1.2.3.4/0", "0.0.0.0/0"), ("100.64.0.0/10", "100.64.0.0/10"), ("199.99.9.0/24", "199.99.9.0/24"),
])
def test_go_parse_prefix(text: str, network: str) -> None:
    assert str(d._parse_ipv4_prefix(text)) == network


@params("text", [
    "10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/99", "10.0.0.0/100", "10.0.0.0/08", "010.0.0.0/8",
    "10.00.0.0/8", "256.0.0.0/8", "10.0.0.256/8", "1000.0.0.0/8", "10.0.0/8", "10.0.0.0.0/8", "10.0.0.0/8 ",
    " 10.0.0.0/8", "10.0.0.0/255.0.0.0", "fd00::/8", "a.b.c.d/8", "10.0.0.0/-1", "10.0.0.0/+8", "", None, 10,
])
def test_go_parse_prefix_refuses(text: Any) -> None:
    assert d._parse_ipv4_prefix(text) is None


def test_address_after() -> None:
    import ipaddress
    assert d._address_after(ipaddress.IPv4Address("10.0.0.0"), 1) == "10.0.0.1"
    assert d._address_after(ipaddress.IPv4Address("10.0.0.255"), 2) == "10.0.1.1"
    assert d._address_after(ipaddress.IPv4Address("255.255.255.254"), 1) == "255.255.255.255"
    assert d._address_after(ipaddress.IPv4Address("255.255.255.255"), 1) is None
    assert d._address_after(ipaddress.IPv4Address("255.255.255.254"), 2) is None


# --- the kinds' Default() at their corners ------------------------------------------------------------

def make(api: str, kind: str, spec: Any = None, **meta: Any) -> dict:
    out: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": {"name": "x", "namespace": "default", **meta}}
    if spec is not None:
        out["spec"] = spec
    return out


def ranges_after(*ranges: Any) -> Any:
    return apply_defaults(make(WIRING_API, "VLANNamespace", {"ranges": list(ranges)}))["spec"].get("ranges", "dropped")


@params(("ranges", "expected"), [
    # NormalizedVLANRanges: To 0 means To = From; each range within 1..4094 with From <= To; sorted
    ([{"from": 1, "to": 4094}], [{"from": 1, "to": 4094}]),
    ([{"from": 4094}], [{"from": 4094, "to": 4094}]),
    ([{"from": 1}], [{"from": 1, "to": 1}]),
    ([{"from": 7, "to": 0}], [{"from": 7, "to": 7}]),
    ([{"from": 7, "to": None}], [{"from": 7, "to": 7}]),
    ([{"from": 7, "to": 7}], [{"from": 7, "to": 7}]),
    ([{"from": 20, "to": 30}, {"from": 10, "to": 40}, {"from": 10, "to": 15}],
     [{"from": 10, "to": 15}, {"from": 10, "to": 40}, {"from": 20, "to": 30}]),
    ([], []),
    # invalid ranges: upstream's inverted error check replaces them all with nil
    ([{"from": 0, "to": 10}], "dropped"),
    ([{"to": 10}], "dropped"),
    ([{"from": 1, "to": 4095}], "dropped"),
    ([{"from": 4095}], "dropped"),
    ([{"from": 11, "to": 10}], "dropped"),
    ([{"from": 5, "to": 6}, {"from": 0, "to": 6}], "dropped"),
    ([{"from": 65535}], "dropped"),  # still a uint16, so decoded, then invalid
    ([{}], "dropped"),
])
def test_vlan_namespace_ranges(ranges: list, expected: Any) -> None:
    assert ranges_after(*ranges) == expected


@params("ranges", [
    # not a []VLANRange the Go decoder accepts (uint16 fields): no live object can exist, left as written
    [{"from": 65536, "to": 0}], [{"from": -1, "to": 5}], [{"from": 1, "to": 65536}], [{"from": True}],
    [{"from": "1", "to": 2}], [{"from": 1.0, "to": 2}], [{"from": 5}, "x"], [None],
])
def test_vlan_ranges_go_cannot_decode_stay(ranges: list) -> None:
    assert ranges_after(*copy.deepcopy(ranges)) == ranges


def test_vlan_ranges_not_a_list_stay() -> None:
    assert apply_defaults(make(WIRING_API, "VLANNamespace", {"ranges": "x"}))["spec"] == {"ranges": "x"}
    assert apply_defaults(make(WIRING_API, "VLANNamespace", {"ranges": [{"from": 65535, "to": 65535}]}))[
        "spec"] == {}


def switch_spec(**spec: Any) -> dict:
    return apply_defaults(make(WIRING_API, "Switch", spec))["spec"]


def test_switch_speeds_lose_their_speed_prefix() -> None:
    spec = switch_spec(vlanNamespaces=["v"], portSpeeds={"E1/1": "SPEED_100GB", "E1/2": "25G", "E1/3": "speed_10GB",
                                                         "E1/4": 10, "E1/5": "SPEED_"},
                       portGroupSpeeds={"1": "SPEED_SPEED_10GB", "2": "XSPEED_1GB"})
    assert spec["portSpeeds"] == {"E1/1": "100GB", "E1/2": "25G", "E1/3": "speed_10GB", "E1/4": 10, "E1/5": ""}
    assert spec["portGroupSpeeds"] == {"1": "SPEED_10GB", "2": "XSPEED_1GB"}
    assert switch_spec(vlanNamespaces=["v"], portSpeeds="x")["portSpeeds"] == "x"


def test_switch_vlan_namespaces_and_groups() -> None:
    assert switch_spec() == {"vlanNamespaces": ["default"]}
    assert switch_spec(vlanNamespaces=None) == {"vlanNamespaces": ["default"]}
    assert switch_spec(vlanNamespaces=[]) == {"vlanNamespaces": ["default"]}
    assert switch_spec(vlanNamespaces=["b", "a"]) == {"vlanNamespaces": ["a", "b"]}
    assert switch_spec(vlanNamespaces="x") == {"vlanNamespaces": "x"}
    red = {"group": "mclag-1", "type": "mclag"}
    assert switch_spec(vlanNamespaces=["v"], redundancy=red) == {"vlanNamespaces": ["v"], "redundancy": red,
                                                                  "groups": ["mclag-1"]}
    assert switch_spec(vlanNamespaces=["v"], redundancy=red, groups=["z", "a"])["groups"] == ["a", "mclag-1", "z"]
    assert switch_spec(vlanNamespaces=["v"], redundancy=red, groups=["mclag-1"])["groups"] == ["mclag-1"]
    assert switch_spec(vlanNamespaces=["v"], redundancy=red, groups=[])["groups"] == ["mclag-1"]
    assert switch_spec(vlanNamespaces=["v"], redundancy=red, groups="g")["groups"] == "g"
    assert "groups" not in switch_spec(vlanNamespaces=["v"], redundancy={"group": ""})
    assert "groups" not in switch_spec(vlanNamespaces=["v"], redundancy={"group": 5})
    assert "groups" not in switch_spec(vlanNamespaces=["v"], redundancy="mclag-1")
    assert switch_spec(vlanNamespaces=["v"], groups=["b", "a", 1])["groups"] == ["b", "a", 1]  # mixed: unsorted


def test_switch_link_flap_defaults() -> None:
    assert switch_spec(vlanNamespaces=["v"], linkFlapErrDisable={})["linkFlapErrDisable"] == {
        "flapThreshold": 3, "samplingInterval": 30, "recoveryInterval": 300}
    assert switch_spec(vlanNamespaces=["v"], linkFlapErrDisable={
        "flapThreshold": 0, "samplingInterval": None, "recoveryInterval": 0})["linkFlapErrDisable"] == {
        "flapThreshold": 0, "samplingInterval": 30, "recoveryInterval": 0}
    assert "linkFlapErrDisable" not in switch_spec(vlanNamespaces=["v"])


def gateway_spec(**spec: Any) -> dict:
    return apply_defaults(make(GATEWAY_API, "Gateway", spec))["spec"]


def test_gateway_defaults() -> None:
    full = {"logs": {"default": "info", "tags": {"all": "info"}}, "workers": 4, "groups": [{"name": "default"}]}
    assert gateway_spec() == full
    assert gateway_spec(logs=None, workers=0, groups=[]) == full
    assert gateway_spec(logs={"default": ""}, workers=None, groups=None) == full
    assert gateway_spec(logs={"tags": {}}) == full
    assert gateway_spec(logs={"tags": {"x": "debug"}})["logs"] == {"default": "info", "tags": {"x": "debug"}}
    assert gateway_spec(logs="x")["logs"] == "x"
    assert gateway_spec(workers=2)["workers"] == 2
    assert gateway_spec(workers=0.0)["workers"] == 0.0  # not an int: Go's decoder refuses it, left alone
    assert gateway_spec(workers=False)["workers"] is False
    assert gateway_spec(logs={"rateLimit": {"burst": 0, "replenishPerSecond": 7}})["logs"]["rateLimit"] == {
        "burst": 50, "replenishPerSecond": 7}
    assert gateway_spec(logs={"rateLimit": {"burst": 9}})["logs"]["rateLimit"] == {"burst": 9, "replenishPerSecond": 5}
    assert gateway_spec(logs={"rateLimit": "x"})["logs"]["rateLimit"] == "x"


@params(("groups", "expected"), [
    ([{"name": "b"}, {"name": "a", "priority": 2}, {"name": "a", "priority": 1}],
     [{"name": "a", "priority": 1}, {"name": "a", "priority": 2}, {"name": "b"}]),
    ([{"name": "a", "priority": 1}, {"name": "a"}], [{"name": "a"}, {"name": "a", "priority": 1}]),
    ([{"priority": 1}, {"name": "a"}], [{"priority": 1}, {"name": "a"}]),  # unset name sorts first ("")
    ([{"name": "b"}, {"name": 1}], [{"name": "b"}, {"name": 1}]),  # a name of the wrong type: unsorted
    ([{"name": "b"}, "a"], [{"name": "b"}, "a"]),
    ([{"name": "b", "priority": "1"}, {"name": "a"}], [{"name": "b", "priority": "1"}, {"name": "a"}]),
])
def test_gateway_groups_sorted_by_name_then_priority(groups: list, expected: list) -> None:
    assert gateway_spec(groups=groups)["groups"] == expected


def peering_spec(spec: Any) -> Any:
    return apply_defaults(make(GATEWAY_API, "GatewayPeering", spec)).get("spec")


def test_gateway_peering_defaults_only_with_two_vpcs() -> None:
    nat = {"expose": [{"nat": {"masquerade": {}, "portForward": {"idleTimeout": "60s"}, "static": {}}}]}
    two = peering_spec({"peering": {"a": copy.deepcopy(nat), "b": None}, "acl": {"rules": [{}, {"scope": "x"}, 3]}})
    assert two == {
        "peering": {"a": {"expose": [{"nat": {"masquerade": {"idleTimeout": "2m0s"},
                                               "portForward": {"idleTimeout": "1m0s"}, "static": {}}}]}, "b": None},
        "gatewayGroup": "default",
        "acl": {"default": "deny-unless-exposed", "rules": [{"scope": "flow"}, {"scope": "x"}, 3]},
    }
    for peering in ({"a": copy.deepcopy(nat)}, {"a": copy.deepcopy(nat), "b": {}, "c": {}}, [1, 2], None):
        assert peering_spec({"peering": peering, "acl": {}}) == {"peering": peering, "acl": {}}
    odd = {"a": {"expose": "x"}, "b": {"expose": [1, {"nat": "y"}, {"nat": {"masquerade": "z"}}]}}
    assert peering_spec({"peering": copy.deepcopy(odd), "gatewayGroup": "g", "acl": {"default": "allow",
                                                                                     "rules": "r"}}) == {
        "peering": odd, "gatewayGroup": "g", "acl": {"default": "allow", "rules": "r"}}
    assert peering_spec({"peering": {"a": 1, "b": 2}, "acl": "x"}) == {
        "peering": {"a": 1, "b": 2}, "gatewayGroup": "default", "acl": "x"}


def test_gateway_peering_list_labels_go_other_labels_stay() -> None:
    out = apply_defaults(make(GATEWAY_API, "GatewayPeering", {"peering": {}}, labels={
        "vpc.gateway.githedgehog.com/a": "true", "x.vpc.gateway.githedgehog.com/a": "1", "team": "t",
        "fabric.githedgehog.com/x": "1"}))
    assert out["metadata"]["labels"] == {"x.vpc.gateway.githedgehog.com/a": "1", "team": "t",
                                         "fabric.githedgehog.com/x": "1"}


@params(("written", "stored"), [
    (None, "2m0s"), ("0", "2m0s"), ("-0", "2m0s"), ("0s", "2m0s"), ("0h0m", "2m0s"), ("1ns", "1ns"),
    ("-5s", "-5s"), ("3600s", "1h0m0s"), ("", ""), ("5", "5"), (300, 300), ("9223372036854775808ns",
                                                                             "9223372036854775808ns"),
])
def test_nat_idle_timeout(written: Any, stored: Any) -> None:
    mode: dict[str, Any] = {} if written is None else {"idleTimeout": written}
    spec = peering_spec({"peering": {"a": {"expose": [{"nat": {"portForward": mode}}]}, "b": {}}})
    assert spec["peering"]["a"]["expose"][0]["nat"]["portForward"] == {"idleTimeout": stored}


def attachment_after(subnet: Any, labels: dict | None = None) -> dict:
    spec = {} if subnet is None else {"subnet": subnet}
    return apply_defaults(make(VPC_API, "VPCAttachment", spec, **({"labels": labels} if labels else {})))


def test_vpc_attachment_subnet_and_labels() -> None:
    labels = {"fabric.githedgehog.com/vpc": "v", "team": "t"}
    out = attachment_after("vpc-1", labels)
    assert out["spec"] == {"subnet": "vpc-1/default"} and out["metadata"]["labels"] == {"team": "t"}
    out = attachment_after("vpc-1/s", labels)
    assert out["spec"] == {"subnet": "vpc-1/s"} and out["metadata"]["labels"] == {"team": "t"}
    out = attachment_after("vpc-1/", labels)
    assert out["spec"] == {"subnet": "vpc-1/"} and out["metadata"]["labels"] == {"team": "t"}
    for subnet in ("", "/s", None):  # upstream returns before the labels
        out = attachment_after(subnet, labels)
        assert out["metadata"]["labels"] == labels and out["spec"] == ({} if subnet is None else {"subnet": subnet})
    out = attachment_after(5, labels)
    assert out["spec"] == {"subnet": 5} and out["metadata"]["labels"] == labels


def test_vpc_peering_empty_peers_become_empty_maps() -> None:
    spec = {"permit": [{"a": None, "b": {"subnets": ["s"]}}, "x", {"c": None}]}
    assert apply_defaults(make(VPC_API, "VPCPeering", spec))["spec"] == {
        "permit": [{"a": {}, "b": {"subnets": ["s"]}}, "x", {"c": {}}]}
    assert apply_defaults(make(VPC_API, "VPCPeering", {"permit": "p"}))["spec"] == {"permit": "p"}


def test_external_ipv4_namespace() -> None:
    assert apply_defaults(make(VPC_API, "External", {}))["spec"] == {"ipv4Namespace": "default"}
    assert apply_defaults(make(VPC_API, "External", {"ipv4Namespace": ""}))["spec"] == {"ipv4Namespace": "default"}
    assert apply_defaults(make(VPC_API, "External", {"ipv4Namespace": "n"}))["spec"] == {"ipv4Namespace": "n"}
    assert apply_defaults(make(VPC_API, "External", "s"))["spec"] == "s"


def test_switch_profile_ports_annotation_goes() -> None:
    out = apply_defaults(make(WIRING_API, "SwitchProfile", {}, annotations={
        "fabric.githedgehog.com/ports": "E1/1", "fabric.githedgehog.com/other": "k", "a": "b"}))
    assert out["metadata"]["annotations"] == {"fabric.githedgehog.com/other": "k", "a": "b"}


@params(("kind", "api", "cleans"), [
    ("Switch", WIRING_API, True), ("Server", WIRING_API, True), ("Connection", WIRING_API, True),
    ("VLANNamespace", WIRING_API, True), ("SwitchGroup", WIRING_API, False), ("SwitchProfile", WIRING_API, False),
    ("ServerProfile", WIRING_API, False), ("VPC", VPC_API, True), ("VPCPeering", VPC_API, True),
    ("IPv4Namespace", VPC_API, True), ("External", VPC_API, True), ("ExternalAttachment", VPC_API, True),
    ("ExternalPeering", VPC_API, True), ("Gateway", GATEWAY_API, False), ("GatewayGroup", GATEWAY_API, False),
])
def test_which_kinds_clean_up_fabric_labels(kind: str, api: str, cleans: bool) -> None:
    labels = {"fabric.githedgehog.com/a": "1", "x.fabric.githedgehog.com/b": "2", "fabric.githedgehog.com": "3",
              "team": "t", 7: "n"}
    out = apply_defaults({"apiVersion": api, "kind": kind, "metadata": {"name": "x", "labels": dict(labels)}})
    kept = {"fabric.githedgehog.com": "3", "team": "t", 7: "n"} if cleans else labels
    assert out["metadata"] == {"name": "x", "namespace": "default", "labels": kept}


@params("namespace", [None, ""])
def test_namespace_default(namespace: Any) -> None:
    out = apply_defaults({"apiVersion": VPC_API, "kind": "IPv4Namespace", "metadata": {"namespace": namespace}})
    assert out == {"apiVersion": VPC_API, "kind": "IPv4Namespace", "metadata": {"namespace": "default"}, "spec": {}}
    kept = apply_defaults({"apiVersion": VPC_API, "kind": "IPv4Namespace", "metadata": {"namespace": "n"}})
    assert kept["metadata"] == {"namespace": "n"}
    bare = apply_defaults({"apiVersion": VPC_API, "kind": "IPv4Namespace", "metadata": "m"})
    assert bare == {"apiVersion": VPC_API, "kind": "IPv4Namespace", "metadata": "m", "spec": {}}


def test_unknown_kinds_and_odd_objects_come_back_copied() -> None:
    for odd in ({"apiVersion": "v1", "kind": "ConfigMap", "spec": None},
                {"apiVersion": VPC_API, "kind": "Gadget"}, {"apiVersion": 1, "kind": "VPC"},
                {"apiVersion": VPC_API, "kind": None}, {"kind": "VPC"}):
        out = apply_defaults(odd)
        assert out == odd and out is not odd
    assert apply_defaults([1, [2]]) == [1, [2]]
    # the group decides, not the version: an old version is defaulted like the served one
    old = apply_defaults({"apiVersion": "vpc.githedgehog.com/v1alpha2", "kind": "External", "spec": None})
    assert old["spec"] == {"ipv4Namespace": "default"}


def test_a_dhcp_range_in_a_subnet_at_the_end_of_the_address_space() -> None:
    spec = {"ipv4Namespace": "n", "vlanNamespace": "v", "subnets": {
        "top": {"subnet": "255.255.255.252/30", "dhcp": {"enable": True}},
        "last": {"subnet": "255.255.255.255/32"},
        "host": {"subnet": "10.0.0.0/30", "hostBGP": True, "dhcp": {"enable": True}},
        "odd": {"subnet": "10.0.0.0/24", "hostBGP": "yes"},
        "off": {"subnet": "10.0.1.0/24", "dhcp": {"enable": False, "range": {"start": "x"}, "options": {}, "static": {}}},
        "weird": {"subnet": "10.0.2.0/24", "gateway": "g", "dhcp": {"enable": "true", "range": {}}},
        "notmap": {"subnet": "10.0.3.0/24", "gateway": "g", "dhcp": "on"},
        "range": {"subnet": "10.0.4.0/30", "gateway": "g", "dhcp": {"enable": True, "range": "r"}},
    }}
    out = apply_defaults(make(VPC_API, "VPC", spec))["spec"]["subnets"]
    assert out["top"] == {"subnet": "255.255.255.252/30", "gateway": "255.255.255.253",
                          "dhcp": {"enable": True, "range": {"start": "255.255.255.254", "end": "255.255.255.255"}}}
    assert out["last"] == {"subnet": "255.255.255.255/32"}  # no next address: Go's is invalid, none here
    assert out["host"] == {"subnet": "10.0.0.0/30", "hostBGP": True,
                           "dhcp": {"enable": True, "range": {"start": "10.0.0.2", "end": "10.0.0.3"}}}
    assert out["odd"] == {"subnet": "10.0.0.0/24", "hostBGP": "yes"}
    assert out["off"] == {"subnet": "10.0.1.0/24", "gateway": "10.0.1.1", "dhcp": {"enable": False, "static": {}}}
    assert out["weird"] == spec["subnets"]["weird"]
    assert out["notmap"] == spec["subnets"]["notmap"]
    assert out["range"] == spec["subnets"]["range"]


@params(("options", "expected"), [
    ({}, None),
    ({"pxeURL": "", "dnsServers": None, "interfaceMTU": 0, "leaseTimeSeconds": 0, "disableDefaultRoute": False,
      "advertisedRoutes": None, "timeServers": None}, None),
    ({"pxeURL": "http://p"}, {"pxeURL": "http://p", "dnsServers": [], "timeServers": [], "interfaceMTU": 9036,
                              "leaseTimeSeconds": 3600}),
    ({"dnsServers": []}, {"dnsServers": [], "timeServers": [], "interfaceMTU": 9036, "leaseTimeSeconds": 3600}),
    ({"timeServers": ["b", "a"]}, {"dnsServers": [], "timeServers": ["a", "b"], "interfaceMTU": 9036,
                                   "leaseTimeSeconds": 3600}),
    ({"interfaceMTU": 1500}, {"dnsServers": [], "timeServers": [], "interfaceMTU": 1500, "leaseTimeSeconds": 3600}),
    ({"leaseTimeSeconds": 60}, {"dnsServers": [], "timeServers": [], "interfaceMTU": 9036, "leaseTimeSeconds": 60}),
    ({"disableDefaultRoute": True}, {"disableDefaultRoute": True, "dnsServers": [], "timeServers": [],
                                     "interfaceMTU": 9036, "leaseTimeSeconds": 3600}),
    ({"advertisedRoutes": []}, {"dnsServers": [], "timeServers": [], "interfaceMTU": 9036, "leaseTimeSeconds": 3600}),
    ({"advertisedRoutes": [{"destination": "10.9.0.0/16", "gateway": "10.0.2.3"},
                           {"destination": "10.1.0.0/16", "gateway": "10.0.2.9"},
                           {"destination": "10.1.0.0/16", "gateway": "10.0.2.4"}]},
     {"advertisedRoutes": [{"destination": "10.1.0.0/16", "gateway": "10.0.2.4"},
                           {"destination": "10.1.0.0/16", "gateway": "10.0.2.9"},
                           {"destination": "10.9.0.0/16", "gateway": "10.0.2.3"}],
      "dnsServers": [], "timeServers": [], "interfaceMTU": 9036, "leaseTimeSeconds": 3600}),
    ({"advertisedRoutes": "r"}, {"advertisedRoutes": "r", "dnsServers": [], "timeServers": [], "interfaceMTU": 9036,
                                 "leaseTimeSeconds": 3600}),
    ({"dnsServers": "d", "timeServers": [2, 1]}, {"dnsServers": "d", "timeServers": [1, 2], "interfaceMTU": 9036,
                                                  "leaseTimeSeconds": 3600}),
])
def test_dhcp_options(options: dict, expected: Any) -> None:
    subnet = {"subnet": "10.0.2.0/24", "gateway": "10.0.2.1",
              "dhcp": {"enable": True, "range": {"start": "10.0.2.2", "end": "10.0.2.9"}, "options": options}}
    out = apply_defaults(make(VPC_API, "VPC", {"ipv4Namespace": "n", "vlanNamespace": "v", "subnets": {"s": subnet}}))
    assert out["spec"]["subnets"]["s"]["dhcp"].get("options") == expected


def test_static_macs_are_respelled_in_key_order() -> None:
    static = {"AA:BB:CC:DD:EE:FF": {"ip": "1"}, "aa:bb:cc:dd:ee:ff": {"ip": "2"}, "bad": {"ip": "3"}, 5: {"ip": "4"}}
    subnet = {"subnet": "10.0.2.0/24", "gateway": "g", "dhcp": {"enable": True, "range": {"start": "a", "end": "b"},
                                                                 "static": static}}
    out = apply_defaults(make(VPC_API, "VPC", {"ipv4Namespace": "n", "vlanNamespace": "v", "subnets": {"s": subnet}}))
    # sorted, "AA:..." comes first and its entry is moved onto the lower-case key, replacing what was there
    assert out["spec"]["subnets"]["s"]["dhcp"]["static"] == {"aa:bb:cc:dd:ee:ff": {"ip": "1"}, "bad": {"ip": "3"},
                                                             5: {"ip": "4"}}


# --- copies: nothing shared with the input, except what share_unchanged allows -------------------------

def test_deep_input_is_copied_on_the_careful_path() -> None:
    deep: Any = "leaf"
    for _ in range(55):  # 110 containers: past the fast path's 100
        deep = {"d": [deep]}
    obj = make(VPC_API, "VPC", {"subnets": {}, "extra": deep})
    out = apply_defaults(obj)
    assert out["spec"]["extra"] == deep and out["spec"]["extra"] is not deep
    node_in, node_out = deep, out["spec"]["extra"]
    while isinstance(node_in, dict):
        assert node_out is not node_in and node_out["d"] is not node_in["d"]
        node_in, node_out = node_in["d"][0], node_out["d"][0]


@params("depth", [100, 101, 102, 103])
def test_copy_at_the_fast_paths_depth(depth: int) -> None:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    copied = d._copy(value)
    assert copied == value and copied is not value
    assert d._plain_copy([[1]], 0) == [[1]]
    if depth >= 102:  # lists at depths 0 .. depth-1: the fast path takes up to depth 100
        with pytest.raises(d._Unusual):
            d._plain_copy(value, 0)
    else:
        assert d._plain_copy(value, 0) == value


def test_subclasses_become_plain_containers_and_shared_parts_are_split() -> None:
    from collections import OrderedDict, UserList  # noqa: F401

    class MyDict(dict):
        pass

    class MyList(list):
        pass

    shared = {"enable": True}
    value = MyDict(a=MyList([shared, shared]))
    copied = d._copy(value)
    assert type(copied) is dict and type(copied["a"]) is list
    assert copied == {"a": [{"enable": True}, {"enable": True}]}
    assert copied["a"][0] is not copied["a"][1] and copied["a"][0] is not shared
    assert d._tree_copy({"a": [shared, shared]}, frozenset())["a"][0] is not shared


def test_a_cycle_is_kept_and_nothing_is_shared() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    copied = d._copy({"x": loop})
    assert copied["x"] is not loop and copied["x"][1] is copied["x"] and copied["x"][0] == 1
    with pytest.raises(d._Cycle):
        d._tree_copy(loop, frozenset())


@params(("api", "kind", "sharing"), [
    (WIRING_API, "Server", "spec"), (WIRING_API, "Connection", "spec"), (WIRING_API, "SwitchGroup", "spec"),
    (WIRING_API, "SwitchProfile", "spec"), (WIRING_API, "ServerProfile", "spec"), (VPC_API, "ExternalAttachment", "spec"),
    (GATEWAY_API, "GatewayGroup", "spec"), (VPC_API, "VPCAttachment", "inner"), (VPC_API, "External", "inner"),
    (VPC_API, "VPC", "none"), (WIRING_API, "Switch", "none"), (GATEWAY_API, "Gateway", "none"),
    (GATEWAY_API, "GatewayPeering", "none"), ("v1", "ConfigMap", "none"),
])
def test_share_unchanged(api: str, kind: str, sharing: str) -> None:
    inner = {"k": ["v"]}
    obj = {"apiVersion": api, "kind": kind, "metadata": {"name": "x", "labels": {"a": "b"}},
           "spec": {"subnet": "v/s", "ipv4Namespace": "n", "inner": inner}, "status": {"s": [1]}}
    before = copy.deepcopy(obj)
    out = apply_defaults(obj, share_unchanged=True)
    assert obj == before
    assert out["metadata"] is not obj["metadata"] and out["metadata"]["labels"] is not obj["metadata"]["labels"]
    assert out["status"] == obj["status"] and out["status"] is not obj["status"]
    assert (out["spec"] is obj["spec"]) is (sharing == "spec")
    assert (out["spec"]["inner"] is inner) is (sharing in ("spec", "inner"))
    unshared = apply_defaults(obj)
    assert unshared["spec"] is not obj["spec"] and unshared["spec"]["inner"] is not inner


def test_share_unchanged_with_odd_objects() -> None:
    assert d._copy_for_defaults({"apiVersion": 5, "kind": "Server", "spec": {"a": [1]}}) == {
        "apiVersion": 5, "kind": "Server", "spec": {"a": [1]}}
    spec = {"a": [1]}
    out = d._copy_for_defaults({"kind": "Server", "spec": spec})
    assert out == {"kind": "Server", "spec": spec} and out["spec"] is not spec  # group "" is not wiring's
    out = d._copy_for_defaults({"apiVersion": WIRING_API, "kind": 3, "spec": spec})
    assert out["spec"] is not spec
    out = d._copy_for_defaults({"apiVersion": WIRING_API, "kind": "Server", "spec": [spec]})
    assert out["spec"][0] is not spec
    assert apply_defaults("text", share_unchanged=True) == "text"


# --- list helpers ----------------------------------------------------------------------------------------

def test_pointer_tokens() -> None:
    assert d._tokens("") == ()
    assert d._tokens("/") == ("",)
    assert d._tokens("/a/b") == ("a", "b")
    assert d._tokens("a/b") == ("a", "b")
    assert d._tokens("/a~1b/c~0d/~01") == ("a/b", "c~d", "~1")


def test_lists_at() -> None:
    node = {"a": [[1], [2], "x"], "b": {"c": [3], "d": {"e": [4]}, "f": 5}, "g": [{"h": [6]}, {"h": 7}]}
    assert d._lists_at(node, "/a") == [[[1], [2], "x"]]
    assert d._lists_at(node, "/a/*") == [[1], [2]]
    assert d._lists_at(node, "/a/1") == [[2]]
    assert d._lists_at(node, "/a/0") == [[1]]
    assert d._lists_at(node, "/a/3") == []
    assert d._lists_at(node, "/a/x") == []
    assert d._lists_at(node, "/a/-1") == []
    assert d._lists_at(node, "/b/*") == [[3]]
    assert d._lists_at(node, "/b/*/e") == [[4]]
    assert d._lists_at(node, "/g/*/h") == [[6]]
    assert d._lists_at(node, "/z") == []
    assert d._lists_at(node, "/b/f/x") == []
    assert d._lists_at([[1]], "") == [[[1]]]


@params(("items", "order", "expected"), [
    (["b", "a", "c"], (), ["a", "b", "c"]),
    ([3, 1, 2], (), [1, 2, 3]),
    ([True, False], (), [True, False]),
    (["b", 1], (), ["b", 1]),
    ([1.5, 0.5], (), [1.5, 0.5]),
    ([], (), []),
    ([{"f": 2}, {"f": 1}, {}], (("f", 0),), [{}, {"f": 1}, {"f": 2}]),
    ([{"f": 2}, {"f": None}], (("f", 0),), [{"f": None}, {"f": 2}]),
    ([{"f": 2}, {"f": "1"}], (("f", 0),), [{"f": 2}, {"f": "1"}]),
    ([{"f": 2}, 1], (("f", 0),), [{"f": 2}, 1]),
    ([{"f": 1, "g": "b"}, {"f": 1, "g": "a"}, {"f": 0, "g": "z"}], (("f", 0), ("g", "")),
     [{"f": 0, "g": "z"}, {"f": 1, "g": "a"}, {"f": 1, "g": "b"}]),
    ([{"f": True}, {"f": 0}], (("f", 0),), [{"f": True}, {"f": 0}]),
])
def test_sort_in_place(items: list, order: Any, expected: list) -> None:
    d._sort_in_place(items, order)
    assert items == expected
