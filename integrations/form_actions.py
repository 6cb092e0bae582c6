"""What the Palette and token forms submit, saved one way for the Settings page and the onboarding wizard.

Reads an owner's own integration state for the forms (decoded from its Secrets, never rendered
raw) and writes what a valid form holds through `writes`, which audits without secret values
and schedules the Kubernetes sync on commit. Callers wrap the writes in a transaction.
"""

from __future__ import annotations

import json

from core import audit
from core.models import AuditEntry
from tenancy import access
from tenancy.models import Project, Tenant

from . import credentials, diagnosis, effective, writes
from .forms import PaletteIntegrationForm
from .models import Secret

# kind → (Settings field, Secret key, field inside the key's JSON, label)
TOKEN_KINDS = {
    "huggingface": ("huggingface_secret", credentials.HUGGINGFACE_KEY, "token", "Hugging Face"),
    "ngc": ("ngc_secret", credentials.NGC_KEY, "apiKey", "NVIDIA NGC"),
}
SKIP_TLS_WARNING = (
    "Skipping TLS certificate verification makes the connection to Palette vulnerable to interception. "
    "Never use it in production: add Palette's CA certificate instead."
)


def own_state(owner: Tenant | Project, *, read_tokens: bool = True) -> dict:
    """The owner's own Settings and the decoded values of its own Secrets (never rendered raw).

    Returns {"own": Settings | None, "values": palette fields, "ca_secret": Secret | None,
    "tokens": kind → stored token}; with `read_tokens=False` the token Secrets are not read (nor decrypted)
    and "tokens" is empty: a Palette save does not need them.
    """
    own = effective.settings_for(owner)
    values, ca_secret, tokens = {}, None, {}
    if own:
        secret = Secret.objects.filter(namespace=own.namespace, name=own.palette_secret).first()
        if secret:
            try:
                values = credentials.parse_palette_json(
                    secret.get_data().get(credentials.PALETTE_KEY, "{}"),
                    partial=True,
                    allow_project_name=True,
                )
            except credentials.CredentialError:
                values = {}
        if values.get("tlsSecretRef"):
            ca_secret = Secret.objects.filter(namespace=own.namespace, name=values["tlsSecretRef"]).first()
        for kind, (field, key, inner, _) in TOKEN_KINDS.items() if read_tokens else ():
            name = getattr(own, field)
            token_secret = Secret.objects.filter(namespace=own.namespace, name=name).first() if name else None
            if token_secret:
                try:
                    tokens[kind] = json.loads(token_secret.get_data().get(key, "{}")).get(inner, "")
                except ValueError:
                    tokens[kind] = ""
    return {"own": own, "values": values, "ca_secret": ca_secret, "tokens": tokens}


def inherited_values(owner: Tenant | Project) -> dict | None:
    """The tenant's Palette values a project would inherit (None for a tenant or when the tenant has none)."""
    if not isinstance(owner, Project):
        return None
    if effective.settings_for(owner.tenant) is None:
        return None
    state = own_state(owner.tenant)
    return {k: v for k, v in state["values"].items() if k != "apiKey"}


def dependents(owner: Tenant | Project) -> list:
    """The owner and every project whose effective settings change with it (a tenant's projects all merge with
    it)."""
    if isinstance(owner, Project):
        return [owner]
    return [owner, *owner.projects.all()]


def palette_form(
    owner: Tenant | Project, state: dict, user, data=None, files=None, **kwargs
) -> PaletteIntegrationForm:
    """The Palette integration form of `owner` for `user`, unbound (prefilled from `state`) or bound to a
    POST."""
    tenant = owner.tenant if isinstance(owner, Project) else owner
    tenant_settings = effective.settings_for(tenant)
    form = PaletteIntegrationForm(
        data,
        files,
        owner=owner,
        current=state["values"],
        has_settings=state["own"] is not None,
        inherits=inherited_values(owner),
        has_ca=state["ca_secret"] is not None,
        tenant_admin=access.tenant_role(user, tenant) == access.ADMIN,
        allowed=tenant_settings.allowed_project_ids if tenant_settings else [],
        **kwargs,
    )
    if state["ca_secret"] is None:
        del form.fields["remove_ca"]  # nothing stored to remove
    if state["own"] is not None:
        form.initial.setdefault("palette_rate_limit", state["own"].palette_rate_limit)
    return form


def forget_rejected_ca(form: PaletteIntegrationForm) -> None:
    """Render a rejected CA text back, to be fixed rather than pasted again (a CA certificate is public),
    unless it holds a private key: that is never shown again (certificates.parse_ca_bundle refuses it)."""
    field = form.add_prefix("ca_pem")
    if form.is_bound and "ca_pem" in form.errors and "PRIVATE KEY" in form.data.get(field, ""):
        form.data = form.data.copy()
        form.data[field] = ""


