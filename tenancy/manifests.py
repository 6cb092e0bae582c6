"""Manifests for Tenant and Project (kind handlers for core.manifests), and who owns a namespace.

Tenant: `{metadata: {name}, spec: {displayName, description?, gpuLimit, settingsRef?: {name, namespace},
tenantRoleMapping?: {admin?: [group], viewer?: [group]}}}`.
Project: `{metadata: {name, namespace}, spec: {tenantRef: {name}, displayName, description?,
settingsRef?: {name}, gpuLimit, roleMapping?: {admin?, editor?, viewer?: [group]}}}`;
the role mappings give roles to identity-provider groups (tenancy.group_roles, README "Single sign-on").
`metadata.namespace` is the project's own namespace. Omitted optional fields take their defaults
(displayName: the name; gpuLimit: 0 = no limit), so the file is the whole desired state.

A settingsRef is not stored here: the Settings in the tenant's or project's namespace *is* its
settings. This module only checks its shape; integrations.manifests checks that it exists and
writes it on export (tenancy does not import integrations).

Deleting a Tenant or Project takes the one deletion path (tenancy.deletion): refused while a compute
pool of it is not Deleted; its Settings, Secrets (with their Kubernetes copies) and bundles go with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import audit
from core.manifests import MISSING, Document, Handler, Plan
from core.models import AuditEntry

from . import access, deletion, group_roles
from .models import DNS1123_LABEL, TENANT_NAMESPACE_PREFIX, Project, Tenant, owner_for_namespace

API_VERSION = "spectrocloud.com/v1alpha1"


def tenant_namespace(name: str) -> str:
    return f"{TENANT_NAMESPACE_PREFIX}{name}"


@dataclass(frozen=True)
class NamespaceOwner:
    """Who owns a namespace once the file is applied: a tenant (`tenant-<name>`) or a project."""

    kind: str
    name: str
    tenant: str

    @property
    def is_project(self) -> bool:
        return self.kind == "Project"


def namespace_owner(plan: Plan, namespace: str) -> NamespaceOwner | None:
    """The tenant or project that owns `namespace`, in the database or created by the same file."""
    if namespace.startswith(TENANT_NAMESPACE_PREFIX):
        name = namespace[len(TENANT_NAMESPACE_PREFIX) :]
        if plan.find("Tenant", name) or Tenant.objects.filter(name=name).exists():
            return NamespaceOwner("Tenant", name, name)
    doc = next((d for d in plan.of_kind("Project") if d.namespace == namespace), None)
    if doc is not None:
        tenant = doc.get("spec.tenantRef.name")
        return NamespaceOwner("Project", doc.name, tenant if isinstance(tenant, str) else "")
    project = Project.objects.select_related("tenant").filter(namespace=namespace).first()
    if project is not None:
        return NamespaceOwner("Project", project.name, project.tenant.name)
    return None


def can_write_namespace(plan: Plan, user: Any, namespace: str, need: str = access.WRITE) -> bool:
    """May `user` change this kind in `namespace`? The same role the web page for it asks for.

    Tenant namespaces: tenant admins. Project namespaces: `need` in the project, i.e. editors and
    admins for pools and bundles (WRITE), admins only for Settings and Secrets (ADMIN).
    """
    owner = owner_for_namespace(namespace)
    if isinstance(owner, Tenant):
        return access.tenant_role(user, owner) == access.ADMIN
    if isinstance(owner, Project):
        return access.allows(access.project_role(user, owner), need)
    # A project the same file creates: its tenant's admins may fill it.
    found = namespace_owner(plan, namespace)
    tenant = Tenant.objects.filter(name=found.tenant).first() if found else None
    return tenant is not None and access.tenant_role(user, tenant) == access.ADMIN


def _record(plan: Plan, action: str, obj: Tenant | Project, changes: dict | None = None) -> None:
    audit.record(
        plan.request,
        action,
        obj,
        changes=changes or {},
        source=plan.audit_source,
        user=plan.user,
    )


def _common_spec(doc: Document, plan: Plan, gpu_limit_field: str = "spec.gpuLimit") -> dict | None:
    """displayName, description and gpuLimit as model values; None when one is wrong."""
    display = plan.text(doc, "spec.displayName", required=False, default=doc.name, max_length=100)
    description = plan.text(doc, "spec.description", required=False, default="", max_length=2000)
    gpu_limit = plan.integer(doc, gpu_limit_field)
    if display is None or description is None or gpu_limit is None:
        return None
    if not display.strip():
        plan.error(doc, "spec.displayName", "must not be blank.")
        return None
    return {"display_name": display, "description": description, "gpu_limit": gpu_limit}


def _role_mapping(doc: Document, plan: Plan, path: str, keys: dict[str, str]) -> dict[str, list[str]] | None:
    """`spec.tenantRoleMapping` / `spec.roleMapping`: role → list of group names; absent means none."""
    value = plan.mapping(doc, path, keys=tuple(keys), required=False)
    out: dict[str, list[str]] = {key: [] for key in keys}
    if value is None:
        return out if doc.get(path) is MISSING or doc.get(path) is None else None
    ok = True
    for key, groups in value.items():
        if key not in keys:
            ok = False
            continue
        if groups is None:
            continue
        if not isinstance(groups, list):
            plan.error(doc, f"{path}.{key}", "must be a list of group names, e.g. [ml-engineers].")
            ok = False
            continue
        for i, group in enumerate(groups):
            problem = group_roles.group_problem(group) if isinstance(group, str) else "must be a string."
            if problem:
                plan.error(doc, f"{path}.{key}[{i}]", problem)
                ok = False
        out[key] = sorted({g for g in groups if isinstance(g, str)})
    return out if ok else None


def _save_mapping(
    plan: Plan, obj: Tenant | Project, mapping: dict[str, list[str]], status: str, field: str
) -> str:
    """Make `obj`'s group roles `mapping`; audit the change; the document's status after it."""
    before = group_roles.current(obj)
    if not group_roles.replace(obj, mapping):
        return status
    change = {field: audit.change(group_roles.describe(before), group_roles.describe(mapping))}
    _record(plan, AuditEntry.UPDATE, obj, change)
    return "configured" if status == "unchanged" else status


def _export_mapping(spec: dict, obj: Tenant | Project, field: str) -> None:
    mapping = {key: groups for key, groups in group_roles.current(obj).items() if groups}
    if mapping:
        spec[field] = mapping


def _check_gpu_limit(doc: Document, plan: Plan, obj: Tenant | Project | None, values: dict | None) -> None:
    """Only the level above changes a GPU limit (access.may_set_gpu_limit); re-applying the current value is
    fine.

    The CLI (no user) may change anything. A new object is created by someone allowed to set its limit.
    """
    if plan.user is None or obj is None or values is None or values["gpu_limit"] == obj.gpu_limit:
        return
    if not access.may_set_gpu_limit(plan.user, obj):
        plan.error(
            doc,
            "spec.gpuLimit",
            f"only {access.gpu_limit_setter(obj)} changes this {doc.kind}'s GPU limit; "
            f"write gpuLimit: {obj.gpu_limit} (the current limit) or ask one to change it.",
        )


def _save(plan: Plan, obj: Tenant | Project, values: dict, created: bool) -> str:
    """Write `values` when they differ; audit what changed. Idempotent."""
    if created:
        changes = {f: str(v) for f, v in values.items()}
    else:
        changes = {
            f: audit.change(str(getattr(obj, f)), str(v)) for f, v in values.items() if getattr(obj, f) != v
        }
    if not changes:
        return "unchanged"
    for name, value in values.items():
        setattr(obj, name, value)
    obj.full_clean()
    obj.save()
    _record(plan, AuditEntry.CREATE if created else AuditEntry.UPDATE, obj, changes)
    return "created" if created else "configured"


def _refuse_blocked(doc: Document, plan: Plan, obj: Tenant | Project) -> None:
    """The one deletion path's refusal (tenancy.deletion), reported on the document before anything is
    changed."""
    found = deletion.blockers(obj)
    if found:
        plan.error(doc, "", deletion.DeletionRefused(obj, found).text())


class TenantHandler(Handler):
    kind = "Tenant"
    api_versions = (API_VERSION,)
    namespaced = False
    order = 10

    def authorize(self, doc: Document, plan: Plan, user: Any) -> bool:
        # Creating and deleting tenants is for platform administrators (superusers) only.
        tenant = Tenant.objects.filter(name=doc.name).first()
        return not plan.deleting and tenant is not None and access.tenant_role(user, tenant) == access.ADMIN

    def validate(self, doc: Document, plan: Plan) -> None:
        plan.check_text(doc, "metadata.name", doc.name, validators=Tenant._meta.get_field("name").validators)
        spec_keys = ("displayName", "description", "gpuLimit", "settingsRef", "tenantRoleMapping")
        if plan.mapping(doc, "spec", keys=spec_keys) is None:
            return
        values = _common_spec(doc, plan)
        mapping = _role_mapping(doc, plan, "spec.tenantRoleMapping", group_roles.TENANT_KEYS)
        if mapping is not None:
            doc.state["role_mapping"] = mapping
        namespace = tenant_namespace(doc.name)
        if plan.mapping(doc, "spec.settingsRef", keys=("name", "namespace"), required=False) is not None:
            ref = plan.text(doc, "spec.settingsRef.name", max_length=63, validators=[DNS1123_LABEL])
            ref_namespace = plan.text(doc, "spec.settingsRef.namespace", required=False, default=namespace)
            if ref_namespace is not None and ref_namespace != namespace:
                plan.error(
                    doc,
                    "spec.settingsRef.namespace",
                    f"a tenant's Settings live in its namespace: use {namespace}.",
                )
            elif ref is not None:
                doc.state["settings_ref"] = (namespace, ref)
        # A project of the same file that takes this namespace gets the message instead.
        if Project.objects.filter(namespace=namespace).exists() and not any(
            d.namespace == namespace for d in plan.of_kind("Project")
        ):
            plan.error(
                doc,
                "metadata.name",
                f"the tenant's namespace {namespace} is already a project's namespace; choose another name.",
            )
        _check_gpu_limit(doc, plan, Tenant.objects.filter(name=doc.name).first(), values)
        if values is not None:
            doc.state["values"] = values

    def apply(self, doc: Document, plan: Plan) -> str:
        tenant = Tenant.objects.filter(name=doc.name).first()
        created = tenant is None
        tenant = tenant or Tenant(name=doc.name)
        status = _save(plan, tenant, doc.state["values"], created)
        return _save_mapping(plan, tenant, doc.state["role_mapping"], status, "tenantRoleMapping")

    def validate_delete(self, doc: Document, plan: Plan) -> None:
        tenant = Tenant.objects.filter(name=doc.name).first()
        if tenant is not None:
            _refuse_blocked(doc, plan, tenant)

    def delete(self, doc: Document, plan: Plan) -> str:
        tenant = Tenant.objects.filter(name=doc.name).first()
        if tenant is None:
            return "not found"
        deletion.delete(tenant, request=plan.request, user=plan.user, source=plan.audit_source)
        return "deleted"

    def export(self, namespace: str | None, show_secrets: bool) -> list[dict]:
        tenants = Tenant.objects.order_by("name")
        if namespace:
            tenants = (
                tenants.filter(name=namespace[len(TENANT_NAMESPACE_PREFIX) :])
                if namespace.startswith(TENANT_NAMESPACE_PREFIX)
                else tenants.none()
            )
        out = []
        for tenant in tenants:
            spec: dict = {"displayName": tenant.display_name}
            if tenant.description:
                spec["description"] = tenant.description
            spec["gpuLimit"] = tenant.gpu_limit
            _export_mapping(spec, tenant, "tenantRoleMapping")
            out.append(
                {"apiVersion": API_VERSION, "kind": "Tenant", "metadata": {"name": tenant.name}, "spec": spec}
            )
        return out


class ProjectHandler(Handler):
    kind = "Project"
    api_versions = (API_VERSION,)
    order = 20

    def authorize(self, doc: Document, plan: Plan, user: Any) -> bool:
        project = Project.objects.select_related("tenant").filter(namespace=doc.namespace).first()
        if project is not None:
            return access.project_role(user, project) == access.ADMIN
        tenant_name = doc.get("spec.tenantRef.name")
        tenant = Tenant.objects.filter(name=tenant_name).first() if isinstance(tenant_name, str) else None
        return not plan.deleting and tenant is not None and access.tenant_role(user, tenant) == access.ADMIN

    def validate(self, doc: Document, plan: Plan) -> None:
        namespace, name = doc.namespace, doc.name
        plan.check_text(doc, "metadata.name", name, validators=Project._meta.get_field("name").validators)
        ns_ok = plan.check_text(
            doc, "metadata.namespace", namespace, validators=Project._meta.get_field("namespace").validators
        )
        if (
            plan.mapping(
                doc,
                "spec",
                keys=("tenantRef", "displayName", "description", "gpuLimit", "settingsRef", "roleMapping"),
            )
            is None
        ):
            return
        mapping = _role_mapping(doc, plan, "spec.roleMapping", group_roles.PROJECT_KEYS)
        if mapping is not None:
            doc.state["role_mapping"] = mapping
        tenant_name = None
        if plan.mapping(doc, "spec.tenantRef", keys=("name",)) is not None:
            tenant_name = plan.text(doc, "spec.tenantRef.name", validators=[DNS1123_LABEL])
        values = _common_spec(doc, plan)
        if plan.mapping(doc, "spec.settingsRef", keys=("name",), required=False) is not None:
            ref = plan.text(doc, "spec.settingsRef.name", max_length=63, validators=[DNS1123_LABEL])
            if ref is not None:
                doc.state["settings_ref"] = (namespace, ref)
        if ns_ok is not None and namespace.startswith(TENANT_NAMESPACE_PREFIX):
            other = namespace[len(TENANT_NAMESPACE_PREFIX) :]
            if plan.find("Tenant", other) or Tenant.objects.filter(name=other).exists():
                plan.error(
                    doc,
                    "metadata.namespace",
                    f"{namespace} is tenant {other}'s namespace; a project needs its own.",
                )
        if tenant_name is None:
            return
        tenant_doc = plan.find("Tenant", tenant_name)
        tenant = Tenant.objects.filter(name=tenant_name).first()
        if tenant_doc is None and tenant is None:
            plan.error(
                doc,
                "spec.tenantRef.name",
                f"there is no Tenant {tenant_name}; add it to this file or create it first.",
            )
            return
        self._check_identity(doc, plan, tenant_name)
        current = Project.objects.select_related("tenant").filter(namespace=namespace).first()
        _check_gpu_limit(doc, plan, current, values)
        if values is not None:
            limit = tenant_doc.state.get("values", {}).get("gpu_limit", 0) if tenant_doc else tenant.gpu_limit
            if limit and values["gpu_limit"] > limit:
                plan.error(
                    doc,
                    "spec.gpuLimit",
                    f"tenant {tenant_name} allows at most {limit} GPUs; "
                    "use a smaller limit (or 0 for the tenant's).",
                )
                return
            doc.state["values"] = values
            doc.state["tenant"] = tenant_name

    @staticmethod
    def _check_identity(doc: Document, plan: Plan, tenant_name: str) -> None:
        """A project's tenant, name and namespace never change, and one namespace holds one project."""
        namespace, name = doc.namespace, doc.name
        existing = Project.objects.select_related("tenant").filter(namespace=namespace).first()
        if existing is not None and (existing.tenant.name, existing.name) != (tenant_name, name):
            plan.error(
                doc,
                "metadata.namespace",
                f"namespace {namespace} already belongs to project {existing.tenant.name}/{existing.name}; "
                "a project's tenant, name and namespace cannot be changed. Use another namespace.",
            )
        same_name = (
            Project.objects.filter(tenant__name=tenant_name, name=name).exclude(namespace=namespace).first()
        )
        if same_name is not None:
            plan.error(
                doc,
                "metadata.namespace",
                f"project {tenant_name}/{name} already exists with namespace {same_name.namespace}; "
                "a project's namespace cannot be changed.",
            )
        for other in plan.of_kind("Project"):
            if (
                other.index < doc.index
                and other.get("spec.tenantRef.name") == tenant_name
                and other.name == name
            ):
                plan.error(
                    doc,
                    "metadata.name",
                    f"document {other.index} already defines project {tenant_name}/{name}; keep one.",
                )

    def apply(self, doc: Document, plan: Plan) -> str:
        project = Project.objects.filter(namespace=doc.namespace).first()
        created = project is None
        if created:
            tenant = Tenant.objects.get(name=doc.state["tenant"])
            project = Project(tenant=tenant, name=doc.name, namespace=doc.namespace)
        status = _save(plan, project, doc.state["values"], created)
        return _save_mapping(plan, project, doc.state["role_mapping"], status, "roleMapping")

    def validate_delete(self, doc: Document, plan: Plan) -> None:
        project = (
            Project.objects.select_related("tenant").filter(namespace=doc.namespace, name=doc.name).first()
        )
        if project is not None:
            _refuse_blocked(doc, plan, project)

    def delete(self, doc: Document, plan: Plan) -> str:
        project = (
            Project.objects.select_related("tenant").filter(namespace=doc.namespace, name=doc.name).first()
        )
        if project is None:
            return "not found"
        deletion.delete(project, request=plan.request, user=plan.user, source=plan.audit_source)
        return "deleted"

    def export(self, namespace: str | None, show_secrets: bool) -> list[dict]:
        projects = Project.objects.select_related("tenant").order_by("tenant__name", "name")
        if namespace:
            projects = projects.filter(namespace=namespace)
        out = []
        for project in projects:
            spec: dict = {"tenantRef": {"name": project.tenant.name}, "displayName": project.display_name}
            if project.description:
                spec["description"] = project.description
            spec["gpuLimit"] = project.gpu_limit
            _export_mapping(spec, project, "roleMapping")
            out.append(
                {
                    "apiVersion": API_VERSION,
                    "kind": "Project",
                    "metadata": {"name": project.name, "namespace": project.namespace},
                    "spec": spec,
                }
            )
        return out


HANDLERS = (TenantHandler(), ProjectHandler())
