"""Upgrading a Ready pool's cluster to the profile versions its bundle holds now (docs/palette-behaviour.md
§15: ``PATCH /v1/spectroclusters/{uid}/profiles``).

Planning (`plan_upgrade`) reads only the database: what the cluster was given (the pool's stored request) and
the bundle's profiles with their synced variables. The base (Infrastructure or Full) profile is paired with
the bundle's base, add-ons by name. A change of the base profile — the OS and Kubernetes layers — is taken to
repave the nodes (each drained, reprovisioned and rebooted in turn): Palette's rule for which changes repave
is not in docs/palette-behaviour.md, so PaletteAI decides conservatively and says so; such an upgrade needs an
explicit confirmation. Add-on changes are taken to be applied in place.

The chain (operation "upgrade", status Updating): `upgrade` re-reads the cluster's profiles first and sends
the PATCH only if Palette does not have the new versions yet, so a redelivered or resumed step never sends it
twice; `wait_upgraded` waits for Running and Healthy, then the pool is Ready again with its request updated.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from core import audit
from core.durations import human_duration
from core.manifests import REDACTED
from core.models import AuditEntry
from palette import errors as perrors
from palette.bodies import ProfileChange

from ..models import ClusterProfile, ComputePool, PoolStep
from . import events
from .context import Context, _seconds

UPGRADE_STEPS = ("upgrade", "wait_upgraded")
BASE_TYPES = ("infra", "cluster")


class UpgradeRefused(Exception):
    """The upgrade cannot start; the message says what to fix."""


@dataclass
class ProfileDiff:
    """One profile of the upgrade: from the attached version to the bundle's (action upgrade, add, same)."""

    name: str
    type: str
    action: str
    old_uid: str = ""
    old_version: str = ""
    new_uid: str = ""
    new_version: str = ""

    @property
    def base(self) -> bool:
        return self.type in BASE_TYPES


@dataclass
class UpgradePlan:
    profiles: list[ProfileDiff] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    repave: bool = False
    note: str = ""

    @property
    def changes(self) -> list[ProfileDiff]:
        return [p for p in self.profiles if p.action != "same"]


def _attached(pool: ComputePool) -> list[dict]:
    """The profile entries the cluster was given ({uid, variables}), as the pool's request holds them."""
    return [e for e in ((pool.request or {}).get("spec") or {}).get("profiles") or () if isinstance(e, dict)]


def _known(pool: ComputePool, uids: list[str]) -> dict[str, ClusterProfile]:
    return {r.uid: r for r in ClusterProfile.objects.filter(project_id=pool.project_id, uid__in=uids)}


def plan_upgrade(pool: ComputePool) -> UpgradePlan:
    """What upgrading `pool` to its bundle's profile versions changes, and why it cannot start
    (`problems`)."""
    from ..bundles import bundle_facts, row_variables

    plan = UpgradePlan()
    if pool.status != ComputePool.READY or not pool.cluster_uid:
        plan.problems.append(
            f"Pool {pool.name} is {pool.get_status_display()}: an upgrade starts from Ready, once the "
            "cluster runs."
        )
    if pool.bundle is None:
        plan.problems.append(
            f"The pool's bundle {pool.bundle_name} no longer exists: there is nothing to upgrade to."
        )
        return plan
    target = bundle_facts(pool.bundle)
    current = [e.get("uid") or "" for e in _attached(pool)]
    rows = _known(pool, current + [t.uid for t in target])
    old_by_name = {rows[u].name: rows[u] for u in current if u in rows}
    old_base = next((rows[u] for u in current if u in rows and rows[u].profile_type in BASE_TYPES), None)
    for t in target:
        old = old_base if t.type in BASE_TYPES else old_by_name.get(t.name)
        if not t.present:
            plan.problems.append(
                f"{t.label} no longer exists in Palette (the last profile sync did not find it)."
            )
        diff = ProfileDiff(t.name, t.type, "add", new_uid=t.uid, new_version=t.version)
        if old is not None:
            diff.old_uid, diff.old_version = old.uid, old.version
            diff.action = "same" if old.uid == t.uid else "upgrade"
        plan.profiles.append(diff)
        if diff.action != "same":
            _variables(plan, pool, diff, row_variables(old) if old is not None else (), t.variables)
    if not plan.changes and not plan.problems:
        labels = ", ".join(f"{p.name} {p.new_version}" for p in plan.profiles)
        plan.problems.append(
            f"Nothing to upgrade: the cluster runs the bundle's profile versions ({labels}). Point bundle "
            f"{pool.bundle.name} at a newer version first (its manifest, or a new bundle)."
        )
    plan.repave = any(p.base for p in plan.changes)
    plan.note = _note(plan)
    return plan


