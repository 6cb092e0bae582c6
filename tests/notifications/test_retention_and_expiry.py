"""Bounded history: the daily prune removes old notifications (never one still on its way) and old host
history; the daily expiry radar tells credentials.expiring and certificate.expiring once per mark."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from compute.models import EdgeHost, HostChange
from core.retention import prune
from integrations.models import PaletteCheck
from integrations.tasks import expiry_radar, expiry_radar_task
from notifications.models import Notification
from tests.notifications.helpers import rule, secret

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/palette"


def _notification(hook, status: str, days_old: int) -> Notification:
    when = timezone.now() - timedelta(days=days_old)
    return Notification.objects.create(
        rule=hook,
        event="pool.failed",
        namespace=hook.namespace,
        subject_kind="ComputePool",
        subject_name="web",
        subject_uid=f"{status}-{days_old}",
        message="failed",
        occurred_at=when,
        status=status,
        created=when,
    )


def test_prune_removes_old_notifications_but_keeps_recent_and_undelivered_ones(world, settings):
    settings.RETENTION_NOTIFICATIONS_DAYS = 30
    secret(world.project_a)
    hook = rule(world.project_a, URL)
    old = [_notification(hook, s, 40) for s in ("delivered", "failed", "muted")]
    kept = [_notification(hook, s, 40) for s in ("pending", "sending")] + [
        _notification(hook, "delivered", 5)
    ]
    out = StringIO()
    call_command("prune", "--dry-run", stdout=out)
    assert "notifications: would remove 3 older than 30 days" in out.getvalue()
    assert Notification.objects.count() == 6

    result = {p.name: p.count for p in prune()}
    assert result["notifications"] == 3
    assert set(Notification.objects.values_list("pk", flat=True)) == {n.pk for n in kept}
    assert not Notification.objects.filter(pk__in=[n.pk for n in old]).exists()
    assert {p.name: p.count for p in prune()}["notifications"] == 0  # idempotent

    settings.RETENTION_NOTIFICATIONS_DAYS = 0  # kept for ever
    _notification(hook, "delivered", 400)
    assert {p.name: p.count for p in prune()}["notifications"] == 0


def test_prune_removes_old_host_health_history(world, settings):
    settings.RETENTION_HOST_HISTORY_DAYS = 90
    host = EdgeHost.objects.create(project=world.project_a, uid="h-1", name="h-1", fingerprint="x")
    now = timezone.now()
    for days, kind, changes in (
        (100, HostChange.UPDATED, {"health": ["healthy", "unhealthy"]}),
        (95, "offline", {"liveness": ["online", "offline"]}),
        (10, HostChange.UPDATED, {"health": ["unhealthy", "healthy"]}),
    ):
        HostChange.objects.create(host=host, kind=kind, changes=changes, created=now - timedelta(days=days))
    assert {p.name: p.count for p in prune()}["host history entries"] == 2
    assert list(host.history.values_list("changes", flat=True)) == [{"health": ["unhealthy", "healthy"]}]


def _check(owner, *, key_expires=None, server_not_after: str = "", no_expiry=False) -> PaletteCheck:
    stages = [{"key": "apikey", "name": "API key", "passed": True, "detail": ""}]
    if no_expiry:  # the key listing was read and lists no expiry for the key in use
        stages[0]["key_expiry"] = {"visible": True, "expiresAt": "", "text": "no expiry listed"}
    if key_expires is not None:
        stages[0]["key_expiry"] = {"visible": True, "expiresAt": key_expires.isoformat(), "daysLeft": 99}
    if server_not_after:
        stages.append(
            {
                "key": "tls",
                "passed": True,
                "certificate": {"subject": "CN=palette", "not_after": server_not_after},
            }
        )
    return PaletteCheck.objects.create(
        tenant=owner, status=PaletteCheck.SUCCEEDED, outcome=PaletteCheck.CONNECTED, stages=stages
    )


def test_the_daily_radar_tells_each_expiry_mark_once(world, sim):
    from tests.integrations.conftest import configure_palette, palette_values

    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    secret(world.tenant_a)
    hook = rule(world.tenant_a, URL, events=("credentials.expiring", "certificate.expiring"))
    now = timezone.now()
    server_expiry = f"{(now + timedelta(days=20)).date():%Y-%m-%d}"
    _check(world.tenant_a, key_expires=now + timedelta(days=5, hours=1), server_not_after=server_expiry)
    _check(world.tenant_a)  # a newer check that could not read the expiry: the older facts still count

    expiry_radar_task()
    expiry_radar_task()  # the next day's run: the same marks, nothing new
    sent = Notification.objects.filter(rule=hook).order_by("event")
    assert [(n.event, n.details.get("daysLeft")) for n in sent] == [
        ("certificate.expiring", 20),
        ("credentials.expiring", 5),
    ]
    assert "expires in 5 days" in sent[1].message and sim.api_key not in sent[1].message
    assert "Palette's server certificate" in sent[0].message

    expiry_radar(world.tenant_a, now=now + timedelta(days=4, hours=12))  # 1 day left: the next mark
    key = Notification.objects.filter(rule=hook, event="credentials.expiring")
    assert sorted(key.values_list("details__daysLeft", flat=True)) == [0, 5]
    expiry_radar(world.tenant_a, now=now + timedelta(days=6))  # expired: told by the checks, not again here
    assert key.count() == 2


def test_the_radar_skips_owners_without_facts_and_far_expiries(world, sim):
    from tests.integrations.conftest import configure_palette, palette_values

    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    secret(world.tenant_a)
    hook = rule(world.tenant_a, URL, events=("credentials.expiring", "certificate.expiring"))
    assert expiry_radar(world.tenant_a) == 0  # never checked, and the simulator's CA is far from expiry
    _check(world.tenant_a, key_expires=timezone.now() + timedelta(days=90))
    assert expiry_radar_task() == 0 and not Notification.objects.filter(rule=hook).exists()
    assert expiry_radar(world.tenant_b) == 0  # no Palette integration at all


def test_the_newest_key_reading_speaks_for_the_key_in_use(world, sim):
    from tests.integrations.conftest import configure_palette, palette_values

    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    secret(world.tenant_a)
    hook = rule(world.tenant_a, URL, events=("credentials.expiring",))
    _check(
        world.tenant_a, key_expires=timezone.now() + timedelta(days=5, hours=1)
    )  # the key before a rotation
    _check(world.tenant_a, no_expiry=True)  # the new key: no expiry listed
    assert expiry_radar(world.tenant_a) == 0
    assert not Notification.objects.filter(rule=hook).exists()


def test_beat_runs_the_radar_daily():
    from django.conf import settings

    from paletteai_admin.celery import app

    app.loader.import_default_modules()
    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "integrations.expiry_radar"]
    assert entries == [{"task": "integrations.expiry_radar", "schedule": 24 * 60 * 60}]
    assert "integrations.expiry_radar" in app.tasks
