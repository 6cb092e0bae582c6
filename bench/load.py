r"""Load: 50 logged-in users browse the inventory grid of 10,000 hosts under gunicorn, beside the same load
on /healthz.

The app runs as in production: gunicorn with 2 sync workers (the Procfile's web line) on PostgreSQL,
with Redis as the Celery broker, DEBUG off. 10,000 hosts are bulk-inserted into one project; 50 users
(viewers of the tenant) get sessions up front. Then 50 threads, one `requests` session each, browse
the grid for --seconds: full pages and htmx grid fragments, with filters, sorts, searches and deep
pages. The same 50 threads then load /healthz (no database, no session) for as long; the two phases
alternate over --rounds so drift on a shared machine hits both alike. Reported per target: requests/s,
p50/p95/p99 latency, errors; and the ratios grid/healthz. Any 5xx, any non-200 answer or any
connection error on either target fails the run (exit 1).

The load generator runs on the same machine as gunicorn and PostgreSQL and competes with them for
the CPUs (two on the project's machines); it is Python threads, so it is itself bounded by one
interpreter lock. /healthz numbers are therefore partly a measure of the generator.

    scripts/with-services.sh .venv/bin/python bench/load.py \
        [--users 50] [--seconds 30] [--hosts 10000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import django_env  # noqa: E402
from bench.grid import make_hosts  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GRID = "/tenants/bench/projects/bench/compute/"
# What people do on the grid: filter by state, eligibility, GPU model, architecture, tag; sort; search; page.
GRID_QUERIES = [
    "?sort=name",
    "?status=ready&eligible=yes",
    "?gpu=A100&sort=-gpu",
    "?arch=arm64&health=healthy",
    "?tag=palette.ai:true&sort=-cpu",
    "?q=edge-01&page=2",
    "?page=120",
    "?eligible=no&sort=-memory",
    "?status=in-use&sort=ip",
    "?tag=site:s3&gpu=L40S",
    "?health=unhealthy&sort=-status",
    "?sort=-name&page=7",
]


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class Phase:
    """Latencies and outcomes of one target over one or more timed phases."""

    def __init__(self, name: str):
        self.name = name
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.by_url: dict[str, list[float]] = {}
        self.seconds = 0.0
        self.lock = threading.Lock()

    def add(self, latency: float, status: str, url: str = "") -> None:
        with self.lock:
            self.latencies.append(latency)
            self.by_url.setdefault(url, []).append(latency)
            self.statuses[status] = self.statuses.get(status, 0) + 1

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "200")

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("5"))

    def line(self) -> str:
        ms = [x * 1000 for x in self.latencies]
        return (
            f"  {self.name:<8}: {self.requests:6d} requests in {self.seconds:5.1f} s = "
            f"{self.rate:7.1f} req/s   "
            f"p50 {percentile(ms, 50):7.1f} ms  p95 {percentile(ms, 95):7.1f} ms  "
            f"p99 {percentile(ms, 99):7.1f} ms   "
            f"errors {self.errors} (5xx {self.server_errors}) {self.statuses}"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(hosts: int, users: int) -> list[str]:
    """Tenant, project, `hosts` hosts, `users` viewers with a session each; returns the session keys."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from compute.models import DiscoveryRun
    from tenancy.models import Membership, Project, Tenant

    tenant = Tenant.objects.create(name="bench", display_name="Bench")
    project = Project.objects.create(tenant=tenant, name="bench", display_name="Bench", namespace="bench")
    make_hosts(project, 0, hosts)
    now = timezone.now()
    DiscoveryRun.objects.create(
        project=project, status=DiscoveryRun.SUCCEEDED, started=now, finished=now, hosts_seen=hosts
    )
    keys = []
    User = get_user_model()
    for i in range(users):
        user = User(username=f"viewer{i:02d}")
        user.set_unusable_password()  # sessions are made directly: no password hashing cost
        user.save()
        Membership.objects.create(user=user, tenant=tenant, role=Membership.VIEWER)
        client = Client()
        client.force_login(user)
        keys.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return keys


