"""Provisioning and deletion of Compute Pools through Palette, one recorded step at a time.

Provisioning: validate (readiness report, then Palette's `/edge-native/validate`, whose errors
count even on a 200) → create (idempotent, see below) → wait (Running and overview health
Healthy, polled by re-scheduling, never by sleeping) → kubeconfig (stored encrypted) → Ready.
Deletion: delete (per the deletion policy) → wait_deleted (Deleted or 404; force delete offered
after POOL_FORCE_DELETE_AFTER) → release (discovery is started, the hosts are checked) → Deleted,
with a cleanup summary.

How it stays correct when things go wrong:
- One Celery message runs one step. It carries the pool's `tick`; `run_step` claims the pool by
  compare-and-set on it and every write of the step is conditional on the new tick, so a
  redelivered, duplicated or superseded message changes nothing.
- The current step is stored on the pool: a worker killed at any point leaves the pool at its
  step, `due_at` in the past, and the watchdog (beat, and every worker start) re-sends it.
- The cluster name is fixed when the pool is created and the cluster uid is written the moment
  Palette returns it. Before any create, the hosts of earlier requests are asked which cluster
  uses them, so a create whose answer was lost (timeout, reset, killed worker) is found, not
  repeated: a retry never makes a second cluster.
- Transient errors (palette.errors: timeouts, 429, 502-504, resets) are retried with backoff and
  jitter; permanent ones fail the pool with a classification (credentials, tls, capacity,
  rejected, timeout, unreachable). Each step keeps its first and its last error.
- POOL_PROVISION_TIMEOUT ends a provisioning attempt in Failed with what Palette reported last;
  the cluster is left in place (never recreated), and Retry resumes waiting for it.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import audit
from core.models import AuditEntry
from palette import errors as perrors
from palette.transport import RetryPolicy

from .models import ComputePool, PoolStep

log = logging.getLogger(__name__)

PROVISION_STEPS = ("validate", "create", "wait", "kubeconfig")
DELETE_STEPS = ("delete", "wait_deleted", "release")
STEP_LABELS = {
    "validate": "Validate", "create": "Create cluster", "wait": "Wait for Running and Healthy", "kubeconfig": "Fetch kubeconfig",
    "delete": "Delete cluster", "wait_deleted": "Wait for Deleted", "release": "Release hosts",
}
MAX_EXCLUDED_HOSTS = 10
#: In-client retries stay short: longer waits are re-scheduled steps, visible on the pool page.
STEP_RETRY = RetryPolicy(attempts=2, base=0.5, cap=2.0, retry_after_cap=5.0)


@dataclass(frozen=True)
class Next:
    """Run the pool's next step: send (pool_id, tick) after `countdown` seconds."""

    pool_id: int
    tick: int
    countdown: float


class Superseded(Exception):
    """Another message owns the pool now (its tick moved on): stop without writing."""


def _seconds(name: str) -> float:
    return float(getattr(settings, name))


def classify(exc: perrors.PaletteError) -> str:
    """The failure class of a Palette error that will not be retried."""
    if isinstance(exc, (perrors.AuthenticationFailed, perrors.PermissionDenied)):
        return "credentials"
    if isinstance(exc, perrors.PaletteTLSError):
        return "tls"
    if isinstance(exc, perrors.PaletteConnectionError):
        return "unreachable"
    return "rejected"


def human(delta: timedelta | float) -> str:
    """`2m 05s`, `1h 03m`, `12s`."""
    seconds = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


