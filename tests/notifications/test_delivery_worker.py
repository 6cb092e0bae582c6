"""Delivery through a real Celery worker on Redis to a real HTTP receiver on loopback: the signature, one
delivery id across retries (500, then 200), and a receiver that is down for a while."""

from __future__ import annotations

import pytest
from django.db import transaction

from core.events import Subject, emit
from notifications.models import Notification
from tests.conftest import CeleryProcess, require_services, wait_for
from tests.notifications.helpers import Receiver, free_port, rule, secret, verify

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
WORKER_ENV = {"NOTIFY_ALLOWED_NETWORKS": "127.0.0.0/8", "NOTIFY_RETRY_BASE": "1", "NOTIFY_TIMEOUT": "2"}


@pytest.fixture
def worker(transactional_db, settings, tmp_path):
    require_services()
    process = CeleryProcess("worker", tmp_path / "celery.log", settings.REDIS_URL, env=WORKER_ENV)
    yield process
    process.stop()


def _unhealthy(namespace: str, uid: str = "edge-7") -> None:
    with transaction.atomic():  # delivery is sent once the event's transaction commits
        emit("host.unhealthy", namespace, Subject("EdgeHost", "edge-7", uid), "edge-7 is unhealthy", {"a": 1})


def test_signed_and_retried_with_the_same_delivery_id(world, worker):
    receiver = Receiver(codes=[500, 200])
    try:
        secret(world.project_a)
        r = rule(world.project_a, receiver.url)
        _unhealthy("acme-research")
        n = wait_for(
            lambda: Notification.objects.filter(rule=r, status="delivered").first(),
            timeout=30,
            message="the notification to be delivered\n" + worker.log_text()[-2000:],
        )
    finally:
        receiver.stop()
    assert len(receiver.requests) == 2 and (n.attempts, n.response_code) == (2, 200)
    ids = {headers["X-PaletteAI-Delivery"] for headers, _ in receiver.requests}
    assert ids == {str(n.delivery_id)}
    for headers, raw in receiver.requests:
        body = verify(headers, raw)
        assert headers["X-PaletteAI-Event"] == "host.unhealthy"
        assert body["subject"] == {"kind": "EdgeHost", "name": "edge-7", "uid": "edge-7"}
        assert (body["event"], body["namespace"], body["message"]) == (
            "host.unhealthy",
            "acme-research",
            "edge-7 is unhealthy",
        )
        assert body["details"] == {"a": 1} and body["occurredAt"].endswith("Z")
    with pytest.raises(AssertionError):
        verify(*receiver.requests[0], key="another-key-entirely-000")  # the check can fail
    assert "k3y-for-signing" not in worker.log_text()


def test_a_receiver_down_for_a_while_gets_it_when_it_returns(world, worker):
    port = free_port()
    secret(world.project_a)
    r = rule(world.project_a, f"http://127.0.0.1:{port}/palette")
    _unhealthy("acme-research")
    wait_for(
        lambda: Notification.objects.filter(rule=r, attempts__gte=2, status="pending").exists(),
        timeout=30,
        message="two failed attempts",
    )
    n = Notification.objects.get(rule=r)
    assert "connection refused" in n.last_error and n.next_try_at is not None
    receiver = Receiver(port=port)
    try:
        n = wait_for(
            lambda: Notification.objects.filter(rule=r, status="delivered").first(),
            timeout=40,
            message="delivery once the receiver is back\n" + worker.log_text()[-2000:],
        )
    finally:
        receiver.stop()
    assert len(receiver.requests) == 1 and n.attempts >= 3
    assert receiver.requests[0][0]["X-PaletteAI-Delivery"] == str(n.delivery_id)


def test_a_refused_address_fails_at_once_with_the_reason(world, worker):
    secret(world.project_a)
    r = rule(world.project_a, "http://169.254.169.254/latest")
    _unhealthy("acme-research")
    n = wait_for(
        lambda: Notification.objects.filter(rule=r, status="failed").first(), timeout=30, message="failed"
    )
    assert n.attempts == 1 and "cloud metadata" in n.last_error
