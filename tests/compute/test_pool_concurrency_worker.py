"""Two pools applied at the same moment, provisioned by two real Celery workers: disjoint hosts, both Ready.

On PostgreSQL, and on the embedded default: a SQLite file that this test and both worker
processes write at once (the settings the workers read from DATABASE_URL=sqlite:///..., WAL,
busy timeout, IMMEDIATE transactions), while the pool pages are read as a browser polls them.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.db import connection, connections
from django.db.utils import ConnectionHandler
from django.urls import reverse

from compute.models import ComputePool, PoolStep
from tests.compute.pool_fixtures import discover, make_bundle, manifest_spec
from tests.compute.test_pool_worker import worker_settings  # noqa: F401  (the pool timings of the worker tests)
from tests.conftest import ROOT, CeleryProcess, require_services, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SITE = Path(__file__).parent / "worker_site"
POOLS = {"pool-a": "10.20.99.10", "pool-b": "10.20.99.11"}
WORKERS = [
    {
        "name": "workers",
        "nodeCount": 1,
        "architecture": "amd64",
        "cpu": {"cpuCount": 4},
        "memory": {"memoryMiB": 8192},
    }
]


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, transactional_db, tmp_path, settings):
    """The database of this test and of the workers it starts: the suite's PostgreSQL, or a new SQLite file.

    For SQLite, this thread's default connection is swapped for one to the file (configured as the workers
    configure theirs, from the same DATABASE_URL) until the test ends; the world is created in it.
    """
    require_services()
    if request.param == "postgresql":
        yield request.param
        return
    from paletteai_admin.settings import database_from_url

    url = f"sqlite://{tmp_path / 'embedded.sqlite3'}"
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": url},
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
    suite = connections["default"]
    embedded = ConnectionHandler({"default": database_from_url(url)})["default"]
    connections["default"] = embedded
    try:
        assert (
            connection.vendor == "sqlite"
            and connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        )
        yield request.param
    finally:
        embedded.close()
        connections["default"] = suite


def _manifest(namespace: str) -> str:
    docs = [
        {
            "apiVersion": "spectrocloud.com/v1alpha1",
            "kind": "ComputePool",
            "metadata": {"name": name, "namespace": namespace},
            "spec": manifest_spec(vip=vip, workers=WORKERS),
        }
        for name, vip in POOLS.items()
    ]
    return yaml.safe_dump_all(docs)


def _settled(client, pools: list[ComputePool]):
    # Read the pages as a browser polling them would, while the workers write.
    for pool in pools:
        assert (
            client.get(reverse("compute:pool_detail", args=["acme", "research", pool.uuid])).status_code
            == 200
        )
    rows = list(ComputePool.objects.filter(pk__in=[p.pk for p in pools]))
    return rows if all(p.status in (ComputePool.READY, ComputePool.FAILED) for p in rows) else None


def test_it_provisions_two_pools_applied_at_once_on_disjoint_hosts(
    database, world, connected_project, sim, worker_settings, tmp_path
):
    from core.manifests import apply_text

    discover(connected_project)
    make_bundle(connected_project)
    # The workers take a long moment between choosing hosts and saving them: the race happens every time.
    slow = {
        "PYTHONPATH": os.pathsep.join([str(SITE), os.environ.get("PYTHONPATH", "")]),
        "SLOW_ALLOCATION_SECONDS": "0.5",
    }
    workers = [
        CeleryProcess("worker", tmp_path / f"worker-{n}.log", worker_settings.REDIS_URL, env=slow)
        for n in (1, 2)
    ]
    try:
        # One apply, one transaction: both pools' first messages go out at the same moment, to two workers.
        result = apply_text(_manifest(connected_project.namespace), source="two-pools.yaml")
        assert not result.errors, result.errors
        pools = list(ComputePool.objects.filter(name__in=POOLS))
        client = world.client_for(world.editor)
        pools = wait_for(
            lambda: _settled(client, pools),
            timeout=150,
            interval=1,
            message="both pools to be Ready or Failed",
        )
        logs = "\n".join(w.log_text()[-3000:] for w in workers)
        assert [p.status for p in pools] == [ComputePool.READY] * 2, [
            (p.name, p.failure_message) for p in pools
        ] + [logs]
        hosts = [{uid for uids in p.hosts.values() for uid in uids} for p in pools]
        assert all(len(h) == 2 for h in hosts) and not hosts[0] & hosts[1], hosts
        for pool, chosen in zip(pools, hosts, strict=True):
            # Palette agrees: one cluster per pool, on exactly the hosts the pool recorded.
            assert len([c for c in sim.state.clusters.values() if c.name == pool.cluster_name]) == 1
            assert all(
                sim.state.hosts[uid].cluster == (pool.cluster_uid, pool.cluster_name) for uid in chosen
            )
        assert not PoolStep.objects.filter(pool__in=pools, status=PoolStep.FAILED).exists()
        if database == "sqlite":
            # The workers wrote the file itself (read here without Django).
            with sqlite3.connect(tmp_path / "embedded.sqlite3") as db:
                assert db.execute(
                    "SELECT count(*) FROM compute_computepool WHERE status = 'ready'"
                ).fetchone() == (2,)
                assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        for worker in workers:
            worker.stop()
