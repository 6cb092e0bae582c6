"""Manifests for ProfileBundle and ComputePool (kind handlers for core.manifests).

ProfileBundle (`spectrocloud.com/v1beta1`): `spec: {type: Infrastructure|Fullstack, version,
description?, clusterProfiles: [{uid, name, version}]}`; a reference may give the uid, or a name
and version. Profiles are checked by compute.bundles (edge-native, still in Palette, exactly one
Infrastructure or Full; an Infrastructure bundle's is an Infrastructure profile).

ComputePool (`spectrocloud.com/v1alpha1`): the shape in the README's "The ComputePool manifest", read by
compute.spec.parse_spec, plus `spec.profileVariables: {<profile name>: {<variable>: <value>}}`, checked
against the bundle's profiles by compute.variables (format, regex, known and not hidden). Masked (sensitive)
values are exported as REDACTED unless secrets are shown; applying REDACTED keeps the value the pool has.
Applying a new pool runs the readiness report and, when nothing blocks, starts provisioning (as
the UI's Create does); a blocked pool is refused with every reason. The variant never changes;
description and labels may change at any time; a Ready pool's nodeCount (one machine pool at a time) is a
day-2 scale (compute.provisioning.day2); newer profile versions in a Ready pool's bundle are a day-2
upgrade (compute.provisioning.upgrade; a repave only with spec.upgrade.allowRepave, one change at a time); the
rest only while the pool is Failed (the change is then provisioned again). Deleting a pool starts its
deletion per its deletion policy; deleting a pool that is already Deleted removes its record.

`plan_file` reads a manifest file for `pool_plan -f` without applying anything.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from core import audit
from core.manifests import MISSING, Document, Handler, Plan, _prepare, handlers, shorten, type_name
from core.models import AuditEntry
from tenancy.manifests import can_write_namespace, namespace_owner
from tenancy.models import DNS1123_LABEL, Project, owner_for_namespace

from .bundles import check_profiles, pools_using
from .models import ComputePool, ProfileBundle
from .spec import PoolSpec, parse_spec, spec_of
from .variables import REDACTED, stored_secrets, with_masked

BUNDLE_VERSION = "spectrocloud.com/v1beta1"
POOL_VERSION = "spectrocloud.com/v1alpha1"
BUNDLE_TYPES = (ProfileBundle.INFRASTRUCTURE, ProfileBundle.FULLSTACK)


def _project(doc: Document, plan: Plan, kind: str) -> Project | None:
    """The project owning the document's namespace (reported when there is none, or it is a tenant's)."""
    owner = owner_for_namespace(doc.namespace)
    if isinstance(owner, Project):
        return owner
    found = namespace_owner(plan, doc.namespace)
    if found is not None and found.is_project:
        doc.state["new_project"] = True
        return None
    if found is not None:
        plan.error(
            doc,
            "metadata.namespace",
            f"{doc.namespace} is a tenant's namespace; a {kind} belongs to a project: "
            "use the project's namespace.",
        )
    else:
        plan.error(
            doc,
            "metadata.namespace",
            f"no project owns namespace {doc.namespace}; create the Project first or in this file.",
        )
    return None


def _version_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return str(value)
    return value if isinstance(value, str) else None


class ProfileBundleHandler(Handler):
    kind = "ProfileBundle"
    api_versions = (BUNDLE_VERSION, "spectrocloud.com/v1alpha1")
    order = 50

    def authorize(self, doc: Document, plan: Plan, user: Any) -> bool:
        return can_write_namespace(plan, user, doc.namespace)

    def validate(self, doc: Document, plan: Plan) -> None:
        plan.check_text(doc, "metadata.name", doc.name, max_length=63, validators=[DNS1123_LABEL])
        project = _project(doc, plan, self.kind)
        if plan.mapping(doc, "spec", keys=("type", "version", "description", "clusterProfiles")) is None:
            return
        kind = doc.get("spec.type")
        if kind in (MISSING, None):
            plan.error(doc, "spec.type", "required: Infrastructure or Fullstack.")
        elif kind == "Application":
            plan.error(
                doc,
                "spec.type",
                "Application bundles (workload profiles only) are not managed here; use Infrastructure "
                "or Fullstack for compute pools.",
            )
        elif kind not in BUNDLE_TYPES:
            plan.error(doc, "spec.type", "must be Infrastructure or Fullstack.")
        version = _version_text(doc.get("spec.version")) if doc.get("spec.version") is not MISSING else "1"
        if not version or len(version) > 64:
            plan.error(
                doc, "spec.version", 'must be a version text of at most 64 characters, e.g. "1" or "1.2.0".'
            )
        description = plan.text(doc, "spec.description", required=False, default="", max_length=1000)
        raw = doc.get("spec.clusterProfiles")
        if raw in (MISSING, None) or raw == []:
            plan.error(
                doc,
                "spec.clusterProfiles",
                "required: one edge-native Infrastructure or Full profile version "
                "(uid, or name and version), plus any add-ons.",
            )
            return
        if not isinstance(raw, list):
            plan.error(doc, "spec.clusterProfiles", f"must be a list, not {type_name(raw)}.")
            return
        refs: list[dict] = []
        for i, item in enumerate(raw):
            path = f"spec.clusterProfiles[{i}]"
            if not isinstance(item, dict):
                plan.error(doc, path, "must be a mapping with uid, or name and version.")
                continue
            for key in item:
                if key not in ("uid", "name", "version", "type", "cloudType"):
                    plan.error(doc, f"{path}.{shorten(key)}", "unknown field; expected uid, name, version.")
            ref = {
                k: _version_text(item.get(k)) for k in ("uid", "name", "version") if item.get(k) is not None
            }
            if not ref.get("uid") and not (ref.get("name") and ref.get("version")):
                plan.error(doc, path, "give the profile version's uid, or its name and version.")
                continue
            refs.append(ref)
        if project is None or len(refs) != len(raw):
            if doc.state.get("new_project"):
                plan.error(
                    doc,
                    "spec.clusterProfiles",
                    "the profiles are looked up in the project's Palette project: apply the "
                    "Project and its Settings first, then this bundle.",
                )
            return
        found, problems = check_profiles(project, refs, kind if kind in BUNDLE_TYPES else "")
        for index, message in problems:
            plan.error(
                doc, f"spec.clusterProfiles[{index}]" if index >= 0 else "spec.clusterProfiles", message
            )
        if problems or kind not in BUNDLE_TYPES or not version or description is None:
            return
        doc.state.update(
            project=project,
            values={
                "bundle_type": kind,
                "version": version,
                "description": description,
                "profiles": [p.stored() for p in found],
            },
            infos=tuple(found),
        )

    def apply(self, doc: Document, plan: Plan) -> str:
        values, project = doc.state["values"], doc.state["project"]
        bundle = ProfileBundle.objects.filter(project=project, name=doc.name).first()
        if bundle is not None and all(getattr(bundle, k) == v for k, v in values.items()):
            return "unchanged"
        created = bundle is None
        bundle = bundle or ProfileBundle(project=project, name=doc.name)
        for key, value in values.items():
            setattr(bundle, key, value)
        bundle.save()
        audit.record(
            plan.request,
            AuditEntry.CREATE if created else AuditEntry.UPDATE,
            bundle,
            user=plan.user,
            source=plan.audit_source,
            changes={"profiles": ", ".join(f"{p['name']} {p['version']}" for p in values["profiles"])},
        )
        return "created" if created else "configured"

    def validate_delete(self, doc: Document, plan: Plan) -> None:
        bundle = ProfileBundle.objects.filter(namespace=doc.namespace, name=doc.name).first()
        if bundle is None:
            return
        users = [p.name for p in pools_using(bundle) if not plan.find("ComputePool", p.name, p.namespace)]
        if users:
            plan.error(
                doc,
                "",
                f"compute pools {', '.join(users)} use this bundle; delete them first (they may be listed in "
                "this file).",
            )

    def delete(self, doc: Document, plan: Plan) -> str:
        bundle = ProfileBundle.objects.filter(namespace=doc.namespace, name=doc.name).first()
        if bundle is None:
            return "not found"
        audit.record(plan.request, AuditEntry.DELETE, bundle, user=plan.user, source=plan.audit_source)
        bundle.delete()
        return "deleted"

    def export(self, namespace: str | None, show_secrets: bool) -> list[dict]:
        bundles = ProfileBundle.objects.order_by("namespace", "name")
        if namespace:
            bundles = bundles.filter(namespace=namespace)
        out = []
        for b in bundles:
            spec: dict = {"type": b.bundle_type, "version": b.version}
            if b.description:
                spec["description"] = b.description
            spec["clusterProfiles"] = [
                {"uid": p["uid"], "name": p["name"], "version": p["version"]} for p in b.profiles
            ]
            out.append(
                {
                    "apiVersion": BUNDLE_VERSION,
                    "kind": self.kind,
                    "metadata": {"name": b.name, "namespace": b.namespace},
                    "spec": spec,
                }
            )
        return out


def _bundle_for(plan: Plan, spec: PoolSpec, project: Project | None):
    """(profile facts, bundle type, stored bundle) for the bundle a pool names: the file's document wins."""
    from .bundles import bundle_facts

    doc = plan.find("ProfileBundle", spec.bundle, spec.namespace)
    stored = ProfileBundle.objects.filter(project=project, name=spec.bundle).first() if project else None
    if doc is not None:
        if "infos" not in doc.state:
            return None, "", stored  # the bundle document has its own errors
        return doc.state["infos"], doc.state["values"]["bundle_type"], stored
    if stored is None:
        return None, "", None
    return tuple(bundle_facts(stored)), stored.bundle_type, stored


