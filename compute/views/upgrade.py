"""A pool's profile upgrade page (what changes, the repave confirmation) and its Palette events (the fragment
the pool page refreshes, "Refresh events")."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.htmx import poll_response, redirect_after_post, render_page
from tenancy import access

from ..models import ComputePool
from ..provisioning import events
from ..provisioning.upgrade import (
    UpgradeRefused,
    plan_upgrade,
    read_missing,
    start_upgrade,
    with_pool_values,
)


def _pool(request, tenant, project, pool, need=access.READ):
    project, role = access.get_project_for_user(request.user, tenant, project, need=need)
    found = get_object_or_404(
        ComputePool.objects.select_related("project__tenant", "bundle"), uuid=pool, project=project
    )
    return project, role, found


def upgrade_offer(pool, role) -> bool:
    """Whether the pool page links to the upgrade page: a Ready pool whose bundle holds other versions."""
    if not access.allows(role, access.WRITE) or pool.status != pool.READY or pool.bundle is None:
        return False
    plan = plan_upgrade(pool)
    return bool(plan.changes)


@login_required
@require_http_methods(["GET", "POST"])
def pool_upgrade(request, tenant, project, pool):
    """GET: what upgrading the pool to its bundle's versions changes; POST: start it (editors and admins)."""
    project, role, pool = _pool(request, tenant, project, pool, need=access.WRITE)
    plan, error, errors = plan_upgrade(pool), "", {}
    if request.method == "POST":
        # A new required variable without a default: its field's value goes with the upgrade, stored like the
        # wizard's (masked ones encrypted, compute/variables.py), never rendered back.
        given, masked, errors = read_missing(plan, request.POST)
        values, kept = with_pool_values(pool, given)
        try:
            if errors:
                raise UpgradeRefused("Give every required variable a valid value (below).")
            with transaction.atomic():
                start_upgrade(
                    pool,
                    confirm_repave=request.POST.get("confirm_repave") == "on",
                    values=values or None,
                    masked=kept | masked,
                    request=request,
                )
        except UpgradeRefused as exc:
            error = str(exc)
        else:
            messages.success(request, f"Upgrading {pool.name}: the worker sends the new profile versions.")
            return redirect_after_post(request, pool.get_absolute_url())
    context = {
        "project": project,
        "tenant": project.tenant,
        "role": role,
        "pool": pool,
        "plan": plan,
        "error": error,
        "variable_fields": _fields(plan, request.POST if request.method == "POST" else {}, errors),
    }
    return render_page(request, "compute/pool_upgrade.html", context)


def _fields(plan, posted, errors: dict) -> list[dict]:
    """The fields of the new required variables (`plan.missing`); a masked value is never filled in again."""
    return [
        {
            "key": f"var-{i}",
            "profile": diff,
            "var": var,
            "value": "" if var.is_sensitive else posted.get(f"var-{i}", ""),
            "error": errors.get(f"var-{i}", ""),
        }
        for i, (diff, var) in enumerate(plan.missing)
    ]


def events_context(pool, role) -> dict:
    """The context templates/compute/pool_events.html needs (the pool page adds it to its own)."""
    return {
        "pool_events": events.view(pool),
        "can_refresh_events": access.allows(role, access.WRITE),
        "upgrade_offer": upgrade_offer(pool, role),
    }


@login_required
@require_GET
def pool_events(request, tenant, project, pool):
    """The events section alone (polled while a refresh is pending)."""
    project, role, pool = _pool(request, tenant, project, pool)
    context = {"project": project, "tenant": project.tenant, "pool": pool, **events_context(pool, role)}
    response = render_page(request, "compute/pool_events.html", context)
    return poll_response(response, not context["pool_events"]["pending"])


@login_required
@require_POST
def pool_events_refresh(request, tenant, project, pool):
    """Ask a worker to read a settled pool's events from Palette (no Palette call in this request)."""
    project, role, pool = _pool(request, tenant, project, pool, need=access.WRITE)
    if events.request_refresh(pool):
        messages.info(request, "Reading Palette's events; they appear here in a moment.")
    else:
        messages.error(
            request,
            f"Pool {pool.name} is {pool.get_status_display()}: its events refresh by themselves while it "
            "changes, and a pool without a cluster has none.",
        )
    return redirect_after_post(request, pool.get_absolute_url())
