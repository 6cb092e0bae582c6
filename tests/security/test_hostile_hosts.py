"""A hostile edge host never stops discovery: it is stored cleaned or skipped, the others all land.

PostgreSQL refuses NUL in text and jsonb, cannot encode a lone surrogate and enforces column
lengths; SQLite stores all of it. Before the fix one such host failed the page's bulk write on
PostgreSQL (DataError, 0 hosts stored) while the suite on SQLite passed. The hosts come from the
real simulator over HTTPS, exactly as given (its admin endpoint cleans nothing, like Palette).
"""

from __future__ import annotations

import math
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from compute.discovery import run_discovery
from compute.models import DiscoveryRun, EdgeHost
from tests.compute.pool_fixtures import add_host

pytestmark = pytest.mark.django_db

LONG_UID = "edge-" + "u" * 124  # 129 characters, one over the column
HOSTILE = [  # bodies for the simulator's POST /__sim__/hosts
    {"uid": "edge-nul-name", "name": "edge\x00nul"},
    {"uid": "edge-long-name", "name": "n" * 250},
    {"uid": "edge-nul-tags", "labels": {"palette.ai": "true", "site\x00": "lab\x00a"}},
    {"uid": "edge-nul-health", "health": "unhealthy", "healthMessage": "disk\x00 full"},
    {"uid": "edge-surrogate", "name": "edge-\ud800"},
    {"uid": LONG_UID},
    {"uid": "edge-nul\x00uid"},
]


def _discover(project) -> DiscoveryRun:
    run = run_discovery(DiscoveryRun.objects.create(project=project, trigger="test"))
    assert run.status == "succeeded", run.first_error
    return run


def _seed(sim, bodies: list[dict]) -> None:
    admin = requests.Session()
    admin.headers["ApiKey"] = sim.api_key
    for body in bodies:
        body = {"projectUid": sim.project_uids[0], **body}
        resp = admin.post(sim.url + "/__sim__/hosts", json=body, verify=sim.ca_path)
        assert resp.status_code == 201, resp.text


def test_the_suite_runs_on_postgresql():
    # The point of this file: SQLite would store every hostile value and prove nothing.
    assert connection.vendor == "postgresql"


def test_hostile_hosts_are_cleaned_or_skipped_and_every_other_host_is_stored(connected_project, sim):
    normal = {h.uid for h in sim.state.hosts.values() if h.project_uid == sim.project_uids[0]}
    _seed(sim, HOSTILE)
    run = _discover(connected_project)

    stored = {h.uid: h for h in EdgeHost.objects.filter(project=connected_project)}
    cleaned_uids = {"edge-nul-name", "edge-long-name", "edge-nul-tags", "edge-nul-health", "edge-surrogate"}
    assert set(stored) == normal | cleaned_uids
    assert (run.added, run.skipped, run.cleaned) == (len(normal) + 5, 2, 5)

    assert stored["edge-nul-name"].name == "edgenul"
    long_name = stored["edge-long-name"].name
    assert len(long_name) == 200 and long_name.endswith("…") and long_name.startswith("n" * 199)
    assert stored["edge-nul-tags"].tags == {"palette.ai": "true", "site": "laba"}
    assert stored["edge-nul-health"].health_message == "disk full"
    assert "unhealthy: disk full" in [r["text"] for r in stored["edge-nul-health"].reasons]
    assert stored["edge-surrogate"].name == "edge-\ufffd"

    problems = {p["uid"]: p for p in run.host_problems}
    assert problems[LONG_UID[:79] + "…"]["action"] == "skipped"
    assert "129 characters; at most 128" in problems[LONG_UID[:79] + "…"]["detail"]
    assert problems["edge-nuluid"]["detail"].startswith(
        "its uid contains control characters"
    )  # shown without its NUL
    assert "name: cut to 200 characters (it had 250)" in problems["edge-long-name"]["detail"]
    assert "tags: removed NUL characters" in problems["edge-nul-tags"]["detail"]

    # Cleaning is stable: the next scan writes nothing and still reports the same hosts.
    again = _discover(connected_project)
    assert (again.added, again.updated, again.removed, again.skipped, again.cleaned) == (0, 0, 0, 2, 5)


def test_the_inventory_page_and_the_command_list_what_was_skipped(connected_project, sim, world):
    _seed(sim, HOSTILE)
    page = world.client_for(world.owner).get(reverse("compute:inventory", args=["acme", "research"]))
    assert page.status_code == 200
    _discover(connected_project)
    page = world.client_for(world.owner).get(reverse("compute:inventory", args=["acme", "research"]))
    text = page.content.decode()
    assert "2 hosts skipped, 5 stored after cleaning" in text
    assert "its uid has 129 characters; at most 128 can be stored" in text

    err = StringIO()
    call_command("discover", "-n", "acme-research", stdout=StringIO(), stderr=err)
    assert (
        "2 host(s) skipped, 5 stored after cleaning" in err.getvalue() and "edge-nul-health" in err.getvalue()
    )


def test_numbers_out_of_range_and_unreadable_records_do_not_stop_the_scan(connected_project, sim):
    # Numbers PostgreSQL's integer columns or jsonb refuse, and a record of a shape the code cannot read.
    add_host(sim, "edge-huge-cpu", cpu_cores=2**40, memory_mb=-5)
    add_host(
        sim,
        "edge-nan-nic",
        nics=[{"nicName": "eth0", "ip": "10.0.0.9", "macAddr": math.nan, "isDefault": True}],
    )
    add_host(
        sim,
        "edge-many-gpus",
        gpus=[{"vendor": "NVIDIA", "model": "A100", "gpuCount": 10**12, "memory": "1.2.3 MiB"}],
    )
    unreadable = add_host(sim, "edge-unreadable")
    first = _discover(connected_project)
    assert first.skipped == 0 and first.cleaned == 3

    host = EdgeHost.objects.get(uid="edge-huge-cpu")
    assert host.cpu_cores is None and host.memory_mib is None and not host.eligible
    assert EdgeHost.objects.get(uid="edge-nan-nic").nics[0]["macAddr"] is None
    gpus = EdgeHost.objects.get(uid="edge-many-gpus")
    assert gpus.gpu_total == 0 and gpus.gpus[0]["memoryMiB"] is None

    # A host that was fine and now sends an unreadable record is skipped, not marked gone.
    before = EdgeHost.objects.get(uid="edge-unreadable").fingerprint
    with sim.state.lock:
        unreadable.gpus = [
            {"vendor": "NVIDIA", "model": {"name": "A100"}, "gpuCount": 1}
        ]  # a model that is no text
        sim.state.touch()
    second = _discover(connected_project)
    assert second.skipped == 1 and second.removed == 0
    problem = next(p for p in second.host_problems if p["uid"] == "edge-unreadable")
    assert problem["action"] == "skipped" and "could not be read (TypeError)" in problem["detail"]
    kept = EdgeHost.objects.get(uid="edge-unreadable")
    assert not kept.gone and kept.fingerprint == before
