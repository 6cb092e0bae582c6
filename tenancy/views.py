from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import audit
from core.htmx import redirect_after_post, render_page
from core.models import AuditEntry

from . import access, deletion, group_roles, overview
from .forms import GroupRolesForm, MembershipForm, ProjectForm, TenantForm
from .home import home_context
from .models import Membership, Tenant


def _save_posted(request, form, action: str):
    """On a POST with a valid form, save its object and the audit entry in one transaction and return the
    object; otherwise None (a GET, or the form shows its errors)."""
    if request.method != "POST" or not form.is_valid():
        return None
    with transaction.atomic():
        return audit.save_form(request, action, form)


@login_required
@require_GET
def home(request):
    """Every tenant and project the user sees, with its connection, hosts, pools and recent failures (see
    tenancy.home); an empty install leads to onboarding."""
    return render_page(request, "home.html", {"nav": "home", **home_context(request.user)})


@login_required
@require_GET
def tenant_list(request):
    tenants = access.visible_tenants(request.user).annotate(project_count=Count("projects", distinct=True))
    return render_page(request, "tenancy/tenant_list.html", {"tenants": tenants})


@login_required
@require_http_methods(["GET", "POST"])
def tenant_create(request):
    if not request.user.is_superuser:
        raise PermissionDenied("Only platform administrators create tenants.")
    form = TenantForm(request.POST or None, user=request.user)
    tenant = _save_posted(request, form, AuditEntry.CREATE)
    if tenant is not None:
        messages.success(request, form.created_message())
        return redirect_after_post(request, reverse("tenancy:tenant_detail", args=[tenant.name]))
    return render_page(request, "tenancy/tenant_form.html", {"form": form}, fragment="form")


def _tenant_context(user, tenant, role: str, group_form: GroupRolesForm) -> dict:
    """What the tenant page shows: the tenant, its overview, its members, its roles from groups and their
    form."""
    return {
        "tenant": tenant,
        "role": role,
        "group_roles": tenant.group_roles.all(),
        "group_form": group_form,
        "members": tenant.memberships.select_related("user").order_by("user__username"),
        **overview.tenant_overview(user, tenant),
    }


@login_required
@require_GET
def tenant_detail(request, tenant):
    tenant, role = access.get_tenant_for_user(request.user, tenant)
    context = _tenant_context(request.user, tenant, role, GroupRolesForm(owner=tenant))
    return render_page(request, "tenancy/tenant_detail.html", context)


def _save_group_roles(request, form: GroupRolesForm, field: str) -> bool:
    """On a valid form, make the owner's roles from groups what it lists and audit the change as the manifest
    path does (`field`: tenantRoleMapping or roleMapping); False when the form shows its errors."""
    if not form.is_valid():
        return False
    owner = form.owner
    with transaction.atomic():
        before = group_roles.current(owner)
        changed = group_roles.replace(owner, form.mapping)
        if changed:
            change = audit.change(group_roles.describe(before), group_roles.describe(form.mapping))
            audit.record(request, AuditEntry.UPDATE, owner, changes={field: change})
    kind = "Tenant" if isinstance(owner, Tenant) else "Project"
    if changed:
        messages.success(request, f"{kind} {owner.name}: roles from groups saved.")
    else:
        messages.info(request, f"{kind} {owner.name}: roles from groups unchanged.")
    return True


@login_required
@require_POST
def tenant_groups(request, tenant):
    tenant, role = access.get_tenant_for_user(request.user, tenant, need=access.ADMIN)
    form = GroupRolesForm(request.POST, owner=tenant)
    if _save_group_roles(request, form, "tenantRoleMapping"):
        return redirect_after_post(
            request, reverse("tenancy:tenant_detail", args=[tenant.name]) + "#group-roles"
        )
    context = _tenant_context(request.user, tenant, role, form)
    return render_page(request, "tenancy/tenant_detail.html", context, fragment="group_roles")


@login_required
@require_http_methods(["GET", "POST"])
def tenant_edit(request, tenant):
    tenant, role = access.get_tenant_for_user(request.user, tenant, need=access.ADMIN)
    form = TenantForm(request.POST or None, instance=tenant, user=request.user)
    if _save_posted(request, form, AuditEntry.UPDATE) is not None:
        messages.success(request, f"Tenant {tenant.name} saved.")
        return redirect_after_post(request, reverse("tenancy:tenant_detail", args=[tenant.name]))
    return render_page(request, "tenancy/tenant_form.html", {"form": form, "tenant": tenant}, fragment="form")


@login_required
@require_POST
def tenant_delete(request, tenant):
    tenant, role = access.get_tenant_for_user(request.user, tenant, need=access.ADMIN)
    if not request.user.is_superuser:
        raise PermissionDenied("Only platform administrators delete tenants.")
    try:
        deletion.delete(tenant, request=request)
    except deletion.DeletionRefused as refused:
        messages.error(request, refused.html())
        return redirect_after_post(request, reverse("tenancy:tenant_detail", args=[tenant.name]))
    messages.success(request, f"Tenant {tenant.name} deleted, with its projects, Settings and Secrets.")
    return redirect_after_post(request, reverse("tenancy:tenant_list"))


