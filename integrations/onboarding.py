"""The onboarding wizard: its steps, the state kept between requests, and who may do what in it.

Tenant → Project → Palette credentials → Test connection → Hugging Face / NGC (optional) → start
discovery → summary. The state lives in an OnboardingSession row (never in the cookie session and
never a secret), so a step survives a reload, the back button, and a break of a week. The views in
`wizard_views` stay thin: they resolve objects through `tenancy.access`, validate a form, and call
the transitions here; saving credentials and tokens goes through `form_actions`, the same path as the
Settings page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode

from core.wizard import Wizard
from tenancy import access
from tenancy.models import Project, Tenant

from . import effective
from .models import OnboardingSession, PaletteCheck

WIZARD = Wizard(
    (
        ("tenant", "Tenant"),
        ("project", "Project"),
        ("palette", "Palette credentials"),
        ("check", "Test connection"),
        ("tokens", "Hugging Face / NGC"),
        ("discovery", "Start discovery"),
        ("summary", "Summary"),
    )
)
STEP_KEYS = WIZARD.keys
SKIP_CHECK_ACK = "I understand discovery will not work until the connection passes"


# Sessions ---------------------------------------------------------------------------------------
def get_session(user, session_uuid) -> OnboardingSession:
    """The user's own session; anyone else's is a 404, like any object they may not see."""
    session = (
        OnboardingSession.objects.select_related("tenant", "project", "palette_check")
        .filter(uuid=session_uuid, user=user)
        .first()
    )
    if session is None:
        raise Http404("No such onboarding session.")
    return session


def unfinished(user) -> QuerySet[OnboardingSession]:
    return OnboardingSession.objects.select_related("tenant", "project").filter(
        user=user, finished__isnull=True
    )


def finished(user) -> QuerySet[OnboardingSession]:
    return OnboardingSession.objects.select_related("tenant", "project").filter(
        user=user, finished__isnull=False
    )


def start_session(user, tenant: Tenant | None = None, project: Project | None = None) -> OnboardingSession:
    """A new session, or the unfinished one for the same project; a preset tenant or project counts as
    chosen."""
    if project is not None:
        existing = unfinished(user).filter(project=project).first()
        if existing is not None:
            return existing
    session = OnboardingSession(
        user=user, tenant=tenant or (project.tenant if project else None), project=project
    )
    session.completed_steps = [
        key for key, chosen in (("tenant", session.tenant), ("project", project)) if chosen
    ]
    session.current_step = first_open_step(session)
    session.save()
    return session


def done_steps(session: OnboardingSession) -> list[str]:
    """The steps done, in order; a tenant or project deleted since (the FK is now null) undoes its step and
    the later ones."""
    done = [key for key in STEP_KEYS if key in session.completed_steps]
    if session.tenant_id is None:
        return []
    if session.project_id is None:
        return [key for key in done if key == "tenant"]
    return done


def first_open_step(session: OnboardingSession) -> str:
    return WIZARD.first_open(done_steps(session))


def can_open(session: OnboardingSession, step: str) -> bool:
    """A step opens once every step before it is done (so a bookmarked later step cannot skip one)."""
    return WIZARD.can_open(step, done_steps(session))


def step_nav(session: OnboardingSession, current: str) -> list:
    """The stepper (core.wizard.StepLink entries) for the page of step `current`."""
    return WIZARD.stepper(current, done_steps(session), lambda key: step_url(session, key))


def still_allowed(user, session: OnboardingSession) -> bool:
    """Whether the user may still work on the session's tenant and project (roles change; objects go)."""
    try:
        if session.project is not None:
            session_project(user, session)
        elif session.tenant is not None:
            session_tenant(user, session)
    except (Http404, PermissionDenied):
        return False
    return True


def url_scope(session: OnboardingSession) -> dict[str, str]:
    """The tenant and project the session works on, as the step URLs carry them: {"tenant", "project"}."""
    scope = {}
    if session.tenant_id:
        scope["tenant"] = session.tenant.name
    if session.project_id:
        scope["project"] = session.project.name
    return scope


def step_url(session: OnboardingSession, step: str) -> str:
    """A step's URL, carrying the session's tenant and project (?tenant=…&project=…): the address bar says
    what the wizard works on, and one chosen or created later gets its own history entry."""
    url = reverse("integrations:onboarding_step", args=[session.uuid, step])
    scope = url_scope(session)
    return f"{url}?{urlencode(scope)}" if scope else url


def _complete(session: OnboardingSession, step: str, *, forget_later: bool = False) -> str:
    """Mark `step` done and move on; with `forget_later`, the later steps must be done again."""
    index = STEP_KEYS.index(step)
    done = done_steps(session)
    if forget_later:
        done = [key for key in done if STEP_KEYS.index(key) < index]
    if step not in done:
        done.append(step)
    session.completed_steps = sorted(done, key=STEP_KEYS.index)
    session.current_step = first_open_step(session)
    return session.current_step


