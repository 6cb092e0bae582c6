"""Benchmark: a whole discovery run of 10,000 edge hosts against a bare paginated fetch of the same pages.

The simulator runs in a child process with 10,000 hosts in one project. In the same process and
the same run, alternating, this measures (1) a bare `requests` loop over the 200 pages and (2)
`compute.discovery.run_discovery` (PALETTE_RATE_LIMIT=0: pacing off; typed results, reconcile into the
database): re-runs with nothing changed, and first discoveries, each into the inventory emptied again (the
median of the per-round ratios is the result). It also counts SQL queries per page and checks that a
re-run with nothing changed writes nothing. Targets: a first discovery within 2.0x the bare fetch, an
unchanged re-run within 1.3x; at most 4 queries per page.

With --limited the simulator enforces Palette's 10 req/s on /v1/dashboard and the client's limiter
is on: 200 pages cannot take less than 20 s; the target is 1.1x that, with zero 429.

    .venv/bin/python bench/discovery.py [--hosts 10000] [--rounds 3] [--limited]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import django_env  # noqa: E402
from bench.palette_client import bare_loop, start_simulator  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limited", action="store_true", help="rate limits on (simulator and client)")
    args = parser.parse_args(argv)
    if not args.limited:
        os.environ["PALETTE_RATE_LIMIT"] = "0"  # pacing off through the setting, as an operator would
    django_env.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from compute.discovery import run_discovery
    from compute.models import DiscoveryRun, EdgeHost

    with tempfile.TemporaryDirectory(prefix="palette-bench-") as tls_dir:
        proc, url, key, project_uid = start_simulator(args.hosts, tls_dir, rate_limit=args.limited)
        ca = os.path.join(tls_dir, "ca.crt")
        ca_pem = Path(ca).read_text()
        project = django_env.connected_project(url, key, project_uid, ca_pem)
        limiter: dict = {}
        try:
            if args.limited:
                return limited(run_discovery, DiscoveryRun, project, url, key, ca, args.hosts, limiter)
            # First run: fills the inventory, against a bare fetch just before it; count its queries per page.
            started = time.perf_counter()
            assert bare_loop(url, key, project_uid, ca) == args.hosts
            first_bare = time.perf_counter() - started
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as first_q:
                first = run_discovery(DiscoveryRun.objects.create(project=project), **limiter)
            first_time = time.perf_counter() - started
            assert first.status == "succeeded", first.first_error
            assert EdgeHost.objects.count() == args.hosts
            times: dict[str, list[float]] = {"bare": [], "discovery": []}
            writes = []
            for i in range(args.rounds):
                for name in ("bare", "discovery") if i % 2 == 0 else ("discovery", "bare"):
                    started = time.perf_counter()
                    if name == "bare":
                        assert bare_loop(url, key, project_uid, ca) == args.hosts
                    else:
                        with CaptureQueriesContext(connection) as q:
                            run = run_discovery(DiscoveryRun.objects.create(project=project), **limiter)
                        assert run.status == "succeeded" and run.unchanged == args.hosts, run.first_error
                        writes.append(
                            sum(
                                1
                                for x in q.captured_queries
                                if x["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE", "COPY")
                                and ('"compute_edgehost"' in x["sql"] or '"compute_hostchange"' in x["sql"])
                            )
                        )
                    times[name].append(time.perf_counter() - started)
            # More first discoveries, each into the inventory emptied again, against a bare fetch in
            # alternating order: one sample alone swings with the load of the machine.
            firsts = [first_time / first_bare]
            for i in range(1, args.rounds):
                empty_inventory(project)
                pair = {}
                for name in ("bare", "discovery") if i % 2 == 0 else ("discovery", "bare"):
                    started = time.perf_counter()
                    if name == "bare":
                        assert bare_loop(url, key, project_uid, ca) == args.hosts
                    else:
                        run = run_discovery(DiscoveryRun.objects.create(project=project), **limiter)
                        assert run.status == "succeeded" and run.added == args.hosts, run.first_error
                    pair[name] = time.perf_counter() - started
                firsts.append(pair["discovery"] / pair["bare"])
        finally:
            proc.terminate()
            proc.wait(10)
    pages = first.pages
    ratio = statistics.median(d / b for d, b in zip(times["discovery"], times["bare"], strict=True))
    data = [
        q
        for q in first_q.captured_queries
        if q["sql"].split()[0] in ("SELECT", "INSERT", "UPDATE", "DELETE", "COPY")
    ]
    per_page = len(data) / pages
    first_ratio = statistics.median(firsts)
    print(
        f"{args.hosts} hosts, {pages} pages, {args.rounds} rounds, PALETTE_RATE_LIMIT=0, "
        f"database {connection.vendor}"
    )
    print(
        f"  first discovery      : {first_time:7.3f} s against a bare fetch of {first_bare:.3f} s; "
        f"median ratio over {len(firsts)} rounds {first_ratio:.3f}x "
        f"({', '.join(f'{r:.2f}' for r in firsts)})  "
        f"target <= 2.00x: {'OK' if first_ratio <= 2.0 else 'OVER TARGET'}"
    )
    print(
        f"  bare paginated fetch : {statistics.median(times['bare']):7.3f} s  "
        f"({', '.join(f'{t:.2f}' for t in times['bare'])})"
    )
    print(
        f"  discovery (re-run)   : {statistics.median(times['discovery']):7.3f} s  "
        f"({', '.join(f'{t:.2f}' for t in times['discovery'])})"
    )
    print(
        f"  ratio discovery/bare : {ratio:7.3f}x  target <= 1.30x: {'OK' if ratio <= 1.3 else 'OVER TARGET'}"
    )
    print(
        f"  first run            : {len(data)} SQL queries for {pages} pages = {per_page:.2f} per page "
        f"(fixed setup included; {len(first_q.captured_queries) - len(data)} BEGIN/COMMIT besides)  "
        f"target <= 4: {'OK' if per_page <= 4 else 'OVER TARGET'}"
    )
    print(
        f"  re-runs, nothing changed: host writes per run = {writes}  "
        f"target 0: {'OK' if not any(writes) else 'FAILED'}"
    )
    print(
        f"  load average         : {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    return 0 if ratio <= 1.3 and first_ratio <= 2.0 and per_page <= 4 and not any(writes) else 1


def empty_inventory(project) -> None:
    """Delete the project's hosts and their history: the next discovery is a first one again. On PostgreSQL
    the tables are truncated, back to the state the first round found them in (never analyzed: an ANALYZE
    of the empty tables would make PostgreSQL check the history's foreign keys at commit by scanning the
    hosts' table, several seconds for 10,000 hosts)."""
    from django.db import connection

    from compute.models import EdgeHost, HostChange

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {HostChange._meta.db_table}, {EdgeHost._meta.db_table} CASCADE")
    else:
        HostChange.objects.filter(host__project=project).delete()
        EdgeHost.objects.filter(project=project).delete()


def limited(run_discovery, DiscoveryRun, project, url, key, ca, hosts, limiter) -> int:
    """One discovery with Palette's 10 req/s enforced by the simulator and respected by the client."""
    import requests

    started = time.perf_counter()
    run = run_discovery(DiscoveryRun.objects.create(project=project), **limiter)
    elapsed = time.perf_counter() - started
    assert run.status == "succeeded", run.first_error
    stats = requests.get(url + "/__sim__/stats", headers={"ApiKey": key}, verify=ca, timeout=10).json()
    too_many = stats.get("byStatus", {}).get("429", 0)
    minimum = run.pages / 10
    print(f"{hosts} hosts, {run.pages} pages with the limiter on and the simulator enforcing 10 req/s")
    print(
        f"  discovery: {elapsed:.2f} s, minimum {minimum:.1f} s, ratio {elapsed / minimum:.3f}x  "
        f"target <= 1.10x: {'OK' if elapsed <= 1.1 * minimum else 'OVER TARGET'};  429 responses: {too_many}"
    )
    return 0 if elapsed <= 1.1 * minimum and not too_many else 1


if __name__ == "__main__":
    sys.exit(main())
