"""The provisioning steps and `run_step`, the entry point that claims a pool and runs its current step."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.template.defaultfilters import pluralize
from django.utils import timezone

from core import audit, dberrors
from core.durations import human_duration
from core.models import AuditEntry
from palette import errors as perrors
from palette import kubeconfig as kubeconfigs
from palette.client import KUBECONFIG_ASSETS

from ..models import ComputePool, PoolStep
from ..variables import with_secrets
from . import day2, events, upgrade
from .context import (
    STEP_LABELS,
    Context,
    DeletionRequested,
    Next,
    Superseded,
    _adopt,
    _refresh_inventory,
    _seconds,
    find_cluster,
    log,
    transition,
    unproven_absence,
)
from .deletion import _delete, _release, _wait_deleted

MAX_EXCLUDED_HOSTS = 10

# -- the entry point -----------------------------------------------------------------------------


def run_step(pool_id: int, tick: int, **client_kwargs: Any) -> Next | None:
    """Claim the pool for message `tick` and run its current step once; what to run next, or None.

    Idempotent: a message whose tick no longer matches, or for a pool that is not in progress,
    does nothing. The claim sets `due_at` to now + POOL_STEP_BUDGET so the watchdog leaves a
    running step alone; the outcome sets it to when the next message is due. A transient database
    error (busy, connection lost, serialization failure, deadlock) runs the step again after a
    backoff, wherever it happened: it never fails the pool.
    """
    budget = timedelta(seconds=_seconds("POOL_STEP_BUDGET"))
    held = tick
    try:
        if not transition(
            pool_id,
            {"tick": tick, "status__in": ComputePool.IN_PROGRESS},
            tick=tick + 1,
            due_at=timezone.now() + budget,
        ):
            return None
        held = tick + 1
        pool = ComputePool.objects.select_related("project__tenant").get(pk=pool_id)
    except Exception as exc:
        if not dberrors.is_transient(exc):
            raise
        # Before the step began: send the message again (a no-op if an unconfirmed claim did commit; the
        # watchdog resumes the pool then).
        log.warning(
            "compute pool %s: database error claiming the step, trying again: %s",
            pool_id,
            dberrors.describe(exc),
        )
        dberrors.recover_connection()
        return Next(pool_id, held, _seconds("POOL_RETRY_BASE"))
    ctx = Context(pool, held, client_kwargs)
    try:
        countdown = _advance(ctx)
        if countdown is None:
            return None
        countdown = max(0.0, countdown)
        if not transition(pool_id, {"tick": held}, due_at=timezone.now() + timedelta(seconds=countdown)):
            return None
        return Next(pool_id, held, countdown)
    except Superseded:
        return None
    except Exception as exc:
        if dberrors.is_transient(exc):
            return _database_retry(ctx, exc)
        _crashed(ctx, exc)
        return None
    finally:
        ctx.close()


def _crashed(ctx: Context, exc: Exception) -> None:
    # A bug must end the pool visibly, not leave it spinning.
    log.exception("compute pool %s: step %s crashed", ctx.pool.pk, ctx.pool.step)
    try:
        ctx.fail(
            None,
            "internal",
            f"Step {ctx.pool.step or 'validate'} stopped unexpectedly ({type(exc).__name__}); "
            "see the worker log, then Retry.",
        )
    except (Superseded, DeletionRequested):
        pass


def _database_retry(ctx: Context, exc: Exception) -> Next | None:
    """Run the same step again after a backoff: the database was busy or unreachable, the work itself is fine.

    The error is kept on the step (first and last, counted as a retry) and shown as the pool's wait reason
    when the database answers again; if it still does not, the message is sent anyway (and should that be
    lost too, the watchdog resumes the pool once `due_at` passes). Nothing is written when the step had
    ended the pool before the error, or another message holds it now.
    """
    log.warning(
        "compute pool %s: database error in step %s, retrying it: %s",
        ctx.pool.pk,
        ctx.pool.step,
        dberrors.describe(exc),
    )
    dberrors.recover_connection()
    backoff = _seconds("POOL_RETRY_BASE")
    try:
        # Read back, not trusted from memory: a rolled-back transaction may have changed the pool object only.
        state = (
            ComputePool.objects.filter(pk=ctx.pool.pk, tick=ctx.tick, status__in=ComputePool.IN_PROGRESS)
            .values("step", "attempt")
            .first()
        )
        if state is None:
            return None
        row = PoolStep.objects.filter(pool=ctx.pool, attempt=state["attempt"], name=state["step"]).first()
        message = f"The database was busy or unreachable ({dberrors.describe(exc)})"
        if row is not None:
            backoff = ctx.retry(row, message)
        transition(ctx.pool.pk, {"tick": ctx.tick}, due_at=timezone.now() + timedelta(seconds=backoff))
    except Superseded:
        return None
    except Exception as again:
        if not dberrors.is_transient(again):
            raise
        dberrors.recover_connection()
    return Next(ctx.pool.pk, ctx.tick, backoff)


def _advance(ctx: Context) -> float | None:
    operations: dict[str, Callable[[Context], float | None]] = {
        ComputePool.PROVISION: _provisioning,
        ComputePool.DELETION: _deletion,
        ComputePool.SCALE: _day2,
        ComputePool.REPLACE: _day2,
        ComputePool.UPGRADE: _upgrading,
    }
    return operations.get(ctx.pool.operation, _deletion)(ctx)


def _provisioning(ctx: Context) -> float | None:
    try:
        return _provision(ctx)
    except DeletionRequested:
        # The step was ending the attempt (Ready or Failed) while a deletion was asked for: delete instead.
        return _switch_to_deletion(ctx)


def _deletion(ctx: Context) -> float | None:
    steps = {"delete": _delete, "wait_deleted": _wait_deleted, "release": _release}
    return steps.get(ctx.pool.step or "delete", _delete)(ctx)


def _upgrading(ctx: Context) -> float | None:
    """A profile upgrade (compute.provisioning.upgrade); a deletion asked for meanwhile runs next."""
    if ctx.pool.delete_requested:
        return _switch_to_deletion(ctx)
    try:
        return upgrade.advance(ctx)
    except DeletionRequested:
        return _switch_to_deletion(ctx)


def _day2(ctx: Context) -> float | None:
    """A day-2 change (compute.provisioning.day2); a deletion asked for meanwhile runs at the next step, never
    in the middle of one."""
    if ctx.pool.delete_requested:
        return _switch_to_deletion(ctx)
    try:
        return day2.advance(ctx)
    except DeletionRequested:
        return _switch_to_deletion(ctx)


def _provision(ctx: Context) -> float | None:
    pool = ctx.pool
    if pool.delete_requested:
        return _switch_to_deletion(ctx)
    timeout = timedelta(seconds=_seconds("POOL_PROVISION_TIMEOUT"))
    if pool.started and ctx.now - pool.started > timeout:
        return _timed_out(ctx, timeout)
    steps: dict[str, Callable[[Context], float | None]] = {
        "validate": _validate,
        "create": _create,
        "wait": _wait,
        "kubeconfig": _kubeconfig,
    }
    return steps.get(pool.step or "validate", _validate)(ctx)


def _switch_to_deletion(ctx: Context) -> float:
    pool = ctx.pool
    running = PoolStep.objects.filter(pool=pool, attempt=pool.attempt, status=PoolStep.RUNNING)
    running.update(
        status=PoolStep.SKIPPED, finished=timezone.now(), detail="Stopped: deletion was requested."
    )
    ctx.save(
        operation=ComputePool.DELETION,
        status=ComputePool.DELETING,
        step="delete",
        attempt=pool.attempt + 1,
        delete_requested=False,
        started=timezone.now(),
        wait_reason="Deletion requested; deleting.",
    )
    return 0


def _timed_out(ctx: Context, timeout: timedelta) -> None:
    pool = ctx.pool
    row = PoolStep.objects.filter(pool=pool, attempt=pool.attempt, name=pool.step or "validate").first()
    seen = pool.last_seen or {}
    if seen.get("state"):
        last = f"Palette last reported {seen['state']}" + (
            f", health {seen['health']}" if seen.get("health") else ", no health yet"
        )
        last += f" at {seen.get('at', '?')}"
        if seen.get("condition"):
            last += f" ({seen['condition']})"
    elif row is not None and row.last_error:
        last = f"the last error was: {row.last_error}"
    else:
        last = f"the step {STEP_LABELS.get(pool.step, pool.step)} had not completed"
    kept = (
        f" Cluster {pool.cluster_name} ({pool.cluster_uid}) was left in Palette, not recreated: Retry keeps "
        "waiting for it, Delete removes it."
        if pool.cluster_uid
        else ""
    )
    ctx.fail(
        row, "timeout", f"Not Ready after {human_duration(timeout)} (POOL_PROVISION_TIMEOUT): {last}.{kept}"
    )
    return None


# -- provisioning steps --------------------------------------------------------------------------


def _validate(ctx: Context) -> float | None:
    from ..readiness import allocating, allocation_key, report_for_pool

    pool = ctx.pool
    row, client = ctx.begin_with_client("validate", ComputePool.VALIDATING)
    if client is None:
        return None
    if pool.cluster_uid or pool.sent_hosts:
        # An earlier attempt sent a create: that cluster, if it exists, is this pool's cluster.
        try:
            uid = pool.cluster_uid or find_cluster(client, pool.sent_hosts, pool.cluster_name)
        except perrors.PaletteError as exc:
            return ctx.palette_error(row, exc, "Looking for the cluster of the earlier attempt failed")
        if uid:
            _adopt(ctx, uid)
            ctx.finish(
                row, PoolStep.SKIPPED, f"Cluster {pool.cluster_name} ({uid}) exists already; waiting for it."
            )
            ctx.save(status=ComputePool.PROVISIONING, step="wait")
            return 0
    ctx.note(row, "Checking the readiness report.")
    # Choosing hosts and recording them is one step under the Palette project's allocation lock: a pool
    # validated at the same moment chooses after this one has saved its hosts, and sees them reserved.
    with allocating(allocation_key(pool.project, ctx.palette)):
        report = report_for_pool(pool)
        if report.ready:
            ctx.save(hosts=report.hosts, request=report.request)
    if not report.ready:
        failing = report.blocking_failures
        cls = (
            "capacity"
            if report.host_shortage
            else ("credentials" if any(r.name == "Palette integration" for r in failing) else "rejected")
        )
        ctx.fail(row, cls, "Not ready: " + report.summary())
        return None
    count = sum(len(v) for v in report.hosts.values())
    ctx.note(row, f"Asking Palette to validate the request for {count} host{pluralize(count)}.")
    chosen = [uid for uids in report.hosts.values() for uid in uids]
    try:
        result = client.validate_edge_native_cluster(
            with_secrets(report.request, pool)
        )  # masked variables only for the call
    except perrors.PaletteError as exc:
        # Palette answers problems with the hosts themselves (unknown, in use, unhealthy) as a 4xx naming
        # them, not as constraint results: the same as a host refused in the body.
        refused = (
            _hosts_named(chosen, f"{exc.palette_message} {exc.summary}")
            if isinstance(exc, (perrors.BadRequest, perrors.Conflict, perrors.NotFound))
            else []
        )
        if not refused:
            return ctx.palette_error(row, exc, "Palette validation failed")
        answer = f"HTTP {exc.status}" + (f" {exc.code}" if exc.code not in (None, "") else "")
        return _refused_hosts(ctx, row, refused, [f"{answer}: {exc.palette_message or exc.summary}"])
    if not result.ok:
        messages = _validation_messages(pool, result.problems)
        named = [_hosts_named(chosen, p.message) for p in result.problems]
        if all(named):
            # Every error is about a chosen host: plan again without them.
            return _refused_hosts(ctx, row, sorted({uid for uids in named for uid in uids}), messages)
        # Constraint errors, per machine pool and pack, exactly as Palette worded them: a new plan would not
        # help.
        row.detail = ctx.scrub("Palette's validation answered: " + "; ".join(messages))
        ctx.fail(row, "rejected", "Palette's validation refused the request: " + "; ".join(messages))
        return None
    counts = ", ".join(f"{k}: {len(v)}" for k, v in report.hosts.items())
    ctx.finish(row, detail=f"Palette accepted the request ({counts}).")
    ctx.save(step="create", status=ComputePool.PROVISIONING, wait_reason="Creating the cluster.")
    return 0


def _refused_hosts(ctx: Context, row: PoolStep, refused: list[str], messages: list[str]) -> float | None:
    """Plan again without the hosts Palette's validation refused; fail (capacity) past MAX_EXCLUDED_HOSTS."""
    pool = ctx.pool
    if len(pool.excluded_hosts) + len(refused) > MAX_EXCLUDED_HOSTS:
        row.detail = ctx.scrub("Palette's validation answered: " + "; ".join(messages))
        ctx.fail(
            row,
            "capacity",
            f"Palette's validation refused the request: {'; '.join(messages)} (after excluding "
            f"{len(pool.excluded_hosts)} host{pluralize(len(pool.excluded_hosts))} already; at most "
            f"{MAX_EXCLUDED_HOSTS} are excluded "
            "before giving up: fix the hosts in Palette, then Retry).",
        )
        return None
    # One bad host need not fail the pool: plan again without the hosts Palette refused.
    ctx.record_error(row, "Palette refused hosts: " + "; ".join(messages), retried=False)
    ctx.save(excluded_hosts=sorted(set(pool.excluded_hosts) | set(refused)), hosts={})
    ctx.note(
        row,
        f"Palette refused {', '.join(refused)}; planning again without "
        f"{'it' if len(refused) == 1 else 'them'}.",
    )
    return 0


