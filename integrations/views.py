from __future__ import annotations

from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core import palette_budget, state_warnings
from core.htmx import poll_response, redirect_after_post, render_page, wants_fragment
from tenancy import access
from tenancy.models import Project, owner_filter

from . import diagnosis, effective, form_actions, online
from .forms import TokenForm, format_problem, online_checks_note
from .models import PaletteCheck, Secret


def _owner(request, tenant: str, project: str | None, need: str = access.READ):
    if project:
        return access.get_project_for_user(request.user, tenant, project, need=need)
    return access.get_tenant_for_user(request.user, tenant, need=need)


def _token_owner(request, tenant: str, kind: str, project: str | None):
    """The owner whose `kind` token an admin edits or tests, and the role; 404 for an unknown kind."""
    owner, role = _owner(request, tenant, project, need=access.ADMIN)
    if kind not in form_actions.TOKEN_KINDS:
        raise Http404("No such integration.")
    return owner, role


def _fragment(request, context: dict, fragment: str):
    """The Settings page, or with htmx only its `fragment`."""
    return render_page(request, "integrations/settings.html", context, fragment=fragment)


def settings_url(owner) -> str:
    if isinstance(owner, Project):
        return reverse("integrations:project_settings", args=[owner.tenant.name, owner.name])
    return reverse("integrations:tenant_settings", args=[owner.name])


def tokens_need_settings(owner) -> str:
    """Why `owner`, with no Settings of its own, cannot store a Hugging Face or NGC token yet, and what to
    do."""
    if isinstance(owner, Project) and effective.settings_for(owner.tenant) is not None:
        return (
            f"This project uses tenant {owner.tenant.name}'s Palette integration. To add a Hugging Face or "
            "NVIDIA NGC token of its own, first save the Palette integration form of this project: fields "
            "left blank go on inheriting the tenant's."
        )
    return "Add the Palette integration first: Settings need one before other integrations."


def _context(request, owner, role, form=None, token_forms=None) -> dict:
    state = form_actions.own_state(owner, read_tokens=token_forms is None)
    eff = effective.resolve(owner)
    form = form or form_actions.palette_form(owner, state, request.user)
    token_forms = token_forms or {
        kind: TokenForm(kind=kind, stored=state["tokens"].get(kind, ""), prefix=kind)
        for kind in form_actions.TOKEN_KINDS
    }
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
    urls = {
        name: reverse(f"integrations:{scope}_{name}", args=args)
        for name in ("palette_save", "use_project_uid", "check_start", "settings_yaml", "settings_import")
    }
    urls.update(
        {
            f"{name}_{kind}": reverse(f"integrations:{scope}_{name}", args=[*args, kind])
            for name in ("token_save", "token_test")
            for kind in form_actions.TOKEN_KINDS
        }
    )
    return {
        "urls": urls,
        "scope_args": args,
        "scope": scope,
        "owner": owner,
        "role": role,
        "is_project": isinstance(owner, Project),
        "tenant": owner.tenant if isinstance(owner, Project) else owner,
        "project": owner if isinstance(owner, Project) else None,
        "own": state["own"],
        "inherits_tenant": isinstance(owner, Project) and effective.settings_for(owner.tenant) is not None,
        "effective": eff,
        "rows": rows,
        "form": form,
        "token_forms": token_forms,
        "token_labels": {k: v[3] for k, v in form_actions.TOKEN_KINDS.items()},
        "ca_certificates": eff.palette.ca_certificates if eff.palette else [],
        "badge": diagnosis.badge(owner),
        "check": diagnosis.active_check(owner) or latest,
        "latest": latest,
        "kube": kube_status(),
        "kube_secrets": Secret.objects.filter(namespace=owner.namespace)
        .order_by("name")
        .only("name", "kube_synced_at", "kube_error", "updated"),
        "skip_warning": form_actions.SKIP_TLS_WARNING,
        "settings_url": settings_url(owner),
        "online_note": online_checks_note(),
        "can_check": eff.palette is not None and role != "read",
        "rate": _rate_summary(eff.palette),
        "license": _license(latest),
        "key_expiry": _key_expiry(latest),
    }


