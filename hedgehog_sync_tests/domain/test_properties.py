"""Properties of the drift engine over generated objects: what no example table can promise."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
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
from hedgehog_sync.domain.normalize import normalize
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
    """Whatever an operator writes, what the webhook, Go's encoding and the server add is not drift."""
    live = fidelity.stored(obj)
    assert compare([obj], [live]).drifts == []


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


# --- parsing: the bound that lets anchor-free files skip the alias-expansion count ------------------


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet="[]{},:?-!|>'\"#\n a", max_size=40))
def test_yaml_without_anchors_has_at_most_two_nodes_per_character(text: str) -> None:
    import yaml

    from hedgehog_sync.domain.parsing import _BaseLoader, _expanded_size

    loader = _BaseLoader(text)
    nodes = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            nodes += _expanded_size(node, 10**9) if node is not None else 1
    except yaml.YAMLError:
        assume(False)
    finally:
        loader.dispose()
    assert nodes <= 2 * len(text) + 2


def _bound(data: bytes) -> int:
    """The smallest limit _may_nest_too_deep lets a text through at without asking the scanner."""
    from unittest.mock import patch

    from hedgehog_sync.domain import parsing

    with patch.object(parsing, "_scanned_depth_exceeds", lambda data, limit: True):
        low, high = 0, 4096
        while low < high:  # the answer is monotone in the limit
            mid = (low + high) // 2
            if parsing._may_nest_too_deep(data, mid):
                low = mid + 1
            else:
                high = mid
        return low


_YAML_PIECES = st.sampled_from(["- ", "? ", ": ", "k: ", "k:", "[", "]", "{", "}", ", ", "'", '"', "\n", "\r",
                                "  ", "    ", "--- ", "&a ", "!t ", "*a", "x", "\u2028", "\u0085", "|\n", "#"])


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(_YAML_PIECES, max_size=60))
def test_depth_bound_never_underestimates(pieces: list[str]) -> None:
    """The bound that keeps deep files away from libyaml's recursive composer (which crashes the process)
    is sound: no document of a text is deeper than the smallest limit the bound lets the text through at."""
    import yaml

    from hedgehog_sync.domain import parsing

    data = "".join(pieces).encode()
    try:
        docs = list(yaml.load_all(data.decode(), Loader=parsing._BaseLoader))
    except (yaml.YAMLError, RecursionError):
        return
    bound = _bound(data)
    assert all(parsing._depth(doc, 10**6) <= bound for doc in docs)


_chain = st.lists(st.sampled_from(["list", "dict", "dict2", "list2"]), min_size=1, max_size=40)


def _nest(shape: list[str]) -> Any:
    value: Any = "x"
    for step in reversed(shape):
        value = {"list": [value], "list2": [value, 1], "dict": {"k": value}, "dict2": {"k": value, "m": 1}}[step]
    return value


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=_chain, flow=st.sampled_from([False, True, None]), indent=st.integers(2, 5), start=st.booleans())
def test_depth_bound_holds_for_every_emitter_style(shape: list[str], flow: bool | None, indent: int,
                                                    start: bool) -> None:
    """Deep chains of lists and maps in block style (with PyYAML's compact `- - x`), flow style and mixed."""
    import yaml

    from hedgehog_sync.domain import parsing

    value = _nest(shape)
    text = yaml.safe_dump(value, default_flow_style=flow, indent=indent, explicit_start=start)
    assert parsing._depth(value, 10**6) <= _bound(text.encode()), text


# --- parsing: the fast builder gives exactly what PyYAML's SafeConstructor gives --------------------


def _shape(value: Any) -> Any:
    """Value with every type spelled out, key order kept, and shared or cyclic containers numbered in the
    order first met: two results with equal shapes are the same data with the same aliasing."""
    seen: dict[int, int] = {}

    def walk(v: Any) -> Any:
        if isinstance(v, (dict, list)):
            if id(v) in seen:
                return ("same-as", seen[id(v)])
            seen[id(v)] = len(seen)
            if isinstance(v, dict):
                return ("map", seen[id(v)], tuple((walk(k), walk(x)) for k, x in v.items()))
            return ("seq", seen[id(v)], tuple(walk(x) for x in v))
        if isinstance(v, float) and math.isnan(v):
            return ("float", "nan")
        if isinstance(v, (set, tuple, frozenset)):
            return (type(v).__name__, tuple(sorted((walk(x) for x in v), key=repr)))
        return (type(v).__name__, v)

    return walk(value)


