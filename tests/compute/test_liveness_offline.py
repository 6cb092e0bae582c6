"""Liveness counts what discovery saw: a host that did not change is not rewritten, yet it was seen by its
project's last successful scan, so it stays known; only when scans stop succeeding does it read Unknown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compute.discovery import run_discovery
from compute.liveness import liveness, offline_hosts
from compute.models import DiscoveryRun, EdgeHost

pytestmark = pytest.mark.django_db
GRID = "/tenants/acme/projects/research/compute/"


def test_an_unchanged_host_seen_by_the_last_scan_is_not_unknown(world, sim, connected_project, settings):
    settings.HOST_UNKNOWN_AFTER = 600
    assert run_discovery(DiscoveryRun.objects.create(project=connected_project)).status == "succeeded"
    long_ago = timezone.now() - timedelta(hours=3)
    EdgeHost.objects.filter(project=connected_project).update(last_seen=long_ago)  # unchanged since
    assert run_discovery(DiscoveryRun.objects.create(project=connected_project)).status == "succeeded"
    hosts = list(EdgeHost.objects.filter(project=connected_project, gone=False))
    assert hosts and all(h.last_seen == long_ago for h in hosts)  # no write for unchanged hosts
    assert not any(row["unknown"] for row in liveness(hosts).values())
    assert not offline_hosts(connected_project)
    assert ">unknown</span>" not in world.client_for(world.editor).get(GRID).content.decode()
    # "Last seen" is the last scan's time, not the host row's last write.
    scan = DiscoveryRun.objects.filter(project=connected_project).latest("finished").finished
    assert all(row["seen"] == scan for row in liveness(hosts).values())
    page = world.client_for(world.editor).get(f"{GRID}hosts/{hosts[0].uuid}/").content.decode()
    assert f"<dt>Last seen</dt><dd>{timezone.localtime(scan):%Y-%m-%d %H:%M:%S}</dd>" in page

    DiscoveryRun.objects.filter(project=connected_project).update(finished=long_ago)  # scans stopped
    assert all(row["unknown"] for row in liveness(hosts).values())
    assert set(offline_hosts(connected_project)) == {h.pk for h in hosts}
