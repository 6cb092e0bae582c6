"""Compute fixtures: a simulator with a realistic inventory, and a project whose Settings point at it."""
from __future__ import annotations

import pytest

from palette.sim import Simulator
from tests.integrations.conftest import configure_palette, palette_values


@pytest.fixture
def sim():
    simulator = Simulator(hosts=120, seed=7).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connected_project(world, sim):
    """world.project_a, with tenant Settings pointing at the simulator's first project (CA trusted)."""
    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    return world.project_a
