"""Settings, the Secrets behind them, and the stored results of connection checks.

Shapes follow PaletteAI: a Settings object in a tenant or project namespace names up to three
Secrets (Palette required; Hugging Face and NVIDIA NGC optional). A Palette Secret has key
`palette` holding JSON (apiKey, defaultProjectID, hostUrl, tenant,
skipSSLCertificateVerification, tlsSecretRef); a CA Secret has key `ca.crt`.
"""

from __future__ import annotations

import json
import uuid

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from core.fields import EncryptedTextField
from core.models import TaskRun, one_active_run_per
from palette import ratelimit
from tenancy.models import DNS1123_LABEL, Project, Tenant, scope_constraint

DNS1123_SUBDOMAIN = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    "Use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit "
    "(a DNS-1123 subdomain).",
)
MANAGED_BY_LABEL = ("app.kubernetes.io/managed-by", "paletteai-admin")


class OwnedByTenantOrProject:
    """For models with `tenant` and `project` foreign keys, exactly one of them set."""

    @property
    def owner(self) -> Tenant | Project:
        return self.project or self.tenant

    @property
    def audit_tenant(self) -> Tenant:
        return self.tenant or self.project.tenant


class Scoped(OwnedByTenantOrProject, models.Model):
    """Owned by exactly one tenant or one project; `namespace` is that owner's namespace."""

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    namespace = models.CharField(max_length=63, db_index=True)

    class Meta:
        abstract = True

    def set_owner(self, owner: Tenant | Project) -> None:
        if isinstance(owner, Project):
            self.project, self.tenant, self.namespace = owner, None, owner.namespace
        else:
            self.tenant, self.project, self.namespace = owner, None, owner.namespace


class Secret(Scoped):
    """An Opaque Secret in a tenant or project namespace, stored encrypted, mirrored to Kubernetes.

    The database is the source of truth; `kube_*` fields record the last sync with the cluster
    (resourceVersion for optimistic updates, the last error for the UI and retries).
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=253, validators=[DNS1123_SUBDOMAIN])
    data = EncryptedTextField(help_text="JSON object of key → string value, encrypted at rest.")
    labels = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    kube_resource_version = models.CharField(max_length=64, blank=True)
    kube_synced_at = models.DateTimeField(null=True, blank=True)
    kube_error = models.TextField(blank=True)

    class Meta:
        ordering = ["namespace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "name"], name="secret_unique_in_namespace"),
            scope_constraint("secret_tenant_xor_project"),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    def get_data(self) -> dict[str, str]:
        return json.loads(self.data) if self.data else {}

    def set_data(self, values: dict[str, str]) -> None:
        self.data = json.dumps(values, sort_keys=True)


def validate_rate_limit(value: str) -> None:
    """A rate limit in PALETTE_RATE_LIMIT's syntax (palette.ratelimit.parse_limits), or what to fix."""
    try:
        ratelimit.parse_limits(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class Settings(Scoped):
    """The integrations of one tenant or project: Palette (required), Hugging Face and NVIDIA NGC (optional).

    Each names a Secret in the same namespace. A project without Settings inherits its tenant's;
    with its own, the two merge (integrations.credentials.merge): the connection (host, key, TLS, CA)
    as one unit, the other fields one by one, the project's value winning.
    The name is immutable.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=63, validators=[DNS1123_LABEL])
    palette_secret = models.CharField(max_length=253, validators=[DNS1123_SUBDOMAIN])
    huggingface_secret = models.CharField(max_length=253, blank=True, validators=[DNS1123_SUBDOMAIN])
    ngc_secret = models.CharField(max_length=253, blank=True, validators=[DNS1123_SUBDOMAIN])
    # A tenant's Settings only: the Palette project UIDs its projects may choose as defaultProjectID
    # (besides the tenant's own); empty means any, but only a tenant admin may then choose another.
    allowed_project_ids = models.JSONField(default=list, blank=True)
    # This Palette's own rate limits (a self-hosted Palette without the SaaS limits, or with others), in
    # PALETTE_RATE_LIMIT's syntax; empty: the installation's. They apply where these Settings' host is used.
    palette_rate_limit = models.CharField(
        "Palette rate limit",
        max_length=200,
        blank=True,
        validators=[validate_rate_limit],
        help_text="Requests per second per endpoint family for this Palette: a number (0: no pacing) or "
        "/v1/family=rate pairs, e.g. /v1/dashboard=50,/v1/edgehosts=50. Empty: the installation's "
        "PALETTE_RATE_LIMIT (Palette's published limits by default).",
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "settings"
        ordering = ["namespace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "name"], name="settings_unique_in_namespace"),
            # A tenant or project references at most one Settings.
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(tenant__isnull=False), name="settings_one_per_tenant"
            ),
            models.UniqueConstraint(
                fields=["project"], condition=Q(project__isnull=False), name="settings_one_per_project"
            ),
            scope_constraint("settings_tenant_xor_project"),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class PaletteCheck(OwnedByTenantOrProject, TaskRun):
    """One staged connection diagnosis of the effective Palette integration of a tenant or project.

    `stages` is a list of {name, passed, detail} filled in as the check runs; `outcome` drives
    the status badge: connected (all passed), degraded (connected but a later stage failed, e.g.
    the project or edge host search), failed (cannot reach or authenticate).
    """

    CONNECTED, DEGRADED, FAILED_OUTCOME = "connected", "degraded", "failed"
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    stages = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=16, blank=True)
    trigger = models.CharField(
        max_length=32, default="manual", help_text="manual, schedule, rotation, wizard or cli"
    )

    class Meta(TaskRun.Meta):
        constraints = [
            scope_constraint("palettecheck_tenant_xor_project"),
            one_active_run_per("tenant", name="palettecheck_one_active_per_tenant"),
            one_active_run_per("project", name="palettecheck_one_active_per_project"),
        ]
        indexes = [models.Index(fields=["project", "-created"]), models.Index(fields=["tenant", "-created"])]


class OnboardingSession(models.Model):
    """One user's way through the onboarding wizard, so it survives reloads, the back button and breaks.

    Steps, in order: tenant → project → palette → check → tokens → discovery → summary
    (integrations.onboarding.STEPS). `completed_steps` lists the steps done; a step can be opened
    once every step before it is done, and changing an earlier answer (another tenant or project,
    new credentials) drops the later steps that depended on it. `palette_check` is the connection
    check the wizard follows; `skipped_check` records that the admin went on without a passing check,
    having acknowledged the warning. `results` holds what the summary shows (where credentials were
    stored, the discovery outcome). Holds references and choices only, never a secret value:
    credentials go straight into encrypted Secrets. Finished sessions are kept as a record.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    current_step = models.CharField(max_length=16, default="tenant")
    completed_steps = models.JSONField(default=list, blank=True)
    palette_scope = models.CharField(
        max_length=8, blank=True, help_text="Where the wizard stored the credentials: tenant or project."
    )
    palette_check = models.ForeignKey(
        PaletteCheck, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    skipped_check = models.BooleanField(default=False)
    results = models.JSONField(default=dict, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated"]
        indexes = [models.Index(fields=["user", "-updated"])]

    def __str__(self) -> str:
        where = f"{self.tenant or '?'}/{self.project.name if self.project else '?'}"
        return f"onboarding {where} by {self.user} at {self.current_step}"

    @property
    def audit_tenant(self) -> Tenant | None:
        return self.tenant
