"""Day-2 changes from the pool page: scale a machine pool, replace a host (editors and admins; viewers get
403). The work is compute.provisioning.day2's; a change that cannot be made says what to fix, never a 500."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from core.htmx import redirect_after_post
from tenancy import access

from ..models import ComputePool, EdgeHost
from ..provisioning.day2 import DayTwoProblem, plan_replace, plan_scale, start_change
from ..spec import spec_of


def _pool(request, tenant, project, pool):
    """The pool, its project writable by the user (403 for viewers, 404 when not visible)."""
    project, _role = access.get_project_for_user(request.user, tenant, project, need=access.WRITE)
    return get_object_or_404(
        ComputePool.objects.select_related("project__tenant"), uuid=pool, project=project
    )


def day2_context(pool: ComputePool, role: str) -> dict:
    """What templates/compute/pool_day2.html shows: each machine pool with its count and hosts, and whether
    the forms are offered (a Ready pool, a user who may change it)."""
    spec = spec_of(pool)
    mine = {u for uids in pool.hosts.values() for u in uids}
    names = dict(EdgeHost.objects.filter(project=pool.project, uid__in=mine).values_list("uid", "name"))
    rows = [
        {
            "name": node.name,
            "label": "Control plane" if node.control_plane else f"Worker pool {node.name}",
            "control_plane": node.control_plane,
            "count": len(pool.hosts.get(node.name) or ()),
            "hosts": [{"uid": u, "name": names.get(u) or u} for u in pool.hosts.get(node.name) or ()],
        }
        for node in spec.machine_pools
    ]
    return {
        "machine_pools": rows,
        "can_change": access.allows(role, access.WRITE) and pool.status == ComputePool.READY,
        "last_change": pool.change or {},
    }


def _count(text: str):
    try:
        return int(text)
    except (TypeError, ValueError):
        return text


@login_required
@require_POST
def pool_scale(request, tenant, project, pool):
    pool = _pool(request, tenant, project, pool)
    machine_pool = request.POST.get("machine_pool", "")
    count = _count(request.POST.get("count", "").strip())
    remove = request.POST.getlist("remove")
    try:
        with transaction.atomic():
            change = start_change(
                pool, lambda p: plan_scale(p, machine_pool, count, remove), request=request, source="web"
            )
    except DayTwoProblem as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Scaling {change.summary()}.")
    return redirect_after_post(request, pool.get_absolute_url())


@login_required
@require_POST
def pool_replace(request, tenant, project, pool):
    pool = _pool(request, tenant, project, pool)
    old = request.POST.get("host", "").strip()
    new = request.POST.get("replacement", "").strip()
    try:
        with transaction.atomic():
            change = start_change(pool, lambda p: plan_replace(p, old, new), request=request, source="web")
    except DayTwoProblem as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Replacing a host: {change.summary()}.")
    return redirect_after_post(request, pool.get_absolute_url())
