"""Core background tasks."""

from __future__ import annotations

import socket

from celery import current_app, shared_task
from celery.signals import worker_ready
from django.db import IntegrityError, transaction

from .models import WorkerHeartbeat


def send(name: str, *args, countdown: float = 0) -> None:
    """Send the task registered as `name` ("compute.discovery") with `args` (ids, never objects or secrets).

    The one way domain code enqueues work: by name, so it never imports a tasks module (which imports the
    domain code: a cycle). Each app's tasks module is imported by its AppConfig.ready(), so every name is
    registered in every process, web included.
    """
    task = current_app.tasks[name]
    if countdown:
        task.apply_async(args, countdown=countdown)
    else:
        task.delay(*args)


def enqueue_on_commit(name: str, *args, countdown: float = 0) -> None:
    """Send the task registered as `name` with `args` once the current transaction commits (see `send`).

    Robust: the row is already committed and is the truth; if the broker cannot take the message
    right now the failure is logged instead of turning a saved change into an error page, and the
    pending row is picked up again by the stale-run watchdog.
    """
    transaction.on_commit(lambda: send(name, *args, countdown=countdown), robust=True)


def create_or_active(model, target: dict, **fields):
    """``(run, created)``: a new pending run of `model` for `target` (e.g. {"project": p}), or the active one.

    Never two at once for the same target. The model declares core.models.one_active_run_per for
    the target, so when two requests race past the first check, the second insert fails and that
    request gets the winner's run.
    """
    active = model.objects.filter(**target, status__in=model.ACTIVE).first()
    if active is not None:
        return active, False
    try:
        with transaction.atomic():
            return model.objects.create(**target, **fields), True
    except IntegrityError:
        active = model.objects.filter(**target, status__in=model.ACTIVE).first()
        if active is None:  # some other constraint: not ours to hide
            raise
        return active, False


def start_once(model, task: str, *, target: dict, countdown: float = 0, **fields):
    """The active run of `model` for `target`, or a new pending one whose task (by name) is sent on commit,
    to start after `countdown` seconds (see create_or_active)."""
    run, created = create_or_active(model, target, **fields)
    if created:
        enqueue_on_commit(task, run.pk, countdown=countdown)
    return run


@shared_task(name="core.heartbeat", acks_late=True, ignore_result=True)
def heartbeat(run_id: int | None = None) -> None:
    """Answer a heartbeat: claim the row (or make one when beat sent no id) and mark it succeeded.

    Idempotent: a redelivered message finds the row no longer pending and does nothing.
    """
    if run_id is None:
        run = WorkerHeartbeat.objects.create()
    else:
        run = WorkerHeartbeat.objects.filter(pk=run_id).first()
        if run is None:
            return
    if not run.claim():
        return
    WorkerHeartbeat.objects.filter(pk=run.pk).update(worker=socket.gethostname())
    run.finish()
    # Keep the table small: the last 100 heartbeats are plenty to show worker health.
    keep = WorkerHeartbeat.objects.order_by("-created").values_list("pk", flat=True)[:100]
    WorkerHeartbeat.objects.exclude(pk__in=list(keep)).delete()


def request_heartbeat() -> WorkerHeartbeat:
    """Write a heartbeat row, then enqueue it once the transaction commits."""
    run = WorkerHeartbeat.objects.create()
    enqueue_on_commit("core.heartbeat", run.pk)
    return run


@shared_task(name="core.run_watchdog", acks_late=True, ignore_result=True)
def run_watchdog() -> dict:
    """Re-send runs whose message was lost; fail runs no worker took or whose worker died (see core.watchdog).

    Idempotent: a re-sent message for a run already claimed does nothing, and failing is a
    compare-and-set on the status, so two passes at once change each run at most once.
    """
    from .watchdog import check_runs

    result = check_runs()
    return {"resent": len(result.resent), "failed": len(result.failed)}


@shared_task(name="core.prune", acks_late=True, ignore_result=True)
def prune_task() -> dict:
    """Delete runs and history older than their retention settings (beat, daily; see core.retention).

    Idempotent: what is gone stays gone, and a second pass finds nothing more to delete.
    """
    from .retention import prune

    return {pruned.name: pruned.count for pruned in prune()}


@worker_ready.connect
def _check_runs_on_start(sender=None, **kwargs) -> None:
    # A worker starting after an outage re-sends what the broker lost without waiting for beat.
    run_watchdog.delay()
