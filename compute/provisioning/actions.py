"""Starting, retrying and deleting pools, resuming stalled ones, and the timeline the pool page shows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import audit
from core.durations import human_duration
from core.models import AuditEntry
from core.tasks import send

from ..models import ComputePool, PoolStep
from .context import DAY2_STEPS, DELETE_STEPS, PROVISION_STEPS, STEP_LABELS, _seconds, log, transition
from .deletion import force_delete_available

#: The statuses of a provisioning chain at work; a deletion asked for then is queued for its next step.
PROVISIONING = (ComputePool.PENDING, ComputePool.VALIDATING, ComputePool.PROVISIONING, ComputePool.RUNNING)

# -- starting, retrying, deleting ---------------------------------------------------------------------


def enqueue(pool_id: int, tick: int, countdown: float = 0) -> None:
    """Send the step message for (pool, tick)."""
    send("compute.pool_step", pool_id, tick, countdown=countdown)


def start_attempt(pool: ComputePool, **fields: Any) -> bool:
    """Start a new attempt of an operation (retry, deletion, force delete, a day-2 change, an upgrade): the
    next attempt number, the last failure cleared, the tick bumped (old messages become no-ops) and the first
    message sent on commit; `fields` say which operation, step and status.

    Compare-and-set on the tick and status `pool` holds: False, and nothing changed, when the pool moved on.
    """
    now = timezone.now()
    fields.update(
        attempt=pool.attempt + 1,
        failure_class="",
        failure_message="",
        tick=F("tick") + 1,
        due_at=now + timedelta(seconds=_seconds("POOL_STEP_BUDGET")),
        updated=now,
    )
    if not transition(pool.pk, {"tick": pool.tick, "status": pool.status}, **fields):
        return False
    pool.refresh_from_db()
    transaction.on_commit(lambda: enqueue(pool.pk, pool.tick))
    return True


def create_pool(project, spec, bundle, *, request=None, user=None, source: str = "web") -> ComputePool:
    """Store a new pool from a checked spec and start provisioning once the transaction commits.

    Its profile variables are split as `spec.masked` says: the plain values in `variables`, the masked ones
    encrypted in `secret_variables` (the audit entry names the variables, never a value).
    """
    from ..bundles import bundle_facts
    from ..readiness import cluster_name_for
    from ..variables import with_masked

    now = timezone.now()
    if (
        spec.variables
    ):  # masked as the caller decided, and whatever the bundle's profiles mark sensitive (or do not know)
        spec, _problems = with_masked(spec, bundle_facts(bundle) if bundle is not None else ())
    pool = ComputePool.objects.create(
        project=project,
        name=spec.name,
        description=spec.description,
        labels=dict(spec.labels),
        variant=spec.variant,
        **core_fields(spec, bundle),
        status=ComputePool.PENDING,
        step="validate",
        started=now,
        due_at=now + timedelta(seconds=_seconds("POOL_STEP_BUDGET")),
        cluster_name=cluster_name_for(project, spec.name),
        wait_reason="Waiting for a worker to start provisioning.",
    )
    changes = {"variant": spec.variant, "bundle": spec.bundle, "vip": spec.vip, "cluster": pool.cluster_name}
    if spec.variables:
        changes["variables"] = ", ".join(
            f"{p}.{n}" + (" (masked)" if (p, n) in spec.masked else "")
            for p, given in sorted(spec.variables.items())
            for n in sorted(given)
        )
    audit.record(request, AuditEntry.CREATE, pool, user=user, source=source, changes=changes)
    transaction.on_commit(lambda: enqueue(pool.pk, pool.tick))
    return pool


def core_fields(spec, bundle) -> dict[str, Any]:
    """The pool fields of a spec's core (a change of them provisions the pool again): bundle, node pools,
    resource groups, VIP, SSH keys, deletion policy and profile variables, the masked ones encrypted."""
    from ..variables import encode_secrets, split

    plain, secret = split(spec)
    return {
        "bundle": bundle,
        "bundle_name": spec.bundle,
        "node_pools": spec.node_pools(),
        "cp_resource_groups": dict(spec.cp_groups),
        "worker_resource_groups": dict(spec.worker_groups),
        "vip": spec.vip,
        "ssh_keys": list(spec.ssh_keys),
        "deletion_policy": spec.deletion_policy,
        "variables": plain,
        "secret_variables": encode_secrets(secret),
    }


def retry_pool(pool: ComputePool, *, request=None, user=None, source: str = "web") -> bool:
    """Run a failed (or needs-attention) pool's operation again as a new attempt (provisioning resumes at its
    cluster if it has one).

    False, and `pool` refreshed to what it is now, when it is not stopped (or stopped being so meanwhile).
    """
    # A day-2 change resumes from what Palette has (compute.provisioning.day2).
    first = {ComputePool.DELETION: "delete", ComputePool.PROVISION: "validate"}.get(pool.operation, "change")
    status = {ComputePool.DELETION: ComputePool.DELETING, ComputePool.PROVISION: ComputePool.PENDING}
    started = pool.status in ComputePool.STOPPED and start_attempt(
        pool,
        status=status.get(pool.operation, ComputePool.UPDATING),
        step=first,
        excluded_hosts=[],
        started=timezone.now(),
        wait_reason="Retrying: waiting for a worker.",
    )
    if started:
        audit.record(request, AuditEntry.ACTION, pool, verb="retry", user=user, source=source)
    else:
        pool.refresh_from_db()
    return started


def request_delete(pool: ComputePool, *, request=None, user=None, source: str = "web") -> str:
    """Start deleting per the deletion policy, deciding on the state the caller saw (`pool` as it was read).

    "started" (Ready or Failed: a deletion chain starts), "queued" (a provisioning chain runs: it switches to
    deletion at its next step, or instead of ending the attempt), "already" (deleting, deleted, or queued
    before), or "changed": the pool moved on between the caller's look and the write (it just became Ready,
    failed, or was retried), nothing was done, and `pool` holds its new state so the caller can ask again.
    Every outcome is one compare-and-set on what was decided on, so a request racing a step never leaves
    the deletion flag on a pool that no chain will look at again.
    """
    seen = pool.status
    outcome = _delete_once(pool)
    if outcome is None:
        pool.refresh_from_db()
        # Only the tick moved (e.g. a watchdog message): decide again on the same status.
        outcome = _delete_once(pool) if pool.status == seen else None
    if outcome is None:
        gone = pool.status in (ComputePool.DELETING, ComputePool.DELETED) or pool.delete_requested
        outcome = "already" if gone else "changed"
    if outcome in ("started", "queued"):
        audit.record(
            request,
            AuditEntry.DELETE,
            pool,
            verb=f"delete requested (policy {pool.deletion_policy})",
            user=user,
            source=source,
        )
    return outcome


def _delete_once(pool: ComputePool) -> str | None:
    """One try of request_delete on the status in `pool`; None when the pool was no longer in that state."""
    if pool.status in (ComputePool.DELETED, ComputePool.DELETING) or pool.delete_requested:
        return "already"
    if pool.status in (ComputePool.READY, *ComputePool.STOPPED):
        started = start_attempt(
            pool,
            operation=ComputePool.DELETION,
            status=ComputePool.DELETING,
            step="delete",
            started=timezone.now(),
            wait_reason="Deletion requested: waiting for a worker.",
        )
        return "started" if started else None
    # A chain is running (provisioning, or a day-2 change while Updating): it switches to deletion at its next
    # step, so two chains never overlap.
    if transition(
        pool.pk,
        {"status__in": (*PROVISIONING, ComputePool.UPDATING), "delete_requested": False},
        delete_requested=True,
    ):
        pool.delete_requested = True
        return "queued"
    return None


def request_force_delete(pool: ComputePool, *, request=None, user=None, source: str = "web") -> str:
    """Ask Palette to delete without graceful cleanup (only once a deletion looks stuck, or failed).

    "started", "unavailable" (not offered for the state the caller saw), "already" (asked before), or
    "changed": the deletion moved on meanwhile (it just failed, or finished) and `pool` holds its new state.
    A compare-and-set on the state decided on, like request_delete.
    """
    if not force_delete_available(pool):
        return "unavailable"
    if pool.status in ComputePool.STOPPED:
        sent = start_attempt(
            pool,
            status=ComputePool.DELETING,
            step="wait_deleted",
            force_delete_requested=True,
            started=timezone.now(),
            wait_reason="Force delete requested.",
        )
    else:
        sent = transition(
            pool.pk,
            {
                "status": ComputePool.DELETING,
                "operation": ComputePool.DELETION,
                "force_delete_requested": False,
            },
            force_delete_requested=True,
        )
        if sent:
            pool.force_delete_requested = True
    if not sent:
        pool.refresh_from_db()
        return "already" if pool.force_delete_requested and pool.status == ComputePool.DELETING else "changed"
    audit.record(request, AuditEntry.DELETE, pool, verb="force delete requested", user=user, source=source)
    return "started"


def resume_stalled(now=None) -> int:
    """Re-send the message of every pool in progress whose next step is overdue by POOL_RESUME_GRACE.

    Covers a worker killed mid-step or while holding a countdown message, and messages lost by the
    broker. A duplicate is harmless: only the message whose tick matches runs.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=_seconds("POOL_RESUME_GRACE"))
    stalled = list(
        ComputePool.objects.filter(status__in=ComputePool.IN_PROGRESS, due_at__lt=cutoff).values_list(
            "pk", "tick"
        )
    )
    stalled += list(
        ComputePool.objects.filter(status__in=ComputePool.IN_PROGRESS, due_at__isnull=True).values_list(
            "pk", "tick"
        )
    )
    for pk, tick in stalled:
        log.info("compute pool %s: resuming a stalled step", pk)
        enqueue(pk, tick)
    return len(stalled)


