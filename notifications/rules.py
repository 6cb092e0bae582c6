"""What a notification rule may hold: the checks the page's form and the manifest share, and the one write.

Each check returns the message saying what to fix (or None), so the form shows it under its field and the
manifest at its path. A webhook URL must be http(s) and pass the address policy of outbound connections
(palette.addresses with NOTIFY_ALLOWED_NETWORKS, README "Notifications"); the name is checked here without
DNS, and each delivery resolves and checks it again right before connecting (palette.connections).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core import audit
from core.events import EVENTS
from core.models import AuditEntry
from integrations.models import Secret
from palette import addresses
from tenancy.models import Project, Tenant

from .models import NotificationRule

HMAC_KEY = "hmacKey"
MAX_RECIPIENTS = 20
MAX_OFFLINE_MINUTES = 1440
FIELDS = (
    "events",
    "channel",
    "url",
    "secret_name",
    "email_to",
    "discovery_failures",
    "capacity_drop",
    "offline_minutes",
)


def check_events(events) -> str | None:
    if not isinstance(events, list) or not events:
        return f"choose at least one event: {', '.join(EVENTS)}."
    for event in events:
        if event not in EVENTS:
            return f"unknown event {str(event)[:40]!r}; the events are {', '.join(EVENTS)}."
    return None


def check_url(url: str) -> str | None:
    """None when `url` may receive notifications, else what to fix (never echoing a query or a path)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        return "must start with https:// (or http://)."
    if not parts.hostname:
        return "needs a host name, e.g. https://hooks.example.com/palette."
    if parts.username or parts.password:
        return "must not hold a user name or password; use the rule's HMAC key for authentication."
    try:
        parts.port  # noqa: B018 — raises on a port that is not a number
    except ValueError:
        return "has a port that is not a number."
    try:
        addresses.check_host(parts.hostname, settings.NOTIFY_ALLOWED_NETWORKS)
    except (addresses.AddressRefused, ValueError) as exc:
        return (
            str(exc)
            .replace(addresses.SETTING, "NOTIFY_ALLOWED_NETWORKS")
            .replace("Palette must be reached at", "Notifications go only to")
            .replace("Only the bundled simulator runs on this server; for it set", "To allow it set")
        )
    return None


def check_recipients(to) -> str | None:
    if not isinstance(to, list) or not to:
        return "give at least one address."
    if len(to) > MAX_RECIPIENTS:
        return f"at most {MAX_RECIPIENTS} addresses."
    for address in to:
        try:
            validate_email(address if isinstance(address, str) else "")
        except ValidationError:
            return f"{str(address)[:80]!r} is not an email address."
    return None


def check_secret(namespace: str, name: str, data: dict | None = None) -> str | None:
    """The Secret must exist in the rule's namespace with key hmacKey (`data`: its values from the same
    file)."""
    if data is None:
        secret = Secret.objects.filter(namespace=namespace, name=name).first()
        if secret is None:
            return f"Secret {name} does not exist in namespace {namespace}: create it with key {HMAC_KEY}."
        data = secret.get_data()
    key = data.get(HMAC_KEY)
    if not isinstance(key, str) or len(key) < 16:
        return f"Secret {name} needs key {HMAC_KEY} holding at least 16 characters (the HMAC-SHA256 key)."
    return None


def save_rule(
    owner: Tenant | Project, name: str, values: dict, *, request=None, user=None, source: str = "web"
) -> tuple[NotificationRule, str]:
    """Create or update `owner`'s rule `name` with checked `values` (FIELDS); audited. (rule, action)."""
    rule = NotificationRule.objects.filter(namespace=owner.namespace, name=name).first()
    created = rule is None
    if created:
        rule = NotificationRule(name=name)
        rule.set_owner(owner)
    before = {f: getattr(rule, f) for f in FIELDS}
    for field in FIELDS:
        if field in values:
            setattr(rule, field, values[field])
    changes = {f: getattr(rule, f) for f in FIELDS if created or getattr(rule, f) != before[f]}
    if not changes:
        return rule, "unchanged"
    if "url" in changes:
        changes["url"] = rule.target  # a Slack URL is its own credential: never in the audit log whole
    rule.save()
    action = AuditEntry.CREATE if created else AuditEntry.UPDATE
    audit.record(request, action, rule, changes=changes, source=source, user=user)
    return rule, "created" if created else "configured"


def delete_rule(rule: NotificationRule, *, request=None, user=None, source: str = "web") -> None:
    audit.record(request, AuditEntry.DELETE, rule, source=source, user=user)
    rule.delete()
