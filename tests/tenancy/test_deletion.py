"""The one deletion path for tenants and projects (tenancy.deletion): web pages, manifests and the Django
admin.

Refused while a compute pool is not Deleted, with nothing changed in our database, in Palette (the
simulator sees no request) or in Kubernetes (the fake API server sees none); otherwise the Settings,
Secrets (and their Kubernetes copies), bundles, pool records and memberships go, each audited. A stray
`.delete()` raises ProtectedError.
"""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.db.models import ProtectedError
from django.urls import reverse

from compute.models import ComputePool, EdgeHost, ProfileBundle
from core.manifests import delete_text
from core.models import AuditEntry
from integrations import kube, writes
from integrations.models import Secret, Settings
from tenancy import deletion
from tenancy.models import Project, Tenant
from tests.compute.pool_fixtures import drive, fast_sim, new_pool, pool_project  # noqa: F401  (fixtures)

NS = "acme-research"
V1A1 = "spectrocloud.com/v1alpha1"
PROJECT_DOC = {"apiVersion": V1A1, "kind": "Project", "metadata": {"name": "research", "namespace": NS}}
TENANT_DOC = {"apiVersion": V1A1, "kind": "Tenant", "metadata": {"name": "acme"}}
HF = {"huggingface": '{"token": "hf_abcdefgh12345678"}'}
OWN_PALETTE = {
    "apiKey": "project-own-key-0123456789",
    "hostUrl": "https://palette.example.com",
    "tenant": "acme",
    "defaultProjectID": "65f0a1b2c3d4e5f60718293a",
}
PROJECT_DELETE = reverse("tenancy:project_delete", args=["acme", "research"])


def kube_names(fake) -> set[str]:
    return {s["metadata"]["name"] for s in fake.secrets() if s["metadata"]["namespace"] == NS}


def bare_bundle(project) -> ProfileBundle:
    return ProfileBundle.objects.create(
        project=project, name="b", bundle_type="Infrastructure", version="1", profiles=[]
    )


def project_secrets(project) -> list[Secret]:
    """The project's own Settings with a Palette Secret, and a Hugging Face Secret, synced to Kubernetes."""
    secrets = [
        writes.save_secret(project, "research-palette", {"palette": json.dumps(OWN_PALETTE)}),
        writes.save_secret(project, "research-hf", HF),
    ]
    writes.save_settings(
        project, "research-settings", palette_secret="research-palette", huggingface_secret="research-hf"
    )
    for secret in secrets:
        kube.sync_secret(secret)
    return secrets


def snapshot() -> dict:
    """Every row id of our apps' tables, and each pool's state: what a refused deletion must leave as it
    was."""
    rows = {
        m._meta.label: list(m._base_manager.order_by("pk").values_list("pk", flat=True))
        for m in apps.get_models()
        if m._meta.app_label in ("tenancy", "integrations", "compute", "core")
    }
    rows["pools"] = list(
        ComputePool.objects.order_by("pk").values_list("status", "delete_requested", "force_delete_requested")
    )
    return rows


@pytest.fixture
def live(world, pool_project, fast_sim, kube_on):
    """Project research with a Ready pool (a running cluster in the simulator) and its own Secrets in
    Kubernetes."""
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.READY, pool.failure_message
    project_secrets(pool_project)
    return pool


