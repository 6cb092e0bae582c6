from __future__ import annotations

from django.urls import reverse

from compute.models import ClusterProfile, ProfileSync
from compute.profiles import sync_profiles


def test_it_syncs_every_edge_native_profile_version(world, connected_project, sim):
    run = sync_profiles(ProfileSync.objects.create(project=connected_project))
    assert run.status == "succeeded", run.first_error
    stored = list(ClusterProfile.objects.filter(project=connected_project))
    assert {p.profile_type for p in stored} == {"infra", "cluster", "add-on"}
    assert all(p.cloud_type in ("edge-native", "all") for p in stored)
    names = {p.name for p in stored}
    assert any(len([p for p in stored if p.name == n]) > 1 for n in names), "several versions of one profile"
    # A version that disappears from Palette is kept but marked absent.
    gone = stored[0]
    with sim.state.lock:
        del sim.state.profiles[gone.uid]
        sim.state.touch()
    assert sync_profiles(ProfileSync.objects.create(project=connected_project)).status == "succeeded"
    gone.refresh_from_db()
    assert not gone.present
    body = world.client_for(world.viewer).get(reverse("compute:profiles", args=["acme", "research"])).content.decode()
    assert "gone from Palette" in body and "Sync from Palette" not in body
    assert world.client_for(world.outsider).get(reverse("compute:profiles", args=["acme", "research"])).status_code == 404


def test_it_fails_without_palette(world):
    run = sync_profiles(ProfileSync.objects.create(project=world.project_a))
    assert run.status == "failed" and "No Palette integration" in run.first_error