class ComputePoolHandler(Handler):
    kind = "ComputePool"
    api_versions = (POOL_VERSION,)
    order = 60

    def authorize(self, doc: Document, plan: Plan, user: Any) -> bool:
        return can_write_namespace(plan, user, doc.namespace)

    def validate(self, doc: Document, plan: Plan) -> None:
        from .readiness import evaluate, gather

        project = _project(doc, plan, self.kind)
        labels = plan.string_map(doc, "metadata.labels") or {}
        spec, problems = parse_spec(
            doc.get("spec") if doc.get("spec") is not MISSING else None,
            name=doc.name,
            namespace=doc.namespace,
            labels=labels,
        )
        for path, message in problems:
            plan.error(doc, path, message)
        if spec is None or problems:
            return
        doc.state["spec"] = spec
        for other in plan.of_kind("ComputePool"):
            if other.index < doc.index and other.state.get("spec") and other.state["spec"].vip == spec.vip:
                plan.error(
                    doc,
                    _vip_path(spec),
                    f"document {other.index} ({other.label}) already uses VIP {spec.vip}.",
                )
        facts, bundle_type, stored_bundle = _bundle_for(plan, spec, project)
        if facts is None and not plan.find("ProfileBundle", spec.bundle, spec.namespace):
            plan.error(
                doc,
                "spec.profileBundleRef.name",
                f"there is no ProfileBundle {spec.bundle} in {doc.namespace}; "
                "add it to this file or create it first.",
            )
            return
        if project is None:
            return
        existing = (
            ComputePool.objects.filter(project=project, name=doc.name)
            .exclude(status=ComputePool.DELETED)
            .first()
        )
        doc.state.update(project=project, existing=existing, bundle=stored_bundle)
        spec = self._variables(doc, plan, spec, facts, existing)
        if spec is None:
            return
        doc.state["spec"] = spec
        if existing is not None:
            self._check_change(doc, plan, existing, spec, facts)
            return
        if getattr(plan, "skip_readiness", False):
            doc.state["inputs"] = gather(project, spec, bundle=facts, bundle_type=bundle_type)
            return
        report = evaluate(gather(project, spec, bundle=facts, bundle_type=bundle_type))
        doc.state["report"] = report
        for requirement in report.blocking_failures:
            plan.error(
                doc,
                "",
                f"not ready to provision — {requirement.name}: {requirement.reason} "
                f"(`manage.py pool_plan -f FILE` shows the whole report).",
            )

    @staticmethod
    def _variables(
        doc: Document, plan: Plan, spec: PoolSpec, facts, existing: ComputePool | None
    ) -> PoolSpec | None:
        """The spec with its variable values checked against the bundle's profiles (None after reporting a
        problem).

        REDACTED, which export writes for a masked value, keeps the value the pool has; a masked value is
        never repeated in a message (and the plan scrubs it from every message anyway).
        """
        kept = stored_secrets(existing) if existing is not None else {}
        values: dict[str, dict[str, str]] = {}
        reused: set[tuple[str, str]] = set()
        ok = True
        for profile, given in spec.variables.items():
            for name, value in given.items():
                if value.strip() == REDACTED:
                    if name not in (kept.get(profile) or {}):
                        plan.error(
                            doc,
                            f"spec.profileVariables.{profile}.{name}",
                            f"holds the placeholder {REDACTED} written by "
                            "export; put the real value here, or export with --show-secrets.",
                        )
                        ok = False
                        continue
                    value = kept[profile][name]
                    reused.add((profile, name))
                values.setdefault(profile, {})[name] = value
        spec, problems = with_masked(replace(spec, variables=values, masked=frozenset(reused)), facts or ())
        plan.secrets.update(
            v for p, given in spec.variables.items() for n, v in given.items() if (p, n) in spec.masked
        )
        if facts is None:
            return spec if ok else None  # the bundle has problems of its own, reported with it
        for profile, name, message in problems:
            plan.error(doc, f"spec.profileVariables.{profile}" + (f".{name}" if name else ""), message)
        return spec if ok and not problems else None

    @staticmethod
    def _check_change(doc: Document, plan: Plan, pool: ComputePool, spec: PoolSpec, facts=None) -> None:
        current = spec_of(pool)
        if spec.variant != current.variant:
            plan.error(
                doc,
                "spec.clusterVariant",
                f"the variant of pool {pool.name} is {current.variant} and cannot change; "
                "delete the pool and create it again to switch.",
            )
            return
        if pool.status == ComputePool.DELETING:
            plan.error(
                doc, "", f"pool {pool.name} is being deleted; wait until it is Deleted to create it again."
            )
            return
        core_changed = _core(spec) != _core(current)
        scaled = _scaled(spec, current)
        if _check_upgrade(doc, plan, pool, spec, current, facts, scaled):
            return
        # A pool that failed provisioning is provisioned again with new counts; any other takes a day-2 scale.
        day2 = pool.status != ComputePool.FAILED or pool.operation in (ComputePool.SCALE, ComputePool.REPLACE)
        if day2 and core_changed and scaled and _core(_with_counts(spec, current)) == _core(current):
            _check_scale(doc, plan, pool, scaled)
            return
        if core_changed and pool.status != ComputePool.FAILED:
            plan.error(
                doc,
                "spec",
                f"pool {pool.name} is {pool.status}: only its description and labels can change. Delete it "
                "and create it again to change the cluster (node pools, VIP, bundle, profile variables, SSH "
                "keys, deletion policy).",
            )
            return
        if spec.vip != current.vip:
            other = (
                ComputePool.objects.filter(vip=spec.vip)
                .exclude(status=ComputePool.DELETED)
                .exclude(pk=pool.pk)
                .first()
            )
            if other is not None:
                plan.error(
                    doc,
                    _vip_path(spec),
                    f"{spec.vip} is already the VIP of pool {other.namespace}/{other.name}.",
                )
                return
        doc.state["core_changed"] = core_changed

    def apply(self, doc: Document, plan: Plan) -> str:
        from .provisioning import core_fields, create_pool, retry_pool

        if doc.state.get("scale"):
            return _apply_scale(doc, plan)
        upgrading = doc.state.get("upgrade") is not None

        spec: PoolSpec = doc.state["spec"]
        project = doc.state["project"]
        bundle = (
            doc.state.get("bundle") or ProfileBundle.objects.filter(project=project, name=spec.bundle).first()
        )
        pool: ComputePool | None = doc.state.get("existing")
        if pool is None:
            create_pool(project, spec, bundle, request=plan.request, user=plan.user, source=plan.audit_source)
            return "created (provisioning started)"
        changed = {}
        if pool.description != spec.description:
            changed["description"] = spec.description
        if pool.labels != spec.labels:
            changed["labels"] = dict(spec.labels)
        if doc.state.get("core_changed"):
            changed.update(core_fields(spec, bundle), hosts={})
        upgraded = _apply_upgrade(doc, plan) if upgrading else ""
        if not changed:
            return upgraded or "unchanged"
        for key, value in changed.items():
            setattr(pool, key, value)
        pool.save(update_fields=[*changed, "updated"])
        audit.record(
            plan.request,
            AuditEntry.UPDATE,
            pool,
            user=plan.user,
            source=plan.audit_source,
            changes={
                k: str(v)
                for k, v in changed.items()
                if k in ("description", "labels", "vip", "bundle_name", "deletion_policy")
            },
        )
        if doc.state.get("core_changed"):
            retry_pool(pool, request=plan.request, user=plan.user, source=plan.audit_source)
            return "configured (provisioning again)"
        return upgraded or "configured"

    def delete(self, doc: Document, plan: Plan) -> str:
        from .provisioning import request_delete

        pool = (
            ComputePool.objects.filter(namespace=doc.namespace, name=doc.name)
            .exclude(status=ComputePool.DELETED)
            .first()
        )
        if pool is None:
            tombstones = ComputePool.objects.filter(
                namespace=doc.namespace, name=doc.name, status=ComputePool.DELETED
            )
            if tombstones.exists():
                tombstones.delete()
                return "record removed (the pool was already deleted)"
            return "not found"
        outcome = request_delete(pool, request=plan.request, user=plan.user, source=plan.audit_source)
        if outcome == "changed":
            # The pool moved on (e.g. it just became Ready) while this ran: the manifest asks for its deletion
            # whatever its state, so ask again on the state it has now.
            outcome = request_delete(pool, request=plan.request, user=plan.user, source=plan.audit_source)
        policy = (
            "keeping the Palette cluster"
            if pool.deletion_policy == ComputePool.ORPHAN
            else "deleting the Palette cluster"
        )
        return {
            "started": f"deletion started ({policy})",
            "queued": f"deletion queued after the running step ({policy})",
            "already": "already being deleted",
            "changed": f"not deleted: the pool keeps changing (now {pool.status}); apply again",
        }[outcome]

    def export(self, namespace: str | None, show_secrets: bool) -> list[dict]:
        pools = (
            ComputePool.objects.select_related("project")
            .exclude(status=ComputePool.DELETED)
            .order_by("namespace", "name")
        )
        if namespace:
            pools = pools.filter(namespace=namespace)
        return [spec_of(pool).to_manifest(show_secrets=show_secrets) for pool in pools]


