"""Delivering one Notification: the channels, the retries, the sweep that resumes lost messages.

A delivery claims the row (pending → sending, compare-and-set, with a lease), sends once with a bounded
timeout (NOTIFY_TIMEOUT: a receiver that hangs never holds a worker longer), and records the attempt. A
5xx, 408, 429, timeout or refused connection is tried again with backoff (NOTIFY_RETRY_BASE doubling up to
NOTIFY_RETRY_CAP) until NOTIFY_GIVE_UP_AFTER (24 h) after the event; other answers fail it at once, with
what to fix. Every try of one notification carries the same X-PaletteAI-Delivery id. The task sends itself
again with a countdown; `sweep` (beat) re-sends rows whose message was lost or whose worker died.
Messages never hold a secret: the HMAC key is read from its Secret here, right before signing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.db.models import F, Q
from django.utils import timezone

from core.tasks import send
from integrations.models import Secret
from palette.connections import GuardedAdapter

from .models import Notification, NotificationRule
from .rules import HMAC_KEY, check_url

log = logging.getLogger(__name__)
RETRY_STATUSES = (408, 425, 429)
USER_AGENT = "PaletteAI-Admin-Notifications/1"


class Failed(Exception):
    """One attempt did not deliver; `retry` says whether trying again may help. The message has no secret."""

    def __init__(self, message: str, *, retry: bool, code: int | None = None):
        super().__init__(message)
        self.retry, self.code = retry, code


def signature(key: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()


def _session() -> requests.Session:
    session = requests.Session()
    adapter = GuardedAdapter(settings.NOTIFY_ALLOWED_NETWORKS, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _post(url: str, raw: bytes, headers: dict) -> int:
    problem = check_url(url)
    if problem:
        raise Failed(f"the URL {problem}", retry=False)
    host = urlsplit(url).hostname
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    timeout = settings.NOTIFY_TIMEOUT
    with _session() as session:
        try:
            response = session.post(url, data=raw, headers=headers, timeout=(timeout, timeout), stream=True)
            response.close()  # the body is not needed: never wait for a slow one
        except requests.Timeout:
            raise Failed(f"{host} did not answer within {timeout:g} s", retry=True) from None
        except requests.ConnectionError as exc:
            refused = _refusal(exc)
            if refused:
                raise Failed(refused, retry=False) from None
            raise Failed(f"could not connect to {host} ({_reason(exc)})", retry=True) from None
        except requests.RequestException as exc:
            raise Failed(f"the request to {host} failed ({type(exc).__name__})", retry=True) from None
    code = response.status_code
    if 200 <= code < 300:
        return code
    if 300 <= code < 400:
        raise Failed(
            f"{host} answered a redirect ({code}); point the rule at the final URL", retry=False, code=code
        )
    retry = code >= 500 or code in RETRY_STATUSES
    raise Failed(f"{host} answered {code}", retry=retry, code=code)


def _refusal(exc: BaseException) -> str:
    """The address policy's reason when it refused the connection, else ''."""
    seen = exc
    for _ in range(8):
        if seen is None:
            return ""
        from palette.addresses import AddressRefused

        if isinstance(seen, AddressRefused):
            return str(seen).replace("PALETTE_ALLOWED_NETWORKS", "NOTIFY_ALLOWED_NETWORKS")
        seen = seen.__cause__ or seen.__context__ or (seen.args[0] if seen.args else None)
        if not isinstance(seen, BaseException):
            seen = getattr(seen, "reason", None)
    return ""


def _reason(exc: BaseException) -> str:
    text = str(exc).lower()
    for word in ("refused", "reset", "unreachable", "name or service not known", "certificate", "ssl"):
        if word in text:
            return "connection refused" if word == "refused" else word
    return type(exc).__name__


def _webhook(n: Notification) -> int:
    rule = n.rule
    secret = Secret.objects.filter(namespace=rule.namespace, name=rule.secret_name).first()
    key = secret.get_data().get(HMAC_KEY) if secret else None
    if not key:
        raise Failed(
            f"Secret {rule.secret_name} with key {HMAC_KEY} is missing in namespace {rule.namespace}",
            retry=True,
        )
    raw = json.dumps(n.body(), separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "X-PaletteAI-Event": n.event,
        "X-PaletteAI-Delivery": str(n.delivery_id),
        "X-PaletteAI-Signature": signature(key, raw),
    }
    return _post(rule.url, raw, headers)


