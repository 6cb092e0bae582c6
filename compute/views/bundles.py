"""The project's profile bundles, listed on the pools page: create one (the same BundleForm as the wizard's
bundle step), or delete one no pool uses."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core import audit
from core.htmx import poll_response, redirect_after_post, render_page
from core.models import AuditEntry
from tenancy import access

from ..bundles import pools_using
from ..forms.bundles import BundleForm
from ..models import ProfileBundle, ProfileSync
from .pools import pools_context, pools_page_url


@login_required
@require_POST
def bundle_create(request, tenant, project):
    """The same BundleForm as the wizard's bundle step; problems are shown in the form, nothing is lost."""
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.WRITE)
    form = BundleForm(request.POST, project=project)
    if not form.is_valid():
        return render_page(request, "compute/pools.html", pools_context(project, role, bundle_form=form))
    bundle = form.save(request)
    messages.success(request, f"Profile bundle {bundle.name} created.")
    return redirect_after_post(request, pools_page_url(project) + "#bundles")


@login_required
@require_POST
def bundle_delete(request, tenant, project, bundle):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.WRITE)
    bundle = get_object_or_404(ProfileBundle, uuid=bundle, project=project)
    with transaction.atomic():
        users = pools_using(bundle)
        if users:
            messages.error(
                request,
                f"Bundle {bundle.name} is used by compute pool{'s' if len(users) > 1 else ''} "
                f"{', '.join(p.name for p in users)}: delete {'them' if len(users) > 1 else 'it'} first.",
            )
        else:
            audit.record(request, AuditEntry.DELETE, bundle)
            bundle.delete()
            messages.success(request, f"Profile bundle {bundle.name} deleted.")
    return redirect_after_post(request, pools_page_url(project) + "#bundles")


@login_required
@require_GET
def bundle_form(request, tenant, project):
    """The new-bundle form alone, as the wizard's bundle step (`?for=wizard`) or the pools page shows it.

    The form polls it while a profile sync runs; the polling stops with the sync, the form then listing the
    synced profiles.
    """
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.WRITE)
    wizard = request.GET.get("for") == "wizard"
    action = reverse(
        "compute:pool_wizard_bundle" if wizard else "compute:bundle_create",
        args=[project.tenant.name, project.name],
    )
    sync = ProfileSync.objects.filter(project=project).order_by("-created").first()
    context = {
        "project": project,
        "tenant": project.tenant,
        "role": role,
        "bundle_form": BundleForm(project=project),
        "profile_sync": sync,
        "bundle_for": "wizard" if wizard else "pools",
        "action": action,
        "open": True,
    }
    return poll_response(
        render_page(request, "compute/bundle_form.html", context), not (sync and sync.is_active)
    )
