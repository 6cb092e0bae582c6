"""The pool pages and actions: permissions, the create form with its readiness report, the live timeline."""

from __future__ import annotations

from django.urls import reverse

from compute.models import ComputePool
from tests.compute.pool_fixtures import ED25519, drive, fast_sim, new_pool, pool_project  # noqa: F401

ARGS = ["acme", "research"]


def form_data(**overrides) -> dict:
    data = {
        "name": "web-pool",
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
        "vip": "10.30.0.5",
        "ssh_keys": ED25519,
        "deletion_policy": "delete",
    }
    data.update(overrides)
    return data


def test_it_hides_pools_from_outsiders_and_refuses_viewers(world, pool_project):
    pool = new_pool(pool_project)
    detail = reverse("compute:pool_detail", args=[*ARGS, pool.uuid])
    outsider, viewer = world.client_for(world.outsider), world.client_for(world.viewer)
    for url in (reverse("compute:pools", args=ARGS), detail, reverse("compute:pool_create", args=ARGS)):
        assert outsider.get(url).status_code == 404
    assert (
        viewer.get(detail).status_code == 200
        and viewer.get(reverse("compute:pools", args=ARGS)).status_code == 200
    )
    assert viewer.get(reverse("compute:pool_create", args=ARGS)).status_code == 403
    for name in ("pool_retry", "pool_delete", "pool_force_delete"):
        assert viewer.post(reverse(f"compute:{name}", args=[*ARGS, pool.uuid])).status_code == 403
        assert outsider.post(reverse(f"compute:{name}", args=[*ARGS, pool.uuid])).status_code == 404
    body = viewer.get(detail).content.decode()
    assert "Retry" not in body and ">Delete<" not in body


