"""Host liveness in the inventory: health transitions with their times on the host page, a flap count in the
grid, "unknown" for a host discovery has not seen for a while, and a filter for what changed in 24 hours."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compute.discovery import run_discovery
from compute.inventory import filter_hosts
from compute.liveness import health_history, liveness
from compute.models import DiscoveryRun, EdgeHost

pytestmark = pytest.mark.django_db

GRID = "/tenants/acme/projects/research/compute/"


def _discover(project) -> None:
    assert run_discovery(DiscoveryRun.objects.create(project=project)).status == "succeeded"


def _flap(sim, project, uid: str, times: int) -> None:
    for i in range(times):
        sim.state.hosts[uid].health = "unhealthy" if i % 2 == 0 else "healthy"
        _discover(project)


def test_health_changes_are_kept_counted_and_shown(world, sim, connected_project, settings):
    _discover(connected_project)
    host = EdgeHost.objects.filter(project=connected_project, health="healthy", gone=False).order_by("name")[
        0
    ]
    steady = EdgeHost.objects.filter(project=connected_project, health="healthy", gone=False).order_by(
        "name"
    )[1]
    _flap(sim, connected_project, host.uid, 3)  # unhealthy, healthy, unhealthy

    history = health_history(host.history.all()[:50])
    assert [(t["from"], t["to"]) for t in history] == [
        ("healthy", "unhealthy"),
        ("unhealthy", "healthy"),
        ("healthy", "unhealthy"),
    ]
    assert history[0]["when"] >= history[-1]["when"]
    alive = liveness([host, steady])
    assert alive[host.pk] == {"flaps": 3, "seen": host.last_seen, "unknown": False}
    assert alive[steady.pk]["flaps"] == 0

    client = world.client_for(world.editor)
    grid = client.get(GRID, {"q": host.uid}).content.decode()
    assert "↯3" in grid and "3 health changes in the last 24 h" in grid
    page = client.get(f"{GRID}hosts/{host.uuid}/").content.decode()
    section = page[page.index('id="health-history"') : page.index("History from discovery")]
    assert section.count("healthy → unhealthy") == 2 and section.count("unhealthy → healthy") == 1
    assert "Last seen" in page


def test_a_host_not_seen_for_a_while_reads_unknown_and_the_filter_finds_recent_changes(
    world, sim, connected_project, settings
):
    _discover(connected_project)
    hosts = EdgeHost.objects.filter(project=connected_project, gone=False).order_by("name")
    quiet, recent = hosts[0], hosts[1]
    settings.HOST_UNKNOWN_AFTER = 600
    EdgeHost.objects.filter(pk=quiet.pk).update(
        last_seen=timezone.now() - timedelta(minutes=20), changed=timezone.now() - timedelta(days=3)
    )
    # Not seen since: the last successful scan is as old (a host that is not gone was seen by it).
    DiscoveryRun.objects.filter(project=connected_project).update(
        finished=timezone.now() - timedelta(minutes=20)
    )
    EdgeHost.objects.filter(project=connected_project).exclude(pk=recent.pk).update(
        changed=timezone.now() - timedelta(days=3)
    )
    quiet.refresh_from_db()
    assert liveness([quiet])[quiet.pk]["unknown"] is True

    client = world.client_for(world.editor)
    grid = client.get(GRID, {"q": quiet.uid}).content.decode()
    assert ">unknown</span>" in grid and "not seen by discovery since" in grid
    page = client.get(f"{GRID}hosts/{quiet.uuid}/").content.decode()
    assert "unknown: not seen by discovery since" in page

    changed, applied = filter_hosts(connected_project, {"changed": "24h"})
    assert list(changed) == [recent] and applied["changed"] == "24h"
    assert client.get(GRID, {"changed": "24h"}).content.decode().count("hosts/") >= 1
