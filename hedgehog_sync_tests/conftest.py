"""Shared fixtures: the demo fleet (real git repositories and the devlab API server on loopback)."""

import pytest

from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.devlab.demo import build_demo_fleet, serve_demo_fleet


@pytest.fixture(autouse=True)
def _leaves_no_current_instance_behind(request):
    """Each test leaves Dagster's current defs-state storage as it found it.

    Entering a DagsterInstance (`with instance:`, or a schedule context opening one from a ref) makes
    its defs-state storage the current one until it is exited; exits out of order (a context closed
    after the instance it was built on) restore a storage whose instance is gone. Loading
    Definitions later, in any test, then fails with "Attempted to resolve undefined DagsterInstance
    weakref". This fails the test that does it instead."""
    from dagster._core.storage.defs_state.base import DefsStateStorage

    before = DefsStateStorage.get()
    yield
    after = DefsStateStorage.get()
    assert after is before, (
        f"{request.node.nodeid} left Dagster's current defs-state storage changed ({before!r} -> {after!r}): "
        "close every context that opens an instance (schedule contexts too) inside that instance's `with`")


@pytest.fixture
def demo_fleet(tmp_path):
    """The three demo fabrics under tmp_path, with their API server running; yields (fleet, handle)."""
    fleet = build_demo_fleet(tmp_path / "devlab")
    handle = serve_demo_fleet(fleet)
    try:
        yield fleet, handle
    finally:
        handle.stop()


@pytest.fixture
def fleet_resource(demo_fleet, tmp_path):
    fleet, _ = demo_fleet
    return FleetResource(inventory_path=str(fleet.inventory))
