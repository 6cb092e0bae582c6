"""Tenants, projects and who may do what in them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from core.fields import EncryptedTextField

DNS1123_LABEL = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "Use lowercase letters, digits and '-', starting and ending with a letter or digit (a DNS-1123 label).",
)
TENANT_NAMESPACE_PREFIX = "tenant-"
RESERVED_NAMESPACES = ("mural-system", "default", "kube-system", "kube-public", "kube-node-lease")


def validate_namespace(value: str) -> None:
    """A project namespace PaletteAI may own: a DNS-1123 label, not a system namespace, not a tenant's.

    `tenant-<name>` is every tenant's own namespace (also of tenants created later): a project there
    would put its Secrets beside another tenant's.
    """
    if value in RESERVED_NAMESPACES or value.startswith("kube-"):
        raise ValidationError(f"Namespace {value!r} is reserved for the system; choose another name.")
    if value.startswith(TENANT_NAMESPACE_PREFIX):
        tenant = value[len(TENANT_NAMESPACE_PREFIX) :]
        raise ValidationError(
            f"{value} is tenant {tenant}'s namespace; a project needs its own. Namespaces "
            f"{TENANT_NAMESPACE_PREFIX}<name> are reserved for tenants, also for those created later."
        )


class Tenant(models.Model):
    """A top-level organisation. Owns the Kubernetes namespace `tenant-<name>` and a GPU limit.

    The name is immutable once created: it is the namespace's name and appears in URLs.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(
        max_length=56,
        unique=True,
        validators=[DNS1123_LABEL],
        help_text="DNS-1123 label; the namespace will be tenant-<name>. Cannot be changed later.",
    )
    display_name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    gpu_limit = models.PositiveIntegerField(
        "GPU limit",
        default=0,
        validators=[MaxValueValidator(100000)],
        help_text="Maximum GPUs across the tenant's projects; 0 means no limit.",
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def namespace(self) -> str:
        return f"tenant-{self.name}"

    @property
    def audit_tenant(self) -> Tenant:
        return self


class Project(models.Model):
    """A team workspace inside a tenant, with its own namespace (unique across the install) and GPU limit."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(
        max_length=63, validators=[DNS1123_LABEL], help_text="DNS-1123 label. Cannot be changed later."
    )
    display_name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    namespace = models.CharField(
        max_length=63,
        unique=True,
        validators=[DNS1123_LABEL, validate_namespace],
        help_text="Kubernetes namespace of the project; unique across the install. Cannot be changed later.",
    )
    gpu_limit = models.PositiveIntegerField(
        "GPU limit",
        default=0,
        validators=[MaxValueValidator(100000)],
        help_text="Maximum GPUs for this project; 0 means no limit.",
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="project_name_unique_in_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.tenant.name}/{self.name}"

    @property
    def audit_tenant(self) -> Tenant:
        return self.tenant

    def clean(self) -> None:
        if self.namespace and self.tenant_id and self.namespace == f"tenant-{self.tenant.name}":
            raise ValidationError(
                {"namespace": "This is the tenant's own namespace; a project needs its own."}
            )


def scope_constraint(name: str) -> models.CheckConstraint:
    """A row belongs to a tenant or to a project, never both or neither."""
    return models.CheckConstraint(
        condition=Q(tenant__isnull=False, project__isnull=True)
        | Q(tenant__isnull=True, project__isnull=False),
        name=name,
    )


def role_constraints(prefix: str) -> list[models.CheckConstraint]:
    """A role held in a tenant or a project (Membership, GroupRole): one scope, a role that exists there."""
    return [
        scope_constraint(f"{prefix}_tenant_xor_project"),
        models.CheckConstraint(
            condition=Q(tenant__isnull=True) | Q(role__in=["tenant_admin", "viewer"]),
            name=f"{prefix}_tenant_roles",
        ),
        models.CheckConstraint(
            condition=Q(project__isnull=True) | Q(role__in=["project_admin", "editor", "viewer"]),
            name=f"{prefix}_project_roles",
        ),
    ]


class Membership(models.Model):
    """A user's role in a tenant (tenant admin or viewer) or in a project (admin, editor or viewer).

    Tenant admins manage the whole tenant; a tenant viewer reads all of it. Project admins and
    editors change the project's objects; viewers only read.
    """

    TENANT_ADMIN = "tenant_admin"
    PROJECT_ADMIN = "project_admin"
    EDITOR = "editor"
    VIEWER = "viewer"
    ROLE_CHOICES = [
        (TENANT_ADMIN, "Tenant admin"),
        (PROJECT_ADMIN, "Project admin"),
        (EDITOR, "Editor"),
        (VIEWER, "Viewer"),
    ]
    WRITE_ROLES = (TENANT_ADMIN, PROJECT_ADMIN, EDITOR)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=ROLE_CHOICES)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            *role_constraints("membership"),
            models.UniqueConstraint(
                fields=["user", "tenant"], condition=Q(tenant__isnull=False), name="membership_one_per_tenant"
            ),
            models.UniqueConstraint(
                fields=["user", "project"],
                condition=Q(project__isnull=False),
                name="membership_one_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.get_role_display()} of {self.tenant or self.project}"

    @property
    def audit_tenant(self) -> Tenant:
        return self.tenant or self.project.tenant


def owner_for_namespace(namespace: str) -> Tenant | Project | None:
    """The tenant (`tenant-<name>`) or project that owns a Kubernetes namespace now, or None."""
    if namespace.startswith(TENANT_NAMESPACE_PREFIX):
        tenant = Tenant.objects.filter(name=namespace[len(TENANT_NAMESPACE_PREFIX) :]).first()
        if tenant is not None:
            return tenant
    return Project.objects.select_related("tenant").filter(namespace=namespace).first()


def owner_filter(owner: Tenant | Project) -> dict[str, Tenant | Project]:
    """The filter for rows owned by `owner`: ``{"project": owner}`` or ``{"tenant": owner}``."""
    return {"project": owner} if isinstance(owner, Project) else {"tenant": owner}


class GroupRole(models.Model):
    """A role given to everyone in an identity-provider group, in a tenant or a project (README "Single
    sign-on").

    The PaletteAI shape: a tenant's `tenantRoleMapping` (tenant admin or viewer), a project's `roleMapping`
    (project admin, editor or viewer). Who is in a group is read from the ID token at each login
    (`OidcIdentity.groups`), so a group removed at the provider takes the role away at the next login or
    session refresh (OIDC_REFRESH_INTERVAL).
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="group_roles"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="group_roles"
    )
    group = models.CharField(max_length=256)
    role = models.CharField(max_length=16, choices=Membership.ROLE_CHOICES)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["role", "group"]
        constraints = [
            *role_constraints("group_role"),
            models.UniqueConstraint(
                fields=["tenant", "group", "role"],
                condition=Q(tenant__isnull=False),
                name="group_role_tenant",
            ),
            models.UniqueConstraint(
                fields=["project", "group", "role"],
                condition=Q(project__isnull=False),
                name="group_role_project",
            ),
        ]

    def __str__(self) -> str:
        return f"group {self.group} {self.get_role_display()} of {self.tenant or self.project}"

    @property
    def audit_tenant(self) -> Tenant:
        return self.tenant or self.project.tenant


class OidcIdentity(models.Model):
    """The identity-provider account behind a user (issuer + subject), with the groups of its last login or
    session refresh (tenancy.oidc_session)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identity"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    groups = models.JSONField(default=list, blank=True)
    groups_claim_present = models.BooleanField(default=True)
    last_login = models.DateTimeField(null=True, blank=True)
    # The provider's refresh token (encrypted) and when the groups were last read from the provider: at
    # login or by tenancy.oidc.refresh_groups (README "Single sign-on": OIDC_REFRESH_INTERVAL).
    refresh_token = EncryptedTextField(blank=True, default="")
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_unique")]

    def __str__(self) -> str:
        return f"{self.user} ({self.issuer})"
