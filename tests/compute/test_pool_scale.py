"""Day-2 changes of a Ready pool: scale a worker pool 2 → 3 → 1, replace a control-plane host never below
quorum, bad inputs, access, the manifest and pool_plan — against the simulator over HTTPS (every request it
gets validated against Palette's spec), on the real database; one test with a real Celery worker killed
mid-PUT."""

from __future__ import annotations

import io
import json
import time

import pytest
import yaml
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from compute.manifests import HANDLERS  # noqa: F401  (the ComputePool kind is registered)
from compute.models import ComputePool, PoolStep
from compute.provisioning.day2 import DayTwoProblem, plan_replace, plan_scale, quorum, start_change
from core.manifests import apply_text
from core.models import AuditEntry
from tests.compute.pool_fixtures import discover, drive, fast_sim, new_pool, pool_project, spec_for  # noqa: F401
from tests.conftest import CeleryProcess, require_services, wait_for

PUT = ("PUT", "/v1/cloudconfigs/edge-native/{configUid}/machinePools/{machinePoolName}")
WORKER_ENV = {
    "POOL_POLL_INTERVAL": "1",
    "POOL_RETRY_BASE": "1",
    "POOL_RESUME_GRACE": "1",
    "POOL_STEP_BUDGET": "5",
    "POOL_PROVISION_TIMEOUT": "120",
}
WORKERS = [{"name": "workers", "nodeCount": 2, "architecture": "amd64", "cpu": {"cpuCount": 4}}]


class PutLog:
    """Every machine-pool PUT the simulator answers: (pool name, host uids), in order."""

    def __init__(self, sim):
        self.sim, self.calls = sim, []
        self.original = sim.api.routes[PUT]
        sim.api.routes[PUT] = self

    def __call__(self, call):
        hosts = [h["hostUid"] for h in (call.body or {}).get("cloudConfig", {}).get("edgeHosts", [])]
        reply = self.original(call)
        self.calls.append((call.params["machinePoolName"], hosts, reply.status))
        return reply


def _ready(project, **kwargs) -> ComputePool:
    with transaction.atomic():
        pool = new_pool(project, **kwargs)
    pool = drive(pool)
    assert pool.status == ComputePool.READY, pool.failure_message
    return pool


def _sim_pool(sim, pool, name):
    cluster = sim.state.clusters[pool.cluster_uid]
    return next(p for p in cluster.pools if p.name == name).host_uids


def _scale(pool, name, count, remove=None):
    with transaction.atomic():
        return start_change(pool, lambda p: plan_scale(p, name, count, remove), source="test")


@pytest.mark.django_db(transaction=True)
def test_it_scales_a_worker_pool_up_and_down_with_one_put_each(pool_project, fast_sim):
    puts = PutLog(fast_sim)
    pool = _ready(pool_project, workers=WORKERS)
    before = list(pool.hosts["workers"])
    change = _scale(pool, "workers", 3)
    pool.refresh_from_db()
    assert pool.status == ComputePool.UPDATING and pool.operation == ComputePool.SCALE
    added = change.add
    assert len(added) == 1 and added[0] not in before and change.remove == []
    pool = drive(pool)
    assert pool.status == ComputePool.READY, pool.failure_message
    assert _sim_pool(fast_sim, pool, "workers") == [*before, *added]
    assert fast_sim.state.hosts[added[0]].state == "in-use"
    assert puts.calls == [("workers", [*before, *added], 204)]
    assert pool.node_pools["workerPools"][0]["nodeCount"] == 3
    # Down to 1: two hosts leave (PaletteAI's choice), in one PUT; Palette releases them.
    fast_sim.state.update_host(before[1], health="unhealthy")
    discover(pool_project)
    pool.refresh_from_db()
    change = _scale(pool, "workers", 1)
    assert before[1] in change.remove, "the unhealthy host goes first"
    pool = drive(pool)
    assert pool.status == ComputePool.READY, pool.failure_message
    assert len(puts.calls) == 2 and puts.calls[1][1] == change.target and len(change.target) == 1
    assert all(fast_sim.state.hosts[u].state == "ready" for u in change.remove)
    assert pool.hosts["workers"] == change.target
    # The released hosts are eligible again after the discovery the change started.
    discover(pool_project)
    free = plan_scale(pool, "workers", 3)
    assert set(free.add) & set(change.remove), "a released host can be chosen again"
    verbs = list(AuditEntry.objects.filter(object_id=str(pool.pk)).values_list("verb", flat=True))
    assert verbs.count("scale requested") == 2 and verbs.count("scaled") == 2
    steps = PoolStep.objects.filter(pool=pool, attempt=pool.attempt).values_list("name", "status")
    assert dict(steps) == {"change": "succeeded", "settle": "succeeded"}


