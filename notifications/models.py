"""Notification rules of a tenant or project, the notifications they produce, and open conditions.

A rule has a set of events (core.events.EVENTS) and one channel: a signed webhook (HMAC key from a
Secret of the rule's namespace, key `hmacKey`), a Slack-compatible incoming webhook, or email. Every
occurrence of an event a rule subscribes to is one Notification row, delivered by a Celery task with
retries (notifications.delivery). A `Condition` remembers that a rule was told about a subject's
problem (a host unhealthy) until it recovers, so the problem is not sent again meanwhile.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from django.db import models
from django.utils import timezone

from integrations.models import DNS1123_SUBDOMAIN, Scoped
from tenancy.models import DNS1123_LABEL, scope_constraint


class NotificationRule(Scoped):
    WEBHOOK, SLACK, EMAIL = "webhook", "slack", "email"
    CHANNEL_CHOICES = [(WEBHOOK, "Signed webhook"), (SLACK, "Slack-compatible webhook"), (EMAIL, "Email")]

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=63, validators=[DNS1123_LABEL])
    events = models.JSONField(default=list)
    channel = models.CharField(max_length=8, choices=CHANNEL_CHOICES)
    url = models.URLField(max_length=2000, blank=True)
    secret_name = models.CharField(max_length=253, blank=True, validators=[DNS1123_SUBDOMAIN])
    email_to = models.JSONField(default=list, blank=True)
    discovery_failures = models.PositiveIntegerField(default=3)
    capacity_drop = models.PositiveIntegerField(default=1)
    #: host.offline is sent once a host has not been seen (or its health was unknown) this long.
    offline_minutes = models.PositiveIntegerField(default=10)
    muted_until = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "name"], name="notificationrule_unique_in_namespace"
            ),
            scope_constraint("notificationrule_tenant_xor_project"),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def muted(self) -> bool:
        return bool(self.muted_until and self.muted_until > timezone.now())

    @property
    def target(self) -> str:
        """Where it sends, for pages and the audit log (a URL without its query, which may hold a token)."""
        if self.channel == self.EMAIL:
            return ", ".join(self.email_to)
        if self.channel == self.SLACK:  # an incoming webhook's path is its token
            parts = urlsplit(self.url)
            return f"{parts.scheme}://{parts.netloc}/…"
        return self.url.split("?", 1)[0]


class Notification(models.Model):
    """One occurrence of an event for one rule, and its delivery: attempts, status, response, next try."""

    PENDING, SENDING, DELIVERED, FAILED, MUTED = "pending", "sending", "delivered", "failed", "muted"
    STATUS_CHOICES = [(s, s.capitalize()) for s in (PENDING, SENDING, DELIVERED, FAILED, MUTED)]

    rule = models.ForeignKey(NotificationRule, on_delete=models.CASCADE, related_name="notifications")
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(max_length=40)
    namespace = models.CharField(max_length=63)
    subject_kind = models.CharField(max_length=40)
    subject_name = models.CharField(max_length=253)
    subject_uid = models.CharField(max_length=100)
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    test = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_try_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["rule", "-created"])]

    def __str__(self) -> str:
        return f"{self.event} {self.subject_kind} {self.subject_name} → {self.rule}"

    @property
    def audit_tenant(self):
        return self.rule.audit_tenant

    def body(self) -> dict:
        """The JSON a webhook receives (README, "Notifications")."""
        return {
            "event": self.event,
            "namespace": self.namespace,
            "occurredAt": self.occurred_at.isoformat().replace("+00:00", "Z"),
            "subject": {"kind": self.subject_kind, "name": self.subject_name, "uid": self.subject_uid},
            "message": self.message,
            "details": self.details,
        }


class Condition(models.Model):
    """A rule was told that `subject_uid` has problem `event`; nothing more about it until it recovers."""

    rule = models.ForeignKey(NotificationRule, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=40)
    subject_uid = models.CharField(max_length=100)
    since = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "event", "subject_uid"], name="condition_unique")
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.subject_uid} ({self.rule_id})"
