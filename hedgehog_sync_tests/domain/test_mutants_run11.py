"""Survivors of mutation run 11 (issue 19) in domain/defaults, domain/yamljson and domain/diff, killed.

Every expected value is written from the Go source the code mirrors (time.ParseDuration, net.ParseMAC,
GatewayPeering.Default(), go-yaml v2's resolve.go and parseTimestamp with time.Parse's range checks,
strconv.ParseInt), never computed by calling the code under test. The survivors no input tells apart are
in benchmarks/mutation-equivalents/run11.txt.
"""

from __future__ import annotations

import pytest

from hedgehog_sync.domain import defaults as d
from hedgehog_sync.domain.defaults import apply_defaults
from hedgehog_sync.domain.diff import MASK, Change, diff_values
from hedgehog_sync.domain.kinds import GATEWAY, WIRING
from hedgehog_sync.domain.yamljson import resolve

S = 1_000_000_000
MS = 1_000_000
TIMESTAMP, STR, INT = (f"tag:yaml.org,2002:{t}" for t in ("timestamp", "str", "int"))


# --- time.ParseDuration ----------------------------------------------------------------------------

@pytest.mark.parametrize("text,nanoseconds", [
    # A unit ends at a "." or a digit, so a segment may start with "." or 9 right after it (mutants 80, 83).
    ("1s.5s", 1_500 * MS), ("1s9ms", S + 9 * MS), ("1h.5m9s", 3_600 * S + 39 * S),
    # 19 fraction digits: 888374046750000029 <= (1<<63 - 1)/10 and 8883740467500000290 <= 1<<63, so Go's
    # leadingFraction keeps the 19th digit (scale 1e19): uint64(float64(8883740467500000290) * (6e10 / 1e19))
    # = 53302442805 (0.888374046750000029 min = 53.302442805000001740 s). Stopping one digit early (mutants
    # 56, 59) gives float64(888374046750000029) * (6e10 / 1e18) = 53302442804.99999..., truncated one lower.
    ("0.8883740467500000290m", 53_302_442_805),
], ids=["dot-after-unit", "nine-after-unit", "both", "nineteen-fraction-digits"])
def test_go_parse_duration_run11(text: str, nanoseconds: int) -> None:
    assert d._parse_go_duration(text) == nanoseconds


def test_a_negative_duration_past_int64_is_refused_while_summing() -> None:
    """Go fails as soon as the sum passes 1<<63 (`d > 1<<63`), also for a negative duration: -(1<<63) is
    the smallest, and 1 ns more is an error, not -(1<<63) - 1 (mutant 108 checked only the segment)."""
    assert d._parse_go_duration("-9223372036854775808ns") == -(2 ** 63)
    assert d._parse_go_duration("-9223372036854775808ns1ns") is None
    assert d._parse_go_duration("-2562047h47m16.854775808s1ns") is None


def test_the_long_fraction_through_a_nat_idle_timeout() -> None:
    """The same 19-digit fraction through apply_defaults: Duration.String() of 53302442805 ns."""
    spec = {"peering": {"a": {"expose": [{"nat": {"masquerade": {"idleTimeout": "0.8883740467500000290m"}}}]},
                        "b": {}}}
    out = apply_defaults({"apiVersion": f"{GATEWAY}/v1alpha1", "kind": "GatewayPeering",
                          "metadata": {"name": "p", "namespace": "default"}, "spec": spec})
    assert out["spec"]["peering"]["a"]["expose"][0]["nat"]["masquerade"] == {"idleTimeout": "53.302442805s"}


# --- net.ParseMAC ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["00X11X22X33X44X55", "0aX1bX2cX3dX4eX5f"], ids=["digits", "hex"])
def test_a_mac_separated_by_another_character_is_not_a_mac(text: str) -> None:
    """net.ParseMAC takes ':' or '-' at index 2, or '.' at index 4: "X" is neither (mutant 7 split on it)."""
    assert d._canonical_mac(text) is None


def test_a_static_lease_under_a_non_mac_key_keeps_its_key() -> None:
    subnet = {"subnet": "10.0.0.0/24", "dhcp": {"enable": True, "static": {"00X11X22X33X44X55": {"ip": "10.0.0.9"}}}}
    out = apply_defaults({"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC",
                          "metadata": {"name": "v", "namespace": "default"}, "spec": {"subnets": {"s": subnet}}})
    assert out["spec"]["subnets"]["s"]["dhcp"]["static"] == {"00X11X22X33X44X55": {"ip": "10.0.0.9"}}


# --- GatewayPeering.Default() ----------------------------------------------------------------------

