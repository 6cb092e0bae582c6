"""Cluster profiles: sync the Palette project's profile versions (edge-native and "all") with their variables,
list them per project.

Palette's profile search lists the newest version of each name, with every version's uid in ``versions[]``
(v1ClusterProfileVersion): each older version is read by its uid, so a bundle that names an older version
finds it. Every usable version's variables (``GET /v1/clusterprofiles/{uid}/variables``) are stored as Palette
lists them.
"""

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
    return start_once(ProfileSync, "compute.profile_sync", target={"project": project})


def sync_profiles(run: ProfileSync, **client_kwargs) -> ProfileSync:
    """Fetch every edge-native profile version of the project and upsert it; versions no longer listed become
    absent."""

    def work(client, palette):
        found = _fetch_versions(client)
        _store(run, found, _fetch_variables(client, found))

    client_kwargs.setdefault("lane", "bulk")  # a scan: interactive calls go first (palette.ratelimit)
    return run_with_palette(
        run, run.project, work, name=f"profiles {run.project}", what="The profile sync", **client_kwargs
    )


def _fetch_versions(client) -> dict:
    """uid → ClusterProfile for every version. Each version is its own object in Palette: a search lists the
    newest version with the uids of all versions, so the others are fetched by uid."""
    found = {}
    for profile in list(client.iter_cluster_profiles(environments=("edge-native", "all"))):
        found[profile.uid] = profile
        for uid, _version in profile.all_versions:
            if uid not in found:
                try:
                    found[uid] = client.get_cluster_profile(uid)
                except perrors.NotFound:
                    continue  # deleted between the listing and this read
    return found


def _fetch_variables(client, found: dict) -> dict[str, list[dict]]:
    """uid → the version's variables (v1Variable items as Palette lists them), for the versions a bundle may
    use."""
    out: dict[str, list[dict]] = {}
    for uid, profile in found.items():
        if profile.profile_type not in USABLE_TYPES:
            continue
        try:
            out[uid] = [v.raw for v in client.get_cluster_profile_variables(uid)]
        except perrors.NotFound:
            out[uid] = []  # deleted meanwhile: the next sync marks it absent
    return out


def _store(run: ProfileSync, found: dict, variables: dict[str, list[dict]] | None = None) -> None:
    variables = variables or {}
    project = run.project
    now = timezone.now()
    rows = [p for p in found.values() if p.profile_type in USABLE_TYPES]
    with transaction.atomic():
        existing = {c.uid: c for c in ClusterProfile.objects.filter(project=project)}
        creates, updates = [], []
        for p in rows:
            values = {
                "name": p.name,
                "version": p.version,
                "profile_type": p.profile_type,
                "cloud_type": p.cloud_type,
                "scope": p.scope,
                "clusters": sorted(c.name or c.uid for c in p.in_use_clusters),
                "present": True,
                "synced": now,
                "variables": variables.get(p.uid, []),
            }
            if p.uid in existing:
                obj = existing[p.uid]
                for k, v in values.items():
                    setattr(obj, k, v)
                updates.append(obj)
            else:
                creates.append(ClusterProfile(project=project, uid=p.uid, **values))
        ClusterProfile.objects.bulk_create(creates)
        ClusterProfile.objects.bulk_update(
            updates,
            [
                "name",
                "version",
                "profile_type",
                "cloud_type",
                "scope",
                "clusters",
                "present",
                "synced",
                "variables",
            ],
        )
        ClusterProfile.objects.filter(project=project).exclude(uid__in=[p.uid for p in rows]).update(
            present=False
        )
    run.set_progress(profiles=len(rows))
