"""The stored inventory: the JSON form shared by `discover --json` and `inventory --json`, and the grid's
query."""

from __future__ import annotations

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from tenancy.models import Project

from .discovery import GPU_MODEL_SEPARATOR
from .eligibility import GONE, TagInputError, gpu_name, parse_tags, shown_tags
from .liveness import CHANGED_WINDOW, last_seen, last_successful_scan
from .models import EdgeHost

SORTS = {
    "name": ("name", "uid"),
    "status": ("state", "name"),
    "health": ("health", "name"),
    "cpu": ("cpu_cores", "name"),
    "memory": ("memory_mib", "name"),
    "gpu": ("gpu_total", "name"),
    "arch": ("architecture", "name"),
    "ip": ("ip", "name"),
    "eligible": ("eligible", "name"),
    "cluster": ("clusters", "name"),
}


def host_json(host: EdgeHost, last_scan=None) -> dict:
    return {
        "uid": host.uid,
        "name": host.name,
        "state": "gone" if host.gone else host.state,
        "health": host.health,
        "architecture": host.architecture,
        "cpuCores": host.cpu_cores,
        "memoryMiB": host.memory_mib,
        "gpus": host.gpus,
        "gpuTotal": host.gpu_total,
        "tags": shown_tags(host.tags),
        "clusters": host.clusters,
        "eligible": host.eligible and not host.gone,
        "reasons": [r.text for r in ([GONE] if host.gone else []) + host.reason_list],
        "lastSeen": last_seen(host, last_scan).isoformat(),
    }


def inventory_json(project: Project, include_gone: bool = False) -> list[dict]:
    last_scan = last_successful_scan(project)
    hosts = EdgeHost.objects.filter(project=project)
    if not include_gone:
        hosts = hosts.filter(gone=False)
    return [host_json(h, last_scan) for h in hosts.order_by("name", "uid").iterator()]


def filter_hosts(project: Project, params) -> tuple[QuerySet[EdgeHost], dict]:
    """The grid's hosts for query parameters (tag: `key=value`, `key:value` or a bare key; status, health,
    arch, gpu, eligible, gone, changed=24h (a fact changed in the last 24 hours), q, sort)."""
    qs = EdgeHost.objects.filter(project=project)
    applied: dict = {}
    if params.get("gone") == "1":
        qs = qs.filter(gone=True)
        applied["gone"] = "1"
    else:
        qs = qs.filter(gone=False)
    try:
        wanted = _tag_filters(params)
    except TagInputError as exc:
        # A filter that cannot be read matches nothing (a tag edit on "all hosts matching" must never widen).
        qs, wanted = qs.none(), {}
        applied["tag_error"] = str(exc)
    for index, (key, value) in enumerate(wanted.items()):
        # The key is data, never part of a lookup path: `tags__<key>` would let "a__regex:(" or
        # "a__contains:x" choose the SQL lookup (errors, 500s). KeyTransform takes the key literally, dots and
        # "__" included.
        if value is not None:
            qs = qs.alias(**{f"_tag{index}": KeyTransform(key, "tags")}).filter(**{f"_tag{index}": value})
        else:
            qs = qs.filter(tags__has_key=key)
    tags = [t.strip() for t in _tag_params(params) if t.strip()]
    if tags:
        applied["tag"] = tags
    for param, field in (("status", "state"), ("health", "health"), ("arch", "architecture")):
        if params.get(param):
            qs = qs.filter(**{field: params[param]})
            applied[param] = params[param]
    if params.get("gpu"):
        qs = qs.filter(gpu_models__icontains=params["gpu"])
        applied["gpu"] = params["gpu"]
    if params.get("eligible") in ("yes", "no"):
        qs = qs.filter(eligible=params["eligible"] == "yes")
        applied["eligible"] = params["eligible"]
    if params.get("changed") == "24h":
        qs = qs.filter(changed__gte=timezone.now() - CHANGED_WINDOW)
        applied["changed"] = "24h"
    if params.get("q"):
        qs = qs.filter(
            Q(name__icontains=params["q"]) | Q(uid__icontains=params["q"]) | Q(ip__icontains=params["q"])
        )
        applied["q"] = params["q"]
    sort = params.get("sort") or "name"
    descending = sort.startswith("-")
    fields = SORTS.get(sort.lstrip("-"), SORTS["name"])
    # Unknown values (NULL: hardware not reported) sort last either way, on every database.
    qs = qs.order_by(
        *[F(f).desc(nulls_last=True) if descending else F(f).asc(nulls_last=True) for f in fields]
    )
    applied["sort"] = sort if sort.lstrip("-") in SORTS else "name"
    return qs, applied


def _tag_params(params) -> list[str]:
    return (
        params.getlist("tag")
        if hasattr(params, "getlist")
        else ([params["tag"]] if params.get("tag") else [])
    )


def _tag_filters(params) -> dict[str, str | None]:
    """The tag filter boxes' `key=value`, `key:value` and bare keys (any characters: keys are looked up as
    data); raises TagInputError."""
    wanted: dict[str, str | None] = {}
    for text in _tag_params(params):
        wanted.update(parse_tags(text, palette_chars=False))
    return wanted


def memory_label(mib: int | None) -> str:
    """Memory as the inventory shows it, in GiB: '768 GiB', '1.5 GiB'; '?' when not reported."""
    if not mib:
        return "?"
    gib = round(mib / 1024, 1)
    return f"{gib:.0f} GiB" if gib == int(gib) else f"{gib:.1f} GiB"


def host_count(count: int) -> str:
    """'1 host', '2 hosts'."""
    return f"{count} host{'' if count == 1 else 's'}"


def capacity_groups(project: Project) -> dict[str, list[dict]]:
    """Eligible hosts grouped by hardware profile (architecture, CPU, memory, GPU model × count), as
    control-plane candidates and GPU worker candidates — counted in the database, not in Python."""
    rows = (
        EdgeHost.objects.filter(project=project, gone=False, eligible=True)
        .values("architecture", "cpu_cores", "memory_mib", "gpu_models", "gpu_total")
        .annotate(hosts=Count("pk"), gpus=Sum("gpu_total"))
        .order_by("-hosts")
    )
    groups: dict[str, list[dict]] = {"control_plane": [], "gpu_workers": []}
    for row in rows:
        models = " | ".join(gpu_name(m) for m in (row["gpu_models"] or "").split(GPU_MODEL_SEPARATOR) if m)
        gpu = f"{models or 'GPU'} ×{row['gpu_total']}" if row["gpu_total"] else "no GPU"
        profile = (
            f"{row['architecture'] or '?'} · {row['cpu_cores'] or '?'} CPU · "
            f"{memory_label(row['memory_mib'])} · {gpu}"
        )
        entry = {"profile": profile, "count": row["hosts"], "gpus": row["gpus"] or 0}
        groups["control_plane"].append(entry)
        if row["gpu_total"]:
            groups["gpu_workers"].append(entry)
    return groups
