"""Properties of the drift engine over generated objects: what no example table can promise."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st

from hedgehog_sync.devlab.generator import FabricSpec, generate_fabric
from hedgehog_sync.domain.defaults import (
    ORDER_INSENSITIVE, SORTED_LISTS, SPEC_TOP_LEVEL_ONLY, SPEC_UNTOUCHED, apply_defaults,
)
from hedgehog_sync.domain.diff import (
    EXTRA, MISSING, MODIFIED, SEVERITY_WEIGHT, Change, ResourceDrift, compare, diff_values, drift_score,
)
from hedgehog_sync.domain.kinds import KINDS, split_api_version
from hedgehog_sync.domain.model import ResourceId
from hedgehog_sync.domain.normalize import normalize, normalize_with_positions
from hedgehog_sync_tests.domain import test_fidelity as fidelity

AUTHORED = [k for k in KINDS if k.authored]
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Realistic objects to start from: a generated fabric with every optional part, and the fidelity tables.
POOL = generate_fabric("fab-prop", FabricSpec(external=True, seed=9)) + [
    p.values[0] for p in fidelity.TABLE]

_scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, 70000),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6),
                    st.sampled_from(["", "default", "10.0.1.0/24", "10.0.1.1", "0c:20:12:ff:00:01", "120s"]))
_json = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                     max_leaves=20)
_label_key = st.sampled_from(["team", "rack", "fabric.githedgehog.com/vpc", "vpc.fabric.githedgehog.com/a",
                              "kubectl.kubernetes.io/x", "hnp.githedgehog.com/managed",
                              "fabric.githedgehog.com/route-summ", "example.com/owner"])


def _places(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a structure (its containers and leaves), as key paths."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _places(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _places(v, prefix + (i,))
    return out


def _put(obj: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


def _same_type(value: Any) -> st.SearchStrategy:
    """Another value the CRD schema would accept where `value` is: same type, zero values included."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(0, 4094)
    if isinstance(value, str):
        return st.one_of(st.just(""), st.text("abc-/.0123456789", max_size=8),
                         st.sampled_from(["default", "10.0.1.0/24", "10.0.1.1", "0C-20-12-FF-00-01", "120s"]))
    if isinstance(value, list):
        return st.just([])
    return st.just({})


