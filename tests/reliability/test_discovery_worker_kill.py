"""The Celery worker is killed (SIGKILL) in the middle of a discovery scan: the run does not block the project
for good.

While the dead worker's run is still `running`, a second start joins it (one active run per
project). The next worker runs the watchdog when it starts; past RUN_RUNNING_TIMEOUT it fails the
orphaned run with a reason a person can act on, and the next discovery, on that worker, brings
the inventory to what Palette holds. The killed scan marked no host gone.
"""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from compute.discovery import start_discovery
from compute.models import DiscoveryRun, EdgeHost
from tests.conftest import wait_for
from tests.reliability.conftest import Hold, configure

pytestmark = [pytest.mark.reliability, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SEARCH = ("POST", "/v1/dashboard/edgehosts/search")
RUNNING_TIMEOUT = 3  # seconds, for the worker processes (RUN_RUNNING_TIMEOUT)


def _start(project) -> DiscoveryRun:
    with transaction.atomic():
        return start_discovery(project, trigger="manual")


def test_a_discovery_whose_worker_was_killed_is_failed_by_the_watchdog_and_the_next_one_heals(
    world, palette, processes, report
):
    sim = palette(hosts=300, seed=5, projects=1)
    configure(world.tenant_a, sim)
    project = world.project_a
    env = {"RUN_RUNNING_TIMEOUT": str(RUNNING_TIMEOUT)}

    hold = Hold(sim, *SEARCH, skip=2)  # pages 1 and 2 answer; the worker dies waiting for page 3
    worker = processes.start("worker", env=env)
    run = _start(project)
    assert hold.kill_inside(worker, 60), f"the scan never reached page 3: {worker.log_text()[-3000:]}"
    run.refresh_from_db()
    assert run.status == DiscoveryRun.RUNNING, (run.status, run.first_error)
    seen_before_kill = EdgeHost.objects.filter(project=project).count()
    assert 0 < seen_before_kill < 300, "pages before the kill were stored, the rest not"

    # The orphan is still the project's active run: starting again joins it, never a second scan beside it.
    assert _start(project).pk == run.pk
    assert DiscoveryRun.objects.filter(project=project).count() == 1

    time.sleep(RUNNING_TIMEOUT + 1)
    started = time.monotonic()
    worker = processes.start("worker", env=env)  # its start-up watchdog pass fails the orphan
    run = wait_for(
        lambda: DiscoveryRun.objects.filter(pk=run.pk, status=DiscoveryRun.FAILED).first(),
        timeout=30,
        message="the watchdog to fail the orphaned run",
    )
    assert "stopped without finishing it" in run.first_error and "Start it again" in run.first_error
    assert not EdgeHost.objects.filter(project=project, gone=True).exists(), (
        "a killed scan never marks hosts gone"
    )

    healed = _start(project)
    assert healed.pk != run.pk
    healed = wait_for(
        lambda: DiscoveryRun.objects.filter(pk=healed.pk, status__in=DiscoveryRun.TERMINAL).first(),
        timeout=60,
        message="the next discovery to finish",
    )
    assert healed.status == DiscoveryRun.SUCCEEDED, f"{healed.first_error}\n{worker.log_text()[-3000:]}"
    assert EdgeHost.objects.filter(project=project, gone=False).count() == len(sim.state.hosts) == 300
    assert not EdgeHost.objects.filter(project=project, gone=True).exists()
    report(
        f"killed the worker waiting for page 3 of 6 ({seen_before_kill} hosts stored); "
        f"a second start joined the orphan; "
        f"the next worker's watchdog failed it and a new run stored all 300 hosts "
        f"in {time.monotonic() - started:.1f} s"
    )
