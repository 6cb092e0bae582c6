"""Integration background tasks: Kubernetes Secret sync and the connection checks (integrations.diagnosis).

Tasks take ids and names, never secret values (task arguments end up in broker messages and logs).
Only TransientKubeError is retried, with exponential backoff and full jitter; a permanent failure is
recorded on the Secret row for the UI and picked up again by the periodic `integrations.resync_secrets`.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from celery import shared_task
from django.db.models import F, Q
from django.utils import timezone

from . import kube
from .kube import KubeSyncError, TransientKubeError
from .models import Secret

log = logging.getLogger(__name__)

# Backoff of 5, 10, 20, 40, 80 s (each drawn at random below that, so many failed syncs do not
# hit a recovering apiserver at once), at most 5 retries; then the periodic resync takes over.
KUBE_RETRY = {
    "autoretry_for": (TransientKubeError,),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}
# A row saved this recently has its on-commit sync still in flight: the resync leaves it alone.
RESYNC_GRACE = timedelta(seconds=30)
RESYNC_BATCH = 500


@shared_task(name="integrations.sync_secret", acks_late=True, ignore_result=True, **KUBE_RETRY)
def sync_secret_task(secret_id: int) -> None:
    """Write Secret `secret_id` to Kubernetes as it is in the database now.

    Idempotent: it reads the row when it runs (not when it was queued) and writes that content, so a
    redelivered or duplicate message rewrites the same object; a row deleted meanwhile is a no-op,
    and so is every call while Kubernetes sync is off. Transient failures are retried; permanent
    ones are already recorded on the row by `kube.sync_secret`, so they are only logged here.
    """
    if not kube.kube_source():
        return
    try:
        secret = Secret.objects.filter(pk=secret_id).first()
    except ValueError as exc:
        # The row cannot be decrypted (FIELD_ENCRYPTION_KEY changed without rotation): show why.
        Secret.objects.filter(pk=secret_id).update(kube_error=str(exc))
        log.error("Kubernetes sync of Secret %s skipped: %s", secret_id, exc)
        return
    if secret is None:
        return
    try:
        kube.sync_secret(secret)
    except TransientKubeError:
        raise
    except KubeSyncError as exc:
        log.warning("Kubernetes sync of Secret %s failed: %s", secret, exc)


@shared_task(name="integrations.delete_kube_secret", acks_late=True, ignore_result=True, **KUBE_RETRY)
def delete_kube_secret_task(namespace: str, name: str) -> None:
    """Delete Secret `namespace/name` from Kubernetes after its row was deleted.

    Idempotent: an already deleted Secret (404) counts as done. Safe against reordering: when a row
    with that name exists again (re-created after the delete was queued) the database wins and
    nothing is deleted. A Secret without our managed-by label is never deleted.
    """
    if not kube.kube_source():
        return
    if Secret.objects.filter(namespace=namespace, name=name).exists():
        return
    try:
        kube.delete_secret(namespace, name)
    except TransientKubeError:
        raise
    except KubeSyncError as exc:
        log.warning("Deleting Secret %s/%s from Kubernetes failed: %s", namespace, name, exc)


def secrets_needing_sync():
    """Rows whose last sync failed, or that were never synced or changed since, past the grace period."""
    settled = Q(updated__lt=timezone.now() - RESYNC_GRACE)
    return Secret.objects.filter(
        ~Q(kube_error="")
        | (settled & Q(kube_synced_at__isnull=True))
        | (settled & Q(kube_synced_at__lt=F("updated")))
    )


@shared_task(name="integrations.resync_secrets", acks_late=True, ignore_result=True)
def resync_secrets_task() -> int:
    """Queue a sync for every Secret that failed, was never synced, or changed since its last sync.

    Catches what retries gave up on and syncs whose message was lost (broker down at commit time).
    Idempotent: each queued sync is; returns how many were queued (at most RESYNC_BATCH, oldest first).
    No-op while Kubernetes sync is off.
    """
    if not kube.kube_source():
        return 0
    ids = list(
        secrets_needing_sync()
        .order_by(F("kube_synced_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[:RESYNC_BATCH]
    )
    for secret_id in ids:
        sync_secret_task.delay(secret_id)
    return len(ids)


@shared_task(name="integrations.palette_check", acks_late=True, ignore_result=True)
def palette_check_task(check_id: int) -> None:
    """Run one connection diagnosis row. Idempotent: the row is claimed pending → running once,
    so a redelivered message (acks_late) finds it no longer pending and does nothing."""
    from .diagnosis import perform_check
    from .models import PaletteCheck

    check = PaletteCheck.objects.filter(pk=check_id).first()
    if check is not None:
        perform_check(check)


def palette_owners() -> list:
    """Every tenant with Palette Settings and every project with effective ones (its own or its tenant's)."""
    from tenancy.models import Project, Tenant

    from .models import Settings

    tenants = Tenant.objects.filter(pk__in=Settings.objects.filter(tenant__isnull=False).values("tenant_id"))
    projects = Project.objects.filter(tenant__in=tenants) | Project.objects.filter(
        pk__in=Settings.objects.filter(project__isnull=False).values("project_id")
    )
    return [*tenants, *projects.distinct()]


@shared_task(name="integrations.scheduled_palette_checks", acks_late=True, ignore_result=True)
def scheduled_palette_checks_task() -> int:
    """Re-check every tenant and project with a Palette integration (beat, every PALETTE_CHECK_INTERVAL s).

    Projects inherit from their tenant, so each project with effective settings gets its own row.
    start_check joins an active run instead of starting a second one.
    """
    from django.db import transaction

    from .diagnosis import start_check

    count = 0
    with transaction.atomic():
        for owner in palette_owners():
            start_check(owner, trigger="schedule")
            count += 1
    return count


@shared_task(name="integrations.expiry_radar", acks_late=True, ignore_result=True)
def expiry_radar_task() -> int:
    """Beat, daily: credentials.expiring / certificate.expiring at 30, 7 and 1 days for every tenant and
    project with a Palette integration (expiry_radar below). No Palette call. Idempotent: each
    mark is told once per rule (its subject names it); a second run the same day tells nothing new."""
    due = 0
    for owner in palette_owners():
        try:
            due += expiry_radar(owner)
        except Exception:  # one owner's broken Settings must not hide the others' expiries
            log.exception("expiry radar of %s failed", owner.namespace)
    return due


#: How many of an owner's newest finished checks the radar looks through for the facts it needs.
RADAR_CHECKS = 20


def expiry_radar(owner, now: datetime | None = None) -> int:
    """Daily (task integrations.expiry_radar): credentials.expiring and certificate.expiring for `owner`
    from what its newest connection checks read (the key's expiry, Palette's server certificate) and its
    custom CA, counted to today, so the marks are reached also while checks cannot reach Palette. Each mark
    is told once (the subject names it: credentials_expiring, certificate_expiring). How many were due."""
    from palette.models import parse_time
    from tenancy.models import owner_filter

    from .diagnosis import expiring_certificates
    from .effective import resolve
    from .models import PaletteCheck
    from .notify import EXPIRY_MARKS, certificate_expiring, credentials_expiring

    now = now or timezone.now()
    palette = resolve(owner).palette
    if palette is None:
        return 0
    checks = list(
        PaletteCheck.objects.filter(**owner_filter(owner), status__in=PaletteCheck.TERMINAL).order_by(
            "-created"
        )[:RADAR_CHECKS]
    )
    due = 0
    # The newest check that read the key listing speaks for the key in use: one that found no expiry is not
    # overruled by an older check's (a rotated key's) date; one that could not read it is passed over.
    expiry = next((e for e in map(_key_expiry, checks) if e.get("visible")), None)
    expires = parse_time(expiry["expiresAt"]) if expiry and expiry.get("expiresAt") else None
    if expires is not None:
        days = math.floor((expires - now).total_seconds() / 86400)
        if 0 <= days <= EXPIRY_MARKS[-1]:
            credentials_expiring(owner, days, expiry["expiresAt"])
            due += 1
    # The custom CA needs no check; Palette's server certificate is the one the newest check saw.
    with_tls = next((c for c in checks if _stage(c, "tls").get("certificate")), None) or PaletteCheck()
    for cert in expiring_certificates(with_tls, palette):
        certificate_expiring(owner, cert)
        due += 1
    return due


def _stage(check, key: str) -> dict:
    return next((s for s in check.stages or () if s.get("key") == key), None) or {}


def _key_expiry(check) -> dict:
    """What the check's API key stage read about the key's expiry (diagnosis.stage_key_expiry)."""
    return _stage(check, "apikey").get("key_expiry") or {}