def _hosts_named(uids: list[str], text: str) -> list[str]:
    """The uids in `uids` that `text` names as a whole (``host-1`` is not named by ``host-10``)."""
    return sorted(
        {
            uid
            for uid in uids
            if uid and re.search(rf"(?<![A-Za-z0-9_-]){re.escape(uid)}(?![A-Za-z0-9_-])", text)
        }
    )


def _validation_messages(pool: ComputePool, problems) -> list[str]:
    """Each constraint error of a v1SpectroClusterValidatorResponse, its code and message verbatim, saying
    which machine pool, or which pack of which profile, it is about."""
    profiles = {
        p.get("uid"): f"{p.get('name')} {p.get('version')}".strip()
        for p in (pool.bundle.profiles if pool.bundle else [])
        if isinstance(p, dict) and p.get("uid")
    }
    out = []
    for p in problems:
        if p.kind == "machinePool":
            where = f"machine pool {p.name}" if p.name else "the machine pools"
        else:
            profile = profiles.get(p.profile_uid) or p.profile_uid or "a profile"
            where = f"profile {profile}" + (
                f", pack {p.name}" if p.name and p.name != profile.split(" ")[0] else ""
            )
        out.append(f"{where}: " + (f"[{p.code}] " if p.code else "") + p.message)
    return out