def save_palette(request, owner: Tenant | Project, state: dict, form: PaletteIntegrationForm) -> bool:
    """Write the Palette (and CA) Secrets and the Settings of `owner` from a valid form; return whether a
    credential was rotated.

    Only the fields set at this level are stored, so a project's blank fields inherit the tenant's.
    Starts a connection check of the owner (of every dependent project too after a rotation).
    Raises ValidationError (e.g. the key already backs other Settings of the tenant); run it in a transaction.
    Sets `form.shared_key_warning` when other tenants' Settings use the same key (writes.shared_key_warning).
    Idempotent: saving the same values again rewrites nothing (writes skips unchanged Secrets).
    """
    own = state["own"]
    name = own.name if own else form.cleaned_data["settings_name"]
    palette_secret = own.palette_secret if own else f"{name}-palette"
    values = dict(form.values)
    ca_name = state["values"].get("tlsSecretRef") or f"{name}-ca"
    if form.ca_text:
        writes.save_secret(owner, ca_name, {credentials.CA_KEY: form.ca_text}, request=request)
        values["tlsSecretRef"] = ca_name
    elif state["ca_secret"] is not None and not form.cleaned_data.get("remove_ca"):
        values["tlsSecretRef"] = state["ca_secret"].name
    writes.save_secret(
        owner, palette_secret, {credentials.PALETTE_KEY: json.dumps(values, sort_keys=True)}, request=request
    )
    same_credential = bool(own) and all(
        values.get(k) == state["values"].get(k) for k in ("hostUrl", "apiKey")
    )
    saved = writes.save_settings(
        owner,
        name,
        palette_secret=palette_secret,
        huggingface_secret=own.huggingface_secret if own else "",
        ngc_secret=own.ngc_secret if own else "",
        allowed_project_ids=None if isinstance(owner, Project) else form.allowed,
        palette_rate_limit=form.cleaned_data.get("palette_rate_limit", "").strip(),
        request=request,
        check_credential=not same_credential,
    )
    form.shared_key_warning = saved.shared_key_warning
    if form.cleaned_data.get("remove_ca") and state["ca_secret"] is not None and not form.ca_text:
        writes.delete_secret(state["ca_secret"], request=request)
    was_skipping = bool(state["values"].get("skipSSLCertificateVerification"))
    if values.get("skipSSLCertificateVerification") and not was_skipping:
        audit.record(
            request,
            AuditEntry.ACTION,
            effective.settings_for(owner),
            verb="skip TLS verification on",
            changes={"warning": SKIP_TLS_WARNING},
        )
    rotated = bool(own) and (
        bool(form.cleaned_data.get("api_key"))
        and form.cleaned_data["api_key"] != state["values"].get("apiKey")
        or bool(form.ca_text)
        or bool(form.cleaned_data.get("remove_ca"))
    )
    for dependent in dependents(owner) if rotated else [owner]:
        diagnosis.start_check(dependent, trigger="rotation" if rotated else "saved")
    return rotated


def save_token(
    request, owner: Tenant | Project, state: dict, kind: str, *, token: str = "", remove: bool = False
) -> str:
    """Add, replace or remove the Hugging Face or NGC integration of `owner`; return the message to show.

    Needs the owner's own Settings (state["own"]): they carry the Palette integration, which is required.
    A blank `token` keeps the stored one. Run it in a transaction.
    """
    field, key, inner, label = TOKEN_KINDS[kind]
    own = state["own"]
    secret_name = getattr(own, field) or f"{own.name}-{kind}"
    kwargs = {"huggingface_secret": own.huggingface_secret, "ngc_secret": own.ngc_secret}
    if remove:
        kwargs[field] = ""
        writes.save_settings(owner, own.name, palette_secret=own.palette_secret, request=request, **kwargs)
        secret = Secret.objects.filter(namespace=own.namespace, name=secret_name).first()
        if secret:
            writes.delete_secret(secret, request=request)
        return f"{label} integration removed."
    token = token or state["tokens"].get(kind, "")
    writes.save_secret(owner, secret_name, {key: json.dumps({inner: token})}, request=request)
    kwargs[field] = secret_name
    writes.save_settings(owner, own.name, palette_secret=own.palette_secret, request=request, **kwargs)
    return f"{label} integration saved."


def project_choice_problem(owner: Tenant | Project, user, state: dict, uid: str) -> str:
    """Why `user` may not set `owner`'s defaultProjectID to `uid` (see credentials.project_choice_problem), or
    ""."""
    if not isinstance(owner, Project):
        return ""
    tenant_settings = effective.settings_for(owner.tenant)
    return credentials.project_choice_problem(
        uid,
        current=state["values"].get("defaultProjectID", ""),
        tenant_default=(inherited_values(owner) or {}).get("defaultProjectID", ""),
        allowed=tenant_settings.allowed_project_ids if tenant_settings else [],
        tenant_admin=access.tenant_role(user, owner.tenant) == access.ADMIN,
        own_key=credentials.own_connection(state["values"]),
    )


def use_project_uid(request, owner: Tenant | Project, state: dict, uid: str) -> None:
    """Replace a project name typed as defaultProjectID by the UID the diagnosis found (the most common
    mistake).

    Needs the owner's own Settings; run it in a transaction, then start a new check.
    """
    values = {
        **state["values"],
        "defaultProjectID": credentials.validate_fields({"defaultProjectID": uid})["defaultProjectID"],
    }
    writes.save_secret(
        owner,
        state["own"].palette_secret,
        {credentials.PALETTE_KEY: json.dumps(values, sort_keys=True)},
        request=request,
    )