def _forget_connection(session: OnboardingSession) -> None:
    session.palette_check = None
    session.skipped_check = False
    session.results = {
        k: v for k, v in session.results.items() if k not in ("palette", "tokens", "discovery")
    }
    session.finished = None


# Transitions (each saves the session; callers run them in the transaction of the step's writes) ----------
def choose_tenant(session: OnboardingSession, tenant: Tenant) -> None:
    """Another tenant than before drops the project and everything after it."""
    changed = session.tenant_id != tenant.pk
    if changed:
        session.tenant, session.project, session.palette_scope = tenant, None, ""
        _forget_connection(session)
    _complete(session, "tenant", forget_later=changed)
    session.save()


def choose_project(session: OnboardingSession, project: Project) -> None:
    """Another project than before drops the credentials, check and later steps (they were for the other
    one)."""
    changed = session.project_id != project.pk
    if changed:
        session.project, session.palette_scope = project, ""
        _forget_connection(session)
    _complete(session, "project", forget_later=changed)
    session.save()


def credentials_done(session: OnboardingSession, *, scope: str, kept: bool, check: PaletteCheck) -> None:
    """Credentials saved (or kept as they were): the connection must be checked again, so later steps
    reopen."""
    _forget_connection(session)
    session.palette_scope = scope
    session.palette_check = check
    session.results = {**session.results, "palette": {"scope": scope, "kept": kept}}
    _complete(session, "palette", forget_later=True)
    session.save()


def follow_check(session: OnboardingSession, check: PaletteCheck) -> None:
    """A new test of the connection: until it passes (or is skipped again) the later steps wait."""
    session.palette_check = check
    session.skipped_check = False
    session.finished = None
    session.completed_steps = [
        k for k in done_steps(session) if STEP_KEYS.index(k) < STEP_KEYS.index("check")
    ]
    session.current_step = first_open_step(session)
    session.save()


def check_passed(check: PaletteCheck | None) -> bool:
    return bool(check and check.is_terminal and check.outcome == PaletteCheck.CONNECTED)


def connection_done(session: OnboardingSession, *, skipped: bool) -> None:
    """Passed, or skipped after the admin acknowledged SKIP_CHECK_ACK."""
    session.skipped_check = skipped
    _complete(session, "check")
    session.save()


def tokens_done(session: OnboardingSession, outcome: dict[str, str]) -> None:
    """`outcome` maps kind → what happened ("saved", "removed", "kept", "skipped"), for the summary."""
    session.results = {**session.results, "tokens": outcome}
    _complete(session, "tokens")
    session.save()


def discovery_done(session: OnboardingSession, result: dict) -> None:
    """The last real step: the session is finished and the summary opens."""
    session.results = {**session.results, "discovery": result}
    _complete(session, "discovery")
    _complete(session, "summary")
    session.finished = timezone.now()
    session.save()


# Who may onboard where ----------------------------------------------------------------------------
def onboardable_tenants(user) -> QuerySet[Tenant]:
    """Tenants the user administers, or in which they administer a project (memberships and roles from the
    identity provider's groups alike: tenancy.access decides)."""
    if user.is_superuser:
        return Tenant.objects.all()
    tenants, projects = access.administered(user)
    return Tenant.objects.filter(Q(pk__in=tenants) | Q(projects__pk__in=projects)).distinct()


def onboardable_projects(user, tenant: Tenant) -> QuerySet[Project]:
    """Projects of `tenant` whose Settings the user may change (project admin, tenant admin)."""
    if user.is_superuser:
        return tenant.projects.all()
    tenants, projects = access.administered(user)
    return tenant.projects.all() if tenant.pk in tenants else tenant.projects.filter(pk__in=projects)


def resolve_tenant(user, name: str) -> tuple[Tenant, str]:
    """A tenant to onboard in: 404 when the user cannot see it, 403 when they administer nothing in it."""
    tenant, role = access.get_tenant_for_user(user, name, need=access.READ)
    if role != access.ADMIN and not onboardable_projects(user, tenant).exists():
        raise PermissionDenied(
            "Onboarding needs the tenant admin role, or the admin role in one of the tenant's projects."
        )
    return tenant, role


def session_tenant(user, session: OnboardingSession) -> tuple[Tenant, str]:
    """The session's tenant, resolved again for this request (access may have changed since)."""
    if session.tenant is None:
        raise Http404("This onboarding has no tenant yet.")
    return resolve_tenant(user, session.tenant.name)


def session_project(user, session: OnboardingSession, need: str = access.ADMIN) -> tuple[Project, str]:
    """The session's project, resolved again through tenancy.access (404 / 403)."""
    if session.project is None:
        raise Http404("This onboarding has no project yet.")
    return access.get_project_for_user(user, session.project.tenant.name, session.project.name, need=need)


