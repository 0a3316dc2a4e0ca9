"""Containment (issue 12 item 4): whatever values one fabric's two sides hold, comparing it ends in a
report, and the report the batch records for it can always be rendered as Dagster metadata.

Hypothesis draws both sides of a fabric with values of every type YAML or a hostile API server could
hand over (dates, bytes, NaN, huge numbers, nested junk where a name or a map belongs). No example
may raise out of `compare_fabric`; where rendering the report fails, the contained report (what the
compare step records instead) must render.
"""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given, strategies as st

from hedgehog_sync.cycle import SideRead, compare_fabric, contained_outcome
from hedgehog_sync.defs.assets import _links, _report_metadata
from hedgehog_sync.domain.inventory import FabricConfig
from hedgehog_sync.domain.model import DesiredState, LiveState
from hedgehog_sync.state import FabricWrite, StateStore
from hedgehog_sync_tests.fuzz.conftest import fuzz_settings

KINDS = [("vpc.githedgehog.com/v1beta1", "VPC"), ("wiring.githedgehog.com/v1beta1", "Switch"),
         ("wiring.githedgehog.com/v1beta1", "Connection"), ("vpc.githedgehog.com/v1beta1", "VPCAttachment")]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), st.binary(max_size=8),
    st.dates(), st.datetimes(timezones=st.just(dt.timezone.utc)),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)
names = st.one_of(st.sampled_from(["vpc-1", "vpc-2", "leaf-1", "spine-1"]), values)


@st.composite
def objects(draw):
    api_version, kind = draw(st.sampled_from(KINDS))
    metadata = {"name": draw(names), "namespace": "default"}
    for key in ("labels", "annotations"):
        if draw(st.booleans()):
            metadata[key] = draw(st.one_of(st.dictionaries(st.text(max_size=8), values, max_size=3), values))
    obj = {"apiVersion": api_version, "kind": kind, "metadata": draw(st.one_of(st.just(metadata), values))}
    if draw(st.booleans()):
        obj["spec"] = draw(values)
    return obj


_STORES: list[StateStore] = []


def _store() -> StateStore:
    """One in-memory store for all examples: each example's report replaces the last one."""
    if not _STORES:
        _STORES.append(StateStore.in_memory())
    return _STORES[0]


CFG = FabricConfig(name="fab-fuzz", git={"url": "https://git.example.com/netops/fabrics.git"})


@fuzz_settings
@given(desired=st.lists(objects(), max_size=4), live=st.lists(objects(), max_size=4))
def test_any_values_end_in_a_report_that_can_be_recorded(desired, live):
    git = SideRead(DesiredState("c0ffee", "main", desired, [("fabric.yaml", i + 1) for i in range(len(desired))]),
                   version="g")
    cluster = SideRead(LiveState("https://127.0.0.1:6443", live), version="l")
    store = _store()
    outcome = compare_fabric(CFG, git, cluster, store.load([CFG.name])[CFG.name])  # never raises
    assert outcome.report["status"] in ("in_sync", "drifted", "unknown")
    try:
        metadata = _report_metadata(outcome, _links(CFG))
    except Exception as exc:  # what the compare step does: the fabric's report turns unknown
        outcome = contained_outcome(outcome, exc, "recording")
        metadata = _report_metadata(outcome, _links(CFG))
        assert outcome.report["status"] == "unknown"
    store.commit([FabricWrite(CFG.name, report=outcome.report, versions=outcome.versions)])
    kept = json.dumps(store.latest_report(CFG.name), sort_keys=True)  # as text: NaN is not equal to itself
    assert kept == json.dumps(json.loads(json.dumps(outcome.report, default=str)), sort_keys=True)
    assert metadata["status"].value == outcome.report["status"]
    if outcome.compare_error is not None:
        (error,) = [e for e in outcome.report["errors"] if e.get("error_class") == "CompareError"]
        assert error["message"].split(":", 1)[0] in ("comparing failed", "recording failed")
        json.dumps(outcome.report, allow_nan=False)  # the contained report is plain, strict JSON
