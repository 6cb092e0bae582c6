"""Edge host discovery: page through Palette's edge host search and reconcile the inventory.

Upserts by uid with bulk writes (a fixed number of queries per page), records what changed,
and marks hosts not seen as gone only after a complete, successful scan: a failed or partial
scan never removes or alters hosts it did not see.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from itertools import islice

from django.db import transaction
from django.utils import timezone

from core.tasks import start_once
from integrations.effective import run_with_palette
from palette.models import EdgeHost as PaletteHost
from tenancy.models import Project

from .eligibility import Policy, reasons
from .models import DiscoveryPolicy, DiscoveryRun, EdgeHost, HostChange

log = logging.getLogger(__name__)
PAGE = 50
GPU_MODEL_SEPARATOR = " | "  # model names contain spaces ("GA100 [A100 PCIe 40GB]")
PROGRESS_EVERY = 0.5  # seconds between progress writes
# What discovery stores from Palette; a change in any of these is a change of the host.
FACT_FIELDS = ("name", "state", "health", "health_message", "architecture", "cpu_cores", "memory_mib", "gpus",
               "gpu_total", "gpu_models", "tags", "clusters", "ip", "nics", "palette_project_uid")
STORED_FIELDS = FACT_FIELDS + ("eligible", "reasons", "fingerprint", "last_seen", "changed", "gone", "gone_since")



def facts(host: PaletteHost) -> dict:
    """The stored facts of one Palette edge host."""
    nics = (host.raw.get("spec") or {}).get("device", {}).get("nics") or []
    gpus = [{"vendor": g.vendor, "model": g.model, "count": g.count, "memoryMiB": g.memory_mib} for g in host.gpus]
    ip = host.host_address or next((n.get("ip") for n in nics if n.get("isDefault")), "") or next((n.get("ip") for n in nics if n.get("ip")), "")
    return {
        "name": host.name, "state": host.state, "health": host.health, "health_message": host.health_message,
        "architecture": host.architecture, "cpu_cores": host.cpu_cores, "memory_mib": host.memory_mb,
        "gpus": gpus, "gpu_total": host.gpu_count, "gpu_models": GPU_MODEL_SEPARATOR.join(sorted({g["model"] for g in gpus if g["model"]})),
        "tags": dict(host.labels), "clusters": sorted(c.name or c.uid for c in host.in_use_clusters),
        "ip": ip or "", "nics": [{k: n.get(k) for k in ("nicName", "ip", "macAddr", "isDefault")} for n in nics],
        "palette_project_uid": host.project.uid if host.project else "",
    }


def fingerprint(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


class _Row:
    """Facts as attributes, for the eligibility check."""

    def __init__(self, values: dict):
        self.__dict__.update(values)


def policy_for(project: Project) -> Policy:
    p = DiscoveryPolicy.for_project(project)
    return Policy(p.tag_key, p.tag_value)


def start_discovery(project: Project, *, trigger: str = "manual") -> DiscoveryRun:
    """Write a pending run (or return the active one) and enqueue it once the transaction commits."""
    from .tasks import discovery_task

    return start_once(DiscoveryRun, discovery_task, target={"project": project}, trigger=trigger)


def run_discovery(run: DiscoveryRun, **client_kwargs) -> DiscoveryRun:
    """Claim and perform one discovery run; the run row records progress, outcome and the first error."""
    def work(client, palette):
        reconcile(run, client.iter_edge_hosts(project_uid=str(palette.value("defaultProjectID"))))

    return run_with_palette(run, run.project, work, name=f"discovery {run.project}", what="Discovery", **client_kwargs)


def reconcile(run: DiscoveryRun, hosts) -> None:
    """Upsert `hosts` (an iterable of palette EdgeHost) page by page; mark the unseen gone at the end.

    Queries: one to load what is known, then per page at most four statements (a transaction
    holding insert or update and history) plus a progress update at most twice a second;
    unchanged hosts cause no write. If iterating `hosts` raises, nothing unseen is touched.
    """
    project = run.project
    policy = policy_for(project)
    # One query loads what is known for the whole scan: uid, fingerprint and gone only — decoding
    # every host's JSON facts would cost more than the scan; changed hosts are read per page.
    known = {uid: {"pk": pk, "fingerprint": fp, "gone": gone}
             for uid, pk, fp, gone in EdgeHost.objects.filter(project=project).values_list("uid", "pk", "fingerprint", "gone")}
    seen: set[str] = set()
    iterator = iter(hosts)
    pages = hosts_seen = added = updated = unchanged = 0
    progress_written = time.monotonic()
    while True:
        try:
            batch = list(islice(iterator, PAGE))
        except Exception:
            # A failed scan still tells how far it got: the pages before the failure are stored.
            DiscoveryRun.objects.filter(pk=run.pk).update(pages=pages, hosts_seen=len(seen), added=added, updated=updated,
                                                          unchanged=unchanged, progress={"pages": pages, "hosts_seen": len(seen)})
            raise
        if not batch:
            break
        now = timezone.now()
        creates, updates = [], []
        for palette_host in batch:
            if not palette_host.uid or palette_host.uid in seen:
                continue  # a host listed twice (pages shifting under us) counts once
            seen.add(palette_host.uid)
            values = facts(palette_host)
            # The fingerprint covers Palette's facts only; eligibility follows from them and the
            # policy (recompute_eligibility handles policy changes), so unchanged hosts skip it.
            fp = fingerprint(values)
            before = known.get(palette_host.uid)
            if before is not None and before["fingerprint"] == fp and not before["gone"]:
                unchanged += 1
                continue
            values["reasons"] = reasons(_Row(values), policy)
            values["eligible"] = not values["reasons"]
            if before is None:
                creates.append(EdgeHost(project=project, uid=palette_host.uid, fingerprint=fp, first_seen=now, last_seen=now, changed=now, **values))
                continue
            updates.append((before, values, fp))
        pages += 1
        hosts_seen = len(seen)
        if creates or updates:
            # One transaction per page: its hosts and their history land together or not at all.
            with transaction.atomic(savepoint=False):
                added += _write_page(run, creates, updates, now)
            updated += len(updates)
        if time.monotonic() - progress_written >= PROGRESS_EVERY:
            # Progress for the live bar, at most twice a second rather than once a page.
            DiscoveryRun.objects.filter(pk=run.pk).update(pages=pages, hosts_seen=hosts_seen, progress={"pages": pages, "hosts_seen": hosts_seen})
            progress_written = time.monotonic()
    # The scan completed: now, and only now, hosts not seen are gone.
    now = timezone.now()
    gone_ids = [row["pk"] for uid, row in known.items() if uid not in seen and not row["gone"]]
    if gone_ids:
        with transaction.atomic():
            EdgeHost.objects.filter(pk__in=gone_ids).update(gone=True, gone_since=now, changed=now)
            HostChange.objects.bulk_create([HostChange(host_id=pk, run=run, kind=HostChange.GONE, created=now) for pk in gone_ids])
    # Unchanged hosts get no write, not even last_seen: a host that is not gone was seen by the
    # project's last successful run (see inventory.last_seen).
    run.added, run.updated, run.removed, run.unchanged, run.pages, run.hosts_seen = added, updated, len(gone_ids), unchanged, pages, len(seen)
    DiscoveryRun.objects.filter(pk=run.pk).update(added=added, updated=updated, removed=len(gone_ids), unchanged=unchanged, pages=pages, hosts_seen=len(seen))


def _write_page(run: DiscoveryRun, creates: list[EdgeHost], updates: list[tuple[dict, dict, str]], now) -> int:
    """Insert new hosts, update changed ones (read first, for the history), record the history: at most four statements."""
    changes = []
    if creates:
        EdgeHost.objects.bulk_create(creates)
        changes += [HostChange(host=h, run=run, kind=HostChange.ADDED, created=now) for h in creates]
    if updates:
        old = {row["pk"]: row for row in EdgeHost.objects.filter(pk__in=[u[0]["pk"] for u in updates]).values("pk", "eligible", *FACT_FIELDS)}
        objs = []
        for known_row, values, fp in updates:
            before = {**old[known_row["pk"]], "gone": known_row["gone"]}
            diff = {f: [before[f], values[f]] for f in FACT_FIELDS + ("eligible",) if before[f] != values[f]}
            objs.append(EdgeHost(pk=before["pk"], fingerprint=fp, last_seen=now, changed=now, gone=False, gone_since=None, **values))
            kind = HostChange.RETURNED if before["gone"] else HostChange.UPDATED
            changes.append(HostChange(host_id=before["pk"], run=run, kind=kind, changes=diff, created=now))
        EdgeHost.objects.bulk_update(objs, list(STORED_FIELDS))
    if changes:
        HostChange.objects.bulk_create(changes)
    return len(creates)


def recompute_eligibility(project: Project) -> int:
    """Re-run the label check for every host of a project (after its policy changes).

    Returns how many hosts became eligible or stopped being eligible; reasons are refreshed for all.
    """
    policy = policy_for(project)
    hosts = list(EdgeHost.objects.filter(project=project))
    changed = []
    flipped = 0
    for host in hosts:
        new = reasons(host, policy)
        if new != host.reasons:
            flipped += host.eligible != (not new)
            host.reasons, host.eligible = new, not new
            changed.append(host)
    EdgeHost.objects.bulk_update(changed, ["reasons", "eligible"])
    return flipped
