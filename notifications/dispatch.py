"""From an event (core.events) to Notification rows: which rules hear it, and what is not sent again.

A problem event (host.unhealthy, pool.failed, discovery.failed, credentials.rejected) opens a Condition per
rule and subject; while it is open the same problem is not sent again, so 50 flapping hosts cause one
notification each, not one per discovery. Its recovery (host.recovered; pool.ready or pool.deleted;
discovery.succeeded; credentials.accepted) closes it; host.recovered is sent only for a host that was
reported unhealthy. A muted rule records the notification as muted and sends nothing.
"""

from __future__ import annotations

from django.db.models import Q

from core import audit
from core.events import Event
from core.models import AuditEntry
from core.tasks import enqueue_on_commit
from tenancy.models import Project, Tenant, owner_for_namespace

from .models import Condition, Notification, NotificationRule

#: problem → the events that end it.
PROBLEMS = {
    "host.unhealthy": ("host.recovered",),
    "pool.failed": ("pool.ready", "pool.deleted"),
    "discovery.failed": ("discovery.succeeded",),
    "credentials.rejected": ("credentials.accepted",),
    # Nothing ends it: its subject names the expiry date and the 30/7/1-day mark, so each mark is sent once
    # (integrations.notify.credentials_expiring) and a new key starts afresh.
    "credentials.expiring": (),
    "certificate.expiring": (),
}
RECOVERS = {end: problem for problem, ends in PROBLEMS.items() for end in ends}
#: Recoveries sent only when the problem had been reported.
ONLY_AFTER_PROBLEM = ("host.recovered",)


def rules_for(namespace: str) -> list[NotificationRule]:
    """The rules that hear events of `namespace`: its own, and for a project also its tenant's."""
    owner = owner_for_namespace(namespace)
    if isinstance(owner, Project):
        scope = Q(project=owner) | Q(tenant_id=owner.tenant_id)
    elif isinstance(owner, Tenant):
        scope = Q(tenant=owner)
    else:
        return []
    return list(NotificationRule.objects.filter(scope).select_related("tenant", "project__tenant"))


def _passes_threshold(rule: NotificationRule, event: Event) -> bool:
    if event.name == "discovery.failed":
        return event.details.get("consecutiveFailures", 0) >= rule.discovery_failures
    if event.name == "capacity.dropped":
        return event.details.get("drop", 0) >= rule.capacity_drop
    return True


def _hears(rule: NotificationRule, event: Event) -> bool:
    """Does `rule` send `event` now (opening or closing its condition on the way)?"""
    if event.name in PROBLEMS:
        if not _passes_threshold(rule, event):
            return False
        watched = {event.name, *PROBLEMS[event.name]} & set(rule.events)
        if not watched:
            return False
        _, opened = Condition.objects.get_or_create(
            rule=rule, event=event.name, subject_uid=event.subject.uid
        )
        return opened and event.name in rule.events
    if event.name in RECOVERS:
        closed, _ = Condition.objects.filter(
            rule=rule, event=RECOVERS[event.name], subject_uid=event.subject.uid
        ).delete()
        if event.name not in rule.events:
            return False
        return bool(closed) or event.name not in ONLY_AFTER_PROBLEM
    return event.name in rule.events and _passes_threshold(rule, event)


def on_event(event: Event) -> None:
    """core.events listener: one Notification per rule that sends `event`, delivered once committed."""
    for rule in rules_for(event.namespace):
        if _hears(rule, event):
            create(rule, event)


def create(rule: NotificationRule, event: Event, *, test: bool = False) -> Notification:
    muted = rule.muted
    notification = Notification.objects.create(
        rule=rule,
        event=event.name,
        namespace=event.namespace,
        subject_kind=event.subject.kind,
        subject_name=event.subject.name[:253],
        subject_uid=event.subject.uid[:100],
        message=event.message,
        details=event.details,
        occurred_at=event.occurred_at,
        test=test,
        status=Notification.MUTED if muted else Notification.PENDING,
    )
    if not muted:
        enqueue_on_commit("notifications.deliver", notification.pk)
    return notification


def remove_rules(owner, *, request=None, user=None, source: str = "web") -> None:
    """tenancy.deletion cleanup: the owner's rules go with it (their notifications and conditions too)."""
    field = "project" if isinstance(owner, Project) else "tenant"
    for rule in NotificationRule.objects.filter(**{field: owner}):
        audit.record(request, AuditEntry.DELETE, rule, source=source, user=user, tenant=rule.audit_tenant)
        rule.delete()
