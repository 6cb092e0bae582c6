"""The deletion steps: delete (per the deletion policy), wait for Deleted or 404, release the hosts."""
from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core import audit
from core.models import AuditEntry
from palette import errors as perrors

from ..models import ComputePool, PoolStep
from .context import Context, _adopt, _refresh_inventory, _seconds, find_cluster, human

# -- deletion steps --------------------------------------------------------------------------------

def _delete(ctx: Context) -> float | None:
    pool = ctx.pool
    row = ctx.begin("delete")
    if pool.status != ComputePool.DELETING:
        ctx.save(status=ComputePool.DELETING)
    if pool.deletion_policy == ComputePool.ORPHAN:
        ctx.finish(row, PoolStep.SKIPPED, f"Deletion policy orphan: cluster {pool.cluster_name} "
                                          f"({pool.cluster_uid or 'never created'}) stays in Palette.")
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
        ctx.finish(row, detail=f"Cluster {pool.cluster_name} ({uid}) was already gone from Palette.")
        ctx.save(step="release", delete_sent=timezone.now())
        return 0
    except perrors.PaletteError as exc:
        return ctx.palette_error(row, exc, "Deleting the cluster failed")
    ctx.finish(row, detail=f"Palette accepted the deletion of {pool.cluster_name} ({uid}).")
    ctx.save(step="wait_deleted", delete_sent=timezone.now(), wait_reason="Waiting for Palette to delete the cluster.")
    return _seconds("POOL_POLL_INTERVAL")


def force_delete_available(pool: ComputePool) -> bool:
    """A deletion still waiting POOL_FORCE_DELETE_AFTER after Palette accepted it may be forced."""
    if pool.force_delete_requested or pool.operation != ComputePool.DELETION or pool.status not in (ComputePool.DELETING, ComputePool.FAILED):
        return False
    if pool.status == ComputePool.FAILED:
        return bool(pool.cluster_uid)
    return bool(pool.delete_sent and timezone.now() - pool.delete_sent >= timedelta(seconds=_seconds("POOL_FORCE_DELETE_AFTER")))


def _wait_deleted(ctx: Context) -> float | None:
    pool = ctx.pool
    row = ctx.begin("wait_deleted")
    client = ctx.client_or_fail(row)
    if client is None:
        return None
    gone = False
    try:
        if pool.force_delete_requested and not pool.force_delete_sent:
            client.delete_cluster(pool.cluster_uid, force=True)
            ctx.save(force_delete_sent=timezone.now())
            audit.record(None, AuditEntry.ACTION, pool, verb="force delete sent", source="task")
        state = client.get_cluster_status(pool.cluster_uid).state
    except perrors.NotFound:
        gone, state = True, "gone"
    except perrors.PaletteError as exc:
        return ctx.palette_error(row, exc, "Polling the deletion failed")
    seen = {"state": state, "health": "", "at": timezone.localtime().strftime("%H:%M:%S")}
    # The Go SDK counts a missing status, Deleted or 404 as gone.
    if gone or state in ("Deleted", ""):
        ctx.finish(row, detail=f"Palette reports the cluster {'gone (404)' if gone else state or 'without status'}.")
        ctx.save(step="release", last_seen=seen)
        return 0
    elapsed = timezone.now() - (pool.delete_sent or row.started)
    reason = f"Palette reports {state} for {human(elapsed)}"
    if pool.force_delete_sent:
        reason += " (force delete sent)"
    elif elapsed >= timedelta(seconds=_seconds("POOL_FORCE_DELETE_AFTER")):
        reason += ("; it looks stuck: Force delete is available (Palette skips graceful cleanup, so the hosts may need a "
                   "reset by hand)")
    ctx.note(row, reason + ".", last_seen=seen)
    return _seconds("POOL_POLL_INTERVAL")


def _release(ctx: Context) -> float | None:
    from ..models import DiscoveryRun

    pool = ctx.pool
    row = ctx.begin("release")
    hosts = [uid for uids in pool.hosts.values() for uid in uids] or list(pool.sent_hosts)
    orphaned = pool.deletion_policy == ComputePool.ORPHAN and pool.cluster_uid
    cleanup = dict(pool.cleanup or {})
    waited = timezone.now() - row.started
    if "discoveryRun" not in cleanup and hosts and not orphaned:
        # The inventory learns that the hosts are ready again from a discovery run, one that starts now:
        # a run already in progress may have seen them in use.
        active = DiscoveryRun.objects.filter(project=pool.project, status__in=DiscoveryRun.ACTIVE, created__lt=row.started).first()
        if active is not None and waited < timedelta(seconds=_seconds("POOL_RELEASE_WAIT")):
            ctx.note(row, "Waiting for the discovery run in progress to finish, to rediscover the released hosts.")
            return _seconds("POOL_POLL_INTERVAL")
        run = _refresh_inventory(pool)
        cleanup["discoveryRun"] = str(run.uuid)
        ctx.save(cleanup=cleanup)
    still: list[str] = []
    client = ctx.client() if hosts and not orphaned else None
    checked = client is not None
    if client is not None:
        try:
            for uid in hosts:
                try:
                    host = client.get_edge_host(uid)
                except perrors.NotFound:
                    continue
                if pool.cluster_name and any(ref.name == pool.cluster_name for ref in host.in_use_clusters):
                    still.append(uid)
        except perrors.PaletteError as exc:
            checked = False
            ctx.record_error(row, f"Checking the hosts failed: {exc}", retried=False)
    if still and waited < timedelta(seconds=_seconds("POOL_RELEASE_WAIT")):
        ctx.note(row, f"{len(still)} host{'s' if len(still) != 1 else ''} still in use by {pool.cluster_name} in Palette; "
                      f"waiting for {'it' if len(still) == 1 else 'them'} to return to ready ({human(waited)}).")
        return _seconds("POOL_POLL_INTERVAL")
    if orphaned:
        palette_state = f"kept in Palette (deletion policy orphan): {pool.cluster_name} ({pool.cluster_uid})"
        still = hosts
    elif not pool.cluster_uid:
        palette_state = "no cluster was created"
    else:
        palette_state = f"deleted{' (forced)' if pool.force_delete_sent else ''}: {pool.cluster_name} ({pool.cluster_uid})"
    cleanup.update({"paletteCluster": palette_state, "hostsStillInUse": still, "hostsChecked": checked,
                    "kubeconfig": "removed" if pool.kubeconfig else "none stored"})
    run_id = cleanup.get("discoveryRun")
    run = DiscoveryRun.objects.filter(uuid=run_id).first() if run_id else None
    detail = "Hosts released." if not still else f"Still in use: {', '.join(still)}."
    if run is not None:
        detail += f" Discovery run {run.status}."
    # Together or not at all: once the pool is Deleted no message runs this step again.
    with transaction.atomic():
        ctx.finish(row, detail=detail)
        ctx.save(status=ComputePool.DELETED, step="done", deleted_at=timezone.now(), kubeconfig="", cleanup=cleanup,
                 due_at=None, wait_reason="")
        audit.record(None, AuditEntry.DELETE, pool, verb="deleted", source="task", changes={"cluster": palette_state})
    return None
