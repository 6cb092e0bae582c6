"""Retention: the daily prune and `manage.py prune` delete old runs and history, never what the pages still
need."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from compute.liveness import last_successful_scan
from compute.models import DiscoveryRun, EdgeHost, HostChange, ProfileSync, TagEdit
from core.models import AuditEntry, TaskRun
from core.runs import kinds
from integrations.diagnosis import latest_check
from integrations.models import PaletteCheck


def _ago(days: float):
    return timezone.now() - timedelta(days=days)


def _run(model, days: float, status: str = TaskRun.SUCCEEDED, **fields):
    """A run created `days` ago (finished then too, unless active)."""
    finished = None if status in TaskRun.ACTIVE else _ago(days)
    return model.objects.create(
        created=_ago(days), started=_ago(days), finished=finished, status=status, **fields
    )


class History:
    """A seeded history: for each kind, rows that must go and rows that must stay (defaults: runs 30 days,
    host history 90, audit 365)."""

    def __init__(self, world):
        a, b = world.project_a, world.project_b
        # Discovery: A's newest success is 50 days old and must stay (the "last successful scan");
        # older successes and an old failure go (a newer failure exists); an old pending run stays.
        self.scan_gone = [
            _run(DiscoveryRun, 70, project=a),
            _run(DiscoveryRun, 60, project=a),
            _run(DiscoveryRun, 45, DiscoveryRun.FAILED, project=a),
        ]
        self.last_ok = _run(DiscoveryRun, 50, project=a)
        self.pending = _run(DiscoveryRun, 40, DiscoveryRun.PENDING, project=a)
        self.recent = [
            _run(DiscoveryRun, 1, DiscoveryRun.FAILED, project=a),
            _run(DiscoveryRun, 2, DiscoveryRun.CANCELLED, project=a),
        ]
        self.b_only = _run(DiscoveryRun, 90, project=b)  # project B's only run: the newest of its target
        # Connection checks belong to a tenant or a project (the other is NULL): each owner keeps its newest.
        self.check_gone = _run(PaletteCheck, 40, tenant=world.tenant_a, outcome="connected")
        self.check_tenant = _run(PaletteCheck, 35, tenant=world.tenant_a, outcome="connected")
        self.check_a = _run(PaletteCheck, 40, project=a, outcome="failed")
        self.check_b = _run(PaletteCheck, 41, project=b, outcome="connected")
        self.sync_gone, self.sync_kept = _run(ProfileSync, 60, project=a), _run(ProfileSync, 31, project=a)
        self.edit_gone = _run(TagEdit, 60, project=a, host_uids=["h-1"])
        self.edit_kept = _run(TagEdit, 31, project=a, host_uids=["h-1"])
        host = EdgeHost.objects.create(project=a, uid="h-1", name="h-1", fingerprint="x")
        # Host history is kept 90 days; a change whose run was pruned keeps its place, without the run.
        self.change_gone = HostChange.objects.create(
            host=host, run=self.scan_gone[0], kind="added", created=_ago(100)
        )
        self.change_kept = HostChange.objects.create(
            host=host, run=self.scan_gone[1], kind="updated", created=_ago(60)
        )
        entry = {"action": "update", "object_type": "project", "object_repr": "research"}
        self.audit_gone = AuditEntry.objects.create(**entry, created=_ago(400))
        self.audit_kept = AuditEntry.objects.create(**entry, created=_ago(300))

    def gone(self):
        return [
            *self.scan_gone,
            self.check_gone,
            self.sync_gone,
            self.edit_gone,
            self.change_gone,
            self.audit_gone,
        ]

    def kept(self):
        return [
            self.last_ok,
            self.pending,
            *self.recent,
            self.b_only,
            self.check_tenant,
            self.check_a,
            self.check_b,
            self.sync_kept,
            self.edit_kept,
            self.change_kept,
            self.audit_kept,
        ]


def _exists(row) -> bool:
    return type(row).objects.filter(pk=row.pk).exists()


def _prune(*args) -> str:
    out = StringIO()
    call_command("prune", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def history(world):
    return History(world)


def test_it_removes_what_is_older_than_its_retention_and_keeps_what_the_pages_need(world, history):
    out = _prune()
    assert [row for row in history.gone() if _exists(row)] == []
    assert [row for row in history.kept() if not _exists(row)] == []
    # What the pages show still has its rows.
    assert last_successful_scan(world.project_a) == history.last_ok.finished
    assert (
        latest_check(world.project_b) == history.check_b
        and latest_check(world.tenant_a) == history.check_tenant
    )
    history.change_kept.refresh_from_db()
    assert history.change_kept.run is None
    # One line per kind, with the count and the retention.
    for line in (
        "discovery runs: removed 3 older than 30 days",
        "connection checks: removed 1 older than 30 days",
        "profile syncs: removed 1 older than 30 days",
        "tag edits: removed 1 older than 30 days",
        "host history entries: removed 1 older than 90 days",
        "audit entries: removed 1 older than 365 days",
    ):
        assert line in out, out
    # A second pass finds nothing more.
    assert "removed 0 older than 30 days" in _prune() and all(_exists(row) for row in history.kept())


def test_the_dry_run_prints_what_would_go_and_deletes_nothing(world, history):
    counts = {kind.label: kind.model.objects.count() for kind in kinds()}
    out = _prune("--dry-run")
    assert "discovery runs: would remove 3 older than 30 days" in out
    assert "audit entries: would remove 1 older than 365 days" in out
    assert "removed" not in out.replace("would remove", "")
    assert {kind.label: kind.model.objects.count() for kind in kinds()} == counts
    assert all(_exists(row) for row in history.gone())


def test_retention_follows_the_settings_and_0_keeps_for_ever(world, history, settings):
    settings.RETENTION_DISCOVERY_RUNS_DAYS = 0
    settings.RETENTION_AUDIT_DAYS = 30
    out = _prune()
    assert "discovery runs: kept for ever (retention 0)" in out and all(
        _exists(run) for run in history.scan_gone
    )
    assert not _exists(history.audit_kept) and "audit entries: removed 2 older than 30 days" in out


def test_the_beat_schedule_runs_the_prune_daily_and_the_task_prunes(world, history):
    from core.tasks import prune_task
    from paletteai_admin.celery import app

    app.loader.import_default_modules()
    entries = [
        entry for entry in django_settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == "core.prune"
    ]
    assert len(entries) == 1 and entries[0]["schedule"] == 24 * 60 * 60
    assert "core.prune" in app.tasks
    assert prune_task()["discovery runs"] == 3
    assert [row for row in history.gone() if _exists(row)] == []


def test_every_run_kind_and_history_has_a_retention_setting():
    # Heartbeats are the one run kind without: they keep their last 100 themselves.
    concrete = {m._meta.label for m in apps.get_models() if issubclass(m, TaskRun)}
    kept = {kind.label: kind.retention for kind in kinds() if kind.retention}
    assert set(kept) == concrete - {"core.WorkerHeartbeat"} | {
        "compute.HostChange",
        "core.AuditEntry",
        "notifications.Notification",
    }
    assert all(isinstance(getattr(django_settings, name), int) for name in kept.values())
    assert (django_settings.RETENTION_DISCOVERY_RUNS_DAYS, django_settings.RETENTION_AUDIT_DAYS) == (30, 365)
