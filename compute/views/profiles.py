"""The project's cluster profiles as last synced from Palette, and starting a profile sync."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.htmx import poll_response, redirect_after_post, render_page
from tenancy import access

from ..models import ClusterProfile, ProfileBundle, ProfileSync
from ..profiles import start_sync


@login_required
@require_GET
def profiles(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project)
    last = ProfileSync.objects.filter(project=project).order_by("-created").first()
    rows = ClusterProfile.objects.filter(project=project).order_by("name", "version")
    context = {
        "project": project,
        "tenant": project.tenant,
        "role": role,
        "profiles": rows,
        "last": last,
        "can_write": access.allows(role, access.WRITE),
        "has_bundles": ProfileBundle.objects.filter(project=project).exists(),
    }
    response = render_page(request, "compute/profiles.html", context, fragment="list")
    return poll_response(response, not (last and last.is_active)) if request.htmx else response


#: Where a sync started from a new-bundle form goes back to (the POST's `back`); the form there follows the
#: sync.
BACK = {"wizard": ("compute:pool_wizard", ("bundle",), ""), "pools": ("compute:pools", (), "#new-bundle")}


@login_required
@require_POST
def profiles_sync(request, tenant, project):
    """Start a profile sync (or join the running one); back to the profiles page, or to the new-bundle form
    it was started from."""
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.WRITE)
    with transaction.atomic():
        start_sync(project)
    name, extra, anchor = BACK.get(request.POST.get("back", ""), ("compute:profiles", (), ""))
    return redirect_after_post(
        request, reverse(name, args=[project.tenant.name, project.name, *extra]) + anchor
    )
