"""Survivors of mutation run 12 (issue 19) in domain/defaults, domain/diff, domain/parsing and
domain/yamljson, killed.

Expected values are written from the Go source the code mirrors (VPCDHCPOptions' advertised routes sorted
by destination then gateway, a missing field being Go's zero string ""; go-yaml v2 decoding !!binary with
base64.StdEncoding, which skips '\\r' and '\\n'), never computed by calling the code under test. The
survivors no input tells apart are in benchmarks/mutation-equivalents/run12.txt.
"""

from __future__ import annotations

from typing import Any

import pytest

from hedgehog_sync.domain.defaults import apply_defaults
from hedgehog_sync.domain.diff import max_severity
from hedgehog_sync.domain.kinds import VPC
from hedgehog_sync.domain.model import Finding
from hedgehog_sync.domain.parsing import ParsedFile, _take_document, parse_file
from hedgehog_sync.domain.yamljson import Budget, DocumentError, load_documents

VPC_API = f"{VPC}/v1beta1"
BASE_OPTIONS = {"dnsServers": [], "timeServers": [], "interfaceMTU": 9036, "leaseTimeSeconds": 3600}


def _dhcp_options(options: dict) -> Any:
    subnet = {"subnet": "10.0.2.0/24", "gateway": "10.0.2.1",
              "dhcp": {"enable": True, "range": {"start": "10.0.2.2", "end": "10.0.2.9"}, "options": options}}
    out = apply_defaults({"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": "v", "namespace": "default"},
                          "spec": {"ipv4Namespace": "n", "vlanNamespace": "v", "subnets": {"s": subnet}}})
    return out["spec"]["subnets"]["s"]["dhcp"]["options"]


# --- defaults: advertised routes with a missing field sort as Go's "" ------------------------------

@pytest.mark.parametrize("routes,expected", [
    # No destination is Go's "": before any destination (mutant 52 sorted it as "XXXX", after "10...").
    ([{"destination": "10.1.0.0/16", "gateway": "10.0.2.3"}, {"gateway": "10.0.2.4"}],
     [{"gateway": "10.0.2.4"}, {"destination": "10.1.0.0/16", "gateway": "10.0.2.3"}]),
    # Same destination, no gateway: "" sorts before "10.0.2.3" (mutant 55 sorted it as "XXXX", after it).
    ([{"destination": "10.1.0.0/16", "gateway": "10.0.2.3"}, {"destination": "10.1.0.0/16"}],
     [{"destination": "10.1.0.0/16"}, {"destination": "10.1.0.0/16", "gateway": "10.0.2.3"}]),
], ids=["no-destination", "no-gateway"])
def test_a_route_missing_a_field_sorts_first(routes: list, expected: list) -> None:
    assert _dhcp_options({"advertisedRoutes": routes}) == {"advertisedRoutes": expected, **BASE_OPTIONS}


# --- diff: of equal severities the first is kept ---------------------------------------------------

class _Tagged(str):
    """A severity carrying where it came from, as a caller might pass one."""

    origin: str


def _tagged(value: str, origin: str) -> _Tagged:
    out = _Tagged(value)
    out.origin = origin
    return out


def test_max_severity_keeps_the_first_of_equal_severities() -> None:
    """A later severity of the same rank does not replace the first (mutant 2 took the last with >=)."""
    first, second = _tagged("high", "first"), _tagged("high", "second")
    best = max_severity(["low", first, "medium", second, "low"])
    assert best == "high" and best is first and best.origin == "first"
    only = _tagged("none", "only")
    assert max_severity([only]) == "none" and max_severity([only]) is not only  # NONE itself stays


# --- parsing ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("doc,name", [((1, 2), "tuple"), (b"x", "bytes"), (frozenset(), "frozenset")],
                         ids=["tuple", "bytes", "frozenset"])
def test_a_non_mapping_of_another_type_is_named_by_its_type(doc: Any, name: str) -> None:
    """Other than the JSON types, a non-mapping document is named by its Python type (mutants 5 and 7 said
    None, mutant 19 NoneType)."""
    out = ParsedFile()
    _take_document("t.yaml", 4, doc, out)
    assert out.findings == [Finding("t.yaml", f"document is {name}, not a mapping", level="warning", document=4)]
    assert out.objects == [] and out.documents == []


def test_a_bad_name_of_81_characters_is_cut() -> None:
    """Past 80 characters the name is cut to 79 and an ellipsis (mutant 129 cut only past 81)."""
    name = "Z" * 81
    parsed = parse_file("n.yaml", f"apiVersion: {VPC_API}\nkind: VPC\nmetadata: {{name: {name}}}\n".encode())
    shown = "Z" * 79 + "\u2026"
    assert parsed.findings == [Finding(
        "n.yaml", f"VPC name {shown!r} is not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', "
                  "at most 253 characters): the API server refuses it", level="warning", document=1)]
    assert parsed.documents == [1]


# --- yamljson: a carriage return inside !!binary is skipped -----------------------------------------

BUDGET = Budget(max_nodes=1000, max_depth=20, max_scalar_chars=10_000, max_documents=10)


@pytest.mark.parametrize("text", ['!!binary "aGVs\\rbG8="', '!!binary "aGVs\\r\\nbG8=\\r"', '!!binary "\\raGVsbG8="'],
                         ids=["cr", "crlf", "leading-cr"])
def test_a_carriage_return_in_binary_is_skipped(text: str) -> None:
    """base64.StdEncoding skips '\\r' as it skips '\\n': "aGVsbG8=" is "hello" (mutant 47 kept the '\\r'
    and refused the value, mutant 48 read it as "XXXX")."""
    docs = load_documents(f"v: {text}\n", BUDGET)
    assert not isinstance(docs[0], DocumentError)
    assert docs == [{"v": "hello"}]
