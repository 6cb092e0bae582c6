"""Effective access pages (tenancy.effective_access): one user's roles and where they come from, and who has
access to one project and why."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.views.decorators.http import require_GET

from core.htmx import render_page

from . import access, effective_access


def _whose_access(request):
    """(user, tenant ids or None) of the access page asked for: the user themself by default; `?user=NAME`
    any user for superusers, a user of the tenants they administer for tenant admins (only those tenants'
    roles shown); anyone else, or a user with no role there, is a 404."""
    me = request.user
    username = request.GET.get("user", "")
    if not username or username == me.get_username():
        return me, None
    target = get_user_model().objects.filter(username=username[:150]).first()
    if target is None:
        raise Http404("No such user.")
    if me.is_superuser:
        return target, None
    admin_of, _ = access.administered(me)
    if not admin_of:
        raise Http404("No such user.")
    return target, admin_of


@login_required
@require_GET
def my_access(request):
    target, tenant_ids = _whose_access(request)
    found = effective_access.user_access(target, tenant_ids)
    if tenant_ids is not None and not found.scopes:
        raise Http404("No such user.")  # not in a tenant this admin administers: its existence stays hidden
    context = {
        "nav": "access",
        "target": target,
        "own": target.pk == request.user.pk,
        # Another user's full group list may name other tenants' groups: superusers and the user only.
        "show_identity": tenant_ids is None,
        "found": found,
    }
    return render_page(request, "tenancy/user_access.html", context)


@login_required
@require_GET
def project_access(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project)
    found = effective_access.project_access(project)
    context = {
        "project": project,
        "tenant": project.tenant,
        "role": role,
        "found": found,
        # A user's own access page is open to superusers and to admins of its tenant (_whose_access).
        "link_users": access.tenant_role(request.user, project.tenant) == access.ADMIN,
    }
    return render_page(request, "tenancy/project_access.html", context)