def _variables(plan: UpgradePlan, pool: ComputePool, diff: ProfileDiff, old_vars, new_vars) -> None:
    """The variable changes of one profile change, and a required variable the pool gives no value for."""
    from ..variables import stored_secrets

    if new_vars is None:
        plan.variables.append(
            f"{diff.name} {diff.new_version}: its variables are not known (sync the profiles)."
        )
        return
    old = {v.name: v for v in old_vars}
    given = {**(pool.variables or {}).get(diff.name, {}), **stored_secrets(pool).get(diff.name, {})}
    for var in new_vars:
        before = old.get(var.name)
        if before is None:
            value = (
                "a value the pool gives" if var.name in given else f"default {var.default_value or '(empty)'}"
            )
            plan.variables.append(f"{diff.name}.{var.name}: new in {diff.new_version} ({value}).")
            if var.needs_value and given.get(var.name, "") == "":
                plan.problems.append(
                    f"{diff.name} {diff.new_version} requires variable {var.name} ({var.label}), which has "
                    "no default and no value in this pool: Palette would refuse the upgrade. Give the "
                    "profile version a default, or recreate the pool with a value."
                )
        elif before.default_value != var.default_value and var.name not in given:
            plan.variables.append(
                f"{diff.name}.{var.name}: default {before.default_value or '(empty)'} → "
                f"{var.default_value or '(empty)'}."
            )
    for name in old:
        if name not in {v.name for v in new_vars}:
            plan.variables.append(
                f"{diff.name}.{name}: no longer defined in {diff.new_version} (its value is dropped)."
            )


def _note(plan: UpgradePlan) -> str:
    base = next((p for p in plan.changes if p.base), None)
    if base is not None:
        return (
            f"The {'Infrastructure' if base.type == 'infra' else 'Full'} profile changes "
            f"({base.name} {base.old_version or '—'} → {base.new_version}): it holds the OS and Kubernetes "
            "layers, so Palette repaves the nodes — each is drained, reprovisioned with the new layers and "
            "rebooted, one at a time; a 1-node pool is unavailable meanwhile. (Palette's rules for which "
            "changes repave are not in docs/palette-behaviour.md: PaletteAI assumes any change of this "
            "profile does.)"
        )
    if plan.changes:
        return (
            "Only add-on profiles change: Palette applies their packs in place; the nodes are not repaved or "
            "rebooted (PaletteAI's reading: add-ons hold no OS or Kubernetes layer)."
        )
    return ""


def start_upgrade(pool: ComputePool, *, confirm_repave: bool, request=None, user=None, source: str = "web"):
    """Start upgrading `pool` (Ready) to its bundle's versions; the plan. UpgradeRefused says why not."""
    from .actions import _restart

    plan = plan_upgrade(pool)
    if plan.problems:
        raise UpgradeRefused(" ".join(plan.problems))
    if plan.repave and not confirm_repave:
        raise UpgradeRefused(
            "This upgrade repaves the nodes (see the note): tick “I understand the nodes will be repaved” to "
            "confirm it."
        )
    change = {
        "kind": ComputePool.UPGRADE,
        "repave": plan.repave,
        "profiles": [
            {
                "name": p.name,
                "type": p.type,
                "uid": p.new_uid,
                "replaces": p.old_uid,
                "from": p.old_version,
                "to": p.new_version,
            }
            for p in plan.changes
        ],
    }
    started = _restart(
        pool,
        operation=ComputePool.UPGRADE,
        status=ComputePool.UPDATING,
        step="upgrade",
        attempt=pool.attempt + 1,
        change=change,
        failure_class="",
        failure_message="",
        started=timezone.now(),
        wait_reason="Upgrade requested: waiting for a worker.",
    )
    if not started:
        raise UpgradeRefused(f"Pool {pool.name} changed meanwhile (it is {pool.get_status_display()} now).")
    audit.record(
        request,
        AuditEntry.ACTION,
        pool,
        verb="profile upgrade requested" + (" (nodes repaved, confirmed)" if plan.repave else ""),
        user=user,
        source=source,
        changes={"profiles": _describe(change)},
    )
    return plan


def _describe(change: dict) -> str:
    return ", ".join(
        f"{p['name']} {p.get('from') or '(added)'} → {p['to']}" for p in change.get("profiles") or ()
    )


# -- the steps ---------------------------------------------------------------------------------------


def advance(ctx: Context) -> float | None:
    """Run the upgrade chain's current step (a Retry after a failure starts again at `upgrade`)."""
    if ctx.pool.step == "wait_upgraded":
        return _wait_upgraded(ctx)
    return _upgrade(ctx)


