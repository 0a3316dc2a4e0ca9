"""Survivors of mutation run 13 (issue 19) in domain/defaults and domain/redaction, killed.

Expected values are written from the semantics the code mirrors (VLANNamespace.Default() and
NormalizedVLANRanges filling `To = From`, Go's insertion sort keeping equal items in place, urlsplit),
never computed by calling apply_defaults. The survivors no input tells apart are in
benchmarks/mutation-equivalents/run13.txt.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from hedgehog_sync.domain import defaults as d
from hedgehog_sync.domain import redaction
from hedgehog_sync.domain.defaults import apply_defaults
from hedgehog_sync.domain.kinds import VPC, WIRING
from hedgehog_sync.domain.redaction import MASK, redact, register_secret, safe_url

WIRING_API, VPC_API = f"{WIRING}/v1beta1", f"{VPC}/v1beta1"


# --- _plain_copy: the fast path's depth budget counts dicts one level at a time --------------------------

def _nested_dicts(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"d": value}
    return value


@pytest.mark.parametrize("levels,fast", [(3, True), (100, True), (101, True), (102, False), (103, False)])
def test_plain_copy_takes_dicts_down_to_depth_100(levels: int, fast: bool) -> None:
    """Dicts at depths 0 .. levels-1: the fast path copies up to depth 100, one level per dict
    (mutants 4: `>=`, 12: `depth + 2`)."""
    value = _nested_dicts(levels)
    if fast:
        copied = d._plain_copy(value, 0)
        assert copied == value and copied is not value
    else:
        with pytest.raises(d._Unusual):
            d._plain_copy(value, 0)
    copied = d._copy(value)
    assert copied == value and copied is not value


# --- _copy_for_defaults: the shared spec is never copied ----------------------------------------------

def _too_deep_to_copy() -> list[Any]:
    """Nested lists deeper than any recursive copy can go: only sharing them works."""
    value: list[Any] = [1]
    for _ in range(2 * sys.getrecursionlimit() + 100):
        value = [value]
    return value


@pytest.mark.parametrize("api,kind,top_level_only", [
    (WIRING_API, "Server", False), (WIRING_API, "Connection", False), (VPC_API, "VPCAttachment", True),
], ids=["server", "connection", "vpcattachment"])
def test_a_shared_spec_is_not_copied_at_all(api: str, kind: str, top_level_only: bool) -> None:
    """The parts of spec Default() never changes are shared, not copied then replaced (mutants 32, 33
    copy spec with the rest: a spec too deep for a recursive copy then raises RecursionError)."""
    deep = _too_deep_to_copy()
    spec = {"deep": deep}
    obj = {"apiVersion": api, "kind": kind, "metadata": {"name": "x"}, "spec": spec}
    out = d._copy_for_defaults(obj)
    assert (out["spec"] is spec) is not top_level_only
    assert out["spec"]["deep"] is deep
    assert out["metadata"] == {"name": "x"} and out["metadata"] is not obj["metadata"]
    defaulted = apply_defaults(obj, share_unchanged=True)
    assert defaulted["spec"]["deep"] is deep
    assert defaulted["metadata"] == {"name": "x", "namespace": "default"} and obj["metadata"] == {"name": "x"}


# --- VLANNamespace: an unset `to` is filled with `from` ----------------------------------------------

@pytest.mark.parametrize("item", [{"from": 0}, {}, {"from": 0, "to": 0}, {"from": None, "to": None}],
                         ids=["from-0", "empty", "both-0", "both-null"])
def test_vlan_range_to_is_filled_with_from_even_when_from_is_zero(item: dict) -> None:
    """NormalizedVLANRanges: `if r.To == 0 { r.To = r.From }`, so From 0 (or unset) gives To 0, before
    the invalid list is dropped (mutant 29 writes 1). The fill is seen on the range the caller holds."""
    obj = {"apiVersion": WIRING_API, "kind": "VLANNamespace", "metadata": {"name": "v"},
           "spec": {"ranges": [{"from": 10, "to": 20}, item]}}
    d._default_vlan_namespace(obj)
    assert "ranges" not in obj["spec"]
    assert item["to"] == 0
    out = apply_defaults({"apiVersion": WIRING_API, "kind": "VLANNamespace", "metadata": {"name": "v"},
                          "spec": {"ranges": [{"from": 10, "to": 20}, {"from": 0}]}})
    assert out["spec"] == {}


# --- _sort_in_place: items with equal keys --------------------------------------------------------------

def test_items_with_equal_keys_keep_their_order_and_are_never_compared() -> None:
    """Go's sort of a short slice is an insertion sort: equal items stay where they are. The items
    themselves (dicts) have no order (mutants 22, 24 sort the (key, item) pairs: TypeError)."""
    first, second, third = {"f": 1, "g": "b"}, {"f": 1, "g": "a"}, {"f": 0}
    items = [first, second, third]
    d._sort_in_place(items, (("f", 0),))
    assert items == [third, first, second]
    assert items[1] is first and items[2] is second


def test_advertised_routes_with_equal_keys_are_defaulted() -> None:
    route = {"destination": "10.1.0.0/16", "gateway": "10.0.0.1"}
    options = {"advertisedRoutes": [dict(route, note="a"), dict(route, note="b"),
                                     {"destination": "10.0.0.0/16", "gateway": "10.0.0.1"}]}
    d._default_dhcp_options(options)
    assert options["advertisedRoutes"] == [{"destination": "10.0.0.0/16", "gateway": "10.0.0.1"},
                                           dict(route, note="a"), dict(route, note="b")]


# --- redaction ------------------------------------------------------------------------------------------

@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redaction, "_secrets", set())
    monkeypatch.setattr(redaction, "_forms", [])


def test_the_longest_form_is_masked_first_whatever_the_alphabet(fresh_registry: None) -> None:
    """Forms are ordered by length, not by text: "zz-inner-pw" sorts after "aa-zz-inner-pw-tail" as
    text, so a text order would mask the inner secret first and leave "aa-" and "-tail" shown
    (mutants 13, 16)."""
    register_secret("zz-inner-pw")
    register_secret("aa-zz-inner-pw-tail")
    assert redact("[aa-zz-inner-pw-tail]") == f"[{MASK}]"
    assert "aa-zz-inner-pw-tail" in redaction._forms and "zz-inner-pw" in redaction._forms
    assert [len(f) for f in redaction._forms] == sorted((len(f) for f in redaction._forms), reverse=True)


@pytest.mark.parametrize("url,shown", [
    ("file:///etc/repo.git", "file:///etc/repo.git"),
    ("file:///etc/repo.git?x=1#f", "file:///etc/repo.git"),
    ("https:///path", "https:///path"),
], ids=["file", "file-query", "no-host"])
def test_safe_url_without_a_host_shows_no_host(url: str, shown: str) -> None:
    """urlsplit gives hostname None: the shown netloc is empty (mutant 5 invents one)."""
    assert safe_url(url) == shown
