from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import audit
from core.htmx import poll_response, redirect_after_post, render_page
from core.models import AuditEntry
from tenancy import access
from tenancy.models import Project

from . import configure, credentials, diagnosis, effective
from .forms import PaletteIntegrationForm, TokenForm, format_problem, online_checks_note
from .models import PaletteCheck, Secret, Settings

TOKEN_KINDS = {"huggingface": ("huggingface_secret", credentials.HUGGINGFACE_KEY, "token", "Hugging Face"),
               "ngc": ("ngc_secret", credentials.NGC_KEY, "apiKey", "NVIDIA NGC")}
SKIP_TLS_WARNING = ("Skipping TLS certificate verification makes the connection to Palette vulnerable to interception. "
                    "Never use it in production: add Palette's CA certificate instead.")


def _owner(request, tenant: str, project: str | None, need: str = access.READ):
    if project:
        return access.get_project_for_user(request.user, tenant, project, need=need)
    return access.get_tenant_for_user(request.user, tenant, need=need)


def settings_url(owner) -> str:
    if isinstance(owner, Project):
        return reverse("integrations:project_settings", args=[owner.tenant.name, owner.name])
    return reverse("integrations:tenant_settings", args=[owner.name])


def _own_state(owner) -> dict:
    """The owner's own Settings and the decoded values of its own Secrets (never rendered raw)."""
    own = effective.settings_for(owner)
    values, ca_secret, tokens = {}, None, {}
    if own:
        secret = Secret.objects.filter(namespace=own.namespace, name=own.palette_secret).first()
        if secret:
            try:
                values = credentials.parse_palette_json(secret.get_data().get(credentials.PALETTE_KEY, "{}"), partial=True, allow_project_name=True)
            except credentials.CredentialError:
                values = {}
        if values.get("tlsSecretRef"):
            ca_secret = Secret.objects.filter(namespace=own.namespace, name=values["tlsSecretRef"]).first()
        for kind, (field, key, inner, _) in TOKEN_KINDS.items():
            name = getattr(own, field)
            token_secret = Secret.objects.filter(namespace=own.namespace, name=name).first() if name else None
            if token_secret:
                try:
                    tokens[kind] = json.loads(token_secret.get_data().get(key, "{}")).get(inner, "")
                except ValueError:
                    tokens[kind] = ""
    return {"own": own, "values": values, "ca_secret": ca_secret, "tokens": tokens}


def _inherited_values(owner) -> dict | None:
    """The tenant's Palette values a project would inherit (None for a tenant or when the tenant has none)."""
    if not isinstance(owner, Project):
        return None
    tenant_settings = effective.settings_for(owner.tenant)
    if tenant_settings is None:
        return None
    state = _own_state(owner.tenant)
    return {k: v for k, v in state["values"].items() if k != "apiKey"}


def _dependents(owner) -> list:
    """The owner and every project whose effective settings change with it (a tenant's projects all merge with it)."""
    if isinstance(owner, Project):
        return [owner]
    return [owner, *owner.projects.all()]


def _context(request, owner, role, form=None, token_forms=None) -> dict:
    state = _own_state(owner)
    inherits = _inherited_values(owner)
    eff = effective.resolve(owner)
    form = form or PaletteIntegrationForm(owner=owner, current=state["values"], has_settings=state["own"] is not None,
                                          inherits=inherits, has_ca=state["ca_secret"] is not None)
    token_forms = token_forms or {kind: TokenForm(kind=kind, stored=state["tokens"].get(kind, ""), prefix=kind) for kind in TOKEN_KINDS}
    rows = []
    if eff.palette:
        from core.fields import mask

        for field, (value, source) in eff.palette.fields.items():
            shown = mask(str(value)) if field == "apiKey" else value
            rows.append({"field": field, "value": shown, "source": source})
    from .kube import kube_status

    latest = diagnosis.latest_check(owner)
    args = [owner.tenant.name, owner.name] if isinstance(owner, Project) else [owner.name]
    scope = "project" if isinstance(owner, Project) else "tenant"
    urls = {name: reverse(f"integrations:{scope}_{name}", args=args) for name in ("palette_save", "use_project_uid", "check_start")}
    urls.update({f"{name}_{kind}": reverse(f"integrations:{scope}_{name}", args=[*args, kind]) for name in ("token_save", "token_test") for kind in TOKEN_KINDS})
    return {
        "urls": urls, "scope_args": args, "scope": scope,
        "owner": owner, "role": role, "is_project": isinstance(owner, Project),
        "tenant": owner.tenant if isinstance(owner, Project) else owner,
        "project": owner if isinstance(owner, Project) else None,
        "own": state["own"], "effective": eff, "rows": rows, "form": form, "token_forms": token_forms,
        "token_labels": {k: v[3] for k, v in TOKEN_KINDS.items()},
        "ca_certificates": eff.palette.ca_certificates if eff.palette else [],
        "badge": diagnosis.badge(owner), "check": diagnosis.active_check(owner) or latest, "latest": latest,
        "kube": kube_status(), "skip_warning": SKIP_TLS_WARNING, "settings_url": settings_url(owner),
        "online_note": online_checks_note(),
    }


