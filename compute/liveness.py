"""Host liveness: when discovery last saw a host, whether the inventory shows it Unknown, its health (and
liveness) transitions, and which hosts are offline now (compute.notify tells host.offline and host.recovered).

Imports only the models, so discovery's end (compute.notify) and the inventory's pages (compute.inventory)
both use it. README "Notifications" says what offline means.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from tenancy.models import Project

from .models import DiscoveryRun, EdgeHost, HostChange

#: "Changed in the last 24 h" (the grid's filter) and the window a host's health changes are counted in.
CHANGED_WINDOW = timedelta(hours=24)


def last_successful_scan(project: Project):
    return (
        DiscoveryRun.objects.filter(project=project, status=DiscoveryRun.SUCCEEDED)
        .order_by("-finished")
        .values_list("finished", flat=True)
        .first()
    )


def last_seen(host: EdgeHost, last_scan) -> object:
    """A host that is not gone was seen by the last successful scan (unchanged hosts are never rewritten)."""
    if host.gone or last_scan is None:
        return host.last_seen
    return max(host.last_seen, last_scan)


def liveness(hosts: list[EdgeHost], now=None) -> dict[int, dict]:
    """Per host (by pk): `flaps`, its health changes in the last 24 hours, `seen`, when discovery last saw it,
    and `unknown`, whether discovery
    has not seen it for HOST_UNKNOWN_AFTER seconds (Palette unreachable, scans failing: its health is then
    unknown, whatever it was). A host that is not gone was seen by its project's last successful scan (see
    last_seen). One query for the whole page, and one per project with a host not written for a while."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.HOST_UNKNOWN_AFTER)
    # The page's hosts only (index host, -created), counted here: no aggregate on the grid's fragment.
    flaps = collections.Counter(
        HostChange.objects.filter(
            host__in=[h.pk for h in hosts], created__gte=now - CHANGED_WINDOW, changes__has_key="health"
        )
        .order_by()
        .values_list("host_id", flat=True)
    )
    # A host written recently was seen recently: the last scan is read only for a project with a quiet one.
    quiet_hosts = {h.pk for h in hosts if not h.gone and h.last_seen is not None and h.last_seen < stale}
    scans = {pid: last_successful_scan(pid) for pid in {h.project_id for h in hosts if h.pk in quiet_hosts}}
    return {
        h.pk: {
            "flaps": flaps.get(h.pk, 0),
            "seen": last_seen(h, scans[h.project_id]) if h.pk in quiet_hosts else h.last_seen,
            "unknown": h.pk in quiet_hosts and last_seen(h, scans[h.project_id]) < stale,
        }
        for h in hosts
    }


#: HostChange kinds of liveness transitions (compute.notify): not seen or health unknown for
#: HOST_UNKNOWN_AFTER s, and seen again. They show in the host's history; `changes` is {"liveness": [a, b]}.
OFFLINE, ONLINE = "offline", "online"


@dataclass(frozen=True)
class Offline:
    """A host offline now: since when (last seen, or its health unknown since) and why, in words."""

    host: EdgeHost
    since: datetime
    why: str


def offline_hosts(project: Project, now=None) -> dict[int, Offline]:
    """The project's hosts (not gone) offline at `now`, by pk: not seen by discovery for HOST_UNKNOWN_AFTER
    seconds (the inventory shows them Unknown), or whose Palette health has been unknown (not reported) that
    long. While scans succeed no host is unseen: one query then finds nothing but the health-unknown ones."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.HOST_UNKNOWN_AFTER)
    hosts = EdgeHost.objects.filter(project=project, gone=False).only(
        "pk", "uid", "name", "health", "first_seen", "last_seen", "project_id", "gone"
    )
    last_scan = last_successful_scan(project)
    found: dict[int, Offline] = {}
    if last_scan is None or last_scan < stale:
        for host in hosts.filter(last_seen__lt=stale).iterator():
            found[host.pk] = Offline(host, last_seen(host, last_scan), "not seen by discovery")
    health_since = (
        HostChange.objects.filter(host=OuterRef("pk"), changes__has_key="health")
        .order_by("-created", "-pk")
        .values("created")[:1]
    )
    unknown = (
        hosts.filter(Q(health="") | Q(health__iexact="unknown"))
        .exclude(pk__in=list(found))
        .annotate(health_since=Subquery(health_since))
    )
    for host in unknown.iterator():
        since = host.health_since or host.first_seen
        if since < stale:
            found[host.pk] = Offline(host, since, "Palette reports no health for it")
    return found


def marked_offline(project: Project) -> set[int]:
    """The pks of the project's hosts whose latest liveness transition is OFFLINE (told, not yet back)."""
    latest: dict[int, str] = {}
    rows = (
        HostChange.objects.filter(host__project=project, kind__in=(OFFLINE, ONLINE))
        .order_by("created", "pk")
        .values_list("host_id", "kind")
    )
    for host_id, kind in rows.iterator():
        latest[host_id] = kind
    return {pk for pk, kind in latest.items() if kind == OFFLINE}


def health_history(changes) -> list[dict]:
    """The health (and liveness) transitions among a host's discovery `changes` (its page's history rows,
    newest first): when, from, to. No query of its own: the host page already reads the history, through its
    index."""
    rows = []
    for c in changes:
        for key in ("health", "liveness"):  # liveness: online → offline and back (OFFLINE, ONLINE)
            pair = (c.changes or {}).get(key)
            if isinstance(pair, list) and len(pair) == 2:
                rows.append({"when": c.created, "from": pair[0], "to": pair[1]})
    return rows
