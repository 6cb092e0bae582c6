"""One Palette rate budget for the whole installation, on real Redis: two real processes share it (counted
on the simulator's side, which enforces Palette's per-address limits), the in-process fallback, a 429 storm
slows the budget and it recovers, and an interactive call is not starved by a 10,000-host scan."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings

from palette import PaletteClient, RetryPolicy
from palette.ratelimit import RateLimiter, SharedRateLimiter
from palette.sim import Simulator
from tests.palette.conftest import make_client  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[2]

#: One process of the installation: its own client, the shared budget (or its own), N dashboard calls once
#: told to start; prints how many Palette refused with 429 (no retries: every 429 shows).
PROCESS = """
import json, sys
import redis
from palette import PaletteClient, RateLimited, RetryPolicy
from palette.ratelimit import RateLimiter, SharedRateLimiter
url, key, project, ca_path, redis_url, prefix, count, shared = sys.argv[1:]
budget = SharedRateLimiter(redis.Redis.from_url(redis_url), prefix=prefix) if shared == "1" else RateLimiter()
client = PaletteClient(url, key, project_uid=project, ca_pem=open(ca_path).read(), rate_limiter=budget,
                       retry=RetryPolicy(attempts=1))
print("ready", flush=True)
sys.stdin.readline()
limited = 0
for _ in range(int(count)):
    try:
        client.list_projects()
    except RateLimited:
        limited += 1