class Context:
    """One claimed step execution: the pool, the tick it holds, the Palette client, the step row."""

    def __init__(self, pool: ComputePool, tick: int, client_kwargs: dict):
        self.pool = pool
        self.tick = tick
        self.client_kwargs = client_kwargs
        self._client = None
        self.now = timezone.now()

    # -- writes, all conditional on still holding the pool --------------------------------------

    def save(self, **fields: Any) -> None:
        """Update the pool if this execution still holds it; Superseded otherwise."""
        fields["updated"] = timezone.now()
        if not ComputePool.objects.filter(pk=self.pool.pk, tick=self.tick).update(**fields):
            raise Superseded()
        for key, value in fields.items():
            setattr(self.pool, key, value)

    def begin(self, name: str) -> PoolStep:
        """The row of step `name` in the current attempt (created when the step starts)."""
        row, _ = PoolStep.objects.get_or_create(pool=self.pool, attempt=self.pool.attempt, name=name,
                                                defaults={"started": timezone.now()})
        if self.pool.step != name:
            self.save(step=name)
        return row

    def finish(self, row: PoolStep, status: str = PoolStep.SUCCEEDED, detail: str | None = None) -> None:
        row.status, row.finished = status, timezone.now()
        if detail is not None:
            row.detail = detail
        row.save(update_fields=["status", "finished", "detail"])

    def note(self, row: PoolStep, detail: str, **pool_fields: Any) -> None:
        """Record what the step sees now (on the step and as the pool's wait reason)."""
        self.save(wait_reason=detail, **pool_fields)
        row.detail = detail
        row.save(update_fields=["detail"])

    def record_error(self, row: PoolStep, message: str, *, retried: bool) -> None:
        row.last_error = message
        if not row.first_error:
            row.first_error = message
        if retried:
            row.retries += 1
        row.save(update_fields=["first_error", "last_error", "retries"])

    def retry(self, row: PoolStep, message: str) -> float:
        """A transient problem: keep the error, wait with backoff and jitter, run the step again."""
        self.record_error(row, message, retried=True)
        backoff = min(_seconds("POOL_RETRY_CAP"), _seconds("POOL_RETRY_BASE") * 2 ** min(row.retries - 1, 16))
        backoff *= random.uniform(0.5, 1.0)
        self.note(row, f"{message} — retrying in {human(max(backoff, 1))} (retry {row.retries}).")
        return backoff

    def fail(self, row: PoolStep | None, failure_class: str, message: str) -> None:
        """End the operation in Failed, keeping the first error of the pool and of the step."""
        if row is not None:
            self.record_error(row, message, retried=False)
            self.finish(row, PoolStep.FAILED)
        first = self.pool.failure_message or message
        self.save(status=ComputePool.FAILED, failure_class=failure_class, failure_message=first, due_at=None,
                  wait_reason="")
        audit.record(None, AuditEntry.ACTION, self.pool, verb=f"{self.pool.operation} failed", outcome=AuditEntry.FAILURE,
                     source="task", changes={"failure": failure_class})
        log.warning("compute pool %s failed (%s)", self.pool.pk, failure_class)

    def palette_error(self, row: PoolStep, exc: perrors.PaletteError, what: str) -> float | None:
        """Retry a transient Palette error; fail the pool on a permanent one."""
        message = f"{what}: {exc}"
        if exc.transient:
            return self.retry(row, message)
        self.fail(row, classify(exc), message)
        return None

    # -- Palette ------------------------------------------------------------------------------

    def client(self):
        """The project's Palette client (built once per execution); None when the integration is unusable."""
        if self._client is None:
            from integrations.effective import NotConfigured, palette_client, working_palette

            try:
                palette = working_palette(self.pool.project)
            except NotConfigured:
                return None
            kwargs = {"retry": STEP_RETRY, **self.client_kwargs}
            self._client = palette_client(palette, name=f"pool {self.pool.project.namespace}/{self.pool.name}", **kwargs)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


# -- the entry point -----------------------------------------------------------------------------

