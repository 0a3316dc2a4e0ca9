"""Tests that kill issue 19's hand mutations of the domain (each survived the suite before).

Expected values are written here from docs/contracts.md and the Hedgehog sources, never read back
from the constants under test: a constant losing an entry must fail a test.
"""

import copy

import pytest

from hedgehog_sync.domain.diff import MASK, compare, diff_values
from hedgehog_sync.domain.normalize import normalize

WIRING = "wiring.githedgehog.com/v1beta1"
VPC = "vpc.githedgehog.com/v1beta1"


def obj(api_version, kind, name, spec=None, labels=None, annotations=None):
    meta = {"name": name, "namespace": "default"}
    if labels is not None:
        meta["labels"] = labels
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec or {"x": 1}}


# Losing or gaining one of these changes what the fabric forwards: critical. Everything else: high.
PRESENCE = [
    (WIRING, "Connection", "critical"),
    (WIRING, "Switch", "critical"),
    (VPC, "VPC", "critical"),
    (WIRING, "Server", "high"),
    (WIRING, "VLANNamespace", "high"),
    (VPC, "VPCAttachment", "high"),
    (VPC, "VPCPeering", "high"),
]


@pytest.mark.parametrize("api_version,kind,severity", PRESENCE, ids=[p[1] for p in PRESENCE])
def test_a_missing_or_extra_resource_has_its_kinds_severity(api_version, kind, severity):
    one = obj(api_version, kind, "r-1")
    (missing,) = compare([one], []).drifts
    assert (missing.state, missing.severity) == ("missing", severity)
    (extra,) = compare([], [copy.deepcopy(one)]).drifts
    assert (extra.state, extra.severity) == ("extra", severity)


def test_a_missing_connection_makes_the_fabric_critical():
    """The issue's first surviving mutation: a Connection dropped from CRITICAL_KINDS."""
    conn = obj(WIRING, "Connection", "leaf-01--mclag--leaf-02",
               {"mclag": {"links": [{"switch": {"port": "leaf-01/E1/1"}, "server": {"port": "s/enp2s1"}}]}})
    result = compare([conn, obj(WIRING, "Server", "s")], [obj(WIRING, "Server", "s")])
    assert [(d.rid.kind, d.state, d.severity) for d in result.drifts] == [("Connection", "missing", "critical")]


# Keys whose values are credentials (a BGP password, an IPsec/VPN pre-shared key, a token...): a change
# is reported, its values never shown. Matched anywhere in the key, in any case.
SECRET_KEYS = ["password", "bgpPassword", "passwd", "secret", "clientSecret", "token", "credentials",
               "psk", "PSK", "ipsecPsk", "private_key", "privateKey", "private-key", "authKey", "auth_key"]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_a_changed_credential_is_reported_masked(key):
    desired = obj(VPC, "External", "e", {"peer": {key: "desired-s3cret-value"}})
    live = obj(VPC, "External", "e", {"peer": {key: "live-s3cret-value"}})
    (change,) = diff_values(normalize(desired), normalize(live), "vpc.githedgehog.com")
    assert (change.op, change.path, change.desired, change.actual) == ("replace", f"/spec/peer/{key}", MASK, MASK)
    assert "s3cret" not in repr(change.as_dict())


@pytest.mark.parametrize("key", ["psk", "password", "token"])
def test_a_credential_under_an_added_map_is_masked(key):
    """The whole added value is shown, except what sits under a credential key."""
    desired = obj(VPC, "External", "e", {"name": "x"})
    live = obj(VPC, "External", "e", {"name": "x", "tunnel": {"peer": "10.0.0.1", key: "live-s3cret-value"}})
    (change,) = diff_values(normalize(desired), normalize(live), "vpc.githedgehog.com")
    assert change.op == "add" and change.actual == {"peer": "10.0.0.1", key: MASK}


@pytest.mark.parametrize("key", ["pskName", "mtu", "description"])
def test_ordinary_values_are_shown(key):
    """The mask is for credentials only; `pskName` is shown masked too (psk is matched anywhere)."""
    desired = obj(VPC, "External", "e", {key: "a"})
    live = obj(VPC, "External", "e", {key: "b"})
    (change,) = diff_values(normalize(desired), normalize(live), "vpc.githedgehog.com")
    shown = (MASK, MASK) if key == "pskName" else ("a", "b")
    assert (change.desired, change.actual) == shown


# Operators set these (the agents act on them: pkg/ctrl/agent_ctrl.go upstream); every other key with
# a controller's marker is the controller's own and never drift.
OPERATOR_KEYS = ["fabric.githedgehog.com/p2p-link", "fabric.githedgehog.com/route-summ"]


@pytest.mark.parametrize("key", OPERATOR_KEYS)
def test_an_operator_key_changed_live_is_drift(key):
    """As annotations: labels with these markers are dropped by defaulting (CleanupFabricLabels)."""
    where = "annotations"
    desired = obj(WIRING, "Switch", "leaf-01", **{where: {key: "true"}})
    live = obj(WIRING, "Switch", "leaf-01", **{where: {key: "false"}})
    (change,) = diff_values(normalize(desired), normalize(live), "wiring.githedgehog.com")
    assert (change.op, change.path) == ("replace", f"/metadata/{where}/{key.replace('/', '~1')}")
    # ...and one only the cluster has is drift too: an operator edit that Git does not know.
    added = diff_values(normalize(obj(WIRING, "Switch", "leaf-01")), normalize(live), "wiring.githedgehog.com")
    assert [(c.op, c.path) for c in added] == [("add", f"/metadata/{where}/{key.replace('/', '~1')}")]


@pytest.mark.parametrize("key", ["fabric.githedgehog.com/vpc", "vpc.fabric.githedgehog.com/vpc-1",
                                 "kubectl.kubernetes.io/last-applied-configuration",
                                 "hnp.githedgehog.com/reconciled"])
def test_a_controllers_key_is_never_drift(key):
    live = obj(WIRING, "Switch", "leaf-01", labels={key: "x"}, annotations={key: "y"})
    assert diff_values(normalize(obj(WIRING, "Switch", "leaf-01")), normalize(live), "wiring.githedgehog.com") == []