def _core(spec: PoolSpec) -> tuple:
    return (
        spec.bundle,
        spec.node_pools(),
        spec.cp_groups,
        spec.worker_groups,
        spec.vip,
        spec.ssh_keys,
        spec.deletion_policy,
        spec.variables,
    )


# -- a Ready pool's nodeCount changed: a day-2 scale (compute.provisioning.day2) ----------------------------


def _scaled(spec: PoolSpec, current: PoolSpec) -> list[tuple[str, int]] | None:
    """The machine pools whose nodeCount `spec` changes, with the new counts; None when the machine pools
    themselves differ (added, removed, renamed)."""
    if [n.name for n in spec.machine_pools] != [n.name for n in current.machine_pools]:
        return None
    return [
        (n.name, n.count)
        for n, c in zip(spec.machine_pools, current.machine_pools, strict=True)
        if n.count != c.count
    ]


def _with_counts(spec: PoolSpec, current: PoolSpec) -> PoolSpec:
    """`spec` with the node counts of `current` (to tell a pure count change from any other)."""
    counts = {n.name: n.count for n in current.machine_pools}
    return replace(
        spec,
        control_plane=replace(spec.control_plane, count=counts[spec.control_plane.name]),
        workers=tuple(replace(w, count=counts[w.name]) for w in spec.workers),
    )


