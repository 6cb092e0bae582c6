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


# When this web process started. A worker answers its first heartbeat within HEARTBEAT_INTERVAL (60 s) of
# starting, so for WORKER_GRACE after a (re)start no answer is expected yet: the pages say "waiting for the
# first worker" rather than warn (README, "Background workers").
STARTED = timezone.now()
WORKER_GRACE = timedelta(minutes=3)
WORKER_STALE = timedelta(minutes=5)


def worker_status() -> dict:
    """When a background worker last answered a heartbeat, and whether that is recent enough.

    {"last_heartbeat", "workers_healthy", "workers_waiting"}: waiting means no recent answer yet, but
    this process started less than WORKER_GRACE ago (a worker started with it may still be booting).
    """
    last = (
        WorkerHeartbeat.objects.filter(status=WorkerHeartbeat.SUCCEEDED)
        .order_by("-finished")
        .values_list("finished", flat=True)
        .first()
    )
    now = timezone.now()
    healthy = bool(last and now - last < WORKER_STALE)
    waiting = not healthy and now - STARTED < WORKER_GRACE
    return {"last_heartbeat": last, "workers_healthy": healthy, "workers_waiting": waiting}


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
