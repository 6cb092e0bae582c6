"""The deletion steps: delete (per the deletion policy), wait for Deleted or 404, release the hosts."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core import audit
from core.durations import human_duration
from core.models import AuditEntry
from palette import errors as perrors

from ..models import ComputePool, DiscoveryRun, PoolStep
from . import events
from .context import Context, _adopt, _refresh_inventory, _seconds, find_cluster, unproven_absence

# -- deletion steps --------------------------------------------------------------------------------


def _delete(ctx: Context) -> float | None:
    pool = ctx.pool
    row = ctx.begin("delete")
    if pool.status != ComputePool.DELETING:
        ctx.save(status=ComputePool.DELETING)
    if pool.deletion_policy == ComputePool.ORPHAN:
        ctx.finish(
            row,
            PoolStep.SKIPPED,
            f"Deletion policy orphan: cluster {pool.cluster_name} "
            f"({pool.cluster_uid or 'never created'}) stays in Palette.",
        )
        ctx.save(step="release")
        return 0
    client = ctx.client_or_fail(row, " The cluster cannot be deleted without it.")
    if client is None:
        return None
    uid = pool.cluster_uid
    if not uid and pool.sent_hosts:
        try:
            uid = find_cluster(client, pool.sent_hosts, pool.cluster_name)
        except perrors.PaletteError as exc:
            return ctx.palette_error(row, exc, "Looking for the cluster failed")
        if uid:
            _adopt(ctx, uid)
    if not uid:
        ctx.finish(row, PoolStep.SKIPPED, "No Palette cluster was created for this pool.")
        ctx.save(step="release")
        return 0
    try:
        client.delete_cluster(uid)
    except perrors.NotFound:
        why, transient = unproven_absence(client, pool)
        if why:
            return _not_proven(ctx, row, why, transient)
        ctx.finish(
            row, detail=f"Cluster {pool.cluster_name} ({uid}) was already gone from Palette (404, confirmed)."
        )
        ctx.save(step="release", delete_sent=timezone.now())
        return 0
    except (perrors.Conflict, perrors.BadRequest) as exc:
        # A DELETE repeated after a timeout may meet the deletion the first one started: that is success.
        try:
            state = client.get_cluster_status(uid).state
        except perrors.PaletteError:
            state = ""
        if state not in ("Deleting", "Deleted"):
            return ctx.palette_error(row, exc, "Deleting the cluster failed")
        ctx.finish(row, detail=f"Palette is already deleting {pool.cluster_name} ({uid}): {state}.")
        ctx.save(
            step="wait_deleted",
            delete_sent=pool.delete_sent or timezone.now(),
            wait_reason="Waiting for Palette to delete the cluster.",
        )
        return _seconds("POOL_POLL_INTERVAL")
    except perrors.PaletteError as exc:
        return ctx.palette_error(row, exc, "Deleting the cluster failed")
    ctx.finish(row, detail=f"Palette accepted the deletion of {pool.cluster_name} ({uid}).")
    ctx.save(
        step="wait_deleted",
        delete_sent=timezone.now(),
        wait_reason="Waiting for Palette to delete the cluster.",
    )
    return _seconds("POOL_POLL_INTERVAL")


def _not_proven(ctx: Context, row: PoolStep, why: str, transient: bool) -> float | None:
    """A 404 for the cluster that Palette does not confirm: ask again later, or stop in Needs attention.

    Never released on a guess: the pool keeps its cluster uid and hosts."""
    pool = ctx.pool
    message = (
        f"Palette answered 404 for cluster {pool.cluster_name} ({pool.cluster_uid}), but {why}. It is not "
        "counted as deleted and its hosts stay reserved"
    )
    if transient:
        return ctx.retry(row, message)
    ctx.attention(
        row,
        message + ": check the cluster in Palette and the Settings' key and project, then Retry the "
        "deletion.",
    )
    return None


def force_delete_available(pool: ComputePool) -> bool:
    """A deletion still waiting POOL_FORCE_DELETE_AFTER after Palette accepted it may be forced."""
    if (
        pool.force_delete_requested
        or pool.operation != ComputePool.DELETION
        or pool.status not in (ComputePool.DELETING, *ComputePool.STOPPED)
    ):
        return False
    if pool.status in ComputePool.STOPPED:
        return bool(pool.cluster_uid)
    return bool(
        pool.delete_sent
        and timezone.now() - pool.delete_sent >= timedelta(seconds=_seconds("POOL_FORCE_DELETE_AFTER"))
    )


def _wait_deleted(ctx: Context) -> float | None:
    pool = ctx.pool
    row, client = ctx.begin_with_client("wait_deleted")
    if client is None:
        return None
    events.record(ctx, client)  # Palette's events of the cluster for the page, bounded and throttled
    gone = False
    refused = ""
    try:
        if pool.force_delete_requested and not pool.force_delete_sent:
            try:
                client.delete_cluster(pool.cluster_uid, force=True)
            except (perrors.BadRequest, perrors.Conflict, perrors.MethodNotAllowed) as exc:
                # Palette accepts a force delete only once the cluster has been Deleting for 15 minutes;
                # before that a 4xx means "not yet": asked again later, never a failed pool.
                refused = exc.palette_message or str(exc)
            else:
                ctx.save(force_delete_sent=timezone.now())
                audit.record(None, AuditEntry.ACTION, pool, verb="force delete sent", source="task")
        state = client.get_cluster_status(pool.cluster_uid).state
    except perrors.NotFound:
        gone, state = True, "gone"
    except perrors.PaletteError as exc:
        return ctx.palette_error(row, exc, "Polling the deletion failed")
    seen = {"state": state, "health": "", "at": timezone.localtime().strftime("%H:%M:%S")}
    if gone:
        why, transient = unproven_absence(client, pool)
        if why:
            return _not_proven(ctx, row, why, transient)
    # Gone only when Palette says Deleted, or a 404 it confirms (a missing status proves nothing).
    if gone or state == "Deleted":
        ctx.finish(row, detail=f"Palette reports the cluster {'gone (404, confirmed)' if gone else state}.")
        ctx.save(step="release", last_seen=seen)
        return 0
    if refused:
        return ctx.retry(
            row,
            f"Palette does not accept the force delete yet ({refused}); it does once the cluster has "
            "been Deleting for 15 minutes",
        )
    elapsed = timezone.now() - (pool.delete_sent or row.started)
    reason = f"Palette reports {state} for {human_duration(elapsed)}"
    if pool.force_delete_sent:
        reason += " (force delete sent)"
    elif elapsed >= timedelta(seconds=_seconds("POOL_FORCE_DELETE_AFTER")):
        reason += (
            "; it looks stuck: Force delete is available (Palette skips graceful cleanup, so the hosts may "
            "need a reset by hand)"
        )
    ctx.note(row, reason + ".", last_seen=seen)
    return _seconds("POOL_POLL_INTERVAL")


def _release(ctx: Context) -> float | None:
    pool = ctx.pool
    row = ctx.begin("release")
    hosts = [uid for uids in pool.hosts.values() for uid in uids] or list(pool.sent_hosts)
    orphaned = pool.deletion_policy == ComputePool.ORPHAN and pool.cluster_uid
    cleanup = dict(pool.cleanup or {})
    waited = timezone.now() - row.started
    if "discoveryRun" not in cleanup and hosts and not orphaned:
        wait = _start_rediscovery(ctx, row, cleanup, waited)
        if wait is not None:
            return wait
    still, checked = _hosts_still_in_use(ctx, row, hosts if not orphaned else [])
    if still and waited < timedelta(seconds=_seconds("POOL_RELEASE_WAIT")):
        ctx.note(
            row,
            f"{len(still)} host{'s' if len(still) != 1 else ''} still in use by {pool.cluster_name} in "
            f"Palette; waiting for {'it' if len(still) == 1 else 'them'} to return to ready "
            f"({human_duration(waited)}).",
        )
        return _seconds("POOL_POLL_INTERVAL")
    _finish_release(ctx, row, cleanup, hosts if orphaned else still, checked, _palette_state(pool, orphaned))
    return None


def _start_rediscovery(ctx: Context, row: PoolStep, cleanup: dict, waited: timedelta) -> float | None:
    """Start the discovery run that tells the inventory the hosts are ready again (its uuid goes in
    `cleanup`); the seconds to wait instead while a run that started before this step is in progress."""
    pool = ctx.pool
    # The inventory learns that the hosts are ready again from a discovery run, one that starts now:
    # a run already in progress may have seen them in use.
    active = DiscoveryRun.objects.filter(
        project=pool.project, status__in=DiscoveryRun.ACTIVE, created__lt=row.started
    ).first()
    if active is not None and waited < timedelta(seconds=_seconds("POOL_RELEASE_WAIT")):
        ctx.note(
            row, "Waiting for the discovery run in progress to finish, to rediscover the released hosts."
        )
        return _seconds("POOL_POLL_INTERVAL")
    run = _refresh_inventory(pool)
    cleanup["discoveryRun"] = str(run.uuid)
    ctx.save(cleanup=cleanup)
    return None


def _hosts_still_in_use(ctx: Context, row: PoolStep, hosts: list[str]) -> tuple[list[str], bool]:
    """Which of `hosts` Palette still lists in use by the pool's cluster, and whether they were checked at all
    (not when there are none to check, Palette cannot be reached, or it fails to answer)."""
    client = ctx.client() if hosts else None
    if client is None:
        return [], False
    pool = ctx.pool
    still: list[str] = []
    try:
        for uid in hosts:
            try:
                host = client.get_edge_host(uid)
            except perrors.NotFound:
                continue
            if pool.cluster_name and any(ref.name == pool.cluster_name for ref in host.in_use_clusters):
                still.append(uid)
    except perrors.PaletteError as exc:
        ctx.record_error(row, f"Checking the hosts failed: {exc}", retried=False)
        return still, False
    return still, True


def _palette_state(pool: ComputePool, orphaned) -> str:
    """What became of the pool's Palette cluster, for the cleanup record and the audit entry."""
    if orphaned:
        return f"kept in Palette (deletion policy orphan): {pool.cluster_name} ({pool.cluster_uid})"
    if not pool.cluster_uid:
        return "no cluster was created"
    forced = " (forced)" if pool.force_delete_sent else ""
    return f"deleted{forced}: {pool.cluster_name} ({pool.cluster_uid})"


