"""The tenant's capacity summary: eligible hosts and GPUs by model per project, for the capacity chart and
table of the tenant overview."""

from __future__ import annotations

from collections import defaultdict

from tenancy.models import Project

from .models import EdgeHost


def capacity(projects: list[Project]) -> dict:
    """Eligible hosts and GPUs by model per project, for the tenant overview's chart."""
    by_project: dict[str, dict] = {p.name: {"hosts": 0, "gpus": defaultdict(int)} for p in projects}
    names = {p.pk: p.name for p in projects}
    rows = EdgeHost.objects.filter(project__in=projects, gone=False, eligible=True).values_list(
        "project_id", "gpus"
    )
    models: set[str] = set()
    for project_id, gpus in rows.iterator():
        entry = by_project[names[project_id]]
        entry["hosts"] += 1
        for g in gpus:
            model = g.get("model") or g.get("vendor") or "GPU"
            entry["gpus"][model] += int(g.get("count") or 1)
            models.add(model)
    labels = [p.name for p in projects]
    ordered = sorted(models)
    return {
        "labels": labels,
        "hosts": [by_project[n]["hosts"] for n in labels],
        "datasets": [
            {"label": m, "data": [by_project[n]["gpus"].get(m, 0) for n in labels]} for m in ordered
        ],
        "rows": [
            {
                "project": n,
                "hosts": by_project[n]["hosts"],
                "gpus": [by_project[n]["gpus"].get(m, 0) for m in ordered],
            }
            for n in labels
        ],
    }