def test_it_checks_readiness_and_creates_from_the_form(world, pool_project):
    client = world.client_for(world.editor)
    url = reverse("compute:pool_create", args=ARGS)
    assert "New compute pool" in client.get(url).content.decode()
    response = client.post(url, {**form_data(), "check": "1"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert (
        response.status_code == 200
        and "Readiness:" in body
        and "ready" in body
        and "POST /v1/spectroclusters/edge-native" in body
    )
    assert "<html" not in body  # the report fragment only
    bad = client.post(
        url, {**form_data(vip="10.30.0", cp_count="3", cp_worker_eligible=""), "check": "1"}
    ).content.decode()
    assert "not an IPv4 address" in bad
    blocked = client.post(url, {**form_data(cp_cpu="4096"), "create": "1"}).content.decode()
    assert "Not ready to provision" in blocked and "with fewer than 4096 cores" in blocked
    assert not ComputePool.objects.filter(name="web-pool").exists()
    response = client.post(url, {**form_data(), "create": "1"})
    pool = ComputePool.objects.get(name="web-pool")
    assert response.status_code == 302 and response["Location"].endswith(f"/pools/{pool.uuid}/")
    assert (
        pool.status == ComputePool.PENDING
        and pool.vip == "10.30.0.5"
        and pool.cluster_name == "acme-research-web-pool"
    )
    again = client.post(url, {**form_data(), "create": "1"}).content.decode()
    assert "already has a pool called web-pool" in again


def test_it_shows_the_timeline_and_stops_polling_when_terminal(world, pool_project, fast_sim):
    pool = new_pool(pool_project)
    client = world.client_for(world.owner)
    detail = reverse("compute:pool_detail", args=[*ARGS, pool.uuid])
    response = client.get(detail, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'hx-trigger="every 2s"' in response.content.decode()
    fast_sim.fail_next_create(
        status=400, code="InvalidClusterSpec", message="machine pool rejected by policy"
    )
    pool = drive(pool)
    assert pool.status == ComputePool.FAILED and pool.failure_class == "rejected"
    response = client.get(detail, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 286
    assert (
        "Failed — Palette rejected the request" in body
        and "machine pool rejected by policy" in body
        and "Retry" in body
    )
    response = client.post(reverse("compute:pool_retry", args=[*ARGS, pool.uuid]))
    pool.refresh_from_db()
    assert response.status_code == 302 and pool.status == ComputePool.PENDING and pool.attempt == 2
    pool = drive(pool)
    assert pool.status == ComputePool.READY
    body = client.get(detail).content.decode()
    assert (
        "Attempt 2" in body and "Attempt 1" in body and "machine pool rejected by policy" in body
    )  # the old error stays visible
    assert pool.kubeconfig not in body and "stored encrypted" in body
    client.post(reverse("compute:pool_delete", args=[*ARGS, pool.uuid]))
    pool.refresh_from_db()
    assert pool.status == ComputePool.DELETING and pool.operation == ComputePool.DELETION


def test_it_lists_pools_on_the_project_overview(world, pool_project, fast_sim):
    client = world.client_for(world.owner)
    body = client.get(reverse("tenancy:project_detail", args=ARGS)).content.decode()
    assert "Create a Compute Pool" in body and "No compute pool yet" in body
    drive(new_pool(pool_project))
    body = client.get(reverse("tenancy:project_detail", args=ARGS)).content.decode()
    assert "1 pool: 1 Ready." in body
    body = client.get(reverse("compute:pools", args=ARGS)).content.decode()
    assert "gpu-pool-a" in body and "Ready" in body and "edge-infra" in body


def test_it_shows_pools_in_the_admin_without_the_kubeconfig(world, pool_project, fast_sim):
    pool = drive(new_pool(pool_project))
    client = world.client_for(world.superuser)
    assert client.get(reverse("admin:compute_computepool_changelist")).status_code == 200
    body = client.get(reverse("admin:compute_computepool_change", args=[pool.pk])).content.decode()
    assert (
        "kubeconfig stored" in body.lower()
        and pool.kubeconfig not in body
        and "certificate-authority-data" not in body
    )


def test_the_admin_cannot_overwrite_a_pools_state_nor_delete_a_live_pool(world, pool_project, fast_sim):
    pool = drive(new_pool(pool_project))
    client = world.client_for(world.superuser)
    change = reverse("admin:compute_computepool_change", args=[pool.pk])
    body = client.get(change).content.decode()
    assert (
        'name="status"' not in body and 'name="delete_requested"' not in body and 'name="hosts"' not in body
    )
    client.post(change, {"status": ComputePool.DELETED, "description": "x"})
    pool.refresh_from_db()
    assert pool.status == ComputePool.READY
    assert (
        client.post(reverse("admin:compute_computepool_delete", args=[pool.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert ComputePool.objects.filter(pk=pool.pk).exists()
    assert client.get(reverse("admin:compute_computepool_add")).status_code == 403


def test_it_creates_and_deletes_profile_bundles_on_the_pools_page(
    world, pool_project, django_assert_max_num_queries
):
    from compute.models import ClusterProfile, ProfileBundle
    from core.models import AuditEntry

    editor, viewer, outsider = (
        world.client_for(world.editor),
        world.client_for(world.viewer),
        world.client_for(world.outsider),
    )
    page = reverse("compute:pools", args=ARGS)
    create = reverse("compute:bundle_create", args=ARGS)
    base = ClusterProfile.objects.get(project=pool_project, name="edge-k3s-infra", version="1.3.0")
    addon = ClusterProfile.objects.filter(
        project=pool_project, profile_type="add-on", cloud_type__in=("edge-native", "all")
    ).first()
    posted = {
        "bundle-name": "edge-gpu",
        "bundle-bundle_type": "Infrastructure",
        "bundle-version": "2",
        "bundle-base": base.uid,
        "bundle-addons": [addon.uid],
    }

    assert viewer.post(create, posted).status_code == 403 and outsider.post(create, posted).status_code == 404
    assert 'id="bundle-form"' not in viewer.get(page).content.decode()

    # A problem is shown in the form, with what was typed kept.
    body = editor.post(create, {**posted, "bundle-name": "edge-infra"}).content.decode()
    assert "already has a bundle called edge-infra" in body and 'value="2"' in body
    body = editor.post(create, {**posted, "bundle-base": addon.uid}).content.decode()
    assert "Select a valid choice" in body and not ProfileBundle.objects.filter(name="edge-gpu").exists()

    response = editor.post(create, posted)
    assert response.status_code == 302 and response["Location"] == page + "#bundles"
    bundle = ProfileBundle.objects.get(project=pool_project, name="edge-gpu")
    assert [p["uid"] for p in bundle.profiles] == [base.uid, addon.uid]
    assert AuditEntry.objects.filter(action="create", object_repr__startswith="edge-gpu").exists()

    # The page says which bundles pools use and which profile versions Palette no longer has; its cost does
    # not grow per bundle.
    new_pool(pool_project)  # built from edge-infra
    ClusterProfile.objects.filter(uid=addon.uid).update(present=False)
    with django_assert_max_num_queries(12):
        body = editor.get(page).content.decode()
    assert "gone from Palette" in body and "in use" in body
    used = reverse("compute:bundle_delete", args=[*ARGS, ProfileBundle.objects.get(name="edge-infra").uuid])
    assert viewer.post(used).status_code == 403
    editor.post(used)
    assert ProfileBundle.objects.filter(name="edge-infra").exists()
    assert "is used by compute pool gpu-pool-a: delete it first" in editor.get(page).content.decode()

    editor.post(reverse("compute:bundle_delete", args=[*ARGS, bundle.uuid]))
    assert not ProfileBundle.objects.filter(name="edge-gpu").exists()
    assert AuditEntry.objects.filter(action="delete", object_repr__startswith="edge-gpu").exists()