def _license(latest) -> diagnosis.LicenseOutlook | None:
    """The self-hosted Palette's activation countdown from the last finished check (no Palette call)."""
    return diagnosis.license_outlook(diagnosis.stage_facts(latest, "activation"))


def _key_expiry(latest) -> dict:
    """When the API key in use expires, from the last finished check's key stage (no Palette call)."""
    stage = next((s for s in (latest.stages if latest else None) or () if s.get("key") == "apikey"), None)
    return (stage or {}).get("key_expiry") or {}


def _rate_summary(palette) -> dict | None:
    """The installation's Palette rate budget as this owner's Palette sees it (core.palette_budget.summary),
    with the limits shown once: "10 req/s" families grouped."""
    if palette is None or not palette.value("hostUrl"):
        return None
    summary = palette_budget.summary(str(palette.value("hostUrl")), palette.rate_limits)
    by_rate: dict[float, list[str]] = {}
    for family, rate in summary["limits"].items():
        by_rate.setdefault(rate, []).append(family)
    summary["groups"] = [(rate, families) for rate, families in sorted(by_rate.items())]
    summary["own"] = palette.rate_limits is not None
    return summary


@login_required
@require_GET
def settings_page(request, tenant, project=None):
    owner, role = _owner(request, tenant, project)
    return render_page(request, "integrations/settings.html", _context(request, owner, role))


@login_required
@require_POST
def palette_save(request, tenant, project=None):
    owner, role = _owner(request, tenant, project, need=access.ADMIN)
    state = form_actions.own_state(owner, read_tokens=False)
    form = form_actions.palette_form(owner, state, request.user, request.POST, request.FILES)
    if form.is_valid():
        try:
            with transaction.atomic():
                rotated = form_actions.save_palette(request, owner, state, form)
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        else:
            for warning in form.warnings:
                messages.warning(request, warning)
            if rotated:
                names = ", ".join(str(d) for d in form_actions.dependents(owner))
                messages.info(request, f"Credentials rotated: connection checks started for {names}.")
            messages.success(request, "Palette integration saved.")
            for warning in state_warnings.after_change({owner.namespace}):
                messages.warning(request, warning)
            return redirect_after_post(request, settings_url(owner))
    form_actions.forget_rejected_ca(form)
    return _fragment(request, _context(request, owner, role, form=form), "palette_form")


@login_required
@require_POST
def token_save(request, tenant, kind, project=None):
    owner, role = _token_owner(request, tenant, kind, project)
    state = form_actions.own_state(owner)
    own = state["own"]
    form = TokenForm(request.POST, kind=kind, stored=state["tokens"].get(kind, ""), prefix=kind)
    if own is None:
        form.is_valid()
        form.add_error(None, tokens_need_settings(owner))
    elif form.is_valid():
        with transaction.atomic():
            message = form_actions.save_token(
                request,
                owner,
                state,
                kind,
                token=form.cleaned_data["token"],
                remove=form.cleaned_data.get("remove"),
            )
        messages.success(request, message)
        return redirect_after_post(request, settings_url(owner))
    token_forms = {
        k: (form if k == kind else TokenForm(kind=k, stored=state["tokens"].get(k, ""), prefix=k))
        for k in form_actions.TOKEN_KINDS
    }
    return _fragment(request, _context(request, owner, role, token_forms=token_forms), "tokens")


@login_required
@require_POST
def token_test(request, tenant, kind, project=None):
    owner, role = _token_owner(request, tenant, kind, project)
    token = request.POST.get(f"{kind}-token", "").strip()
    token = token or form_actions.own_state(owner)["tokens"].get(kind, "")
    if not token:
        result = {"ok": False, "message": "Nothing to test: paste a token or save one first."}
    else:
        problem = format_problem(kind, token)
        if problem:
            result = {"ok": False, "message": problem}
        elif django_settings.INTEGRATION_ONLINE_CHECKS:
            verdict = online.check(kind, token)
            result = {"ok": verdict.ok, "message": f"The format looks right. {verdict.message}"}
        else:
            result = {"ok": True, "message": ("The format looks right. " + online_checks_note()).strip()}
    return render_page(request, "integrations/token_test.html", {"result": result})