def run_step(pool_id: int, tick: int, **client_kwargs: Any) -> Next | None:
    """Claim the pool for message `tick` and run its current step once; what to run next, or None.

    Idempotent: a message whose tick no longer matches, or for a pool that is not in progress,
    does nothing. The claim sets `due_at` to now + POOL_STEP_BUDGET so the watchdog leaves a
    running step alone; the outcome sets it to when the next message is due.
    """
    budget = timedelta(seconds=_seconds("POOL_STEP_BUDGET"))
    claimed = ComputePool.objects.filter(pk=pool_id, tick=tick, status__in=ComputePool.IN_PROGRESS).update(
        tick=tick + 1, due_at=timezone.now() + budget)
    if not claimed:
        return None
    pool = ComputePool.objects.select_related("project__tenant").get(pk=pool_id)
    ctx = Context(pool, tick + 1, client_kwargs)
    try:
        countdown = _advance(ctx)
    except Superseded:
        return None
    except Exception as exc:  # a bug must end the pool visibly, not leave it spinning
        log.exception("compute pool %s: step %s crashed", pool_id, pool.step)
        try:
            ctx.fail(None, "internal", f"Step {pool.step or 'validate'} stopped unexpectedly ({type(exc).__name__}); "
                                       "see the worker log, then Retry.")
        except Superseded:
            pass
        return None
    finally:
        ctx.close()
    if countdown is None:
        return None
    countdown = max(0.0, countdown)
    if not ComputePool.objects.filter(pk=pool_id, tick=tick + 1).update(due_at=timezone.now() + timedelta(seconds=countdown)):
        return None
    return Next(pool_id, tick + 1, countdown)


def _advance(ctx: Context) -> float | None:
    pool = ctx.pool
    if pool.operation == ComputePool.PROVISION and pool.delete_requested:
        return _switch_to_deletion(ctx)
    if pool.operation == ComputePool.PROVISION:
        timeout = timedelta(seconds=_seconds("POOL_PROVISION_TIMEOUT"))
        if pool.started and ctx.now - pool.started > timeout:
            return _timed_out(ctx, timeout)
        steps: dict[str, Callable[[Context], float | None]] = {
            "validate": _validate, "create": _create, "wait": _wait, "kubeconfig": _kubeconfig}
        return steps.get(pool.step or "validate", _validate)(ctx)
    steps = {"delete": _delete, "wait_deleted": _wait_deleted, "release": _release}
    return steps.get(pool.step or "delete", _delete)(ctx)


def _switch_to_deletion(ctx: Context) -> float:
    pool = ctx.pool
    running = PoolStep.objects.filter(pool=pool, attempt=pool.attempt, status=PoolStep.RUNNING)
    running.update(status=PoolStep.SKIPPED, finished=timezone.now(), detail="Stopped: deletion was requested.")
    ctx.save(operation=ComputePool.DELETION, status=ComputePool.DELETING, step="delete", attempt=pool.attempt + 1,
             delete_requested=False, wait_reason="Deletion requested; deleting.")
    return 0


def _timed_out(ctx: Context, timeout: timedelta) -> None:
    pool = ctx.pool
    row = PoolStep.objects.filter(pool=pool, attempt=pool.attempt, name=pool.step or "validate").first()
    seen = pool.last_seen or {}
    if seen.get("state"):
        last = f"Palette last reported {seen['state']}" + (f", health {seen['health']}" if seen.get("health") else ", no health yet")
        last += f" at {seen.get('at', '?')}"
        if seen.get("condition"):
            last += f" ({seen['condition']})"
    elif row is not None and row.last_error:
        last = f"the last error was: {row.last_error}"
    else:
        last = f"the step {STEP_LABELS.get(pool.step, pool.step)} had not completed"
    kept = f" Cluster {pool.cluster_name} ({pool.cluster_uid}) was left in Palette, not recreated: Retry keeps waiting for it, Delete removes it." \
        if pool.cluster_uid else ""
    ctx.fail(row, "timeout", f"Not Ready after {human(timeout)} (POOL_PROVISION_TIMEOUT): {last}.{kept}")
    return None


# -- provisioning steps --------------------------------------------------------------------------

def find_cluster(client, host_uids: list[str], name: str) -> str:
    """The uid of the cluster called `name` that uses one of `host_uids`, or "".

    Palette's API (in the spec subset) has no cluster search by name; a cluster made from our
    request necessarily holds our hosts, and every host lists the clusters using it.
    """
    for uid in dict.fromkeys(host_uids):
        try:
            host = client.get_edge_host(uid)
        except perrors.NotFound:
            continue
        for ref in host.in_use_clusters:
            if ref.name == name and ref.uid:
                return ref.uid
    return ""


def _adopt(ctx: Context, uid: str) -> None:
    # Unconditional: the uid of a cluster that exists must never be lost, whoever holds the pool.
    ComputePool.objects.filter(pk=ctx.pool.pk).update(cluster_uid=uid)
    ctx.pool.cluster_uid = uid


