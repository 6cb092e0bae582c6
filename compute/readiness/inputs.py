"""The evaluator's inputs, read from the database in a fixed number of queries, and the deterministic cluster
name."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from integrations.diagnosis import stage_facts
from integrations.effective import resolve
from integrations.models import PaletteCheck

from ..bundles import ProfileInfo, bundle_facts
from ..discovery import policy_for
from ..eligibility import stored_reasons
from ..liveness import last_successful_scan
from ..models import ClusterProfile, ComputePool, EdgeHost, HostChange, ProfileBundle
from ..spec import PoolSpec, spec_of
from .evaluator import HostFacts, Inputs, Integration, Report, evaluate


def gather(
    project,
    spec: PoolSpec,
    *,
    pool=None,
    bundle: tuple[ProfileInfo, ...] | None | bool = False,
    bundle_type: str = "",
    now: datetime | None = None,
) -> Inputs:
    """Collect the evaluator's inputs for `spec` in `project` (an existing `pool` keeps its hosts and name).

    `bundle` overrides the stored bundle (a ProfileBundle document of the same manifest file);
    by default the bundle named by the spec is read. Hosts count as reserved once another pool has
    saved them, in any of our projects: whoever saves the hosts it chose holds `allocating` from this call to
    that save.
    """
    now = now or timezone.now()
    if bundle is False:
        stored = ProfileBundle.objects.filter(project=project, name=spec.bundle).first()
        bundle = tuple(bundle_facts(stored)) if stored else None
        bundle_type = stored.bundle_type if stored else ""
    others = _other_pools(pool)
    hosts = _host_facts(project, _reserved(project, others))
    project_gpus, tenant_gpus = _gpus_in_use(project, others, hosts)
    integration = _integration(project)
    return Inputs(
        spec=spec,
        cluster_name=pool.cluster_name
        if pool is not None and pool.cluster_name
        else cluster_name_for(project, spec.name),
        hosts=hosts,
        bundle=bundle,
        bundle_type=bundle_type,
        integration=integration,
        policy=policy_for(project),
        vips_in_use={o.vip: f"{o.project.namespace}/{o.name}" for o in others if o.vip},
        gpu_limit=project.gpu_limit,
        gpus_in_use=project_gpus,
        tenant_gpu_limit=project.tenant.gpu_limit,
        tenant_gpus_in_use=tenant_gpus,
        last_discovery=last_successful_scan(project),
        profiles_synced=ClusterProfile.objects.filter(project=project).exists(),
        pinned=dict(pool.hosts) if pool is not None else {},
        own_clusters=(pool.cluster_name,) if pool is not None and pool.cluster_name else (),
        excluded=tuple(pool.excluded_hosts) if pool is not None else (),
        now=now,
    )


def _other_pools(pool) -> list[ComputePool]:
    """Every pool not deleted, in any project, but `pool`: only the fields the inputs read."""
    others = ComputePool.objects.exclude(status=ComputePool.DELETED)
    if pool is not None:
        others = others.exclude(pk=pool.pk)
    return list(
        others.select_related("project").only(
            "name",
            "vip",
            "hosts",
            "status",
            "project__namespace",
            "project__tenant_id",
            "project_id",
            "cluster_uid",
        )
    )


def _reserved(project, others: list[ComputePool]) -> dict[str, str]:
    """Host uid → the pool that holds it (its name, with its namespace when of another project)."""
    reserved: dict[str, str] = {}
    for other in others:
        # A failed pool without a cluster holds nothing; one with a cluster still occupies its hosts. Host
        # uids are Palette's: a pool of another of our projects on the same Palette project holds them too
        # (named with its namespace), and the allocation lock is per Palette project (readiness.allocation).
        if other.status != ComputePool.FAILED or other.cluster_uid:
            label = (
                other.name if other.project_id == project.pk else f"{other.project.namespace}/{other.name}"
            )
            for uids in other.hosts.values():
                for uid in uids:
                    reserved[uid] = label
    return reserved


def _host_facts(project, reserved: dict[str, str]) -> tuple[HostFacts, ...]:
    """The project's hosts not gone, as the evaluator sees them."""
    rows = list(
        EdgeHost.objects.filter(project=project, gone=False).values(
            "pk",
            "uid",
            "name",
            "state",
            "health",
            "health_message",
            "architecture",
            "cpu_cores",
            "memory_mib",
            "gpus",
            "tags",
            "clusters",
            "ip",
            "eligible",
            "reasons",
        )
    )
    since = _unhealthy_since([r["pk"] for r in rows if r["health"] == "unhealthy"])
    return tuple(
        HostFacts(
            uid=r["uid"],
            name=r["name"],
            state=r["state"],
            health=r["health"],
            health_message=r["health_message"],
            architecture=r["architecture"],
            cpu_cores=r["cpu_cores"] or 0,
            memory_mib=r["memory_mib"] or 0,
            gpus=tuple(r["gpus"] or ()),
            tags=dict(r["tags"] or {}),
            clusters=tuple(r["clusters"] or ()),
            ip=r["ip"],
            eligible=r["eligible"],
            reasons=tuple(stored_reasons(r["reasons"])),
            unhealthy_since=since.get(r["pk"]),
            reserved_by=reserved.get(r["uid"], ""),
        )
        for r in rows
    )