_DAY2_LABELS = {ComputePool.SCALE: "Scaling", ComputePool.REPLACE: "Host replacement"}


def timeline(pool: ComputePool) -> list[dict]:
    """The pool's attempts, newest first, each with its steps in order (planned steps not yet run
    included)."""
    rows = list(pool.steps.all())
    attempts: dict[int, list[PoolStep]] = {}
    for row in rows:
        attempts.setdefault(row.attempt, []).append(row)
    out = []
    for number in sorted(attempts, reverse=True):
        steps = attempts[number]
        deleting = any(s.name in DELETE_STEPS for s in steps)
        changing = not deleting and any(s.name in DAY2_STEPS for s in steps)
        planned = DELETE_STEPS if deleting else (DAY2_STEPS if changing else PROVISION_STEPS)
        names = {s.name for s in steps}
        current = number == pool.attempt and not pool.is_terminal
        items = [
            {
                "row": s,
                "name": s.name,
                "label": STEP_LABELS.get(s.name, s.name),
                "status": s.status,
                "took": human_duration(s.finished - s.started) if s.finished else "",
            }
            for s in steps
        ]
        if current:
            items += [
                {"row": None, "name": n, "label": STEP_LABELS[n], "status": "planned"}
                for n in planned
                if n not in names
            ]
        out.append(
            {
                "attempt": number,
                "operation": "Deletion"
                if deleting
                else (
                    _DAY2_LABELS.get(pool.operation if current else "", "Machine pool change")
                    if changing
                    else "Provisioning"
                ),
                "steps": items,
                "current": current,
            }
        )
    return out