def _check_scale(doc: Document, plan: Plan, pool: ComputePool, scaled: list[tuple[str, int]]) -> None:
    """Plan the scale now, so that a change that cannot be made is refused with what to fix."""
    from .provisioning.day2 import DayTwoProblem, plan_scale

    if len(scaled) > 1:
        plan.error(
            doc,
            "spec.clusterVariant",
            f"the nodeCount of {len(scaled)} machine pools changes ({', '.join(n for n, _ in scaled)}): "
            "change one machine pool at a time, apply, and change the next once the pool is Ready again.",
        )
        return
    name, count = scaled[0]
    try:
        change = plan_scale(pool, name, count)
    except DayTwoProblem as exc:
        plan.error(doc, "spec.clusterVariant", f"pool {pool.name}: {exc}")
        return
    doc.state.update(scale=(name, count), change=change)


def _apply_scale(doc: Document, plan: Plan) -> str:
    from .provisioning.day2 import DayTwoProblem, plan_scale, start_change

    pool, (name, count) = doc.state["existing"], doc.state["scale"]
    try:
        change = start_change(
            pool,
            lambda p: plan_scale(p, name, count),
            request=plan.request,
            user=plan.user,
            source=plan.audit_source,
        )
    except DayTwoProblem as exc:
        return f"not scaled: {exc}"
    return f"configured (scaling {change.summary()})"