def start_gunicorn(port: int, env: dict, log: Path) -> subprocess.Popen:
    """gunicorn as the Procfile runs it (2 sync workers, access log on), waiting until /healthz answers."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "paletteai_admin.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--access-logfile",
            "-",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or a worker still booting: ask again until the deadline
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"gunicorn did not answer /healthz within 60 s:\n{log.read_text()[-3000:]}")


def run_phase(
    base: str, sessions: list[requests.Session], urls: list[tuple[str, dict]], seconds: float, phase: Phase
) -> None:
    """Every session requests the next of `urls` in a loop, for `seconds`; outcomes go to `phase`."""
    deadline = time.monotonic() + seconds
    start = threading.Barrier(len(sessions) + 1)

    def user(index: int, session: requests.Session) -> None:
        cycle = itertools.islice(itertools.cycle(urls), index, None)  # users start at different filters
        start.wait()
        while time.monotonic() < deadline:
            path, headers = next(cycle)
            began = time.perf_counter()
            try:
                answer = session.get(base + path, headers=headers, allow_redirects=False, timeout=60)
                status = str(answer.status_code)
            except requests.RequestException as exc:
                status = type(exc).__name__
            phase.add(
                time.perf_counter() - began, status, ("htmx " if headers else "page ") + path.split("/")[-1]
            )

    threads = [threading.Thread(target=user, args=(i, s), daemon=True) for i, s in enumerate(sessions)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    phase.seconds += time.monotonic() - began


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0, help="per target, split over --rounds")
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    redis_url = os.environ.get("REDIS_URL", "")  # django_env.setup drops it for the in-process part
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not redis_url:
        print(
            "bench/load.py needs PostgreSQL and Redis: run it as make load (scripts/with-services.sh).",
            file=sys.stderr,
        )
        return 2
    data = django_env.setup()
    from django.conf import settings

    started = time.monotonic()
    keys = prepare(args.hosts, args.users)
    print(f"prepared {args.hosts} hosts and {args.users} sessions in {time.monotonic() - started:.1f} s")
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "paletteai_admin.settings",
    }
    log = Path(data) / "gunicorn.log"
    server = start_gunicorn(port, env, log)
    base = f"http://127.0.0.1:{port}"
    grid_urls = [(GRID + q, {}) for q in GRID_QUERIES[:4]] + [
        (GRID + q, {"HX-Request": "true"}) for q in GRID_QUERIES
    ]
    health_urls = [("/healthz", {})]
    sessions = []
    for key in keys:
        session = requests.Session()
        session.cookies.set(settings.SESSION_COOKIE_NAME, key, domain="127.0.0.1", path="/")
        session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1))
        sessions.append(session)
    try:
        # The grid answers the logged-in page (not the login redirect) for every filter before timing starts.
        for path, headers in grid_urls:
            answer = sessions[0].get(base + path, headers=headers, allow_redirects=False, timeout=60)
            assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
        assert "viewer00" in sessions[0].get(base + GRID, timeout=60).text, "the session is not logged in"
        run_phase(base, sessions, grid_urls, 3, Phase("warm-up"))
        grid, health = Phase("grid"), Phase("healthz")
        load_before = loadavg()
        per_round = args.seconds / args.rounds
        for i in range(args.rounds):
            order = [(grid, grid_urls), (health, health_urls)]
            for phase, urls in order if i % 2 == 0 else order[::-1]:
                run_phase(base, sessions, urls, per_round, phase)
        load_after = loadavg()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    for session in sessions:
        session.close()
    failed = grid.errors or health.errors
    print(
        f"gunicorn 2 sync workers, PostgreSQL + Redis, {args.hosts} hosts, {args.users} concurrent users, "
        f"{args.seconds:.0f} s per target in {args.rounds} alternating rounds, loopback"
    )
    print(grid.line())
    print(health.line())
    slowest = sorted(grid.by_url.items(), key=lambda item: -statistics.median(item[1]))[:3]
    print(
        "  slowest grid requests (p50): "
        + ", ".join(f"{url} {statistics.median(v) * 1000:.0f} ms" for url, v in slowest)
    )
    print(
        f"  ratio    : healthz/grid throughput {health.rate / grid.rate:.1f}x, grid/healthz p50 latency "
        f"{percentile(grid.latencies, 50) / percentile(health.latencies, 50):.1f}x"
    )
    print(
        f"  load average: {load_before} before, {load_after} after, on {os.cpu_count()} CPUs "
        f"(generator, gunicorn and PostgreSQL share them)"
    )
    print(f"  result   : {'OK: zero errors, zero 5xx' if not failed else 'FAILED: errors above'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
