"""host.offline: a host discovery has not seen (Palette unreachable, scans failing), or whose Palette health
is unknown, for the rule's N minutes is told once per host until it is seen again (then host.recovered)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compute.discovery import run_discovery, start_discovery
from compute.liveness import health_history
from compute.models import DiscoveryRun, EdgeHost, HostChange
from notifications.delivery import deliver
from notifications.manifests import manifest
from notifications.models import Notification
from palette.sim.faults import Faults
from tests.notifications.helpers import rule, secret

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/palette"
EVENTS = ("host.offline", "host.recovered")


def _discover(project, expected: str = "succeeded") -> None:
    assert run_discovery(start_discovery(project)).status == expected


def _last_seen_ago(project, minutes: int) -> None:
    """As if discovery last saw the project's hosts `minutes` ago (its last good scan finished then)."""
    then = timezone.now() - timedelta(minutes=minutes)
    DiscoveryRun.objects.filter(project=project).update(created=then, finished=then)
    EdgeHost.objects.filter(project=project).update(last_seen=then)


def test_hosts_not_seen_for_n_minutes_are_told_once_each_until_seen_again(connected_project, sim, settings):
    settings.HOST_UNKNOWN_AFTER = 600
    project = connected_project
    secret(project)
    hook = rule(project, URL, events=EVENTS, offline_minutes=10)
    _discover(project)
    live = set(EdgeHost.objects.filter(project=project, gone=False).values_list("uid", flat=True))
    assert live and not Notification.objects.exists()

    _last_seen_ago(project, 20)
    sim.faults.set(Faults.parse("403:1"))  # Palette refuses every call: the scans fail, nobody is seen
    for _ in range(2):
        _discover(project, "failed")
    offline = Notification.objects.filter(rule=hook, event="host.offline")
    assert sorted(offline.values_list("subject_uid", flat=True)) == sorted(live)  # exactly one per host
    first = offline.first()
    assert first.next_try_at is None and first.status == Notification.PENDING  # due now: 20 min > 10
    assert first.details["reason"] == "not seen by discovery" and "is offline" in first.message

    sim.faults.set(Faults.parse(""))
    _discover(project)
    _discover(project)
    recovered = Notification.objects.filter(rule=hook, event="host.recovered")
    assert sorted(recovered.values_list("subject_uid", flat=True)) == sorted(live)
    assert "seen again" in recovered.first().message
    host = EdgeHost.objects.get(project=project, uid=first.subject_uid)
    assert [(t["from"], t["to"]) for t in health_history(host.history.all()[:50])][:2] == [
        ("offline", "online"),
        ("online", "offline"),
    ]


def test_a_rule_waits_its_own_minutes_and_drops_what_recovered_before(connected_project, sim, settings):
    settings.HOST_UNKNOWN_AFTER = 600
    project = connected_project
    secret(project)
    quick = rule(project, URL, events=EVENTS, offline_minutes=10, name="quick")
    patient = rule(project, URL, events=EVENTS, offline_minutes=60, name="patient")
    assert manifest(patient)["spec"]["offlineMinutes"] == 60
    _discover(project)
    hosts = EdgeHost.objects.filter(project=project, gone=False).count()

    _last_seen_ago(project, 15)
    sim.faults.set(Faults.parse("403:1"))
    _discover(project, "failed")
    assert Notification.objects.filter(rule=quick, event="host.offline", next_try_at=None).count() == hosts
    held = Notification.objects.filter(rule=patient, event="host.offline")
    assert held.count() == hosts
    waiting = held.first()
    due = waiting.next_try_at - timezone.now()
    assert timedelta(minutes=40) < due <= timedelta(minutes=45)  # 60 minutes after it was last seen
    assert deliver(waiting.pk) is None  # not due: nothing is sent yet
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == (Notification.PENDING, 0)

    sim.faults.set(Faults.parse(""))
    _discover(project)
    assert not Notification.objects.filter(rule=patient).exists()  # back in time: never told, nor its end
    assert Notification.objects.filter(rule=quick, event="host.recovered").count() == hosts


def test_a_host_whose_palette_health_is_unknown_for_n_minutes_is_offline(connected_project, sim, settings):
    settings.HOST_UNKNOWN_AFTER = 600
    project = connected_project
    secret(project)
    hook = rule(project, URL, events=(*EVENTS, "host.unhealthy"), offline_minutes=10)
    _discover(project)
    uid = EdgeHost.objects.filter(project=project, gone=False, health="healthy").order_by("name")[0].uid
    sim.state.hosts[uid].health = ""  # Palette stopped reporting its health
    _discover(project)
    assert not Notification.objects.filter(rule=hook).exists()  # unknown for a moment only
    HostChange.objects.filter(host__uid=uid, changes__has_key="health").update(
        created=timezone.now() - timedelta(minutes=11)
    )
    _discover(project)
    _discover(project)
    sent = Notification.objects.filter(rule=hook)
    assert list(sent.values_list("event", "subject_uid")) == [("host.offline", uid)]
    assert sent.get().details["reason"] == "Palette reports no health for it"

    sim.state.hosts[uid].health = "healthy"
    _discover(project)
    _discover(project)
    assert list(sent.filter(event="host.recovered").values_list("subject_uid", flat=True)) == [uid]


RULE = """
apiVersion: admin.paletteai/v1
kind: NotificationRule
metadata: {name: liveness, namespace: acme-research}
spec:
  events: [host.offline, host.recovered]
  offlineMinutes: 30
  webhook: {url: https://hooks.example.com/palette, secretRef: {name: ops-hook-secret}}
"""


def test_the_manifest_and_the_page_take_host_offline_and_its_minutes(world):
    from django.urls import reverse

    from core.manifests import apply_text
    from notifications.models import NotificationRule

    secret(world.project_a)
    result = apply_text(RULE)
    assert result.ok, result.errors
    hook = NotificationRule.objects.get(name="liveness")
    assert (hook.events, hook.offline_minutes) == (["host.offline", "host.recovered"], 30)
    bad = apply_text(RULE.replace("offlineMinutes: 30", "offlineMinutes: 0"))
    assert any("spec.offlineMinutes: " in e and "between 1 and 1440" in e for e in bad.errors), bad.errors

    url = reverse("notifications:project_rules", args=["acme", "research"])
    client = world.client_for(world.editor)
    form = {"name": "page-hook", "events": ["host.offline"], "channel": "webhook", "url": URL}
    form |= {"secret_name": "ops-hook-secret", "discovery_failures": 3, "capacity_drop": 1}
    page = client.post(url, {**form, "offline_minutes": 0})
    assert page.status_code == 200 and "greater than or equal to 1" in page.content.decode()
    assert "host.offline after N minutes" in client.get(url).content.decode()
    assert client.post(url, {**form, "offline_minutes": 25}).status_code == 302
    assert NotificationRule.objects.get(name="page-hook").offline_minutes == 25
    assert client.post(url, {**form, "name": "default-hook"}).status_code == 302  # blank: 10 minutes
    assert NotificationRule.objects.get(name="default-hook").offline_minutes == 10
