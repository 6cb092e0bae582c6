"""What the tenant and project overview pages show: projects, readiness steps, worker health.

Later capabilities (integrations, discovery, compute pools) add their facts here, so the
overview stays one place to look.
"""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from core.models import WorkerHeartbeat

from . import access
from .models import Project, Tenant


def worker_status() -> dict:
    """When a background worker last answered a heartbeat, and whether that is recent enough."""
    last = WorkerHeartbeat.objects.filter(status=WorkerHeartbeat.SUCCEEDED).order_by("-finished").values_list("finished", flat=True).first()
    healthy = bool(last and timezone.now() - last < timedelta(minutes=5))
    return {"last_heartbeat": last, "workers_healthy": healthy}


def readiness_steps(project: Project) -> list[dict]:
    """The path from an empty project to a running Compute Pool, each step with its state."""
    return [
        {"name": "Connect Palette", "done": False, "detail": "Add Settings with a Palette integration to this project or its tenant."},
        {"name": "Register and tag edge hosts", "done": False, "detail": "Hosts tagged palette.ai=true, ready and healthy, appear after discovery."},
        {"name": "Create a Compute Pool", "done": False, "detail": "Build an edge-native cluster from eligible hosts."},
    ]


def project_overview(project: Project) -> dict:
    return {"steps": readiness_steps(project)}


def tenant_overview(user, tenant: Tenant) -> dict:
    projects = list(access.visible_projects(user).filter(tenant=tenant))
    rows = [{"project": p, "steps": readiness_steps(p)} for p in projects]
    return {"project_rows": rows, **worker_status()}
