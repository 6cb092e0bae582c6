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
    assert steps == [
        ("validate", "succeeded"),
        ("create", "succeeded"),
        ("wait", "succeeded"),
        ("kubeconfig", "succeeded"),
    ]


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
    assert (
        "profile pack values invalid" in pool.failure_message
        and "Creating the cluster failed" in pool.failure_message
    )
    assert PoolStep.objects.get(pool=pool, name="create").status == "failed"
    assert _clusters(fast_sim, pool) == [] and pool.cluster_uid == ""
    # Nothing of the pool lives in that Palette project: a Retry creates where the Settings point then.
    assert (pool.palette_host, pool.palette_project_uid) == ("", "")


def test_a_retry_after_a_refused_create_records_the_settings_project_again(pool_project, fast_sim):
    from compute.provisioning import retry_pool

    fast_sim.fail_next_create(status=422, code="InvalidClusterSpec", message="profile pack values invalid")
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.FAILED and pool.palette_project_uid == ""
    assert retry_pool(pool)
    pool = drive(pool)
    assert pool.status == ComputePool.READY, pool.failure_message
    assert pool.palette_project_uid == fast_sim.project_uids[0] and len(_clusters(fast_sim, pool)) == 1


def test_it_never_creates_a_second_cluster_when_the_create_answer_is_lost(
    pool_project, fast_sim, monkeypatch
):
    from palette.client import PaletteClient
    from palette.errors import PaletteTimeout

    real = PaletteClient.create_edge_native_cluster
    calls = []

    def lost_answer(self, cluster, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            real(self, cluster, **kwargs)  # Palette creates it...
            raise PaletteTimeout(
                "Palette did not answer within 30s.", host=self.base_url
            )  # ...but the answer is lost
        return real(self, cluster, **kwargs)

    monkeypatch.setattr(PaletteClient, "create_edge_native_cluster", lost_answer)
    # Palette fills the hosts' inUseClusters minutes after a create (the simulator's default lag, 15 s,
    # outlasts this test): only the search by name can find the cluster the lost answer made.
    assert fast_sim.state.timings.in_use_lag >= 15
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.READY
    assert len(calls) == 1, "the retry found the cluster by name instead of creating again"
    clusters = _clusters(fast_sim, pool)
    assert len(clusters) == 1 and clusters[0].uid == pool.cluster_uid
    create = PoolStep.objects.get(pool=pool, name="create")
    assert create.retries == 1 and "did not answer" in create.first_error


def test_it_times_out_with_what_it_saw_last_and_resumes_on_retry_without_recreating(
    pool_project, fast_sim, settings
):
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
    assert (
        pool.status == ComputePool.FAILED and pool.cluster_uid == uid and len(_clusters(fast_sim, pool)) == 1
    )
    assert PoolStep.objects.get(pool=pool, attempt=2, name="validate").status == "skipped"


def test_it_ignores_duplicate_and_stale_messages_and_resumes_a_stalled_pool(
    pool_project, fast_sim, monkeypatch
):
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
    ComputePool.objects.filter(pk=pool.pk).update(
        tick=first.tick + 1, due_at=timezone.now() - timedelta(minutes=10)
    )
    assert provisioning.run_step(pool.pk, first.tick) is None  # its redelivered message is stale
    sent = []
    monkeypatch.setattr(
        "compute.provisioning.actions.enqueue",
        lambda pool_id, tick, countdown=0: sent.append((pool_id, tick)),
    )
    assert provisioning.resume_stalled() == 1 and sent == [(pool.pk, first.tick + 1)]
    pool = drive(pool)
    assert pool.status == ComputePool.READY and len(_clusters(fast_sim, pool)) == 1


def test_it_plans_again_without_a_host_palette_refuses(pool_project, fast_sim):
    from compute.readiness import report_for_pool

    # Palette's way, the simulator's default: host problems are a 400 naming the host, not constraint results.
    assert fast_sim.state.validate_host_problems == "4xx"
    pool = new_pool(pool_project)
    chosen = report_for_pool(pool).hosts["control-plane"][0]
    # Palette knows something the inventory does not yet: the chosen host just became unhealthy.
    fast_sim.state.update_host(chosen, health="unhealthy", health_message="NTP not synchronised")
    pool = drive(pool)
    assert pool.status == ComputePool.READY, (pool.failure_class, pool.failure_message)
    assert pool.excluded_hosts == [chosen] and chosen not in pool.hosts["control-plane"]
    validate = PoolStep.objects.get(pool=pool, name="validate")
    assert validate.first_error == (
        f"Palette refused hosts: HTTP 400 EdgeHostUnhealthy: edge host '{chosen}' is "
        "unhealthy: NTP not synchronised"
    )
    assert validate.status == PoolStep.SUCCEEDED and validate.detail.startswith(
        "Palette accepted the request"
    )


def test_it_plans_again_without_a_host_palette_refuses_in_the_validation_body(pool_project, fast_sim):
    from compute.readiness import report_for_pool

    pool = new_pool(pool_project)
    chosen = report_for_pool(pool).hosts["control-plane"][0]
    fast_sim.state.update_host(chosen, health="unhealthy", health_message="NTP not synchronised")
    # The other shape: the host problem as a machine pool error in validate's 200 body.
    fast_sim.state.validate_host_problems = "results"
    pool = drive(pool)
    assert pool.status == ComputePool.READY, (pool.failure_class, pool.failure_message)
    assert pool.excluded_hosts == [chosen] and chosen not in pool.hosts["control-plane"]
    validate = PoolStep.objects.get(pool=pool, name="validate")
    assert validate.first_error.startswith("Palette refused hosts: machine pool ")
    assert validate.first_error.endswith(
        f": [EdgeHostUnhealthy] edge host '{chosen}' is unhealthy: NTP not synchronised"
    )


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
        ("delete", "succeeded"),
        ("wait_deleted", "succeeded"),
        ("release", "succeeded"),
    ]
    assert all(fast_sim.state.hosts[uid].state == "ready" for uid in hosts)
    assert (
        pool.cleanup["hostsStillInUse"] == []
        and pool.cleanup["kubeconfig"] == "removed"
        and pool.cleanup["discoveryRun"]
    )
    discover(pool_project)
    assert set(
        EdgeHost.objects.filter(project=pool_project, uid__in=hosts).values_list("state", flat=True)
    ) == {"ready"}
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
    assert sorted(pool.cleanup["hostsStillInUse"]) == sorted(
        uid for uids in pool.hosts.values() for uid in uids
    )


