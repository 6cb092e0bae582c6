"""The "Connect Palette" readiness step on tenant and project overviews."""

from __future__ import annotations

from django.db.models import OuterRef, Q, Subquery
from django.urls import reverse

from tenancy.models import Project, Tenant

from .models import PaletteCheck, Settings


def _newest_outcome(owner: str) -> Subquery:
    """The outcome of the newest finished check of the row's tenant or project: one index probe per row,
    never a read of the whole history (PaletteCheck's (owner, -created) indexes)."""
    return Subquery(
        PaletteCheck.objects.filter(**{owner: OuterRef("pk")}, status__in=PaletteCheck.TERMINAL)
        .order_by("-created")
        .values("outcome")[:1]
    )


def palette_step(projects: list[Project]) -> dict[int, dict]:
    """Connected when the newest finished check of the project (or, failing that, its tenant) connected."""
    tenant_ids = {p.tenant_id for p in projects}
    with_settings = set(
        Settings.objects.filter(Q(project__in=projects) | Q(tenant_id__in=tenant_ids)).values_list(
            "project_id", "tenant_id"
        )
    )
    configured_projects = {p for p, _ in with_settings if p}
    configured_tenants = {t for _, t in with_settings if t}
    latest = {
        ("p", pk): outcome
        for pk, outcome in Project.objects.filter(pk__in=[p.pk for p in projects])
        .annotate(outcome=_newest_outcome("project"))
        .values_list("pk", "outcome")
    }
    latest.update(
        {
            ("t", pk): outcome
            for pk, outcome in Tenant.objects.filter(pk__in=tenant_ids)
            .annotate(outcome=_newest_outcome("tenant"))
            .values_list("pk", "outcome")
        }
    )
    result = {}
    for p in projects:
        configured = p.pk in configured_projects or p.tenant_id in configured_tenants
        outcome = latest.get(("p", p.pk)) or latest.get(("t", p.tenant_id))
        if not configured:
            detail = "Add a Palette integration to this project or its tenant."
        elif outcome == PaletteCheck.CONNECTED:
            detail = "Connected to Palette."
        elif outcome:
            detail = f"Last connection check: {outcome}. Open Settings to see which stage failed."
        else:
            detail = "Configured, never checked: run Test connection."
        result[p.pk] = {
            "name": "Connect Palette",
            "done": outcome == PaletteCheck.CONNECTED,
            "detail": detail,
            "url": reverse("integrations:project_settings", args=[p.tenant.name, p.name]),
        }
    return result