# -- a Ready pool's bundle holds newer profile versions: a day-2 upgrade (compute.provisioning.upgrade) ---


def _upgrade_values(spec: PoolSpec, facts) -> dict:
    """The values the bundle's profiles have after the apply: the manifest's spec.profileVariables is the
    whole set (a profile it leaves out has none)."""
    return {**{t.name: {} for t in facts or ()}, **spec.variables}


def _check_upgrade(doc, plan, pool, spec, current, facts, scaled) -> bool:
    """Plan the upgrade when the pool's bundle (the file's document, else the stored one) holds other profile
    versions than the cluster runs; True when this decided the document (an upgrade planned or refused).

    One change at a time: an upgrade and a nodeCount change in one apply are refused. A repave needs
    spec.upgrade.allowRepave. Variables change only for the profiles that change version (README "The
    ComputePool manifest"). pool_plan (plan.skip_readiness) lists what would block instead of refusing.
    """
    from .provisioning.upgrade import plan_names, plan_upgrade

    if pool.status not in (ComputePool.READY, ComputePool.UPDATING) or pool.delete_requested:
        return False
    if spec.bundle != current.bundle or not pool.cluster_uid or facts is None:
        return False
    values = _upgrade_values(spec, facts)
    up = plan_upgrade(pool, target=facts, values=values)
    if not up.changes:
        return False
    names, where = plan_names(up), f"pool {pool.name}: bundle {spec.bundle} holds {up.summary()}"
    if pool.status == ComputePool.UPDATING:
        running = {p.get("uid") for p in (pool.change or {}).get("profiles") or ()}
        if pool.operation == ComputePool.UPGRADE and running == {p.new_uid for p in up.changes}:
            return False  # this very upgrade runs: the rest of the manifest is compared as usual
        plan.error(doc, "", f"{where}, but it is Updating: apply again once it is Ready.")
        return True
    if scaled:
        plan.error(
            doc,
            "spec.clusterVariant",
            f"{where}, and this manifest changes a nodeCount too: one change at a time. Apply it with the "
            "current nodeCount to upgrade first, then apply the new nodeCount once the pool is Ready again.",
        )
        return True
    if _core(replace(spec, variables=current.variables)) != _core(current):
        return False  # another change of the cluster: refused as usual
    for name in sorted({t.name for t in facts} - names):
        if spec.variables.get(name, {}) != current.variables.get(name, {}):
            plan.error(
                doc,
                f"spec.profileVariables.{name}",
                f"the values change, but profile {name} keeps its version: a Ready pool's variables change "
                "only with an upgrade of their profile (delete and create the pool to change them).",
            )
            return True
    blocked = [
        (f"spec.profileVariables.{d.name}.{v.name}", m)
        for (d, v), m in zip(up.missing, up.missing_messages, strict=True)
    ]
    if up.repave and not spec.allow_repave:
        blocked.append(("spec.upgrade", f"{up.note} Add spec.upgrade: {{allowRepave: true}} to confirm it."))
    for message in up.problems:
        plan.error(doc, "", f"{where} — {message}")
    for path, message in () if _planning(plan) else blocked:
        plan.error(doc, path, f"{where} — {message}")
    doc.state.update(upgrade=up, upgrade_values=values, upgrade_blocked=[m for _, m in blocked])
    return True


