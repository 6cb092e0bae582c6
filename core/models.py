"""Plumbing models every app uses: the abstract TaskRun, the audit log and the worker heartbeat."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone


class TaskRun(models.Model):
    """One execution of a background task against one target.

    States: pending → running → succeeded | failed (or cancelled before it ran). The row is
    written before the task is enqueued; the worker claims it with a compare-and-set on the status,
    so a redelivered message (acks_late) never runs the same row twice at once. `first_error` keeps
    the first failure for the whole run, `last_error` the latest; `progress` is free-form JSON the
    UI renders (pages, hosts seen, step).
    """

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STATUS_CHOICES = [
        (PENDING, "Pending"),
        (RUNNING, "Running"),
        (SUCCEEDED, "Succeeded"),
        (FAILED, "Failed"),
        (CANCELLED, "Cancelled"),
    ]
    ACTIVE = (PENDING, RUNNING)
    TERMINAL = (SUCCEEDED, FAILED, CANCELLED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=PENDING, db_index=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    first_error = models.TextField(blank=True)
    last_error = models.TextField(blank=True)
    progress = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["-created"]

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def duration(self):
        if not self.started:
            return None
        return (self.finished or timezone.now()) - self.started

    def claim(self) -> bool:
        """Move pending → running atomically; False when another worker got there first or it ended."""
        now = timezone.now()
        claimed = (
            type(self)
            .objects.filter(pk=self.pk, status=self.PENDING)
            .update(status=self.RUNNING, started=now)
        )
        if claimed:
            self.status, self.started = self.RUNNING, now
        return bool(claimed)

    def record_error(self, message: str) -> None:
        """Keep the first error of the run and the latest one."""
        fields = {"last_error": message}
        if not self.first_error:
            fields["first_error"] = message
        type(self).objects.filter(pk=self.pk).update(**fields)
        for key, value in fields.items():
            setattr(self, key, value)

    def set_progress(self, **values) -> None:
        self.progress = {**self.progress, **values}
        type(self).objects.filter(pk=self.pk).update(progress=self.progress)

    def requeue(self, note: str) -> bool:
        """Move running → pending again (compare-and-set) after a transient failure, noting why in the log.

        False when the run is no longer running (the watchdog failed it meanwhile): nothing changes.
        """
        stamp = timezone.now().strftime("%H:%M:%S")
        line = f"{stamp} {note}\n"
        moved = (
            type(self)
            .objects.filter(pk=self.pk, status=self.RUNNING)
            .update(
                status=self.PENDING,
                started=None,
                log=Concat(F("log"), Value(line), output_field=models.TextField()),
            )
        )
        if moved:
            self.status, self.started, self.log = self.PENDING, None, f"{self.log}{line}"
        return bool(moved)

    def finish(self, status: str = SUCCEEDED, error: str = "") -> None:
        """End the run (succeeded, failed or cancelled); an error is recorded first."""
        if error:
            self.record_error(error)
        self.status, self.finished = status, timezone.now()
        type(self).objects.filter(pk=self.pk).update(status=status, finished=self.finished)


def one_active_run_per(field: str, *, name: str) -> models.UniqueConstraint:
    """The database's guarantee that `field` (e.g. the project) has at most one pending or running row.

    core.tasks.create_or_active checks first and relies on this for the race between two requests;
    rows whose `field` is NULL never collide (a tenant-level row has no project).
    """
    return models.UniqueConstraint(fields=[field], condition=Q(status__in=TaskRun.ACTIVE), name=name)


class WorkerHeartbeat(TaskRun):
    """A round trip through the broker and a worker: proves background work is being done.

    Beat enqueues one every HEARTBEAT_INTERVAL seconds; the overview shows when a worker last
    answered, so "nothing happens" has a visible cause.
    """

    worker = models.CharField(max_length=200, blank=True)

    class Meta(TaskRun.Meta):
        verbose_name = "worker heartbeat"

    def __str__(self) -> str:
        by = f" by {self.worker}" if self.worker else ""
        return f"heartbeat {self.created:%Y-%m-%d %H:%M:%S} {self.status}{by}"


class AuditEntry(models.Model):
    """Who did what to which object, when, from where, and whether it worked.

    Never holds a secret value: `changes` lists changed field names, with values only for
    fields that are not secret (see core.audit.record). `actor_via` holds the identity provider's subject
    and the groups that granted the user's role in the entry's tenant or project (core.audit
    register_actor_context); it is empty for local memberships, superusers and system entries.
    """

    CREATE, UPDATE, DELETE, ACTION = "create", "update", "delete", "action"
    ACTION_CHOICES = [(CREATE, "Create"), (UPDATE, "Update"), (DELETE, "Delete"), (ACTION, "Action")]
    SUCCESS, FAILURE = "success", "failure"

    created = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=16, choices=ACTION_CHOICES)
    verb = models.CharField(
        max_length=80, blank=True, help_text="What was done, e.g. 'skip TLS verification on'."
    )
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=80, blank=True)
    object_repr = models.CharField(max_length=200)
    tenant = models.ForeignKey(
        "tenancy.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tenant_name = models.CharField(max_length=63, blank=True)
    outcome = models.CharField(max_length=16, default=SUCCESS)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    source = models.CharField(max_length=16, default="web", help_text="web, cli, admin or task")
    changes = models.JSONField(default=dict, blank=True)
    actor_via = models.JSONField(
        default=dict,
        blank=True,
        help_text="How the user held the role used, when single sign-on groups granted it: "
        '{"subject": provider subject, "groups": [groups]} (empty for local roles).',
    )

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["tenant", "-created"])]

    def __str__(self) -> str:
        return f"{self.username or 'system'} {self.action} {self.object_type} {self.object_repr}"