def _web(world, owner):
    client = world.client_for(world.superuser)
    url = reverse("tenancy:tenant_delete", args=["acme"]) if owner == "tenant" else PROJECT_DELETE
    response = client.post(url, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def _manifest(world, owner):
    result = delete_text(
        json.dumps(TENANT_DOC if owner == "tenant" else PROJECT_DOC), source="f.yaml"
    )  # JSON is YAML
    assert not result.ok and not result.changes
    return "\n".join(result.errors)


def _admin_view(world, owner):
    obj = world.tenant_a if owner == "tenant" else world.project_a
    url = reverse(f"admin:tenancy_{owner}_delete", args=[obj.pk])
    response = world.client_for(world.superuser).post(url, {"post": "yes"})
    assert response.status_code == 200  # the confirmation page again, saying why it cannot delete
    return response.content.decode()


def _admin_action(world, owner):
    obj = world.tenant_a if owner == "tenant" else world.project_a
    data = {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    response = world.client_for(world.superuser).post(reverse(f"admin:tenancy_{owner}_changelist"), data)
    assert response.status_code == 200
    return response.content.decode()


PATHS = {
    "web": _web,
    "manifest": _manifest,
    "admin delete view": _admin_view,
    "admin delete action": _admin_action,
}


@pytest.mark.parametrize("owner", ["project", "tenant"])
@pytest.mark.parametrize("path", list(PATHS))
def test_it_refuses_deleting_an_owner_with_a_live_pool_and_changes_nothing(
    world, live, fast_sim, kube_on, path, owner, django_capture_on_commit_callbacks
):
    before, palette_requests, kube_requests = snapshot(), len(fast_sim.seen()), len(kube_on.requests)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        shown = PATHS[path](world, owner)
    label = "acme-research/gpu-pool-a (Ready)" if owner == "tenant" else "gpu-pool-a (Ready)"
    assert "1 compute pool that is not Deleted: " in shown and label in shown, shown[-3000:]
    assert "wait until it shows Deleted" in shown
    if path != "manifest":  # pages link the pool; a manifest's message is plain text
        pool_url = reverse("compute:pool_detail", args=["acme", "research", live.uuid])
        assert f'<a href="{pool_url}">{label}</a>' in shown
    assert snapshot() == before
    assert callbacks == []  # no Kubernetes delete (nor anything else) waits for a commit
    assert len(fast_sim.seen()) == palette_requests and len(kube_on.requests) == kube_requests
    clusters = [c for c in fast_sim.state.clusters.values() if c.name == live.cluster_name]
    assert [(fast_sim.state.cluster_state(c), c.delete_at) for c in clusters] == [("Running", None)]
    assert kube_names(kube_on) == {"research-palette", "research-hf"}


def test_it_deletes_a_project_without_live_pools_with_its_secrets_kube_copies_and_audit(
    world, pool_project, kube_on, queued, django_capture_on_commit_callbacks
):
    pool = new_pool(pool_project)
    ComputePool.objects.filter(pk=pool.pk).update(
        status=ComputePool.DELETED
    )  # the record a deleted pool leaves
    secrets = project_secrets(pool_project)
    tenant_secrets = set(Secret.objects.filter(tenant=world.tenant_a).values_list("name", flat=True))
    assert tenant_secrets and EdgeHost.objects.filter(project=pool_project).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = world.client_for(world.owner).post(PROJECT_DELETE, follow=True)
    assert (
        "Project research deleted, with its Settings, Secrets and profile bundles."
        in response.content.decode()
    )
    assert not Project.objects.filter(pk=pool_project.pk).exists()
    assert not ComputePool.objects.filter(pk=pool.pk).exists()
    assert not ProfileBundle.objects.filter(project_id=pool_project.pk).exists()
    assert not EdgeHost.objects.filter(project_id=pool_project.pk).exists()
    assert (
        not Settings.objects.filter(namespace=NS).exists()
        and not Secret.objects.filter(namespace=NS).exists()
    )
    # The Kubernetes copies went through the Secret's own delete path; the tenant's Secrets and copies stay.
    assert sorted(args for name, args in queued if name == "integrations.delete_kube_secret") == [
        (NS, "research-hf"),
        (NS, "research-palette"),
    ]
    assert kube_names(kube_on) == set()
    assert set(Secret.objects.filter(tenant=world.tenant_a).values_list("name", flat=True)) == tenant_secrets
    deleted = AuditEntry.objects.filter(action=AuditEntry.DELETE, user=world.owner, source="web")
    assert sorted((e.object_type, e.object_repr) for e in deleted) == sorted(
        [
            ("compute pool", "gpu-pool-a"),
            ("profile bundle", "edge-infra v1"),
            ("settings", f"{NS}/research-settings"),
            *[("secret", str(s)) for s in secrets],
            ("membership", "editor Editor of acme/research"),
            ("project", "acme/research"),
        ]
    )
    assert set(deleted.values_list("tenant_name", flat=True)) == {"acme"}


def test_it_deletes_a_tenant_from_the_admin_with_its_projects_and_every_kube_copy(
    world, kube_on, queued, django_capture_on_commit_callbacks
):
    tenant_palette = {"palette": json.dumps({**OWN_PALETTE, "apiKey": "tenant-own-key-0123456789"})}
    tenant_secret = writes.save_secret(world.tenant_a, "acme-palette", tenant_palette)
    writes.save_settings(world.tenant_a, "acme-settings", palette_secret="acme-palette")
    kube.sync_secret(tenant_secret)
    project_secrets(world.project_a)
    client = world.client_for(world.superuser)
    page = client.get(reverse("admin:tenancy_tenant_delete", args=[world.tenant_a.pk])).content.decode()
    assert "Project: acme/research" in page and "Secrets: 2" in page and "Cannot delete" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:tenancy_tenant_delete", args=[world.tenant_a.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not Tenant.objects.filter(name="acme").exists()
    assert not Secret.objects.filter(namespace__in=[NS, "tenant-acme"]).exists()
    assert not kube_on.secrets()
    assert (
        AuditEntry.objects.filter(action=AuditEntry.DELETE, source="admin", object_type="secret").count() == 3
    )
    assert Tenant.objects.filter(name="globex").exists() and Project.objects.filter(name="ops").exists()


def test_it_raises_on_a_stray_delete_of_an_owner_that_holds_something(world):
    bundle = bare_bundle(world.project_a)
    ComputePool.objects.create(
        project=world.project_a,
        name="p",
        bundle=bundle,
        bundle_name="b",
        vip="10.20.99.10",
        node_pools={},
        status=ComputePool.READY,
    )
    with pytest.raises(ProtectedError):
        Project.objects.get(pk=world.project_a.pk).delete()
    ComputePool.objects.all().delete()
    with pytest.raises(ProtectedError):  # the bundle alone
        Project.objects.get(pk=world.project_a.pk).delete()
    empty = Tenant.objects.create(name="initech", display_name="Initech")  # no project protects it
    writes.save_secret(empty, "initech-hf", HF)
    with pytest.raises(ProtectedError):
        Tenant.objects.get(pk=empty.pk).delete()
    assert (
        Project.objects.filter(pk=world.project_a.pk).exists()
        and Secret.objects.filter(name="initech-hf").exists()
    )


def test_it_refuses_instead_of_failing_when_something_protected_has_no_cleanup(world, monkeypatch):
    writes.save_secret(world.project_a, "research-hf", HF)
    bare_bundle(world.project_a)
    # As if integrations registered no cleanup: the Secret is in the way; the bundle compute removed comes
    # back.
    cleanups = [c for c in deletion._cleanups if c[1].__module__ != "integrations.deletion"]
    monkeypatch.setattr(deletion, "_cleanups", cleanups)
    response = world.client_for(world.owner).post(PROJECT_DELETE, follow=True)
    assert response.status_code == 200
    shown = response.content.decode()
    assert "Project research cannot be deleted yet: it still holds: secret acme-research/research-hf" in shown
    assert (
        Project.objects.filter(pk=world.project_a.pk).exists()
        and ProfileBundle.objects.filter(name="b").exists()
    )
    assert not AuditEntry.objects.filter(action=AuditEntry.DELETE).exists()
