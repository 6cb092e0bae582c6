"""Transient failures are survived (with backoff, Retry-After), permanent ones are not retried."""

from __future__ import annotations

import threading
import time

import pytest

from palette import PaletteConnectionError, PaletteTimeout, RateLimited, RetryPolicy
from palette.sim import Simulator


def test_it_survives_injected_faults_with_the_same_result(make_client):
    with Simulator(hosts=400, seed=21, validate=True) as sim:
        # A short cap on Retry-After (503 sends 1 s) keeps the test quick; the next test checks it is honoured.
        client = make_client(sim, retry=RetryPolicy(attempts=8, base=0.01, cap=0.1, retry_after_cap=0.1))
        clean = {h.uid for h in client.search_edge_hosts()}
        sim.set_faults("429:0.15,502:0.05,503:0.05,504:0.05,reset:0.05,malformed:0.05,latency:1-3ms")
        before = len(sim.seen())
        faulty = client.search_edge_hosts()
        for _ in range(10):
            client.get_edge_host(faulty[0].uid)
        statuses = [r.status for r in sim.seen()[before:]]
        assert [h.uid for h in faulty] and {h.uid for h in faulty} == clean
        assert len(faulty) == len(clean)  # each host once, despite retried pages
        # The faults really happened (0 = connection reset): otherwise this test proves nothing.
        assert sum(1 for s in statuses if s in (0, 429, 502, 503, 504)) >= 2, statuses
        assert sim.violations == []


def test_it_honours_retry_after_from_the_rate_limit(make_client):
    with Simulator(hosts=5, rate_burst_seconds=1.0) as sim:  # 10 requests of burst on /v1/dashboard
        records = []
        client = make_client(sim, rate_limiter=False, request_log=records.append,
                             retry=RetryPolicy(attempts=5, base=0.01, cap=0.05, retry_after_cap=5))
        errors = []

        def burst() -> None:
            try:
                for _ in range(5):
                    client.list_projects()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        started = time.monotonic()
        threads = [threading.Thread(target=burst) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        limited = [r for r in records if r.status == 429]
        assert limited, "the simulator never rate-limited: the test would prove nothing"
        # Retry-After: 1 was honoured, not the 10-50 ms backoff of the policy.
        assert time.monotonic() - started >= 1.0
        by_thread_retry = [r for r in records if r.attempt > 1]
        assert by_thread_retry and all(r.status in (200, 429) for r in by_thread_retry)


def test_it_does_not_repeat_a_create_that_may_have_been_processed(sim, make_client):
    records = []
    client = make_client(sim, request_log=records.append)
    body = {"metadata": {"name": "maybe-created"}, "spec": {"profiles": [], "machinepoolconfig": []}}
    sim.set_faults("reset:1")
    with pytest.raises(PaletteConnectionError) as err:
        client.create_edge_native_cluster(body)
    assert not err.value.before_send and len(records) == 1  # reset after sending: outcome unknown, not retried
    sim.set_faults("429:1")
    records.clear()
    with pytest.raises(RateLimited):
        client.create_edge_native_cluster(body)
    assert len(records) == 6  # 429 means "not processed": retried up to the policy's attempts
    sim.set_faults(None)


def test_it_times_out_and_retries_a_slow_read(sim, make_client):
    sim.set_faults("latency:400ms")
    records = []
    client = make_client(sim, timeout=(2.0, 0.1), request_log=records.append,
                         retry=RetryPolicy(attempts=2, base=0.01, cap=0.01))
    with pytest.raises(PaletteTimeout) as err:
        client.whoami()
    assert err.value.transient and "within 0.1s" in str(err.value) and sim.url in str(err.value)
    assert [r.attempt for r in records] == [1, 2]
    sim.set_faults(None)
