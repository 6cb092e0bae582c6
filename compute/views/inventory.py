"""The edge-host inventory of a project: the host grid with its filters and the discovery
status, a host's page, starting discovery, and the discovery policy."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core import audit
from core.htmx import poll_response, redirect_after_post, render_page, wants_fragment
from core.models import AuditEntry
from tenancy import access

from .. import discovery
from ..discovery import GPU_MODEL_SEPARATOR
from ..eligibility import display_tags, gpu_label, gpu_raw_label
from ..forms.inventory import DiscoveryPolicyForm
from ..inventory import capacity_groups, filter_hosts, host_count, memory_label
from ..liveness import health_history, last_successful_scan, liveness
from ..models import DiscoveryPolicy, DiscoveryRun, EdgeHost

PAGE_SIZE = 50
COLUMNS = [
    ("name", "Machine ID"),
    ("status", "Status"),
    ("health", "Health"),
    ("cluster", "Cluster"),
    ("cpu", "CPU"),
    ("memory", "Memory"),
    ("gpu", "GPU"),
    ("arch", "Arch"),
    ("ip", "IP"),
    ("eligible", "Eligible"),
]


def _columns(current: str) -> list[dict]:
    """Sortable headers: clicking the sorted column reverses it."""
    return [
        {
            "key": key,
            "label": label,
            "next": f"-{key}" if current == key else key,
            "arrow": "▲" if current == key else ("▼" if current == f"-{key}" else ""),
        }
        for key, label in COLUMNS
    ]


def inventory_url(project) -> str:
    return reverse("compute:inventory", args=[project.tenant.name, project.name])


def sync_status(project) -> dict:
    """'synced 12 s ago', or 'Palette unreachable since 10:41 — <first error>', and the active run."""
    runs = list(
        DiscoveryRun.objects.filter(project=project)
        .order_by("-created")
        .only(
            "uuid",
            "status",
            "created",
            "started",
            "finished",
            "first_error",
            "trigger",
            *DiscoveryRun.COUNTS,
            "project_id",
        )[:20]
    )
    active = next((r for r in runs if r.is_active), None)
    last_ok = next((r for r in runs if r.status == DiscoveryRun.SUCCEEDED), None)
    failing = []
    for r in runs:
        if r.is_active:
            continue
        if r.status != DiscoveryRun.FAILED:
            break
        failing.append(r)
    return {
        "active": active,
        "last_ok": last_ok,
        "failing_since": failing[-1] if failing else None,
        "latest_failure": failing[0] if failing else None,
        # Hosts the last good scan skipped or cleaned (its list is read only then).
        "problems": last_ok if last_ok is not None and last_ok.problem_count else None,
    }


#: Tags shown in a grid row; the others are counted ("+2") and listed in the cell's title.
TAGS_SHOWN = 2


def _rows(hosts) -> list[dict]:
    # The grid shows each reason's short label ("missing tag palette.ai=true"); its whole text is the tooltip.
    rows = []
    hosts = list(hosts)
    alive = liveness(hosts)
    for h in hosts:
        tags = display_tags(h.tags)
        rows.append(
            {
                "host": h,
                "tags": tags[:TAGS_SHOWN],
                "more_tags": tags[TAGS_SHOWN:],
                "all_tags": " ".join(tags),
                "gpu": gpu_label(h.gpus),
                "gpu_raw": gpu_raw_label(h.gpus),
                "memory": memory_label(h.memory_mib),
                "reasons": h.reason_list,
                **alive[h.pk],
            }
        )
    return rows


@login_required
@require_GET
def inventory(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project)
    hosts, applied = filter_hosts(project, request.GET)
    page = Paginator(hosts, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "project": project,
        "tenant": project.tenant,
        "role": role,
        "page": page,
        "rows": _rows(page.object_list),
        "applied": applied,
        "columns": _columns(applied["sort"]),
    }
    if not wants_fragment(request):
        # Filtering, sorting and paging fetch only the grid fragment, which shows none of these; at 10,000
        # hosts their aggregates were half the SQL time of every filter click (bench/load.py).
        policy = DiscoveryPolicy.for_project(project)
        context.update(
            status=sync_status(project),
            policy=policy,
            policy_form=DiscoveryPolicyForm(instance=policy),
            groups=capacity_groups(project),
            facets=(facets := _facets(project)),
            facet_menus=_facet_menus(facets, applied),
        )
    return render_page(request, "compute/inventory.html", context, fragment="grid")


def _facets(project) -> dict:
    """Values offered by the filter menus (a few small aggregate queries, independent of the page)."""
    # order_by() clears the model's default ordering, which DISTINCT would otherwise include.
    base = EdgeHost.objects.filter(project=project, gone=False).order_by()
    # One scan for every facet: the distinct combinations are few, whatever the number of hosts.
    combos = list(base.values_list("state", "health", "architecture", "gpu_models").distinct())
    return {
        "states": sorted({c[0] for c in combos}),
        "healths": sorted({c[1] for c in combos}),
        "archs": sorted({c[2] for c in combos}),
        "gpu_models": sorted({m for c in combos for m in c[3].split(GPU_MODEL_SEPARATOR) if m}),
    }


# The filter menus: (query name, label, the no-filter choice, the key in _facets).
FACET_MENUS = [
    ("status", "Status", "any status", "states"),
    ("health", "Health", "any health", "healths"),
    ("arch", "Architecture", "any arch", "archs"),
    ("gpu", "GPU model", "any GPU", "gpu_models"),
]


def _facet_menus(facets: dict, applied: dict) -> list[dict]:
    return [
        {"name": name, "label": label, "any": any_label, "options": facets[key], "current": applied.get(name)}
        for name, label, any_label, key in FACET_MENUS
    ]


@login_required
@require_POST
def discover(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.WRITE)
    with transaction.atomic():
        run = discovery.start_discovery(project, trigger="manual")
    if not request.htmx:
        messages.info(request, "Discovery started.")
        return redirect_after_post(request, inventory_url(project))
    return render_page(
        request,
        "compute/inventory.html",
        {
            "project": project,
            "tenant": project.tenant,
            "role": role,
            "status": {**sync_status(project), "active": run},
        },
        fragment="status",
    )


@login_required
@require_GET
def discovery_status(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project)
    status = sync_status(project)
    response = render_page(
        request,
        "compute/inventory.html",
        {"project": project, "tenant": project.tenant, "role": role, "status": status},
        fragment="status",
    )
    return poll_response(response, status["active"] is None)


@login_required
@require_GET
def host_detail(request, tenant, project, host):
    project, role = access.get_project_for_user(request.user, tenant, project)
    host = get_object_or_404(EdgeHost, uuid=host, project=project)
    history = list(host.history.select_related("run")[:50])
    return render_page(
        request,
        "compute/host_detail.html",
        {
            "project": project,
            "tenant": project.tenant,
            "role": role,
            "host": host,
            "tags": display_tags(host.tags),
            "memory": memory_label(host.memory_mib),
            "gpus": [
                {
                    **g,
                    "name": gpu_label([g]),
                    "raw": gpu_raw_label([g]),
                    "memory": memory_label(g.get("memoryMiB")),
                }
                for g in host.gpus
            ],
            "history": history,
            "health_history": health_history(history),
            "live": liveness([host])[host.pk],
            "last_scan": last_successful_scan(project),
        },
    )


@login_required
@require_POST
def policy_save(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.ADMIN)
    policy = DiscoveryPolicy.for_project(project)
    form = DiscoveryPolicyForm(request.POST, instance=policy)
    if form.is_valid():
        with transaction.atomic():
            form.save()
            audit.record(request, AuditEntry.UPDATE, policy, changes=audit.form_changes(form))
            changed = discovery.recompute_eligibility(project)
        messages.success(
            request, f"Discovery tag is now {policy.tag}; {host_count(changed)} changed eligibility."
        )
        return redirect_after_post(request, inventory_url(project))
    messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
    return redirect_after_post(request, inventory_url(project))
