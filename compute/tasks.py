"""Compute background tasks: discovery (scheduled, on demand), profile sync, tag edits, compute pool steps and
their watchdog."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready
from django.db import transaction


@shared_task(name="compute.discovery", acks_late=True, ignore_result=True)
def discovery_task(run_id: int) -> None:
    """Perform one discovery run. Idempotent: the row is claimed pending → running once, so a
    redelivered message does nothing; reconcile itself is an upsert by uid."""
    from .discovery import run_discovery
    from .models import DiscoveryRun

    run = DiscoveryRun.objects.select_related("project__tenant").filter(pk=run_id).first()
    if run is not None:
        run_discovery(run)


@shared_task(name="compute.scheduled_discovery", acks_late=True, ignore_result=True)
def scheduled_discovery_task() -> int:
    """Start a discovery run for every project whose tenant or itself has Settings (beat, DISCOVERY_INTERVAL).

    A project with a run still active is skipped by start_discovery, so slow scans never pile up. Each
    project's run starts at its own offset after the beat (discovery.schedule_offset).
    """
    from django.conf import settings
    from django.db.models import Q

    from integrations.models import Settings
    from tenancy.models import Project

    from .discovery import schedule_offset, start_discovery

    configured = Project.objects.filter(
        Q(pk__in=Settings.objects.filter(project__isnull=False).values("project_id"))
        | Q(tenant_id__in=Settings.objects.filter(tenant__isnull=False).values("tenant_id"))
    )
    count = 0
    with transaction.atomic():
        for project in configured:
            start_discovery(
                project, trigger="schedule", countdown=schedule_offset(project, settings.DISCOVERY_INTERVAL)
            )
            count += 1
    return count


@shared_task(name="compute.profile_sync", acks_late=True, ignore_result=True)
def profile_sync_task(run_id: int) -> None:
    """Sync one project's cluster profiles; idempotent (claimed once, upsert by uid)."""
    from .models import ProfileSync
    from .profiles import sync_profiles

    run = ProfileSync.objects.select_related("project__tenant").filter(pk=run_id).first()
    if run is not None:
        sync_profiles(run)


@shared_task(name="compute.tag_edit", acks_late=True, ignore_result=True)
def tag_edit_task(edit_id: int) -> None:
    """Apply one tag edit to Palette; idempotent (claimed once; same tags give the same labels)."""
    from .models import TagEdit
    from .tagging import apply_tag_edit

    edit = TagEdit.objects.select_related("project__tenant").filter(pk=edit_id).first()
    if edit is not None:
        apply_tag_edit(edit)


@shared_task(name="compute.pool_step", acks_late=True, ignore_result=True)
def pool_step_task(pool_id: int, tick: int) -> None:
    """Run one step of a compute pool's provisioning or deletion, then schedule the next.

    Idempotent: the message runs only if `tick` still matches the pool's (compare-and-set), so a
    redelivered or duplicated message does nothing; waiting is a new message with a countdown,
    never a sleep in the worker.
    """
    from .provisioning import enqueue, run_step

    following = run_step(pool_id, tick)
    if following is not None:
        enqueue(following.pool_id, following.tick, following.countdown)


@shared_task(name="compute.pool_events", acks_late=True, ignore_result=True)
def pool_events_task(pool_id: int) -> None:
    """Fetch a settled pool's Palette events (the pool page's "Refresh events"); harmless when repeated."""
    from .provisioning.events import refresh

    refresh(pool_id)


@shared_task(name="compute.pool_watchdog", acks_late=True, ignore_result=True)
def pool_watchdog_task() -> int:
    """Re-send the step of every pool whose next step is overdue (beat, and once per worker start).

    Harmless when nothing stalled: a duplicate message is dropped by the tick compare-and-set.
    """
    from .provisioning import resume_stalled

    return resume_stalled()


@worker_ready.connect
def _resume_pools_on_start(sender=None, **kwargs) -> None:
    # A worker that starts after a crash resumes the pools the dead one left mid-way.
    pool_watchdog_task.delay()
