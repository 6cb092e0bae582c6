"""What integrations tells core.events: Palette answered 401 to a check or a run (credentials.rejected), or
a check got the key accepted again (credentials.accepted); the API key or a certificate expires within 30, 7
or 1 days (credentials.expiring, certificate.expiring), told by each connection check and by the daily
radar (integrations.tasks.expiry_radar). The notifications app listens (docs/architecture.md)."""

from __future__ import annotations

from core.events import Subject, emit


def _subject(owner) -> Subject:
    kind = type(owner).__name__
    return Subject(kind, owner.name, str(getattr(owner, "uuid", "") or f"{kind.lower()}-{owner.pk}"))


def credentials_rejected(owner, what: str, detail: str) -> None:
    """`what` ("the connection check", "discovery") got a 401; `detail` is the redacted error."""
    message = f"Palette rejected the API key of {owner.namespace} during {what}: {detail}"
    emit("credentials.rejected", owner.namespace, _subject(owner), message[:1000], {"during": what})


def credentials_accepted(owner) -> None:
    emit(
        "credentials.accepted",
        owner.namespace,
        _subject(owner),
        f"Palette accepted the API key of {owner.namespace}.",
    )


#: The marks (days left) at which credentials.expiring is sent, each once per key expiry.
EXPIRY_MARKS = (1, 7, 30)


def credentials_expiring(owner, days_left: int, expires_at: str) -> None:
    """The key in use expires in `days_left` days (at `expires_at`): tell once at each of 30, 7 and 1 days."""
    mark = next((m for m in EXPIRY_MARKS if days_left <= m), None)
    if mark is None:
        return
    base = _subject(owner)
    subject = Subject(base.kind, base.name, f"{base.uid}:api-key:{expires_at[:10]}:{mark}d")
    message = (
        f"The Palette API key of {owner.namespace} expires in {days_left} day{'' if days_left == 1 else 's'} "
        f"({expires_at[:10]}): create a new key in Palette and save it in the Settings."
    )
    emit(
        "credentials.expiring",
        owner.namespace,
        subject,
        message,
        {"daysLeft": days_left, "expiresAt": expires_at},
    )


def certificate_expiring(owner, cert: dict) -> None:
    """`cert` (diagnosis.expiring_certificates) expires in cert["daysLeft"] days: tell once at each of 30, 7
    and 1 days (an expired one at the 1-day mark)."""
    days = cert["daysLeft"]
    mark = next((m for m in EXPIRY_MARKS if days <= m), None)
    if mark is None:
        return
    base = _subject(owner)
    subject = Subject(base.kind, base.name, f"{base.uid}:cert:{cert['id'][-23:]}:{cert['notAfter']}:{mark}d")
    when = "expired" if days < 0 else f"expires in {days} day{'' if days == 1 else 's'}"
    message = (
        f"The {cert['what']} of {owner.namespace}'s Palette integration ({cert['subject']}) {when} "
        f"({cert['notAfter']}): renew it before the connection fails."
    )
    emit(
        "certificate.expiring",
        owner.namespace,
        subject,
        message[:1000],
        {k: cert[k] for k in ("what", "notAfter", "daysLeft")},
    )
