"""Upgrading a Ready pool's profiles to its bundle's newer versions: the plan, the repave confirmation, one
PATCH to the simulator even when the step runs twice, audit entries and roles."""

from __future__ import annotations

from django.urls import reverse

from compute.models import ClusterProfile, ComputePool, PoolStep, ProfileBundle
from compute.provisioning import run_step
from compute.provisioning.context import transition
from compute.provisioning.upgrade import UpgradeRefused, plan_upgrade, start_upgrade
from core.models import AuditEntry
from tests.compute.pool_fixtures import drive, fast_sim, make_bundle, new_pool, pool_project  # noqa: F401

ARGS = ["acme", "research"]


def _ready_old_pool(project):
    """A Ready pool built from edge-k3s-infra 1.2.0, whose bundle then moves to 1.3.0."""
    make_bundle(project, name="edge-old", version="1.2.0")
    pool = drive(new_pool(project, "upg-pool", bundle="edge-old"))
    assert pool.status == ComputePool.READY, pool.failure_message
    new = ClusterProfile.objects.get(project=project, name="edge-k3s-infra", version="1.3.0")
    bundle = ProfileBundle.objects.get(project=project, name="edge-old")
    bundle.profiles = [{"uid": new.uid, "name": new.name, "version": new.version, "type": new.profile_type}]
    bundle.save()
    pool.refresh_from_db()
    return pool, new


def _patches(sim):
    return [r for r in sim.seen() if r.method == "PATCH" and r.path.endswith("/profiles")]


def test_a_repave_is_refused_without_confirmation_and_runs_with_it(world, pool_project, fast_sim):
    pool, new = _ready_old_pool(pool_project)
    old_uid = fast_sim.state.clusters[pool.cluster_uid].profile_uids[0]
    client = world.client_for(world.editor)
    detail = client.get(pool.get_absolute_url()).content.decode()
    assert 'id="upgrade-available"' in detail
    url = reverse("compute:pool_upgrade", args=[*ARGS, pool.uuid])
    page = client.get(url).content.decode()
    assert (
        "1.2.0" in page
        and "1.3.0" in page
        and "repaves the nodes" in page
        and 'name="confirm_repave"' in page
    )
    refused = client.post(url, {})
    body = refused.content.decode()
    assert refused.status_code == 200 and 'id="upgrade-error"' in body and "I understand the nodes" in body
    pool.refresh_from_db()
    assert pool.status == ComputePool.READY and _patches(fast_sim) == []
    accepted = client.post(url, {"confirm_repave": "on"})
    assert accepted.status_code == 302
    pool.refresh_from_db()
    assert pool.status == ComputePool.UPDATING and pool.operation == ComputePool.UPGRADE
    pool = drive(pool)
    assert pool.status == ComputePool.READY, pool.failure_message
    cluster = fast_sim.state.clusters[pool.cluster_uid]
    assert cluster.profile_uids[0] == new.uid and old_uid not in cluster.profile_uids
    assert len(_patches(fast_sim)) == 1
    assert pool.request["spec"]["profiles"][0]["uid"] == new.uid
    verbs = list(AuditEntry.objects.filter(object_id=str(pool.pk)).values_list("verb", flat=True))
    assert "profile upgrade requested (nodes repaved, confirmed)" in verbs and "profiles upgraded" in verbs
    steps = dict(PoolStep.objects.filter(pool=pool, attempt=pool.attempt).values_list("name", "status"))
    assert steps == {"upgrade": "succeeded", "wait_upgraded": "succeeded"}
    # Nothing left to upgrade now: the page says so, and the pool page no longer offers it.
    assert "Nothing to upgrade" in client.get(url).content.decode()
    assert 'id="upgrade-available"' not in client.get(pool.get_absolute_url()).content.decode()


def test_a_step_that_runs_again_does_not_send_the_patch_twice(pool_project, fast_sim):
    pool, new = _ready_old_pool(pool_project)
    start_upgrade(pool, confirm_repave=True, source="test")
    pool.refresh_from_db()
    following = run_step(pool.pk, pool.tick)
    assert following is not None and len(_patches(fast_sim)) == 1
    pool.refresh_from_db()
    assert pool.step == "wait_upgraded"
    # As if the worker died after Palette took the PATCH, before the step was recorded: the same step again.
    assert transition(pool.pk, {}, step="upgrade")
    PoolStep.objects.filter(pool=pool, attempt=pool.attempt, name="upgrade").update(status=PoolStep.RUNNING)
    run_step(pool.pk, following.tick)
    assert len(_patches(fast_sim)) == 1, "the second run read the cluster's profiles and did not PATCH"
    row = PoolStep.objects.get(pool=pool, attempt=pool.attempt, name="upgrade")
    assert row.status == PoolStep.SKIPPED and "already" in row.detail
    pool = drive(pool)
    assert pool.status == ComputePool.READY
    assert fast_sim.state.clusters[pool.cluster_uid].profile_uids[0] == new.uid


def test_an_add_on_upgrade_needs_no_confirmation(pool_project, fast_sim):
    pool = drive(new_pool(pool_project, "addon-pool"))
    addon = ClusterProfile.objects.get(project=pool_project, name="nvidia-gpu-operator")
    bundle = pool.bundle
    bundle.profiles = [
        *bundle.profiles,
        {"uid": addon.uid, "name": addon.name, "version": addon.version, "type": addon.profile_type},
    ]
    bundle.save()
    pool.refresh_from_db()
    plan = plan_upgrade(pool)
    assert not plan.repave and [p.action for p in plan.changes] == ["add"] and "not repaved" in plan.note
    start_upgrade(pool, confirm_repave=False, source="test")
    pool = drive(pool)
    assert (
        pool.status == ComputePool.READY
        and addon.uid in fast_sim.state.clusters[pool.cluster_uid].profile_uids
    )


def test_it_says_what_to_fix_when_there_is_nothing_to_upgrade_or_the_pool_is_not_ready(
    world, pool_project, fast_sim
):
    pool = drive(new_pool(pool_project, "same-pool"))
    try:
        start_upgrade(pool, confirm_repave=True)
    except UpgradeRefused as exc:
        assert "Nothing to upgrade" in str(exc) and "edge-k3s-infra 1.3.0" in str(exc)
    else:
        raise AssertionError("an upgrade to the same versions must be refused")
    transition(pool.pk, {}, status=ComputePool.FAILED)
    pool.refresh_from_db()
    problems = " ".join(plan_upgrade(pool).problems)
    assert "is Failed: an upgrade starts from Ready" in problems
    response = world.client_for(world.editor).post(reverse("compute:pool_upgrade", args=[*ARGS, pool.uuid]))
    assert response.status_code == 200 and "an upgrade starts from Ready" in response.content.decode()


def test_viewers_get_403(world, pool_project, fast_sim):
    pool, _ = _ready_old_pool(pool_project)
    viewer = world.client_for(world.viewer)
    url = reverse("compute:pool_upgrade", args=[*ARGS, pool.uuid])
    assert viewer.get(url).status_code == 403
    assert viewer.post(url, {"confirm_repave": "on"}).status_code == 403
    assert 'id="upgrade-available"' not in viewer.get(pool.get_absolute_url()).content.decode()
    pool.refresh_from_db()
    assert pool.status == ComputePool.READY and _patches(fast_sim) == []