def _create(ctx: Context) -> float | None:
    pool = ctx.pool
    row, client = ctx.begin_with_client("create", ComputePool.PROVISIONING)
    if client is None:
        return None
    if not pool.cluster_uid:
        hosts = [uid for uids in pool.hosts.values() for uid in uids]
        try:
            # Before creating: a cluster with this name on these hosts is ours (an earlier answer was lost).
            uid = find_cluster(client, pool.sent_hosts + hosts, pool.cluster_name)
        except perrors.PaletteError as exc:
            return ctx.palette_error(row, exc, "Looking for an existing cluster failed")
        if not uid:
            # Recorded before sending: if the answer is lost, these are the hosts to ask, and the Palette
            # project where the cluster then lives (every later call for the pool goes there, whatever the
            # Settings say).
            origin = {} if pool.palette_host else ctx.origin()
            ctx.save(sent_hosts=list(dict.fromkeys(pool.sent_hosts + hosts)), **origin)
            try:
                uid = client.create_edge_native_cluster(
                    with_secrets(pool.request, pool)
                )  # masked variables only for the call
            except perrors.PaletteError as exc:
                if not _may_exist(exc, pool, hosts):
                    if not exc.transient and 400 <= (exc.status or 0) < 500:
                        # Refused outright, and the lookup just before found no cluster of an earlier try:
                        # nothing of this pool lives in that Palette project, so a Retry creates where the
                        # Settings point then.
                        ctx.save(palette_host="", palette_tenant="", palette_project_uid="")
                    # A timeout or reset leaves the outcome unknown: the next try looks the cluster up first.
                    return ctx.palette_error(row, exc, "Creating the cluster failed")
                # 409, or Palette's 400 "cluster … already exists; edge host … is in-use": an earlier create
                # whose answer was lost may have made it. Look it up by name before calling it someone else's.
                try:
                    uid = find_cluster(client, pool.sent_hosts + hosts, pool.cluster_name)
                except perrors.PaletteError as again:
                    return ctx.palette_error(row, again, "Looking for the cluster Palette says exists failed")
                if not uid:
                    ctx.fail(
                        row,
                        "rejected",
                        f"Palette refused the create: {exc} No cluster called {pool.cluster_name} "
                        "exists in this pool's Palette project, so the hosts are taken by another "
                        "cluster: choose others (Retry plans again) or free them in Palette.",
                    )
                    return None
        _adopt(ctx, uid)
        audit.record(
            None,
            AuditEntry.ACTION,
            pool,
            verb="cluster created in Palette",
            source="task",
            changes={"cluster": pool.cluster_name, "uid": uid},
        )
    ctx.finish(row, detail=f"Cluster {pool.cluster_name} ({pool.cluster_uid}).")
    ctx.save(step="wait", wait_reason="Waiting for Palette to start provisioning.")
    return _seconds("POOL_POLL_INTERVAL")


