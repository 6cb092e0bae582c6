"""The notification rules page of a tenant or project: list, create, edit, delete, mute, send a test.

Reading needs any role; changing needs tenant admin for a tenant's rules and editor or admin for a
project's (tenancy.access). Every change is audited (notifications.rules).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core import audit
from core.events import Event, Subject
from core.htmx import redirect_after_post
from core.models import AuditEntry
from tenancy import access

from . import dispatch, rules
from .forms import RuleForm
from .models import NotificationRule

MUTE_CHOICES = ((60, "1 hour"), (240, "4 hours"), (1440, "1 day"), (10080, "1 week"))


def _owner(request, tenant: str, project: str | None, write: bool):
    """(owner, tenant, project, may write) for the user; 404/403 as tenancy.access decides."""
    if project is None:
        owner, role = access.get_tenant_for_user(
            request.user, tenant, need=access.ADMIN if write else access.READ
        )
        return owner, owner, None, role == access.ADMIN
    owner, role = access.get_project_for_user(
        request.user, tenant, project, need=access.WRITE if write else access.READ
    )
    return owner, owner.tenant, owner, access.allows(role, access.WRITE)


def _url(name: str, owner_tenant, owner_project, *extra) -> str:
    if owner_project is None:
        return reverse(f"notifications:tenant_{name}", args=[owner_tenant.name, *extra])
    return reverse(f"notifications:project_{name}", args=[owner_tenant.name, owner_project.name, *extra])


def _rule(owner, name: str) -> NotificationRule:
    rule = NotificationRule.objects.filter(namespace=owner.namespace, name=name).first()
    if rule is None:
        raise Http404("No such rule.")
    return rule


@login_required
def rules_page(request, tenant, project=None):
    owner, tenant_obj, project_obj, can_write = _owner(request, tenant, project, request.method == "POST")
    form = RuleForm(request.POST or None, namespace=owner.namespace)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            rules.save_rule(owner, form.cleaned_data["name"], form.values(), request=request)
        messages.success(request, f"Rule {form.cleaned_data['name']} created.")
        return redirect_after_post(request, _url("rules", tenant_obj, project_obj))
    context = {
        "owner": owner,
        "tenant": tenant_obj,
        "project": project_obj,
        "can_write": can_write,
        "rules": NotificationRule.objects.filter(namespace=owner.namespace),
        "inherited": (
            NotificationRule.objects.filter(tenant=tenant_obj)
            if project_obj is not None
            else NotificationRule.objects.none()
        ),
        "form": form,
        "base_url": _url("rules", tenant_obj, project_obj),
    }
    return render(request, "notifications/rules.html", context)


@login_required
def rule_edit(request, tenant, rule, project=None):
    owner, tenant_obj, project_obj, can_write = _owner(request, tenant, project, request.method == "POST")
    rule = _rule(owner, rule)
    form = RuleForm(
        request.POST or None, namespace=owner.namespace, editing=rule, initial=RuleForm.initial_for(rule)
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            rules.save_rule(owner, rule.name, form.values(), request=request)
        messages.success(request, f"Rule {rule.name} saved.")
        return redirect_after_post(request, _url("rule", tenant_obj, project_obj, rule.name))
    context = {
        "owner": owner,
        "tenant": tenant_obj,
        "project": project_obj,
        "can_write": can_write,
        "rule": rule,
        "form": form,
        "log": rule.notifications.all()[:50],
        "mute_choices": MUTE_CHOICES,
        "base_url": _url("rules", tenant_obj, project_obj),
        "rule_url": _url("rule", tenant_obj, project_obj, rule.name),
        "scope": "project" if project_obj else "tenant",
    }
    return render(request, "notifications/rule.html", context)


@login_required
@require_POST
def rule_delete(request, tenant, rule, project=None):
    owner, tenant_obj, project_obj, _ = _owner(request, tenant, project, True)
    rule = _rule(owner, rule)
    with transaction.atomic():
        rules.delete_rule(rule, request=request)
    messages.success(request, f"Rule {rule.name} deleted.")
    return redirect_after_post(request, _url("rules", tenant_obj, project_obj))


@login_required
@require_POST
def rule_test(request, tenant, rule, project=None):
    """Send a test notification through the rule's channel now (even while muted); it shows in the log."""
    owner, tenant_obj, project_obj, _ = _owner(request, tenant, project, True)
    rule = _rule(owner, rule)
    event = Event(
        name=rule.events[0] if rule.events else "pool.ready",
        namespace=owner.namespace,
        subject=Subject("NotificationRule", rule.name, str(rule.uuid)),
        message=f"Test notification of rule {rule.name}, sent by {request.user.get_username()}.",
        details={"test": True},
    )
    with transaction.atomic():
        muted_until, rule.muted_until = rule.muted_until, None  # a test goes out even while muted
        dispatch.create(rule, event, test=True)
        rule.muted_until = muted_until
        audit.record(request, AuditEntry.ACTION, rule, verb="sent a test notification")
    messages.success(request, "Test notification queued: its delivery shows in the log below.")
    return redirect_after_post(request, _url("rule", tenant_obj, project_obj, rule.name))


@login_required
@require_POST
def rule_mute(request, tenant, rule, project=None):
    """Mute for the chosen minutes (one of MUTE_CHOICES), or unmute with 0."""
    owner, tenant_obj, project_obj, _ = _owner(request, tenant, project, True)
    rule = _rule(owner, rule)
    try:
        minutes = int(request.POST.get("minutes", ""))
    except ValueError:
        minutes = -1
    if minutes != 0 and minutes not in dict(MUTE_CHOICES):
        messages.error(request, "Choose how long to mute the rule: 1 hour, 4 hours, 1 day or 1 week.")
        return redirect_after_post(request, _url("rule", tenant_obj, project_obj, rule.name))
    until = timezone.now() + timedelta(minutes=minutes) if minutes else None
    with transaction.atomic():
        NotificationRule.objects.filter(pk=rule.pk).update(muted_until=until)
        audit.record(
            request, AuditEntry.UPDATE, rule, changes={"muted_until": until.isoformat() if until else None}
        )
    messages.success(
        request, f"Rule {rule.name} muted until {until:%Y-%m-%d %H:%M} UTC." if until else "Unmuted."
    )
    return redirect_after_post(request, _url("rule", tenant_obj, project_obj, rule.name))