def _values(pool: ComputePool, name: str, uid: str = "") -> dict[str, str]:
    """The pool's values for profile `name` (masked ones decrypted: only for the call), limited to the
    variables version `uid` defines when the sync knows them."""
    from ..bundles import row_variables
    from ..variables import stored_secrets

    values = {**(pool.variables or {}).get(name, {}), **stored_secrets(pool).get(name, {})}
    row = ClusterProfile.objects.filter(project_id=pool.project_id, uid=uid).first() if uid else None
    if row is not None and row.variables:
        defined = {v.name for v in row_variables(row)}
        values = {k: v for k, v in values.items() if k in defined}
    return values


def _upgrade(ctx: Context) -> float | None:
    pool = ctx.pool
    row, client = ctx.begin_with_client("upgrade", ComputePool.UPDATING)
    if client is None:
        return None
    wanted = (pool.change or {}).get("profiles") or []
    try:
        # Read first: a step that runs again (a redelivered message, a worker killed after the PATCH) must
        # not send it twice.
        attached = {p.uid for p in client.get_cluster_profiles(pool.cluster_uid)}
    except perrors.PaletteError as exc:
        return ctx.palette_error(row, exc, "Reading the cluster's profiles failed")
    if all(p["uid"] in attached and p.get("replaces") not in attached for p in wanted):
        ctx.finish(row, PoolStep.SKIPPED, f"Palette has the new versions already: {_describe(pool.change)}.")
    else:
        changes = [
            ProfileChange(
                p["uid"], replaces=p.get("replaces") or "", variables=_values(pool, p["name"], p["uid"])
            )
            for p in wanted
            if p["uid"] not in attached
        ]
        try:
            client.patch_cluster_profiles(pool.cluster_uid, changes)
        except perrors.PaletteError as exc:
            return ctx.palette_error(row, exc, "Palette refused the profile upgrade")
        ctx.finish(row, detail=f"Palette accepted the upgrade: {_describe(pool.change)}.")
        audit.record(None, AuditEntry.ACTION, pool, verb="profile upgrade sent", source="task")
    ctx.save(step="wait_upgraded", wait_reason="Waiting for the cluster to be Running and Healthy again.")
    return _seconds("POOL_POLL_INTERVAL")


def _wait_upgraded(ctx: Context) -> float | None:
    pool = ctx.pool
    row, client = ctx.begin_with_client("wait_upgraded")
    if client is None:
        return None
    events.record(ctx, client)
    timeout = timedelta(seconds=_seconds("POOL_PROVISION_TIMEOUT"))
    try:
        overview = client.get_cluster_overview(pool.cluster_uid)
    except perrors.PaletteError as exc:
        return ctx.palette_error(row, exc, "Polling the cluster failed")
    seen = {
        "state": overview.state,
        "health": overview.health,
        "at": timezone.localtime().strftime("%H:%M:%S"),
    }
    if overview.is_running_and_healthy:
        with transaction.atomic():
            ctx.finish(
                row, detail=f"Running and Healthy after {human_duration(timezone.now() - row.started)}."
            )
            ctx.save(
                status=ComputePool.READY,
                step="done",
                request=updated_request(pool),
                last_seen=seen,
                due_at=None,
                wait_reason="",
            )
            audit.record(
                None,
                AuditEntry.ACTION,
                pool,
                verb="profiles upgraded",
                source="task",
                changes={"profiles": _describe(pool.change)},
            )
        return None
    if pool.started and ctx.now - pool.started > timeout:
        ctx.fail(
            row,
            "timeout",
            f"Not Running and Healthy {human_duration(timeout)} after the upgrade (POOL_PROVISION_TIMEOUT): "
            f"Palette reports {overview.state or 'no state'}, health {overview.health or '—'}.",
        )
        return None
    ctx.note(
        row,
        f"Palette reports {overview.state or 'no state'}, health {overview.health or '—'}; waiting for "
        "Running and Healthy.",
        last_seen=seen,
    )
    return _seconds("POOL_POLL_INTERVAL")


def updated_request(pool: ComputePool) -> dict[str, Any]:
    """The pool's stored request with the upgrade's versions in place of the old ones (masked values stay
    REDACTED), so the page and a later plan see what the cluster runs."""
    from ..variables import stored_secrets

    body = copy.deepcopy(pool.request or {})
    entries = (body.setdefault("spec", {})).setdefault("profiles", [])
    secret = stored_secrets(pool)
    for p in (pool.change or {}).get("profiles") or ():
        given = _values(pool, p["name"], p["uid"])
        variables = [
            {"name": k, "value": REDACTED if k in secret.get(p["name"], {}) else v} for k, v in given.items()
        ]
        entry = next((e for e in entries if e.get("uid") in (p.get("replaces"), p["uid"])), None)
        if entry is None:
            entry = {"uid": p["uid"]}
            entries.append(entry)
        entry["uid"] = p["uid"]
        if variables:
            entry["variables"] = variables
    return body