@pytest.mark.django_db(transaction=True)
def test_the_user_picks_hosts_to_remove(pool_project, fast_sim):
    pool = _ready(pool_project, workers=[{**WORKERS[0], "nodeCount": 3}])
    hosts = pool.hosts["workers"]
    change = _scale(pool, "workers", 2, remove=[hosts[0]])
    assert change.remove == [hosts[0]] and change.target == hosts[1:]
    assert drive(pool).status == ComputePool.READY
    assert _sim_pool(fast_sim, pool, "workers") == hosts[1:]


@pytest.mark.django_db(transaction=True)
def test_a_control_plane_host_is_replaced_without_losing_quorum(pool_project, fast_sim):
    puts = PutLog(fast_sim)
    cp = {"nodeCount": 3, "workerNodeEligible": True, "architecture": "amd64", "cpu": {"cpuCount": 4}}
    pool = _ready(pool_project, cp=cp)
    before = list(pool.hosts["control-plane"])
    with transaction.atomic():
        change = start_change(pool, lambda p: plan_replace(p, before[1]), source="test")
    new = change.add[0]
    pool = drive(pool)
    assert pool.status == ComputePool.READY, pool.failure_message
    after = _sim_pool(fast_sim, pool, "control-plane")
    assert sorted(after) == sorted([before[0], new, before[2]]) and before[1] not in after
    assert fast_sim.state.hosts[before[1]].state == "ready"
    # Every PUT: one host changed, never fewer than the control plane's size (so never below quorum), the new
    # host added before the old one left.
    assert [len(h) for _, h, _ in puts.calls] == [4, 3]
    previous = before
    for name, hosts, status in puts.calls:
        assert name == "control-plane" and status == 204
        assert len(set(hosts) ^ set(previous)) == 1 and len(hosts) >= quorum(3)
        previous = hosts
    assert new in puts.calls[0][1] and before[1] in puts.calls[0][1]


@pytest.mark.django_db(transaction=True)
def test_bad_inputs_are_refused_with_what_to_fix(pool_project, fast_sim):
    pool = _ready(pool_project, workers=WORKERS)
    cases = [
        (("workers", 0), "at least 1 node"),
        (("control-plane", 2), "1, 3 or 5"),
        (("workers", "three"), "whole number"),
        (("gpu", 3), "no machine pool 'gpu'"),
        (("workers", 2), "has 2 nodes already"),
        (("workers", 90), "Not enough eligible hosts"),
    ]
    for (name, count), message in cases:
        with pytest.raises(DayTwoProblem, match=message):
            plan_scale(pool, name, count)
    with pytest.raises(DayTwoProblem, match="reserved by pool|in use by|refused|found 0"):
        other = _ready(pool_project, name="other-pool", vip="10.20.99.11")
        plan_replace(pool, pool.hosts["workers"][0], other.hosts["control-plane"][0])
    _scale(pool, "workers", 3)
    pool.refresh_from_db()
    with pytest.raises(DayTwoProblem, match="Updating: a machine pool changes only while the pool is Ready"):
        plan_scale(pool, "workers", 1)


@pytest.mark.django_db(transaction=True)
def test_the_page_scales_for_editors_and_refuses_viewers(world, pool_project, fast_sim):
    pool = _ready(pool_project, workers=WORKERS)
    url = reverse("compute:pool_scale", args=["acme", "research", pool.uuid])
    viewer = world.client_for(world.viewer)
    assert viewer.post(url, {"machine_pool": "workers", "count": "3"}).status_code == 403
    editor = world.client_for(world.editor)
    page = editor.get(pool.get_absolute_url()).content.decode()
    assert 'id="scale-form"' in page
    answer = editor.post(url, {"machine_pool": "workers", "count": "0"}, follow=True)
    assert answer.status_code == 200 and "at least 1 node" in answer.content.decode()
    assert editor.post(url, {"machine_pool": "workers", "count": "3"}).status_code == 302
    pool.refresh_from_db()
    assert pool.status == ComputePool.UPDATING
    assert "Updating" in editor.get(pool.get_absolute_url()).content.decode()
    assert drive(pool).status == ComputePool.READY and len(pool.hosts["workers"]) == 3


