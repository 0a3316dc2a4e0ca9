"""Fuzz: whatever Git and the cluster hold, a plan is made or refused with a reason, and never carries a
value that sits under a Secret-like key, nor a controller-generated object."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from hedgehog_sync.domain.diff import SECRET_KEY, is_controller_generated
from hedgehog_sync.domain.model import DesiredState, LiveState
from hedgehog_sync.domain.plan import Plan, apply_yaml, delete_yaml, plan_for, plan_markdown
from hedgehog_sync.domain.report import build_report
from hedgehog_sync_tests.fuzz.conftest import fuzz_settings

SECRET = "fuzz-secret-value-0123456789abcdef"
NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)

_keys = st.sampled_from(["vlan", "subnet", "password", "authKey", "psk", "name", "dhcp", "api-token", "x"])
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.sampled_from(["a", "10.0.0.0/24"]))


def _with_secrets(mapping: dict) -> dict:
    """The secret stands under every Secret-like key (as a value, or deeper in one), nowhere else."""
    return {k: ([SECRET] if isinstance(v, list) else SECRET) if SECRET_KEY.search(k) else v for k, v in mapping.items()}


_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=4).map(_with_secrets)), max_leaves=12)
_kinds = st.sampled_from([("vpc.githedgehog.com/v1beta1", "VPC"), ("vpc.githedgehog.com/v1beta1", "VPCAttachment"),
                          ("wiring.githedgehog.com/v1beta1", "Switch"), ("agent.githedgehog.com/v1beta1", "Agent"),
                          ("dhcp.githedgehog.com/v1beta1", "DHCPSubnet")])


@st.composite
def objects(draw):
    api_version, kind = draw(_kinds)
    meta = {"name": draw(st.sampled_from(["a", "b", "c"]))}
    if draw(st.booleans()):
        meta["labels"] = _with_secrets(draw(st.dictionaries(_keys, st.just("v"), max_size=2)))
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": draw(_values)}


@fuzz_settings
@given(git=st.lists(objects(), max_size=5), live=st.lists(objects(), max_size=5), complete=st.booleans())
def test_any_drift_gives_a_plan_without_secret_values_or_controller_objects(git, live, complete) -> None:
    desired = DesiredState(commit="a" * 40, ref="main", objects=git, sources=[("f.yaml", i + 1) for i in range(len(git))])
    report = build_report("fab", desired, LiveState("https://127.0.0.1", live, complete=complete), now=NOW, ref="main")
    plan = plan_for(report, desired)
    assert isinstance(plan, Plan)
    if report["status"] == "unknown":
        assert plan.reason and not plan.has_changes and plan.version is None
    for text in (apply_yaml(plan), delete_yaml(plan), plan_markdown(plan), str(plan.summary()),
                 str([h.as_dict() for h in plan.held])):
        assert SECRET not in text
    assert not any(is_controller_generated(o) for o in plan.apply + plan.delete)
