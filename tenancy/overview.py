"""What the tenant and project overview pages show: projects, readiness steps, worker health.

Apps further down the import chain (integrations, compute) add their readiness steps with
`register_step`, so tenancy never imports them and the overview stays one place to look.
A step provider takes a list of projects and returns {project id: step}, so a tenant overview
costs a fixed number of queries however many projects it lists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone

from core.models import WorkerHeartbeat

from . import access
from .models import Project, Tenant

StepProvider = Callable[[list[Project]], dict[int, dict]]
_providers: list[tuple[int, StepProvider]] = []


def register_step(order: int, provider: StepProvider) -> None:
    """Add a readiness step; `order` places it (10 = Palette, 20 = hosts, 30 = pools)."""
    if all(p is not provider for _, p in _providers):
        _providers.append((order, provider))
        _providers.sort(key=lambda item: item[0])


def worker_status() -> dict:
    """When a background worker last answered a heartbeat, and whether that is recent enough."""
    last = (
        WorkerHeartbeat.objects.filter(status=WorkerHeartbeat.SUCCEEDED)
        .order_by("-finished")
        .values_list("finished", flat=True)
        .first()
    )
    healthy = bool(last and timezone.now() - last < timedelta(minutes=5))
    return {"last_heartbeat": last, "workers_healthy": healthy}


def readiness(projects: list[Project]) -> dict[int, list[dict]]:
    """Each project's path from empty to a running Compute Pool: [{name, done, detail, url}]."""
    steps: dict[int, list[dict]] = {p.pk: [] for p in projects}
    for _, provider in _providers:
        results = provider(projects)
        for p in projects:
            steps[p.pk].append(results[p.pk])
    return steps


def project_overview(project: Project) -> dict:
    return {"steps": readiness([project])[project.pk]}


def tenant_overview(user, tenant: Tenant) -> dict:
    projects = list(access.visible_projects(user).filter(tenant=tenant))
    steps = readiness(projects)
    rows = [{"project": p, "steps": steps[p.pk]} for p in projects]
    return {
        "project_rows": rows,
        "step_names": [s["name"] for s in rows[0]["steps"]] if rows else [],
        **worker_status(),
    }