def _may_exist(exc: perrors.PaletteError, pool: ComputePool, hosts: list[str]) -> bool:
    """Whether a create's error can mean the cluster exists already: a 409, or a 400 that names the cluster,
    one of its hosts, or says "already exists" / "in-use" (Palette's answer to a duplicate create)."""
    if isinstance(exc, perrors.Conflict):
        return True
    if not isinstance(exc, perrors.BadRequest):
        return False
    text = f"{exc.palette_message or ''} {exc}".lower()
    return (
        pool.cluster_name.lower() in text
        or "already exist" in text
        or "in-use" in text
        or "in use" in text
        or any(uid.lower() in text for uid in hosts)
    )


def _condition(cluster) -> str:
    for cond in cluster.conditions if cluster is not None else ():
        if str(cond.get("status")).lower() != "true" and (cond.get("message") or cond.get("reason")):
            return f"{cond.get('type')}: {cond.get('message') or cond.get('reason')}"
    return ""


def _wait(ctx: Context) -> float | None:
    pool = ctx.pool
    row, client = ctx.begin_with_client("wait")
    if client is None:
        return None
    events.record(ctx, client)  # Palette's events of the cluster for the page, bounded and throttled
    try:
        overview = client.get_cluster_overview(pool.cluster_uid)
        cluster = client.get_cluster(pool.cluster_uid) if not overview.is_running_and_healthy else None
    except perrors.NotFound:
        why, transient = unproven_absence(client, pool)
        if why:
            message = (
                f"Palette answered 404 for cluster {pool.cluster_name} ({pool.cluster_uid}), but {why}. The "
                "pool keeps the cluster and its hosts"
            )
            if transient:
                return ctx.retry(row, message)
            ctx.attention(
                row, message + ": check the cluster in Palette and the Settings' key and project, then Retry."
            )
            return None
        message = (
            f"Palette no longer has cluster {pool.cluster_name} ({pool.cluster_uid}): it was deleted outside "
            "PaletteAI. Delete this pool, or Retry to create a new cluster."
        )
        ctx.save(cluster_uid="")
        ctx.fail(row, "rejected", message)
        return None
    except perrors.PaletteError as exc:
        return ctx.palette_error(row, exc, "Polling the cluster failed")
    state, health = overview.state, overview.health
    condition = _condition(cluster)
    seen = {
        "state": state,
        "health": health,
        "at": timezone.localtime().strftime("%H:%M:%S"),
        "condition": condition,
    }
    if overview.is_running_and_healthy:
        ctx.finish(row, detail=f"Running and Healthy after {human_duration(timezone.now() - row.started)}.")
        # Running and Healthy is not Ready: the pool needs a kubeconfig, which Palette has a while later.
        ctx.save(
            step="kubeconfig",
            status=ComputePool.RUNNING,
            last_seen=seen,
            wait_reason="Fetching the kubeconfig."
            if overview.has_kubeconfig is not False
            else _NO_KUBECONFIG_YET,
        )
        return 0
    if state in ("Deleting", "Deleted"):
        ctx.fail(
            row,
            "rejected",
            f"Palette is deleting cluster {pool.cluster_name} ({state}): someone deleted it outside "
            "PaletteAI.",
        )
        return None
    reason = f"Palette reports {state or 'no state yet'}" + (f", health {health}" if health else "")
    reason += f" for {human_duration(timezone.now() - row.started)}; waiting for Running and Healthy"
    if condition:
        reason += f" — {condition}"
    ctx.note(
        row,
        reason + ".",
        last_seen=seen,
        status=ComputePool.RUNNING if state == "Running" else ComputePool.PROVISIONING,
    )
    return _seconds("POOL_POLL_INTERVAL")