def _finish_release(
    ctx: Context, row: PoolStep, cleanup: dict, still: list[str], checked: bool, palette_state: str
) -> None:
    """Record the cleanup and mark the pool Deleted; `still` lists the hosts left in use (or kept, when
    orphaned)."""
    pool = ctx.pool
    cleanup.update(
        {
            "paletteCluster": palette_state,
            "hostsStillInUse": still,
            "hostsChecked": checked,
            "kubeconfig": "removed" if pool.kubeconfig else "none stored",
        }
    )
    run_id = cleanup.get("discoveryRun")
    run = DiscoveryRun.objects.filter(uuid=run_id).first() if run_id else None
    detail = "Hosts released." if not still else f"Still in use: {', '.join(still)}."
    if run is not None:
        detail += f" Discovery run {run.status}."
    # Together or not at all: once the pool is Deleted no message runs this step again.
    with transaction.atomic():
        ctx.finish(row, detail=detail)
        ctx.save(
            status=ComputePool.DELETED,
            step="done",
            deleted_at=timezone.now(),
            kubeconfig="",
            kubeconfig_kind="",
            cleanup=cleanup,
            due_at=None,
            wait_reason="",
        )
        audit.record(
            None, AuditEntry.DELETE, pool, verb="deleted", source="task", changes={"cluster": palette_state}
        )
