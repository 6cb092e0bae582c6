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
    body = (
        world.client_for(world.viewer)
        .get(reverse("compute:profiles", args=["acme", "research"]))
        .content.decode()
    )
    assert "gone from Palette" in body and "Sync from Palette" not in body
    assert (
        world.client_for(world.outsider)
        .get(reverse("compute:profiles", args=["acme", "research"]))
        .status_code
        == 404
    )


def test_it_fails_without_palette(world):
    run = sync_profiles(ProfileSync.objects.create(project=world.project_a))
    assert run.status == "failed" and "No Palette integration" in run.first_error


def test_it_finds_an_older_version_that_only_the_newest_ones_versions_list_names(
    world, connected_project, sim
):
    """Palette's search lists the newest version of each name; an older one is found by its uid in
    versions[]."""
    from compute.bundles import check_profiles
    from integrations.effective import palette_client, working_palette
    from palette.sim.state import Profile

    with sim.state.lock:
        newest = next(
            p for p in sim.state.profiles.values() if p.name == "edge-k3s-infra" and p.version == "1.3.0"
        )
    older = sim.state.add_profile(
        Profile(
            uid="0b1d00000000000000000110",
            name="edge-k3s-infra",
            version="1.1.0",
            cloud_type="edge-native",
            type="infra",
            scope="tenant",
            project_uid="",
            packs=[dict(p) for p in newest.packs],
            created="2025-06-01T08:00:00.000Z",
            variables=[
                {
                    "name": "legacy_mode",
                    "displayName": "Legacy mode",
                    "format": "boolean",
                    "required": False,
                    "defaultValue": "false",
                }
            ],
        )
    )
    client = palette_client(working_palette(connected_project), name="test")
    try:
        listed = client.search_cluster_profiles(environments=("edge-native", "all"), name="edge-k3s-infra")
        assert [p.version for p in listed] == ["1.3.0"], "the search lists only the newest version"
        assert {v for _, v in listed[0].all_versions} == {"1.1.0", "1.2.0", "1.3.0"}
        assert client.find_cluster_profile_version("edge-k3s-infra", "1.1.0").uid == older.uid
        assert client.find_cluster_profile_version("edge-k3s-infra", "0.9.0") is None
    finally:
        client.close()

    # Before any sync, a bundle naming the older version is looked up in Palette, through versions[].
    assert not ClusterProfile.objects.filter(project=connected_project).exists()
    found, problems = check_profiles(connected_project, [{"name": "edge-k3s-infra", "version": "1.1.0"}])
    assert not problems, problems
    assert found[0].uid == older.uid and [v.name for v in found[0].variables] == ["legacy_mode"]
    _found, problems = check_profiles(connected_project, [{"name": "edge-k3s-infra", "version": "0.9.0"}])
    assert problems and "no cluster profile edge-k3s-infra version 0.9.0" in problems[0][1]

    # The sync records every version listed, each with its own variables.
    assert sync_profiles(ProfileSync.objects.create(project=connected_project)).status == "succeeded"
    rows = {
        p.version: p for p in ClusterProfile.objects.filter(project=connected_project, name="edge-k3s-infra")
    }
    assert set(rows) == {"1.1.0", "1.2.0", "1.3.0"} and rows["1.1.0"].uid == older.uid
    assert [v["name"] for v in rows["1.1.0"].variables] == ["legacy_mode"]
    assert [v["name"] for v in rows["1.2.0"].variables] == ["site"] and rows["1.2.0"].variables[0][
        "defaultValue"
    ] == "lab-a"
    found, problems = check_profiles(connected_project, [{"name": "edge-k3s-infra", "version": "1.1.0"}])
    assert not problems and found[0].uid == older.uid