@login_required
@require_GET
def settings_page(request, tenant, project=None):
    owner, role = _owner(request, tenant, project)
    return render_page(request, "integrations/settings.html", _context(request, owner, role))


@login_required
@require_POST
def palette_save(request, tenant, project=None):
    owner, role = _owner(request, tenant, project, need=access.ADMIN)
    state = _own_state(owner)
    form = PaletteIntegrationForm(request.POST, request.FILES, owner=owner, current=state["values"], has_settings=state["own"] is not None,
                                  inherits=_inherited_values(owner), has_ca=state["ca_secret"] is not None)
    if form.is_valid():
        try:
            with transaction.atomic():
                rotated = _save_palette(request, owner, state, form)
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        else:
            if form.project_name_warning:
                messages.warning(request, form.project_name_warning)
            if rotated:
                names = ", ".join(str(d) for d in _dependents(owner))
                messages.info(request, f"Credentials rotated: connection checks started for {names}.")
            messages.success(request, "Palette integration saved.")
            return redirect_after_post(request, settings_url(owner))
    return render_page(request, "integrations/settings.html", _context(request, owner, role, form=form), fragment="palette_form")


def _save_palette(request, owner, state: dict, form: PaletteIntegrationForm) -> bool:
    """Write the Palette (and CA) Secrets and the Settings; return whether a credential was rotated."""
    own = state["own"]
    name = own.name if own else form.cleaned_data["settings_name"]
    palette_secret = own.palette_secret if own else f"{name}-palette"
    values = dict(form.values)
    ca_name = state["values"].get("tlsSecretRef") or f"{name}-ca"
    if form.ca_text:
        configure.save_secret(owner, ca_name, {credentials.CA_KEY: form.ca_text}, request=request)
        values["tlsSecretRef"] = ca_name
    elif state["ca_secret"] is not None and not form.cleaned_data.get("remove_ca"):
        values["tlsSecretRef"] = state["ca_secret"].name
    # Only the fields set at this level are stored: a project's blank fields inherit the tenant's.
    configure.save_secret(owner, palette_secret, {credentials.PALETTE_KEY: json.dumps(values, sort_keys=True)}, request=request)
    configure.save_settings(owner, name, palette_secret=palette_secret,
                            huggingface_secret=own.huggingface_secret if own else "", ngc_secret=own.ngc_secret if own else "",
                            request=request)
    if form.cleaned_data.get("remove_ca") and state["ca_secret"] is not None and not form.ca_text:
        configure.delete_secret(state["ca_secret"], request=request)
    was_skipping = bool(state["values"].get("skipSSLCertificateVerification"))
    if values.get("skipSSLCertificateVerification") and not was_skipping:
        audit.record(request, AuditEntry.ACTION, effective.settings_for(owner), verb="skip TLS verification on",
                     changes={"warning": SKIP_TLS_WARNING})
    rotated = bool(own) and (bool(form.cleaned_data.get("api_key")) and form.cleaned_data["api_key"] != state["values"].get("apiKey")
                             or bool(form.ca_text) or bool(form.cleaned_data.get("remove_ca")))
    for dependent in _dependents(owner) if rotated else [owner]:
        diagnosis.start_check(dependent, trigger="rotation" if rotated else "saved")
    return rotated


