"""Fixtures for the Palette client and simulator tests: real simulators over HTTPS, no mocks.

These tests need no database and no Django: ``palette`` is standalone. The parent conftest's
autouse fixture that tweaks Django settings is replaced here by a no-op so the suite also runs
with ``-p no:django``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from palette import PaletteClient, RetryPolicy
from palette.sim import Simulator, Timings

#: Cluster phases short enough for tests, long enough to observe each state; the lags Palette documents
#: (inUseClusters, kubeconfig, force delete after 15 minutes) keep their defaults. Each simulator gets a copy.
FAST = Timings(pending=0.3, provisioning=0.6, deleting=0.4, deleted_visible=0.4)
#: Retries that keep tests quick but still exercise backoff.
QUICK_RETRY = RetryPolicy(attempts=6, base=0.02, cap=0.2, retry_after_cap=2.0)


@pytest.fixture(autouse=True)
def _no_login_throttling() -> None:
    """Overrides the parent's Django-settings fixture: nothing here logs in."""


def _checked(sim: Simulator) -> Iterator[Simulator]:
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
    # Every response the simulator sent during the test validated against the spec subset.
    assert sim.violations == []


@pytest.fixture(scope="session")
def big_sim() -> Iterator[Simulator]:
    """A read-mostly simulator with 1,200 hosts, validating every response it sends."""
    yield from _checked(Simulator(hosts=1200, seed=11, validate=True, timings=replace(FAST)))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A small simulator of its own for tests that change the world."""
    yield from _checked(Simulator(hosts=80, seed=5, validate=True, timings=replace(FAST)))


@pytest.fixture
def make_client() -> Iterator[Callable[..., PaletteClient]]:
    """Build clients for a simulator (trusting its CA, default project, validating); closed after."""
    clients: list[PaletteClient] = []

    def make(sim: Simulator, **kwargs) -> PaletteClient:
        kwargs.setdefault("ca_pem", sim.ca_pem)
        kwargs.setdefault("project_uid", sim.project_uids[0])
        kwargs.setdefault("validate", True)
        kwargs.setdefault("retry", QUICK_RETRY)
        client = PaletteClient(kwargs.pop("host", sim.url), kwargs.pop("api_key", sim.api_key), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