def _validate(ctx: Context) -> float | None:
    from .readiness import report_for_pool

    pool = ctx.pool
    row = ctx.begin("validate")
    if pool.status != ComputePool.VALIDATING:
        ctx.save(status=ComputePool.VALIDATING)
    client = ctx.client()
    if client is None:
        ctx.fail(row, "credentials", "The project has no complete Palette integration; fix Settings, then Retry.")
        return None
    if pool.cluster_uid or pool.sent_hosts:
        # An earlier attempt sent a create: that cluster, if it exists, is this pool's cluster.
        try:
            uid = pool.cluster_uid or find_cluster(client, pool.sent_hosts, pool.cluster_name)
        except perrors.PaletteError as exc:
            return ctx.palette_error(row, exc, "Looking for the cluster of the earlier attempt failed")
        if uid:
            _adopt(ctx, uid)
            ctx.finish(row, PoolStep.SKIPPED, f"Cluster {pool.cluster_name} ({uid}) exists already; waiting for it.")
            ctx.save(status=ComputePool.PROVISIONING, step="wait")
            return 0
    ctx.note(row, "Checking the readiness report.")
    report = report_for_pool(pool)
    if not report.ready:
        failing = report.blocking_failures
        cls = "capacity" if report.host_shortage else ("credentials" if any(r.name == "Palette integration" for r in failing) else "rejected")
        ctx.fail(row, cls, "Not ready: " + report.summary())
        return None
    ctx.save(hosts=report.hosts, request=report.request)
    ctx.note(row, f"Asking Palette to validate the request for {sum(len(v) for v in report.hosts.values())} hosts.")
    try:
        result = client.validate_edge_native_cluster(report.request)
    except perrors.PaletteError as exc:
        return ctx.palette_error(row, exc, "Palette validation failed")
    if not result.ok:
        chosen = [uid for uids in report.hosts.values() for uid in uids]
        messages = [f"{p.name}: {p.message}" if p.name else p.message for p in result.problems]
        refused = sorted({uid for uid in chosen for p in result.problems if uid in p.message})
        host_only = refused and all(any(uid in p.message for uid in chosen) for p in result.problems)
        if host_only and len(pool.excluded_hosts) + len(refused) <= MAX_EXCLUDED_HOSTS:
            # One bad host need not fail the pool: plan again without the hosts Palette refused.
            ctx.record_error(row, "Palette refused hosts: " + "; ".join(messages), retried=False)
            ctx.save(excluded_hosts=sorted(set(pool.excluded_hosts) | set(refused)), hosts={})
            ctx.note(row, f"Palette refused {', '.join(refused)}; planning again without {'it' if len(refused) == 1 else 'them'}.")
            return 0
        ctx.fail(row, "capacity" if host_only else "rejected", "Palette's validation refused the request: " + "; ".join(messages))
        return None
    ctx.finish(row, detail=f"Palette accepted the request ({', '.join(f'{k}: {len(v)}' for k, v in report.hosts.items())}).")
    ctx.save(step="create", status=ComputePool.PROVISIONING, wait_reason="Creating the cluster.")
    return 0


