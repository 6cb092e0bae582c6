"""Provisioning and deletion against the simulator, task bodies called as functions."""
from __future__ import annotations

from compute.models import ComputePool, EdgeHost, PoolStep
from tests.compute.pool_fixtures import discover, drive, fast_sim, make_bundle, new_pool, pool_project  # noqa: F401


def test_it_provisions_a_pool_to_ready(pool_project, fast_sim):
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.READY, (pool.failure_class, pool.failure_message)
    assert pool.cluster_uid and pool.kubeconfig.startswith("apiVersion") or "clusters" in pool.kubeconfig
    clusters = [c for c in fast_sim.state.clusters.values() if c.name == pool.cluster_name]
    assert len(clusters) == 1 and clusters[0].uid == pool.cluster_uid
    steps = list(PoolStep.objects.filter(pool=pool).values_list("name", "status"))
    assert steps == [("validate", "succeeded"), ("create", "succeeded"), ("wait", "succeeded"), ("kubeconfig", "succeeded")]


def _clusters(sim, pool):
    return [c for c in sim.state.clusters.values() if c.name == pool.cluster_name]


def test_it_retries_a_transient_create_failure_and_keeps_its_first_error(pool_project, fast_sim):
    fast_sim.fail_next_create(status=503, code="ServiceUnavailable", message="gateway restarting")
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.READY
    create = PoolStep.objects.get(pool=pool, name="create")
    assert create.retries == 1 and "gateway restarting" in create.first_error and create.status == "succeeded"
    assert len(_clusters(fast_sim, pool)) == 1


def test_it_fails_with_the_first_error_when_palette_rejects_the_request(pool_project, fast_sim):
    fast_sim.fail_next_create(status=422, code="InvalidClusterSpec", message="profile pack values invalid")
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.FAILED and pool.failure_class == "rejected"
    assert "profile pack values invalid" in pool.failure_message and "Creating the cluster failed" in pool.failure_message
    assert PoolStep.objects.get(pool=pool, name="create").status == "failed"
    assert _clusters(fast_sim, pool) == [] and pool.cluster_uid == ""


