"""Roles given to identity-provider groups (README "Single sign-on"), in PaletteAI's shape.

A tenant's `tenantRoleMapping` and a project's `roleMapping` map a role to the groups that hold it:

    tenantRoleMapping: {admin: [platform-team], viewer: [ml-readers]}
    roleMapping: {admin: [ml-leads], editor: [ml-engineers], viewer: [ml-readers]}

`tenancy.access` adds these roles to a user's Memberships using the groups of the user's last login or
session refresh.
"""

from __future__ import annotations

import re

from django.db import transaction

from .models import GroupRole, Membership, Project, Tenant

TENANT_KEYS = {"admin": Membership.TENANT_ADMIN, "viewer": Membership.VIEWER}
PROJECT_KEYS = {"admin": Membership.PROJECT_ADMIN, "editor": Membership.EDITOR, "viewer": Membership.VIEWER}
MAX_GROUP_LENGTH = 256
# Group names as providers send them: names, paths (/team/ml), DNs (cn=ml,ou=groups) or GUIDs (Entra ID).
GROUP_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")


def role_keys(owner: Tenant | Project) -> dict[str, str]:
    """The manifest keys of `owner`'s roles → Membership roles."""
    return TENANT_KEYS if isinstance(owner, Tenant) else PROJECT_KEYS


def group_problem(group: str) -> str | None:
    """Why `group` is not a usable group name, or None."""
    if not group.strip():
        return "a group name must not be blank."
    if group != group.strip():
        return "a group name must not start or end with spaces."
    if not GROUP_NAME.match(group):
        return f"a group name has 1 to {MAX_GROUP_LENGTH} characters and no control characters."
    return None


def current(owner: Tenant | Project) -> dict[str, list[str]]:
    """`owner`'s mapping as manifest keys → sorted groups (every key present)."""
    by_role = {role: key for key, role in role_keys(owner).items()}
    out: dict[str, list[str]] = {key: [] for key in role_keys(owner)}
    for group, role in owner.group_roles.values_list("group", "role"):
        if role in by_role:
            out[by_role[role]].append(group)
    return {key: sorted(groups) for key, groups in out.items()}


def describe(mapping: dict[str, list[str]]) -> str:
    """One line for the audit log: "admin: a, b; viewer: c" (empty roles left out)."""
    return "; ".join(f"{key}: {', '.join(groups)}" for key, groups in mapping.items() if groups) or "(none)"


def replace(owner: Tenant | Project, mapping: dict[str, list[str]]) -> bool:
    """Make `owner`'s group roles exactly `mapping` (manifest keys → groups); True when something changed."""
    keys = role_keys(owner)
    wanted = {(group, keys[key]) for key, groups in mapping.items() for group in groups}
    rows = {(g, r): pk for pk, g, r in owner.group_roles.values_list("pk", "group", "role")}
    missing = wanted - set(rows)
    extra = [pk for pair, pk in rows.items() if pair not in wanted]
    if not missing and not extra:
        return False
    field = "tenant" if isinstance(owner, Tenant) else "project"
    with transaction.atomic():
        GroupRole.objects.filter(pk__in=extra).delete()
        GroupRole.objects.bulk_create(
            GroupRole(**{field: owner}, group=g, role=r) for g, r in sorted(missing)
        )
    return True
