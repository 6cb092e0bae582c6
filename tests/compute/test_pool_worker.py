"""Compute pools end to end with real Celery workers on Redis and PostgreSQL, against the simulator over
HTTPS."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from compute.models import ComputePool, EdgeHost
from compute.provisioning import create_pool
from palette.sim import Timings
from tests.compute.pool_fixtures import discover, make_bundle, spec_for
from tests.conftest import CeleryProcess, require_services, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_ENV = {
    "POOL_POLL_INTERVAL": "1",
    "POOL_RETRY_BASE": "1",
    "POOL_RESUME_GRACE": "1",
    "POOL_STEP_BUDGET": "5",
    "POOL_RELEASE_WAIT": "20",
    "POOL_PROVISION_TIMEOUT": "180",
}


@pytest.fixture
def worker_settings(settings, monkeypatch, sim):
    """Pool timings for this process and for the worker processes it starts (they read the environment)."""
    for key, value in WORKER_ENV.items():
        monkeypatch.setenv(key, value)
        setattr(settings, key, int(value))
    # Palette's kubeconfig lag as it is (an empty file for 10 s after Running): the pool waits for
    # hasKubeConfig.
    sim.state.timings = Timings(pending=1, provisioning=6, deleting=1, deleted_visible=1)
    return settings


def _clusters(sim, pool):
    return [c for c in sim.state.clusters.values() if c.name == pool.cluster_name]


def _status(pool_pk, *statuses):
    pool = ComputePool.objects.get(pk=pool_pk)
    return pool if pool.status in statuses else None


def test_it_provisions_and_deletes_a_pool_through_a_real_worker(
    world, connected_project, sim, worker_settings, celery_worker_process
):
    require_services()
    discover(connected_project)
    make_bundle(connected_project)
    client = world.client_for(world.editor)
    data = {
        "name": "gpu-pool-a",
        "variant": "dedicated",
        "bundle": "edge-infra",
        "cp_count": "1",
        "cp_worker_eligible": "on",
        "cp_architecture": "amd64",
        "cp_cpu": "4",
        "cp_memory_gib": "8",
        "cp_groups": "palette.ai=true",
        "worker_architecture": "amd64",
        "worker_groups": "palette.ai=true",
        "vip": "10.20.99.10",
        "ssh_keys": "",
        "deletion_policy": "delete",
        "create": "1",
    }
    assert client.post(reverse("compute:pool_create", args=["acme", "research"]), data).status_code == 302
    pool = ComputePool.objects.get(name="gpu-pool-a")
    log = celery_worker_process.log_path
    pool = wait_for(
        lambda: _status(pool.pk, ComputePool.READY, ComputePool.FAILED),
        timeout=90,
        message="the pool to be Ready",
    )
    assert pool.status == ComputePool.READY, pool.failure_message + log.read_text()[-3000:]
    assert len(_clusters(sim, pool)) == 1 and pool.kubeconfig
    assert "compute.pool_step" in log.read_text() and pool.kubeconfig not in log.read_text()
    hosts = [uid for uids in pool.hosts.values() for uid in uids]
    assert (
        client.post(reverse("compute:pool_delete", args=["acme", "research", pool.uuid])).status_code == 302
    )
    pool = wait_for(
        lambda: _status(pool.pk, ComputePool.DELETED, ComputePool.FAILED),
        timeout=90,
        message="the pool to be Deleted",
    )
    assert pool.status == ComputePool.DELETED, pool.failure_message
    assert pool.cleanup["hostsStillInUse"] == [] and all(
        sim.state.hosts[uid].state == "ready" for uid in hosts
    )
    # The discovery the deletion started (in the worker) shows the hosts ready again.
    wait_for(
        lambda: set(EdgeHost.objects.filter(uid__in=hosts).values_list("state", flat=True)) == {"ready"},
        timeout=60,
        message="the inventory to show the released hosts ready",
    )


@pytest.mark.parametrize("step", ["create", "wait"])
def test_it_resumes_after_the_worker_is_killed_mid_way(
    world, connected_project, sim, worker_settings, tmp_path, step
):
    require_services()
    discover(connected_project)
    bundle = make_bundle(connected_project)
    first = CeleryProcess("worker", tmp_path / "worker-1.log", worker_settings.REDIS_URL)
    second = None
    try:
        with transaction.atomic():
            pool = create_pool(connected_project, spec_for(connected_project), bundle, source="test")
        # Kill it as soon as the step has started: during the create (its answer may be lost with the worker),
        # or while Palette provisions the cluster (a countdown message dies with the worker).
        wait_for(
            lambda: ComputePool.objects.filter(pk=pool.pk, steps__name=step).exists(),
            timeout=60,
            message=f"the pool to reach step {step}",
        )
        first.kill()
        pool.refresh_from_db()
        assert pool.status in (ComputePool.PROVISIONING, ComputePool.RUNNING)
        second = CeleryProcess("worker", tmp_path / "worker-2.log", worker_settings.REDIS_URL)

        def ready():
            # Beat sends the watchdog every POOL_WATCHDOG_INTERVAL; here the test plays beat.
            from compute.tasks import pool_watchdog_task

            pool_watchdog_task.delay()
            return _status(pool.pk, ComputePool.READY, ComputePool.FAILED)

        pool = wait_for(ready, timeout=90, interval=2, message="the pool to be Ready after the restart")
        assert pool.status == ComputePool.READY, (
            pool.failure_message + (tmp_path / "worker-2.log").read_text()[-3000:]
        )
        assert len(_clusters(sim, pool)) == 1, "exactly one cluster exists in Palette"
        assert "compute.pool_step" in (tmp_path / "worker-2.log").read_text()
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.stop()
