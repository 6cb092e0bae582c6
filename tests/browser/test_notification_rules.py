"""The notification rules page in Chromium: a live server, a real Celery worker on Redis and a real HTTP
receiver on loopback. A rule is created in the browser (a bad URL first: the message shows and nothing typed
is lost), "Send test" delivers a signed request, and the rule's delivery log shows it delivered."""

from __future__ import annotations

import json

import pytest

from tests.browser import log_in
from tests.conftest import CeleryProcess, require_services, wait_for
from tests.notifications.helpers import Receiver, secret, verify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RULES = "/tenants/acme/projects/research/notifications/"
LOOPBACK = "127.0.0.0/8"


@pytest.fixture
def worker(transactional_db, settings, tmp_path):
    require_services()
    process = CeleryProcess(
        "worker", tmp_path / "celery.log", settings.REDIS_URL, env={"NOTIFY_ALLOWED_NETWORKS": LOOPBACK}
    )
    yield process
    process.stop()


@pytest.fixture
def receiver():
    server = Receiver(codes=[200])
    yield server
    server.stop()


def test_a_rule_made_in_the_browser_sends_a_signed_test(live_server, page, worker, receiver, settings):
    from notifications.models import Notification, NotificationRule
    from tests.conftest import World

    settings.NOTIFY_ALLOWED_NETWORKS = [LOOPBACK]  # the receiver is on loopback (README "Notifications")
    world = World()
    secret(world.project_a)
    log_in(page, live_server, "owner", lands="/")
    page.goto(f"{live_server.url}{RULES}")
    assert page.locator("#no-rules").is_visible()

    # Bad input: a URL that is not http(s). The form says what to fix and keeps everything typed.
    form = page.locator("#new-rule form")
    page.fill("#id_name", "ops-hook")
    page.check("input[name=events][value='pool.failed']")
    page.check("input[name=events][value='host.offline']")
    page.select_option("#id_channel", "webhook")
    page.fill("#id_url", "ftp://127.0.0.1/palette")
    page.fill("#id_secret_name", "ops-hook-secret")
    page.fill("#id_offline_minutes", "25")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#id_url-error")
    assert "must start with https://" in page.locator("#id_url-error").inner_text()
    assert page.input_value("#id_name") == "ops-hook"
    assert page.input_value("#id_url") == "ftp://127.0.0.1/palette"
    assert page.input_value("#id_secret_name") == "ops-hook-secret"
    assert page.input_value("#id_offline_minutes") == "25"
    assert page.input_value("#id_channel") == "webhook"
    assert page.is_checked("input[name=events][value='pool.failed']")
    assert page.is_checked("input[name=events][value='host.offline']")
    assert not NotificationRule.objects.exists()

    page.fill("#id_url", receiver.url)
    page.locator("#new-rule form button[type=submit]").click()
    page.wait_for_selector("#rules")
    rule = NotificationRule.objects.get(name="ops-hook")
    assert (rule.events, rule.url, rule.offline_minutes) == (
        ["pool.failed", "host.offline"],
        receiver.url,
        25,
    )

    page.click("#rules >> text=ops-hook")
    page.wait_for_url(f"{live_server.url}{RULES}ops-hook/")
    assert page.locator("#no-deliveries").is_visible()
    page.click("#send-test")
    page.wait_for_selector("#delivery-log")
    wait_for(
        lambda: receiver.requests, timeout=30, message="the receiver to get the test\n" + worker.log_text()
    )
    headers, raw = receiver.requests[0]
    body = verify(headers, raw)  # signed with the Secret's hmacKey
    n = Notification.objects.get(rule=rule)
    assert headers["X-PaletteAI-Event"] == "pool.failed" and headers["X-PaletteAI-Delivery"] == str(
        n.delivery_id
    )
    assert body["namespace"] == "acme-research" and body["details"] == {"test": True}
    assert "k3y-for-signing" not in json.dumps(body)

    wait_for(
        lambda: Notification.objects.filter(pk=n.pk, status="delivered").exists(),
        timeout=30,
        message="the delivery to be recorded",
    )
    page.reload()
    log = page.locator("#delivery-log").inner_text()
    assert "pool.failed (test)" in log and "Delivered" in log and "200" in log
