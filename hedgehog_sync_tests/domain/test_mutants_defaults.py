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
