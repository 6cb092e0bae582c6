"""Compute's families on ``/metrics`` (core.metrics): discovery and Compute Pool provisioning."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, OuterRef, Subquery
from prometheus_client.core import GaugeMetricFamily, Metric

from tenancy.models import Project

from .models import ComputePool, DiscoveryRun


def discovery_metrics() -> Iterable[Metric]:
    """Each project's last finished discovery: its duration, outcome and hosts seen (2 queries)."""
    latest = DiscoveryRun.objects.filter(project=OuterRef("pk"), finished__isnull=False).order_by("-finished")
    ids = Project.objects.annotate(run=Subquery(latest.values("pk")[:1])).values_list("run", flat=True)
    runs = DiscoveryRun.objects.filter(pk__in=[i for i in ids if i]).select_related("project__tenant")
    duration = GaugeMetricFamily(
        "paletteai_discovery_last_duration_seconds",
        "Duration of each project's last finished discovery run.",
        labels=["tenant", "project", "status"],
    )
    seen = GaugeMetricFamily(
        "paletteai_discovery_last_hosts_seen",
        "Edge hosts Palette listed in each project's last finished discovery run.",
        labels=["tenant", "project"],
    )
    for run in sorted(runs, key=lambda r: (r.project.tenant.name, r.project.name)):
        labels = [run.project.tenant.name, run.project.name]
        duration.add_metric(
            [*labels, run.status], (run.finished - (run.started or run.finished)).total_seconds()
        )
        seen.add_metric(labels, run.hosts_seen)
    yield duration
    yield seen


def pool_metrics() -> Iterable[Metric]:
    """Compute Pools by status, and how long each Ready pool took to provision (2 queries)."""
    by_status = GaugeMetricFamily("paletteai_compute_pools", "Compute Pools by status.", labels=["status"])
    for row in ComputePool.objects.values("status").annotate(n=Count("pk")).order_by("status"):
        by_status.add_metric([row["status"]], row["n"])
    yield by_status
    took = GaugeMetricFamily(
        "paletteai_pool_provisioning_seconds",
        "From the start of provisioning to Ready, for each Ready Compute Pool.",
        labels=["tenant", "project", "pool"],
    )
    ready = (
        ComputePool.objects.filter(status=ComputePool.READY, ready_at__isnull=False, started__isnull=False)
        .select_related("project__tenant")
        .order_by("project__tenant__name", "project__name", "name")
    )
    for pool in ready:
        labels = [pool.project.tenant.name, pool.project.name, pool.name]
        took.add_metric(labels, max(0.0, (pool.ready_at - pool.started).total_seconds()))
    yield took