_NO_KUBECONFIG_YET = (
    "Running and Healthy; waiting for Palette to generate the kubeconfig "
    "(the cluster overview says hasKubeConfig false)."
)
#: What ComputePool.kubeconfig_kind stands for, on the page and in messages.
KUBECONFIG_LABELS = {
    "admin": "admin kubeconfig",
    "client": "client (OIDC) kubeconfig",
    "kubeconfig": "kubeconfig",
}


def _kubeconfig(ctx: Context) -> float | None:
    pool = ctx.pool
    row, client = ctx.begin_with_client("kubeconfig")
    if client is None:
        return None
    try:
        overview = client.get_cluster_overview(pool.cluster_uid)
    except perrors.NotFound as exc:
        # Not fatal here: the wait step saw the cluster Running; a deletion outside shows there on Retry.
        return ctx.retry(
            row,
            f"Palette answered 404 for the overview of cluster {pool.cluster_name}: "
            f"{exc.palette_message or exc.summary}",
        )
    except perrors.PaletteError as exc:
        return ctx.palette_error(row, exc, "Polling the cluster for its kubeconfig failed")
    seen = {
        "state": overview.state,
        "health": overview.health,
        "at": timezone.localtime().strftime("%H:%M:%S"),
    }
    if overview.has_kubeconfig is False:
        # Palette's kubeconfig assets are empty files until the overview says it has one (a while after
        # Running).
        ctx.note(
            row,
            f"Palette reports {overview.state or 'no state'}"
            + (f", health {overview.health}" if overview.health else "")
            + f"; waiting {human_duration(timezone.now() - row.started)} so far for it to generate the "
            "kubeconfig (the cluster overview says hasKubeConfig false).",
            last_seen={**seen, "condition": "no kubeconfig yet: hasKubeConfig is false"},
        )
        return _seconds("POOL_POLL_INTERVAL")
    fetched = _fetch_kubeconfig(client, pool.cluster_uid)
    if fetched.error is not None:
        return ctx.palette_error(row, fetched.error, f"Fetching the kubeconfig ({fetched.asset}) failed")
    if fetched.text is None:
        if len(fetched.denied) == len(KUBECONFIG_ASSETS):
            return ctx.palette_error(
                row, fetched.denied[-1], "Fetching the kubeconfig failed (Palette refused every kubeconfig)"
            )
        why = "; ".join(fetched.reasons)
        ctx.save(last_seen={**seen, "condition": f"no valid kubeconfig: {why}"})
        return ctx.retry(
            row, f"Palette gave no valid kubeconfig yet ({why}); the pool is Ready only with one"
        )
    _store_kubeconfig(ctx, row, fetched)
    return None