def _unhealthy_since(unhealthy: list[int]) -> dict[int, datetime]:
    """Host pk → when it turned unhealthy (or was added or returned so), from the host history; one query."""
    since: dict[int, datetime] = {}
    if not unhealthy:
        return since
    for change in (
        HostChange.objects.filter(host_id__in=unhealthy)
        .order_by("host_id", "-created")
        .values("host_id", "kind", "changes", "created")
    ):
        if change["host_id"] in since:
            continue
        health = (change["changes"] or {}).get("health")
        if change["kind"] in (HostChange.ADDED, HostChange.RETURNED) or (health and health[1] == "unhealthy"):
            since[change["host_id"]] = change["created"]
    return since


def _gpus_in_use(project, others: list[ComputePool], hosts: tuple[HostFacts, ...]) -> tuple[int, int]:
    """GPUs held by the project's pools being built or Ready, and by the tenant's."""
    gpu_by_uid = {h.uid: h.gpu_total for h in hosts}
    project_gpus = sum(
        gpu_by_uid.get(uid, 0)
        for o in others
        if o.project_id == project.pk and o.status in ComputePool.IN_PROGRESS + (ComputePool.READY,)
        for uids in o.hosts.values()
        for uid in uids
    )
    tenant_pools = [
        o
        for o in others
        if o.project.tenant_id == project.tenant_id
        and o.status in ComputePool.IN_PROGRESS + (ComputePool.READY,)
    ]
    tenant_hosts = {uid for o in tenant_pools for uids in o.hosts.values() for uid in uids}
    tenant_gpus = (
        sum(
            gpu
            for uid, gpu in EdgeHost.objects.filter(
                project__tenant_id=project.tenant_id, uid__in=tenant_hosts, gone=False
            ).values_list("uid", "gpu_total")
        )
        if tenant_hosts
        else 0
    )
    return project_gpus, tenant_gpus


def _integration(project) -> Integration:
    """The project's Palette settings as they resolve now, and the outcome of its newest finished check."""
    palette = resolve(project).palette
    # The stored check, not a Palette call: the report is also made in web requests. Its license stage is
    # judged at the report's `now` (a trial may have ended since).
    check = (
        PaletteCheck.objects.filter(
            Q(project=project) | Q(tenant_id=project.tenant_id, project__isnull=True),
            status__in=PaletteCheck.TERMINAL,
        )
        .order_by("-created")
        .only("outcome", "stages", "finished")
        .first()
    )
    return Integration(
        configured=palette is not None,
        complete=bool(palette and palette.complete),
        problems=tuple(palette.problems) if palette else (),
        last_check=check.outcome if check else "",
        host=str(palette.value("hostUrl")) if palette and palette.fields.get("hostUrl") else "",
        activation=stage_facts(check, "activation"),
        checked_at=check.finished if check else None,
    )


def cluster_name_for(project, name: str) -> str:
    """The Palette cluster name of the next pool called `name` in `project`: `<namespace>-<name>`, with
    `-2`, `-3`... once earlier pools of that name exist (their clusters may still be deleting).

    Deterministic, so a plan shows the exact request and a create whose answer was lost can be
    found again by name.
    """
    base = f"{project.namespace}-{name}"
    if len(base) > 55:
        base = base[:46].rstrip("-") + "-" + hashlib.sha256(base.encode()).hexdigest()[:8]
    earlier = ComputePool.objects.filter(project=project, name=name).count()
    return base if earlier == 0 else f"{base}-{earlier + 1}"


def report_for_pool(pool, **kwargs: Any) -> Report:
    """The readiness report of a stored pool."""
    return evaluate(gather(pool.project, spec_of(pool), pool=pool, **kwargs))
