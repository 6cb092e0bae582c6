"""Compute's part in deleting a tenant or project (tenancy.deletion): live pools refuse it; records and
bundles go.

Registered in ComputeConfig.ready(). A pool that is not Deleted still has (or may have) a Palette
cluster and reserved edge hosts: deleting its project would leave that cluster running with
nothing tracking it, so the pool has to be deleted first, through its own deletion policy.
"""

from __future__ import annotations

from typing import Any

from core import audit
from core.models import AuditEntry
from tenancy.deletion import Blocker, Owner
from tenancy.models import Tenant

from .models import ComputePool, ProfileBundle


def _pools_of(owner: Owner):
    where = {"project__tenant": owner} if isinstance(owner, Tenant) else {"project": owner}
    return ComputePool.objects.filter(**where).select_related("project__tenant")


def live_pools_blocker(owner: Owner) -> list[Blocker]:
    """The pools of `owner` that are not Deleted, each linked to its page, or nothing."""
    live = list(_pools_of(owner).exclude(status=ComputePool.DELETED).order_by("project__name", "name"))
    if not live:
        return []
    # A tenant's pools are named with their project's namespace, as manifests name them.
    prefix = (lambda pool: f"{pool.namespace}/") if isinstance(owner, Tenant) else (lambda pool: "")
    items = tuple(
        (f"{prefix(pool)}{pool.name} ({pool.get_status_display()})", pool.get_absolute_url()) for pool in live
    )
    many = len(live) > 1
    whose = "its projects have" if isinstance(owner, Tenant) else "it has"
    what = f"{whose} {len(live)} compute pool{'s' if many else ''} that {'are' if many else 'is'} not Deleted"
    return [
        Blocker(
            what,
            items,
            "delete each and wait until it shows Deleted (its Palette cluster follows the pool's "
            "deletion policy), then try again",
        )
    ]


def remove_pools_and_bundles(
    owner: Owner, *, request: Any = None, user: Any = None, source: str = "web"
) -> None:
    """Remove the records of the project's deleted pools (their steps go along), then its profile bundles;
    audited."""
    if isinstance(owner, Tenant):
        return  # pools and bundles belong to projects, which were deleted before their tenant
    for pool in _pools_of(owner).filter(status=ComputePool.DELETED):
        audit.record(
            request,
            AuditEntry.DELETE,
            pool,
            user=user,
            source=source,
            verb="removed the record of deleted pool",
        )
        pool.delete()
    for bundle in ProfileBundle.objects.filter(project=owner).select_related("project__tenant"):
        audit.record(request, AuditEntry.DELETE, bundle, user=user, source=source)
        bundle.delete()
