"""The "Connect Palette" readiness step on tenant and project overviews, and the home page's connection and
failed-check columns (tenancy.home)."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone

from tenancy.home import FAILURE_WINDOW, item
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


CONNECTION_TEXT = {
    PaletteCheck.CONNECTED: ("Connected", "ok"),
    PaletteCheck.DEGRADED: ("Degraded", "warn"),
    PaletteCheck.FAILED_OUTCOME: ("Failed", "fail"),
}


def connection_column(tenants: list[Tenant], projects: list[Project]) -> dict:
    """Home column "Palette connection": the outcome of the newest finished connection check of each tenant
    with Settings and each project (its own check, else its tenant's), linking to its Settings page."""
    tenant_ids = {t.pk for t in tenants} | {p.tenant_id for p in projects}
    with_settings = set(
        Settings.objects.filter(Q(project__in=projects) | Q(tenant_id__in=tenant_ids)).values_list(
            "project_id", "tenant_id"
        )
    )
    configured = {("p", p) for p, _ in with_settings if p} | {("t", t) for _, t in with_settings if t}
    latest = dict(
        (("p", pk), outcome)
        for pk, outcome in Project.objects.filter(pk__in=[p.pk for p in projects])
        .annotate(outcome=_newest_outcome("project"))
        .values_list("pk", "outcome")
    )
    latest.update(
        (("t", pk), outcome)
        for pk, outcome in Tenant.objects.filter(pk__in=tenant_ids)
        .annotate(outcome=_newest_outcome("tenant"))
        .values_list("pk", "outcome")
    )
    cells = {}
    for t in tenants:
        url = reverse("integrations:tenant_settings", args=[t.name])
        cells[("t", t.pk)] = [_connection_item(("t", t.pk) in configured, latest.get(("t", t.pk)), url)]
    for p in projects:
        url = reverse("integrations:project_settings", args=[p.tenant.name, p.name])
        known = ("p", p.pk) in configured or ("t", p.tenant_id) in configured
        outcome = latest.get(("p", p.pk)) or latest.get(("t", p.tenant_id))
        cells[("p", p.pk)] = [_connection_item(known, outcome, url)]
    return cells


def _connection_item(configured: bool, outcome: str | None, url: str) -> dict:
    if not configured:
        return item("Not configured", url, "muted")
    if not outcome:
        return item("Never checked", url, "muted")
    text, tone = CONNECTION_TEXT.get(outcome, ("Failed", "fail"))
    return item(text, url, tone)


NOT_CONNECTED = (PaletteCheck.DEGRADED, PaletteCheck.FAILED_OUTCOME)


def check_failures_column(tenants: list[Tenant], projects: list[Project]) -> dict:
    """Home column "Recent failures": connection checks of the last 7 days that did not connect."""
    since = timezone.now() - FAILURE_WINDOW
    failed = (
        PaletteCheck.objects.filter(Q(project__in=projects) | Q(tenant__in=tenants), created__gte=since)
        .filter(Q(status=PaletteCheck.FAILED) | Q(outcome__in=NOT_CONNECTED))
        .values_list("tenant_id", "project_id")
        .annotate(n=Count("pk"))
    )
    counts = {("p", project_id) if project_id else ("t", tenant_id): n for tenant_id, project_id, n in failed}
    owners = [(("t", t.pk), [t.name]) for t in tenants]
    owners += [(("p", p.pk), [p.tenant.name, p.name]) for p in projects]
    cells = {}
    for key, args in owners:
        n = counts.get(key)
        if n:
            url = reverse(f"integrations:{'tenant' if key[0] == 't' else 'project'}_settings", args=args)
            cells[key] = [item(f"{n} failed connection check{'s' if n != 1 else ''}", url, "fail")]
    return cells
