"""Pages that lead on: the kubeconfig download and next steps of a Ready pool, the deletion timer, the GPU
family choices, the profiles page and the bundle form without synced profiles."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from compute.forms.pools import PoolForm, gpu_family_choices
from compute.models import ClusterProfile, ComputePool, EdgeHost, ProfileSync
from compute.provisioning import create_pool, request_delete
from core.models import AuditEntry
from tests.compute.pool_fixtures import spec_for

KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://10.12.40.50:6443'}}]\n"
)
ARGS = ["acme", "research"]


def ready_pool(project, name: str = "web") -> ComputePool:
    pool = create_pool(project, spec_for(project, name, vip="10.12.40.50"), None, source="test")
    pool.status, pool.kubeconfig, pool.kubeconfig_kind = ComputePool.READY, KUBECONFIG, "admin"
    pool.hosts = {"control-plane": ["edge-a"]}
    pool.ready_at = timezone.now()
    pool.save()
    return pool


def kubeconfig_url(pool) -> str:
    return reverse("compute:pool_kubeconfig", args=[*ARGS, pool.uuid])


@pytest.mark.django_db
def test_an_editor_downloads_a_ready_pools_kubeconfig_audited(world):
    pool = ready_pool(world.project_a)
    client = world.client_for(world.editor)
    page = client.get(pool.get_absolute_url()).content.decode()
    assert 'id="download-kubeconfig"' in page and 'download="web-kubeconfig.yaml"' in page
    assert "Next steps in PaletteAI" in page and "export KUBECONFIG=~/Downloads/web-kubeconfig.yaml" in page
    assert "its 1 node." in page
    assert "10.12.40.50:6443" not in page  # the kubeconfig itself is never part of a page

    response = client.get(kubeconfig_url(pool))
    assert response.status_code == 200 and response.content.decode() == KUBECONFIG
    assert response["Content-Disposition"] == 'attachment; filename="web-kubeconfig.yaml"'
    assert "no-store" in response["Cache-Control"]
    entry = AuditEntry.objects.get(object_id=str(pool.pk), verb__startswith="kubeconfig downloaded")
    assert entry.username == "editor" and entry.verb == "kubeconfig downloaded (admin)"
    assert "10.12.40.50" not in str(entry.changes)


@pytest.mark.django_db
def test_a_viewer_neither_sees_nor_gets_the_kubeconfig(world):
    pool = ready_pool(world.project_a)
    client = world.client_for(world.viewer)
    page = client.get(pool.get_absolute_url()).content.decode()
    assert "Next steps in PaletteAI" in page and "Download kubeconfig" not in page
    assert "a project editor or admin can download it here" in page
    assert client.get(kubeconfig_url(pool)).status_code == 403
    assert world.client_for(world.outsider).get(kubeconfig_url(pool)).status_code == 404
    assert not AuditEntry.objects.filter(verb__startswith="kubeconfig").exists()


@pytest.mark.django_db
def test_a_pool_that_is_not_ready_says_when_its_kubeconfig_comes(world):
    pool = ready_pool(world.project_a)
    ComputePool.objects.filter(pk=pool.pk).update(status=ComputePool.PROVISIONING)
    client = world.client_for(world.editor)
    response = client.get(kubeconfig_url(pool), follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0] == pool.get_absolute_url()
    assert "web is Provisioning: its kubeconfig can be downloaded once it is Ready." in body
    assert "Download kubeconfig" not in body and "Next steps in PaletteAI" not in body


@pytest.mark.django_db
def test_deleting_counts_from_the_deletion_start(world):
    pool = ready_pool(world.project_a)
    ComputePool.objects.filter(pk=pool.pk).update(started=timezone.now() - timedelta(minutes=27))
    pool.refresh_from_db()
    before = timezone.now()
    assert request_delete(pool, source="test") == "started"
    pool.refresh_from_db()
    assert pool.status == ComputePool.DELETING and pool.started >= before
    page = world.client_for(world.editor).get(pool.get_absolute_url()).content.decode()
    elapsed = re.search(r'<span class="muted">(for [^<·]+)', page).group(1).strip()
    assert elapsed in ("for 0 s", "for 1 s", "for 2 s"), elapsed


@pytest.mark.django_db
def test_gpu_families_are_offered_from_the_eligible_hosts_with_counts(world):
    project = world.project_a
    a100 = {"vendor": "NVIDIA", "model": "GA100 [A100 PCIe 40GB]", "count": 4, "memoryMiB": 40960}
    t4 = {"vendor": "NVIDIA", "model": "TU104GL [Tesla T4]", "count": 1, "memoryMiB": 15360}
    for uid, gpus, eligible in (
        ("edge-a", [a100], True),
        ("edge-b", [a100], True),
        ("edge-c", [t4], True),
        ("edge-d", [t4], False),  # not eligible: not counted
        ("edge-e", [], True),
    ):
        EdgeHost.objects.create(
            project=project, uid=uid, name=uid, gpus=gpus, eligible=eligible, fingerprint="x"
        )
    assert gpu_family_choices(project) == [
        ("", "None — no GPUs required"),
        ("NVIDIA", "Any NVIDIA GPU — 3 hosts, 9 GPUs"),
        ("NVIDIA-GA100 [A100 PCIe 40GB]", "NVIDIA A100 40GB — 2 hosts, 8 GPUs"),
        ("NVIDIA-TU104GL [Tesla T4]", "NVIDIA T4 — 1 host, 1 GPU"),
    ]
    # Every option's value is a family the spec takes and that matches the hosts it counts.
    from compute.spec import GPU_FAMILY, GpuRequirement

    assert GPU_FAMILY.match("NVIDIA-TU104GL [Tesla T4]") and GpuRequirement(
        "NVIDIA-TU104GL [Tesla T4]"
    ).matches(t4)
    assert not GpuRequirement("NVIDIA-TU104GL [Tesla T4]").matches(a100)
    # The select keeps a value typed earlier (or applied from a manifest) that no eligible host has now.
    form = PoolForm(initial={"worker_gpu_family": "NVIDIA-A100"}, project=project)
    html = str(form["worker_gpu_family"])
    assert html.startswith("<select") and "NVIDIA-A100 (no eligible host has it now)" in html
    assert "Any NVIDIA GPU — 3 hosts, 9 GPUs" in str(form["worker3_gpu_family"])


@pytest.mark.django_db
def test_the_profiles_page_leads_on(world):
    project = world.project_a
    url = reverse("compute:profiles", args=ARGS)
    editor, viewer = world.client_for(world.editor), world.client_for(world.viewer)
    empty = editor.get(url).content.decode()
    assert "No cluster profiles synced" in empty and 'id="sync-profiles-empty"' in empty
    assert 'id="sync-profiles-empty"' not in viewer.get(url).content.decode()
    ClusterProfile.objects.create(
        project=project, uid="0a1b2c3d4e5f60718293a4b5", name="edge-k3s-infra", version="1.3.0",
        profile_type="infra", cloud_type="edge-native",
    )  # fmt: skip
    listed = editor.get(url).content.decode()
    assert "Create a bundle" in listed and "Create a compute pool" in listed
    assert reverse("compute:pool_create", args=ARGS) in listed
    assert "Create a bundle" not in viewer.get(url).content.decode()


@pytest.mark.django_db
def test_the_bundle_form_offers_a_sync_and_follows_it(world):
    client = world.client_for(world.editor)
    pools = client.get(reverse("compute:pools", args=ARGS)).content.decode()
    assert "No cluster profiles synced yet." in pools and 'id="sync-profiles-now"' in pools
    assert re.search(r'id="create-bundle"\s+disabled', pools)

    response = client.post(reverse("compute:profiles_sync", args=ARGS), {"back": "wizard"})
    assert response["Location"] == reverse("compute:pool_wizard", args=[*ARGS, "bundle"])
    sync = ProfileSync.objects.get(project=world.project_a)
    assert sync.is_active
    step = client.get(response["Location"]).content.decode()
    assert "Syncing the cluster profiles from Palette" in step and "bundles/form/?for=wizard" in step
    fragment = client.get(reverse("compute:bundle_form", args=ARGS) + "?for=wizard", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()

    # The sync ends with a profile: the next poll answers the form listing it, and stops the polling.
    ClusterProfile.objects.create(
        project=world.project_a, uid="0a1b2c3d4e5f60718293a4b5", name="edge-k3s-infra", version="1.3.0",
        profile_type="infra", cloud_type="edge-native",
    )  # fmt: skip
    ProfileSync.objects.filter(pk=sync.pk).update(status="succeeded", finished=timezone.now())
    done = client.get(reverse("compute:bundle_form", args=ARGS) + "?for=wizard", HTTP_HX_REQUEST="true")
    body = done.content.decode()
    assert done.status_code == 286 and "edge-k3s-infra 1.3.0 (Infrastructure, edge-native)" in body
    assert reverse("compute:pool_wizard_bundle", args=ARGS) in body and "hx-get" not in body
    assert client.post(reverse("compute:profiles_sync", args=ARGS), {"back": "https://evil.example"})[
        "Location"
    ] == reverse("compute:profiles", args=ARGS)
    assert world.client_for(world.viewer).get(reverse("compute:bundle_form", args=ARGS)).status_code == 403