@st.composite
def realistic_objects(draw, typed: bool = False) -> dict:
    """An object of the pool with a few of its fields replaced (by a value of the same type when typed),
    or deleted, and some labels."""
    obj = copy.deepcopy(draw(st.sampled_from(POOL)))
    for _ in range(draw(st.integers(0, 3))):
        places = [p for p in _places(obj["spec"], ("spec",)) if len(p) > 1]
        if not places:
            break
        place = draw(st.sampled_from(places))
        parent = obj
        for key in place[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[place[-1]]
        else:
            _put(obj, place, draw(_same_type(parent[place[-1]]) if typed else _json))
    obj["metadata"]["labels"] = draw(st.dictionaries(_label_key, st.text(max_size=4), max_size=3))
    return obj


@st.composite
def arbitrary_objects(draw) -> dict:
    kind = draw(st.sampled_from(AUTHORED))
    return {"apiVersion": kind.api_version, "kind": kind.kind,
            "metadata": {"name": draw(st.sampled_from(["a", "b-1"])),
                         "labels": draw(st.dictionaries(_label_key, st.text(max_size=4), max_size=3))},
            "spec": draw(_json)}


objects = st.one_of(realistic_objects(), arbitrary_objects())


def _diff(a: dict, b: dict) -> list[Change]:
    group, _ = split_api_version(a["apiVersion"])
    return diff_values(a, b, group, ORDER_INSENSITIVE.get((group, a["kind"]), ()))


@SETTINGS
@given(obj=objects)
def test_an_object_never_drifts_from_itself(obj: dict) -> None:
    before = copy.deepcopy(obj)
    assert _diff(normalize(obj), normalize(copy.deepcopy(obj))) == []
    assert compare([obj], [copy.deepcopy(obj)]).drifts == []
    assert obj == before  # neither normalize nor compare changes its input


@SETTINGS
@given(obj=realistic_objects(typed=True))
def test_normalized_form_is_a_fixed_point(obj: dict) -> None:
    """A normalized live object compares as it is. (Not for input Go cannot decode, such as a list
    where a VLAN number belongs: pruning it can make an invalid range valid on a second pass.)"""
    once = normalize(obj)
    assert normalize(once) == once
    assert _diff(once, normalize(once)) == []


@SETTINGS
@given(obj=objects)
def test_tracking_positions_changes_nothing_of_the_normalized_form(obj: dict) -> None:
    """normalize_with_positions (the diff's second pass, naming set elements as written) normalizes
    exactly as normalize does, and every position it records is an index of a list as written."""
    before = copy.deepcopy(obj)
    tracked, positions = normalize_with_positions(obj)
    assert tracked == normalize(obj)
    assert obj == before
    for where in positions.values():
        known = [w for w in where if w is not None]
        assert len(known) == len(set(known)) and all(w >= 0 for w in known)


@SETTINGS
@given(obj=objects, data=st.data())
def test_json_round_trip_and_key_order_are_not_drift(obj: dict, data) -> None:
    """What comes back from the API is JSON with keys in Go's order, integral floats as ints."""
    text = json.dumps(obj, sort_keys=data.draw(st.booleans()))
    back = json.loads(text, parse_float=lambda f: int(float(f)) if float(f).is_integer() else float(f))
    assert _diff(normalize(obj), normalize(back)) == []


@SETTINGS
@given(obj=objects)
def test_defaults_twice_equal_defaults_once(obj: dict) -> None:
    once = apply_defaults(obj)
    assert apply_defaults(once) == once


@SETTINGS
@given(obj=objects, data=st.data())
def test_defaults_change_no_more_of_spec_than_declared(obj: dict, data) -> None:
    """SPEC_UNTOUCHED and SPEC_TOP_LEVEL_ONLY let normalize skip copies: they must hold for every input."""
    kind = data.draw(st.sampled_from(sorted(SPEC_UNTOUCHED | SPEC_TOP_LEVEL_ONLY)))
    obj = {**obj, "apiVersion": next(k.api_version for k in KINDS if (k.group, k.kind) == kind), "kind": kind[1]}
    assume(isinstance(obj.get("spec"), dict))
    before = copy.deepcopy(obj)
    out = apply_defaults(obj)
    if kind in SPEC_UNTOUCHED:
        assert out["spec"] == before["spec"]
    else:
        nested = lambda spec: {k: v for k, v in spec.items() if isinstance(v, (dict, list))}  # noqa: E731
        assert nested(out["spec"]) == nested(before["spec"])
    shared = apply_defaults(obj, share_unchanged=True)
    assert shared == out and obj == before
    assert not SORTED_LISTS.keys() & (SPEC_UNTOUCHED | SPEC_TOP_LEVEL_ONLY)


@SETTINGS
@given(obj=realistic_objects(typed=True))
def test_realistic_object_is_in_sync_with_its_stored_copy(obj: dict) -> None:
    """Whatever an operator writes, what the webhook, Go's encoding and the server add is not drift.
    An object the webhook refuses has no stored copy (with --randomly-seed=1234 this drew
    `idleTimeout: ""`, which the reference used to default although Go's decoder rejects it: see
    test_fidelity.test_an_empty_idle_timeout_in_git_is_drift_from_what_the_cluster_holds)."""
    try:
        live = fidelity.stored(obj)
    except fidelity.WebhookDenies:
        reject()
    assert compare([obj], [live]).drifts == []


def _without_each_field(obj: dict) -> list[dict]:
    """obj once as it is, and once without each of the map fields of its spec, one at a time."""
    out = [obj]
    for place in _places(obj.get("spec"), ("spec",)):
        if len(place) < 2:
            continue
        variant = copy.deepcopy(obj)
        parent = variant
        for key in place[:-1]:
            parent = parent[key]
        if isinstance(parent, dict):
            del parent[place[-1]]
            out.append(variant)
    return out


def test_every_field_left_to_the_webhook_is_in_sync_with_its_stored_copy() -> None:
    """Deterministic companion of the property above: every field of every pool object, left out in turn,
    is filled in the stored copy by the tests' own Go reference (test_fidelity.go_default, written from
    the Go source, not the production defaulting), so a wrong defaulting rule shows as drift here."""
    checked = 0
    for obj in POOL:
        for variant in _without_each_field(obj):
            live = fidelity.stored(variant)
            result = compare([variant], [live])
            assert result.drifts == [], (variant["kind"], variant["metadata"]["name"],
                                         [c.as_dict() for d in result.drifts for c in d.changes])
            checked += 1
    assert checked > len(POOL)


# --- the score ----------------------------------------------------------------------------------

_severity = st.sampled_from(["low", "medium", "high", "critical"])


@st.composite
def drifts(draw) -> list[ResourceDrift]:
    out = []
    for i in range(draw(st.integers(0, 12))):
        state = draw(st.sampled_from([MODIFIED, MISSING, EXTRA]))
        rid = ResourceId("vpc.githedgehog.com", "VPC", "default", f"vpc-{i}")
        if state == MODIFIED:
            changes = [Change("replace", f"/spec/x{j}", 1, 2, draw(_severity)) for j in range(draw(st.integers(1, 5)))]
            out.append(ResourceDrift(rid, "vpc.githedgehog.com/v1beta1", state, "high", changes))
        else:
            out.append(ResourceDrift(rid, "vpc.githedgehog.com/v1beta1", state, draw(_severity)))
    return out


def _weight(items: list[ResourceDrift]) -> float:
    return sum(sum(SEVERITY_WEIGHT[c.severity] for c in d.changes) if d.state == MODIFIED
               else SEVERITY_WEIGHT[d.severity] for d in items)


@SETTINGS
@given(base=drifts(), more=drifts(), severity=_severity)
def test_score_is_monotone_in_the_changes(base: list[ResourceDrift], more: list[ResourceDrift], severity: str) -> None:
    score = drift_score(base)
    assert 0.0 <= score < 1.0 and (score == 0.0) == (not base)
    # More drifted resources never lower it; nor does one more change to a drifted resource.
    assert drift_score(base + more) >= score
    grown = copy.deepcopy(base)
    modified = [d for d in grown if d.state == MODIFIED]
    if modified:
        modified[0].changes.append(Change("add", "/spec/y", None, 1, severity))
        assert drift_score(grown) >= score
        if _weight(base) < 100:  # below that, the score's four decimals still tell one change apart
            assert drift_score(grown) > score


@SETTINGS
@given(a=drifts(), b=drifts())
def test_score_orders_fabrics_by_weighted_changes(a: list[ResourceDrift], b: list[ResourceDrift]) -> None:
    assume(not math.isclose(_weight(a), _weight(b)))
    low, high = sorted((a, b), key=_weight)
    assert drift_score(low) <= drift_score(high)


# Parsing's properties (Kubernetes' YAML-to-JSON meaning, budgets held while reading, hostile text)
# live in test_yaml_scalars.py and fuzz/test_yaml.py.