def _create(ctx: Context) -> float | None:
    pool = ctx.pool
    row = ctx.begin("create")
    if pool.status != ComputePool.PROVISIONING:
        ctx.save(status=ComputePool.PROVISIONING)
    client = ctx.client()
    if client is None:
        ctx.fail(row, "credentials", "The project has no complete Palette integration; fix Settings, then Retry.")
        return None
    if not pool.cluster_uid:
        hosts = [uid for uids in pool.hosts.values() for uid in uids]
        try:
            # Before creating: a cluster with this name on these hosts is ours (an earlier answer was lost).
            uid = find_cluster(client, pool.sent_hosts + hosts, pool.cluster_name)
        except perrors.PaletteError as exc:
            return ctx.palette_error(row, exc, "Looking for an existing cluster failed")
        if not uid:
            # Recorded before sending: if the answer is lost, these are the hosts to ask.
            ctx.save(sent_hosts=list(dict.fromkeys(pool.sent_hosts + hosts)))
            try:
                uid = client.create_edge_native_cluster(pool.request)
            except perrors.Conflict as exc:
                uid = _conflict_owner(client, pool, hosts)
                if not uid:
                    ctx.fail(row, "rejected", f"Palette refused the create: {exc} The cluster name {pool.cluster_name} is taken by a "
                                              "cluster that does not use this pool's hosts.")
                    return None
            except perrors.PaletteError as exc:
                # A timeout or reset leaves the outcome unknown: the next try looks the cluster up first.
                return ctx.palette_error(row, exc, "Creating the cluster failed")
        _adopt(ctx, uid)
        audit.record(None, AuditEntry.ACTION, pool, verb="cluster created in Palette", source="task",
                     changes={"cluster": pool.cluster_name, "uid": uid})
    ctx.finish(row, detail=f"Cluster {pool.cluster_name} ({pool.cluster_uid}).")
    ctx.save(step="wait", wait_reason="Waiting for Palette to start provisioning.")
    return _seconds("POOL_POLL_INTERVAL")


def _conflict_owner(client, pool: ComputePool, hosts: list[str]) -> str:
    try:
        return find_cluster(client, pool.sent_hosts + hosts, pool.cluster_name)
    except perrors.PaletteError:
        return ""


def _condition(cluster) -> str:
    for cond in cluster.conditions if cluster is not None else ():
        if str(cond.get("status")).lower() != "true" and (cond.get("message") or cond.get("reason")):
            return f"{cond.get('type')}: {cond.get('message') or cond.get('reason')}"
    return ""


def _wait(ctx: Context) -> float | None:
    pool = ctx.pool
    row = ctx.begin("wait")
    client = ctx.client()
    if client is None:
        ctx.fail(row, "credentials", "The project has no complete Palette integration; fix Settings, then Retry.")
        return None
    try:
        overview = client.get_cluster_overview(pool.cluster_uid)
        cluster = client.get_cluster(pool.cluster_uid) if not overview.is_running_and_healthy else None
    except perrors.NotFound:
        ctx.fail(row, "rejected", f"Palette no longer has cluster {pool.cluster_name} ({pool.cluster_uid}): it was deleted outside "
                                  "PaletteAI. Delete this pool, or Retry to create a new cluster.")
        ComputePool.objects.filter(pk=pool.pk).update(cluster_uid="")
        return None
    except perrors.PaletteError as exc:
        return ctx.palette_error(row, exc, "Polling the cluster failed")
    state, health = overview.state, overview.health
    condition = _condition(cluster)
    seen = {"state": state, "health": health, "at": timezone.localtime().strftime("%H:%M:%S"), "condition": condition}
    if overview.is_running_and_healthy:
        ctx.finish(row, detail=f"Running and Healthy after {human(timezone.now() - row.started)}.")
        ctx.save(step="kubeconfig", status=ComputePool.RUNNING, last_seen=seen, wait_reason="Fetching the kubeconfig.")
        return 0
    if state in ("Deleting", "Deleted"):
        ctx.fail(row, "rejected", f"Palette is deleting cluster {pool.cluster_name} ({state}): someone deleted it outside PaletteAI.")
        return None
    reason = f"Palette reports {state or 'no state yet'}" + (f", health {health}" if health else "")
    reason += f" for {human(timezone.now() - row.started)}; waiting for Running and Healthy"
    if condition:
        reason += f" — {condition}"
    ctx.note(row, reason + ".", last_seen=seen, status=ComputePool.RUNNING if state == "Running" else ComputePool.PROVISIONING)
    return _seconds("POOL_POLL_INTERVAL")


