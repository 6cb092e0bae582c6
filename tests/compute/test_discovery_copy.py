"""On PostgreSQL discovery inserts new hosts and their history with COPY; elsewhere (SQLite) with bulk_create.
Both must store exactly the same rows. Pages judged while Palette answers fast are written together."""

from __future__ import annotations

import pytest
from django.db import connection

from compute import discovery
from compute.discovery import PAGE, reconcile
from compute.models import DiscoveryRun, EdgeHost, HostChange
from palette.errors import PaletteConnectionError
from palette.models import EdgeHost as PaletteHost

pytestmark = pytest.mark.django_db

# What COPY's text format must escape or could mistake: tab, newline, backslash, its NULL marker \N, quotes,
# non-ASCII; and what discovery cleans first (NUL, a lone surrogate, a number out of range).
AWKWARD = "tab\there, new\nline, back\\slash, \\N, \"quoted\", 'single', é✓🙂"


def _host(i: int, **change) -> PaletteHost:
    labels = {"palette.ai": "true", "site": AWKWARD, "bare": "spectro__tag", 'k"e\\y': "v\tal"}
    body = {
        "metadata": {"uid": f"edge-{i:03d}", "name": f"edge {i} {AWKWARD}", "labels": labels},
        "status": {
            "state": "ready" if i % 3 else "in-use",
            "health": {
                "state": "healthy" if i % 4 else "unhealthy",
                "message": AWKWARD if i % 4 == 0 else "",
            },
            "inUseClusters": [{"name": f"cluster-{i}", "uid": f"c{i}"}] if i % 3 == 0 else [],
        },
        "spec": {
            "device": {
                "archType": "amd64",
                "cpu": {"cores": 8 + i},
                "memory": {"sizeInMB": 16384},
                "gpus": [{"vendor": "NVIDIA", "model": "GA100 [A100 PCIe 40GB]", "count": 2, "memory": 40960}]
                if i % 2
                else [],
                "nics": [{"nicName": "eth0", "ip": f"10.0.0.{i}", "macAddr": "aa:bb", "isDefault": True}],
            }
        },
    }
    if i == 7:
        body["metadata"]["name"] = "nul\x00and \ud800 surrogate"
        body["spec"]["device"]["cpu"]["cores"] = 2**40  # not stored
    if i == 8:
        del body["spec"]["device"]["cpu"]  # hardware not reported: None, not 0
    for key, value in change.items():
        body["metadata" if key in ("name", "labels") else "status"][key] = value
    return PaletteHost.from_api(body)


def _scan(project, hosts) -> DiscoveryRun:
    run = DiscoveryRun.objects.create(project=project, trigger="test")
    run.claim()
    reconcile(run, hosts)
    run.finish()
    return run


def _scans(project):
    """Three scans: all new; then changed, new and gone hosts on the same pages; then a gone host back."""
    first = [_host(i) for i in range(2 * PAGE + 10)]
    second = [_host(i, name=f"renamed {i}") if i % 5 == 0 else _host(i) for i in range(1, 2 * PAGE + 30)]
    third = [_host(0), *second]
    return [_scan(project, hosts) for hosts in (first, second, third)]


def _stored(project) -> tuple[dict, dict]:
    """The project's hosts by uid (every column but ids and times), and each host's history in order."""
    skip = {"id", "uuid", "project", "first_seen", "last_seen", "changed", "gone_since"}
    fields = [f.attname for f in EdgeHost._meta.concrete_fields if f.name not in skip]
    hosts = {row["uid"]: row for row in EdgeHost.objects.filter(project=project).values(*fields)}
    history: dict[str, list] = {}
    for uid, kind, changes in (
        HostChange.objects.filter(host__project=project)
        .order_by("pk")
        .values_list("host__uid", "kind", "changes")
    ):
        history.setdefault(uid, []).append((kind, changes))
    return hosts, history


def test_copy_and_bulk_create_store_the_same_rows(world, monkeypatch):
    assert connection.vendor == "postgresql"  # the COPY path is the one under test
    statements = []
    copy = discovery._copy
    monkeypatch.setattr(discovery, "_copy", lambda model, rows: (statements.append(model), copy(model, rows)))
    copied = _scans(world.project_a)
    assert statements.count(EdgeHost) and statements.count(HostChange)

    monkeypatch.setattr(discovery, "_uses_copy", lambda: False)
    statements.clear()
    bulk = _scans(world.project_b)
    assert statements == []

    assert [(r.added, r.updated, r.removed, r.unchanged, r.cleaned) for r in copied] == [
        (r.added, r.updated, r.removed, r.unchanged, r.cleaned) for r in bulk
    ]
    assert (copied[1].added, copied[1].removed, copied[2].updated) == (20, 1, 1)
    copy_hosts, copy_history = _stored(world.project_a)
    bulk_hosts, bulk_history = _stored(world.project_b)
    assert copy_hosts == bulk_hosts and copy_history == bulk_history
    # The awkward text survived as it was sent, cleaned values as discovery cleaned them.
    assert copy_hosts["edge-001"]["tags"]["site"] == AWKWARD and copy_hosts["edge-001"]["name"].endswith(
        AWKWARD
    )
    assert (
        copy_hosts["edge-007"]["name"] == "nuland \ufffd surrogate"
        and copy_hosts["edge-007"]["cpu_cores"] is None
    )
    assert copy_hosts["edge-008"]["cpu_cores"] is None
    assert [kind for kind, _ in copy_history["edge-000"]] == ["added", "gone", "returned"]


