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
from palette.bodies import ProfileChange, cluster_profiles_patch

from ..models import ClusterProfile, ComputePool, PoolStep
from . import events
from .context import Context, _seconds

UPGRADE_STEPS = ("upgrade", "wait_upgraded")
PATCH_PATH = "/v1/spectroclusters/{uid}/profiles"
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
    old_name: str = ""

    @property
    def base(self) -> bool:
        return self.type in BASE_TYPES


@dataclass
class UpgradePlan:
    profiles: list[ProfileDiff] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Required variables of the new versions without a default that the pool gives no value for: (profile
    # diff, variable). The upgrade page asks for them, a manifest gives them in spec.profileVariables.
    missing: list[tuple[ProfileDiff, Any]] = field(default_factory=list)
    repave: bool = False
    note: str = ""

    @property
    def changes(self) -> list[ProfileDiff]:
        return [p for p in self.profiles if p.action != "same"]

    @property
    def missing_messages(self) -> list[str]:
        return [
            f"{d.name} {d.new_version} requires variable {v.name} ({v.label}), which has no default and no "
            "value in this pool: Palette would refuse the upgrade. Give it a value (the upgrade page asks "
            f"for it; in a manifest spec.profileVariables.{d.name}.{v.name})."
            for d, v in self.missing
        ]

    @property
    def refusals(self) -> list[str]:
        """Every reason the upgrade cannot start as it is."""
        return [*self.problems, *self.missing_messages]

    def summary(self) -> str:
        """`edge-k3s-infra 1.2.0 → 1.3.0 (nodes repaved)` — for messages and pool_plan."""
        text = ", ".join(f"{p.name} {p.old_version or '(added)'} → {p.new_version}" for p in self.changes)
        return text + (" (nodes repaved)" if self.repave else " (in place)")


def _attached(pool: ComputePool) -> list[dict]:
    """The profile entries the cluster was given ({uid, variables}), as the pool's request holds them."""
    return [e for e in ((pool.request or {}).get("spec") or {}).get("profiles") or () if isinstance(e, dict)]


def _known(pool: ComputePool, uids: list[str]) -> dict[str, ClusterProfile]:
    return {r.uid: r for r in ClusterProfile.objects.filter(project_id=pool.project_id, uid__in=uids)}


def plan_upgrade(pool: ComputePool, *, target=None, values=None) -> UpgradePlan:
    """What upgrading `pool` to its bundle's profile versions changes, and why it cannot start
    (`problems`, `missing`).

    `target`: the profile versions to upgrade to (compute.bundles.ProfileInfo, e.g. a manifest's bundle
    document) instead of the stored bundle's; `values`: the variable values the pool will have, per profile
    name, instead of its own (a manifest's spec.profileVariables, the upgrade page's fields).
    """
    from ..bundles import bundle_facts, row_variables

    plan = UpgradePlan()
    if pool.status != ComputePool.READY or not pool.cluster_uid:
        plan.problems.append(
            f"Pool {pool.name} is {pool.get_status_display()}: an upgrade starts from Ready, once the "
            "cluster runs."
        )
    if target is None and pool.bundle is None:
        plan.problems.append(
            f"The pool's bundle {pool.bundle_name} no longer exists: there is nothing to upgrade to."
        )
        return plan
    target = bundle_facts(pool.bundle) if target is None else list(target)
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
            diff.old_uid, diff.old_version, diff.old_name = old.uid, old.version, old.name
            diff.action = "same" if old.uid == t.uid else "upgrade"
        elif t.uid in current:
            diff.action = "same"  # attached, its row gone from the sync: nothing to send
        plan.profiles.append(diff)
        if diff.action != "same":
            given = _given(pool, t.name, values)
            _variables(plan, diff, row_variables(old) if old is not None else (), t.variables, given)
    if not plan.changes and not plan.problems:
        labels = ", ".join(f"{p.name} {p.new_version}" for p in plan.profiles)
        plan.problems.append(
            f"Nothing to upgrade: the cluster runs the bundle's profile versions ({labels}). Point bundle "
            f"{pool.bundle_name} at a newer version first (its manifest, or a new bundle)."
        )
    plan.repave = any(p.base for p in plan.changes)
    plan.note = _note(plan)
    return plan


def _given(pool: ComputePool, name: str, values=None) -> dict[str, str]:
    """The values of profile `name`: from `values` when it names the profile, else the pool's (masked ones
    decrypted: never shown)."""
    from ..variables import stored_secrets

    if values is not None and name in values:
        return dict(values[name])
    return {**(pool.variables or {}).get(name, {}), **stored_secrets(pool).get(name, {})}


def _variables(plan: UpgradePlan, diff: ProfileDiff, old_vars, new_vars, given: dict) -> None:
    """The variable changes of one profile change, and the required variables the pool gives no value for."""
    if new_vars is None:
        plan.variables.append(
            f"{diff.name} {diff.new_version}: its variables are not known (sync the profiles)."
        )
        return
    old = {v.name: v for v in old_vars}
    for var in new_vars:
        before = old.get(var.name)
        if before is None:
            value = "a value the pool gives" if var.name in given else f"default {_default(var)}"
            plan.variables.append(f"{diff.name}.{var.name}: new in {diff.new_version} ({value}).")
        elif before.default_value != var.default_value and var.name not in given:
            plan.variables.append(f"{diff.name}.{var.name}: default {_default(before)} → {_default(var)}.")
        if var.needs_value and given.get(var.name, "") == "":
            plan.missing.append((diff, var))
    for name in old:
        if name not in {v.name for v in new_vars}:
            plan.variables.append(
                f"{diff.name}.{name}: no longer defined in {diff.new_version} (its value is dropped)."
            )


def _default(var) -> str:
    if var.is_sensitive and var.default_value:
        return "•••• (masked)"
    return var.default_value or "(empty)"


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


def start_upgrade(
    pool: ComputePool,
    *,
    confirm_repave: bool,
    values=None,
    masked=frozenset(),
    request=None,
    user=None,
    source: str = "web",
):
    """Start upgrading `pool` (Ready) to its bundle's versions; the plan. UpgradeRefused says why not.

    `values`: {profile name: {variable: value}} — the values the upgraded profiles have from now on (stored
    with the pool as at create: the `masked` (profile, variable) pairs encrypted in secret_variables).
    """
    from .actions import start_attempt

    pool.refresh_from_db()  # the bundle as it is now (a manifest's bundle document was just applied)
    plan = plan_upgrade(pool, values=values)
    if plan.refusals:
        raise UpgradeRefused(" ".join(plan.refusals))
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
    started = start_attempt(
        pool,
        operation=ComputePool.UPGRADE,
        status=ComputePool.UPDATING,
        step="upgrade",
        change=change,
        started=timezone.now(),
        wait_reason="Upgrade requested: waiting for a worker.",
        **_stored_values(pool, plan, values, masked),
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
        changes={"profiles": _describe(change), **_named(values, plan)},
    )
    return plan


def _stored_values(pool: ComputePool, plan: UpgradePlan, values, masked) -> dict:
    """The pool's variables and secret_variables with `values` for the upgraded profiles, without the values
    of a base profile the upgrade replaces by another name ({} when nothing changes: the pool keeps its
    own)."""
    from ..variables import encode_secrets, stored_secrets

    names = plan_names(plan) & set(values or {})
    gone = {p.old_name for p in plan.changes if p.old_name and p.old_name != p.name} - plan_names(plan)
    plain = {p: dict(v) for p, v in (pool.variables or {}).items() if p not in gone}
    secret = {p: v for p, v in stored_secrets(pool).items() if p not in gone}
    if not names and plain == (pool.variables or {}) and secret == stored_secrets(pool):
        return {}
    for name in names:
        plain.pop(name, None)
        secret.pop(name, None)
        for var, value in values[name].items():
            (secret if (name, var) in masked else plain).setdefault(name, {})[var] = value
    return {"variables": plain, "secret_variables": encode_secrets(secret)}


def _named(values, plan: UpgradePlan) -> dict:
    """The audit entry names the variables given with the upgrade, never a value."""
    upgraded = plan_names(plan)
    names = sorted(f"{p}.{v}" for p, given in (values or {}).items() for v in given if p in upgraded)
    return {"variables": ", ".join(names)} if names else {}


def plan_names(plan: UpgradePlan) -> set[str]:
    return {p.name for p in plan.changes}


def read_missing(plan: UpgradePlan, posted) -> tuple[dict, set, dict[str, str]]:
    """The upgrade page's fields for `plan.missing` (`var-<i>`): (values {profile: {variable: value}}, the
    masked pairs, errors by field key), each value checked like the wizard's (compute/variables.py)."""
    from ..variables import MAX_VALUE_LENGTH, value_problem

    values: dict[str, dict[str, str]] = {}
    masked: set[tuple[str, str]] = set()
    errors: dict[str, str] = {}
    for i, (diff, var) in enumerate(plan.missing):
        key = f"var-{i}"
        raw = posted.get(key, "")
        value = raw if var.is_sensitive else raw.strip()
        if value == "":
            errors[key] = (
                f"{var.label} ({var.name}) is required: {diff.name} {diff.new_version} has no default."
            )
        elif len(value) > MAX_VALUE_LENGTH:
            errors[key] = f"{var.label} ({var.name}) must be at most {MAX_VALUE_LENGTH} characters."
        elif problem := value_problem(var, value, show_value=not var.is_sensitive):
            errors[key] = f"{var.label} ({var.name}): {problem}"
        else:
            values.setdefault(diff.name, {})[var.name] = value
            if var.is_sensitive:
                masked.add((diff.name, var.name))
    return values, masked, errors


def with_pool_values(pool: ComputePool, given: dict) -> tuple[dict, set]:
    """`given` ({profile: {variable: value}}) over the pool's own values of those profiles, and the masked
    pairs (the pool's masked ones stay masked)."""
    from ..variables import stored_secrets

    secret = stored_secrets(pool)
    values = {p: {**_given(pool, p), **v} for p, v in given.items()}
    masked = {(p, n) for p in given for n in secret.get(p, {})}
    return values, masked


def planned_request(pool: ComputePool, plan: UpgradePlan, values=None, masked=frozenset()) -> dict:
    """The PATCH the chain would send for `plan` (for pool_plan), masked values as REDACTED; built as the
    `upgrade` step builds it (palette.bodies)."""
    from ..variables import stored_secrets

    secret = stored_secrets(pool)
    changes = []
    for p in plan.changes:
        own = values is None or p.name not in values
        hidden = set(secret.get(p.name, {})) if own else {n for q, n in masked if q == p.name}
        given = _values(pool, p.name, p.new_uid, values=values)
        shown = {k: REDACTED if k in hidden else v for k, v in given.items()}
        changes.append(ProfileChange(p.new_uid, replaces=p.old_uid, variables=shown))
    return {
        "method": "PATCH",
        "path": PATCH_PATH.replace("{uid}", pool.cluster_uid or "{uid}"),
        "body": cluster_profiles_patch(changes),
    }


def plan_json(pool: ComputePool, plan: UpgradePlan, values=None, masked=frozenset(), blocked=()) -> dict:
    """The upgrade as pool_plan lists it among an existing pool's changes (kind "upgrade")."""
    return {
        "kind": "upgrade",
        "summary": f"profiles: {plan.summary()}",
        "repave": plan.repave,
        "note": plan.note,
        "profiles": [
            {"name": p.name, "type": p.type, "action": p.action, "from": p.old_version, "to": p.new_version}
            for p in plan.changes
        ],
        "variables": list(plan.variables),
        "blocked": [*plan.refusals, *blocked],
        "requests": [planned_request(pool, plan, values, masked)],
    }


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


def _values(pool: ComputePool, name: str, uid: str = "", values=None) -> dict[str, str]:
    """The pool's values for profile `name` (masked ones decrypted: only for the call; `values` instead
    when it names the profile), limited to the variables version `uid` defines when the sync knows them."""
    from ..bundles import row_variables

    values = _given(pool, name, values)
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
