"""The only way a view resolves a tenant or project for a user.

Rules: superusers see and change everything. A tenant is visible to its members and to members
of any of its projects; another tenant's object is a 404 (its existence is not revealed). Writing
needs a write role (tenant admin; project admin or editor); a read-only member gets 403.
Roles come from Memberships and from the groups of the user's last single sign-on (GroupRole, README
"Single sign-on"); the higher one counts. A GPU
limit is set from the level above (`may_set_gpu_limit`), so no admin raises their own ceiling.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from .models import GroupRole, Membership, Project, Tenant

READ, WRITE, ADMIN = "read", "write", "admin"


def user_groups(user) -> list[str]:
    """The identity-provider groups of the user's last login or session refresh (empty for local accounts);
    cached on `user`."""
    cached = getattr(user, "_oidc_groups", None)
    if cached is None:
        from .models import OidcIdentity

        found = OidcIdentity.objects.filter(user_id=user.pk).values_list("groups", flat=True).first() or []
        cached = [g for g in found if isinstance(g, str)]
        user._oidc_groups = cached
    return cached


def _member_q(user, prefix: str = "") -> Q:
    """Rows (tenants or projects, through `prefix`) where the user has a membership or a group role."""
    q = Q(**{f"{prefix}memberships__user": user})
    groups = user_groups(user)
    if groups:
        q |= Q(**{f"{prefix}group_roles__group__in": groups})
    return q


def visible_tenants(user) -> QuerySet[Tenant]:
    if user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(_member_q(user) | _member_q(user, "projects__")).distinct()


def visible_projects(user) -> QuerySet[Project]:
    qs = Project.objects.select_related("tenant")
    if user.is_superuser:
        return qs
    return qs.filter(_member_q(user) | _member_q(user, "tenant__")).distinct()


def administered(user) -> tuple[set[int], set[int]]:
    """(tenant ids, project ids) the user administers, by membership or group role: two queries, for lists
    that would otherwise ask tenant_role / project_role once per row (onboarding's pickers)."""
    groups = user_groups(user)
    tenants, projects = set(), set()
    for model in (Membership, GroupRole):
        who = Q(user=user) if model is Membership else Q(group__in=groups)
        if model is GroupRole and not groups:
            continue
        rows = model.objects.filter(
            who, role__in=[Membership.TENANT_ADMIN, Membership.PROJECT_ADMIN]
        ).values_list("tenant_id", "project_id")
        for tenant_id, project_id in rows:
            if tenant_id:
                tenants.add(tenant_id)
            else:
                projects.add(project_id)
    return tenants, projects


def tenant_role(user, tenant: Tenant) -> str | None:
    """READ, ADMIN or None for this user in this tenant (as a tenant member)."""
    if user.is_superuser:
        return ADMIN
    roles = tenant_roles(user, tenant)
    if Membership.TENANT_ADMIN in roles:
        return ADMIN
    return READ if roles else None


def tenant_roles(user, tenant: Tenant) -> set[str]:
    """The user's tenant roles (TENANT_ADMIN, VIEWER) in `tenant`: own membership and group roles."""
    roles = set(Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True))
    groups = user_groups(user)
    if groups:
        roles |= set(GroupRole.objects.filter(tenant=tenant, group__in=groups).values_list("role", flat=True))
    return roles


def project_role(user, project: Project) -> str | None:
    """READ, WRITE, ADMIN or None for this user in this project (tenant roles count)."""
    if user.is_superuser:
        return ADMIN
    where = Q(tenant_id=project.tenant_id) | Q(project=project)
    roles = set(Membership.objects.filter(Q(user=user) & where).values_list("role", flat=True))
    groups = user_groups(user)
    if groups:
        roles |= set(GroupRole.objects.filter(where, group__in=groups).values_list("role", flat=True))
    if roles & {Membership.TENANT_ADMIN, Membership.PROJECT_ADMIN}:
        return ADMIN
    if Membership.EDITOR in roles:
        return WRITE
    return READ if roles else None


def may_set_gpu_limit(user, obj: Tenant | Project) -> bool:
    """May `user` change this tenant's or project's GPU limit? Superusers a tenant's, the tenant's admins a
    project's.

    A tenant admin manages the tenant within its limit and a project admin the project within its
    own: the limit is the ceiling set for them, so neither may raise it.
    """
    if isinstance(obj, Tenant):
        return user.is_superuser
    return tenant_role(user, obj.tenant) == ADMIN


def gpu_limit_setter(obj: Tenant | Project) -> str:
    """Who sets `obj`'s GPU limit, for messages ("only ... changes it")."""
    if isinstance(obj, Tenant):
        return "a platform administrator (superuser)"
    return f"an admin of tenant {obj.tenant.name}"


_RANK = {None: 0, READ: 1, WRITE: 2, ADMIN: 3}


def allows(role: str | None, need: str) -> bool:
    """Does `role` (READ, WRITE, ADMIN or None) include what `need` asks for?"""
    return _RANK[role] >= _RANK[need]


def _require(role: str | None, need: str) -> None:
    if role is None:
        raise Http404("No such object.")
    if not allows(role, need):
        raise PermissionDenied("Your role does not allow this change.")


def get_tenant_for_user(user, name: str, need: str = READ) -> tuple[Tenant, str]:
    """The tenant called `name` and the user's role in it; 404 when not visible, 403 when the role is too
    low."""
    tenant = Tenant.objects.filter(name=name).first()
    if tenant is None:
        raise Http404("No such tenant.")
    role = tenant_role(user, tenant)
    if role is None and visible_projects(user).filter(tenant=tenant).exists():
        role = READ  # members of one of its projects may see the tenant itself
    _require(role, need)
    return tenant, role


def get_project_for_user(user, tenant_name: str, name: str, need: str = READ) -> tuple[Project, str]:
    """The project `tenant_name/name` and the user's role in it; 404 when not visible, 403 when too low."""
    project = Project.objects.select_related("tenant").filter(tenant__name=tenant_name, name=name).first()
    if project is None:
        raise Http404("No such project.")
    role = project_role(user, project)
    _require(role, need)
    return project, role


def audit_entries_for_user(user):
    """Audit entries a user may read: everything for superusers, their tenants' entries for tenant admins."""
    from core.models import AuditEntry

    if user.is_superuser:
        return AuditEntry.objects.all()
    admin_of = set(
        Membership.objects.filter(user=user, role=Membership.TENANT_ADMIN).values_list("tenant_id", flat=True)
    )
    groups = user_groups(user)
    if groups:
        admin_of |= set(
            GroupRole.objects.filter(
                role=Membership.TENANT_ADMIN, group__in=groups, tenant__isnull=False
            ).values_list("tenant_id", flat=True)
        )
    return AuditEntry.objects.filter(tenant_id__in=list(admin_of))