def test_copied_hosts_get_their_own_uuid4_and_the_scans_times(world):
    run = _scan(world.project_a, [_host(i) for i in range(PAGE + 5)])
    hosts = list(EdgeHost.objects.filter(project=world.project_a))
    assert len({h.uuid for h in hosts}) == len(hosts) == PAGE + 5 and {h.uuid.version for h in hosts} == {4}
    assert all(
        h.first_seen == h.last_seen == h.changed and not h.gone and h.gone_since is None for h in hosts
    )
    # Each host's "added" history points at its own row.
    added = HostChange.objects.filter(run=run, kind="added")
    assert sorted(added.values_list("host_id", flat=True)) == sorted(h.pk for h in hosts)
    assert list(added.order_by("pk").values_list("host_id", flat=True)) == sorted(h.pk for h in hosts)
    # The ids were reserved from the sequence: a host made the ordinary way after them takes a new one.
    later = EdgeHost.objects.create(project=world.project_a, uid="later", fingerprint="x")
    assert later.pk > max(h.pk for h in hosts)


def test_a_copy_that_fails_raises_djangos_error_and_stores_nothing_of_its_page(world):
    from django.db import IntegrityError, transaction

    _scan(world.project_a, [_host(1)])
    row = {"project_id": world.project_a.pk, "uid": "edge-001", "fingerprint": "x", "name": "again"}
    with pytest.raises(IntegrityError), transaction.atomic():
        discovery._insert_hosts([{**row, "uid": "edge-new"}, row])  # edge-001 is stored already
    assert not EdgeHost.objects.filter(uid="edge-new").exists()
    assert HostChange.objects.filter(host__uid="edge-001").count() == 1


def _source(pages: int, *, fail: bool = False):
    yield from (_host(i) for i in range(pages * PAGE))
    if fail:
        raise PaletteConnectionError("Palette stopped answering", host="https://sim")


def _copies(monkeypatch) -> list[int]:
    """The number of hosts of each COPY into the hosts' table, from now on."""
    sizes: list[int] = []
    copy = discovery._copy
    monkeypatch.setattr(
        discovery,
        "_copy",
        lambda model, rows: (model is EdgeHost and sizes.append(len(rows)), copy(model, rows)),
    )
    return sizes


def test_pages_are_written_together_once_enough_hosts_are_waiting(world, monkeypatch):
    monkeypatch.setattr(discovery, "PROGRESS_EVERY", 3600)
    monkeypatch.setattr(discovery, "WRITE_HOSTS", 2 * PAGE)
    sizes = _copies(monkeypatch)
    run = _scan(world.project_a, _source(6))
    # The first page at once; then two pages a time; the last at the end.
    assert sizes == [PAGE, 2 * PAGE, 2 * PAGE, PAGE]
    assert (run.pages, run.added) == (6, 6 * PAGE)
    assert HostChange.objects.filter(run=run, kind="added").count() == 6 * PAGE


def test_pages_are_written_at_least_every_progress_interval(world, monkeypatch):
    monkeypatch.setattr(discovery, "PROGRESS_EVERY", 0)
    sizes = _copies(monkeypatch)
    _scan(world.project_a, _source(3))
    assert sizes == [PAGE, PAGE, PAGE]


def test_a_failing_source_still_gets_the_pages_before_it_written(world, monkeypatch):
    monkeypatch.setattr(discovery, "PROGRESS_EVERY", 3600)
    sizes = _copies(monkeypatch)
    run = DiscoveryRun.objects.create(project=world.project_a, trigger="test")
    run.claim()
    with pytest.raises(PaletteConnectionError):
        reconcile(run, _source(3, fail=True))
    assert sizes == [PAGE, 2 * PAGE]
    run.refresh_from_db()
    assert EdgeHost.objects.filter(project=world.project_a).count() == run.added == 3 * PAGE
    assert run.pages == 3 and not EdgeHost.objects.filter(gone=True).exists()