def _slack(n: Notification) -> int:
    text = f"[{n.event}] {n.namespace}: {n.message}"
    return _post(n.rule.url, json.dumps({"text": text}).encode(), {})


def _email(n: Notification) -> int:
    subject = f"[PaletteAI] {n.event}: {n.subject_kind} {n.subject_name} ({n.namespace})"
    lines = [n.message, "", f"Event: {n.event}", f"Namespace: {n.namespace}"]
    lines += [f"Subject: {n.subject_kind} {n.subject_name} ({n.subject_uid})", f"Occurred: {n.occurred_at}"]
    lines += [f"Delivery: {n.delivery_id}"]
    lines += [f"{k}: {v}" for k, v in sorted(n.details.items())]
    try:
        connection = get_connection(timeout=settings.NOTIFY_TIMEOUT)
        send_mail(
            subject, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, n.rule.email_to, connection=connection
        )
    except OSError as exc:  # smtplib's errors are OSErrors; their text holds no password
        raise Failed(
            f"the mail server refused or could not be reached ({type(exc).__name__})", retry=True
        ) from None
    return 250


CHANNELS = {
    NotificationRule.WEBHOOK: _webhook,
    NotificationRule.SLACK: _slack,
    NotificationRule.EMAIL: _email,
}


def _backoff(attempts: int) -> float:
    base, cap = settings.NOTIFY_RETRY_BASE, settings.NOTIFY_RETRY_CAP
    return min(cap, base * 2 ** min(attempts - 1, 20)) * random.uniform(0.8, 1.0)


def _claim(notification_id: int) -> Notification | None:
    now = timezone.now()
    lease = now + timedelta(seconds=settings.NOTIFY_TIMEOUT * 3 + 30)
    claimed = (
        Notification.objects.filter(pk=notification_id, status=Notification.PENDING)
        .filter(Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
        .update(status=Notification.SENDING, lease_until=lease, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    return Notification.objects.select_related("rule").get(pk=notification_id)


def deliver(notification_id: int) -> Notification | None:
    """One attempt at delivering the notification, if it is due and no one else holds it."""
    n = _claim(notification_id)
    if n is None:
        return None
    try:
        code = CHANNELS[n.rule.channel](n)
    except Failed as exc:
        _failed(n, exc)
    else:
        now = timezone.now()
        Notification.objects.filter(pk=n.pk, status=Notification.SENDING).update(
            status=Notification.DELIVERED,
            response_code=code,
            delivered_at=now,
            next_try_at=None,
            last_error="",
        )
    return n


def _failed(n: Notification, exc: Failed) -> None:
    give_up = n.occurred_at + timedelta(seconds=settings.NOTIFY_GIVE_UP_AFTER)
    delay = _backoff(n.attempts)
    next_try = timezone.now() + timedelta(seconds=delay)
    message = f"attempt {n.attempts}: {exc}"
    if exc.retry and next_try < give_up:
        Notification.objects.filter(pk=n.pk, status=Notification.SENDING).update(
            status=Notification.PENDING, response_code=exc.code, last_error=message, next_try_at=next_try
        )
        log.info("notification %s not delivered (%s); next try in %.0f s", n.pk, exc, delay)
        send("notifications.deliver", n.pk, countdown=delay)
        return
    why = "" if not exc.retry else f" — gave up after {settings.NOTIFY_GIVE_UP_AFTER // 3600} h"
    Notification.objects.filter(pk=n.pk, status=Notification.SENDING).update(
        status=Notification.FAILED, response_code=exc.code, last_error=message + why, next_try_at=None
    )
    log.warning("notification %s failed: %s%s", n.pk, exc, why)


def sweep() -> int:
    """Re-send what is due and has no message on its way: lost messages, a worker killed mid-send."""
    now = timezone.now()
    Notification.objects.filter(status=Notification.SENDING, lease_until__lt=now).update(
        status=Notification.PENDING, next_try_at=now
    )
    grace = now - timedelta(seconds=30)
    due = Notification.objects.filter(status=Notification.PENDING).filter(
        Q(next_try_at__lte=grace) | Q(next_try_at__isnull=True, created__lte=grace)
    )
    ids = list(due.values_list("pk", flat=True)[:500])
    for pk in ids:
        send("notifications.deliver", pk)
    return len(ids)
