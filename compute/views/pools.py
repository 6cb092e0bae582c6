"""Compute Pool pages: the list (with the project's profile bundles, see compute.views.bundles), a simple
create form with the readiness report, the pool page with its live step timeline, and the retry / delete /
force delete actions."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import audit
from core.durations import human_duration
from core.htmx import poll_response, redirect_after_post, render_page
from core.models import AuditEntry
from tenancy import access

from .. import provisioning
from ..bundles import bundle_facts, pools_using
from ..forms.bundles import BundleForm
from ..forms.pools import PoolForm
from ..models import ClusterProfile, ComputePool, EdgeHost, ProfileBundle, ProfileSync
from ..readiness import CREATE_PATH, evaluate, gather
from ..spec import spec_of, ssh_key_label
from ..variables import rows as variable_rows
from .day2 import day2_context
from .upgrade import events_context
from .wizard import create_checked, pool_wizard


def _pool(request, tenant, project, pool, need=access.READ):
    project, role = access.get_project_for_user(request.user, tenant, project, need=need)
    return (
        project,
        role,
        get_object_or_404(
            ComputePool.objects.select_related("project__tenant", "bundle"), uuid=pool, project=project
        ),
    )


def _pool_action(request, tenant, project, pool, action):
    """The pool (its project writable by the user) and what `action(pool, request=request)` answered, run in
    one transaction."""
    project, role, pool = _pool(request, tenant, project, pool, need=access.WRITE)
    with transaction.atomic():
        outcome = action(pool, request=request)
    return pool, outcome


def pools_context(project, role, bundle_form: BundleForm | None = None, open_bundle: bool = False) -> dict:
    rows = ComputePool.objects.filter(project=project).select_related("bundle").order_by("name", "-created")
    active = [p for p in rows if p.status != ComputePool.DELETED]
    deleted = [p for p in rows if p.status == ComputePool.DELETED][:20]
    bundles = list(ProfileBundle.objects.filter(project=project).prefetch_related("pools"))
    profiles = {
        r.uid: r
        for r in ClusterProfile.objects.filter(
            project=project, uid__in={p.get("uid") for b in bundles for p in b.profiles}
        )
    }
    can_write = access.allows(role, access.WRITE)
    return {
        "project": project,
        "tenant": project.tenant,
        "role": role,
        "pools": active,
        "deleted": deleted,
        "bundles": [
            {"bundle": b, "profiles": bundle_facts(b, profiles), "used_by": pools_using(b)} for b in bundles
        ],
        "bundle_form": bundle_form or (BundleForm(project=project) if can_write else None),
        "bundle_open": bundle_form is not None or open_bundle,
        "profiles_synced": ClusterProfile.objects.filter(project=project).exists(),
        "profile_sync": ProfileSync.objects.filter(project=project).order_by("-created").first(),
        "can_write": can_write,
    }


def pools_page_url(project) -> str:
    return reverse("compute:pools", args=[project.tenant.name, project.name])


@login_required
@require_GET
def pools(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project)
    return render_page(
        request,
        "compute/pools.html",
        pools_context(project, role, open_bundle=bool(request.GET.get("new_bundle"))),
        fragment="summary" if request.GET.get("summary") else None,
    )


@login_required
@require_http_methods(["GET", "POST"])
def pool_create(request, tenant, project):
    """GET opens the wizard; a POST of every field at once (automation, the readiness check) stays
    supported."""
    if request.method == "GET":
        return pool_wizard(request, tenant, project, step="general")
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.WRITE)
    report = None
    form = PoolForm(request.POST, project=project)
    if form.is_valid():
        if "create" in request.POST:
            pool, report = create_checked(request, project, form)
            if pool is not None:
                return redirect_after_post(request, pool.get_absolute_url())
        else:
            report = evaluate(gather(project, form.spec))
    context = {
        "project": project,
        "tenant": project.tenant,
        "role": role,
        "form": form,
        "report": report,
        "request_json": json.dumps(report.request, indent=2) if report else "",
        "create_path": CREATE_PATH,
        "has_bundles": ProfileBundle.objects.filter(project=project).exists(),
    }
    return render_page(
        request, "compute/pool_form.html", context, fragment="report" if "check" in request.POST else None
    )


def _detail_context(pool: ComputePool, project, role) -> dict:
    hosts = {
        h.uid: h
        for h in EdgeHost.objects.filter(
            project=project, uid__in=[u for uids in pool.hosts.values() for u in uids]
        )
    }
    host_rows = [
        {"pool": name, "uid": uid, "host": hosts.get(uid)}
        for name, uids in pool.hosts.items()
        for uid in uids
    ]
    started = pool.started or pool.created
    end = (
        pool.ready_at
        if pool.status == ComputePool.READY
        else (pool.deleted_at if pool.status == ComputePool.DELETED else None)
    )
    failed_step = (
        pool.steps.filter(attempt=pool.attempt, status="failed").first()
        if pool.status in ComputePool.STOPPED
        else None
    )
    return {
        "project": project,
        "tenant": project.tenant,
        "role": role,
        "pool": pool,
        "timeline": provisioning.timeline(pool),
        "host_rows": host_rows,
        "elapsed": _elapsed(pool, human_duration((end or timezone.now()) - started)),
        "failed_step": failed_step,
        "force_available": provisioning.force_delete_available(pool),
        "can_write": role in (access.WRITE, access.ADMIN),
        "spec": spec_of(pool),
        "ssh_keys": [ssh_key_label(k) for k in pool.ssh_keys],
        "variable_rows": variable_rows(pool),  # masked values listed by name only, never shown
        "cp_groups": ", ".join(f"{k}={v}" if v else k for k, v in pool.cp_resource_groups.items()),
        "worker_groups": ", ".join(f"{k}={v}" if v else k for k, v in pool.worker_resource_groups.items()),
        "step_label": provisioning.STEP_LABELS.get(pool.step, "") if not pool.is_terminal else "",
        "can_download": access.allows(role, access.WRITE)
        and pool.status == ComputePool.READY
        and bool(pool.kubeconfig),
        "kubeconfig_name": kubeconfig_filename(pool),
        "day2": day2_context(pool, role),
        **events_context(pool, role),  # Palette's events, the upgrade offer (compute/pool_events.html)
    }


def _elapsed(pool: ComputePool, took: str) -> str:
    """`provisioned in 4 min`, `for 12 s`...: `took` counts from the start of the current attempt, which for a
    deletion is when the deletion began (ComputePool.started)."""
    if pool.status == ComputePool.READY:
        return f"provisioned in {took}"
    if pool.status == ComputePool.DELETED:
        return (
            f"deleted {timezone.localtime(pool.deleted_at):%Y-%m-%d %H:%M}" if pool.deleted_at else "deleted"
        )
    if pool.status in ComputePool.STOPPED:
        return f"after {took}"
    return f"for {took}"


@login_required
@require_GET
def pool_detail(request, tenant, project, pool):
    project, role, pool = _pool(request, tenant, project, pool)
    response = render_page(
        request, "compute/pool_detail.html", _detail_context(pool, project, role), fragment="timeline"
    )
    return poll_response(response, pool.is_terminal) if request.htmx else response


@login_required
@require_POST
def pool_retry(request, tenant, project, pool):
    pool, retried = _pool_action(request, tenant, project, pool, provisioning.retry_pool)
    if retried:
        messages.success(request, f"Retrying {pool.name} (attempt {pool.attempt}).")
    else:
        messages.error(
            request,
            f"Only a failed (or needs-attention) pool can be retried; {pool.name} is "
            f"{pool.get_status_display()} now.",
        )
    return redirect_after_post(request, pool.get_absolute_url())


@login_required
@require_POST
def pool_delete(request, tenant, project, pool):
    pool, outcome = _pool_action(request, tenant, project, pool, provisioning.request_delete)
    if outcome == "changed":
        # Lost a race with the running step: nothing was done; the page shows the pool as it is now, with its
        # buttons.
        messages.warning(request, f"The pool just became {pool.get_status_display()}: delete it now?")
    else:
        messages.info(
            request,
            {
                "started": "Deletion started.",
                "queued": "Deletion will start after the current step.",
                "already": "The pool is already being deleted.",
            }[outcome],
        )
    return redirect_after_post(request, pool.get_absolute_url())


@login_required
@require_POST
def pool_force_delete(request, tenant, project, pool):
    pool, outcome = _pool_action(request, tenant, project, pool, provisioning.request_force_delete)
    if outcome == "started":
        messages.warning(
            request, "Force delete sent: Palette skips graceful cleanup; check the hosts afterwards."
        )
    elif outcome == "already":
        messages.info(request, "Force delete was already requested.")
    elif outcome == "changed" and pool.status == ComputePool.DELETED:
        messages.info(request, "The pool was deleted meanwhile: there is nothing to force.")
    elif outcome == "changed":
        then = "force delete it now?" if provisioning.force_delete_available(pool) else "see the timeline."
        messages.warning(request, f"The deletion just became {pool.get_status_display()}: {then}")
    else:
        messages.error(
            request, "Force delete is offered only when a deletion has been stuck for a while, or failed."
        )
    return redirect_after_post(request, pool.get_absolute_url())


def kubeconfig_filename(pool: ComputePool) -> str:
    return f"{pool.name}-kubeconfig.yaml"


@login_required
@require_GET
def pool_kubeconfig(request, tenant, project, pool):
    """The Ready pool's stored kubeconfig as a download (editors and admins; viewers get 403), audited. Never
    rendered in a page: the answer is an attachment, not cached."""
    project, role, pool = _pool(request, tenant, project, pool, need=access.WRITE)
    if pool.status != ComputePool.READY or not pool.kubeconfig:
        messages.error(
            request,
            f"Pool {pool.name} is {pool.get_status_display()}: its kubeconfig can be downloaded once it is "
            "Ready.",
        )
        return redirect(pool.get_absolute_url())
    audit.record(
        request,
        AuditEntry.ACTION,
        pool,
        verb=f"kubeconfig downloaded ({pool.kubeconfig_kind or 'kubeconfig'})",
    )
    response = HttpResponse(pool.kubeconfig, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{kubeconfig_filename(pool)}"'
    response["Cache-Control"] = "no-store"
    return response
