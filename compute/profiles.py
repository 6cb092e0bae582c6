"""Cluster profiles: sync the Palette project's profile versions (edge-native and "all"), list them per project."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.tasks import start_once
from integrations.effective import run_with_palette
from palette import errors as perrors
from tenancy.models import Project

from .models import ClusterProfile, ProfileSync

USABLE_TYPES = ("infra", "cluster", "add-on")


def start_sync(project: Project) -> ProfileSync:
    """A pending sync row (or the active one), enqueued on commit."""
    from .tasks import profile_sync_task

    return start_once(ProfileSync, profile_sync_task, target={"project": project})


def sync_profiles(run: ProfileSync, **client_kwargs) -> ProfileSync:
    """Fetch every edge-native profile version of the project and upsert it; versions no longer listed become absent."""
    def work(client, palette):
        _store(run, _fetch_versions(client))

    return run_with_palette(run, run.project, work, name=f"profiles {run.project}", what="The profile sync", **client_kwargs)


def _fetch_versions(client) -> dict:
    """uid → ClusterProfile for every version. Each version is its own object in Palette: a search lists the
    newest version with the uids of all versions, so the others are fetched by uid."""
    found = {}
    for profile in list(client.iter_cluster_profiles(environments=("edge-native", "all"))):
        found[profile.uid] = profile
        for uid, _version in profile.versions:
            if uid and uid not in found:
                try:
                    found[uid] = client.get_cluster_profile(uid)
                except perrors.NotFound:
                    continue  # deleted between the listing and this read
    return found


def _store(run: ProfileSync, found: dict) -> None:
    project = run.project
    now = timezone.now()
    rows = [p for p in found.values() if p.profile_type in USABLE_TYPES]
    with transaction.atomic():
        existing = {c.uid: c for c in ClusterProfile.objects.filter(project=project)}
        creates, updates = [], []
        for p in rows:
            values = {"name": p.name, "version": p.version, "profile_type": p.profile_type, "cloud_type": p.cloud_type,
                      "scope": p.scope, "clusters": sorted(c.name or c.uid for c in p.in_use_clusters), "present": True, "synced": now}
            if p.uid in existing:
                obj = existing[p.uid]
                for k, v in values.items():
                    setattr(obj, k, v)
                updates.append(obj)
            else:
                creates.append(ClusterProfile(project=project, uid=p.uid, **values))
        ClusterProfile.objects.bulk_create(creates)
        ClusterProfile.objects.bulk_update(updates, ["name", "version", "profile_type", "cloud_type", "scope", "clusters", "present", "synced"])
        ClusterProfile.objects.filter(project=project).exclude(uid__in=[p.uid for p in rows]).update(present=False)
    run.set_progress(profiles=len(rows))