def test_it_never_creates_a_second_cluster_when_the_create_answer_is_lost(pool_project, fast_sim, monkeypatch):
    from palette.client import PaletteClient
    from palette.errors import PaletteTimeout

    real = PaletteClient.create_edge_native_cluster
    calls = []

    def lost_answer(self, cluster, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            real(self, cluster, **kwargs)  # Palette creates it...
            raise PaletteTimeout("Palette did not answer within 30s.", host=self.base_url)  # ...but the answer is lost
        return real(self, cluster, **kwargs)

    monkeypatch.setattr(PaletteClient, "create_edge_native_cluster", lost_answer)
    from dataclasses import replace

    # in_use_lag=0: an opt-out until issue 11 item 1 (find the cluster by name, not only by the hosts' inUseClusters,
    # which Palette fills a while after the create; the retried create then gets a 400 "already exists").
    fast_sim.state.timings = replace(fast_sim.state.timings, in_use_lag=0)
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.READY
    assert len(calls) == 1, "the retry found the cluster by name instead of creating again"
    clusters = _clusters(fast_sim, pool)
    assert len(clusters) == 1 and clusters[0].uid == pool.cluster_uid
    create = PoolStep.objects.get(pool=pool, name="create")
    assert create.retries == 1 and "did not answer" in create.first_error


def test_it_times_out_with_what_it_saw_last_and_resumes_on_retry_without_recreating(pool_project, fast_sim, settings):
    settings.POOL_PROVISION_TIMEOUT = 1.5
    fast_sim.fail_next_create(stage="provisioning")
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.FAILED and pool.failure_class == "timeout"
    assert "Palette last reported Provisioning, health UnHealthy" in pool.failure_message
    assert "was left in Palette, not recreated" in pool.failure_message
    assert len(_clusters(fast_sim, pool)) == 1
    uid = pool.cluster_uid
    from compute.provisioning import retry_pool

    assert retry_pool(pool)
    pool = drive(pool)
    assert pool.status == ComputePool.FAILED and pool.cluster_uid == uid and len(_clusters(fast_sim, pool)) == 1
    assert PoolStep.objects.get(pool=pool, attempt=2, name="validate").status == "skipped"


def test_it_ignores_duplicate_and_stale_messages_and_resumes_a_stalled_pool(pool_project, fast_sim, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from compute import provisioning

    pool = new_pool(pool_project)
    first = provisioning.run_step(pool.pk, pool.tick)
    assert first is not None
    assert provisioning.run_step(pool.pk, pool.tick) is None  # the same message delivered twice
    pool.refresh_from_db()
    assert pool.tick == first.tick and pool.step == "create"
    # A worker claimed the next message and died: the tick moved on, nothing was scheduled.
    ComputePool.objects.filter(pk=pool.pk).update(tick=first.tick + 1, due_at=timezone.now() - timedelta(minutes=10))
    assert provisioning.run_step(pool.pk, first.tick) is None  # its redelivered message is stale
    sent = []
    monkeypatch.setattr("compute.provisioning.actions.enqueue", lambda pool_id, tick, countdown=0: sent.append((pool_id, tick)))
    assert provisioning.resume_stalled() == 1 and sent == [(pool.pk, first.tick + 1)]
    pool = drive(pool)
    assert pool.status == ComputePool.READY and len(_clusters(fast_sim, pool)) == 1


def test_it_plans_again_without_a_host_palette_refuses(pool_project, fast_sim):
    from compute.readiness import report_for_pool

    pool = new_pool(pool_project)
    chosen = report_for_pool(pool).hosts["control-plane"][0]
    # Palette knows something the inventory does not yet: the chosen host just became unhealthy.
    fast_sim.state.update_host(chosen, health="unhealthy", health_message="NTP not synchronised")
    # An opt-out until issue 11 item 5 (exclude and replan on host problems validate answers as a 4xx): here they
    # come back as machine pool errors in validate's 200 body.
    fast_sim.state.validate_host_problems = "results"
    pool = drive(pool)
    assert pool.status == ComputePool.READY
    assert chosen in pool.excluded_hosts and chosen not in pool.hosts["control-plane"]
    validate = PoolStep.objects.get(pool=pool, name="validate")
    assert chosen in validate.first_error and "unhealthy" in validate.first_error


def test_it_classifies_a_rejected_api_key_as_credentials(world, pool_project, fast_sim):
    pool = new_pool(pool_project)
    fast_sim.state.keys.clear()
    fast_sim.state.add_key("another-key")
    pool = drive(pool)
    assert pool.status == ComputePool.FAILED and pool.failure_class == "credentials"
    assert "API key was rejected" in pool.failure_message and fast_sim.api_key not in pool.failure_message


def test_it_deletes_the_cluster_and_releases_the_hosts(pool_project, fast_sim):
    from compute.provisioning import request_delete

    pool = drive(new_pool(pool_project))
    hosts = [uid for uids in pool.hosts.values() for uid in uids]
    assert all(fast_sim.state.hosts[uid].state == "in-use" for uid in hosts)
    assert request_delete(pool) == "started" and request_delete(pool) == "already"
    pool = drive(pool)
    assert pool.status == ComputePool.DELETED and pool.kubeconfig == "" and pool.deleted_at
    assert [s for s in PoolStep.objects.filter(pool=pool, attempt=2).values_list("name", "status")] == [
        ("delete", "succeeded"), ("wait_deleted", "succeeded"), ("release", "succeeded")]
    assert all(fast_sim.state.hosts[uid].state == "ready" for uid in hosts)
    assert pool.cleanup["hostsStillInUse"] == [] and pool.cleanup["kubeconfig"] == "removed" and pool.cleanup["discoveryRun"]
    discover(pool_project)
    assert set(EdgeHost.objects.filter(project=pool_project, uid__in=hosts).values_list("state", flat=True)) == {"ready"}
    # Name and VIP are free for a new pool; its cluster gets a new name.
    again = new_pool(pool_project)
    assert again.cluster_name == pool.cluster_name + "-2"


def test_it_keeps_an_orphaned_cluster(pool_project, fast_sim):
    from compute.provisioning import request_delete

    pool = drive(new_pool(pool_project, policy="orphan"))
    request_delete(pool)
    pool = drive(pool)
    assert pool.status == ComputePool.DELETED
    assert [fast_sim.state.cluster_state(c) for c in _clusters(fast_sim, pool)] == ["Running"]
    assert pool.cleanup["paletteCluster"].startswith("kept in Palette (deletion policy orphan)")
    assert sorted(pool.cleanup["hostsStillInUse"]) == sorted(uid for uids in pool.hosts.values() for uid in uids)


def test_it_offers_force_delete_for_a_stuck_deletion(pool_project, fast_sim, settings):
    from compute.provisioning import force_delete_available, request_delete, request_force_delete
    from palette.sim import Timings

    settings.POOL_FORCE_DELETE_AFTER = 0.3
    pool = drive(new_pool(pool_project))
    # force_delete_after=0: an opt-out until issue 11 item 3 (force delete only after 15 minutes in Deleting, a 4xx
    # to it means "not yet, retry later") removes it.
    fast_sim.state.timings = Timings(pending=0.2, provisioning=0.5, deleting=60, deleted_visible=0.4,
                                     force_delete_factor=0.01, force_delete_after=0)
    assert request_force_delete(pool) == "unavailable"
    request_delete(pool)
    pool = drive(pool, until=lambda p: "Force delete is available" in p.wait_reason)
    assert force_delete_available(pool) and request_force_delete(pool) == "started"
    pool = drive(pool)
    assert pool.status == ComputePool.DELETED and pool.force_delete_sent
    assert pool.cleanup["paletteCluster"].startswith("deleted (forced)")


def test_it_switches_to_deletion_after_the_running_step(pool_project, fast_sim):
    from compute.provisioning import request_delete

    pool = drive(new_pool(pool_project), until=lambda p: p.steps.filter(name="wait").exists())
    assert request_delete(pool) == "queued"
    pool = drive(pool)
    assert pool.status == ComputePool.DELETED and pool.operation == "delete"
    assert PoolStep.objects.get(pool=pool, attempt=1, name="wait").status == "skipped"
    assert [fast_sim.state.cluster_state(c) for c in _clusters(fast_sim, pool)] in ([], ["Deleted"])


def test_it_rides_out_a_palette_restart(world, settings, tmp_path):
    from palette.sim import Simulator
    from tests.compute.pool_fixtures import FAST, fast_pool_settings, make_bundle
    from tests.integrations.conftest import configure_palette, palette_values

    fast_pool_settings(settings)
    sim = Simulator(hosts=40, seed=7, timings=FAST, tls_dir=tmp_path, validate=True).start()
    try:
        configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
        discover(world.project_a)
        make_bundle(world.project_a)
        pool = drive(new_pool(world.project_a), until=lambda p: p.step == "wait")
        port = sim.port
        sim.stop()
        pool = drive(pool, until=lambda p: PoolStep.objects.filter(pool=p, name="wait", retries__gte=1).exists())
        assert pool.status in (ComputePool.PROVISIONING, ComputePool.RUNNING)
        sim._bind = ("127.0.0.1", port)
        sim.start()
        pool = drive(pool)
        assert pool.status == ComputePool.READY, pool.failure_message
        wait = PoolStep.objects.get(pool=pool, name="wait")
        assert wait.retries >= 1 and wait.first_error
        assert len([c for c in sim.state.clusters.values() if c.name == pool.cluster_name]) == 1
        assert sim.violations == []
    finally:
        sim.stop()


def test_it_fails_with_the_reason_when_the_palette_integration_is_gone(world, pool_project, fast_sim):
    from integrations.models import Settings

    pool = new_pool(pool_project)
    Settings.objects.all().delete()
    pool = drive(pool)
    assert pool.status == ComputePool.FAILED and pool.failure_class == "credentials"
    assert pool.failure_message == ("No Palette integration: add Settings to this project or its tenant. "
                                    "Fix the Settings, then Retry.")
    assert not [r for r in fast_sim.seen() if "spectroclusters" in r.path]  # nothing was sent to Palette


def test_a_pool_of_another_project_on_the_same_palette_project_holds_its_hosts(world, pool_project, fast_sim):
    from compute.readiness import report_for_pool
    from tenancy.models import Project

    # A second project of the tenant inherits the tenant's Settings: the same Palette project, the same hosts.
    training = Project.objects.create(tenant=world.tenant_a, name="training", namespace="acme-training")
    discover(training)
    make_bundle(training)
    first = drive(new_pool(pool_project))
    assert first.status == ComputePool.READY
    held = {uid for uids in first.hosts.values() for uid in uids}
    second = new_pool(training, vip="10.20.99.11")
    report = report_for_pool(second)
    chosen = {uid for uids in report.hosts.values() for uid in uids}
    assert chosen and not chosen & held
    from compute.pools import spec_of
    from compute.readiness import gather

    facts = {h.uid: h for h in gather(training, spec_of(second), pool=second).hosts}
    assert {facts[uid].reserved_by for uid in held} == {"acme-research/gpu-pool-a"}
    second = drive(second)
    assert second.status == ComputePool.READY and not {u for us in second.hosts.values() for u in us} & held