def _kubeconfig(ctx: Context) -> float | None:
    pool = ctx.pool
    row = ctx.begin("kubeconfig")
    client = ctx.client()
    if client is None:
        ctx.fail(row, "credentials", "The project has no complete Palette integration; fix Settings, then Retry.")
        return None
    try:
        text = client.get_kubeconfig(pool.cluster_uid)
    except perrors.NotFound as exc:
        # Palette answers 404 until the kubeconfig exists; not fatal while the cluster runs.
        return ctx.retry(row, f"The kubeconfig is not available yet: {exc.palette_message or exc}")
    except perrors.PaletteError as exc:
        return ctx.palette_error(row, exc, "Fetching the kubeconfig failed")
    now = timezone.now()
    ctx.save(kubeconfig=text, status=ComputePool.READY, step="done", ready_at=now, due_at=None, wait_reason="",
             failure_class="", failure_message="")
    ctx.finish(row, detail=f"Kubeconfig stored encrypted ({len(text.splitlines())} lines).")
    audit.record(None, AuditEntry.ACTION, pool, verb="ready", source="task", changes={"cluster": pool.cluster_name})
    _refresh_inventory(pool)
    return None


def _refresh_inventory(pool: ComputePool) -> None:
    """Start a discovery run so the inventory shows the pool's hosts in use (or free again)."""
    from .discovery import start_discovery

    with transaction.atomic():
        return start_discovery(pool.project, trigger="pool")


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
    client = ctx.client()
    if client is None:
        ctx.fail(row, "credentials", "The project has no complete Palette integration, so the cluster cannot be deleted; "
                                     "fix Settings, then Retry.")
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
    client = ctx.client()
    if client is None:
        ctx.fail(row, "credentials", "The project has no complete Palette integration; fix Settings, then Retry.")
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
    from .models import DiscoveryRun

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
    ctx.finish(row, detail=detail)
    ctx.save(status=ComputePool.DELETED, step="done", deleted_at=timezone.now(), kubeconfig="", cleanup=cleanup, due_at=None,
             wait_reason="")
    audit.record(None, AuditEntry.DELETE, pool, verb="deleted", source="task", changes={"cluster": palette_state})
    return None


# -- starting, retrying, deleting ---------------------------------------------------------------------

def enqueue(pool_id: int, tick: int, countdown: float = 0) -> None:
    """Send the step message for (pool, tick)."""
    from .tasks import pool_step_task

    pool_step_task.apply_async((pool_id, tick), countdown=countdown)


def _restart(pool: ComputePool, **fields: Any) -> bool:
    """Start a new chain: bump the tick (old messages become no-ops) and send the first message on commit."""
    now = timezone.now()
    fields.update(tick=F("tick") + 1, due_at=now + timedelta(seconds=_seconds("POOL_STEP_BUDGET")), updated=now)
    if not ComputePool.objects.filter(pk=pool.pk, tick=pool.tick, status=pool.status).update(**fields):
        return False
    pool.refresh_from_db()
    transaction.on_commit(lambda: enqueue(pool.pk, pool.tick))
    return True


def create_pool(project, spec, bundle, *, request=None, user=None, source: str = "web") -> ComputePool:
    """Store a new pool from a checked spec and start provisioning once the transaction commits."""
    from .readiness import cluster_name_for

    now = timezone.now()
    pool = ComputePool.objects.create(
        project=project, name=spec.name, description=spec.description, labels=dict(spec.labels), variant=spec.variant,
        bundle=bundle, bundle_name=spec.bundle, node_pools=spec.node_pools(), cp_resource_groups=dict(spec.cp_groups),
        worker_resource_groups=dict(spec.worker_groups), vip=spec.vip, ssh_keys=list(spec.ssh_keys),
        deletion_policy=spec.deletion_policy, status=ComputePool.PENDING, step="validate", started=now,
        due_at=now + timedelta(seconds=_seconds("POOL_STEP_BUDGET")), cluster_name=cluster_name_for(project, spec.name),
        wait_reason="Waiting for a worker to start provisioning.",
    )
    audit.record(request, AuditEntry.CREATE, pool, user=user, source=source,
                 changes={"variant": spec.variant, "bundle": spec.bundle, "vip": spec.vip, "cluster": pool.cluster_name})
    transaction.on_commit(lambda: enqueue(pool.pk, pool.tick))
    return pool


