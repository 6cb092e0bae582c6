"""What every step shares: the claimed execution (`Context`), its conditional writes, error handling,
the Palette client, and the helpers that find a cluster by name on its hosts."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import audit
from core.durations import human_duration
from core.models import AuditEntry
from palette import errors as perrors
from palette.transport import RetryPolicy

from ..models import ComputePool, PoolStep

log = logging.getLogger("compute.provisioning")

PROVISION_STEPS = ("validate", "create", "wait", "kubeconfig")
DELETE_STEPS = ("delete", "wait_deleted", "release")
#: A day-2 change of a machine pool (compute.provisioning.day2).
DAY2_STEPS = ("change", "settle")
STEP_LABELS = {
    "validate": "Validate",
    "create": "Create cluster",
    "wait": "Wait for Running and Healthy",
    "kubeconfig": "Fetch kubeconfig",
    "delete": "Delete cluster",
    "wait_deleted": "Wait for Deleted",
    "release": "Release hosts",
    "change": "Change the machine pool in Palette",
    "settle": "Wait for every node to be Healthy",
    "upgrade": "Upgrade the cluster's profiles",
    "wait_upgraded": "Wait for Running and Healthy after the upgrade",
}
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


class DeletionRequested(Exception):
    """The step was ending its provisioning attempt (Ready or Failed) while a deletion was asked for: delete
    instead."""


def transition(pool_id: int, when: dict[str, Any], **fields: Any) -> bool:
    """The one way a pool's state changes: ``UPDATE … SET fields WHERE pk = pool_id AND when``
    (compare-and-set).

    `when` holds what the writer decided on (a tick, ``status__in``, a flag); True when the row still matched
    and was changed. The database evaluates the condition and the write as one statement, so two writers
    that read the same state cannot both act on it: the loser changes nothing and re-reads. Every write of
    a step (conditional on its tick), the claim of a message, and the start, retry, delete and force delete
    actions go through here.
    """
    fields.setdefault("updated", timezone.now())
    return bool(ComputePool.objects.filter(pk=pool_id, **when).update(**fields))


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


class Context:
    """One claimed step execution: the pool, the tick it holds, the Palette client, the step row."""

    def __init__(self, pool: ComputePool, tick: int, client_kwargs: dict):
        self.pool = pool
        self.tick = tick
        self.client_kwargs = client_kwargs
        self._client = None
        self._not_configured = ""
        self.moved = ""  # why the client is not built: the Settings point at another Palette than the pool's
        self.palette = None  # the effective Palette integration, once client() has resolved it
        self.now = timezone.now()

    # -- writes, all conditional on still holding the pool --------------------------------------

    def save(self, **fields: Any) -> None:
        """Update the pool if this execution still holds it; Superseded otherwise.

        A write that ends a provisioning attempt or a day-2 change (Ready, Failed) also needs no deletion to
        be pending, else it raises DeletionRequested: a deletion asked for while the step ran would be lost
        with the chain.
        """
        fields["updated"] = timezone.now()
        when: dict[str, Any] = {"tick": self.tick}
        ending = fields.get("status") in (ComputePool.READY, ComputePool.FAILED, ComputePool.ATTENTION)
        if ending and self.pool.operation != ComputePool.DELETION:
            when["delete_requested"] = False
        if not transition(self.pool.pk, when, **fields):
            if (
                "delete_requested" in when
                and ComputePool.objects.filter(pk=self.pool.pk, tick=self.tick).exists()
            ):
                raise DeletionRequested()
            raise Superseded()
        old_status = self.pool.status
        for key, value in fields.items():
            setattr(self.pool, key, value)
        if "status" in fields:
            from ..notify import pool_status_changed

            pool_status_changed(self.pool, old_status)

    def begin(self, name: str) -> PoolStep:
        """The row of step `name` in the current attempt (created when the step starts)."""
        row, _ = PoolStep.objects.get_or_create(
            pool=self.pool, attempt=self.pool.attempt, name=name, defaults={"started": timezone.now()}
        )
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
        detail = self.scrub(detail)
        self.save(wait_reason=detail, **pool_fields)
        row.detail = detail
        row.save(update_fields=["detail"])

    def scrub(self, text: str) -> str:
        """`text` without the pool's masked variable values (Palette may quote a value it refuses)."""
        from ..variables import scrub

        return scrub(text, self.pool)

    def record_error(self, row: PoolStep, message: str, *, retried: bool) -> None:
        message = self.scrub(message)
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
        self.note(row, f"{message} — retrying in {human_duration(max(backoff, 1))} (retry {row.retries}).")
        return backoff

    def fail(self, row: PoolStep | None, failure_class: str, message: str) -> None:
        """End the operation in Failed, keeping the first error of the pool and of the step."""
        message = self.scrub(message)
        self._stop(
            row,
            message,
            {
                "status": ComputePool.FAILED,
                "failure_class": failure_class,
                "failure_message": self.pool.failure_message or message,
            },
            verb=f"{self.pool.operation} failed",
            changes={"failure": failure_class},
        )
        log.warning("compute pool %s failed (%s)", self.pool.pk, failure_class)

    def attention(self, row: PoolStep | None, message: str) -> None:
        """Stop the operation in Needs attention: Palette's answers do not prove what a step would destroy,
        forget or give up on (a 404 not confirmed, the cluster in a Palette the Settings no longer reach). The
        pool keeps its cluster uid and hosts; Retry or Delete run again once someone has looked."""
        message = self.scrub(message)
        self._stop(
            row,
            message,
            {"status": ComputePool.ATTENTION, "failure_class": "", "failure_message": message},
            verb=f"{self.pool.operation} needs attention",
            changes={"reason": message[:200]},
        )
        log.warning("compute pool %s needs attention", self.pool.pk)

    def _stop(
        self, row: PoolStep | None, message: str, fields: dict[str, Any], *, verb: str, changes: dict
    ) -> None:
        """Stop the operation: the step row failed with `message`, the pool saved with `fields` and no due
        time or wait reason, and an audit entry `verb` with `changes`.

        One short transaction: the step row, the pool and the audit entry are written together or not at all
        (a database error part-way leaves the step to be run again, not a half-stopped pool).
        """
        with transaction.atomic():
            if row is not None:
                self.record_error(row, message, retried=False)
                self.finish(row, PoolStep.FAILED)
            self.save(**fields, due_at=None, wait_reason="")
            audit.record(
                None,
                AuditEntry.ACTION,
                self.pool,
                verb=verb,
                outcome=AuditEntry.FAILURE,
                source="task",
                changes=changes,
            )

    def palette_error(self, row: PoolStep, exc: perrors.PaletteError, what: str) -> float | None:
        """Retry a transient Palette error; fail the pool on a permanent one."""
        message = f"{what}: {exc}"
        if exc.transient:
            return self.retry(row, message)
        self.fail(row, classify(exc), message)
        return None

    # -- Palette ------------------------------------------------------------------------------

    def client(self):
        """The Palette client for this pool (built once per execution); None when it cannot be built.

        The key and TLS come from the project's Settings as they are now; the Palette and Palette project
        are the pool's own once it has sent a create (`origin`), whatever the Settings say now. When the
        Settings point at another Palette, the key there is not this cluster's: no client (`moved`).
        """
        if self._client is None and not self._not_configured:
            from integrations.effective import NotConfigured, palette_client, working_palette

            try:
                self.palette = working_palette(self.pool.project)
            except NotConfigured as exc:
                self._not_configured = str(exc)
                return None
            palette = self.palette
            now_host = normal_host(str(palette.value("hostUrl")))
            if self.pool.palette_host and now_host != normal_host(self.pool.palette_host):
                self.moved = (
                    f"This pool's cluster {self.pool.cluster_name} lives in the Palette at "
                    f"{self.pool.palette_host} (project {self.pool.palette_project_uid}), but the Settings "
                    f"now point at {now_host}: their API key cannot reach it. Restore the Settings' host URL "
                    "and key, then Retry."
                )
                self._not_configured = self.moved
                return None
            kwargs = {"retry": STEP_RETRY, **self.client_kwargs}
            if self.pool.palette_project_uid:
                kwargs["project_uid"] = self.pool.palette_project_uid
            self._client = palette_client(
                palette, name=f"pool {self.pool.project.namespace}/{self.pool.name}", **kwargs
            )
        return self._client

    def begin_with_client(self, name: str, status: str = "") -> tuple[PoolStep, Any]:
        """Start step `name` (moving the pool to `status` first, when given and not there yet) and get its
        Palette client: the step row and the client, None after the pool was stopped (client_or_fail)."""
        row = self.begin(name)
        if status and self.pool.status != status:
            self.save(status=status)
        return row, self.client_or_fail(row)

    def client_or_fail(self, row: PoolStep, consequence: str = ""):
        """The client for a step that cannot go on without Palette; None after stopping the pool with the
        reason.

        A pool whose cluster lives in a Palette the Settings no longer point at needs attention (its cluster
        may well run on); otherwise it fails with the Settings' problem.
        """
        client = self.client()
        if client is None:
            if self.moved:
                self.attention(row, self.moved)
            else:
                self.fail(
                    row, "credentials", f"{self._not_configured}{consequence} Fix the Settings, then Retry."
                )
        return client

    def origin(self) -> dict[str, str]:
        """Where a create sends this pool's cluster: the Palette, tenant and Palette project of the Settings
        now."""
        palette = self.palette
        return {
            "palette_host": normal_host(str(palette.value("hostUrl"))),
            "palette_tenant": str(palette.value("tenant") or ""),
            "palette_project_uid": str(palette.value("defaultProjectID") or ""),
        }

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