@login_required
@require_GET
def project_list(request):
    # Every visible project with its readiness (Palette, hosts, pools); "Compute" is compute.views.across.
    projects = list(access.visible_projects(request.user))
    steps = overview.readiness(projects)
    rows = [{"project": p, "steps": steps[p.pk]} for p in projects]
    step_names = [s["name"] for s in rows[0]["steps"]] if rows else []
    return render_page(
        request, "tenancy/project_list.html", {"rows": rows, "step_names": step_names}, fragment="rows"
    )


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request, tenant):
    tenant, role = access.get_tenant_for_user(request.user, tenant, need=access.ADMIN)
    form = ProjectForm(request.POST or None, tenant=tenant, user=request.user)
    project = _save_posted(request, form, AuditEntry.CREATE)
    if project is not None:
        messages.success(request, form.created_message())
        return redirect_after_post(
            request, reverse("tenancy:project_detail", args=[tenant.name, project.name])
        )
    return render_page(
        request, "tenancy/project_form.html", {"form": form, "tenant": tenant}, fragment="form"
    )


def _project_context(
    project, role: str, member_form: MembershipForm, group_form: GroupRolesForm | None = None
) -> dict:
    """What the project page shows: the project, its overview, its members and the form that adds one, its
    roles from groups and their form."""
    return {
        "project": project,
        "tenant": project.tenant,
        "role": role,
        "members": project.memberships.select_related("user").order_by("user__username"),
        "member_form": member_form,
        "group_roles": project.group_roles.all(),
        "group_form": group_form or GroupRolesForm(owner=project),
        **overview.project_overview(project),
    }


@login_required
@require_GET
def project_detail(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project)
    context = _project_context(project, role, MembershipForm(project=project))
    return render_page(request, "tenancy/project_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def project_edit(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.ADMIN)
    form = ProjectForm(request.POST or None, instance=project, tenant=project.tenant, user=request.user)
    if _save_posted(request, form, AuditEntry.UPDATE) is not None:
        messages.success(request, f"Project {project.name} saved.")
        return redirect_after_post(
            request, reverse("tenancy:project_detail", args=[project.tenant.name, project.name])
        )
    return render_page(
        request,
        "tenancy/project_form.html",
        {"form": form, "tenant": project.tenant, "project": project},
        fragment="form",
    )


@login_required
@require_POST
def project_delete(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.ADMIN)
    try:
        deletion.delete(project, request=request)
    except deletion.DeletionRefused as refused:
        messages.error(request, refused.html())
        detail = reverse("tenancy:project_detail", args=[project.tenant.name, project.name])
        return redirect_after_post(request, detail)
    messages.success(
        request, f"Project {project.name} deleted, with its Settings, Secrets and profile bundles."
    )
    return redirect_after_post(request, reverse("tenancy:tenant_detail", args=[project.tenant.name]))


@login_required
@require_POST
def project_groups(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.ADMIN)
    form = GroupRolesForm(request.POST, owner=project)
    if _save_group_roles(request, form, "roleMapping"):
        detail = reverse("tenancy:project_detail", args=[project.tenant.name, project.name])
        return redirect_after_post(request, detail + "#group-roles")
    context = _project_context(project, role, MembershipForm(project=project), form)
    return render_page(request, "tenancy/project_detail.html", context, fragment="group_roles")


@login_required
@require_POST
def member_add(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.ADMIN)
    form = MembershipForm(request.POST, project=project)
    if form.is_valid():
        with transaction.atomic():
            membership, created = Membership.objects.update_or_create(
                user=form.user, project=project, defaults={"role": form.cleaned_data["role"]}
            )
            audit.record(
                request,
                AuditEntry.CREATE if created else AuditEntry.UPDATE,
                membership,
                changes={"user": form.user.username, "role": membership.role},
            )
        messages.success(
            request, f"{form.user.username} is now {membership.get_role_display().lower()} of {project.name}."
        )
        return redirect_after_post(
            request, reverse("tenancy:project_detail", args=[project.tenant.name, project.name])
        )
    context = _project_context(project, role, form)
    return render_page(request, "tenancy/project_detail.html", context, fragment="members")


@login_required
@require_POST
def member_remove(request, tenant, project, membership):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.ADMIN)
    membership = get_object_or_404(Membership, uuid=membership, project=project)
    with transaction.atomic():
        audit.record(request, AuditEntry.DELETE, membership)
        membership.delete()
    messages.success(request, f"{membership.user.username} removed from {project.name}.")
    return redirect_after_post(
        request, reverse("tenancy:project_detail", args=[project.tenant.name, project.name])
    )