def _both_ways(text: str) -> tuple[Any, Any]:
    """(ours, PyYAML's) for every document of text: a list of shapes, or the exception class's name."""
    import yaml

    from hedgehog_sync.domain import parsing

    def run(build) -> Any:
        loader = parsing._BaseLoader(text)
        try:
            out = []
            while loader.check_node():
                node = loader.get_node()
                out.append(_shape(None if node is None else build(loader, node)))
            return out
        except (yaml.YAMLError, *parsing._SCALAR_ERRORS, RecursionError) as exc:
            return "error" if not isinstance(exc, yaml.composer.ComposerError) else f"compose: {exc}"
        finally:
            loader.dispose()

    return (run(lambda loader, node: parsing._construct(loader, node, "&" in text)),
            run(lambda loader, node: loader.construct_document(node)))


_keys = st.one_of(st.text(max_size=5), st.integers(-5, 5), st.booleans(), st.none(), st.floats(allow_nan=False))
_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                  st.dates(), st.binary(max_size=6),
                  st.sampled_from(["yes", "off", "~", "0x1f", "017", "1:30", ".inf", "1e3", "2026-11-28", "<<", "="]))
_data = st.recursive(_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                    st.dictionaries(_keys, inner, max_size=4)), max_leaves=25)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_data, flow=st.sampled_from([False, True, None]), share=st.booleans())
def test_fast_builder_equals_safe_constructor_on_dumped_data(value: Any, flow: bool | None, share: bool) -> None:
    import yaml

    if share and isinstance(value, (dict, list)):
        value = {"a": value, "b": value, "c": [value]}  # the dumper writes anchors and aliases
    text = yaml.safe_dump_all([value, value], default_flow_style=flow)
    ours, theirs = _both_ways(text)
    assert ours == theirs


TRICKY_YAML = [
    "base: &b {x: 1, y: 2}\nmerged:\n  <<: *b\n  y: 3\n",
    "a: !!set {x, y}\nb: !!omap [{k: 1}, {j: 2}]\nc: !!pairs [{k: 1}, {k: 2}]\n",
    "a: !!binary aGVsbG8=\nb: !!timestamp 2026-11-28T12:00:00Z\nc: 2026-11-28\nd: 1:30:00\n",
    "a: 0o17\nb: 017\nc: 0x1F\nd: 1_000\ne: .inf\nf: -.inf\ng: .nan\nh: 1e3\ni: 6.8523015e+5\n",
    "a: yes\nb: No\nc: on\nd: OFF\ne: ~\nf: null\ng: Null\nh: true\ni: y\n",
    "a: !!str 123\nb: !!int '42'\nc: !!float '1'\nd: !!bool 'yes'\ne: !!null ''\nf: !!str\n",
    "? [a, b]\n: unhashable key\n",
    "? {a: 1}\n: unhashable key\n",
    "a: &r [1, *r]\n",
    "a: &r {k: *r}\n",
    "a: !custom 1\n",
    "a: !!python/object:os.system x\n",
    "a: !!int abc\n",
    "a: !!bool maybe\n",
    "a: !!timestamp nope\n",
    "a: !!binary '!!!'\n",
    "a: " + "9" * 5000 + "\n",
    "=: value key\nother: 1\n",
    "a: {=: 1}\n",
    "? !!str 1\n: 2\n1: one\n'1': quoted\n",
    "a: &x 1\nb: *x\nc: [*x, *x]\n",
    "a: &s [1, 2]\nb: *s\nc: {k: *s}\n",
    "--- !!map {a: 1}\n--- !!seq [1]\n--- !!str x\n--- !!map [1]\n",
    "a: *undefined\n",
    "- &a x\n- *a\n- {*a : 1}\n",
    "a: !!map {b: !!seq [!!int 1, !!float 2]}\n",
    "a: !<tag:yaml.org,2002:str> 1\nb: !<tag:example.com,2000:x> 2\n",
]


def test_fast_builder_equals_safe_constructor_on_tricky_yaml() -> None:
    for text in TRICKY_YAML:
        ours, theirs = _both_ways(text)
        assert ours == theirs, text


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(st.sampled_from(["- ", "? ", ": ", "k: ", "[", "]", "{", "}", ", ", "\n", "  ", "&a ",
                                        "*a", "!!int ", "!!str ", "!!set ", "<<: ", "x", "1", "yes", "~", "--- "]),
                       max_size=40))
def test_fast_builder_equals_safe_constructor_on_any_text(pieces: list[str]) -> None:
    ours, theirs = _both_ways("".join(pieces))
    assert ours == theirs
