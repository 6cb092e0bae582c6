"""What compute tells core.events: a pool's end states, a discovery's outcome, host health, capacity.

Called where these happen (compute.provisioning.context.Context.save, compute.discovery.run_discovery);
the notifications app listens (docs/architecture.md, "Layers"). Messages and details hold no secret.
"""

from __future__ import annotations

from django.db.models import Sum

from core.events import Subject, emit

from .models import ComputePool, DiscoveryRun, EdgeHost, HostChange

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