print(json.dumps({"limited": limited}), flush=True)
"""


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _two_processes(sim: Simulator, tmp_path, *, shared: bool, count: int) -> tuple[list[int], list[float]]:
    ca = tmp_path / "ca.pem"
    ca.write_text(sim.ca_pem)
    prefix = f"test-budget-{uuid.uuid4().hex}"
    args = [sim.url, sim.api_key, sim.project_uids[0], str(ca), settings.REDIS_URL, prefix, str(count)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS, *args, "1" if shared else "0"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    before = len(sim.seen("/v1/dashboard"))
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    limited = [
        json.loads(proc.communicate(timeout=120)[0].strip().splitlines()[-1])["limited"] for proc in procs
    ]
    times = sorted(r.time for r in sim.seen("/v1/dashboard")[before:])
    return limited, times


def _busiest_second(times: list[float]) -> int:
    return max(sum(1 for t in times[i:] if t - times[i] < 1.0) for i in range(len(times)))


def test_two_processes_share_one_budget_and_palette_sees_its_published_limit(tmp_path):
    # The simulator enforces 10 req/s on /v1/dashboard per source address with a bucket of 0.3 s of traffic.
    with Simulator(hosts=3, rate_burst_seconds=0.3) as sim:
        # Each process with a budget of its own: together they send 20 req/s and Palette answers 429.
        limited, times = _two_processes(sim, tmp_path, shared=False, count=20)
        assert sum(limited) > 0 and _busiest_second(times) > 12, (limited, _busiest_second(times))
        time.sleep(1)  # let the simulator's bucket fill again
        limited, times = _two_processes(sim, tmp_path, shared=True, count=30)
        assert limited == [0, 0]
        assert len(times) == 60 and _busiest_second(times) <= 11
        # 60 requests at 9.5 req/s: about 6.3 s, no burst and no idling either.
        assert 5.5 <= times[-1] - times[0] <= 7.5


def test_without_redis_each_process_paces_itself_and_says_so(caplog):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    slept: list[float] = []
    budget = SharedRateLimiter(dead, {"/v1/dashboard": 10}, headroom=1.0, sleep=slept.append)
    with caplog.at_level("WARNING", logger="palette.ratelimit"):
        waits = [budget.acquire("https://h", "/v1/dashboard") for _ in range(3)]
    assert waits[0] == 0 and waits[2] > 0.1  # paced by the in-process fallback
    assert "Redis did not answer" in caplog.text and "pacing Palette requests per process" in caplog.text
    budget.observe("https://h", "/v1/dashboard", 200)  # counting does not fail either
    assert budget.recent_429s() == 0


def test_a_429_storm_slows_the_shared_budget_for_every_process_and_it_recovers(make_client):
    prefix = f"test-budget-{uuid.uuid4().hex}"
    # This installation believes the limit is 40 req/s; Palette enforces 10.
    budgets = [SharedRateLimiter(_redis(), {"/v1/dashboard": 40}, prefix=prefix) for _ in range(2)]
    with Simulator(hosts=3, rate_burst_seconds=0.3) as sim:
        clients = [make_client(sim, rate_limiter=b, validate=False) for b in budgets]
        for i in range(60):
            clients[i % 2].list_projects()  # retried after each 429 by the transport
        seen = sim.seen("/v1/dashboard")
        statuses = [r.status for r in seen]
        first, last = statuses[: len(statuses) // 3], statuses[-(len(statuses) // 3) :]
        assert first.count(429) > last.count(429), (first.count(429), last.count(429))
        host = clients[0].transport.base_url
        share = budgets[1].snapshot().factors[(host, "/v1/dashboard")]  # the other process sees it too
        assert share < 0.5
        assert budgets[1].recent_429s(host) == statuses.count(429) > 0
        time.sleep(1.5)
        assert budgets[0].snapshot().factors[(host, "/v1/dashboard")] > share  # recovering
        counts = budgets[0].snapshot().requests
        assert counts[(host, "/v1/dashboard", "429")] == statuses.count(429)
        assert counts[(host, "/v1/dashboard", "200")] == 60


def test_an_interactive_call_is_not_starved_by_a_10000_host_scan(make_client):
    prefix = f"test-budget-{uuid.uuid4().hex}"
    with Simulator(hosts=10_000, seed=3) as sim:
        budget = SharedRateLimiter(_redis(), prefix=prefix)
        stop = threading.Event()
        pages: list[int] = []

        def scan() -> None:
            # A discovery's page walk (bulk lane), here in 4 threads as 4 worker slots would.
            client = make_client(sim, rate_limiter=budget, lane="bulk", validate=False, retry=RetryPolicy())
            for i, _host in enumerate(client.iter_edge_hosts()):
                if i % 50 == 0:
                    pages.append(i)
                if stop.is_set():
                    return

        scans = [threading.Thread(target=scan) for _ in range(4)]
        for thread in scans:
            thread.start()
        time.sleep(2.0)
        interactive = make_client(sim, rate_limiter=budget, validate=False)
        took = []
        for _ in range(5):
            started = time.monotonic()
            interactive.list_projects()  # the same endpoint family as the scan's search
            took.append(time.monotonic() - started)
        stop.set()
        for thread in scans:
            thread.join(timeout=30)
        assert len(pages) >= 10  # the scans were really running
        assert max(took) < 1.0, took
        assert [r.status for r in sim.seen()].count(429) == 0


@pytest.mark.parametrize("text", ["fast", "dashboard=5"])
def test_a_bad_palette_rate_limit_stops_the_start_with_what_to_fix(text):
    env = {
        "PALETTE_RATE_LIMIT": text,
        "DJANGO_SETTINGS_MODULE": "paletteai_admin.settings",
        "PATH": "/usr/bin",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "PALETTE_RATE_LIMIT:" in result.stderr
    assert "requests per second" in result.stderr or "/v1/<resource>" in result.stderr


def test_the_installation_budget_is_shared_when_redis_is_configured():
    from core import palette_budget

    assert isinstance(palette_budget.budget(), SharedRateLimiter)
    assert isinstance(RateLimiter(), RateLimiter)
    client = PaletteClient("palette.example.com", "k", rate_limiter=True)
    assert client.transport.limiter is palette_budget.budget()


@pytest.mark.django_db(transaction=True)  # no test transaction around it: the test opens its own
def test_a_transaction_or_a_web_request_waits_at_most_its_bound(settings, make_client):
    from django.db import transaction
    from django.http import HttpResponse

    from core import palette_budget
    from palette import errors

    settings.PALETTE_WAIT_IN_TRANSACTION, settings.PALETTE_WAIT_IN_REQUEST = 1, 4
    budget = SharedRateLimiter(_redis(), prefix=f"test-budget-{uuid.uuid4().hex}")
    with Simulator(hosts=3) as sim:
        client = make_client(sim, rate_limiter=budget, max_wait=palette_budget.wait_bound)
        for _ in range(30):  # three seconds of /v1/dashboard booked by others
            budget._book(client.transport.base_url, "/v1/dashboard", 0.1, None)
        started = time.monotonic()
        with transaction.atomic(), pytest.raises(errors.PaletteBusy, match=r"Try again in 3 s"):
            client.list_projects()
        assert time.monotonic() - started < 0.5 and sim.seen("/v1/dashboard") == []
    # No bound outside (a worker's scan waits its turn); a web request gets PALETTE_WAIT_IN_REQUEST.
    assert palette_budget.wait_bound() is None
    seen = palette_budget.BudgetMiddleware(lambda request: HttpResponse(str(palette_budget.wait_bound())))(
        None
    )
    assert seen.content == b"4.0" and palette_budget.wait_bound() is None