def palette_scopes(user, project: Project) -> list[str]:
    """Where this user may store credentials: the tenant (all its projects inherit) needs the tenant admin
    role."""
    return ["tenant", "project"] if access.tenant_role(user, project.tenant) == access.ADMIN else ["project"]


def default_scope(session: OnboardingSession, user, project: Project) -> str:
    """The project when it has Settings of its own; else the tenant when the user may change it."""
    scopes = palette_scopes(user, project)
    if session.palette_scope in scopes:
        return session.palette_scope
    if effective.settings_for(project) is None and "tenant" in scopes:
        return "tenant"
    return "project"


def palette_owner(user, project: Project, scope: str) -> Tenant | Project:
    if scope == "tenant":
        return access.get_tenant_for_user(user, project.tenant.name, need=access.ADMIN)[0]
    return project


def kept_scope(project: Project) -> str:
    """Where the settings the wizard keeps live: the project's own, else the tenant's."""
    return "project" if effective.settings_for(project) is not None else "tenant"


def token_owner(user, session: OnboardingSession, project: Project) -> Tenant | Project | None:
    """Where Hugging Face and NGC tokens go: next to the credentials the wizard saved or kept.

    None when those Settings do not exist there or the user may not change them (a project
    admin whose project inherits the tenant's Settings).
    """
    scope = session.palette_scope or kept_scope(project)
    if scope == "tenant":
        if access.tenant_role(user, project.tenant) != access.ADMIN:
            return None
        owner: Tenant | Project = project.tenant
    else:
        owner = project
    return owner if effective.settings_for(owner) is not None else None


# The discovery hook and the way out ----------------------------------------------------------------
#: `start(project, trigger=...)` -> a run with a `uuid`: registered by compute (ComputeConfig.ready()), which
#: sits above integrations in the import chain. None while no app offers discovery.
discovery_starter: Callable[..., Any] | None = None


def register_discovery(start: Callable[..., Any]) -> None:
    """Let the wizard's discovery step start a discovery run with `start`
    (compute.discovery.start_discovery)."""
    global discovery_starter
    discovery_starter = start


def start_discovery(project: Project) -> dict:
    """Ask the registered discovery to scan the project's edge hosts; returns what the summary shows.

    Without one the step is recorded as not available yet. Run it in a transaction: the discovery
    enqueues its task once that commits.
    """
    if discovery_starter is None:
        return {"status": "unavailable", "detail": "Discovery is not available yet in this installation."}
    run = discovery_starter(project, trigger="onboarding")
    return {
        "status": "started",
        "detail": "Discovery started: edge hosts appear in the inventory as they are found.",
        "run": str(getattr(run, "uuid", "") or ""),
    }


def next_steps(project: Project) -> list[dict]:
    """Links for the summary: Settings, the inventory when compute offers it, the overviews."""
    links = [
        {
            "label": "Settings (integrations, connection status, YAML)",
            "url": reverse("integrations:project_settings", args=[project.tenant.name, project.name]),
        }
    ]
    try:
        links.append(
            {
                "label": "Compute inventory (discovered edge hosts)",
                "url": reverse("compute:inventory", args=[project.tenant.name, project.name]),
            }
        )
    except NoReverseMatch:
        pass
    links.append(
        {
            "label": f"Project overview ({project.name})",
            "url": reverse("tenancy:project_detail", args=[project.tenant.name, project.name]),
        }
    )
    links.append(
        {
            "label": f"Tenant overview ({project.tenant.name})",
            "url": reverse("tenancy:tenant_detail", args=[project.tenant.name]),
        }
    )
    return links


# Forms of the steps that are not forms elsewhere -------------------------------------------------------
def _choice_field(model: type[Tenant] | type[Project], noun: str) -> forms.ModelChoiceField:
    """A choice of one tenant or project by name (the form's __init__ sets the queryset)."""
    return forms.ModelChoiceField(
        queryset=model.objects.none(),
        to_field_name="name",
        empty_label=f"— choose a {noun} —",
        error_messages={
            "required": f"Choose a {noun}, or create one below.",
            "invalid_choice": f"Choose one of the {noun}s listed.",
        },
    )


class TenantChoiceForm(forms.Form):
    tenant = _choice_field(Tenant, "tenant")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = onboardable_tenants(user)


class ProjectChoiceForm(forms.Form):
    project = _choice_field(Project, "project")

    def __init__(self, *args, user, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = onboardable_projects(user, tenant)


class SkipCheckForm(forms.Form):
    understand = forms.BooleanField(
        label=SKIP_CHECK_ACK,
        error_messages={
            "required": (
                "To go on without a passing connection check, tick "
                "“I understand discovery will not work until the connection passes”."
            )
        },
    )
