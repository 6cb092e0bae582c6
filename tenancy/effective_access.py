"""Who holds which role where, and why (README "Single sign-on"): from a Membership or from the groups of a
user's last single sign-on (GroupRole, OidcIdentity.groups).

Three readers: the page of one user's access (`user_access`), the page of one project's access
(`project_access`) and the audit log (`actor_via`, registered with core.audit in TenancyConfig.ready), which
records the provider's subject and the groups that granted the role used. Each makes a fixed number of
queries, whatever the number of users, groups or memberships.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import JSONField, Q, Subquery

from . import access
from .models import GroupRole, Membership, OidcIdentity, Project, Tenant

ROLE_LABELS = dict(Membership.ROLE_CHOICES)
# A role → what it allows (tenancy.access): the same ranking as access.project_role.
LEVELS = {
    Membership.TENANT_ADMIN: access.ADMIN,
    Membership.PROJECT_ADMIN: access.ADMIN,
    Membership.EDITOR: access.WRITE,
    Membership.VIEWER: access.READ,
}
_RANK = {access.READ: 1, access.WRITE: 2, access.ADMIN: 3}


def strongest(roles) -> str | None:
    """READ, WRITE or ADMIN: what the strongest of `roles` (Membership roles) allows; None for no role."""
    levels = [LEVELS[r] for r in roles if r in LEVELS]
    return max(levels, key=_RANK.__getitem__) if levels else None


@dataclass
class Held:
    """One role held in one tenant or project, and why: a membership, groups, or both."""

    role: str
    membership: bool = False
    groups: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


@dataclass
class Scope:
    """A tenant (project None) or a project, with the roles a user holds there (role → Held)."""

    tenant: Tenant
    project: Project | None
    held: dict[str, Held] = field(default_factory=dict)

    @property
    def roles(self) -> list[Held]:
        return sorted(self.held.values(), key=lambda h: h.role)

    def add(self, role: str, group: str | None = None) -> None:
        held = self.held.setdefault(role, Held(role))
        if group is None:
            held.membership = True
        elif group not in held.groups:
            held.groups.append(group)
            held.groups.sort()


@dataclass
class UserAccess:
    """Everything `user_access` found for one user."""

    user: object
    identity: dict | None  # subject, issuer, groups, last_login of the last single sign-on; None for local
    scopes: list[Scope]


def _identity(user) -> dict | None:
    return (
        OidcIdentity.objects.filter(user_id=user.pk)
        .values("subject", "issuer", "groups", "groups_claim_present", "last_login")
        .first()
    )


def user_access(user, tenant_ids: set[int] | None = None) -> UserAccess:
    """The roles `user` holds, per tenant and project, each with its membership and the groups granting it.

    `tenant_ids` limits the answer to those tenants (and their projects): what a tenant admin may see of
    another user. Three queries: the identity, the memberships, the group roles.
    """
    identity = _identity(user)
    groups = [g for g in (identity or {}).get("groups") or [] if isinstance(g, str)]
    where = Q()
    if tenant_ids is not None:
        where = Q(tenant_id__in=tenant_ids) | Q(project__tenant_id__in=tenant_ids)
    scopes: dict[tuple, Scope] = {}

    def scope_of(row) -> Scope:
        tenant = row.tenant or row.project.tenant
        key = (tenant.name, row.project.name if row.project else "")
        return scopes.setdefault(key, Scope(tenant, row.project))

    related = ("tenant", "project__tenant")
    for m in Membership.objects.filter(where, user_id=user.pk).select_related(*related):
        scope_of(m).add(m.role)
    if groups:
        for g in GroupRole.objects.filter(where, group__in=groups).select_related(*related):
            scope_of(g).add(g.role, g.group)
    return UserAccess(user, identity, [scopes[k] for k in sorted(scopes)])


@dataclass
class Person:
    """One user with access to a project: the roles held there or in its tenant, and why."""

    user_id: int
    username: str
    subject: str = ""
    project: Scope | None = None
    tenant: Scope | None = None

    @property
    def level(self) -> str | None:
        roles = [*(self.project.held if self.project else ()), *(self.tenant.held if self.tenant else ())]
        return strongest(roles)


@dataclass
class ProjectAccess:
    """Everything `project_access` found for one project."""

    project: Project
    people: list[Person]
    project_mappings: list[GroupRole]
    tenant_mappings: list[GroupRole]
    superusers: list[str]


def _oidc_users(groups: set[str]):
    """(user id, username, subject, groups) of active single sign-on users; on PostgreSQL only those sharing a
    group with `groups` (the `?|` operator matches array elements; SQLite's JSON lookups match keys only, so
    there every identity is read and the caller filters)."""
    rows = OidcIdentity.objects.filter(user__is_active=True)
    if connection.vendor == "postgresql":
        rows = rows.filter(groups__has_any_keys=sorted(groups))
    return rows.values_list("user_id", "user__username", "subject", "groups").iterator()


def project_access(project: Project) -> ProjectAccess:
    """Who has access to `project` and why: local members of the project and of its tenant, every single
    sign-on user whose groups (of the last login or session refresh) are mapped in the project or the
    tenant, and superusers.

    Four queries at most, whatever the number of users.
    """
    tenant = project.tenant
    people: dict[int, Person] = {}

    def person(user_id: int, username: str) -> Person:
        return people.setdefault(user_id, Person(user_id, username))

    def scope(p: Person, level_is_project: bool) -> Scope:
        if level_is_project:
            p.project = p.project or Scope(tenant, project)
            return p.project
        p.tenant = p.tenant or Scope(tenant, None)
        return p.tenant

    where = Q(project=project) | Q(tenant_id=tenant.pk)
    for m in Membership.objects.filter(where, user__is_active=True).select_related("user"):
        scope(person(m.user_id, m.user.get_username()), m.project_id is not None).add(m.role)
    mappings = list(GroupRole.objects.filter(where).order_by("role", "group"))
    by_group: dict[str, list[GroupRole]] = {}
    for g in mappings:
        by_group.setdefault(g.group, []).append(g)
    if by_group:
        for user_id, username, subject, groups in _oidc_users(set(by_group)):
            for group in groups if isinstance(groups, list) else []:
                for g in by_group.get(group, []) if isinstance(group, str) else []:
                    p = person(user_id, username)
                    p.subject = subject
                    scope(p, g.project_id is not None).add(g.role, g.group)
    superusers = list(
        get_user_model()
        .objects.filter(is_superuser=True, is_active=True)
        .order_by("username")
        .values_list("username", flat=True)
    )
    return ProjectAccess(
        project,
        sorted(people.values(), key=lambda p: p.username),
        [g for g in mappings if g.project_id],
        [g for g in mappings if g.tenant_id],
        superusers,
    )


def actor_via(user, tenant, obj) -> dict | None:
    """For the audit log (core.audit.register_actor_context): the provider's subject and the groups that give
    `user` a role where `obj` lives — `tenant`, and `obj`'s project if it has one. None for local accounts
    and superusers (whose role is not from groups).

    One query: the group roles of that tenant and project, each with the user's identity beside it.
    """
    if not getattr(user, "pk", None) or user.is_superuser or getattr(user, "_oidc_groups", None) == []:
        return None  # `_oidc_groups == []`: access.user_groups already found no single sign-on groups
    project_id = obj.pk if isinstance(obj, Project) else getattr(obj, "project_id", None)
    where = Q(tenant_id=tenant.pk)
    if project_id:
        where |= Q(project_id=project_id)
    identity = OidcIdentity.objects.filter(user_id=user.pk)
    rows = (
        GroupRole.objects.filter(where)
        .annotate(
            who=Subquery(identity.values("subject")[:1]),
            their_groups=Subquery(identity.values("groups")[:1], output_field=JSONField()),
        )
        .filter(who__isnull=False)
        .values_list("group", "who", "their_groups")
    )
    subject, granted = "", set()
    for group, who, their_groups in rows:
        subject = who
        if isinstance(their_groups, list) and group in their_groups:
            granted.add(group)
    if not granted:
        return None
    return {"subject": subject, "groups": sorted(granted)}