@pytest.mark.parametrize("acl,expected", [
    ({}, {"default": "deny-unless-exposed"}),
    ({"rules": None}, {"default": "deny-unless-exposed", "rules": None}),
    ({"default": "allow", "rules": 3}, {"default": "allow", "rules": 3}),
], ids=["no-rules", "null-rules", "int-rules"])
def test_a_peering_acl_without_a_rule_list(acl: dict, expected: dict) -> None:
    """An ACL whose rules are absent or not a list gets its default action and nothing else; the rules
    loop runs over a list only (mutant 69 iterated None and an int)."""
    out = apply_defaults({"apiVersion": f"{GATEWAY}/v1alpha1", "kind": "GatewayPeering",
                          "metadata": {"name": "p", "namespace": "default"},
                          "spec": {"peering": {"a": {}, "b": {}}, "acl": acl}})
    assert out["spec"] == {"peering": {"a": {}, "b": {}}, "gatewayGroup": "default", "acl": expected}


# --- go-yaml v2: timestamps (parseTimestamp, time.Parse's range checks) ----------------------------

@pytest.mark.parametrize("value,tag", [
    # time.Parse checks hour < 24, minute < 60, second < 60, and the day against the month and year.
    ("2024-01-01T01:30:00Z", TIMESTAMP),  # mutants 22, 25 read the minute 30 as the hour
    ("2024-01-01T01:59:00Z", TIMESTAMP),
    ("2024-01-01T24:00:00Z", STR),  # hour 24 (mutant 25 read the minute 0 as the hour)
    ("2024-01-01T25:00:00Z", STR),  # mutants 17, 46 checked the date only
    ("2024-01-01T01:60:00Z", STR),  # minute 60 (mutants 23, 26 skipped it)
    ("2024-01-01T01:00:60Z", STR),  # second 60 (mutants 24, 27 skipped it)
    ("2024-01-01t23:59:59.5+01:00", TIMESTAMP),
    ("2024-01-01 01:30:00", TIMESTAMP),  # mutants 33, 36 read the minute 30 as the hour
    ("2024-01-01 25:00:00", STR),  # mutant 18 took groups 4-6 (None here): date only
    ("2024-01-01 01:60:00", STR),  # minute 60 (mutants 34, 37 skipped it)
    ("2024-01-01 01:00:60", STR),  # second 60 (mutant 35 skipped it)
    ("2024-02-29", TIMESTAMP),  # 2024 is a leap year (mutant 8 checked year 2)
    ("2000-02-29", TIMESTAMP),
    ("2023-02-29", STR),
], ids=["t-0130", "t-0159", "t-hour24", "t-hour25", "t-minute60", "t-second60", "t-lower-zone",
        "sp-0130", "sp-hour25", "sp-minute60", "sp-second60", "leap-2024", "leap-2000", "not-leap-2023"])
def test_timestamp_ranges(value: str, tag: str) -> None:
    """A plain scalar that time.Parse takes is a timestamp, handed on as its text; one out of range is
    neither a timestamp nor a number: a string."""
    assert resolve("", value) == (tag, value)


@pytest.mark.parametrize("value", ["2024-01-01T25:00:00Z", "2024-01-01 01:00:60", "2023-02-29"],
                         ids=["hour25", "second60", "feb29"])
def test_an_out_of_range_timestamp_under_the_timestamp_tag_is_an_error(value: str) -> None:
    with pytest.raises(ValueError, match=r"^cannot decode !!str `.*` as a !!timestamp$"):
        resolve(TIMESTAMP, value)


# --- go-yaml v2: integers (strconv.ParseInt(s, 0, 64), then ParseUint, then float, then math/big) ---

def test_the_largest_int64_with_a_plus_sign_is_an_int() -> None:
    """ParseInt takes a leading "+": +9223372036854775807 is math.MaxInt64, an int (mutant 10 let the
    bound fall to ParseUint, which refuses the sign, and on to a float 2**63)."""
    assert resolve("", "+9223372036854775807") == (INT, 9_223_372_036_854_775_807)
    assert resolve("", "+0x7FFFFFFFFFFFFFFF") == (INT, 9_223_372_036_854_775_807)
    assert resolve("", "9223372036854775807") == (INT, 9_223_372_036_854_775_807)


def test_an_integer_of_exactly_4000_digits_is_read() -> None:
    """Up to 4000 digits a number past uint64 that is not float-like is math/big's integer; past 4000 it
    stays text (mutant 53 cut at 4000 itself)."""
    hex_text = "0x" + "f" * 4000
    assert resolve("", hex_text) == (INT, 16 ** 4000 - 1)
    assert resolve("", "0x" + "f" * 4001) == (STR, "0x" + "f" * 4001)


# --- diff: a secret field present on one side only ----------------------------------------------------

def test_a_secret_field_missing_live_is_masked_only_where_it_is() -> None:
    """A secret-like field reports the mask for the side that holds it and None for the side that does
    not (mutant 10 masked a missing live value too)."""
    assert diff_values({"spec": {"password": "hunter2"}}, {"spec": {}}, WIRING) == [
        Change("remove", "/spec/password", MASK, None, "high")]
    assert diff_values({"spec": {"token": "t"}}, {"spec": {"token": None}}, WIRING) == [
        Change("replace", "/spec/token", MASK, None, "high")]
    assert diff_values({"spec": {}}, {"spec": {"psk": "k"}}, WIRING) == [
        Change("add", "/spec/psk", None, MASK, "high")]
