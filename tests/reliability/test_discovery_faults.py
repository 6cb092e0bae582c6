"""Discovery under Palette faults: rate limits, server errors, connection resets, latency, Palette stopping
mid-scan."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from compute.discovery import run_discovery
from compute.models import DiscoveryRun, EdgeHost, HostChange
from tenancy.models import Project
from tests.reliability.conftest import Hold, configure, restart

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]

FAULTS = "429:0.2,500:0.05,reset:0.02,latency:200ms"
SEARCH = ("POST", "/v1/dashboard/edgehosts/search")


def _discover(project) -> DiscoveryRun:
    # The production client settings: default retry policy (5 attempts, backoff with jitter), rate limiter on.
    return run_discovery(DiscoveryRun.objects.create(project=project, trigger="test"))


def _inventory(project) -> dict[str, tuple]:
    """What the grid shows of each host: its facts (fingerprint), eligibility, reasons, whether it is gone."""
    rows = EdgeHost.objects.filter(project=project).values_list(
        "uid", "fingerprint", "eligible", "reasons", "gone"
    )
    return {uid: (fp, eligible, tuple(reasons), gone) for uid, fp, eligible, reasons, gone in rows}


def test_it_ends_with_the_fault_free_inventory_under_faults(world, palette, report):
    sim = palette(hosts=300, seed=11, projects=1, validate=True)
    configure(world.tenant_a, sim)
    # Two projects of tenant A inherit the same Settings: project_a is discovered under faults, the
    # reference project without, from the same Palette project.
    reference_project = Project.objects.create(
        tenant=world.tenant_a, name="reference", display_name="Reference", namespace="acme-reference"
    )
    reference = _discover(reference_project)
    assert reference.status == "succeeded", reference.first_error
    expected = _inventory(reference_project)
    assert set(expected) == set(sim.state.hosts) and len(expected) == 300

    sim.set_faults(FAULTS)
    started = time.monotonic()
    runs, hits = [], Counter()
    # Repeat (at most 8 scans) until each kind of fault has hit at least once; every scan must end exact.
    while len(runs) < 8 and not (hits[429] and hits[500] and hits[0]):
        run = _discover(world.project_a)
        runs.append(run)
        hits = Counter(r.status for r in sim.seen("/v1/dashboard") if r.time >= started)
        assert run.status == "succeeded", f"scan {len(runs)} failed under faults: {run.first_error}"
        got = _inventory(world.project_a)
        assert got == expected, (
            f"scan {len(runs)}: lost {sorted(set(expected) - set(got))[:5]}, "
            f"extra {sorted(set(got) - set(expected))[:5]}, "
            f"differing {[u for u in expected if u in got and got[u] != expected[u]][:5]}"
        )
    sim.set_faults(None)
    assert hits[429] and hits[500] and hits[0], f"not every fault hit in {len(runs)} scans: {dict(hits)}"
    rows = EdgeHost.objects.filter(project=world.project_a)
    assert rows.count() == rows.values("uid").distinct().count() == 300, "a host was stored twice"
    assert HostChange.objects.filter(host__project=world.project_a, kind=HostChange.ADDED).count() == 300
    assert all(r.unchanged == 300 and r.added == r.updated == r.removed == 0 for r in runs[1:]), (
        "a re-scan under faults changed something"
    )
    assert sim.violations == []
    served = sum(hits.values())
    report(
        f"injected {FAULTS} on {served} search requests over {len(runs)} scans "
        f"({hits[429]}x 429, {hits[500]}x 500, {hits[0]}x reset; {time.monotonic() - started:.1f} s); "
        f"checked every scan = fault-free inventory of 300 hosts: 0 lost, 0 duplicated, 0 altered"
    )


def test_it_touches_nothing_unseen_when_palette_stops_mid_scan_and_heals_next_time(world, palette, report):
    sim = palette(hosts=220, seed=5, projects=1)
    configure(world.tenant_a, sim)
    project = world.project_a
    assert _discover(project).status == "succeeded"
    before = _inventory(project)
    # Palette's world changes: hosts leave, others get a new tag, spread over every page.
    uids = sorted(before)
    removed = uids[7::45]
    retagged = [u for u in uids[3::13] if u not in removed]
    for uid in removed:
        sim.state.remove_host(uid)
    for uid in retagged:
        sim.state.update_host(uid, add_labels={"rack": "moved"})

    # Palette stops while answering the third page: two pages were seen, the rest never arrives.
    hold = Hold(sim, *SEARCH, skip=2)
    port = sim.port

    def stop_palette():
        if hold.entered.wait(60):
            sim.stop()
            hold.release.set()

    stopper = threading.Thread(target=stop_palette, daemon=True)
    stopper.start()
    started = time.monotonic()
    failed = _discover(project)
    stopper.join(10)
    hold.remove()
    took = time.monotonic() - started
    assert hold.entered.is_set(), "the scan never reached its third page"
    assert failed.status == "failed" and failed.first_error.startswith("Palette unreachable"), (
        failed.first_error
    )
    after = _inventory(project)
    assert set(after) == set(before), "hosts were added or deleted by a failed scan"
    assert not any(gone for *_, gone in after.values()), "a failed scan marked hosts gone"
    changed = {uid for uid in before if after[uid] != before[uid]}
    assert changed <= set(retagged), (
        f"hosts Palette did not change were altered: {sorted(changed - set(retagged))[:5]}"
    )
    for uid in changed:  # what did change is what the seen pages said
        assert EdgeHost.objects.get(project=project, uid=uid).tags.get("rack") == "moved"
    unseen = set(retagged) - changed
    assert unseen, "every changed host was on the two pages seen: the test proves nothing about unseen ones"
    failed.refresh_from_db()
    assert (failed.pages, failed.hosts_seen, failed.updated, failed.removed) == (2, 100, len(changed), 0), (
        "the failed run does not say how far it got"
    )

    restart(sim, port)
    healed = _discover(project)
    assert healed.status == "succeeded", healed.first_error
    now = _inventory(project)
    gone = {uid for uid, row in now.items() if row[3]}
    assert gone == set(removed), f"gone after healing: {sorted(gone)[:5]}, removed: {sorted(removed)[:5]}"
    present = {uid for uid, row in now.items() if not row[3]}
    assert present == set(sim.state.hosts)
    assert all(EdgeHost.objects.get(project=project, uid=uid).tags.get("rack") == "moved" for uid in retagged)
    report(
        f"injected Palette stopping while answering page 3 of 5 "
        f"(after {len(removed)} hosts left and {len(retagged)} were "
        f"retagged); checked the run failed with the reason in {took:.1f} s, "
        f"recording 2 pages/100 hosts seen, 0 hosts gone, {len(unseen)} unseen changes "
        f"untouched, {len(changed)} seen applied; "
        f"the next run healed: {len(removed)} gone, {len(retagged)} retagged"
    )
