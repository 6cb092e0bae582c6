"""Where a pool's cluster lives, and the Settings that no longer point there.

A pool records the Palette host, tenant and Palette project of its first create
(ComputePool.palette_host/palette_tenant/palette_project_uid); every later call for the pool goes
there, whatever the Settings say (compute.provisioning.context.Context.client). When the Settings
of its project or tenant change so that they name another Palette or Palette project, the pages and
`apply` say so, naming the pools (registered with core.state_warnings in ComputeConfig.ready()).
"""

from __future__ import annotations

from django.db.models import Q

from .models import ComputePool


def moved_pools(namespaces: set[str]) -> list[ComputePool]:
    """The live pools of the tenants or projects of `namespaces` whose recorded Palette project differs from
    what their Settings name now (another project UID, or another Palette host)."""
    from integrations.effective import resolve

    from .provisioning.context import normal_host

    tenants = [
        ns.removeprefix("tenant-") for ns in namespaces if ns.startswith("tenant-")
    ]  # Tenant.namespace
    pools = list(
        ComputePool.objects.filter(
            Q(project__namespace__in=namespaces) | Q(project__tenant__name__in=tenants)
        )
        .exclude(status=ComputePool.DELETED)
        .exclude(palette_project_uid="")
        .select_related("project__tenant")
        .order_by("namespace", "name")
    )
    now: dict[int, tuple[str, str]] = {}
    moved = []
    for pool in pools:
        if pool.project_id not in now:
            palette = resolve(pool.project).palette
            now[pool.project_id] = (
                (
                    normal_host(str(palette.value("hostUrl") or "")),
                    str(palette.value("defaultProjectID") or ""),
                )
                if palette is not None
                else ("", "")
            )
        if now[pool.project_id] != (normal_host(pool.palette_host), pool.palette_project_uid):
            moved.append(pool)
    return moved


def moved_pools_warnings(namespaces: set[str]) -> list[str]:
    """One message naming every pool whose cluster lives elsewhere than the Settings now point (or none)."""
    moved = moved_pools(namespaces)
    if not moved:
        return []
    named = ", ".join(
        f"{p.namespace}/{p.name} (Palette project {p.palette_project_uid} at {p.palette_host})" for p in moved
    )
    many = len(moved) > 1
    return [
        f"{len(moved)} compute pool{'s' if many else ''} keep{'' if many else 's'} "
        f"{'their' if many else 'its'} cluster in the Palette project {'they were' if many else 'it was'} "
        f"created in, not the one the Settings now name: {named}. They are still managed there; deleting "
        "them needs a key that reaches that project."
    ]
