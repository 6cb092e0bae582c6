"""The onboarding wizard's views: resolve, validate, call integrations.onboarding, redirect or re-render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core import audit
from core.fields import mask
from core.htmx import poll_response, redirect_after_post, render_page
from core.models import AuditEntry
from tenancy import access
from tenancy.forms import ProjectForm, TenantForm
from tenancy.overview import worker_status

from . import diagnosis, effective, form_actions, onboarding
from .forms import TokenForm, online_checks_note
from .onboarding import ProjectChoiceForm, SkipCheckForm, TenantChoiceForm


def _page(request, session, step: str, context: dict):
    """The whole page of a step, also for htmx (the forms select #wizard-step out of it)."""
    context = {
        "session": session,
        "step": step,
        "steps": onboarding.step_nav(session, step),
        "nav": "onboarding",
        "step_title": onboarding.WIZARD.title(step),
        **context,
    }
    return render(request, f"integrations/onboarding_{step}.html", context)


def _go(request, session):
    """After a valid POST: on to the first step not done yet."""
    return redirect_after_post(request, onboarding.step_url(session, onboarding.first_open_step(session)))


def _create(request, session, form, choose):
    """A valid TenantForm or ProjectForm of its step: save it with its audit entry, choose the new object for
    the session, and go on."""
    with transaction.atomic():
        choose(session, audit.save_form(request, AuditEntry.CREATE, form))
    messages.success(request, form.created_message())
    return _go(request, session)


@login_required
@require_http_methods(["GET", "POST"])
def onboarding_home(request):
    if request.method == "POST":
        tenant = project = None
        if request.POST.get("project") and request.POST.get("tenant"):
            project, _ = access.get_project_for_user(
                request.user, request.POST["tenant"], request.POST["project"], need=access.ADMIN
            )
        elif request.POST.get("tenant"):
            tenant, _ = onboarding.resolve_tenant(request.user, request.POST["tenant"])
        session = onboarding.start_session(request.user, tenant=tenant, project=project)
        return _go(request, session)
    sessions = [
        s for s in onboarding.unfinished(request.user)[:20] if onboarding.still_allowed(request.user, s)
    ]
    if sessions and "new" not in request.GET:
        return redirect(onboarding.step_url(sessions[0], onboarding.first_open_step(sessions[0])))
    finished = onboarding.finished(request.user)[:10]
    resumable = [
        {
            "session": s,
            "url": onboarding.step_url(s, onboarding.first_open_step(s)),
            "step_title": onboarding.WIZARD.title(onboarding.first_open_step(s)),
        }
        for s in sessions
    ]
    return render(
        request,
        "integrations/onboarding.html",
        {"nav": "onboarding", "resumable": resumable, "finished": finished, "steps": onboarding.WIZARD.steps},
    )


@login_required
@require_http_methods(["GET", "POST"])
def onboarding_step(request, session, step):
    session = onboarding.get_session(request.user, session)
    handler = STEP_VIEWS.get(step)
    if handler is None:
        raise Http404("No such step.")
    if step == "summary" and request.method == "POST":
        return HttpResponseNotAllowed(["GET"])
    if request.method == "GET" and request.GET.keys() & {"tenant", "project"}:
        shown = {k: request.GET[k] for k in ("tenant", "project") if k in request.GET}
        if shown != onboarding.url_scope(session):
            # An older address (the back button, a bookmark): the session's tenant and project are the truth.
            return redirect(onboarding.step_url(session, step))
    if not onboarding.can_open(session, step):
        messages.info(
            request, f"Finish “{onboarding.WIZARD.title(onboarding.first_open_step(session))}” first."
        )
        return redirect(onboarding.step_url(session, onboarding.first_open_step(session)))
    return handler(request, session)


def tenant_step(request, session):
    user = request.user
    pick = TenantChoiceForm(user=user, initial={"tenant": session.tenant})
    create = TenantForm(prefix="new", user=user) if user.is_superuser else None
    if request.method == "POST":
        if request.POST.get("action") == "create":
            if not user.is_superuser:
                raise PermissionDenied("Only platform administrators create tenants.")
            create = TenantForm(request.POST, prefix="new", user=user)
            if create.is_valid():
                return _create(request, session, create, onboarding.choose_tenant)
        else:
            name = request.POST.get("tenant", "").strip()
            if name:
                onboarding.resolve_tenant(user, name)  # another tenant's name: 404; a read-only member: 403
            pick = TenantChoiceForm(request.POST, user=user)
            if pick.is_valid():
                onboarding.choose_tenant(session, pick.cleaned_data["tenant"])
                return _go(request, session)
    has_choices = pick.fields["tenant"].queryset.exists()
    return _page(request, session, "tenant", {"pick": pick, "create": create, "has_choices": has_choices})


def project_step(request, session):
    user = request.user
    tenant, role = onboarding.session_tenant(user, session)
    pick = ProjectChoiceForm(user=user, tenant=tenant, initial={"project": session.project})
    create = ProjectForm(prefix="new", tenant=tenant, user=user) if role == access.ADMIN else None
    if request.method == "POST":
        if request.POST.get("action") == "create":
            if role != access.ADMIN:
                raise PermissionDenied("Only tenant admins create projects.")
            create = ProjectForm(request.POST, prefix="new", tenant=tenant, user=user)
            if create.is_valid():
                return _create(request, session, create, onboarding.choose_project)
        else:
            name = request.POST.get("project", "").strip()
            if name:
                access.get_project_for_user(user, tenant.name, name, need=access.ADMIN)  # 404 / 403
            pick = ProjectChoiceForm(request.POST, user=user, tenant=tenant)
            if pick.is_valid():
                onboarding.choose_project(session, pick.cleaned_data["project"])
                return _go(request, session)
    has_choices = pick.fields["project"].queryset.exists()
    return _page(
        request,
        session,
        "project",
        {"tenant": tenant, "pick": pick, "create": create, "has_choices": has_choices},
    )


def _effective_rows(eff) -> list[dict]:
    return [
        {"field": field, "value": mask(str(value)) if field == "apiKey" else value, "source": source}
        for field, (value, source) in eff.palette.fields.items()
    ]


def palette_step(request, session):
    user = request.user
    project, _ = onboarding.session_project(user, session)
    scopes = onboarding.palette_scopes(user, project)
    requested = request.POST.get("scope") or request.GET.get("scope")
    if request.method == "POST" and requested == "tenant" and "tenant" not in scopes:
        raise PermissionDenied("Only tenant admins store credentials for the whole tenant.")
    scope = requested if requested in scopes else onboarding.default_scope(session, user, project)
    owner = onboarding.palette_owner(user, project, scope)
    state = form_actions.own_state(owner)
    eff = effective.resolve(project)
    can_keep = eff.palette is not None and eff.palette.complete
    form = form_actions.palette_form(owner, state, user)
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "keep":
            if can_keep:
                with transaction.atomic():
                    check = diagnosis.start_check(project, trigger="wizard")
                    onboarding.credentials_done(
                        session, scope=onboarding.kept_scope(project), kept=True, check=check
                    )
                messages.success(request, "Keeping the current Palette settings; testing the connection.")
                return _go(request, session)
            error = "There are no complete Palette settings to keep yet: fill in the form."
        else:
            form = form_actions.palette_form(owner, state, user, request.POST, request.FILES)
            if form.is_valid():
                try:
                    with transaction.atomic():
                        form_actions.save_palette(request, owner, state, form)
                        check = diagnosis.start_check(project, trigger="wizard")
                        onboarding.credentials_done(session, scope=scope, kept=False, check=check)
                except ValidationError as exc:
                    form.add_error(None, " ".join(exc.messages))
                else:
                    for warning in form.warnings:
                        messages.warning(request, warning)
                    messages.success(
                        request,
                        f"Palette integration saved for {'tenant' if scope == 'tenant' else 'project'} "
                        f"{owner.name}.",
                    )
                    return _go(request, session)
            form_actions.forget_rejected_ca(form)
    return _page(
        request,
        session,
        "palette",
        {
            "project": project,
            "owner": owner,
            "scope": scope,
            "scopes": scopes,
            "form": form,
            "error": error,
            "can_keep": can_keep,
            "rows": _effective_rows(eff) if can_keep else [],
            "skip_warning": form_actions.SKIP_TLS_WARNING,
            "has_own": state["own"] is not None,
        },
    )


def _check_context(session, project) -> dict:
    check = (
        session.palette_check
        if session.palette_check and session.palette_check.project_id == project.pk
        else None
    )
    # A check nobody picked up after a few seconds usually means no Celery worker runs: say so.
    waiting = bool(
        check and check.status == check.PENDING and (timezone.now() - check.created).total_seconds() > 5
    )
    return {
        "project": project,
        "check": check,
        "passed": onboarding.check_passed(check),
        "waiting_for_worker": waiting,
        "workers": worker_status() if waiting else {},
        "skip_ack": onboarding.SKIP_CHECK_ACK,
        "status_url": reverse("integrations:onboarding_check_status", args=[session.uuid]),
        "check_step_url": onboarding.step_url(session, "check"),
    }


def check_step(request, session):
    project, _ = onboarding.session_project(request.user, session)
    skip_form = SkipCheckForm()
    error = ""
    if request.method == "POST":
        action = request.POST.get("action")
        check = _check_context(session, project)["check"]
        if action == "start":
            with transaction.atomic():
                onboarding.follow_check(session, diagnosis.start_check(project, trigger="wizard"))
            return redirect_after_post(request, onboarding.step_url(session, "check"))
        if action == "continue":
            if onboarding.check_passed(check):
                onboarding.connection_done(session, skipped=False)
                return _go(request, session)
            error = (
                "The connection check has not passed yet. Fix what the failed stage says "
                "(Back to Palette credentials), test again, or skip with the warning below."
            )
        elif action == "use_uid":
            uid = (check.progress or {}).get("suggested_project_uid") if check else None
            owner = onboarding.palette_owner(
                request.user, project, session.palette_scope or onboarding.kept_scope(project)
            )
            state = form_actions.own_state(owner)
            if uid and state["own"] is not None:
                with transaction.atomic():
                    form_actions.use_project_uid(request, owner, state, uid)
                    onboarding.follow_check(session, diagnosis.start_check(project, trigger="wizard"))
                messages.success(request, f"Default project ID set to {uid}; testing the connection again.")
                return redirect_after_post(request, onboarding.step_url(session, "check"))
            error = "No project UID to apply: fix the default project ID under Palette credentials."
        elif action == "skip":
            skip_form = SkipCheckForm(request.POST)
            if skip_form.is_valid():
                with transaction.atomic():
                    onboarding.connection_done(session, skipped=True)
                    audit.record(
                        request,
                        AuditEntry.ACTION,
                        project,
                        verb="skipped the connection check in onboarding",
                        changes={"acknowledged": onboarding.SKIP_CHECK_ACK},
                    )
                messages.warning(
                    request,
                    "Connection check skipped: discovery will not work until the connection passes. "
                    "Run Test connection from Settings once the credentials are fixed.",
                )
                return _go(request, session)
        else:
            error = "Choose Test connection, Continue or Skip."
    return _page(
        request,
        session,
        "check",
        {**_check_context(session, project), "skip_form": skip_form, "error": error},
    )


@login_required
@require_GET
def onboarding_check_status(request, session):
    session = onboarding.get_session(request.user, session)
    if not onboarding.can_open(session, "check"):
        raise Http404("This onboarding has not reached the connection check.")
    project, _ = onboarding.session_project(request.user, session)
    context = {**_check_context(session, project), "skip_form": SkipCheckForm(), "session": session}
    check = context["check"]
    response = render_page(
        request,
        "integrations/onboarding_check.html",
        {**context, "steps": onboarding.step_nav(session, "check"), "step": "check", "nav": "onboarding"},
        fragment="check",
    )
    return poll_response(response, check is None or check.is_terminal)


def _token_form(state: dict, kind: str, data=None) -> TokenForm:
    form = TokenForm(data, kind=kind, stored=state["tokens"].get(kind, ""), prefix=kind)
    del form.fields["remove"]  # the wizard adds or replaces; removing is done from Settings
    return form


def tokens_step(request, session):
    project, _ = onboarding.session_project(request.user, session)
    owner = onboarding.token_owner(request.user, session, project)
    state = form_actions.own_state(owner) if owner is not None else None
    token_forms = {kind: _token_form(state, kind) for kind in form_actions.TOKEN_KINDS} if state else {}
    if request.method == "POST":
        if request.POST.get("action") == "skip" or owner is None:
            onboarding.tokens_done(session, {kind: "skipped" for kind in form_actions.TOKEN_KINDS})
            return _go(request, session)
        bound = {}
        for kind in form_actions.TOKEN_KINDS:
            if request.POST.get(f"{kind}-token", "").strip():
                bound[kind] = token_forms[kind] = _token_form(state, kind, request.POST)
        if all(
            [form.is_valid() for form in bound.values()]
        ):  # a list: every form validates, so every error shows
            outcome = {
                kind: "kept" if state["tokens"].get(kind) else "not set" for kind in form_actions.TOKEN_KINDS
            }
            with transaction.atomic():
                for kind, form in bound.items():
                    token = form.cleaned_data["token"]
                    messages.success(
                        request, form_actions.save_token(request, owner, state, kind, token=token)
                    )
                    outcome[kind] = "saved"
                onboarding.tokens_done(session, outcome)
            return _go(request, session)
    rows = [
        {"kind": kind, "label": form_actions.TOKEN_KINDS[kind][3], "form": form}
        for kind, form in token_forms.items()
    ]
    return _page(
        request,
        session,
        "tokens",
        {"project": project, "owner": owner, "token_rows": rows, "online_note": online_checks_note()},
    )


def discovery_step(request, session):
    project, _ = onboarding.session_project(request.user, session)
    error = ""
    if request.method == "POST":
        action = request.POST.get("action")
        if action in ("start", "skip"):
            try:
                with transaction.atomic():
                    if action == "start":
                        result = onboarding.start_discovery(project)
                    else:
                        result = {
                            "status": "skipped",
                            "detail": "Discovery not started; start it from the Compute page when ready.",
                        }
                    onboarding.discovery_done(session, result)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                return _go(request, session)
        else:
            error = "Choose Start discovery or Skip."
    return _page(request, session, "discovery", {"project": project, "error": error})


def summary_step(request, session):
    project, role = onboarding.session_project(request.user, session, need=access.READ)
    check = session.palette_check
    return _page(
        request,
        session,
        "summary",
        {
            "project": project,
            "tenant": project.tenant,
            "check": check,
            "passed": onboarding.check_passed(check),
            "palette": session.results.get("palette", {}),
            "discovery": session.results.get("discovery", {}),
            "links": onboarding.next_steps(project),
            "badge": diagnosis.badge(project),
            "token_rows": [
                {"label": label, "outcome": session.results.get("tokens", {}).get(kind, "skipped")}
                for kind, (_, _, _, label) in form_actions.TOKEN_KINDS.items()
            ],
        },
    )


STEP_VIEWS = {
    "tenant": tenant_step,
    "project": project_step,
    "palette": palette_step,
    "check": check_step,
    "tokens": tokens_step,
    "discovery": discovery_step,
    "summary": summary_step,
}
