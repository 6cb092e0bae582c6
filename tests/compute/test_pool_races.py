"""Pool state changes that race: delete against Ready, two pools choosing hosts at once, a database error
mid-step.

Real threads on PostgreSQL (each with its own connection, so the database decides who wins), the
steps run as functions against the simulator over HTTPS.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import psycopg
import pytest
from django.db import OperationalError, connection, transaction
from django.urls import reverse

from compute.models import ComputePool, PoolStep
from compute.provisioning import request_delete, request_force_delete, retry_pool, run_step
from palette.client import PaletteClient
from tests.compute.pool_fixtures import discover, drive, fast_sim, new_pool, pool_project  # noqa: F401
from tests.conftest import require_services, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgresql():
    require_services(redis=False)  # these races need PostgreSQL's row locks


def _in_thread(work, results: dict, name: str):
    def target():
        try:
            results[name] = work()
        except BaseException as exc:  # reported by the test, not lost in the thread
            results[name] = exc
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=target, name=name)
    thread.start()
    return thread


def _join(*threads: threading.Thread) -> None:
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), f"{thread.name} did not finish"


# -- delete racing Ready ----------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["delete-lands-mid-step", "ready-lands-first", "at-once"])
def test_it_never_leaves_a_pool_undeletable_when_delete_races_ready(
    postgresql, pool_project, fast_sim, monkeypatch, order
):
    pool = drive(new_pool(pool_project), until=lambda p: p.step == "kubeconfig")
    assert pool.status == ComputePool.RUNNING
    # Palette has the kubeconfig now (hasKubeConfig true after its lag): the next run of the step downloads
    # it.
    cluster = fast_sim.state.clusters[pool.cluster_uid]
    wait_for(
        lambda: fast_sim.state.kubeconfig_ready(cluster),
        timeout=10,
        interval=0.05,
        message="Palette's kubeconfig",
    )
    seen = ComputePool.objects.get(pk=pool.pk)  # what the Delete request read: Running, no deletion pending
    barrier = threading.Barrier(2, timeout=30)
    delete_sent = threading.Event()
    real = PaletteClient.get_kubeconfig

    def kubeconfig(self, uid, **kwargs):
        text = real(self, uid, **kwargs)
        if order == "delete-lands-mid-step":
            # The step has fetched the kubeconfig and is about to write Ready: the delete lands now.
            barrier.wait()
            assert delete_sent.wait(30)
        return text

    monkeypatch.setattr(PaletteClient, "get_kubeconfig", kubeconfig)

    def step():
        if order == "at-once":
            barrier.wait()
        following = run_step(pool.pk, pool.tick)
        if order == "ready-lands-first":
            barrier.wait()
        return following

    def delete():
        barrier.wait()
        try:
            with transaction.atomic():
                return request_delete(seen, source="test")
        finally:
            delete_sent.set()

    results: dict = {}
    _join(_in_thread(step, results, "step"), _in_thread(delete, results, "delete"))
    for value in results.values():
        if isinstance(value, BaseException):
            raise value
    pool.refresh_from_db()
    outcome = results["delete"]
    # Never Ready with a deletion flag no chain will look at (the bug: Delete hidden, every retry "already").
    assert not (pool.status == ComputePool.READY and pool.delete_requested), (outcome, pool.status)
    if outcome == "queued":
        assert pool.status == ComputePool.DELETING and pool.operation == ComputePool.DELETION, pool.status
        # Stopped mid-step, or never begun when the delete came before the step's claim.
        kubeconfig = PoolStep.objects.filter(pool=pool, attempt=1, name="kubeconfig")
        assert set(kubeconfig.values_list("status", flat=True)) <= {PoolStep.SKIPPED}
    else:
        # The request lost: an honest answer, nothing done, the pool as it is now in hand.
        assert (
            outcome == "changed"
            and seen.status == ComputePool.READY == pool.status
            and not pool.delete_requested
        )
        assert request_delete(seen, source="test") == "started"
    if order == "delete-lands-mid-step":
        assert outcome == "queued"
        assert PoolStep.objects.get(pool=pool, attempt=1, name="kubeconfig").status == PoolStep.SKIPPED
    if order == "ready-lands-first":
        assert outcome == "changed"
    pool = drive(pool)
    assert pool.status == ComputePool.DELETED, (pool.failure_message, pool.wait_reason)
    assert all(
        fast_sim.state.cluster_state(c) == "Deleted"
        for c in fast_sim.state.clusters.values()
        if c.name == pool.cluster_name
    )


def test_it_answers_a_delete_that_lost_to_ready_honestly(
    postgresql, world, pool_project, fast_sim, monkeypatch
):
    from compute.views import pools as pools_views

    pool = drive(new_pool(pool_project), until=lambda p: p.step == "kubeconfig")
    real = pools_views._pool

    def read_then_ready(*args, **kwargs):
        project, role, seen = real(*args, **kwargs)
        drive(ComputePool.objects.get(pk=seen.pk))  # the step turns it Ready right after the page's read
        return project, role, seen

    monkeypatch.setattr(pools_views, "_pool", read_then_ready)
    client = world.client_for(world.editor)
    page = client.post(reverse("compute:pool_delete", args=["acme", "research", pool.uuid]), follow=True)
    assert "The pool just became Ready: delete it now?" in page.content.decode()
    pool.refresh_from_db()
    assert pool.status == ComputePool.READY and not pool.delete_requested
    monkeypatch.setattr(pools_views, "_pool", real)
    page = client.get(reverse("compute:pool_detail", args=["acme", "research", pool.uuid]))
    assert reverse("compute:pool_delete", args=["acme", "research", pool.uuid]) in page.content.decode()


def test_it_answers_retry_and_force_delete_that_lost_a_race(postgresql, pool_project, fast_sim, settings):
    settings.POOL_FORCE_DELETE_AFTER = 0
    pool = drive(new_pool(pool_project))
    assert request_delete(pool, source="test") == "started"
    pool = drive(pool, until=lambda p: p.step == "wait_deleted")
    seen = ComputePool.objects.get(pk=pool.pk)
    # Another worker's step fails the deletion between the page's read and the force delete.
    ComputePool.objects.filter(pk=pool.pk).update(
        status=ComputePool.FAILED,
        failure_class="unreachable",
        failure_message="Palette unreachable",
        due_at=None,
    )
    assert request_force_delete(seen, source="test") == "changed"
    assert seen.status == ComputePool.FAILED and not seen.force_delete_requested
    assert (
        request_force_delete(seen, source="test") == "started"
    )  # "the deletion just failed: force delete it now?"
    # A retry decided on Failed, after someone else's retry already restarted the pool, changes nothing.
    stale = ComputePool.objects.get(pk=pool.pk)
    stale.status, stale.tick = ComputePool.FAILED, stale.tick - 1
    assert retry_pool(stale, source="test") is False and stale.status == ComputePool.DELETING


# -- two pools choosing hosts at once -------------------------------------------------------------


def test_it_gives_two_pools_validated_at_once_disjoint_hosts(postgresql, pool_project, fast_sim, monkeypatch):
    import compute.readiness as readiness

    real = readiness.report_for_pool

    def slow_report(pool, **kwargs):
        report = real(pool, **kwargs)
        time.sleep(
            0.5
        )  # a long moment between choosing hosts and saving them: the other pool chooses meanwhile
        return report

    monkeypatch.setattr(readiness, "report_for_pool", slow_report)
    with transaction.atomic():
        first = new_pool(pool_project, "pool-a", vip="10.20.99.10")
        second = new_pool(pool_project, "pool-b", vip="10.20.99.11")
    barrier = threading.Barrier(2, timeout=30)

    def provision(pool):
        def work():
            barrier.wait()
            return drive(pool, timeout=60)

        return work

    results: dict = {}
    _join(_in_thread(provision(first), results, "a"), _in_thread(provision(second), results, "b"))
    for value in results.values():
        if isinstance(value, BaseException):
            raise value
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (ComputePool.READY, ComputePool.READY), (
        first.failure_message,
        second.failure_message,
    )
    hosts_a = {uid for uids in first.hosts.values() for uid in uids}
    hosts_b = {uid for uids in second.hosts.values() for uid in uids}
    assert hosts_a and hosts_b and not hosts_a & hosts_b


# -- a transient database error inside a step --------------------------------------------------------


def _locked() -> OperationalError:
    error = OperationalError("database is locked")
    error.__cause__ = sqlite3.OperationalError("database is locked")
    return error


def _serialization_failure() -> OperationalError:
    error = OperationalError("could not serialize access due to concurrent update")
    error.__cause__ = psycopg.errors.SerializationFailure(
        "could not serialize access due to concurrent update"
    )
    return error


POOL_UPDATE = 'UPDATE "compute_computepool"'
# The statements where a step met a busy or lost database: the claim of a message, the host allocation lock,
# the create step's record of the hosts it sends, the discovery run started at Ready (where the failure was
# seen: "Step done stopped unexpectedly (OperationalError)"), the Ready write.
INJECTIONS = {
    "a message's claim": (lambda sql, params: sql.startswith(POOL_UPDATE) and '"status" IN' in sql, _locked),
    "allocation lock": (lambda sql, params: "pg_advisory_xact_lock" in sql, _serialization_failure),
    "create records its hosts": (
        lambda sql, params: sql.startswith(POOL_UPDATE) and '"sent_hosts" =' in sql,
        _locked,
    ),
    "discovery run at Ready": (
        lambda sql, params: sql.startswith('INSERT INTO "compute_discoveryrun"'),
        _locked,
    ),
    "the Ready write": (
        lambda sql, params: sql.startswith(POOL_UPDATE) and ComputePool.READY in (params or ()),
        _serialization_failure,
    ),
}


@pytest.mark.parametrize("where", INJECTIONS)
def test_it_retries_a_step_after_a_transient_database_error(postgresql, pool_project, fast_sim, where):
    matches, error = INJECTIONS[where]
    raised = []

    def once(execute, sql, params, many, context):
        if not raised and matches(sql, params):
            raised.append(sql)
            raise error()
        return execute(sql, params, many, context)

    pool = new_pool(pool_project)
    with connection.execute_wrapper(once):
        pool = drive(pool)
    assert raised, f"the injection point ({where}) was never reached"
    assert pool.status == ComputePool.READY, (pool.failure_class, pool.failure_message)
    retried = PoolStep.objects.filter(
        pool=pool, retries__gte=1, first_error__contains="The database was busy or unreachable"
    )
    assert retried.count() == (
        0 if where == "a message's claim" else 1
    )  # a claim comes before the step's record
    assert len([c for c in fast_sim.state.clusters.values() if c.name == pool.cluster_name]) == 1


def test_it_retries_a_step_whose_database_connection_was_dropped(postgresql, pool_project, fast_sim):
    db = connection.settings_dict
    dropped = []

    def drop_once(execute, sql, params, many, context):
        if not dropped and sql.startswith(POOL_UPDATE) and '"sent_hosts" =' in sql:
            # The database ends this very connection (as a failover or a restart does) just before the write.
            pid = connection.connection.info.backend_pid
            with psycopg.connect(
                host=db["HOST"],
                port=db["PORT"],
                user=db["USER"],
                password=db["PASSWORD"] or None,
                dbname=db["NAME"],
                autocommit=True,
            ) as admin:
                assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()[0]
            dropped.append(pid)
        return execute(sql, params, many, context)

    pool = new_pool(pool_project)
    with connection.execute_wrapper(drop_once):
        pool = drive(pool)
    assert dropped
    assert pool.status == ComputePool.READY, (pool.failure_class, pool.failure_message)
    create = PoolStep.objects.get(pool=pool, name="create")
    assert create.retries >= 1 and "The database was busy or unreachable" in create.first_error
    assert len([c for c in fast_sim.state.clusters.values() if c.name == pool.cluster_name]) == 1
