"""Shared fixtures: the demo fleet (real git repositories and the devlab API server on loopback)."""

import pytest

from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.devlab.demo import build_demo_fleet, serve_demo_fleet


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
    return FleetResource(inventory_path=str(fleet.inventory), state_dir=str(tmp_path / "state"))
