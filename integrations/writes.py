"""Every change to Settings and Secrets goes through here: web forms, the wizard and manifests.

Each function validates, writes in the caller's transaction, records an audit entry that never
holds a secret value, and schedules the Kubernetes sync once the transaction commits.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from core import audit
from core.models import AuditEntry
from core.tasks import enqueue_on_commit
from tenancy.models import Project, Tenant, owner_filter

from . import credentials
from .models import MANAGED_BY_LABEL, Secret, Settings


def _schedule_sync(secret_id: int) -> None:
    enqueue_on_commit("integrations.sync_secret", secret_id)


def _schedule_kube_delete(namespace: str, name: str) -> None:
    enqueue_on_commit("integrations.delete_kube_secret", namespace, name)


def _save_audited(
    obj: Secret | Settings, *, created: bool, request, user, source: str, changes: dict
) -> None:
    """Save a Secret or Settings and record its creation or update in the audit log."""
    obj.save()
    audit.record(
        request,
        AuditEntry.CREATE if created else AuditEntry.UPDATE,
        obj,
        user=user,
        source=source,
        changes=changes,
        tenant=obj.audit_tenant,
    )


def save_secret(
    owner: Tenant | Project,
    name: str,
    data: dict[str, str],
    *,
    request=None,
    user=None,
    source: str = "web",
    labels: dict | None = None,
) -> Secret:
    """Create or replace the Secret `name` in `owner`'s namespace with `data` (key → string)."""
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValidationError("Secret data must map string keys to string values.")
    secret = Secret.objects.filter(namespace=owner.namespace, name=name).first()
    created = secret is None
    if created:
        secret = Secret(name=name)
        secret.set_owner(owner)
    before = secret.get_data() if not created else {}
    secret.set_data(data)
    secret.labels = {**(labels or secret.labels or {}), MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1]}
    secret.full_clean(exclude=["data"])
    changed_keys = sorted(k for k in set(before) | set(data) if before.get(k) != data.get(k))
    if not created and not changed_keys and secret.labels == Secret.objects.get(pk=secret.pk).labels:
        return secret  # applying the same content twice changes nothing
    changes = {k: "(changed)" for k in changed_keys}
    _save_audited(secret, created=created, request=request, user=user, source=source, changes=changes)
    _schedule_sync(secret.pk)
    return secret


def delete_secret(secret: Secret, *, request=None, user=None, source: str = "web") -> None:
    users = [
        s
        for s in Settings.objects.filter(namespace=secret.namespace)
        if secret.name in (s.palette_secret, s.huggingface_secret, s.ngc_secret)
    ]
    if users:
        raise ValidationError(
            f"Secret {secret} is used by Settings {users[0]}; remove it from those Settings first."
        )
    audit.record(request, AuditEntry.DELETE, secret, user=user, source=source, tenant=secret.audit_tenant)
    _schedule_kube_delete(secret.namespace, secret.name)
    secret.delete()


def palette_credential(namespace: str, secret_name: str) -> tuple[str, str] | None:
    """(hostUrl, apiKey) of a Palette Secret, when it holds both; used for the uniqueness rule."""
    secret = Secret.objects.filter(namespace=namespace, name=secret_name).first()
    if secret is None:
        return None
    try:
        values = credentials.parse_palette_json(
            secret.get_data().get(credentials.PALETTE_KEY, "{}"), partial=True, allow_project_name=True
        )
    except credentials.CredentialError:
        return None
    if values.get("hostUrl") and values.get("apiKey"):
        return values["hostUrl"], values["apiKey"]
    return None


def check_credential_unique(settings: Settings, credential: tuple[str, str] | None) -> str:
    """Refuse a Palette credential (same host and API key) that already backs other Settings of the same
    tenant; return a warning naming the Settings of other tenants that share it ("" when none do).

    Within one tenant a second copy is refused: its projects inherit the tenant's integration, and a copy
    would go on using a key after the tenant rotated it. Across tenants sharing a key is the platform
    team's choice (one Palette account behind several tenants): it is saved, with a warning that a rotation
    or revocation of the key reaches every tenant that uses it (README, "Sharing a Palette API key").
    """
    if credential is None:
        return ""
    tenant = settings.audit_tenant
    elsewhere = []
    others = Settings.objects.exclude(pk=settings.pk).select_related("tenant", "project__tenant")
    for other in others.only("namespace", "name", "palette_secret", "tenant__name", "project__tenant__name"):
        if palette_credential(other.namespace, other.palette_secret) != credential:
            continue
        if other.audit_tenant.pk == tenant.pk:
            raise ValidationError(
                f"This Palette API key for {credential[0]} already backs Settings {other}. "
                "Use one tenant-level Settings and let projects inherit it, or create a separate API key."
            )
        elsewhere.append(f"{other} (tenant {other.audit_tenant.name})")
    return shared_key_warning(credential[0], elsewhere)