# -- finding and keeping the cluster ------------------------------------------------------------


def normal_host(url: str) -> str:
    """A Palette host URL as pools record and compare it: no trailing slash, lower case."""
    return url.strip().rstrip("/").lower()


def find_cluster(client, host_uids: list[str], name: str) -> str:
    """The uid of this pool's cluster `name` in the client's Palette project, or "".

    First by name (the search palette-sdk-go's GetClusterByName makes: not deleted, in the ProjectUid's
    project), which sees a cluster as soon as Palette created it; cluster names are deterministic per
    pool. Then, as a hint only, the hosts' ``inUseClusters``, which Palette fills in minutes later.
    """
    project_uid = getattr(client, "project_uid", "") or ""
    for found in client.find_clusters_by_name(name):
        if (
            found.name == name
            and found.uid
            and (not found.project_uid or not project_uid or found.project_uid == project_uid)
        ):
            return found.uid
    for uid in dict.fromkeys(host_uids):
        try:
            host = client.get_edge_host(uid)
        except perrors.NotFound:
            continue
        for ref in host.in_use_clusters:
            if ref.name == name and ref.uid:
                return ref.uid
    return ""


def unproven_absence(client, pool: ComputePool) -> tuple[str, bool]:
    """After a 404 for the pool's cluster: ("", False) when Palette proves it gone, else (why not, transient).

    A 404 is not proof: the key may have lost the project, or the call gone to another project. Gone means:
    the pool knows its Palette project (recorded at its create; the client is scoped to it), a project-scoped
    search with the same credentials works and does not list the cluster, and a second read is a 404 too
    (or says Deleted). `transient` says whether asking again later may settle it.
    """
    if not pool.palette_project_uid:
        return (
            "this pool predates recording its Palette project, so the 404 may come from another project than "
            "the cluster's",
            False,
        )
    try:
        listed = [c for c in client.find_clusters_by_name(pool.cluster_name) if c.uid == pool.cluster_uid]
    except perrors.PaletteError as exc:
        return (
            f"the project-scoped check that the key still reaches Palette project {pool.palette_project_uid} "
            f"failed: {exc}",
            exc.transient,
        )
    if listed:
        return (
            f"Palette still lists it in project {pool.palette_project_uid} ({listed[0].state or 'no state'})",
            True,
        )
    try:
        state = client.get_cluster_status(pool.cluster_uid).state
    except perrors.NotFound:
        return "", False
    except perrors.PaletteError as exc:
        return f"reading it again failed: {exc}", exc.transient
    if state == "Deleted":
        return "", False
    return f"reading it again found it {state or 'without a state'}", True


def _adopt(ctx: Context, uid: str) -> None:
    # Unconditional: the uid of a cluster that exists must never be lost, whoever holds the pool.
    transition(ctx.pool.pk, {}, cluster_uid=uid)
    ctx.pool.cluster_uid = uid


def _refresh_inventory(pool: ComputePool):
    """Start a discovery run so the inventory shows the pool's hosts in use (or free again)."""
    from ..discovery import start_discovery

    with transaction.atomic():
        return start_discovery(pool.project, trigger="pool")
