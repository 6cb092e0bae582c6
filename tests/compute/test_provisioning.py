"""Provisioning and deletion against the simulator, task bodies called as functions."""
from __future__ import annotations

from compute.models import ComputePool, EdgeHost, PoolStep
from tests.compute.pool_fixtures import discover, drive, fast_sim, new_pool, pool_project  # noqa: F401


def test_it_provisions_a_pool_to_ready(pool_project, fast_sim):
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.READY, (pool.failure_class, pool.failure_message)
    assert pool.cluster_uid and pool.kubeconfig.startswith("apiVersion") or "clusters" in pool.kubeconfig
    clusters = [c for c in fast_sim.state.clusters.values() if c.name == pool.cluster_name]
    assert len(clusters) == 1 and clusters[0].uid == pool.cluster_uid
    steps = list(PoolStep.objects.filter(pool=pool).values_list("name", "status"))
    assert steps == [("validate", "succeeded"), ("create", "succeeded"), ("wait", "succeeded"), ("kubeconfig", "succeeded")]
