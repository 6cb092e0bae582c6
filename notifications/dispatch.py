"""From an event (core.events) to Notification rows: which rules hear it, and what is not sent again.

A problem event (host.unhealthy, pool.failed, discovery.failed, credentials.rejected) opens a Condition per
rule and subject; while it is open the same problem is not sent again, so 50 flapping hosts cause one
notification each, not one per discovery. Its recovery (host.recovered; pool.ready or pool.deleted;
discovery.succeeded; credentials.accepted) closes it; host.recovered is sent only for a host that was
reported unhealthy or offline. A muted rule records the notification as muted and sends nothing.

host.offline is emitted once, when the inventory starts showing the host Unknown (compute.notify); each rule
holds it back until the host has been gone for the rule's `offline_minutes`, counted from `offlineSince`, and
drops it unsent when the host is back before then (README "Notifications").
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from core import audit
from core.events import Event
from core.models import AuditEntry
from core.tasks import enqueue_on_commit
from tenancy.models import Project, Tenant, owner_for_namespace

from .models import Condition, Notification, NotificationRule

#: problem → the events that end it.
PROBLEMS = {
    "host.unhealthy": ("host.recovered",),
    "host.offline": ("host.recovered",),
    "pool.failed": ("pool.ready", "pool.deleted"),
    "discovery.failed": ("discovery.succeeded",),
    "credentials.rejected": ("credentials.accepted",),
    # Nothing ends it: its subject names the expiry date and the 30/7/1-day mark, so each mark is sent once
    # (integrations.notify.credentials_expiring) and a new key starts afresh.
    "credentials.expiring": (),
    "certificate.expiring": (),
}
#: recovery → the problems it ends (a host.recovered naming `details.problem` ends that one only).
RECOVERS: dict[str, tuple[str, ...]] = {}
for _problem, _ends in PROBLEMS.items():
    for _end in _ends:
        RECOVERS[_end] = (*RECOVERS.get(_end, ()), _problem)
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
        problems = RECOVERS[event.name]
        if event.details.get("problem") in problems:
            problems = (event.details["problem"],)
        closed, _ = Condition.objects.filter(
            rule=rule, event__in=problems, subject_uid=event.subject.uid
        ).delete()
        if closed and _drop_held(rule, problems, event.subject.uid):
            return False  # the problem was never told: neither is its end
        if event.name not in rule.events:
            return False
        return bool(closed) or event.name not in ONLY_AFTER_PROBLEM
    return event.name in rule.events and _passes_threshold(rule, event)


def _not_before(rule: NotificationRule, event: Event) -> datetime | None:
    """When a host.offline may go out for `rule`: `offline_minutes` after the host was last seen."""
    if event.name != "host.offline":
        return None
    try:
        since = datetime.fromisoformat(str(event.details.get("offlineSince", "")))
    except ValueError:
        return None
    due = since + timedelta(minutes=rule.offline_minutes)
    return due if due > timezone.now() else None


def _drop_held(rule: NotificationRule, problems: tuple[str, ...], uid: str) -> bool:
    """Delete `rule`'s notifications of `problems` about `uid` still held back (never tried); any?"""
    held = Notification.objects.filter(
        rule=rule,
        event__in=problems,
        subject_uid=uid[:100],
        status__in=(Notification.PENDING, Notification.MUTED),
        attempts=0,
        next_try_at__gt=timezone.now(),
    )
    deleted, _ = held.delete()
    return bool(deleted)


def on_event(event: Event) -> None:
    """core.events listener: one Notification per rule that sends `event`, delivered once committed."""
    for rule in rules_for(event.namespace):
        if _hears(rule, event):
            create(rule, event, not_before=_not_before(rule, event))


def create(
    rule: NotificationRule, event: Event, *, test: bool = False, not_before: datetime | None = None
) -> Notification:
    """The Notification of `event` for `rule`, sent once committed (at `not_before` when given)."""
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
        next_try_at=not_before,
    )
    if not muted:
        wait = (not_before - timezone.now()).total_seconds() if not_before else 0
        # A long wait is also picked up by the sweep (beat) once due: a lost message delays nothing.
        enqueue_on_commit("notifications.deliver", notification.pk, countdown=max(0.0, wait))
    return notification


def remove_rules(owner, *, request=None, user=None, source: str = "web") -> None:
    """tenancy.deletion cleanup: the owner's rules go with it (their notifications and conditions too)."""
    field = "project" if isinstance(owner, Project) else "tenant"
    for rule in NotificationRule.objects.filter(**{field: owner}):
        audit.record(request, AuditEntry.DELETE, rule, source=source, user=user, tenant=rule.audit_tenant)
        rule.delete()