@login_required
@require_POST
def token_save(request, tenant, kind, project=None):
    owner, role = _owner(request, tenant, project, need=access.ADMIN)
    if kind not in TOKEN_KINDS:
        raise Http404("No such integration.")
    field, key, inner, label = TOKEN_KINDS[kind]
    state = _own_state(owner)
    own = state["own"]
    form = TokenForm(request.POST, kind=kind, stored=state["tokens"].get(kind, ""), prefix=kind)
    if own is None:
        form.is_valid()
        form.add_error(None, "Add the Palette integration first: Settings need one before other integrations.")
    elif form.is_valid():
        with transaction.atomic():
            secret_name = getattr(own, field) or f"{own.name}-{kind}"
            kwargs = {"huggingface_secret": own.huggingface_secret, "ngc_secret": own.ngc_secret}
            if form.cleaned_data.get("remove"):
                kwargs[field] = ""
                configure.save_settings(owner, own.name, palette_secret=own.palette_secret, request=request, **kwargs)
                secret = Secret.objects.filter(namespace=own.namespace, name=secret_name).first()
                if secret:
                    configure.delete_secret(secret, request=request)
                messages.success(request, f"{label} integration removed.")
            else:
                token = form.cleaned_data["token"] or state["tokens"].get(kind, "")
                configure.save_secret(owner, secret_name, {key: json.dumps({inner: token})}, request=request)
                kwargs[field] = secret_name
                configure.save_settings(owner, own.name, palette_secret=own.palette_secret, request=request, **kwargs)
                messages.success(request, f"{label} integration saved.")
        return redirect_after_post(request, settings_url(owner))
    token_forms = {k: (form if k == kind else TokenForm(kind=k, stored=state["tokens"].get(k, ""), prefix=k)) for k in TOKEN_KINDS}
    return render_page(request, "integrations/settings.html", _context(request, owner, role, token_forms=token_forms), fragment="tokens")


@login_required
@require_POST
def token_test(request, tenant, kind, project=None):
    owner, role = _owner(request, tenant, project, need=access.ADMIN)
    if kind not in TOKEN_KINDS:
        raise Http404("No such integration.")
    token = request.POST.get(f"{kind}-token", "").strip() or _own_state(owner)["tokens"].get(kind, "")
    if not token:
        result = {"ok": False, "message": "Nothing to test: paste a token or save one first."}
    else:
        problem = format_problem(kind, token)
        result = {"ok": not problem, "message": problem or ("The format looks right. " + online_checks_note()).strip()}
    return render_page(request, "integrations/token_test.html", {"result": result})


@login_required
@require_POST
def check_start(request, tenant, project=None):
    owner, role = _owner(request, tenant, project, need=access.WRITE if project else access.ADMIN)
    with transaction.atomic():
        check = diagnosis.start_check(owner, trigger="manual")
    return render_page(request, "integrations/settings.html", {**_context(request, owner, role), "check": check}, fragment="check")


@login_required
@require_GET
def check_status(request, tenant, check, project=None):
    owner, role = _owner(request, tenant, project)
    field = "project" if isinstance(owner, Project) else "tenant"
    check = get_object_or_404(PaletteCheck, uuid=check, **{field: owner})
    response = render_page(request, "integrations/settings.html", {**_context(request, owner, role), "check": check}, fragment="check")
    return poll_response(response, check.is_terminal)


@login_required
@require_POST
def use_project_uid(request, tenant, project=None):
    owner, role = _owner(request, tenant, project, need=access.ADMIN)
    state = _own_state(owner)
    latest = diagnosis.latest_check(owner)
    uid = (latest.progress or {}).get("suggested_project_uid") if latest else None
    if not uid or not state["own"]:
        messages.error(request, "No project UID to apply: run Test connection first.")
        return redirect_after_post(request, settings_url(owner))
    values = {**state["values"], "defaultProjectID": uid}
    with transaction.atomic():
        configure.save_secret(owner, state["own"].palette_secret, {credentials.PALETTE_KEY: json.dumps(values, sort_keys=True)}, request=request)
        diagnosis.start_check(owner, trigger="saved")
    messages.success(request, f"Default project ID set to {uid}; checking the connection again.")
    return redirect_after_post(request, settings_url(owner))
