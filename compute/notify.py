"""What compute tells core.events: a pool's end states, a discovery's outcome, host health and liveness,
capacity.

Called where these happen (compute.provisioning.context.Context.save, compute.discovery.run_discovery);
the notifications app listens (docs/architecture.md, "Layers"). Messages and details hold no secret.
Liveness is judged at the end of every discovery run, failed ones included (Palette unreachable is when
hosts go unseen): host.offline once per host when the inventory starts showing it Unknown, host.recovered
once when it is seen again; each transition is a HostChange row, so it is told once and shows in the
host's history.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.events import Subject, emit

from .liveness import OFFLINE, ONLINE, marked_offline, offline_hosts
from .models import ComputePool, DiscoveryRun, EdgeHost, HostChange

log = logging.getLogger(__name__)
HEALTHY = "healthy"
#: How far back consecutive failed discovery runs are counted.
MAX_STREAK = 100


def pool_status_changed(pool: ComputePool, old: str) -> None:
    """Emit pool.ready, pool.failed or pool.deleted when the pool's status became one of them."""
    new = pool.status
    if new == old:
        return
    subject = Subject("ComputePool", pool.name, str(pool.uuid))
    if new == ComputePool.READY:
        emit("pool.ready", pool.namespace, subject, f"Compute Pool {pool.name} is Ready ({pool.operation}).")
    elif new == ComputePool.FAILED:
        emit(
            "pool.failed",
            pool.namespace,
            subject,
            f"Compute Pool {pool.name}: {pool.operation} failed: {pool.failure_message}"[:1000],
            {"operation": pool.operation, "failureClass": pool.failure_class},
        )
    elif new == ComputePool.DELETED:
        emit("pool.deleted", pool.namespace, subject, f"Compute Pool {pool.name} was deleted.")


def discovery_finished(run: DiscoveryRun) -> None:
    """After a run this process finished: discovery.failed (with the streak), or host health and capacity."""
    project = run.project
    subject = Subject("Project", project.name, str(project.uuid))
    try:
        _discovery_outcome(run, subject)
    finally:
        try:
            host_liveness(run)
        except Exception:  # noqa: BLE001 — telling must never break the run it reports on (core.events)
            log.exception("host liveness of project %s could not be judged", project.pk)


def _discovery_outcome(run: DiscoveryRun, subject: Subject) -> None:
    project = run.project
    if run.status == DiscoveryRun.FAILED:
        statuses = DiscoveryRun.objects.filter(project=project, status__in=DiscoveryRun.TERMINAL)
        streak = 0
        for status in statuses.order_by("-created").values_list("status", flat=True)[:MAX_STREAK]:
            if status != DiscoveryRun.FAILED:
                break
            streak += 1
        message = f"Discovery of project {project.name} failed {streak} time(s) in a row: {run.first_error}"
        emit("discovery.failed", project.namespace, subject, message[:1000], {"consecutiveFailures": streak})
        return
    if run.status != DiscoveryRun.SUCCEEDED:
        return
    emit("discovery.succeeded", project.namespace, subject, f"Discovery of project {project.name} succeeded.")
    _health(run)
    _capacity(run, subject)


def _health(run: DiscoveryRun) -> None:
    changes = HostChange.objects.filter(run=run, kind=HostChange.UPDATED, changes__has_key="health")
    for change in changes.select_related("host"):
        old, new = change.changes["health"]
        host = change.host
        subject = Subject("EdgeHost", host.name or host.uid, host.uid)
        details = {"health": new, "previousHealth": old}
        if new == HEALTHY:
            emit(
                "host.recovered",
                run.project.namespace,
                subject,
                f"Edge host {subject.name} is healthy again.",
                {"problem": "host.unhealthy", "health": new},
            )
        elif new:
            message = f"Edge host {subject.name} is {new}: {host.health_message}".rstrip(": ")
            emit("host.unhealthy", run.project.namespace, subject, message[:1000], details)


def _capacity(run: DiscoveryRun, subject: Subject) -> None:
    hosts = EdgeHost.objects.filter(project=run.project, gone=False, eligible=True)
    now = hosts.aggregate(n=Sum("gpu_total"))["n"] or 0
    previous = (
        DiscoveryRun.objects.filter(
            project=run.project, status=DiscoveryRun.SUCCEEDED, created__lt=run.created
        )
        .exclude(pk=run.pk)
        .order_by("-created")
        .values_list("progress", flat=True)
        .first()
    )
    run.set_progress(eligibleGpus=now)
    before = (previous or {}).get("eligibleGpus")
    if isinstance(before, int) and before > now:
        message = f"Eligible GPUs of project {run.project.name} fell from {before} to {now}."
        emit(
            "capacity.dropped",
            run.project.namespace,
            subject,
            message,
            {"before": before, "after": now, "drop": before - now},
        )


def host_liveness(run: DiscoveryRun, now=None) -> None:
    """Record and tell the project's liveness transitions at `now`: host.offline for each host offline
    (compute.inventory.offline_hosts) not already told, host.recovered for each told one seen again.
    Idempotent: a transition is written once (a HostChange OFFLINE / ONLINE row), and told with it."""
    project, now = run.project, now or timezone.now()
    offline = offline_hosts(project, now)
    marked = marked_offline(project)
    back = EdgeHost.objects.filter(pk__in=marked - set(offline), gone=False).only(
        "pk", "uid", "name", "health"
    )
    for pk, item in offline.items():
        if pk in marked:
            continue
        host = item.host
        subject = Subject("EdgeHost", host.name or host.uid, host.uid)
        message = f"Edge host {subject.name} is offline: {item.why} since {item.since:%Y-%m-%d %H:%M} UTC."
        details = {"offlineSince": item.since.isoformat(), "reason": item.why, "health": host.health}
        with transaction.atomic():
            HostChange.objects.create(
                host=host, run=run, kind=OFFLINE, changes={"liveness": [ONLINE, OFFLINE]}, created=now
            )
            emit("host.offline", project.namespace, subject, message[:1000], details)
    for host in back:
        subject = Subject("EdgeHost", host.name or host.uid, host.uid)
        health = host.health or "not reported"
        with transaction.atomic():
            HostChange.objects.create(
                host=host, run=run, kind=ONLINE, changes={"liveness": [OFFLINE, ONLINE]}, created=now
            )
            emit(
                "host.recovered",
                project.namespace,
                subject,
                f"Edge host {subject.name} is seen again (health: {health}).",
                {"problem": "host.offline", "health": host.health},
            )
