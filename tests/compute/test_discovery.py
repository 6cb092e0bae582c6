"""Discovery against the simulator over HTTPS, reconciling into the database."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from compute.discovery import reconcile, run_discovery
from compute.models import DiscoveryPolicy, DiscoveryRun, EdgeHost, HostChange
from palette.errors import PaletteConnectionError
from palette.models import EdgeHost as PaletteHost
from palette.sim.state import Host as SimHost


def _run(project, **kwargs):
    return run_discovery(DiscoveryRun.objects.create(project=project, trigger="test"), **kwargs)


def _project_hosts(sim):
    uid = sim.project_uids[0]
    return {h.uid: h for h in sim.state.hosts.values() if h.project_uid == uid}


def test_it_discovers_every_host_of_the_palette_project_once(connected_project, sim):
    run = _run(connected_project)
    assert run.status == "succeeded", run.first_error
    expected = _project_hosts(sim)
    stored = set(EdgeHost.objects.filter(project=connected_project).values_list("uid", flat=True))
    assert stored == set(expected) and run.added == len(expected) and run.hosts_seen == len(expected)
    assert run.pages == -(-len(expected) // 50)
    assert HostChange.objects.filter(kind="added").count() == len(expected)
    # Eligibility was stored with reasons a person can act on.
    eligible = EdgeHost.objects.filter(project=connected_project, eligible=True)
    assert eligible.exists()
    assert all(
        h.state == "ready" and h.health == "healthy" and h.tags.get("palette.ai") == "true" for h in eligible
    )
    reasons = " | ".join(r["text"] for h in EdgeHost.objects.filter(eligible=False) for r in h.reasons)
    assert "missing tag palette.ai=true — add it under stylus.site.tags" in reasons
    assert "in use by cluster" in reasons and "unhealthy" in reasons


def test_it_writes_nothing_when_nothing_changed(connected_project, sim):
    _run(connected_project)
    with CaptureQueriesContext(connection) as queries:
        run = _run(connected_project)
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE", "COPY")
        and ('"compute_edgehost"' in q["sql"] or '"compute_hostchange"' in q["sql"])
    ]
    assert run.unchanged == run.hosts_seen and run.added == run.updated == run.removed == 0
    assert writes == []


def test_it_records_tag_removal_unhealthy_hosts_and_gone_hosts(connected_project, sim):
    _run(connected_project)
    eligible = EdgeHost.objects.filter(project=connected_project, eligible=True).order_by("uid")
    first, second, third = [h.uid for h in eligible[:3]]
    sim.state.update_host(first, remove_labels=["palette.ai"])
    sim.state.update_host(second, health="unhealthy", health_message="disk pressure")
    sim.state.remove_host(third)
    run = _run(connected_project)
    assert (run.updated, run.removed) == (2, 1)
    host = EdgeHost.objects.get(uid=first)
    assert not host.eligible and host.reasons == [
        {
            "code": "missing_tag",
            "params": {"tag": "palette.ai=true"},
            "text": "missing tag palette.ai=true — add it under stylus.site.tags in user-data or in "
            "Palette's Edge Host grid",
        }
    ]
    change = host.history.get(kind="updated")
    assert change.changes["eligible"] == [True, False] and "palette.ai" in change.changes["tags"][0]
    assert EdgeHost.objects.get(uid=second).reasons == [
        {"code": "unhealthy", "params": {"message": "disk pressure"}, "text": "unhealthy: disk pressure"}
    ]
    gone = EdgeHost.objects.get(uid=third)
    assert gone.gone and gone.gone_since and gone.history.filter(kind="gone").exists()


def test_a_failed_scan_never_removes_or_alters_unseen_hosts(connected_project):
    project = connected_project
    run = DiscoveryRun.objects.create(project=project)
    run.claim()

    def host(uid, state="ready"):
        return PaletteHost.from_api(
            {
                "metadata": {"uid": uid, "name": uid, "labels": {"palette.ai": "true"}},
                "status": {"state": state, "health": {"state": "healthy"}},
                "spec": {"device": {"archType": "amd64", "cpu": {"cores": 8}, "memory": {"sizeInMB": 16384}}},
            }
        )

    reconcile(run, [host(f"edge-{i}") for i in range(120)])
    before = {h.uid: h.fingerprint for h in EdgeHost.objects.all()}
    run.finish()

    def broken():
        yield from [host(f"edge-{i}") for i in range(60)]
        raise PaletteConnectionError("Palette stopped answering", host="https://sim")

    run2 = DiscoveryRun.objects.create(project=project)
    run2.claim()
    with pytest.raises(PaletteConnectionError):
        reconcile(run2, broken())
    assert {h.uid: h.fingerprint for h in EdgeHost.objects.all()} == before
    assert not EdgeHost.objects.filter(gone=True).exists()


def test_it_fails_with_the_reason_when_palette_is_unreachable(connected_project, sim):
    _run(connected_project)
    sim.stop()
    run = _run(connected_project, retry=None, timeout=2)
    assert run.status == "failed" and run.first_error.startswith("Palette unreachable")
    assert EdgeHost.objects.filter(project=connected_project, gone=False).count() == len(_project_hosts(sim))


def test_it_uses_the_projects_discovery_tag(connected_project, sim):
    DiscoveryPolicy.objects.create(project=connected_project, tag_key="team", tag_value="ml")
    _run(connected_project)
    assert not EdgeHost.objects.filter(eligible=True).exists()
    assert "missing tag team=ml" in EdgeHost.objects.first().reasons[0]["text"]


def test_it_fails_without_settings(world):
    run = _run(world.project_a)
    assert run.status == "failed" and "No Palette integration" in run.first_error


def test_it_prints_the_inventory_as_json_from_both_commands(connected_project, sim):
    out = StringIO()
    call_command("discover", "-n", "acme-research", "--json", stdout=out)
    discovered = json.loads(out.getvalue())
    out = StringIO()
    call_command("inventory", "-n", "acme-research", "--json", stdout=out)
    assert json.loads(out.getvalue()) == discovered
    keys = {
        "uid",
        "name",
        "state",
        "health",
        "architecture",
        "cpuCores",
        "memoryMiB",
        "gpus",
        "gpuTotal",
        "tags",
        "clusters",
        "eligible",
        "reasons",
        "lastSeen",
    }
    assert all(set(h) == keys for h in discovered) and len(discovered) == len(_project_hosts(sim))
    gpu_host = next(h for h in discovered if h["gpuTotal"])
    assert set(gpu_host["gpus"][0]) == {"vendor", "model", "count", "memoryMiB"}
    in_use = next(h for h in discovered if h["state"] == "in-use")
    assert in_use["clusters"] and not in_use["eligible"]


def test_the_json_shows_bare_tags_as_the_pages_do(connected_project, sim, world):
    bare = next(h for h in _project_hosts(sim).values() if h.labels.get("canary") == "spectro__tag")
    outputs = []
    for command in ("discover", "inventory"):
        out = StringIO()
        call_command(command, "-n", "acme-research", "--json", stdout=out)
        outputs.append(out.getvalue())
    for text in outputs:
        assert "spectro__tag" not in text
        host = next(h for h in json.loads(text) if h["uid"] == bare.uid)
        assert host["tags"]["canary"] == "" and host["tags"]["site"] == bare.labels["site"]
    # The inventory page shows the same host's tag as the key alone.
    page = world.client_for(world.owner).get(
        reverse("compute:host_detail", args=["acme", "research", EdgeHost.objects.get(uid=bare.uid).uuid])
    )
    assert (
        page.status_code == 200
        and "spectro__tag" not in page.content.decode()
        and "canary" in page.content.decode()
    )


def test_the_command_exits_1_with_the_reason(world, capsys):
    err = StringIO()
    with pytest.raises(SystemExit) as info:
        call_command("discover", "-n", "acme-research", stderr=err)
    assert info.value.code == 1 and "No Palette integration" in err.getvalue()


def test_at_most_four_queries_per_page(connected_project, sim):
    for i in range(140):
        sim.state.add_host(
            SimHost(
                uid=f"extra-{i}",
                name=f"extra-{i}",
                project_uid=sim.project_uids[0],
                labels={"palette.ai": "true"},
            )
        )
    run = DiscoveryRun.objects.create(project=connected_project)
    with CaptureQueriesContext(connection) as queries:
        run_discovery(run)
    run.refresh_from_db()
    assert run.status == "succeeded", run.first_error
    # Transaction control aside, claim + settings resolution + the known-hosts load + finish are
    # fixed; the rest is per page at most (insert, history, progress — SQLite splits the insert in two;
    # PostgreSQL reserves the ids, then COPYs hosts and history; pages that came fast are written together).
    data = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split()[0] in ("SELECT", "INSERT", "UPDATE", "DELETE", "COPY")
    ]
    fixed = 12
    assert len(data) <= fixed + 4 * run.pages, [q[:80] for q in data]
