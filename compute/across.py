"""Compute facts across many projects at once, for the home page's columns and the Compute overview.

Every function costs a fixed number of queries however many projects it is given.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.urls import reverse
from django.utils import timezone

from tenancy.home import FAILURE_WINDOW, item
from tenancy.models import Project, Tenant

from .eligibility import gpu_name
from .models import ComputePool, DiscoveryRun, EdgeHost

POOL_LABELS = dict(ComputePool.STATUS_CHOICES)
POOL_ORDER = list(POOL_LABELS)
#: At most this many failed pools are named per project; the rest are counted.
NAMED_FAILURES = 3


def host_counts(projects: list[Project]) -> dict[int, dict]:
    """{project id: {"total", "eligible", "gpus"}}: hosts not gone, the eligible ones, their GPUs."""
    counts = {p.pk: {"total": 0, "eligible": 0, "gpus": 0} for p in projects}
    # Annotation names differ from the fields: "eligible" would shadow the field in the filters.
    rows = (
        EdgeHost.objects.filter(project__in=projects, gone=False)
        .values("project_id")
        .annotate(
            n_total=Count("pk"),
            n_eligible=Count("pk", filter=Q(eligible=True)),
            n_gpus=Sum("gpu_total", filter=Q(eligible=True), default=0),
        )
    )
    for row in rows:
        counts[row["project_id"]] = {
            "total": row["n_total"],
            "eligible": row["n_eligible"],
            "gpus": row["n_gpus"],
        }
    return counts


def gpu_families(projects: list[Project]) -> dict[int, list[tuple[str, int]]]:
    """{project id: [(GPU family, count)]} of the eligible hosts, most GPUs first ("A100 40GB", 8)."""
    families: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = EdgeHost.objects.filter(project__in=projects, gone=False, eligible=True, gpu_total__gt=0)
    for project_id, gpus in rows.values_list("project_id", "gpus").iterator():
        for g in gpus:
            name = gpu_name(g.get("model") or "") or g.get("vendor") or "GPU"
            families[project_id][name] += int(g.get("count") or 1)
    return {p.pk: sorted(families.get(p.pk, {}).items(), key=lambda kv: (-kv[1], kv[0])) for p in projects}


def pools_by_state(projects: list[Project]) -> dict[int, list[tuple[str, str, int]]]:
    """{project id: [(status, label, count)]} of the pools not deleted, in lifecycle order."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    rows = (
        ComputePool.objects.filter(project__in=projects)
        .exclude(status=ComputePool.DELETED)
        .values_list("project_id", "status")
        .annotate(n=Count("pk"))
    )
    for project_id, status, n in rows:
        counts[project_id][status] = n
    return {
        p.pk: [(s, POOL_LABELS[s], counts[p.pk][s]) for s in POOL_ORDER if s in counts[p.pk]]
        for p in projects
    }


def last_discovery(projects: list[Project]) -> dict[int, DiscoveryRun | None]:
    """{project id: its newest discovery run, or None}: one index probe per project, then one read."""
    newest = Subquery(
        DiscoveryRun.objects.filter(project=OuterRef("pk")).order_by("-created").values("pk")[:1]
    )
    ids = dict(
        Project.objects.filter(pk__in=[p.pk for p in projects]).annotate(run=newest).values_list("pk", "run")
    )
    runs = DiscoveryRun.objects.filter(pk__in=[r for r in ids.values() if r]).only(
        "uuid", "project_id", "status", "created", "finished", "first_error"
    )
    by_id = {r.pk: r for r in runs}
    return {p.pk: by_id.get(ids.get(p.pk)) for p in projects}


def pool_tone(status: str) -> str:
    if status == ComputePool.READY:
        return "ok"
    if status in ComputePool.STOPPED:
        return "fail"
    return "muted"


def _url(name: str, project: Project) -> str:
    return reverse(f"compute:{name}", args=[project.tenant.name, project.name])


def hosts_column(tenants: list[Tenant], projects: list[Project]) -> dict:
    """Home column "Eligible hosts": "3 of 5 hosts eligible · 8 GPUs" per project, summed per tenant."""
    counts = host_counts(projects)
    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    cells = {}
    for p in projects:
        c = counts[p.pk]
        for k, v in c.items():
            sums[p.tenant_id][k] += v
        cells[("p", p.pk)] = [item(_hosts_text(c), _url("inventory", p), "" if c["eligible"] else "muted")]
    for t in tenants:
        if t.pk in sums:
            url = reverse("tenancy:tenant_detail", args=[t.name])
            cells[("t", t.pk)] = [item(_hosts_text(sums[t.pk]), url)]
    return cells


def _hosts_text(c: dict) -> str:
    if not c["total"]:
        return "no hosts discovered"
    gpus = f" · {c['gpus']} GPU{'s' if c['gpus'] != 1 else ''}" if c["gpus"] else ""
    return f"{c['eligible']} of {c['total']} hosts eligible{gpus}"


def pools_column(tenants: list[Tenant], projects: list[Project]) -> dict:
    """Home column "Compute Pools": "2 Ready", "1 Provisioning"… per project, linking to its pools."""
    cells = {}
    by_project = pools_by_state(projects)
    for p in projects:
        url = _url("pools", p)
        states = by_project[p.pk]
        cells[("p", p.pk)] = [item(f"{n} {label}", url, pool_tone(s)) for s, label, n in states] or [
            item("no pools", url, "muted")
        ]
    return cells


def failures_column(tenants: list[Tenant], projects: list[Project]) -> dict:
    """Home column "Recent failures": failed discovery runs and stopped Compute Pools of the last 7 days."""
    since = timezone.now() - FAILURE_WINDOW
    runs = dict(
        DiscoveryRun.objects.filter(project__in=projects, status=DiscoveryRun.FAILED, created__gte=since)
        .values("project_id")
        .annotate(n=Count("pk"))
        .values_list("project_id", "n")
    )
    pools: dict[int, list[ComputePool]] = defaultdict(list)
    for pool in (
        ComputePool.objects.filter(project__in=projects, status__in=ComputePool.STOPPED, updated__gte=since)
        .order_by("-updated")
        .only("uuid", "name", "status", "project_id")
    ):
        pools[pool.project_id].append(pool)
    cells: dict = {}
    for p in projects:
        items = []
        if runs.get(p.pk):
            n = runs[p.pk]
            text = f"{n} failed discovery run{'s' if n != 1 else ''}"
            items.append(item(text, _url("inventory", p), "fail"))
        for pool in pools[p.pk][:NAMED_FAILURES]:
            url = reverse("compute:pool_detail", args=[p.tenant.name, p.name, pool.uuid])
            items.append(item(f"pool {pool.name}: {POOL_LABELS[pool.status]}", url, "fail"))
        if len(pools[p.pk]) > NAMED_FAILURES:
            more = len(pools[p.pk]) - NAMED_FAILURES
            items.append(item(f"and {more} more pools", _url("pools", p), "fail"))
        if items:
            cells[("p", p.pk)] = items
    return cells