def _action(result) -> str:
    assert result.ok, result.errors
    (change,) = [c for c in result.changes if c.kind == "ComputePool"]
    return change.action


def _manifest(project, count: int) -> str:
    spec = spec_for(project, workers=[{**WORKERS[0], "nodeCount": count}])
    return yaml.safe_dump(spec.to_manifest())


@pytest.mark.django_db(transaction=True)
def test_a_manifest_scales_and_pool_plan_shows_the_change(pool_project, fast_sim, tmp_path):
    pool = _ready(pool_project, workers=WORKERS)
    same = tmp_path / "same.yaml"
    same.write_text(_manifest(pool_project, 2))
    out = io.StringIO()
    call_command("pool_plan", "-f", str(same), "--json", stdout=out)
    assert json.loads(out.getvalue())["changes"] == []
    out = io.StringIO()
    call_command("pool_plan", "-f", str(same), stdout=out)
    assert "Unchanged: applying this manifest changes nothing" in out.getvalue()
    assert _action(apply_text(_manifest(pool_project, 2))) == "unchanged"

    bigger = tmp_path / "bigger.yaml"
    bigger.write_text(_manifest(pool_project, 3))
    out = io.StringIO()
    call_command("pool_plan", "-f", str(bigger), "--json", stdout=out)
    (change,) = json.loads(out.getvalue())["changes"]
    assert change["machinePool"] == "workers" and (change["from"], change["to"]) == (2, 3)
    (request,) = change["requests"]
    assert request["method"] == "PUT" and request["path"].endswith("/machinePools/workers")
    assert [h["hostUid"] for h in request["body"]["cloudConfig"]["edgeHosts"]] == [
        *pool.hosts["workers"],
        *change["add"],
    ]
    pool.refresh_from_db()
    assert pool.status == ComputePool.READY, "pool_plan changes nothing"
    outcome = _action(apply_text(_manifest(pool_project, 3)))
    assert "scaling worker pool workers: 2 → 3" in outcome, outcome
    pool.refresh_from_db()
    assert pool.status == ComputePool.UPDATING
    assert "Updating" in " ".join(apply_text(_manifest(pool_project, 1), dry_run=True).errors)
    assert drive(pool).status == ComputePool.READY
    assert _action(apply_text(_manifest(pool_project, 3))) == "unchanged"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_one_put_per_change_when_the_worker_dies_mid_put(
    world, connected_project, sim, settings, monkeypatch, tmp_path
):
    from tests.compute.pool_fixtures import make_bundle
    from tests.reliability.conftest import Hold

    require_services()
    for key, value in WORKER_ENV.items():
        monkeypatch.setenv(key, value)
        setattr(settings, key, int(value))
    from tests.compute.pool_fixtures import FAST

    sim.state.timings = FAST
    discover(connected_project)
    make_bundle(connected_project)
    puts = PutLog(sim)
    first = CeleryProcess("worker", tmp_path / "worker-1.log", settings.REDIS_URL)
    second = None
    try:
        with transaction.atomic():
            pool = new_pool(connected_project, workers=WORKERS)
        wait_for(lambda: ComputePool.objects.filter(pk=pool.pk, status=ComputePool.READY).first(), timeout=90)
        pool.refresh_from_db()
        hold = Hold(sim, *PUT)
        change = _scale(pool, "workers", 3)
        assert hold.kill_inside(first, 60), first.log_text()[-3000:]
        time.sleep(0.5)
        second = CeleryProcess("worker", tmp_path / "worker-2.log", settings.REDIS_URL)

        def ready():
            from compute.tasks import pool_watchdog_task

            pool_watchdog_task.delay()
            return ComputePool.objects.filter(
                pk=pool.pk, status__in=(ComputePool.READY, ComputePool.FAILED)
            ).first()

        pool = wait_for(ready, timeout=90, interval=2, message="the pool to be Ready after the kill")
        assert pool.status == ComputePool.READY, pool.failure_message + second.log_text()[-3000:]
        assert puts.calls == [("workers", change.target, 204)], "exactly one PUT, never repeated"
        assert _sim_pool(sim, pool, "workers") == change.target
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.stop()