def retry_pool(pool: ComputePool, *, request=None, user=None, source: str = "web") -> bool:
    """Run a failed pool's operation again as a new attempt (provisioning resumes at its cluster if it has one)."""
    if pool.status != ComputePool.FAILED:
        return False
    deleting = pool.operation == ComputePool.DELETION
    started = _restart(pool, status=ComputePool.DELETING if deleting else ComputePool.PENDING, attempt=pool.attempt + 1,
                       step="delete" if deleting else "validate", failure_class="", failure_message="", excluded_hosts=[],
                       started=timezone.now(), wait_reason="Retrying: waiting for a worker.")
    if started:
        audit.record(request, AuditEntry.ACTION, pool, verb="retry", user=user, source=source)
    return started


def request_delete(pool: ComputePool, *, request=None, user=None, source: str = "web") -> str:
    """Start deleting per the deletion policy: "started", "queued" (after the running step), or "already"."""
    if pool.status in (ComputePool.DELETED, ComputePool.DELETING) or pool.delete_requested:
        return "already"
    audit.record(request, AuditEntry.DELETE, pool, verb=f"delete requested (policy {pool.deletion_policy})", user=user, source=source)
    if pool.status in (ComputePool.READY, ComputePool.FAILED):
        ok = _restart(pool, operation=ComputePool.DELETION, status=ComputePool.DELETING, step="delete", attempt=pool.attempt + 1,
                      failure_class="", failure_message="", wait_reason="Deletion requested: waiting for a worker.")
        return "started" if ok else "already"
    # A chain is running: it switches to deletion at its next step, so two chains never overlap.
    ComputePool.objects.filter(pk=pool.pk).update(delete_requested=True, updated=timezone.now())
    pool.delete_requested = True
    return "queued"


def request_force_delete(pool: ComputePool, *, request=None, user=None, source: str = "web") -> bool:
    """Ask Palette to delete without graceful cleanup (only once a deletion looks stuck, or failed)."""
    if not force_delete_available(pool):
        return False
    audit.record(request, AuditEntry.DELETE, pool, verb="force delete requested", user=user, source=source)
    if pool.status == ComputePool.FAILED:
        return _restart(pool, status=ComputePool.DELETING, step="wait_deleted", attempt=pool.attempt + 1, force_delete_requested=True,
                        failure_class="", failure_message="", wait_reason="Force delete requested.")
    ComputePool.objects.filter(pk=pool.pk).update(force_delete_requested=True, updated=timezone.now())
    pool.force_delete_requested = True
    return True


def resume_stalled(now=None) -> int:
    """Re-send the message of every pool in progress whose next step is overdue by POOL_RESUME_GRACE.

    Covers a worker killed mid-step or while holding a countdown message, and messages lost by the
    broker. A duplicate is harmless: only the message whose tick matches runs.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=_seconds("POOL_RESUME_GRACE"))
    stalled = list(ComputePool.objects.filter(status__in=ComputePool.IN_PROGRESS, due_at__lt=cutoff).values_list("pk", "tick"))
    stalled += list(ComputePool.objects.filter(status__in=ComputePool.IN_PROGRESS, due_at__isnull=True).values_list("pk", "tick"))
    for pk, tick in stalled:
        log.info("compute pool %s: resuming a stalled step", pk)
        enqueue(pk, tick)
    return len(stalled)


def timeline(pool: ComputePool) -> list[dict]:
    """The pool's attempts, newest first, each with its steps in order (planned steps not yet run included)."""
    rows = list(pool.steps.all())
    attempts: dict[int, list[PoolStep]] = {}
    for row in rows:
        attempts.setdefault(row.attempt, []).append(row)
    out = []
    for number in sorted(attempts, reverse=True):
        steps = attempts[number]
        deleting = any(s.name in DELETE_STEPS for s in steps)
        planned = DELETE_STEPS if deleting else PROVISION_STEPS
        names = {s.name for s in steps}
        current = number == pool.attempt and not pool.is_terminal
        items = [{"row": s, "name": s.name, "label": STEP_LABELS.get(s.name, s.name), "status": s.status,
                  "took": human(s.finished - s.started) if s.finished else ""} for s in steps]
        if current:
            items += [{"row": None, "name": n, "label": STEP_LABELS[n], "status": "planned"} for n in planned if n not in names]
        out.append({"attempt": number, "operation": "Deletion" if deleting else "Provisioning", "steps": items, "current": current})
    return out
