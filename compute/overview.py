"""The "hosts" and "pools" readiness steps on tenant and project overviews."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Q
from django.template.defaultfilters import pluralize
from django.urls import reverse

from tenancy.models import Project

from .models import ComputePool, EdgeHost


def hosts_step(projects: list[Project]) -> dict[int, dict]:
    """Done when discovery found at least one eligible host."""
    counts = {
        row["project_id"]: row
        for row in EdgeHost.objects.filter(project__in=projects, gone=False)
        .values("project_id")
        .annotate(total=Count("pk"), eligible=Count("pk", filter=Q(eligible=True)))
    }
    result = {}
    for p in projects:
        row = counts.get(p.pk, {"total": 0, "eligible": 0})
        if row["total"] == 0:
            detail = "No edge hosts discovered yet: register hosts in Palette, tag them, and run discovery."
        else:
            detail = f"{row['eligible']} of {row['total']} host{pluralize(row['total'])} eligible."
        result[p.pk] = {
            "name": "Register and tag edge hosts",
            "done": row["eligible"] > 0,
            "detail": detail,
            "url": reverse("compute:inventory", args=[p.tenant.name, p.name]),
        }
    return result


def pools_step(projects: list[Project]) -> dict[int, dict]:
    """Done when the project has a Ready compute pool; the detail counts pools by state."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for project_id, status in (
        ComputePool.objects.filter(project__in=projects)
        .exclude(status=ComputePool.DELETED)
        .values_list("project_id", "status")
    ):
        counts[project_id][status] += 1
    labels = dict(ComputePool.STATUS_CHOICES)
    result = {}
    for p in projects:
        by_status = counts.get(p.pk, {})
        total = sum(by_status.values())
        if not total:
            detail = "No compute pool yet: create one from eligible hosts."
        else:
            parts = ", ".join(
                f"{n} {labels[s]}"
                for s, n in sorted(by_status.items(), key=lambda item: list(labels).index(item[0]))
            )
            detail = f"{total} pool{'s' if total != 1 else ''}: {parts}."
        result[p.pk] = {
            "name": "Create a Compute Pool",
            "done": by_status.get(ComputePool.READY, 0) > 0,
            "detail": detail,
            "url": reverse("compute:pools", args=[p.tenant.name, p.name]),
        }
    return result