def test_it_offers_force_delete_for_a_stuck_deletion(pool_project, fast_sim, settings):
    from compute.provisioning import force_delete_available, request_delete, request_force_delete
    from palette.sim import Timings

    settings.POOL_FORCE_DELETE_AFTER = 0.3
    pool = drive(new_pool(pool_project))
    # Palette (here: 2 s instead of 15 minutes) refuses a force delete until the cluster has been Deleting
    # that long: our offer comes earlier (0.3 s), so the first try is refused with a 400 and must be asked
    # again, not fail.
    fast_sim.state.timings = Timings(
        pending=0.2,
        provisioning=0.5,
        deleting=60,
        deleted_visible=0.4,
        force_delete_factor=0.01,
        force_delete_after=2,
    )
    assert request_force_delete(pool) == "unavailable"
    request_delete(pool)
    pool = drive(pool, until=lambda p: "Force delete is available" in p.wait_reason)
    assert force_delete_available(pool) and request_force_delete(pool) == "started"
    pool = drive(pool, until=lambda p: "does not accept the force delete yet" in p.wait_reason)
    assert pool.status == ComputePool.DELETING and not pool.force_delete_sent
    pool = drive(pool)
    assert pool.status == ComputePool.DELETED and pool.force_delete_sent
    assert pool.cleanup["paletteCluster"].startswith("deleted (forced)")
    step = PoolStep.objects.get(pool=pool, name="wait_deleted", attempt=pool.attempt)
    assert "ClusterForceDeleteNotAllowed" in step.first_error or "15 minutes" in step.first_error


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
        pool = drive(
            pool, until=lambda p: PoolStep.objects.filter(pool=p, name="wait", retries__gte=1).exists()
        )
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
    assert pool.failure_message == (
        "No Palette integration: add Settings to this project or its tenant. Fix the Settings, then Retry."
    )
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
    from compute.readiness import gather
    from compute.spec import spec_of

    facts = {h.uid: h for h in gather(training, spec_of(second), pool=second).hosts}
    assert {facts[uid].reserved_by for uid in held} == {"acme-research/gpu-pool-a"}
    second = drive(second)
    assert second.status == ComputePool.READY and not {u for us in second.hosts.values() for u in us} & held


