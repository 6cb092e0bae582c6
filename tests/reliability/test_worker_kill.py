"""The Celery worker is killed (SIGKILL) at each provisioning step in turn, in one pool's life: one cluster,
then Ready.

tests/compute/test_pool_worker.py kills one worker once, as soon as the create or wait step has
started. This test goes further: one pool survives four kills, one inside each step, each while
the worker waits for Palette's answer to that step's call (the simulator holds that one answer):
validate (the validation request), create (Palette has built the cluster, its answer dies with the
worker), wait (a status poll), kubeconfig (the download). Beat (a real `celery beat`) runs the pool
watchdog that resumes the pool on the next worker.
"""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from compute.models import ComputePool, PoolStep
from compute.provisioning import create_pool
from palette.sim import Timings
from tests.compute.pool_fixtures import discover, make_bundle, spec_for
from tests.conftest import wait_for
from tests.reliability.conftest import Hold

pytestmark = [pytest.mark.reliability, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Pool timings for this process and for the worker and beat processes (they read the environment).
POOL_ENV = {
    "POOL_POLL_INTERVAL": "1",
    "POOL_RETRY_BASE": "1",
    "POOL_RESUME_GRACE": "1",
    "POOL_STEP_BUDGET": "5",
    "POOL_RELEASE_WAIT": "20",
    "POOL_PROVISION_TIMEOUT": "300",
    "POOL_WATCHDOG_INTERVAL": "5",
}
CREATE = ("POST", "/v1/spectroclusters/edge-native")
KILL_POINTS = [
    ("validate", ("POST", "/v1/spectroclusters/edge-native/validate"), "waiting for Palette's validation"),
    ("create", CREATE, "after Palette created the cluster, before its answer arrived"),
    ("wait", ("GET", "/v1/dashboard/spectroclusters/{uid}/overview"), "polling the cluster"),
    ("kubeconfig", ("GET", "/v1/spectroclusters/{uid}/assets/adminKubeconfig"), "downloading the kubeconfig"),
]


def _clusters(sim, pool: ComputePool) -> list:
    return [c for c in sim.state.clusters.values() if c.name == pool.cluster_name]


def test_it_builds_one_cluster_and_reaches_ready_when_the_worker_dies_in_every_step(
    world, connected_project, sim, processes, settings, monkeypatch, report
):
    for key, value in POOL_ENV.items():
        monkeypatch.setenv(key, value)
        setattr(settings, key, int(value))
    # Palette's lags stay on: the hosts' inUseClusters fills in late (after the create's answer died with the
    # worker, the cluster is found by name), and the kubeconfig is an empty file for a while after Running
    # (the pool waits for hasKubeConfig, then downloads the admin kubeconfig).
    sim.state.timings = Timings(pending=1, provisioning=4, deleting=1, deleted_visible=1)
    discover(connected_project)
    bundle = make_bundle(connected_project)
    processes.start("beat")
    started = time.monotonic()
    with transaction.atomic():
        pool = create_pool(connected_project, spec_for(connected_project), bundle, source="test")
    for step, route, _what in KILL_POINTS:
        hold = Hold(sim, *route)
        worker = processes.start("worker")
        assert hold.kill_inside(worker, 90), f"the pool never reached {step}: {worker.log_text()[-3000:]}"
        pool.refresh_from_db()
        assert pool.step == step and pool.status in ComputePool.IN_PROGRESS, (
            pool.step,
            pool.status,
            pool.failure_message,
        )
        assert PoolStep.objects.get(pool=pool, attempt=pool.attempt, name=step).status == PoolStep.RUNNING, (
            f"the worker was to die inside {step}, not after it"
        )
        clusters = _clusters(sim, pool)
        if step == "validate":
            assert clusters == []
        if step == "create":
            assert len(clusters) == 1 and pool.cluster_uid == "", (
                "the create's answer was to be lost with the worker"
            )
    worker = processes.start("worker")
    pool = wait_for(
        lambda: ComputePool.objects.filter(
            pk=pool.pk, status__in=(ComputePool.READY, ComputePool.FAILED)
        ).first(),
        timeout=120,
        interval=0.5,
        message="the pool to be Ready after the last restart",
    )
    took = time.monotonic() - started
    assert pool.status == ComputePool.READY, f"{pool.failure_message}\n{worker.log_text()[-3000:]}"
    clusters = _clusters(sim, pool)
    assert len(clusters) == 1 and clusters[0].uid == pool.cluster_uid, (
        "exactly one cluster exists in Palette, and it is the pool's"
    )
    creates = [r for r in sim.seen() if (r.method, r.path) == CREATE]
    assert len(creates) == 1, f"Palette was asked to create {len(creates)} times"
    assert pool.kubeconfig and sim.state.cluster_state(clusters[0]) == "Running"
    steps = {s.name: s.status for s in PoolStep.objects.filter(pool=pool, attempt=pool.attempt)}
    assert steps == {
        "validate": "succeeded",
        "create": "succeeded",
        "wait": "succeeded",
        "kubeconfig": "succeeded",
    }, steps
    report(
        f"injected SIGKILL of the worker inside each step in turn "
        f"({'; '.join(f'{s}: {w}' for s, _, w in KILL_POINTS)}), "
        f"a new worker each time; checked: Ready after 4 kills in {took:.0f} s, exactly 1 cluster in Palette "
        f"(the pool's), 1 create request, kubeconfig stored, every step succeeded once"
    )