@dataclass
class _Fetched:
    """What fetching the kubeconfig gave: the text of a valid one (None when none was), its kind and asset,
    why the ones before it were passed over, the refusals (HTTP 403) among those, and a Palette error that
    stopped it."""

    text: str | None = None
    kind: str = ""
    asset: str = ""
    reasons: list[str] = field(default_factory=list)
    denied: list[perrors.PaletteError] = field(default_factory=list)
    error: perrors.PaletteError | None = None


def _fetch_kubeconfig(client, cluster_uid: str) -> _Fetched:
    """The best kubeconfig Palette offers: the admin's, else the OIDC client's, else the plain (reverse-proxy)
    one."""
    # The text is a credential: only what is wrong with it is ever written down, never the text.
    fetched = _Fetched()
    for kind, asset in KUBECONFIG_ASSETS.items():
        fetched.asset = asset
        try:
            text = client.get_kubeconfig(cluster_uid, kind=kind)
        except (perrors.NotFound, perrors.PermissionDenied) as exc:
            # This Palette, or this key's role, does not offer that one (yet): the next one.
            fetched.reasons.append(
                f"{asset}: HTTP {exc.status} {exc.palette_message or type(exc).__name__}".rstrip()
            )
            if isinstance(exc, perrors.PermissionDenied):
                fetched.denied.append(exc)
            continue
        except perrors.PaletteError as exc:
            fetched.error = exc
            return fetched
        problem = kubeconfigs.problem(text)
        if not problem:
            fetched.text, fetched.kind = text, kind
            return fetched
        fetched.reasons.append(f"{asset}: {problem}")
    return fetched


def _store_kubeconfig(ctx: Context, row: PoolStep, fetched: _Fetched) -> None:
    """Store the kubeconfig and mark the pool Ready."""
    pool = ctx.pool
    # Before Ready, not after: once the pool is Ready no message runs this step again, so a database error
    # here must come while the step can still be retried.
    _refresh_inventory(pool)
    with transaction.atomic():
        ctx.save(
            kubeconfig=fetched.text,
            kubeconfig_kind=fetched.kind,
            status=ComputePool.READY,
            step="done",
            ready_at=timezone.now(),
            due_at=None,
            wait_reason="",
            failure_class="",
            failure_message="",
        )
        passed = f" ({'; '.join(fetched.reasons)})" if fetched.reasons else ""
        label = KUBECONFIG_LABELS[fetched.kind]
        ctx.finish(
            row,
            detail=f"{label[:1].upper()}{label[1:]} ({fetched.asset}) stored encrypted "
            f"({len(fetched.text.splitlines())} lines){passed}.",
        )
        audit.record(
            None,
            AuditEntry.ACTION,
            pool,
            verb="ready",
            source="task",
            changes={"cluster": pool.cluster_name, "kubeconfig": fetched.kind},
        )