def shared_key_warning(host: str, elsewhere: list[str]) -> str:
    """The warning for a Palette API key that other tenants' Settings also use ("" when none do)."""
    if not elsewhere:
        return ""
    return (
        f"This Palette API key for {host} is also used by Settings {', '.join(sorted(elsewhere))}: "
        "rotating or revoking it in Palette affects every tenant that uses it."
    )


#: The fields of Settings whose changes the audit log records.
AUDITED_SETTINGS_FIELDS = (
    "palette_secret",
    "huggingface_secret",
    "ngc_secret",
    "allowed_project_ids",
    "palette_rate_limit",
)


def save_settings(
    owner: Tenant | Project,
    name: str,
    *,
    palette_secret: str,
    huggingface_secret: str = "",
    ngc_secret: str = "",
    allowed_project_ids: list[str] | None = None,
    palette_rate_limit: str | None = None,
    request=None,
    user=None,
    source: str = "web",
    check_credential: bool = True,
) -> Settings:
    """Create or update the Settings of `owner`. The name is immutable; every named Secret must exist.

    `check_credential=False` skips the shared-credential check (check_credential_unique), which decrypts
    every other Settings' Palette Secret: for a save that kept the host and key these Settings already had.
    After the check, `settings.shared_key_warning` names other tenants' Settings using the same key ("").

    `allowed_project_ids` (a tenant's only; None keeps the stored list) restricts the Palette projects
    the tenant's projects may use. `palette_rate_limit` (None keeps the stored one) is this Palette's own
    rate limit, in PALETTE_RATE_LIMIT's syntax (README, "Palette's rate limits").
    """
    existing = Settings.objects.filter(**owner_filter(owner)).first()
    if existing and existing.name != name:
        raise ValidationError(
            f"{owner} already has Settings {existing.name}; a Settings name cannot be changed."
        )
    settings = existing or Settings(name=name)
    settings.set_owner(owner)
    for secret_name in (palette_secret, huggingface_secret, ngc_secret):
        if secret_name and not Secret.objects.filter(namespace=owner.namespace, name=secret_name).exists():
            raise ValidationError(
                f"Secret {secret_name} does not exist in namespace {owner.namespace}; create it first."
            )
    if not palette_secret:
        raise ValidationError("A Palette integration is required: name its Secret.")
    if allowed_project_ids and isinstance(owner, Project):
        raise ValidationError(
            "Allowed Palette projects are set on the tenant's Settings, not on a project's."
        )
    before = {f: getattr(settings, f) for f in AUDITED_SETTINGS_FIELDS}
    settings.palette_secret, settings.huggingface_secret, settings.ngc_secret = (
        palette_secret,
        huggingface_secret,
        ngc_secret,
    )
    if allowed_project_ids is not None:
        for uid in allowed_project_ids:
            try:
                credentials.check_project_uid(uid)
            except credentials.CredentialError as exc:
                raise ValidationError(f"Allowed Palette projects: {exc}") from None
        settings.allowed_project_ids = sorted(set(allowed_project_ids))
    if palette_rate_limit is not None:
        settings.palette_rate_limit = palette_rate_limit.strip()
    settings.full_clean()
    settings.shared_key_warning = ""
    if check_credential or before["palette_secret"] != palette_secret:
        credential = palette_credential(owner.namespace, palette_secret)
        settings.shared_key_warning = check_credential_unique(settings, credential)
    changes = {
        f: audit.change(before[f], getattr(settings, f)) if existing else getattr(settings, f)
        for f in before
        if before[f] != getattr(settings, f)
    }
    if existing and not changes:
        return settings
    _save_audited(
        settings, created=existing is None, request=request, user=user, source=source, changes=changes
    )
    return settings


def delete_settings(settings: Settings, *, request=None, user=None, source: str = "web") -> None:
    audit.record(request, AuditEntry.DELETE, settings, user=user, source=source, tenant=settings.audit_tenant)
    settings.delete()
