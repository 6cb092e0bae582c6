"""Email through a local SMTP server (aiosmtpd), the NotificationRule manifest (apply/export round trip, bad
input at its path), and the rules page (create, errors in the form, roles, send test)."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from django.urls import reverse

from core.events import Subject, emit
from core.manifests import apply_text, export_text
from core.models import AuditEntry
from notifications import delivery
from notifications.models import Notification, NotificationRule
from tests.notifications.helpers import free_port, secret

pytestmark = pytest.mark.django_db

RULE = """
apiVersion: admin.paletteai/v1
kind: NotificationRule
metadata: {name: ops-hook, namespace: acme-research}
spec:
  events: [host.unhealthy, pool.failed]
  webhook: {url: https://hooks.example.com/palette, secretRef: {name: ops-hook-secret}}
"""


class Inbox(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


def test_email_goes_through_a_real_smtp_server(world, settings):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        rule = NotificationRule(
            name="mail", events=["pool.failed"], channel="email", email_to=["ops@example.com"]
        )
        rule.set_owner(world.project_a)
        rule.save()
        emit("pool.failed", "acme-research", Subject("ComputePool", "web", "u-1"), "web failed: no hosts")
        n = Notification.objects.get(rule=rule)
        delivery.deliver(n.pk)
    finally:
        controller.stop()
    n.refresh_from_db()
    assert n.status == "delivered" and len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "ops@example.com" and "pool.failed" in message["Subject"]
    assert "web failed: no hosts" in message.get_payload() and str(n.delivery_id) in message.get_payload()


def test_an_smtp_server_that_is_down_is_retried(world, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    rule = NotificationRule(
        name="mail", events=["pool.failed"], channel="email", email_to=["ops@example.com"]
    )
    rule.set_owner(world.project_a)
    rule.save()
    emit("pool.failed", "acme-research", Subject("ComputePool", "web", "u-1"), "web failed")
    n = Notification.objects.get(rule=rule)
    delivery.deliver(n.pk)
    n.refresh_from_db()
    assert (n.status, n.attempts) == ("pending", 1) and "mail server" in n.last_error


def test_manifest_round_trip(world):
    secret(world.project_a)
    result = apply_text(RULE)
    assert result.ok, result.errors
    assert [str(c) for c in result.changes] == ["notificationrule/ops-hook -n acme-research created"]
    assert apply_text(RULE).changes[0].action == "unchanged"
    exported = export_text("acme-research")
    assert "kind: NotificationRule" in exported and "hmacKey" in exported  # the Secret, REDACTED
    assert "k3y-for-signing" not in exported
    rule_only = exported.split("---")[-1]
    assert "secretRef:\n      name: ops-hook-secret" in rule_only
    NotificationRule.objects.all().delete()
    assert apply_text("---" + rule_only).ok
    rule = NotificationRule.objects.get()
    assert (rule.events, rule.url) == (["host.unhealthy", "pool.failed"], "https://hooks.example.com/palette")
    assert AuditEntry.objects.filter(object_type="notification rule", action="create").exists()


@pytest.mark.parametrize(
    "change, path, words",
    [
        (("[host.unhealthy, pool.failed]", "[host.sad]"), "spec.events", "unknown event 'host.sad'"),
        (("https://hooks.example.com/palette", "ftp://hooks.example.com/x"), "spec.webhook.url", "https://"),
        (("https://hooks.example.com/palette", "http://169.254.169.254/x"), "spec.webhook.url", "metadata"),
        (
            ("https://hooks.example.com/palette", "http://10.1.2.3/x"),
            "spec.webhook.url",
            "NOTIFY_ALLOWED_NETWORKS",
        ),
        (("ops-hook-secret", "nope"), "spec.webhook.secretRef.name", "Secret nope does not exist"),
    ],
)
def test_manifest_bad_input_is_reported_at_its_path(world, change, path, words):
    secret(world.project_a)
    result = apply_text(RULE.replace(*change))
    assert not result.ok and not NotificationRule.objects.exists()
    assert any(f"{path}: " in e and words in e for e in result.errors), result.errors


def test_the_page_creates_a_rule_and_shows_bad_input_in_the_form(world):
    secret(world.project_a)
    url = reverse("notifications:project_rules", args=["acme", "research"])
    client = world.client_for(world.editor)
    bad = {
        "name": "hook",
        "events": ["pool.failed"],
        "channel": "webhook",
        "url": "gopher://x",
        "secret_name": "nope",
    }
    bad |= {"discovery_failures": 3, "capacity_drop": 1}
    page = client.post(url, bad)
    text = page.content.decode()
    assert (
        page.status_code == 200
        and "must start with https://" in text
        and "Secret nope does not exist" in text
    )
    page = client.post(url, {**bad, "events": ["pool.sad"]})
    assert "pool.sad is not one of the available choices" in page.content.decode()
    good = {**bad, "url": "https://hooks.example.com/palette", "secret_name": "ops-hook-secret"}
    assert client.post(url, good).status_code == 302
    rule = NotificationRule.objects.get(name="hook")
    assert rule.project == world.project_a and AuditEntry.objects.filter(object_repr=str(rule)).exists()
    assert client.get(url).status_code == 200
    assert world.client_for(world.viewer).post(url, good).status_code == 403
    test_url = reverse("notifications:project_rule_test", args=["acme", "research", "hook"])
    assert client.post(test_url).status_code == 302
    n = Notification.objects.get(rule=rule)
    assert n.test and n.status == "pending"
    page = client.get(reverse("notifications:project_rule", args=["acme", "research", "hook"]))
    assert page.status_code == 200 and 'id="delivery-log"' in page.content.decode()
