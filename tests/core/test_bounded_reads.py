"""History never slows the pages down: with 10,000 old runs of every kind, the overviews and project pages
make the same queries as with 10, and on PostgreSQL none of them scans a history table (every "latest" is an
index read)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from compute.models import DiscoveryRun, EdgeHost, HostChange, ProfileSync, TagEdit
from core.models import TaskRun
from integrations.models import PaletteCheck

HISTORY_TABLES = {m._meta.db_table for m in (DiscoveryRun, PaletteCheck, ProfileSync, TagEdit, HostChange)}
FEW, MANY = 10, 10_000
MAX_ROWS_READ = 100


class Seeded:
    """World A with a host, and `add(n)` old runs of every kind (checks of the project and of its tenant)."""

    def __init__(self, world):
        self.world = world
        self.project, self.tenant = world.project_a, world.tenant_a
        self.host = EdgeHost.objects.create(project=self.project, uid="h-1", name="h-1", fingerprint="x")
        self.count = 0

    def add(self, n: int) -> None:
        start = timezone.now() - timedelta(days=400)
        times = [start + timedelta(minutes=self.count + i) for i in range(n)]
        statuses = [TaskRun.SUCCEEDED if i % 3 else TaskRun.FAILED for i in range(self.count, self.count + n)]
        done = [
            {"created": t, "started": t, "finished": t + timedelta(seconds=5), "status": s}
            for t, s in zip(times, statuses, strict=True)
        ]
        p = {"project": self.project}
        for model, fields in (
            (DiscoveryRun, p),
            (PaletteCheck, {**p, "outcome": "connected"}),
            (PaletteCheck, {"tenant": self.tenant, "outcome": "failed"}),
            (ProfileSync, p),
            (TagEdit, {**p, "host_uids": ["h-1"]}),
        ):
            model.objects.bulk_create([model(**fields, **row) for row in done], batch_size=2000)
        HostChange.objects.bulk_create(
            [HostChange(host=self.host, kind="updated", created=t) for t in times], batch_size=2000
        )
        self.count += n

    def pages(self) -> list[str]:
        t, p = self.tenant.name, self.project.name
        return [
            reverse("tenancy:tenant_detail", args=[t]),
            reverse("tenancy:project_detail", args=[t, p]),
            reverse("compute:inventory", args=[t, p]),
            reverse("compute:discovery_status", args=[t, p]),
            reverse("compute:profiles", args=[t, p]),
            reverse("compute:host_detail", args=[t, p, self.host.uuid]),
            reverse("integrations:project_settings", args=[t, p]),
            reverse("integrations:tenant_settings", args=[t]),
        ]

    def queries(self, client) -> dict[str, list[str]]:
        """The SQL of each page."""
        result = {}
        for url in self.pages():
            with CaptureQueriesContext(connection) as captured:
                response = client.get(url)
            # 286: the discovery status poll, with no run to wait for.
            assert response.status_code in (200, 286), (url, response.status_code)
            result[url] = [q["sql"] for q in captured.captured_queries]
        return result


@pytest.fixture
def seeded(world):
    history = Seeded(world)
    history.add(FEW)
    return history


def test_the_pages_make_the_same_queries_with_10_or_10000_old_runs(seeded):
    client = seeded.world.client_for(seeded.world.owner)
    client.get(seeded.pages()[0])  # the session's first-request queries are not the pages'
    few = {url: len(sql) for url, sql in seeded.queries(client).items()}
    seeded.add(MANY - FEW)
    assert DiscoveryRun.objects.count() == MANY
    assert {url: len(sql) for url, sql in seeded.queries(client).items()} == few


def _history_scans(sql: str) -> list[tuple[str, str, int]]:
    """(table, scan node, rows read) of every scan of a history table in the statement's executed plan."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found, nodes = [], [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        nodes.extend(node.get("Plans", ()))
        if node.get("Relation Name") in HISTORY_TABLES:
            read = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
            found.append((node["Relation Name"], node["Node Type"], read))
    return found


def test_no_page_scans_a_history_table_on_postgresql(seeded):
    if connection.vendor != "postgresql":
        pytest.fail(
            "The query plans are checked on PostgreSQL: run the suite with `make test`, which starts it."
        )
    seeded.add(MANY - FEW)
    with connection.cursor() as cursor:
        for table in HISTORY_TABLES:
            cursor.execute(
                f"ANALYZE {table}"
            )  # statistics as autovacuum would have them; enable_seqscan stays on
        cursor.execute("SHOW enable_seqscan")
        assert cursor.fetchone()[0] == "on"
    client = seeded.world.client_for(seeded.world.owner)
    problems = {}
    for url, statements in seeded.queries(client).items():
        for sql in statements:
            if not sql.startswith("SELECT") or not any(table in sql for table in HISTORY_TABLES):
                continue
            # No sequential scan, and no index scan that walks the history either: the pages show the newest
            # 20 runs and 50 host changes at most.
            bad = [scan for scan in _history_scans(sql) if scan[1] == "Seq Scan" or scan[2] > MAX_ROWS_READ]
            if bad:
                problems.setdefault(url, []).append((bad, sql[:300]))
    assert problems == {}