def test_a_pool_keeps_to_its_palette_project_when_the_settings_switch(world, pool_project, fast_sim):
    from compute.provisioning import request_delete
    from tests.integrations.conftest import configure_palette, palette_values

    pool = drive(new_pool(pool_project))
    first = fast_sim.project_uids[0]
    assert (pool.status, pool.palette_project_uid, pool.palette_host) == (
        ComputePool.READY,
        first,
        fast_sim.url.rstrip("/").lower(),
    )
    # The tenant's Settings now point at another Palette project of the same Palette (same key).
    configure_palette(
        world.tenant_a,
        palette_values(fast_sim, defaultProjectID=fast_sim.project_uids[1]),
        ca_pem=fast_sim.ca_pem,
    )
    assert request_delete(pool) == "started"
    pool = drive(pool)
    assert pool.status == ComputePool.DELETED, pool.failure_message
    # Deleted in its own project (the Settings' project would have answered 404 for it).
    assert [fast_sim.state.cluster_state(c) for c in _clusters(fast_sim, pool)] in ([], ["Deleted"])
    assert "deleted: " in pool.cleanup["paletteCluster"]


def test_an_unconfirmed_404_never_marks_a_pool_deleted(world, pool_project, fast_sim):
    from compute.provisioning import request_delete

    pool = drive(new_pool(pool_project))
    held = dict(pool.hosts)
    # A pool from before its Palette project was recorded: a 404 may come from another project than its
    # cluster's.
    ComputePool.objects.filter(pk=pool.pk).update(palette_project_uid="", palette_host="")
    fast_sim.state.clusters[pool.cluster_uid].project_uid = fast_sim.project_uids[
        1
    ]  # Palette answers 404 here now
    pool.refresh_from_db()
    assert request_delete(pool) == "started"
    pool = drive(pool)
    assert pool.status == ComputePool.ATTENTION, pool.status
    assert "answered 404" in pool.failure_message and "not counted as deleted" in pool.failure_message
    assert pool.cluster_uid and pool.hosts == held and pool.deleted_at is None
    from django.urls import reverse

    body = (
        world.client_for(world.owner)
        .get(reverse("compute:pool_detail", args=["acme", "research", pool.uuid]))
        .content.decode()
    )
    assert "Needs attention" in body and "Retry" in body


def test_a_lost_create_answer_met_by_palettes_duplicate_400_adopts_the_cluster(
    pool_project, fast_sim, monkeypatch
):
    from palette.client import PaletteClient
    from palette.errors import PaletteTimeout

    real_create, real_find = PaletteClient.create_edge_native_cluster, PaletteClient.find_clusters_by_name
    creates, finds = [], []

    def lost_answer(self, cluster, **kwargs):
        creates.append(1)
        result = real_create(self, cluster, **kwargs)
        if len(creates) == 1:
            raise PaletteTimeout("Palette did not answer within 30s.", host=self.base_url)
        return result

    def slow_index(self, name, **kwargs):
        finds.append(1)
        # Before the first create, and once after it (as if Palette's index lagged): the search finds nothing.
        return [] if len(finds) <= 2 else real_find(self, name, **kwargs)

    monkeypatch.setattr(PaletteClient, "create_edge_native_cluster", lost_answer)
    monkeypatch.setattr(PaletteClient, "find_clusters_by_name", slow_index)
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.READY, pool.failure_message
    assert len(creates) == 2, (
        "the second create met Palette's 400 'already exists' and the cluster was looked up"
    )
    clusters = _clusters(fast_sim, pool)
    assert len(clusters) == 1 and clusters[0].uid == pool.cluster_uid


def test_apply_and_the_settings_page_warn_about_pools_left_in_another_palette_project(
    world, pool_project, fast_sim
):
    import json

    import yaml

    from core.manifests import apply_text
    from core.state_warnings import after_change
    from integrations.models import Secret

    pool = drive(new_pool(pool_project))
    assert after_change({"tenant-acme"}) == []
    secret = Secret.objects.get(tenant=world.tenant_a, name="main-settings-palette")
    values = {**json.loads(secret.get_data()["palette"]), "defaultProjectID": fast_sim.project_uids[1]}
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret.name, "namespace": "tenant-acme"},
        "stringData": {"palette": json.dumps(values)},
    }
    dry = apply_text(yaml.safe_dump(doc), dry_run=True)
    assert dry.ok and len(dry.warnings) == 1, (dry.errors, dry.warnings)
    assert f"acme-research/{pool.name} (Palette project {fast_sim.project_uids[0]}" in dry.warnings[0]
    assert after_change({"tenant-acme"}) == []  # a dry run changed nothing
    assert apply_text(yaml.safe_dump(doc)).warnings == dry.warnings
    assert after_change({"acme-research"}) == dry.warnings  # also for the project's own namespace