@login_required
@require_POST
def check_start(request, tenant, project=None):
    owner, role = _owner(request, tenant, project, need=access.WRITE if project else access.ADMIN)
    with transaction.atomic():
        check = diagnosis.start_check(owner, trigger="manual")
    context = _check_context(owner, role) if wants_fragment(request) else _context(request, owner, role)
    return _fragment(request, {**context, "check": check}, "check")


@login_required
@require_GET
def check_status(request, tenant, check, project=None):
    owner, role = _owner(request, tenant, project)
    check = get_object_or_404(PaletteCheck, uuid=check, **owner_filter(owner))
    # Polled every second while a check runs: the fragment needs only the check, not the whole page's context.
    context = _check_context(owner, role) if wants_fragment(request) else _context(request, owner, role)
    response = _fragment(request, {**context, "check": check}, "check")
    return poll_response(response, check.is_terminal)


def _check_context(owner, role) -> dict:
    """What the connection check fragment shows (no Secret is read): the URLs it posts to and who may press
    them."""
    args = [owner.tenant.name, owner.name] if isinstance(owner, Project) else [owner.name]
    scope = "project" if isinstance(owner, Project) else "tenant"
    tenant = owner.tenant if isinstance(owner, Project) else owner
    configured = effective.settings_for(tenant) is not None or (
        scope == "project" and effective.settings_for(owner) is not None
    )
    return {
        "urls": {
            name: reverse(f"integrations:{scope}_{name}", args=args)
            for name in ("use_project_uid", "check_start")
        },
        "role": role,
        "tenant": tenant,
        "project": owner if scope == "project" else None,
        "can_check": configured and role != "read",
        "license": _license(latest := diagnosis.latest_check(owner)),
        "key_expiry": _key_expiry(latest),
    }


@login_required
@require_POST
def use_project_uid(request, tenant, project=None):
    owner, role = _owner(request, tenant, project, need=access.ADMIN)
    state = form_actions.own_state(owner)
    latest = diagnosis.latest_check(owner)
    uid = (latest.progress or {}).get("suggested_project_uid") if latest else None
    if not uid or not state["own"]:
        messages.error(request, "No project UID to apply: run Test connection first.")
        return redirect_after_post(request, settings_url(owner))
    problem = form_actions.project_choice_problem(owner, request.user, state, uid)
    if problem:
        messages.error(request, problem)
        return redirect_after_post(request, settings_url(owner))
    with transaction.atomic():
        form_actions.use_project_uid(request, owner, state, uid)
        diagnosis.start_check(owner, trigger="saved")
    messages.success(request, f"Default project ID set to {uid}; checking the connection again.")
    for warning in state_warnings.after_change({owner.namespace}):
        messages.warning(request, warning)
    return redirect_after_post(request, settings_url(owner))


@login_required
@require_GET
def settings_yaml(request, tenant, project=None):
    owner, role = _owner(request, tenant, project)
    from core.manifests import export_text  # on use: the manifests module is newer than this page

    text = export_text(namespace=owner.namespace)  # secret values are REDACTED
    if wants_fragment(request):
        return _fragment(request, {**_context(request, owner, role), "yaml_text": text}, "yaml")
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@login_required
@require_POST
def settings_import(request, tenant, project=None):
    owner, role = _owner(request, tenant, project, need=access.ADMIN)
    from core.manifests import apply_text, may_hold_secrets

    text = request.POST.get("manifest", "")
    dry_run = "dry_run" in request.POST
    changes = []
    if not text.strip():
        errors = ["Paste one or more YAML documents (Tenant, Project, Settings, Secret) to import."]
    else:
        result = apply_text(text, user=request.user, request=request, dry_run=dry_run, source="import")
        errors, changes = result.errors, result.changes
        for warning in result.warnings:
            messages.warning(request, warning)
        if result.ok and not dry_run:
            messages.success(request, "Imported: " + ", ".join(str(c) for c in changes) + ".")
            return redirect_after_post(request, settings_url(owner))
    # A pasted manifest is shown again after an error only when it cannot hold a secret value.
    dropped = bool(text.strip()) and may_hold_secrets(text)
    context = {
        **_context(request, owner, role),
        "import_errors": errors,
        "import_changes": changes,
        "import_dry_run": dry_run,
        "import_text": "" if dropped else text,
        "import_text_dropped": dropped,
    }
    return _fragment(request, context, "import_box")