def _planning(plan: Plan) -> bool:
    return bool(getattr(plan, "skip_readiness", False))


def _apply_upgrade(doc: Document, plan: Plan) -> str:
    from .bundles import bundle_facts
    from .provisioning.upgrade import UpgradeRefused, start_upgrade

    pool, spec = doc.state["existing"], doc.state["spec"]
    pool.refresh_from_db()
    facts = bundle_facts(pool.bundle) if pool.bundle is not None else ()
    try:
        up = start_upgrade(
            pool,
            confirm_repave=spec.allow_repave,
            values=_upgrade_values(spec, facts),
            masked=spec.masked,
            request=plan.request,
            user=plan.user,
            source=plan.audit_source,
        )
    except UpgradeRefused as exc:
        return f"not upgraded: {exc}"
    return f"configured (upgrading profiles: {up.summary()})"


def _vip_path(spec: PoolSpec) -> str:
    return f"spec.clusterVariant.{spec.variant}.paletteClusterDeploymentConfig.vip"


HANDLERS = (ProfileBundleHandler(), ComputePoolHandler())


def plan_file(text: str | bytes, source: str = "manifest") -> tuple[list[str], list[Document]]:
    """Read and check a manifest file like `apply` does, but apply nothing and refuse nothing for readiness.

    Returns (problems, the ComputePool documents) — each document's state holds `spec` and, when its
    project exists, the evaluator `inputs`.
    """
    plan = Plan(source, audit_source="cli")
    plan.skip_readiness = True  # type: ignore[attr-defined]
    _prepare(text, plan)
    for doc in sorted((d for d in plan.documents if d.valid), key=lambda d: (d.handler.order, d.index)):
        doc.handler.validate(doc, plan)
    for handler in handlers().values():
        handler.check(plan)
    pools = plan.of_kind("ComputePool")
    if not pools and not plan.errors:
        plan.error(None, "", "the file holds no ComputePool.")
    return plan.scrubbed_errors(), pools
