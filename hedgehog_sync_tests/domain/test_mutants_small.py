"""Kills the mutants of the small domain modules that survived the domain tests (issue 19): batching,
errors, health's agent count, kinds, model, and defaults' careful copy. Expected values are written here."""

import pytest

from hedgehog_sync.domain.batching import batch_size_for_budget, plan_batches
from hedgehog_sync.domain.defaults import apply_defaults
from hedgehog_sync.domain.errors import (
    ClusterAuthError, ClusterTimeoutError, ClusterUnreachableError, PermanentError, RateLimitedError,
    error_for_http_status,
)
from hedgehog_sync.domain.health import agent_convergence
from hedgehog_sync.domain.kinds import is_hedgehog_group
from hedgehog_sync.domain.model import Finding


@pytest.mark.parametrize("args,size", [
    ((100, 60.0, None), 100),  # no estimate yet: as configured
    ((100, 60.0, 0.0), 100),
    ((100, 60.0, -1.0), 100),
    ((100, 60.0, 0.5), 60),  # half the budget (the default headroom) at 0.5 s a fabric
    ((100, 60.0, 0.6), 50),
    ((100, 60.0, 1.0), 30),
    ((10, 60.0, 1.0), 10),  # never more than configured
    ((100, 60.0, 100.0), 1),  # at least one
    ((100, 60.0, 1.0, 0.25), 15),
])
def test_batch_size_for_budget(args, size):
    assert batch_size_for_budget(*args) == size


def test_plan_batches_fills_a_range_up_to_its_size_exactly():
    keys = list("abcdefg")
    assert plan_batches(keys, keys, 3) == [("a", "c"), ("d", "f"), ("g", "g")]
    assert plan_batches(keys, keys, 7) == [("a", "g")]
    assert plan_batches(keys, ["a", "c", "e"], 5, fill=["b", "d"]) == [("a", "e")]
    assert plan_batches(keys, ["a", "c", "e"], 2, fill=["b", "d"]) == [("a", "a"), ("c", "c"), ("e", "e")]


def test_plan_batches_refuses_an_empty_batch_saying_why():
    with pytest.raises(ValueError, match="^batch_size must be at least 1$"):
        plan_batches(["a"], ["a"], 0)


@pytest.mark.parametrize("status,cls,retry", [
    (429, RateLimitedError, 7.0), (401, ClusterAuthError, None), (403, ClusterAuthError, None),
    (408, ClusterTimeoutError, 7.0), (504, ClusterTimeoutError, 7.0), (500, ClusterUnreachableError, 7.0),
    (503, ClusterUnreachableError, 7.0), (404, PermanentError, None), (422, PermanentError, None),
])
def test_error_for_http_status_keeps_message_and_retry_after(status, cls, retry):
    error = error_for_http_status(status, f"HTTP {status} from the API server", retry_after=7.0)
    assert type(error) is cls and str(error) == f"HTTP {status} from the API server"
    assert getattr(error, "retry_after", None) == retry


def agent(name, generation=None, applied=None, api_version="agent.githedgehog.com/v1beta1", kind="Agent"):
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}
    if generation is not None:
        obj["metadata"]["generation"] = generation
    if applied is not None:
        obj["status"] = {"lastAppliedGen": applied}
    return obj


def test_agent_convergence_counts_agents_and_the_converged_ones():
    live = [
        {"kind": "Agent", "metadata": {"name": "no-api-version"}},  # no group: not an agent
        agent("switch-kind", 1, 1, kind="Switch"),
        agent("other-group", 1, 1, api_version="wiring.githedgehog.com/v1beta1"),
        agent("a1", 3, 3), agent("a2", 4, 3), agent("a3", 2), agent("a4", 5, 5), agent("a5", None, 1),
    ]
    assert agent_convergence(live) == (5, 2)
    assert agent_convergence([agent("x", 1, 1), agent("y", 1, 1), agent("z", 1, 1)]) == (3, 3)


@pytest.mark.parametrize("group,hedgehog", [
    ("wiring.githedgehog.com", True), ("vpc.githedgehog.com", True), ("future.githedgehog.com", True),
    ("githedgehog.com", False), ("apps", False), ("example.com", False),
])
def test_is_hedgehog_group(group, hedgehog):
    assert is_hedgehog_group(group) is hedgehog


def test_finding_as_dict():
    assert Finding("a.yaml", "bad", "warning").as_dict() == {"source": "a.yaml", "level": "warning", "message": "bad"}
    assert Finding("a.yaml", "bad", document=2).as_dict() == {"source": "a.yaml", "level": "error", "message": "bad",
                                                               "document": 2}


class Mapping(dict):
    """Not a plain dict (as a YAML loader's own types may be): defaulting takes its careful copy."""


def test_the_careful_copy_copies_lists_of_containers_and_shares_nothing():
    shared = {"subnet": "10.0.1.0/24", "vlan": 1001}
    spec = Mapping(subnets=Mapping(default=shared), permit=[["vpc-1", "vpc-2"], [Mapping(a=1)]])
    obj = {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": {"name": "vpc-1"}, "spec": spec}
    out = apply_defaults(obj)
    assert out["spec"]["permit"] == [["vpc-1", "vpc-2"], [{"a": 1}]]
    assert type(out["spec"]["permit"][1][0]) is dict and type(out["spec"]) is dict
    out["spec"]["permit"][0].append("vpc-3")
    assert spec["permit"][0] == ["vpc-1", "vpc-2"]  # the input is never changed
    assert out["spec"]["subnets"]["default"]["subnet"] == "10.0.1.0/24"


def test_a_list_holding_the_same_dict_twice_is_copied_twice_not_refused_as_a_cycle():
    """A YAML alias used twice is no cycle: both copies are made, neither shared."""
    same = Mapping(x=1)
    spec = Mapping(items=[same, same])
    out = apply_defaults({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "spec": spec})
    assert out["spec"]["items"] == [{"x": 1}, {"x": 1}]
    assert out["spec"]["items"][0] is not out["spec"]["items"][1] and type(out["spec"]["items"][0]) is dict
